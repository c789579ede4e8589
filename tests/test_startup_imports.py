"""Commands that never reach the model must not pay for the SDK (1-3 s of CPU): each runs for
real in a fresh interpreter, and the modules it loaded are checked afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from termagent.testing.scripted_server import reply, text

HEAVY = ("anthropic", "pydantic", "httpx2", "docker", "bashlex")
#: What a plain one-turn task (no telemetry, MCP servers, skills, UI or batch configured) has no use for.
#: aiohttp would come with the SDK wherever it is installed (Ray's extra brings it): about 10 MiB a task.
NOT_FOR_A_PLAIN_TASK = ("aiohttp", "opentelemetry.sdk", "opentelemetry.exporter", "grpc", "mcp", "yaml", "docker",
                        "git", "textual", "rich", "pygments", "prompt_toolkit", "ray", "acp", "requests", "bashlex")
#: Run one CLI command in this interpreter, then write which heavy modules it loaded.
PROBE = """
import json, sys
from termagent.cli import main
sys.argv = ["termagent", *sys.argv[1:]]
try:
    code = main()
except SystemExit as exc:
    code = exc.code
with open(OUT, "w") as out:
    json.dump({"code": code, "loaded": [m for m in HEAVY if m in sys.modules]}, out)
"""


def loaded_by(args: list[str], cwd: Path, tmp_path: Path, heavy: tuple[str, ...] = HEAVY,
              **env: str) -> dict[str, object]:
    out = tmp_path / "probe.json"
    code = f"OUT = {str(out)!r}; HEAVY = {heavy!r}\n" + PROBE
    environ = dict(os.environ, **env)
    subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=environ, capture_output=True, text=True,
                   timeout=120, stdin=subprocess.DEVNULL)
    return json.loads(out.read_text())


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


@pytest.mark.parametrize("args", [["--help"], ["sessions"], ["audit"], ["help", "environment"]])
def test_commands_that_never_reach_the_model_load_no_sdk(args, repo, tmp_path):
    result = loaded_by(args, repo, tmp_path)
    assert result["loaded"] == [], result


def test_a_config_error_is_reported_before_the_sdk_loads(repo, tmp_path):
    (repo / ".termagent").mkdir()
    (repo / ".termagent" / "config.toml").write_text("[model\nmain = 1\n")
    result = loaded_by(["--trust-project", "--task", "x"], repo, tmp_path, ANTHROPIC_API_KEY="sk-x")
    assert result["code"] == 2
    assert "anthropic" not in result["loaded"] and "pydantic" not in result["loaded"], result


def test_a_skipped_hook_loads_no_sdk_even_with_the_worker_on(repo, tmp_path):
    result = loaded_by(["hook", "run", "pre-commit"], repo, tmp_path, TERMAGENT_SKIP_HOOKS="1", TERMAGENT_WORKER="1",
                       TERMAGENT_RUNTIME_DIR=str(tmp_path / "rt"))
    assert result == {"code": 0, "loaded": []}
    assert not (tmp_path / "rt").exists()  # and no worker was started for it


def test_the_worker_client_imports_only_the_standard_library():
    code = ("import sys; before = set(sys.modules); import termagent.worker.client;"
            "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] not in sys.stdlib_module_names"
            " and not m.startswith('termagent')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_a_one_turn_task_loads_only_what_it_uses(repo, tmp_path, isolated_state, scripted_server):
    scripted_server.add(reply(text("hello")))
    result = loaded_by(["--task", "say hello", "--output", "json"], repo, tmp_path, NOT_FOR_A_PLAIN_TASK,
                       ANTHROPIC_BASE_URL=scripted_server.url, ANTHROPIC_API_KEY="sk-probe-0000000000",
                       TERMAGENT_SANDBOX="none", TERMAGENT_WORKER="0")
    assert result == {"code": 0, "loaded": []}
    assert len(scripted_server.requests) == 1  # the task did reach the model, through the SDK
