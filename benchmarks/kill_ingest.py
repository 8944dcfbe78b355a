"""Kill -9 during ingestion at random moments, then check what is left.

    .venv/bin/python -m benchmarks.kill_ingest [--runs 20] [--seed N]

Each run starts `knee-assistant ingest` in a child process (forked from a warm server, see tests/cli_children.py) on
a small corpus, half of the runs on an empty index and half on the index of an older version of that corpus (so
updates get interrupted too), and SIGKILLs it at a random Chroma write: the moment the write starts, or within
50 ms after it ended (with a later write still to come). Then, in this process: the index must open; `index verify`
must pass or name the damage; every document must be whole (one complete version) or absent, and every stored
chunk must have its sentences; re-ingesting and `index rebuild` must both give exactly the ids and counts of a
clean run. The checks use the same embedding model, memoised per text, so they pay for the writes only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant import build_assistant, load_settings
from assistant.config import Settings
from assistant.errors import IndexNotReady
from assistant.ingest.lifecycle import rebuild_index
from assistant.providers.store import ChromaStore, forget_cached_client
from tests.cli_children import Child, start_cli

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ["imaging", "injections", "osgood-schlatter", "who-to-see", "older-runners"]
WORDS = 60  # per article: a section or two, so a run spends little time embedding
CHUNK = "knee_corpus"


# -- the corpus, before and after an edit -------------------------------------------------------------------------
def small_corpus(target: Path, names: list[str], words: int = WORDS) -> Path:
    """Copies of corpus articles cut after about ``words`` words of body (front matter kept)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        text = (ROOT / "corpus" / f"{name}.md").read_text(encoding="utf-8")
        _, front, body = text.split("---\n", 2)
        kept: list[str] = []
        for paragraph in body.strip().split("\n\n"):
            kept.append(paragraph)
            if len(" ".join(kept).split()) >= words:
                break
        (target / f"{name}.md").write_text(f"---\n{front}---\n" + "\n\n".join(kept) + "\n", encoding="utf-8")
    return target


def corpora(root: Path) -> tuple[Path, Path]:
    """(before, after): after edits one section of one article, rewrites another and adds a new one."""
    before = small_corpus(root / "before", ARTICLES[:-1])
    after = small_corpus(root / "after", ARTICLES)
    first = after / f"{ARTICLES[0]}.md"
    first.write_text(first.read_text(encoding="utf-8").rstrip() + " Runners ask about this often.\n", encoding="utf-8")
    second = after / f"{ARTICLES[1]}.md"
    head, body = second.read_text(encoding="utf-8").rsplit("---\n", 1)
    paragraphs = body.strip().split("\n\n")
    second.write_text(f"{head}---\n" + "\n\n".join([paragraphs[0], *reversed(paragraphs[1:])]) + "\n",
                      encoding="utf-8")
    return before, after


