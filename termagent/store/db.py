"""One SQLite database for sessions, transcripts, traces, audit log, usage and artifacts.

Every write commits at once (WAL mode), so a process killed with SIGKILL loses at most
the turn in flight. Trace events are the exception: they are many and small, so they
wait in memory and go in one transaction at the end of a turn (the session flushes
then), when enough have gathered, or before this store reads events back. The messages
table is append-only: compaction records where the live history starts instead of
deleting anything, so a transcript can always be shown in full and a resume rebuilds
exactly what the model saw.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, parent_id TEXT, agent TEXT NOT NULL DEFAULT 'main',
  workspace TEXT NOT NULL, model TEXT NOT NULL DEFAULT '', title TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'active', created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  session_id TEXT NOT NULL, seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,
  created_at REAL NOT NULL, PRIMARY KEY (session_id, seq)
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, type TEXT NOT NULL,
  data TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_session ON events(session_id, id);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, call_id TEXT NOT NULL,
  tool TEXT NOT NULL, input TEXT NOT NULL, decision TEXT NOT NULL, decided_by TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_session ON audit(session_id, id);
CREATE TABLE IF NOT EXISTS usage (
  id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, role TEXT NOT NULL,
  model TEXT NOT NULL, input_tokens INTEGER, output_tokens INTEGER,
  cache_read_input_tokens INTEGER, cache_creation_input_tokens INTEGER, cost_usd REAL,
  created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
  id TEXT PRIMARY KEY, session_id TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
  created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS memory_seen (
  workspace TEXT PRIMARY KEY, session_id TEXT NOT NULL, base TEXT NOT NULL, final TEXT,
  updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS compactions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, through_seq INTEGER NOT NULL,
  state_document TEXT NOT NULL, live_messages TEXT NOT NULL, created_at REAL NOT NULL
);
"""


def state_dir() -> Path:
    explicit = os.environ.get("TERMAGENT_STATE_DIR")
    if explicit:
        return Path(explicit)
    import platformdirs

    return Path(platformdirs.user_state_dir("termagent"))


def new_id(prefix: str = "") -> str:
    return prefix + time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


@dataclass(frozen=True)
class SessionRecord:
    id: str
    parent_id: str | None
    agent: str
    workspace: str
    model: str
    title: str
    status: str
    created_at: float
    updated_at: float


_WAL_SWITCH_S = 30.0


