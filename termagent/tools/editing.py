"""edit_file: exact string replacement that keeps everything else about the file.

The match is exact (no fuzzy patching: a wrong guess silently corrupts code), so the
failure messages carry the hints a model needs to fix its next call: whitespace-only
mismatches, pasted line-number prefixes, the closest line, or where the duplicates are.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from termagent.protocol import RISK_WRITE, Subject, ViewKind
from termagent.tools.base import CallView, ToolContext, ToolError, ToolResult, ToolSpec, path_view, schema
from termagent.tools.fileaccess import FileContent
from termagent.tools.fsio import read_bytes
from termagent.tools.textio import (
    Decoded,
    UnencodableText,
    cut_line,
    decode,
    is_binary,
    match_variants,
    number_lines,
    to_model_lines,
    unified_diff,
)
from termagent.tools.workspace import PROTECTED_DIRS, display_path, is_protected, resolve_in_workspace

SNIPPET_CONTEXT = 3
SNIPPET_MAX_LINES = 30
MAX_LISTED_MATCHES = 10
_LINE_PREFIX = re.compile(r"^\s*\d+\t")


def refuse_protected(root: Path, resolved: Path) -> None:
    if is_protected(root, resolved):
        raise ToolError(
            "protected_path",
            f"{display_path(root, resolved)} is inside {'/'.join(PROTECTED_DIRS)}, which file tools never "
            "write (hooks and config there run on the host); use git_commit for commits",
        )


class EditFile:
    spec = ToolSpec(
        name="edit_file",
        description=(
            "Replace an exact piece of text in a file: `old_string` must match the file exactly (including "
            "indentation, without read_file's line-number prefixes) and, unless `replace_all` is true, occur "
            "exactly once; include enough surrounding lines to make it unique. You must have read the file "
            "with read_file, and it must not have changed since. Encoding, line endings and permissions are "
            "kept. Do not use it to create files or rewrite most of a file (use write_file), on binary files, "
            "or to rename symbols across many files without reading each one first."
        ),
        input_schema=schema(
            {
                "path": {"type": "string", "description": "File path relative to the workspace root."},
                "old_string": {"type": "string", "description": "Exact text to replace."},
                "new_string": {"type": "string", "description": "Replacement text."},
                "replace_all": {"type": "boolean", "description": "Replace every occurrence (default false)."},
            },
            ["path", "old_string", "new_string"],
        ),
        risk=RISK_WRITE,
        subject=Subject.WRITE_PATH,
    )

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        """The edit as the file would change: real line numbers and context, indentation intact."""
        path = str(args.get("path", ""))
        old, new = str(args.get("old_string", "")), str(args.get("new_string", ""))
        diff = _diff_in_file(root, path, old, new, bool(args.get("replace_all", False)))
        return path_view(args, diff or _snippet_diff(path, old, new), touch="edited", kind=ViewKind.DIFF)

    async def preflight(self, args: dict[str, Any], ctx: ToolContext) -> None:
        await self._plan(args, ctx)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        resolved, plan = await self._plan(args, ctx)  # again: the file may have changed during an approval
        if ctx.before_change is not None:
            await ctx.before_change(plan.label)
        await ctx.files.write(ctx.root, resolved, plan.new_data, plan.mode,
                              lambda current: _unchanged_since_read(ctx, resolved, plan.label, current))
        ctx.ledger.record(resolved, plan.new_data)
        return ToolResult(
            output=plan.summary(),
            display=unified_diff(plan.decoded.text, plan.new_text, plan.label),
            changed_paths=(plan.label,),
        )

    @staticmethod
    async def _plan(args: dict[str, Any], ctx: ToolContext) -> tuple[Path, "_EditPlan"]:
        """The edit worked out against the file as read now; raises what would make it fail."""
        resolved = resolve_in_workspace(ctx.root, args["path"])
        refuse_protected(ctx.root, resolved)
        old, new = args["old_string"], args["new_string"]
        if old == "":
            raise ToolError("invalid_input", "old_string is empty; to create or replace a whole file use write_file")
        if old == new:
            raise ToolError("no_change", "old_string and new_string are identical; nothing to do")
        label = display_path(ctx.root, resolved)
        content = await _read_existing(ctx, resolved, label)
        plan = await asyncio.to_thread(_plan_data, label, content.data, content.mode, old, new,
                                       bool(args.get("replace_all", False)),
                                       lambda data, name: ctx.ledger.check_fresh(resolved, data, name))
        return resolved, plan


@dataclass(frozen=True)
class _EditPlan:
    label: str
    decoded: Decoded
    new_text: str
    new_data: bytes
    mode: int | None
    count: int
    first_pos: int
    new_len: int

    def summary(self) -> str:
        noun = "occurrence" if self.count == 1 else "occurrences"
        head = f"Edited {self.label}: replaced {self.count} {noun}."
        return f"{head}\n{_snippet(self.new_text, self.first_pos, self.new_len)}"


DESCRIBE_MAX_BYTES = 2_000_000


def _diff_in_file(root: Path, path: str, old: str, new: str, replace_all: bool) -> str:
    """The diff the edit would make, matched the way `run` matches it, or '' when it would fail."""
    if not old or not path:
        return ""
    try:
        resolved = resolve_in_workspace(root, path)
        plan = _plan_text(root, resolved, old, new, replace_all, DESCRIBE_MAX_BYTES)
    except (ToolError, OSError, ValueError):
        return ""
    return unified_diff(plan.decoded.text, plan.new_text, plan.label)


def _snippet_diff(path: str, old: str, new: str) -> str:
    """Without the file: the two strings against each other (line numbers unknown)."""
    def lines(text: str) -> list[str]:
        return [line if line.endswith("\n") else line + "\n" for line in text.splitlines(keepends=True)]

    return "".join(difflib.unified_diff(lines(old), lines(new), fromfile=path, tofile=path))


async def _read_existing(ctx: ToolContext, resolved: Path, label: str) -> FileContent:
    try:
        return await ctx.files.read(ctx.root, resolved, int(ctx.config.get("tools", "max_file_bytes")))
    except ToolError as exc:
        if exc.type == "not_found":
            raise ToolError("not_found", f"{label} does not exist; use write_file to create it") from None
        raise


def _plan_text(root: Path, resolved: Path, old: str, new: str, replace_all: bool, max_bytes: int) -> _EditPlan:
    """The edit planned against the file on disk (how a call describes itself)."""
    data, st = read_bytes(root, resolved, max_bytes)
    return _plan_data(display_path(root, resolved), data, st.st_mode, old, new, replace_all)


def _plan_data(label: str, data: bytes, mode: int | None, old: str, new: str, replace_all: bool,
               check_fresh: Callable[[bytes, str], None] | None = None) -> _EditPlan:
    if is_binary(data):
        raise ToolError("binary_file", f"{label} is a binary file; edit_file only changes text files")
    if check_fresh is not None:
        check_fresh(data, label)
    decoded = decode(data)
    text = decoded.text
    for cand_old, cand_new in match_variants(decoded, old, new):
        count = text.count(cand_old)
        if count:
            break
    else:
        raise _not_found(text, old, label)
    if count > 1 and not replace_all:
        raise _ambiguous(text, cand_old, count, label)
    new_text = text.replace(cand_old, cand_new, -1 if replace_all else 1)
    try:
        new_data = decoded.encode(new_text)
    except UnencodableText as exc:
        raise ToolError("encoding_error", f"{label}: {exc}; use characters the file's encoding can hold") from None
    first = text.find(cand_old)
    return _EditPlan(label, decoded, new_text, new_data, mode, count if replace_all else 1, first, len(cand_new))


def _unchanged_since_read(ctx: ToolContext, resolved: Path, label: str, current: bytes | None) -> None:
    if current is None:
        raise ToolError("stale_read", f"{label} was deleted since you last read it")
    ctx.ledger.check_fresh(resolved, current, label)


def _snippet(text: str, pos: int, length: int) -> str:
    """The edited region with a little context, numbered like read_file."""
    lines = to_model_lines(text)
    first = text.count("\n", 0, pos)
    last = first + text.count("\n", pos, pos + length)
    start = max(first - SNIPPET_CONTEXT, 0)
    end = min(last + SNIPPET_CONTEXT + 1, len(lines), start + SNIPPET_MAX_LINES)
    return "\n".join(number_lines(lines[start:end], start + 1))


def _ambiguous(text: str, old: str, count: int, label: str) -> ToolError:
    positions: list[int] = []
    pos = text.find(old)
    while pos != -1 and len(positions) < MAX_LISTED_MATCHES:
        positions.append(text.count("\n", 0, pos) + 1)
        pos = text.find(old, pos + len(old))
    where = ", ".join(str(n) for n in positions) + (", …" if count > len(positions) else "")
    return ToolError(
        "ambiguous_match",
        f"old_string occurs {count} times in {label} (lines {where}); include more surrounding lines to "
        "make it unique, or set replace_all to change every occurrence",
    )


def _not_found(text: str, old: str, label: str) -> ToolError:
    base = f"old_string was not found in {label}."
    return ToolError("no_match", f"{base} {_hint(text, old)}")


def _hint(text: str, old: str) -> str:
    old_lines = old.replace("\r\n", "\n").split("\n")
    if all(_LINE_PREFIX.match(line) for line in old_lines if line.strip()):
        return "It looks like it includes read_file's line-number prefixes; send only the text after the tab."
    file_lines = to_model_lines(text)
    span = _whitespace_match(file_lines, old_lines)
    if span is not None:
        return (
            f"Lines {span[0]}-{span[1]} match if whitespace is ignored: indentation, tabs vs spaces or "
            "trailing spaces differ. Copy the exact text from read_file."
        )
    closest = _closest_line(file_lines, old_lines)
    if closest is not None:
        number, line = closest
        return f"The closest line is {number}: {cut_line(line, 200)!r}. Read the file again and copy the exact text."
    return "Read the file again (it may differ from what you remember) and copy the exact text."


def _whitespace_match(file_lines: list[str], old_lines: list[str]) -> tuple[int, int] | None:
    wanted = [" ".join(line.split()) for line in old_lines]
    while wanted and not wanted[-1]:
        wanted.pop()
    while wanted and not wanted[0]:
        wanted.pop(0)
    if not wanted:
        return None
    squashed = [" ".join(line.split()) for line in file_lines]
    for i in range(len(squashed) - len(wanted) + 1):
        if squashed[i] == wanted[0] and squashed[i : i + len(wanted)] == wanted:
            return i + 1, i + len(wanted)
    return None


def _closest_line(file_lines: list[str], old_lines: list[str]) -> tuple[int, str] | None:
    probe = next((line.strip() for line in old_lines if line.strip()), "")
    if not probe or len(file_lines) > 50_000:
        return None
    stripped = [line.strip() for line in file_lines]
    best = difflib.get_close_matches(probe, stripped, n=1, cutoff=0.6)
    if not best:
        return None
    index = stripped.index(best[0])
    return index + 1, file_lines[index]
