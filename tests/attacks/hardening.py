"""Helpers of the hardening attacks: raw ASGI requests and WebSockets, statement counts.

httpx refuses to send bytes that are not valid in a header, and Starlette's TestClient
runs its own event loop; these drive the ASGI application directly, on the test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

Headers = Sequence[tuple[bytes, bytes]]


@dataclass
class RawResponse:
    """What the application sent back."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Body:
    """A request body sent in chunks; counts what the application pulled."""

    chunks: Sequence[bytes] = ()
    pulled: int = 0
    messages: int = 0


async def raw_request(
    app: Any,
    method: str,
    path: str,
    headers: Headers = (),
    body: Body | None = None,
    *,
    client: tuple[str, int] = ("203.0.113.50", 40000),
) -> RawResponse:
    """Send one HTTP request to the ASGI *app* with these exact header bytes."""
    body = body or Body()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": client,
        "server": ("testserver", 443),
    }
    chunks = list(body.chunks)

    async def receive() -> dict[str, Any]:
        body.messages += 1
        if chunks:
            chunk = chunks.pop(0)
            body.pulled += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        if body.messages == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)  # the client waits for the answer
        return {"type": "http.disconnect"}  # pragma: no cover

    status = 0
    sent: list[tuple[bytes, bytes]] = []
    parts: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            sent.extend(message.get("headers", []))
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, send)
    return RawResponse(status, sent, b"".join(parts))


@dataclass
class Socket:
    """One WebSocket connection to an ASGI app, driven from the test's loop."""

    outbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    inbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def receive(self) -> dict[str, Any]:
        """The next message the application sent (within 5 seconds)."""
        return await asyncio.wait_for(self.outbox.get(), 5)

    async def send_text(self, text: str) -> None:
        await self.inbox.put({"type": "websocket.receive", "text": text})


@asynccontextmanager
async def websocket(
    app: Any, path: str, *, subprotocols: Sequence[str] = ()
) -> AsyncIterator[tuple[Socket, dict[str, Any]]]:
    """Open a WebSocket; yield it with the application's first answer (accept or close)."""
    sock = Socket()
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "wss",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")]
        + ([(b"sec-websocket-protocol", ", ".join(subprotocols).encode())] if subprotocols else []),
        "client": ("203.0.113.50", 40000),
        "server": ("testserver", 443),
        "subprotocols": list(subprotocols),
    }
    await sock.inbox.put({"type": "websocket.connect"})
    task = asyncio.ensure_future(app(scope, sock.inbox.get, sock.outbox.put))
    try:
        yield sock, await sock.receive()
    finally:
        await sock.inbox.put({"type": "websocket.disconnect", "code": 1000})
        with contextlib.suppress(Exception):  # the app may end its own way after a close
            await asyncio.wait_for(task, 5)


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Collect the SQL statements sent on *engine* inside the block."""
    seen: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.upper().startswith("BEGIN"):
            seen.append(statement)

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(sync, "before_cursor_execute", on_execute)