def _enable_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL once per database file. The switch needs an exclusive lock and SQLite
    answers "database is locked" at once, without its busy timeout, while another connection
    opens or switches the same new file (parallel eval workers first opening one store), so
    the switch is retried until the other side is done."""
    deadline = time.monotonic() + _WAL_SWITCH_S
    pause = 0.01
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


EVENT_BATCH = 64  # trace events held before they are written anyway


class Store:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "termagent.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row
        _enable_wal(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._pending_events: list[tuple[str, str, str, float]] = []

    def close(self) -> None:
        with self._lock:
            self._flush_events()
            self._db.close()

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def flush_events(self) -> None:
        with self._lock:
            self._flush_events()

    def _flush_events(self) -> None:
        if not self._pending_events:
            return
        rows, self._pending_events = self._pending_events, []
        self._db.execute("BEGIN")  # one transaction for the batch: a commit per event was most of a turn's store time
        try:
            self._db.executemany("INSERT INTO events (session_id, type, data, created_at) VALUES (?,?,?,?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------ sessions

    def create_session(
        self, workspace: str, model: str, agent: str = "main", parent_id: str | None = None, session_id: str = ""
    ) -> str:
        sid = session_id or new_id()
        now = time.time()
        self._exec(
            "INSERT INTO sessions (id, parent_id, agent, workspace, model, created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
            (sid, parent_id, agent, workspace, model, now, now),
        )
        return sid

    def session(self, session_id: str) -> SessionRecord | None:
        row = self._exec("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return SessionRecord(**dict(row)) if row else None

    def sessions(self, workspace: str | None = None, limit: int = 50, include_children: bool = False) -> list[SessionRecord]:
        sql = "SELECT * FROM sessions WHERE 1=1"
        args: list[Any] = []
        if workspace:
            sql += " AND workspace = ?"
            args.append(workspace)
        if not include_children:
            sql += " AND parent_id IS NULL"
        sql += " ORDER BY updated_at DESC LIMIT ?"
        args.append(limit)
        return [SessionRecord(**dict(row)) for row in self._exec(sql, tuple(args)).fetchall()]

    def children(self, session_id: str) -> list[SessionRecord]:
        rows = self._exec("SELECT * FROM sessions WHERE parent_id = ? ORDER BY created_at", (session_id,))
        return [SessionRecord(**dict(row)) for row in rows.fetchall()]

    def update_session(self, session_id: str, **fields: Any) -> None:
        allowed = {"title", "status", "model"}
        sets = [f"{k} = ?" for k in fields if k in allowed]
        values = [v for k, v in fields.items() if k in allowed]
        self._exec(f"UPDATE sessions SET {', '.join(sets + ['updated_at = ?'])} WHERE id = ?", (*values, time.time(), session_id))

    def find_session(self, prefix: str, top_level: bool = False) -> SessionRecord | None:
        """The session whose id is `prefix` or starts with it; several matches are an error."""
        exact = self.session(prefix)
        if exact is not None and (exact.parent_id is None or not top_level):
            return exact
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        sql = "SELECT * FROM sessions WHERE id LIKE ? ESCAPE '\\'" + (" AND parent_id IS NULL" if top_level else "")
        rows = self._exec(sql + " ORDER BY updated_at DESC LIMIT 6", (escaped + "%",)).fetchall()
        if len(rows) > 1:
            names = ", ".join(row["id"] for row in rows[:5])
            raise LookupError(f"{prefix!r} matches several sessions ({names}); give more of the id")
        return SessionRecord(**dict(rows[0])) if rows else None

    # ------------------------------------------------------------ messages

    def append_message(self, session_id: str, message: dict[str, Any]) -> int:
        """Numbering and insert in one write transaction, so two processes never share a seq."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM messages WHERE session_id = ?",
                                       (session_id,))
                seq = int(row.fetchone()[0])
                self._db.execute(
                    "INSERT INTO messages (session_id, seq, role, content, created_at) VALUES (?,?,?,?,?)",
                    (session_id, seq, message["role"], json.dumps(message["content"]), time.time()),
                )
                self._db.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (time.time(), session_id))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return seq

    def messages(self, session_id: str, from_seq: int = 0) -> list[dict[str, Any]]:
        rows = self._exec(
            "SELECT role, content FROM messages WHERE session_id = ? AND seq >= ? ORDER BY seq", (session_id, from_seq)
        ).fetchall()
        return [{"role": row["role"], "content": json.loads(row["content"])} for row in rows]

    def message_count(self, session_id: str) -> int:
        return int(self._exec("SELECT COUNT(*) FROM messages WHERE session_id = ?", (session_id,)).fetchone()[0])

    # ------------------------------------------------------------ compaction

    def record_compaction(self, session_id: str, through_seq: int, state_document: str,
                          live_messages: list[dict[str, Any]]) -> None:
        """A snapshot of exactly what the model sees after compaction: the state document and
        the live messages (old tool outputs trimmed). Messages stored after `through_seq`
        follow it verbatim, so a resume rebuilds the same request byte for byte."""
        self._exec(
            "INSERT INTO compactions (session_id, through_seq, state_document, live_messages, created_at)"
            " VALUES (?,?,?,?,?)",
            (session_id, through_seq, state_document, json.dumps(live_messages), time.time()),
        )

    def latest_compaction(self, session_id: str) -> tuple[int, str, list[dict[str, Any]]] | None:
        row = self._exec(
            "SELECT through_seq, state_document, live_messages FROM compactions WHERE session_id = ?"
            " ORDER BY id DESC LIMIT 1",
            (session_id,),
        ).fetchone()
        return (int(row[0]), str(row[1]), json.loads(row[2])) if row else None

    def compaction_count(self, session_id: str) -> int:
        return int(self._exec("SELECT COUNT(*) FROM compactions WHERE session_id = ?", (session_id,)).fetchone()[0])

    # ------------------------------------------------------------ events, audit, usage

    def record_event(self, session_id: str, event: dict[str, Any]) -> None:
        """Queue one trace event; it is written with its batch (see the module note)."""
        row = (session_id, str(event.get("type", "")), json.dumps(event), time.time())
        with self._lock:
            self._pending_events.append(row)
            if len(self._pending_events) >= EVENT_BATCH:
                self._flush_events()

    def timed_events(self, session_id: str) -> Iterator[tuple[float, dict[str, Any]]]:
        """Stored events with the time each was recorded (seconds since the epoch)."""
        sql = "SELECT created_at, data FROM events WHERE session_id = ? ORDER BY id"
        self.flush_events()
        for created_at, data in self._exec(sql, (session_id,)).fetchall():
            yield float(created_at), json.loads(data)

    def events(self, session_id: str) -> Iterator[dict[str, Any]]:
        self.flush_events()
        for row in self._exec("SELECT data FROM events WHERE session_id = ? ORDER BY id", (session_id,)).fetchall():
            yield json.loads(row[0])

    def record_audit(
        self, session_id: str, call_id: str, tool: str, tool_input: Any, decision: str, decided_by: str,
        reason: str = "", outcome: str = "",
    ) -> None:
        self._exec(
            "INSERT INTO audit (session_id, call_id, tool, input, decision, decided_by, reason, outcome, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (session_id, call_id, tool, json.dumps(tool_input), decision, decided_by, reason, outcome, time.time()),
        )

    def set_audit_outcome(self, session_id: str, call_id: str, outcome: str) -> None:
        self._exec("UPDATE audit SET outcome = ? WHERE session_id = ? AND call_id = ?", (outcome, session_id, call_id))

    def audit(self, session_id: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM audit", tuple[str, ...]()
        if session_id:
            sql, args = sql + " WHERE session_id = ?", (session_id,)
        return [dict(row) for row in self._exec(sql + " ORDER BY id", args).fetchall()]

    def record_usage(self, session_id: str, role: str, model: str, usage: dict[str, int], cost: float) -> None:
        self._exec(
            "INSERT INTO usage (session_id, role, model, input_tokens, output_tokens, cache_read_input_tokens,"
            " cache_creation_input_tokens, cost_usd, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                session_id, role, model, usage.get("input_tokens", 0), usage.get("output_tokens", 0),
                usage.get("cache_read_input_tokens", 0), usage.get("cache_creation_input_tokens", 0), cost, time.time(),
            ),
        )

    def usage_totals(self, session_id: str) -> dict[str, float]:
        row = self._exec(
            "SELECT COALESCE(SUM(input_tokens),0), COALESCE(SUM(output_tokens),0), COALESCE(SUM(cache_read_input_tokens),0),"
            " COALESCE(SUM(cache_creation_input_tokens),0), COALESCE(SUM(cost_usd),0) FROM usage WHERE session_id = ?",
            (session_id,),
        ).fetchone()
        keys = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "cost_usd")
        return dict(zip(keys, row))

    # ------------------------------------------------------------ artifacts

    def put_artifact(self, session_id: str, kind: str, text: str) -> str:
        artifact_id = "art_" + uuid.uuid4().hex[:10]
        self._exec(
            "INSERT INTO artifacts (id, session_id, kind, text, created_at) VALUES (?,?,?,?,?)",
            (artifact_id, session_id, kind, text, time.time()),
        )
        return artifact_id

    def get_artifact(self, artifact_id: str, reader: str | None = None) -> str | None:
        """The artifact's text; with `reader`, only when it was made in the reader's session
        tree (the session, its parent, its subagents), so an id from another project or
        session reads as unknown rather than leaking that session's output."""
        row = self._exec("SELECT text, session_id FROM artifacts WHERE id = ?", (artifact_id,)).fetchone()
        if row is None:
            return None
        if reader is not None and self.session_root(str(row[1])) != self.session_root(reader):
            return None
        return str(row[0])

    def session_root(self, session_id: str) -> str:
        """The top session of `session_id`'s tree (itself when it has no parent)."""
        seen = {session_id}
        while True:
            row = self._exec("SELECT parent_id FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None or not row[0] or row[0] in seen:
                return session_id
            session_id = str(row[0])
            seen.add(session_id)

    # ------------------------------------------------------------ project memory

    def memory_seen(self, workspace: str) -> tuple[str, dict[str, Any], dict[str, Any] | None] | None:
        """(session, memory at its start, memory at its end or None if it never closed)."""
        row = self._exec("SELECT session_id, base, final FROM memory_seen WHERE workspace = ?", (workspace,)).fetchone()
        if row is None:
            return None
        return str(row[0]), json.loads(row[1]), json.loads(row[2]) if row[2] is not None else None

    def memory_started(self, workspace: str, session_id: str, base: dict[str, Any]) -> None:
        self._exec("INSERT OR REPLACE INTO memory_seen (workspace, session_id, base, final, updated_at) "
                   "VALUES (?,?,?,NULL,?)", (workspace, session_id, json.dumps(base), time.time()))

    def memory_finished(self, workspace: str, session_id: str, final: dict[str, Any]) -> None:
        """Only the session that recorded the start closes the record (a later one owns it now)."""
        self._exec("UPDATE memory_seen SET final = ?, updated_at = ? WHERE workspace = ? AND session_id = ?",
                   (json.dumps(final), time.time(), workspace, session_id))
