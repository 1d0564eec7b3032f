"""The optional LLM: any OpenAI-compatible chat endpoint, streamed, with one deadline per call.

Without `COPILOT_LLM_BASE_URL` there is no LLM and answers are extractive (compose.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Protocol, cast

from copilot.errors import ConfigError, LLMError
from copilot.settings import Settings

Message = dict[str, str]


class ChatModel(Protocol):
    name: str

    def stream(self, messages: list[Message]) -> Iterator[str]:
        """Text deltas of the reply. Raises LLMError on any failure, including the deadline."""
        ...


class OpenAIChat:
    def __init__(self, base_url: str, model: str, api_key: str | None, timeout: float) -> None:
        from openai import OpenAI

        # No retries: a slow or failing endpoint should fall back quickly, not triple the wait.
        self.client = OpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=0
        )
        self.name, self.timeout = model, timeout

    def stream(self, messages: list[Message]) -> Iterator[str]:
        import httpx
        import openai
        from openai.types.chat import ChatCompletionMessageParam

        deadline = time.monotonic() + self.timeout
        try:
            response = self.client.chat.completions.create(
                model=self.name,
                messages=cast(list[ChatCompletionMessageParam], messages),
                stream=True,
                temperature=0,
                max_tokens=400,
            )
            with response:
                for chunk in response:
                    if time.monotonic() > deadline:
                        raise LLMError(f"the LLM took longer than {self.timeout:g} s")
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        except (openai.OpenAIError, httpx.HTTPError, ValueError) as exc:
            # ValueError: a body that is not the JSON the protocol promises; httpx: a stream
            # cut off midway, which the client does not wrap.
            raise LLMError(f"the LLM endpoint failed: {type(exc).__name__}: {exc}") from exc

    def complete(self, messages: list[Message]) -> str:
        return "".join(self.stream(messages))


def open_llm(settings: Settings) -> OpenAIChat | None:
    if not settings.llm_base_url:
        return None
    if not settings.llm_model:
        raise ConfigError("COPILOT_LLM_BASE_URL is set but COPILOT_LLM_MODEL is not: set it")
    return OpenAIChat(
        settings.llm_base_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout
    )
