"""Run cases: each run in a fresh workspace copy, its own session, sandbox and (offline) model.

Runs go in-process through the session door (open_session, then the headless runner, so a
run is exactly a `termagent --task ... --output json` run, denials and exit code included).
In-process rather than one `termagent` subprocess per run because a subprocess pays the
interpreter and SDK import (1-2 s) per run, which would dwarf a scripted session and
waste a worker's time on a real one, and because the harness needs the tool calls'
inputs from the event bus, which the json output does not carry. Workers are threads,
each with its own event loop and store connection; a run's model endpoint is fixed when
its session is built (under a lock, since the SDK reads ANTHROPIC_BASE_URL then).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import io
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from termagent.evals.case import Case
from termagent.evals.checks import CheckResult, Observation, ToolCall, run_checks
from termagent.evals.scoring import CaseResult, RunResult
from termagent.protocol import CompactionDone, Event, SubagentEvent, SubagentStarted, ToolCallFinished, ToolCallStarted

_ENDPOINT_LOCK = threading.Lock()
_ENV_KEYS = ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
SCRIPTED_KEY = "sk-scripted-eval-000000000000"
CHECK_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Settings:
    scripted: bool = False
    workers: int = 1
    runs: int | None = None  # overrides every case's own count
    model: str | None = None
    mode: str | None = None
    sandbox: str | None = None
    keep: bool = False  # keep every run's workspace (failed runs' are always kept)
    scripted_delay_s: float = 0.0  # offline: pause between streamed events, to stand in for model latency


@dataclass(frozen=True)
class Progress:
    case: str
    index: int
    result: RunResult
    workspace: Path | None


@contextmanager
def model_endpoint(url: str | None) -> Iterator[None]:
    """While a session (and its model client) is built, point the SDK at `url`; None: leave it."""
    if url is None:
        yield
        return
    with _ENDPOINT_LOCK:
        saved = {key: os.environ.get(key) for key in _ENV_KEYS}
        os.environ.pop("ANTHROPIC_AUTH_TOKEN", None)
        os.environ.update(ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY=SCRIPTED_KEY)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class Observer:
    """Collects the run's tool calls (main agent and subagents) and compactions from the bus."""

    def __init__(self) -> None:
        self.calls: dict[str, ToolCall] = {}
        self.agents: dict[str, str] = {}
        self.compacted = False

    def __call__(self, event: Event, agent: str = "") -> None:
        if isinstance(event, SubagentStarted):
            self.agents[event.agent_id] = event.agent
        elif isinstance(event, SubagentEvent):
            self(event.event, self.agents.get(event.agent_id, event.agent_id))
        elif isinstance(event, ToolCallStarted):
            self.calls[f"{agent}/{event.call_id}"] = ToolCall(event.name, dict(event.input), None, agent)
        elif isinstance(event, ToolCallFinished):
            key = f"{agent}/{event.call_id}"
            call = self.calls.get(key) or ToolCall(event.name, {}, None, agent)
            self.calls[key] = ToolCall(call.name, call.input, event.ok, agent)
        elif isinstance(event, CompactionDone) and not agent:
            self.compacted = True


def run_config(case: Case, workspace: Path, settings: Settings) -> Any:
    from termagent.config import load_config

    layers: dict[str, dict[str, Any]] = copy.deepcopy(case.config)
    layers.setdefault("permissions", {})["mode"] = settings.mode or case.mode
    if settings.model:
        layers.setdefault("model", {})["main"] = settings.model
    if settings.sandbox:
        layers.setdefault("sandbox", {})["backend"] = settings.sandbox
    if settings.scripted:
        layers.setdefault("model", {}).update(backoff_base_s=0.01, backoff_max_s=0.05)
    return load_config(workspace, include_project=case.trusted).with_overrides(layers)


class _Checker:
    """Runs check commands in a sandbox of the run's own kind, started on first use."""

    def __init__(self, config: Any, workspace: Path, session_id: str) -> None:
        self.config, self.workspace, self.session_id = config, workspace, session_id
        self.sandbox: Any = None

    async def __call__(self, command: str) -> tuple[int | None, str]:
        from termagent.sandbox import open_sandbox

        if self.sandbox is None:
            self.sandbox = open_sandbox(self.config, self.workspace, self.session_id)
            await self.sandbox.start()
        result = await self.sandbox.exec(command, CHECK_TIMEOUT_S)
        return result.exit_code, result.output

    async def close(self) -> None:
        if self.sandbox is not None:
            await self.sandbox.close()


@dataclass(frozen=True)
class Shared:
    """What the workers of one eval share: the prepared workspaces and the clean-up queue."""

    templates: Any
    janitor: "queue.Queue[Callable[[], None] | None]"


def _janitor(jobs: "queue.Queue[Callable[[], None] | None]") -> None:
    """Removes finished runs' workspaces and stops their servers off the runs' critical path."""
    while (job := jobs.get()) is not None:
        job()


async def run_once(case: Case, index: int, settings: Settings, store: Any, script: dict[str, Any] | None,
                   shared: Shared) -> Progress:
    """One run, start to finish; anything the harness itself cannot do becomes the run's error."""
    from termagent.evals.workspace import WorkspaceError, remove

    started = time.monotonic()
    try:
        prepared = shared.templates.fresh(case)
    except WorkspaceError as exc:
        return Progress(case.name, index, RunResult(case.name, index, None, (), error=str(exc)), None)
    result = await _session_run(case, index, settings, store, script, prepared.root, prepared.base_commit, started,
                                shared)
    keep = settings.keep or result.score < 0.8
    if not keep:
        shared.janitor.put(lambda: remove(prepared))
    result = dataclasses.replace(result, wall_s=time.monotonic() - started)
    return Progress(case.name, index, result, prepared.root if keep else None)


