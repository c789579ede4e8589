"""Compare a run with an earlier one (its `--output json`): what regressed, what improved.

A regression is a case that passed before and now fails (hard fail, below 0.5), or whose
median score dropped by more than the threshold. Cases new to this run, or gone from it,
are reported but never regressions: a suite that grows must not break CI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from termagent.evals.scoring import CaseResult, Status

DEFAULT_DROP = 0.2


class BaselineError(Exception):
    """The baseline file cannot be read as an earlier `termagent eval --output json`."""


@dataclass(frozen=True)
class Change:
    case: str
    before_status: str
    after_status: str
    before_score: float
    after_score: float
    regression: bool
    reason: str


@dataclass(frozen=True)
class Comparison:
    changes: tuple[Change, ...]
    new_cases: tuple[str, ...]
    missing_cases: tuple[str, ...]

    @property
    def regressions(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.regression)


def load_baseline(path: Path) -> dict[str, dict[str, Any]]:
    """Case name -> {status, score} from an earlier json report."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BaselineError(f"{path}: the baseline is not JSON ({exc}); write one with --output json") from None
    cases = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(cases, list):
        raise BaselineError(f"{path}: no 'cases' list; a baseline is the output of `termagent eval --output json`")
    out: dict[str, dict[str, Any]] = {}
    for index, case in enumerate(cases):
        if not (isinstance(case, dict) and isinstance(case.get("name"), str)
                and isinstance(case.get("score"), (int, float)) and isinstance(case.get("status"), str)):
            raise BaselineError(f"{path}: cases[{index}] needs 'name', 'score' and 'status'")
        out[case["name"]] = {"score": float(case["score"]), "status": case["status"]}
    return out


def compare(baseline: dict[str, dict[str, Any]], results: list[CaseResult], drop: float = DEFAULT_DROP) -> Comparison:
    changes = []
    current = {c.name: c for c in results if c.status is not Status.SKIPPED}
    for name, case in current.items():
        before = baseline.get(name)
        if before is None:
            continue
        after_score, after_status = case.score, case.status.value
        reason = ""
        if before["status"] == Status.PASS.value and case.status is Status.FAIL:
            reason = "passed before, fails now"
        elif before["score"] - after_score > drop + 1e-9:
            reason = f"median dropped {before['score']:.2f} -> {after_score:.2f} (more than {drop:.2f})"
        changes.append(Change(name, before["status"], after_status, before["score"], after_score, bool(reason),
                              reason))
    new = tuple(sorted(set(current) - set(baseline)))
    missing = tuple(sorted(set(baseline) - set(current)))
    return Comparison(tuple(changes), new, missing)
