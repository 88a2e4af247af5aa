"""Run the docs' shell blocks against private servers, and check the ones that cannot run.

`DocShell.run` executes a block with bash (`set -euo pipefail`) from the repository root,
with .venv/bin first on PATH and SESSIONWATCH_REDIS_URL pointing at a private Redis that the
recorder seeded. Before running, `substitute` swaps the production addresses the docs show
for the private ones (SUBSTITUTIONS lists each swap). Two kinds of command are adapted:

- a block that starts `sessionwatch-exporter` is a long-running server: it runs on a free
  port, is probed over HTTP, then stopped;
- a test-suite command (`pytest …`) runs with `--collect-only`, because running the suite
  from inside the suite would recurse; collecting still proves every path and option;
- a benchmark (`python -m bench`, `bench/*.py`) is never run: it keeps the machine busy for
  minutes and rewrites measured results. It gets the checks of a not-run block instead.

`check_not_run` is what a block marked `<!-- not-run: … -->` gets instead: every program
exists, every `--option` appears in the program's help, and every repository path exists.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .markdown import REPO, CodeBlock

VENV_BIN = REPO / ".venv" / "bin"
RUN_TIMEOUT_S = 120
SERVER_START_TIMEOUT_S = 30
SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "console"})
PYTEST_LINE = re.compile(r"^(?P<command>\s*\S*pytest\b[^#\n]*?)(?P<comment>\s+#.*)?$", re.M)
EXPORTER_LINE = re.compile(r"^\s*sessionwatch-exporter\b(?!.*(?:--help|\s-h\b)).*$", re.M)
PORT_OPTION = re.compile(r"--port[ =]\d+")
REPO_PATH = re.compile(r"^(?:examples|alerting|docs|scripts|bench|tests|frontend_banner|"
                       r"exporter|api_hooks|demo)/")
SHELL_BUILTINS = frozenset({"cd", "export", "umask", "set", "source", "."})


@dataclass
class DocShell:
    """Run doc blocks; `lazy` maps a substitution key to a function that starts its server."""

    workdir: Path
    redis_url: str
    redis_port: int
    exporter_address: str
    admin_token: str
    lazy: dict[str, Callable[[], str]] = field(default_factory=dict)
    _started: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.token_file = self.workdir / "admin-token"
        self.token_file.write_text(self.admin_token + "\n", "utf-8")

    def substitutions(self) -> list[tuple[str, Callable[[], str]]]:
        """Return (what the docs show, what runs here) pairs, applied in this order."""
        redis_target = f"-h 127.0.0.1 -p {self.redis_port}"
        return [
            ("redis://localhost:6379/0", lambda: self.redis_url),
            ("redis://127.0.0.1:6379/0", lambda: self.redis_url),
            ("127.0.0.1:9465", lambda: self.exporter_address),
            ("localhost:9465", lambda: self.exporter_address),
            ("http://127.0.0.1:9093", lambda: self._lazy("alertmanager")),
            ("/etc/sessionwatch/admin-token", lambda: str(self.token_file)),
            ("-h HOST -p PORT", lambda: redis_target),
            ("-h HÔTE -p PORT", lambda: redis_target),
        ]

    def _lazy(self, name: str) -> str:
        if name not in self._started:
            self._started[name] = self.lazy[name]()
        return self._started[name]

    def substitute(self, script: str) -> str:
        for shown, actual in self.substitutions():
            if shown in script:
                script = script.replace(shown, actual())
        return PYTEST_LINE.sub(_collect_only, script)

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("SESSIONWATCH_")}
        env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
            SESSIONWATCH_REDIS_URL=self.redis_url,
            SESSIONWATCH_ADMIN_TOKEN=self.admin_token,
            PYTHONDONTWRITEBYTECODE="1",
            TMPDIR=str(self.workdir),
        )
        return env

    def run(self, block: CodeBlock) -> subprocess.CompletedProcess[str]:
        """Run a block that ends by itself; the caller checks the exit status.

        The block runs in its own process group, so a timeout stops every process it started.
        """
        script = "set -euo pipefail\n" + self.substitute(block.text)
        process = subprocess.Popen(["bash", "-c", script], cwd=REPO, env=self.env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stop_process(process)
            raise AssertionError(f"{block.ident} still ran after {RUN_TIMEOUT_S} s") from None
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def run_server(self, block: CodeBlock, port: int) -> str:
        """Start a block that ends with `sessionwatch-exporter`, probe it, stop it.

        Returns the /metrics text it served.
        """
        script = self.substitute(block.text)
        servers = EXPORTER_LINE.findall(script)
        assert len(servers) == 1, f"{block.ident}: one exporter per block, as its last command"
        assert script.rstrip().endswith(servers[0].strip()), \
            f"{block.ident}: the exporter must be the block's last command"
        line = servers[0]
        moved = PORT_OPTION.sub(f"--port {port}", line) if PORT_OPTION.search(line) \
            else f"{line} --port {port}"
        script = "set -euo pipefail\n" + script.replace(line, "exec " + moved.strip())
        process = subprocess.Popen(["bash", "-c", script], cwd=REPO, env=self.env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        try:
            return probe_exporter(process, f"http://127.0.0.1:{port}", block.ident)
        finally:
            stop_process(process)


def _collect_only(match: re.Match[str]) -> str:
    return f"{match['command']} --collect-only -q -p no:cacheprovider{match['comment'] or ''}"


def probe_exporter(process: subprocess.Popen[str], url: str, ident: str) -> str:
    """Wait until /healthz returns 200, then return the exporter's /metrics text."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"{ident}: the server exited ({process.returncode}): {output}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{ident}: nothing answers on {url}"
        time.sleep(0.1)
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, f"{ident}: /metrics answered {response.status_code}"
    return response.text


