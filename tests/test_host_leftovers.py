"""Unsandboxed sessions leave nothing running: what a command detached dies with it, and
the session's close sweeps again for anything that slipped through."""

from __future__ import annotations

import asyncio
from pathlib import Path

from termagent.sandbox import open_sandbox
from termagent.sandbox.host import HostSandbox
from tests.docker_support import make_config


def _sleepers(tag: str) -> list[int]:
    """Processes running `sleep <tag>`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(") ", 1)[1].split()[0]
        except OSError:
            continue
        if argv[:2] == [b"sleep", tag.encode()] and state != "Z":
            found.append(int(entry.name))
    return found


async def _until(predicate, timeout_s: float = 20.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


async def test_a_setsid_process_does_not_outlive_its_command(tmp_path: Path) -> None:
    sandbox = open_sandbox(make_config(backend="none"), tmp_path, "leftover-test")
    assert isinstance(sandbox, HostSandbox)
    tag = "1013.25"
    try:
        # wait inside the command until sleep runs (setsid has left the group), so only the
        # marker sweep, not the group kill, can end it
        result = await sandbox.exec(f"setsid sleep {tag} >/dev/null 2>&1 < /dev/null & "
                                    f"until pgrep -fx 'sleep {tag}' >/dev/null; do sleep 0.05; done; echo started", 20)
        assert result.output.strip() == "started"
        assert await _until(lambda: not _sleepers(tag)), "the detached sleep must die with its command"
    finally:
        await sandbox.close()
    assert not _sleepers(tag)


async def test_double_forked_and_nohup_leftovers_are_killed_too(tmp_path: Path) -> None:
    sandbox = open_sandbox(make_config(backend="none"), tmp_path, "leftover-test-2")
    tags = ("1014.5", "1015.5")
    try:
        await sandbox.exec(f"( setsid sh -c 'sleep {tags[0]} & ' & ) >/dev/null 2>&1; "
                           f"nohup setsid -f sleep {tags[1]} >/dev/null 2>&1; "
                           f"until pgrep -fx 'sleep {tags[0]}' >/dev/null; do sleep 0.05; done", 20)
        assert await _until(lambda: not any(_sleepers(t) for t in tags))
    finally:
        await sandbox.close()
    assert await _until(lambda: not any(_sleepers(t) for t in tags))
