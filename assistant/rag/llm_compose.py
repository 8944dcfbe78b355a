"""LLM composer: spotlighted passages in, streamed answer out, each sentence verified; else the extractive answer."""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.errors import BackendUnavailable
from assistant.ingest.frontmatter import strip_markers
from assistant.prompts import PromptBook
from assistant.providers.store import StoredChunk
from assistant.rag.compose import Composition, ExtractiveComposer, cite
from assistant.rag.retrieve import Retrieved
from assistant.rag.understand import Reading
from assistant.rag.verify import CitationVerifier, Claim, split_claims
from assistant.schema import Citation, Decision

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

MAX_CONDENSED = 400  # a longer "question" from the condense prompt is the model rambling; the history builder is used
MIN_VERIFIED = 2  # fewer verified sentences than this is not an answer; the extractive one is used instead
TokenSink = Callable[[str], None]
_Events = queue.Queue[tuple[str, object]]
_ENDED = re.compile(r"[.!?\]]\s+$")  # a reply that has just finished a sentence (and its markers)


@dataclass
class LLMComposition(Composition):
    """A composition plus what the verifier removed and the decisions staff should see."""

    removed: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


class LLMComposer:
    """Asks the chat model for a cited answer, keeps only verified sentences, falls back to extractive."""

    def __init__(
        self,
        model: BaseChatModel,
        prompts: PromptBook,
        verifier: CitationVerifier,
        fallback: ExtractiveComposer,
        timeout_s: float,
    ) -> None:
        self._model = model
        self._prompts = prompts
        self._verifier = verifier
        self._fallback = fallback
        self._timeout_s = timeout_s

    def compose(self, question: str, retrieved: Retrieved, on_token: TokenSink | None = None,
                reading: Reading | None = None, asks: Sequence[Retrieved] = (),
                on_sentence: TokenSink | None = None) -> LLMComposition:
        """Never raises for a backend failure: the answer then comes from the extractive composer (given the same
        per-ask retrievals). ``reading`` gives the model the message's asks, in order, and what it tells.

        ``on_sentence`` hears each sentence of the model's reply as soon as it is complete and verified, numbered as
        in the final answer; a sentence the verifier removes is never heard.
        """
        passages = retrieved.chunks
        if not passages:
            return self._extractive(retrieved, "no passages to give the model", asks=asks)
        if on_sentence is not None:
            on_token = _VerifiedSentences(self._verifier, passages, on_sentence, on_token)
        try:
            raw = self._generate(self.messages(question, passages, reading), on_token)
        except Exception as exc:  # any backend failure (network, server, protocol) must not reach the runner
            return self._extractive(retrieved, f"model unavailable: {_describe(exc)}", asks=asks)
        if isinstance(on_token, _VerifiedSentences):
            on_token.finish()
        verification = self._verifier.verify(raw, passages)
        removed = [Decision(stage="verify", outcome="removed", reason=s) for s in verification.removed]
        total = len(verification.kept) + len(verification.removed)
        if len(verification.kept) < MIN_VERIFIED:
            reason = f"only {len(verification.kept)} of {total} sentences verified"
            return self._extractive(retrieved, reason, verification.removed, removed, asks=asks)
        text, citations = _assemble(verification.kept, passages)
        verified = f"{len(verification.kept)} of {total} sentences verified"
        used = Decision(stage="compose", outcome="llm", reason=verified)
        return LLMComposition(
            text=text,
            citations=citations,
            chosen=[c.quote for c in citations],
            removed=verification.removed,
            decisions=[*removed, used],
        )

    def condense(self, question: str, history: list[tuple[str, str]]) -> tuple[str | None, Decision]:
        """A standalone retrieval question from a follow-up and its conversation, or ``None`` (and why) on failure."""
        from langchain_core.messages import HumanMessage

        turns = [(role, spotlight(text[:500])) for role, text in history[-6:]]
        prompt = self._prompts.render("llm", "condense", history=turns, question=spotlight(question))
        try:
            raw = self._generate([HumanMessage(content=prompt)], None)
        except Exception as exc:  # the deterministic query builder takes over
            return None, Decision(stage="query", outcome="fallback", reason=f"condense failed: {_describe(exc)}")
        rewritten = " ".join(raw.split())
        if not rewritten or len(rewritten) > MAX_CONDENSED:
            why = "empty" if not rewritten else f"{len(rewritten)} characters"
            return None, Decision(stage="query", outcome="fallback", reason=f"condensed question unusable ({why})")
        return rewritten, Decision(stage="query", outcome="condensed", reason="follow-up rewritten by the LLM")

    def messages(self, question: str, passages: list[StoredChunk], reading: Reading | None = None) -> list[BaseMessage]:
        """System rules, then the question (its asks in order and what it tells, when read) and the passages as
        delimited data (never as instructions)."""
        from langchain_core.messages import HumanMessage, SystemMessage

        asked = reading is not None and (len(reading.asks) > 1 or reading.long)
        numbered = [
            {"n": n, "title": spotlight(str(c.metadata.get("title", ""))).replace('"', "'"),
             "text": spotlight(strip_markers(c.text))}
            for n, c in enumerate(passages, start=1)
        ]
        return [
            SystemMessage(content=self._prompts.render("llm", "system")),
            HumanMessage(content=self._prompts.render(
                "llm", "answer", question=spotlight(question), passages=numbered,
                asks=[spotlight(a) for a in reading.asks] if reading is not None and asked else [],
                mentions=spotlight("; ".join(reading.mentions)) if reading is not None else "")),
        ]

    def _generate(self, messages: list[BaseMessage], on_token: TokenSink | None) -> str:
        """Stream the reply; give up when the whole answer has not arrived within the time budget."""
        events: _Events = queue.Queue()
        stop = threading.Event()
        worker = threading.Thread(target=self._pump, args=(messages, events, stop), name="llm-stream", daemon=True)
        worker.start()
        deadline = time.monotonic() + self._timeout_s
        parts: list[str] = []
        try:
            while True:
                try:
                    kind, value = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise BackendUnavailable(f"no complete answer within {self._timeout_s:g} s") from None
                if kind == "done":
                    return "".join(parts)
                if isinstance(value, BaseException):
                    raise value
                parts.append(str(value))
                if on_token is not None:
                    on_token(str(value))
        finally:
            stop.set()  # an abandoned stream stops at its next token; the client's own timeout ends a silent one

    def _pump(self, messages: list[BaseMessage], events: _Events, stop: threading.Event) -> None:
        try:
            for chunk in self._model.stream(messages):
                if stop.is_set():
                    return
                if chunk.text:
                    events.put(("token", chunk.text))
            events.put(("done", None))
        except BaseException as exc:  # handed to the waiting thread, which decides
            events.put(("error", exc))

    def _extractive(
        self, retrieved: Retrieved, reason: str, removed: list[str] | None = None,
        decisions: list[Decision] | None = None, asks: Sequence[Retrieved] = (),
    ) -> LLMComposition:
        base = self._fallback.compose(retrieved, asks=asks)
        return LLMComposition(
            text=base.text,
            citations=base.citations,
            chosen=base.chosen,
            removed=removed or [],
            decisions=[*(decisions or []), Decision(stage="compose", outcome="fallback", reason=reason)],
        )