async def _session_run(case: Case, index: int, settings: Settings, store: Any, script: dict[str, Any] | None,
                       root: Path, base: str, started: float, shared: Shared) -> RunResult:
    from termagent.evals.scripted import start_server

    server = start_server(script, settings.scripted_delay_s) if script is not None else None
    try:
        return await _drive(case, index, settings, store, root, base, started, server.url if server else None)
    except Exception as exc:  # the run failed in the harness: a failed run with the reason, never a crash
        return RunResult(case.name, index, None, (), error=f"{type(exc).__name__}: {exc}",
                         wall_s=time.monotonic() - started)
    finally:
        if server is not None:
            shared.janitor.put(server.stop)


async def _drive(case: Case, index: int, settings: Settings, store: Any, root: Path, base: str, started: float,
                 url: str | None) -> RunResult:
    from termagent.core.door import open_session, session_options
    from termagent.headless import run_headless
    from termagent.model.client import ModelClient

    begun = time.monotonic()
    config = run_config(case, root, settings)
    options = session_options(root, False, allow=case.allow, deny=case.deny, trusted=case.trusted)
    with model_endpoint(url):
        session = open_session(config, options, store)
        judge_client = ModelClient(config) if case.judge else None
    observer = Observer()
    session.bus.listen(observer)
    outcome = await run_headless(session, case.task, "json", io.StringIO(), io.StringIO())
    session_s = time.monotonic() - begun
    payload = outcome.payload
    checked = time.monotonic()
    obs = Observation(root, payload, outcome.exit_code, tuple(observer.calls.values()), observer.compacted, base)
    checks = await _checks(case, obs, _Checker(config, root, session.session_id))
    judged = time.monotonic()
    checks_s = judged - checked
    score, reasons, judge_cost, judge_tokens = await _judge(case, judge_client, checks, root, base, payload)
    judge_s = time.monotonic() - judged
    usage = payload.get("usage", {})
    return RunResult(
        case.name, index, payload.get("session_id"), checks, score, reasons, outcome.exit_code,
        outcome.exit_reason, int(payload.get("turns", 0)),
        int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0)) + judge_tokens,
        float(payload.get("cost_usd", 0.0)) + judge_cost, time.monotonic() - started, session_s, judge_s,
        checks_s, len(obs.calls))


async def _checks(case: Case, obs: Observation, checker: _Checker) -> tuple[CheckResult, ...]:
    """The case's checks, with check commands in a sandbox like the session's (closed afterwards)."""
    try:
        return tuple(await run_checks(case.checks, dataclasses.replace(obs, run_command=checker)))
    finally:
        await checker.close()


async def _judge(case: Case, client: Any, checks: tuple[CheckResult, ...], root: Path, base: str,
                 payload: dict[str, Any]) -> tuple[float | None, str, float, int]:
    """The judge's score, only once every deterministic check passed (a failed check already fails)."""
    from termagent.evals.judge import JudgeError, judge_run
    from termagent.evals.workspace import final_diff

    if case.judge is None or client is None or not all(c.passed for c in checks):
        return None, "", 0.0, 0
    try:
        verdict = await judge_run(client, case.task, case.judge.criteria, final_diff(root, base),
                                  str(payload.get("result", "")))
    except JudgeError as exc:
        return 0.0, str(exc), 0.0, 0
    finally:
        await client.aclose()
    return verdict.score, verdict.reasons, verdict.cost_usd, verdict.tokens


def _worker(jobs: "queue.Queue[tuple[Case, int]]", settings: Settings, scripts: dict[str, dict[str, Any]],
            done: Callable[[Progress], None], shared: Shared) -> None:
    from termagent.store.db import Store

    async def loop() -> None:
        store = Store()
        try:
            while True:
                try:
                    case, index = jobs.get_nowait()
                except queue.Empty:
                    return
                done(await run_once(case, index, settings, store, scripts.get(case.name), shared))
        finally:
            store.close()

    asyncio.run(loop())


def run_cases(cases: list[Case], settings: Settings, scripts: dict[str, dict[str, Any]],
              on_progress: Callable[[Progress], None] = lambda p: None) -> list[CaseResult]:
    """Every run of every case on `settings.workers` threads; results in case order."""
    jobs: queue.Queue[tuple[Case, int]] = queue.Queue()
    for case in cases:
        for index in range(settings.runs or case.runs):
            jobs.put((case, index))
    results: dict[str, list[RunResult]] = {case.name: [] for case in cases}
    lock = threading.Lock()

    def done(progress: Progress) -> None:
        with lock:
            results[progress.case].append(progress.result)
            on_progress(progress)

    from termagent.evals.workspace import Templates

    shared = Shared(Templates(), queue.Queue())
    janitor = threading.Thread(target=_janitor, args=(shared.janitor,), name="eval-janitor", daemon=True)
    janitor.start()
    threads = [threading.Thread(target=_worker, args=(jobs, settings, scripts, done, shared), name=f"eval-worker-{n}",
                                daemon=True) for n in range(max(1, settings.workers))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        shared.janitor.put(None)
        janitor.join()
        shared.templates.close()
    return [CaseResult(c.name, c.tags, tuple(sorted(results[c.name], key=lambda r: r.index))) for c in cases]
