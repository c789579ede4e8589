"""Offline runs: each run gets its own scripted model server, loaded from the case's reply file.

A reply file is `{"steps": [...], "agents": {"explorer": [...]}, "compaction": [...],
"judge": [...]}` in the step format of termagent.testing.steps. Requests are routed by
who makes them: the judge's carry the submit_score tool, compaction's the compaction
prompt, a subagent's its "You are NAME" prompt; the rest are the main agent's. A queue
that runs dry answers a non-retryable 400, so a script too short for what the agent did
fails the run instead of hanging it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from termagent.testing.scripted_server import RecordedRequest, ScriptedServer
from termagent.testing.steps import Step, error_body, normalize


class ScriptError(Exception):
    """A reply file that cannot be used; names the file."""


class Router:
    def __init__(self, script: dict[str, Any], compaction_prompt: str) -> None:
        self._lock = threading.Lock()
        self._compaction_prompt = compaction_prompt
        self.queues: dict[str, list[Step]] = {"main": list(script.get("steps", [])),
                                              "judge": list(script.get("judge", [])),
                                              "compaction": list(script.get("compaction", []))}
        self.agents = sorted(script.get("agents", {}))
        for agent, steps in script.get("agents", {}).items():
            self.queues[f"agent:{agent}"] = list(steps)

    def who(self, request: RecordedRequest) -> str:
        tools = [t.get("name") for t in request.body.get("tools", []) if isinstance(t, dict)]
        if "submit_score" in tools:
            return "judge"
        system = request.body.get("system") or []
        first = system[0].get("text", "") if system and isinstance(system[0], dict) else ""
        if first == self._compaction_prompt:
            return "compaction"
        text = " ".join(b.get("text", "") for b in system if isinstance(b, dict))
        return next((f"agent:{a}" for a in self.agents if f"You are {a}" in text), "main")

    def __call__(self, request: RecordedRequest) -> Step:
        queue = self.who(request)
        with self._lock:
            steps = self.queues.get(queue, [])
            if steps:
                return steps.pop(0)
        message = f"scripted reply file has no step left for {queue}"
        return {"fault": {"status": 400, "body": error_body(400, message), "headers": {"x-should-retry": "false"}}}


def load_script(path: Path) -> dict[str, Any]:
    """Read and validate a reply file now, so a typo fails before any session starts."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScriptError(f"{path}: cannot read the scripted reply file: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ScriptError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise ScriptError(f"{path}: expected a JSON object with a 'steps' list")
    agents = data.get("agents", {})
    if not isinstance(agents, dict):
        raise ScriptError(f"{path}: 'agents' must map subagent names to step lists")
    queues = {"steps": data["steps"], "judge": data.get("judge", []), "compaction": data.get("compaction", []),
              **{f"agents.{k}": v for k, v in agents.items()}}
    for key, steps in queues.items():
        if not isinstance(steps, list):
            raise ScriptError(f"{path}: '{key}' must be a list of steps")
        for index, step in enumerate(steps):
            try:
                normalize(step)
            except ValueError as exc:
                raise ScriptError(f"{path}: {key}[{index}]: {exc}") from None
    return data


def start_server(script: dict[str, Any], delay_s: float = 0.0) -> ScriptedServer:
    from termagent.core.door import load_prompt

    server = ScriptedServer(responder=Router(script, load_prompt("compaction")), chunk_delay_s=delay_s)
    server.start()
    return server
