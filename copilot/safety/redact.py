"""PII redaction before anything is stored or sent to an LLM. Regular expressions plus validation
(Luhn for cards, mod-97 for IBANs, octet ranges for IPs), because Presidio needs models that are
not available offline. Matches become typed placeholders ("[EMAIL]", "[CARD]") so a transcript
stays readable. `bench`-style figures: tests/test_redact.py measures recall and precision on a
labelled fixture."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

# Order matters: tokens and keys first (they can contain digits and @), then structured numbers.
_SECRET_KEY = (
    r"sk-(?:proj-|live_|test_)?[A-Za-z0-9_-]{16,}"  # OpenAI / Stripe style
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # a JWT
)
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("TOKEN", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")),
    ("API_KEY", re.compile(rf"\b(?:{_SECRET_KEY})\b")),
    (
        "SECRET",
        re.compile(
            r"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|client[_-]?secret"
            r"|private[_-]?key)\b\s*(?:is|[:=])\s*[\"']?[^\s\"',;]{6,}"
        ),
    ),
    ("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")),
    ("CARD", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")),
    (
        "PHONE",
        re.compile(
            r"(?<![\w+])\+\d{1,3}[\s.-]?(?:\(?\d{1,4}\)?[\s.-]?){2,5}\d{2,4}(?!\d)"  # +44 20 79..
            r"|(?<![\w-])\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?![\d-])"  # (555) 123-4567, 555.123.4567
            r"|(?<![\w-])0\d{2,4}[\s/-]\d{3,4}[\s-]?\d{3,4}(?![\d-])"  # 030 1234 5678
            r"|(?i:(?<=phone )|(?<=call )|(?<=tel )|(?<=mobile )|(?<=cell ))\d{9,12}\b"
        ),
    ),
    (
        "IP",
        re.compile(
            r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
            r"|(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{1,4}\b"  # IPv6, "::" included
        ),
    ),
]


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _card_ok(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and luhn(digits)


def _ip_ok(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _phone_ok(text: str) -> bool:
    return 8 <= len(re.sub(r"\D", "", text)) <= 15


VALID: dict[str, Callable[[str], bool]] = {
    "IBAN": _iban_ok,
    "CARD": _card_ok,
    "IP": _ip_ok,
    "PHONE": _phone_ok,
}


DIGITS_BEFORE = re.compile(r"\d[ -]?$")
VERSION_BEFORE = re.compile(r"(?i)\b(?:version|ver\.?|v|build|release)\s*$")


def find(text: str) -> list[tuple[int, int, str]]:
    """(start, end, type) of every PII span, leftmost first, without overlaps."""
    spans: list[tuple[int, int, str]] = []
    for kind, pattern in PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e, _ in spans):
                continue
            if kind in VALID and not VALID[kind](m.group()):
                continue
            if kind == "IP" and VERSION_BEFORE.search(text[: m.start()]):
                continue  # "version 1.2.3.4" is a version number
            if kind == "PHONE" and DIGITS_BEFORE.search(text[: m.start()]):
                continue  # the tail of a longer number (an order or tracking number)
            spans.append((m.start(), m.end(), kind))
    return sorted(spans)


# Control characters other than tab and newlines, and lone surrogates: no reader needs them, and
# databases refuse some (PostgreSQL rejects NUL; UTF-8 cannot encode a lone surrogate).
UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def redact(text: str) -> str:
    """`text` as it may be stored or shown to a model: PII replaced by typed placeholders, and
    unstorable characters removed."""
    text = UNSTORABLE.sub("", text)
    out, last = [], 0
    for start, end, kind in find(text):
        out += [text[last:start], f"[{kind}]"]
        last = end
    return "".join([*out, text[last:]])


def redact_json(value: Any) -> Any:
    """Every string in a JSON-like value redacted (keys kept: they are ours, not the customer's)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(v) for v in value]
    return value