# -- the embedding model, memoised --------------------------------------------------------------------------------
class MemoEmbeddings:
    """The real model with a per-text memo: the model is deterministic, so vectors are what it would compute."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._memo: dict[str, np.ndarray] = {}
        self.name = inner.name
        self.dimension = inner.dimension

    def __getattr__(self, name: str) -> Any:  # anything else (tokenizer, limits) is the model's own
        return getattr(self._inner, name)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            self._memo.update(zip(missing, self._inner.encode(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, row)) for row in self.encode(texts)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.encode([text])[0]]


# -- what an index holds ------------------------------------------------------------------------------------------
@dataclass
class IndexState:
    chunks: dict[str, tuple[str, str]]  # chunk id -> (doc id, doc hash)
    sentences: dict[str, str]  # sentence id -> chunk id

    @classmethod
    def of(cls, store: ChromaStore) -> IndexState:
        got = store._chunks.get(include=["metadatas"])
        chunks = {i: (str(m["doc_id"]), str(m["doc_hash"])) for i, m in zip(got["ids"], got["metadatas"], strict=True)}
        got = store._sentences.get(include=["metadatas"])
        return cls(chunks, {i: str(m["chunk_id"]) for i, m in zip(got["ids"], got["metadatas"], strict=True)})

    def docs(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for chunk_id, (doc_id, _) in self.chunks.items():
            out.setdefault(doc_id, set()).add(chunk_id)
        return out

    def hashes(self, doc_id: str) -> set[str]:
        return {h for d, h in self.chunks.values() if d == doc_id}

    def summary(self) -> dict[str, int]:
        return {"documents": len(self.docs()), "chunks": len(self.chunks), "sentences": len(self.sentences)}


@dataclass
class Damage:
    """What the index holds after a kill, judged against clean indexes of both corpus versions."""

    whole: list[str] = field(default_factory=list)  # documents holding exactly one complete version
    mixed: list[str] = field(default_factory=list)  # both versions' chunks (an interrupted update)
    partial: list[str] = field(default_factory=list)  # a version with chunks missing, or chunks of no version
    chunks_without_sentences: int = 0
    orphan_sentences: int = 0


def judge(state: IndexState, versions: list[IndexState]) -> Damage:
    damage = Damage()
    need: dict[str, int] = {}
    for version in versions:  # a chunk id names its text, so both versions agree on its sentences
        need.update(Counter(version.sentences.values()))
    have = Counter(state.sentences.values())
    damage.chunks_without_sentences = sum(1 for c in state.chunks if have[c] < need.get(c, 1))
    damage.orphan_sentences = sum(n for c, n in have.items() if c not in state.chunks)
    for doc_id, present in sorted(state.docs().items()):
        wholes = [v for v in versions if (ids := v.docs().get(doc_id)) and ids <= present]
        known = set().union(*(v.docs().get(doc_id, set()) for v in versions))
        if not wholes or not present <= known:
            damage.partial.append(doc_id)
        elif any(present == v.docs()[doc_id] and state.hashes(doc_id) == v.hashes(doc_id) for v in wholes):
            damage.whole.append(doc_id)
        else:
            damage.mixed.append(doc_id)
    return damage


def unnamed(damage: Damage, problems: list[str]) -> list[str]:
    """Damage that ``verify`` failed to name."""
    text = " ".join(problems)
    out = []
    if damage.orphan_sentences and "have sentences but are missing" not in text:
        out.append(f"{damage.orphan_sentences} orphan sentences")
    if damage.chunks_without_sentences and "have no stored sentences" not in text:
        out.append(f"{damage.chunks_without_sentences} chunks without sentences")
    half = re.search(r"half-replaced document\(s\)[^:]*: (.*)", text)
    named = set(half.group(1).split(", ")) if half else set()
    out += [f"half-replaced {d}" for d in damage.mixed if d not in named]
    out += [f"partial {d}" for d in damage.partial]
    return out


# -- one run --------------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    run: int
    scenario: str  # "fresh" (empty index) or "update" (index of the older corpus)
    mode: str  # "at-start": killed as write k starts; "after-end": within 2 ms after it ended
    kill_at: int
    writes: int  # writes of an uninterrupted run of the same scenario
    exit_code: int | None
    in_write: bool  # write k had not reported its end when the child died
    opened: bool
    open_error: str
    verify: list[str]
    whole: int
    absent: int
    mixed: list[str]
    partial: list[str]
    chunks_without_sentences: int
    orphan_sentences: int
    unnamed_damage: list[str]
    reingest: dict[str, int]
    reingest_same: bool
    reingest_verify: list[str]
    rebuild: dict[str, int]
    rebuild_same: bool
    rebuild_verify: list[str]
    seconds: float


@dataclass
class Plan:
    run: int
    scenario: str
    mode: str
    kill_at: int
    delay_s: float
    data: Path


class Bench:
    """The corpora, their clean indexes and the runs' working folders under ``root``."""

    def __init__(self, root: Path, embeddings: Any) -> None:
        self.root = root
        self.embeddings = MemoEmbeddings(embeddings)
        self.before, self.after = corpora(root / "corpus")
        self.old_index = root / "clean-before"
        self.clean_before, _ = self._ingest(self.old_index, self.before)
        self.writes: dict[str, int] = {}
        self.clean_after_state, self.writes["fresh"] = self._ingest(root / "clean-after", self.after)
        update = root / "clean-update"
        shutil.copytree(self.old_index, update)
        state, self.writes["update"] = self._ingest(update, self.after)
        assert state == self.clean_after_state, "updating the older index must give the clean index"

    def settings(self, data: Path) -> Settings:
        return load_settings(paths={"data_dir": data, "corpus_dir": self.after, "prompts_dir": ROOT / "prompts"})

    def _ingest(self, data: Path, corpus: Path) -> tuple[IndexState, int]:
        with _counting_writes() as writes:
            bot = build_assistant(self.settings(data), embeddings=self.embeddings)  # type: ignore[arg-type]
            report = bot.ingest([corpus])
        assert report.ok and not report.quarantined, report
        state = IndexState.of(bot._store)
        _close(bot._store)
        return state, writes[0]

    def plan(self, run: int, rng: random.Random) -> Plan:
        scenario = "fresh" if run % 2 == 0 else "update"
        mode = "at-start" if run % 4 < 2 else "after-end"
        data = self.root / f"run-{run:02d}" / "data"
        if scenario == "update":
            shutil.copytree(self.old_index, data)
        # "after-end" needs a later write, or the child may finish before the kill
        kill_at = rng.randint(1, self.writes[scenario] - (mode == "after-end"))
        # Batched ingestion makes few, large writes, so the gap after a write is short: kill within 2 ms of its end.
        delay = rng.uniform(0, 0.005) if mode == "at-start" else rng.uniform(0, 0.002)
        return Plan(run, scenario, mode, kill_at, delay, data)

    def start(self, plan: Plan) -> Child:
        argv = ["ingest", str(self.after), "--data-dir", str(plan.data)]
        return start_cli(argv, plan.data.parent / "child", report=True)

    def kill(self, plan: Plan, child: Child) -> tuple[int | None, bool]:
        """SIGKILL the child at its planned write; (exit code, whether a write had started and not ended)."""
        seen, open_write = 0, False
        while (event := child.next_event(180)) is not None:
            if event[0] == "write":
                open_write = event[1] == "start"
                seen += event[1] == "start"
                if seen == plan.kill_at:
                    break
        else:
            stdout, stderr = child.output()
            raise AssertionError(f"run {plan.run}: the child ended before write {plan.kill_at}:\n{stdout}{stderr}")
        if plan.mode == "after-end":
            open_write = child.wait_for(lambda e: e[:2] == ("write", "end"), 60) is None
        time.sleep(plan.delay_s)
        child.kill()
        while (event := child.next_event(5)) is not None:  # what it managed to report before it died
            if event[0] == "write":
                open_write = event[1] == "start"
        return child.result(30).code, open_write

    def check(self, plan: Plan, exit_code: int | None, in_write: bool, started: float) -> Outcome:
        data, spare = plan.data, plan.data.with_name("rebuilt")
        shutil.copytree(data, spare)
        versions = [self.clean_before, self.clean_after_state] if plan.scenario == "update" \
            else [self.clean_after_state]
        opened, error, problems, damage = True, "", [], Damage()
        reingest: dict[str, int] = {}
        reingest_same, reingest_verify = False, ["not run"]
        try:
            bot = build_assistant(self.settings(data), embeddings=self.embeddings)  # type: ignore[arg-type]
        except IndexNotReady as exc:
            opened, error = False, str(exc)
        else:
            problems = bot.verify_index()
            damage = judge(IndexState.of(bot._store), versions)
            report = bot.ingest([self.after])
            state = IndexState.of(bot._store)
            reingest, reingest_same = state.summary(), report.ok and state == self.clean_after_state
            reingest_verify = bot.verify_index()
            _close(bot._store)
        rebuild_index(self.settings(spare), self.embeddings, [self.after])  # type: ignore[arg-type]
        store = ChromaStore(spare / "chroma", CHUNK, self.embeddings)
        rebuilt = IndexState.of(store)
        rebuild_verify = store.verify()
        _close(store)
        absent = len(self.clean_after_state.docs()) - len(damage.whole) - len(damage.mixed) - len(damage.partial)
        return Outcome(
            run=plan.run, scenario=plan.scenario, mode=plan.mode, kill_at=plan.kill_at,
            writes=self.writes[plan.scenario], exit_code=exit_code, in_write=in_write, opened=opened,
            open_error=error, verify=problems, whole=len(damage.whole), absent=absent, mixed=damage.mixed,
            partial=damage.partial, chunks_without_sentences=damage.chunks_without_sentences,
            orphan_sentences=damage.orphan_sentences, unnamed_damage=unnamed(damage, problems),
            reingest=reingest, reingest_same=reingest_same, reingest_verify=reingest_verify,
            rebuild=rebuilt.summary(), rebuild_same=rebuilt == self.clean_after_state, rebuild_verify=rebuild_verify,
            seconds=round(time.monotonic() - started, 1),
        )


