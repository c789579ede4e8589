"""The client side: hand a run to the warm worker, or say it cannot (None) so the
caller runs it in this process as before.

Imports only the standard library. Nothing here may make a task fail: any problem before
the worker confirms it holds the task (no socket, stale socket, other build, wrong owner,
a worker that dies mid-handshake) returns None and the task runs in-process. Only once the
client has said "go" does the task belong to the worker, which then runs it exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from termagent.worker import protocol
from termagent.worker.protocol import WorkerUnavailable

HANDSHAKE_S = 60.0  # a connected worker must confirm within this (it may still be importing)
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_RLIMITS = ("RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_FSIZE", "RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_STACK")


def warm_start_helps(args: list[str]) -> bool:
    """Headless `--task` runs and `hook run NAME`, which start, work and exit, and the ACP
    server, which an editor starts for each session and then waits on. A skipped hook
    stays here: it prints one line and needs nothing warm. A misread argument costs only
    speed: the worker runs the same CLI with the same arguments."""
    words = _words(args)
    if any(word == "--task" or word.startswith("--task=") for word in words) or _serves_an_editor(args):
        return True
    hook = any(a == "hook" and b == "run" for a, b in zip(words, words[1:]))
    skipped = os.environ.get("TERMAGENT_SKIP_HOOKS", "").strip().lower() in ("1", "true", "yes", "on")
    return hook and not skipped


def _words(args: list[str]) -> list[str]:
    return args[: args.index("--")] if "--" in args else args


def _serves_an_editor(args: list[str]) -> bool:
    """`termagent acp`, which its own worker serves: that one also preloads the ACP server."""
    return "acp" in _words(args)


def delegate(args: list[str]) -> int | None:
    """The task's exit code when the worker ran it; None when this process should run it."""
    if not warm_start_helps(args) or not protocol.enabled(os.environ) or not protocol.supported():
        return None
    if not _standard_fds_open():
        return None
    try:
        conn = _connect_or_start(editors=_serves_an_editor(args))
    except (WorkerUnavailable, OSError):
        return None
    with conn:
        try:
            _handshake(conn, args)
        except (WorkerUnavailable, OSError, ValueError):
            return None
        return _wait(conn)


def _standard_fds_open() -> bool:
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:
        return False
    return True


def _connect_or_start(editors: bool) -> socket.socket:
    """The running worker, or none: then one is started for the next run and this run stays
    here. Waiting for a cold worker was slower than running in-process (1.23 s against
    0.92 s to the first request: the worker's warm-up imports more than one task needs), and
    an ACP session in its own process answers `initialize` before its SDK import."""
    directory = protocol.runtime_dir(os.environ)
    name = protocol.worker_name(editors)
    path = protocol.socket_path(directory, name)
    if len(os.fsencode(path)) >= 108:  # sun_path holds 107 bytes and the NUL
        raise WorkerUnavailable(f"socket path too long: {path}")
    try:
        return _connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        pass
    _start_detached(directory, name)
    raise WorkerUnavailable("no worker was running: one is starting for the next run")


def _connect(path: Path) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        conn.settimeout(HANDSHAKE_S)
        conn.connect(os.fspath(path))
        if protocol.peer_uid(conn) != os.getuid():
            raise WorkerUnavailable("the socket belongs to another user")
    except BaseException:
        conn.close()
        raise
    return conn


def _start_detached(directory: Path, name: str) -> None:
    """A worker that is not this process's child: a run that goes on in this process for
    hours (the ACP server) must not keep the worker's zombie once it idles out."""
    pid = os.fork()  # the client has started no thread yet
    if pid == 0:
        try:
            _spawn(directory, name)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _spawn(directory: Path, name: str) -> Any:
    """Start a worker detached from this terminal (own session, no stdio but its log).
    It gets this client's import path, so it loads the same termagent this client would."""
    import subprocess

    bootstrap = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
                 "from termagent.worker.server import main; sys.exit(main(sys.argv[2], sys.argv[3]))")
    log = os.open(directory / f"worker-{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(
            [sys.executable, "-P", "-c", bootstrap, json.dumps(protocol.import_paths()), os.fspath(directory), name],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=directory, start_new_session=True,
            close_fds=True)
    finally:
        os.close(log)


def request(args: list[str]) -> dict[str, Any]:
    """Everything the task's process would have had: argv, cwd, the whole environment,
    umask, identity, resource limits and how its standard streams were encoded."""
    import resource

    umask = os.umask(0o022)
    os.umask(umask)
    limits = {name: list(resource.getrlimit(getattr(resource, name))) for name in _RLIMITS
              if hasattr(resource, name)}
    streams = [[getattr(stream, "encoding", None) or "utf-8", getattr(stream, "errors", None) or "strict",
                bool(getattr(stream, "line_buffering", False)), bool(getattr(stream, "write_through", False))]
               for stream in (sys.stdin, sys.stdout, sys.stderr)]
    return {"op": "run", "key": protocol.build_key(), "argv0": sys.argv[0], "args": args, "cwd": os.getcwd(),
            "env": dict(os.environ), "umask": umask, "uid": os.getuid(), "gid": os.getgid(),
            "groups": sorted(os.getgroups()), "rlimits": limits, "streams": streams}


def _handshake(conn: socket.socket, args: list[str]) -> None:
    protocol.send(conn, request(args), fds=[0, 1, 2])
    reply = protocol.receive(conn)
    if not reply.get("ok"):
        raise WorkerUnavailable(str(reply.get("why", "the worker closed the connection")))
    protocol.send(conn, {"op": "go"})
    conn.settimeout(None)


def _wait(conn: socket.socket) -> int:
    """Relay our signals to the task until the worker reports how it ended."""
    def forward(signum: int, _frame: FrameType | None) -> None:
        try:
            protocol.send(conn, {"op": "signal", "sig": signum})
        except OSError:
            pass

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        while True:
            try:
                message = protocol.receive(conn)
            except (OSError, ValueError):
                message = {}
            if "exit" in message:
                _report(message)
                return int(message["exit"])
            if not message:
                sys.stderr.write("termagent: the worker running this task went away before it finished\n")
                return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _report(message: dict[str, Any]) -> None:
    """For benchmarks: the task process's own CPU and memory, which this process's rusage lacks."""
    target = os.environ.get(protocol.REPORT_VAR)
    if target and isinstance(message.get("rusage"), dict):
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(message["rusage"]) + "\n")
