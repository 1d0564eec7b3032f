"""`copilot eval --signals`: the dataset format (bad lines name file and line) and hit@1 of the
labelled Flowbench set through the real retriever."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from copilot.answer.agent import Agent
from copilot.answer.confidence import ConfidenceModel
from copilot.errors import DatasetError
from copilot.evals.signals import load_signals, score_signals
from copilot.settings import Settings
from tests.conftest import ROOT

DATASET = ROOT / "eval" / "flowbench" / "signals.jsonl"
ALWAYS = ConfidenceModel(answer_threshold=0.0, clarify_threshold=0.0)
GOOD = {"id": "a", "events": [{"name": "error_shown", "props": {"code": "X-1"}}],
        "expected_article": "x"}  # fmt: skip
OTHER = {**GOOD, "id": "b"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({**OTHER, "expected_article": None}), '"expected_article" is required'),
        (json.dumps({**OTHER, "events": []}), '"events" must be a non-empty list'),
        (json.dumps({**OTHER, "events": [{"name": "clicked"}]}), r"events\[0\]\.name"),
        (json.dumps({**OTHER, "events": [{"name": "page_view", "props": {"x": "1"}}]}), "props"),
        (json.dumps({**OTHER, "context": {"account_age_days": -3}}), "account_age_days"),
        (json.dumps(GOOD), 'duplicate id "a"'),
    ],
)
def test_a_bad_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "signals.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + line + "\n")
    with pytest.raises(DatasetError, match=rf"signals\.jsonl:3: .*{message}"):
        load_signals(path)


def test_the_flowbench_set_scores_hit_at_1(sample: Any, tmp_path: Path) -> None:
    scenarios = load_signals(DATASET)
    assert len(scenarios) >= 40
    settings = Settings(kb_dir=sample[0].kb_dir, data_dir=sample[0].data_dir)
    agent = Agent(sample[2], ALWAYS, page_areas=settings.page_areas)
    result, scored = score_signals(agent, settings, scenarios)
    assert result["hit_at_1"] >= 0.9, result["misses"]
    assert result["found_by"]["symptoms"] >= 20 and result["found_by"]["retrieval"] >= 10
    by_id = {s.scenario.id: s for s in scored}
    assert by_id["code-sso-102"].article == "saml-signature-invalid"
    assert by_id["code-sso-102"].how == "symptoms" and by_id["code-sso-102"].rule == "error-shown"
    assert by_id["repeat-invoices"].rule == "page-revisits"
    assert by_id["step-jira"].rule == "setup-stalled"

    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({**GOOD, "expected_article": "download-invoice"}) + "\n")
    missed, _ = score_signals(agent, settings, load_signals(wrong))
    assert missed["hit_at_1"] == 0.0 and missed["misses"][0]["expected"] == "download-invoice"


def test_cli_takes_signals_or_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from copilot.cli import main

    missing = tmp_path / "none.jsonl"
    assert main(["eval", "--kb", str(tmp_path), "--signals", str(missing)]) == 2
    assert f"signals dataset {missing} does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as both:
        main(["eval", "--kb", str(tmp_path), "--signals", "a", "--dataset", "b"])
    assert both.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
