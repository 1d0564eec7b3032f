"""How much should the page the customer is on boost its product area? A page is evidence, not
proof: customers ask about billing from the dashboard. So each boost is measured twice on every
answerable question of a dataset: with the page of the expected article's area (the right page)
and with a page of another area (a misleading page), against no page at all.

Run (the sample KB and its eval set; stackfaq and mtrag-govt carry product areas too):
  .venv/bin/python -m bench.area_boost_study kb_articles eval/flowbench/questions.jsonl
  S=../shared/eval/stackfaq; .venv/bin/python -m bench.area_boost_study $S/kb $S/questions.jsonl
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from datetime import date
from pathlib import Path

from copilot.answer.retrieve import FusionWeights, Retriever, standalone_query
from copilot.evals.dataset import load_dataset
from copilot.index.build import build_index
from copilot.index.chroma import open_current
from copilot.index.embed import SentenceTransformerEmbedder, minilm_path
from copilot.settings import Settings

BOOSTS = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)
RESULTS = Path(__file__).parent / "results"


def main(kb: str, dataset: str) -> None:
    questions = [q for q in load_dataset(Path(dataset)) if q.answerable]
    embedder = SentenceTransformerEmbedder(minilm_path(), "minilm")
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(kb_dir=Path(kb), data_dir=Path(tmp))
        build_index(settings, embedder, today=date(2026, 11, 24))
        with open_current(settings.index_dir, None) as index:
            retriever = Retriever(index, embedder)
            areas = sorted({a.product_area for a in retriever.catalog})
            rows = []
            for boost in BOOSTS:
                retriever.weights = FusionWeights(area_boost=boost)
                right = wrong = 0
                for q in questions:
                    expected = retriever.catalog[q.expected[0]].product_area
                    misleading = rng.choice([a for a in areas if a != expected] or [expected])
                    query = standalone_query(q.question, list(q.history))
                    for area, count in ((expected, "right"), (misleading, "wrong")):
                        top = retriever.rank(query, "internal", prefer_area=area).hits[:1]
                        hit = bool(top) and top[0].article_id in q.expected
                        if count == "right":
                            right += hit
                        else:
                            wrong += hit
                n = len(questions)
                rows.append(
                    {
                        "boost": boost,
                        "hit_at_1_right_page": right / n,
                        "hit_at_1_misleading_page": wrong / n,
                    }
                )
                print(
                    f"boost {boost:4.1f}: hit@1 right page {right / n:.3f}, "
                    f"misleading page {wrong / n:.3f}",
                    flush=True,
                )
    name = Path(dataset).parent.name
    out = RESULTS / f"area_boost_{name}.json"
    out.write_text(
        json.dumps({"dataset": dataset, "questions": len(questions), "rows": rows}, indent=2) + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
