"""Background jobs inside the session's container.

A job starts with one short `exec`: a launcher forks a supervisor into its own session
(`setsid`) and prints its pid, which is the job's session id. The supervisor runs the
command with stdin from /dev/null and pipes its output through GNU `split`, which
writes it in fixed-size chunk files in the container's /tmp and deletes the oldest
beyond a few, so a job that floods its output holds a bounded amount of the tmpfs
(which it shares with every command). When the command's output pipe closes the
supervisor writes the exit code next to the chunks.

Jobs live in the container, so they count against its pids and memory limits, share
its network namespace (a server on a port is reachable by later commands) and die
when the container is removed at session end. Each `job_output` is one `exec` that
prints a header and the bytes since the last read (head and tail when over the cap).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from termagent.sandbox.jobs import (
    CHUNK_BYTES,
    KEEP_CHUNKS,
    STATUS_KILLED,
    Job,
    JobError,
    JobRead,
    JobTable,
    exited,
)
from termagent.sandbox.output_cap import ELISION_MARKER

JOBS_DIR = "/tmp/.termagent-jobs"

# Runs inside `split --filter` for every chunk: write it, then drop the one KEEP back.
FILTER = (
    'cat >"$FILE"; n=${FILE##*.}; n=$((10#$n - TA_KEEP)); '
    'if [ "$n" -ge 0 ]; then printf -v old "%s.%08d" "${FILE%.*}" "$n"; rm -f -- "$old"; fi; exit 0'
)

# $1 = job dir, $2 = cwd, $3 = command, $4 = chunk bytes, $5 = chunks kept, $6 = FILTER.
SUPERVISOR = r"""
ta_dir=$1
( cd -- "$2" 2>/dev/null || cd /workspace 2>/dev/null || cd /; ta_cmd=$3; set --; eval "$ta_cmd" ) </dev/null 2>&1 \
    | SHELL=/bin/bash TA_KEEP=$5 split -b "$4" -a 8 -d --filter="$6" - "$ta_dir/out."
