"""The one composition root: every object is built here and handed what it needs."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from assistant.config import Settings
from assistant.ingest.pipeline import IngestPipeline
from assistant.ingest.readers import ReadLimits
from assistant.prompts import PromptBook
from assistant.providers.chat import make_chat_model
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.store import ChromaStore
from assistant.rag.compose import ExtractiveComposer
from assistant.rag.llm_compose import LLMComposer
from assistant.rag.retrieve import HybridRetriever
from assistant.rag.service import Assistant
from assistant.rag.verify import CitationVerifier
from assistant.safety.router import ScopeRouter
from assistant.startup import check_data_dir, recover_index

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


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
    chat_model: BaseChatModel | None = None,
    embeddings: LocalEmbeddings | None = None,
    store: ChromaStore | None = None,
) -> Assistant:
    """Build the assistant; tests pass a shared ``embeddings`` so the model loads once per session.

    ``chat_model`` replaces the one ``llm.provider`` would build (tests pass recording fakes).
    """
    quiet_third_parties()
    if store is None:
        check_data_dir(settings)
        recover_index(settings)  # what a killed writer left: a half-done swap, a copy taken before a write
    prompts = PromptBook(settings.paths.prompts_dir)
    embeddings = embeddings or LocalEmbeddings(settings.embeddings)
    store = store or ChromaStore(
        settings.paths.data_dir / "chroma", settings.store.collection, embeddings, url=settings.store.url,
        timeout_s=settings.store.timeout_s,
    )
    store.check_versions()
    retriever = HybridRetriever(store, embeddings, settings.retrieval)
    retriever.refresh()
    composer = ExtractiveComposer(store, settings.answer)
    return Assistant(
        settings=settings,
        prompts=prompts,
        store=store,
        retriever=retriever,
        composer=composer,
        ingestor=IngestPipeline(
            embeddings,
            store,
            ReadLimits.from_settings(settings.ingest),
            lock_path=settings.paths.data_dir / "index.lock",
            chunking=settings.ingest,
        ),
        scope=ScopeRouter(embeddings),
        llm_composer=_llm_composer(settings, chat_model, prompts, embeddings, store, composer),
    )


def _llm_composer(
    settings: Settings,
    chat_model: BaseChatModel | None,
    prompts: PromptBook,
    embeddings: LocalEmbeddings,
    store: ChromaStore,
    composer: ExtractiveComposer,
) -> LLMComposer | None:
    """An LLM composer when a chat model is given or configured; ``None`` keeps the extractive default."""
    model = chat_model if chat_model is not None else make_chat_model(settings.llm)
    if model is None:
        return None
    verifier = CitationVerifier(embeddings, store)
    return LLMComposer(model, prompts, verifier, composer, timeout_s=settings.llm.timeout_s)

