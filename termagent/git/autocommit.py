"""Optional commit of each completed turn (config `checkpoints.auto_commit`, off by default).

Unlike a checkpoint this is a real commit on the current branch, by the person's own
identity, so `git log` shows the agent's work turn by turn. The message is made from the
turn's final answer and the files it touched, without another model call.
"""

from __future__ import annotations

import re
from pathlib import Path

from termagent.git.plumbing import Plumbing, repo_info
from termagent.gitsafe import isolating_pathspecs

SUBJECT_MAX = 72
BODY_MAX_LINES = 15
FILES_MAX = 20
_MARKDOWN = re.compile(r"^[#>*\-+\s]+|[*`]+")


def auto_commit_turn(root: Path | str, summary: str) -> str | None:
    """Commit the workspace's changes; the new commit id, or None when nothing changed.

    Raises gitsafe.GitError when git refuses (no identity configured, a merge in progress).
    """
    info = repo_info(root)
    if info is None:
        return None
    p = Plumbing(info)
    nested = p.nested_repositories()  # never staged, never entered: they may be the sandbox's
    p.add_isolated(nested)
    specs = isolating_pathspecs(info.scope, nested).split("\0")[:-1]
    names = p.run("diff", "--cached", "--name-only", "-z", "--ignore-submodules=all", "--", *specs,
                  literal=False).stdout
    files = [name for name in names.split("\0") if name]
    if not files:
        return None
    message = commit_message(summary, files)
    p.run("commit", "--no-verify", "--quiet", "-m", message, "--", *specs, literal=False)
    return p.resolve("HEAD")


def commit_message(summary: str, files: list[str]) -> str:
    """Subject from the summary's first line (plain text, <= 72 chars), then its body and the files."""
    lines = [_plain(line) for line in summary.strip().splitlines()]
    lines = [line for line in lines if line]
    subject = _shorten(lines[0]) if lines else f"Update {len(files)} file{'s' if len(files) != 1 else ''}"
    body = lines[1:BODY_MAX_LINES + 1]
    listed = [f"- {name}" for name in files[:FILES_MAX]]
    if len(files) > FILES_MAX:
        listed.append(f"- ... and {len(files) - FILES_MAX} more")
    parts = [subject]
    if body:
        parts.append("\n".join(body))
    parts.append("Files:\n" + "\n".join(listed))
    parts.append("Generated-by: termagent (checkpoints.auto_commit)")
    return "\n\n".join(parts) + "\n"


def _plain(line: str) -> str:
    return " ".join(_MARKDOWN.sub("", line).split())


def _shorten(text: str) -> str:
    if len(text) <= SUBJECT_MAX:
        return text
    cut = text[: SUBJECT_MAX - 3].rsplit(" ", 1)[0]
    return cut + "..."
