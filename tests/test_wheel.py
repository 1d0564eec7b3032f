"""The package as a user installs it: a wheel built from this tree, installed into a fresh venv,
answers through an LLM with the prompt templates it ships (a checkout-relative `prompts/` once
raised FileNotFoundError as soon as an LLM was configured)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from copilot.answer.calibrate import params_path
from copilot.answer.confidence import ConfidenceModel
from copilot.testing.fake_openai import fake_openai_server
from tests.conftest import ROOT

ANSWER = "Read the raw request body as bytes, before any JSON parsing [1]."


def run(*args: str | Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True, **kw)


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_answers_with_its_own_prompts(
    sample: Any, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", dist, ROOT)  # fmt: skip
    wheel = next(dist.glob("support_copilot-*.whl"))
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # The dependencies come from the dev venv (a .pth path line: its own .pth files, such as the
    # editable install of this checkout, are not run); the package itself only from the wheel.
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
        "--no-deps", wheel)  # fmt: skip
    where = run(venv / "bin" / "python", "-c", "import copilot; print(copilot.__file__)",
                cwd=tmp_path).stdout  # fmt: skip
    assert where.startswith(str(venv)), where

    data = tmp_path / "data"
    shutil.copytree(sample[0].data_dir, data)
    # A docs owner's certified threshold that answers this question, so the LLM path runs.
    built = sample[1].manifest.built_at
    model = ConfidenceModel(answer_threshold=0.0, notes={"labelled": 1.0, "index_built_at": built})
    model.save(params_path(data))
    with fake_openai_server() as server:
        server.chat = ['{"answer": 1}', ANSWER]  # the judge agrees, then the answer
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("COPILOT_")},
            "COPILOT_LLM_BASE_URL": server.base_url,
            "COPILOT_LLM_MODEL": "fake-model",
        }
        out = run(venv / "bin" / "copilot", "ask", "--data-dir", data, "--json",
                  "my webhook signature verification fails", cwd=tmp_path, env=env)  # fmt: skip
    reply = json.loads(out.stdout)
    assert reply["composed_by"] == "llm" and reply["text"] == ANSWER
    system = server.requests[-1][2]["messages"][0]["content"]
    shipped = (venv / "lib").rglob("copilot/answer/prompts/answer_system.md")
    assert system == next(shipped).read_text()
