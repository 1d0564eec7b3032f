"""More than one machine: two `copilot serve` processes on two ports, one PostgreSQL server and
one Chroma server. A conversation started on one continues on the other; a handoff claimed on one
is claimed on both."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from copilot.index.build import build_index
from copilot.settings import Settings
from tests.conftest import ROOT, new_database

pytestmark = pytest.mark.slow
KEY = "multi-agent-key"


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def two_servers(
    chroma_server: str, pg_server: str, sample: Any, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    kb = ROOT / "kb_articles"
    build_index(
        Settings(kb_dir=kb, data_dir=tmp_path / "indexer", chroma_url=chroma_server),
        sample[2].embedder,
        today=date(2026, 11, 24),
    )
    database = new_database(pg_server, tmp_path)
    keys = [{"name": "ana", "scope": "agent", "sha256": hashlib.sha256(KEY.encode()).hexdigest()}]
    procs, bases, logs = [], [], []
    for name in ("a", "b"):
        p = port()
        env = {
            **os.environ,
            "COPILOT_KB_DIR": str(kb),
            "COPILOT_DATA_DIR": str(tmp_path / name),
            "COPILOT_CHROMA_URL": chroma_server,
            "COPILOT_DATABASE_URL": database,
            "COPILOT_API_KEYS": json.dumps(keys),
            "PYTHONWARNINGS": "ignore",
        }
        log = (tmp_path / f"{name}.log").open("wb")
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "copilot.cli", "serve", "--port", str(p)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        bases.append(f"http://127.0.0.1:{p}")
    try:
        deadline = time.monotonic() + 180
        for base, proc in zip(bases, procs, strict=True):
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    tails = "\n".join(p.read_text()[-1500:] for p in tmp_path.glob("*.log"))
                    pytest.fail(f"a server did not become ready:\n{tails}")
                time.sleep(0.5)
        yield bases[0], bases[1]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        for log in logs:
            log.close()


def test_conversations_and_handoffs_span_servers(two_servers: tuple[str, str]) -> None:
    a, b = two_servers
    agent = {"Authorization": f"Bearer {KEY}"}
    # A question the sample KB answers, so the second message reaches the bot too.
    ask = {"message": "My card payment was declined"}
    first = httpx.post(f"{a}/v1/chat", json=ask, timeout=30).json()
    cid, token = first["conversation_id"], first["conversation_token"]
    second = httpx.post(
        f"{b}/v1/chat",
        json={"message": "and the invoice?", "conversation_id": cid, "conversation_token": token},
        timeout=30,
    )
    assert second.status_code == 200 and second.json()["conversation_id"] == cid
    turns = httpx.get(f"{a}/v1/conversations/{cid}", headers={"X-Conversation-Token": token})
    assert [t["role"] for t in turns.json()["turns"]] == ["user", "assistant"] * 2
    handoff = httpx.post(
        f"{b}/v1/conversations/{cid}/handoff", headers={"X-Conversation-Token": token}, timeout=30
    ).json()["handoff"]["id"]
    claimed = httpx.post(f"{a}/v1/handoffs/{handoff}/claim", json={"agent": "ana"}, headers=agent)
    assert claimed.status_code == 200
    seen = httpx.get(f"{b}/v1/handoffs/{handoff}", headers=agent).json()
    assert seen["status"] == "claimed" and seen["claimed_by"] == "ana"
    again = httpx.post(f"{b}/v1/handoffs/{handoff}/claim", json={"agent": "bob"}, headers=agent)
    assert again.status_code == 409
