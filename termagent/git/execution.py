"""Paths whose content some program runs or obeys on the host: what rewind must always cover.

The sandbox can write anything in the workspace, and these paths are how a write there
becomes code the host runs later: git reads `.git` (a nested repository's config, a
rewired pointer file) and `.gitattributes`, editors and agents read their project
settings, shells and direnv read rc files, package managers read their rc files.
Snapshots therefore take them even when they are gitignored, and a rewind removes the
ones created after its checkpoint. A nested `.git` cannot be stored in a git tree, so a
checkpoint lists where they were, and a rewind moves newer ones aside instead of deleting.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# Names relative to the workspace root (the sandbox mounts the existing ones read-only);
# `.git` also counts at any depth, as a directory or a pointer file.
EXECUTION_BEARING: tuple[str, ...] = (
    ".git", ".gitmodules", ".gitattributes", ".gitconfig", ".githooks", ".husky", ".pre-commit-config.yaml",
    ".mcp.json", ".vscode", ".idea", ".devcontainer", ".claude", ".termagent", ".agents", ".envrc",
    ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zshenv", ".zprofile",
    ".zlogin", ".npmrc", ".yarnrc", ".yarnrc.yml", ".pypirc", "pip.conf",
)
MAX_FILES = 5000
MANIFEST_KEY = "Termagent-Nested-Git: "


def root_names(hooks_path: str | None) -> list[str]:
    """EXECUTION_BEARING plus the repository's own hooks directory when it is a relative path."""
    names = [name for name in EXECUTION_BEARING if name != ".git"]
    if hooks_path and not os.path.isabs(hooks_path) and ".." not in Path(hooks_path).parts:
        names.append(hooks_path.strip("/"))
    return names


def files_under(scope_dir: Path, names: list[str]) -> list[str]:
    """Files (and symlinks, never followed) of the named paths, relative to `scope_dir`.

    A directory holding a `.git` is skipped whole: staging it would enter that repository.
    """
    found: list[str] = []
    for name in names:
        path = scope_dir / name
        if path.is_symlink() or path.is_file():
            found.append(name)
        elif path.is_dir():
            found += _walk(scope_dir, path)
        if len(found) >= MAX_FILES:
            break
    return found[:MAX_FILES]


def _walk(scope_dir: Path, top: Path) -> list[str]:
    found: list[str] = []
    for directory, dirs, files in os.walk(top, followlinks=False):
        if os.path.lexists(os.path.join(directory, ".git")):
            dirs[:] = []
            continue
        links = [d for d in dirs if os.path.islink(os.path.join(directory, d))]
        dirs[:] = [d for d in dirs if d not in links]
        base = os.path.relpath(directory, scope_dir)
        found += [os.path.join(base, name) for name in files + links]
    return found


def is_execution_bearing(relpath: str, names: list[str]) -> bool:
    """True when `relpath` (scope-relative) lies under one of the root-level `names`."""
    return any(relpath == name or relpath.startswith(name + "/") for name in names)


Manifest = tuple[tuple[str, "str | None"], ...]
POINTER_MAX = 4096


def manifest(top: Path, nested: list[str]) -> Manifest:
    """(path, content of its `.git` pointer file or None for a directory) per nested repository:
    a rewired pointer is how a submodule gets sent to a planted gitdir, so its text is kept."""
    entries = []
    for path in sorted(nested):
        dot_git = top / path / ".git"
        pointer = None
        if dot_git.is_file() and not dot_git.is_symlink() and dot_git.stat().st_size <= POINTER_MAX:
            pointer = dot_git.read_text("utf-8", "surrogateescape")
        entries.append((path, pointer))
    return tuple(entries)


def encode_manifest(entries: Manifest) -> str:
    return MANIFEST_KEY + json.dumps([list(entry) for entry in entries], ensure_ascii=True)


def decode_manifest(body: str) -> Manifest | None:
    """The nested repositories a checkpoint recorded; None for a checkpoint made before this."""
    for line in body.splitlines():
        if line.startswith(MANIFEST_KEY):
            try:
                value = json.loads(line[len(MANIFEST_KEY):])
                return tuple((str(path), None if pointer is None else str(pointer)) for path, pointer in value)
            except (ValueError, TypeError):
                return None
    return None
