"""The warm worker, end to end: real `python -m termagent` clients, a real daemon on a real
unix socket, real signals. Each test has its own runtime dir, hence its own worker."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from termagent.testing.scripted_server import ScriptedServer, reply, stall, text
from tests.worker_support import Runner, alive, stop_workers, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def runner(tmp_path: Path, isolated_state: Path, scripted_server: ScriptedServer) -> Iterator[Runner]:
    base = Path(tempfile.mkdtemp(prefix="tw-", dir="/tmp"))  # short: a socket path holds 107 bytes
    runtime = base / "rt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.update(ANTHROPIC_BASE_URL=scripted_server.url, ANTHROPIC_API_KEY="sk-worker-test-000000000",
               TERMAGENT_SANDBOX="none", TERMAGENT_WORKER="1", TERMAGENT_RUNTIME_DIR=str(runtime),
               TERMAGENT_WORKER_REPORT=str(tmp_path / "report.jsonl"))
    made = Runner(runtime, env)
    yield made
    stop_workers(made)
    shutil.rmtree(base, ignore_errors=True)


def workspace(tmp_path: Path, name: str, memory: str = "") -> Path:
    path = tmp_path / name
    path.mkdir()
    if memory:
        (path / "AGENTS.md").write_text(memory)
    return path


def answer(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    payload = json.loads(result.stdout)
    payload.pop("session_id")
    return payload


def test_headless_task_via_worker_gives_the_same_json_and_exit_code(tmp_path, runner, scripted_server):
    ws = workspace(tmp_path, "ws")
    scripted_server.add(reply(text("hello from the model")), reply(text("hello from the model")))
    runner.start_worker(ws)
    warm = runner.run(["--task", "say hello", "--output", "json"], ws)
    assert len(runner.reports()) == 1, warm.stderr  # the worker ran it
    cold = runner.run(["--task", "say hello", "--output", "json"], ws, env=dict(runner.env, TERMAGENT_WORKER="0"))
    assert len(runner.reports()) == 1  # TERMAGENT_WORKER=0 ran in-process
    assert (warm.returncode, answer(warm)) == (cold.returncode, answer(cold))
    assert warm.returncode == 0 and answer(warm)["result"] == "hello from the model"
    assert warm.stderr == cold.stderr
    empty = runner.run(["--task", " ", "--output", "json"], ws)  # a usage error, exit 2, from the worker too
    assert empty.returncode == 2 and json.loads(empty.stdout)["exit_reason"] == "usage_error"
    assert len(runner.reports()) == 2


def test_consecutive_tasks_keep_their_own_env_and_cwd(tmp_path, runner, scripted_server):
    first, second = workspace(tmp_path, "one", "MARKER-ONE"), workspace(tmp_path, "two", "MARKER-TWO")
    scripted_server.add(reply(text("one")))
    with ScriptedServer([reply(text("two"))]) as other:
        env_two = dict(runner.env, ANTHROPIC_BASE_URL=other.url, ANTHROPIC_API_KEY="sk-second-task-11111111",
                       TERMAGENT_MODEL="claude-second-model")
        runner.start_worker(first)
        one = runner.run(["--task", "t", "--output", "json"], first)
        two = runner.run(["--task", "t", "--output", "json"], second, env=env_two)
        assert (one.returncode, two.returncode) == (0, 0), one.stderr + two.stderr
        assert len(runner.reports()) == 2
        (req_one,), (req_two,) = scripted_server.requests, other.requests
    assert req_one.headers["authorization"] == "Bearer sk-worker-test-000000000"
    assert req_two.headers["authorization"] == "Bearer sk-second-task-11111111"
    assert req_two.body["model"] == "claude-second-model" and req_one.body["model"] != "claude-second-model"
    sent_one, sent_two = json.dumps(req_one.body), json.dumps(req_two.body)
    assert "MARKER-ONE" in sent_one and "MARKER-TWO" not in sent_one
    assert "MARKER-TWO" in sent_two and "MARKER-ONE" not in sent_two


def test_a_killed_worker_leaves_a_stale_socket_and_the_next_task_still_succeeds(tmp_path, runner, scripted_server):
    ws = workspace(tmp_path, "ws")
    scripted_server.add(reply(text("first")), reply(text("second")))
    pid = runner.start_worker(ws)
    assert runner.run(["--task", "a"], ws).returncode == 0 and len(runner.reports()) == 1
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), "the worker to die")
    assert runner.sockets()  # SIGKILL left the socket file behind
    result = runner.run(["--task", "b"], ws)
    assert result.returncode == 0 and result.stdout.strip() == "second", result.stderr
    assert len(scripted_server.requests) == 2


def test_a_worker_dying_mid_handshake_makes_the_client_run_the_task_itself(tmp_path, runner, scripted_server):
    ws = workspace(tmp_path, "ws")
    scripted_server.add(reply(text("by the worker")), reply(text("ran anyway")))
    pid = runner.start_worker(ws)
    assert runner.run(["--task", "x"], ws).returncode == 0
    (path,) = runner.sockets()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), "the worker to die")
    path.unlink()
    fake = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)  # in its place, one that dies mid-handshake
    fake.bind(str(path))
    fake.listen(1)
    client = runner.popen(["--task", "x"], ws)
    conn, _ = fake.accept()
    conn.recv(1 << 20)  # the request arrives; the "worker" dies before answering
    conn.close()
    fake.close()
    out, err = client.communicate(timeout=120)
    assert client.returncode == 0 and out.strip() == "ran anyway", err
    assert len(runner.reports()) == 1  # only the first task ran in a worker; this one in its own process


def test_a_runtime_dir_others_can_enter_is_not_used(tmp_path, runner, scripted_server):
    ws = workspace(tmp_path, "ws")
    scripted_server.add(reply(text("in-process")))
    runner.runtime.mkdir(mode=0o755)
    result = runner.run(["--task", "x"], ws)
    assert result.returncode == 0 and result.stdout.strip() == "in-process"
    assert runner.reports() == [] and not runner.sockets()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_another_user_is_refused(tmp_path, runner, scripted_server):
    ws = workspace(tmp_path, "ws")
    scripted_server.add(reply(text("mine")))
    runner.start_worker(ws)
    assert runner.run(["--task", "x"], ws).returncode == 0 and len(runner.reports()) == 1
    (path,) = runner.sockets()
    assert probe_as_nobody(path) == "no-entry"  # the 0700 directory keeps others out
    os.chmod(runner.runtime.parent, 0o711)  # past the directory, the worker's own peer check must hold
    os.chmod(runner.runtime, 0o711)
    os.chmod(path, 0o666)
    assert probe_as_nobody(path) == "closed"


def probe_as_nobody(path: Path) -> str:
    """Connect to the worker as uid 65534 (a forked child that drops root) and send a request."""
    outcomes = ("no-entry", "closed", "answered", "error")
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            probe.settimeout(60)
            try:
                probe.connect(str(path))
            except PermissionError:
                code = 0
            else:
                try:
                    probe.send(b'{"op": "run"}')
                    code = 1 if probe.recv(4096) == b"" else 2
                except (BrokenPipeError, ConnectionResetError):  # closed on us before or while we spoke
                    code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return outcomes[os.waitstatus_to_exitcode(status)]


def test_ctrl_c_on_the_client_reaches_the_task_and_exits_130(tmp_path, runner, scripted_server):
    ws = workspace(tmp_path, "ws")
    scripted_server.add(stall(reply(text("never"))))
    runner.start_worker(ws)
    client = runner.popen(["--task", "wait", "--output", "json"], ws)
    wait_until(lambda: len(scripted_server.requests) == 1 or client.poll() is not None, "the model request")
    client.send_signal(signal.SIGINT)
    out, err = client.communicate(timeout=120)
    assert client.returncode == 130, err
    assert json.loads(out)["exit_reason"] == "interrupted"
    assert len(runner.reports()) == 1


def test_the_worker_exits_when_idle(tmp_path, runner, scripted_server):
    ws = workspace(tmp_path, "ws")
    scripted_server.add(reply(text("hi")))
    runner.env["TERMAGENT_WORKER_IDLE_S"] = "0.5"
    assert runner.run(["--task", "x"], ws).returncode == 0  # no worker yet: it runs here and starts one
    wait_until(lambda: bool(runner.worker_pids()), "the worker it started")
    (pid,) = runner.worker_pids()
    wait_until(lambda: not alive(pid), "the idle worker to exit")
    assert not runner.sockets()