ta_rc=${PIPESTATUS[0]}
printf '%s' "$ta_rc" >"$ta_dir/rc"
"""

# $1 = job dir, then the SUPERVISOR arguments; prints the supervisor's pid (= its session id).
LAUNCH = r"""
mkdir -p -- "$1" || exit 90
ta_sup=$7
setsid bash -c "$ta_sup" termagent-job "$1" "$2" "$3" "$4" "$5" "$6" </dev/null >/dev/null 2>&1 &
printf '%s' "$!"
"""

# $1 = job dir, $2 = offset already read, $3 = chunk bytes, $4 = output cap, $5 = 1 to drop
# the spool afterwards even while no exit code is written (the job was killed). A finished
# job's spool is dropped once read: everything in it has been handed on.
READ = r"""
cd -- "$1" 2>/dev/null || { printf 'gone=1\n'; exit 0; }
ta_rc=; [ -s rc ] && read -r ta_rc <rc
shopt -s nullglob
ta_f=(out.*)
ta_off=$2; C=$3; ta_cap=$4
if [ "${#ta_f[@]}" = 0 ]; then printf 'rc=%s start=%s end=%s head=0 tail=0\n' "$ta_rc" "$ta_off" "$ta_off"; exit 0; fi
ta_first=$((10#${ta_f[0]#out.})); ta_last=$((10#${ta_f[-1]#out.}))
ta_size=$(stat -c %s -- "${ta_f[-1]}" 2>/dev/null) || ta_size=0
ta_end=$((ta_last * C + ta_size))
ta_start=$ta_off
[ $((ta_first * C)) -gt "$ta_start" ] && ta_start=$((ta_first * C))
[ "$ta_start" -gt "$ta_end" ] && ta_start=$ta_end
ta_len=$((ta_end - ta_start)); ta_head=$ta_len; ta_tail=0
if [ "$ta_len" -gt "$ta_cap" ]; then ta_head=$((ta_cap / 2)); ta_tail=$((ta_cap - ta_head)); fi
printf 'rc=%s start=%s end=%s head=%s tail=%s\n' "$ta_rc" "$ta_start" "$ta_end" "$ta_head" "$ta_tail"
ta_emit() {
    local from=$1 n=$2 i o take name
    while [ "$n" -gt 0 ]; do
        i=$((from / C)); o=$((from % C)); take=$((C - o)); [ "$take" -gt "$n" ] && take=$n
        printf -v name 'out.%08d' "$i"
        dd if="$name" bs=65536 iflag=skip_bytes,count_bytes skip="$o" count="$take" status=none 2>/dev/null
        from=$((from + take)); n=$((n - take))
    done
}
ta_emit "$ta_start" "$ta_head"
[ "$ta_tail" -gt 0 ] && ta_emit $((ta_end - ta_tail)) "$ta_tail"
if [ -n "$ta_rc" ] || [ "$5" = 1 ]; then cd / && rm -rf -- "$1"; fi
exit 0
"""

# $1 = the job's session id: kill its process group, then anything else in its session.
KILL_SESSION = r"""
kill -KILL -- "-$1" 2>/dev/null
for round in 1 2 3 4 5 6 7 8 9 10; do
    found=0
    for p in /proc/[0-9]*; do
        stat=; { read -r stat <"$p/stat"; } 2>/dev/null
        rest=${stat##*) }; fields=($rest)
        [ "${fields[0]}" = Z ] && continue
        [ "${fields[3]}" = "$1" ] && kill -KILL "${p#/proc/}" 2>/dev/null && found=1
    done
    [ "$found" = 0 ] && break
done
exit 0
"""


def parse_header(line: bytes) -> dict[str, str]:
    values: dict[str, str] = {}
    for part in line.decode("ascii", errors="replace").split():
        key, _, value = part.partition("=")
        values[key] = value
    return values


class DockerJobs:
    """The job half of a DockerSandbox: `run(argv)` is one blocking exec -> (code, stdout)."""

    def __init__(self, run: Callable[[list[str]], tuple[int, bytes]], cap: int, max_jobs: int) -> None:
        self._run = run
        self.cap = cap
        self.table = JobTable(max_jobs)

    def start(self, command: str, cwd: str) -> Job:
        self.table.check_room()
        job_id = self.table.reserve()
        argv = ["bash", "-c", LAUNCH, "termagent", f"{JOBS_DIR}/{job_id}", cwd, command, str(CHUNK_BYTES),
                str(KEEP_CHUNKS), FILTER, SUPERVISOR]
        code, out = self._run(argv)
        text = out.decode("ascii", errors="replace").strip()
        if code != 0 or not text.isdigit():
            raise JobError("job_start_failed", f"the background job did not start (exit {code}): {text[:200]}")
        return self.table.add(job_id, command, int(text))

    def read(self, job_id: str, last: bool = False) -> JobRead:
        job = self.table.get(job_id)
        if not job.running:
            return JobRead(job, "", 0)  # its spool was read to the end and dropped
        code, out = self._run(["bash", "-c", READ, "termagent", f"{JOBS_DIR}/{job.id}", str(job.offset),
                               str(CHUNK_BYTES), str(self.cap), "1" if last else ""])
        header, _, body = out.partition(b"\n")
        values = parse_header(header)
        if code != 0 or "gone" in values or "end" not in values:
            return JobRead(job, f"[the job's output spool {JOBS_DIR}/{job.id} is gone (removed from /tmp)]", 0)
        return self._apply(job, values, body)

    def _apply(self, job: Job, values: dict[str, str], body: bytes) -> JobRead:
        start, end = int(values["start"]), int(values["end"])
        head, tail = int(values["head"]), int(values["tail"])
        elided = max(end - start - head - tail, 0)
        text = body[:head].decode("utf-8", errors="replace")
        if tail:
            text += ELISION_MARKER.format(n=elided) + body[head:].decode("utf-8", errors="replace")
        changes: dict[str, Any] = {"offset": end}
        rc = values.get("rc", "")
        if job.running and rc.lstrip("-").isdigit():
            changes.update(status=exited(int(rc)), exit_code=int(rc))
        dropped = max(start - job.offset, 0)
        job = self.table.update(job, **changes)
        return JobRead(job, text, end - start, dropped, elided)

    def container_restarted(self) -> None:
        """The container was restarted: every job died with its processes and spool."""
        for job in self.table.all():
            if job.running:
                self.table.update(job, status=STATUS_KILLED)

    def kill(self, job_id: str) -> JobRead:
        job = self.table.get(job_id)
        if not job.running:
            return JobRead(job, "", 0)
        self._run(["bash", "-c", KILL_SESSION, "termagent", str(job.sid)])
        final = self.read(job.id, last=True)
        job = final.job
        if job.running:
            job = self.table.update(job, status=STATUS_KILLED)
        return JobRead(job, final.output, final.new_bytes, final.dropped_bytes, final.elided_bytes)
