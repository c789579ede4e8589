"""Helpers for the worker tests: real `python -m termagent` processes, each test with its own
runtime dir (so its own worker), and ways to find and wait on that worker."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DEADLINE_S = 120.0  # generous: a cold worker imports the SDK on a loaded 2-core machine


@dataclass
class Runner:
    runtime: Path
    env: dict[str, str]

    @property
    def report(self) -> Path:
        return Path(self.env["TERMAGENT_WORKER_REPORT"])

    def run(self, args: list[str], cwd: Path, env: dict[str, str] | None = None,
            **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "termagent", *args], cwd=cwd, env=env or self.env,
                              capture_output=True, text=True, timeout=DEADLINE_S, stdin=subprocess.DEVNULL,
                              **kwargs)  # type: ignore[call-overload]

    def popen(self, args: list[str], cwd: Path) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "termagent", *args], cwd=cwd, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)

    def reports(self) -> list[dict[str, float]]:
        """One line per task a worker ran (the client writes it); none for in-process runs."""
        if not self.report.exists():
            return []
        return [json.loads(line) for line in self.report.read_text().splitlines() if line.strip()]

    def worker_pids(self) -> list[int]:
        """The workers serving this runtime dir (each logs its pid once it serves)."""
        pids = []
        for log in self.runtime.glob("worker-*.log"):
            pids += [int(pid) for pid in re.findall(r"\(pid (\d+)\)", log.read_text())]
        return pids

    def start_worker(self, cwd: Path) -> int:
        """A run with no worker running goes on in its own process and starts one for the
        next run; this makes that run (a usage error, so no model request) and waits until
        the worker serves. Returns its pid."""
        started = self.run(["--task", " "], cwd)
        assert started.returncode == 2, started.stderr
        wait_until(lambda: bool(self.worker_pids()), "the worker to serve")
        (pid,) = self.worker_pids()
        return pid

    def starting_workers(self) -> list[int]:
        """Workers of this runtime dir, serving or still warming up (found by their argv)."""
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv = cmdline.read_bytes().split(b"\0")
            except OSError:
                continue
            if os.fsencode(self.runtime) in argv and any(b"termagent.worker.server" in a for a in argv):
                found.append(int(cmdline.parent.name))
        return found

    def sockets(self) -> list[Path]:
        return sorted(self.runtime.glob("worker-*.sock"))


def _live_parent(stat: Path) -> int | None:
    """The parent pid from /proc/PID/stat; None for a process gone or a zombie."""
    try:
        state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
    except (OSError, IndexError, ValueError):
        return None
    return None if state in ("Z", "X") else int(parent)


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (workers are not our children)."""
    return _live_parent(Path(f"/proc/{pid}/stat")) is not None


def descendants(pid: int) -> list[int]:
    """The live processes below `pid` (a worker's handlers and their tasks)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        parent = _live_parent(stat)
        if parent is not None:
            parents[int(stat.parent.name)] = parent
    below, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        below += children
        frontier = children
    return below


def wait_until(condition, what: str, deadline_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def stop_workers(runner: Runner) -> None:
    """Every worker the test started, also one still warming up (a run that found none started it)."""
    for pid in sorted(set(runner.worker_pids()) | set(runner.starting_workers())):
        if alive(pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            wait_until(lambda: not alive(pid), f"worker {pid} to stop", 30)
