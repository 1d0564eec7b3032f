from __future__ import annotations

import random

import pytest

from copilot.answer.certify import certify, needed, upper_bound


def test_the_bound_is_clopper_pearson() -> None:
    # Zero wrong of n: the bound is 1 - (1 - confidence) ** (1 / n).
    assert upper_bound(0, 45) == pytest.approx(1 - 0.1 ** (1 / 45))
    assert upper_bound(0, 44) > 0.05 >= upper_bound(0, 45)
    assert upper_bound(3, 3) == 1.0 and upper_bound(0, 0) == 1.0
    assert needed(0.05) == 45


def test_too_few_labels_certify_nothing_and_say_how_many_are_needed() -> None:
    cert = certify([0.9] * 12 + [0.2] * 3, [True] * 12 + [False] * 3)
    assert cert.threshold is None
    assert "needs about 45 answered labelled questions; you have 12" in cert.words()
    assert "shipped model decides" in cert.words()


def test_enough_right_answers_certify_a_threshold_below_the_wrong_ones() -> None:
    scores = [0.99 - i * 0.005 for i in range(100)] + [0.1 + i * 0.01 for i in range(20)]
    correct = [True] * 100 + [False] * 20
    cert = certify(scores, correct)
    # It goes down past the right ones and stops once the bound would pass 5%: one wrong
    # answer among 101 still keeps it under (3.8%), two among 102 do not (5.1%).
    assert cert.threshold == pytest.approx(0.29)
    assert (cert.answered, cert.wrong) == (101, 1) and cert.bound <= 0.05
    assert cert.words().startswith("certified: answering from confidence")


def test_labels_that_are_mostly_wrong_certify_nothing_and_say_why() -> None:
    rng = random.Random(7)
    scores = [rng.random() for _ in range(200)]
    cert = certify(scores, [rng.random() < 0.7 for _ in scores])
    assert cert.threshold is None and "too many wrong answers" in cert.words()


def test_certified_thresholds_hold_on_fresh_draws() -> None:
    """The guarantee, simulated: a 5% wrong rate among answered is exceeded on new questions in
    well under the 10% of draws the bound allows."""
    rng = random.Random(1)

    def draw(n: int) -> tuple[list[float], list[bool]]:
        scores = [rng.random() for _ in range(n)]
        # Right with a probability that rises with the score.
        return scores, [rng.random() < 0.6 + 0.4 * s for s in scores]

    over = 0
    for _ in range(60):
        cert = certify(*draw(300))
        if cert.threshold is None:
            continue
        scores, correct = draw(4000)
        answered = [ok for s, ok in zip(scores, correct, strict=True) if s >= cert.threshold]
        over += bool(answered) and answered.count(False) / len(answered) > 0.05
    assert over <= 6
