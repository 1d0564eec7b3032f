"""Generate a synthetic KB of N valid articles (for benchmarks): varied words, all five sections."""

from __future__ import annotations

import random
from pathlib import Path

AREAS = ["sso", "billing", "api", "webhooks", "import", "export", "mobile", "audit"]
WORDS = """account workspace invite seat invoice token webhook signature export import calendar
slack salesforce domain certificate notification password session browser cache permission role
project task comment file upload sync error timeout limit plan upgrade audit log admin""".split()


def article_text(i: int, rng: random.Random) -> str:
    def sentence(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."

    title = f"Problem {i}: {sentence(6)[:-1]}"
    steps = "\n".join(f"{k}. {sentence(12)}" for k in range(1, 5))
    return (
        f'---\nid: gen-{i:05d}\ntitle: "{title}"\nowner: team-{i % 7}\n'
        f"last_reviewed: 2026-{1 + i % 11:02d}-15\nreview_every_days: 365\n"
        f"product_area: {AREAS[i % len(AREAS)]}\ntags: [{rng.choice(WORDS)}, {rng.choice(WORDS)}]\n"
        f'---\n# {title}\n\n## Symptoms\n{sentence(25)} The page shows "Error {i}".\n\n'
        f"## Cause\n{sentence(30)}\n\n## Fix\n{steps}\n\n## Verify\n{sentence(15)}\n\n"
        f"## Escalate\n{sentence(15)} Send the request ID.\n"
    )


def generate(folder: Path, n: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"gen-{i:05d}.md").write_text(article_text(i, rng), encoding="utf-8")
    return folder
