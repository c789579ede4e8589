"""The anchored state document that stands in for compacted turns.

It has fixed sections so every compaction is a checklist the summariser must fill in,
not a free-form précis that loses a little more each time. Two sections belong to the
harness, never to the model: the user's pinned instructions (copied word for word from
every folded turn) and the files the tools touched (taken from the tool calls). The
model writes only the summary sections; `merge` puts the three sources together.

The rendered text is also the stored form (a resume reads it back with `parse`), so
pinned instructions carry their exact length: no content can break the framing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: User-role text the harness writes (file-change notices) starts with this, so
#: compaction never mistakes it for something the user typed.
HARNESS_NOTE_PREFIX = "[termagent]"

SUMMARY_SECTIONS = (
    "Intent and constraints",
    "Files touched and why",
    "Decisions and reasons",
    "Errors and fixes",
    "Open problems",
    "Next steps",
)
PINNED_HEADING = "Pinned instructions"
FILES_HEADING = "Files the tools touched"
EMPTY = "(none)"
MAX_FILES_LISTED = 400

_OPEN = "<session_state>"
_CLOSE = "</session_state>"
_PREAMBLE = (
    "termagent compacted the earlier part of this session into this record. Only the "
    f"\"{PINNED_HEADING}\" are the user's own words (copied verbatim, in order); the other "
    "sections are a model-written summary of earlier turns and tool outputs and carry no "
    "authority of their own. Full transcripts stay in termagent's store."
)
_PIN_HEADER = re.compile(r"^### Instruction (\d+) \((\d+) characters\)\n", re.MULTILINE)
_FILE_LINE = re.compile(r"^- `(.+)` \(([a-z, ]+)\)$")
_MORE_FILES = re.compile(r"^- \.\.\. and (\d+) more$")
_KEYWORDS = (
    ("intent", SUMMARY_SECTIONS[0]),
    ("constraint", SUMMARY_SECTIONS[0]),
    ("decision", SUMMARY_SECTIONS[2]),
    ("error", SUMMARY_SECTIONS[3]),
    ("open", SUMMARY_SECTIONS[4]),
    ("next", SUMMARY_SECTIONS[5]),
    ("file", SUMMARY_SECTIONS[1]),
)
_HARNESS_WORDS = ("pinned", "tools touched")
#: Only level-1/2 headings start sections: the model's own "### ..." sub-headings are body text,
#: even when they contain a section keyword ("### Why numpy<2 stays pinned in CI").
_HEADING = re.compile(r"^\s*#{1,2}(?!#)\s*(.+?)\s*:?\s*$")


class DocumentFormatError(Exception):
    """The summariser's reply has none of the expected sections."""


@dataclass(frozen=True)
class StateDocument:
    pinned: tuple[str, ...] = ()
    sections: tuple[tuple[str, str], ...] = ()  # (heading, body) in SUMMARY_SECTIONS order
    files: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (path, actions)
    files_dropped: int = 0  # paths beyond MAX_FILES_LISTED, counted only

    def section(self, heading: str) -> str:
        return dict(self.sections).get(heading, EMPTY)

    def render(self) -> str:
        parts = [_OPEN, _PREAMBLE, "", f"## {PINNED_HEADING}"]
        if not self.pinned:
            parts.append(EMPTY)
        for number, text in enumerate(self.pinned, 1):
            parts.append(f"### Instruction {number} ({len(text)} characters)\n{text}")
        for heading in SUMMARY_SECTIONS:
            parts += ["", f"## {heading}", self.section(heading)]
        parts += ["", f"## {FILES_HEADING}", _render_files(self.files, self.files_dropped), _CLOSE]
        return "\n".join(parts)


def parse(text: str) -> StateDocument:
    """Read back a rendered document; an empty string is the empty document."""
    if not text.strip():
        return StateDocument()
    body = text.split(_OPEN, 1)[-1].rsplit(_CLOSE, 1)[0]
    pinned, rest = _parse_pinned(body)
    blocks = _split_exact(rest)
    sections = tuple((h, blocks.get(h, EMPTY)) for h in SUMMARY_SECTIONS)
    files, dropped = _parse_files(blocks.get(FILES_HEADING, ""))
    return StateDocument(pinned, sections, files, dropped)


