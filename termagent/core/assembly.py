"""Put a session together from config: store, model, tools, policy, sandbox, history.

Kept apart from Session so the wiring can be read in one place and tests can build a
session with any part swapped for a real alternative (a host sandbox, another store).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from termagent.config import Config
from termagent.core.agents import load_definitions
from termagent.core.approvals import EventApprover, NoPersonApprover
from termagent.core.budget import Budget, Limits
from termagent.core.bus import EventBus
from termagent.core.history import History, tool_result_block
from termagent.core.loop import STOP_SANDBOX, AgentLoop, HaltTurn
from termagent.core.prompts import load_prompt, project_memory
from termagent.core.session import Session
from termagent.core.subagents import SubagentHost
from termagent.core.tool_runner import ToolRunner
from termagent.model.client import ModelClient
from termagent.model.request import StablePrefix
from termagent.protocol import AssistantTextDelta, Event, SubagentEvent, ToolCallOutputDelta, Warning
from termagent.sandbox.base import Sandbox
from termagent.store.db import Store
from termagent.tools.base import ToolContext
from termagent.tools.delegate import DelegateTool
from termagent.tools.registry import ToolRegistry
from termagent.tools.workspace import ReadLedger

UNTRACED = (AssistantTextDelta, ToolCallOutputDelta)
UNSANDBOXED = "sandbox disabled (--sandbox none): commands run directly on this machine, unconfined"
KILLED_CALL = "not finished: the previous termagent process ended while this call was running"


@dataclass(frozen=True)
class SessionOptions:
    workspace: Path
    interactive: bool
    resume: str | None = None  # "" resumes the newest session of this workspace
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    trusted: bool = False


class ResumeError(Exception):
    pass


def open_session(config: Config, options: SessionOptions, store: Store, bus: EventBus | None = None) -> Session:
    """Build (not start) a session; raises ModelError, ResumeError or ConfigError early."""
    workspace = options.workspace.resolve()
    bus = bus or EventBus()
    model = ModelClient(config)
    session_id, resumed = _session_id(store, workspace, options, config)
    bus.listen(lambda event: _trace(store, session_id, event))
    history = _history(store, session_id, resumed)
    sandbox = _sandbox(config, workspace, session_id)
    ctx = ToolContext(root=workspace, ledger=ReadLedger(), config=config, session_id=session_id,
                      sandbox=sandbox, artifacts=store)
    tools = _tools(config)
    definitions, warnings = load_definitions(workspace, options.trusted, {t.spec.name for t in tools})
    delegate = DelegateTool(definitions)
    registry = ToolRegistry([*tools, delegate])
    policy = _policy(config, options, workspace, [t.spec.name for t in tools] + ["delegate"])
    approver = EventApprover(bus.emit) if options.interactive else NoPersonApprover()
    runner = ToolRunner(registry, policy, approver, ctx, bus.emit, store)
    memory = project_memory(workspace)
    prefix = StablePrefix((load_prompt("system", workspace, options.trusted), memory), tuple(registry.api_tools()))
    limits = config.section("limits")
    budget = Budget(Limits(int(limits["max_turns"]), float(limits["max_cost_usd"]),
                           int(limits["max_tokens"]), float(limits["max_wall_s"])))
    loop = AgentLoop(model, "main", prefix, history, runner, budget, bus.emit, store,
                     int(config.get("model", "context_window")))
    delegate.host = SubagentHost(config, workspace, model, store, registry, policy, approver, ctx, budget,
                                 bus.emit, memory, definitions, runner.denials)
    _halt_when_sandbox_fails(loop, sandbox, delegate.host)
    session = Session(session_id, config, workspace, store, bus, loop, runner, approver, sandbox, resumed)
    _attach_checkpoints(session, ctx, warnings)
    _attach_context_care(session, ctx, options)
    _attach_mcp(session, registry, policy, options, warnings)
    if config.get("sandbox", "backend") == "none":
        warnings.insert(0, UNSANDBOXED)
    session.startup_warnings.extend(warnings)
    return session


def _attach_checkpoints(session: Session, ctx: ToolContext, warnings: list[str]) -> None:
    """Snapshot the tree before anything that can change it, so every step can be undone."""
    from termagent.git import Checkpointer

    checkpointer = Checkpointer(session.workspace, session.session_id,
                                bool(session.config.get("checkpoints", "enabled")),
                                on_warning=lambda message: session.bus.emit(Warning(message)))
    ctx.before_change = checkpointer
    session.checkpointer = checkpointer
    session.closers.append(checkpointer.aclose)
    if not checkpointer.enabled:
        warnings.append(checkpointer.disabled_reason)


def _attach_context_care(session: Session, ctx: ToolContext, options: SessionOptions) -> None:
    """Watch the workspace for outside edits and compact the history as it grows.

    The watcher's note goes first so compaction measures the request as it will be sent.
    """
    from termagent.core.compaction import Compactor
    from termagent.core.watcher import WorkspaceWatcher

    watcher = WorkspaceWatcher(session.workspace, ctx.ledger, session.bus.emit)
    ctx.activity = watcher.agent_activity
    session.compactor = Compactor(session.config, session.store, session.workspace, options.trusted)
    session.loop.before_request += [watcher.before_request, session.compactor.before_request]
    session.watcher = watcher
    session.closers.append(watcher.aclose)


def _attach_mcp(session: Session, registry: ToolRegistry, policy, options: SessionOptions, warnings: list[str]) -> None:
    """MCP servers start now, in the background; their tools join before the first request."""
    from termagent.mcp.attach import attach_mcp  # does not import the mcp SDK unless servers exist

    handle = attach_mcp(session.config, session.workspace, options.trusted, registry, policy, session.loop,
                        session.bus.emit, warnings)
    if handle is not None:
        session.mcp = handle
        session.closers.append(handle.manager.aclose)


def _halt_when_sandbox_fails(loop: AgentLoop, sandbox: Sandbox, host: SubagentHost) -> None:
    """A dead sandbox ends the turn (exit 5), in a subagent too, rather than letting the model work blind."""

    async def check(_: AgentLoop) -> None:
        failure = getattr(sandbox, "failed_in_use", None)
        if failure:
            raise HaltTurn(STOP_SANDBOX, failure, "sandbox")

    loop.before_request.append(check)
    host.child_hooks.append(check)


def _session_id(store: Store, workspace: Path, options: SessionOptions, config: Config) -> tuple[str, bool]:
    if options.resume is None:
        return store.create_session(str(workspace), config.model_for("main")), False
    if options.resume == "":
        records = store.sessions(str(workspace), limit=1)
        if not records:
            raise ResumeError(f"no earlier session to resume in {workspace}")
        return records[0].id, True
    try:
        record = store.find_session(options.resume, top_level=True)
    except LookupError as exc:
        raise ResumeError(str(exc)) from None
    if record is None:
        raise ResumeError(f"no session matches {options.resume!r}; `termagent sessions` lists them")
    return record.id, True


def _history(store: Store, session_id: str, resumed: bool) -> History:
    history = History(session_id, store)
    if not resumed:
        return history
    compaction = store.latest_compaction(session_id)
    through, document, live = compaction if compaction else (-1, "", [])
    newer = store.messages(session_id, through + 1)
    history.load(live + newer, through + len(newer), document)
    dangling = history.unanswered_tool_ids()
    if dangling:
        history.append({"role": "user", "content": [tool_result_block(i, KILLED_CALL, True) for i in dangling]})
    return history


def _sandbox(config: Config, workspace: Path, session_id: str) -> Sandbox:
    from termagent.sandbox import open_sandbox

    if config.get("sandbox", "backend") == "none":
        return open_sandbox(config, workspace, session_id)
    from termagent.sandbox.lazy import LazySandbox

    return LazySandbox(lambda: open_sandbox(config, workspace, session_id))


def _tools(config: Config) -> list:
    from termagent.tools.artifacts import ReadArtifactTool
    from termagent.tools.bash import BashTool
    from termagent.tools.registry import default_tools

    return [*default_tools(config), BashTool(), ReadArtifactTool()]


def _policy(config: Config, options: SessionOptions, workspace: Path, tool_names: list[str]):
    from termagent.policy.decide import Policy
    from termagent.policy.rules import RuleSet

    perms = config.section("permissions")
    rules = RuleSet.from_config(
        list(perms["allow"]) + list(options.allow), list(perms["ask"]), list(perms["deny"]) + list(options.deny),
        "config and flags", known_tools=tool_names,
    )
    return Policy(perms["mode"], rules, options.interactive, _existing_in(workspace))


def _existing_in(workspace: Path):
    """For the classifier: does a redirect target already exist (so `>` would truncate it)?"""

    def exists(path: str) -> bool:
        if path.startswith("/workspace/") or path == "/workspace":
            path = path[len("/workspace"):].lstrip("/")
        candidate = Path(path) if path.startswith("/") else workspace / path
        return candidate.exists()

    return exists


def _trace(store: Store, session_id: str, event: Event) -> None:
    inner = event.event if isinstance(event, SubagentEvent) else event
    if not isinstance(inner, UNTRACED):
        store.record_event(session_id, event.to_dict())
