"""Chat-model factory: ``llm.provider`` picks an OpenAI-compatible server, Ollama, or none (extractive)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.config import LLMSettings
from assistant.errors import ConfigError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

# 3-6 short sentences; a cap keeps a rambling model inside the time budget and a small context window.
MAX_ANSWER_TOKENS = 400
_INSTALL_HINT = "pip install 'runners-knee-assistant[llm]' (or: pip install {package})"


def make_chat_model(settings: LLMSettings) -> BaseChatModel | None:
    """The configured chat model, or ``None`` for the offline extractive composer."""
    if settings.provider == "extractive":
        return None
    if not settings.model:
        raise ConfigError(f"llm.model is required when llm.provider is '{settings.provider}'")
    if settings.provider == "openai":
        return _openai(settings)
    if settings.provider == "ollama":
        return _ollama(settings)
    raise ConfigError(f"unknown llm.provider '{settings.provider}'")  # pragma: no cover - Literal guards it


def _openai(settings: LLMSettings) -> BaseChatModel:
    """Any OpenAI-compatible server: OpenAI, vLLM, llama.cpp server, LM Studio."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise ConfigError("llm.provider 'openai' needs langchain-openai: " + _INSTALL_HINT.format(
            package="langchain-openai")) from exc
    from pydantic import SecretStr

    model: BaseChatModel = ChatOpenAI(
        model=settings.model,
        base_url=settings.base_url,
        api_key=SecretStr(settings.api_key),
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,
        temperature=0,
        max_completion_tokens=MAX_ANSWER_TOKENS,
        streaming=True,
        # Local servers (llama.cpp, older vLLM) reject OpenAI's stream_options extension.
        stream_usage=False,
        # llama-cpp-python and LM Studio read only the older max_tokens; OpenAI itself refuses both at once.
        extra_body=None if _is_openai(settings.base_url) else {"max_tokens": MAX_ANSWER_TOKENS},
    )
    return model


def _is_openai(base_url: str | None) -> bool:
    return base_url is None or "api.openai.com" in base_url


def _ollama(settings: LLMSettings) -> BaseChatModel:
    """An Ollama server; its client has no retry option, so connection retries go on the HTTP transport."""
    try:
        import httpx
        from langchain_ollama import ChatOllama
    except ImportError as exc:
        raise ConfigError("llm.provider 'ollama' needs langchain-ollama: " + _INSTALL_HINT.format(
            package="langchain-ollama")) from exc

    model: BaseChatModel = ChatOllama(
        model=settings.model,
        base_url=settings.base_url,
        temperature=0,
        num_predict=MAX_ANSWER_TOKENS,
        client_kwargs={"timeout": settings.timeout_s},
        sync_client_kwargs={"transport": httpx.HTTPTransport(retries=settings.max_retries)},
        async_client_kwargs={"transport": httpx.AsyncHTTPTransport(retries=settings.max_retries)},
    )
    return model
