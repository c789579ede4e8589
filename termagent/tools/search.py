"""list_files and grep: find files and text without leaving the workspace or its .gitignore.

The file set comes from `git ls-files -co --exclude-standard` in a git work tree (fast on
big trees, exactly git's ignore rules) and from `ignore.walk_files` elsewhere. grep reads
through `os.fwalk` with directory fds and O_NOFOLLOW opens, so a symlink planted or
swapped in by a sandboxed process is never followed out of the workspace.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from termagent import gitsafe
from termagent.protocol import RISK_READ, Subject
from termagent.tools.base import CallView, ToolContext, ToolError, ToolResult, ToolSpec, json_view, one_line, schema
from termagent.tools.fsio import open_regular, read_bounded
from termagent.tools.ignore import compile_glob, walk_files
from termagent.tools.textio import cut_line, is_binary, to_model_lines
from termagent.tools.workspace import display_path, resolve_in_workspace, workspace_root

MAX_LISTED = 1000
MAX_MATCHES = 200
MAX_MATCH_LINE_CHARS = 300
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class ListFiles:
    spec = ToolSpec(
        name="list_files",
        description=(
            "List files in the workspace (or under `path`), sorted, skipping what .gitignore ignores. "
            "`pattern` is a glob: without a '/' it matches file names anywhere ('*.py'); with one it matches "
            "the path below `path` ('src/**/*.ts'); '{a,b}' alternates. Output is capped at 1000 entries. "
            "Do not use it to search file contents (use grep), to read a file (use read_file), or to look "
            "inside ignored directories such as node_modules (use bash ls for that)."
        ),
        input_schema=schema(
            {
                "pattern": {"type": "string", "description": "Glob such as '*.py' or 'src/**/test_*.py'."},
                "path": {"type": "string", "description": "Directory to list, relative to the workspace root."},
            },
            [],
        ),
        risk=RISK_READ,
        subject=Subject.LIST_PATH,
    )

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        where = str(args.get("path") or "")
        return CallView(one_line(str(args.get("pattern") or where or ".")), json_view(args).detail)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        base = resolve_in_workspace(ctx.root, args.get("path") or ".")
        return ToolResult(output=await asyncio.to_thread(_list_files, ctx.root, base, args.get("pattern")))


class Grep:
    spec = ToolSpec(
        name="grep",
        description=(
            "Search file contents with a Python regular expression, line by line, under `path` (default: the "
            "whole workspace), optionally only in files matching the glob `glob` ('*.py'). Respects .gitignore "
            "and skips binary and oversized files. Prints `path:line:text`, capped at 200 matches with a count "
            "of the rest. Use (?i) for case-insensitive search. Do not use it to list files by name (use "
            "list_files), to read a whole file (use read_file), or to search huge logs (delegate that)."
        ),
        input_schema=schema(
            {
                "pattern": {"type": "string", "description": "Python regular expression."},
                "path": {"type": "string", "description": "File or directory to search, workspace-relative."},
                "glob": {"type": "string", "description": "Only search files matching this glob, e.g. '*.ts'."},
            },
            ["pattern"],
        ),
        risk=RISK_READ,
        subject=Subject.READ_PATH,
    )

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        where = str(args.get("path") or "")
        return CallView(one_line(f"{args.get('pattern', '')} {where}"), json_view(args).detail)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        regex = _compile(args["pattern"])
        base = resolve_in_workspace(ctx.root, args.get("path") or ".")
        max_bytes = int(ctx.config.get("tools", "max_file_bytes"))
        output = await asyncio.to_thread(_grep, ctx.root, base, regex, args.get("glob"), max_bytes)
        return ToolResult(output=output)


def candidate_files(root: Path, base_rel: str) -> list[str]:
    """Root-relative paths of the non-ignored files under `base_rel` ('' for everything)."""
    root = workspace_root(root)
    if gitsafe.is_git_repo(root):
        try:
            return _git_files(root, base_rel)
        except gitsafe.GitError:
            pass
    return walk_files(root, base_rel)


def _git_files(root: Path, base_rel: str) -> list[str]:
    spec = base_rel or "."
    listed = gitsafe.run_git(root, "ls-files", "-co", "--exclude-standard", "-z", "--", spec).stdout
    deleted = gitsafe.run_git(root, "ls-files", "-d", "-z", "--", spec).stdout
    gone = set(deleted.split("\0"))
    return sorted({p.rstrip("/") for p in listed.split("\0") if p and p not in gone})


def _list_files(root: Path, base: Path, pattern: str | None) -> str:
    base_rel = _base_rel(root, base)
    if not base.exists():
        raise ToolError("not_found", f"{base_rel or '.'} does not exist")
    if not base.is_dir():
        return base_rel
    paths = _filtered(candidate_files(root, base_rel), base_rel, pattern)
    if not paths:
        where = f" under {base_rel}" if base_rel else ""
        return f"No files{where}" + (f" match {pattern!r}" if pattern else "") + " (ignored files are not listed)."
    shown = paths[:MAX_LISTED]
    if len(paths) > MAX_LISTED:
        shown.append(f"… {len(paths) - MAX_LISTED} more files not shown; narrow with pattern or path")
    return "\n".join(shown)


def _filtered(paths: list[str], base_rel: str, pattern: str | None) -> list[str]:
    if not pattern:
        return paths
    matches = compile_glob(pattern)
    cut = len(base_rel) + 1 if base_rel else 0
    return [p for p in paths if matches(p[cut:])]


def _base_rel(root: Path, base: Path) -> str:
    rel = display_path(root, base)
    return "" if rel == "." else rel


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ToolError("invalid_regex", f"invalid regular expression {pattern!r}: {exc}") from None


@dataclass
class _Tally:
    lines: list[str] = field(default_factory=list)
    matches: int = 0
    files_matched: int = 0
    files_searched: int = 0
    too_large: int = 0

    def add_file(self, rel: str, lines: Iterator[tuple[int, str]], regex: re.Pattern[str]) -> None:
        self.files_searched += 1
        found = False
        for number, line in lines:
            if regex.search(line):
                found = True
                self.matches += 1
                if len(self.lines) < MAX_MATCHES:
                    self.lines.append(f"{rel}:{number}:{cut_line(line, MAX_MATCH_LINE_CHARS)}")
        self.files_matched += found

    def render(self, pattern: str) -> str:
        if not self.matches:
            out = f"No matches for {pattern!r} in {self.files_searched} files searched."
        else:
            out = "\n".join(self.lines)
            if self.matches > len(self.lines):
                out += (
                    f"\n… {self.matches - len(self.lines)} more matches not shown "
                    f"({self.matches} in {self.files_matched} files); narrow the pattern, path or glob"
                )
        if self.too_large:
            out += f"\n(skipped {self.too_large} files over the size limit)"
        return out


def _grep(root: Path, base: Path, regex: re.Pattern[str], glob: str | None, max_bytes: int) -> str:
    tally = _Tally()
    quick = _whole_text_pattern(regex)
    for rel, data in _read_candidates(root, base, glob, max_bytes, tally):
        if is_binary(data):
            continue
        text = data.decode("utf-8", "replace")
        lines = enumerate(to_model_lines(text), 1) if quick is None else _candidate_lines(text, quick)
        tally.add_file(rel, lines, regex)
    return tally.render(regex.pattern)


def _whole_text_pattern(regex: re.Pattern[str]) -> re.Pattern[str] | None:
    """The pattern in MULTILINE mode, to find candidate lines without splitting every file.

    Every line that matches on its own also matches here at the same place, unless the
    pattern looks past the line (anchors to the whole string, lookarounds); those patterns
    fall back to testing each line.
    """
    if re.search(r"\\[AZ]|\(\?(=|!|<=|<!)", regex.pattern):
        return None
    return re.compile(regex.pattern, regex.flags | re.MULTILINE)


def _candidate_lines(text: str, quick: re.Pattern[str]) -> Iterator[tuple[int, str]]:
    """(number, line) for each line where the whole-text pattern starts a match."""
    pos = 0
    number = 1
    while (found := quick.search(text, pos)) is not None:
        start = text.rfind("\n", 0, found.start()) + 1
        if start >= len(text):
            return
        end = text.find("\n", found.start())
        end = len(text) if end == -1 else end
        number += text.count("\n", pos, start)
        yield number, text[start:end].removesuffix("\r")
        if end >= len(text):
            return
        pos = end + 1
        number += 1


def _read_candidates(
    root: Path, base: Path, glob: str | None, max_bytes: int, tally: _Tally
) -> Iterator[tuple[str, bytes]]:
    base_rel = _base_rel(root, base)
    if not base.exists():
        raise ToolError("not_found", f"{base_rel or '.'} does not exist")
    if not base.is_dir():
        with open_regular(root, base) as (handle, st):
            if st.st_size > max_bytes:
                tally.too_large += 1
                return
            yield base_rel, read_bounded(handle, st.st_size, max_bytes)
        return
    wanted = set(_filtered(candidate_files(root, base_rel), base_rel, glob))
    dirs = {p.rsplit("/", 1)[0] for p in wanted if "/" in p}
    dirs |= {d.rsplit("/", i)[0] for d in list(dirs) for i in range(1, d.count("/") + 1)}
    top = workspace_root(root)
    for dirpath, dirnames, filenames, dirfd in os.fwalk(top / base_rel if base_rel else top):
        rel_dir = Path(dirpath).relative_to(top).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if prefix + d in dirs)
        for name in sorted(filenames):
            if prefix + name in wanted:
                data = _read_at(dirfd, name, max_bytes, tally)
                if data is not None:
                    yield prefix + name, data


def _read_at(dirfd: int, name: str, max_bytes: int, tally: _Tally) -> bytes | None:
    """Read one regular file relative to a directory fd; None for anything else."""
    try:
        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            return None
        if st.st_size > max_bytes:
            tally.too_large += 1
            return None
        fd = os.open(name, _OPEN_FLAGS, dir_fd=dirfd)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        data = read_bounded(handle, st.st_size, max_bytes)
    if len(data) > max_bytes:
        tally.too_large += 1
        return None
    return data