def run_all(embeddings: Any, runs: int, seed: int, root: Path | None = None) -> list[Outcome]:
    """``runs`` kill runs; the next child starts while this process checks the previous run."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="kill-ingest-") as tmp:
        bench = Bench(root or Path(tmp), embeddings)
        plans = [bench.plan(i, rng) for i in range(runs)]
        outcomes: list[Outcome] = []
        child, started = bench.start(plans[0]), time.monotonic()
        for i, plan in enumerate(plans):
            exit_code, in_write = bench.kill(plan, child)
            this_started = started
            if i + 1 < runs:
                child, started = bench.start(plans[i + 1]), time.monotonic()
            outcomes.append(bench.check(plan, exit_code, in_write, this_started))
    return outcomes


# -- helpers --------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _counting_writes() -> Iterator[list[int]]:
    from chromadb.api.models.Collection import Collection

    count = [0]
    originals = {name: getattr(Collection, name) for name in ("add", "upsert", "update", "delete")}

    def counted(original: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            count[0] += 1
            return original(self, *args, **kwargs)

        return call

    for name, original in originals.items():
        setattr(Collection, name, counted(original))
    try:
        yield count
    finally:
        for name, original in originals.items():
            setattr(Collection, name, original)


def _close(store: ChromaStore) -> None:
    store.close()
    forget_cached_client(store.directory)


def table(outcomes: list[Outcome]) -> str:
    rows = ["run  scenario  kill at      in-write  opens  verify                  whole/absent/mixed  re-ingest  "
            "rebuild  s"]
    for o in outcomes:
        verify = "ok" if not o.verify else "; ".join(p.split(" (")[0][:40] for p in o.verify)[:22]
        rows.append(
            f"{o.run:>3}  {o.scenario:<8}  {o.mode[:5]} {o.kill_at:>2}/{o.writes:<2}  "
            f"{'yes' if o.in_write else 'no':<8}  "
            f"{'yes' if o.opened else 'NO':<5}  {verify:<22}  {o.whole}/{o.absent}/{len(o.mixed):<14}  "
            f"{'same' if o.reingest_same else 'DIFF':<9}  {'same' if o.rebuild_same else 'DIFF':<7}  {o.seconds}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> list[Outcome]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None, help="Random seed of the kill moments (default: random).")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "kill_ingest.json")
    args = parser.parse_args(argv)
    from assistant.config import EmbeddingSettings
    from assistant.container import quiet_third_parties
    from assistant.providers.embeddings import LocalEmbeddings

    quiet_third_parties()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    start = time.monotonic()
    outcomes = run_all(LocalEmbeddings(EmbeddingSettings()), args.runs, seed)
    print(table(outcomes))
    bad = [o.run for o in outcomes if failures(o)]
    print(f"seed {seed}: {len(outcomes)} runs in {time.monotonic() - start:.0f} s; "
          f"{sum(o.in_write for o in outcomes)} killed inside a write; "
          f"{sum(bool(o.verify) for o in outcomes)} left damage that verify named; "
          f"{'all recovered' if not bad else f'FAILED runs: {bad}'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"seed": seed, "runs": [asdict(o) for o in outcomes]}, indent=2), encoding="utf-8")
    return outcomes


def failures(o: Outcome) -> list[str]:
    """Everything wrong with one run (empty: the run passed)."""
    out = []
    if o.exit_code != -9:
        out.append(f"the child was not killed during ingestion (exit code {o.exit_code})")
    if not o.opened:
        out.append(f"the index did not open: {o.open_error}")
    if o.partial or o.chunks_without_sentences:
        out.append(f"partial documents {o.partial}, {o.chunks_without_sentences} chunks without sentences")
    if o.unnamed_damage:
        out.append(f"verify did not name: {o.unnamed_damage} (verify said {o.verify})")
    if not o.reingest_same or o.reingest_verify:
        out.append(f"re-ingest gave {o.reingest}, verify {o.reingest_verify}")
    if not o.rebuild_same or o.rebuild_verify:
        out.append(f"rebuild gave {o.rebuild}, verify {o.rebuild_verify}")
    return out


if __name__ == "__main__":
    main()
