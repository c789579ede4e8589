"""What every tool is: a fixed spec the model sees, and an async run on validated input.

The spec list is built once per session and never changes, so the request prefix (and
the prompt cache behind it) stays stable. Failures are values, not crashes: a tool
raises ToolError and the registry turns it into `{"error": {...}}` for the model.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol, runtime_checkable

from termagent.protocol import CallView, Subject, ViewKind
from termagent.tools.errors import ToolError
from termagent.tools.fileaccess import LOCAL_FILES, FileAccess

__all__ = ["CallView", "Tool", "ToolContext", "ToolError", "ToolResult", "ToolSpec", "json_view", "one_line",
           "path_view", "schema"]

if TYPE_CHECKING:
    from termagent.config import Config
    from termagent.sandbox.base import Sandbox
    from termagent.tools.workspace import ReadLedger


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    risk: str  # protocol.RISK_*
    subject: Subject | None = None  # what permission rules for this tool match

    def to_api(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema}


@dataclass(frozen=True)
class ToolResult:
    """`output` goes to the model; `display` (a diff, say) only to front ends."""

    output: str
    ok: bool = True
    error_type: str | None = None
    display: str | None = None
    changed_paths: tuple[str, ...] = ()
    images: tuple[dict[str, Any], ...] = ()  # API image blocks sent with the text (MCP tool results)


def one_line(text: str) -> str:
    return " ".join(text.split())


def json_view(args: dict[str, Any]) -> CallView:
    """For tools with nothing better to say (MCP tools, read-only git): their input as JSON."""
    return CallView(one_line(json.dumps(args, ensure_ascii=False)), json.dumps(args, indent=2, ensure_ascii=False))


def path_view(args: dict[str, Any], detail: str = "", *, touch: str = "read",
              kind: ViewKind = ViewKind.FILE) -> CallView:
    """A call about one file; `touch` is what it does to it (read, written, edited)."""
    path = str(args.get("path", ""))
    return CallView(one_line(path), detail or path, kind, (path,) if path else (), touch)


class ArtifactSink(Protocol):
    def put_artifact(self, session_id: str, kind: str, text: str) -> str: ...

    def get_artifact(self, artifact_id: str, reader: str | None = None) -> str | None: ...


@dataclass
class ToolContext:
    """Everything a tool may touch; tools reach nothing else."""

    root: Path
    ledger: "ReadLedger"
    config: "Config"
    session_id: str = ""
    sandbox: "Sandbox | None" = None
    artifacts: ArtifactSink | None = None
    emit_output: Callable[[str], None] = lambda text: None
    before_change: Callable[[str], Awaitable[None]] | None = None
    activity: Callable[[], AbstractAsyncContextManager[None]] | None = None  # wraps write/exec calls
    call_id: str = ""  # the call being run, so a delegation can be nested under it
    warn: Callable[[str], None] = lambda message: None  # a Warning event for the session (what a command planted)
    readable_roots: tuple[Path, ...] = ()  # real paths outside the workspace read_file may read (skill folders)
    files: FileAccess = LOCAL_FILES  # where workspace files' content comes from and goes to (the disk, an editor)


class Tool(Protocol):
    spec: ToolSpec

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult: ...

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        """How a call shows in headers, approvals and the compaction record; never raises."""
        ...


@runtime_checkable
class Preflighted(Protocol):
    """A tool that can tell, without changing anything, that a call would fail.

    When the policy would put a call to the person, the runner asks the tool first, so
    nobody is asked to approve an edit whose old_string is not in the file or whose file
    changed since it was read: approving it would only lead to the same error. A denial
    stays a denial (the policy is asked first), and the call re-checks everything when it
    runs.
    """

    async def preflight(self, args: dict[str, Any], ctx: ToolContext) -> None:
        """Raise the ToolError the call would end with; return when it may work."""
        ...


def schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """A strict object schema: the model may not invent parameters."""
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
