"""Webhook delivery of handoffs to outside systems (a helpdesk, a pager): each handoff is POSTed
as JSON with an HMAC-SHA256 signature, retried with exponential backoff until the receiver answers
2xx. Deliveries live in the `outbox` table, written in the handoff's own transaction, so nothing
is lost while the receiver is down or the server restarts.

Receivers verify `X-Copilot-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
and de-duplicate by `X-Copilot-Event-Id` (delivery is at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from copilot.record import db

log = logging.getLogger(__name__)
MAX_BACKOFF = 300.0  # seconds
TIMEOUT = 10.0


def enqueue(conn: Connection, url: str, payload: dict[str, Any]) -> None:
    conn.execute(db.outbox.insert().values(event_id=str(uuid.uuid4()), url=url, payload=payload))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempts: int) -> float:
    return float(min(2 ** (attempts - 1), MAX_BACKOFF))


def deliver_due(engine: Engine, secret: str, client: httpx.Client, timeout: float = TIMEOUT) -> int:
    """Try every delivery that is due; return how many succeeded."""
    with engine.connect() as conn:
        due = conn.execute(
            select(db.outbox)
            .where(db.outbox.c.delivered_at.is_(None), db.outbox.c.next_attempt_at <= db.now())
            .order_by(db.outbox.c.id)
            .limit(50)
        ).all()
    delivered = 0
    for row in due:
        body = json.dumps(row.payload, sort_keys=True).encode()
        now = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Copilot-Event-Id": row.event_id,
            "X-Copilot-Signature": sign(secret, now, body),
        }
        error = ""
        try:
            response = client.post(row.url, content=body, headers=headers, timeout=timeout)
            if not 200 <= response.status_code < 300:
                error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        values: dict[str, Any] = {"attempts": row.attempts + 1}
        if error:
            wait = timedelta(seconds=backoff(row.attempts + 1))
            values |= {"last_error": error[:500], "next_attempt_at": db.now() + wait}
        else:
            values |= {"delivered_at": db.now(), "last_error": ""}
            delivered += 1
        with engine.begin() as conn:
            conn.execute(update(db.outbox).where(db.outbox.c.id == row.id).values(**values))
    return delivered


class OutboxWorker:
    """A background thread that delivers due webhooks every `interval` seconds."""

    def __init__(self, engine: Engine, secret: str, interval: float = 0.5) -> None:
        self.engine, self.secret, self.interval = engine, secret, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="copilot-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=TIMEOUT + 5)

    def _run(self) -> None:
        with httpx.Client() as client:
            while not self._stop.is_set():
                try:
                    deliver_due(self.engine, self.secret, client)
                except Exception:  # a database hiccup must not stop deliveries for good
                    log.exception("webhook delivery round failed; retrying")
                self._stop.wait(self.interval)
