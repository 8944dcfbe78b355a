"""The staff login in front of the console at ``/staff``: a plain HTML form, a cookie session, logout.

Every path under ``/staff`` except the login and logout routes needs a live session: a page request without one is
sent to the login form, anything else gets 401. Gradio's ``auth_dependency`` reads the same session, so each
console handler sees the signed-in account as ``request.username``.
"""

from __future__ import annotations

import logging
from html import escape
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from assistant.config import UISettings
from assistant.ui.security import STAFF_PREFIX, ASGIApp, Receive, Scope, Send, app_path, is_staff_path
from assistant.ui.staff_auth import COOKIE, DEFAULT_ACCOUNT, LoginThrottle, StaffSessions, verify_login

log = logging.getLogger(__name__)

REFUSED = "Wrong name or password."
TOO_MANY = "Too many failed attempts from your address. Please wait {wait} seconds and try again."
FOREIGN = "This form must be sent from the staff page itself."
MAX_FIELD = 200

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Staff sign-in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}}
label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;padding:.5rem;box-sizing:border-box}}
button{{margin-top:1rem;padding:.5rem 1.2rem}}.error{{color:#c81e1e;font-weight:600}}</style></head>
<body><h1>Staff console</h1><p>Sign in to test answers and manage documents.</p>{message}
<form method="post" action="login" autocomplete="off">
<label for="name">Name</label><input id="name" name="name" value="{name}" maxlength="{limit}" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" maxlength="{limit}" required autocomplete="current-password">
<button type="submit" id="sign-in">Sign in</button></form></body></html>"""


class StaffLogin:
    def __init__(self, accounts: dict[str, bytes], ui: UISettings) -> None:
        self.accounts = accounts
        self.sessions = StaffSessions.from_settings(ui)
        self.throttle = LoginThrottle()
        self.secure = ui.cookie_secure

    def account_of(self, request: Request) -> str | None:
        """Gradio's auth dependency: the signed-in account, or None (Gradio then answers 401)."""
        return self.sessions.account(request.cookies.get(COOKIE))

    def add_routes(self, api: FastAPI) -> None:
        def page(message: str = "", status: int = 200, name: str = DEFAULT_ACCOUNT) -> HTMLResponse:
            shown = f"<p class='error' role='alert'>{escape(message)}</p>" if message else ""
            return HTMLResponse(_PAGE.format(message=shown, name=escape(name, quote=True), limit=MAX_FIELD),
                                status_code=status, headers={"cache-control": "no-store"})

        @api.get(STAFF_PREFIX + "/login", include_in_schema=False)
        def login_form() -> HTMLResponse:
            return page()

        @api.post(STAFF_PREFIX + "/login", include_in_schema=False)
        async def login(request: Request) -> Response:
            if not _same_origin(request):
                return page(FOREIGN, 403)
            address = request.client.host if request.client else "unknown"
            wait = self.throttle.wait(address)
            if wait:
                log.warning("staff login refused without checking: %s is throttled for %.0f s", address, wait)
                return page(TOO_MANY.format(wait=round(wait)), 429)
            form = await request.form(max_files=0, max_fields=4)
            name, password = str(form.get("name", ""))[:MAX_FIELD], str(form.get("password", ""))[:MAX_FIELD + 1]
            from starlette.concurrency import run_in_threadpool

            account = await run_in_threadpool(verify_login, self.accounts, name, password)
            if account is None:
                failures = self.throttle.failed(address)
                log.warning("staff login failed for account %r from %s (%d in 15 min)", name[:40], address, failures)
                return page(REFUSED, 401, name)
            self.throttle.succeeded(address)
            log.info("staff login: account %r from %s", account, address)
            response = RedirectResponse("./", status_code=303)
            response.set_cookie(COOKIE, self.sessions.start(account), httponly=True, samesite="strict",
                                secure=self.secure, path=_cookie_path(request))
            return response

        # GET too, for the console's sign-out link: the SameSite=Strict cookie never comes with another site's link,
        # so no other site can end a session through it.
        @api.get(STAFF_PREFIX + "/logout", include_in_schema=False)
        @api.post(STAFF_PREFIX + "/logout", include_in_schema=False)
        def logout(request: Request) -> Response:
            if not _same_origin(request):
                return page(FOREIGN, 403)
            self.sessions.end(request.cookies.get(COOKIE))
            response = RedirectResponse("login", status_code=303)
            response.delete_cookie(COOKIE, path=_cookie_path(request), httponly=True, samesite="strict",
                                   secure=self.secure)
            return response

        api.add_middleware(StaffGate, login=self)


class StaffGate:
    """ASGI middleware: no session, no staff path (but the login form and logout)."""

    OPEN = frozenset({STAFF_PREFIX + "/login", STAFF_PREFIX + "/logout"})

    def __init__(self, app: ASGIApp, login: StaffLogin) -> None:
        self.app, self.login = app, login

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = app_path(scope)
        if scope["type"] not in {"http", "websocket"} or not is_staff_path(path) or path in self.OPEN:
            await self.app(scope, receive, send)
            return
        if self.login.sessions.account(_cookie(scope)) is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope.get("method") in {"GET", "HEAD"} and path in {STAFF_PREFIX,
                                                                                          STAFF_PREFIX + "/"}:
            location = (scope.get("root_path", "") + STAFF_PREFIX + "/login").encode()
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", location), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        body = b'{"error": "Not signed in"}'
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _cookie(scope: Scope) -> str | None:
    from http.cookies import CookieError, SimpleCookie

    raw = b"; ".join(v for k, v in scope.get("headers", []) if k == b"cookie").decode("latin-1")
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel else None


def _cookie_path(request: Request) -> str:
    return str(request.scope.get("root_path", "")) + STAFF_PREFIX


def _same_origin(request: Request) -> bool:
    """A form post from another site (login CSRF) carries its own Origin; browsers always send one on POST."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")
