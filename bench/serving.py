"""`copilot serve` as a subprocess for the benchmarks (and the kill-under-load test): index a KB,
start on a free loopback port, time it to ready, kill or stop it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

COPILOT = str(Path(sys.executable).parent / "copilot")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def index(env: dict[str, str]) -> None:
    subprocess.run([COPILOT, "index"], env=env, check=True, capture_output=True)


class Server:
    def __init__(self, env: dict[str, str], workers: int = 1) -> None:
        self.env, self.workers, self.port = env, workers, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start and wait for /readyz; the seconds it took."""
        start = time.perf_counter()
        self.proc = subprocess.Popen(
            [COPILOT, "serve", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                time.sleep(0.05)
            if self.proc.poll() is not None or time.perf_counter() - start > 120:
                raise RuntimeError(f"copilot serve did not become ready (exit {self.proc.poll()})")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
