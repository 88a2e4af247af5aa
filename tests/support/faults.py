"""Loopback TCP servers that misbehave on purpose: a black hole and a slow proxy.

Both listen on a free 127.0.0.1 port, serve only the test that started them, and stop when
their context manager exits.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from .servers import free_port


class _Listener:
    """Accept loop in a daemon thread; subclasses handle each accepted connection."""

    def __init__(self) -> None:
        self.port = free_port()
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._sock.settimeout(0.1)
        self._stopped = threading.Event()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def accepted(self) -> int:
        with self._lock:
            return len(self._connections)

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._connections.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def __enter__(self) -> _Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        self._sock.close()
        self._thread.join(5)
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.close()


class BlackHoleServer(_Listener):
    """Accept TCP connections and read everything, but never reply (a hung Redis)."""

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not self._stopped.is_set() and conn.recv(65536):
                pass


class SlowProxy(_Listener):
    """Forward to `upstream_port` on loopback, delaying each request chunk by `delay` seconds.

    Replies flow back at once, so every command gets about `delay` seconds of latency.
    """

    def __init__(self, upstream_port: int, delay: float) -> None:
        super().__init__()
        self.upstream_port = upstream_port
        self.delay = delay

    def _handle(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        except OSError:
            conn.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._connections.append(upstream)
        threading.Thread(target=self._pump, args=(upstream, conn, 0.0), daemon=True).start()
        self._pump(conn, upstream, self.delay)

    def _pump(self, source: socket.socket, target: socket.socket, delay: float) -> None:
        with contextlib.suppress(OSError):
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                if delay:
                    time.sleep(delay)
                target.sendall(chunk)
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
