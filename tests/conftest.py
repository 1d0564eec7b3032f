from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from copilot.index.chroma import OpenIndex
from copilot.settings import Settings
from tests.pg import postgres_server

if TYPE_CHECKING:
    from copilot.answer.retrieve import Retriever

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach a hub or a real LLM, and never read a developer's COPILOT_* settings."""
    for key in list(os.environ):
        if key.startswith("COPILOT_") or key == "OPENAI_API_KEY":
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")


_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise OSError(f"tests run offline: refused connection to {host}")
    return _connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only loopback: a test that reaches for the internet (a model hub, telemetry) fails."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


def shared_eval(name: str) -> Path:
    """A dev set under ../shared/eval, or skip loudly when this checkout has none beside it."""
    path = SHARED / "eval" / name
    if not path.is_dir():
        pytest.skip(f"../shared/eval/{name} is not beside this checkout; dev-set tests need it")
    return path


@pytest.fixture(scope="session")
def sample(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Settings, OpenIndex, Retriever]]:
    """The sample KB indexed once per test session, with a retriever over it."""
    from copilot.answer.retrieve import Retriever
    from copilot.index.build import build_index
    from copilot.index.chroma import open_current
    from copilot.index.embed import SentenceTransformerEmbedder, minilm_path

    data = tmp_path_factory.mktemp("sample") / "data"
    settings = Settings(kb_dir=ROOT / "kb_articles", data_dir=data)
    embedder = SentenceTransformerEmbedder(minilm_path(), "minilm")
    build_index(settings, embedder, today=date(2026, 11, 24))
    with open_current(settings.index_dir, None) as index:
        yield settings, index, Retriever(index, embedder)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'copilot.db'}"
        return

    yield new_database(request.getfixturevalue("pg_server"), tmp_path)


def new_database(server: str, tmp_path: Path) -> str:
    """A fresh, empty database on the test PostgreSQL server."""
    import sqlalchemy as sa

    from copilot.record import db

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(db.database_url(server, tmp_path), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    import shutil
    import subprocess
    import sys
    import time

    import httpx

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma, "the chroma command ships with the chromadb package"
    proc = subprocess.Popen(
        [
            chroma,
            "run",
            "--path",
            str(tmp_path / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)