def spotlight(text: str) -> str:
    """Text that cannot open or close a delimiter tag, so retrieved data cannot pose as prompt structure."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


class _Numbering:
    """Markers renumbered in reading order; each citation quotes the passage sentence that supports the claim."""

    def __init__(self, passages: list[StoredChunk]) -> None:
        self._passages = passages
        self._numbers: dict[tuple[int, int, int], int] = {}
        self.citations: list[Citation] = []

    def line(self, claim: Claim) -> str:
        marks: list[int] = []
        for ev in claim.evidence:
            key = (ev.n, ev.start, ev.end)
            if key not in self._numbers:
                self._numbers[key] = len(self._numbers) + 1
                self.citations.append(cite(self._numbers[key], self._passages[ev.n - 1], ev.start, ev.end))
            marks.append(self._numbers[key])
        return f"{claim.text} " + "".join(f"[{m}]" for m in dict.fromkeys(marks))


def _assemble(kept: list[Claim], passages: list[StoredChunk]) -> tuple[str, list[Citation]]:
    numbering = _Numbering(passages)
    lines = [numbering.line(claim) for claim in kept]
    return " ".join(lines), numbering.citations


class _VerifiedSentences:
    """A token sink that passes on each sentence once it is complete and its citations check out.

    Sentences are verified one at a time, as the whole reply is afterwards, and numbered as ``_assemble`` numbers
    the kept ones, so what streams is what the final answer says (unless too few sentences survive and the
    extractive answer replaces it).
    """

    def __init__(self, verifier: CitationVerifier, passages: list[StoredChunk], on_sentence: TokenSink,
                 on_token: TokenSink | None) -> None:
        self._verifier = verifier
        self._passages = passages
        self._on_sentence = on_sentence
        self._on_token = on_token
        self._text = ""
        self._done = 0
        self._numbering = _Numbering(passages)

    def __call__(self, token: str) -> None:
        if self._on_token is not None:
            self._on_token(token)
        self._text += token
        self._pass_on(last_complete=bool(_ENDED.search(self._text)))  # else the last sentence may still grow

    def finish(self) -> None:
        """The reply is complete: its last sentence is complete too."""
        self._text += "\n"
        self._pass_on(last_complete=True)

    def _pass_on(self, last_complete: bool) -> None:
        """Verify the sentences completed since the last call; pass on those kept."""
        claims = split_claims(self._text)
        complete = len(claims) if last_complete else len(claims) - 1
        for claim in claims[self._done : complete]:
            for kept in self._verifier.verify(claim.sentence, self._passages).kept:
                self._on_sentence(self._numbering.line(kept) + " ")
        self._done = max(self._done, complete)


def _describe(exc: BaseException) -> str:
    """One line for staff: the error type and its first line, never a stack trace."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__
