"""Deterministic checks: what the run did to the workspace, which tools it called, how it ended.

Each kind is one small function from (observation, argument) to a result. They look at
effects (files, commits, checkpoints, a command's exit code in the sandbox) and at the
recorded tool calls, never at the reply text alone, so a case cannot pass because the
agent said it succeeded.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from termagent.evals.case import Check

CommandRunner = Callable[[str], Awaitable[tuple[int | None, str]]]
TOOL_CHECKS = ("tools_called", "tools_not_called", "delegated_to", "denied_tools", "max_tool_calls")


@dataclass(frozen=True)
class ToolCall:
    """One tool call as the bus reported it; `agent` is '' for the main agent."""

    name: str
    input: dict[str, Any]
    ok: bool | None = None
    agent: str = ""


@dataclass(frozen=True)
class Observation:
    """Everything a check may look at once a run has finished."""

    workspace: Path
    payload: dict[str, Any]
    exit_code: int
    calls: tuple[ToolCall, ...]
    compacted: bool
    base_commit: str
    run_command: CommandRunner | None = None


@dataclass(frozen=True)
class CheckResult:
    label: str
    kind: str
    passed: bool
    detail: str = ""


def _file(obs: Observation, rel: str) -> Path | None:
    """The workspace file `rel` names, or None when it would leave the workspace."""
    path = (obs.workspace / rel).resolve()
    root = obs.workspace.resolve()
    return path if path == root or root in path.parents else None


def _read(obs: Observation, rel: str) -> str | None:
    path = _file(obs, rel)
    if path is None or not path.is_file():
        return None
    return path.read_text(encoding="utf-8", errors="replace")


def files_exist(obs: Observation, rel: str) -> tuple[bool, str]:
    path = _file(obs, rel)
    return (path is not None and path.exists()), f"{rel} is missing"


def files_absent(obs: Observation, rel: str) -> tuple[bool, str]:
    path = _file(obs, rel)
    return (path is not None and not path.exists() and not path.is_symlink()), f"{rel} exists"


def files_match(obs: Observation, arg: tuple[str, str]) -> tuple[bool, str]:
    rel, pattern = arg
    text = _read(obs, rel)
    if text is None:
        return False, f"{rel} is missing"
    return re.search(pattern, text, re.M) is not None, f"{rel} does not match /{pattern}/"


def files_not_match(obs: Observation, arg: tuple[str, str]) -> tuple[bool, str]:
    rel, pattern = arg
    text = _read(obs, rel)
    if text is None:
        return False, f"{rel} is missing"
    found = re.search(pattern, text, re.M)
    return found is None, f"{rel} matches /{pattern}/ at {found.group(0)!r}" if found else ""


def _call_matches(call: ToolCall, spec: str) -> bool:
    """`name` or `name(glob)`: the glob must match one of the call's string inputs."""
    name, _, rest = spec.partition("(")
    if not fnmatch.fnmatchcase(call.name, name.strip()):
        return False
    if not rest:
        return True
    pattern = rest[:-1] if rest.endswith(")") else rest
    return any(isinstance(v, str) and fnmatch.fnmatchcase(v, pattern) for v in call.input.values())


def _names(obs: Observation) -> str:
    return ", ".join(f"{c.agent + ':' if c.agent else ''}{c.name}" for c in obs.calls) or "no tool calls"


def tools_called(obs: Observation, spec: str) -> tuple[bool, str]:
    return any(_call_matches(c, spec) for c in obs.calls), f"no call to {spec} (calls: {_names(obs)})"


def tools_not_called(obs: Observation, spec: str) -> tuple[bool, str]:
    hits = [c for c in obs.calls if _call_matches(c, spec)]
    return not hits, f"{spec} was called: {hits[0].input}" if hits else ""


def delegated_to(obs: Observation, agent: str) -> tuple[bool, str]:
    ran = [s.get("agent") for s in obs.payload.get("subagents", [])]
    return agent in ran, f"no {agent} subagent ran (ran: {', '.join(map(str, ran)) or 'none'})"


def denied_tools(obs: Observation, spec: str) -> tuple[bool, str]:
    denials = obs.payload.get("denials", [])
    hit = any(fnmatch.fnmatchcase(str(d.get("tool")), spec) for d in denials)
    return hit, f"no {spec} call was denied (denials: {len(denials)})"


def max_tool_calls(obs: Observation, limit: int) -> tuple[bool, str]:
    return len(obs.calls) <= limit, f"{len(obs.calls)} tool calls > {limit}"


def max_turns(obs: Observation, limit: int) -> tuple[bool, str]:
    turns = int(obs.payload.get("turns", 0))
    return turns <= limit, f"{turns} turns > {limit}"


