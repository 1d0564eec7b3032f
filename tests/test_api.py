"""The HTTP API against a real uvicorn on 127.0.0.1 (TestClient where a socket adds nothing)."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from copilot.answer.agent import Agent
from copilot.answer.confidence import ConfidenceModel
from copilot.record import db
from copilot.service import Copilot
from copilot.settings import ApiKey, Settings
from copilot.testing.live import serve

ALWAYS = ConfidenceModel(answer_threshold=0.0, clarify_threshold=0.0)
AGENT_KEY, ADMIN_KEY, BOB_KEY = "agent-key-123", "admin-key-456", "agent-key-789"
KEYS = [
    ApiKey(name="ana", scope="agent", sha256=hashlib.sha256(AGENT_KEY.encode()).hexdigest()),
    ApiKey(name="root", scope="admin", sha256=hashlib.sha256(ADMIN_KEY.encode()).hexdigest()),
    ApiKey(name="bob", scope="agent", sha256=hashlib.sha256(BOB_KEY.encode()).hexdigest()),
]
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}
BOB = {"Authorization": f"Bearer {BOB_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SECRET = "webhook-secret"


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver that fails the first two deliveries of every event."""

    server: Any

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.attempts.append((dict(self.headers), body))
        event = self.headers["X-Copilot-Event-Id"]
        tries = sum(h["X-Copilot-Event-Id"] == event for h, _ in self.server.attempts)
        status = 500 if tries <= 2 else 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.attempts = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def settings_for(sample: Any, tmp: Path, **extra: Any) -> Settings:
    """Settings over a copy of the sample's index in `tmp`: tests never share a data folder."""
    data = tmp / "data"
    if not data.exists():
        shutil.copytree(sample[0].data_dir, data)
    return Settings(kb_dir=sample[0].kb_dir, data_dir=data, api_keys=KEYS, **extra)


