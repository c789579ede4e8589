"""The `bash` tool: what the model sends, what it gets back, and the hooks around it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from termagent.config import Config
from termagent.protocol import RISK_EXEC
from termagent.sandbox.base import ExecResult
from termagent.sandbox.docker_backend import DockerSandbox
from termagent.sandbox.docker_settings import limits_from_config
from termagent.tools.base import ToolContext, ToolError
from termagent.tools.bash import MAX_COMMAND_BYTES, BashTool, format_result
from termagent.tools.workspace import ReadLedger
from tests.docker_support import make_config, make_workspace


def context(root: Path, sandbox: Any, config: Config | None = None, **kwargs: Any) -> ToolContext:
    return ToolContext(root=root, ledger=ReadLedger(), config=config or make_config(), sandbox=sandbox, **kwargs)


def test_spec_is_strict_and_says_when_not_to_use_it() -> None:
    spec = BashTool.spec
    assert spec.name == "bash" and spec.risk == RISK_EXEC
    assert spec.input_schema["additionalProperties"] is False
    assert spec.input_schema["required"] == ["command"]
    timeout = spec.input_schema["properties"]["timeout_s"]
    assert (timeout["type"], timeout["minimum"]) == ("integer", 1)
    for other_tool in ("read_file", "grep", "test_runner"):
        assert other_tool in spec.description


@pytest.mark.parametrize("command, problem", [
    ("", "empty"),
    ("   ", "empty"),
    ("echo a\x00b", "NUL"),
    ("echo " + "x" * MAX_COMMAND_BYTES, "longer than"),
])
async def test_bad_commands_are_refused_before_running(tmp_path: Path, command: str, problem: str) -> None:
    with pytest.raises(ToolError) as caught:
        await BashTool().run({"command": command}, context(tmp_path, sandbox=None))
    assert caught.value.type == "invalid_input" and problem in caught.value.message


async def test_no_sandbox_is_a_structured_error(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as caught:
        await BashTool().run({"command": "true"}, context(tmp_path, sandbox=None))
    assert caught.value.type == "sandbox_unavailable"


@pytest.mark.docker
async def test_an_unstartable_sandbox_becomes_a_tool_error(tmp_path: Path, docker_client: Any) -> None:
    workspace = make_workspace(tmp_path / "ws")
    sandbox = DockerSandbox(limits_from_config(make_config(image="termagent-missing:none")), workspace, "gone")
    with pytest.raises(ToolError) as caught:
        await BashTool().run({"command": "true"}, context(workspace, sandbox))
    assert caught.value.type == "sandbox_unavailable"
    assert "termagent sandbox build" in caught.value.message


@pytest.mark.docker
async def test_runs_in_the_sandbox_with_checkpoint_and_live_output(shared_sandbox: Any, shared_workspace: Path) -> None:
    checkpoints: list[str] = []
    streamed: list[str] = []

    async def before_change(path: str) -> None:
        checkpoints.append(path)

    ctx = context(shared_workspace, shared_sandbox, before_change=before_change, emit_output=streamed.append)
    result = await BashTool().run({"command": "echo hello; test -d /workspace/.git; exit 3"}, ctx)
    assert result.output == "hello\nexit code: 3"
    assert result.ok
    assert checkpoints == [""]
    assert "".join(streamed) == "hello\n"


@pytest.mark.docker
async def test_timeout_is_clamped_to_the_configured_maximum(shared_sandbox: Any, shared_workspace: Path) -> None:
    config = make_config(timeout_max_s=2)
    ctx = context(shared_workspace, shared_sandbox, config=config)
    result = await BashTool().run({"command": "sleep 30", "timeout_s": 500}, ctx)
    assert not result.ok and result.error_type == "timeout"
    assert result.output.endswith("timed out after 2s (process group killed) [timeout_s 500 exceeds the maximum; used 2s]")


@pytest.mark.docker
async def test_cwd_change_is_mentioned(shared_sandbox: Any, shared_workspace: Path) -> None:
    (shared_workspace / "pkg").mkdir(exist_ok=True)
    ctx = context(shared_workspace, shared_sandbox)
    try:
        result = await BashTool().run({"command": "cd pkg"}, ctx)
        assert result.output == "exit code: 0 [cwd: /workspace/pkg]"
    finally:
        await BashTool().run({"command": "cd /workspace"}, ctx)


def _result(**fields: Any) -> ExecResult:
    return ExecResult(**{"exit_code": 0, "output": "", "duration_s": 0.1, **fields})


@pytest.mark.parametrize("fields, footer", [
    ({"exit_code": 0, "output": "ok"}, "ok\nexit code: 0"),
    ({"exit_code": 1, "output": "x\n"}, "x\nexit code: 1"),
    ({"exit_code": 137, "timed_out": True}, "timed out after 5s (process group killed)"),
    ({"exit_code": 137, "oom_killed": True}, "killed: out of memory (limit 2g)"),
    ({"exit_code": None}, "exit code: unknown"),
])
def test_footer_says_how_the_command_ended(fields: dict[str, Any], footer: str) -> None:
    assert format_result(_result(**fields), 5, "2g") == footer
