"""Command line: ingest, ask, chat, serve, index, eval. Each command is a thin call into the service."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assistant.config import Settings, load_settings
from assistant.errors import AssistantError, InputError
from assistant.evaluation.cli import register as register_eval
from assistant.schema import AskOptions, FilterValue, IngestReport
from assistant.ui.feedback_cli import register as register_feedback

if TYPE_CHECKING:
    from assistant.ingest.backup import Meter
    from assistant.providers.embeddings import LocalEmbeddings

app = typer.Typer(help="Runner's Knee Assistant: cited, guarded answers about runners' knee pain.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
index_app = typer.Typer(help="Inspect, verify, rebuild, back up and restore the index.", no_args_is_help=True)
app.add_typer(index_app, name="index")
register_eval(app)
register_feedback(app)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the index lives (default .knee-data).")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _settings(data_dir: Path | None) -> Settings:
    from assistant.startup import check_data_dir

    settings = load_settings()
    if data_dir is not None:
        settings.paths.data_dir = data_dir.expanduser().absolute()
    check_data_dir(settings)
    return settings


def _assistant(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from assistant.container import build_assistant

    return build_assistant(_settings(data_dir))


def _serving_assistant(data_dir: Path | None, need_documents: bool = True,  # type: ignore[no-untyped-def]
                       announce: str = ""):
    """The assistant over an existing index; a missing or empty one is refused with the fix (nothing created).

    ``announce`` is said (on stderr) once the quick checks pass, before the slow part: loading the model and index.
    """
    from assistant.container import build_assistant
    from assistant.startup import require_documents, require_index

    settings = _settings(data_dir)
    require_index(settings)
    if announce:
        typer.echo(announce, err=True)
    bot = build_assistant(settings)
    if need_documents:
        require_documents(bot.index_status()["chunks"], settings)  # type: ignore[arg-type]
    bot.prepare()
    return bot


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (default: corpus/).")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Remove indexed documents whose file is gone.")] = False,
    allow_flagged: Annotated[
        bool, typer.Option("--allow-flagged", help="Index chunks the injection scan flagged (after review).")
    ] = False,
    if_stale: Annotated[bool, typer.Option("--if-stale", help="Quiet when nothing changed.")] = False,
    data_dir: DataDir = None,
    as_json: JsonOut = False,
) -> None:
    """Add, update (and with --prune remove) documents in the index; unchanged files cost nothing."""
    from tqdm import tqdm

    bot = _assistant(data_dir)
    targets = paths or [bot.settings.paths.corpus_dir]
    report = bot.ingest(targets, prune=prune, allow_flagged=allow_flagged,
                        progress=lambda files: tqdm(files, desc="ingest", unit="file", disable=as_json))
    bot.prepare()  # the scope router is trained here, at build time, so the first question is not kept waiting
    changed = report.added or report.updated or report.removed or report.failed or report.quarantined
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    elif changed or not if_stale:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: IngestReport) -> None:
    typer.echo(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"pruned {len(report.removed)}, failed {len(report.failed)}, quarantined {len(report.quarantined)}; "
        f"{report.chunks_written} chunks written in {report.seconds:.1f} s"
    )
    for path, reason in report.failed.items():
        typer.echo(f"  failed: {path}: {reason}", err=True)
    for doc_id, reasons in report.quarantined.items():
        typer.echo(f"  quarantined: {doc_id}: {'; '.join(reasons)}", err=True)
    for doc_id, why in report.dropped.items():
        typer.echo(f"  dropped: {doc_id}: {why}", err=True)
    if report.missing:
        typer.echo(f"  no longer on disk (use --prune to remove): {', '.join(report.missing)}", err=True)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question to answer.")],
    data_dir: DataDir = None,
    as_json: JsonOut = False,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, max=50, help="Chunks given to the composer.")] = None,
    where: Annotated[
        list[str] | None,
        typer.Option("--where", help="Metadata filter KEY=VALUE (repeatable), e.g. --where doc_id=it-band-syndrome."),
    ] = None,
    extractive: Annotated[bool, typer.Option("--extractive", help="Skip a configured LLM for this answer.")] = False,
) -> None:
    """Answer one question with citations."""
    options = AskOptions(top_k=top_k, where=_filters(where or []), extractive=extractive)
    answer = _serving_assistant(data_dir).ask(question, options=options)
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    typer.echo(answer.text)
    for c in answer.citations:
        typer.echo(f"  [{c.n}] {c.title} - {c.section}")


def _filters(pairs: list[str]) -> dict[str, FilterValue]:
    """``KEY=VALUE`` pairs as metadata filters; whole numbers compare as numbers (``year=2024``)."""
    out: dict[str, FilterValue] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--where expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else value.strip()
    return out


@app.command()
def chat(data_dir: DataDir = None) -> None:
    """Talk in the terminal; the conversation is kept as history. Empty line or Ctrl-D ends it."""
    bot = _serving_assistant(data_dir)
    history: list[tuple[str, str]] = []
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            break
        if not question:
            break
        answer = bot.ask(question, history=history)
        typer.echo(f"\n{answer.text}\n")
        for c in answer.citations:
            typer.echo(f"  [{c.n}] {c.title} - {c.section}")
        history += [("user", question), ("assistant", answer.body)]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 7860).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Serve the Gradio chat."""
    from assistant.ui.app import launch

    bot = _serving_assistant(data_dir, announce="starting: loading the embedding model and the index (this takes a few "
                                                "seconds)")
    where = bot.settings.store.url or bot.settings.paths.data_dir
    typer.echo(f"serving the index in {where} ({bot.index_status()['documents']} documents)", err=True)
    launch(bot, host=host or bot.settings.ui.host, port=port or bot.settings.ui.port)


