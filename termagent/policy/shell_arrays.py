"""bashlex cannot parse bash array literals (`files=(a b c)`); rewrite them so it can.

Without this every array assignment was "unparseable" and asked, an over-refusal for
ordinary scripts. The rewrite keeps each element as an assignment word, so nothing
inside an element (a `$(..)`, backquotes) escapes classification.
"""

from __future__ import annotations

import re

_ARRAY_NAME = re.compile(r"(?:^|[\s;&|(])([A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=)$")


def fix_array_assignment(source: str, exc: Exception) -> str | None:
    """bashlex rejects `files=(a b "c d")`; rewrite it as `files=a files=b files="c d"`.

    Each element stays a word of an assignment, so substitutions in it (`x=($(cmd))`)
    are still visited and classified; nothing becomes a command that was not one.
    """
    position = getattr(exc, "position", None)
    if not isinstance(position, int) or source[position:position + 1] != "(":
        return None
    match = _ARRAY_NAME.search(source[:position])
    if match is None:
        return None
    found = _array_elements(source, position + 1)
    if found is None:
        return None
    end, elements = found
    name = match.group(1)
    replacement = " ".join(name + element for element in elements) if elements else name + "''"
    return source[:position - len(name)] + replacement + source[end + 1:]


def _array_elements(source: str, start: int) -> tuple[int, list[str]] | None:
    """The closing parenthesis of an array literal and its elements, quotes and $(..) kept whole."""
    elements: list[str] = []
    current: list[str] = []
    depth = 0
    index = start
    while index < len(source):
        char = source[index]
        if char in "'\"`":
            close = _quote_end(source, index)
            if close is None:
                return None
            current.append(source[index:close + 1])
            index = close + 1
            continue
        if char == "\\" and index + 1 < len(source):
            current.append(source[index:index + 2])
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                if current:
                    elements.append("".join(current))
                return index, elements
            depth -= 1
        elif char.isspace() and depth == 0:
            if current:
                elements.append("".join(current))
                current = []
            index += 1
            continue
        current.append(char)
        index += 1
    return None


def _quote_end(source: str, start: int) -> int | None:
    quote = source[start]
    index = start + 1
    while index < len(source):
        if source[index] == "\\" and quote != "'":
            index += 2
            continue
        if source[index] == quote:
            return index
        index += 1
    return None
