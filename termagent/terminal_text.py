"""Make text safe to show a person: approval prompts and tool output.

Two jobs. `visible` is for what a person approves (a command, a path): every character
that could hide or reorder what they read (control codes, escape sequences, bidi
overrides, zero-width characters) is shown as an escape, with a warning, so a
right-to-left override cannot make a command read as something else.
`strip_terminal_controls` is for output a tool printed:
sequences that would move the cursor, clear the screen, set the clipboard (OSC 52) or
the title, or plant links are removed, so output cannot draw a fake prompt.
"""

from __future__ import annotations

_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A)) | {0x061C}
_INVISIBLE = frozenset(range(0x200B, 0x2010)) | {0xFEFF, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x180E,
                                                   0x2028, 0x2029}
_STRING_STARTS = frozenset("]PX^_")  # OSC, DCS, SOS, PM, APC after ESC
_C1_STRINGS = frozenset({0x90, 0x98, 0x9D, 0x9E, 0x9F})
_ST = "\x9c"


def _is_control(code: int) -> bool:
    return (code < 0x20 and code not in (0x09, 0x0A)) or code == 0x7F or 0x80 <= code <= 0x9F


def visible(text: str) -> tuple[str, list[str]]:
    """`text` with hidden or control characters escaped, and warnings naming what was found."""
    out: list[str] = []
    found: set[str] = set()
    for char in text:
        code = ord(char)
        if _is_control(code):
            out.append(f"\\x{code:02x}")
            found.add("escape" if code in (0x1B, 0x9B, 0x9D) else "control")
        elif code in _BIDI:
            out.append(f"<U+{code:04X}>")
            found.add("bidi")
        elif code in _INVISIBLE:
            out.append(f"<U+{code:04X}>")
            found.add("invisible")
        else:
            out.append(char)
    return "".join(out), _warnings(found)


def _warnings(found: set[str]) -> list[str]:
    names = [
        ("bidi", "contains bidi override characters that reorder the text"),
        ("invisible", "contains zero-width or invisible characters"),
        ("escape", "contains terminal escape sequences"),
        ("control", "contains control characters"),
    ]
    return [message for key, message in names if key in found]


def hidden_characters(text: str) -> list[str]:
    """Warnings only: what `visible` would escape in `text`."""
    if all(ord(char) < 0x7F and (char >= " " or char in "\t\n") for char in text):
        return []
    return visible(text)[1]


def strip_terminal_controls(text: str, keep_sgr: bool = False) -> str:
    """Remove escape sequences and control characters; keep plain colour (SGR) only if asked."""
    out: list[str] = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        code = ord(char)
        if char == "\x1b":
            index = _escape(text, index, out, keep_sgr)
        elif code == 0x9B:
            index = _csi(text, index + 1, index, out, keep_sgr=False)
        elif code in _C1_STRINGS:
            index = _control_string(text, index + 1)
        elif char == "\r":
            if text.startswith("\n", index + 1):
                out.append(char)
            index += 1
        elif _is_control(code):
            index += 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _escape(text: str, start: int, out: list[str], keep_sgr: bool) -> int:
    """Skip the sequence that begins with ESC at `start`; return where plain text resumes."""
    after = start + 1
    if after >= len(text):
        return after
    kind = text[after]
    if kind == "[":
        return _csi(text, after + 1, start, out, keep_sgr)
    if kind in _STRING_STARTS:
        return _control_string(text, after + 1)
    index = after
    while index < len(text) and 0x20 <= ord(text[index]) <= 0x2F:
        index += 1
    if index < len(text) and 0x30 <= ord(text[index]) <= 0x7E:
        return index + 1
    return index


def _csi(text: str, body: int, start: int, out: list[str], keep_sgr: bool) -> int:
    index = body
    while index < len(text) and 0x30 <= ord(text[index]) <= 0x3F:
        index += 1
    params_end = index
    while index < len(text) and 0x20 <= ord(text[index]) <= 0x2F:
        index += 1
    if index < len(text) and 0x40 <= ord(text[index]) <= 0x7E:
        params = text[body:params_end]
        if keep_sgr and text[index] == "m" and params_end == index and all(c in "0123456789;:" for c in params):
            out.append(text[start:index + 1])
        return index + 1
    return index


def _control_string(text: str, body: int) -> int:
    """OSC/DCS/SOS/PM/APC run to BEL or ST; an ESC that is not ST ends them too (as xterm does)."""
    index = body
    while index < len(text):
        char = text[index]
        if char in ("\x07", _ST):
            return index + 1
        if char == "\x1b":
            return index + 2 if text.startswith("\\", index + 1) else index
        index += 1
    return index
