"""Checks for programs that run code they are given: shells, interpreters, eval, source, awk, sed.

Shell code handed to a shell (`bash -c`, a here-doc fed to `sh`) goes back to the
classifier as a nested script. Code for other languages is not parsed; a short list of
their process-spawning and file-deleting calls marks it unknown, so a person looks.
Anything piped into a shell or interpreter is destructive: that is `curl | sh`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from termagent.policy.calls import STDIN_FILES, Call, Sink, scan_options
from termagent.policy.shell_parse import Word

MAX_SCRIPT_CHECK = 4096  # longer sed/awk programs are not pattern-checked (cost), but reported
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "rbash", "yash", "posh", "csh", "tcsh"})
_SHELL_VALUED = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})


@dataclass(frozen=True)
class Lang:
    code: str  # short options whose value is program text
    valued: str  # short options taking some other value
    danger: re.Pattern[str]
    long_code: frozenset[str] = frozenset()
    inplace: bool = False  # -i edits files in place
    module: str = ""  # option that runs a named module, ending option parsing


_PY = Lang("c", "WXm", re.compile(
    r"\b(os\.(system|popen|exec\w*|spawn\w*|remove|unlink|rmdir|removedirs|kill)|subprocess|shutil\.rmtree|rmtree"
    r"|pty\.spawn|__import__|exec\s*\(|eval\s*\(|compile\s*\(|unlink\s*\(|ctypes)"), module="m")
_PERL = Lang("eE", "MmIxlCdD", re.compile(r"\b(system|exec|unlink|rmtree|remove_tree|qx|kill|fork|eval)\b|`|\bopen\b[^;]*\|"),
             inplace=True)
_RUBY = Lang("e", "rICEFxKTW", re.compile(
    r"\b(system|exec|spawn|popen\d?|FileUtils|File\.(delete|unlink)|Dir\.(rmdir|delete)|Process\.kill|fork|eval)\b|%x|`"),
    inplace=True)
_NODE = Lang("ep", "r", re.compile(
    r"child_process|\bexecSync\b|\bexecFileSync\b|\bspawn|\bexec\s*\(|\brmSync\b|\bunlinkSync\b|\brmdirSync\b"
    r"|\bfs\.(rm|unlink|rmdir)|\beval\s*\(|Function\s*\(|process\.(kill|binding)"),
    long_code=frozenset({"--eval", "--print"}))
_PHP = Lang("r", "fcdBREF", re.compile(r"\b(system|exec|shell_exec|passthru|popen|proc_open|unlink|rmdir|eval|pcntl_exec)\b|`"))
_LUA = Lang("e", "l", re.compile(r"os\.(execute|remove)|io\.popen|loadstring|\bload\s*\("))
LANGS = {"perl": _PERL, "ruby": _RUBY, "node": _NODE, "nodejs": _NODE, "php": _PHP, "lua": _LUA, "luajit": _LUA}
_PY_NAME = re.compile(r"^(python|pypy)[0-9.]*$")


def language(name: str) -> Lang | None:
    return _PY if _PY_NAME.match(name) else LANGS.get(name)


def check_shell(call: Call, sink: Sink) -> None:
    mode, payload = _shell_mode(call.args)
    if mode == "string":
        if payload is None:
            sink.unknown(f"{call.name} -c without a command string")
        else:
            sink.script(payload.value, payload.dynamic, f"{call.name} -c")
    elif mode == "script" and payload is not None and payload.value not in STDIN_FILES:
        if payload.process_substitution:
            sink.destructive(f"{call.name} runs the output of another command as a script")
        elif payload.dynamic:
            sink.unknown(f"{call.name} argument {payload.raw} is known only at run time and could be -c")
    else:
        _shell_stdin(call, sink)


def _shell_mode(args: tuple[Word, ...]) -> tuple[str, Word | None]:
    saw_c = reads_stdin = False
    index = 0
    while index < len(args) and not args[index].dynamic:
        value = args[index].value
        if value in _SHELL_VALUED:
            index += 2
            continue
        if value.startswith("--command"):
            _, eq, attached = value.partition("=")
            return "string", Word(attached, attached) if eq else (args[index + 1] if index + 1 < len(args) else None)
        if value in ("-", "--"):
            index += 1
            break
        if value.startswith("--"):
            index += 1
            continue
        if len(value) > 1 and value[0] in "-+":
            saw_c = saw_c or (value[0] == "-" and "c" in value[1:])
            reads_stdin = reads_stdin or (value[0] == "-" and "s" in value[1:])
            index += 2 if ("o" in value[1:] or "O" in value[1:]) else 1
            continue
        break
    operands = args[index:]
    if saw_c:
        return "string", operands[0] if operands else None
    if reads_stdin or not operands:
        return "stdin", None
    return "script", operands[0]


def check_shell_stdin(call: Call, sink: Sink) -> None:
    """at/batch: commands to run later arrive on stdin, like a shell's."""
    _shell_stdin(call, sink)


def _shell_stdin(call: Call, sink: Sink) -> None:
    if call.stdin_from_command():
        sink.destructive(f"pipes data into a shell ({call.name})")
        return
    fed = call.stdin_code()
    if fed is not None:
        sink.script(fed[0], fed[1], f"here-document fed to {call.name}")


def check_interpreter(call: Call, sink: Sink) -> None:
    lang = language(call.name)
    if lang is None:
        return
    codes, inplace, script = _scan_interpreter(call.args, lang)
    if inplace:
        sink.destructive(f"{call.name} -i edits files in place")
    for code in codes:
        _inline_code(call.name, code.value, code.dynamic, lang, sink)
    if codes:
        return
    if script is not None and script.value not in STDIN_FILES:
        if script.process_substitution:
            sink.destructive(f"{call.name} runs the output of another command")
        elif script.dynamic:
            sink.unknown(f"{call.name} argument {script.raw} is known only at run time and could be an option")
        return
    if call.stdin_from_command():
        sink.destructive(f"pipes data into an interpreter ({call.name})")
        return
    fed = call.stdin_code()
    if fed is not None:
        _inline_code(call.name, fed[0], fed[1], lang, sink)


