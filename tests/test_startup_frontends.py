"""Long-lived front ends answer before the SDK import finishes: an editor's `initialize`
must not wait 1-3 s for a module the first prompt needs at the earliest."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

DEADLINE_S = 120.0
_SDK_DONE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| anthropic$")  # the top-level import's closing line


def test_acp_answers_initialize_before_the_sdk_import_finishes(tmp_path: Path) -> None:
    env = dict(os.environ, TERMAGENT_SANDBOX="none", ANTHROPIC_API_KEY="sk-acp-start-00000000")
    process = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "termagent", "acp", "--sandbox", "none"],
                               cwd=tmp_path, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    sdk_done: list[float] = []

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if _SDK_DONE.match(line.rstrip()):
                sdk_done.append(time.monotonic())

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write('{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1}}\n')
    process.stdin.flush()
    answer = json.loads(process.stdout.readline())
    answered_at = time.monotonic()
    assert answer["id"] == 1 and "agentCapabilities" in answer["result"]
    assert not sdk_done  # the SDK was still loading (warmed in the background) when the answer came
    deadline = time.monotonic() + DEADLINE_S
    while not sdk_done and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.stdin.close()
    process.wait(timeout=DEADLINE_S)
    assert sdk_done and sdk_done[0] > answered_at  # and it did load, after: warmed for the first prompt
