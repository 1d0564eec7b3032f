"""Bounded resources and honest client addresses (docs/reliability.md, docs/api.md): every public
endpoint has a per-client limit, ids are checked before any lookup, the limiter's state stays
bounded under a flood of junk, the per-conversation limit counts only its owner, X-Forwarded-For
is believed only from a trusted proxy, headers are capped, a slow body is cut off, and the
customer's context is redacted in every store. Against a real uvicorn on 127.0.0.1, configured as
`copilot serve` configures it."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from api.main import create_app
from copilot.answer.agent import Agent
from copilot.answer.confidence import ConfidenceModel
from copilot.cli.serve import uvicorn_options
from copilot.record import db
from copilot.service import Copilot
from copilot.settings import Settings

ALWAYS = ConfidenceModel(answer_threshold=0.0, clarify_threshold=0.0)
EMAIL, CARD = "jane.doe@example.com", "4111111111111111"


@contextmanager
def serve_as_copilot(app: Any, settings: Settings) -> Iterator[tuple[str, int]]:
    """uvicorn on a free loopback port with the options `copilot serve` passes."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", **uvicorn_options(settings)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def live(sample: Any, tmp_path: Path, **extra: Any) -> Iterator[tuple[str, int, Any, sa.Engine]]:
    settings = Settings(kb_dir=sample[0].kb_dir, data_dir=tmp_path, **extra)
    engine = db.connect(None, tmp_path)
    app = create_app(
        settings, copilot=Copilot(settings, engine=engine, agent=Agent(sample[2], ALWAYS))
    )
    try:
        with serve_as_copilot(app, settings) as (base, port):
            yield base, port, app, engine
    finally:
        engine.dispose()


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_junk_ids_are_refused_quickly_and_leave_the_limiter_bounded(
    sample: Any, tmp_path: Path
) -> None:
    """2,000 anonymous POSTs with junk ids (long, wrong shape, or unknown UUIDs): each is a 422,
    a 404 or a 429, and the limiter keeps a handful of entries, not one per id."""
    with live(sample, tmp_path, max_header_bytes=100_000) as (base, _, app, _engine):
        before = rss_kib()
        statuses: dict[int, int] = {}
        start = time.monotonic()
        with httpx.Client(base_url=base, timeout=30) as client:
            for i in range(2000):
                junk = ("x" * 60_000, "not-a-uuid", str(uuid.uuid4()))[i % 3]
                path = ("feedback", "handoff")[i % 2]
                body = {"kind": "helpful"} if path == "feedback" else None
                r = client.post(f"/v1/conversations/{junk}/{path}", json=body)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        elapsed = time.monotonic() - start
        entries = len(app.state.limiter)
        grown = rss_kib() - before
    print(f"2,000 junk-id POSTs: {statuses} in {elapsed:.1f} s; limiter entries {entries};")
    print(f"RSS growth {grown / 1024:.1f} MiB (server and client in this process)")
    assert set(statuses) <= {404, 422, 429}, statuses
    assert statuses.get(429, 0) > 0  # the anonymous client is limited on these endpoints too
    assert entries <= 2, entries  # one bucket per client and endpoint group, none per id
    assert elapsed < 60


def test_the_limiter_forgets_the_least_recently_used_bucket_past_its_cap() -> None:
    from api.limits import RateLimiter

    limiter = RateLimiter(clock=lambda: 0.0, max_keys=100)
    limiter.hit("kept", 1)
    for n in range(1000):
        limiter.hit(f"client:{n}", 10)
        if n % 10 == 0:
            assert limiter.hit("kept", 1) > 0  # still remembered: it is used often
    assert len(limiter) == 100


def test_every_public_conversation_endpoint_has_a_per_client_limit(
    sample: Any, tmp_path: Path
) -> None:
    with live(sample, tmp_path, rate_limit_per_minute=3) as (base, _, _app, _engine):
        unknown = str(uuid.uuid4())
        for method, path, body in [
            ("POST", f"/v1/conversations/{unknown}/feedback", {"kind": "helpful"}),
            ("POST", f"/v1/conversations/{unknown}/handoff", None),
            ("GET", f"/v1/conversations/{unknown}", None),
        ]:
            got = [
                httpx.request(method, base + path, json=body, timeout=30).status_code
                for _ in range(5)
            ]
            # The three share one bucket ("conversations"): 3 then 429s from the first group on.
            assert 429 in got, (path, got)
            assert set(got) <= {404, 429}, (path, got)
        # A made-up API key does not skip the limit; it is a 401.
        bad = httpx.get(
            f"{base}/v1/conversations/{unknown}", headers={"Authorization": "Bearer nope"}
        )
        assert bad.status_code == 401
        # Ids that are not UUIDs are a 422 before any lookup.
        assert httpx.get(f"{base}/v1/conversations/{'a' * 300}").status_code == 422
        r = httpx.post(f"{base}/v1/chat", json={"message": "hi", "conversation_id": "x" * 36})
        assert r.status_code == 422


