"""Scores: one per run, the median per case, a status per case, totals for the suite.

A run scores its judge's score when every deterministic check passed (1.0 when the case
has no judge); when a check failed it scores half the share of checks that passed, so it
is always below 0.5, a fail, however kind the judge would have been. A case's score is
the median over its runs; < 0.5 fail, 0.5 to < 0.8 soft fail, >= 0.8 pass.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from enum import Enum

from termagent.evals.checks import TOOL_CHECKS, CheckResult

FAIL_BELOW = 0.5
PASS_FROM = 0.8


class Status(str, Enum):
    PASS = "pass"
    SOFT_FAIL = "soft_fail"
    FAIL = "fail"
    SKIPPED = "skipped"


def status_for(score: float) -> Status:
    if score >= PASS_FROM:
        return Status.PASS
    if score >= FAIL_BELOW:
        return Status.SOFT_FAIL
    return Status.FAIL


@dataclass(frozen=True)
class RunResult:
    """One run of one case: what the checks and the judge said, and what it cost."""

    case: str
    index: int
    session_id: str | None
    checks: tuple[CheckResult, ...]
    judge_score: float | None = None
    judge_reasons: str = ""
    exit_code: int = 0
    exit_reason: str = ""
    turns: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    wall_s: float = 0.0
    session_s: float = 0.0  # the part of wall_s spent building and running the session
    judge_s: float = 0.0  # the part spent waiting for the judge model
    checks_s: float = 0.0  # the part spent on the checks (mostly the case's own check commands)
    tool_calls: int = 0
    error: str = ""  # the harness could not run it at all (setup failed, no model)

    @property
    def checks_passed(self) -> bool:
        return not self.error and all(c.passed for c in self.checks)

    @property
    def score(self) -> float:
        if self.error:
            return 0.0
        if not self.checks_passed:
            return 0.5 * sum(c.passed for c in self.checks) / len(self.checks)
        return 1.0 if self.judge_score is None else self.judge_score


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


@dataclass(frozen=True)
class CaseResult:
    name: str
    tags: tuple[str, ...]
    runs: tuple[RunResult, ...]
    skipped: str = ""  # why the case did not run

    @property
    def score(self) -> float:
        return median([r.score for r in self.runs])

    @property
    def status(self) -> Status:
        return Status.SKIPPED if self.skipped else status_for(self.score)

    @property
    def failed_sessions(self) -> list[str]:
        return [r.session_id for r in self.runs if r.score < PASS_FROM and r.session_id]

    def medians(self) -> dict[str, float]:
        runs = self.runs
        return {"tokens": median([r.tokens for r in runs]), "cost_usd": median([r.cost_usd for r in runs]),
                "turns": median([r.turns for r in runs]), "wall_s": median([r.wall_s for r in runs])}


def tool_accuracy(cases: list[CaseResult]) -> float | None:
    """Share of tool checks (called / not called / delegated / denied / count) that held; None without any."""
    results = [c for case in cases for run in case.runs for c in run.checks if c.kind in TOOL_CHECKS]
    return sum(c.passed for c in results) / len(results) if results else None


@dataclass(frozen=True)
class Totals:
    cases: int
    passed: int
    soft_failed: int
    failed: int
    skipped: int
    task_completion: float  # share of runs whose deterministic checks all passed
    tool_accuracy: float | None
    tokens: int
    cost_usd: float
    turns: int
    wall_s: float


def totals(cases: list[CaseResult], wall_s: float) -> Totals:
    ran = [c for c in cases if not c.skipped]
    runs = [r for c in ran for r in c.runs]
    count = {s: sum(c.status is s for c in cases) for s in Status}
    return Totals(
        cases=len(cases), passed=count[Status.PASS], soft_failed=count[Status.SOFT_FAIL],
        failed=count[Status.FAIL], skipped=count[Status.SKIPPED],
        task_completion=sum(r.checks_passed for r in runs) / len(runs) if runs else 0.0,
        tool_accuracy=tool_accuracy(ran), tokens=sum(r.tokens for r in runs),
        cost_usd=round(sum(r.cost_usd for r in runs), 6), turns=sum(r.turns for r in runs), wall_s=wall_s,
    )
