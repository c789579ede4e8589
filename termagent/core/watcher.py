"""Notice files changed outside the agent, tell the model, and make edits re-read them.

watchdog (inotify on Linux) reports changes from its own threads; the watcher keeps only
those that matter, a change to a file the agent has read (it is in the ReadLedger), so
memory stays bounded by what the agent has seen however large the tree is. Before each
model request the hook re-checks those files: one that no longer holds what the agent
last read or wrote is listed to the model in a short note, emitted as
FilesChangedExternally for the front ends, and forgotten by the ledger so `edit_file`
demands a fresh read.

Every change to a known file is queued, whenever it happens; the hash check decides.
The agent's file tools leave the ledger holding the new content, so their writes match
and are never reported. A command the agent runs (`bash`) does not refresh the ledger,
and while one runs (the runner wraps every write or exec call in `agent_activity()`,
plus a short settle window for events still in flight) a change cannot be told apart
from the user saving the same file. Rather than guess, such files are reported to the
model as "changed while a command ran (by the command or by someone else)": re-reading
is right either way, since `edit_file` would refuse the stale view anyway. Only changes
seen outside any agent activity are claimed as external, and only those are emitted as
FilesChangedExternally, so the front ends never blame the user for the agent's command.

A deleted or moved directory marks every known file below it, since inotify reports
only the directory itself when it leaves the watched tree.

Only the root and its non-ignored top-level directories are watched (recursively), so
`.git`, `node_modules` or a virtualenv at the top cost no inotify watches.

inotify needs one watch per directory, and a command can make thousands (a sandbox made
20,000 and the session held 20,204 watches). Past `max_watches` directories (4,096, or a
quarter of fs.inotify.max_user_watches if lower) the watcher lets go of inotify, warns
once, and instead re-checks every file the agent has read before each request (a stat,
and a hash only when size or mtime moved), which costs nothing per directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from termagent.core.state_document import HARNESS_NOTE_PREFIX
from termagent.core.watch_rules import IgnoreRules
from termagent.protocol import Event, FilesChangedExternally, Warning

if TYPE_CHECKING:
    from termagent.core.request_hooks import PendingRequest
    from termagent.tools.workspace import ReadLedger

SETTLE_S = 1.0  # after agent activity ends, events still in flight are its own
MAX_PENDING = 10_000
MAX_SPLIT_WATCHES = 48
MAX_NAMES_IN_NOTE = 40
MAX_WATCHES = 4096
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Change:
    """A known file whose content is no longer what the agent last read or wrote."""

    path: str  # root-relative
    deleted: bool
    during_command: bool  # every event for it came while the agent was running a tool call


class WorkspaceWatcher:
    def __init__(self, root: Path, ledger: ReadLedger, emit: Callable[[Event], None],
                 settle_s: float = SETTLE_S, max_watches: int | None = None) -> None:
        self.root = Path(os.path.realpath(root))
        self._ledger = ledger
        self._emit = emit
        self._settle_s = settle_s
        self._rules = IgnoreRules(self.root)
        self._lock = threading.Lock()
        self._pending: dict[str, bool] = {}  # path -> seen only during agent activity
        self._active = 0
        self._quiet_until = 0.0
        self._observer: Any = None
        self._top_watches: dict[str, Any] = {}
        self._split = True
        self._closed = False
        self._problem: str | None = None
        self.max_watches = max_watches or default_max_watches()
        self.watched_dirs = 0  # directories under inotify watch, as counted from events
        self.polling = False  # past max_watches: known files are stat-checked instead
        self._active_since_collect = False
        self._stat_seen: dict[str, tuple[int, int, str]] = {}  # path -> size, mtime_ns, sha256 matched
        self.ready = threading.Event()
        self.events_seen = 0  # every event watchdog delivered, kept or not (for tests and benchmarks)
        self._awaited: dict[str, threading.Event] = {}  # paths a test or benchmark waits to see delivered

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start watching from a background thread: the first scan of a big tree takes a moment."""
        threading.Thread(target=self._start, name="termagent-watch-start", daemon=True).start()

    def _start(self) -> None:
        try:
            from watchdog.observers import Observer

            if self._count_dirs() > self.max_watches:
                self._fall_back_to_polling()
                return
            observer = Observer()
            observer.start()  # running first, so a failure below can stop it through its own API
            try:
                self._schedule_all(observer)
            except OSError:
                self._stop_observer(observer)
                raise
            with self._lock:
                closed, self._observer = self._closed or self.polling, observer
            if closed:
                self._stop_observer(observer)
        except (OSError, ImportError) as exc:  # inotify limits, an unreadable root: the session goes on unwatched
            self._problem = (f"not watching the workspace for outside changes ({exc}); edits still refuse "
                             "files that changed since they were read")
        finally:
            self.ready.set()

    def _schedule_all(self, observer: Any) -> None:
        tops = self._top_dirs()
        self._split = len(tops) <= MAX_SPLIT_WATCHES
        observer.schedule(self, str(self.root), recursive=not self._split, event_filter=_event_filter())
        if self._split:
            for name in tops:
                self._watch_top(observer, name)

    def _count_dirs(self) -> int:
        """Directories the recursive watches would cover, counted only up to the cap."""
        count = 1
        pending = [self.root / name for name in self._top_dirs()]
        while pending and count <= self.max_watches:
            directory = pending.pop()
            count += 1
            with contextlib.suppress(OSError), os.scandir(directory) as entries:
                pending += [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
        self.watched_dirs = count
        return count

    def _fall_back_to_polling(self) -> None:
        """Drop every inotify watch and check known files by stat from now on (warned once)."""
        with self._lock:
            if self.polling:
                return
            self.polling = True
            observer, self._observer = self._observer, None
        self._problem = (f"the workspace has more than {self.max_watches:,} directories, too many to watch "
                         "with inotify; checking the files the agent read before each request instead")
        if observer is not None:  # on watchdog's own thread: stop it from another one
            threading.Thread(target=self._stop_observer, args=(observer,), name="termagent-watch-stop",
                             daemon=True).start()

    def _top_dirs(self) -> list[str]:
        with os.scandir(self.root) as entries:
            return sorted(e.name for e in entries
                          if e.is_dir(follow_symlinks=False) and not self._rules.ignored(e.name, is_dir=True))

    def _watch_top(self, observer: Any, name: str) -> None:
        try:
            watch = observer.schedule(self, str(self.root / name), recursive=True, event_filter=_event_filter())
        except OSError:
            return  # gone already, or unreadable: nothing there the agent can have read
        self._top_watches[name] = watch

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            observer, self._observer = self._observer, None
        if observer is not None:
            self._stop_observer(observer)

    async def aclose(self) -> None:
        import asyncio

        await asyncio.to_thread(self.stop)

    @staticmethod
    def _stop_observer(observer: Any) -> None:
        observer.stop()
        observer.join(timeout=5)

    # ------------------------------------------------------------ the agent's own changes

    @contextlib.asynccontextmanager
    async def agent_activity(self) -> AsyncIterator[None]:
        """Wrap every write or exec tool call: what changes meanwhile is the agent's doing."""
        with self._lock:
            self._active += 1
            self._active_since_collect = True
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                self._quiet_until = time.monotonic() + self._settle_s

    def agent_busy(self) -> bool:
        """Inside agent activity or its settle window: a change seen now counts as the agent's."""
        with self._lock:
            return self._active > 0 or time.monotonic() < self._quiet_until

    def delivery_of(self, path: Path) -> threading.Event:
        """Set once watchdog delivers an event for `path`. inotify keeps one directory's events in
        order, so a marker written after other files of its directory shows theirs were delivered
        too: how tests and benchmarks wait for events in flight instead of sleeping."""
        delivered = threading.Event()
        with self._lock:
            self._awaited[os.path.realpath(path)] = delivered
        return delivered

    # ------------------------------------------------------------ watchdog thread

    def dispatch(self, event: Any) -> None:
        """watchdog's handler entry point (called on the observer thread)."""
        self.events_seen += 1
        if self._awaited:
            self._mark_delivered(os.fsdecode(event.src_path))
        if self.polling:
            return
        if event.is_directory:
            self._count_watch(event.event_type)
            self._directory_event(event)
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                self._note(os.fsdecode(raw))

    def _mark_delivered(self, path: str) -> None:
        with self._lock:
            delivered = self._awaited.pop(path, None)
        if delivered is not None:
            delivered.set()

    def _note(self, path: str) -> None:
        rel = self._relative(path)
        if rel is None or not self._ledger.is_known(Path(path)) or self._rules.ignored(rel):
            return
        busy = self.agent_busy()
        with self._lock:
            if path in self._pending:
                self._pending[path] = self._pending[path] and busy
            elif len(self._pending) < MAX_PENDING:
                self._pending[path] = busy

    def _count_watch(self, event_type: str) -> None:
        """watchdog adds a watch for every directory created below a recursive watch."""
        if event_type == "created":
            self.watched_dirs += 1
        elif event_type == "deleted":
            self.watched_dirs = max(1, self.watched_dirs - 1)
        if self.watched_dirs > self.max_watches:
            self._fall_back_to_polling()

    def _directory_event(self, event: Any) -> None:
        """Mark known files below a vanished directory; keep one recursive watch per
        non-ignored top-level directory as they come and go."""
        if event.event_type in ("deleted", "moved"):
            for known in self._ledger.known_under(Path(os.fsdecode(event.src_path))):
                self._note(str(known))
        if not self._split or self._observer is None:
            return
        if event.event_type in ("deleted", "moved"):
            self._drop_top(os.fsdecode(event.src_path))
        if event.event_type == "created":
            self._add_top(os.fsdecode(event.src_path))
        if event.event_type == "moved":
            self._add_top(os.fsdecode(event.dest_path))

    def _drop_top(self, path: str) -> None:
        if os.path.dirname(path) != str(self.root):
            return
        watch = self._top_watches.pop(os.path.basename(path), None)
        if watch is not None:
            with contextlib.suppress(KeyError, OSError):
                self._observer.unschedule(watch)

    def _add_top(self, path: str) -> None:
        name = os.path.basename(path)
        if os.path.dirname(path) != str(self.root) or name in self._top_watches:
            return
        if not self._rules.ignored(name, is_dir=True):
            self._watch_top(self._observer, name)

    def _relative(self, path: str) -> str | None:
        try:
            rel = Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return None
        return None if rel in ("", ".") or ".git" in rel.split("/") else rel

    # ------------------------------------------------------------ before each model request

    async def before_request(self, loop: PendingRequest) -> None:
        """Before each model request: tell the model which files it knows changed outside, before it acts."""
        if self._problem:
            self._emit(Warning(self._problem))
            self._problem = None
        changed = self.collect()
        if changed:
            loop.history.append(notice(changed))
            external = tuple(c.path for c in changed if not c.during_command)
            if external:
                self._emit(FilesChangedExternally(external))

    def collect(self) -> list[Change]:
        """Known files whose content is no longer what the agent saw; the ledger forgets them."""
        with self._lock:
            pending, self._pending = self._pending, {}
            active, self._active_since_collect = self._active_since_collect or self._active > 0, False
        if self.polling:
            pending = {**{str(p): active for p in self._moved_known()}, **pending}
        changed: list[Change] = []
        for path in sorted(pending):
            record = self._ledger.get(Path(path))
            if record is None:
                continue
            state = _content_state(path, record.size, record.sha256)
            if state == "same":
                continue
            self._ledger.forget(Path(path))
            changed.append(Change(self._relative(path) or path, state == "deleted", pending[path]))
        return changed


    def _moved_known(self) -> list[Path]:
        """Polling: known files whose size or mtime differs from when their hash last matched."""
        moved = []
        for path in self._ledger.known_under(self.root):
            rel = self._relative(str(path))
            if rel is None or self._rules.ignored(rel):
                continue
            record = self._ledger.get(path)
            try:
                st = os.stat(path)
                stamp = (st.st_size, st.st_mtime_ns, record.sha256 if record else "")
            except OSError:
                stamp = (-1, -1, "")
            if self._stat_seen.get(str(path)) == stamp:
                continue
            if record is not None and stamp[0] >= 0 and _content_state(str(path), record.size, record.sha256) == "same":
                self._stat_seen[str(path)] = stamp
                continue
            moved.append(path)
        return moved


def default_max_watches() -> int:
    """4,096 directories, or a quarter of the per-user inotify limit when that is smaller."""
    try:
        limit = int(Path("/proc/sys/fs/inotify/max_user_watches").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return MAX_WATCHES
    return max(64, min(MAX_WATCHES, limit // 4))


def notice(changed: list[Change]) -> dict[str, Any]:
    """The user-role note the model reads; names are quoted so a file name is never an instruction."""
    outside = [c for c in changed if not c.during_command]
    during = [c for c in changed if c.during_command]
    lines = []
    if outside:
        lines.append("Files changed outside the agent (by the user or another program) since you last read "
                     f"them: {_listing(outside)}.")
    if during:
        lines.append("Files changed while a command ran (by the command or by someone else) since you last "
                     f"read them: {_listing(during)}.")
    text = (f"{HARNESS_NOTE_PREFIX} " + " ".join(lines) + " Your earlier view of them is out of date: read "
            "them again before relying on or editing them (edit_file refuses until you do).")
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def _listing(changed: list[Change]) -> str:
    names = [json.dumps(c.path, ensure_ascii=False) + (" (deleted)" if c.deleted else "")
             for c in changed[:MAX_NAMES_IN_NOTE]]
    more = len(changed) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _content_state(path: str, size: int, sha256: str) -> str:
    """'same', 'changed' or 'deleted', compared with what the ledger recorded."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            return "changed"
        digest = hashlib.sha256()
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
                digest.update(chunk)
    except FileNotFoundError:
        return "deleted"
    except OSError:
        return "changed"
    return "same" if digest.hexdigest() == sha256 else "changed"


def _event_filter() -> list[Any]:
    """Only changes: no open/close-without-write/access noise from readers of the tree."""
    from watchdog import events

    return [events.FileModifiedEvent, events.FileCreatedEvent, events.FileDeletedEvent, events.FileMovedEvent,
            events.DirCreatedEvent, events.DirDeletedEvent, events.DirMovedEvent]
