"""The eval report's words: which way a change went, and what the figures mean for the docs
owner (unsafe, too strict, articles left out)."""

from __future__ import annotations

from copilot.evals.advice import advice, direction


def test_each_change_says_whether_it_is_better() -> None:
    assert direction("hit_at_1", 0.70, 0.75) == "better"
    assert direction("wrong_answer_rate", 0.02, 0.06) == "worse"
    assert direction("latency_p95_ms", 12.0, 9.0) == "better"
    assert direction("answer_rate", 0.5, 0.5) == "same"


def test_an_unsafe_threshold_is_called_unsafe_with_what_to_do() -> None:
    lines = advice({"wrong_answer_rate": 0.12, "answer_rate": 0.4, "hit_at_1": 0.8})
    assert lines[0].startswith("Unsafe: 12.0% of answers are wrong")
    assert "copilot calibrate --labels" in lines[0]


def test_a_strict_threshold_is_called_too_strict() -> None:
    lines = advice({"wrong_answer_rate": 0.01, "answer_rate": 0.1, "hit_at_1": 0.9})
    assert lines and lines[0].startswith("Too strict: it answers 10%")
    assert advice({"wrong_answer_rate": 0.03, "answer_rate": 0.7, "hit_at_1": 0.9}) == []


def test_skipped_articles_come_first() -> None:
    result = {
        "skipped": {"count": 3, "articles": 50, "share": 0.06, "files": {}},
        "wrong_answer_rate": 0.2,
        "answer_rate": 0.5,
        "hit_at_1": 0.9,
    }
    lines = advice(result)
    assert lines[0].startswith("3 of 50 articles were left out of the index (6%)")
    assert lines[1].startswith("Unsafe")
