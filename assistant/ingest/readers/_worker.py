"""Child-process entry point: cap memory, parse stdin with one extractor, print one JSON object.

Run by path (``python _worker.py html|pdf MEMORY_MB``) so only the standard library and the parser load; the
memory cap (RLIMIT_AS, whole process) is set once the parser is imported. Prints
``{"body", "title", "extra"}`` on success or ``{"reason"}`` with a one-line reason; never a traceback.
"""

from __future__ import annotations

import errno
import importlib
import json
import logging
import sys
import warnings
from typing import Any

_MODULES = {"html": "html_extract", "pdf": "pdf_extract"}
_LABEL = {"html": "HTML", "pdf": "PDF"}
_FAILED = {"html": "HTML could not be parsed", "pdf": "PDF could not be parsed (damaged or truncated?)"}


def _cap_memory(megabytes: int) -> None:
    try:
        import resource

        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass  # not on this platform (or already lower): the parent's timeout still applies


def _out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or a lazy import / mmap the address-space cap refused."""
    if isinstance(exc, MemoryError) or getattr(exc, "errno", None) == errno.ENOMEM:
        return True
    return isinstance(exc, (ImportError, OSError)) and "failed to map" in str(exc)


def _one_line(text: str) -> str:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return line[:200]


def _run(kind: str, data: bytes, megabytes: int) -> dict[str, Any]:
    label = _LABEL[kind]
    try:
        # Import first: the cap is for parsing, and a shared library mapped under it fails confusingly.
        module = importlib.import_module(_MODULES[kind])
    except ImportError as exc:
        return {"reason": f"the {label} reader is not installed ({_one_line(str(exc))}): reinstall the project"}
    _cap_memory(megabytes)
    try:
        result: dict[str, Any] = module.extract(data)
        return result
    except RecursionError:
        return {"reason": f"{label} structure is nested too deeply to parse"}
    except Exception as exc:  # any parser failure (MemoryError included) is a reason to skip this one file
        if _out_of_memory(exc):
            return {"reason": f"{label} parsing needed more than the {megabytes} MB memory cap"}
        detail = _one_line(str(exc))
        return {"reason": f"{_FAILED[kind]}: {type(exc).__name__}" + (f": {detail}" if detail else "")}


def main() -> None:
    kind, megabytes = sys.argv[1], int(sys.argv[2])
    data = sys.stdin.buffer.read()
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    reply = _run(kind, data, megabytes)
    del data
    sys.stdout.write(json.dumps(reply))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