def max_cost_usd(obs: Observation, limit: float) -> tuple[bool, str]:
    cost = float(obs.payload.get("cost_usd", 0.0))
    return cost <= limit, f"cost ${cost:.4f} > ${limit:.4f}"


def exit_code(obs: Observation, expected: int) -> tuple[bool, str]:
    return obs.exit_code == expected, f"exit code {obs.exit_code}, expected {expected}"


def exit_reason(obs: Observation, expected: str) -> tuple[bool, str]:
    got = obs.payload.get("exit_reason")
    return got == expected, f"exit_reason {got}, expected {expected}"


def compacted(obs: Observation, expected: bool) -> tuple[bool, str]:
    return obs.compacted == expected, f"compaction {'did not happen' if expected else 'happened'}"


def checkpoints_min(obs: Observation, minimum: int) -> tuple[bool, str]:
    from termagent.git.checkpoints import list_checkpoints

    session = str(obs.payload.get("session_id") or "")
    count = len(list_checkpoints(obs.workspace, session)) if session else 0
    return count >= minimum, f"{count} checkpoints < {minimum}"


def _git(obs: Observation, *args: str) -> str:
    from termagent.gitsafe import run_git

    return str(run_git(obs.workspace, *args, check=False).stdout).strip()


def commits_min(obs: Observation, minimum: int) -> tuple[bool, str]:
    count = int(_git(obs, "rev-list", "--count", f"{obs.base_commit}..HEAD") or 0)
    return count >= minimum, f"{count} new commits < {minimum}"


def commit_message(obs: Observation, pattern: str) -> tuple[bool, str]:
    if _git(obs, "rev-parse", "HEAD") == obs.base_commit:
        return False, "no new commit"
    message = _git(obs, "log", "-1", "--format=%B")
    return re.search(pattern, message, re.M) is not None, f"last commit message {message[:80]!r} !~ /{pattern}/"


def rewind(obs: Observation, arg: tuple[int, tuple[tuple[str, str], ...], tuple[str, ...]]) -> tuple[bool, str]:
    """Rewind the session to checkpoint N (as `termagent rewind --to N` does), then look."""
    from termagent.git.refs import CheckpointError
    from termagent.git.rewind import rewind as do_rewind
    from termagent.gitsafe import GitError

    to_n, matches, absent = arg
    try:
        do_rewind(obs.workspace, str(obs.payload.get("session_id") or ""), to_n)
    except (CheckpointError, GitError, ValueError) as exc:
        return False, f"rewind to {to_n} failed: {exc}"
    for pair in matches:
        ok, why = files_match(obs, pair)
        if not ok:
            return False, f"after rewind: {why}"
    for rel in absent:
        ok, why = files_absent(obs, rel)
        if not ok:
            return False, f"after rewind: {why}"
    return True, ""


SYNC_CHECKS: dict[str, Callable[[Observation, Any], tuple[bool, str]]] = {
    "files_exist": files_exist, "files_absent": files_absent, "files_match": files_match,
    "files_not_match": files_not_match, "tools_called": tools_called, "tools_not_called": tools_not_called,
    "delegated_to": delegated_to, "denied_tools": denied_tools, "max_tool_calls": max_tool_calls,
    "max_turns": max_turns, "max_cost_usd": max_cost_usd, "exit_code": exit_code, "exit_reason": exit_reason,
    "compacted": compacted, "checkpoints_min": checkpoints_min, "commits_min": commits_min,
    "commit_message": commit_message, "rewind": rewind,
}


async def command(obs: Observation, arg: tuple[str, int]) -> tuple[bool, str]:
    """Run the command in the sandbox (as the agent's own commands ran) and compare its exit code."""
    run, expected = arg
    if obs.run_command is None:
        return False, "no sandbox to run the check command in"
    code, output = await obs.run_command(run)
    tail = output.strip().splitlines()[-3:]
    return code == expected, f"`{run}` exited {code}, expected {expected}: {' | '.join(tail)[:300]}"


async def run_checks(checks: tuple[Check, ...], obs: Observation) -> list[CheckResult]:
    """Every check, commands first (they see the tree the agent left), rewinds last (they change it)."""
    ordered = sorted(checks, key=lambda c: (c.kind != "command", c.kind == "rewind"))
    results = []
    for check in ordered:
        try:
            if check.kind == "command":
                passed, detail = await command(obs, check.arg)
            else:
                passed, detail = SYNC_CHECKS[check.kind](obs, check.arg)
        except Exception as exc:  # a check that cannot run is a failed check, with the reason
            passed, detail = False, f"check could not run: {type(exc).__name__}: {exc}"
        results.append(CheckResult(check.label, check.kind, passed, "" if passed else detail))
    return results
