"""The worker: a per-user daemon that has imported the SDK and termagent once, and runs
each task in a forked child that becomes the client's process in all that matters.

Process layout per task: the listener accepts and forks a handler (one per connection);
the handler checks the request, takes on the client's cwd, environment, umask and
limits, forks the task process and relays the client's signals to it; the task process
puts the client's stdin/stdout/stderr (passed as descriptors) on 0/1/2 and runs the CLI.
The listener itself never runs a task, so no task sees what an earlier one left behind.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from termagent.model.sdk import TLS_ENV
from termagent.worker import protocol
from termagent.worker.task import run_task
from termagent.worker.warm import warm_up, warm_when_quiet

#: Kept from the environment the worker was started with; the rest (API keys above all)
#: goes before anything is imported, so no import caches one session's values for the next.
#: The CA-file variables stay so the warm-up's TLS context is the one tasks started from the
#: same environment use (`tls_context` is keyed by their values): without them every task of
#: a machine that sets them loaded the CA bundle again, 20 ms before its first request.
_KEPT_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "XDG_RUNTIME_DIR",
             protocol.RUNTIME_VAR, protocol.IDLE_VAR, *TLS_ENV)
HANDSHAKE_S = 30.0
HANGUP_GRACE_S = 10.0
QUIET_S = 1.0  # this long without a new connection: time for the second round of warm-up


def main(directory: str, name: str) -> int:
    """Serve until idle; 0 also when another worker of this name already serves."""
    root = Path(directory)
    editors = name.endswith(protocol.EDITORS_SUFFIX)
    if protocol.worker_name(editors) != name:
        _log(f"not starting: this interpreter sees another build than the client ({protocol.build_key()})")
        return 3
    protocol.check_private_dir(root)
    lock = _lock(root, name)
    if lock is None:
        return 0
    path = protocol.socket_path(root, name)
    listener = _listen(path)
    inode = os.stat(path).st_ino
    _scrub_environment()
    warm_up(_log, editors)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _log(f"serving {path} (pid {os.getpid()})")
    try:
        _serve(listener, lock, protocol.idle_timeout_s(os.environ))
    finally:
        _remove_socket(path, inode)
        listener.close()
    _log("idle: exiting")
    return 0


def _lock(root: Path, name: str) -> int | None:
    """One worker per name: the one holding the lock owns the socket path."""
    fd = os.open(root / f"worker-{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _listen(path: Path) -> socket.socket:
    """Bind with umask 0177 so the socket is 0600 from its first instant."""
    try:
        path.unlink()  # we hold the lock: whatever is there is a dead worker's
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    previous = os.umask(0o177)
    try:
        listener.bind(os.fspath(path))
    finally:
        os.umask(previous)
    listener.listen(16)
    return listener


def _scrub_environment() -> None:
    for name in list(os.environ):
        if name not in _KEPT_ENV and not name.startswith(("LC_", "PYTHON")):
            del os.environ[name]


def _serve(listener: socket.socket, lock: int, idle_s: float) -> None:
    quiet_work = True
    while True:
        ready, _, _ = select.select([listener], [], [], min(idle_s, QUIET_S) if quiet_work else idle_s)
        if not ready and quiet_work:
            quiet_work = False
            warm_when_quiet(_log)
            continue
        if not ready:
            return
        conn, _ = listener.accept()
        if protocol.peer_uid(conn) != os.getuid():
            conn.close()  # another user: not even an answer
            continue
        if os.fork() == 0:
            _handler_process(listener, lock, conn)
        conn.close()


def _handler_process(listener: socket.socket, lock: int, conn: socket.socket) -> None:
    """The forked handler ends here whatever happens: it must never unwind into the
    listener's loop (and its cleanup, which would remove the live socket)."""
    code = 1
    try:
        listener.close()
        os.close(lock)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        code = _handle(conn)
    except BaseException as exc:  # noqa: BLE001
        _log(f"handler failed: {exc!r}")
    finally:
        os._exit(code)


