"""The ONNX fast path for the default embedder: exported once, checked against torch, used for
queries without importing torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from copilot.errors import ConfigError
from copilot.index import onnx as onnx_embed
from copilot.index.embed import SentenceTransformerEmbedder, load_embedder, minilm_path
from copilot.index.onnx import OnnxEmbedder, export, onnx_dir
from copilot.settings import Settings
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def exported(sample: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the indexed sample KB's data folder, with the ONNX export in it."""
    data = tmp_path_factory.mktemp("onnx") / "data"
    shutil.copytree(sample[0].data_dir, data)
    error = export(minilm_path(), onnx_dir(data))
    assert error <= onnx_embed.MAX_COSINE_ERROR
    return data


def test_the_export_gives_the_torch_embeddings(exported: Path, sample: Any) -> None:
    texts = ["invoice pdf missing", "Webhook signature verification fails with 401", "a " * 300]
    fast = np.array(OnnxEmbedder(onnx_dir(exported)).embed(texts))
    slow = np.array(sample[2].embedder.embed(texts))
    assert np.min((fast * slow).sum(axis=1)) > 1 - 1e-5
    check = json.loads((onnx_dir(exported) / "check.json").read_text())
    assert check["max_cosine_error"] <= 1e-5


def test_settings_choose_the_backend(exported: Path, tmp_path: Path) -> None:
    assert isinstance(load_embedder(Settings(data_dir=exported)), OnnxEmbedder)
    torch_only = Settings(data_dir=exported, embed_backend="torch")
    assert isinstance(load_embedder(torch_only), SentenceTransformerEmbedder)
    with pytest.raises(ConfigError, match="run `copilot index`"):
        load_embedder(Settings(data_dir=tmp_path, embed_backend="onnx"))


def test_a_failing_check_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_embed, "MAX_COSINE_ERROR", -1.0)
    with pytest.raises(ConfigError, match="staying on the torch backend"):
        export(minilm_path(), onnx_dir(tmp_path))
    assert not onnx_dir(tmp_path).exists()
    assert isinstance(load_embedder(Settings(data_dir=tmp_path)), SentenceTransformerEmbedder)


def test_ask_never_imports_torch_when_the_export_is_ready(exported: Path) -> None:
    code = (
        "import json, sys\n"
        "from copilot.cli import main\n"
        f"code = main(['ask', '--data-dir', {str(exported)!r}, '--json', 'my card was declined'])\n"
        "print(json.dumps({'code': code, 'torch': 'torch' in sys.modules,"
        " 'transformers': 'transformers' in sys.modules}))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    reply, status = run.stdout.rsplit("\n{", 1)[0], json.loads("{" + run.stdout.rsplit("\n{", 1)[1])
    assert status == {"code": 0, "torch": False, "transformers": False}
    assert json.loads(reply)["type"] in ("answer", "suggest", "handoff")


def test_serving_never_imports_torch_when_the_export_is_ready(exported: Path) -> None:
    """The `copilot serve` path: the app factory, start-up (index, embedder warm-up), chat."""
    code = (
        "import json, sys\n"
        "from fastapi.testclient import TestClient\n"
        "from api.main import create_app\n"
        "from copilot.settings import load_settings\n"
        f"app = create_app(load_settings(data_dir={str(exported)!r}))\n"
        "with TestClient(app) as client:\n"
        "    ready = client.get('/readyz').status_code\n"
        "    reply = client.post('/v1/chat', json={'message': 'my card was declined'})\n"
        "    kind = reply.json()['type']\n"
        "print(json.dumps({'ready': ready, 'kind': kind, 'torch': 'torch' in sys.modules,"
        " 'transformers': 'transformers' in sys.modules}))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    status = json.loads(run.stdout.strip().splitlines()[-1])
    assert status["ready"] == 200 and status["kind"] in ("answer", "suggest", "handoff")
    assert (status["torch"], status["transformers"]) == (False, False)


def test_the_encoder_loads_before_the_index_writer_starts(exported: Path, tmp_path: Path) -> None:
    """The index writer thread imports chromadb, the encoder numpy: two threads importing numpy at
    once can meet its circular imports half-initialised (an ImportError that once failed CI). So
    numpy is loaded before the writer starts; checked in a fresh interpreter."""
    data = tmp_path / "data"
    shutil.copytree(onnx_dir(exported), onnx_dir(data))
    code = f"""
import sys, concurrent.futures, copilot.index.build as index
from datetime import date
from copilot.index.embed import load_embedder
from copilot.settings import Settings
s = Settings(kb_dir={str(ROOT / "kb_articles")!r}, data_dir={str(data)!r}, embed_backend="onnx")
embedder = load_embedder(s)
assert "numpy" not in sys.modules
seen = []
class Recording(concurrent.futures.ThreadPoolExecutor):
    def __init__(self, *a, **kw):
        seen.append("numpy" in sys.modules)
        super().__init__(*a, **kw)
index.ThreadPoolExecutor = Recording
index.build_index(s, embedder, today=date(2026, 11, 24))
print(seen)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[True]"
