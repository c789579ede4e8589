"""`termagent eval`: arguments, wiring and exit codes. Standard library only at import time,
because termagent.cli builds its parser (and so imports this) on every start.

Exit codes: 0 no case failed (soft fails allowed) and, with --baseline, no regression;
1 a case failed, or with --baseline a regression (then only regressions count, so known
failures do not break CI); 2 usage error (bad case, reply or baseline file, no cases);
3 no model credentials for a run against the real model; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

MODES = ("plan", "ask", "accept-edits", "auto")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_MODEL = 0, 1, 2, 3
EPILOG = ("exit codes: 0 no case failed and no regression; 1 a case failed (with --baseline: a regression); "
          "2 usage error (bad case, reply or baseline file); 3 no model credentials; 130 interrupted")


def add_subcommand(sub: argparse._SubParsersAction[Any]) -> None:
    ev = sub.add_parser("eval", help="run eval cases (evals/*.toml, or --builtin) and score the agent",
                        description="Run eval cases against the agent: each run in a fresh copy of its workspace, "
                        "its own session and sandbox; per case the median over runs (<0.5 fail, <0.8 soft fail).",
                        epilog=EPILOG)
    ev.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="case files or folders (default: ./evals)")
    ev.add_argument("--builtin", action="store_true", help="run the bundled suite")
    ev.add_argument("--scripted", action="store_true", help="offline: each case's scripted model replies")
    ev.add_argument("--runs", type=int, metavar="N", help="runs per case (default: each case's own, 3)")
    ev.add_argument("--workers", type=int, default=1, metavar="N", help="runs at once (default 1)")
    ev.add_argument("--tag", action="append", default=[], metavar="TAG", help="only cases with this tag")
    ev.add_argument("--baseline", type=Path, metavar="FILE", help="an earlier --output json run to compare with")
    ev.add_argument("--regression-threshold", type=float, default=0.2, metavar="D",
                    help="a median drop past D is a regression (default 0.2)")
    ev.add_argument("--output", choices=("table", "json", "junit"), default=argparse.SUPPRESS,
                    help="report format (default table)")
    ev.add_argument("--report-file", type=Path, metavar="FILE", help="write the report there instead of stdout")
    ev.add_argument("--keep", action="store_true", help="keep every run's workspace (failed runs' always are)")
    ev.add_argument("--sandbox", choices=("docker", "none"), default=argparse.SUPPRESS,
                    help="'none' runs commands on the host, unconfined")
    ev.add_argument("--mode", choices=MODES, default=argparse.SUPPRESS, help="permission mode for every case")
    ev.add_argument("--model", default=argparse.SUPPRESS, help="main model for every case")


def builtin_dir() -> Path:
    return Path(str(resources.files("termagent").joinpath("evals/builtin")))


def _fail(message: str, code: int) -> int:
    from termagent.console import say

    say(f"termagent eval: {message}", file=sys.stderr)
    return code


def eval_command(args: argparse.Namespace, workspace: Path) -> int:
    from termagent.evals.baseline import BaselineError, load_baseline
    from termagent.evals.case import CaseError, load_cases
    from termagent.evals.scripted import ScriptError

    if (args.runs is not None and args.runs < 1) or args.workers < 1:
        return _fail("--runs and --workers must be at least 1", EXIT_USAGE)
    paths = list(args.paths) + ([builtin_dir()] if args.builtin else [])
    try:
        cases = load_cases(paths or [workspace / "evals"])
        cases = [c for c in cases if not args.tag or set(args.tag) & set(c.tags)]
        if not cases:
            return _fail("no cases to run (write evals/*.toml, or use --builtin)", EXIT_USAGE)
        scripts = _scripts(cases) if args.scripted else {}
        baseline = load_baseline(args.baseline) if args.baseline else None
    except (CaseError, ScriptError, BaselineError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    if not args.scripted and not _has_credentials():
        return _fail("no model credentials: set ANTHROPIC_API_KEY (or use --scripted to run offline)",
                     EXIT_NO_MODEL)
    return _run(args, cases, scripts, baseline)


def _has_credentials() -> bool:
    import os

    return any(os.environ.get(k) for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"))


def _scripts(cases: list[Any]) -> dict[str, dict[str, Any]]:
    from termagent.evals.scripted import ScriptError, load_script

    scripts = {}
    for case in cases:
        if case.script is None:
            raise ScriptError(f"{case.source}: --scripted needs a reply file ({case.source.with_suffix('.json').name} "
                              "next to the case, or 'script = FILE')")
        scripts[case.name] = load_script(case.script)
    return scripts


def _settings(args: argparse.Namespace) -> Any:
    from termagent.evals.runner import Settings

    return Settings(scripted=args.scripted, workers=args.workers, runs=args.runs,
                    model=getattr(args, "model", None), mode=getattr(args, "mode", None),
                    sandbox=getattr(args, "sandbox", None), keep=args.keep)


def _run(args: argparse.Namespace, cases: list[Any], scripts: dict[str, dict[str, Any]],
         baseline: dict[str, dict[str, Any]] | None) -> int:
    from termagent.evals.baseline import compare
    from termagent.evals.report import ProgressBar
    from termagent.evals.runner import run_cases
    from termagent.evals.scoring import CaseResult, totals

    from termagent.model.client import warm_import

    warm_import()  # the SDK import overlaps with loading the first workspaces
    settings = _settings(args)
    skipped = {c.name: "needs the Docker sandbox (run without --sandbox none)" for c in cases
               if c.needs_docker and settings.sandbox == "none"}
    runnable = [c for c in cases if c.name not in skipped]
    bar = ProgressBar(sum(settings.runs or c.runs for c in runnable), sys.stderr)
    started = time.monotonic()
    try:
        ran = {r.name: r for r in run_cases(runnable, settings, scripts, lambda p: bar.step(p.case))}
    finally:
        bar.finish()
    results = [ran.get(c.name) or CaseResult(c.name, c.tags, (), skipped[c.name]) for c in cases]
    total = totals(results, time.monotonic() - started)
    comparison = compare(baseline, results, args.regression_threshold) if baseline is not None else None
    _emit(args, settings, results, total, comparison)
    if comparison is not None:
        return EXIT_FAILED if comparison.regressions else EXIT_OK
    return EXIT_FAILED if total.failed else EXIT_OK


def _emit(args: argparse.Namespace, settings: Any, results: list[Any], total: Any, comparison: Any) -> None:
    import dataclasses

    from termagent.evals import report

    output = getattr(args, "output", "table")
    output = "table" if output not in ("json", "junit") else output
    if output == "json":
        text = report.dumps(report.as_json(results, total, comparison, dataclasses.asdict(settings)))
    elif output == "junit":
        text = report.junit(results, total, comparison)
    else:
        text = report.table(results, total, comparison)
    if args.report_file:
        args.report_file.write_text(text, encoding="utf-8")
        if output != "table":
            report.write(report.table(results, total, comparison), sys.stderr)
    else:
        report.write(text)
