"""Host paths a workspace must not expose: the home directory and termagent's own files.

The workspace is mounted read-write into the sandbox. Started in `$HOME` (or `/`, or
any ancestor of `$HOME`), that would hand every command the person's dotfiles and
credentials, and termagent's own config and session store, where a command could widen
its permissions or rewrite history. So such a workspace is refused (the CLI turns that
into exit code 2, with an override for the brave); and even when overridden, the
sandbox masks termagent's dirs and every top-level dot entry of the home directory
with empty read-only stand-ins.
"""

from __future__ import annotations

import os
from pathlib import Path

OVERRIDE_FLAG = "--allow-home-workspace"


def termagent_dirs() -> list[Path]:
    """termagent's config and state directories (resolved)."""
    from termagent.config import user_config_path
    from termagent.store.db import state_dir

    return [Path(os.path.realpath(user_config_path().parent)), Path(os.path.realpath(state_dir()))]


def home_dir() -> Path | None:
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return Path(os.path.realpath(home)) if home and home != "~" else None


def _contains(outer: Path, inner: Path) -> bool:
    return inner == outer or outer in inner.parents


def workspace_problem(workspace: Path) -> str | None:
    """Why `workspace` must not be a workspace, or None when it is fine."""
    workspace = Path(os.path.realpath(workspace))
    home = home_dir()
    if workspace == Path("/"):
        reason = "it is the root of the file system"
    elif home is not None and workspace == home:
        reason = "it is your home directory"
    elif home is not None and _contains(workspace, home):
        reason = f"it contains your home directory {home}"
    else:
        inside = [d for d in termagent_dirs() if _contains(workspace, d)]
        if not inside:
            return None
        reason = f"it contains termagent's own files ({inside[0]})"
    return (f"refusing to use {workspace} as the workspace: {reason}, and the sandbox mounts the workspace "
            "read-write, so every command could read your credentials and change your dotfiles. "
            f"Run termagent in a project directory (-C DIR), or pass {OVERRIDE_FLAG} to accept it "
            "(dotfiles and termagent's files stay hidden from the sandbox).")


def hidden_paths(workspace: Path) -> list[Path]:
    """Entries inside `workspace` the sandbox must never see, whatever was overridden."""
    workspace = Path(os.path.realpath(workspace))
    hidden = [d for d in termagent_dirs() if _contains(workspace, d) and d != workspace]
    home = home_dir()
    if home is not None and _contains(workspace, home):
        if home != workspace:
            hidden += [home]
        else:
            try:
                hidden += [Path(entry.path) for entry in os.scandir(home) if entry.name.startswith(".")
                           and entry.name not in (".git", ".termagent")]
            except OSError:
                pass
    return hidden
