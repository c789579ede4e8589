"""Telemetry benchmarks (issue 19): per-turn harness overhead with export on against off,
and what telemetry costs a start-up when it is off (nothing of opentelemetry imported).

    .venv/bin/python scripts/bench_otel.py [--turns N] [--runs N]

The export-on figure runs against a real OTLP/HTTP receiver on 127.0.0.1 (the same one
the tests use), so the SDK's batching thread really encodes and sends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_core import median_ms, scripted_session  # noqa: E402
from tests.otlp_receiver import OTLPReceiver  # noqa: E402


def overhead(turns: int, endpoint: str | None) -> list[float]:
    if endpoint:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    else:
        os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        os.environ["TERMAGENT_STATE_DIR"] = str(workspace / ".state")
        (workspace / "big.py").write_text("".join(f"line_{n} = {n}\n" for n in range(300)))
        overheads, _ = asyncio.run(scripted_session(turns, workspace))
    return overheads


def imported_when_off() -> list[str]:
    code = ("import sys, termagent.cli, termagent.core.assembly, termagent.headless\n"
            "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('opentelemetry')}))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return eval(shown.stdout.strip())  # noqa: S307 - our own subprocess printing a list literal


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["ANTHROPIC_API_KEY"] = "bench"
    off: list[float] = []
    on: list[float] = []
    with OTLPReceiver() as receiver:
        for _ in range(args.runs):  # interleaved, so load drifts hit both alike
            off += overhead(args.turns, None)
            on += overhead(args.turns, receiver.url)
        spans = len(receiver.received.spans)
    print(f"per-turn overhead, export off: median {median_ms(off)} ms; export on: median {median_ms(on)} ms; "
          f"difference {round(median_ms(on) - median_ms(off), 2)} ms ({spans} spans received)")
    print(f"max per-turn overhead off/on: {round(max(off) * 1000, 1)} / {round(max(on) * 1000, 1)} ms; "
          f"stdev on {round(statistics.pstdev(on) * 1000, 2)} ms")
    print(f"opentelemetry modules imported with telemetry off: {imported_when_off() or 'none'}")


if __name__ == "__main__":
    main()
