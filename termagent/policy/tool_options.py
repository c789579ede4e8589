"""Options that turn a reading tool into a writer or a launcher: one table, one check.

`sort`, `rg`, `tar`, `man` and friends usually only read, so rules like `bash(sort:*)`
and the modes treat them as harmless. Each has a few options that write a file chosen by
the caller or run a program (`sort -o`, `rg --pre`, `tar --to-command`, `man -P`); those
make the call ask. Long options match GNU-style abbreviations too (`--outp` is `--output`).
"""

from __future__ import annotations

from dataclasses import dataclass

from termagent.policy.calls import Call, Sink
from termagent.policy.shell_parse import Word

WRITES = "writes a file it is told to"
RUNS = "runs another program"


@dataclass(frozen=True)
class Risky:
    """The options of one program that write or run something, and the short options that take a value."""

    short: dict[str, str]  # short option letter -> what it does
    long: dict[str, str]  # long option name -> what it does
    valued: str = ""  # short options whose value follows (so its letters are not options)
    subcommands: frozenset[str] = frozenset()  # only after one of these sub-commands (empty: always)


def _r(short: dict[str, str] | None = None, long: dict[str, str] | None = None, valued: str = "",
       subcommands: tuple[str, ...] = ()) -> Risky:
    return Risky(short or {}, long or {}, valued, frozenset(subcommands))


TABLE: dict[str, Risky] = {
    "sort": _r({"o": WRITES}, {"--output": WRITES, "--compress-program": RUNS}, valued="kotTSy"),
    "rg": _r({}, {"--pre": RUNS, "--hostname-bin": RUNS}, valued="ABCegEfjmMrtT"),
    "tar": _r({"I": RUNS, "F": RUNS}, {"--to-command": RUNS, "--checkpoint-action": RUNS,
                                       "--use-compress-program": RUNS, "--info-script": RUNS,
                                       "--new-volume-script": RUNS, "--rsh-command": RUNS,
                                       "--rmt-command": RUNS}, valued="fCbgHKLNTVX"),
    "zip": _r({}, {"--unzip-command": RUNS}, valued="bnOtx"),
    "man": _r({"P": RUNS, "H": RUNS}, {"--pager": RUNS, "--html": RUNS, "--preprocessor": RUNS}, valued="CLMmSsep"),
    "date": _r({"s": "sets the system clock"}, {"--set": "sets the system clock"}, valued="dfr"),
    "hwclock": _r({"w": "sets the hardware clock"}, {"--systohc": "sets the hardware clock",
                                                     "--set": "sets the hardware clock"}),
    "less": _r({"o": WRITES, "O": WRITES}, {"--log-file": WRITES, "--LOG-FILE": WRITES}, valued="bhjkpPtTxyz"),
    "git": _r({}, {"--output": WRITES, "--open-files-in-pager": RUNS, "--extcmd": RUNS, "--tool": RUNS},
              subcommands=("diff", "log", "show", "format-patch", "grep", "difftool", "range-diff", "whatchanged")),
    "split": _r({}, {"--filter": RUNS}, valued="abCdlnt"),
}
# zip -T alone only tests the archive; -TT/--unzip-command names the program that does it
_ZIP_TT = "-TT"


def check_options(call: Call, sink: Sink) -> None:
    """Report the first option of `call` that writes a file or runs a program, per TABLE."""
    spec = TABLE.get(call.name)
    if spec is None:
        return
    args = _after_subcommand(call.args, spec)
    if args is None:
        return
    for word in args:
        value = word.value
        if value == "--":
            return
        what = _long(value, spec) if value.startswith("--") else _short(value, spec) if value.startswith("-") else None
        if call.name == "zip" and (value == _ZIP_TT or value.startswith(_ZIP_TT + "=")):
            what = RUNS
        if what:
            sink.unknown(f"{call.name} {value.split('=')[0]} {what}")
            return


def _after_subcommand(args: tuple[Word, ...], spec: Risky) -> tuple[Word, ...] | None:
    if not spec.subcommands:
        return args
    for index, word in enumerate(args):
        if word.value in spec.subcommands:
            return args[index + 1:]
    return None


def _long(value: str, spec: Risky) -> str | None:
    name = value.partition("=")[0]
    if name in spec.long:
        return spec.long[name] or None
    if len(name) < 4:
        return None
    hits = [full for full in spec.long if full.startswith(name)]
    return (spec.long[hits[0]] or None) if len(hits) == 1 else None


def _short(value: str, spec: Risky) -> str | None:
    for char in value[1:]:
        if spec.short.get(char):
            return spec.short[char]
        if char in spec.valued or not char.isalpha():
            return None
    return None
