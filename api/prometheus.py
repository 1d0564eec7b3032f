"""Prometheus text-format metrics (`GET /metrics`): requests and their latency by route, replies
by decision, handoffs by reason, and replies that found nothing. In-process counters: scrape every
worker, or sum across them."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from copilot.types import Reply

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.buckets: Counter[tuple[str, float]] = Counter()
        self.sums: dict[str, float] = {}
        self.counts: Counter[str] = Counter()
        self.decisions: Counter[str] = Counter()
        self.handoffs: Counter[str] = Counter()
        self.zero_results = 0
        self.signals: Counter[str] = Counter()  # proactive help (issue 19): signals by name
        self.nudges: Counter[str] = Counter()  # nudges by event: shown, opened, helpful, ...

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, path, status)] += 1
            self.sums[path] = self.sums.get(path, 0.0) + seconds
            self.counts[path] += 1
            for b in BUCKETS:
                if seconds <= b:
                    self.buckets[(path, b)] += 1

    def middleware(self, app: Any) -> Any:
        """ASGI middleware timing every request by route (plain ASGI: a Starlette
        BaseHTTPMiddleware costs a task and a stream per request)."""

        async def timed(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            start, status = time.perf_counter(), [500]

            async def sending(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await app(scope, receive, sending)
            finally:
                path = getattr(scope.get("route"), "path", "(unmatched)")
                self.observe(scope["method"], path, status[0], time.perf_counter() - start)

        return timed

    def reply(self, reply: Reply) -> None:
        with self._lock:
            self.decisions[reply.type] += 1
            if reply.handoff is not None:
                self.handoffs[reply.handoff.reason] += 1
            if reply.type != "handoff" or reply.handoff is not None:
                self.zero_results += not reply.hits

    def proactive(
        self, signals: list[str], shown: bool, flags: list[str], event: str | None = None
    ) -> None:
        """Signals received, nudges shown and struggle flags raised, or one customer `event`
        on a nudge (opened, helpful, unhelpful, dismissed)."""
        with self._lock:
            self.signals.update(signals)
            self.nudges["shown"] += shown
            self.nudges["flagged"] += len(flags)
            if event:
                self.nudges[event] += 1

    def render(self, queue: dict[str, Any] | None = None) -> str:
        """The counters, and with `queue` (copilot/record/report_queue.py, read from the
        database at scrape time, so the same on every worker) the queue's gauges."""
        lines = [
            "# HELP copilot_http_requests_total HTTP requests by route and status.",
            "# TYPE copilot_http_requests_total counter",
        ]
        with self._lock:
            for (method, path, status), n in sorted(self.requests.items()):
                lines.append(
                    f'copilot_http_requests_total{{method="{method}",route="{path}",'
                    f'status="{status}"}} {n}'
                )
            lines += [
                "# HELP copilot_http_request_seconds Request latency by route.",
                "# TYPE copilot_http_request_seconds histogram",
            ]
            for path in sorted(self.counts):
                for b in BUCKETS:
                    lines.append(
                        f'copilot_http_request_seconds_bucket{{route="{path}",le="{b}"}} '
                        f"{self.buckets[(path, b)]}"
                    )
                lines.append(
                    f'copilot_http_request_seconds_bucket{{route="{path}",le="+Inf"}} '
                    f"{self.counts[path]}"
                )
                lines.append(
                    f'copilot_http_request_seconds_sum{{route="{path}"}} {self.sums[path]:.6f}'
                )
                lines.append(
                    f'copilot_http_request_seconds_count{{route="{path}"}} {self.counts[path]}'
                )
            lines += _counter(
                "copilot_replies_total", "Replies by decision.", "type", self.decisions
            )
            lines += _counter(
                "copilot_handoffs_total", "Handoffs by reason.", "reason", self.handoffs
            )
            lines += [
                "# HELP copilot_zero_results_total Replies that found no article.",
                "# TYPE copilot_zero_results_total counter",
                f"copilot_zero_results_total {self.zero_results}",
            ]
            lines += _counter(
                "copilot_signals_total", "Host-page signals by name.", "name", self.signals
            )
            lines += _counter(
                "copilot_nudges_total",
                "Nudges by event (shown, opened, ...).",
                "event",
                self.nudges,
            )
        if queue is not None:
            lines += queue_lines(queue)
        return "\n".join(lines) + "\n"


def _counter(name: str, help_: str, label: str, values: Counter[str]) -> list[str]:
    lines = [f"# HELP {name} {help_}", f"# TYPE {name} counter"]
    return lines + [f'{name}{{{label}="{k}"}} {n}' for k, n in sorted(values.items())]


def queue_lines(queue: dict[str, Any]) -> list[str]:
    """Gauges from the database: every worker reports the same values (do not sum them)."""

    def gauge(name: str, help_: str, value: Any) -> list[str]:
        shown = "NaN" if value is None else value
        return [f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name} {shown}"]

    lines = gauge(
        "copilot_sla_breaches", "Handoffs whose first response was late.", queue["sla_breaches"]
    )
    lines += gauge(
        "copilot_sla_breached_waiting",
        "Handoffs past their first-response due time with no reply yet.",
        queue["sla_breached_waiting"],
    )
    lines += gauge(
        "copilot_first_response_p50_seconds",
        "Median time to the first agent reply.",
        None
        if queue["first_response_p50_minutes"] is None
        else queue["first_response_p50_minutes"] * 60,
    )
    lines += [
        "# HELP copilot_not_for_us Conversations triage kept out of the queue, by kind.",
        "# TYPE copilot_not_for_us gauge",
    ]
    lines += [
        f'copilot_not_for_us{{kind="{k}"}} {n}' for k, n in queue["not_for_us_by_kind"].items()
    ]
    return lines
