"""Fan events out to every listener: the store's trace, front ends, tests."""

from __future__ import annotations

import sys
from typing import Callable

from termagent.protocol import Event

Listener = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._failed: set[Listener] = set()

    def listen(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, event: Event) -> None:
        """A failing listener (a closed pipe, a UI bug) must not break the loop or the others."""
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception as exc:  # reported once per listener, never raised into the core
                if listener not in self._failed:
                    self._failed.add(listener)
                    from termagent.console import clean

                    sys.stderr.write(clean(f"termagent: an event listener failed: {type(exc).__name__}: {exc}") + "\n")