def stop_process(process: subprocess.Popen[str]) -> None:
    """Stop a process started in its own session, and its children, by its group id."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    for stream in (process.stdout, process.stderr):
        if stream:
            stream.close()


# ---- Blocks that cannot run here -----------------------------------------------------------


def commands(script: str) -> list[list[str]]:
    """Split a shell script into simple commands, each a list of words without redirections."""
    joined = script.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"&&|\|\||[|;]", line):
            words = shlex.split(part.replace("(", " ").replace(")", " "))
            if ">" in words:
                words = words[:words.index(">")]
            while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
                words = words[1:]
            if words:
                found.append(words)
    return found


def program_path(program: str) -> str | None:
    """Return where `program` lives here: on PATH, in .venv/bin, or in the repository.

    A production path such as /opt/sessionwatch/venv/bin/pip stands for the same program of
    this checkout's virtual environment.
    """
    if program.startswith("/opt/sessionwatch/"):
        local = VENV_BIN / Path(program).name
        return str(local) if local.exists() else None
    if "/" in program and not program.startswith("/"):
        local = REPO / program
        return str(local) if local.exists() else None
    env_path = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return shutil.which(program, path=env_path)


def help_command(path: str, words: list[str]) -> list[str]:
    """Return the command that prints the help covering the options of `words`."""
    name = Path(path).name
    if name.startswith("python"):
        if len(words) > 2 and words[1] == "-m":
            return [path, "-m", words[2], "--help"]
        if len(words) > 1 and words[1].endswith(".py"):
            return [path, str(REPO / words[1]), "--help"]
    subcommands = []
    for word in words[1:3]:
        if word.startswith("-") or "/" in word or "." in word:
            break
        subcommands.append(word)
    return [path, *subcommands, "--help"]


def is_benchmark(block: CodeBlock) -> bool:
    """Tell whether every command of the block runs a benchmark of bench/."""
    found = commands(block.text)

    def benchmark(words: list[str]) -> bool:
        if not Path(words[0]).name.startswith("python") or len(words) < 2:
            return False
        return words[1:3] == ["-m", "bench"] or words[1].startswith("bench/")

    return bool(found) and all(benchmark(words) for words in found)


def check_not_run(block: CodeBlock) -> list[str]:
    """Return the problems found in a block that is not run: missing programs, options, files."""
    problems = []
    for words in commands(block.text):
        program = words[0]
        if program in SHELL_BUILTINS:
            continue
        path = program_path(program)
        if path is None:
            problems.append(f"program {program!r} is not installed here")
            continue
        for word in words[1:]:
            if REPO_PATH.match(word) and not glob.glob(str(REPO / word)):
                problems.append(f"{word} does not exist in the repository")
        options = sorted({word.split("=", 1)[0] for word in words if word.startswith("--")})
        if options:
            problems += missing_options(path, words, options)
    return problems


def missing_options(path: str, words: list[str], options: list[str]) -> list[str]:
    result = subprocess.run(help_command(path, words), capture_output=True, text=True,
                            timeout=60, check=False, cwd=REPO)
    text = result.stdout + result.stderr
    return [f"{Path(path).name} does not document {option}" for option in options
            if not re.search(re.escape(option) + r"\b", text)]
