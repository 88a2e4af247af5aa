"""A FastAPI refresh route that records through the recorder, hit by clients that hang up."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import BackgroundTasks, FastAPI
from sessionwatch.api_hooks import AsyncSessionMetrics, RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.exporter.reader import SessionStatsReader

from .support.servers import RedisServer, UvicornThread

REQUEST = (b"POST /auth/refresh HTTP/1.1\r\nHost: api.test\r\nContent-Length: 0\r\n"
           b"Cookie: session=abc\r\n\r\n")


def refresh_app(url: str, prefix: str, style: str) -> FastAPI:
    """A host API whose refresh route records a successful refresh in one of three styles:
    "sync" (blocking route, direct recorder), "async" (coroutine route, buffered recorder) or
    "background" (recorded in a background task, after the response is sent)."""
    config = RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2)
    recorders: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        recorders["sync"] = SessionMetrics.from_url(url, config=config)
        recorders["async"] = AsyncSessionMetrics.from_url(url, config=config,
                                                          buffered=style == "async")
        yield
        recorders["sync"].close()
        await recorders["async"].aclose()

    app = FastAPI(lifespan=lifespan)

    if style == "sync":
        @app.post("/auth/refresh")
        def refresh_sync() -> dict[str, str]:
            recorders["sync"].refresh_succeeded("abc", site="Lyon")
            return {"status": "refreshed"}
    elif style == "async":
        @app.post("/auth/refresh")
        async def refresh_async() -> dict[str, str]:
            await recorders["async"].refresh_succeeded("abc", site="Lyon")
            return {"status": "refreshed"}
    else:
        @app.post("/auth/refresh")
        async def refresh_later(tasks: BackgroundTasks) -> dict[str, str]:
            tasks.add_task(recorders["async"].refresh_succeeded, "abc", site="Lyon")
            return {"status": "refreshed"}

    return app


def hang_up_after_headers(port: int) -> bytes:
    """Send one refresh request, read up to the end of the headers, then reset the socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(REQUEST)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(1)  # one byte at a time, so nothing past the headers is read
            if not chunk:
                break
            received += chunk
        # SO_LINGER 0: close with a reset, the way a client killed mid-response does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return received


@pytest.fixture
def reader(redis_server: RedisServer, prefix: str) -> Iterator[SessionStatsReader]:
    client = redis_server.client()
    yield SessionStatsReader(client, KeySchema(prefix))
    client.close()


@pytest.mark.parametrize("style", ["sync", "async", "background"])
def test_fastapi_route_clients_hanging_up_lose_no_event(
    redis_url: str, prefix: str, reader: SessionStatsReader, style: str
) -> None:
    heads: list[bytes] = []
    lock = threading.Lock()

    def client_loop(port: int, count: int) -> None:
        for _ in range(count):
            head = hang_up_after_headers(port)
            with lock:
                heads.append(head)

    with UvicornThread(refresh_app(redis_url, prefix, style)) as server:
        clients = [threading.Thread(target=client_loop, args=(server.port, 250))
                   for _ in range(4)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(120)
        deadline = time.monotonic() + 10
        while reader.totals().success_total < 1000 and time.monotonic() < deadline:
            time.sleep(0.1)

    assert len(heads) == 1000
    assert all(head.startswith(b"HTTP/1.1 200 OK\r\n") for head in heads)
    assert reader.totals().success_total == 1000
    assert reader.active().total == 1
