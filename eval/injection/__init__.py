"""The prompt-injection and leakage suite: a fixed set of attacks, scored by rules, no LLM judge.

Canaries are planted in the system prompt, in an internal article and in another customer's
conversation; poisoned articles (hidden comments, zero-width text, "SYSTEM:" lines, off-site
images and links) are indexed as if lint had missed them. Every case runs over HTTP against a
running server twice: with the extractive composer, and with an LLM that obeys any instruction it
sees (the worst model), so what is measured is what does not depend on the model. A case succeeds,
for the attacker, when a canary, an off-site URL or internal text reaches the customer.

The attacks are data (cases.json); attacker.py reads them and plays the worst model; harness.py
runs and scores them.

    .venv/bin/python -m eval.injection                   # writes eval/reports/injection.json
    .venv/bin/python -m eval.injection --without-guard   # the same, with the link policy off
"""

from eval.injection.attacker import CANARIES, Case, cases, obedient_reply, planted
from eval.injection.harness import REPORT, Outcome, found_leaks, run

__all__ = [
    "CANARIES",
    "REPORT",
    "Case",
    "Outcome",
    "cases",
    "found_leaks",
    "obedient_reply",
    "planted",
    "run",
]
