"""Index backup: export to JSON Lines, import beside the index and swap; bad backups leave the index untouched."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from assistant import Assistant, Settings, build_assistant
from assistant.cli import main
from assistant.errors import IndexBusy, InputError
from assistant.ingest.backup import export_index, import_index
from assistant.providers.embeddings import LocalEmbeddings
from tests.conftest import make_settings

QUESTION = "what helps kneecap pain?"


def _ids(bot: Assistant) -> list[str]:
    return sorted(c.chunk_id for c in bot._store.all_chunks())


def _cli(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", ["knee-assistant", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture
def backup(assistant: Assistant, settings: Settings, embeddings: LocalEmbeddings, tmp_path: Path) -> Path:
    target = tmp_path / "backup" / "index.jsonl"
    export_index(settings, embeddings, target)
    return target


@pytest.fixture
def other(tmp_path: Path, articles: Path) -> Settings:
    """Settings of a second data dir (nothing indexed yet)."""
    return make_settings(tmp_path / "other-data", articles)


def _rewrite(path: Path, number: int, edit: object) -> Path:
    """A copy of the backup with line ``number`` (1-based) replaced by ``edit(line)``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[number - 1] = edit(lines[number - 1])  # type: ignore[operator]
    copy = path.with_name(f"edited-{number}.jsonl")
    copy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return copy


def test_round_trip_keeps_ids_counts_vectors_and_answers(
    assistant: Assistant, backup: Path, other: Settings, embeddings: LocalEmbeddings
) -> None:
    header = json.loads(backup.read_text(encoding="utf-8").splitlines()[0])
    assert header["embedding_model"] == embeddings.name and header["dimension"] == 384
    assert header["counts"]["chunks"] == assistant.index_status()["chunks"]
    assert not list(backup.parent.glob("*.part")), "no partial file is left behind"

    import_index(other, embeddings, backup)
    restored = build_assistant(other, embeddings=embeddings)
    assert restored.verify_index() == []
    assert _ids(restored) == _ids(assistant)
    before, after = assistant.index_status(), restored.index_status()
    assert (after["documents"], after["chunks"]) == (before["documents"], before["chunks"])
    ids = _ids(assistant)
    old, new = assistant._store.sentences(ids), restored._store.sentences(ids)
    assert sorted(zip(old.chunk_ids, old.positions, old.starts, strict=True)) == sorted(
        zip(new.chunk_ids, new.positions, new.starts, strict=True))
    # Exact in the file; Chroma re-normalises vectors of a cosine collection as it stores them (last bit only).
    assert np.allclose(old.vectors[np.lexsort((old.positions, old.chunk_ids))],
                       new.vectors[np.lexsort((new.positions, new.chunk_ids))], rtol=0, atol=1e-6)
    a, b = assistant.ask(QUESTION), restored.ask(QUESTION)
    assert b.citations and (a.citations[0].doc_id, a.citations[0].quote) == (b.citations[0].doc_id,
                                                                           b.citations[0].quote)
    assert a.text == b.text


def test_backup_of_another_model_is_refused_naming_both(
    backup: Path, other: Settings, embeddings: LocalEmbeddings
) -> None:
    def other_model(line: str) -> str:
        header = json.loads(line)
        return json.dumps({**header, "embedding_model": "e5-small", "dimension": 768})

    with pytest.raises(InputError, match=r"embedded with e5-small \(768 dimensions\).*all-MiniLM-L6-v2.*\(384"):
        import_index(other, embeddings, _rewrite(backup, 1, other_model))
    assert not (other.paths.data_dir / "chroma").exists()
    assert not (other.paths.data_dir / "chroma.import").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda line: line[: len(line) // 2], "line 3: .*JSON"),
        (lambda line: json.dumps({**json.loads(line), "embedding": "AAAA"}), "line 3: embedding is 3 bytes, not 384"),
        (lambda line: json.dumps({**json.loads(line), "text": "changed"}), "line 3: sentence 0 does not match"),
    ],
    ids=["cut-json", "short-vector", "offsets"],
)
def test_malformed_line_is_refused_with_its_number_and_the_index_untouched(
    assistant: Assistant, backup: Path, settings: Settings, embeddings: LocalEmbeddings, edit: object, message: str
) -> None:
    before = _ids(assistant)
    with pytest.raises(InputError, match=message):
        import_index(settings, embeddings, _rewrite(backup, 3, edit), replace=True)
    assert not (settings.paths.data_dir / "chroma.import").exists()
    again = build_assistant(settings, embeddings=embeddings)
    assert _ids(again) == before and again.verify_index() == []


def test_cut_off_backup_is_refused(backup: Path, other: Settings, embeddings: LocalEmbeddings) -> None:
    short = backup.with_name("short.jsonl")
    short.write_text("".join(backup.read_text(encoding="utf-8").splitlines(keepends=True)[:-1]), encoding="utf-8")
    with pytest.raises(InputError, match="a cut-off file"):
        import_index(other, embeddings, short)
    assert not (other.paths.data_dir / "chroma").exists()


def test_import_waits_for_the_writer_lock(backup: Path, other: Settings, embeddings: LocalEmbeddings) -> None:
    other.paths.data_dir.mkdir(parents=True)
    with FileLock(str(other.paths.data_dir / "index.lock")), pytest.raises(IndexBusy):
        import_index(other, embeddings, backup)


def test_cli_exit_codes(
    assistant: Assistant, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data, file = str(settings.paths.data_dir), str(tmp_path / "cli.jsonl")
    assert _cli(["index", "export", file, "--data-dir", data], monkeypatch) == 0
    assert "exported 3 documents" in capsys.readouterr().out

    assert _cli(["index", "import", file, "--data-dir", data], monkeypatch) == 2
    assert "add --replace" in capsys.readouterr().err
    assert _cli(["index", "import", file, "--data-dir", data, "--replace"], monkeypatch) == 0
    assert "imported 3 documents" in capsys.readouterr().out
    assert _cli(["index", "verify", "--data-dir", data], monkeypatch) == 0

    lines = Path(file).read_text(encoding="utf-8").splitlines(keepends=True)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("".join(lines) + "{not json\n", encoding="utf-8")
    assert _cli(["index", "import", str(broken), "--data-dir", data, "--replace"], monkeypatch) == 2
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and f"line {len(lines) + 1}: Invalid JSON" in errors[0], errors
