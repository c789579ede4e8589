"""Put a session together from config: store, model, tools, policy, sandbox, history.

Kept apart from Session so the wiring can be read in one place and tests can build a
session with any part swapped for a real alternative (a host sandbox, another store).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable

from termagent.config import Config
from termagent.core.agents import AgentDefinition, load_definitions
from termagent.core.approvals import EventApprover, NoPersonApprover
from termagent.core.budget import Budget, Limits
from termagent.core.bus import EventBus
from termagent.core.history import History
from termagent.core.loop import STOP_SANDBOX, AgentLoop, HaltTurn
from termagent.core.request_hooks import PendingRequest, RequestHook
from termagent.core.resume import ResumeError, history_of, session_id_for
from termagent.core.memory_watch import MemoryChange, check_at_start, record_at_end
from termagent.core.prompts import MemoryFile, load_prompt, memory_files, render_memory
from termagent.core.session import Session
from termagent.core.subagents import SubagentHost
from termagent.core.tool_runner import Denial, ToolRunner
from termagent.extensions.catalog import Extensions, load_extensions, skill_tools
from termagent.extensions.scope import SkillScope
from termagent.extensions.skills import prefix_listing
from termagent.model.client import ModelClient
from termagent.model.request import StablePrefix
from termagent.protocol import (
    AssistantTextDelta,
    Event,
    Subject,
    SubagentEvent,
    ToolCallOutputDelta,
    TurnFinished,
    Warning,
)
from termagent.sandbox.base import Sandbox, SandboxFactory
from termagent.sandbox.egress_policy import network_warnings, with_network_note
from termagent.store.db import Store
from termagent.tools.base import Tool, ToolContext
from termagent.tools.delegate import DelegateTool
from termagent.tools.fileaccess import FileAccessFactory, local_files
from termagent.tools.registry import ToolRegistry
from termagent.tools.workspace import ReadLedger

if TYPE_CHECKING:
    from termagent.core.compaction import Compactor
    from termagent.core.watcher import WorkspaceWatcher
    from termagent.git.checkpoints import Checkpointer, CheckpointLimits
    from termagent.lifecycle.dispatch import Lifecycle
    from termagent.mcp.attach import McpHandle
    from termagent.policy.decide import Narrowing, Policy

__all__ = ["ResumeError", "SessionOptions", "open_session"]

UNTRACED = (AssistantTextDelta, ToolCallOutputDelta)
UNSANDBOXED = "sandbox disabled (--sandbox none): commands run directly on this machine, unconfined"


@dataclass(frozen=True)
class SessionOptions:
    workspace: Path
    interactive: bool
    resume: str | None = None  # "" resumes the newest session of this workspace
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    trusted: bool = False
    files: FileAccessFactory = local_files  # the session id -> where file tools read and write (the disk, an editor)
    sandbox: SandboxFactory | None = None  # the session id -> where commands run, instead of [sandbox]'s choice


def open_session(config: Config, options: SessionOptions, store: Store, bus: EventBus | None = None) -> Session:
    """Build (not start) a session in one pass; raises ModelError, ResumeError or ConfigError early.

    Every part gets what it needs when it is made: nothing is injected afterwards. The stages
    run in dependency order; start-up warnings keep the order a person reads them in.
    """
    ground = _ground(config, options, store, bus or EventBus())
    toolbox = _toolbox(config, options, store, ground)
    warnings = list(toolbox.definition_warnings)
    memory_read = memory_files(ground.workspace)
    memory = render_memory(memory_read)
    memory_changes, record_memory = _memory_watch(store, ground.workspace, ground.session_id, memory_read, warnings)
    warnings.extend(toolbox.extensions.warnings)
    helpers = _helpers(config, options, store, ground, toolbox, memory, warnings)
    warnings.extend(toolbox.mcp_warnings)
    loop, compactor = _main_loop(config, options, store, ground, toolbox, helpers, memory, warnings)
    _add_state_warnings(warnings, config, ground.checkpointer, toolbox.policy)
    hooks, mcp = helpers.hooks, toolbox.mcp
    return Session(ground.session_id, config, ground.workspace, store, ground.bus, loop, helpers.runner,
                   helpers.approver, ground.sandbox, ground.resumed, checkpointer=ground.checkpointer,
                   compactor=compactor, watcher=ground.watcher, delegation=helpers.host,
                   closers=[ground.checkpointer.aclose, ground.watcher.aclose, record_memory, *_mcp_closer(mcp),
                            *([hooks.aclose] if hooks else [])], flushers=_telemetry(ground.bus, config),
                   startup_warnings=warnings, memory_changes=memory_changes, mcp=mcp, lifecycle=hooks,
                   extensions=toolbox.extensions, skill_scope=toolbox.scope)


@dataclass(frozen=True)
class _Ground:
    """What every other part stands on: where, which session, its model, history, sandbox and undo."""

    workspace: Path
    bus: EventBus
    model: ModelClient
    session_id: str
    resumed: bool
    history: History
    sandbox: Sandbox
    checkpointer: "Checkpointer"
    ledger: ReadLedger
    watcher: "WorkspaceWatcher"


def _ground(config: Config, options: SessionOptions, store: Store, bus: EventBus) -> _Ground:
    from termagent.core.watcher import WorkspaceWatcher
    from termagent.git import Checkpointer

    workspace = options.workspace.resolve()
    model = ModelClient(config)
    session_id, resumed = session_id_for(store, workspace, options.resume, config.model_for("main"))
    bus.listen(lambda event: _trace(store, session_id, event))
    checkpointer = Checkpointer(workspace, session_id, bool(config.get("checkpoints", "enabled")),
                                on_warning=lambda message: bus.emit(Warning(message)),
                                limits=_checkpoint_limits(config))
    ledger = ReadLedger()
    return _Ground(workspace, bus, model, session_id, resumed, history_of(store, session_id, resumed),
                   _sandbox(config, options, workspace, session_id, store), checkpointer, ledger,
                   WorkspaceWatcher(workspace, ledger, bus.emit))


@dataclass(frozen=True)
class _Toolbox:
    """The tools, skills, agent definitions and MCP servers, and the policy that judges their calls."""

    extensions: Extensions
    scope: SkillScope
    ctx: ToolContext
    registry: ToolRegistry
    definitions: dict[str, AgentDefinition]
    definition_warnings: list[str]
    mcp: "McpHandle | None"
    mcp_warnings: list[str]
    policy: "Policy"


def _toolbox(config: Config, options: SessionOptions, store: Store, ground: _Ground) -> _Toolbox:
    workspace, bus = ground.workspace, ground.bus
    extensions = load_extensions(workspace, options.trusted)
    scope = SkillScope()
    bus.listen(scope.on_event)
    ctx = ToolContext(root=workspace, ledger=ground.ledger, config=config, session_id=ground.session_id,
                      sandbox=ground.sandbox, artifacts=store, before_change=ground.checkpointer,
                      activity=ground.watcher.agent_activity, warn=lambda message: bus.emit(Warning(message)),
                      readable_roots=extensions.skills.folders(),
                      files=options.files(ground.session_id))
    tools = _tools(config) + skill_tools(extensions, scope.use)
    definitions, warnings = load_definitions(workspace, options.trusted, {t.spec.name for t in tools})
    subjects = {t.spec.name: t.spec.subject for t in tools} | {DelegateTool.NAME: DelegateTool.SUBJECT}
    registry = ToolRegistry(tools)
    mcp_warnings: list[str] = []
    mcp = _mcp(config, workspace, options, registry, ground.session_id, bus.emit, mcp_warnings)
    policy = _policy(config, options, workspace, subjects, (scope.refusal,), mcp)
    return _Toolbox(extensions, scope, ctx, registry, definitions, warnings, mcp, mcp_warnings, policy)


@dataclass(frozen=True)
class _Helpers:
    """Who answers approvals, what the turn may spend, lifecycle hooks, subagents and the tool runner."""

    approver: EventApprover | NoPersonApprover
    budget: Budget
    halt: RequestHook
    hooks: "Lifecycle | None"
    host: SubagentHost
    runner: ToolRunner


def _helpers(config: Config, options: SessionOptions, store: Store, ground: _Ground, toolbox: _Toolbox,
             memory: str, warnings: list[str]) -> _Helpers:
    bus, policy, registry = ground.bus, toolbox.policy, toolbox.registry
    approver = EventApprover(bus.emit) if options.interactive else NoPersonApprover()
    budget = _budget(config)
    denials: list[Denial] = []
    halt = _halt_when_sandbox_fails(ground.sandbox)
    hooks = _lifecycle(config, ground.workspace, options, ground.session_id, store, bus, denials, policy, warnings)
    host = SubagentHost(config, ground.workspace, ground.model, store, registry, policy, approver, toolbox.ctx,
                        budget, bus.emit, memory, toolbox.definitions, denials, [halt], lifecycle=hooks)
    registry.extend([DelegateTool(toolbox.definitions, host)])
    runner = ToolRunner(registry, policy, approver, toolbox.ctx, bus.emit, store, denials, hooks=hooks)
    return _Helpers(approver, budget, halt, hooks, host, runner)


def _main_loop(config: Config, options: SessionOptions, store: Store, ground: _Ground, toolbox: _Toolbox,
               helpers: _Helpers, memory: str, warnings: list[str]) -> tuple[AgentLoop, "Compactor"]:
    from termagent.core.compaction import Compactor

    workspace, registry, hooks = ground.workspace, toolbox.registry, helpers.hooks
    system = _system_prompt(config, workspace, options, warnings)
    prefix = StablePrefix((system, memory, prefix_listing(toolbox.extensions.skills)), tuple(registry.api_tools()))
    compactor = Compactor(config, store, workspace, lambda name, args: registry.describe(name, args, workspace),
                          options.trusted, before_compact=hooks.pre_compact if hooks else None)
    loop = AgentLoop(ground.model, "main", prefix, ground.history, helpers.runner, helpers.budget, ground.bus.emit,
                     store, int(config.get("model", "context_window")),
                     # notes (watcher, hook context) go first, so compaction measures the request as it will be sent
                     before_request=[*_first(toolbox.mcp), helpers.halt, *([hooks.before_request] if hooks else []),
                                     ground.watcher.before_request, compactor.before_request],
                     on_stop=hooks.stop if hooks else None)
    return loop, compactor


def _budget(config: Config) -> Budget:
    limits = config.section("limits")
    return Budget(Limits(int(limits["max_turns"]), float(limits["max_cost_usd"]),
                         int(limits["max_tokens"]), float(limits["max_wall_s"])))


def _system_prompt(config: Config, workspace: Path, options: SessionOptions, warnings: list[str]) -> str:
    """The system prompt; with the egress allowlist, the model and the person are told which
    hosts it may reach."""
    system = load_prompt("system", workspace, options.trusted)
    if config.get("sandbox", "backend") == "docker":
        system = with_network_note(system, config.get("sandbox", "network"))
        warnings += network_warnings(config.get("sandbox", "network"))
    return system


def _add_state_warnings(warnings: list[str], config: Config, checkpointer: "Checkpointer", policy: "Policy") -> None:
    """What a person must know before the first turn: no undo, no sandbox, no auto mode."""
    if not checkpointer.enabled:
        warnings.append(checkpointer.disabled_reason)
    if config.get("sandbox", "backend") == "none":
        warnings.insert(0, UNSANDBOXED)
    if policy.downgraded:
        from termagent.policy.decide import UNSANDBOXED_AUTO

        warnings.insert(1, UNSANDBOXED_AUTO)


def _memory_watch(store: Store, workspace: Path, session_id: str, files: list[MemoryFile],
                  warnings: list[str]) -> tuple[list[MemoryChange], Callable[[], Awaitable[None]]]:
    """Say when project memory is capped, or was changed under the previous session; and the
    closer that records what this session leaves, for the next one to compare."""
    import asyncio

    warnings.extend(memory.warning() for memory in files if memory.truncated)
    changes = check_at_start(store, workspace, session_id, files)
    warnings.extend(change.warning() for change in changes)

    async def record() -> None:
        await asyncio.to_thread(record_at_end, store, workspace, session_id)

    return changes, record


def _checkpoint_limits(config: Config) -> "CheckpointLimits":
    from termagent.git.checkpoints import MIB, CheckpointLimits

    get = config.get
    return CheckpointLimits(max_file_bytes=int(get("checkpoints", "max_file_mb") * MIB),
                            keep_sessions=int(get("checkpoints", "keep_sessions")),
                            keep_days=float(get("checkpoints", "keep_days")))


def _telemetry(bus: EventBus, config: Config) -> list[Callable[[], Awaitable[None]]]:
    """OpenTelemetry export, only when asked for: otherwise nothing of it is even imported."""
    from termagent import telemetry

    return [telemetry.attach(bus, config)] if telemetry.wanted(config) else []


def _lifecycle(config: Config, workspace: Path, options: SessionOptions, session_id: str, store: Store,
               bus: EventBus, denials: list[Denial], policy: "Policy", warnings: list[str]) -> "Lifecycle | None":
    """Lifecycle hooks (config tables, Claude Code's settings.json); None when there are none, and then
    the dispatcher is not even imported."""
    from termagent.lifecycle.settings import HookConfigError, load_hooks

    try:
        loaded = load_hooks(config.section("hooks"), workspace, options.trusted,
                            bool(config.get("hooks", "claude_settings")))
    except HookConfigError as exc:
        from termagent.config import ConfigError

        raise ConfigError(f"config error: {exc}") from None
    warnings.extend(loaded.warnings)
    if not loaded.hooks:
        return None
    from termagent.lifecycle.dispatch import Lifecycle

    lifecycle = Lifecycle(loaded, workspace, session_id, store, bus.emit, denials, lambda: policy.mode)
    bus.listen(lifecycle.on_event)
    return lifecycle


def _mcp(config: Config, workspace: Path, options: SessionOptions, registry: ToolRegistry,
         session_id: str, emit: Callable[[Event], None], warnings: list[str]) -> "McpHandle | None":
    """MCP servers start now, in the background; their tools join once, before the first request."""
    from termagent.mcp.attach import attach_mcp  # does not import the mcp SDK unless servers exist

    return attach_mcp(config, workspace, options.trusted, registry, session_id, emit, warnings)


def _first(mcp: "McpHandle | None") -> list[RequestHook]:
    """MCP's settle hook runs before any other: the tool list must be final before a request is built."""
    return [mcp.before_request] if mcp is not None else []


def _mcp_closer(mcp: "McpHandle | None") -> list[Callable[[], Awaitable[None]]]:
    return [mcp.manager.aclose] if mcp is not None else []


def _halt_when_sandbox_fails(sandbox: Sandbox) -> RequestHook:
    """A dead sandbox ends the turn (exit 5), in a subagent too, rather than letting the model work blind."""

    async def check(_: PendingRequest) -> None:
        failure = sandbox.failed_in_use
        if failure:
            raise HaltTurn(STOP_SANDBOX, failure, "sandbox")

    return check


def _sandbox(config: Config, options: SessionOptions, workspace: Path, session_id: str, store: Store) -> Sandbox:
    """The front end's own place for commands when it brought one (an editor's terminal), else the config's."""
    from termagent.sandbox import open_sandbox

    if options.sandbox is not None:
        return options.sandbox(session_id)
    if config.get("sandbox", "backend") == "none":
        return open_sandbox(config, workspace, session_id)
    from termagent.sandbox.lazy import LazySandbox

    return LazySandbox(lambda: open_sandbox(config, workspace, session_id, options.trusted, audit=store))


def _tools(config: Config) -> list[Tool]:
    from termagent.tools.artifacts import ReadArtifactTool
    from termagent.tools.bash import BashTool
    from termagent.tools.jobs import job_tools
    from termagent.tools.registry import default_tools

    return [*default_tools(config), BashTool(), ReadArtifactTool(), *job_tools()]


def _policy(config: Config, options: SessionOptions, workspace: Path, subjects: dict[str, Subject | None],
            narrowing: tuple["Narrowing", ...], mcp: "McpHandle | None") -> "Policy":
    from termagent.policy.decide import Policy
    from termagent.policy.rules import RuleSet

    perms = config.section("permissions")
    rules = RuleSet.from_config(
        list(perms["allow"]) + list(options.allow), list(perms["ask"]), list(perms["deny"]) + list(options.deny),
        "config and flags", known_tools=list(subjects), subjects=subjects,
    )
    # unsandboxed commands on a person's machine get host scoping and no auto mode; a machine
    # declared disposable (the container is the sandbox) is treated as the sandbox is
    unconfined = config.get("sandbox", "backend") == "none" and not config.get("sandbox", "disposable_host")
    host = str(workspace) if unconfined else None
    if mcp is None:
        return Policy(perms["mode"], rules, options.interactive, _existing_in(workspace), host, narrowing)
    return Policy(perms["mode"], rules, options.interactive, _existing_in(workspace), host, narrowing,
                  mcp.is_destructive)


def _existing_in(workspace: Path) -> Callable[[str], bool]:
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
    if isinstance(event, TurnFinished):  # a finished turn's trace is on disk before the person reads it
        store.flush_events()
