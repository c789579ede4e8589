"""Confinement of model-supplied paths to the workspace, and the record of what was read.

Paths come from the model, which may be steered by anything it read, so they are
refused before any I/O when they escape lexically (absolute paths elsewhere, `..`,
NUL bytes) and again after resolving symlinks. The resolved path has no symlinks left;
`fsio` then walks it component by component with O_NOFOLLOW, so a symlink swapped in by
a sandboxed process between the check and the open cannot redirect the access.

The ReadLedger is the guard against the classic lost-work bug: overwriting or editing a
file from a stale picture of it. Edits require that the bytes on disk still hash to what
the agent last read or wrote.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from termagent.tools.errors import ToolError

PROTECTED_DIRS = (".git",)


def resolve_in_workspace(root: Path, path: str) -> Path:
    """The symlink-free absolute path for `path`, or ToolError("outside_workspace")."""
    if not isinstance(path, str) or not path.strip():
        raise ToolError("invalid_path", "path is empty; give a path relative to the workspace root")
    if "\0" in path:
        raise ToolError("outside_workspace", "path contains a NUL byte; refused")
    root_real = workspace_root(root)
    parts = lexical_parts(root, path)
    resolved = Path(os.path.realpath(root_real.joinpath(*parts)))
    if not resolved.is_relative_to(root_real):
        raise ToolError(
            "outside_workspace",
            f"{path} leads outside the workspace through a symlink; refused",
        )
    return resolved


def resolve_in_readable_roots(roots: tuple[Path, ...], path: str) -> tuple[Path, Path] | None:
    """(root, resolved file) when `path` is an absolute path inside one of `roots` (the skill
    folders, read-only and outside the workspace; real paths); None when it is in none of
    them; ToolError when it is but a symlink leads out. Only read_file asks this."""
    if not roots or not isinstance(path, str) or "\0" in path:
        return None
    expanded = os.path.expanduser(path)
    if not os.path.isabs(expanded):
        return None
    lexical = Path(os.path.normpath(expanded))
    for root in roots:
        if lexical.is_relative_to(root):
            resolved = Path(os.path.realpath(lexical))
            if not resolved.is_relative_to(root):
                raise ToolError("outside_workspace",
                                f"{path} leads out of {root} through a symlink; refused")
            return root, resolved
    return None


def workspace_root(root: Path) -> Path:
    return Path(os.path.realpath(root))


def lexical_parts(root: Path, path: str) -> list[str]:
    """Normalised workspace-relative components of `path`, checked without touching disk."""
    if "\0" in path:
        raise ToolError("outside_workspace", "path contains a NUL byte; refused")
    pure = PurePosixPath(path)
    raw: tuple[str, ...] = pure.parts
    if pure.is_absolute():
        raw = _strip_root(root, pure, path)
    stack: list[str] = []
    for part in raw:
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                raise ToolError("outside_workspace", f"{path} climbs out of the workspace with '..'; refused")
            stack.pop()
        else:
            stack.append(part)
    return stack


def relative_path(root: Path, path: str) -> str:
    """A lexically checked workspace-relative POSIX path ('.' for the root), for git pathspecs."""
    return "/".join(lexical_parts(root, path)) or "."


def display_path(root: Path, resolved: Path) -> str:
    """How a resolved path is shown to the model: relative to the workspace root."""
    rel = resolved.relative_to(workspace_root(root)).as_posix()
    return rel or "."


def is_protected(root: Path, resolved: Path) -> bool:
    """Paths file tools must not write: git's own metadata (hooks, config)."""
    parts = resolved.relative_to(workspace_root(root)).parts
    return any(part.lower() in PROTECTED_DIRS for part in parts)


def _strip_root(root: Path, pure: PurePosixPath, original: str) -> tuple[str, ...]:
    for base in {workspace_root(root), Path(os.path.abspath(root))}:
        if pure.parts[: len(base.parts)] == base.parts:
            return pure.parts[len(base.parts) :]
    raise ToolError(
        "outside_workspace",
        f"{original} is outside the workspace; use a path relative to the workspace root",
    )


@dataclass(frozen=True)
class ReadRecord:
    mtime_ns: int
    size: int
    sha256: str


class ReadLedger:
    """What the agent last read or wrote, per resolved path. Safe to share across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Path, ReadRecord] = {}

    def record(self, path: Path, data: bytes | None = None) -> None:
        """Remember the file as the agent saw it; pass `data` when the bytes are at hand."""
        key = _key(path)
        if data is None:
            data = _read_plain(key)
        try:
            mtime_ns = os.stat(key).st_mtime_ns
        except FileNotFoundError:  # an editor's buffer not saved yet: the bytes are what the agent saw
            mtime_ns = -1
        entry = ReadRecord(mtime_ns, len(data), hashlib.sha256(data).hexdigest())
        with self._lock:
            self._entries[key] = entry

    def check_fresh(self, path: Path, data: bytes | None = None, label: str | None = None) -> None:
        """Raise stale_read unless the file still holds what the agent last read or wrote."""
        key = _key(path)
        name = label or key.name
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            raise ToolError("stale_read", f"you have not read {name} yet; read it with read_file first")
        if data is None:
            try:
                data = _read_plain(key)
            except FileNotFoundError:
                raise ToolError("stale_read", f"{name} was deleted since you last read it") from None
        if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
            raise ToolError("stale_read", f"{name} changed since you last read it; read it again")

    def is_current(self, path: Path) -> bool:
        """True when the file on disk is exactly what the agent last read or wrote, so a
        file watcher can tell the agent's own writes from outside changes."""
        try:
            self.check_fresh(path)
        except (ToolError, OSError):
            return False
        return True

    def forget(self, path: Path) -> None:
        """Force a fresh read before the next edit (the file watcher saw an outside change)."""
        with self._lock:
            self._entries.pop(_key(path), None)

    def is_known(self, path: Path) -> bool:
        with self._lock:
            return _key(path) in self._entries

    def get(self, path: Path) -> ReadRecord | None:
        with self._lock:
            return self._entries.get(_key(path))

    def known_under(self, directory: Path) -> list[Path]:
        """Every known file below `directory` (a watcher saw the directory deleted or moved)."""
        base = Path(os.path.realpath(directory))
        with self._lock:
            return [key for key in self._entries if base in key.parents]


def _key(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _read_plain(path: Path) -> bytes:
    """Read a file the ledger was handed; never opens FIFOs or devices."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise ToolError("special_file", f"{path.name} is not a regular file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def through_link(workspace: Path, path: Path) -> bool:
    """True when any part of `path` below the workspace is a symlink (it could point anywhere),
    so a file the project supplies (a prompt override, a skill) is read only through real folders."""
    current = path
    while current != workspace and current != current.parent:
        if current.is_symlink():
            return True
        current = current.parent
    return False
