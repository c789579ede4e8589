"""Which files a search sees: .gitignore rules outside git, and glob patterns.

Inside a git work tree `git ls-files` answers (fast, and exactly git's rules); this module
covers plain directories: every `.gitignore` from the workspace root down applies, deeper
files win over shallower ones, later lines over earlier ones, and an ignored directory is
not entered (git cannot re-include files under an excluded directory either).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec

_Spec = tuple[str, "pathspec.GitIgnoreSpec"]  # (directory it lives in, root-relative; its rules)


def walk_files(root: Path, base: str) -> list[str]:
    """Root-relative POSIX paths of the non-ignored files under `base` ('' is the root).

    Symlinks (to files or directories) are listed as entries and never followed.
    """
    top = root / base if base else root
    levels: dict[str, list[_Spec]] = {}
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(top):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        inherited = levels.pop(rel_dir, None)
        level = (_ancestor_specs(root, base) if inherited is None else inherited) + _dir_spec(root, rel_dir)
        keep_dirs = []
        for name in sorted(dirnames):
            rel = _join(rel_dir, name)
            if name == ".git" or _ignored(level, rel, is_dir=True):
                continue
            if os.path.islink(os.path.join(dirpath, name)):
                found.append(rel)
            else:
                keep_dirs.append(name)
                levels[rel] = level
        dirnames[:] = keep_dirs
        found += [
            _join(rel_dir, n) for n in filenames if n != ".git" and not _ignored(level, _join(rel_dir, n), is_dir=False)
        ]
    return sorted(found)


def compile_glob(pattern: str) -> Callable[[str], bool]:
    """A matcher for base-relative paths. Without a '/', the pattern matches the file name
    anywhere (`*.py`); with one, the whole path (`src/**/*.ts`). `**` spans directories,
    `{a,b}` alternates, `[...]` is a character class."""
    pattern = pattern.strip().removeprefix("./")
    regex = _glob_regex(pattern)
    if "/" in pattern.rstrip("/"):
        return lambda path: regex.fullmatch(path) is not None
    return lambda path: regex.fullmatch(path.rsplit("/", 1)[-1]) is not None


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    depth = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                out.append("[^" + body[1:] + "]" if body[:1] in "!^" and body else "[" + body + "]")
                i = end
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    out.append(")" * depth)
    return re.compile("".join(out))


def _ancestor_specs(root: Path, base: str) -> list[_Spec]:
    """Rules from .gitignore files in the root and in every directory above `base`."""
    specs: list[_Spec] = []
    parts = [p for p in base.split("/") if p]
    for i in range(len(parts)):
        specs += _dir_spec(root, "/".join(parts[:i]))
    return specs


def _dir_spec(root: Path, rel_dir: str) -> list[_Spec]:
    path = root / rel_dir / ".gitignore" if rel_dir else root / ".gitignore"
    try:
        if not path.is_file() or path.is_symlink():
            return []
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    import pathspec

    return [(rel_dir, pathspec.GitIgnoreSpec.from_lines(lines))]


def _ignored(specs: list[_Spec], rel: str, is_dir: bool) -> bool:
    """Deepest .gitignore with a matching rule decides; no match means not ignored."""
    for spec_dir, spec in reversed(specs):
        if spec_dir and not rel.startswith(spec_dir + "/"):
            continue
        sub = rel[len(spec_dir) + 1 :] if spec_dir else rel
        result = spec.check_file(sub + "/" if is_dir else sub)
        if result.include is not None:
            return bool(result.include)
    return False


def _join(rel_dir: str, name: str) -> str:
    return f"{rel_dir}/{name}" if rel_dir else name
