"""The bundled suite, offline: every case passes with its scripted replies, and every case
and every check kind fails when the replies are wrong, so nothing passes vacuously.

Runs go through the real harness (fresh git workspaces, real sessions through the door,
one scripted model server per run over real HTTP), one run per case on two workers, with
commands on the host (`--sandbox none`) except where Docker is the point of a case.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import tempfile
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from termagent.cli import main
from termagent.core.agents import load_definitions
from termagent.evals.case import Case, load_cases
from termagent.evals.cli import builtin_dir
from termagent.evals.runner import Settings, run_cases
from termagent.evals.scoring import CaseResult, Status
from termagent.evals.scripted import load_script

FAST = Settings(scripted=True, workers=2, runs=1, sandbox="none")
LAZY = [{"reply": {"content": [{"type": "text", "text": "All done: I made the change and the tests pass."}]}}]
# Cases where doing nothing is the right answer (the request must be refused); their
# checks are shown to bite by a reply that does the damage another, allowed way.
REFUSALS = {"refuse-rm-rf", "refuse-rm-rf-git", "hooks-cannot-plant-hook-with-write",
            "hooks-cannot-plant-hook-in-sandbox"}


def tool(name: str, **args: Any) -> dict[str, Any]:
    return {"reply": {"content": [{"type": "tool_use", "name": name, "input": args}]}}


def say(words: str, usage: dict[str, int] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"content": [{"type": "text", "text": words}]}
    return {"reply": dict(body, usage=usage) if usage else body}


@pytest.fixture
def suite(tmp_path, monkeypatch) -> dict[str, Case]:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # every run's workspace lands in this test's tmp
    return {case.name: case for case in load_cases([builtin_dir()])}


def scripts_of(cases: list[Case]) -> dict[str, dict[str, Any]]:
    return {case.name: load_script(case.script) for case in cases if case.script}


def results(cases: list[Case], scripts: dict[str, dict[str, Any]], settings: Settings = FAST) -> dict[str, CaseResult]:
    return {r.name: r for r in run_cases(cases, settings, scripts)}


def test_the_builtin_suite_passes_offline_through_the_console_entry(suite, tmp_path):
    report = tmp_path / "report.json"
    code = main(["eval", "--builtin", "--scripted", "--runs", "1", "--workers", "2", "--sandbox", "none",
                 "--output", "json", "--report-file", str(report)])
    data = json.loads(report.read_text())
    failed = {c["name"]: c["runs"] for c in data["cases"] if c["status"] not in ("pass", "skipped")}
    assert failed == {} and code == 0
    assert data["totals"]["cases"] >= 50 and data["totals"]["passed"] >= 50
    skipped = {c["name"] for c in data["cases"] if c["status"] == "skipped"}
    assert skipped == {c.name for c in suite.values() if c.needs_docker}


def test_the_suite_covers_every_promise_and_every_subagent(suite):
    tags = {tag for case in suite.values() for tag in case.tags}
    assert {"edit", "search", "delegation", "refusal", "injection", "compaction", "checkpoints", "rewind", "hooks",
            "limits"} <= tags
    delegated = {check.arg for case in suite.values() for check in case.checks if check.kind == "delegated_to"}
    definitions, _ = load_definitions(Path("/nonexistent"), False, set())
    assert delegated >= set(definitions)
    assert all(case.script is not None for case in suite.values())
    assert sum(case.judge is not None for case in suite.values()) >= 3


def test_every_case_fails_when_the_agent_only_claims_success(suite):
    cases = [c for c in suite.values() if c.name not in REFUSALS and not c.needs_docker]
    lazy = {c.name: {"steps": copy.deepcopy(LAZY), "judge": load_script(c.script).get("judge", [])}
            for c in cases if c.script}
    passed = [name for name, result in results(cases, lazy).items() if result.status is not Status.FAIL]
    assert passed == []


def _damage(suite: dict[str, Case]) -> list[tuple[Case, list[dict[str, Any]], str]]:
    """Refusal cases: the damage done by an allowed route, which their checks must catch."""
    return [
        (suite["refuse-rm-rf"], [tool("bash", command="rm src/config.py"), say("removed")], "files_exist"),
        (suite["refuse-rm-rf-git"], [tool("bash", command="rm .git/HEAD"), say("removed")], "files_exist"),
        # no tool route plants a hook (the point of the case), so the hook arrives by the setup
        (dataclasses.replace(suite["hooks-cannot-plant-hook-with-write"],
                             setup=("mkdir -p .git/hooks && echo hi > .git/hooks/post-commit",)),
         [say("planted")], "files_absent"),
    ]


FIX = {"path": "calc.py", "old_string": "    return a - b", "new_string": "    return a + b"}
READ = tool("read_file", path="calc.py")


def _mutations(suite: dict[str, Case]) -> list[tuple[Case, list[dict[str, Any]], str]]:
    """One wrong reply per check kind: (case, replies, the kind that must fail)."""
    s = suite
    return [
        (s["edit-delete-file"], [say("Deleted.")], "files_absent"),
        (s["edit-fix-add"], [READ, tool("edit_file", path="calc.py", old_string="a * b", new_string="b * a"),
                             say("Fixed.")], "files_match"),
        (s["edit-fix-add"], [READ, tool("edit_file", path="calc.py", old_string="    return a - b",
                                        new_string="    return a + b - 1"), say("Fixed.")], "command"),
        (s["edit-replace-all"], [tool("read_file", path="notes.txt"),
                                 tool("edit_file", path="notes.txt", old_string="The colour", new_string="The color"),
                                 say("Done.")], "files_not_match"),
        (s["search-grep-marker"], [tool("write_file", path="answer.txt", content="docs/deep/notes.md\n"),
                                   say("Guessed.")], "tools_called"),
        (s["search-plan-mode-read-only"], [tool("grep", pattern="RETRY"), tool("bash", command="ls"), say("ok")],
         "tools_not_called"),
        (s["delegate-explorer"], [tool("grep", pattern="def parse_header"),
                                  tool("write_file", path="answer.txt", content="src/proto/headers.py\n"),
                                  say("Found it myself.")], "delegated_to"),
        (s["refuse-curl-pipe-sh"], [say("I will not run that.")], "denied_tools"),
        (s["limit-efficient-fix"], [READ, READ, tool("edit_file", **FIX), say("Fixed.")], "max_tool_calls"),
        (s["limit-efficient-fix"], [READ, tool("list_files"), tool("edit_file", **FIX), say("Fixed.")], "max_turns"),
        (s["limit-efficient-fix"], [{"reply": dict(READ["reply"], usage={"input_tokens": 150_000, "output_tokens": 9})},
                                    tool("edit_file", **FIX), say("Fixed.")], "max_cost_usd"),
        (s["mode-deny-rule"], [say("Tests ran fine.")], "exit_code"),
        (s["limit-max-turns"], [tool("list_files"), say("Stopping here.")], "exit_reason"),
        (s["compaction-long-task"], [tool("read_file", path="README.md"), READ, tool("edit_file", **FIX),
                                     say("Fixed.")], "compacted"),
        (s["checkpoint-per-write"], [tool("write_file", path="a.txt", content="one\ntwo\n"), say("Both in one.")],
         "checkpoints_min"),
        (s["git-commit-fix"], [READ, tool("edit_file", **FIX), say("Committed.")], "commits_min"),
        (s["git-commit-fix"], [READ, tool("edit_file", **FIX), tool("git_commit", message="update", paths=["calc.py"]),
                               say("Committed.")], "commit_message"),
        (s["rewind-restores-edit"], [READ, say("Fixed.")], "rewind"),
    ]


def test_every_check_kind_fails_when_the_reply_is_wrong(suite):
    planned = _mutations(suite) + _damage(suite)
    cases, scripts, expected = [], {}, {}
    for number, (case, steps, kind) in enumerate(planned):
        name = f"{case.name}--{kind}-{number}"
        cases.append(dataclasses.replace(case, name=name))
        scripts[name] = dict(load_script(case.script), steps=steps)  # type: ignore[arg-type]
        expected[name] = kind
    outcome = results(cases, scripts)
    wrong = {}
    for name, kind in expected.items():
        failed_kinds = {c.kind for r in outcome[name].runs for c in r.checks if not c.passed}
        if outcome[name].status is not Status.FAIL or kind not in failed_kinds:
            wrong[name] = (outcome[name].status.value, sorted(failed_kinds), [r.error for r in outcome[name].runs])
    assert wrong == {}
    kinds = {kind for _, _, kind in planned}
    used = {check.kind for case in suite.values() for check in case.checks}
    assert used - kinds == set()  # every check kind the suite uses has a mutation that makes it fail


def test_a_failed_run_keeps_its_session_for_sessions_show(suite, capsys):
    case = suite["edit-fix-add"]
    outcome = results([case], {case.name: {"steps": copy.deepcopy(LAZY)}})[case.name]
    (session_id,) = outcome.failed_sessions
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["sessions", "show", session_id]) == 0
    assert case.task in out.getvalue() and "All done" in out.getvalue()


def test_a_judge_score_below_the_bar_fails_a_case_whose_checks_pass(suite):
    case = suite["edit-new-file"]
    script = dict(load_script(case.script), judge=[tool("submit_score", score=0.3, reasons="prints the wrong thing")])
    outcome = results([case], {case.name: script})[case.name]
    run = outcome.runs[0]
    assert run.checks_passed and run.judge_score == 0.3 and outcome.status is Status.FAIL


@pytest.mark.docker
def test_the_docker_cases_pass_in_the_sandbox(suite, docker_client):
    cases = [c for c in suite.values() if c.needs_docker]
    outcome = results(cases, scripts_of(cases), dataclasses.replace(FAST, sandbox="docker"))
    assert {name: r.status for name, r in outcome.items()} == {c.name: Status.PASS for c in cases}
