"""Load, and a kill in the middle of it: N simulated customers hold multi-turn conversations
(questions drawn from ../shared/eval/stackfaq/questions.jsonl) against `copilot serve` with the
extractive composer, for a fixed time, over HTTP on loopback. Reports throughput, p50/p95/p99,
errors, and a reconciliation: every turn that got a reply is in the database.

With --kill the server is SIGKILLed halfway through and started again; customers keep going
(requests that hit the dead server count as failed, not as sent), and the reconciliation must
still hold: a reply the customer saw is a turn that was stored.

Run: .venv/bin/python -m bench.load_bench [--customers 8] [--seconds 30] [--kill]
(writes bench/results/load.json or bench/results/load-kill.json)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.serving import Server, index
from copilot.stats import percentile

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
STACKFAQ = ROOT.parent / "shared" / "eval" / "stackfaq"
TURNS_PER_CONVERSATION = (1, 4)


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    replied: list[int] = field(default_factory=list)  # turn ids of replies the customers got
    errors: dict[str, int] = field(default_factory=dict)
    refused_while_down: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def customer(
    http: httpx.AsyncClient, questions: list[str], rng: random.Random, until: float, t: Tally
) -> None:
    while time.perf_counter() < until:
        conversation: dict[str, str] = {}
        for _ in range(rng.randint(*TURNS_PER_CONVERSATION)):
            if time.perf_counter() >= until:
                return
            body = {"message": rng.choice(questions), **conversation}
            start = time.perf_counter()
            try:
                r = await http.post("/v1/chat", json=body)
            except httpx.TransportError:
                t.refused_while_down += 1  # the server is down (killed): not a sent turn
                await asyncio.sleep(0.05)
                break
            if r.status_code != 200:
                t.error(str(r.status_code))
                break
            t.latencies_ms.append((time.perf_counter() - start) * 1000)
            reply = r.json()
            t.replied.append(reply["turn_id"])
            if "conversation_token" in reply:
                conversation = {
                    "conversation_id": reply["conversation_id"],
                    "conversation_token": reply["conversation_token"],
                }


async def load(base: str, customers: int, seconds: float, questions: list[str], t: Tally) -> None:
    until = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=customers)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        await asyncio.gather(
            *(customer(http, questions, random.Random(n), until, t) for n in range(customers))
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--kill", action="store_true", help="SIGKILL the server halfway through")
    args = parser.parse_args()
    questions = [
        json.loads(line)["question"]
        for line in (STACKFAQ / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "COPILOT_KB_DIR": str(STACKFAQ / "kb"),
            "COPILOT_DATA_DIR": tmp,
            "COPILOT_RATE_LIMIT_PER_MINUTE": "1000000",
            "COPILOT_CONVERSATION_RATE_PER_MINUTE": "1000000",
        }
        index(env)
        server = Server(env)
        cold_start = server.start()
        tally = Tally()
        restart: list[float] = []

        async def kill_and_restart() -> None:
            await asyncio.sleep(args.seconds / 2)  # customers are mid-conversation
            server.kill()
            restart.append(await asyncio.to_thread(server.start))

        async def run() -> None:
            work = [load(server.base, args.customers, args.seconds, questions, tally)]
            await asyncio.gather(*work, *([kill_and_restart()] if args.kill else []))

        started = time.perf_counter()
        try:
            asyncio.run(run())
            elapsed = time.perf_counter() - started
        finally:
            server.stop()
        engine = sa.create_engine(f"sqlite:///{tmp}/copilot.db")
        with engine.connect() as conn:
            stored = set(conn.execute(sa.text("SELECT id FROM turns")).scalars())
            users = conn.execute(sa.text("SELECT COUNT(*) FROM turns WHERE role='user'")).scalar()
        engine.dispose()
    sent = len(tally.replied)
    missing = [i for i in tally.replied if i not in stored]
    result = {
        "customers": args.customers,
        "seconds": args.seconds,
        "killed_and_restarted": args.kill,
        "kb": "stackfaq (100 articles)",
        "cold_start_to_ready_s": round(cold_start, 2),
        "restart_to_ready_s": round(restart[0], 2) if restart else None,
        "turns_replied": sent,
        "turns_per_second": round(sent / elapsed, 1),
        "p50_ms": round(percentile(tally.latencies_ms, 50), 1),
        "p95_ms": round(percentile(tally.latencies_ms, 95), 1),
        "p99_ms": round(percentile(tally.latencies_ms, 99), 1),
        "errors": tally.errors,
        "requests_refused_while_down": tally.refused_while_down,
        "user_turns_stored": users,
        "replied_turns_missing_from_database": len(missing),
        "reconciled": not missing,
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    name = "load-kill.json" if args.kill else "load.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
