"""Where the file tools get and put a workspace file's content: the disk, or an editor.

The tools decide everything else (which paths are allowed, the read ledger, encodings,
checkpoints) before they ask; an implementation only moves content. The local one reads
and writes the disk through `fsio` (no symlink walks, atomic renames). A front end that
talks to an editor may supply another, so the model sees the editor's unsaved buffer and
the editor tracks the agent's edits; the session picks one when it is opened and keeps it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from termagent.tools.errors import ToolError
from termagent.tools.fsio import atomic_write, lstat_target, read_bytes, require_regular, too_large
from termagent.tools.workspace import display_path

_UNBOUNDED = 1 << 62
Check = Callable[[bytes | None], None]  # raises ToolError unless the file (None: absent) is as planned


@dataclass(frozen=True)
class FileContent:
    """A whole file: the bytes the ledger hashes, and the permissions a rewrite keeps (None: not ours to keep)."""

    data: bytes
    mode: int | None = None


class FileAccess(Protocol):
    """Reads and writes of resolved, already-confined workspace paths; failures are ToolErrors."""

    async def read(self, root: Path, resolved: Path, max_bytes: int) -> FileContent:
        """The whole file; ToolError not_found, file_too_large (past `max_bytes`) or io_error."""
        ...

    async def write(self, root: Path, resolved: Path, data: bytes, mode: int | None, check: Check) -> None:
        """Replace the file with `data`; `check` sees what it holds just before, and may refuse."""
        ...


class LocalFiles:
    """The disk, as every session outside an editor has it."""

    async def read(self, root: Path, resolved: Path, max_bytes: int) -> FileContent:
        data, st = await asyncio.to_thread(read_bytes, root, resolved, max_bytes)
        return FileContent(data, st.st_mode)

    async def write(self, root: Path, resolved: Path, data: bytes, mode: int | None, check: Check) -> None:
        await asyncio.to_thread(atomic_write, root, resolved, data, mode, lambda: check(current_bytes(root, resolved)))


LOCAL_FILES = LocalFiles()


def local_files(session_id: str) -> FileAccess:
    """The default choice of a session's file access: the disk, whatever the session."""
    return LOCAL_FILES


FileAccessFactory = Callable[[str], FileAccess]  # the session id -> that session's file access


def current_bytes(root: Path, resolved: Path) -> bytes | None:
    """What the file holds on disk now, read safely (whole: it is compared, not kept); None when absent."""
    if on_disk(root, resolved) is None:
        return None
    return read_bytes(root, resolved, _UNBOUNDED)[0]


def on_disk(root: Path, resolved: Path) -> os.stat_result | None:
    """lstat through the safe walk, refusing special files: whether an editor's buffer has a file behind it."""
    st = lstat_target(root, resolved)
    if st is not None:
        require_regular(st, display_path(root, resolved))
    return st


def check_on_disk(root: Path, resolved: Path, max_bytes: int) -> None:
    """Refuse before an editor is asked: no regular file behind the path, or one too large to load whole."""
    label = display_path(root, resolved)
    st = on_disk(root, resolved)
    if st is None:
        raise ToolError("not_found", f"{label} does not exist")
    if st.st_size > max_bytes:
        raise too_large(label, st.st_size, max_bytes)


def text_of(data: bytes) -> str:
    """The text the file tools planned to write, for an editor that takes text, not bytes."""
    from termagent.tools.textio import decode

    return decode(data).text
