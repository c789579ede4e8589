"""The session's fixed tool set, and the one place a model's tool call is turned into a result.

`call` never raises (except cancellation): whatever the model sends (an unknown name,
broken JSON, wrong types, a 10 MB argument) and whatever a tool does, the loop gets a
ToolResult to hand back, so one bad call can never crash the session or skip the
`tool_result` the API requires.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pathlib import Path

from termagent.protocol import RISK_EXEC, CallView
from termagent.tools.base import Preflighted, Tool, ToolContext, ToolError, ToolResult, ToolSpec, json_view
from termagent.tools.files import EditFile, ReadFile, WriteFile
from termagent.tools.git_tools import GitCommit, GitDiff, GitLog, GitStatus
from termagent.tools.search import Grep, ListFiles
from termagent.tools.validation import validate

if TYPE_CHECKING:
    from termagent.config import Config

MAX_INPUT_BYTES = 1_000_000


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            name = tool.spec.name
            if name in self._tools:
                raise ValueError(f"two tools are named {name!r}")
            self._tools[name] = tool

    def extend(self, tools: Iterable[Tool]) -> None:
        """Add tools before the first request (MCP tools, once their servers answered); never later."""
        for tool in tools:
            if tool.spec.name in self._tools:
                raise ValueError(f"two tools are named {tool.spec.name!r}")
            self._tools[tool.spec.name] = tool

    def specs(self) -> list[ToolSpec]:
        """In registration order, which never changes within a session (prompt cache)."""
        return [tool.spec for tool in self._tools.values()]

    def api_tools(self) -> list[dict[str, Any]]:
        return [spec.to_api() for spec in self.specs()]

    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def describe(self, name: str, args: dict[str, Any] | None, root: Path) -> CallView:
        """How a call shows to a person; an unknown tool or a describer that fails shows its input."""
        tool = self._tools.get(name)
        if tool is None or args is None:
            return json_view(args or {})
        try:
            return tool.describe(args, root)
        except Exception:  # noqa: BLE001 - display must never stop a call from running or being refused
            return json_view(args)

    def risk_of(self, name: str) -> str:
        """The tool's risk class; an unknown name counts as the riskiest (it never runs anyway)."""
        tool = self._tools.get(name)
        return tool.spec.risk if tool is not None else RISK_EXEC

    async def preflight(self, name: str, raw_input: Any, ctx: ToolContext) -> ToolResult | None:
        """The error result a call would certainly end with, found before it is approved; else None.

        Only a tool's own ToolError counts: a check that breaks must not stop a call the
        person may want to approve, so it is left to the run to report."""
        tool = self._tools.get(name)
        if not isinstance(tool, Preflighted):
            return None
        try:
            await tool.preflight(parse_input(raw_input, tool.spec), ctx)
        except asyncio.CancelledError:
            raise
        except ToolError as exc:
            return _error(exc)
        except Exception:  # noqa: BLE001 - see above
            return None
        return None

    async def call(self, name: str, raw_input: Any, ctx: ToolContext) -> ToolResult:
        tool = self._tools.get(name)
        if tool is None:
            valid = ", ".join(self._tools)
            return _error(ToolError("unknown_tool", f"there is no tool named {name!r}; available tools: {valid}"))
        try:
            args = parse_input(raw_input, tool.spec)
            result = await tool.run(args, ctx)
        except asyncio.CancelledError:
            raise
        except ToolError as exc:
            return _error(exc)
        except Exception as exc:  # a bug in a tool must reach the model as a result, not kill the loop
            return _error(ToolError("internal_error", f"{name} failed: {type(exc).__name__}: {exc}"))
        if not isinstance(result, ToolResult):
            return _error(ToolError("internal_error", f"{name} returned {type(result).__name__}, not a result"))
        return result


def parse_input(raw_input: Any, spec: ToolSpec) -> dict[str, Any]:
    """The validated argument dict, or ToolError("invalid_input") saying exactly what is wrong."""
    if isinstance(raw_input, (str, bytes)):
        if len(raw_input) > MAX_INPUT_BYTES:
            raise _too_big(len(raw_input))
        try:
            raw_input = json.loads(raw_input or "{}")
        except ValueError as exc:
            raise ToolError("invalid_input", f"{spec.name} input is not valid JSON: {exc}") from None
    if not isinstance(raw_input, dict):
        raise ToolError("invalid_input", f"{spec.name} input must be a JSON object, got {type(raw_input).__name__}")
    size = _encoded_size(raw_input)
    if size > MAX_INPUT_BYTES:
        raise _too_big(size)
    errors = validate(raw_input, spec.input_schema)
    if errors:
        raise ToolError("invalid_input", f"{spec.name}: " + "; ".join(errors))
    return raw_input


def default_tools(config: Config | None = None) -> list[Tool]:
    """The file, search and git tools (the lead adds bash, delegate and read_artifact)."""
    return [ReadFile(), WriteFile(), EditFile(), ListFiles(), Grep(), GitStatus(), GitDiff(), GitLog(), GitCommit()]


def _encoded_size(value: dict[str, Any]) -> int:
    try:
        return len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError):
        raise ToolError("invalid_input", "input contains values that are not JSON") from None


def _too_big(size: int) -> ToolError:
    return ToolError(
        "invalid_input",
        f"input is {size} bytes, over the {MAX_INPUT_BYTES} byte limit; send large content in smaller pieces",
    )


def _error(exc: ToolError) -> ToolResult:
    return ToolResult(output=exc.payload(), ok=False, error_type=exc.type)
