"""A Chroma server as the store: every HTTP call has a time budget (``store.timeout_s``), and a server that is down
or hung becomes ``BackendUnavailable`` instead of a raw httpx error or an answer that never comes.

chromadb's HTTP client is built with ``timeout=None`` and no option to change it, so the budget is set on its HTTP
session once the client exists; the client's own first requests (tenant and database checks) run in a thread that
is given the same budget.
"""

from __future__ import annotations

import functools
import secrets
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import httpx

from assistant.errors import BackendUnavailable


def http_client(url: str, timeout_s: float, settings: Any) -> Any:
    """A client of the Chroma server at ``url`` whose every request gives up after ``timeout_s`` seconds."""
    import chromadb

    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    made: dict[str, Any] = {}

    def connect() -> None:
        try:
            made["client"] = chromadb.HttpClient(
                host=parsed.hostname or "", port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https", settings=settings)
        except BaseException as exc:  # handed to the caller's thread
            made["error"] = exc

    worker = threading.Thread(target=connect, name="chroma-connect", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise unavailable(url, timeout_s, httpx.ConnectTimeout("no answer"))
    if "error" in made:
        error = made["error"]
        if isinstance(error, httpx.TimeoutException | httpx.TransportError):
            raise unavailable(url, timeout_s, error) from error
        raise error
    client = made["client"]
    for holder in (client, getattr(client, "_admin_client", None)):
        session = getattr(getattr(holder, "_server", None), "_session", None)
        if isinstance(session, httpx.Client):
            session.timeout = httpx.Timeout(timeout_s)
    if not isinstance(getattr(getattr(client, "_server", None), "_session", None), httpx.Client):
        raise BackendUnavailable(f"this chromadb's HTTP client cannot be given a time budget; the Chroma server at "
                                 f"{url} would be called without one")
    return client


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


class WriteMarker:
    """A one-record collection on the server whose text changes with every write, so that every process using the
    server (the app, a CLI ingest elsewhere) can tell that the chunks changed and rebuild its keyword index."""

    RECORD = "last-write"

    def __init__(self, client: Any, collection: str, url: str, timeout_s: float) -> None:
        raw = client.get_or_create_collection(f"{collection}_writes", embedding_function=None)
        self._marker = RemoteCollection(raw, url, timeout_s)

    def bump(self) -> str:
        token = secrets.token_hex(8)
        self._marker.upsert(ids=[self.RECORD], embeddings=[[1.0]], documents=[token])
        return token

    def read(self) -> str:
        got = self._marker.get(ids=[self.RECORD], include=["documents"])
        documents = got.get("documents") or []
        return str(documents[0]) if documents else ""
