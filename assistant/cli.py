"""Command line: ingest, ask, chat, serve, index, eval. Each command is a thin call into the service."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from assistant.config import Settings, load_settings
from assistant.errors import AssistantError

app = typer.Typer(help="Runner's Knee Assistant: cited, guarded answers about runners' knee pain.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
index_app = typer.Typer(help="Inspect the index.", no_args_is_help=True)
app.add_typer(index_app, name="index")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the index lives (default .knee-data).")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _settings(data_dir: Path | None) -> Settings:
    settings = load_settings()
    if data_dir is not None:
        settings.paths.data_dir = data_dir
    return settings


def _assistant(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from assistant.container import build_assistant

    return build_assistant(_settings(data_dir))


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (default: corpus/).")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Remove indexed documents whose file is gone.")] = False,
    if_stale: Annotated[bool, typer.Option("--if-stale", help="Quiet when nothing changed.")] = False,
    data_dir: DataDir = None,
    as_json: JsonOut = False,
) -> None:
    """Add, update (and with --prune remove) documents in the index; unchanged files cost nothing."""
    from tqdm import tqdm

    bot = _assistant(data_dir)
    targets = paths or [bot.settings.paths.corpus_dir]
    report = bot.ingest(targets, prune=prune,
                        progress=lambda files: tqdm(files, desc="ingest", unit="file", disable=as_json))
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    elif not (if_stale and not (report.added or report.updated or report.removed or report.failed)):
        typer.echo(
            f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
            f"removed {len(report.removed)}, failed {len(report.failed)}; {report.chunks_written} chunks written"
        )
        for path, reason in report.failed.items():
            typer.echo(f"  failed: {path}: {reason}", err=True)
        if report.missing:
            typer.echo(f"  no longer on disk (use --prune to remove): {', '.join(report.missing)}", err=True)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question to answer.")],
    data_dir: DataDir = None,
    as_json: JsonOut = False,
) -> None:
    """Answer one question with citations."""
    answer = _assistant(data_dir).ask(question)
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    typer.echo(answer.text)
    for c in answer.citations:
        typer.echo(f"  [{c.n}] {c.title} - {c.section}")


@app.command()
def chat(data_dir: DataDir = None) -> None:
    """Talk in the terminal; the conversation is kept as history. Empty line or Ctrl-D ends it."""
    bot = _assistant(data_dir)
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

    bot = _assistant(data_dir)
    launch(bot, host=host or bot.settings.ui.host, port=port or bot.settings.ui.port)


@index_app.command("status")
def index_status(data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Documents and chunks in the index, and the versions it was built with."""
    status = _assistant(data_dir).index_status()
    if as_json:
        typer.echo(json.dumps(status, indent=2))
    else:
        typer.echo(f"{status['documents']} documents, {status['chunks']} chunks in {status['data_dir']}")


def main() -> None:
    """Entry point: turns project errors into one clear line and a non-zero exit."""
    try:
        app()
    except AssistantError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
