"""Permission rules: `tool` or `tool(pattern)` in allow / ask / deny lists.

What a pattern is matched against is the tool's declared `Subject`: `bash` patterns match
commands, file tools' patterns match workspace paths, `delegate` patterns match the agent
name. A rule set knows each tool's subject from the tools themselves (`subjects`).
Only `*` and `?` are wildcards (a `[` in a command is just a `[`).

Commands: a compound command is split into the simple commands it runs (the classifier
does it, so `$(..)`, `bash -c` strings and `sudo` prefixes count too). An allow rule must
cover every one of them; a deny or ask rule needs to hit only one. A `*` never spans a
shell operator or redirect (`; & | < > ( ) \\``, newline), so `bash(npm test*)` matches
`npm test -- -k x` but never `npm test; curl x` or `npm test && rm -rf ~`. A trailing
`:*` means "this command with any arguments": `bash(npm test:*)`.

Paths: `*` and `?` stay within one directory, `**` crosses them, a trailing `/` means the
whole folder, and a pattern without `/` matches that name in any folder (`.env`).
Deny and ask rules ignore case for paths; allow rules do not.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from termagent.config import ConfigError
from termagent.policy.classifier import classify
from termagent.protocol import Subject

_TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.*-]*$")  # `*` globs tool names: mcp__git__*
_OPERATOR_SPLIT = re.compile(r"([;&|<>()`\n\r])")
_CRUDE_SPLIT = re.compile(r"\$\(|<\(|>\(|[;&|\n\r()`]+")
_EXAMPLE = "expected tool or tool(pattern), e.g. bash(npm test*) or write_file(src/**)"


@dataclass(frozen=True)
class Rule:
    tool: str
    pattern: str | None = None  # None: every call of the tool
    source: str = ""
    exact: bool = False  # matches only the identical subject (an "allow for this session" answer)

    @property
    def text(self) -> str:
        return self.tool if self.pattern is None else f"{self.tool}({self.pattern})"



def parse_rule(text: str, source: str = "") -> Rule:
    """`bash(npm test*)` -> Rule("bash", "npm test*"); raises ConfigError naming the rule."""
    def fail(why: str) -> ConfigError:
        where = f" in {source}" if source else ""
        return ConfigError(f"invalid permission rule {text!r}{where}: {why}; {_EXAMPLE}")

    if not isinstance(text, str):
        raise fail("a rule must be a string")
    stripped = text.strip()
    if not stripped:
        raise fail("the rule is empty")
    pattern: str | None = None
    name = stripped
    if "(" in stripped or ")" in stripped:
        name, _, rest = stripped.partition("(")
        if not rest.endswith(")"):
            raise fail("missing closing parenthesis")
        pattern = rest[:-1].strip()
        if not pattern:
            raise fail("empty pattern (write the tool name alone to match every call)")
    name = name.strip()
    if not _TOOL_NAME.match(name):
        raise fail(f"{name!r} is not a tool name")
    return Rule(name.lower(), pattern, source)


@dataclass(frozen=True)
class Target:
    """One call as rules see it: the tool, what kind of subject it has and the subject itself."""

    tool: str
    args: dict[str, Any]
    kind: Subject | None = None
    subject: str | None = None  # None: patterns do not apply

    @property
    def is_command(self) -> bool:
        return self.kind is Subject.COMMAND

    @property
    def is_path(self) -> bool:
        return self.kind is not None and self.kind.is_path

    @property
    def key(self) -> str:
        """The subject as a rule would spell it (a command without its outer blanks)."""
        return (self.subject or "").strip() if self.is_command else (self.subject or "")


def target(tool: str, args: dict[str, Any], kind: Subject | None) -> Target:
    """A tool without a declared subject but with a `path` input (an MCP tool) is matched on
    that path, as a name."""
    if kind is None and "path" not in args:
        return Target(tool, args)
    value = args.get(kind.argument if kind is not None else "path")
    if kind is None or kind.is_path:
        return Target(tool, args, kind, normalize_path(value if isinstance(value, str) else ""))
    return Target(tool, args, kind, value if isinstance(value, str) else None)


def normalize_path(path: str) -> str:
    if not path:
        return "."
    return posixpath.normpath(path.replace("\\", "/"))


@dataclass(frozen=True)
class RuleSet:
    allow: tuple[Rule, ...] = ()
    ask: tuple[Rule, ...] = ()
    deny: tuple[Rule, ...] = ()
    subjects: Mapping[str, Subject | None] = field(default_factory=dict, compare=False)

    @classmethod
    def from_config(cls, allow: Iterable[str], ask: Iterable[str], deny: Iterable[str], source: str,
                    known_tools: Iterable[str] | None = None,
                    subjects: Mapping[str, Subject | None] | None = None) -> RuleSet:
        """Parse the three lists; an unparsable rule (or an unknown tool, if known_tools is given) is a ConfigError."""
        known = {name.lower() for name in known_tools} if known_tools is not None else None
        lists = []
        for kind, texts in (("allow", allow), ("ask", ask), ("deny", deny)):
            if isinstance(texts, str) or not isinstance(texts, Iterable):
                raise ConfigError(f"config error in {source}: permissions.{kind} must be a list of rules")
            rules = tuple(parse_rule(text, f"{source}, permissions.{kind}") for text in texts)
            for rule in rules:
                if known is not None and rule.tool not in known and not rule.tool.startswith("mcp_"):
                    raise ConfigError(f"invalid permission rule {rule.text!r} in {source}, permissions.{kind}: "
                                      f"unknown tool {rule.tool!r}; known tools: {', '.join(sorted(known))}")
            lists.append(rules)
        allow_rules, ask_rules, deny_rules = lists
        return cls(allow_rules, ask_rules, deny_rules, dict(subjects or {}))

    def combine(self, other: RuleSet) -> RuleSet:
        return RuleSet(self.allow + other.allow, self.ask + other.ask, self.deny + other.deny,
                       {**self.subjects, **other.subjects})

    def with_subjects(self, subjects: Mapping[str, Subject | None]) -> RuleSet:
        """The same rules, knowing more tools' subjects (MCP tools arrive after the rules)."""
        return RuleSet(self.allow, self.ask, self.deny, {**self.subjects, **subjects})

    def target(self, tool: str, args: dict[str, Any]) -> Target:
        return target(tool, args, self.subjects.get(tool))

    def denied_by(self, tool: str, args: dict[str, Any], parts: Sequence[str] | None = None,
                  plain: Sequence[str] | None = None) -> Rule | None:
        return _first_hit(self.deny, self.target(tool, args), parts, plain)

    def asked_by(self, tool: str, args: dict[str, Any], parts: Sequence[str] | None = None,
                 plain: Sequence[str] | None = None) -> Rule | None:
        return _first_hit(self.ask, self.target(tool, args), parts, plain)

    def allowed_by(self, tool: str, args: dict[str, Any], parts: Sequence[str] | None = None) -> tuple[Rule, ...]:
        """The allow rules that together cover the call; empty if any part is left uncovered."""
        return covering(self.allow, self.target(tool, args), parts)

    def literal_allow(self, tool: str, args: dict[str, Any]) -> Rule | None:
        """An allow rule whose pattern is, character for character, this command or path.

        Only such a rule unlocks a destructive command or a protected path: `bash` or
        `bash(git *)` never does, `bash(git push --force origin feature)` does for exactly that.
        """
        return literal_match(self.allow, self.target(tool, args))


