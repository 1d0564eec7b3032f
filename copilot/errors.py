"""The errors a user can hit, each with a message that says what to do next.

    CopilotError
    ├── ConfigError          bad settings, flags or files the user gave (CLI exit 2)
    ├── DatasetError         an eval dataset line that cannot be read (names file and line)
    ├── LintFailed           `--strict` and some articles have lint errors (CLI exit 1)
    ├── LLMError             the LLM endpoint failed, timed out or refused (the agent falls back)
    ├── NotFound             no such conversation or handoff, or a token that does not match
    ├── Unavailable          a part the service needs (index, vector store, database) is down
    └── IndexError_
        ├── IndexMissing     no index yet: run `copilot index`
        ├── EmbedderMismatch the index was built by another embedder: run `copilot index --full`
        └── IndexLocked      another writer holds the lock

Lint findings are values (`copilot.types.Finding`), not exceptions.
"""


class CopilotError(Exception):
    """Base of every error the copilot raises on purpose."""


class ConfigError(CopilotError):
    """A setting, flag or input file is wrong; the message names it."""


class DatasetError(CopilotError):
    """An eval dataset cannot be read; the message names the file and line."""


class LintFailed(CopilotError):
    """The command ran and found lint errors it was told not to tolerate."""


class LLMError(CopilotError):
    """The configured LLM endpoint failed or timed out."""


class NotFound(CopilotError):
    """No such conversation or handoff (or its token does not match: callers cannot tell)."""


class Unavailable(CopilotError):
    """A part the service needs is down; the request may succeed when it is back (HTTP 503)."""


class IndexError_(CopilotError):
    """The vector index cannot be used as asked."""


class IndexMissing(IndexError_):
    """No index has been built in the data folder yet."""


class EmbedderMismatch(IndexError_):
    """The index was built by a different embedder than the one configured."""


class IndexLocked(IndexError_):
    """Another process is writing the index."""
