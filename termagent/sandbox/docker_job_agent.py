"""One long-lived `exec` that runs the job scripts, so a job_output read costs no exec.

Each `docker exec` costs a runc start (tens of ms idle, hundreds on a loaded host);
`job_output` is called often, so its scripts go to a small bash loop started once per
container with stdin attached. A request is an argv (each word length-prefixed, read
with LC_ALL=C so lengths are bytes); the loop runs it and ends the reply with a marker
carrying a fresh random nonce and the exit code, so no output can fake the end of a
reply. The loop reports its session id (an exec leads its own session), which the sandbox
adds to the sessions the per-command reaper spares. Any failure closes the agent and
the caller falls back to a plain exec (and starts a new agent next time).
"""

from __future__ import annotations

import secrets
import socket as socketlib
import struct
from typing import Any

# An exec'd process already leads its own session (runc), so the agent's $$ is its sid.
AGENT = r"""
export LC_ALL=C
printf 'sid=%s\n' "$$"
while IFS= read -r ta_n; do
    ta_args=()
    for ((ta_i = 0; ta_i < ta_n; ta_i++)); do
        IFS= read -r ta_len || exit 0
        ta_word=
        if [ "$ta_len" -gt 0 ]; then IFS= read -r -N "$ta_len" ta_word || exit 0; fi
        ta_args+=("$ta_word")
    done
    IFS= read -r ta_nonce || exit 0
    "${ta_args[@]}" </dev/null 2>/dev/null
    printf '\n@@%s %s\n' "$ta_nonce" "$?"
done
"""


class AgentBroken(Exception):
    """The agent's stream failed; the caller falls back to one exec."""


class JobAgent:
    def __init__(self, client: Any, container_id: str, user: str, environment: dict[str, str]) -> None:
        created = client.api.exec_create(container_id, ["bash", "-c", AGENT], stdin=True, user=user,
                                         environment=environment, workdir="/")
        self._sock = client.api.exec_start(created["Id"], socket=True)
        raw = getattr(self._sock, "_sock", self._sock)
        raw.settimeout(30)
        self._raw = raw
        self._buffer = bytearray()
        first = self._until(b"\n")
        if not first.startswith(b"sid=") or not first[4:].strip().isdigit():
            self.close()
            raise AgentBroken(f"the job agent did not start: {first[:100]!r}")
        self.sid = int(first[4:].strip())

    def run(self, argv: list[str]) -> tuple[int, bytes]:
        """Run `argv` in the container through the agent; (exit code, stdout)."""
        nonce = secrets.token_hex(12)
        words = [word.encode() for word in argv]
        if any(b"\x00" in word for word in words):
            raise AgentBroken("NUL in an argument")
        request = f"{len(words)}\n".encode() + b"".join(b"%d\n%s" % (len(word), word) for word in words)
        try:
            self._raw.sendall(request + nonce.encode() + b"\n")
            reply = self._until(f"\n@@{nonce} ".encode())
            code = self._until(b"\n")
        except (OSError, ValueError) as exc:
            self.close()
            raise AgentBroken(str(exc)) from None
        return int(code.strip() or b"-1"), reply

    def _until(self, marker: bytes) -> bytes:
        """Read frames until `marker`; return what came before it (the marker is consumed)."""
        while True:
            at = self._buffer.find(marker)
            if at >= 0:
                data = bytes(self._buffer[:at])
                del self._buffer[: at + len(marker)]
                return data
            self._read_frame()

    def _read_frame(self) -> None:
        header = self._exactly(8)
        stream, size = header[0], struct.unpack(">I", header[4:])[0]
        payload = self._exactly(size)
        if stream == 1:
            self._buffer += payload

    def _exactly(self, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            chunk = self._raw.recv(count - len(data))
            if not chunk:
                raise ValueError("the job agent's stream ended")
            data += chunk
        return bytes(data)

    def close(self) -> None:
        try:
            self._raw.shutdown(socketlib.SHUT_RDWR)
        except OSError:
            pass
        for closable in (self._sock, getattr(self._sock, "_response", None)):
            try:
                if closable is not None:
                    closable.close()
            except Exception:  # noqa: BLE001 - closing a dead stream
                continue
