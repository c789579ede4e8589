"""git: the sub-commands that lose work or rewrite history, and the options that run programs.

Global options are skipped the way git skips them (`-C dir`, `--git-dir=..`), so
`git -C x push -f` is still a force push. `-c key=value` is checked on its own: a pager,
editor, ssh command, filter or `!` alias set there makes git run any program.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

from termagent.policy.calls import Call, Sink, report_hidden, scan_options
from termagent.policy.shell_parse import Word

_GLOBAL_VALUED = frozenset({"-C", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--list-cmds",
                            "--attr-source"})
_EXEC_KEYS = (
    "core.pager", "core.editor", "core.sshcommand", "core.fsmonitor", "core.hookspath", "core.askpass",
    "core.gitproxy", "core.alternaterefscommand", "diff.external", "diff.*.textconv", "diff.*.command",
    "filter.*", "merge.*.driver", "sequence.editor", "credential.helper", "credential.*.helper", "gpg.program",
    "gpg.*.program", "uploadpack.packobjectshook", "remote.*.uploadpack", "remote.*.receivepack", "include.path",
    "includeif.*", "pager.*", "interactive.difffilter", "browser.*.cmd", "man.*.cmd", "web.browser",
    "protocol.*.allow", "receive.procreceiverefs", "ssh.variant",
)
_RUNS_PROGRAM = frozenset({"--upload-pack", "--receive-pack", "--exec"})


def check_git(call: Call, sink: Sink) -> None:
    args = call.args
    index = 0
    while index < len(args) and args[index].value.startswith("-") and not args[index].dynamic:
        name, eq, attached = args[index].value.partition("=")
        if name == "-c":
            if index + 1 < len(args):
                _check_config(args[index + 1], sink, "git -c")
            index += 2
            continue
        if name == "--config-env":
            key = (attached if eq else (args[index + 1].value if index + 1 < len(args) else "")).split("=")[0]
            _check_config(Word(key + "=<environment>", key), sink, "git --config-env")
        elif name == "--exec-path" and eq:
            sink.unknown("git --exec-path runs git helpers from a chosen directory")
        index += 1 if eq or name not in _GLOBAL_VALUED | {"--config-env"} else 2
    if index >= len(args):
        return
    sub, rest = args[index], args[index + 1:]
    if sub.dynamic:
        sink.unknown("git sub-command chosen at run time")
        return
    if any(word.value.startswith("ext::") for word in rest):
        sink.destructive("git ext:: transport runs a command")
    checker = SUBCOMMANDS.get(sub.value)
    if checker is not None:
        checker(rest, sink)


def exec_key(key: str) -> bool:
    """Config keys whose value is a program git will run."""
    key = key.lower()
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in _EXEC_KEYS)


def _check_config(setting: Word, sink: Sink, how: str) -> None:
    if setting.dynamic:
        sink.unknown(f"{how} with a setting chosen at run time")
        return
    key, _, value = setting.value.partition("=")
    if key.lower().startswith("alias."):
        if value.startswith("!"):
            sink.destructive(f"{how} {key}='!..' defines an alias that runs a shell command")
        else:
            sink.unknown(f"{how} {key} can give a dangerous command a harmless name")
    elif exec_key(key):
        sink.destructive(f"{how} {key} makes git run {value or 'a program'!r}")


def _push(args: tuple[Word, ...], sink: Sink) -> None:
    opts = scan_options(args, takes_value="o", long_values=frozenset({"--repo", "--push-option"} | _RUNS_PROGRAM))
    if opts.has(*_RUNS_PROGRAM):
        sink.destructive("git push --receive-pack runs a chosen program")
    remote = opts.operands[0].raw if opts.operands else "(default)"
    refspecs = [word.raw for word in opts.operands[1:]]
    where = f"remote {remote}, refspec {' '.join(refspecs) or '(current branch)'}"
    forced = [flag for flag in ("--force", "-f", "--force-with-lease", "--mirror") if opts.has(flag)]
    if forced or any(ref.startswith("+") for ref in refspecs):
        sink.destructive(f"git push {' '.join(forced) or '+refspec'} overwrites history on {where}")
    report_hidden(opts, sink, "git push", "--force or a +refspec")
    if opts.has("--delete", "-d", "--prune") or any(ref.startswith(":") and len(ref) > 1 for ref in refspecs):
        sink.destructive(f"git push deletes remote refs on {where}")


def _fetch(args: tuple[Word, ...], sink: Sink) -> None:
    opts = scan_options(args, long_values=_RUNS_PROGRAM)
    if opts.has(*_RUNS_PROGRAM):
        sink.destructive("git --upload-pack runs a chosen program")


def _clone(args: tuple[Word, ...], sink: Sink) -> None:
    opts = scan_options(args, takes_value="ubocj", long_values=_RUNS_PROGRAM | {"--config", "--template"})
    if opts.has("-u", *_RUNS_PROGRAM):
        sink.destructive("git clone --upload-pack runs a chosen program")
    for setting in opts.value("-c", "--config"):
        _check_config(setting, sink, "git clone -c")


def _reset(args: tuple[Word, ...], sink: Sink) -> None:
    opts = scan_options(args)
    if opts.has("--hard"):
        sink.destructive("git reset --hard discards uncommitted changes")
    report_hidden(opts, sink, "git reset", "--hard")


def _clean(args: tuple[Word, ...], sink: Sink) -> None:
    if not scan_options(args, takes_value="e", long_values=frozenset({"--exclude"})).has("-n", "--dry-run"):
        sink.destructive("git clean deletes untracked files")


def _checkout(args: tuple[Word, ...], sink: Sink) -> None:
    values = [word.value for word in args]
    if "--" in values and values.index("--") + 1 < len(values):
        sink.destructive("git checkout -- <paths> discards uncommitted changes")
        return
    opts = scan_options(args, takes_value="bB", long_values=frozenset({"--orphan", "--conflict"}))
    if opts.has("-f", "--force"):
        sink.destructive("git checkout --force discards local changes")
    if opts.has("-B"):
        sink.destructive("git checkout -B resets an existing branch")
    names = [word.value for word in opts.operands]
    if len(names) >= 2 or any(_pathish(name) for name in names):
        sink.destructive("git checkout <paths> discards uncommitted changes")
    report_hidden(opts, sink, "git checkout", "--force or a path")


def _pathish(name: str) -> bool:
    return name in (".", "..", "*") or name.startswith((":/", "./", "../")) or any(ch in name for ch in "*?[")


def _restore(args: tuple[Word, ...], sink: Sink) -> None:
    opts = scan_options(args, takes_value="s", long_values=frozenset({"--source", "--conflict"}))
    if opts.has("-S", "--staged") and not opts.has("-W", "--worktree") and not opts.hidden:
        return
    sink.destructive("git restore discards uncommitted changes")


def _switch(args: tuple[Word, ...], sink: Sink) -> None:
    opts = scan_options(args, takes_value="cC")
    if opts.has("--discard-changes", "-f", "--force", "-C", "--force-create"):
        sink.destructive("git switch --force/--discard-changes/-C discards changes or resets a branch")
    report_hidden(opts, sink, "git switch", "--discard-changes")


def _first_operand_in(words: tuple[str, ...], what: str) -> Callable[[tuple[Word, ...], Sink], None]:
    def check(args: tuple[Word, ...], sink: Sink) -> None:
        operands = scan_options(args).operands
        if operands and operands[0].dynamic:
            sink.unknown(f"{what} {operands[0].raw} is known only at run time")
        elif operands and operands[0].value in words:
            sink.destructive(f"{what} {operands[0].value}")
    return check


def _flags(flags: tuple[str, ...], reason: str, takes_value: str = "") -> Callable[[tuple[Word, ...], Sink], None]:
    def check(args: tuple[Word, ...], sink: Sink) -> None:
        opts = scan_options(args, takes_value=takes_value)
        if opts.has(*flags):
            sink.destructive(reason)
        report_hidden(opts, sink, reason.split(" -")[0], "/".join(flags))
    return check


def _always(reason: str) -> Callable[[tuple[Word, ...], Sink], None]:
    def check(args: tuple[Word, ...], sink: Sink) -> None:
        sink.destructive(reason)
    return check


def _gc(args: tuple[Word, ...], sink: Sink) -> None:
    opts = scan_options(args)
    if any(word.value in ("now", "all") for word in opts.value("--prune")):
        sink.destructive("git gc --prune=now deletes unreachable commits")


def _worktree(args: tuple[Word, ...], sink: Sink) -> None:
    opts = scan_options(args)
    if opts.operands and opts.operands[0].value == "remove" and opts.has("-f", "--force"):
        sink.destructive("git worktree remove --force discards the worktree's changes")


def _config(args: tuple[Word, ...], sink: Sink) -> None:
    opts = scan_options(args, takes_value="f", long_values=frozenset({"--file", "--blob", "--type", "--default"}))
    if len(opts.operands) >= 2 and not opts.operands[0].dynamic:
        key, value = opts.operands[0].value, opts.operands[1].value
        if exec_key(key) or (key.lower().startswith("alias.") and value.startswith("!")):
            sink.destructive(f"git config {key} makes git run {value!r}")


def _nested(kind: str) -> Callable[[tuple[Word, ...], Sink], None]:
    """`git submodule foreach CMD` and `git bisect run CMD` run a command of the caller's choosing."""
    def check(args: tuple[Word, ...], sink: Sink) -> None:
        values = [word.value for word in args]
        if kind in values:
            inner = args[values.index(kind) + 1:]
            inner = tuple(word for word in inner if word.value != "--recursive") if kind == "foreach" else inner
            if inner and kind == "foreach":
                sink.script(" ".join(word.value for word in inner), any(w.dynamic for w in inner), "git submodule foreach")
            elif inner:
                sink.command(Call(inner))
    return check