@index_app.command("status")
def index_status(data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Documents and chunks in the index, the embedding model, and the last ingestion."""
    status = _serving_assistant(data_dir, need_documents=False).index_status()
    if as_json:
        typer.echo(json.dumps(status, indent=2))
        return
    typer.echo(f"{status['documents']} documents, {status['chunks']} chunks in {status['data_dir']}")
    typer.echo(f"embedding model: {status['embedding_model']} ({status['dimension']} dimensions)")
    typer.echo(f"last ingest: {status['last_ingest'] or 'never'}")


@index_app.command("verify")
def index_verify(data_dir: DataDir = None) -> None:
    """Check the index opens, is internally consistent and matches this install; exit 1 on any problem."""
    bot = _serving_assistant(data_dir, need_documents=False)
    problems = bot.verify_index()
    for problem in problems:
        typer.echo(f"problem: {problem}", err=True)
    if any("knee-assistant ingest" not in p for p in problems):
        typer.echo("run `knee-assistant ingest --prune FOLDERS` to repair the Chroma server's index" if
                   bot.settings.store.url else "run `knee-assistant index rebuild` to rebuild the index from its files",
                   err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("index OK")


@index_app.command("rebuild")
def index_rebuild(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (default: corpus/ and the staff uploads folder).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Build a fresh index beside the current one, then swap it in (the old one is never opened)."""
    from tqdm import tqdm

    from assistant.container import quiet_third_parties
    from assistant.ingest.lifecycle import rebuild_index
    from assistant.providers.embeddings import LocalEmbeddings

    quiet_third_parties()
    settings = _settings(data_dir)
    report = rebuild_index(settings, LocalEmbeddings(settings.embeddings), paths or None,
                           progress=lambda files: tqdm(files, desc="rebuild", unit="file"))
    _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


@index_app.command("export")
def index_export(
    file: Annotated[Path, typer.Argument(help="The JSON Lines file to write (replaced when it exists).")],
    data_dir: DataDir = None,
) -> None:
    """Back up the whole index (chunks, sentences and their vectors) to one JSON Lines file."""
    from assistant.ingest.backup import export_index

    settings, embeddings = _index_tools(data_dir)
    header = export_index(settings, embeddings, file, meters=_meter)
    counts = header["counts"]
    typer.echo(f"exported {counts['documents']} documents, {counts['chunks']} chunks, "
               f"{counts['sentences']} sentences to {file}")


@index_app.command("import")
def index_import(
    file: Annotated[Path, typer.Argument(help="A backup written by `index export`.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace an index that already holds chunks.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Restore an index from a backup: built and verified beside the current index, then swapped in."""
    from assistant.ingest.backup import import_index

    settings, embeddings = _index_tools(data_dir)
    header = import_index(settings, embeddings, file, replace=replace, meters=_meter)
    counts = header["counts"]
    typer.echo(f"imported {counts['documents']} documents, {counts['chunks']} chunks, "
               f"{counts['sentences']} sentences from {file} (backup of {header['created_at']})")


def _index_tools(data_dir: Path | None) -> tuple[Settings, LocalEmbeddings]:
    """Settings and the embedding model, without building a whole assistant on an index about to change."""
    from assistant.container import quiet_third_parties
    from assistant.providers.embeddings import LocalEmbeddings

    quiet_third_parties()
    settings = _settings(data_dir)
    return settings, LocalEmbeddings(settings.embeddings)


def _meter(total: int, label: str) -> Meter:
    from tqdm import tqdm

    bar: Meter = tqdm(total=total, desc=label, unit="chunk")  # on stderr, like ingest's
    return bar


privacy_app = typer.Typer(help="Stored transcripts (only when privacy.store_transcripts is on).",
                          no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")


@privacy_app.command("purge")
def privacy_purge(
    older_than: Annotated[str, typer.Option("--older-than", help="Age like 30d, 12h or 45m.")] = "30d",
    data_dir: DataDir = None,
) -> None:
    """Delete stored transcripts older than the given age."""
    from assistant.errors import InputError
    from assistant.safety.privacy import TranscriptStore, parse_age

    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    path = _settings(data_dir).paths.data_dir / "transcripts.sqlite3"
    removed = TranscriptStore(path).purge(age) if path.exists() else 0
    typer.echo(f"removed {removed} transcript(s) older than {older_than}")


staff_app = typer.Typer(help="Staff console accounts.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")


@app.command("router-check")
def router_check(folds: Annotated[int, typer.Option(help="Folds of the cross-validation.")] = 5) -> None:
    """Held-out figures of the scope router on its labelled messages (assistant/safety/router_data/)."""
    from assistant.providers.embeddings import LocalEmbeddings
    from assistant.safety.router import MIN_KNEE, cross_validate

    figures = cross_validate(LocalEmbeddings(load_settings().embeddings), folds=folds)
    typer.echo(f"{int(figures['messages'])} messages, {folds}-fold, knee threshold {MIN_KNEE}:")
    for name in ("knee_kept", "declined", "accuracy"):
        typer.echo(f"  {name:<10} {figures[name]:.1%}")


@staff_app.command("hash-password")
def staff_hash_password() -> None:
    """Read a password (typed twice, not echoed; or one line on standard input) and print its bcrypt hash.

    Put the hash in knee.toml as ui.staff_password_hash (or ui.staff_accounts.NAME), or in KNEE_UI__STAFF_PASSWORD_HASH.
    """
    import getpass

    from assistant.errors import InputError
    from assistant.ui.staff_auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Staff password: ")
        if getpass.getpass("Again: ") != password:
            raise InputError("the two passwords differ; nothing was hashed")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    typer.echo(hash_password(password))


def main() -> None:
    """Entry point: turns project errors into one clear line and a non-zero exit."""
    try:
        app()
    except AssistantError as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)  # one line, whatever the message carries
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
