"""Redaction figures on a labelled fixture (tests/fixtures/pii.jsonl, 215 strings, with near
misses such as order numbers that fail Luhn). Targets: recall >= 0.98, precision >= 0.95."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from copilot.safety.redact import find, luhn, redact
from tests.conftest import FIXTURES


def scores() -> tuple[float, float, dict[str, float]]:
    rows = [json.loads(line) for line in (FIXTURES / "pii.jsonl").read_text().splitlines()]
    assert len(rows) >= 200
    found = expected = true = 0
    missed: dict[str, int] = {}
    per_type: dict[str, list[int]] = {}
    for row in rows:
        spans = find(row["text"])
        found += len(spans)
        for pii in row["pii"]:
            expected += 1
            start = row["text"].index(pii["value"])
            end = start + len(pii["value"])
            hit = any(s <= start and end <= e and k == pii["type"] for s, e, k in spans)
            true += hit
            per_type.setdefault(pii["type"], [0, 0])[0] += hit
            per_type[pii["type"]][1] += 1
            if not hit:
                missed[row["text"]] = 1
    assert not missed or len(missed) < 5, list(missed)
    return true / expected, true / max(found, 1), {k: h / n for k, (h, n) in per_type.items()}


def test_recall_and_precision_on_the_labelled_fixture() -> None:
    recall, precision, per_type = scores()
    print(f"redaction recall {recall:.3f} precision {precision:.3f} by type {per_type}")
    assert recall >= 0.98 and precision >= 0.95
    assert min(per_type.values()) >= 0.95


def test_placeholders_keep_the_transcript_readable() -> None:
    text = "I'm ana@acme.io, card 4242 4242 4242 4242, order 4242 4242 4242 4241"
    assert redact(text) == "I'm [EMAIL], card [CARD], order 4242 4242 4242 4241"
    assert redact("no pii here: SSO loops after 10:45") == "no pii here: SSO loops after 10:45"
    assert redact("version 1.2.3.4 of the app, server 10.0.0.7") == (
        "version 1.2.3.4 of the app, server [IP]"
    )


def test_luhn() -> None:
    assert luhn("4242424242424242") and not luhn("4242424242424241")


@given(st.text(max_size=300))
def test_redact_never_crashes_and_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once
