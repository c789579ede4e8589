"""Turn a shell command string into the simple commands it would run.

The classifier and the rule engine must see what bash sees, not what a regex guesses,
so this walks bashlex's syntax tree: lists, pipelines, subshells, brace groups, loops,
function bodies, command and process substitutions. Every simple command comes out as a
record with its words (quotes removed, as bash would), their source text (so quoting
tricks stay visible), its redirects and whether its stdin is fed by a pipe.

bashlex cannot parse everything bash accepts (`[[ ]]`, `case`, `$(( ))`); those raise
ShellParseError and callers treat the command as unknown, never as safe.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from termagent.policy.shell_arrays import fix_array_assignment

MAX_PARSE_CHARS = 65_536
MAX_BRACE_WORDS = 256
MAX_WORDS = 20_000
_DYNAMIC_KINDS = frozenset({"parameter", "commandsubstitution", "processsubstitution"})
_HARMLESS_TARGETS = frozenset({"/dev/null"})
_PROMPT_EXPANSION = re.compile(r"@P(?:\}|$)")


class ShellParseError(Exception):
    """bashlex could not parse the text; the command must be treated as unknown."""


@dataclass(frozen=True)
class Word:
    value: str  # after quote removal, as bashlex reports it
    raw: str  # exactly as written in the source
    dynamic: bool = False  # holds $var, $(..), `..` or <(..): the real value is known only at run time

    @property
    def escaped(self) -> bool:
        """Quoted or backslash-escaped: written differently from what bash will see."""
        return self.raw != self.value or any(ch in self.raw for ch in "'\"\\")

    @property
    def process_substitution(self) -> bool:
        return self.raw.startswith(("<(", ">("))


@dataclass(frozen=True)
class Redirect:
    op: str  # '>', '>>', '<', '<<', '<<-', '<<<', '>&', '&>', '>|', ...
    target: Word | None  # None when the target is a file descriptor number
    heredoc: str | None = None  # body of a here-document, terminator removed
    expands: bool = False  # unquoted here-doc delimiter: $(..) in the body runs
    raw: str = ""

    @property
    def harmless(self) -> bool:
        """Redirects a rule pattern may ignore: fd duplication and /dev/null."""
        if self.target is None:
            return True
        return self.op in (">", ">>", "&>") and self.target.value in _HARMLESS_TARGETS and not self.target.dynamic


@dataclass(frozen=True)
class SimpleCommand:
    words: tuple[Word, ...]
    assignments: tuple[Word, ...] = ()
    redirects: tuple[Redirect, ...] = ()
    text: str = ""  # source text for rule matching, harmless redirects left out
    piped_in: bool = False  # stdin is fed by an earlier pipeline stage or >(..)
    upstream: tuple[SimpleCommand, ...] = ()  # earlier stages of the same pipeline


@dataclass(frozen=True)
class FunctionDef:
    name: str
    calls: tuple[str, ...]  # command names invoked in its body


@dataclass(frozen=True)
class Script:
    commands: tuple[SimpleCommand, ...]
    functions: tuple[FunctionDef, ...] = ()
    embedded_code: tuple[str, ...] = ()  # code hidden in ${x:-$(..)} that bashlex leaves unparsed
    prompt_expansions: tuple[str, ...] = ()  # ${x@P}: the variable's text is expanded like a prompt, $(..) runs


def parse(text: str) -> Script:
    """Parse `text`; raise ShellParseError if bashlex cannot or the text is too large."""
    if len(text) > MAX_PARSE_CHARS:
        raise ShellParseError(f"command is {len(text)} characters, more than the {MAX_PARSE_CHARS} parsed")
    source, trees = _parse_trees(text)
    walker = _Walker(source)
    try:
        for tree in trees:
            walker.visit(tree, _Ctx())
    except RecursionError:
        raise ShellParseError("nested too deeply") from None
    if walker.words > MAX_WORDS:
        raise ShellParseError(f"more than {MAX_WORDS} words after brace expansion")
    return Script(tuple(walker.commands), tuple(walker.functions), tuple(walker.embedded), tuple(walker.prompts))


def _parse_trees(text: str) -> tuple[str, list[Any]]:
    """bashlex, plus one fix: it wants a quoted here-doc delimiter (<<'EOF') quoted at the end too.

    bashlex builds its LR parse table at import (0.3-0.8 s of CPU here), so it is imported
    on the first command to parse, not by every session that never runs one."""
    import bashlex  # type: ignore[import-untyped]
    import bashlex.errors  # type: ignore[import-untyped]

    source = text
    for _ in range(32):
        try:
            return source, bashlex.parse(source)
        except bashlex.errors.ParsingError as exc:
            fixed = _fix_quoted_heredoc(source, str(exc)) or fix_array_assignment(source, exc)
            if fixed is None:
                raise ShellParseError(str(exc)) from None
            source = fixed
        except Exception as exc:  # noqa: BLE001 - bashlex raises many kinds; any failure means "unknown"
            raise ShellParseError(_describe(exc)) from None
    raise ShellParseError("too many here-documents")


_HEREDOC_WANTED = re.compile(r"delimited by end-of-file \(wanted \"(['\"])(.+?)\1\"\)")


def _fix_quoted_heredoc(source: str, message: str) -> str | None:
    match = _HEREDOC_WANTED.search(message)
    if match is None:
        return None
    quote, delimiter = match.group(1), match.group(2)
    lines = source.split("\n")
    for index, line in enumerate(lines[1:], start=1):
        if line.lstrip("\t") == delimiter:
            lines[index] = line[: len(line) - len(line.lstrip("\t"))] + quote + delimiter + quote
            return "\n".join(lines)
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    text = str(exc).split(",")[0].strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:160]


@dataclass(frozen=True)
class _Ctx:
    piped_in: bool = False
    upstream: tuple[SimpleCommand, ...] = ()


@dataclass
class _Walker:
    source: str
    commands: list[SimpleCommand] = field(default_factory=list)
    functions: list[FunctionDef] = field(default_factory=list)
    embedded: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    words: int = 0

    def visit(self, node: Any, ctx: _Ctx) -> None:
        kind = node.kind
        if kind == "command":
            self._command(node, ctx)
        elif kind == "pipeline":
            self._pipeline(node, ctx)
        elif kind == "function":
            self._function(node, ctx)
        elif kind in ("commandsubstitution", "processsubstitution"):
            feeds = kind == "processsubstitution" and self._slice(node).startswith(">(")
            self.visit(node.command, _Ctx(piped_in=feeds))
        elif kind == "parameter":
            self._parameter(node)
        elif kind == "redirect":
            self._loose_redirects([node], ctx)
        else:
            for child in _children(node):
                self.visit(child, ctx)
            if kind == "compound" and getattr(node, "redirects", None):
                self._loose_redirects(node.redirects, ctx)

    def _pipeline(self, node: Any, ctx: _Ctx) -> None:
        upstream = list(ctx.upstream)
        stage = 0
        for part in node.parts:
            if part.kind in ("pipe", "reservedword"):
                continue
            before = len(self.commands)
            self.visit(part, _Ctx(piped_in=ctx.piped_in or stage > 0, upstream=tuple(upstream)))
            upstream.extend(self.commands[before:])
            stage += 1

    def _function(self, node: Any, ctx: _Ctx) -> None:
        name = node.parts[0].word
        before = len(self.commands)
        for child in node.parts[1:]:
            self.visit(child, ctx)
        calls = tuple(cmd.words[0].value for cmd in self.commands[before:] if cmd.words)
        self.functions.append(FunctionDef(name, calls))

    def _parameter(self, node: Any) -> None:
        value = getattr(node, "value", "") or ""
        if any(mark in value for mark in ("$(", "`", "<(", ">(")):
            self.embedded.append(": " + value)
        if _PROMPT_EXPANSION.search(value):
            self.prompts.append("${" + value + "}")

    def _command(self, node: Any, ctx: _Ctx) -> None:
        words: list[Word] = []
        assignments: list[Word] = []
        redirects: list[Redirect] = []
        for part in node.parts:
            if part.kind == "word":
                words.extend(expand_braces(self._word(part)))
            elif part.kind == "assignment":
                assignments.append(self._word(part))
            elif part.kind == "redirect":
                redirects.append(self._redirect(part))
            self._visit_nested(part)
        self.words += len(words)
        text = _command_text(words, assignments, redirects)
        self.commands.append(SimpleCommand(tuple(words), tuple(assignments), tuple(redirects), text,
                                           ctx.piped_in, ctx.upstream))

    def _loose_redirects(self, nodes: list[Any], ctx: _Ctx) -> None:
        redirects = [self._redirect(node) for node in nodes]
        for node in nodes:
            self._visit_nested(node)
        text = _command_text([], [], redirects)
        self.commands.append(SimpleCommand((), (), tuple(redirects), text, ctx.piped_in, ctx.upstream))

    def _visit_nested(self, node: Any) -> None:
        """Substitutions inside words, assignments and redirect targets run too."""
        for child in _children(node):
            if child.kind in ("commandsubstitution", "processsubstitution", "parameter"):
                self.visit(child, _Ctx())
            else:
                self._visit_nested(child)

    def _word(self, node: Any) -> Word:
        dynamic = any(part.kind in _DYNAMIC_KINDS for part in _descendants(node))
        return Word(node.word, self._slice(node), dynamic)

    def _redirect(self, node: Any) -> Redirect:
        raw = self._slice(node)
        output = node.output
        target = self._word(output) if getattr(output, "kind", None) == "word" else None
        heredoc_node = getattr(node, "heredoc", None)
        if heredoc_node is None:
            return Redirect(node.type, target, raw=raw)
        body = heredoc_node.value.rsplit("\n", 1)[0] if "\n" in heredoc_node.value else ""
        expands = target is not None and not any(ch in target.raw for ch in "'\"\\")
        delimiter = target.raw if target is not None else ""
        return Redirect(node.type, target, body, expands, f"{node.type}{delimiter}\n{body}\n{delimiter}")

    def _slice(self, node: Any) -> str:
        start, end = node.pos
        return self.source[start:end]


def _command_text(words: list[Word], assignments: list[Word], redirects: list[Redirect]) -> str:
    pieces = [w.raw for w in assignments] + [w.raw for w in words]
    pieces += [r.raw for r in redirects if not r.harmless]
    return " ".join(pieces).strip()


def _children(node: Any) -> list[Any]:
    kids: list[Any] = []
    for attr in ("parts", "list"):
        value = getattr(node, attr, None)
        if isinstance(value, list):
            kids.extend(value)
    for attr in ("command", "output", "heredoc"):
        value = getattr(node, attr, None)
        if value is not None and hasattr(value, "kind") and node.kind not in ("commandsubstitution", "processsubstitution"):
            kids.append(value)
    return kids


def _descendants(node: Any) -> list[Any]:
    found: list[Any] = []
    stack = list(_children(node))
    while stack:
        current = stack.pop()
        found.append(current)
        if current.kind not in ("commandsubstitution", "processsubstitution"):
            stack.extend(_children(current))
    return found


class _TooMany(Exception):
    pass


_SEQUENCE = re.compile(r"^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])(?:\.\.(-?\d+))?$")


def expand_braces(word: Word) -> list[Word]:
    """`{rm,-rf,~}` is three words to bash; checks must see them. A word whose braces are all
    quoted is left alone, as bash does; otherwise quoting is not tracked, so more words come
    out than bash makes, never fewer. Past
    MAX_BRACE_WORDS the word is left whole and marked dynamic."""
    if word.dynamic or "{" not in word.value or not _unquoted_brace(word.raw):
        return [word]
    try:
        values = _expand(word.value, MAX_BRACE_WORDS)
    except _TooMany:
        values = None
    if values is None:
        return [Word(word.value, word.raw, True)]
    if values == [word.value]:
        return [word]
    return [Word(value, word.raw) for value in values]


def _unquoted_brace(raw: str) -> bool:
    """A `{` outside quotes: bash never brace-expands `'{a,b}'`, so an awk program stays one word."""
    quote = ""
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\" and quote != "'":
            index += 2
            continue
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "{":
            return True
        index += 1
    return False


def _expand(text: str, limit: int, depth: int = 0) -> list[str] | None:
    if depth > 12:
        raise _TooMany
    for start, char in enumerate(text):
        if char != "{":
            continue
        found = _brace_group(text, start)
        if found is None:
            continue
        end, alternatives = found
        results: list[str] = []
        for alternative in alternatives:
            expanded = _expand(text[:start] + alternative + text[end + 1:], limit, depth + 1)
            if expanded is None or len(results) + len(expanded) > limit:
                return None
            results.extend(expanded)
        return results
    return [text]


def _brace_group(text: str, start: int) -> tuple[int, list[str]] | None:
    """The closing brace and alternatives of an expansion starting at `start`, or None if literal."""
    depth = 0
    commas: list[int] = []
    for index in range(start, len(text)):
        char = text[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                inner = text[start + 1:index]
                if commas:
                    cuts = [start] + commas + [index]
                    return index, [text[a + 1:b] for a, b in itertools.pairwise(cuts)]
                sequence = _sequence(inner)
                return (index, sequence) if sequence is not None else None
        elif char == "," and depth == 1:
            commas.append(index)
    return None


def _sequence(inner: str) -> list[str] | None:
    match = _SEQUENCE.match(inner)
    if match is None:
        return None
    first, last, step_text = match.groups()
    step = abs(int(step_text)) if step_text else 1
    if first.lstrip("-").isdigit() != last.lstrip("-").isdigit() or step == 0:
        return None
    low, high = (int(first), int(last)) if first.lstrip("-").isdigit() else (ord(first), ord(last))
    if abs(high - low) // step + 1 > MAX_BRACE_WORDS:
        raise _TooMany
    values = range(low, high + (1 if high >= low else -1), step if high >= low else -step)
    return [str(v) if first.lstrip("-").isdigit() else chr(v) for v in values]
