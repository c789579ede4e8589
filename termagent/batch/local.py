"""Workers on this machine: a thread per running task, each waiting on its own child.

The threads only wait; the work is in the `termagent` child processes, one per task. An
interrupt reaches the children from here (they sit in their own process groups, away
from the terminal's Ctrl+C), first as SIGINT so each closes its session and sandbox,
then, past the grace period or on a second Ctrl+C, as SIGKILL to the whole group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from termagent.batch.driver import BatchState
from termagent.batch.run_one import RunOptions, kill_group, run_task
from termagent.batch.tasks import Task

POLL_S = 0.5  # how often the dispatcher looks at the interrupt flags between completions
SANDBOX_MEMORY_GIB = 2.0  # what one task's sandbox may use (the [sandbox] memory default)


def default_workers() -> int:
    """As many tasks as there are CPUs, and no more than memory holds sandboxes: at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem_gib = SANDBOX_MEMORY_GIB
    return max(1, min(cpus, int(mem_gib // SANDBOX_MEMORY_GIB)))


class LocalPool:
    def __init__(self, options: RunOptions, workers: int) -> None:
        self.options = options
        self.workers = max(1, workers)
        self._children: dict[int, subprocess.Popen[str]] = {}
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None

    def run(self, state: BatchState) -> None:
        running: dict[Future[dict[str, Any]], Task] = {}
        interrupted_at: float | None = None
        self._stop = state.stop
        with ThreadPoolExecutor(self.workers, thread_name_prefix="batch-task") as pool:
            while True:
                while len(running) < self.workers and state.may_start():
                    task = state.next_task()
                    running[pool.submit(run_task, task, self.options, self._started)] = task
                if not running:
                    break
                finished, _ = wait(running, timeout=POLL_S, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = running.pop(future)
                    state.record(_outcome(state, future, task))
                interrupted_at = self._escalate(state, interrupted_at)

    def _started(self, proc: subprocess.Popen[str]) -> None:
        with self._lock:
            self._children = {pid: p for pid, p in self._children.items() if p.poll() is None}
            self._children[proc.pid] = proc
        if self._stop is not None and self._stop.is_set():  # its copy was still being made at the interrupt
            _signal(proc, signal.SIGINT)

    def _escalate(self, state: BatchState, interrupted_at: float | None) -> float | None:
        """SIGINT every child once on the first interrupt; SIGKILL past the grace or on a second."""
        if not state.stop.is_set():
            return None
        with self._lock:
            children = [p for p in self._children.values() if p.poll() is None]
        if interrupted_at is None:
            for proc in children:
                _signal(proc, signal.SIGINT)
            return time.monotonic()
        if state.force.is_set() or time.monotonic() - interrupted_at > self.options.grace_s:
            for proc in children:
                kill_group(proc)
        return interrupted_at


def _outcome(state: BatchState, future: Future[dict[str, Any]], task: Task) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a bug in the runner must cost one task, not the batch
        return state.crashed(task, f"batch: the task's runner failed: {type(exc).__name__}: {exc}")


def _signal(proc: subprocess.Popen[str], signum: int) -> None:
    try:
        proc.send_signal(signum)
    except OSError:
        pass
