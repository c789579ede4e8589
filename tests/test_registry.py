"""The registry turns every bad tool call into a structured error result, never a crash."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from termagent.config import DEFAULTS, Config
from termagent.protocol import RISK_EXEC, RISK_READ, RISK_WRITE
from termagent.tools.base import ToolContext, ToolError, ToolResult, ToolSpec, schema
from termagent.tools.registry import ToolRegistry, default_tools
from termagent.tools.workspace import ReadLedger


class Probe:
    """A tool whose behaviour is chosen by its `mode` argument."""

    spec = ToolSpec(
        name="probe",
        description="test tool",
        input_schema=schema(
            {
                "mode": {"type": "string", "enum": ["ok", "tool_error", "crash", "cancel", "bad_return"]},
                "count": {"type": "integer", "minimum": 1},
                "flag": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "blob": {"type": "string"},
            },
            ["mode"],
        ),
        risk=RISK_EXEC,
    )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        mode = args["mode"]
        if mode == "tool_error":
            raise ToolError("busy", "try later", retryable=True)
        if mode == "crash":
            raise KeyError("secret internals")
        if mode == "cancel":
            raise asyncio.CancelledError()
        if mode == "bad_return":
            return "not a result"  # type: ignore[return-value]
        return ToolResult(output=json.dumps(args, sort_keys=True))


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(root=tmp_path, ledger=ReadLedger(), config=Config(copy.deepcopy(DEFAULTS)))


@pytest.fixture
def registry() -> ToolRegistry:
    return ToolRegistry([Probe(), *default_tools()])


def error_of(result: ToolResult) -> dict[str, Any]:
    assert not result.ok
    payload = json.loads(result.output)["error"]
    assert payload["type"] == result.error_type
    return dict(payload)


async def test_valid_call_runs(registry: ToolRegistry, ctx: ToolContext) -> None:
    result = await registry.call("probe", {"mode": "ok", "count": 2, "tags": ["a"]}, ctx)
    assert result.ok and json.loads(result.output) == {"count": 2, "mode": "ok", "tags": ["a"]}
    assert (await registry.call("probe", '{"mode": "ok"}', ctx)).ok


async def test_unknown_tool_lists_valid_names(registry: ToolRegistry, ctx: ToolContext) -> None:
    err = error_of(await registry.call("rm_rf", {}, ctx))
    assert err["type"] == "unknown_tool"
    assert "read_file" in err["message"] and "probe" in err["message"]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"mode": "ok"', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (["mode"], "must be a JSON object"),
        (None, "must be a JSON object"),
        ({}, "missing required field 'mode'"),
        ({"mode": 3}, "mode must be a string, got integer 3"),
        ({"mode": "ok", "count": "5"}, "count must be an integer"),
        ({"mode": "ok", "count": True}, "count must be an integer, got a boolean"),
        ({"mode": "ok", "count": 1.5}, "count must be an integer"),
        ({"mode": "ok", "count": 0}, "count must be at least 1"),
        ({"mode": "ok", "flag": "yes"}, "flag must be a boolean"),
        ({"mode": "ok", "tags": ["a", 2]}, "tags[1] must be a string"),
        ({"mode": "ok", "extra": 1}, "unknown field 'extra'"),
        ({"mode": "explode"}, 'mode must be one of "ok"'),
    ],
)
async def test_invalid_input_says_what_is_wrong(
    registry: ToolRegistry, ctx: ToolContext, raw: Any, fragment: str
) -> None:
    err = error_of(await registry.call("probe", raw, ctx))
    assert err["type"] == "invalid_input"
    assert fragment in err["message"]


async def test_oversized_arguments_are_refused(registry: ToolRegistry, ctx: ToolContext) -> None:
    big = "x" * 10_000_000
    err = error_of(await registry.call("probe", {"mode": "ok", "blob": big}, ctx))
    assert err["type"] == "invalid_input" and "limit" in err["message"]
    err = error_of(await registry.call("probe", json.dumps({"mode": "ok", "blob": big}), ctx))
    assert err["type"] == "invalid_input"
    err = error_of(await registry.call("write_file", {"path": "f", "content": big}, ctx))
    assert err["type"] == "invalid_input"
    assert not (ctx.root / "f").exists()


async def test_tool_error_and_crash_become_results(registry: ToolRegistry, ctx: ToolContext) -> None:
    err = error_of(await registry.call("probe", {"mode": "tool_error"}, ctx))
    assert err == {"type": "busy", "message": "try later", "retryable": True}
    crash = await registry.call("probe", {"mode": "crash"}, ctx)
    err = error_of(crash)
    assert err["type"] == "internal_error" and "KeyError" in err["message"]
    assert "Traceback" not in crash.output
    assert error_of(await registry.call("probe", {"mode": "bad_return"}, ctx))["type"] == "internal_error"


async def test_cancellation_propagates(registry: ToolRegistry, ctx: ToolContext) -> None:
    with pytest.raises(asyncio.CancelledError):
        await registry.call("probe", {"mode": "cancel"}, ctx)


def test_specs_are_stable_strict_and_classified(registry: ToolRegistry) -> None:
    names = [spec.name for spec in registry.specs()]
    assert names == [
        "probe",
        "read_file",
        "write_file",
        "edit_file",
        "list_files",
        "grep",
        "git_status",
        "git_diff",
        "git_log",
        "git_commit",
    ]
    assert registry.api_tools() == ToolRegistry([Probe(), *default_tools()]).api_tools()
    for tool in registry.api_tools():
        assert tool["input_schema"]["additionalProperties"] is False
        assert "Do not" in tool["description"] or tool["name"] == "probe"
    risks = {name: registry.risk_of(name) for name in names}
    assert [n for n, r in risks.items() if r == RISK_WRITE] == ["write_file", "edit_file", "git_commit"]
    assert risks["grep"] == RISK_READ and risks["git_diff"] == RISK_READ
    assert registry.risk_of("no_such_tool") == RISK_EXEC
    assert registry.get("grep") is not None and registry.get("nope") is None


def test_duplicate_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="probe"):
        ToolRegistry([Probe(), Probe()])


def test_default_tool_inputs_match_the_design_contract() -> None:
    contract = {
        "read_file": ({"path"}, {"offset", "limit"}),
        "write_file": ({"path", "content"}, set()),
        "edit_file": ({"path", "old_string", "new_string"}, {"replace_all"}),
        "list_files": (set(), {"pattern", "path"}),
        "grep": ({"pattern"}, {"path", "glob"}),
        "git_status": (set(), set()),
        "git_diff": (set(), {"staged", "path"}),
        "git_log": (set(), {"max_count", "path"}),
        "git_commit": ({"message"}, {"paths"}),
    }
    for tool in default_tools():
        required, optional = contract[tool.spec.name]
        schema_ = tool.spec.input_schema
        assert set(schema_["required"]) == required, tool.spec.name
        assert set(schema_["properties"]) == required | optional, tool.spec.name
