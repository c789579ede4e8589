"""Whether a project's own .termagent/ settings may take effect.

A repository must not widen its own permissions: its rules, modes, prompts and custom
agents apply only after the person trusted them, and any change to those files asks
again, because trust is recorded against a hash of their content.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from termagent.store.db import state_dir


# Outside .termagent/, what other agents' users bring along (skills, slash commands, Claude
# Code's MCP servers): trusted with the rest, so adding one to a trusted repository asks again.
EXTENSION_DIRS = (".agents/skills", ".claude/skills", ".claude/commands")
EXTENSION_FILES = (".mcp.json",)  # its stdio servers are programs that would run on this machine


def project_settings_hash(workspace: Path) -> str:
    """Hash of everything under .termagent/ (and the extension folders and files) that changes
    behaviour, and of the project's Claude Code hooks (lifecycle.settings.trust_material);
    '' when there is none. Without extension folders or hooks the hash is what it always
    was, so existing trust records stay valid."""
    from termagent.lifecycle.settings import trust_material

    root = workspace / ".termagent"
    entries = _files(root, follow_link=True)
    extensions = [path for relative in EXTENSION_DIRS for path in _files(workspace / relative, follow_link=False)]
    extensions += [workspace / name for name in EXTENSION_FILES
                   if (workspace / name).is_file() or (workspace / name).is_symlink()]
    hooks = trust_material(workspace)
    if not entries and not extensions and not hooks:
        return ""  # the sandbox creates an empty .termagent to mount read-only: nothing to trust
    digest = hashlib.sha256()
    for path in entries:
        _add(digest, path, str(path.relative_to(root)))
    for path in extensions:
        _add(digest, path, "../" + path.relative_to(workspace).as_posix())
    if hooks:  # only then, so a project without them keeps the hash it was trusted with
        digest.update(b"claude-hooks\0" + hooks)
    return digest.hexdigest()


def _files(root: Path, follow_link: bool) -> list[Path]:
    if root.is_symlink() and not follow_link:
        return [root]  # the loaders refuse a linked folder; planting one still counts as a change
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_symlink() or p.is_file())


def _add(digest: "hashlib._Hash", path: Path, name: str) -> None:
    # A link is hashed by where it points, so planting one is a change that asks again;
    # the loaders never follow links in project folders in any case.
    content = b"link:" + os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
    digest.update(name.encode() + b"\0" + content + b"\0")


def _trust_file() -> Path:
    return state_dir() / "trusted-projects.json"


def _load() -> dict[str, str]:
    try:
        return json.loads(_trust_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def is_trusted(workspace: Path) -> bool:
    current = project_settings_hash(workspace)
    return current == "" or _load().get(str(workspace.resolve())) == current


def trust(workspace: Path) -> None:
    records = _load()
    records[str(workspace.resolve())] = project_settings_hash(workspace)
    path = _trust_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(records, indent=2), encoding="utf-8")
    tmp.replace(path)
