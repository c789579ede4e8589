"""Split a unified diff into chunks a model can review whole, losing nothing.

Files are packed together up to a size limit; a file larger than the limit is split at
hunk boundaries (each part repeats the file's header so it reads on its own), and a
single hunk larger than the limit is cut at line boundaries with a marker. Every line
of the diff lands in some chunk, in order; a test checks that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHUNK_CHARS = 40_000
_FILE_START = re.compile(r"(?m)^(?=diff --git )")
CONTINUED = "[... this hunk continues in the next part ...]\n"


@dataclass(frozen=True)
class FileDiff:
    path: str
    text: str


@dataclass(frozen=True)
class Chunk:
    label: str
    files: tuple[str, ...]
    text: str


def split_files(diff: str) -> list[FileDiff]:
    return [FileDiff(path_of(part), part) for part in _FILE_START.split(diff) if part.strip()]


def path_of(file_diff: str) -> str:
    """The file's path: the new name, or the old one for a deletion."""
    old = new = ""
    for line in file_diff.splitlines()[:8]:
        if line.startswith("+++ "):
            new = line[4:].strip()
        elif line.startswith("--- "):
            old = line[4:].strip()
        elif line.startswith(("rename to ", "copy to ")):
            new = "b/" + line.split(" to ", 1)[1]
    for name in (new, old):
        if name and name != "/dev/null":
            return name[2:] if name[:2] in ("a/", "b/") else name
    header = file_diff.split("\n", 1)[0]
    return header.rsplit(" b/", 1)[-1] if " b/" in header else header[len("diff --git "):]


def file_parts(file_diff: FileDiff, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """The file's diff in pieces of at most about `limit` characters each."""
    if len(file_diff.text) <= limit:
        return [file_diff.text]
    lines = file_diff.text.splitlines(keepends=True)
    first_hunk = next((i for i, line in enumerate(lines) if line.startswith("@@")), len(lines))
    header = "".join(lines[:first_hunk])
    budget = max(limit - len(header) - len(CONTINUED), 1000)
    parts: list[str] = []
    current = ""
    for piece in _pieces(lines[first_hunk:], budget):
        if current and len(current) + len(piece) > budget:
            parts.append(header + current)
            current = ""
        current += piece
    if current or not parts:
        parts.append(header + current)
    return parts


def _pieces(lines: list[str], budget: int) -> list[str]:
    """Hunks, with any hunk over budget cut into line windows."""
    hunks: list[list[str]] = []
    for line in lines:
        if line.startswith("@@") or not hunks:
            hunks.append([])
        hunks[-1].append(line)
    pieces: list[str] = []
    for hunk in hunks:
        text = "".join(hunk)
        if len(text) <= budget:
            pieces.append(text)
            continue
        window = ""
        for line in hunk:
            if window and len(window) + len(line) > budget:
                pieces.append(window + CONTINUED)
                window = ""
            window += line
        pieces.append(window)
    return pieces


def make_chunks(diff: str, limit: int = MAX_CHUNK_CHARS) -> list[Chunk]:
    """Whole files packed together where they fit; big files alone, in parts."""
    chunks: list[Chunk] = []
    files: list[str] = []
    text = ""
    for file_diff in split_files(diff):
        parts = file_parts(file_diff, limit)
        if len(parts) == 1 and len(text) + len(parts[0]) <= limit:
            files.append(file_diff.path)
            text += parts[0]
            continue
        if text:
            chunks.append(_chunk(files, text))
            files, text = [], ""
        if len(parts) == 1:
            files, text = [file_diff.path], parts[0]
            continue
        for i, part in enumerate(parts, start=1):
            chunks.append(Chunk(f"{file_diff.path}, part {i} of {len(parts)}", (file_diff.path,), part))
    if text:
        chunks.append(_chunk(files, text))
    return chunks


def _chunk(files: list[str], text: str) -> Chunk:
    shown = ", ".join(files[:6]) + (f" and {len(files) - 6} more" if len(files) > 6 else "")
    return Chunk(f"file{'s' if len(files) != 1 else ''} {shown}", tuple(files), text)
