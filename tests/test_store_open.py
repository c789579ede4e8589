"""Processes that open one new store at the same moment (eval workers, batch tasks, a TUI and a
hook) all get a working store: none fails with "database is locked" while another switches the
new file to WAL."""

from __future__ import annotations

import multiprocessing
import sqlite3
from multiprocessing.synchronize import Barrier
from pathlib import Path

from termagent.store.db import Store

PROCESSES = 6
ROUNDS = 20


def _open_and_write(path: str, start: Barrier, answers: multiprocessing.Queue[str]) -> None:
    start.wait()
    try:
        store = Store(Path(path))
        store.create_session(workspace="/w", model="m")
        store.close()
        answers.put("ok")
    except sqlite3.OperationalError as error:
        answers.put(str(error))


def test_processes_opening_a_new_store_together_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_number in range(ROUNDS):
        path = tmp_path / f"round-{round_number}.db"
        start = context.Barrier(PROCESSES)
        answers: multiprocessing.Queue[str] = context.Queue()
        workers = [context.Process(target=_open_and_write, args=(str(path), start, answers)) for _ in range(PROCESSES)]
        for worker in workers:
            worker.start()
        results = [answers.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join()
        assert results == ["ok"] * PROCESSES
        store = Store(path)
        assert len(store.sessions()) == PROCESSES
        store.close()