SUBCOMMANDS: dict[str, Callable[[tuple[Word, ...], Sink], None]] = {
    "push": _push,
    "fetch": _fetch,
    "pull": _fetch,
    "ls-remote": _fetch,
    "archive": _fetch,
    "clone": _clone,
    "reset": _reset,
    "clean": _clean,
    "checkout": _checkout,
    "restore": _restore,
    "switch": _switch,
    "stash": _first_operand_in(("drop", "clear"), "git stash"),
    "reflog": _first_operand_in(("expire", "delete"), "git reflog"),
    "branch": _flags(("-D", "-d", "--delete", "-M", "-C", "-f", "--force"),
                     "git branch -d/-D/-M/--force deletes or overwrites a branch"),
    "tag": _flags(("-d", "--delete", "-f", "--force"), "git tag -d/--force deletes or moves a tag", "mFu"),
    "commit": _flags(("--amend",), "git commit --amend rewrites the last commit", "mFCcut"),
    "rm": _flags(("-f", "--force"), "git rm --force discards uncommitted changes"),
    "rebase": _always("git rebase rewrites history"),
    "filter-branch": _always("git filter-branch rewrites history"),
    "filter-repo": _always("git filter-repo rewrites history"),
    "update-ref": _always("git update-ref moves or deletes a ref directly"),
    "replace": _always("git replace changes what history shows"),
    "prune": _always("git prune deletes unreachable objects"),
    "gc": _gc,
    "worktree": _worktree,
    "config": _config,
    "submodule": _nested("foreach"),
    "bisect": _nested("run"),
}
