"""``knee-assistant`` in child processes forked from a warm server, for the subprocess fault tests.

A fresh interpreter spends seconds (tens on a loaded machine) importing torch and sentence-transformers, so each
child is forked from a ``multiprocessing`` fork server that has imported them once. The child then runs
``assistant.cli.main`` with its own argv, environment, working folder and output files, like the installed
command: it loads the model, opens the index and writes, and can be killed with SIGKILL at any moment. On request
it reports every Chroma write and every index-lock step through a pipe as they happen.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

PRELOAD = ["torch", "sentence_transformers", "chromadb", "filelock", "assistant.cli", "assistant.container"]
QUIET = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
         "GRADIO_ANALYTICS_ENABLED": "False", "TOKENIZERS_PARALLELISM": "false"}
Event = tuple[Any, ...]
_context: Any = None


def context() -> Any:
    """The fork-server context; the server starts (and imports ``PRELOAD``) with the first child."""
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


@dataclass
class CliResult:
    code: int | None
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Child:
    """A running ``knee-assistant`` child; ``events`` receives ("write"|"lock", step, detail, time) tuples."""

    process: Any
    events: Connection | None
    out: Path
    started: float

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def next_event(self, timeout: float) -> Event | None:
        """The next reported event, or None when the child has ended (or nothing came within ``timeout``)."""
        assert self.events is not None, "start the child with report=True"
        try:
            if self.events.poll(timeout):
                event: Event = self.events.recv()
                return event
        except (EOFError, OSError):
            return None
        return None

    def wait_for(self, wanted: Callable[[Event], bool], timeout: float) -> Event | None:
        """The first event ``wanted`` accepts; None when the child ended or ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            event = self.next_event(left)
            if event is None or wanted(event):
                return event
        return None

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, no flush - the process just stops."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def result(self, timeout: float = 120.0) -> CliResult:
        self.process.join(timeout)
        if self.process.is_alive():
            self.kill()
            self.process.join(10)
            raise AssertionError(f"knee-assistant child did not finish within {timeout:g} s: {self.output()}")
        stdout, stderr = self.output()
        return CliResult(self.process.exitcode, stdout, stderr, time.monotonic() - self.started)

    def output(self) -> tuple[str, str]:
        return tuple(  # type: ignore[return-value]
            (self.out / name).read_text(encoding="utf-8", errors="replace") if (self.out / name).exists() else ""
            for name in ("stdout", "stderr")
        )


def start_cli(argv: list[str], out: Path, env: dict[str, str] | None = None, report: bool = False) -> Child:
    """Start ``knee-assistant ARGV`` in a forked child; its working folder and output files are in ``out``."""
    ctx = context()
    out.mkdir(parents=True, exist_ok=True)
    reader, writer = ctx.Pipe(duplex=False) if report else (None, None)
    process = ctx.Process(target=_main, args=(argv, {**QUIET, **(env or {})}, str(out), writer), daemon=True)
    started = time.monotonic()
    process.start()
    if writer is not None:
        writer.close()  # the child holds the only write end, so its death ends the stream
    return Child(process, reader, out, started)


def run_cli(argv: list[str], out: Path, env: dict[str, str] | None = None, timeout: float = 120.0) -> CliResult:
    return start_cli(argv, out, env).result(timeout)


# -- inside the child ----------------------------------------------------------------------------------------------
def _main(argv: list[str], env: dict[str, str], out: str, events: Connection | None) -> None:
    os.environ.update(env)
    os.chdir(out)  # no knee.toml from the test's working folder
    for fd, name in ((1, "stdout"), (2, "stderr")):
        target = os.open(os.path.join(out, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
    import threading

    import tqdm

    tqdm.tqdm.set_lock(threading.RLock())  # not a multiprocessing semaphore, which a SIGKILLed child would leak
    if events is not None:
        _report(events)
    sys.argv = ["knee-assistant", *argv]
    from assistant.cli import main

    main()  # exits through SystemExit; multiprocessing turns its code into the exit code


def _report(events: Connection) -> None:
    """Announce each Chroma write and each index-lock step before and after it happens."""
    import filelock
    from chromadb.api.models.Collection import Collection

    def send(*event: Any) -> None:
        events.send((*event, time.monotonic()))

    def wrap_write(name: str) -> None:
        original = getattr(Collection, name)

        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            send("write", "start", f"{name} {self.name}")
            result = original(self, *args, **kwargs)
            send("write", "end", f"{name} {self.name}")
            return result

        setattr(Collection, name, call)

    for method in ("add", "upsert", "update", "delete"):
        wrap_write(method)
    acquire, release = filelock.FileLock.acquire, filelock.FileLock.release

    def acquire_reported(self: Any, *args: Any, **kwargs: Any) -> Any:
        send("lock", "wait", str(self.lock_file))
        try:
            result = acquire(self, *args, **kwargs)
        except filelock.Timeout:
            send("lock", "busy", str(self.lock_file))
            raise
        send("lock", "held", str(self.lock_file))
        return result

    def release_reported(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = release(self, *args, **kwargs)
        send("lock", "released", str(self.lock_file))
        return result

    filelock.FileLock.acquire = acquire_reported  # type: ignore[method-assign]
    filelock.FileLock.release = release_reported  # type: ignore[method-assign]
