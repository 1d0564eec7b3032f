"""No lost streamed turn (docs/reliability.md): a real `copilot serve`, answering through a slowed
fake LLM, is SIGKILLed after the customer received two sentences; the database still holds the
question and the reply as far as it was sent, marked incomplete."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from copilot.record import db
from copilot.record.streamed import INCOMPLETE, PENDING
from copilot.testing.fake_openai import fake_openai_server

COPILOT = str(Path(sys.executable).parent / "copilot")
QUESTION = "my webhook signature verification fails"
SENTENCE = "Read the raw request body as bytes, before any JSON parsing [1]. "


def wait_ready(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    """Until /readyz answers 200; a loaded CI machine may need minutes to load the embedder."""
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert server.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"copilot serve is not ready: {log.read_text()[-3000:]}"
        time.sleep(0.2)


@pytest.mark.slow
def test_sigkill_mid_stream_keeps_the_question_and_what_was_sent(
    sample: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample[0].data_dir, data)
    with fake_openai_server() as llm:
        llm.chat = [{"text": SENTENCE * 12, "piece": 16, "stall": 0.25}]
        env = {
            **os.environ,
            "COPILOT_KB_DIR": str(sample[0].kb_dir),
            "COPILOT_DATA_DIR": str(data),
            "COPILOT_LLM_BASE_URL": llm.base_url,
            "COPILOT_LLM_MODEL": "fake-model",
            "COPILOT_LLM_JUDGE": "false",
            "COPILOT_LLM_TIMEOUT": "120",
        }
        log = (tmp_path / "serve.log").open("wb")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            [COPILOT, "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        deltas: list[str] = []
        decision: dict[str, Any] = {}
        try:
            wait_ready(base, server, tmp_path / "serve.log")
            with httpx.stream(
                "POST",
                f"{base}/v1/chat",
                json={"message": QUESTION, "stream": True},
                timeout=60,
            ) as r:
                event = ""
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "decision":
                        decision = json.loads(line[6:])
                    elif line.startswith("data: ") and event == "delta":
                        deltas.append(json.loads(line[6:])["text"])
                        if len(deltas) == 2:
                            server.send_signal(signal.SIGKILL)
                            server.wait()
                            break
                    assert event not in ("final", "error"), line
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
            log.close()
    assert decision.get("type") == "answer" and len(deltas) == 2, (decision, deltas)
    time.sleep(0.1)
    engine = db.connect(None, data)
    with engine.connect() as conn:
        turns = conn.execute(sa.select(db.turns).order_by(db.turns.c.seq)).all()
    engine.dispose()
    print(f"after SIGKILL: {[(t.role, t.decision, t.fault, t.text[:40]) for t in turns]}")
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[0].text == QUESTION
    reply = turns[1]
    assert reply.decision == PENDING and reply.fault == INCOMPLETE
    # What the customer saw is stored: at least the sentences received (a third may have been
    # written just before it went out).
    assert reply.text.startswith(" ".join(deltas)), (reply.text, deltas)