@pytest.fixture(scope="module")
def live(sample: Any, receiver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("api")
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks"
    settings = settings_for(sample, tmp, webhook_url=url, webhook_secret=SECRET)
    engine = db.connect(None, tmp)
    app = create_app(
        settings, copilot=Copilot(settings, engine=engine, agent=Agent(sample[2], ALWAYS))
    )
    with serve(app) as base:
        yield base
    engine.dispose()


def chat(base: str, message: str, **body: Any) -> dict[str, Any]:
    r = httpx.post(f"{base}/v1/chat", json={"message": message, **body}, timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_chat_json_follows_the_contract_and_conversations_continue(live: str) -> None:
    context = {"page": "https://app.flowbench.io/settings/webhooks", "plan": "business"}
    first = chat(live, "my webhook signature verification fails", context=context)
    assert first["type"] == "answer" and first["conversation_token"]
    assert first["citations"][0]["article_id"] == "webhook-signature-mismatch"
    assert set(first) >= {"type", "text", "confidence", "citations", "handoff", "conversation_id"}
    cid, token = first["conversation_id"], first["conversation_token"]
    second = chat(live, "and which header has it", conversation_id=cid, conversation_token=token)
    assert second["conversation_id"] == cid and "conversation_token" not in second
    own = httpx.get(f"{live}/v1/conversations/{cid}", headers={"X-Conversation-Token": token})
    assert own.status_code == 200 and len(own.json()["turns"]) == 4
    assert own.json()["context"]["plan"] == "business"
    assert httpx.get(f"{live}/v1/conversations/{cid}").status_code == 404
    assert httpx.get(f"{live}/v1/conversations/{cid}", headers=AGENT).status_code == 200
    stranger = httpx.post(
        f"{live}/v1/chat", json={"message": "hi", "conversation_id": cid, "conversation_token": "x"}
    )
    assert stranger.status_code == 404 and "traceback" not in stranger.text.lower()


def test_chat_streams_server_sent_events(live: str) -> None:
    events = []
    body = {"message": "my card was declined", "stream": True}
    with httpx.stream("POST", f"{live}/v1/chat", json=body, timeout=30) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for block in r.read().decode().split("\n\n"):
            if block.strip():
                name, data = block.split("\n", 1)
                events.append(
                    (name.removeprefix("event: "), json.loads(data.removeprefix("data: ")))
                )
    assert events[0][0] == "decision" and events[0][1]["type"] == "answer"
    assert events[0][1]["articles"][0]["article_id"] == "payment-declined"
    assert events[-1][0] == "final" and events[-1][1]["citations"][0]["article_id"] == (
        "payment-declined"
    )


def test_handoff_flow_and_the_state_machine(live: str) -> None:
    first = chat(
        live, "I'm ana@acme.io and my SSO login keeps looping", context={"plan": "Enterprise"}
    )
    cid, token = first["conversation_id"], first["conversation_token"]
    customer = {"X-Conversation-Token": token}
    r = httpx.post(
        f"{live}/v1/conversations/{cid}/feedback", json={"kind": "unhelpful"}, headers=customer
    )
    assert r.status_code == 200
    r = httpx.post(f"{live}/v1/conversations/{cid}/handoff", headers=customer)
    assert r.status_code == 200 and r.json()["type"] == "handoff"
    hid = r.json()["handoff"]["id"]
    # While the handoff waits the bot keeps answering, and says the handoff is still there.
    after = chat(live, "hello?", conversation_id=cid, conversation_token=token)
    assert after["handoff"] == {"id": hid, "status": "waiting", "next": after["handoff"]["next"]}
    queue = httpx.get(f"{live}/v1/handoffs?status=open", headers=AGENT).json()["items"]
    mine = next(h for h in queue if h["id"] == hid)
    assert mine["reason"] == "customer_asked" and mine["priority"] == 4  # "enterprise" rule
    packet = httpx.get(f"{live}/v1/handoffs/{hid}", headers=AGENT).json()["packet"]
    assert (
        packet["context"]["plan"] == "Enterprise"
        and packet["articles_tried"][0][0] == "sso-login-loop"
    )
    assert "[EMAIL]" in packet["transcript"][0]["content"] and "ana@acme.io" not in json.dumps(
        packet
    )
    assert packet["suggested_next_step"]

    def act(action: str, as_: dict[str, str] = AGENT, **body: Any) -> httpx.Response:
        # The agent is the key's (ana or bob): a name in the body is not read.
        return httpx.post(f"{live}/v1/handoffs/{hid}/{action}", json=body or None, headers=as_)

    assert act("resolve").status_code == 409  # not claimed yet
    assert act("claim").json()["status"] == "claimed"
    quiet = chat(live, "are you there?", conversation_id=cid, conversation_token=token)
    assert quiet["type"] == "handoff" and quiet["citations"] == []  # the bot is quiet now
    assert quiet["handoff"]["status"] == "claimed" and quiet["handoff"]["id"] == hid
    assert act("claim", BOB).status_code == 409
    assert act("messages", BOB, agent="ana", text="hi").status_code == 409
    assert act("messages", text="Hi, I'm Ana from support").status_code == 200
    assert act("resolve", BOB, agent="ana").status_code == 409
    assert act("resolve").json()["status"] == "resolved"
    again = chat(live, "it is broken again", conversation_id=cid, conversation_token=token)
    assert again["type"] != "handoff" and again["handoff"] is None  # the bot answers again
    r = httpx.post(f"{live}/v1/conversations/{cid}/handoff", headers=customer)
    assert r.json()["handoff"]["id"] == hid  # soon after resolution: the same one, reopened
    assert httpx.get(f"{live}/v1/handoffs/{hid}", headers=AGENT).json()["status"] == "reopened"
    assert act("claim").json()["status"] == "claimed"
    assert act("release").json()["status"] == "open"
    turns = httpx.get(f"{live}/v1/conversations/{cid}", headers=customer).json()["turns"]
    assert [t["role"] for t in turns].count("agent") == 1


def test_webhook_outbox_retries_a_failing_receiver(live: str, receiver: Any) -> None:
    result = chat(live, "can I talk to a human please")
    hid = result["handoff"]["id"]

    def mine() -> list[tuple[dict[str, str], bytes]]:
        return [a for a in receiver.attempts if json.loads(a[1])["handoff"]["id"] == hid]

    deadline = time.monotonic() + 20
    while len(mine()) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    attempts = mine()
    assert len(attempts) == 3, "failed twice, so the third attempt must be the delivery"
    assert len({h["X-Copilot-Event-Id"] for h, _ in attempts}) == 1  # one event, retried
    headers, body = attempts[-1]
    t, v1 = (part.split("=", 1)[1] for part in headers["X-Copilot-Signature"].split(","))
    expected = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(v1, expected)
    assert json.loads(body)["event"] == "handoff.created"


def test_drafts_use_internal_articles_that_customers_never_see(live: str, sample: Any) -> None:
    question = "Agent procedure: refunds and credits for duplicate charges"
    r = httpx.post(
        f"{live}/v1/drafts", json={"subject": "double charge", "body": question}, headers=AGENT
    )
    assert r.status_code == 200, r.text
    draft = r.json()
    assert draft["guidance"][0]["article_id"] == "agent-refund-policy"
    assert any("internal" in c for c in draft["checks"])
    guide = sample[2].catalog.sections("agent-refund-policy")["Fix"]
    assert "Billing console" in guide and "Billing console" not in draft["text"]
    customer = chat(live, question)
    internal_fix = sample[2].catalog.sections("agent-refund-policy")["Fix"]
    assert all(c["article_id"] != "agent-refund-policy" for c in customer["citations"])
    assert internal_fix[:60] not in customer["text"]


PROTECTED = [
    ("GET", "/v1/handoffs", "agent"),
    ("GET", "/v1/handoffs/x", "agent"),
    ("POST", "/v1/handoffs/x/claim", "agent"),
    ("POST", "/v1/handoffs/x/release", "agent"),
    ("POST", "/v1/handoffs/x/resolve", "agent"),
    ("POST", "/v1/handoffs/x/messages", "agent"),
    ("POST", "/v1/drafts", "agent"),
    ("GET", "/v1/metrics", "agent"),
    ("POST", "/v1/admin/reindex", "admin"),
    ("GET", "/v1/admin/lint", "admin"),
]


@pytest.mark.parametrize(("method", "path", "scope"), PROTECTED)
def test_protected_endpoints_refuse_missing_wrong_and_weaker_keys(
    live: str, method: str, path: str, scope: str
) -> None:
    assert httpx.request(method, f"{live}{path}").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.request(method, f"{live}{path}", headers=wrong).status_code == 401
    if scope == "admin":
        assert httpx.request(method, f"{live}{path}", headers=AGENT).status_code == 403


def test_health_readiness_metrics_and_errors(live: str) -> None:
    assert httpx.get(f"{live}/healthz").json() == {"status": "alive"}
    ready = httpx.get(f"{live}/readyz")
    assert ready.status_code == 200 and ready.json()["database"] is True
    text = httpx.get(f"{live}/metrics").text
    assert 'copilot_http_requests_total{method="POST",route="/v1/chat",status="200"}' in text
    assert 'copilot_replies_total{type="answer"}' in text
    assert "copilot_http_request_seconds_bucket" in text
    report = httpx.get(f"{live}/v1/metrics", headers=AGENT).json()
    assert report["conversations"] >= 3 and "handoff_reasons" in report
    lint = httpx.get(f"{live}/v1/admin/lint", headers=ADMIN).json()
    assert lint["errors"] == 0
    missing = httpx.get(f"{live}/v1/handoffs/nope", headers=AGENT)
    assert missing.status_code == 404 and missing.json() == {"error": "handoff nope not found"}
    bad = httpx.post(
        f"{live}/v1/chat", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 422


def test_rate_size_limits_and_cors(sample: Any, tmp_path: Path) -> None:
    settings = settings_for(
        sample,
        tmp_path,
        rate_limit_per_minute=3,
        max_message_chars=50,
        max_body_bytes=1000,
        cors_origins=["https://shop.example.com"],
    )
    engine = db.connect(None, tmp_path)
    with TestClient(
        create_app(
            settings, copilot=Copilot(settings, engine=engine, agent=Agent(sample[2], ALWAYS))
        )
    ) as client:
        assert client.post("/v1/chat", json={"message": "x" * 51}).status_code == 413
        big = client.post(
            "/v1/chat",
            content=b"{" + b" " * 2000 + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert big.status_code == 413
        for _ in range(2):
            assert client.post("/v1/chat", json={"message": "invoice"}).status_code == 200
        limited = client.post("/v1/chat", json={"message": "invoice"})
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        ok = client.options(
            "/v1/chat",
            headers={"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"},
        )
        assert ok.headers.get("access-control-allow-origin") == "https://shop.example.com"
        evil = client.options(
            "/v1/chat",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in evil.headers
    engine.dispose()


def test_admin_reindex_swaps_the_agent(sample: Any, tmp_path: Path) -> None:
    settings = settings_for(sample, tmp_path)
    engine = db.connect(None, tmp_path)
    with TestClient(
        create_app(
            settings, copilot=Copilot(settings, engine=engine, agent=Agent(sample[2], ALWAYS))
        )
    ) as client:
        r = client.post("/v1/admin/reindex", headers=ADMIN)
        assert r.status_code == 200 and r.json()["unchanged"] == 46
        assert client.post("/v1/chat", json={"message": "invoice pdf"}).status_code == 200
    engine.dispose()


@pytest.mark.slow
def test_schemathesis_all_checks_pass(sample: Any, tmp_path: Path) -> None:
    """Fuzz every operation of the live OpenAPI spec with all checks: no server errors, every
    status code and body as documented (coverage, fuzzing and stateful phases)."""
    import shutil
    import subprocess

    # Limits off: schemathesis checks the schema (test_bad_input.py checks the limits).
    settings = settings_for(
        sample,
        tmp_path,
        rate_limit_per_minute=100_000,
        conversation_rate_per_minute=100_000,
        max_body_bytes=10_000_000,
        max_message_chars=1_000_000,
    )
    engine = db.connect(None, tmp_path)
    with serve(
        create_app(
            settings, copilot=Copilot(settings, engine=engine, agent=Agent(sample[2], ALWAYS))
        )
    ) as base:
        venv = Path(sys.executable).parent / "schemathesis"
        st = str(venv) if venv.exists() else shutil.which("schemathesis") or "schemathesis"
        run = subprocess.run(
            [
                st,
                "run",
                f"{base}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                "15",
                "--generation-deterministic",
                "--request-timeout",
                "30",
                "--header",
                f"Authorization: Bearer {ADMIN_KEY}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    engine.dispose()
    artifacts = Path(__file__).resolve().parents[1] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "schemathesis.txt").write_text(run.stdout)
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout and "failed" not in run.stdout.split("Test cases:")[-1]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throwaway redis-server on 127.0.0.1 (`make test` installs Debian's package)."""
    import shutil
    import subprocess

    import redis

    server = shutil.which("redis-server")
    assert server, "redis-server is not installed: run `make test`, which installs it"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
    client.close()
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_redis_shares_rate_limits_between_servers(
    sample: Any, tmp_path: Path, redis_url: str
) -> None:
    settings = settings_for(sample, tmp_path, rate_limit_per_minute=3, redis_url=redis_url)
    engine = db.connect(None, tmp_path)
    one = create_app(
        settings, copilot=Copilot(settings, engine=engine, agent=Agent(sample[2], ALWAYS))
    )
    two = create_app(
        settings, copilot=Copilot(settings, engine=engine, agent=Agent(sample[2], ALWAYS))
    )
    if time.time() % 60 > 50:  # counts are per minute window: do not straddle two
        time.sleep(61 - time.time() % 60)
    with TestClient(one) as a, TestClient(two) as b:
        assert a.post("/v1/chat", json={"message": "invoice"}).status_code == 200
        assert a.post("/v1/chat", json={"message": "invoice"}).status_code == 200
        assert b.post("/v1/chat", json={"message": "invoice"}).status_code == 200
        limited = b.post("/v1/chat", json={"message": "invoice"})  # the 4th, on another server
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    engine.dispose()


def test_what_the_index_left_out_is_in_readyz_admin_lint_and_the_report(
    sample: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from copilot.cli import main
    from copilot.index.build import build_index
    from copilot.service import open_agent

    kb = tmp_path / "kb"
    shutil.copytree(sample[0].kb_dir, kb)
    poisoned = kb / "poisoned.md"
    poisoned.write_text(
        next(kb.rglob("sso-login-loop.md"))
        .read_text()
        .replace("id: sso-login-loop", "id: poisoned")
        .replace("## Fix\n", "## Fix\n<script>alert(1)</script>\n")
    )
    settings = Settings(kb_dir=kb, data_dir=tmp_path / "data", api_keys=KEYS)
    build_index(settings, sample[2].embedder)
    agent, index = open_agent(settings, embedder=sample[2].embedder)
    engine = db.connect(None, tmp_path)
    try:
        copilot = Copilot(settings, engine=engine, agent=agent)
        with TestClient(create_app(settings, copilot=copilot)) as client:
            ready = client.get("/readyz").json()
            assert ready["status"] == "ready"
            assert ready["skipped_articles"] == 1  # how many; which, only with an admin key
            lint = client.get("/v1/admin/lint", headers=ADMIN).json()
            assert list(lint["skipped_articles"]) == [str(poisoned)]
            assert "KB017" in lint["skipped_articles"][str(poisoned)]
    finally:
        index.close()
        engine.dispose()
    assert main(["report", "--kb", str(kb), "--data-dir", str(tmp_path / "data"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["skipped_articles"]) == [str(poisoned)]
