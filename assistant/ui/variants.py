"""Assistants that differ from the served one only in ``retrieval.top_k``, for the staff console.

``Assistant.ask`` has no ``top_k`` parameter, so a variant is a second Assistant built by the composition root
with the same embedding model and Chroma store (nothing is loaded or copied twice). It is rebuilt when the number
of indexed chunks changes, so its BM25 index follows ingestion done through the served assistant.
"""

from __future__ import annotations

import threading
from typing import Any

from assistant.rag.service import Assistant

MAX_VARIANTS = 8


class TopKVariants:
    """``get(k)`` returns the served assistant when ``k`` is its own top-k, else a cached variant."""

    def __init__(self, assistant: Assistant) -> None:
        self._base = assistant
        self._cache: dict[tuple[int, int], Assistant] = {}
        self._lock = threading.Lock()

    def get(self, top_k: int) -> Assistant:
        if top_k == self._base.settings.retrieval.top_k:
            return self._base
        # The served assistant keeps its store and model private; the shared objects are read, never changed.
        store: Any = getattr(self._base, "_store")  # noqa: B009
        embeddings: Any = getattr(getattr(self._base, "_retriever"), "_embeddings")  # noqa: B009
        key = (top_k, int(store.count()))
        with self._lock:
            if key not in self._cache:
                from assistant.container import build_assistant

                settings = self._base.settings.model_copy(deep=True)
                settings.retrieval.top_k = top_k
                if len(self._cache) >= MAX_VARIANTS:
                    self._cache.clear()
                self._cache[key] = build_assistant(settings, embeddings=embeddings, store=store)
            return self._cache[key]
