"""Reports: a table for people (with a progress bar on a terminal), json for baselines and
scripts, JUnit XML for CI systems (one testcase per case; a fail is a failure, a soft
fail passes with its score in system-out, as the guide says soft fails do not block)."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import asdict
from typing import Any, TextIO

from termagent.evals.baseline import Comparison
from termagent.evals.scoring import CaseResult, RunResult, Status, Totals


class ProgressBar:
    """`[#####.....] 12/60 runs  case-name` on one line of a terminal; silent elsewhere."""

    def __init__(self, total: int, out: TextIO, width: int = 30) -> None:
        self.total, self.out, self.width, self.done = total, out, width, 0
        self.enabled = out.isatty()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        filled = int(self.width * self.done / max(1, self.total))
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} runs  {label[:40]}"
        self.out.write("\r\x1b[2K" + line)
        self.out.flush()

    def finish(self) -> None:
        if self.enabled and self.done:
            self.out.write("\r\x1b[2K")
            self.out.flush()


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def table(results: list[CaseResult], totals: Totals, comparison: Comparison | None) -> str:
    rows = [("case", "status", "score", "runs", "turns", "tokens", "cost $", "wall s")]
    for case in results:
        med = case.medians()
        rows.append((case.name, case.status.value, f"{case.score:.2f}", str(len(case.runs)), f"{med['turns']:.0f}",
                     f"{med['tokens']:.0f}", f"{med['cost_usd']:.4f}", f"{med['wall_s']:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.append("")
    lines.append(f"{totals.passed} passed, {totals.soft_failed} soft-failed, {totals.failed} failed"
                 + (f", {totals.skipped} skipped" if totals.skipped else "") + f" of {totals.cases} cases; "
                 f"task completion {_pct(totals.task_completion)}, tool-call accuracy {_pct(totals.tool_accuracy)}; "
                 f"{totals.tokens} tokens, ${totals.cost_usd:.4f}, {totals.turns} turns, {totals.wall_s:.1f}s")
    lines.extend(_failures(results))
    if comparison is not None:
        lines.extend(_comparison_lines(comparison))
    return "\n".join(lines) + "\n"


def _failures(results: list[CaseResult]) -> list[str]:
    lines = []
    for case in results:
        if case.skipped:
            lines.append(f"skipped {case.name}: {case.skipped}")
            continue
        for run in case.runs:
            why = _why(run)
            if why:
                session = f" (termagent sessions show {run.session_id})" if run.session_id else ""
                lines.append(f"{case.name} run {run.index + 1}: {why}{session}")
    return lines


def _why(run: RunResult) -> str:
    if run.error:
        return run.error
    failed = [f"{c.label}: {c.detail}" for c in run.checks if not c.passed]
    if failed:
        return "; ".join(failed)
    if run.judge_score is not None and run.judge_score < 0.8:
        return f"judge {run.judge_score:.2f}: {run.judge_reasons}"
    return ""


def _comparison_lines(comparison: Comparison) -> list[str]:
    lines = [f"REGRESSION {c.case}: {c.reason}" for c in comparison.regressions]
    if comparison.new_cases:
        lines.append(f"new since the baseline: {', '.join(comparison.new_cases)}")
    if comparison.missing_cases:
        lines.append(f"in the baseline but not run: {', '.join(comparison.missing_cases)}")
    if not comparison.regressions:
        lines.append("no regressions against the baseline")
    return lines


def _run_dict(run: RunResult) -> dict[str, Any]:
    return {"index": run.index, "session_id": run.session_id, "score": round(run.score, 4),
            "checks": [asdict(c) for c in run.checks], "judge_score": run.judge_score,
            "judge_reasons": run.judge_reasons, "exit_code": run.exit_code, "exit_reason": run.exit_reason,
            "turns": run.turns, "tokens": run.tokens, "cost_usd": round(run.cost_usd, 6),
            "wall_s": round(run.wall_s, 3), "session_s": round(run.session_s, 3),
            "judge_s": round(run.judge_s, 3), "checks_s": round(run.checks_s, 3), "tool_calls": run.tool_calls,
            "error": run.error}


def as_json(results: list[CaseResult], totals: Totals, comparison: Comparison | None,
            settings: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1, "settings": settings, "totals": asdict(totals),
        "cases": [{"name": c.name, "tags": list(c.tags), "status": c.status.value, "score": round(c.score, 4),
                   "skipped": c.skipped, "medians": c.medians(), "runs": [_run_dict(r) for r in c.runs]}
                  for c in results],
    }
    if comparison is not None:
        data["baseline"] = {"regressions": [asdict(c) for c in comparison.regressions],
                            "changes": [asdict(c) for c in comparison.changes],
                            "new_cases": list(comparison.new_cases), "missing_cases": list(comparison.missing_cases)}
    return data


def junit(results: list[CaseResult], totals: Totals, comparison: Comparison | None) -> str:
    regressed = {c.case: c.reason for c in comparison.regressions} if comparison else {}
    suite = ET.Element("testsuite", name="termagent-eval", tests=str(len(results)),
                       failures=str(sum(_fails(c, regressed) for c in results)),
                       skipped=str(totals.skipped), time=f"{totals.wall_s:.3f}")
    for case in results:
        element = ET.SubElement(suite, "testcase", classname="termagent.eval", name=case.name,
                                time=f"{sum(r.wall_s for r in case.runs):.3f}")
        if case.skipped:
            ET.SubElement(element, "skipped", message=case.skipped)
            continue
        if _fails(case, regressed):
            message = regressed.get(case.name) or f"score {case.score:.2f} < 0.50"
            failure = ET.SubElement(element, "failure", message=message, type=case.status.value)
            failure.text = "\n".join(_failures([case]))
        ET.SubElement(element, "system-out").text = (
            f"status {case.status.value}, median score {case.score:.2f} over {len(case.runs)} runs; sessions: "
            + ", ".join(r.session_id or "-" for r in case.runs))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def _fails(case: CaseResult, regressed: dict[str, str]) -> bool:
    return case.status is Status.FAIL or case.name in regressed


def write(text: str, out: TextIO | None = None) -> None:
    (out or sys.stdout).write(text)
    (out or sys.stdout).flush()


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
