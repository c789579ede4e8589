"""`termagent batch` as a person runs it: the real console process, real children, real git
copies and one real scripted model server serving every task's session."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from termagent.testing.scripted_server import (
    ScriptedServer,
    reply,
    stall,
    text,
    tool_use,
)
from tests.batch_support import (
    API_KEY,
    TaskScripts,
    batch_argv,
    batch_env,
    check_twelve,
    make_project,
    make_remote,
    processes_naming,
    read_results,
    twelve_tasks,
    write_tasks,
)

pytestmark = pytest.mark.e2e


def run_batch(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(batch_argv("batch", *args), env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture
def scripts() -> TaskScripts:
    return TaskScripts()


@pytest.fixture
def server(scripts: TaskScripts):
    with ScriptedServer(responder=scripts) as server:
        yield server


def test_twelve_tasks_on_three_workers_then_a_rerun_skips_them(tmp_path, scripts, server):
    tasks = twelve_tasks(tmp_path, scripts)
    out = tmp_path / "out" / "RESULTS.jsonl"
    env = batch_env(server.url)
    first = run_batch(env, str(tasks), "--out", str(out), "--workers", "3", "--sandbox", "none")
    assert first.returncode == 1, first.stderr  # some tasks did not finish `done`
    check_twelve(read_results(out))
    assert (tmp_path / "project" / "notes.txt").read_text() == "colour\n"  # every task worked on a copy
    assert not (tmp_path / "project" / ".git").exists()
    for path in (tasks, out):
        assert API_KEY not in path.read_text()
    assert "12 tasks: 9 done, 3 failed, 0 without a result" in first.stderr

    sessions, written = dict(scripts.attempts), out.read_bytes()
    again = run_batch(env, str(tasks), "--out", str(out), "--workers", "3", "--sandbox", "none")
    assert again.returncode == 1, again.stderr
    assert "12 of 12 tasks already have a result" in again.stderr
    assert out.read_bytes() == written and dict(scripts.attempts) == sessions  # nothing ran again


def test_the_batch_cost_cap_stops_new_starts(tmp_path, scripts, server):
    tasks = twelve_tasks(tmp_path, scripts)
    out = tmp_path / "RESULTS.jsonl"
    result = run_batch(batch_env(server.url), str(tasks), "--out", str(out), "--workers", "3", "--sandbox", "none",
                       "--max-cost-usd", "0.000001")
    assert result.returncode == 1, result.stderr
    results = read_results(out)
    assert sorted(results) == ["t01", "t02", "t03"]  # the three started at once; none after the first cost
    assert all(line["exit_reason"] == "done" for line in results.values())
    assert "reached --max-cost-usd" in result.stderr and "9 without a result" in result.stderr
    assert set(scripts.attempts) == {"t01", "t02", "t03"}


def test_sigint_mid_batch_keeps_the_finished_results(tmp_path, scripts, server):
    tasks = twelve_tasks(tmp_path, scripts)
    for tid in ("t04", "t05", "t06"):  # these hold their first model request until the server stops
        scripts.add(tid, lambda attempt: [stall()])
    out, work = tmp_path / "RESULTS.jsonl", tmp_path / "work"
    work.mkdir()
    log = (tmp_path / "batch.log").open("w")
    proc = subprocess.Popen(batch_argv("batch", str(tasks), "--out", str(out), "--workers", "3", "--sandbox",
                                       "none", "--work-dir", str(work)),
                            env=batch_env(server.url), stdout=log, stderr=subprocess.STDOUT)
    try:
        running = lambda: all(scripts.attempts[t] for t in ("t04", "t05", "t06"))
        assert scripts.wait_for(lambda: running() and len(read_results(out)) == 3, timeout_s=300)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    stderr = (tmp_path / "batch.log").read_text()
    results = read_results(out)  # every line parses: nothing half-written
    assert sorted(results) == ["t01", "t02", "t03"] and "interrupted" in stderr
    assert all(line["exit_reason"] == "done" for line in results.values())
    assert set(scripts.attempts) == {"t01", "t02", "t03", "t04", "t05", "t06"}  # nothing started after ^C
    assert processes_naming(str(work), "--task") == [] and list(work.iterdir()) == []  # children gone, copies removed


def test_a_bad_task_file_names_every_bad_line_and_runs_nothing(tmp_path, scripts, server):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"id": "a", "task": "x", "workspace": "."}\n'
                     "not json\n"
                     '{"id": "a", "task": "y", "workspace": "."}\n'
                     '{"id": "b", "task": "z", "workspace": ".", "max_cost": 1}\n')
    out = tmp_path / "RESULTS.jsonl"
    result = run_batch(batch_env(server.url), str(tasks), "--out", str(out))
    assert result.returncode == 2
    for fragment in ("line 2: not valid JSON", "line 3: id 'a' is already used on line 1",
                     "line 4: unknown key(s) 'max_cost'"):
        assert fragment in result.stderr
    assert not out.exists() and not scripts.attempts


@pytest.mark.docker
def test_a_task_in_the_docker_sandbox(tmp_path, scripts, server, docker_client):
    project = make_project(tmp_path)
    scripts.add("d1", lambda attempt: [reply(tool_use("bash", {"command": "echo sandboxed > from-sandbox.txt"})),
                                       reply(text("d1 ran it"))])
    tasks = write_tasks(tmp_path / "tasks.jsonl", [{"id": "d1", "task": "run it [task d1]", "workspace": str(project),
                                                    "mode": "auto"}])
    out = tmp_path / "RESULTS.jsonl"
    result = run_batch(batch_env(server.url), str(tasks), "--out", str(out), "--sandbox", "docker")
    assert result.returncode == 0, result.stderr
    line = read_results(out)["d1"]
    assert line["exit_reason"] == "done" and line["tool_calls"][0]["ok"] is True
    assert "+++ b/from-sandbox.txt" in line["diff"] and "+sandboxed" in line["diff"]
    assert not (project / "from-sandbox.txt").exists()


def test_a_large_diff_goes_to_a_patch_file_and_a_cut_line_is_mended(tmp_path):
    from termagent.batch.results import ResultLog

    out = tmp_path / "RESULTS.jsonl"
    out.write_text('{"id": "a", "exit_reason": "done"}\n{"id": "cut", "exit_rea')  # a crash mid-write
    warnings: list[str] = []
    log = ResultLog(out, inline_limit=1000, warn=warnings.append)
    assert set(log.load()) == {"a"} and "RESULTS.jsonl:2" in warnings[0]
    big = "+" + "x" * 2000 + "\n"
    line = log.append({"id": "org/repo", "exit_reason": "done", "diff": big})
    log.append({"id": "small", "exit_reason": "done", "diff": "+y\n"})
    rows = out.read_text().splitlines()
    assert rows[1] == '{"id": "cut", "exit_rea' and [json.loads(r)["id"] for r in rows[2:]] == ["org/repo", "small"]
    assert line["diff"] is None and (tmp_path / line["diff_file"]).read_text() == big
    assert line["diff_file"].startswith("RESULTS.patches/org_repo-")
    assert ResultLog(out).load()["small"]["diff"] == "+y\n"


def test_a_missing_ref_is_that_task_failing_with_the_reason(tmp_path):
    from termagent.batch.run_one import RunOptions, run_task
    from termagent.batch.tasks import Task, Workspace

    url, _ = make_remote(tmp_path)
    task = Task("x", "do it", Workspace(git=url, ref="no-such-branch"))
    line = run_task(task, RunOptions(work_dir=str(tmp_path)))
    assert (line["exit_reason"], line["exit_code"]) == ("usage_error", 2)
    assert "'no-such-branch' is not a branch, tag or commit" in line["detail"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("termagent-batch-")] == []


def test_result_lines_never_carry_the_api_key(monkeypatch):
    from termagent.batch.run_one import scrub

    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    line = scrub({"id": "a", "detail": f"stderr: key={API_KEY}", "diff": f"+{API_KEY}\n"})
    assert API_KEY not in json.dumps(line) and line["detail"] == "stderr: key=[redacted]"


def test_on_a_terminal_the_bar_counts_done_failed_and_spend():
    import io

    from termagent.batch.progress import Progress

    screen = io.StringIO()
    progress = Progress(3, [{"id": "old", "exit_reason": "done", "cost_usd": 0.5}], stream=screen, tty=True)
    progress.started("b")
    progress.finished_task({"id": "b", "exit_reason": "denied", "cost_usd": 0.25, "denials": [{"tool": "bash"}]})
    last = screen.getvalue().rsplit("\r", 1)[-1]
    assert "2/3" in last and "done 1" in last and "failed 1" in last and "running 0" in last and "$0.7500" in last
