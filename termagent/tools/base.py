"""What every tool is: a fixed spec the model sees, and an async run on validated input.

The spec list is built once per session and never changes, so the request prefix (and
the prompt cache behind it) stays stable. Failures are values, not crashes: a tool
raises ToolError and the registry turns it into `{"error": {...}}` for the model.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

if TYPE_CHECKING:
    from termagent.config import Config
    from termagent.sandbox.base import Sandbox
    from termagent.tools.workspace import ReadLedger


class ToolError(Exception):
    """A failure the model should see and can act on."""

    def __init__(self, type: str, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.retryable = retryable

    def payload(self) -> str:
        return json.dumps({"error": {"type": self.type, "message": self.message, "retryable": self.retryable}})


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    risk: str  # protocol.RISK_*

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


class ArtifactSink(Protocol):
    def put_artifact(self, session_id: str, kind: str, text: str) -> str: ...

    def get_artifact(self, artifact_id: str) -> str | None: ...


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
    extras: dict[str, Any] = field(default_factory=dict)


class Tool(Protocol):
    spec: ToolSpec

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult: ...


def schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """A strict object schema: the model may not invent parameters."""
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