def tool_matches(pattern: str, tool: str) -> bool:
    """A rule's tool name, where `*` matches any run of characters (MCP tools: `mcp__git__*`)."""
    return pattern in (tool, tool.lower()) or ("*" in pattern and fnmatch.fnmatchcase(tool.lower(), pattern))


def literal_match(rules: Iterable[Rule], call: Target) -> Rule | None:
    for rule in rules:
        if not tool_matches(rule.tool, call.tool) or rule.pattern is None:
            continue
        if rule.exact and rule.pattern == _exact_key(call):
            return rule
        if call.subject is not None and not rule.exact and _same(call, rule.pattern):
            return rule
    return None


def named_match(rules: Iterable[Rule], call: Target) -> Rule | None:
    """A path rule without wildcards that names this file (`read_file(.env)` names every `.env`)."""
    if call.subject is None or not call.is_path:
        return None
    for rule in rules:
        literal = rule.tool == call.tool and rule.pattern and not rule.exact and not set(rule.pattern) & set("*?")
        if literal and _path_matches(rule.pattern or "", call.subject, fold=False):
            return rule
    return None


def _same(call: Target, pattern: str) -> bool:
    if call.is_command:
        return pattern.strip() == call.key
    if call.is_path:
        return normalize_path(pattern) == call.subject
    return pattern == call.subject


def exact_rule(call: Target) -> Rule:
    """A session rule bound to this exact command, path or (for other tools) input."""
    return Rule(call.tool, _exact_key(call), "session", exact=True)


def _exact_key(call: Target) -> str:
    if call.subject is not None:
        return call.key
    return json.dumps(call.args, sort_keys=True, default=str)


