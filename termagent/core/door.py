"""The one door between a session and its front ends.

A front end (TUI, line mode, headless, git hooks, ACP) is typed against `SessionLike`
and imports nothing else from the core: it sends operations, reads events from the bus
and takes snapshots with `status()`. The loop, the tool runner and the registry stay
behind the door, so any of them can change without a front end noticing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from termagent.core.describe import clip
from termagent.core.prompts import load_prompt
from termagent.tools.errors import ToolError
from termagent.tools.fileaccess import (
    Check,
    FileAccess,
    FileAccessFactory,
    FileContent,
    check_on_disk,
    current_bytes,
    local_files,
    on_disk,
    text_of,
)
from termagent.sandbox.base import SandboxFactory
from termagent.protocol import CallView, Compact, Event, ImageData, Operation, SessionStatus, SetMode, SetModel

if TYPE_CHECKING:
    from termagent.config import Config
    from termagent.core.assembly import SessionOptions
    from termagent.core.loop import TurnOutcome
    from termagent.extensions.commands import CustomCommand
    from termagent.extensions.skills import Skill
    from termagent.store.db import Store

__all__ = ["SessionLike", "EventSource", "Check", "FileAccess", "FileAccessFactory", "FileContent", "ToolError",
           "check_on_disk", "clip", "current_bytes", "local_files", "on_disk", "text_of", "load_prompt", "open_session",
           "SandboxFactory", "session_options"]


def session_options(workspace: Path, interactive: bool, **choices: Any) -> "SessionOptions":
    """How a front end asks for a session (resume, allow/deny rules, trust)."""
    from termagent.core.assembly import SessionOptions

    return SessionOptions(workspace, interactive, **choices)


def open_session(config: "Config", options: "SessionOptions", store: "Store") -> "SessionLike":
    """Build (not start) a session; raises ModelError, ResumeError or ConfigError early."""
    from termagent.core.assembly import open_session as assemble

    return assemble(config, options, store)


class EventSource(Protocol):
    def listen(self, listener: Callable[[Event], None]) -> Callable[[], None]: ...

    def emit(self, event: Event) -> None: ...


class SessionLike(Protocol):
    """What every front end may use of a session."""

    session_id: str
    workspace: Path
    config: "Config"
    store: "Store"
    @property
    def bus(self) -> EventSource: ...
    resumed: bool

    @property
    def busy(self) -> bool: ...

    @property
    def state_document(self) -> str: ...

    def status(self) -> SessionStatus: ...

    def messages(self) -> list[dict[str, Any]]: ...

    def describe_restore(self) -> str: ...

    def agent_definitions(self) -> dict[str, Any]: ...

    def checkpoints_off_reason(self) -> str: ...

    def mcp_prompts(self) -> dict[str, str]: ...

    async def expand_mcp_prompt(self, command: str, argument_text: str) -> str: ...

    def skills(self) -> tuple["Skill", ...]: ...

    def custom_commands(self) -> tuple["CustomCommand", ...]: ...

    def expand_command(self, name: str, arguments: str) -> str | None: ...

    def describe_call(self, name: str, args: dict[str, Any]) -> CallView: ...

    def start(self) -> None: ...

    async def start_sandbox(self) -> None: ...

    def submit(self, op: Operation) -> None: ...

    async def serve(self) -> None: ...

    async def run_turn(self, text: str, images: tuple[ImageData, ...] = ()) -> "TurnOutcome": ...

    async def run_subagent(self, agent: str, task: str) -> Any: ...

    async def apply(self, op: SetModel | SetMode | Compact) -> None: ...

    async def compact(self, focus: str = "") -> None: ...

    async def interrupt(self) -> None: ...

    async def close(self, exit_reason: str = "closed") -> None: ...
