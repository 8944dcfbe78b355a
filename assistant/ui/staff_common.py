"""What every staff-console tab shares: the lock check, private endpoints, and errors as one readable line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gradio as gr
from pydantic import ValidationError

from assistant.errors import AssistantError

log = logging.getLogger(__name__)

LOCKED = "You are not signed in to the staff console. Sign in at /staff/login."
# Staff endpoints stay out of the API page and the Gradio clients.
PRIVATE: dict[str, Any] = {"api_visibility": "private"}


def staff_account(request: gr.Request | None) -> str | None:
    """The signed-in account Gradio took from the staff session (``staff_login.StaffLogin.account_of``)."""
    name = getattr(request, "username", None)
    return name if isinstance(name, str) and name else None


def require_staff(request: gr.Request | None) -> str:
    """Every console action checks the session again: no signed-in account, no action."""
    name = staff_account(request)
    if name is None:
        raise gr.Error(LOCKED)
    return name


def one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        return f"{where}: {err['msg']}" if where else str(err["msg"])
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


@contextmanager
def shown_as_message() -> Iterator[None]:
    """Any failure inside becomes a ``gr.Error`` toast with one line of text, never a stack trace on the page."""
    try:
        yield
    except gr.Error:
        raise
    except (AssistantError, ValidationError) as exc:
        raise gr.Error(one_line(exc)) from None
    except Exception as exc:  # a bug must not show a trace to staff either; the log keeps it
        log.exception("staff console action failed")
        raise gr.Error(f"{type(exc).__name__}: {one_line(exc)}") from None
