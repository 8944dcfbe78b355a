"""A Chroma server as the store: every HTTP call has a time budget (``store.timeout_s``), and a server that is down
or hung becomes ``BackendUnavailable`` instead of a raw httpx error or an answer that never comes.

chromadb's HTTP client is built with ``timeout=None`` and nothing to change it, so the client here is chromadb's
own with the budget set on its HTTP session; the budget travels in ``chroma_query_request_timeout_seconds``, a
setting the HTTP client does not otherwise read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import httpx
from chromadb.api.fastapi import FastAPI

from assistant.errors import BackendUnavailable


class TimedFastAPI(FastAPI):
    """chromadb's HTTP client with a time budget on every request."""

    def __init__(self, system: Any) -> None:
        super().__init__(system)
        self._session.timeout = httpx.Timeout(float(system.settings.chroma_query_request_timeout_seconds))


def http_client(url: str, timeout_s: float, settings: Any) -> Any:
    """A client of the Chroma server at ``url`` whose every request gives up after ``timeout_s`` seconds."""
    import chromadb

    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    settings.chroma_api_impl = f"{__name__}.TimedFastAPI"
    settings.chroma_server_host = parsed.hostname
    settings.chroma_server_http_port = parsed.port or (443 if parsed.scheme == "https" else 8000)
    settings.chroma_server_ssl_enabled = parsed.scheme == "https"
    settings.chroma_query_request_timeout_seconds = timeout_s
    try:
        return chromadb.Client(settings=settings)
    except (httpx.TimeoutException, httpx.TransportError) as exc:
        raise unavailable(url, timeout_s, exc) from exc


def unavailable(url: str, timeout_s: float, exc: BaseException) -> BackendUnavailable:
    if isinstance(exc, httpx.TimeoutException):
        return BackendUnavailable(f"the Chroma server at {url} did not answer within {timeout_s:g} s "
                                  "(store.timeout_s); check that it is running and not overloaded")
    return BackendUnavailable(f"the Chroma server at {url} cannot be reached ({type(exc).__name__}); "
                              "check that it is running")


class RemoteCollection:
    """A Chroma collection whose calls turn a timeout or a lost connection into ``BackendUnavailable``."""

    def __init__(self, collection: Any, url: str, timeout_s: float) -> None:
        self._collection = collection
        self._url = url
        self._timeout_s = timeout_s

    @property
    def metadata(self) -> Any:
        return self._collection.metadata

    @property
    def name(self) -> str:
        return str(self._collection.name)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        return self._guarded(attr) if callable(attr) else attr

    def _guarded(self, call: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(call)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return call(*args, **kwargs)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise unavailable(self._url, self._timeout_s, exc) from exc

        return run
