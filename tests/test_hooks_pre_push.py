"""pre-push: real `git push` to a local bare remote; the test_runner subagent runs the
project's tests in the Docker sandbox when an engine and the image are there, else on
the host (sandbox.backend = "none"), driven by the scripted model."""

from __future__ import annotations

from pathlib import Path

import pytest

from termagent.config import DEFAULTS
from termagent.testing.scripted_server import ScriptedServer, reply, text, tool_use
from tests.hooks_support import git, head, make_repo, model_env, write_user_config

CHECK = """#!/bin/sh
if grep -q BROKEN calc.py; then echo "FAILED test_add: expected 3, got 4"; exit 1; fi
echo "1 passed"
"""
FAILED_SUMMARY = ("status: failed\nfindings:\n- test_add fails: expected 3, got 4\nfiles:\n- calc.py:1 - add\n"
                  "next steps:\n- fix add")
OK_SUMMARY = "status: ok\nfindings:\n- 1 test passed\nfiles:\nnext steps:\n- none"


@pytest.fixture(scope="module")
def backend() -> str:
    """docker when a real engine and the sandbox image answer, else the host."""
    try:
        from termagent.sandbox.engine import connect_engine, require_image

        require_image(connect_engine(), DEFAULTS["sandbox"]["image"])
        return "docker"
    except Exception:  # noqa: BLE001 - any failure to reach the engine means: use the host
        return "none"


def project(tmp_path: Path, backend: str, broken: bool) -> tuple[Path, Path]:
    write_user_config(f'[sandbox]\nbackend = "{backend}"\n')
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = make_repo(tmp_path / "repo", hooks=("pre-push",))
    (repo / "check.sh").write_text(CHECK)
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b" + (" + 1  # BROKEN" if broken else "") + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "calc")
    git(repo, "remote", "add", "origin", str(remote))
    return repo, remote


def tool_output(server: ScriptedServer) -> str:
    last = server.requests[1].body["messages"][-1]["content"]
    return "".join(str(block.get("content", "")) for block in last if isinstance(block, dict))


def test_failing_tests_block_the_push(tmp_path: Path, scripted_server: ScriptedServer, backend: str) -> None:
    repo, remote = project(tmp_path, backend, broken=True)
    scripted_server.add(reply(tool_use("bash", {"command": "sh check.sh"})), reply(text(FAILED_SUMMARY)))
    proc = git(repo, "push", "-q", "origin", "main", env=model_env(scripted_server.url), check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "test_add fails: expected 3, got 4" in output and "push blocked" in output
    assert "FAILED test_add" in tool_output(scripted_server)  # the command really ran
    assert git(remote, "for-each-ref").stdout == ""
    print(f"pre-push sandbox backend: {backend}")


def test_passing_tests_let_the_push_through(tmp_path: Path, scripted_server: ScriptedServer, backend: str) -> None:
    repo, remote = project(tmp_path, backend, broken=False)
    scripted_server.add(reply(tool_use("bash", {"command": "sh check.sh"})), reply(text(OK_SUMMARY)))
    proc = git(repo, "push", "-q", "origin", "main", env=model_env(scripted_server.url))
    assert "tests passed" in proc.stderr
    assert "1 passed" in tool_output(scripted_server)
    assert git(remote, "rev-parse", "main").stdout.strip() == head(repo)
    system = scripted_server.requests[0].body["system"][0]["text"]
    assert "test_runner" in system


def test_no_sandbox_engine_fails_open(tmp_path: Path, scripted_server: ScriptedServer,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    repo, remote = project(tmp_path, "docker", broken=True)
    env = model_env(scripted_server.url, DOCKER_HOST="unix:///nonexistent/docker.sock")
    proc = git(repo, "push", "-q", "origin", "main", env=env)
    assert "pre-push hook skipped" in proc.stderr and "sandbox" in proc.stderr
    assert git(remote, "rev-parse", "main").stdout.strip() == head(repo)
    assert scripted_server.requests == []
