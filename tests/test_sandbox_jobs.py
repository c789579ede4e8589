"""Background jobs in the real Docker sandbox (and on the host with --sandbox none).

A job must outlive its call and later commands (the per-command reaper spares it),
serve a port to later commands, hand its output over in capped pieces, die with
job_kill and with the session, and respect the concurrent-job cap. The session test
drives the same through the model's tools and headless json.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
from pathlib import Path

import pytest

from termagent.headless import run_headless
from termagent.sandbox.jobs import JobError
from termagent.testing.scripted_server import reply, text, tool_use
from tests.session_support import make_session, tool_results

FETCH = ("python3 -c \"import urllib.request,time\nfor i in range(150):\n  try:\n"
         "    print('status', urllib.request.urlopen('http://127.0.0.1:{port}/').status); break\n"
         "  except Exception: time.sleep(0.2)\nelse: print('unreachable')\"")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "index.html").write_text("<p>served from the workspace</p>\n")
    return ws


async def read_until(sandbox, job_id: str, predicate, timeout_s: float = 60.0):
    """Read a job repeatedly (keeping what was read) until `predicate(text, read)` holds."""
    seen, read = "", None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        read = await sandbox.read_job(job_id)
        seen += read.output
        if predicate(seen, read):
            return seen, read
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} never got there; output so far: {seen[-500:]!r}")


@pytest.mark.docker
async def test_a_dev_server_job_serves_later_commands_until_killed(workspace, sandbox_factory):
    sandbox = await sandbox_factory(workspace)
    job = await sandbox.start_job("python3 -m http.server 8765 --bind 127.0.0.1")
    assert job.id == "job-1" and job.running
    fetched = await sandbox.exec(FETCH.format(port=8765), 60)
    assert "status 200" in fetched.output  # the foreground reaper left the job alone
    again = await sandbox.exec(FETCH.format(port=8765), 60)
    assert "status 200" in again.output
    seen, _ = await read_until(sandbox, job.id, lambda text, _: text.count('"GET / HTTP/1.1" 200') >= 2)
    assert "Serving HTTP on 127.0.0.1 port 8765" in seen
    assert [view.status for view in sandbox.job_views()] == ["running"]
    killed = await sandbox.kill_job(job.id)
    assert killed.job.status == "killed" and sandbox.job_views()[0].status == "killed"
    after = await sandbox.exec("python3 -c \"import urllib.request; urllib.request.urlopen("
                               "'http://127.0.0.1:8765/', timeout=5)\" 2>&1 | tail -1; "
                               "ps -eo args | grep -c '[h]ttp.server'", 60)
    assert "Connection refused" in after.output and after.output.strip().endswith("0")


@pytest.mark.docker
async def test_a_finished_job_reports_its_exit_code_and_whole_output(workspace, sandbox_factory):
    sandbox = await sandbox_factory(workspace)
    await sandbox.exec("cd /tmp", 30)
    job = await sandbox.start_job("pwd; echo out; echo err >&2; exit 3")
    seen, read = await read_until(sandbox, job.id, lambda _, r: not r.job.running)
    assert seen == "/tmp\nout\nerr\n" and read.job.status == "exited 3" and read.job.exit_code == 3
    assert (await sandbox.read_job(job.id)).output == ""  # read once, then it is gone
    spool = await sandbox.exec("ls /tmp/.termagent-jobs", 30)
    assert job.id not in spool.output  # a finished job's spool is dropped once read


@pytest.mark.docker
async def test_a_flooding_job_is_capped_and_the_session_goes_on(workspace, sandbox_factory):
    sandbox = await sandbox_factory(workspace, output_cap_bytes=4000)
    job = await sandbox.start_job("yes flood-line")
    _, read = await read_until(sandbox, job.id, lambda _, r: r.dropped_bytes > 0 or r.elided_bytes > 0)
    assert len(read.output.encode()) < 4200 and "bytes elided" in read.output
    await read_until(sandbox, job.id, lambda _, r: r.dropped_bytes > 0)  # the spool has rotated: it is full
    usage = await sandbox.exec("du -sk /tmp/.termagent-jobs | cut -f1", 30)
    assert int(usage.output.split()[0]) <= 5 * 1024 + 64  # four 1 MiB chunks and the one being written
    echo = await sandbox.exec("echo still-here", 30)
    assert echo.output == "still-here\n" and echo.exit_code == 0
    killed = await sandbox.kill_job(job.id)
    assert killed.job.status == "killed"


@pytest.mark.docker
async def test_the_concurrent_job_cap_holds_and_frees_up(workspace, sandbox_factory):
    sandbox = await sandbox_factory(workspace, max_jobs=1)
    first = await sandbox.start_job("sleep 600")
    with pytest.raises(JobError, match="limit is 1") as refused:
        await sandbox.start_job("sleep 600")
    assert refused.value.kind == "too_many_jobs"
    await sandbox.kill_job(first.id)
    second = await sandbox.start_job("true")
    assert second.id == "job-2"  # a refused start takes no id; a killed job keeps its own
    with pytest.raises(JobError, match="no background job 'job-9'"):
        await sandbox.read_job("job-9")


def host_processes_with(marker: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and b"pytest" not in cmdline:
            found.append(cmdline.decode(errors="replace"))
    return found


@pytest.mark.docker
async def test_a_job_running_at_session_end_leaves_nothing(workspace, sandbox_factory, docker_client):
    import docker.errors

    sandbox = await sandbox_factory(workspace)
    marker = f"termagent-job-marker-{secrets.token_hex(4)}"
    await sandbox.start_job(f"bash -c 'exec -a {marker} sleep 1000'")
    _, read = await read_until(sandbox, "job-1", lambda *_: bool(host_processes_with(marker)))
    assert read.job.running
    container_id = sandbox.container_id
    await sandbox.close()
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(container_id)
    assert host_processes_with(marker) == []


@pytest.mark.docker
async def test_jobs_through_a_model_session_and_headless_json(workspace, scripted_server, monkeypatch,
                                                              docker_client):
    scripted_server.add(
        reply(tool_use("bash", {"command": "python3 -m http.server 8766 --bind 127.0.0.1",
                                "run_in_background": True})),
        reply(tool_use("bash", {"command": FETCH.format(port=8766)})),
        reply(tool_use("job_output", {"id": "job-1"})),
        reply(tool_use("job_kill", {"id": "job-1"})),
        reply(tool_use("bash", {"command": "sleep 900", "run_in_background": True})),
        reply(text("done")),
    )
    overrides = {"sandbox": {"backend": "docker", "memory": "512m"}, "permissions": {"mode": "auto"}}
    session, _ = make_session(workspace, scripted_server, monkeypatch, overrides=overrides)
    out = io.StringIO()
    result = await run_headless(session, "serve it", "json", out, io.StringIO())
    results = [tool_results(request.body)[0]["content"] for request in scripted_server.requests[1:]]
    assert "started background job job-1" in results[0]
    assert "status 200" in results[1]
    assert "Serving HTTP" in results[2] and "job-1: still running" in results[2]
    assert "job-1: killed" in results[3]
    assert result.exit_code == 0
    jobs = json.loads(out.getvalue())["jobs"]
    assert jobs == [{"id": "job-1", "command": "python3 -m http.server 8766 --bind 127.0.0.1", "status": "killed"},
                    {"id": "job-2", "command": "sleep 900", "status": "running"}]
    assert host_processes_with("sleep 900") == []  # the session closed: its container and jobs are gone


async def test_a_background_command_gets_the_foreground_policy(workspace, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("bash", {"command": "rm -rf /workspace/*", "run_in_background": True})),
                        reply(text("ok")))
    session, _ = make_session(workspace, scripted_server, monkeypatch, overrides={"permissions": {"mode": "auto"}})
    result = await run_headless(session, "clean", "json", io.StringIO(), io.StringIO())
    assert result.exit_code == 4 and (workspace / "index.html").exists()
    assert session.status().jobs == ()


async def test_host_jobs_run_beside_commands_and_die_with_the_session(workspace, scripted_server, monkeypatch):
    marker = f"host-job-{secrets.token_hex(4)}"
    session, _ = make_session(workspace, scripted_server, monkeypatch)
    sandbox = session.sandbox
    job = await sandbox.start_job(f"echo begin; bash -c 'exec -a {marker} sleep 1000'")
    echo = await sandbox.exec("echo fg", 30)  # the sweep after a command spares the job
    assert echo.output == "fg\n"
    _seen, read = await read_until(sandbox, job.id, lambda text, _: "begin" in text)
    assert read.job.running and host_processes_with(marker)
    await session.close("done")
    assert host_processes_with(marker) == []


async def test_slash_jobs_lists_the_sessions_jobs_in_plain_mode(workspace, scripted_server, monkeypatch):
    from tests.test_plain import drive

    marker = f"slash-job-{secrets.token_hex(4)}"
    scripted_server.add(reply(tool_use("bash", {"command": f"bash -c 'exec -a {marker} sleep 300'",
                                                "run_in_background": True})), reply(text("it runs")))
    session, _ = make_session(workspace, scripted_server, monkeypatch, interactive=True, allow=("bash",))
    _code, out = await drive(session, ["start a job\r", "/jobs\r", "/quit\r"])
    assert "background jobs (they end with the session):" in out
    assert "job-1" in out and "running" in out and marker in out
    assert host_processes_with(marker) == []  # /quit closed the session and its job


@pytest.mark.docker
async def test_jobs_survive_a_killed_job_agent(workspace, sandbox_factory):
    sandbox = await sandbox_factory(workspace)
    job = await sandbox.start_job("while :; do echo tick; sleep 0.2; done")
    agent = sandbox._agent
    assert agent is not None  # reads go through one long-lived exec, not an exec each
    await sandbox.exec(f"kill -KILL {agent.sid}", 30)  # a command may kill it: it is the sandbox user's
    _seen, read = await read_until(sandbox, job.id, lambda text, _: "tick" in text)
    assert read.job.running and sandbox._agent is not agent  # fell back, then a fresh agent
    assert (await sandbox.kill_job(job.id)).job.status == "killed"


async def test_host_job_kill_reaches_what_left_the_jobs_group(workspace, scripted_server, monkeypatch):
    marker = f"host-escape-{secrets.token_hex(4)}"
    session, _ = make_session(workspace, scripted_server, monkeypatch)
    sandbox = session.sandbox
    try:
        job = await sandbox.start_job(f"setsid bash -c 'exec -a {marker} sleep 1000' & echo begin; sleep 1000")
        await read_until(sandbox, job.id, lambda text, _: "begin" in text and bool(host_processes_with(marker)))
        killed = await sandbox.kill_job(job.id)
        assert killed.job.status == "killed" and host_processes_with(marker) == []
    finally:
        await session.close("done")
