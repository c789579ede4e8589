"""read_file and write_file (edit_file lives in `editing` and is re-exported here).

Size policy: files up to `tools.max_file_bytes` are read whole (and recorded in the read
ledger, so they can be edited). Larger files are refused unless the model asks for a
window with offset/limit; then lines are streamed up to that window without loading the
file, and the read is not recorded (such files cannot be edited with file tools).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from termagent.protocol import RISK_READ, RISK_WRITE, Subject
from termagent.tools.base import CallView, ToolContext, ToolError, ToolResult, ToolSpec, path_view, schema
from termagent.tools.editing import EditFile, refuse_protected
from termagent.tools.fsio import open_regular, read_bounded, too_large
from termagent.tools.textio import (
    BINARY_SNIFF_BYTES,
    Decoded,
    UnencodableText,
    apply_newline_style,
    cut_line,
    decode,
    is_binary,
    number_lines,
    to_model_lines,
    unified_diff,
)
from termagent.tools.workspace import display_path, resolve_in_readable_roots, resolve_in_workspace

__all__ = ["EditFile", "ReadFile", "WriteFile"]

MAX_OUTPUT_CHARS = 100_000
UTF8 = Decoded("", "utf-8")
MAX_STREAM_LINE_BYTES = 64 * 1024


class ReadFile:
    spec = ToolSpec(
        name="read_file",
        description=(
            "Read a text file in the workspace, with line numbers (`cat -n` style: number, tab, text). "
            "Reads up to the configured line limit from `offset` (1-based line number); the output says "
            "how many lines remain and which offset to continue from. Reading a file is required before "
            "edit_file or write_file may change it. Do not use it to list directories (use list_files), "
            "to search for text across files (use grep), or for binary files, huge logs or paths outside "
            "the workspace (refused); the line numbers are not part of the file."
        ),
        input_schema=schema(
            {
                "path": {"type": "string", "description": "File path relative to the workspace root."},
                "offset": {"type": "integer", "minimum": 0, "description": "First line to show (1-based)."},
                "limit": {"type": "integer", "minimum": 1, "description": "How many lines to show."},
            },
            ["path"],
        ),
        risk=RISK_READ,
        subject=Subject.READ_PATH,
    )

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        return path_view(args)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Workspace files through the session's file access (an editor's buffer, say); skill
        folders and windows of files too large to load always from the disk."""
        root, resolved = _readable(ctx, args["path"])
        offset, limit = args.get("offset"), args.get("limit")
        if root != ctx.root:
            return await asyncio.to_thread(_read_file, ctx, resolved, offset, limit, root)
        try:
            content = await ctx.files.read(root, resolved, int(ctx.config.get("tools", "max_file_bytes")))
        except ToolError as exc:
            if exc.type != "file_too_large" or (offset is None and limit is None):
                raise
            return await asyncio.to_thread(_read_file, ctx, resolved, offset, limit, root)
        return _shown(ctx, resolved, content.data, offset, limit, display_path(root, resolved))


def _readable(ctx: ToolContext, path: str) -> tuple[Path, Path]:
    """(root, resolved): the workspace, or else one of the session's skill folders (read-only:
    only read_file asks, every write tool keeps refusing paths outside the workspace)."""
    try:
        return ctx.root, resolve_in_workspace(ctx.root, path)
    except ToolError as exc:
        if exc.type != "outside_workspace":
            raise
        found = resolve_in_readable_roots(ctx.readable_roots, path)
        if found is None:
            raise
        return found


