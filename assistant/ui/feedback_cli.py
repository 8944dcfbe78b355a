"""``knee-assistant feedback export --as-suite FILE.yaml`` and ``feedback list``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from assistant.config import load_settings

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where feedback.sqlite3 lives (default .knee-data).")]


def register(app: typer.Typer) -> None:
    """Add the ``feedback`` command group to the main CLI."""
    group = typer.Typer(help="Runner feedback and staff corrections.", no_args_is_help=True)
    group.command("export")(export)
    group.command("list")(list_entries)
    app.add_typer(group, name="feedback")


def _store(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from assistant.ui.feedback import FeedbackStore

    return FeedbackStore.in_data_dir(data_dir or load_settings().paths.data_dir)


def export(
    as_suite: Annotated[Path, typer.Option("--as-suite", help="Suite YAML file to write (evals/suites format).")],
    name: Annotated[str, typer.Option(help="Suite name written into the file.")] = "feedback",
    include_unreviewed: Annotated[
        bool, typer.Option("--include-unreviewed", help="Also export thumbs-up answers staff have not reviewed.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Turn reviewed feedback entries into eval cases (id, category, question, expected_behavior, must_mention)."""
    from assistant.ui.feedback import export_suite

    count = export_suite(_store(data_dir), as_suite, name=name, include_unreviewed=include_unreviewed)
    if count == 0:
        typer.echo("no reviewed feedback entries to export; nothing written", err=True)
        raise typer.Exit(1)
    typer.echo(f"wrote {count} cases to {as_suite}")


def list_entries(
    limit: Annotated[int, typer.Option(help="Newest entries to show.")] = 20,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Show the newest feedback entries (rating, behaviour, whether staff reviewed them)."""
    entries = _store(data_dir).entries(limit)
    if as_json:
        typer.echo(json.dumps([e.model_dump() for e in entries], indent=2))
        return
    for e in entries:
        mark = "reviewed" if e.reviewed else "open"
        typer.echo(f"{e.id:5d}  {e.rating:5s}  {e.behavior:16s}  {mark:8s}  {e.question[:60]}")