def test_knowing_a_conversation_id_does_not_let_anyone_429_its_owner(
    sample: Any, tmp_path: Path
) -> None:
    with live(sample, tmp_path, rate_limit_per_minute=10_000, conversation_rate_per_minute=3) as (
        base,
        _,
        app,
        _engine,
    ):
        first = httpx.post(f"{base}/v1/chat", json={"message": "invoice pdf"}, timeout=30).json()
        cid, token = first["conversation_id"], first["conversation_token"]
        for _ in range(10):  # someone who knows the id, not the token
            stranger = httpx.post(
                f"{base}/v1/chat",
                json={"message": "spam", "conversation_id": cid, "conversation_token": "wrong"},
                timeout=30,
            )
            assert stranger.status_code == 404
            fb = httpx.post(
                f"{base}/v1/conversations/{cid}/feedback", json={"kind": "unhelpful"}, timeout=30
            )
            assert fb.status_code == 404
        owner = httpx.post(
            f"{base}/v1/chat",
            json={"message": "and the csv?", "conversation_id": cid, "conversation_token": token},
            timeout=30,
        )
        assert owner.status_code == 200, owner.text
        # No entry for an unknown conversation, one for the real one.
        keys = list(app.state.limiter._buckets)
        assert [k for k in keys if k.startswith("conversation:")] == [f"conversation:{cid}"]


@pytest.mark.parametrize("trusted", [[], ["127.0.0.1"]])
def test_x_forwarded_for_counts_only_from_a_trusted_proxy(
    trusted: list[str], sample: Any, tmp_path: Path
) -> None:
    with live(sample, tmp_path, rate_limit_per_minute=2, trusted_proxies=trusted) as (
        base,
        _,
        _app,
        _engine,
    ):
        unknown = f"{base}/v1/conversations/{uuid.uuid4()}"
        for _ in range(2):
            assert (
                httpx.get(unknown, headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 404
            )
        other = httpx.get(unknown, headers={"X-Forwarded-For": "198.51.100.2"})
    # Direct (default): the header is the client's own claim, ignored: same bucket, 429.
    # Behind a trusted proxy on 127.0.0.1: the forwarded address is the client: a new bucket.
    assert other.status_code == (404 if trusted else 429)


def test_a_huge_header_is_refused(sample: Any, tmp_path: Path) -> None:
    with live(sample, tmp_path) as (base, _port, _app, _engine):
        try:
            r = httpx.get(f"{base}/healthz", headers={"X-Junk": "x" * 1_000_000}, timeout=10)
            status: int | str = r.status_code
        except httpx.TransportError as exc:  # closed while we were still sending: refused too
            status = type(exc).__name__
        print(f"a 1 MB header: {status}")
        assert status in (400, 431) or isinstance(status, str), status
        assert httpx.get(f"{base}/healthz").status_code == 200


def test_a_slow_body_gets_a_408_and_connections_are_capped(sample: Any, tmp_path: Path) -> None:
    with live(sample, tmp_path, body_timeout_seconds=1.0, max_connections=8) as (
        base,
        port,
        _app,
        _engine,
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(
                b"POST /v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n" + b'{"message": "'
            )
            start = time.monotonic()
            answer = s.recv(65536).decode(errors="replace")
            waited = time.monotonic() - start
        print(f"slow body: {answer.splitlines()[0]!r} after {waited:.1f} s")
        assert answer.startswith("HTTP/1.1 408") and 0.5 < waited < 5
        # Idle connections (headers never finished) beyond the cap: a new request gets a 503
        # at once instead of waiting behind them.
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(12)]
        for s in idle:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.3)
        refused = httpx.get(f"{base}/healthz", timeout=10).status_code
        for s in idle:
            s.close()
        print(f"12 idle connections, cap 8: a new request got {refused}")
        assert refused == 503


def test_context_fields_are_redacted_in_every_store(sample: Any, tmp_path: Path) -> None:
    page = f"https://app.flowbench.io/billing?email={EMAIL}&card={CARD}"
    with live(sample, tmp_path, webhook_url="http://127.0.0.1:9/hooks", webhook_secret="s") as (
        base,
        _,
        _app,
        engine,
    ):
        context = {"page": page, "workspace": f"acme ({EMAIL})", "plan": "business"}
        first = httpx.post(
            f"{base}/v1/chat", json={"message": "invoice pdf", "context": context}, timeout=30
        ).json()
        cid, token = first["conversation_id"], first["conversation_token"]
        r = httpx.post(
            f"{base}/v1/conversations/{cid}/handoff",
            headers={"X-Conversation-Token": token},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        with engine.connect() as conn:
            stored = {
                "conversations": conn.execute(sa.select(db.conversations.c.context)).all(),
                "handoffs": conn.execute(sa.select(db.handoffs.c.packet)).all(),
                "outbox": conn.execute(sa.select(db.outbox.c.payload)).all(),
            }
    for table, rows in stored.items():
        text = json.dumps([list(r) for r in rows])
        assert rows and EMAIL not in text and CARD not in text, (table, text)
        assert "app.flowbench.io/billing" in text, (table, text)  # the rest stays useful
