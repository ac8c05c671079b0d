"""A minimal keep-alive HTTP/1.1 client for load generation.

One request at a time per connection, bodies with Content-Length: the least client work per request, so
that on a small machine the center, not the client, is what the bench measures (httpx spends several
times more CPU per request than this).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when installed (uvicorn[standard] brings it): the cheaper loop for client processes."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    runner: Callable[[Coroutine[Any, Any, T]], T] = uvloop.run
    return runner(main)


class KeepAlive:
    """One connection to ``host:port``; reopened after the server closes it or an error."""

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.host, self.port = host, port
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self._common = f"Host: {host}:{port}\r\n{auth}".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """Send one request and read the whole answer: (status, body)."""
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._reader, self._writer
        head = f"{method} {path} HTTP/1.1\r\n".encode() + self._common
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
        try:
            writer.write(head + b"\r\n" + (body or b""))
            raw = await reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip().lower()
            if headers.get("transfer-encoding") == "chunked":
                data = await self._chunked(reader)
            else:
                data = await reader.readexactly(int(headers.get("content-length", "0")))
        except BaseException:
            await self.close()  # the connection is in an unknown state: never reuse it
            raise
        if headers.get("connection") == "close":
            await self.close()
        return status, data

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers are expected
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
