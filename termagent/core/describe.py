"""Fitting a tool's own one-line gist into the width a header or a prompt has."""

from __future__ import annotations


def clip(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