def _remove_socket(path: Path, inode: int) -> None:
    """Only our own socket: a newer worker may already have bound a fresh one there."""
    try:
        if os.stat(path).st_ino == inode:
            path.unlink()
    except FileNotFoundError:
        pass


def _handle(conn: socket.socket) -> int:
    """One connection, one task: check, take on the client's process state, fork, supervise."""
    try:
        conn.settimeout(HANDSHAKE_S)
        message, fds = protocol.receive_with_fds(conn, 3)
        why = _refusal(message, fds) or _adopt(message)
        if why:
            protocol.send(conn, {"ok": False, "why": why})
            return 0
        gate_read, gate_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(gate_write)
            conn.close()
            run_task(message, fds, gate_read)
        os.close(gate_read)
        try:
            os.setpgid(pid, pid)  # the task does it too; whichever runs first, signals reach its group
        except OSError:
            pass
        for fd in fds:
            os.close(fd)
        return _start_and_supervise(conn, pid, gate_write)
    except (OSError, ValueError) as exc:
        _log(f"handler: {exc!r}")
        return 1


def _refusal(message: dict[str, Any], fds: list[int]) -> str:
    """Why this worker must not run the request (the client then runs it itself)."""
    if message.get("op") != "run" or len(fds) != 3:
        return "malformed request"
    if message.get("key") != protocol.build_key():
        return "another build of termagent"
    identity = (os.getuid(), os.getgid(), sorted(os.getgroups()))
    if (message.get("uid"), message.get("gid"), message.get("groups")) != identity:
        return "another identity (uid, gid or groups) than this worker's"
    return ""


def _adopt(message: dict[str, Any]) -> str:
    """cwd, umask, limits and environment of the client, in this handler (the task inherits)."""
    import resource

    try:
        os.chdir(message["cwd"])
        os.umask(int(message["umask"]))
        for name, (soft, hard) in message.get("rlimits", {}).items():
            resource.setrlimit(getattr(resource, name), (soft, hard))
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        return f"cannot take on the client's process state: {exc}"
    os.environ.clear()
    os.environ.update({str(key): str(value) for key, value in message.get("env", {}).items()})
    return ""


def _start_and_supervise(conn: socket.socket, pid: int, gate: int) -> int:
    protocol.send(conn, {"ok": True, "pid": pid})
    if protocol.receive(conn).get("op") != "go":
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return 0
    os.write(gate, b"g")
    os.close(gate)
    conn.settimeout(None)
    code, usage = _supervise(conn, pid)
    try:
        protocol.send(conn, {"exit": code, "rusage": usage})
    except OSError:
        pass
    return 0


def _supervise(conn: socket.socket, pid: int) -> tuple[int, dict[str, float]]:
    """Relay the client's signals to the task's process group until it exits; a client
    that vanished gets its task hung up on, as a closed terminal would."""
    pidfd = os.pidfd_open(pid)
    watching: list[Any] = [conn, pidfd]
    hung_up_at = 0.0
    while True:
        timeout = None if not hung_up_at else max(0.0, hung_up_at + HANGUP_GRACE_S - time.monotonic())
        ready, _, _ = select.select(watching, [], [], timeout)
        if pidfd in ready:
            break
        if not ready:
            _signal_group(pid, signal.SIGKILL)
            hung_up_at = 0.0
            continue
        message = protocol.receive(conn)
        if message.get("op") == "signal":
            _signal_group(pid, int(message["sig"]))
        elif not message:
            watching.remove(conn)
            hung_up_at = time.monotonic()
            _signal_group(pid, signal.SIGTERM)
    _, status, usage = os.wait4(pid, 0)
    os.close(pidfd)
    code = os.waitstatus_to_exitcode(status)
    return (code if code >= 0 else 128 - code), _usage(usage)


def _usage(usage: Any) -> dict[str, float]:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    return {"utime": usage.ru_utime, "stime": usage.ru_stime, "maxrss_kib": usage.ru_maxrss,
            "handler_utime": own.ru_utime, "handler_stime": own.ru_stime}


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _log(line: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} termagent worker: {line}\n")
    sys.stderr.flush()
