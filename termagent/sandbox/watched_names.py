"""Execution-bearing workspace entries that could not be mounted read-only, undone per command.

A file that did not exist when the container started (`.envrc`, `.mcp.json`, an rc
file) has no mount, and neither has a symlink (Docker would mount what it points to).
So each command is bracketed: before it, these names are recorded (small files with
their bytes); after it, anything the command created or changed there is moved aside
(renamed, never deleted) and what was there before is put back. Comparing with the
state right before the command means a file written host-side in between (write_file,
after approval, or the person's editor) is left alone.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

BLOCKED_SUFFIX = ".termagent-blocked"
MAX_KEPT_BYTES = 1 << 20


@dataclass(frozen=True)
class Snapshot:
    """One name's state before a command: its identity and, for a small file, its bytes."""

    name: str
    signature: tuple[int, ...] | None  # (mode, inode, size, mtime_ns); None when absent
    link: str | None = None
    data: bytes | None = None


def snapshot(workspace: Path, names: tuple[str, ...]) -> tuple[Snapshot, ...]:
    return tuple(_snap(workspace / name, name) for name in names)


def _signature(path: Path) -> tuple[int, ...] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return (info.st_mode, info.st_ino, info.st_size, info.st_mtime_ns)


def _snap(path: Path, name: str) -> Snapshot:
    signature = _signature(path)
    if signature is None:
        return Snapshot(name, None)
    if path.is_symlink():
        return Snapshot(name, signature, link=os.readlink(path))
    data = None
    if path.is_file() and signature[2] <= MAX_KEPT_BYTES:
        with contextlib.suppress(OSError):
            data = path.read_bytes()
    return Snapshot(name, signature, data=data)


def restore(workspace: Path, before: tuple[Snapshot, ...]) -> list[str]:
    """Undo what the command did at each recorded name; one warning per name it touched."""
    warnings = []
    for item in before:
        path = workspace / item.name
        if _signature(path) == item.signature:
            continue
        try:
            aside = move_aside(path)
            _put_back(path, item)
        except OSError as exc:
            warnings.append(f"the command changed {item.name}, which host programs run or read as configuration, "
                            f"and it could not be undone ({exc}): check it before any host program uses it")
            continue
        verb = "created" if item.signature is None else "changed"
        kept = f"its version is in {aside.name}" if aside else "it had removed it"
        back = "" if item.signature is None else " and the previous one was put back"
        warnings.append(f"the command {verb} {item.name}, which host programs run or read as configuration; the "
                        f"sandbox may not write it, so that was undone ({kept}){back}. Write it with write_file "
                        "(which asks for approval) if it is really needed.")
    return warnings


def move_aside(path: Path) -> Path | None:
    if not os.path.lexists(path):
        return None
    candidate = path.with_name(path.name + BLOCKED_SUFFIX)
    counter = 1
    while os.path.lexists(candidate):
        counter += 1
        candidate = path.with_name(f"{path.name}{BLOCKED_SUFFIX}.{counter}")
    os.rename(path, candidate)
    return candidate


def _put_back(path: Path, item: Snapshot) -> None:
    if item.signature is None:
        return
    if item.link is not None:
        os.symlink(item.link, path)
        return
    if item.data is None:
        raise OSError("it was a directory or a file too big to keep")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), item.signature[0] & 0o777)
    with os.fdopen(fd, "wb") as handle:
        handle.write(item.data)
