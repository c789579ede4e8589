"""Paths whose contents steer an agent, a git hook or an editor: writing them is never routine.

A model that can rewrite AGENTS.md, a CI workflow, a pre-commit config or .envrc can turn
one approved edit into code that runs later, outside the sandbox. So writes there always
ask, through the file tools and through shell redirects alike. Matching ignores case
(case-insensitive file systems) and `./` or `a/../` detours.
"""

from __future__ import annotations

import posixpath

_DIRS = {
    ".git": "git internals (.git/)",
    ".termagent": "termagent configuration (.termagent/)",
    ".claude": "agent configuration (.claude/)",
    ".agents": "agent skills (.agents/)",
    ".husky": "git hooks (.husky/)",
}
_FILES = {
    "agents.md": "agent instructions (AGENTS.md)",
    "termagent.md": "agent instructions (TERMAGENT.md)",
    ".pre-commit-config.yaml": "pre-commit hooks (.pre-commit-config.yaml)",
    ".envrc": "direnv script (.envrc)",
}
_PAIRS = {
    (".vscode", "settings.json"): "editor settings (.vscode/settings.json)",
    (".vscode", "tasks.json"): "editor tasks that can run on open (.vscode/tasks.json)",
}


def protected_reason(path: str) -> str | None:
    """Why writing `path` must ask, or None for an ordinary file."""
    if not path:
        return None
    parts = [part for part in posixpath.normpath(path.replace("\\", "/")).casefold().split("/") if part not in ("", ".")]
    for part in parts:
        if part in _DIRS:
            return f"writes {_DIRS[part]}"
    if parts and parts[-1] in _FILES:
        return f"writes {_FILES[parts[-1]]}"
    if len(parts) >= 2 and (parts[-2], parts[-1]) in _PAIRS:
        return f"writes {_PAIRS[(parts[-2], parts[-1])]}"
    for index in range(len(parts) - 1):
        if parts[index] == ".github" and parts[index + 1] == "workflows":
            return "writes CI workflows (.github/workflows/)"
    return None
