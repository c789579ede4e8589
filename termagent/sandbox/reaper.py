"""Find and remove session containers whose termagent process is gone.

A killed termagent (SIGKILL, a closed terminal, a crash) cannot remove its container,
so every start sweeps up after earlier ones. A container is stale only when we can
prove its owner is dead on this host: the recorded pid no longer runs, or runs but
started at another time (the pid was reused), and the pid was recorded on this host in
this pid namespace (a pid from another namespace would look dead). Containers of other
hosts sharing the engine, and of live sessions, are left alone. A test run (with
TERMAGENT_TEST_RUN set) labels its containers and reaps only those; every other
termagent leaves test containers alone, so parallel runs on one engine cannot race.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from termagent.sandbox.docker_settings import (
    LABEL_HOST,
    LABEL_PID,
    LABEL_PID_START,
    LABEL_PIDNS,
    LABEL_SESSION,
    LABEL_TEST_RUN,
    TEST_RUN_ENV,
)


def test_run() -> str:
    """This process's test-run id ("" outside a test run)."""
    return os.environ.get(TEST_RUN_ENV, "")


def pid_namespace() -> str:
    """Which pid namespace our pids belong to, e.g. "pid:[4026531836]" ("" if unknown)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def run_filters() -> dict[str, list[str]]:
    """Docker list filters for this run's session containers (all label terms must match)."""
    labels = [LABEL_SESSION]
    if test_run():
        labels.append(f"{LABEL_TEST_RUN}={test_run()}")
    return {"label": labels}


def process_start_time(pid: int) -> str:
    """The kernel's start time of `pid` (clock ticks since boot), or "" if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("ascii", errors="replace")
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def owner_labels(session_id: str, workspace: str) -> dict[str, str]:
    """Labels that let a later start decide whether this container's owner is alive."""
    pid = os.getpid()
    labels = {
        LABEL_SESSION: session_id,
        LABEL_PID: str(pid),
        LABEL_PID_START: process_start_time(pid),
        LABEL_HOST: socket.gethostname(),
        LABEL_PIDNS: pid_namespace(),
        "termagent.workspace": workspace,
    }
    if test_run():
        labels[LABEL_TEST_RUN] = test_run()
    return labels


def is_stale(labels: dict[str, str]) -> bool:
    if labels.get(LABEL_HOST) != socket.gethostname() or labels.get(LABEL_TEST_RUN, "") != test_run():
        return False
    if labels.get(LABEL_PIDNS, "") != pid_namespace():
        return False
    try:
        pid = int(labels.get(LABEL_PID, ""))
    except ValueError:
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    recorded = labels.get(LABEL_PID_START, "")
    return bool(recorded) and process_start_time(pid) not in ("", recorded)


def reap_stale(client: Any) -> list[str]:
    """Remove stale session containers; returns the names removed. Never raises."""
    removed: list[str] = []
    try:
        containers = client.containers.list(all=True, filters=run_filters())
    except Exception:
        return removed
    for container in containers:
        if not is_stale(container.labels or {}):
            continue
        try:
            container.remove(force=True)
            removed.append(container.name)
        except Exception:
            continue
    return removed
