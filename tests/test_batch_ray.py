"""`termagent batch --ray` on a real local Ray cluster: one head node with two worker slots
on 127.0.0.1, its own temp dir and ports, started and torn down by this file.

The cluster is started without the API key: the key reaches the workers only through the
job's runtime environment, so a task that got it any other way could not exist here. The
teardown ends the cluster's processes by pid (those whose command line names this
cluster's temp dir), not with `ray stop`, which would end every Ray process of the user
on the machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from termagent.testing.scripted_server import ScriptedServer, stall
from tests.batch_support import (
    API_KEY,
    TaskScripts,
    batch_argv,
    batch_env,
    check_twelve,
    edit_script,
    processes_naming,
    read_results,
    twelve_tasks,
)

pytestmark = pytest.mark.e2e
RAY = Path(sys.executable).parent / "ray"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _end(pids_of, deadline_s: float = 5.0) -> None:
    for pid in pids_of():
        _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + deadline_s
    while pids_of() and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids_of():
        _kill(pid, signal.SIGKILL)


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:
        pass


@pytest.fixture
def ray_cluster(isolated_state) -> Iterator[str]:
    """The address of a fresh one-node cluster with 2 CPUs (two worker processes)."""
    if not RAY.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("ray is not installed (scripts/setup.sh installs termagent[ray])", pytrace=False)
        pytest.skip("ray is not installed (pip install 'termagent[ray]')")
    temp = tempfile.mkdtemp(prefix="ta-ray-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "RAY_"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    argv = [str(RAY), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
            f"--temp-dir={temp}", "--include-dashboard=false", f"--dashboard-port={_free_port()}",
            f"--ray-client-server-port={_free_port()}", "--disable-usage-stats"]
    try:
        subprocess.run(argv, env=env, check=True, capture_output=True, timeout=300)
        yield f"127.0.0.1:{port}"
    finally:
        _end(lambda: processes_naming(temp))
        subprocess.run(["rm", "-rf", temp], check=False)


def test_the_twelve_tasks_on_ray_and_a_lost_worker_is_retried(tmp_path, ray_cluster):
    scripts = TaskScripts()
    tasks = twelve_tasks(tmp_path, scripts)
    # r1 goes first: its first attempt holds its model request until its worker is killed
    lines = tasks.read_text().splitlines()
    retry = '{"id": "r1", "task": "fix the spelling [task r1]", "workspace": "project", "mode": "accept-edits"}'
    tasks.write_text("\n".join([retry, *lines]) + "\n")
    edits = edit_script("r1")
    scripts.add("r1", lambda attempt: [stall()] if attempt == 1 else edits(attempt))
    out, work = tmp_path / "RESULTS.jsonl", tmp_path / "work"  # a lost worker leaves its copy behind: keep it here
    work.mkdir()
    with ScriptedServer(responder=scripts) as server:
        log = (tmp_path / "batch.log").open("w")
        proc = subprocess.Popen(batch_argv("batch", str(tasks), "--out", str(out), "--ray", ray_cluster,
                                           "--ray-memory-gib", "0.2", "--sandbox", "none", "--work-dir", str(work)),
                                env=batch_env(server.url), stdout=log, stderr=subprocess.STDOUT)
        try:
            assert scripts.wait_for(lambda: scripts.attempts["r1"] == 1, timeout_s=300)
            child = processes_naming(f"{work}/termagent-batch-r1-")  # this run's task only: a parallel run has its own
            assert len(child) == 1
            worker = int(Path(f"/proc/{child[0]}/stat").read_text().rsplit(")", 1)[1].split()[1])
            os.kill(worker, signal.SIGKILL)  # the Ray worker running r1; its termagent child dies with it
            assert proc.wait(timeout=600) == 1  # t09, t11, t12 do not end `done`
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
    stderr = (tmp_path / "batch.log").read_text()
    results = read_results(out)
    assert results.pop("r1")["result"] == "r1 fixed" and scripts.attempts["r1"] == 2, stderr
    check_twelve(results)
    assert all(scripts.attempts[tid] == 1 for tid in results if tid != "t11")  # t11 never reached the model
    assert not processes_naming(f"{work}/termagent-batch-r1-")
    for path in (tasks, out):
        assert API_KEY not in path.read_text()
