"""read_artifact: slices of a stored full output, so nothing needs running twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from termagent.protocol import RISK_READ
from termagent.tools.base import CallView, ToolContext, ToolError, ToolResult, ToolSpec, json_view, schema

MAX_LINES = 400


class ReadArtifactTool:
    spec = ToolSpec(
        name="read_artifact",
        description=(
            "Read lines of a stored full output (a test log, a long command output) by the artifact id a "
            "subagent summary or a capped tool result named. Use offset/limit to read only the part you need. "
            "Do NOT use it for workspace files (use read_file) and do not guess ids."
        ),
        input_schema=schema(
            {
                "id": {"type": "string", "description": "artifact id, like art_1a2b3c4d5e"},
                "offset": {"type": "integer", "minimum": 1, "description": "first line, 1-based"},
                "limit": {"type": "integer", "minimum": 1, "description": f"number of lines (max {MAX_LINES})"},
            },
            ["id"],
        ),
        risk=RISK_READ,
    )

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        return json_view(args)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        if ctx.artifacts is None:
            raise ToolError("unavailable", "this session keeps no artifacts")
        text = ctx.artifacts.get_artifact(str(args["id"]), reader=ctx.session_id)
        if text is None:
            raise ToolError("not_found", f"no artifact {args['id']!r} in this session; use an id named in a "
                            "summary or result of this session or its subagents")
        lines = text.splitlines()
        start = max(1, int(args.get("offset") or 1))
        count = min(MAX_LINES, int(args.get("limit") or MAX_LINES))
        chosen = lines[start - 1 : start - 1 + count]
        body = "\n".join(f"{n:6}\t{line}" for n, line in enumerate(chosen, start))
        rest = len(lines) - (start - 1 + len(chosen))
        footer = f"\n[{rest} more lines; continue with offset={start + len(chosen)}]" if rest > 0 else ""
        return ToolResult(output=f"artifact {args['id']} ({len(lines)} lines)\n{body}{footer}")
