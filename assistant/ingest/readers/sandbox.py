"""Run an untrusted-file parser in a child process with a wall-clock timeout and an address-space cap.

Parsers of complex formats have had infinite-loop and memory-exhaustion bugs (pypdf CVEs among them); a child
can be killed cleanly, a thread cannot. The child runs ``_worker.py`` by path, so it imports only the parser and
the standard library, not this package, and starts in a fraction of a second.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Literal

from assistant.errors import IngestError
from assistant.ingest.readers import Extracted, ReadLimits

Kind = Literal["html", "pdf"]
_WORKER = Path(__file__).with_name("_worker.py")
_LABEL = {"html": "HTML", "pdf": "PDF"}


def run_parser(kind: Kind, data: bytes, limits: ReadLimits) -> Extracted:
    """Parse ``data`` in a child process; every failure becomes an ``IngestError`` with a one-line reason."""
    label = _LABEL[kind]
    cmd = [sys.executable, str(_WORKER), kind, str(limits.memory_mb)]
    try:
        proc = subprocess.run(
            cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=limits.timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise IngestError(f"{label} parsing took longer than the {limits.timeout_s:g} s limit") from None
    except OSError as exc:
        raise IngestError(f"could not start the {label} parser: {exc.strerror or exc}") from None
    reply = _reply(proc.stdout)
    if reply is None:
        raise IngestError(_crash_reason(label, proc.returncode, limits))
    if "reason" in reply:
        raise IngestError(str(reply["reason"]))
    extra = reply.get("extra") or {}
    title = reply.get("title")
    return Extracted(
        body=str(reply.get("body") or ""),
        title=str(title) if title else None,
        extra={str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {},
    )


def _reply(stdout: bytes) -> dict[str, object] | None:
    try:
        value = json.loads(stdout)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _crash_reason(label: str, code: int, limits: ReadLimits) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        how = f"was killed by {name}"
    else:
        how = f"exited with code {code}"
    return f"the {label} parser {how} without a result (over the {limits.memory_mb} MB memory cap?)"