class WriteFile:
    spec = ToolSpec(
        name="write_file",
        description=(
            "Create a file, or replace a whole file, with `content` (parent directories are created; the "
            "write is atomic). Replacing an existing file requires that you read it first and that it has "
            "not changed since; its encoding, CRLF line endings and permissions are kept. Do not use it to "
            "change part of an existing file (use edit_file: smaller and safer), to write outside the "
            "workspace or into .git (refused), or to run anything."
        ),
        input_schema=schema(
            {
                "path": {"type": "string", "description": "File path relative to the workspace root."},
                "content": {"type": "string", "description": "The complete new file content."},
            },
            ["path", "content"],
        ),
        risk=RISK_WRITE,
        subject=Subject.WRITE_PATH,
    )

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        return path_view(args, f"write {args.get('path', '')}:\n{args.get('content', '')}", touch="written")

    async def preflight(self, args: dict[str, Any], ctx: ToolContext) -> None:
        await self._plan(args, ctx)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        resolved, plan = await self._plan(args, ctx)  # again: the file may have changed during an approval
        if plan.unchanged:
            return ToolResult(output=f"No change: {plan.label} already has exactly this content.")
        if ctx.before_change is not None:
            await ctx.before_change(plan.label)
        await ctx.files.write(ctx.root, resolved, plan.data, plan.prior.mode if plan.prior else None,
                              lambda current: _still_as_planned(ctx, resolved, plan, current))
        ctx.ledger.record(resolved, plan.data)
        return ToolResult(
            output=plan.summary(),
            display=unified_diff(plan.old_text, plan.new_text, plan.label, existed=plan.prior is not None),
            changed_paths=(plan.label,),
        )

    @staticmethod
    async def _plan(args: dict[str, Any], ctx: ToolContext) -> tuple[Path, "_WritePlan"]:
        """The write worked out against the file as read now; raises what would make it fail."""
        resolved = resolve_in_workspace(ctx.root, args["path"])
        refuse_protected(ctx.root, resolved)
        label = display_path(ctx.root, resolved)
        return resolved, _plan_write(label, await _load_prior(ctx, resolved, label), args["content"])


@dataclass(frozen=True)
class _Prior:
    data: bytes
    mode: int | None
    decoded: Decoded


@dataclass(frozen=True)
class _WritePlan:
    label: str
    prior: _Prior | None
    data: bytes
    new_text: str
    note: str = ""

    @property
    def unchanged(self) -> bool:
        return self.prior is not None and self.prior.data == self.data

    @property
    def old_text(self) -> str:
        return self.prior.decoded.text if self.prior else ""

    def summary(self) -> str:
        new_lines = to_model_lines(self.new_text)
        if self.prior is None:
            return f"Created {self.label} ({len(new_lines)} lines).{self.note}"
        old_lines = to_model_lines(self.old_text)
        return f"Wrote {self.label}: {len(new_lines)} lines (was {len(old_lines)}).{self.note}"


def _read_file(ctx: ToolContext, resolved: Path, offset: int | None, limit: int | None,
               root: Path | None = None) -> ToolResult:
    root = root or ctx.root
    label = display_path(root, resolved) if root == ctx.root else str(resolved)
    max_bytes = int(ctx.config.get("tools", "max_file_bytes"))
    start = max(offset or 1, 1)
    count = limit or int(ctx.config.get("tools", "read_limit_lines"))
    with open_regular(root, resolved) as (handle, st):
        if st.st_size > max_bytes:
            if offset is None and limit is None:
                raise too_large(label, st.st_size, max_bytes)
            return ToolResult(output=_stream_window(handle, label, st.st_size, start, count))
        data = read_bounded(handle, st.st_size, max_bytes)
    if len(data) > max_bytes:
        raise too_large(label, len(data), max_bytes)
    return _shown(ctx, resolved, data, offset, limit, label)


def _shown(ctx: ToolContext, resolved: Path, data: bytes, offset: int | None, limit: int | None,
           label: str) -> ToolResult:
    """A whole file's lines as the model sees them; the read is recorded, so the file may be edited."""
    if is_binary(data):
        raise _binary(label, len(data))
    ctx.ledger.record(resolved, data)
    decoded = decode(data)
    start = max(offset or 1, 1)
    count = limit or int(ctx.config.get("tools", "read_limit_lines"))
    return ToolResult(output=_render(to_model_lines(decoded.text), start, count) + _encoding_note(decoded))


