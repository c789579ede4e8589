"""The watcher's inotify use is capped: past `max_watches` directories it lets go of every
watch, warns once, and still reports outside edits of files the agent read (by stat)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

from termagent.core.history import History
from termagent.core.watcher import WorkspaceWatcher
from termagent.protocol import Event, Warning
from termagent.tools.workspace import ReadLedger

DEADLINE_S = 30.0


def inotify_watches() -> int:
    """Watches this process holds, from the kernel's own accounting."""
    count = 0
    for fd in os.listdir("/proc/self/fdinfo"):
        try:
            count += sum(line.startswith("inotify wd:") for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines())
        except OSError:
            continue
    return count


def poll(predicate) -> bool:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def make_workspace(tmp_path: Path) -> tuple[Path, ReadLedger]:
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "app.py").write_text("v = 1\n")
    ledger = ReadLedger()
    ledger.record(ws / "src" / "app.py")
    return ws, ledger


async def test_many_new_directories_switch_the_watcher_to_polling(tmp_path: Path) -> None:
    ws, ledger = make_workspace(tmp_path)
    events: list[Event] = []
    baseline = inotify_watches()
    watcher = WorkspaceWatcher(ws, ledger, events.append, settle_s=0.05, max_watches=64)
    watcher.start()
    try:
        assert watcher.ready.wait(DEADLINE_S) and not watcher.polling
        assert inotify_watches() > baseline
        for n in range(300):  # what a command in the sandbox can do
            (ws / "src" / f"d{n}" / "x").mkdir(parents=True)
        assert poll(lambda: watcher.polling)
        assert poll(lambda: inotify_watches() <= baseline), "the watches were not released"
        loop = SimpleNamespace(history=History("s"))
        await watcher.before_request(loop)
        await watcher.before_request(loop)
        (warning,) = [e for e in events if isinstance(e, Warning)]
        assert "more than 64 directories" in warning.message
        assert watcher.collect() == []
        (ws / "src" / "app.py").write_text("v = 2  # the person's edit\n")
        assert [c.path for c in watcher.collect()] == ["src/app.py"]
        assert not ledger.is_known(ws / "src" / "app.py")
    finally:
        watcher.stop()


def test_a_tree_already_over_the_cap_is_never_watched(tmp_path: Path) -> None:
    ws, ledger = make_workspace(tmp_path)
    for n in range(100):
        (ws / "src" / f"d{n}").mkdir()
    baseline = inotify_watches()
    watcher = WorkspaceWatcher(ws, ledger, lambda event: None, max_watches=50)
    watcher.start()
    try:
        assert watcher.ready.wait(DEADLINE_S) and watcher.polling
        assert inotify_watches() == baseline
        os.utime(ws / "src" / "app.py", ns=(1, 1))  # touched, same bytes: not a change
        assert watcher.collect() == []
        (ws / "src" / "app.py").unlink()
        (change,) = watcher.collect()
        assert change.path == "src/app.py" and change.deleted
    finally:
        watcher.stop()
