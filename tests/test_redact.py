"""Redaction figures on a labelled fixture (tests/fixtures/pii.jsonl, written by make_pii.py: 461
strings, with near misses such as order numbers that fail Luhn, versions, non-birthday dates and
ticket ids), per kind and overall; one test per miss of issue #16 (finding 4) and for bidi
controls (finding 13). Run with -s to see the table: .venv/bin/pytest tests/test_redact.py -s -q"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, strategies as st

from copilot.safety.redact import find, luhn, redact, redact_json
from tests.conftest import FIXTURES


@dataclass
class Score:
    expected: int = 0  # labelled values of this kind
    hit: int = 0  # of them, inside a span of this kind
    found: int = 0  # spans of this kind
    right: int = 0  # of them, covering a labelled value of this kind
    missed: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.hit / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.right / self.found if self.found else 1.0


def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / "pii.jsonl").read_text().splitlines()]


def scores() -> dict[str, Score]:
    by_kind: dict[str, Score] = {}
    for row in rows():
        text, spans = row["text"], find(row["text"])
        labels = []
        for pii in row["pii"]:
            start = text.index(pii["value"])
            labels.append((start, start + len(pii["value"]), pii["type"]))
        for ls, le, lk in labels:
            score = by_kind.setdefault(lk, Score())
            score.expected += 1
            if any(s <= ls and le <= e and k == lk for s, e, k in spans):
                score.hit += 1
            else:
                score.missed.append(text)
        for s, e, k in spans:
            score = by_kind.setdefault(k, Score())
            score.found += 1
            if any(s <= ls and le <= e and k == lk for ls, le, lk in labels):
                score.right += 1
            else:
                score.wrong.append(f"{text[s:e]!r} in {text!r}")
    return by_kind


def test_recall_and_precision_per_kind_on_the_labelled_fixture() -> None:
    data = rows()
    assert len(data) >= 300
    by_kind = scores()
    total = Score(
        expected=sum(s.expected for s in by_kind.values()),
        hit=sum(s.hit for s in by_kind.values()),
        found=sum(s.found for s in by_kind.values()),
        right=sum(s.right for s in by_kind.values()),
    )
    print(f"\n{len(data)} strings, {sum(not r['pii'] for r in data)} without PII")
    print("| kind | values | recall | spans found | precision |\n|---|---|---|---|---|")
    for kind, s in [*sorted(by_kind.items()), ("overall", total)]:
        print(f"| {kind} | {s.expected} | {s.recall:.3f} | {s.found} | {s.precision:.3f} |")
    for kind, s in sorted(by_kind.items()):
        for text in s.missed:
            print(f"missed {kind}: {text!r}")
        for text in s.wrong:
            print(f"wrong {kind}: {text}")
    assert total.recall >= 0.98 and total.precision >= 0.95
    assert all(s.recall >= 0.9 for s in by_kind.values() if s.expected), {
        k: s.missed for k, s in by_kind.items() if s.recall < 0.9
    }


def test_negatives_stay_untouched() -> None:
    """Near misses (orders failing Luhn, versions, dates, ticket ids, hashes...) come back as is."""
    negatives = [r["text"] for r in rows() if not r["pii"] and "note" not in r]
    changed = [text for text in negatives if redact(text) != text]
    assert not changed


def test_placeholders_keep_the_transcript_readable() -> None:
    text = "I'm ana@acme.io, card 4242 4242 4242 4242, order 4242 4242 4242 4241"
    assert redact(text) == "I'm [EMAIL], card [CARD], order 4242 4242 4242 4241"
    assert redact("no pii here: SSO loops after 10:45") == "no pii here: SSO loops after 10:45"
    assert redact("version 1.2.3.4 of the app, server 10.0.0.7") == (
        "version 1.2.3.4 of the app, server [IP]"
    )
    assert redact("password: abc12, DOB 04/12/1987") == "password: [SECRET], DOB [DOB]"


PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx4Y1Tq9f2Lk3\nQm9zZGVmZ2hpamtsbW5vcA==\n"
# (text, the part that must go, its placeholder): each went through the redactor of before issue
# #16 unchanged (finding 4).
MISSES = [
    ("my SSN is 123-45-6789", "123-45-6789", "[SSN]"),
    ("ssn 123 45 6789", "123 45 6789", "[SSN]"),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "[SECRET]",
    ),
    ("signing secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "[SECRET]"),
    (f"my key:\n{PEM}-----END RSA PRIVATE KEY-----\nthanks", "PRIVATE KEY", "[SECRET]"),
    ("password: abc12", "abc12", "[SECRET]"),
    ("refund to de89-3704-0044-0532-0130-00", "0532", "[IBAN]"),
    ("refund to gb82west12345698765432", "gb82", "[IBAN]"),
    ("card 4242.4242.4242.4242", "4242", "[CARD]"),
    ("card 4242\u200b4242\u200b4242\u200b4242", "4242", "[CARD]"),
    ("mail ana\u200b@acme.io", "acme", "[EMAIL]"),
    ("call me on 4155552671", "4155552671", "[PHONE]"),
    ("my number 4155552671", "4155552671", "[PHONE]"),
    ("I live at 221B Baker Street", "Baker", "[ADDRESS]"),
    ("1600 Amphitheatre Parkway, Mountain View, CA 94043", "94043", "[ADDRESS]"),
    ("DOB 04/12/1987", "1987", "[DOB]"),
    ("born on 12 April 1987", "1987", "[DOB]"),
    ("date of birth: 1987-04-12", "1987", "[DOB]"),
    ("passport no. X1234567", "X1234567", "[PASSPORT]"),
    ("passport number 533401372", "533401372", "[PASSPORT]"),
]


@pytest.mark.parametrize(("text", "secret", "placeholder"), MISSES, ids=[m[2] for m in MISSES])
def test_each_miss_of_the_hardening_issue_is_found(
    text: str, secret: str, placeholder: str
) -> None:
    out = redact(text)
    assert secret not in out and placeholder in out, out


def test_a_private_key_is_redacted_whole_even_without_its_end_line() -> None:
    assert redact(f"{PEM}-----END RSA PRIVATE KEY-----") == "[SECRET]"
    assert redact(f"cut short: {PEM}") == "cut short: [SECRET]\n"


def test_look_alike_and_invisible_characters_hide_nothing() -> None:
    assert redact("ａｎａ＠ａｃｍｅ．ｉｏ") == "[EMAIL]"  # fullwidth
    assert redact("card ４２４２ ４２４２ ４２４２ ４２４２") == "card [CARD]"
    assert redact("card 4242\u00a04242\u00a04242\u00a04242") == "card [CARD]"  # no-break spaces
    assert redact("ana\u00ad@acme\u2060.io") == "[EMAIL]"  # soft hyphen, word joiner


def test_bidi_controls_and_invisible_characters_are_not_stored() -> None:
    """Finding 13: U+202E made an agent read text reversed. The rest of the text is kept as typed
    (folding applies to matching only), and zero-width joiners stay for emoji sequences."""
    assert redact("invoice\u202e fdp.exe\u202c ok") == "invoice fdp.exe ok"
    assert redact("a\u200bb\u2066c\u2069\ufeff d\u200e") == "abc d"
    assert redact("ｆｕｌｌｗｉｄｔｈ text 👩\u200d💻") == "ｆｕｌｌｗｉｄｔｈ text 👩\u200d💻"


def test_redact_json_keeps_keys_and_redacts_nested_values() -> None:
    ticket = {"from": "ana@acme.io", "body": ["SSN 123-45-6789", {"pw": "password: abc12"}], "n": 3}
    assert redact_json(ticket) == {
        "from": "[EMAIL]",
        "body": ["SSN [SSN]", {"pw": "password: [SECRET]"}],
        "n": 3,
    }


def test_luhn() -> None:
    assert luhn("4242424242424242") and not luhn("4242424242424241")


@given(st.text(max_size=300))
def test_redact_never_crashes_and_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@given(st.text(alphabet="0123456789 .-+()/:@\u200bxaA#", max_size=80))
def test_digit_soup_never_crashes_and_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once
