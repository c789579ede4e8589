"""Decoding files for the model and encoding edits back byte-for-byte faithfully.

The model always works in `\\n` text without a BOM. What the file had on disk (UTF-8
with or without BOM, UTF-16 with BOM, or any other single-byte encoding read as
latin-1, which round-trips every byte) and whether its lines end in CRLF is kept here,
so an edit changes exactly the bytes it meant to and nothing else.
"""

from __future__ import annotations

import codecs
import difflib
from dataclasses import dataclass

BINARY_SNIFF_BYTES = 8192
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class Decoded:
    """File text as on disk (line endings untouched) and how to turn it back into bytes."""

    text: str
    codec: str
    bom: bytes = b""

    @property
    def crlf(self) -> bool:
        """CRLF-dominant: the model's `\\n` is mapped to `\\r\\n` when editing such files."""
        crlf = self.text.count("\r\n")
        return crlf > 0 and crlf >= self.text.count("\n") - crlf

    def encode(self, text: str) -> bytes:
        try:
            return self.bom + text.encode(self.codec)
        except UnicodeEncodeError as exc:
            bad = text[exc.start : exc.end]
            raise UnencodableText(f"the file is {self.codec}-encoded and cannot hold {bad!r}") from None


class UnencodableText(ValueError):
    """New text has characters the file's encoding cannot represent."""


def bom_codec(data: bytes) -> tuple[bytes, str] | None:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return bom, codec
    return None


def is_binary(data: bytes) -> bool:
    """NUL in the first 8 KB means binary (UTF-16 with a BOM is text)."""
    return bom_codec(data) is None and b"\0" in data[:BINARY_SNIFF_BYTES]


def decode(data: bytes) -> Decoded:
    """Decode file bytes; never fails (latin-1 is the lossless fallback)."""
    found = bom_codec(data)
    if found is not None:
        bom, codec = found
        try:
            return Decoded(data[len(bom) :].decode(codec), codec, bom)
        except UnicodeDecodeError:
            pass
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        return Decoded(data.decode("latin-1"), "latin-1")


def to_model_lines(text: str) -> list[str]:
    """Lines split on LF only (as editors and grep count them), without CR terminators."""
    if not text:
        return []
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def match_variants(decoded: Decoded, old: str, new: str) -> list[tuple[str, str]]:
    """(old, new) pairs to try in order: CRLF-mapped first on CRLF files, as given first otherwise."""
    raw = (old, new)
    if "\r\n" not in decoded.text:
        return [raw]
    mapped = (_to_crlf(old), _to_crlf(new))
    if mapped == raw:
        return [raw]
    return [mapped, raw] if decoded.crlf else [raw, mapped]


def apply_newline_style(reference: Decoded | None, content: str) -> str:
    """Give new whole-file content the CRLF style of the file it replaces."""
    if reference is None or not reference.crlf or "\r\n" in content:
        return content
    return content.replace("\n", "\r\n")


def _to_crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


MAX_LINE_CHARS = 2000
MAX_DIFF_INPUT_CHARS = 2_000_000
MAX_DIFF_LINES = 4000


def number_lines(lines: list[str], first: int) -> list[str]:
    """`cat -n` style: right-aligned line number, a tab, the line (long lines cut with a marker)."""
    return [f"{first + i:>6}\t{cut_line(line)}" for i, line in enumerate(lines)]


def cut_line(line: str, limit: int = MAX_LINE_CHARS) -> str:
    if len(line) <= limit:
        return line
    return f"{line[:limit]}… [line cut: {len(line)} chars]"


def unified_diff(old: str, new: str, label: str, existed: bool = True) -> str:
    """A unified diff for front ends (never sent to the model); bounded in size."""
    if len(old) + len(new) > MAX_DIFF_INPUT_CHARS:
        return f"(diff of {label} omitted: file too large to diff)"
    old_lines = to_model_lines(old)
    new_lines = to_model_lines(new)
    fromfile = f"a/{label}" if existed else "/dev/null"
    lines = list(difflib.unified_diff(old_lines, new_lines, fromfile, f"b/{label}", lineterm=""))
    if len(lines) > MAX_DIFF_LINES:
        omitted = len(lines) - MAX_DIFF_LINES
        lines = lines[:MAX_DIFF_LINES] + [f"… {omitted} more diff lines"]
    return "\n".join(lines)
