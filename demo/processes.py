"""Child processes and loopback ports of the demo.

Every child runs in its own session, so a Ctrl-C in the terminal reaches only the demo, which
then stops the children in order. On Linux each child also gets SIGTERM if the demo dies
without cleaning up (killed with SIGKILL, for example).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


class PortInUseError(RuntimeError):
    """Raised when a port requested explicitly is taken."""


def free_port() -> int:
    """Return a TCP port on the loopback address that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def choose_port(requested: int | None, preferred: int, option: str) -> int:
    """Return `requested` if it is free, else `preferred` if free, else any free port.

    An explicitly requested port that is taken is an error, since the user asked for it.
    """
    if requested is not None:
        if requested != 0 and not port_is_free(requested):
            raise PortInUseError(
                f"Invalid value for '{option}': port {requested} on {LOOPBACK} is in use; "
                "choose another one or leave the option out to pick a free port"
            )
        return requested or free_port()
    return preferred if port_is_free(preferred) else free_port()


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Call `check` until it returns True or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _die_with_parent() -> None:
    # Runs in the child between fork and exec, so it stays tiny and swallows every error.
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ChildProcess:
    """A server the demo started, with its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> ChildProcess:
        # NOTE: Linux sends the parent-death signal when the forking thread ends, not the
        # process. The demo starts children from the main thread, so the two coincide.
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        _log.debug("started %s (pid %d): %s", self.name, self.process.pid, " ".join(self.argv))
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        """Return the last lines of the child's output, for error messages."""
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Send SIGTERM, then SIGKILL if the child is still there after `timeout` seconds."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _log.warning("%s (pid %d) ignored SIGTERM for %.0f s; killing it",
                             self.name, process.pid, timeout)
                process.kill()
                process.wait()
        self.process = None
