"""What the worker's client and server agree on: where the socket lives, who may use it,
which build a worker runs (the key), and how messages are framed.

One SOCK_SEQPACKET connection per task, one JSON object per packet, so message
boundaries need no framing and the request's file descriptors ride on its own packet.
Standard library only: the client imports this before anything else of termagent.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import stat
import struct
import sys
from pathlib import Path
from typing import Any

ENABLE_VAR = "TERMAGENT_WORKER"  # 0/false/no/off: every run stays in its own process
RUNTIME_VAR = "TERMAGENT_RUNTIME_DIR"  # where the socket lives (tests isolate workers with it)
IDLE_VAR = "TERMAGENT_WORKER_IDLE_S"  # seconds without a new task before the worker exits
REPORT_VAR = "TERMAGENT_WORKER_REPORT"  # a file the client appends the task's rusage to (benchmarks)
DEFAULT_IDLE_S = 600.0
MAX_PACKET = 1 << 20
_OFF = ("0", "false", "no", "off")


class WorkerUnavailable(Exception):
    """No usable worker: the caller runs the task in its own process instead."""


def enabled(environ: os._Environ[str] | dict[str, str]) -> bool:
    return environ.get(ENABLE_VAR, "1").strip().lower() not in _OFF


def idle_timeout_s(environ: os._Environ[str] | dict[str, str]) -> float:
    try:
        return max(0.05, float(environ.get(IDLE_VAR, "") or DEFAULT_IDLE_S))
    except ValueError:
        return DEFAULT_IDLE_S


def runtime_dir(environ: os._Environ[str] | dict[str, str]) -> Path:
    """$TERMAGENT_RUNTIME_DIR, else $XDG_RUNTIME_DIR/termagent, else /tmp/termagent-UID;
    created 0700. Raises WorkerUnavailable when it is not ours alone (another user made
    it, a symlink, group/other bits set), so nobody else can plant or reach the socket."""
    if environ.get(RUNTIME_VAR):
        path = Path(environ[RUNTIME_VAR])
    elif environ.get("XDG_RUNTIME_DIR") and os.path.isdir(environ["XDG_RUNTIME_DIR"]):
        path = Path(environ["XDG_RUNTIME_DIR"]) / "termagent"
    else:
        path = Path("/tmp") / f"termagent-{os.getuid()}"
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise WorkerUnavailable(f"cannot create {path}: {exc}") from None
    check_private_dir(path)
    return path


def check_private_dir(path: Path) -> None:
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise WorkerUnavailable(f"{path} is not a directory private to uid {os.getuid()}")


@functools.lru_cache(maxsize=1)
def build_key() -> str:
    """What a worker must share with its client to run the client's task: the interpreter,
    termagent's source (names, sizes, mtimes) and the import path with its directories'
    mtimes (a pip install changes site-packages). Cheap: stats only, no file reads."""
    digest = hashlib.sha256()
    digest.update(f"{sys.executable}\0{sys.version}\0".encode())
    package = Path(__file__).resolve().parent.parent
    for entry in import_paths():
        digest.update(f"p{entry}\0{_mtime(entry)}\0".encode())
    for root, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".json", ".md")):
                info = os.stat(os.path.join(root, name))
                digest.update(f"{root}/{name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:24]


def import_paths() -> list[str]:
    """sys.path without the script's or cwd entry, which differs per run but not per build
    (under -P there is none: the hook scripts and the worker itself run with -P)."""
    paths = sys.path if sys.flags.safe_path else sys.path[1:]
    return [_anchored(entry) for entry in paths if entry]


def _anchored(entry: str) -> str:
    """A relative directory made absolute; anything else verbatim, such as the marker an
    editable install's path hook answers to, which made absolute named a file in the cwd
    (so each directory got a worker of its own, and the hook no longer matched it)."""
    return os.path.abspath(entry) if not os.path.isabs(entry) and os.path.isdir(entry) else entry


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


EDITORS_SUFFIX = "-acp"


def worker_name(editors: bool) -> str:
    """One worker per build for one-shot runs and one for editors' ACP sessions. The
    editors' one also imports the ACP server; a one-shot task forked from it would carry
    those pages for nothing (about 9 MiB of resident memory)."""
    return build_key() + (EDITORS_SUFFIX if editors else "")


def socket_path(directory: Path, name: str) -> Path:
    """One socket per worker name: workers of different checkouts or versions never meet."""
    return directory / f"worker-{name}.sock"


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.send(data)


def receive(sock: socket.socket) -> dict[str, Any]:
    """One message; an empty dict when the other side closed the connection."""
    data = sock.recv(MAX_PACKET)
    return _decode(data)


def receive_with_fds(sock: socket.socket, max_fds: int) -> tuple[dict[str, Any], list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(sock, MAX_PACKET, max_fds)
    return _decode(data), list(fds)


def _decode(data: bytes) -> dict[str, Any]:
    if not data:
        return {}
    message = json.loads(data)
    return message if isinstance(message, dict) else {}


def supported() -> bool:
    """The worker needs Linux's peer credentials and fd passing on unix sockets."""
    return all(hasattr(socket, name) for name in ("AF_UNIX", "SO_PEERCRED", "send_fds", "SOCK_SEQPACKET")) \
        and hasattr(os, "pidfd_open") and hasattr(os, "fork")
