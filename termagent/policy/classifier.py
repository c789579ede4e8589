"""Is a shell command destructive? Judged from its syntax tree, never from a regex over the text.

`classify` parses the command with bashlex, visits every simple command it would run
(after `;`, `&&`, `|`, inside `$(..)`, subshells, function bodies, `bash -c` strings,
`find -exec`, `xargs`, `sudo`/`env`/`timeout` prefixes) and runs the checks for that
program. Verdicts: "destructive" (a known way to lose work), "unknown" (cannot tell:
unparseable, obfuscated, computed command names, nesting too deep) and "safe" (nothing
destructive found; the command still goes through the mode and the rules). Unknown is
never treated as safe, and no size or depth limit ever yields "safe".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from termagent.policy import (
    exec_checks,
    fs_checks,
    host_scope,
    infra_checks,
    tool_options,
)
from termagent.policy.calls import Call, Sink
from termagent.terminal_text import hidden_characters
from termagent.policy.git_rules import check_git
from termagent.policy.secrets import secret_file_reason
from termagent.policy.shell_parse import ShellParseError, SimpleCommand, Word, parse
from termagent.policy.sql_checks import SQL_CLIENTS, check_redis, check_sql
from termagent.policy.wrappers import is_wrapper, unwrap

MAX_DEPTH = 8  # nested scripts and wrappers; deeper is "unknown"
MAX_CALLS = 4000  # program invocations examined in one command; more is "unknown"

DANGEROUS_VARIABLES = frozenset({
    "LD_PRELOAD", "LD_AUDIT", "BASH_ENV", "ENV", "PROMPT_COMMAND", "GIT_SSH_COMMAND", "GIT_SSH", "GIT_PAGER",
    "PAGER", "GIT_EDITOR", "EDITOR", "VISUAL", "GIT_EXTERNAL_DIFF", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
    "GIT_EXEC_PATH", "GIT_ASKPASS", "SSH_ASKPASS", "PERL5OPT", "RUBYOPT", "NODE_OPTIONS", "GIT_PROXY_COMMAND",
    "SHELLOPTS", "BASHOPTS", "PS4", "LESSOPEN", "LESSCLOSE", "MANPAGER", "MANOPT", "BROWSER",
})
_DECLARERS = frozenset({"export", "declare", "typeset", "local", "readonly"})

Check = Callable[[Call, Sink], None]
CHECKS: dict[str, Check] = {
    "rm": fs_checks.check_rm,
    "rimraf": fs_checks.check_rimraf,
    "cd": fs_checks.check_cd,
    "pushd": fs_checks.check_cd,
    "at": exec_checks.check_shell_stdin,
    "batch": exec_checks.check_shell_stdin,
    "unlink": fs_checks.check_unlink,
    "chmod": fs_checks.check_recursive_owner,
    "chown": fs_checks.check_recursive_owner,
    "chgrp": fs_checks.check_recursive_owner,
    "find": fs_checks.check_find,
    "tee": fs_checks.check_tee,
    **{name: fs_checks.check_copy for name in ("cp", "mv", "install", "ln")},
    "kill": fs_checks.check_kill,
    "rsync": fs_checks.check_rsync,
    "git": check_git,
    "sed": exec_checks.check_sed,
    "source": exec_checks.check_source,
    ".": exec_checks.check_source,
    "eval": exec_checks.check_eval,
    "alias": exec_checks.check_alias,
    "trap": exec_checks.check_trap,
    "redis-cli": check_redis,
    **{name: exec_checks.check_awk for name in ("awk", "gawk", "mawk", "nawk")},
    **{name: exec_checks.check_shell for name in exec_checks.SHELLS},
    **{name: fs_checks.check_always for name in fs_checks.ALWAYS},
    **{name: check_sql for name in SQL_CLIENTS},
    **{name: infra_checks.check_deletion for name in infra_checks.DELETIONS},
    "ssh": infra_checks.check_ssh,
    "xxd": fs_checks.check_xxd,
}


@dataclass(frozen=True)
class Classification:
    verdict: str  # "safe" | "destructive" | "unknown"
    reasons: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()  # every simple command found, nested and unwrapped ones too
    plain: tuple[str, ...] = ()  # each program run, as its words after quote removal (no redirects, no assignments)


def classify(command: str, existing_paths: Callable[[str], bool] | None = None,
             host_workspace: str | None = None) -> Classification:
    """Classify one shell command. `existing_paths(path)` says whether a `>` target already exists.

    `host_workspace` is the workspace's absolute path when commands run unsandboxed on the
    host: then any write or delete outside it is destructive too.
    """
    analysis = _Analysis(existing_paths, host_workspace)
    hidden = hidden_characters(command.replace("\r\n", "\n"))
    if hidden:
        analysis.unknown("the command " + "; ".join(hidden))
    analysis.analyze(command)
    return analysis.result()


@dataclass
class _Analysis:
    """Walks a command and collects findings; the `Sink` the checks report to."""

    existing_paths: Callable[[str], bool] | None = None
    host_workspace: str | None = None
    destructive_reasons: list[str] = field(default_factory=list)
    unknown_reasons: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)
    depth: int = 0
    calls: int = 0
    cwd_moved: bool = False

    def result(self) -> Classification:
        verdict = "destructive" if self.destructive_reasons else "unknown" if self.unknown_reasons else "safe"
        return Classification(verdict, tuple(self.destructive_reasons + self.unknown_reasons),
                              tuple(dict.fromkeys(self.commands)), tuple(dict.fromkeys(self.plain)))

    # ---- Sink
    def destructive(self, reason: str) -> None:
        if reason not in self.destructive_reasons:
            self.destructive_reasons.append(reason)

    def unknown(self, reason: str) -> None:
        if reason not in self.unknown_reasons:
            self.unknown_reasons.append(reason)

    def left_workspace(self) -> None:
        self.cwd_moved = True

    def exists(self, path: str) -> bool | None:
        if self.existing_paths is None:
            return None
        try:
            return bool(self.existing_paths(path))
        except (OSError, ValueError):
            return True

    def script(self, code: str, dynamic: bool, origin: str) -> None:
        if dynamic:
            self.unknown(f"{origin} runs a command string built at run time")
        if self._enter():
            try:
                self.analyze(code)
            finally:
                self.depth -= 1

    def command(self, call: Call) -> None:
        if self._enter():
            try:
                self.commands.append(call.text)
                self._call(call)
            finally:
                self.depth -= 1

    # ---- walking
    def _enter(self) -> bool:
        if self.depth >= MAX_DEPTH:
            self.unknown("nested too deeply to analyse")
            return False
        self.depth += 1
        return True

    def analyze(self, text: str) -> None:
        if not text.strip():
            return
        try:
            script = parse(text)
        except ShellParseError as exc:
            self.unknown(f"could not parse the command ({exc})")
            return
        for function in script.functions:
            if function.name in function.calls:
                self.destructive(f"function {function.name} calls itself (fork-bomb shape)")
        for code in script.embedded_code:
            self.script(code, False, "parameter expansion")
        for expansion in script.prompt_expansions:
            self.unknown(f"{expansion} expands a variable like a prompt, running any $(..) stored in it")
        for simple in script.commands:
            self._simple(simple)

    def _simple(self, simple: SimpleCommand) -> None:
        if simple.text:
            self.commands.append(simple.text)
        for word in simple.assignments:
            self._assignment(word)
        fs_checks.check_redirects(simple.redirects, self)
        if self.host_workspace is not None:
            host_scope.check_redirects(simple.redirects, self, self.host_workspace, self.cwd_moved)
        if simple.words:
            self._call(Call(simple.words, simple.piped_in, simple.redirects, simple.upstream))

    def _moved(self, call: Call) -> Call:
        return call if call.cwd_moved or not self.cwd_moved else dataclasses.replace(call, cwd_moved=True)

    def _assignment(self, word: Word) -> None:
        name = word.value.split("=", 1)[0].rstrip("+")
        if name in DANGEROUS_VARIABLES or name.startswith("GIT_CONFIG_"):
            self.unknown(f"sets {name}, which makes programs run other code")

    def _call(self, call: Call) -> None:
        self.plain.append(" ".join(word.value for word in call.argv))
        if call.argv and "/" in call.argv[0].value:
            self.plain.append(" ".join([call.name] + [word.value for word in call.args]))
        self.calls += 1
        if self.calls > MAX_CALLS:
            self.unknown("too many commands to analyse")
            return
        if not self._name_known(call.argv[0], call.via):
            return
        call = self._moved(call)
        name = call.name
        if name in _DECLARERS or name == "env":
            for word in call.args:
                if "=" in word.value and not word.value.startswith("-"):
                    self._assignment(word)
        if is_wrapper(name):
            inner = unwrap(call, self)
            if inner is not None:
                self.command(inner)
            return
        check = CHECKS.get(name) or (fs_checks.check_always if name.startswith("mkfs") else None)
        if check is None and exec_checks.language(name) is not None:
            check = exec_checks.check_interpreter
        if check is not None:
            check(call, self)
        tool_options.check_options(call, self)
        self._secret_operands(call)
        if self.host_workspace is not None:
            host_scope.check_call(call, self, self.host_workspace)

    def _secret_operands(self, call: Call) -> None:
        """`cat .env`, `cp ~/.aws/credentials x`: the same secret-file read read_file asks for."""
        for word in call.args:
            reason = None if word.dynamic else secret_file_reason(word.value.partition("=")[2] or word.value)
            if reason:
                self.unknown(f"{call.name} {reason}")
                return

    def _name_known(self, word: Word, via: str) -> bool:
        """Report command names that hide what runs; False when the name cannot be known at all."""
        if word.dynamic:
            where = f" in {via}" if via else ""
            self.unknown(f"command name{where} comes from a variable or substitution ({word.raw})")
            return False
        if word.value in ("[", "[["):
            return True
        if any(char in word.value for char in "*?["):
            self.unknown(f"wildcard in command name ({word.raw})")
            return False
        if word.escaped:
            self.unknown(f"quoted or escaped command name ({word.raw})")
        return True
