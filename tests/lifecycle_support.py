"""Real hook scripts in tmp dirs and the config that names them, for the lifecycle hook tests."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path
from typing import Any

from termagent.config import user_config_path
from termagent.headless import HeadlessResult, run_headless


def script(folder: Path, name: str, body: str) -> Path:
    """An executable hook script (its shebang picks bash or Python)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body.lstrip("\n"), encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def hook_table(event: str, command: str | Path, matcher: str = "", timeout_s: float | None = None) -> str:
    lines = [f"[[hooks.{event}]]", f"command = {json.dumps(str(command))}"]
    if matcher:
        lines.append(f"matcher = {json.dumps(matcher)}")
    if timeout_s is not None:
        lines.append(f"timeout_s = {timeout_s}")
    return "\n".join(lines) + "\n"


def user_hooks(*tables: str) -> Path:
    """Write the user config file (TERMAGENT_CONFIG_DIR is per test) with these hook tables."""
    path = user_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(tables), encoding="utf-8")
    return path


def recorder(folder: Path, name: str) -> tuple[Path, Path]:
    """A Python hook that appends each event it reads to a JSON-lines file and says nothing."""
    log = folder / f"{name}.jsonl"
    path = script(folder, f"{name}.py", f"""
#!/usr/bin/env python3
import json, os, sys
event = json.load(sys.stdin)
event["_env"] = dict(os.environ)
with open({str(log)!r}, "a") as out:
    out.write(json.dumps(event) + "\\n")
""")
    return path, log


def recorded(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


async def headless(session: Any, task: str = "do it") -> tuple[HeadlessResult, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    result = await run_headless(session, task, "json", out, err)
    return result, json.loads(out.getvalue()), err.getvalue()


def gone(pid: int) -> bool:
    """No such process, or only its zombie (a container's init may not reap at once)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


def request_texts(body: dict[str, Any]) -> str:
    """Every text and tool_result string of a recorded request's messages, joined."""
    parts = []
    for message in body["messages"]:
        content = message["content"]
        for block in content if isinstance(content, list) else [{"type": "text", "text": content}]:
            if block.get("type") == "text":
                parts.append(block["text"])
            elif block.get("type") == "tool_result":
                inner = block.get("content")
                parts.append(inner if isinstance(inner, str) else json.dumps(inner))
    return "\n".join(parts)
