"""The lint rule table: each rule's stable code, severity and the text `copilot lint --explain`
prints, and the options that select which rules run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from copilot.errors import ConfigError
from copilot.types import Article, Finding, Release, Severity


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    summary: str
    explanation: str
    opt_in: bool = False
    # The article cannot be used safely, so the indexer leaves it out (and says so). Every other
    # finding, error or warning, is for the docs owner: the article is still indexed.
    blocks_index: bool = False


RULES: dict[str, Rule] = {
    r.code: r
    for r in [
        Rule(
            "KB001",
            "error",
            "file cannot be parsed",
            "The file is not UTF-8 text, has no '---' front matter, or its front matter is not "
            "valid YAML. Nothing else can be checked until it parses.",
            blocks_index=True,
        ),
        Rule(
            "KB002",
            "error",
            "required field missing",
            "Front matter needs id, title, owner, last_reviewed and product_area.",
        ),
        Rule(
            "KB003",
            "error",
            "bad id",
            "The id is lowercase letters, digits and '-', and equals the file name without .md.",
        ),
        Rule(
            "KB004",
            "error",
            "missing section",
            "Every article has ## Symptoms, ## Cause, ## Fix, ## Verify and ## Escalate.",
        ),
        Rule(
            "KB005",
            "error",
            "sections out of order",
            "The five sections come in the order Symptoms, Cause, Fix, Verify, Escalate; "
            "other sections may follow Escalate.",
        ),
        Rule("KB006", "error", "empty section", "Each of the five sections has text."),
        Rule(
            "KB007",
            "error",
            "title and H1 differ",
            "The first '# ' heading equals the front matter's title.",
        ),
        Rule(
            "KB008",
            "error",
            "bad date or interval",
            "last_reviewed is an ISO date (YYYY-MM-DD) not in the future; review_every_days is a "
            "positive whole number.",
        ),
        Rule(
            "KB009",
            "warning",
            "stale: review overdue",
            "last_reviewed + review_every_days is before today: the owner should re-check it.",
        ),
        Rule(
            "KB010",
            "warning",
            "stale: changed by a release",
            "releases.yaml lists a release touching this product_area after last_reviewed.",
        ),
        Rule(
            "KB011",
            "error",
            "duplicate id",
            "Two files declare the same id; ids must be unique across the KB.",
            blocks_index=True,
        ),
        Rule(
            "KB012",
            "error",
            "broken link",
            "A relative link points to an article file that does not exist.",
        ),
        Rule(
            "KB013",
            "error",
            "unknown product_area",
            "releases.yaml lists the product areas; product_area must be one of them.",
        ),
        Rule(
            "KB014",
            "error",
            "bad audience",
            "audience is 'customer' (the default) or 'internal' (agents only). Not indexed "
            "until fixed: a misspelt 'internal' would otherwise publish an agents-only article.",
            blocks_index=True,
        ),
        Rule(
            "KB015",
            "warning",
            "Fix has no numbered steps",
            "Customers follow numbered steps ('1. ...') more reliably than prose.",
        ),
        Rule(
            "KB016",
            "error",
            "hidden instructions",
            "HTML comments or hidden elements that carry instructions, or lines posing as a "
            "system/assistant message: text the reader does not see must not reach a model.",
            blocks_index=True,
        ),
        Rule(
            "KB017",
            "error",
            "active HTML",
            "<script>, <iframe>, <object>, <embed>, <form>, <style> or on*= handlers: never shown "
            "to a customer, never executed.",
            blocks_index=True,
        ),
        Rule(
            "KB018",
            "warning",
            "off-site image or link",
            "An image or link to a host that is not in `link_hosts` (copilot.toml), read as a "
            "browser reads it. The article is indexed, but replies never show that image or "
            "link: an off-site image can track readers or carry data out through its URL. Add "
            "the host (e.g. your CDN) to `link_hosts` if it is yours.",
        ),
        Rule(
            "KB019",
            "warning",
            "invisible characters",
            "Zero-width or bidirectional control characters; often innocent in pasted text, and "
            "removed by the indexer, but they can hide text.",
        ),
        Rule(
            "KB020",
            "warning",
            "near-duplicate articles",
            "Two articles whose Symptoms say the same thing: one problem per page. Opt-in "
            "(--select KB020 or --near-duplicates).",
            opt_in=True,
        ),
        Rule(
            "KB021",
            "warning",
            "unknown front-matter field",
            "A field the format does not define, often a typo (e.g. 'audiance: internal' "
            "would leave an internal article public).",
        ),
        Rule(
            "KB022",
            "error",
            "bad field value",
            "owner is an email or a team handle; tags is a list; id, title and product_area "
            "are plain text.",
        ),
    ]
}


@dataclass(frozen=True)
class LintResult:
    findings: list[Finding]
    files: int
    articles: list[Article]
    releases: list[Release]

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)


@dataclass(frozen=True)
class LintOptions:
    today: date
    default_review_days: int = 180
    select: frozenset[str] | None = None  # None: every rule that is not opt-in
    ignore: frozenset[str] = frozenset()
    strict: bool = False
    near_duplicate_threshold: float = 0.8
    link_hosts: tuple[str, ...] = ()  # hosts images and links may point to (KB018)

    def wants(self, code: str) -> bool:
        if code in self.ignore:
            return False
        if self.select is None:
            return not RULES[code].opt_in
        return any(code.startswith(s) for s in self.select)


def codes(values: Iterable[str] | None) -> frozenset[str] | None:
    """Parse --select/--ignore values ("KB001,KB009" or repeated) into codes or prefixes."""
    if values is None:
        return None
    out = {c.strip().upper() for v in values for c in v.split(",") if c.strip()}
    unknown = [c for c in out if not any(code.startswith(c) for code in RULES)]
    if unknown:
        listed = ", ".join(sorted(unknown))
        raise ConfigError(f"unknown rule code {listed}: see `copilot lint --explain`")
    return frozenset(out)
