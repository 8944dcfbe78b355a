"""A judge model that grades rubric items, one call per item, through the same providers as the LLM mode.

Built only when ``eval.judge.provider`` names a server; the prompt lives in ``prompts/judge.yaml``. A reply that is
not the asked-for JSON is read leniently ("true", "yes, met"); one that cannot be read, or a call that fails, leaves
the item ungraded by the judge, and the offline check decides it (the report says which). After three failed calls
in a row the judge is set aside for the rest of the run rather than time out on every item.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.config import JudgeSettings
from assistant.prompts import PromptBook
from assistant.rag.outage import one_line

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

log = logging.getLogger(__name__)
_JSON = re.compile(r"\{.*?\}", re.S)
_WORD = re.compile(r"\b(true|false|yes|no|not met|met)\b", re.I)
GIVE_UP_AFTER = 3
REPLY_CHARS = 4000  # what of a reply the judge reads: answers are short; a runaway one is cut, never the question


@dataclass(frozen=True)
class Grade:
    """The judge's verdict on one item: ``met`` is None when it gave none that could be read."""

    met: bool | None
    reason: str


class Judge:
    """Grades "does this reply do what this statement says?" with a chat model."""

    def __init__(self, model: BaseChatModel, prompts: PromptBook, label: str) -> None:
        self._model = model
        self._prompts = prompts
        self.label = label
        self._failures = 0

    @property
    def available(self) -> bool:
        return self._failures < GIVE_UP_AFTER

    def grade(self, question: str, reply: str, criterion: str) -> Grade:
        if not self.available:
            return Grade(None, "judge set aside after repeated failures")
        from langchain_core.messages import HumanMessage, SystemMessage

        messages = [SystemMessage(self._prompts.render("judge", "system")),
                    HumanMessage(self._prompts.render("judge", "item", criterion=criterion, question=question,
                                                      reply=reply[:REPLY_CHARS]))]
        try:
            text = str(self._model.invoke(messages).content)
        except Exception as exc:  # any server failure leaves the item to the offline check
            self._failures += 1
            log.warning("judge call failed (%d in a row): %s", self._failures, one_line(exc))
            return Grade(None, f"judge failed: {one_line(exc)}")
        self._failures = 0
        return read_grade(text)


def read_grade(text: str) -> Grade:
    """The verdict in a judge's reply: its JSON object, or else the first yes/no word."""
    for found in _JSON.findall(text):
        try:
            data = json.loads(found)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and isinstance(data.get("met"), bool):
            return Grade(data["met"], " ".join(str(data.get("reason", "")).split())[:300])
    word = _WORD.search(text)
    if word:
        met = word.group(1).lower() in ("true", "yes", "met")
        return Grade(met, " ".join(text.split())[:300])
    return Grade(None, "judge reply unreadable: " + " ".join(text.split())[:120])


def make_judge(settings: JudgeSettings, prompts: PromptBook) -> Judge | None:
    """The configured judge, or None (rubric items then fall back to the offline checks)."""
    if settings.provider == "none":
        return None
    from assistant.providers.chat import make_chat_model

    model = make_chat_model(settings.as_llm())
    assert model is not None  # provider is not "none", so the factory built one
    return Judge(model, prompts, f"{settings.provider}:{settings.model}")
