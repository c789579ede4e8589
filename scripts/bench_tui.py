"""TUI benchmarks (issue 5), in a real pseudo-terminal read back with pyte:

1. launch: process start to the first interactive frame (prompt box and welcome drawn),
   target < 0.5 s; the SDK import runs in a background thread and must not delay it;
2. stream: wall time from Enter to the last word of a 20,000-token answer on screen,
   against the raw time to pull the same stream with the SDK alone (target < 1.2x);
3. resume: `--resume` of a stored 2,000-message session: time until its newest answer is
   on screen, and the process's resident memory then (next to a fresh start's).

    .venv/bin/python scripts/bench_tui.py [--runs N] [--tokens N] [--delay S]
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyte

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from termagent.testing.scripted_server import ScriptedServer, reply  # noqa: E402

TERMAGENT = str(Path(sys.executable).parent / "termagent")
COLS, ROWS = 120, 40
END_MARK = "END-OF-ANSWER-7731"
ANSI = re.compile(rb"\x1b\[[0-9;?<=>]*[ -/]*[@-~]|\x1b[\]P_^X][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.")


class PtyApp:
    """The console script on a pty. A thread drains its output at once (a slow reader
    would stall the app on a full pty buffer and bill the bench's cost to the TUI); the
    screen is rebuilt with pyte only when asked."""

    def __init__(self, args: list[str], cwd: str, env: dict[str, str]) -> None:
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.fed = 0
        self.lock = threading.Lock()
        self.started = time.perf_counter()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(cwd)
            os.execve(TERMAGENT, [TERMAGENT, *args], env)
        _set_size(self.fd)
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.raw += data

    def text(self) -> str:
        with self.lock:
            fresh, self.fed = bytes(self.raw[self.fed:]), len(self.raw)
        self.stream.feed(fresh)
        return "\n".join(self.screen.display)

    def plain_tail(self, size: int = 1 << 16) -> str:
        """The newest output with escape sequences removed (cheap; no screen model)."""
        with self.lock:
            tail = bytes(self.raw[-size:])
        return ANSI.sub(b"", tail).decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 60.0, raw: bool = False) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if needle in (self.plain_tail() if raw else self.text()):
                return time.perf_counter()
            time.sleep(0.005 if raw else 0.01)
        raise RuntimeError(f"{needle!r} never appeared:\n{self.text()}")

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def close(self) -> None:
        for _ in range(2):
            self.type(b"\x03")
            time.sleep(0.1)
        deadline = time.perf_counter() + 20
        while time.perf_counter() < deadline:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return
            time.sleep(0.05)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)


def _set_size(fd: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))


def environment(server_url: str, state: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": state, "TERM": "xterm-256color", "LANG": "C.UTF-8",
            "ANTHROPIC_BASE_URL": server_url, "ANTHROPIC_API_KEY": "sk-bench-0000000000",
            "TERMAGENT_STATE_DIR": state + "/state", "TERMAGENT_CONFIG_DIR": state + "/config"}


def bench_launch(runs: int) -> float:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp, ScriptedServer() as server:
            app = PtyApp(["--sandbox", "none"], tmp, environment(server.url, tmp))
            shown = app.wait_for("/help for commands")
            app.wait_for("enter send")
            times.append(max(shown, time.perf_counter()) - app.started)
            app.close()
    return round(statistics.median(times), 3)


def long_answer(tokens: int) -> str:
    """About `tokens` tokens of markdown: paragraphs, lists and code, ending with a marker."""
    parts, count, index = [], 0, 0
    while count < tokens:
        index += 1
        parts.append(f"## Part {index}\n\nThe service reads the queue, checks each record and writes a summary "
                     f"of what changed in step {index}, so the next stage can resume from there.\n\n"
                     f"- item {index}a keeps the order\n- item {index}b retries on failure\n\n"
                     f"```python\ndef step_{index}(queue):\n    return [r for r in queue if r.ok]\n```\n\n")
        count += 75
    return "".join(parts) + END_MARK + "\n"


def raw_stream_s(answer: str, pieces: int, delay: float) -> float:
    """The same stream pulled with the SDK and nothing else: the floor the TUI is held to."""
    import warnings

    import anthropic

    warnings.simplefilter("ignore", DeprecationWarning)  # the SDK warns about older model names
    with ScriptedServer([reply(answer)], chunk_delay_s=delay, pieces=pieces) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="sk-bench-0000000000", max_retries=0)
        started = time.perf_counter()
        with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64000,
                                    messages=[{"role": "user", "content": "go"}]) as stream:
            for _ in stream.text_stream:
                pass
        return time.perf_counter() - started


def bench_stream(tokens: int, delay: float, runs: int) -> dict[str, float]:
    answer = long_answer(tokens)
    pieces = max(1, tokens // 5)  # about five tokens per delta, as the real API sends them
    raw, ui = [], []
    for _ in range(runs):
        raw.append(raw_stream_s(answer, pieces, delay))
        with tempfile.TemporaryDirectory() as tmp, \
                ScriptedServer([reply(answer)], chunk_delay_s=delay, pieces=pieces) as server:
            app = PtyApp(["--sandbox", "none"], tmp, environment(server.url, tmp))
            app.wait_for("enter send")
            time.sleep(0.5)  # let the SDK finish importing in the background, as it would while typing
            app.type(b"write it all\r")
            started = time.perf_counter()
            app.wait_for(END_MARK, timeout=600, raw=True)
            ui.append(time.perf_counter() - started)
            app.close()
    raw_s, ui_s = statistics.median(raw), statistics.median(ui)
    return {"tokens": tokens, "deltas": pieces, "raw_s": round(raw_s, 2), "tui_s": round(ui_s, 2),
            "ratio": round(ui_s / raw_s, 3)}


def bench_resume(messages: int, runs: int) -> dict[str, float]:
    """`termagent --resume` of a stored session of `messages` messages, in the pty: time
    until its newest answer is on screen, and the process's RSS then (a fresh start's
    RSS alongside for comparison)."""
    times, rss, fresh_rss = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp, ScriptedServer() as server:
            env = environment(server.url, tmp)
            workspace = Path(tmp) / "project"
            workspace.mkdir()
            session_id = seed_session(workspace, env, messages)
            fresh = PtyApp(["--sandbox", "none"], str(workspace), env)
            fresh.wait_for("enter send")
            fresh_rss.append(rss_mb(fresh.pid))
            fresh.close()
            app = PtyApp(["--sandbox", "none", "--resume", session_id], str(workspace), env)
            shown = app.wait_for(f"Answer {messages // 2 - 1} with", timeout=120)
            times.append(shown - app.started)
            rss.append(rss_mb(app.pid))
            app.close()
    return {"messages": messages, "launch_to_history_s": round(statistics.median(times), 3),
            "rss_mb": round(statistics.median(rss), 1), "fresh_rss_mb": round(statistics.median(fresh_rss), 1)}


def seed_session(workspace: Path, env: dict[str, str], messages: int) -> str:
    """A stored session with `messages` messages, written through the real store."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from termagent.store.db import Store

        store = Store()
        session_id = store.create_session(str(workspace.resolve()), "claude-sonnet-4-5")
        for index in range(messages // 2):
            store.append_message(session_id, {"role": "user", "content": [
                {"type": "text", "text": f"question {index}: " * 8}]})
            store.append_message(session_id, {"role": "assistant", "content": [
                {"type": "text", "text": f"Answer {index} with `code` and **bold** text. " * 6}]})
        store.close()
        return session_id
    finally:
        os.environ.clear()
        os.environ.update(saved)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--delay", type=float, default=0.002, help="seconds between SSE events")
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    results = {
        "launch_to_first_frame_s": bench_launch(args.runs),
        "stream": bench_stream(args.tokens, args.delay, max(1, args.runs // 2)),
        "resume": bench_resume(args.messages, max(1, args.runs // 2)),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
