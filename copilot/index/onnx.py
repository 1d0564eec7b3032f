"""The fast path for the default embedder: the packaged MiniLM exported once to ONNX and run with
onnxruntime and the model's own fast tokenizer. Measured here: a query in ~3 ms instead of ~10-14
ms, embeddings equal to sentence-transformers' (cosine 1 - 1e-7), and no torch or transformers
import on the way (`bench/onnx_bench.py`).

The export needs torch and `onnx` and runs once, after `copilot index` (or `copilot onnx`). It is
checked against the torch embeddings on a fixed sample before it is trusted: if the check fails,
nothing is written and the torch backend stays in use.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from copilot.errors import ConfigError

MAX_TOKENS = 256  # what all-MiniLM-L6-v2 reads, as sentence-transformers truncates it
CHECK_SAMPLE = (
    "my card was declined",
    "SSO keeps sending me back to the login page after Okta",
    "Émoji 👍 and accents: café, naïve, Straße",
    "word " * 400,  # longer than the model reads: truncation must match
)
MAX_COSINE_ERROR = 1e-5


def onnx_dir(data_dir: Path) -> Path:
    return data_dir / "onnx-minilm"


def ready(folder: Path) -> bool:
    return (folder / "check.json").is_file()


class OnnxEmbedder:
    """MiniLM on onnxruntime. Named "minilm" like the torch backend: the vectors are the same, so
    an index built by either serves both."""

    name = "minilm"
    dim = 384

    def __init__(self, folder: Path, batch_size: int = 32, threads: int = 2) -> None:
        self.folder, self.batch_size, self.threads = folder, batch_size, threads

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tok.enable_truncation(MAX_TOKENS)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
        return tok

    @cached_property
    def _session(self) -> Any:
        return self._open(self.threads)

    @cached_property
    def _single(self) -> Any:
        # One question runs on one thread: with requests arriving together, that beats two
        # threads each (bench/load_bench.py, 8 customers: 170 turns/s against 141, p50 37 ms
        # against 50); batches (indexing) keep `threads`, twice as fast as one.
        return self._open(1)

    def _open(self, threads: int) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        return ort.InferenceSession(
            str(self.folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            encoded = self._tokenizer.encode_batch(list(texts[start : start + self.batch_size]))
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            session = self._single if len(encoded) == 1 else self._session
            hidden = session.run(None, feed)[0]
            pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True) + 1e-12
            out.extend(pooled.astype(float).tolist())
        return out


def export(model_dir: Path, folder: Path) -> float:
    """Export the sentence-transformers model at `model_dir` into `folder`, check it, and return
    the largest cosine error on the check sample. Raises ConfigError (and writes nothing) when the
    check fails or the export tools are missing."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ConfigError(
            f"the ONNX export needs torch and onnx ({exc}): pip install onnx"
        ) from None

    model = SentenceTransformer(str(model_dir), device="cpu")
    bert: Any = model[0].auto_model
    bert.eval()

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    folder.parent.mkdir(parents=True, exist_ok=True)
    for leftover in folder.parent.glob(".onnx-*"):  # from an export that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=".onnx-", dir=folder.parent))
    try:
        names = ["input_ids", "attention_mask", "token_type_ids"]
        sample = torch.ones(2, 8, dtype=torch.long)
        # The TorchScript exporter on purpose: the dynamo one needs onnxscript, which is not
        # installed; its deprecation and tracer warnings are expected here.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHidden(),
                (sample, sample, torch.zeros_like(sample)),
                str(staging / "model.onnx"),
                opset_version=17,
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                dynamo=False,
            )
        shutil.copy(model_dir / "tokenizer.json", staging / "tokenizer.json")
        import numpy as np

        fast = np.array(OnnxEmbedder(staging).embed(CHECK_SAMPLE))
        reference = model.encode(list(CHECK_SAMPLE), normalize_embeddings=True)
        error = float(np.max(1.0 - (fast * reference).sum(axis=1)))
        if not error <= MAX_COSINE_ERROR:
            raise ConfigError(
                f"the ONNX export of {model_dir.name} differs from the torch model (cosine error "
                f"{error:.2e} > {MAX_COSINE_ERROR:.0e}): staying on the torch backend"
            )
        check = {"max_cosine_error": error, "sample": len(CHECK_SAMPLE), "source": str(model_dir)}
        (staging / "check.json").write_text(json.dumps(check, indent=2) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        try:
            staging.rename(folder)  # the check file makes it trusted; it arrives with the rest
        except OSError:
            if not ready(folder):  # another process exported it at the same moment: fine
                raise
        return error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
