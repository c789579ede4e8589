"""Which workspace paths the file watcher ignores: `.git` and whatever .gitignore excludes.

Git's rules: every .gitignore from the root down applies to paths below it, the deepest
file with a matching rule decides, and nothing under an ignored directory can be
re-included. Specs are cached per directory and re-read when a .gitignore changes, in a
bounded cache, so a huge tree never costs more than a fixed amount of memory here.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import pathspec

CACHE_DIRS = 1024
_Cached = tuple[int, "pathspec.GitIgnoreSpec | None"]  # (.gitignore mtime_ns or -1, its rules)


class IgnoreRules:
    def __init__(self, root: Path, cache_dirs: int = CACHE_DIRS) -> None:
        self._root = root
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._cache_dirs = cache_dirs
        self._lock = threading.Lock()  # watchdog's thread and the start-up thread both ask

    def ignored(self, rel: str, is_dir: bool = False) -> bool:
        """`rel` is a root-relative POSIX path."""
        with self._lock:
            return self._ignored([p for p in rel.split("/") if p], is_dir)

    def _ignored(self, parts: list[str], is_dir: bool) -> bool:
        if not parts or ".git" in parts:
            return bool(parts)
        for depth in range(1, len(parts)):
            if self._decide(parts[:depth], is_dir=True):
                return True
        return self._decide(parts, is_dir)

    def _decide(self, parts: list[str], is_dir: bool) -> bool:
        for depth in range(len(parts) - 1, -1, -1):
            spec = self._spec("/".join(parts[:depth]))
            if spec is None:
                continue
            sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
            result = spec.check_file(sub)
            if result.include is not None:
                return bool(result.include)
        return False

    def _spec(self, rel_dir: str) -> pathspec.GitIgnoreSpec | None:
        path = self._root / rel_dir / ".gitignore" if rel_dir else self._root / ".gitignore"
        try:
            st = os.stat(path, follow_symlinks=False)
            stamp = st.st_mtime_ns if os.path.isfile(path) and not os.path.islink(path) else -1
        except OSError:
            stamp = -1
        cached = self._cache.get(rel_dir)
        if cached is not None and cached[0] == stamp:
            self._cache.move_to_end(rel_dir)
            return cached[1]
        spec = _load(path) if stamp != -1 else None
        self._cache[rel_dir] = (stamp, spec)
        if len(self._cache) > self._cache_dirs:
            self._cache.popitem(last=False)
        return spec


def _load(path: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)
