"""The bash that runs each command inside the container, and how we read its report.

Why a wrapper rather than `exec_run(command)`:
- a `cd` must carry over, so the command runs in a shell that reports its final cwd;
- stdin is /dev/null, so `read x`, `less` or `vim` end instead of waiting forever;
- the command gets its own process group (setsid) with an in-container watchdog that
  SIGKILLs the whole group at the timeout, so `sleep 1e9 &` or a fork bomb die too;
- afterwards every leftover process (even one that escaped into its own session) is
  killed, so nothing outlives its command and holds the output stream open;
- the OOM-kill counter of the container's memory cgroup is read before and after, so
  an out-of-memory kill is reported as such, not as a bare exit 137.

The command's stdout and stderr both go to the exec's stdout; the wrapper writes its
report to the exec's stderr, so the two never mix. After the command has started the
wrapper uses only shell builtins: with the pids limit reached it cannot fork.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Runs the model's command. $1 = cwd, $2 = state file, $3 = the command, $4 = the
# directory to fall back to when the remembered cwd is gone.
INNER = r"""
ta_state=$2
trap 'printf "%s" "$PWD" >"$ta_state" 2>/dev/null' EXIT
cd -- "$1" 2>/dev/null || cd -- "$4" 2>/dev/null || cd /
ta_cmd=$3
set --
eval "$ta_cmd"
"""


def read_cwd(state: str, fallback: str) -> str:
    """Where INNER's command ended, for a shell on this machine; the fallback when it is gone."""
    try:
        text = Path(state).read_text(encoding="utf-8", errors="replace").strip("\n")
    except OSError:
        return fallback
    return text if text.startswith("/") and os.path.isdir(text) else fallback


# Kills every process but init ($1 of the container), the keeper, this shell and the
# processes of the sessions listed in $ta_spare (background jobs termagent started).
REAP = r"""
ta_reap() {
    local round pid p stat state found rest
    local -a fields
    for round in 1 2 3 4 5 6 7 8 9 10; do
        found=0
        for p in /proc/[0-9]*; do
            pid=${p#/proc/}
            if [ "$pid" = 1 ] || [ "$pid" = "$ta_keep" ] || [ "$pid" = "$$" ]; then continue; fi
            stat=; { read -r stat <"$p/stat"; } 2>/dev/null
            rest=${stat##*) }; state=${rest%% *}
            [ "$state" = Z ] && continue
            if [ -n "$ta_spare" ]; then
                fields=($rest)
                case " $ta_spare " in *" ${fields[3]} "*) continue ;; esac
            fi
            kill -KILL "$pid" 2>/dev/null && found=1
        done
        [ "$found" = 0 ] && return 0
    done
}
"""

# $1 = cwd, $2 = command, $3 = timeout (s), $4 = keeper pid, $5 = state file, $6 = INNER,
# $7 = the session ids of running background jobs (spared by the reaper).
# The watchdog starts first: once the command runs, a fork bomb may leave no pid for it.
OUTER = (
    REAP
    + r"""
ta_oom() {
    local f k v
    ta_oom_n=0
    for f in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do
        [ -r "$f" ] || continue
        while read -r k v; do [ "$k" = oom_kill ] && ta_oom_n=$v; done <"$f"
        return 0
    done
}
ta_keep=$4
ta_spare=$7
: >"$5" 2>/dev/null
ta_oom; ta_oom0=$ta_oom_n
: >"$5.pgid" 2>/dev/null
: >"$5.fired" 2>/dev/null
( sleep "$3"; printf 1 >"$5.fired"; read -r p <"$5.pgid"; [ -n "$p" ] && kill -KILL -- "-$p" ) </dev/null >/dev/null 2>&1 &
ta_wd=$!
setsid bash -c "$6" bash "$1" "$5" "$2" /workspace </dev/null 2>&1 &
ta_pid=$!
printf '%s' "$ta_pid" >"$5.pgid"
wait "$ta_pid"; ta_rc=$?
kill -KILL -- "-$ta_pid" 2>/dev/null
kill -KILL "$ta_wd" 2>/dev/null; wait "$ta_wd" 2>/dev/null
ta_reap
ta_oom
ta_cwd=; read -r ta_cwd <"$5" 2>/dev/null
ta_to=0; read -r ta_to <"$5.fired" 2>/dev/null
ta_om=0; [ "$ta_oom_n" != "$ta_oom0" ] && ta_om=1
printf 'rc=%s\ntimeout=%s\noom=%s\ncwd=%s\n' "$ta_rc" "$ta_to" "$ta_om" "$ta_cwd" >&2
exit "$ta_rc"
"""
)

# Host-side sweep after the in-container watchdog failed: $1 = keeper pid, $2 = job sids to spare.
KILL_ALL = REAP + 'ta_keep=$1\nta_spare=$2\nta_reap\n'


@dataclass(frozen=True)
class Report:
    """What the wrapper said about the command it ran."""

    exit_code: int | None
    timed_out: bool
    oom_killed: bool
    cwd: str


def parse_report(control: bytes, fallback_cwd: str) -> Report | None:
    """Read the wrapper's report; None when it never got to write one (it was killed)."""
    values: dict[str, str] = {}
    for line in control.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key in ("rc", "timeout", "oom", "cwd"):
            values[key] = value
    if "rc" not in values:
        return None
    try:
        code: int | None = int(values["rc"])
    except ValueError:
        code = None
    cwd = values.get("cwd", "")
    return Report(
        exit_code=code,
        timed_out=values.get("timeout") == "1",
        oom_killed=values.get("oom") == "1",
        cwd=cwd if cwd.startswith("/") else fallback_cwd,
    )
