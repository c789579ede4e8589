"""The `batch` subcommand's arguments and its run; standard library only at import time,
because termagent.cli builds its parser (and so imports this) on every start."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

MODES = ("plan", "ask", "accept-edits", "auto")
EPILOG = """\
Each line of TASKS: {"id", "task", "workspace": PATH | GIT-URL | {"git": URL, "ref": REF},
"mode"?, "model"?, "max_cost_usd"?, "max_turns"?}. Flags before `batch` (--allow, --deny,
--max-turns, --max-cost-usd, --max-wall-s) are per-task defaults; --max-cost-usd after
`batch` caps the whole batch. Exit: 0 every task done; 1 some task did not finish `done`
or was not started (cost cap); 2 bad task file or flags; 130 interrupted (finished results
stay; a re-run does the rest)."""


def add_subcommand(sub: argparse._SubParsersAction[Any]) -> None:
    batch = sub.add_parser("batch", help="run many headless tasks, each in its own copy of its workspace",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    batch.add_argument("tasks", metavar="TASKS.jsonl", help="one JSON task per line ('-' reads stdin)")
    batch.add_argument("--out", required=True, type=Path, metavar="RESULTS.jsonl",
                       help="append one result line per task; tasks already in it are skipped")
    where = batch.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="tasks at once on this machine "
                       "(default: CPUs, at most one per 2 GiB of memory)")
    where.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                       help="run the tasks on a Ray cluster (default address: RAY_ADDRESS or a local one)")
    batch.add_argument("--max-cost-usd", dest="batch_max_cost_usd", type=float, metavar="USD",
                       help="start no new task once the batch has spent this much (results already in --out count)")
    batch.add_argument("--task-timeout-s", type=float, default=3600.0, metavar="S",
                       help="stop a task that runs longer than this (default 3600)")
    batch.add_argument("--work-dir", metavar="DIR", help="where task copies are made (default: the system temp dir)")
    batch.add_argument("--keep-workspaces", action="store_true", help="leave each task's copy in place")
    batch.add_argument("--ray-cpus", type=float, default=1.0, metavar="N", help="CPUs per Ray task (default 1)")
    batch.add_argument("--ray-memory-gib", type=float, default=2.0, metavar="GIB",
                       help="memory per Ray task (default 2)")
    batch.add_argument("--ray-retries", type=int, default=3, metavar="N",
                       help="retries of a task whose Ray worker is lost (default 3)")
    # SUPPRESS keeps the top-level value (`termagent --sandbox none batch ...`) when not repeated here
    batch.add_argument("--sandbox", choices=("docker", "none"), default=argparse.SUPPRESS,
                       help="'none' runs commands on the host, unconfined")
    batch.add_argument("--mode", choices=MODES, default=argparse.SUPPRESS, help="permission mode of tasks without one")
    batch.add_argument("--model", default=argparse.SUPPRESS, help="model of tasks without one")
    batch.add_argument("--trust-project", action="store_true", default=argparse.SUPPRESS,
                       help="apply each workspace's .termagent/ settings")


def dispatch(args: argparse.Namespace) -> int:
    """The exit code of `termagent batch`."""
    from termagent.batch.ray_backend import RayUnavailable
    from termagent.batch.tasks import TaskFileError, load_tasks
    from termagent.console import say

    if args.workers is not None and args.workers < 1:
        return _usage("--workers must be at least 1")
    try:
        tasks = load_tasks(args.tasks, sys.stdin.read() if args.tasks == "-" else None)
    except TaskFileError as exc:
        return _usage(str(exc))
    backend = _backend(args)
    state = _state(args, tasks)
    problem = state.log.check_writable()
    if problem:
        return _usage(problem)
    _on_interrupt(state)
    try:
        backend.run(state)
    except RayUnavailable as exc:
        state.progress.close()
        return _usage(str(exc))
    state.progress.close()
    say(f"termagent batch: {'interrupted; ' if state.stop.is_set() else ''}{state.summary()}", file=sys.stderr)
    return state.exit_code()


def _usage(message: str) -> int:
    from termagent.console import say
    from termagent.exits import EXIT_USAGE

    say(f"termagent batch: {message}", file=sys.stderr)
    return EXIT_USAGE


def _options(args: argparse.Namespace) -> Any:
    from termagent.batch.run_one import RunOptions

    return RunOptions(sandbox=args.sandbox, mode=args.mode, model=args.model, max_turns=args.max_turns,
                      max_cost_usd=args.max_cost_usd, max_wall_s=args.max_wall_s, allow=tuple(args.allow),
                      deny=tuple(args.deny), trust_project=bool(args.trust_project),
                      sandbox_allow_root=bool(args.sandbox_allow_root), timeout_s=args.task_timeout_s,
                      work_dir=args.work_dir, keep_workspaces=args.keep_workspaces)


def _backend(args: argparse.Namespace) -> Any:
    options = _options(args)
    if args.ray is not None:
        from termagent.batch.ray_backend import RayPool, RayResources

        resources = RayResources(args.ray_cpus, args.ray_memory_gib, args.ray_retries)
        return RayPool(options, args.ray or None, resources)
    from termagent.batch.local import LocalPool, default_workers

    return LocalPool(options, args.workers or default_workers())


def _state(args: argparse.Namespace, tasks: list[Any]) -> Any:
    from termagent.batch.driver import BatchState
    from termagent.batch.progress import Progress
    from termagent.batch.results import ResultLog

    log = ResultLog(args.out.resolve(), warn=lambda message: print(f"termagent batch: {message}", file=sys.stderr))
    log.load()
    earlier = [log.results[t.id] for t in tasks if t.id in log.results]
    progress = Progress(len(tasks), earlier)
    if earlier:
        progress.note(f"{len(earlier)} of {len(tasks)} tasks already have a result in {args.out}; skipping them")
    return BatchState(tasks, log, progress, cap_usd=args.batch_max_cost_usd)


def _on_interrupt(state: Any) -> None:
    """Ctrl+C (or SIGTERM): stop starting tasks and interrupt the running ones; again: kill them."""

    def handler(signum: int, frame: object) -> None:
        if state.stop.is_set():
            state.force.set()
            return
        state.stop.set()
        state.progress.note("interrupted: stopping the running tasks (Ctrl+C again kills them); "
                            "finished results stay in place")

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
