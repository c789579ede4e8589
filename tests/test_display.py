"""Terminal safety (SECURITY-CASES "Terminal"): what a person's screen shows, checked in a real emulator (pyte)."""

from __future__ import annotations

import pyte
import pytest

from termagent.policy.classifier import classify
from termagent.terminal_text import strip_terminal_controls, visible


def screen_after(*chunks: str) -> pyte.Screen:
    screen = pyte.Screen(80, 10)
    stream = pyte.Stream(screen)
    for chunk in chunks:
        stream.feed(chunk)
    return screen


def shown(screen: pyte.Screen) -> str:
    return "\n".join(line.rstrip() for line in screen.display).strip()


FAKE_PROMPT = "Allow `rm -rf ~`? [y/N] y  (approved by user)"


@pytest.mark.parametrize("attack", [
    "build ok\r" + FAKE_PROMPT,
    "build ok\x1b[2K\r" + FAKE_PROMPT,
    "build ok\x1b[2J\x1b[H" + FAKE_PROMPT,
    "build ok\x1b[1A\x1b[2K" + FAKE_PROMPT,
    "build ok\x08\x08\x08\x08\x08\x08\x08\x08" + FAKE_PROMPT,
])
def test_output_cannot_erase_or_overwrite_what_the_person_saw(attack: str) -> None:
    screen = screen_after("$ termagent\r\n", strip_terminal_controls(attack))
    text = shown(screen)
    assert text.startswith("$ termagent")
    assert "build ok" in text
    raw = shown(screen_after("$ termagent\r\n", attack))
    assert "build ok" not in raw or "$ termagent" not in raw, "the attack should work on raw output"


def test_osc52_clipboard_write_is_removed() -> None:
    cleaned = strip_terminal_controls("a\x1b]52;c;cm0gLXJmIH4=\x07b\x1b]52;p;eA==\x1b\\c")
    assert cleaned == "abc"


def test_osc8_hyperlink_keeps_only_the_visible_text() -> None:
    cleaned = strip_terminal_controls("see \x1b]8;;https://evil.example/\x1b\\docs\x1b]8;;\x1b\\ here")
    assert cleaned == "see docs here"


def test_osc0_title_change_never_reaches_the_terminal() -> None:
    screen = screen_after(strip_terminal_controls("x\x1b]0;sudo password:\x07y\x1b]2;t\x1b\\z"))
    assert screen.title == ""
    assert shown(screen) == "xyz"


@pytest.mark.parametrize(("raw", "expected"), [
    ("a\x1bPq#0;2;0;0;0\x1b\\b", "ab"),  # DCS (sixel)
    ("a\x1b_Gf=100;payload\x1b\\b", "ab"),  # APC (kitty graphics)
    ("a\x1b^private\x1b\\b", "ab"),  # PM
    ("a\x1bXstring\x1b\\b", "ab"),  # SOS
    ("a\x9b2Jb", "ab"),  # 8-bit CSI
    ("a\x9d0;title\x9cb", "ab"),  # 8-bit OSC ended by 8-bit ST
    ("a\x90dcs\x9cb", "ab"),  # 8-bit DCS
    ("a\x85b\x9fapc\x9cc", "abc"),  # NEL and 8-bit APC
    ("a\x1b]0;never ends", "a"),  # unterminated OSC swallows the rest, not the screen
    ("a\x1b(Bb\x1b7c\x1bcd", "abcd"),  # charset, save cursor, full reset
    ("bell\x07 back\x08space\x00nul\x7f", "bell backspacenul"),
    ("line\r\nnext\rover", "line\r\nnextover"),
    ("tab\tnew\nline", "tab\tnew\nline"),
    ("trailing escape \x1b", "trailing escape "),
])
def test_control_sequences_are_stripped(raw: str, expected: str) -> None:
    assert strip_terminal_controls(raw) == expected


def test_colour_survives_only_when_asked() -> None:
    coloured = "\x1b[1;31merror\x1b[0m: \x1b[38;5;208mwarn\x1b[m"
    assert strip_terminal_controls(coloured) == "error: warn"
    assert strip_terminal_controls(coloured, keep_sgr=True) == coloured
    assert strip_terminal_controls("\x1b[31m\x1b[2J\x1b[?25lx", keep_sgr=True) == "\x1b[31mx"


def test_visible_escapes_controls_and_keeps_newlines_and_tabs() -> None:
    text, warnings = visible("echo hi\x1b[2J\r\tdone\n\x9b\x7f")
    assert text == "echo hi\\x1b[2J\\x0d\tdone\n\\x9b\\x7f"
    assert "contains terminal escape sequences" in warnings
    assert "contains control characters" in warnings


def test_plain_text_is_unchanged_and_has_no_warnings() -> None:
    assert visible("git commit -m 'café ✓'") == ("git commit -m 'café ✓'", [])


@pytest.mark.parametrize("char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
                                  "\u2069"])
def test_bidi_overrides_are_made_visible_with_a_warning(char: str) -> None:
    text, warnings = visible(f"ls {char}txt.exe")
    assert text == f"ls <U+{ord(char):04X}>txt.exe"
    assert any("contains bidi override" in w for w in warnings)


@pytest.mark.parametrize("char", ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\ufeff", "\u2060"])
def test_zero_width_characters_are_made_visible_with_a_warning(char: str) -> None:
    text, warnings = visible(f"src/ma{char}in.py")
    assert text == f"src/ma<U+{ord(char):04X}>in.py"
    assert any("zero-width" in w for w in warnings)


def test_a_command_with_a_bidi_override_needs_review() -> None:
    result = classify("echo safe \u202e; rm -rf build")
    assert result.verdict == "unknown"
    assert any("bidi" in reason for reason in result.reasons)
