"""The task process: a fork of the worker that becomes the client's run.

It waits at the gate until the client has said "go" (so a task never runs unless the
client stopped waiting to run it itself), puts the client's descriptors on 0/1/2 with
streams encoded as the client's were, and runs the CLI; it then exits the way an
interpreter would (non-daemon threads joined, atexit run, streams flushed).
"""

from __future__ import annotations

import atexit
import io
import os
import signal
import sys
import threading
import traceback
from typing import Any, NoReturn


def run_task(message: dict[str, Any], fds: list[int], gate: int) -> NoReturn:
    """Never returns: whatever happens, this forked process ends here, not in the worker's loop."""
    try:
        _become_task(message, fds, gate)
    except BaseException:  # noqa: BLE001 - the task's stderr is the client's: say what broke
        traceback.print_exc()
    finally:
        os._exit(1)


def _become_task(message: dict[str, Any], fds: list[int], gate: int) -> NoReturn:
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    if os.read(gate, 1) != b"g":
        os._exit(0)
    os.close(gate)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    _default_signals()
    _streams(message.get("streams") or [])
    sys.argv = [str(message.get("argv0") or "termagent"), *map(str, message["args"])]
    import tempfile

    tempfile.tempdir = None  # recomputed from this task's TMPDIR
    code = _run(list(sys.argv[1:]))
    _exit(code)


def _default_signals() -> None:
    """As a fresh interpreter has them: Ctrl+C raises KeyboardInterrupt, the rest default."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)


def _streams(specs: list[list[Any]]) -> None:
    """sys.stdin/stdout/stderr over the new 0/1/2, encoded and buffered as the client's were."""
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        spec = list(specs[fd]) if fd < len(specs) else []
        encoding, errors, line_buffering, write_through = (spec + ["utf-8", "strict", fd == 2, False][len(spec):])[:4]
        raw = io.open(fd, "rb" if fd == 0 else "wb", closefd=False)
        stream = io.TextIOWrapper(raw, encoding, errors, line_buffering=bool(line_buffering),
                                  write_through=bool(write_through))
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _run(args: list[str]) -> int:
    try:
        from termagent.cli import run

        return run(args)
    except SystemExit as exc:
        return _exit_code(exc.code)
    except KeyboardInterrupt:
        return 130
    except BaseException:  # noqa: BLE001 - what an interpreter does with an uncaught error
        traceback.print_exc()
        return 1


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _exit(code: int) -> NoReturn:
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code & 0xFF)
