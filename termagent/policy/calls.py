"""What a command check receives (one program invocation) and where it reports.

Checks are small functions `check(call, sink)`: they read the argument vector, report
findings to the sink, and hand nested code (a `bash -c` string, a `find -exec` command)
back to the sink instead of recursing themselves, so depth limits live in one place.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Protocol

from termagent.policy.shell_parse import Redirect, SimpleCommand, Word

STDIN_FILES = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})


@dataclass(frozen=True)
class Call:
    """One program about to run: argv[0] is the program, as bash would resolve the words."""

    argv: tuple[Word, ...]
    piped_in: bool = False
    redirects: tuple[Redirect, ...] = ()
    upstream: tuple[SimpleCommand, ...] = ()
    via: str = ""  # "xargs" or "find -exec": more arguments arrive at run time
    cwd_moved: bool = False  # an earlier `cd` may have left the workspace

    @property
    def name(self) -> str:
        return posixpath.basename(self.argv[0].value) if self.argv else ""

    @property
    def args(self) -> tuple[Word, ...]:
        return self.argv[1:]

    @property
    def text(self) -> str:
        return " ".join(word.raw for word in self.argv)

    def stdin_code(self) -> tuple[str, bool] | None:
        """Text fed on stdin by a here-doc or here-string, and whether it is only known at run time."""
        for redirect in self.redirects:
            if redirect.heredoc is not None:
                dynamic = redirect.expands and any(mark in redirect.heredoc for mark in ("$", "`"))
                return redirect.heredoc, dynamic
            if redirect.op == "<<<" and redirect.target is not None:
                return redirect.target.value, redirect.target.dynamic
        return None

    def stdin_from_command(self) -> bool:
        """stdin is the output of another command: a pipe or `< <(..)`."""
        if self.piped_in:
            return True
        return any(r.op == "<" and r.target is not None and r.target.process_substitution for r in self.redirects)


class Sink(Protocol):
    def destructive(self, reason: str) -> None: ...

    def unknown(self, reason: str) -> None: ...

    def script(self, code: str, dynamic: bool, origin: str) -> None:
        """Nested shell code (a `bash -c` string, a here-doc fed to sh) to classify in turn."""

    def command(self, call: Call) -> None:
        """A nested program invocation (after `sudo`, inside `find -exec`) to classify in turn."""

    def exists(self, path: str) -> bool | None:
        """Whether `path` names an existing file; None when nobody can tell."""

    def left_workspace(self) -> None:
        """A `cd` may have left the workspace: relative paths no longer mean workspace paths."""


@dataclass
class Options:
    """GNU-style options of one invocation: flags anywhere before `--`, values attached or separate."""

    flags: list[str] = field(default_factory=list)
    values: dict[str, list[Word]] = field(default_factory=dict)
    operands: list[Word] = field(default_factory=list)
    hidden: list[Word] = field(default_factory=list)  # $X before `--`: may expand to an option such as -r

    def has(self, *names: str) -> bool:
        return any(name in self.flags for name in names)

    def value(self, *names: str) -> list[Word]:
        return [word for name in names for word in self.values.get(name, [])]


def scan_options(args: tuple[Word, ...] | list[Word], takes_value: str = "",
                 long_values: frozenset[str] = frozenset(), permute: bool = True) -> Options:
    """Split args into flags (`-rf` -> `-r`, `-f`), option values and operands.

    `takes_value` lists short options that take an argument; `long_values` the long
    ones that take it as the next word. With permute=False the first operand ends
    option parsing (as for commands whose operands are themselves a command).
    """
    found = Options()
    index = 0
    while index < len(args):
        word = args[index]
        text = word.value
        index += 1
        if text == "--":
            found.operands.extend(args[index:])
            break
        if text.startswith("--") and len(text) > 2:
            name, eq, attached = text.partition("=")
            found.flags.append(name)
            if eq:
                found.values.setdefault(name, []).append(Word(attached, attached, word.dynamic))
            elif name in long_values and index < len(args):
                found.values.setdefault(name, []).append(args[index])
                index += 1
            continue
        if text.startswith("-") and len(text) > 1 and not word.dynamic:
            index = _short_cluster(word, args, index, takes_value, found)
            continue
        found.operands.append(word)
        if word.dynamic:
            found.hidden.append(word)
        if not permute:
            found.operands.extend(args[index:])
            break
    return found


def _short_cluster(word: Word, args: tuple[Word, ...] | list[Word], index: int, takes_value: str,
                   found: Options) -> int:
    text = word.value
    for pos, char in enumerate(text[1:], start=1):
        flag = "-" + char
        found.flags.append(flag)
        if char in takes_value:
            rest = text[pos + 1:]
            if rest:
                found.values.setdefault(flag, []).append(Word(rest, rest))
            elif index < len(args):
                found.values.setdefault(flag, []).append(args[index])
                index += 1
            break
    return index


def report_hidden(opts: Options, sink: Sink, program: str, could_be: str) -> None:
    """A run-time argument where an option could stand: `F=-rf; rm $F ~` must not pass as `rm ~`."""
    if opts.hidden:
        sink.unknown(f"{program} argument {opts.hidden[0].raw} is known only at run time and could be {could_be}")


def normalized(path: str) -> str:
    """A path as the kernel would walk it, for prefix checks (`/tmp/../etc` is /etc)."""
    if not path:
        return path
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if path.startswith("/") else cleaned
