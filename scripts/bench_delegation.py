"""Context growth of the main agent for a test run that prints 200 KB (issue 4).

Same scripted failing suite twice: once run through `bash` by the main agent, once
delegated to `test_runner`. Reports the main agent's next-request size (serialized
request bytes / 4 as tokens, the scripted server's own estimate) and its growth over
the request before the tool call.

    .venv/bin/python scripts/bench_delegation.py [--sandbox docker|none]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from termagent.testing.scripted_server import ScriptedServer, reply, text, tool_use  # noqa: E402

SUITE = 'def test_big():\n    print("noise line " * 20000)\n    assert 2 + 2 == 5\n'
RUN = "python3 -m pytest -q -p no:cacheprovider tests"
SUMMARY = ("status: failed\nfindings:\n- tests/test_suite.py::test_big fails: assert 4 == 5\n"
           "files:\n- tests/test_suite.py:3 — the failing assert\nnext steps:\n- fix the arithmetic")


def tokens(body: dict) -> int:
    return len(json.dumps(body)) // 4


async def run(workspace: Path, delegated: bool, backend: str) -> tuple[int, int]:
    from termagent.config import load_config
    from termagent.core.assembly import SessionOptions, open_session
    from termagent.store.db import Store

    main_requests: list[dict] = []
    child_steps = [reply(tool_use("bash", {"command": RUN, "timeout_s": 120})), reply(text(SUMMARY))]
    first = (tool_use("delegate", {"agent": "test_runner", "task": "Run tests/ and report failures."}) if delegated
             else tool_use("bash", {"command": RUN, "timeout_s": 120}))
    main_steps = [reply(first), reply(text("done"))]

    def route(request):
        system = " ".join(block["text"] for block in request.body.get("system", []))
        if "You are test_runner" in system:
            return child_steps.pop(0)
        main_requests.append(request.body)
        return main_steps.pop(0)

    with ScriptedServer(responder=route) as server:
        os.environ["ANTHROPIC_BASE_URL"] = server.url
        config = load_config(workspace).with_overrides({"sandbox": {"backend": backend}})
        options = SessionOptions(workspace, interactive=False, allow=(f"bash({RUN})",))
        session = open_session(config, options, Store(workspace / f"s{int(delegated)}.db"))
        session.start()
        await session.run_turn("run the tests")
        await session.close()
    return tokens(main_requests[0]), tokens(main_requests[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", choices=("docker", "none"), default="docker")
    args = parser.parse_args()
    os.environ["ANTHROPIC_API_KEY"] = "bench"
    results = {}
    for delegated in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            workspace = Path(tmp)
            os.environ["TERMAGENT_STATE_DIR"] = str(workspace / ".state")
            (workspace / "tests").mkdir()
            (workspace / "tests" / "test_suite.py").write_text(SUITE)
            before, after = asyncio.run(run(workspace, delegated, args.sandbox))
            results[delegated] = (before, after)
            label = "delegated to test_runner" if delegated else "bash in the main agent"
            print(f"{label:26}: next parent request {after} tokens (growth {after - before})")
    growth_bash = results[False][1] - results[False][0]
    growth_delegate = results[True][1] - results[True][0]
    print(f"growth ratio bash/delegation: {growth_bash / max(1, growth_delegate):.1f}x "
          f"(whole-request ratio {results[False][1] / results[True][1]:.2f}x)")


if __name__ == "__main__":
    main()
