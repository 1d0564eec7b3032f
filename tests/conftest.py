from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach a hub or a real LLM, and never read a developer's COPILOT_* settings."""
    for key in list(os.environ):
        if key.startswith("COPILOT_") or key == "OPENAI_API_KEY":
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")


def shared_eval(name: str) -> Path:
    """A dev set under ../shared/eval, or skip loudly when this checkout has none beside it."""
    path = SHARED / "eval" / name
    if not path.is_dir():
        pytest.skip(f"../shared/eval/{name} is not beside this checkout; dev-set tests need it")
    return path
