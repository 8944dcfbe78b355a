"""Recording stand-ins for chat-model servers, for tests and offline evaluation runs (never built by settings)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

Script = Callable[[list[BaseMessage]], str]


class RecordingChatModel(GenericFakeChatModel):
    """``GenericFakeChatModel`` that records every prompt it receives.

    The reply comes from ``script`` (built from the prompt, e.g. to cite the passage that holds some text) or, without
    one, from ``messages`` as usual. ``error`` is raised instead of answering; ``hang`` makes the model wait on that
    event before answering, to play a server that does not reply in time. Streaming splits the reply on whitespace.
    """

    messages: Any = Field(default_factory=lambda: iter(()))
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    script: Script | None = None
    error: Exception | None = None
    hang: threading.Event | None = None

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(list(messages))
        if self.hang is not None:
            self.hang.wait(timeout=120)
        if self.error is not None:
            raise self.error
        if self.script is None:
            return super()._generate(messages, stop, run_manager, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.script(messages)))])

    @property
    def last_prompt(self) -> str:
        """The text of every message of the latest call, joined."""
        return "\n".join(str(m.content) for m in self.calls[-1]) if self.calls else ""
