"""Vectors from a hash of the text, for the bulk filler of fault tests: the real model would spend minutes on it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np

from assistant.providers.embeddings import LocalEmbeddings


class HashEmbeddings:
    """The real model's name, size and tokenizer; a unit vector drawn from each text's hash for the texts ``hashed``
    picks (all of them by default), the real model's vector for the rest."""

    def __init__(self, real: LocalEmbeddings, hashed: Callable[[str], bool] = lambda text: True) -> None:
        self._real, self._hashed = real, hashed
        self.name, self.dimension = real.name, real.dimension

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        real = [i for i, t in enumerate(texts) if not self._hashed(t)]
        if real:
            out[real] = self._real.encode([texts[i] for i in real])
        for i, t in enumerate(texts):
            if self._hashed(t):
                seed = int(hashlib.sha256(t.encode()).hexdigest()[:16], 16)
                v = np.random.default_rng(seed).normal(size=self.dimension)
                out[i] = v / np.linalg.norm(v)
        return out
