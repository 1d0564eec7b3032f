"""PII redaction before anything is stored or sent to an LLM: matches become typed placeholders
("[EMAIL]", "[CARD]") so a transcript stays readable. Matching runs on a folded view of the text
(NFKC, invisible format characters dropped) so look-alikes and zero-width splits hide nothing; what
is stored keeps the customer's characters, minus controls, invisible and bidi characters. Figures
per kind: tests/test_redact.py on a labelled fixture (docs/reliability.md)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import phonenumbers

Finder = Callable[[str], Iterator[tuple[int, int]]]


def _regex(pattern: str, ok: Callable[[str], bool] | None = None) -> Finder:
    """Spans of `pattern` (of its group `v` when it has one and it matched) that pass `ok`."""
    rx = re.compile(pattern)

    def finder(text: str) -> Iterator[tuple[int, int]]:
        for m in rx.finditer(text):
            s, e = m.span("v") if "v" in rx.groupindex and m.group("v") else m.span()
            if ok is None or ok(text[s:e]):
                yield s, e

    return finder


# --- secrets ------------------------------------------------------------------------------------
# Key formats after detect-secrets 1.5.0's plugins (aws, github_token, gitlab_token, slack, stripe,
# sendgrid, npm, pypi_token, twilio, square_oauth, mailchimp, azure_storage_key, telegram_token,
# jwt, private_key, basic_auth). Copied, not depended on: its scanning API reads files line by line
# and reports lines, where we need character spans in a chat message.
_PEM = (
    r"(?s)-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|(?:\s*[A-Za-z0-9+/=]{16,})*)"
    r"|PuTTY-User-Key-File-\d:.*?Private-MAC: [0-9a-f]+"
)
_KEY_FORMATS = (
    r"sk-(?:proj-|live_|test_)?[A-Za-z0-9_-]{16,}"  # OpenAI / Stripe style
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|gh[pousr]_[A-Za-z0-9_]{30,}|github_pat_[A-Za-z0-9_]{40,}"  # GitHub
    r"|(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key id
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|hooks\.slack\.com/services/T\w+/B\w+/\w+"  # Slack
    r"|(?:glpat|gldt|glft|glsoat|glrt|glcbt|glimt|glptt|glagent|gloas)-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|SG\.[\w-]{22}\.[\w-]{43}"  # SendGrid
    r"|npm_[A-Za-z0-9]{36}"  # npm
    r"|pypi-AgE[A-Za-z0-9_-]{70,}"  # PyPI
    r"|(?:AC|SK)[0-9a-f]{32}"  # Twilio
    r"|sq0csp-[\w-]{43}"  # Square
    r"|[0-9a-f]{32}-us\d{1,2}"  # Mailchimp
    r"|AccountKey=[A-Za-z0-9+/=]{88}"  # Azure storage
    r"|\d{8,10}:[\w-]{35}"  # Telegram bot
    r"|eyJ[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,}"  # a JWT
)
# Words that follow "password is" in complaints, not in secrets ("my password is not working").
_NOT_A_VALUE = (
    r"not|wrong|incorrect|invalid|correct|right|expired|too|still|being|the|an?|my|your|now|also"
    r"|fine|okay|working|rejected|required|reset|changed|case|never|always|very|same|different"
    r"|saved|stored|hashed|missing|empty|blank|there|here|this|that|it|in|on|for|from|with|at|to"
    r"|of|and|or|but|if|when|shown|visible|hidden|updated|generated|revoked|rotated|none|null"
)
_LABELLED = re.compile(
    r"(?i)(?<![^\W_])(?:password|passwd|passcode|passphrase|pass|pwd|pw|pin|secret|token"
    r"|(?:api|secret|access|private|license|signing)[_ -]?key)(?:[_-][A-Za-z]+)*\b"
    r"[\"']?\s*(?P<sep>[:=]|\b(?:is|was)\b)\s*[\"']?"
    # the value: 4+ characters, never a placeholder (so redacting twice changes nothing more)
    rf"(?P<v>(?!(?:{_NOT_A_VALUE})\b)(?:(?!\[[A-Z_]+\])[^\s\"',;\x00]){{4,}})"
)
_PIN = re.compile(r"(?i)(?<![^\W_])(?:passcode|pin)\s+(?P<v>\d{4,8})\b")  # "passcode 4829"
_B64_40 = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_AWS_CONTEXT = re.compile(r"aws|secret|access.?key|credential")  # (in lower case)


_WHSEC = _regex(r"\bwhsec_[A-Za-z0-9+/=]{20,}")  # Stripe webhook signing secret
_URL_PASSWORD = _regex(r"://[^\s:/@\x00]+:(?P<v>[^\s:/@\x00]+)@")  # user:password@host


def _secrets(text: str) -> Iterator[tuple[int, int]]:
    low = text.lower()
    if "whsec_" in low:
        yield from _WHSEC(text)
    if "://" in text:
        yield from _URL_PASSWORD(text)
    if _AWS_CONTEXT.search(low):
        for m in _B64_40.finditer(text):  # an AWS secret access key: 40 characters, near its name
            v = m.group()
            mixed = any(c.isupper() for c in v) and any(c.islower() for c in v)
            if mixed and _AWS_CONTEXT.search(low, max(0, m.start() - 80), m.start()):
                yield m.span()  # (mixed case, so never a hex commit hash)
    if not any(w in low for w in ("pass", "pw", "pin", "secret", "token", "key")):
        return
    yield from (m.span("v") for m in _PIN.finditer(text))
    for m in _LABELLED.finditer(text):
        # after "is"/"was" a value must look made up (a digit or symbol), not be an English word
        if m["sep"] in ":=" or not m["v"].isalpha():
            yield m.span("v")


# --- numbers with a check digit -----------------------------------------------------------------
def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Digits in groups separated by one space, dash or dot: a card as typed (4242.4242.4242.4242).
_DIGIT_RUN = re.compile(r"(?<![\w.-])\d+(?:[ .-]\d+)*")


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for m in _DIGIT_RUN.finditer(text):
        if text[m.end() : m.end() + 1].isalnum():
            continue
        run = m.group()
        if len(run) < 13:
            continue
        groups = re.split(r"[ .-]", run)
        if "." in run and any(len(g) < 4 for g in groups[:-1]):
            continue  # a version or an IP address, not a card
        # the whole run, or without a short tail (an expiry month, a CVC: "4242 … 4242 12/27")
        ends = [len(run)] + ([len(run) - len(groups[-1]) - 1] if len(groups[-1]) <= 3 else [])
        for end in ends:
            digits = re.sub(r"\D", "", run[:end])
            if 13 <= len(digits) <= 19 and luhn(digits):
                yield m.start(), m.start() + end
                break


# IBAN lengths by country (SWIFT IBAN registry): the exact length tells where one ends.
_IBAN_LENGTHS = dict(
    (c[:2], int(c[2:]))
    for c in (
        "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28"
        " EE20 EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26"
        " IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MR27 MT31 MU30"
        " NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SC31 SE24 SI19 SK24 SM27 ST25 SV28 TL23"
        " TN24 TR26 UA29 VA22 VG24 XK20"
    ).split()
)
_IBAN_START = re.compile(r"(?i)(?<![a-z0-9])([a-z]{2})\d\d(?=[ -]?[a-z0-9])")


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    """IBANs in any case, grouped by spaces or dashes or not at all, mod-97 checked."""
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(m.group(1).upper())
        if length is None:
            continue
        chars: list[str] = []
        i = m.start()
        while i < len(text) and len(chars) < length:
            if text[i].isascii() and text[i].isalnum():
                chars.append(text[i].upper())
            elif not (text[i] in " -" and text[i + 1 : i + 2].isalnum()):
                break
            i += 1
        if len(chars) != length or text[i : i + 1].isalnum():
            continue
        s = "".join(chars)
        if int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1:
            yield m.start(), i


# --- identity documents, addresses, birthdays ---------------------------------------------------
_SSN = (
    r"(?<![\w-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d\d\1(?!0000)\d{4}(?![\w-])"
    r"|(?i:\b(?:ssn|social\s+security(?:\s+(?:number|no\b\.?|#))?)\s*(?:is|:|#)?\s*)(?P<v>\d{9})\b"
)
_PASSPORT = (
    r"(?i)\bpassport(?:\s+(?:no\b\.?|nr\b\.?|num(?:ber)?\b\.?|id\b|#))?\s*(?:\b(?:is|was)\b|[:#=])?"
    r"\s*(?P<v>[A-Z0-9]{6,10})\b"
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?"
)
_DATE = (
    r"\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d\d)\b|\d{4}[/.-]\d{1,2}[/.-]\d{1,2}\b"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTH}(?:,?\s+\d{{4}}\b)?"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}}\b)?"
)
# Only a date said to be a birthday: "the outage on 2026-11-02" stays.
_DOB = (
    r"(?i)(?:\bd\.?o\.?b\b\.?|\bdate\s+of\s+birth\b|\bbirth\s*(?:date|day)\b|\bborn\b(?:\s+(?:on|in))?)"
    rf"\s*(?:\b(?:is|was)\b|[:=-])?\s*(?P<v>{_DATE})"
)
_STREET = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Parkway|Pkwy|Place|Pl"
    r"|Way|Terrace|Square|Sq|Highway|Hwy|Circle|Close|Crescent|Row|Gardens|Loop"
)
_ADDRESS_TAIL = (
    r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor)\.?\s*#?\w+)?"
    r"(?:,\s*[A-Z][A-Za-z.'-]+\b(?:\s+[A-Z][A-Za-z.'-]+\b){0,3})?"  # city
    # a state and ZIP code (CA 94043), or a UK postcode (SW1A 2AA)
    r"(?:,?\s+(?:[A-Z]{2}\s+\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2})\b)?"
)
_ADDRESS = (
    # 221B Baker Street; 1600 Amphitheatre Parkway, Mountain View, CA 94043 (not "3 Google Drive")
    r"\b\d{1,5}[A-Za-z]?\s+(?!(?:Google|Shared|Team|My|USB|Hard|External|One)\s)"
    rf"(?:(?:[A-Z][A-Za-z'.-]*|\d+(?:st|nd|rd|th))\s+){{1,3}}(?:{_STREET})\b\.?{_ADDRESS_TAIL}"
    # the same typed in lower case, with a full street word
    r"|\b\d{1,5}[a-z]?\s+(?:[a-z]+\s+){1,2}(?:street|avenue|road|boulevard|lane|parkway)\b"
    r"|\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|platz|allee|gasse)\s+\d{1,4}[a-z]?\b"
    r"(?:,\s*\d{5}\s+[A-ZÄÖÜ][a-zäöüß]+)?"  # Hauptstraße 5, 10115 Berlin
    r"|\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|boulevard|bd|place|chemin|allée|quai)\s+"
    r"(?:(?:de|du|des|la|le|l'|d')\s*)*[A-Z][\w'-]+(?:,\s*\d{5}\s+[A-Z][\w-]+)?"  # 12 rue de Rivoli
    r"|\bP\.?\s?O\.?\s+Box\s+\d+"
)


# --- phones -------------------------------------------------------------------------------------
_PHONE_FORMATTED = re.compile(
    r"(?<![\w+])(?:\+|00)\d{1,3}[\s.-]?(?:\(?\d{1,4}\)?[\s.-]?){2,5}\d{2,4}(?!\d)"  # +44 20 79..
    r"|(?<![\w-])\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?![\d-])"  # (555) 123-4567, 555.123.4567
    r"|(?<![\w-])0\d{2,4}[\s/-]\d{3,4}[\s-]?\d{3,4}(?![\d-])"  # 030 1234 5678
)
_PHONE_CUE = re.compile(
    r"(?i)\b(?:call|phone|tel|telephone|mobile|cell|text|sms|whatsapp|reach|number|fax|ring)\b"
)
_ID_WORDS = {
    "order", "invoice", "tracking", "ticket", "ref", "reference", "account", "project", "case",
    "build", "id", "timestamp", "serial", "po", "shipment", "parcel", "transaction", "receipt",
    "confirmation", "customer", "inc", "job", "batch", "version", "port", "seats", "users",
}  # fmt: skip
_DIGITS_BEFORE = re.compile(r"\d[ -]?$")
_PHONE_CLUSTER = re.compile(r"\+?\(?\d[\d \t().-]*\d")
_DATE_LIKE = re.compile(r"\d{4}-\d\d-\d\d|\d\d?[.-]\d\d?[.-]\d{2,4}")


def _after_id_word(text: str, start: int) -> bool:
    """ "order number 4155552671": the number is an identifier, not a phone."""
    words = re.findall(r"[A-Za-z]+", text[max(0, start - 40) : start])[-2:]
    return bool(_ID_WORDS & {w.lower() for w in words})


def _phones(text: str) -> Iterator[tuple[int, int]]:
    """Formatted numbers by pattern (fictional 555 numbers included), then whatever
    `phonenumbers` finds (international formats; bare digits only after a cue like "call me on")."""
    candidates = [(m.start(), m.end(), True) for m in _PHONE_FORMATTED.finditer(text)]
    for c in _PHONE_CLUSTER.finditer(text):  # the matcher is slow: give it only what may be one
        cluster = c.group()
        if not 8 <= _digits(cluster) <= 15 or _DATE_LIKE.fullmatch(cluster):
            continue
        if _after_id_word(text, c.start()) or (
            cluster.isdigit() and not _PHONE_CUE.search(text, max(0, c.start() - 40), c.start())
        ):
            continue  # (both are checked again below, on what the matcher returns)
        for pm in phonenumbers.PhoneNumberMatcher(cluster, "US", phonenumbers.Leniency.POSSIBLE):
            if "." in pm.raw_string and not pm.raw_string.startswith("+"):
                continue  # 120.0.6099.129 is a version; dotted 555.201.3344 is matched above
            bare = pm.raw_string.isdigit()
            candidates.append((c.start() + pm.start, c.start() + pm.end, not bare))
    for s, e, formatted in candidates:
        if not 8 <= _digits(text[s:e]) <= 15:
            continue
        if s and (text[s - 1].isalnum() or text[s - 1] in "-_/.#$€£"):
            continue  # part of an identifier or a price
        if _DIGITS_BEFORE.search(text, max(0, s - 2), s):
            continue  # the tail of a longer number (an order or tracking number)
        if text[e : e + 1].isalnum() or text[e : e + 1] in ("-", "_") or _after_id_word(text, s):
            continue
        if formatted or _PHONE_CUE.search(text, max(0, s - 40), s):
            yield s, e


# --- network ------------------------------------------------------------------------------------
_IP = re.compile(
    r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
    r"|(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{1,4}\b"  # IPv6, "::" included
)
_IPV4 = re.compile(_IP.pattern.split("|")[0])
_VERSION_BEFORE = re.compile(r"(?i)\b(?:version|ver\.?|v|build|release)\s*$")


def _ips(text: str) -> Iterator[tuple[int, int]]:
    for m in (_IP if text.count(":") > 1 else _IPV4).finditer(text):
        if _VERSION_BEFORE.search(text, 0, m.start()):
            continue  # "version 1.2.3.4" is a version number
        try:
            ipaddress.ip_address(m.group())
        except ValueError:
            continue
        yield m.span()


# Order matters: an earlier kind wins an overlap (keys hold digits and "@"; a PEM block holds all).
# The middle column is a cheap test that the kind may be there at all: most messages have no PII.
DETECTORS: list[tuple[str, re.Pattern[str] | None, Finder]] = [
    ("SECRET", re.compile("PRIVATE KEY|PuTTY"), _regex(_PEM)),
    ("TOKEN", re.compile("[Bb]earer|BEARER"), _regex(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")),
    ("API_KEY", re.compile(r"[\w-]{16}"), _regex(rf"\b(?:{_KEY_FORMATS})\b")),
    ("SECRET", None, _secrets),
    ("EMAIL", re.compile("@"), _regex(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}\b")),
    ("IBAN", re.compile(r"\d\d"), _ibans),
    ("SSN", re.compile(r"\d\d"), _regex(_SSN)),
    ("CARD", re.compile(r"\d\d"), _cards),
    ("DOB", re.compile(r"[Bb]irth|BIRTH|[Bb]orn|BORN|[Dd]\.?[Oo]\.?[Bb]"), _regex(_DOB)),
    ("PASSPORT", re.compile("[Pp]assport|PASSPORT"), _regex(_PASSPORT, lambda v: _digits(v) >= 5)),
    ("ADDRESS", re.compile(r"\d"), _regex(_ADDRESS)),
    ("IP", re.compile(r"\d\.\d|:"), _ips),  # before phones: 170.165.86.119 could be one
    ("PHONE", re.compile(r"\d(?:[\s().+/-]{0,3}\d){6}"), _phones),
]


def _fold(text: str) -> tuple[str, list[int] | None]:
    """The text as matched: NFKC per character (fullwidth digits, "＠"), format characters (Cf:
    zero-width, bidi, soft hyphen) dropped; and where each folded character came from."""
    if text.isascii():
        return text, None
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii():
            folded = ch
        elif unicodedata.category(ch) == "Cf":
            continue
        else:
            folded = unicodedata.normalize("NFKC", ch)
        out.append(folded)
        origin.extend([i] * len(folded))
    return "".join(out), origin


def find(text: str) -> list[tuple[int, int, str]]:
    """(start, end, type) of every PII span in `text`, leftmost first, without overlaps."""
    view, origin = _fold(text)
    spans: list[tuple[int, int, str]] = []
    for kind, gate, finder in DETECTORS:
        if gate is not None and not gate.search(view):
            continue
        masked = view
        for s, e in finder(view):
            if s < e and not any(s < e2 and s2 < e for s2, e2, _ in spans):
                spans.append((s, e, kind))
                masked = masked[:s] + "\x00" * (e - s) + masked[e:]
        view = masked  # later kinds do not see what is found (a card's digits are no phone)
    if origin is not None:
        spans = [(origin[s], origin[e - 1] + 1, kind) for s, e, kind in spans]
    return sorted(spans)


# Control characters other than tab and newlines, and lone surrogates: no reader needs them, and
# databases refuse some (PostgreSQL rejects NUL; UTF-8 cannot encode a lone surrogate).
UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# Invisible characters that can hide or disguise text: zero-width space, word joiner and invisible
# operators, BOM, soft hyphen, bidi marks, embeddings, overrides and isolates (U+202E makes an agent
# read "gpj.exe" as "exe.jpg"). Zero-width (non-)joiners stay: emoji sequences and Persian or Indic
# spelling need them, and matching ignores them anyway.
INVISIBLE = re.compile(r"[\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def redact(text: str) -> str:
    """`text` as it may be stored or shown to a model: PII replaced by typed placeholders, and
    unstorable and invisible characters removed."""
    text = INVISIBLE.sub("", UNSTORABLE.sub("", text))
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
