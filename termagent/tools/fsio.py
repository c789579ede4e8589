"""File I/O on resolved workspace paths that cannot be redirected or made to hang.

Every access walks from the workspace root one component at a time with O_NOFOLLOW, so a
directory swapped for a symlink after `resolve_in_workspace` fails the walk instead of
leading outside. Targets are lstat'ed before they are opened: FIFOs, devices and
sockets are refused without an open (opening a FIFO blocks; /dev/zero never ends), and
opens use O_NONBLOCK as a second guard. Writes go to a temp file in the same directory
and are renamed over the target, so a concurrent reader sees the old or the new content,
never a mix.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from termagent.tools.errors import ToolError
from termagent.tools.workspace import display_path, workspace_root

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@contextmanager
def open_parent(root: Path, resolved: Path, create: bool = False) -> Iterator[tuple[int, str]]:
    """Yield (fd of the parent directory, final name), walked without following symlinks."""
    parts = resolved.relative_to(workspace_root(root)).parts
    if not parts:
        raise ToolError("is_directory", "the workspace root is a directory, not a file")
    fd = os.open(workspace_root(root), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            next_fd = _open_child_dir(fd, part, create, root, resolved)
            os.close(fd)
            fd = next_fd
        yield fd, parts[-1]
    finally:
        os.close(fd)


def lstat_target(root: Path, resolved: Path) -> os.stat_result | None:
    """lstat of the target through a safe walk; None when it (or a parent) does not exist."""
    try:
        with open_parent(root, resolved) as (dir_fd, name):
            return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def require_regular(st: os.stat_result, label: str) -> None:
    """Refuse anything that is not a plain file, before it is ever opened."""
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise ToolError("is_directory", f"{label} is a directory; use list_files to see what it holds")
    if stat.S_ISLNK(mode):
        raise ToolError("path_changed", f"{label} turned into a symlink while it was being opened; refused")
    kind = "FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "device"
    raise ToolError("special_file", f"{label} is a {kind}, not a regular file; refusing to open it")


@contextmanager
def open_regular(root: Path, resolved: Path) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    """Open a regular file for reading; yields the file and its fstat."""
    label = display_path(root, resolved)
    try:
        with open_parent(root, resolved) as (dir_fd, name):
            require_regular(os.stat(name, dir_fd=dir_fd, follow_symlinks=False), label)
            fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        raise ToolError("not_found", f"{label} does not exist") from None
    except OSError as exc:
        raise _os_error(exc, label) from None
    handle = os.fdopen(fd, "rb")
    with handle:
        st = os.fstat(handle.fileno())
        require_regular(st, label)
        os.set_blocking(handle.fileno(), True)
        yield handle, st


def read_bytes(root: Path, resolved: Path, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """The whole file, or ToolError("file_too_large") past `max_bytes` (checked before and while reading)."""
    label = display_path(root, resolved)
    with open_regular(root, resolved) as (handle, st):
        if st.st_size > max_bytes:
            raise too_large(label, st.st_size, max_bytes)
        data = read_bounded(handle, st.st_size, max_bytes)
    if len(data) > max_bytes:
        raise too_large(label, len(data), max_bytes)
    return data, st


def read_bounded(handle: BinaryIO, size_hint: int, limit: int) -> bytes:
    """Up to limit+1 bytes (one more than allowed, to detect growth) without allocating
    `limit` bytes up front: buffered reads pre-size their buffer to the requested count."""
    data = handle.read(min(size_hint, limit) + 1)
    if size_hint < len(data) <= limit:
        data += handle.read(limit + 1 - len(data))
    return data


def too_large(label: str, size: int, max_bytes: int) -> ToolError:
    return ToolError(
        "file_too_large",
        f"{label} is {_mb(size)} (limit {_mb(max_bytes)} for file tools); read a window with "
        "offset/limit, search it with grep, or use bash (head, sed -n) in the sandbox",
    )


def atomic_write(
    root: Path,
    resolved: Path,
    data: bytes,
    mode: int | None = None,
    before_replace: Callable[[], None] | None = None,
) -> None:
    """Write via temp file + rename in the same directory, creating parent directories."""
    label = display_path(root, resolved)
    try:
        with open_parent(root, resolved, create=True) as (dir_fd, name):
            _write_and_replace(dir_fd, name, data, mode, before_replace)
    except OSError as exc:
        raise _os_error(exc, label) from None


def _write_and_replace(
    dir_fd: int, name: str, data: bytes, mode: int | None, before_replace: Callable[[], None] | None
) -> None:
    tmp = f".{name[:200]}.{secrets.token_hex(6)}.termagent-tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if mode is not None:
                os.fchmod(handle.fileno(), stat.S_IMODE(mode))
            os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    os.fsync(dir_fd)


def _open_child_dir(fd: int, part: str, create: bool, root: Path, resolved: Path) -> int:
    try:
        return os.open(part, _DIR_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            raise
        try:
            os.mkdir(part, 0o777, dir_fd=fd)
        except FileExistsError:
            pass
        return os.open(part, _DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ToolError(
                "path_changed",
                f"a parent of {display_path(root, resolved)} is not a plain directory "
                "(it is a file, or became a symlink); refused",
            ) from None
        raise


def _os_error(exc: OSError, label: str) -> ToolError:
    if exc.errno == errno.ELOOP:
        return ToolError("path_changed", f"{label} is a symlink loop or became a symlink; refused")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ToolError("permission_denied", f"permission denied: {label}")
    if exc.errno == errno.EISDIR:
        return ToolError("is_directory", f"{label} is a directory")
    if exc.errno == errno.ENOSPC:
        return ToolError("io_error", f"no space left on device while writing {label}", retryable=True)
    return ToolError("io_error", f"{label}: {exc.strerror or exc}")


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size} bytes"
