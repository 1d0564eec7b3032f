"""Labels with a guarantee: the answer threshold that labelled questions certify, by a one-sided
Clopper–Pearson bound on the wrong-answer rate, or in words why they do not certify one yet.

Thresholds are tested from the strictest down and the search stops at the first that fails (fixed
sequence testing), so picking the threshold does not spend the bound's confidence many times.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import beta


def upper_bound(wrong: int, answered: int, confidence: float = 0.9) -> float:
    """One-sided Clopper–Pearson upper bound on a rate seen as `wrong` of `answered`."""
    if answered == 0:
        return 1.0
    if wrong >= answered:
        return 1.0
    return float(beta.ppf(confidence, wrong + 1, answered - wrong))


def needed(target: float, confidence: float = 0.9) -> int:
    """Answered labelled questions needed, with none wrong, before any threshold is certified."""
    return math.ceil(math.log(1 - confidence) / math.log(1 - target))


@dataclass(frozen=True)
class Certificate:
    """What the labels certify: a threshold (None until they certify one) and the evidence."""

    threshold: float | None
    labels: int
    right: int  # labelled questions whose top article is right: what could be answered
    answered: int
    wrong: int
    bound: float
    target: float
    confidence: float

    def words(self) -> str:
        """The certificate as a docs owner reads it."""
        pct = f"{self.target:.0%}"
        if self.threshold is None:
            need = needed(self.target, self.confidence)
            if self.right < need:
                why = (
                    f"needs about {need} answered labelled questions; you have {self.right} "
                    f"(of {self.labels} labels, {self.right} have the right article first)"
                )
            else:
                why = (
                    f"the {self.labels} labels hold too many wrong answers at the strictest "
                    f"testable threshold for a {self.confidence:.0%} bound of {pct}: confident "
                    "wrong answers come first (see them with `copilot eval`)"
                )
            return (
                f"not certified yet: {why}. Add labels (`copilot calibrate --labels FILE`, the "
                "console's 'answers it' / 'not in the KB', customers' feedback); until then the "
                "shipped model decides."
            )
        return (
            f"certified: answering from confidence {self.threshold:.3f}, {self.answered} of "
            f"{self.labels} labelled questions are answered with {self.wrong} wrong; with "
            f"{self.confidence:.0%} confidence the wrong-answer rate is at most "
            f"{self.bound:.1%} (target {pct})."
        )


def certify(
    scores: Sequence[float],
    correct: Sequence[bool],
    target: float = 0.05,
    confidence: float = 0.9,
) -> Certificate:
    """The lowest threshold whose answers (score >= threshold) keep the bound within `target`,
    scanning from the strictest threshold that answers enough questions to be testable."""
    pairs = sorted(zip(scores, correct, strict=True), key=lambda sc: -sc[0])
    right = sum(1 for _, ok in pairs if ok)
    start = needed(target, confidence)
    best: Certificate | None = None
    wrong = 0
    for n, (score, ok) in enumerate(pairs, 1):
        wrong += not ok
        if n < start or (n < len(pairs) and pairs[n][0] == score):
            continue  # not testable yet, or ties: a threshold answers all of them or none
        bound = upper_bound(wrong, n, confidence)
        if bound > target:
            break
        best = Certificate(score, len(pairs), right, n, wrong, bound, target, confidence)
    if best is not None:
        return best
    return Certificate(None, len(pairs), right, 0, 0, 1.0, target, confidence)