def _render(lines: list[str], start: int, count: int) -> str:
    if not lines:
        return "(empty file)"
    if start > len(lines):
        return f"(the file has {len(lines)} lines; offset {start} is past the end)"
    shown: list[str] = []
    size = 0
    for numbered in number_lines(lines[start - 1 : start - 1 + count], start):
        if size + len(numbered) > MAX_OUTPUT_CHARS and shown:
            break
        shown.append(numbered)
        size += len(numbered) + 1
    end = start - 1 + len(shown)
    if end < len(lines):
        shown.append(
            f"… {len(lines) - end} more lines not shown (the file has {len(lines)}); continue with offset={end + 1}"
        )
    return "\n".join(shown)


def _encoding_note(decoded: Decoded) -> str:
    notes = []
    if decoded.codec != "utf-8" or decoded.bom:
        notes.append(f"encoding {decoded.codec}{' with BOM' if decoded.bom else ''}")
    if decoded.crlf:
        notes.append("CRLF line endings")
    return f"\n[{'; '.join(notes)}: kept when you edit]" if notes else ""


def _stream_window(handle: BinaryIO, label: str, size: int, start: int, count: int) -> str:
    """Lines [start, start+count) of a file too large to load, read line by line."""
    if is_binary(handle.read(BINARY_SNIFF_BYTES)):
        raise _binary(label, size)
    handle.seek(0)
    shown: list[str] = []
    lineno = 0
    more = False
    for raw in _iter_lines(handle):
        lineno += 1
        if lineno >= start + count:
            more = True
            break
        if lineno >= start:
            text = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace")
            shown.append(f"{lineno:>6}\t{cut_line(text)}")
    if not shown:
        return f"(the file has {lineno} lines; offset {start} is past the end)"
    tail = f"\n… more lines follow; continue with offset={start + len(shown)}" if more else ""
    head = f"[{label} is {size} bytes, too large to load whole: showing a window; not editable with file tools]\n"
    return head + "\n".join(shown) + tail


def _iter_lines(handle: BinaryIO) -> Iterator[bytes]:
    """Lines with bounded memory: an over-long line is yielded cut and the rest skipped."""
    while True:
        chunk = handle.readline(MAX_STREAM_LINE_BYTES)
        if not chunk:
            return
        if len(chunk) == MAX_STREAM_LINE_BYTES and not chunk.endswith(b"\n"):
            while True:
                rest = handle.readline(MAX_STREAM_LINE_BYTES)
                if not rest or rest.endswith(b"\n"):
                    break
        yield chunk


def _binary(label: str, size: int) -> ToolError:
    return ToolError(
        "binary_file",
        f"{label} is a binary file ({size} bytes); not shown. Inspect it with bash (file, xxd | head) if needed",
    )


def _plan_write(label: str, prior: _Prior | None, content: str) -> _WritePlan:
    text = apply_newline_style(prior.decoded if prior else None, content)
    try:
        if prior is None:
            return _WritePlan(label, None, UTF8.encode(text), text)
        try:
            return _WritePlan(label, prior, prior.decoded.encode(text), text)
        except UnencodableText:
            note = f" It was {prior.decoded.codec}; saved as UTF-8 because the new content needs it."
            return _WritePlan(label, prior, UTF8.encode(text), text, note)
    except UnencodableText as exc:
        raise ToolError("encoding_error", f"{label}: {exc} (lone surrogates are not text)") from None


async def _load_prior(ctx: ToolContext, resolved: Path, label: str) -> _Prior | None:
    """The existing file, checked to be what the agent last saw (None for a new file)."""
    try:
        content = await ctx.files.read(ctx.root, resolved, int(ctx.config.get("tools", "max_file_bytes")))
    except ToolError as exc:
        if exc.type == "not_found":
            return None
        raise
    ctx.ledger.check_fresh(resolved, content.data, label)
    return _Prior(content.data, content.mode, decode(content.data))


def _still_as_planned(ctx: ToolContext, resolved: Path, plan: _WritePlan, current: bytes | None) -> None:
    """Just before the file is replaced: nobody changed (or created) it since the plan was made."""
    if plan.prior is None:
        if current is not None:
            raise ToolError("stale_read", f"{plan.label} was created by someone else meanwhile; read it first")
        return
    if current is None:
        raise ToolError("stale_read", f"{plan.label} was deleted since you last read it")
    ctx.ledger.check_fresh(resolved, current, plan.label)
