"""The errors a user can hit, each with a message that says what to do next. Split by whose move
it is: the caller's (fix the input), or the service's (retry when the part is back).

    CopilotError
    ├── UserError              the caller must change something (CLI exit 2, HTTP 4xx)
    │   ├── ConfigError        bad settings, flags or files (names the setting, file or line)
    │   ├── DatasetError       an eval dataset line that cannot be read (names file and line)
    │   ├── InvalidInput       a value the caller sent is out of range (HTTP 422)
    │   ├── NotFound           no such conversation, handoff or article, or a token that does not
    │   │                      match (HTTP 404)
    │   ├── Conflict           not allowed in the current state, e.g. claiming a claimed handoff
    │   │                      or a second reindex (HTTP 409)
    │   └── Expired            a conversation token past its resume window (HTTP 401)
    ├── LintFailed             `--strict` and some articles have lint errors (CLI exit 1)
    └── Unavailable            a part the service needs is down or busy (HTTP 503, retry)
        ├── LLMError           the LLM endpoint failed, timed out or refused (the agent falls back)
        └── IndexProblem       the vector index cannot be used as asked
            ├── IndexMissing      no index yet: run `copilot index`
            ├── EmbedderMismatch  the index was built by another embedder: `copilot index --full`
            └── IndexLocked       another writer holds the lock

Anything else that escapes is a bug: the API answers 500 with a request id and logs it.
Lint findings are values (`copilot.types.Finding`), not exceptions.
"""


class CopilotError(Exception):
    """Base of every error the copilot raises on purpose."""


class UserError(CopilotError):
    """The caller has to change something; retrying the same call will fail the same way."""


class ConfigError(UserError):
    """A setting, flag or input file is wrong; the message names it."""


class DatasetError(UserError):
    """An eval dataset cannot be read; the message names the file and line."""


class InvalidInput(UserError):
    """A value in a request is out of range; the message names the field."""


class NotFound(UserError):
    """No such conversation, handoff or article (or its token does not match: callers cannot
    tell)."""


class Conflict(UserError):
    """The thing is not in a state that allows this (the API answers 409)."""


class Expired(UserError):
    """A customer's conversation token is past its resume window: start a new conversation."""


class LintFailed(CopilotError):
    """The command ran and found lint errors it was told not to tolerate."""


class Unavailable(CopilotError):
    """A part the service needs is down; the request may succeed when it is back (HTTP 503)."""


class LLMError(Unavailable):
    """The configured LLM endpoint failed or timed out."""


class IndexProblem(Unavailable):
    """The vector index cannot be used as asked."""


class IndexMissing(IndexProblem):
    """No index has been built in the data folder yet."""


class EmbedderMismatch(IndexProblem):
    """The index was built by a different embedder than the one configured."""


class IndexLocked(IndexProblem):
    """Another process is writing the index."""