def _scan_interpreter(args: tuple[Word, ...], lang: Lang) -> tuple[list[Word], bool, Word | None]:
    codes: list[Word] = []
    inplace = False
    index = 0
    while index < len(args):
        word = args[index]
        value = word.value
        index += 1
        if value == "-" or not value.startswith("-") or word.dynamic:
            return codes, inplace, (None if codes else word)
        if value == "--":
            return codes, inplace, (args[index] if index < len(args) and not codes else None)
        if value.startswith("--"):
            name, eq, attached = value.partition("=")
            if name in lang.long_code:
                codes.append(Word(attached, attached) if eq else args[index] if index < len(args) else Word("", ""))
                index += 0 if eq else 1
            continue
        for pos, char in enumerate(value[1:], start=1):
            rest = value[pos + 1:]
            if char == "i" and lang.inplace:
                inplace = True
                break
            if char in lang.code or char in lang.valued or char == lang.module:
                taken = Word(rest, rest) if rest else (args[index] if index < len(args) else Word("", ""))
                index += 0 if rest else 1
                if char in lang.code:
                    codes.append(taken)
                if char == lang.module:
                    return codes, inplace, taken
                break
    return codes, inplace, None


def _inline_code(name: str, code: str, dynamic: bool, lang: Lang, sink: Sink) -> None:
    if dynamic:
        sink.unknown(f"{name} code built at run time")
        return
    match = lang.danger.search(code)
    if match:
        sink.unknown(f"inline {name} code can run commands or delete files ({match.group(0).strip()})")


def check_source(call: Call, sink: Sink) -> None:
    if not call.args:
        return
    target = call.args[0]
    if target.process_substitution:
        sink.destructive(f"{call.name} runs the output of another command")
    elif target.value in STDIN_FILES:
        if call.stdin_from_command():
            sink.destructive(f"{call.name} runs piped input")
        elif (fed := call.stdin_code()) is not None:
            sink.script(fed[0], fed[1], f"here-document fed to {call.name}")
    elif target.dynamic:
        sink.unknown(f"{call.name} of a file named at run time")


def check_eval(call: Call, sink: Sink) -> None:
    sink.destructive("eval runs a string as shell code")
    if call.args:
        sink.script(" ".join(word.value for word in call.args), any(w.dynamic for w in call.args), "eval")


def check_alias(call: Call, sink: Sink) -> None:
    if any("=" in word.value for word in call.args):
        sink.unknown("alias can make a harmless-looking name run anything")


def check_trap(call: Call, sink: Sink) -> None:
    args = [word for word in call.args if word.value != "--"]
    if args and not args[0].value.startswith("-"):
        sink.script(args[0].value, args[0].dynamic, "trap")


_AWK_EXEC = re.compile(r"system\s*\(|\|\s*getline|\|&|\bprintf?\b[^;{}]*\|")
_AWK_WRITE = re.compile(r"\bprintf?\b[^;{}]*>")


def check_awk(call: Call, sink: Sink) -> None:
    opts = scan_options(call.args, takes_value="FvfiEl",
                        long_values=frozenset({"--file", "--include", "--assign", "--field-separator", "--exec"}))
    if any(word.value == "inplace" for word in opts.value("-i", "--include")):
        sink.destructive(f"{call.name} -i inplace edits files in place")
    if opts.has("-f", "-E", "--file", "--exec") or not opts.operands:
        return
    program = opts.operands[0]
    if program.dynamic:
        sink.unknown(f"{call.name} program built at run time")
    elif len(program.value) > MAX_SCRIPT_CHECK:
        sink.unknown(f"{call.name} program too long to check")
    elif _AWK_EXEC.search(program.value):
        sink.destructive(f"{call.name} program runs shell commands (system() or a pipe)")
    elif _AWK_WRITE.search(program.value):
        sink.unknown(f"{call.name} program writes to files (print > file)")


_SED_EXEC_CMD = re.compile(r"(?:^|[;\n{}])\s*(?:\d+|\$|/[^/]*/)?(?:,\s*(?:\d+|\$|/[^/]*/))?\s*!?\s*[ewW](?:\s|;|$)")
_SED_SUBST = re.compile(r"s(.)(?:\\.|(?!\1).)*\1(?:\\.|(?!\1).)*\1([a-zA-Z0-9]*)")


def check_sed(call: Call, sink: Sink) -> None:
    opts = scan_options(call.args, takes_value="efl",
                        long_values=frozenset({"--expression", "--file", "--line-length"}))
    if opts.has("-i", "--in-place"):
        sink.destructive("sed -i edits files in place")
    elif opts.hidden:
        sink.unknown(f"sed argument {opts.hidden[0].raw} is known only at run time and could be -i")
    scripts = opts.value("-e", "--expression")
    if not scripts and not opts.has("-f", "--file"):
        scripts = opts.operands[:1]
    for script in scripts:
        if script.dynamic:
            sink.unknown("sed script built at run time")
        elif len(script.value) > MAX_SCRIPT_CHECK:
            sink.unknown("sed script too long to check")
        elif _SED_EXEC_CMD.search(script.value) or any(set(m.group(2)) & set("ewW") for m in _SED_SUBST.finditer(script.value)):
            sink.unknown("sed script runs commands or writes files (e/w)")
