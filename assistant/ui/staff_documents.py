"""The staff *Documents* tab: upload and ingest files, list and delete documents, verify the index.

Uploads are kept under ``<data_dir>/uploads/`` with their original names; a name or document id that is already
taken is refused (never overwritten), and a file whose ingestion failed is removed again so it can be fixed and
re-uploaded. The logic is plain functions over ``Assistant`` (tests call them without Gradio).
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.rag.service import Assistant
from assistant.schema import IngestReport
from assistant.ui.staff_ask import filter_choices
from assistant.ui.staff_common import PRIVATE, require_staff, shown_as_message

ACCEPTED = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")
DOCUMENT_HEADERS = ["doc id", "title", "kind", "evidence", "chunks", "file"]
DELETE_NOTE = ("Deleting removes the document's chunks from the index. An uploaded document's file is deleted "
               "too. A corpus document's file stays in its folder, so the next ingest of that folder (e.g. "
               "`knee-assistant ingest`) adds it back: remove the file as well to keep it out.")
FileProgress = Callable[[Iterable[Path]], Iterable[Path]]


@dataclass
class UploadResult:
    """What one upload did: files refused before ingestion, and the ingestion report of the rest."""

    refused: dict[str, str] = field(default_factory=dict)
    report: IngestReport | None = None
    removed_again: list[str] = field(default_factory=list)


def uploads_dir(assistant: Assistant) -> Path:
    return assistant.settings.paths.uploads_dir


def upload_doc_id(name: str) -> str:
    """The document id ingestion gives a file (the slug of its stem; front matter must use the same id)."""
    return re.sub(r"[^a-z0-9]+", "-", Path(name).stem.lower()).strip("-") or "document"


def _megabytes(size: float) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _refusal(source: Path, target: Path, taken: dict[str, str], max_bytes: int) -> str | None:
    """Why this file is not accepted, or None."""
    name = source.name
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Co", "Cs"} for ch in name):
        return "the file name holds control or text-direction characters; rename the file"
    if source.suffix.lower() not in ACCEPTED:
        return f"unsupported file type '{source.suffix or name}' (accepted: {', '.join(ACCEPTED)})"
    if name.startswith(".") or name.lower() == "readme.md":
        return "ingestion skips hidden files and README.md; rename the file"
    size = source.stat().st_size
    if size > max_bytes:
        return f"file is {_megabytes(size)}, over the {_megabytes(max_bytes)} upload limit (ingest.max_mb)"
    if target.exists():
        return f"a file named {name} is already uploaded; delete document '{upload_doc_id(name)}' first to replace it"
    doc_id = upload_doc_id(name)
    if doc_id in taken:
        return f"document id '{doc_id}' is already taken by {taken[doc_id]}; rename the file or delete that document"
    return None


def upload_files(
    assistant: Assistant, paths: list[str] | list[Path], *, allow_flagged: bool = False,
    progress: FileProgress | None = None,
) -> UploadResult:
    """Check, save into ``uploads/`` and ingest; a file that ends up not indexed is removed from ``uploads/``."""
    result = UploadResult()
    folder = uploads_dir(assistant)
    folder.mkdir(parents=True, exist_ok=True)
    max_bytes = int(assistant.settings.ingest.max_mb * 1024 * 1024)
    taken = {str(d["doc_id"]): str(d.get("path") or "the index") for d in assistant.documents()}
    saved: list[Path] = []
    most = assistant.settings.ui.max_upload_files
    if len(paths) > most:
        result.refused = {Path(p).name: f"{len(paths)} files in one upload; at most {most} (ui.max_upload_files)"
                          for p in paths}
        return result
    for raw in paths:
        source = Path(raw)
        target = folder / source.name
        reason = _refusal(source, target, taken, max_bytes)
        if reason:
            result.refused[source.name] = reason
            continue
        with source.open("rb") as src, target.open("xb") as dst:  # "x": never replace a file that appeared since
            shutil.copyfileobj(src, dst)
        taken[upload_doc_id(source.name)] = f"this upload ({source.name})"
        saved.append(target)
    if not saved:
        return result
    try:
        result.report = assistant.ingest(list[object](saved), progress=progress, allow_flagged=allow_flagged)
    except BaseException:
        for path in saved:
            path.unlink(missing_ok=True)
        raise
    indexed = {str(d["doc_id"]) for d in assistant.documents()}
    for path in saved:
        if upload_doc_id(path.name) not in indexed:  # failed, or every chunk was quarantined
            path.unlink(missing_ok=True)
            result.removed_again.append(path.name)
    return result


def upload_markdown(result: UploadResult) -> str:
    """The upload report: refused files, then added / updated / unchanged / failed / quarantined."""
    lines: list[str] = []
    for name, reason in result.refused.items():
        lines.append(f"- **refused** `{name}`: {reason}")
    report = result.report
    if report is not None:
        for label, ids in (("added", report.added), ("updated", report.updated), ("unchanged", report.unchanged)):
            if ids:
                lines.append(f"- **{label}:** {', '.join(f'`{i}`' for i in ids)}")
        for path, reason in report.failed.items():
            lines.append(f"- **failed** `{Path(path).name}`: {reason}")
        for doc_id, reasons in report.quarantined.items():
            lines.append(f"- **quarantined** chunks of `{doc_id}` (held back, not indexed): {'; '.join(reasons)}")
        lines.append(f"- {report.chunks_written} chunks written in {report.seconds:.1f} s")
    if result.removed_again:
        names = ", ".join(f"`{n}`" for n in result.removed_again)
        lines.append(f"- not indexed, so removed from uploads again: {names}")
    return "\n".join(lines) if lines else "No files were given."


def documents_table(assistant: Assistant) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for d in assistant.documents():
        path = Path(str(d.get("path") or ""))
        shown = f"{path.parent.name}/{path.name}" if path.name else ""
        rows.append([d["doc_id"], d.get("title", ""), d.get("kind", ""), d.get("evidence", ""), d.get("chunks", 0),
                     shown])
    return rows


def delete_document(assistant: Assistant, doc_id: str, confirm: str) -> str:
    """Delete when ``confirm`` repeats ``doc_id``; an uploaded document's file goes too."""
    doc_id = (doc_id or "").strip()
    if not doc_id:
        return "Enter the id of the document to delete."
    if (confirm or "").strip() != doc_id:
        return f"Not deleted: type `{doc_id}` again in the confirmation box to delete it."
    docs = {str(d["doc_id"]): d for d in assistant.documents()}
    if doc_id not in docs:
        return f"No document with id `{doc_id}` is indexed."
    removed = assistant.delete_document(doc_id)
    message = f"Deleted `{doc_id}` ({removed} chunks)."
    path = Path(str(docs[doc_id].get("path") or ""))
    if path.name and path.parent.resolve() == uploads_dir(assistant).resolve():
        path.unlink(missing_ok=True)
        return f"{message} Its uploaded file was deleted too."
    if path.name and path.exists():
        return (f"{message} Its file is still at `{path}`: the next ingest of that folder adds it back; "
                "remove the file to keep it out.")
    return message


