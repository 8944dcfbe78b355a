"""HTTP hardening around the Gradio apps, as one ASGI middleware: limits before work, closed routes, headers.

- Request bodies are capped before Gradio reads them (``ui.max_request_kb``; staff uploads by ``ingest.max_mb`` and
  ``ui.max_upload_files``), by the declared length and again while the body streams in.
- Routes a public site must not offer are closed: Gradio's deep links (they snapshot another session's state), the
  run history page, and the upload route outside the staff console.
- Every response carries a Content-Security-Policy (scripts only from the app itself, each inline script of the page
  with this response's nonce), frame-ancestors from ``ui.frame_ancestors``, nosniff and a Referrer-Policy; staff pages
  and API answers are not cached by the browser.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STAFF_PREFIX = "/staff"
_SCRIPT_TAG = re.compile(rb"<script(?=[\s>])")
_FILE_PART = b'filename="'


@dataclass(frozen=True)
class Limits:
    body_bytes: int
    upload_bytes: int
    upload_files: int
    frame_ancestors: tuple[str, ...] = ()


def app_path(scope: Scope) -> str:
    """The path inside the app: under a sub-path (``ui.root_path``) the server's scope path starts with it."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root):] or "/" if root and path.startswith(root) else path


def is_staff_path(path: str) -> bool:
    return path == STAFF_PREFIX or path.startswith(STAFF_PREFIX + "/")


def closed_route(path: str, query: bytes) -> bool:
    """Routes a public site does not serve: deep links anywhere, uploads outside the staff console."""
    if path.endswith("/gradio_api/deep_link") or b"deep_link=" in query:
        return True
    if path.endswith("/gradio_api/runs") or "/gradio_api/runs/" in path:
        return True
    return path.endswith("/gradio_api/upload") and not is_staff_path(path)


def csp(nonce: str, frame_ancestors: tuple[str, ...], staff: bool) -> str:
    ancestors = "'none'" if staff else " ".join(("'self'", *frame_ancestors))
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",  # Gradio's components set inline styles
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {ancestors}",
    ])


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = app_path(scope)
        if closed_route(path, scope.get("query_string", b"")):
            await _plain(send, 404, b"Not found")
            return
        upload = path.endswith("/gradio_api/upload")
        limit = self.limits.upload_bytes if upload else self.limits.body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _plain(send, 413, b"Request too large")
            return
        nonce = secrets.token_urlsafe(16)
        policy = csp(nonce, self.limits.frame_ancestors, is_staff_path(path))
        no_store = is_staff_path(path) or "/gradio_api/" in path
        guarded = _BodyGuard(receive, limit, self.limits.upload_files if upload else None)
        responder = _Headers(send, policy, nonce.encode(), no_store, guarded)
        try:
            await self.app(scope, guarded.receive, responder.send)
        except Exception:
            if guarded.refused is None:
                raise
        if guarded.refused is not None and not responder.started:
            await _plain(send, 413, guarded.refused)


class _BodyGuard:
    """Counts the body as it arrives; past the limit the app is told the client went away."""

    def __init__(self, receive: Receive, limit: int, max_files: int | None) -> None:
        self._receive, self.limit, self.max_files = receive, limit, max_files
        self.seen = 0
        self.files = 0
        self._tail = b""
        self.refused: bytes | None = None

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] != "http.request" or self.refused:
            return message
        chunk: bytes = message.get("body", b"")
        self.seen += len(chunk)
        if self.seen > self.limit:
            self.refused = b"Request too large"
        elif self.max_files is not None:
            window = self._tail + chunk
            self.files += window.count(_FILE_PART) - self._tail.count(_FILE_PART)
            self._tail = window[-len(_FILE_PART):]
            if self.files > self.max_files:
                self.refused = f"At most {self.max_files} files per upload".encode()
        if self.refused:
            return {"type": "http.disconnect"}
        return message


class _Headers:
    """Adds the security headers; a page's inline scripts get the nonce; a refused body becomes 413."""

    def __init__(self, send: Send, policy: str, nonce: bytes, no_store: bool, guard: _BodyGuard) -> None:
        self._send, self.policy, self.nonce, self.no_store, self.guard = send, policy, nonce, no_store, guard
        self._start: Message | None = None
        self._html: list[bytes] | None = None
        self.started = False

    async def send(self, message: Message) -> None:
        if self.started and self.guard.refused is not None:
            return
        if self.guard.refused is not None:
            self.started = True
            await _plain(self._send, 413, self.guard.refused)
            return
        if message["type"] == "http.response.start":
            self.started = True
            replaced = _REPLACED | ({b"cache-control"} if self.no_store else set())
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in replaced]
            headers += [(b"content-security-policy", self.policy.encode()), (b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"same-origin"), (b"cross-origin-opener-policy", b"same-origin")]
            if self.no_store:
                headers.append((b"cache-control", b"no-store"))
            message = {**message, "headers": headers}
            if _header(headers, b"content-type").startswith(b"text/html") and not _header(headers, b"content-encoding"):
                self._start, self._html = message, []
                return
        elif message["type"] == "http.response.body" and self._html is not None and self._start is not None:
            self._html.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = _SCRIPT_TAG.sub(b'<script nonce="' + self.nonce + b'"', b"".join(self._html))
            headers = [(k, v) for k, v in self._start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await self._send({**self._start, "headers": headers})
            await self._send({"type": "http.response.body", "body": body})
            return
        await self._send(message)


_REPLACED = {b"content-security-policy", b"x-frame-options"}


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    return next((v for k, v in headers if k.lower() == name), b"")


def _content_length(scope: Scope) -> int | None:
    raw = _header(list(scope.get("headers", [])), b"content-length")
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


async def _plain(send: Send, status: int, text: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(text)).encode()), (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": text})
