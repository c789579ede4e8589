"""git_status, git_diff, git_log (read) and git_commit (write), run on the host.

Inside the sandbox `.git` is read-only, so commits happen here. Porcelain commands go
through `gitsafe.run_git`; history and HEAD are read through gitpython's object model on a
`gitsafe.open_repo` repository, whose command layer carries the same hardening options and
environment. So a repository's config, attributes or hooks never run a program, and
pathspecs are literal (no `:(magic)` from the model). Paths are scoped to the
workspace: a workspace below the repository's top level sees only its own part.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from termagent import gitsafe
from termagent.protocol import RISK_READ, RISK_WRITE
from termagent.tools.base import CallView, ToolContext, ToolError, ToolResult, ToolSpec, json_view, one_line, schema
from termagent.tools.workspace import relative_path, workspace_root

MAX_OUTPUT_CHARS = 60_000
MAX_STATUS_LINES = 500
LOG_DEFAULT = 20
LOG_MAX = 200

_PATH = {"type": "string", "description": "Limit to this file or directory (workspace-relative)."}


class GitStatus:
    spec = ToolSpec(
        name="git_status",
        description=(
            "Show the branch and which files are modified, staged or untracked (`git status --short "
            "--branch`). Read-only. Do not use it to see what changed inside files (use git_diff) or the "
            "history (use git_log); do not run git status through bash."
        ),
        input_schema=schema({}, []),
        risk=RISK_READ,
    )

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        return json_view(args)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return ToolResult(output=await asyncio.to_thread(_status, workspace_root(ctx.root)))


class GitDiff:
    spec = ToolSpec(
        name="git_diff",
        description=(
            "Show uncommitted changes as a unified diff with a diffstat: unstaged changes by default, staged "
            "ones with staged=true, optionally limited to `path`. Read-only; long diffs are cut (narrow with "
            "path). Does not show untracked files (see git_status). Do not use it to read whole files (use "
            "read_file) or to inspect old commits (use git_log)."
        ),
        input_schema=schema(
            {"staged": {"type": "boolean", "description": "Show staged changes (default false)."}, "path": _PATH},
            [],
        ),
        risk=RISK_READ,
    )

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        return json_view(args)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        root = workspace_root(ctx.root)
        spec = relative_path(root, args["path"]) if args.get("path") else "."
        output = await asyncio.to_thread(_diff, root, bool(args.get("staged", False)), spec)
        return ToolResult(output=output)


class GitLog:
    spec = ToolSpec(
        name="git_log",
        description=(
            "List recent commits (short hash, date, author, subject), newest first; `max_count` defaults to "
            "20 (at most 200), `path` limits to commits touching that file or directory. Read-only. Do not "
            "use it for uncommitted changes (use git_status or git_diff)."
        ),
        input_schema=schema(
            {
                "max_count": {"type": "integer", "minimum": 1, "description": "How many commits (default 20)."},
                "path": _PATH,
            },
            [],
        ),
        risk=RISK_READ,
    )

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        return json_view(args)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        root = workspace_root(ctx.root)
        spec = relative_path(root, args["path"]) if args.get("path") else "."
        count = min(int(args.get("max_count") or LOG_DEFAULT), LOG_MAX)
        return ToolResult(output=await asyncio.to_thread(_log, root, count, spec))


class GitCommit:
    spec = ToolSpec(
        name="git_commit",
        description=(
            "Commit on the host. With `paths`, commits exactly those files (new files included) and nothing "
            "else; without, commits all changes to tracked files in the workspace (untracked files are never "
            "added unless listed). Hooks do not run. Returns the new commit hash. Do not use it unless the user "
            "asked for a commit; it never pushes, amends or changes branches."
        ),
        input_schema=schema(
            {
                "message": {"type": "string", "description": "The commit message (subject line, blank line, body)."},
                "paths": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Files to commit (workspace-relative). Omit to commit all tracked changes.",
                },
            },
            ["message"],
        ),
        risk=RISK_WRITE,
    )

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        paths = tuple(str(p) for p in args.get("paths") or () if isinstance(p, str))
        message = str(args.get("message", ""))
        detail = message + ("\n\npaths: " + ", ".join(paths) if paths else "\n\npaths: everything staged")
        return CallView(one_line(message), detail, paths=paths, touch="committed")

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        root = workspace_root(ctx.root)
        message = args["message"]
        if not message.strip():
            raise ToolError("invalid_input", "the commit message is empty")
        paths = [relative_path(root, p) for p in args.get("paths") or []]
        return ToolResult(output=await asyncio.to_thread(_commit, root, message, paths))


def _git(root: Path, *args: str, input: str | None = None, literal: bool = True) -> str:
    try:
        return str(gitsafe.run_git(root, *args, input=input, literal_pathspecs=literal).stdout)
    except gitsafe.GitError as exc:
        raise ToolError("git_error", str(exc)) from None


def _require_repo(root: Path) -> None:
    if not gitsafe.is_git_repo(root):
        raise ToolError("not_a_git_repo", "the workspace is not inside a git repository")


def _has_head(root: Path) -> bool:
    return gitsafe.run_git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).returncode == 0


def _history(root: Path, count: int, spec: str) -> list[str]:
    """`%h %ad %an: %s` lines (short date, in the author's zone), newest first."""
    import git

    repo = gitsafe.open_repo(root)
    try:
        if not repo.head.is_valid():
            return []
        return [f"{repo.git.rev_parse(commit.hexsha, short=True)} {commit.authored_datetime:%Y-%m-%d} "
                f"{commit.author.name}: {commit.summary!s}"
                for commit in repo.iter_commits(max_count=count, paths=spec)]
    except (git.GitCommandError, ValueError) as exc:
        raise ToolError("git_error", str(exc).strip().splitlines()[-1] if str(exc).strip() else "git failed") from None
    finally:
        repo.close()


def _status(root: Path) -> str:
    _require_repo(root)
    out = _git(root, "status", "--short", "--branch", "--untracked-files=normal", "--ignore-submodules=all",
               "--", *_isolated(root, "."), literal=False)
    lines = out.rstrip("\n").splitlines()
    if len(lines) <= 1:
        lines.append("(clean: nothing to commit)")
    if len(lines) > MAX_STATUS_LINES:
        extra = len(lines) - MAX_STATUS_LINES
        lines = lines[:MAX_STATUS_LINES] + [f"… {extra} more entries not shown"]
    return "\n".join(lines)


def _isolated(root: Path, spec: str) -> list[str]:
    try:
        return gitsafe.workspace_pathspecs(root, spec)
    except gitsafe.GitError as exc:
        raise ToolError("git_error", str(exc)) from None


def workspace_diff(root: Path, *revisions: str, staged: bool = False, spec: str = ".") -> str:
    """`git diff` of the workspace that never enters a nested repository (also the TUI's /diff)."""
    args = ["diff", *gitsafe.DIFF_SAFETY, "--no-color", "--patch-with-stat", "--ignore-submodules=all"]
    if staged:
        args.append("--cached")
    return _git(root, *args, *revisions, "--", *_isolated(root, spec), literal=False)


def _diff(root: Path, staged: bool, spec: str) -> str:
    _require_repo(root)
    out = workspace_diff(root, staged=staged, spec=spec)
    if not out.strip():
        kind = "staged" if staged else "unstaged"
        return f"No {kind} changes" + (f" in {spec}" if spec != "." else "") + "."
    return _cap(out, "diff")


def _log(root: Path, count: int, spec: str) -> str:
    _require_repo(root)
    if not _has_head(root):
        return "No commits yet."
    return _cap("\n".join(_history(root, count, spec)), "log") or "No commits touch this path."


def _commit(root: Path, message: str, paths: list[str]) -> str:
    _require_repo(root)
    if paths:
        _git(root, "add", "--", *paths)
        target = ["--", *paths]
    else:
        _git(root, "add", "--update", "--", ".")
        target = []
    if not paths and not _staged_changes(root):
        raise ToolError("nothing_to_commit", "there are no changes to tracked files to commit")
    _git(root, "commit", "--no-verify", "--no-gpg-sign", "--file=-", *target, input=message)
    sha = _git(root, "rev-parse", "HEAD").strip()
    stat = _git(root, "show", *gitsafe.DIFF_SAFETY, "--no-color", "--stat", "--format=%h %s", "HEAD")
    return f"Committed {sha}\n{_cap(stat.rstrip(), 'summary')}"


def _staged_changes(root: Path) -> bool:
    args = ["diff", "--cached", "--quiet", *gitsafe.DIFF_SAFETY, "--ignore-submodules=all"]
    if not _has_head(root):
        return bool(_git(root, "ls-files", "-z").strip("\0"))
    return gitsafe.run_git(root, *args, check=False).returncode == 1


def _cap(text: str, what: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    rest = text[MAX_OUTPUT_CHARS:].count("\n")
    return f"{text[:MAX_OUTPUT_CHARS]}\n… {what} cut: {rest} more lines not shown; pass path to narrow it"
