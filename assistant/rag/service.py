"""The Assistant service: the one object the CLI, the UI and evaluators call."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.ingest.lifecycle import generation, index_dir
from assistant.ingest.pipeline import IngestPipeline, Progress
from assistant.prompts import PromptBook
from assistant.providers.store import ChromaStore
from assistant.rag.compose import Composition, ExtractiveComposer
from assistant.rag.llm_compose import LLMComposer
from assistant.rag.outage import OutageWatch, one_line, unavailable_answer
from assistant.rag.query import build_query
from assistant.rag.retrieve import HybridRetriever, Retrieved
from assistant.rag.understand import Reading, not_covered, read_message
from assistant.safety.input import clean_history, clean_text
from assistant.safety.output import filter_output, has_dose
from assistant.safety.privacy import TranscriptStore
from assistant.safety.redflags import for_today
from assistant.safety.referral import care_advice, referral_for
from assistant.safety.router import ScopeRouter
from assistant.safety.subject import Subject
from assistant.safety.triage import Triage, content_words, dosing_topic, triage
from assistant.schema import Answer, AskOptions, Behavior, Candidate, Citation, Decision, IngestReport

log = logging.getLogger(__name__)
History = list[tuple[str, str]]


# How often an app on a Chroma server looks for writes by other processes (a CLI ingest, another app).
SERVER_CHECK_S = 2.0

class Assistant:
    """Question in, cited and guarded answer out; also owns ingestion so the index and BM25 stay in step."""

    def __init__(
        self,
        settings: Settings,
        prompts: PromptBook,
        store: ChromaStore,
        retriever: HybridRetriever,
        composer: ExtractiveComposer,
        ingestor: IngestPipeline,
        scope: ScopeRouter,
        llm_composer: LLMComposer | None = None,
    ) -> None:
        self.settings = settings
        self._prompts = prompts
        self._store = store
        self._outage = OutageWatch()
        self._server_checked = 0.0
        self._retriever = retriever
        self._composer = composer
        self._ingestor = ingestor
        self._scope = scope
        self._transcripts = (
            TranscriptStore(settings.paths.data_dir / "transcripts.sqlite3")
            if settings.privacy.store_transcripts
            else None
        )
        self._llm_composer = llm_composer
        self._gate = _SwapGate()
        self._generation = generation(index_dir(settings))

    # -- index -------------------------------------------------------------------------------------
    def ingest(
        self, paths: list[object], prune: bool = False, progress: Progress | None = None, allow_flagged: bool = False
    ) -> IngestReport:
        """Sync files into the index; flagged (instruction-like) chunks are held back unless ``allow_flagged``."""
        self.follow_index_swap()
        report = self._ingestor.run(
            [Path(str(p)) for p in paths], prune=prune, progress=progress, allow_flagged=allow_flagged
        )
        summary = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "seconds": report.seconds,
                   "added": len(report.added), "updated": len(report.updated), "failed": len(report.failed)}
        (self.settings.paths.data_dir / "last-ingest.json").write_text(json.dumps(summary), encoding="utf-8")
        self._retriever.refresh()
        return report

    def index_status(self) -> dict[str, object]:
        self.follow_index_swap()
        docs = self._store.documents()
        state = self.settings.paths.data_dir / "last-ingest.json"
        return {
            "data_dir": str(self.settings.paths.data_dir),
            "documents": len(docs),
            "chunks": self._store.count(),
            "embedding_model": self._store.versions["embedding_model"],
            "dimension": self._store.dimension,
            "versions": self._store.versions,
            "last_ingest": json.loads(state.read_text(encoding="utf-8")) if state.exists() else None,
            "doc_ids": sorted(docs),
        }

    def prepare(self) -> int:
        """Train the scope router now (minutes the first time its data changes, a second after); returns how many
        labelled messages it learnt from."""
        return self._scope.train()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of the embedding model for ``texts`` (evaluators judge paraphrase with them)."""
        return np.asarray(self._retriever.embed_many(texts), dtype=np.float32).reshape(len(texts), -1)

    @property
    def has_llm(self) -> bool:
        """Whether an LLM composer is configured (otherwise every answer is extractive)."""
        return self._llm_composer is not None

    def documents(self) -> list[dict[str, object]]:
        """Every indexed document: doc_id, title, path, kind, evidence and chunk count, sorted by doc_id."""
        self.follow_index_swap()
        return [{"doc_id": doc_id, **info} for doc_id, info in sorted(self._store.documents().items())]

    def document_texts(self) -> dict[str, str]:
        """Each indexed document's text as its chunks hold it, in order (what citation quotes are cut from)."""
        self.follow_index_swap()
        parts: dict[str, list[tuple[int, str]]] = {}
        for chunk in self._store.all_chunks():
            parts.setdefault(chunk.doc_id, []).append((int(chunk.metadata.get("position", 0)), chunk.text))
        return {doc_id: "\n\n".join(text for _, text in sorted(chunks)) for doc_id, chunks in parts.items()}

    def delete_document(self, doc_id: str) -> int:
        """Remove one document's chunks (under the writer lock); returns how many were removed."""
        removed = self._ingestor.delete(doc_id)
        self._retriever.refresh()
        return removed

    def verify_index(self) -> list[str]:
        """Problems in the index; empty when it is consistent with itself and with this install."""
        self.follow_index_swap()
        problems = self._store.verify()
        if not self._store.count():
            where = self.settings.store.url or index_dir(self.settings)
            problems.append(f"the index in {where} holds no documents: run `knee-assistant ingest`")
        return problems

    # -- questions -----------------------------------------------------------------------------------
    def follow_index_swap(self) -> bool:
        """Reopen the index when `index rebuild` or `index import` swapped in a new one; True when it did.

        Answers in flight finish on the old index first; the check costs one small file read.
        """
        if self.settings.store.url:
            return self._follow_server_writes()
        current = generation(index_dir(self.settings))
        if current == self._generation:
            return False
        with self._gate.exclusive():
            if current != self._generation:
                self._store.reopen()
                self._retriever.refresh()
                self._generation = current
                log.info("index swapped on disk: reopened")
        return True

    def _follow_server_writes(self) -> bool:
        """Server mode: rebuild the keyword index when another process wrote to the server (checked at most every
        ``SERVER_CHECK_S`` seconds: one small read); dense search reads the server and is always current."""
        now = time.monotonic()
        if now - self._server_checked < SERVER_CHECK_S:
            return False
        self._server_checked = now
        if not self._store.written_elsewhere():
            return False
        with self._gate.exclusive():
            self._retriever.refresh()
        log.info("the server's index changed: keyword index rebuilt")
        return True

    def ask(self, question: str, history: object = None, options: AskOptions | None = None) -> Answer:
        """Answer one question; never raises for any string and never returns without a referral."""
        return self._ask(question, history, options, None)

    def _ask(self, question: str, history: object, options: AskOptions | None,
             on_sentence: Callable[[str], None] | None) -> Answer:
        self.follow_index_swap()
        with self._gate.shared():
            answer = self._answer(question, history, options or AskOptions(), on_sentence)
        self._outage.answered()
        if self._transcripts is not None:
            limit = self.settings.safety.max_input_chars
            self._transcripts.add(clean_text(question[:limit] if isinstance(question, str) else ""), answer.body,
                                  answer.behavior)
        return answer

    def unavailable(self, question: object, exc: BaseException) -> Answer:
        """The worded reply for a question whose answer failed (store, server or disk); logs one line."""
        self._outage.failed(exc)
        text = question if isinstance(question, str) else ""
        return unavailable_answer(self._prompts, text, exc, self.settings.safety.max_input_chars)

    def health(self) -> str:
        """``ready``, ``degraded`` (answers failed in the last minute) or ``down`` (the index cannot be read)."""
        try:
            if not self._store.count():
                return "down"
        except Exception as exc:  # any store failure means no answers can be given
            log.warning("health check: the index cannot be read: %s", one_line(exc))
            return "down"
        return self._outage.state

    def _answer(self, question: str, history: object, options: AskOptions,
                on_sentence: Callable[[str], None] | None = None) -> Answer:
        timings: dict[str, float] = {}
        limit = self.settings.safety.max_input_chars
        raw = question if isinstance(question, str) else str(question) if isinstance(question, int | float) else ""
        with _timed(timings, "input"):
            # The length is checked before any normalisation: NFKC over megabytes costs seconds of CPU.
            text = clean_text(raw) if len(raw) <= limit else raw
            turns = clean_history(history or [])
        if not self.settings.privacy.log_chat_text:
            log.debug("question received (%d chars)", len(text))
        if not text.strip():
            return self._fixed("clarify", self._prompts.render("templates", "empty_input"), "empty message", timings)
        if len(text) > limit:
            msg = self._prompts.render("templates", "input_too_long", limit=limit)
            return self._fixed("clarify", msg, f"message of {len(text)} characters is over the limit", timings)
        context = " ".join(t for role, t in turns[-4:] if role == "user")
        decisions: list[Decision] = []
        # Triage reads the message before any model call: a dosing or injected follow-up never reaches an LLM.
        with _timed(timings, "triage"):
            verdict = triage(text, context=context, route=self._scope.route)
        if verdict.behavior == "out_of_scope":
            return self._decline(verdict, timings)
        if verdict.behavior in ("clarify", "refuse_dosing"):
            return self._guarded_help(verdict, turns, options, timings)
        reading = read_message(verdict.question)
        if reading.long and reading.asks:
            decisions.append(Decision(stage="understand", outcome=f"{len(reading.asks)} ask(s)",
                                      reason=" | ".join(reading.asks)))
        if reading.mentions:
            decisions.append(Decision(stage="understand", outcome="mentions", reason="; ".join(reading.mentions)))
        with _timed(timings, "query"):
            query = self._query(verdict.question, turns, options, decisions)
        if verdict.red_flags:
            # The flags, named in English, steer retrieval to the guidance on them, whatever the question's language.
            named = [f"{f.found}: {f.concern}" for f in for_today(verdict.findings)]
            query = f"{query} ({'; '.join(named)})"
            decisions.append(Decision(stage="query", outcome="red_flags_added", reason=verdict.reason))
        with _timed(timings, "embed"):
            vector = self._retriever.embed(query)
        with _timed(timings, "retrieve"):
            retrieved = self._retriever.retrieve(query, k=options.top_k, vector=vector, where=options.where)
        candidates = _candidates(retrieved)
        decisions = [*verdict.decisions, *decisions]
        weak = retrieved.best_similarity < self.settings.retrieval.min_similarity
        if weak and verdict.behavior is None and verdict.tier == "routine":
            decisions.append(Decision(stage="retrieve", outcome="no_information",
                                      reason=f"best similarity {retrieved.best_similarity:.2f} below the floor"))
            return self._finish("no_information", self._prompts.render("templates", "no_information"), [],
                                query, decisions, candidates, timings, verdict)
        with _timed(timings, "retrieve"):
            asks = self._ask_retrievals(reading, options) if not weak else []
        behavior: Behavior = verdict.behavior or "answer"
        missing = not_covered(reading.named, [c.text for r in [retrieved, *asks] for c in r.chunks])
        with _timed(timings, "compose"):
            # a section's verdict is about what it covers, not about the named thing the sources never mention
            composition = self._compose(query, retrieved, decisions, options, asks, reading, on_sentence,
                                        lead=not missing) if not weak else None
        body, citations = (composition.text, composition.citations) if composition else ("", [])
        if missing and behavior == "answer":
            decisions.append(Decision(stage="compose", outcome="not_covered", reason=", ".join(missing)))
        understood = "\n\n".join(filter(None, [
            reading.mention_line(),
            self._prompts.render("templates", "not_covered", names=_listed(missing))
            if missing and behavior == "answer" else ""]))
        body = self._frame(verdict, body, understood)
        return self._finish(behavior, body, citations, query, decisions, candidates, timings, verdict)

    def _guarded_help(self, verdict: Triage, turns: History, options: AskOptions,
                      timings: dict[str, float]) -> Answer:
        """A clarifying question or a dosing refusal, with the few cited facts that help meanwhile: general
        background for a vague question, the risks the sources name for the medicine asked about."""
        assert verdict.behavior in ("clarify", "refuse_dosing")
        if verdict.behavior == "clarify":
            head = self._prompts.render("templates", "clarify", asks=verdict.asks, **verdict.subject.wording())
            lead = self._prompts.render("templates", "clarify_general_lead_in")
        else:
            head = self._prompts.render("templates", "refuse_dosing", reason="")
            lead = self._prompts.render("templates", "dosing_facts_lead_in")
        query = build_query(verdict.question, turns)
        if verdict.behavior == "refuse_dosing":
            query = dosing_topic(verdict.question) or query
        worth_retrieving = len(content_words(verdict.question)) >= 2
        citations: list[Citation] = []
        candidates: list[Candidate] = []
        body = head
        if worth_retrieving:
            with _timed(timings, "embed"):
                vector = self._retriever.embed(query)
            with _timed(timings, "retrieve"):
                retrieved = self._retriever.retrieve(query, k=options.top_k, vector=vector, where=options.where)
            candidates = _candidates(retrieved)
            if retrieved.best_similarity >= self.settings.retrieval.min_similarity:
                with _timed(timings, "compose"):
                    facts = self._composer.compose(retrieved, skip=has_dose, max_sentences=3, lead=False)
                if facts.text:
                    citations = facts.citations
                    body = f"{head}\n\n{lead} {facts.text}" if verdict.behavior == "refuse_dosing" else \
                        f"{lead} {facts.text}\n\n{head}"
        return self._finish(verdict.behavior, body, citations, query if worth_retrieving else "",
                            list(verdict.decisions), candidates, timings, verdict)

    def ask_stream(
        self, question: str, history: object = None, options: AskOptions | None = None
    ) -> Iterator[str | Answer]:
        """Yield the answer text in pieces, then the final ``Answer`` (whose text the caller shows in the end).

        With an LLM, each sentence of the model's reply is yielded as soon as it is complete and verified (never one
        the verifier removes); the final answer adds the framing and the referral, or replaces them all when too
        few sentences survive. The extractive answer is ready at once and comes in slices of its final text.
        """
        options = options or AskOptions()
        if self._llm_composer is None or options.extractive:
            answer = self.ask(question, history, options)
            words = answer.text.split(" ")
            for i in range(0, len(words), 8):
                yield " ".join(words[i : i + 8]) + (" " if i + 8 < len(words) else "")
            yield answer
            return
        pieces: queue.Queue[str | Answer | BaseException] = queue.Queue()

        def work() -> None:
            try:
                pieces.put(self._ask(question, history, options, pieces.put))
            except BaseException as exc:  # re-raised in the caller's thread
                pieces.put(exc)

        threading.Thread(target=work, name="ask-stream", daemon=True).start()
        while True:
            piece = pieces.get()
            if isinstance(piece, BaseException):
                raise piece
            yield piece
            if isinstance(piece, Answer):
                return

    # -- helpers -------------------------------------------------------------------------------------
    def _query(self, text: str, turns: History, options: AskOptions, decisions: list[Decision]) -> str:
        """The retrieval query: an LLM-condensed follow-up when a model is configured, else the history builder."""
        if self._llm_composer is not None and not options.extractive and any(r == "user" for r, _ in turns):
            condensed, decision = self._llm_composer.condense(text, turns)
            decisions.append(decision)
            if condensed:
                return condensed
        return build_query(text, turns)

    def _ask_retrievals(self, reading: Reading, options: AskOptions) -> list[Retrieved]:
        """One retrieval per question of a long message or of one that asks several, so each question gets its
        own opening answer (a long story around it no longer decides what the answer opens with)."""
        if not reading.asks or (len(reading.asks) < 2 and not reading.long):
            return []
        vectors = self._retriever.embed_many(reading.asks)
        return [self._retriever.retrieve(ask, k=options.top_k, vector=v, where=options.where)
                for ask, v in zip(reading.asks, vectors, strict=True)]

    def _compose(
        self, query: str, retrieved: Retrieved, decisions: list[Decision], options: AskOptions,
        asks: list[Retrieved] | None = None, reading: Reading | None = None,
        on_sentence: Callable[[str], None] | None = None, lead: bool = True,
    ) -> Composition:
        """The LLM composer when one is configured (it falls back to extractive by itself), else extractive; both
        are given the message's asks."""
        if self._llm_composer is None or options.extractive:
            return self._composer.compose(retrieved, asks=asks or (), lead=lead)
        composition = self._llm_composer.compose(query, retrieved, reading=reading, asks=asks or (),
                                                 on_sentence=on_sentence)
        decisions.extend(composition.decisions)
        return composition

    def _frame(self, verdict: Triage, body: str, understood: str = "") -> str:
        if verdict.behavior == "urgent_referral":
            head = care_advice(self._prompts, verdict.findings, verdict.tier, verdict.subject)
            if body:
                lead = self._prompts.render("templates", "urgent_general_info_lead_in")
                return f"{head}\n\n{lead} {body}"
            return head
        parts: list[str] = []
        if verdict.tier == "within_days":
            parts.append(care_advice(self._prompts, verdict.findings, verdict.tier, verdict.subject))
        if verdict.refused_instruction:
            parts.append(self._prompts.render("templates", "injection_refused"))
        if verdict.off_topic_part:
            parts.append(self._prompts.render("templates", "mixed_off_topic"))
        if verdict.diagnosis_demand:
            parts.append(self._prompts.render("templates", "diagnosis_caveat"))
        if understood:
            parts.append(understood)
        if body:
            parts.append(f"{self._prompts.render('templates', 'answer_lead_in')} {body}")
        return "\n\n".join(parts)

    def _decline(self, verdict: Triage, timings: dict[str, float]) -> Answer:
        key = verdict.decline
        extra = {"part": verdict.part, "foot": verdict.foot} if key == "out_of_scope_injury" else {}
        text = self._prompts.render("templates", key, **extra)
        return self._finish("out_of_scope", text, [], "", list(verdict.decisions), [], timings, verdict)

    def _fixed(self, behavior: Behavior, text: str, reason: str, timings: dict[str, float]) -> Answer:
        return self._finish(behavior, text, [], "", [Decision(stage="input", outcome=behavior, reason=reason)],
                            [], timings)

    def _finish(
        self,
        behavior: Behavior,
        body: str,
        citations: list[Citation],
        query: str,
        decisions: list[Decision],
        candidates: list[Candidate],
        timings: dict[str, float],
        verdict: Triage | None = None,
    ) -> Answer:
        with _timed(timings, "output"):
            if has_dose(body):
                behavior, body, citations = "no_information", self._prompts.render("templates", "no_information"), []
                decisions.append(Decision(stage="output", outcome="blocked", reason="dose-like text removed"))
            body, removed = filter_output(body)
            for item in removed:
                decisions.append(Decision(stage="output", outcome="removed", reason=item))
            tier = verdict.tier if verdict else "routine"
            subject = verdict.subject if verdict else Subject("self")
            referral = referral_for(behavior, self._prompts, tier=tier, subject=subject)
        timings["total"] = round(sum(v for k, v in timings.items() if k != "total"), 2)
        return Answer(
            text=f"{body}\n\n**{referral}**",
            body=body,
            citations=citations,
            behavior=behavior,
            tier="none" if behavior == "out_of_scope" else tier,
            referral=referral,
            query=query,
            decisions=decisions,
            candidates=candidates,
            timings=timings,
        )


class _SwapGate:
    """Many answers at once, or one index reopen with no answer in flight."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and self._readers == 0)
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = round(timings.get(stage, 0.0) + (time.perf_counter() - start) * 1000, 2)


def _listed(names: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _candidates(retrieved: Retrieved) -> list[Candidate]:
    return [
        Candidate(chunk_id=c.chunk_id, doc_id=c.doc_id, section=str(c.metadata.get("section", "")),
                  score=retrieved.scores[c.chunk_id].get("fused", 0.0),
                  dense=retrieved.scores[c.chunk_id].get("dense"), bm25=retrieved.scores[c.chunk_id].get("bm25"),
                  question=retrieved.scores[c.chunk_id].get("question"),
                  doc_score=retrieved.scores[c.chunk_id].get("doc"))
        for c in retrieved.chunks
    ]

