"""What a run measured with: the settings that shape answers, the backend, the corpus and the code (git commit).

Recorded in every ``report.json`` (``config``) so ``eval compare`` can say what changed between two runs. Flat keys
(``retrieval.top_k``) so two runs line up side by side; no secret is recorded (no API key, no password in a URL).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from assistant.config import PROJECT_ROOT

if TYPE_CHECKING:
    from assistant.rag.service import Assistant

ConfigValue = str | int | float | bool | None


def run_configuration(assistant: Assistant) -> dict[str, ConfigValue]:
    """The configuration of ``assistant`` as one flat mapping (see the module docstring)."""
    s = assistant.settings
    docs = assistant.documents()
    status = assistant.index_status()
    return {
        "commit": git_commit(PROJECT_ROOT),
        "backend": f"llm ({s.llm.provider})" if assistant.has_llm else "extractive",
        "llm.provider": s.llm.provider,
        "llm.model": s.llm.model or None,
        "llm.base_url": without_secrets(s.llm.base_url),
        "llm.timeout_s": s.llm.timeout_s,
        "retrieval.top_k": s.retrieval.top_k,
        "retrieval.candidates": s.retrieval.candidates,
        "retrieval.lexical_weight": s.retrieval.lexical_weight,
        "retrieval.min_similarity": s.retrieval.min_similarity,
        "answer.min_sentences": s.answer.min_sentences,
        "answer.max_sentences": s.answer.max_sentences,
        "ingest.chunk_tokens": s.ingest.chunk_tokens,
        "ingest.overlap_tokens": s.ingest.overlap_tokens,
        "embedding_model": str(status.get("embedding_model", "")),
        "store": without_secrets(s.store.url) or "local",
        "corpus.documents": len(docs),
        "corpus.chunks": int(str(status.get("chunks", 0))),
        "corpus.fingerprint": corpus_fingerprint(docs),
    }


PRIVATE = ("llm.base_url", "store")  # internal addresses: recorded in a local report, never served


def public_configuration(assistant: Assistant) -> dict[str, ConfigValue]:
    """What the served app's ``/about`` tells anyone: the configuration without internal addresses."""
    return {k: v for k, v in run_configuration(assistant).items() if k not in PRIVATE}


def corpus_fingerprint(docs: list[dict[str, object]]) -> str:
    """A short hash of the indexed documents' ids and content hashes: equal when the same texts were evaluated."""
    lines = sorted(f"{d.get('doc_id')}\t{d.get('hash')}" for d in docs)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


def git_commit(root: Path) -> str | None:
    """The commit checked out in ``root`` read from ``.git`` (no git process); None when there is none."""
    try:
        git = root / ".git"
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = (root / git.read_text(encoding="utf-8").removeprefix("gitdir:").strip()).resolve()
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head or None
        ref = head.removeprefix("ref:").strip()
        for base in (git, _common_dir(git)):
            if (base / ref).is_file():
                return (base / ref).read_text(encoding="utf-8").strip() or None
            packed = base / "packed-refs"
            if packed.is_file():
                for line in packed.read_text(encoding="utf-8").splitlines():
                    sha, _, name = line.partition(" ")
                    if name.strip() == ref:
                        return sha
    except (OSError, UnicodeDecodeError):
        return None
    return None


def without_secrets(url: str | None) -> str | None:
    """``url`` without user, password, query or fragment (where credentials hide)."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unreadable URL)"
    netloc = (parts.hostname or "") + port if parts.netloc else ""
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _common_dir(git: Path) -> Path:
    common = git / "commondir"
    if common.is_file():
        return (git / common.read_text(encoding="utf-8").strip()).resolve()
    return git
