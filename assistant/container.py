"""The one composition root: every object is built here and handed what it needs."""

from __future__ import annotations

import os

from assistant.config import Settings
from assistant.ingest.pipeline import IngestPipeline
from assistant.prompts import PromptBook
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.store import ChromaStore
from assistant.rag.compose import ExtractiveComposer
from assistant.rag.retrieve import HybridRetriever
from assistant.rag.service import Assistant
from assistant.safety.scope import ScopeClassifier


def quiet_third_parties() -> None:
    """No telemetry, analytics or tracing leaves this machine."""
    for key, value in {
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "LANGCHAIN_TRACING_V2": "false",
        "LANGSMITH_TRACING": "false",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ[key] = value


def build_assistant(
    settings: Settings,
    *,
    embeddings: LocalEmbeddings | None = None,
    store: ChromaStore | None = None,
) -> Assistant:
    """Build the assistant; tests pass a shared ``embeddings`` so the model loads once per session."""
    quiet_third_parties()
    prompts = PromptBook(settings.paths.prompts_dir)
    embeddings = embeddings or LocalEmbeddings(settings.embeddings)
    store = store or ChromaStore(settings.paths.data_dir / "chroma", settings.store.collection, embeddings)
    store.check_versions()
    retriever = HybridRetriever(store, embeddings, settings.retrieval)
    retriever.refresh()
    return Assistant(
        settings=settings,
        prompts=prompts,
        store=store,
        retriever=retriever,
        composer=ExtractiveComposer(store, settings.answer),
        ingestor=IngestPipeline(embeddings, store),
        scope=ScopeClassifier(embeddings),
    )
