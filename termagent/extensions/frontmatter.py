"""The front matter of a Markdown file: YAML between `---` lines, then the body.

SKILL.md files written for other agents use real YAML (quoted strings, `>` folded
descriptions, lists), so a real parser reads them; it is imported only when a file is read.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 256 * 1024
_FENCE = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)(?:\r?\n)?^---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.S | re.M)


_PLAIN_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*):(?:[ \t]+(.*))?$")
_YAML_MARKS = frozenset("\"'[]{}>|&*!%@`-?,~")
_ITEM = re.compile(r"[^\s,(]+(?:\([^)]*\))?")  # `Bash(git add:*)` is one item


class FrontMatterError(ValueError):
    """Why a file cannot be used; the message starts with what is wrong, not where."""


def split(text: str, required: bool = True) -> tuple[dict[str, Any], str]:
    """(front matter, body). Without a front matter: an error, or ({}, text) when optional."""
    match = _FENCE.match(text)
    if match is None:
        if required:
            raise FrontMatterError("no front matter (a `---` line, `name:` and `description:`, then `---`)")
        return {}, text
    simple = _simple(match.group(1))
    return (simple, match.group(2)) if simple is not None else (_yaml(match.group(1)), match.group(2))


def _simple(block: str) -> dict[str, Any] | None:
    """Plain `key: value` lines read without YAML (most front matters are only that, and
    importing and running the YAML parser costs a session with 50 skills a third of a
    second); None when any line needs the real parser, which then decides."""
    data: dict[str, Any] = {}
    for line in block.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _PLAIN_LINE.match(line)
        if match is None or match.group(1) in data:
            return None
        value = (match.group(2) or "").strip()
        if value and (value[0] in _YAML_MARKS or ": " in value or " #" in value or value.endswith(":")):
            return None
        data[match.group(1)] = value or None
    return data


def _yaml(block: str) -> dict[str, Any]:
    import yaml  # type: ignore[import-untyped]

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(block, Loader=loader) if block.strip() else {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (front matter line {where.line + 1})" if where is not None else ""
        raise FrontMatterError(f"front matter is not valid YAML{line}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise FrontMatterError("front matter must be `key: value` lines")
    return {str(key): value for key, value in data.items()}


def read_text(path: Path, follow_links: bool) -> str:
    """A regular file of at most MAX_FILE_BYTES as text; OSError or FrontMatterError otherwise.

    Project files are opened without following a link (a repository's link could point at
    any file of the person's); FIFOs and devices are refused before a read can block."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise FrontMatterError("not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise FrontMatterError(f"{info.st_size:,} bytes, over the {MAX_FILE_BYTES:,} byte limit")
        data = handle.read(MAX_FILE_BYTES + 1)
    return data.decode("utf-8", errors="replace")


def text_field(data: dict[str, Any], key: str, required: bool = False) -> str:
    """A string value, stripped; numbers are accepted as text, other types are an error."""
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise FrontMatterError(f"front matter needs `{key}`")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FrontMatterError(f"`{key}` must be text, got {type(value).__name__}")
    return " ".join(str(value).split())


def list_field(data: dict[str, Any], key: str) -> tuple[str, ...]:
    """A list given as YAML list, or as one string split on commas and spaces (both are in use)."""
    value = data.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(match.group(0) for match in _ITEM.finditer(value))
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip())
    raise FrontMatterError(f"`{key}` must be a list of names")


def flag_field(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return value.strip().lower() in ("true", "yes")
    raise FrontMatterError(f"`{key}` must be true or false")
