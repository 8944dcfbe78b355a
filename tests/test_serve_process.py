"""`knee-assistant serve` as a deployment runs it: a child process that says where it is and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path

from assistant import Assistant
from tests.cli_children import start_cli
from tests.conftest import free_port


def test_serve_prints_its_addresses_when_ready_and_stops_cleanly_on_sigterm(assistant: Assistant,
                                                                            tmp_path: Path) -> None:
    """Issue 21: about 20 s of silence, no address; `docker stop` (SIGTERM) killed it after the grace period."""
    data = assistant.settings.paths.data_dir
    assistant._store.close()  # the child opens the same index
    port = free_port()
    child = start_cli(["serve", "--port", str(port), "--data-dir", str(data)], tmp_path / "serve")
    deadline = time.monotonic() + 240
    err = ""
    while "ready:" not in err and time.monotonic() < deadline and child.process.is_alive():
        time.sleep(0.5)
        err = child.output()[1]
    assert "starting:" in err and err.index("starting:") < err.index("ready:"), err
    ready = next(line for line in err.splitlines() if line.startswith("ready:"))
    assert f"http://127.0.0.1:{port}/" in ready and f"http://127.0.0.1:{port}/embed.js" in ready
    assert "staff console off" in ready  # no account configured
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
        assert response.status == 200
    os.kill(child.pid, signal.SIGTERM)
    result = child.result(timeout=30)
    assert result.code == 0 and "Traceback" not in result.stderr, result.stderr