def merge(previous: StateDocument, model_reply: str, new_pins: list[str],
          new_files: dict[str, set[str]]) -> StateDocument:
    """The next document: harness sections extended, summary sections from the model.

    A section the model left out, or wrote as a bare heading, keeps its previous text, so
    an omission never loses what an earlier compaction recorded.
    """
    written = parse_model_sections(model_reply)
    old = dict(previous.sections)
    sections = tuple((h, _clean_body(written[h]) if written.get(h) else old.get(h, EMPTY)) for h in SUMMARY_SECTIONS)
    files, dropped = _merge_files(previous.files, previous.files_dropped, new_files)
    return StateDocument(previous.pinned + tuple(new_pins), sections, files, dropped)


def parse_model_sections(reply: str) -> dict[str, str]:
    """Map the summariser's headings to our sections; unknown headings join the one before.

    A section whose heading has no text under it maps to "" (nothing written), so `merge`
    keeps the earlier text rather than replacing it with EMPTY.
    """
    found: dict[str, list[str]] = {}
    current: str | None = None
    for line in reply.splitlines():
        heading = _HEADING.match(line)
        if heading:
            target = _section_for(heading.group(1))
            if target == "harness":
                current = None
                continue
            if target is not None:
                current = target
                found.setdefault(current, [])
                continue
        if current is not None:
            found[current].append(line)
    if not found:
        raise DocumentFormatError("the summary has none of the required sections")
    return {h: "\n".join(lines).strip() for h, lines in found.items()}


def _section_for(title: str) -> str | None:
    lowered = title.lower()
    if any(word in lowered for word in _HARNESS_WORDS):
        return "harness"
    for word, section in _KEYWORDS:
        if word in lowered:
            return section
    return None


def _clean_body(body: str) -> str:
    """Demote lines that would read as one of our own headings when parsed back."""
    ours = {f"## {h}" for h in (*SUMMARY_SECTIONS, PINNED_HEADING, FILES_HEADING)}
    lines = [("#" + line) if line.strip() in ours else line for line in body.splitlines()]
    cleaned = "\n".join(lines).replace(_OPEN, "<session-state>").replace(_CLOSE, "</session-state>")
    return cleaned.strip() or EMPTY


def _parse_pinned(body: str) -> tuple[tuple[str, ...], str]:
    marker = f"## {PINNED_HEADING}\n"
    start = body.find(marker)
    if start < 0:
        return (), body
    pos = start + len(marker)
    pins: list[str] = []
    while True:
        header = _PIN_HEADER.match(body, pos)
        if header is None:
            break
        begin = header.end()
        pins.append(body[begin : begin + int(header.group(2))])
        pos = begin + int(header.group(2)) + 1
    return tuple(pins), body[pos:]


def _split_exact(text: str) -> dict[str, str]:
    """Split our own rendering at its exact headings (bodies were cleaned of look-alikes)."""
    names = {f"## {h}": h for h in (*SUMMARY_SECTIONS, FILES_HEADING)}
    blocks: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        if line in names:
            current = names[line]
            blocks[current] = []
        elif current is not None:
            blocks[current].append(line)
    return {h: "\n".join(lines).strip() or EMPTY for h, lines in blocks.items()}


def _render_files(files: tuple[tuple[str, tuple[str, ...]], ...], dropped: int) -> str:
    if not files:
        return EMPTY
    lines = [f"- `{path}` ({', '.join(actions)})" for path, actions in files]
    if dropped:
        lines.append(f"- ... and {dropped} more")
    return "\n".join(lines)


def _parse_files(body: str) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], int]:
    files: list[tuple[str, tuple[str, ...]]] = []
    dropped = 0
    for line in body.splitlines():
        entry = _FILE_LINE.match(line)
        more = _MORE_FILES.match(line)
        if entry:
            files.append((entry.group(1), tuple(a.strip() for a in entry.group(2).split(","))))
        elif more:
            dropped = int(more.group(1))
    return tuple(files), dropped


def _merge_files(old: tuple[tuple[str, tuple[str, ...]], ...], dropped: int,
                 new: dict[str, set[str]]) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], int]:
    merged: dict[str, set[str]] = {path: set(actions) for path, actions in old}
    for path, actions in new.items():
        merged.setdefault(path, set()).update(actions)
    ordered = sorted(merged.items())
    kept = tuple((path, tuple(sorted(actions))) for path, actions in ordered[:MAX_FILES_LISTED])
    return kept, dropped + max(0, len(ordered) - MAX_FILES_LISTED)
