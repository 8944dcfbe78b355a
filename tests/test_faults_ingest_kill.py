"""Kill -9 during ingestion, ten times at random Chroma writes (``benchmarks/kill_ingest.py`` does twenty).

After each kill: the index opens; `index verify` passes or names the damage; every document is whole or absent and
every stored chunk has its sentences; re-ingesting and `index rebuild` both give exactly the ids and counts of a
clean run. The kill moments are random; a failure message carries the seed (``KNEE_KILL_SEED`` replays it).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from assistant.providers.embeddings import LocalEmbeddings
from benchmarks import kill_ingest

RUNS = 10


def test_kill_9_during_ingestion_loses_nothing_and_hides_nothing(embeddings: LocalEmbeddings,
                                                                   tmp_path: Path) -> None:
    seed = int(os.environ.get("KNEE_KILL_SEED") or random.SystemRandom().randrange(10**6))
    outcomes = kill_ingest.run_all(embeddings, RUNS, seed, root=tmp_path)
    table = kill_ingest.table(outcomes)
    print(f"seed {seed}\n{table}")
    failed = {o.run: kill_ingest.failures(o) for o in outcomes if kill_ingest.failures(o)}
    assert not failed, f"seed {seed}: {failed}\n{table}"
    assert len(outcomes) == RUNS and {o.scenario for o in outcomes} == {"fresh", "update"}
    assert all(o.exit_code == -9 for o in outcomes)
    assert any(o.in_write for o in outcomes), f"no kill cut a write short (seed {seed})\n{table}"


def test_judge_names_what_an_interrupted_update_leaves() -> None:
    """The checks themselves: a half-replaced document, orphan sentences and a partial document are all seen."""
    clean_old = kill_ingest.IndexState({"a:1": ("a", "h1"), "b:1": ("b", "h1")}, {"a:1#0": "a:1", "b:1#0": "b:1"})
    clean_new = kill_ingest.IndexState({"a:2": ("a", "h2"), "b:1": ("b", "h1")}, {"a:2#0": "a:2", "b:1#0": "b:1"})
    after_kill = kill_ingest.IndexState(
        {"a:1": ("a", "h1"), "a:2": ("a", "h2"), "c:1": ("c", "h3")},
        {"a:1#0": "a:1", "a:2#0": "a:2", "b:1#0": "b:1", "c:1#0": "c:1"},
    )
    damage = kill_ingest.judge(after_kill, [clean_old, clean_new])
    assert damage.mixed == ["a"] and damage.partial == ["c"] and damage.orphan_sentences == 1
    assert kill_ingest.unnamed(damage, ["1 chunk(s) have sentences but are missing from the index",
                                        "half-replaced document(s) (an interrupted update): a"]) == ["partial c"]
    assert kill_ingest.unnamed(damage, []) == ["1 orphan sentences", "half-replaced a", "partial c"]
    whole = kill_ingest.judge(clean_new, [clean_old, clean_new])
    assert (whole.whole, whole.mixed, whole.partial, whole.orphan_sentences) == (["a", "b"], [], [], 0)
