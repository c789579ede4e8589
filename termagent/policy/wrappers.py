"""Programs that run another program: `sudo rm -rf /` is judged as `rm -rf /`.

Each wrapper's options are listed, so its own option values are never mistaken for the
command it wraps. An option not in the list makes the whole invocation unknown: guessing
where the wrapped command starts is how `sudo --new-flag x rm -rf /` would slip through.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from termagent.policy.calls import Call, Sink
from termagent.policy.shell_parse import Word

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Wrapper:
    flags: str = ""  # short options without a value
    valued: str = ""  # short options with a value (attached or the next word)
    optional: str = ""  # short options whose value can only be attached (xargs -i, -l, -e)
    long_flags: frozenset[str] = frozenset()
    long_valued: frozenset[str] = frozenset()
    skip: int = 0  # operands before the command: timeout's duration, chroot's directory
    assignments: bool = False  # env: NAME=value words before the command
    numeric: bool = False  # nice -5
    script: str = ""  # option whose value is shell code (env -S, su -c, flock -c)
    joins: bool = False  # watch: the rest is joined into one shell command
    lookup: str = ""  # options that only look a name up (command -v)


def _f(*names: str) -> frozenset[str]:
    return frozenset(names)


WRAPPERS: dict[str, Wrapper] = {
    "env": Wrapper("i0v", "uCS", long_flags=_f("--ignore-environment", "--null", "--debug"),
                   long_valued=_f("--unset", "--chdir", "--split-string"), assignments=True, script="S"),
    "sudo": Wrapper("AbEHnPSsiKkVlBe", "uUgpChDrtTR",
                    long_flags=_f("--askpass", "--background", "--preserve-env", "--set-home", "--non-interactive",
                                  "--stdin", "--shell", "--login", "--reset-timestamp", "--remove-timestamp",
                                  "--validate", "--list", "--bell", "--edit"),
                    long_valued=_f("--user", "--group", "--prompt", "--chdir", "--host", "--close-from", "--role",
                                   "--type", "--command-timeout", "--other-user", "--chroot")),
    "doas": Wrapper("ns", "uC"),
    "pkexec": Wrapper(long_flags=_f("--disable-internal-agent", "--keep-cwd"), long_valued=_f("--user")),
    "sg": Wrapper("c", skip=1, joins=True),
    "nice": Wrapper("", "n", long_valued=_f("--adjustment"), numeric=True),
    "ionice": Wrapper("t", "cnp", long_flags=_f("--ignore"), long_valued=_f("--class", "--classdata", "--pid")),
    "timeout": Wrapper("v", "sk", long_flags=_f("--preserve-status", "--foreground", "--verbose"),
                       long_valued=_f("--signal", "--kill-after"), skip=1),
    "nohup": Wrapper(),
    "setsid": Wrapper("cfw", long_flags=_f("--ctty", "--fork", "--wait")),
    "command": Wrapper("pvV", lookup="vV"),
    "builtin": Wrapper(),
    "exec": Wrapper("cl", "a"),
    "time": Wrapper("pvaq", "of", long_flags=_f("--portability", "--verbose", "--append", "--quiet"),
                    long_valued=_f("--output", "--format")),
    "stdbuf": Wrapper("", "ioe", long_valued=_f("--input", "--output", "--error")),
    "chroot": Wrapper(long_flags=_f("--skip-chdir"), long_valued=_f("--userspec", "--groups"), skip=1),
    "taskset": Wrapper("apc", long_flags=_f("--all-tasks", "--pid", "--cpu-list"), skip=1),
    "unbuffer": Wrapper("p"),
    "chronic": Wrapper("ev"),
    "busybox": Wrapper(),
    "npx": Wrapper("yq", "pc", long_flags=_f("--yes", "--no", "--quiet", "--no-install", "--ignore-existing"),
                   long_valued=_f("--package", "--call"), script="c"),
    "bunx": Wrapper("", "p", long_flags=_f("--bun", "--silent"), long_valued=_f("--package")),
    "flock": Wrapper("sxunoFe", "wEc", long_flags=_f("--shared", "--exclusive", "--unlock", "--nonblock",
                                                      "--close", "--no-fork", "--verbose"),
                     long_valued=_f("--timeout", "--conflict-exit-code", "--command"), skip=1, script="c"),
    "watch": Wrapper("bcdegprtqwxh", "n", long_flags=_f("--beep", "--color", "--no-color", "--differences",
                                                      "--errexit", "--chgexit", "--precise", "--no-title",
                                                      "--no-wrap", "--exec", "--no-rerun"),
                     long_valued=_f("--interval", "--equexit", "--differences"), joins=True),
    "xargs": Wrapper("0rtpxo", "aIdELnPs", optional="ile",
                     long_flags=_f("--null", "--no-run-if-empty", "--verbose", "--interactive", "--exit",
                                   "--open-tty", "--eof", "--replace", "--max-lines"),
                     long_valued=_f("--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars",
                                    "--process-slot-var")),
}
_LONG_SCRIPT = {"env": "--split-string", "flock": "--command", "npx": "--call"}
_CHDIR = {"env": ("C", "--chdir"), "sudo": ("D", "--chdir")}
_SU = frozenset({"su", "runuser"})


@dataclass
class _Seen:
    values: dict[str, list[Word]] = dataclasses.field(default_factory=dict)
    flags: set[str] = dataclasses.field(default_factory=set)


def unwrap(call: Call, sink: Sink) -> Call | None:
    """The wrapped command, or None when there is none (or it went to the sink as a script)."""
    if call.name in _SU:
        return _su_command(call, sink)
    spec = WRAPPERS[call.name]
    seen = _Seen()
    index = _scan(call, spec, seen, sink)
    if index is None:
        return None
    rest = call.args[index:]
    script = seen.values.get(spec.script) or seen.values.get(_LONG_SCRIPT.get(call.name, ""))
    if script:
        extra = [word.raw for word in rest] if call.name == "env" else []
        sink.script(" ".join([script[0].value] + extra), script[0].dynamic, f"{call.name} -{spec.script}")
        return None
    if spec.lookup and seen.flags & set(spec.lookup):
        return None
    rest = rest[spec.skip:]
    if call.name == "flock" and len(rest) >= 2 and rest[0].value in ("-c", "--command"):
        sink.script(rest[1].value, rest[1].dynamic, "flock -c")
        return None
    if not rest:
        return None
    if spec.joins and "x" not in seen.flags and "--exec" not in seen.flags:
        sink.script(" ".join(word.value for word in rest), any(w.dynamic for w in rest), call.name)
        return None
    if call.name == "xargs":
        return _xargs_call(call, rest, seen)
    moved = call.cwd_moved or any(seen.values.get(name) for name in _CHDIR.get(call.name, ()))
    return dataclasses.replace(call, argv=tuple(rest), cwd_moved=moved)


def _scan(call: Call, spec: Wrapper, seen: _Seen, sink: Sink) -> int | None:
    args = call.args
    index = 0
    while index < len(args):
        word = args[index]
        value = word.value
        if word.dynamic or value == "-" or not value.startswith("-"):
            if spec.assignments and not word.dynamic and _ASSIGNMENT.match(value):
                index += 1
                continue
            return index
        if value == "--":
            return index + 1
        if value.startswith("--"):
            name, eq, attached = value.partition("=")
            if name in spec.long_valued:
                taken = Word(attached, attached, word.dynamic) if eq else (args[index + 1] if index + 1 < len(args) else None)
                if taken is not None:
                    seen.values.setdefault(name, []).append(taken)
                index += 1 if eq else 2
            elif name in spec.long_flags:
                seen.flags.add(name)
                if eq:
                    seen.values.setdefault(name, []).append(Word(attached, attached, word.dynamic))
                index += 1
            else:
                sink.unknown(f"unrecognised option {value} for {call.name}")
                return None
            continue
        if spec.numeric and value[1:].isdigit():
            index += 1
            continue
        step = _short(call, word, args, index, spec, seen, sink)
        if step is None:
            return None
        index += step
    return index


def _short(call: Call, word: Word, args: tuple[Word, ...], index: int, spec: Wrapper, seen: _Seen,
           sink: Sink) -> int | None:
    value = word.value
    for pos, char in enumerate(value[1:], start=1):
        rest = value[pos + 1:]
        if char in spec.optional:
            seen.values.setdefault(char, []).append(Word(rest or "{}", rest or "{}"))
            return 1
        if char in spec.valued:
            taken = Word(rest, rest) if rest else (args[index + 1] if index + 1 < len(args) else Word("", ""))
            seen.values.setdefault(char, []).append(taken)
            return 1 if rest else 2
        if char not in spec.flags:
            sink.unknown(f"unrecognised option -{char} for {call.name}")
            return None
        seen.flags.add(char)
    return 1


def _xargs_call(call: Call, rest: tuple[Word, ...], seen: _Seen) -> Call:
    """Arguments arrive on stdin: words holding the -I/-i placeholder, or an extra last word."""
    replace = [w.value for w in seen.values.get("I", []) + seen.values.get("--replace", []) + seen.values.get("i", [])]
    if "--replace" in seen.flags and not seen.values.get("--replace"):
        replace.append("{}")
    if replace:
        marks = [mark for mark in replace if mark]
        argv = tuple(Word(w.value, w.raw, w.dynamic or any(m in w.value for m in marks)) for w in rest)
    else:
        argv = tuple(rest) + (Word("<stdin>", "<stdin>", True),)
    return Call(argv, False, (), (), via="xargs")


def _su_command(call: Call, sink: Sink) -> Call | None:
    """su/runuser run a -c string through a shell; `runuser -u USER [--] CMD` runs CMD directly."""
    args = call.args
    for index, word in enumerate(args):
        value = word.value
        if value.startswith("--command="):
            code = Word(value.partition("=")[2], value.partition("=")[2], word.dynamic)
        elif (value in ("-c", "--command") or re.match(r"^-[a-zA-Z]*c$", value)) and index + 1 < len(args):
            code = args[index + 1]
        else:
            continue
        sink.script(code.value, code.dynamic, f"{call.name} -c")
        return None
    values = [word.value for word in args]
    if call.name != "runuser" or not ({"-u", "--user"} & set(values) or any(v.startswith("--user=") for v in values)):
        return None
    if "--" in values:
        rest = args[values.index("--") + 1:]
    else:
        at = next(i for i, v in enumerate(values) if v in ("-u", "--user") or v.startswith("--user="))
        rest = args[at + (1 if "=" in values[at] else 2):]
        while rest and rest[0].value.startswith("-"):
            rest = rest[1:]
    return dataclasses.replace(call, argv=tuple(rest)) if rest else None


def is_wrapper(name: str) -> bool:
    return name in WRAPPERS or name in _SU
