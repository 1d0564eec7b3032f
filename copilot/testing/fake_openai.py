"""A fake OpenAI-compatible server on 127.0.0.1 for tests: it speaks the real HTTP protocol
(`POST /v1/embeddings`, `POST /v1/chat/completions` with and without streaming), answers
deterministically, and can be told what to answer and how to fail.

Chat behaviour: `server.responder`, when set, computes each reply from the messages; otherwise
`server.chat` is a list of scripted replies, used in order (the last one repeats):
a string is the reply text; a dict may also say `status` (an HTTP error), `delay` (seconds before
the first byte), `stall` (seconds between streamed pieces), `piece` (characters per piece),
`malformed` (a 200 whose stream is not JSON) and `die_after` (pieces sent before the connection
is cut, mid-stream)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIM = 16


def fake_vector(text: str) -> list[float]:
    """Bag of hashed words: texts sharing words get similar vectors."""
    v = [0.0] * DIM
    for word in text.lower().split():
        v[hashlib.sha256(word.encode()).digest()[0] % DIM] += 1.0
    return v


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, self.headers.get("Authorization"), body))
        if self.server.fail_next > 0:
            self.server.fail_next -= 1
            self._send(500, {"error": {"message": "boom", "type": "server_error"}})
            return
        if self.path == "/v1/chat/completions":
            # The client may stop reading midway: it rejected the answer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._chat(body)
            return
        if self.path != "/v1/embeddings":
            self._send(404, {"error": {"message": "not found"}})
            return
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(t)}
            for i, t in enumerate(inputs)
        ]
        self._send(
            200,
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 0, "total_tokens": 0},
            },
        )

    def _chat(self, body: dict[str, Any]) -> None:
        script = self.server.chat
        step = script.pop(0) if len(script) > 1 else script[0]
        step = {"text": step} if isinstance(step, str) else step
        time.sleep(step.get("delay", 0.0))
        if step.get("status", 200) != 200:
            self._send(step["status"], {"error": {"message": "scripted failure"}})
            return
        text, model = step.get("text", ""), body["model"]
        if self.server.responder is not None:  # a model that reads its prompt (eval/injection.py)
            text = self.server.responder(body["messages"])
            self.server.outputs.append(text)
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            self._send(
                200,
                {
                    "id": "c1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": model,
                    "choices": [choice],
                },
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if step.get("malformed"):
            self.wfile.write(b'data: {"id": "c1", "choices": [{"delta": {"content": "Hel\n\n')
            self.wfile.write(b"data: [DONE]\n\n")
            return
        piece = step.get("piece", 7)
        for n, i in enumerate(range(0, len(text), piece)):
            if n == step.get("die_after"):
                self.connection.shutdown(socket.SHUT_RDWR)  # the upstream crashed mid-answer
                return
            delta = {"content": text[i : i + piece]}
            self._event({"index": 0, "delta": delta, "finish_reason": None}, model)
            time.sleep(step.get("stall", 0.0))
        self._event({"index": 0, "delta": {}, "finish_reason": "stop"}, model)
        self.wfile.write(b"data: [DONE]\n\n")

    def _event(self, choice: dict[str, Any], model: str) -> None:
        chunk = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [choice],
        }
        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.flush()

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def fake_openai_server() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.requests = []  # type: ignore[attr-defined]
    server.fail_next = 0  # type: ignore[attr-defined]
    server.chat = ["NOT_IN_SOURCES"]  # type: ignore[attr-defined]
    server.responder = None  # type: ignore[attr-defined]
    server.outputs = []  # type: ignore[attr-defined]
    server.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
