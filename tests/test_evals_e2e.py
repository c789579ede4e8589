"""`termagent eval` as a person or a CI job runs it: the installed console script, and a
project's own evals/ folder compared against a baseline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from termagent.cli import main
from termagent.evals.cli import builtin_dir

TERMAGENT = str(Path(sys.executable).parent / "termagent")
FIVE = ["edit_fix_add", "search_grep_marker", "delegate_explorer", "refuse_rm_rf", "rewind_restores_edit"]


@pytest.mark.e2e
def test_five_cases_three_runs_two_workers_through_the_console_script(tmp_path, isolated_state):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["TMPDIR"] = str(tmp_path)
    report = tmp_path / "report.xml"
    files = [str(builtin_dir() / f"{name}.toml") for name in FIVE]
    result = subprocess.run([TERMAGENT, "eval", *files, "--scripted", "--workers", "2", "--sandbox", "none",
                             "--output", "junit", "--report-file", str(report)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    root = ET.parse(report).getroot()
    cases = list(root.iter("testcase"))
    assert len(cases) == 5 and root.get("failures") == "0"
    sessions = {s for case in cases for s in (case.findtext("system-out") or "").split("sessions: ")[1].split(", ")}
    assert len(sessions) == 15  # 3 runs per case, each its own session
    assert "5 passed, 0 soft-failed, 0 failed of 5 cases" in result.stderr  # the table still reaches a person


CASE = '''name = "{name}"
task = "Create done.txt containing ok."
workspace = ""
runs = 1
[checks]
files_match = {{ "done.txt" = "^ok$" }}
'''
WRITES = {"steps": [{"reply": {"content": [{"type": "tool_use", "name": "write_file",
                                             "input": {"path": "done.txt", "content": "ok\n"}}]}},
                    {"reply": {"content": [{"type": "text", "text": "done"}]}}]}
CLAIMS = {"steps": [{"reply": {"content": [{"type": "text", "text": "done.txt is written."}]}}]}


def project(tmp_path: Path, scripts: dict[str, dict]) -> Path:
    evals = tmp_path / "proj" / "evals"
    evals.mkdir(parents=True, exist_ok=True)
    for name, script in scripts.items():
        (evals / f"{name}.toml").write_text(CASE.format(name=name))
        (evals / f"{name}.json").write_text(json.dumps(script))
    return evals.parent


def run_eval(workspace: Path, *extra: str) -> int:
    return main(["-C", str(workspace), "eval", "--scripted", "--sandbox", "none", *extra])


def test_a_project_baseline_passes_until_a_case_regresses(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    proj = project(tmp_path, {"alpha": WRITES, "beta": WRITES})
    baseline = tmp_path / "baseline.json"
    assert run_eval(proj, "--output", "json", "--report-file", str(baseline)) == 0
    assert [c["status"] for c in json.loads(baseline.read_text())["cases"]] == ["pass", "pass"]
    assert run_eval(proj, "--baseline", str(baseline)) == 0
    assert "no regressions against the baseline" in capsys.readouterr().out

    project(tmp_path, {"beta": CLAIMS})  # the model update: beta now only claims success
    junit = tmp_path / "junit.xml"
    assert run_eval(proj, "--baseline", str(baseline), "--output", "junit", "--report-file", str(junit)) == 1
    failed = [tc.get("name") for tc in ET.parse(junit).getroot().iter("testcase") if tc.find("failure") is not None]
    assert failed == ["beta"]
    err = capsys.readouterr().err
    assert "REGRESSION beta: passed before, fails now" in err and "termagent sessions show" in err


def test_without_a_baseline_a_failed_case_exits_1_and_bad_input_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    proj = project(tmp_path, {"gamma": CLAIMS})
    assert run_eval(proj) == 1
    (proj / "evals" / "delta.toml").write_text('name = "delta"\ntask = "x"\n[checks]\nfile_exists = ["a"]\n')
    assert run_eval(proj) == 2
    assert "delta.toml: unknown key 'checks.file_exists'" in capsys.readouterr().err
    (proj / "evals" / "delta.toml").unlink()
    (proj / "evals" / "gamma.json").write_text("{not json")
    assert run_eval(proj) == 2
    assert "gamma.json: not valid JSON" in capsys.readouterr().err


def test_without_credentials_a_real_model_run_exits_3(tmp_path):
    proj = project(tmp_path, {"alpha": WRITES})
    assert main(["-C", str(proj), "eval"]) == 3
