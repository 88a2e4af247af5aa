"""Describe the machine a benchmark ran on: CPU, cores, load, Python and tool versions."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _tool_version(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return "not installed"
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=10,
                                   check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({type(exc).__name__})"
    output = (completed.stdout or completed.stderr).strip().splitlines()
    return output[0] if output else "unknown"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    memory_gib: float
    system: str
    python: str
    redis_server: str
    wrk: str

    @classmethod
    def describe(cls) -> Machine:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return cls(
            cpu=_cpu_model(),
            cores=os.cpu_count() or 1,
            memory_gib=pages / 2**30,
            system=f"{platform.system()} {platform.release()}",
            python=f"{platform.python_implementation()} {sys.version.split()[0]}",
            redis_server=_tool_version(["redis-server", "--version"]),
            wrk=_tool_version(["wrk", "-v"]),
        )

    def lines(self) -> list[str]:
        return [
            f"CPU: {self.cpu}, {self.cores} cores, {self.memory_gib:.1f} GiB RAM",
            f"System: {self.system}",
            f"Python: {self.python}",
            f"redis-server: {self.redis_server}",
            f"wrk: {self.wrk}",
        ]
