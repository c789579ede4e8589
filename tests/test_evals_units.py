"""The parts of `termagent eval` with rules of their own: case files, the judge's parsing,
medians and thresholds, baseline comparison and the JUnit report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from termagent.config import load_config
from termagent.evals.baseline import BaselineError, compare, load_baseline
from termagent.evals.case import CaseError, load_case, load_cases
from termagent.evals.checks import CheckResult
from termagent.evals.judge import JudgeError, judge_run, parse_score
from termagent.evals.report import as_json, junit
from termagent.evals.scoring import CaseResult, RunResult, Status, median, status_for, totals
from termagent.model.client import ModelClient
from termagent.testing.scripted_server import reply, text, tool_use, tool_use_raw

GOOD = 'name = "c1"\ntask = "do it"\n[checks]\nfiles_exist = ["a.txt"]\n'


def write(tmp_path: Path, body: str, name: str = "case.toml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def test_a_case_file_becomes_a_frozen_case_with_defaults(tmp_path):
    case = load_case(write(tmp_path, GOOD))
    assert (case.name, case.runs, case.mode, case.judge) == ("c1", 3, "accept-edits", None)
    assert [(c.kind, c.arg) for c in case.checks] == [("files_exist", "a.txt")]
    with pytest.raises(AttributeError):
        case.runs = 5  # type: ignore[misc]


@pytest.mark.parametrize("body, words", [
    ('task = "x"\n', "'name'"),
    ('name = "c"\ntask = "x"\nrunz = 3\n', "unknown key 'runz'"),
    ('name = "c"\ntask = "x"\nruns = 0\n', "runs must be at least 1"),
    ('name = "c"\ntask = "x"\nmode = "yolo"\n', "mode 'yolo'"),
    ('name = "c"\ntask = "x"\n[checks]\nfiles_exits = ["a"]\n', "checks.files_exits"),
    ('name = "c"\ntask = "x"\n[checks]\nfiles_match = { "a" = "(" }\n', "checks.files_match.a"),
    ('name = "c"\ntask = "x"\n[checks]\nexit_reason = "finished"\n', "checks.exit_reason"),
    ('name = "c"\ntask = "x"\n[checks]\nmax_turns = "3"\n', "checks.max_turns"),
    ('name = "c"\ntask = "x"\n[judge]\ncriterion = "good"\n', "[judge] needs"),
    ('name = "c"\ntask = \n', "not valid TOML"),
])
def test_a_broken_case_names_the_file_and_the_key(tmp_path, body, words):
    path = write(tmp_path, body)
    with pytest.raises(CaseError) as caught:
        load_case(path)
    assert str(path) in str(caught.value) and words in str(caught.value)


def test_two_cases_with_one_name_are_refused(tmp_path):
    write(tmp_path, GOOD, "a.toml")
    write(tmp_path, GOOD, "b.toml")
    with pytest.raises(CaseError, match="also used by"):
        load_cases([tmp_path])


def test_the_judge_parses_only_a_well_formed_submit_score():
    assert parse_score("submit_score", {"score": 0.7, "reasons": "ok"}).score == 0.7  # type: ignore[union-attr]
    assert "instead of submit_score" in parse_score("submit_review", {"score": 1, "reasons": "x"})
    assert "not a JSON object" in parse_score("submit_score", None)
    assert "numeric score" in parse_score("submit_score", {"score": "high", "reasons": "x"})
    assert "numeric score" in parse_score("submit_score", {"score": True, "reasons": "x"})
    assert "outside 0..1" in parse_score("submit_score", {"score": 7, "reasons": "x"})
    assert "non-empty reasons" in parse_score("submit_score", {"score": 0.5, "reasons": " "})


@pytest.fixture
def judge_client(tmp_path, scripted_server, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", scripted_server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-judge-test-000000000")
    config = load_config(tmp_path).with_overrides({"model": {"max_retries": 0}})
    return ModelClient(config)


async def test_the_judge_scores_through_submit_score_and_sees_diff_and_answer(judge_client, scripted_server):
    scripted_server.add(reply(tool_use("submit_score", {"score": 0.85, "reasons": "the diff does it"})))
    verdict = await judge_run(judge_client, "fix add", "add must add", "-return a - b\n+return a + b", "Fixed!")
    assert (verdict.score, verdict.reasons) == (0.85, "the diff does it")
    body = scripted_server.requests[0].body
    assert body["model"] == "claude-haiku-4-5" and [t["name"] for t in body["tools"]] == ["submit_score"]
    sent = body["messages"][0]["content"][0]["text"]
    assert "+return a + b" in sent and "Fixed!" in sent and "add must add" in sent


async def test_a_malformed_score_call_gets_one_reminder_then_counts(judge_client, scripted_server):
    scripted_server.add(reply(tool_use_raw("submit_score", '{"score": 0.9, "reasons": "cut')),
                        reply(tool_use("submit_score", {"score": 0.4, "reasons": "second try"})))
    verdict = await judge_run(judge_client, "t", "c", "", "")
    assert verdict.score == 0.4
    reminder = scripted_server.requests[1].body["messages"][-1]["content"]
    assert reminder[0]["type"] == "tool_result" and reminder[0]["is_error"] is True


async def test_a_judge_that_never_calls_the_tool_fails_clearly(judge_client, scripted_server):
    scripted_server.add(reply(text("I'd give it 9/10")), reply(tool_use("submit_score", {"score": "9/10", "reasons": "x"})))
    with pytest.raises(JudgeError, match="numeric score"):
        await judge_run(judge_client, "t", "c", "", "")


async def test_a_judge_api_failure_is_a_judge_error_not_a_crash(judge_client, scripted_server):
    scripted_server.add({"fault": {"status": 400}})
    with pytest.raises(JudgeError, match="judge model failed"):
        await judge_run(judge_client, "t", "c", "", "")


def run(score_checks: list[bool], judge: float | None = None, index: int = 0, case: str = "c") -> RunResult:
    checks = tuple(CheckResult(f"check {i}", "files_exist", ok) for i, ok in enumerate(score_checks))
    return RunResult(case, index, f"s{index}", checks, judge, tokens=10, cost_usd=0.01, turns=2, wall_s=1.0)


def test_run_scores_follow_checks_then_judge():
    assert run([True, True]).score == 1.0
    assert run([True, True], judge=0.6).score == 0.6
    assert run([True, False]).score == 0.25  # a failed check caps the run below 0.5, whatever the judge says
    assert run([True, False], judge=1.0).score == 0.25
    assert RunResult("c", 0, None, (), error="setup failed").score == 0.0


def test_median_and_thresholds():
    assert median([0.2, 1.0, 0.9]) == 0.9 and median([0.0, 1.0]) == 0.5 and median([]) == 0.0
    assert [status_for(s) for s in (0.49, 0.5, 0.79, 0.8, 1.0)] == [
        Status.FAIL, Status.SOFT_FAIL, Status.SOFT_FAIL, Status.PASS, Status.PASS]
    case = CaseResult("c", (), (run([True]), run([False], index=1), run([True], judge=0.7, index=2)))
    assert case.score == 0.7 and case.status is Status.SOFT_FAIL
    assert case.failed_sessions == ["s1", "s2"]


def test_totals_count_statuses_completion_and_tool_accuracy():
    tool_ok = CheckResult("tools_called x", "tools_called", True)
    tool_bad = CheckResult("tools_not_called y", "tools_not_called", False)
    good = CaseResult("a", (), (RunResult("a", 0, "s", (tool_ok,), tokens=5, cost_usd=0.5, turns=1),))
    bad = CaseResult("b", (), (RunResult("b", 0, "t", (tool_bad,), tokens=7, cost_usd=0.25, turns=3),))
    skipped = CaseResult("c", (), (), skipped="needs docker")
    total = totals([good, bad, skipped], 3.0)
    assert (total.passed, total.failed, total.skipped, total.task_completion) == (1, 1, 1, 0.5)
    assert (total.tool_accuracy, total.tokens, total.cost_usd, total.turns) == (0.5, 12, 0.75, 4)


def baseline_file(tmp_path: Path, cases: list[CaseResult]) -> Path:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(as_json(cases, totals(cases, 1.0), None, {})))
    return path


def test_baseline_flags_a_pass_turned_fail_and_a_large_drop_but_not_noise(tmp_path):
    before = [CaseResult("broke", (), (run([True]),)), CaseResult("slid", (), (run([True]),)),
              CaseResult("wobble", (), (run([True], judge=0.9),)), CaseResult("gone", (), (run([True]),)),
              CaseResult("still-bad", (), (run([False]),))]
    after = [CaseResult("broke", (), (run([False]),)), CaseResult("slid", (), (run([True], judge=0.7),)),
             CaseResult("wobble", (), (run([True], judge=0.8),)), CaseResult("new", (), (run([True]),)),
             CaseResult("still-bad", (), (run([False]),))]
    comparison = compare(load_baseline(baseline_file(tmp_path, before)), after, drop=0.2)
    assert {c.case: c.reason for c in comparison.regressions} == {
        "broke": "passed before, fails now", "slid": "median dropped 1.00 -> 0.70 (more than 0.20)"}
    assert comparison.new_cases == ("new",) and comparison.missing_cases == ("gone",)


@pytest.mark.parametrize("content, words", [("{", "not JSON"), ('{"cases": 3}', "no 'cases' list"),
                                            ('{"cases": [{"name": "a"}]}', "cases[0]")])
def test_a_bad_baseline_file_is_a_clear_error(tmp_path, content, words):
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(BaselineError, match=words.replace("[", r"\[")):
        load_baseline(path)


def test_junit_has_one_testcase_per_case_with_failures_and_skips(tmp_path):
    cases = [CaseResult("ok", (), (run([True]),)), CaseResult("soft", (), (run([True], judge=0.6),)),
             CaseResult("bad", (), (run([True, False]),)), CaseResult("skip", (), (), skipped="needs docker")]
    root = ET.fromstring(junit(cases, totals(cases, 2.0), None))
    assert root.tag == "testsuite" and root.get("tests") == "4" and root.get("failures") == "1"
    assert root.get("skipped") == "1"
    by_name = {tc.get("name"): tc for tc in root.iter("testcase")}
    failure = by_name["bad"].find("failure")
    assert failure is not None and "0.25" in failure.get("message", "") and "check 1" in (failure.text or "")
    assert by_name["soft"].find("failure") is None and "soft_fail" in (by_name["soft"].findtext("system-out") or "")
    assert by_name["skip"].find("skipped") is not None


def test_junit_marks_a_regression_as_a_failure(tmp_path):
    before = [CaseResult("slid", (), (run([True]),))]
    after = [CaseResult("slid", (), (run([True], judge=0.6),))]
    comparison = compare(load_baseline(baseline_file(tmp_path, before)), after)
    root = ET.fromstring(junit(after, totals(after, 1.0), comparison))
    failure = next(root.iter("testcase")).find("failure")
    assert failure is not None and "median dropped" in failure.get("message", "")


def git(cwd: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout


def test_a_git_ref_workspace_is_that_commit_copied_into_a_fresh_repo(tmp_path):
    from termagent.evals.workspace import WorkspaceError, prepare, remove

    repo = tmp_path / "repo"
    (repo / "evals").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "app.py").write_text("VERSION = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    (repo / "app.py").write_text("VERSION = 2\n")  # uncommitted: not part of the ref
    case_file = write(repo / "evals", 'name = "g"\ntask = "t"\nworkspace = "git:HEAD"\nsetup = ["echo made > made.txt"]\n')
    prepared = prepare(load_case(case_file))
    try:
        assert (prepared.root / "app.py").read_text() == "VERSION = 1\n"
        assert (prepared.root / "made.txt").read_text() == "made\n"
        assert git(prepared.root, "status", "--porcelain") == ""  # the base commit holds the setup's work
        assert git(prepared.root, "rev-parse", "HEAD").strip() == prepared.base_commit
    finally:
        remove(prepared)
    bad = write(repo / "evals", 'name = "b"\ntask = "t"\nworkspace = "git:no-such-ref"\n', "bad.toml")
    with pytest.raises(WorkspaceError, match="bad.toml.*git:no-such-ref"):
        prepare(load_case(bad))
    failing = write(repo / "evals", 'name = "f"\ntask = "t"\nsetup = ["exit 7"]\n', "f.toml")
    with pytest.raises(WorkspaceError, match="f.toml: setup command 'exit 7' exited 7"):
        prepare(load_case(failing))
