"""What both backends share: which task starts next, what gets recorded, when to stop.

The backends (a local thread pool, Ray) only start tasks and hand back results; the
rules live here once: nothing starts after an interrupt or once the batch-wide spend
reaches its cap, every finished task is appended at once, and a task the batch itself
interrupted is not recorded, so the next run does it again.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field
from typing import Any

from termagent.batch.progress import Progress
from termagent.batch.results import ResultLog
from termagent.batch.run_one import failure
from termagent.batch.tasks import Task
from termagent.exits import (
    EXIT_INTERRUPTED,
    EXIT_LIMIT,
    EXIT_OK,
    ExitReason,
    code_for_reason,
)


@dataclass
class BatchState:
    tasks: list[Task]
    log: ResultLog
    progress: Progress
    cap_usd: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)  # first Ctrl+C: interrupt, record nothing new
    force: threading.Event = field(default_factory=threading.Event)  # second Ctrl+C: kill at once
    cap_reached: bool = False
    pending: collections.deque[Task] = field(init=False)

    def __post_init__(self) -> None:
        self.pending = collections.deque(t for t in self.tasks if t.id not in self.log.results)

    def may_start(self) -> bool:
        """False once interrupted or once the recorded spend reaches the cap (said once)."""
        if self.stop.is_set() or not self.pending:
            return False
        if self.cap_usd is not None and self.log.spent_usd() >= self.cap_usd:
            if not self.cap_reached:
                self.cap_reached = True
                self.progress.note(f"spend ${self.log.spent_usd():.4f} reached --max-cost-usd {self.cap_usd:g}: "
                                   f"starting no more tasks ({len(self.pending)} left for a later run)")
            return False
        return True

    def next_task(self) -> Task:
        task = self.pending.popleft()
        self.progress.started(task.id)
        return task

    def record(self, result: dict[str, Any]) -> None:
        """Append a finished task's line, unless the batch's own interrupt cut it short."""
        if self.stop.is_set() and (result.get("exit_reason") == ExitReason.INTERRUPTED or result.get("exit_signal")):
            self.progress.finished_task(result, recorded=False)
            return
        self.progress.finished_task(self.log.append(result))

    def crashed(self, task: Task, message: str) -> dict[str, Any]:
        """The line for a task whose runner itself failed (a bug, or Ray gave up on it)."""
        reason = ExitReason.INTERNAL_ERROR
        return {"id": task.id, **failure(reason, message), "exit_code": code_for_reason(reason), "diff": None,
                "workspace": task.workspace.describe(), "timings": {}}

    def exit_code(self) -> int:
        """130 interrupted; 0 every task has a `done` line; 1 otherwise (failed, or not started)."""
        if self.stop.is_set():
            return EXIT_INTERRUPTED
        lines = [self.log.results.get(task.id) for task in self.tasks]
        return EXIT_OK if all(line and line.get("exit_reason") == "done" for line in lines) else EXIT_LIMIT

    def summary(self) -> str:
        lines = [self.log.results.get(task.id) for task in self.tasks]
        done = sum(1 for line in lines if line and line.get("exit_reason") == "done")
        missing = sum(1 for line in lines if line is None)
        return (f"{len(self.tasks)} tasks: {done} done, {len(self.tasks) - done - missing} failed, "
                f"{missing} without a result; ${self.log.spent_usd():.4f} spent; results in {self.log.path}")