def verify_markdown(assistant: Assistant) -> str:
    problems = assistant.verify_index()
    if not problems:
        status = assistant.index_status()
        return f"Index is consistent: {status['documents']} documents, {status['chunks']} chunks."
    return "\n".join([f"**{len(problems)} problem(s) found:**", "", *[f"- {p}" for p in problems]])


def refresh_updates(assistant: Assistant, filters: list[Any]) -> tuple[list[list[Any]], list[Any]]:
    """The documents table and new choices for every filter dropdown (documents changed or the console opened)."""
    choices = filter_choices(assistant.documents())
    return documents_table(assistant), [gr.update(choices=choices) for _ in filters]


def build_documents_tab(assistant: Assistant, filters: list[Any]) -> Any:
    """The *Documents* tab; returns the documents table (the console fills it when the page loads)."""
    limit = assistant.settings.ingest.max_mb
    gr.Markdown(f"Upload files to index ({', '.join(ACCEPTED)}; at most {limit:g} MB each). They are kept in "
                "`uploads/` of the data folder; a name or document id already in use is refused, never replaced.")
    files = gr.File(file_count="multiple", file_types=list(ACCEPTED), type="filepath", label="Files to upload",
                    elem_id="staff-upload")
    flagged = gr.Checkbox(False, label="Also index chunks flagged as instruction-like (only after reviewing them)")
    ingest = gr.Button("Upload and ingest", variant="primary", elem_id="staff-ingest")
    report = gr.Markdown(elem_id="staff-ingest-report")
    table = gr.Dataframe(headers=DOCUMENT_HEADERS, label="Indexed documents", interactive=False, wrap=True,
                         column_widths=["20%", "34%", "12%", "14%", "7%", "13%"], elem_id="staff-documents")
    refresh = gr.Button("Refresh list")
    gr.Markdown(DELETE_NOTE)
    with gr.Row():
        doc_id = gr.Textbox(label="Document id to delete", elem_id="staff-delete-id")
        confirm = gr.Textbox(label="Type the id again to confirm", elem_id="staff-delete-confirm")
    delete = gr.Button("Delete document", variant="stop", elem_id="staff-delete")
    deleted = gr.Markdown(elem_id="staff-delete-status")
    verify = gr.Button("Verify index", elem_id="staff-verify")
    verified = gr.Markdown(elem_id="staff-verify-status")

    def do_ingest(request: gr.Request, given: list[str] | None, allow: bool,
                  progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008 - Gradio's idiom
        require_staff(request)
        with shown_as_message():
            result = upload_files(assistant, list(given or []), allow_flagged=bool(allow),
                                  progress=lambda paths: progress.tqdm(paths, desc="ingesting", unit="file"))
            rows, updates = refresh_updates(assistant, filters)
        return upload_markdown(result), None, rows, *updates

    def do_refresh(request: gr.Request) -> tuple[Any, ...]:
        require_staff(request)
        with shown_as_message():
            rows, updates = refresh_updates(assistant, filters)
        return rows, *updates

    def do_delete(request: gr.Request, given: str, again: str) -> tuple[Any, ...]:
        require_staff(request)
        with shown_as_message():
            message = delete_document(assistant, given, again)
            rows, updates = refresh_updates(assistant, filters)
        return message, "", rows, *updates

    def do_verify(request: gr.Request) -> str:
        require_staff(request)
        with shown_as_message():
            return verify_markdown(assistant)

    ingest.click(do_ingest, [files, flagged], [report, files, table, *filters], concurrency_limit=1,
                 **PRIVATE)
    refresh.click(do_refresh, [], [table, *filters], **PRIVATE)
    delete.click(do_delete, [doc_id, confirm], [deleted, confirm, table, *filters], **PRIVATE)
    verify.click(do_verify, [], [verified], **PRIVATE)
    return table
