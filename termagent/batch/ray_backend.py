"""The same tasks as Ray tasks: Ray schedules them, retries them when a worker is lost,
and hands the results back to this driver, which writes RESULTS.jsonl as each arrives.

Each Ray task calls `run_task` where it lands, so the copy, the `termagent` child and its
Docker sandbox all live on that worker's node (its own engine). The credentials travel
only in the job's runtime environment (`env_vars`): never in a task's arguments, never in
a result (run_task scrubs them). Ray is imported only here, and only for `--ray`.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from termagent.batch.driver import BatchState
from termagent.batch.run_one import RunOptions, run_task
from termagent.batch.tasks import Task

POLL_S = 0.5
# what a worker needs from the driver's environment to reach the model, and nothing else
FORWARDED_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL")


class RayUnavailable(Exception):
    """Ray is not installed or the cluster cannot be reached; the message says what to do."""


@dataclass(frozen=True)
class RayResources:
    """What one task asks of the cluster, and how often a lost worker's task is retried."""

    num_cpus: float = 1.0
    memory_gib: float = 2.0
    max_retries: int = 3
    inflight: int | None = None  # tasks in flight at once; default: the cluster's CPUs / num_cpus


def _remote_run(task: Task, options: RunOptions) -> dict[str, Any]:
    """The body of each Ray task (module level, so workers import it by name)."""
    return run_task(task, options)


class RayPool:
    def __init__(self, options: RunOptions, address: str | None, resources: RayResources) -> None:
        self.options, self.address, self.resources = options, address, resources

    def run(self, state: BatchState) -> None:
        ray = _connect(self.address)
        try:
            remote = ray.remote(num_cpus=self.resources.num_cpus, memory=int(self.resources.memory_gib * 2**30),
                                max_retries=self.resources.max_retries, retry_exceptions=False)(_remote_run)
            self._loop(ray, remote, state, self._inflight(ray))
        finally:
            ray.shutdown()

    def _inflight(self, ray: Any) -> int:
        if self.resources.inflight:
            return self.resources.inflight
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        return max(1, int(cpus // max(self.resources.num_cpus, 0.001)))

    def _loop(self, ray: Any, remote: Any, state: BatchState, inflight: int) -> None:
        running: dict[Any, Task] = {}
        cancelled_at: float | None = None
        while True:
            while len(running) < inflight and state.may_start():
                task = state.next_task()
                running[remote.remote(task, self.options)] = task
            if not running:
                return
            ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
            for ref in ready:
                task = running.pop(ref)
                state.record(_outcome(ray, state, ref, task, self.resources.max_retries))
            cancelled_at = self._cancel(ray, state, running, cancelled_at)

    def _cancel(self, ray: Any, state: BatchState, running: dict[Any, Task], since: float | None) -> float | None:
        """On interrupt, cancel every running task (the worker interrupts its child);
        force-kill the workers past the grace period or on a second Ctrl+C."""
        if not state.stop.is_set():
            return None
        if since is None:
            for ref in running:
                ray.cancel(ref, force=False)
            return time.monotonic()
        if state.force.is_set() or time.monotonic() - since > self.options.grace_s:
            for ref in running:
                ray.cancel(ref, force=True)
        return since


def _outcome(ray: Any, state: BatchState, ref: Any, task: Task, retries: int) -> dict[str, Any]:
    from ray import exceptions

    try:
        result: dict[str, Any] = ray.get(ref)
        return result
    except exceptions.TaskCancelledError:
        return {**state.crashed(task, "cancelled by the batch's interrupt"), "exit_reason": "interrupted"}
    except (exceptions.WorkerCrashedError, exceptions.NodeDiedError, exceptions.ObjectLostError) as exc:
        return state.crashed(task, f"ray: the task's worker was lost {retries + 1} time(s): {type(exc).__name__}")
    except exceptions.RayTaskError as exc:
        return state.crashed(task, f"ray: the task failed on its worker: {_first_line(exc)}")


def _connect(address: str | None) -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--ray needs Ray on this machine: pip install 'termagent[ray]'") from None
    env_vars = {name: os.environ[name] for name in FORWARDED_ENV if os.environ.get(name)}
    try:
        ray.init(address=address or None, runtime_env={"env_vars": env_vars}, logging_level=logging.WARNING,
                 log_to_driver=False, configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(f"cannot reach the Ray cluster at {address or 'auto'}: {_first_line(exc)}") from None
    return ray


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
