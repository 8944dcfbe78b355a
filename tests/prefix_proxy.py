"""A reverse proxy on loopback that serves an app under a sub-path, as Caddy's ``handle_path`` or nginx's
``location /knee/ { proxy_pass http://app/; }`` do: ``/knee/x`` is forwarded as ``/x``; anything else is 404.

HTTP/1.1 only, one request at a time per connection (what browsers send without pipelining); bodies by
Content-Length; responses, streamed ones included, are piped back as they arrive. Adds X-Forwarded-For.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(Exception):
        writer.close()


class PrefixProxy:
    def __init__(self, prefix: str, upstream_port: int) -> None:
        self.prefix, self.upstream_port = prefix.rstrip("/"), upstream_port
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        back: asyncio.Task[None] | None = None
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *headers = head.decode("latin-1").split("\r\n")
                method, target, version = line.split(" ", 2)
                if target != self.prefix and not target.startswith(self.prefix + "/"):
                    writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found")
                    await writer.drain()
                    return
                target = target[len(self.prefix):] or "/"
                length = next((int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")), 0)
                body = await reader.readexactly(length) if length else b""
                if upstream is None:
                    upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                    back = asyncio.ensure_future(_pipe(upstream[0], writer))
                kept = [h for h in headers if h and not h.lower().startswith("x-forwarded-for:")]
                out = "\r\n".join([f"{method} {target} {version}", *kept, "X-Forwarded-For: 203.0.113.7", "", ""])
                upstream[1].write(out.encode("latin-1") + body)
                await upstream[1].drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            if back is not None:
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(back, timeout=5)
            if upstream is not None:
                upstream[1].close()
            writer.close()

    def __enter__(self) -> PrefixProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(cancel_all(), self._loop)
        self._thread.join(timeout=10)
        self._loop.close()


@contextlib.contextmanager
def prefix_proxy(prefix: str, upstream_port: int) -> Iterator[PrefixProxy]:
    with PrefixProxy(prefix, upstream_port) as proxy:
        yield proxy
