"""`copilot serve` as a customer sees it: cold start to ready, memory, and throughput over HTTP on
loopback with concurrent customers. Every turn must be stored.

Run: .venv/bin/python -m bench.serve_bench [CLIENTS] [TURNS] [WORKERS] [GENERATED_ARTICLES]
(writes bench/results/serve-<workers>w.json, or serve-<workers>w-gen<N>.json over a generated KB
of N articles instead of the sample)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.serving import Server, index
from copilot.stats import percentile

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "eval" / "flowbench" / "questions.jsonl").read_text().splitlines()
    if line.strip()
]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(clients: int = 8, turns: int = 800, workers: int = 1, generated: int = 0) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        kb = ROOT / "kb_articles"
        if generated:
            from bench.generate import generate

            kb = generate(Path(tmp) / "kb", generated)
        env = {
            **os.environ,
            "COPILOT_KB_DIR": str(kb),
            "COPILOT_DATA_DIR": tmp,
            "COPILOT_RATE_LIMIT_PER_MINUTE": "1000000",
        }
        index(env)
        server = Server(env, workers)
        base = server.base
        try:
            cold_start = server.start()
            latencies: list[float] = []
            errors = [0]
            lock = threading.Lock()
            counter = iter(range(turns))

            def customer() -> None:
                with httpx.Client(timeout=30) as http:
                    for n in counter:
                        t0 = time.perf_counter()
                        r = http.post(
                            f"{base}/v1/chat", json={"message": QUESTIONS[n % len(QUESTIONS)]}
                        )
                        with lock:
                            latencies.append((time.perf_counter() - t0) * 1000)
                            errors[0] += r.status_code != 200

            t0 = time.perf_counter()
            threads = [threading.Thread(target=customer) for _ in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
            assert server.proc is not None
            rss = rss_mb(server.proc.pid)
        finally:
            server.stop()
        engine = sa.create_engine(f"sqlite:///{tmp}/copilot.db")
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT COUNT(*) FROM turns")).scalar_one()
        engine.dispose()
    result = {
        "kb": f"generated ({generated} articles)" if generated else "sample (46 articles)",
        "workers": workers,
        "clients": clients,
        "turns": turns,
        "cold_start_to_ready_s": round(cold_start, 2),
        "turns_per_second": round(turns / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "errors": errors[0],
        "turns_stored": stored,
        "every_turn_stored": stored == 2 * turns,
        "server_rss_mb_after_load": round(rss, 0),
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    name = f"serve-{workers}w" + (f"-gen{generated}" if generated else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:5]))
