"""What an eval result means for the docs owner, in words: whether the answer threshold is
unsafe or too strict, what the KB left out, and which way each change went."""

from __future__ import annotations

from typing import Any

# Metrics where a smaller number is the better one; every other metric is better larger.
LOWER_IS_BETTER = frozenset(
    {"wrong_answer_rate", "zero_result_rate", "aurc", "latency_p50_ms", "latency_p95_ms"}
)
SKIPPED_LIMIT = 0.05  # `copilot eval` refuses a KB with more left out, unless --allow-skipped


def direction(metric: str, before: float, after: float) -> str:
    """ "better", "worse" or "same" for a change of `metric` from `before` to `after`."""
    if abs(after - before) < 1e-9:
        return "same"
    up = after > before
    return "worse" if up == (metric in LOWER_IS_BETTER) else "better"


def advice(result: dict[str, Any], target: float = 0.05) -> list[str]:
    """Sentences a docs owner can act on, most urgent first."""
    out = []
    skipped = result.get("skipped") or {}
    if skipped.get("count"):
        out.append(
            f"{skipped['count']} of {skipped['articles']} articles were left out of the index "
            f"({skipped['share']:.0%}): they are listed under skipped with the rule that stopped "
            "each; fix them (`copilot lint`) so their questions can be answered."
        )
    wrong, answered = float(result.get("wrong_answer_rate", 0)), float(result.get("answer_rate", 0))
    hit1 = float(result.get("hit_at_1", 0))
    if wrong > target:
        out.append(
            f"Unsafe: {wrong:.1%} of answers are wrong (target {target:.0%}). The threshold "
            "answers questions whose top article is wrong: label real questions "
            "(`copilot calibrate --labels FILE`) so a threshold can be certified, or keep "
            "`low_confidence` handoffs until it is."
        )
    elif hit1 >= 0.6 and answered < 0.5 * hit1:
        out.append(
            f"Too strict: it answers {answered:.0%} of answerable questions while the top "
            f"article is right for {hit1:.0%}. Safety first is the default on a KB it has not "
            "seen; about 45 answered labelled questions (`copilot calibrate --labels FILE`) "
            "let a lower threshold be certified with its guarantee."
        )
    if hit1 < 0.6 and result.get("answerable"):
        out.append(
            f"Retrieval finds the right article first for only {hit1:.0%} of questions: most "
            "misses are wording the articles do not use. Look at the worst misses and add the "
            "customers' words to the Symptoms of the article they meant."
        )
    zero = float(result.get("zero_result_rate", 0))
    if zero > 0.1:
        out.append(
            f"{zero:.0%} of questions found nothing relevant: `copilot gaps` clusters them into "
            "articles to write."
        )
    return out
