"""Find and kill the processes a host command left behind, by the marker in their environment.

A host command can leave its process group (setsid, a double fork, nohup into a new
session), so a group kill alone would let it outlive its command. Every process it
starts inherits a marker variable unless it deliberately clears its environment, and
scanning /proc finds them whatever their session.

One window needs care: while a process is inside `execve` (the `setsid` program
becoming `sleep`, say) the kernel has already swapped in the new address space but
not yet copied the environment into it, so /proc/PID/environ reads as empty. Such a
process is neither ours nor not-ours yet; it is read again until its environment shows
(or a short budget runs out), so a command that escapes and execs at the moment of the
sweep is not missed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

KILL_PASSES = 10  # leftovers may fork while being killed; rescan this many times
SETTLE_PAUSES_S = (0.001, 0.002, 0.004, 0.008, 0.016, 0.03, 0.05, 0.1, 0.1, 0.2)  # ~0.5 s: an exec under I/O load
_PF_KTHREAD = 0x00200000  # kernel threads never have an environment


def boot_ticks() -> int:
    """Now, in the clock ticks since boot that /proc/PID/stat gives start times in (0 without /proc)."""
    try:
        with open("/proc/uptime", "rb") as handle:
            return max(int(float(handle.read().split()[0]) * os.sysconf("SC_CLK_TCK")) - 1, 0)
    except OSError:
        return 0


def kill_marked(variable: str, value: str, since_ticks: int = 0) -> int:
    """SIGKILL every process of ours whose environment carries `variable=value`.

    Repeated so a child forked during a sweep dies in the next one. Only processes
    started at or after `since_ticks` (see `boot_ticks`) are worth re-reading when caught
    mid-exec: nothing older can be the marked command's. Returns how many were killed
    (0 where /proc is missing).
    """
    needle = f"\n{variable}={value}\n".encode()
    killed = 0
    for _ in range(KILL_PASSES):
        found = _marked(needle, since_ticks)
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
    return killed


def _marked(needle: bytes, since_ticks: int) -> list[int]:
    """The pids carrying `needle`, including those caught mid-exec once their environment shows."""
    found: list[int] = []
    unsure: list[int] = []
    for pid in _pids():
        environment = _environ(pid)
        if needle in environment:
            found.append(pid)
        elif environment == b"\n\n" and _live_user_process(pid, since_ticks):
            unsure.append(pid)
    return found + _settle(unsure, needle, since_ticks)


def _settle(unsure: list[int], needle: bytes, since_ticks: int) -> list[int]:
    """Re-read processes whose environment read as empty; return those that turn out marked."""
    found: list[int] = []
    for pause in SETTLE_PAUSES_S:
        if not unsure:
            break
        time.sleep(pause)
        still_empty = []
        for pid in unsure:
            environment = _environ(pid)
            if needle in environment:
                found.append(pid)
            elif environment == b"\n\n" and _live_user_process(pid, since_ticks):
                still_empty.append(pid)
        unsure = still_empty
    return found


def _pids() -> list[int]:
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    me = os.getpid()
    return [int(name) for name in names if name.isdigit() and int(name) != me]


def _environ(pid: int) -> bytes:
    """The environment block of `pid`, newline-framed (just the frame for zombies, other users' or gone ones)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return b"\n" + handle.read().replace(b"\0", b"\n") + b"\n"
    except OSError:
        return b""


def _live_user_process(pid: int, since_ticks: int) -> bool:
    """True for a live user-space process started since `since_ticks`: its empty environment may be an exec in flight."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b") ", 1)[1].split()
    except (OSError, IndexError):
        return False
    state, flags, started = fields[0], int(fields[6]), int(fields[19])
    return state not in (b"Z", b"X") and not flags & _PF_KTHREAD and started >= since_ticks