def _first_hit(rules: Iterable[Rule], call: Target, parts: Sequence[str] | None,
               plain: Sequence[str] | None = None) -> Rule | None:
    """The first deny/ask rule hitting any piece of the call.

    Besides the source text of each simple command, a bash rule is tried on each program
    run as bash will see it: quotes removed, redirects and assignments left out, nested
    and wrapped commands included. So `bash(curl *)` still hits `curl x > out`, `curl 'x;'`
    and `sudo curl $(echo x)`; there a `*` may cover any character, since over-matching a
    deny rule only refuses more.
    """
    pieces: list[str] | None = None
    loose: list[str] = []
    for rule in rules:
        if not tool_matches(rule.tool, call.tool):
            continue
        if rule.pattern is None:
            return rule
        if pieces is None:
            pieces = _pieces(call, parts, crude=True)
            loose = _plain_pieces(call, plain)
        if any(_matches(rule, call, piece, fold=True) for piece in pieces):
            return rule
        if any(_loose_command_matches(rule.pattern, piece) for piece in loose):
            return rule
    return None


def _plain_pieces(call: Target, plain: Sequence[str] | None) -> list[str]:
    if not call.is_command or call.subject is None:
        return []
    if plain is None:
        plain = classify(call.subject).plain
    return [piece.strip() for piece in plain if piece.strip()]


def _loose_command_matches(pattern: str, command: str) -> bool:
    if pattern.endswith(":*"):
        base = pattern[:-2].rstrip()
        return _wildcard(base, command) or _wildcard(base + " *", command)
    return _wildcard(pattern.strip(), command)


def covering(rules: Sequence[Rule], call: Target, parts: Sequence[str] | None) -> tuple[Rule, ...]:
    mine = [rule for rule in rules if tool_matches(rule.tool, call.tool)]
    for rule in mine:
        if rule.pattern is None or (rule.exact and rule.pattern == _exact_key(call)):
            return (rule,)
    if call.subject is None:
        return ()
    patterned = [rule for rule in mine if not rule.exact]
    for rule in patterned:
        if _matches(rule, call, call.key, fold=False):
            return (rule,)
    if not call.is_command:
        return ()
    pieces = _pieces(call, parts, crude=False)
    used: list[Rule] = []
    for piece in pieces:
        hit = next((rule for rule in patterned if _matches(rule, call, piece, fold=False)), None)
        if hit is None:
            return ()
        if hit not in used:
            used.append(hit)
    return tuple(used)


def _pieces(call: Target, parts: Sequence[str] | None, crude: bool) -> list[str]:
    """What patterns are tried on: the simple commands (and, for deny/ask, the whole text too)."""
    subject = call.subject
    if subject is None:
        return []
    if not call.is_command:
        return [subject]
    if parts is None:
        parts = classify(subject).commands
    pieces = [part.strip() for part in parts if part.strip()]
    if crude:
        pieces.insert(0, subject.strip())
        if not parts:
            pieces += [piece.strip() for piece in _CRUDE_SPLIT.split(subject) if piece.strip()]
    return pieces


def _matches(rule: Rule, call: Target, subject: str, fold: bool) -> bool:
    pattern = rule.pattern or ""
    if call.is_command:
        return _command_matches(pattern, subject)
    if call.is_path:
        return _path_matches(pattern, subject, fold)
    return _name_regex(pattern).fullmatch(subject) is not None


def _command_matches(pattern: str, command: str) -> bool:
    """Glob match where wildcards never cover an operator: operators must line up one for one.

    Splitting at operators first keeps matching linear-time per piece (no regex
    backtracking on a long command) and makes "`*` never spans `;`" hold by construction.
    """
    if pattern.endswith(":*"):
        base = pattern[:-2].rstrip()
        return _command_matches(base, command) or _command_matches(base + " *", command)
    pattern_pieces = _OPERATOR_SPLIT.split(pattern)
    command_pieces = _OPERATOR_SPLIT.split(command)
    if len(pattern_pieces) != len(command_pieces):
        return False
    for index, (want, have) in enumerate(zip(pattern_pieces, command_pieces, strict=True)):
        if index % 2 == 1 and want != have:
            return False
        if index % 2 == 0 and not _wildcard(want, have):
            return False
    return True


def _wildcard(pattern: str, text: str) -> bool:
    """`*` and `?` glob over plain text, without backtracking blow-up."""
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] == "*":
            star, mark = p, t
            p += 1
        elif p < len(pattern) and pattern[p] in ("?", text[t]):
            p += 1
            t += 1
        elif star >= 0:
            p, mark = star + 1, mark + 1
            t = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def _name_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def _path_matches(pattern: str, path: str, fold: bool) -> bool:
    pattern = pattern.replace("\\", "/")
    while pattern.startswith("./"):
        pattern = pattern[2:]
    if pattern.endswith("/"):
        pattern += "**"
    regex = re.compile(_path_regex(pattern), re.IGNORECASE if fold else 0)
    if regex.fullmatch(path):
        return True
    return "/" not in pattern and regex.fullmatch(posixpath.basename(path)) is not None


def _path_regex(pattern: str) -> str:
    out = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        else:
            char = pattern[index]
            out.append("[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char))
            index += 1
    return "".join(out)
