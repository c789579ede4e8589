"""Harbor itself runs termagent on a local Harbor task (tests/harbor_task) and the task's tests pass.

Real parts only: Harbor's own CLI from .venv-harbor (scripts/install-harbor.sh), its docker
environment building the task image (FROM the local sandbox image) with `docker compose`,
the adapter installing termagent from host-built wheels into that container, and termagent
there talking over real HTTP to the scripted model server on the host (bound to 0.0.0.0;
the task's compose file maps host.docker.internal to the host gateway). Harbor's verifier
runs the task's test.sh; the reward and the tokens and cost Harbor recorded are checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from termagent.testing.scripted_server import ScriptedServer, reply, text, tool_use

ROOT = Path(__file__).resolve().parents[1]
HARBOR = ROOT / ".venv-harbor" / "bin" / "harbor"
TASK = ROOT / "tests" / "harbor_task"
USAGE = {"input_tokens": 1200, "output_tokens": 80, "cache_read_input_tokens": 300}

pytestmark = pytest.mark.docker


def _harbor() -> Path:
    reason = None
    if not HARBOR.exists():
        reason = "Harbor is not installed (bash scripts/install-harbor.sh)"
    elif subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        reason = "`docker compose` is missing (bash scripts/install-harbor.sh installs the plugin)"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return HARBOR


def _script() -> list[Any]:
    """Run the buggy file, read it, fix it, check it, answer: real tool calls in the container."""
    return [
        reply(tool_use("bash", {"command": "python3 calc.py"}), usage=USAGE),
        reply(tool_use("read_file", {"path": "calc.py"}), usage=USAGE),
        reply(tool_use("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}), usage=USAGE),
        reply(tool_use("bash", {"command": "python3 calc.py"}), usage=USAGE),
        reply(text("add() now adds: calc.py prints 5."), usage=USAGE),
    ]


def _run_harbor(harbor: Path, task: Path, jobs: Path, base_url: str) -> subprocess.CompletedProcess[str]:
    # the local cost map: LiteLLM (inside Harbor) would otherwise try the network at start-up
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        env.pop(name, None)
    command = [str(harbor), "run", "-p", str(task), "-a", "termagent.harbor:TermagentAgent",
               "-m", "anthropic/claude-sonnet-4-6", "--ae", f"ANTHROPIC_BASE_URL={base_url}",
               "--ae", "ANTHROPIC_API_KEY=sk-harbor-test-0000", "--ak", "max_turns=10",
               "--jobs-dir", str(jobs), "--job-name", "termagent-harbor-test", "-n", "1", "-y"]
    return subprocess.run(command, cwd=jobs, env=env, capture_output=True, text=True, timeout=1500)


def _key(headers: dict[str, str]) -> str:
    """The key as the SDK sent it (x-api-key, or a bearer token in newer SDKs)."""
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


def _trial_result(jobs: Path) -> dict[str, Any]:
    found = [p for p in (jobs / "termagent-harbor-test").glob("*/result.json")]
    assert len(found) == 1, f"expected one trial result, found {found}"
    return json.loads(found[0].read_text())


def test_harbor_runs_termagent_on_a_local_task_and_its_tests_pass(tmp_path: Path) -> None:
    harbor = _harbor()
    task = tmp_path / "termagent-fix-add"
    shutil.copytree(TASK, task)
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    with ScriptedServer(_script(), host="0.0.0.0") as server:
        port = server.url.rsplit(":", 1)[1]
        started = time.monotonic()
        done = _run_harbor(harbor, task, jobs, f"http://host.docker.internal:{port}")
        wall = time.monotonic() - started
        requests = server.requests
    print(f"harbor run wall time: {wall:.1f}s")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trial = _trial_result(jobs)
    assert trial.get("exception_info") is None, trial.get("exception_info")
    assert trial["verifier_result"]["rewards"]["reward"] == 1.0
    # every scripted step was asked for, with the key and model passed in, and the first
    # command really ran the buggy file in the container (its output, -1, went back)
    assert len(requests) == 5 and server.pending == 0
    assert {_key(r.headers) for r in requests} == {"sk-harbor-test-0000"}
    assert requests[0].body["model"] == "claude-sonnet-4-6"
    assert "-1" in json.dumps(requests[1].body["messages"][-1])
    agent = trial["agent_result"]
    assert agent["n_output_tokens"] == 5 * USAGE["output_tokens"]
    assert agent["n_cache_tokens"] == 5 * USAGE["cache_read_input_tokens"]
    assert agent["n_input_tokens"] == 5 * (USAGE["input_tokens"] + USAGE["cache_read_input_tokens"])
    assert agent["cost_usd"] > 0
    assert agent["metadata"]["exit_reason"] == "done" and agent["metadata"]["tool_calls"] == 4
