"""The explicit `--sandbox none` backend: unconfined, but still bounded and keyless."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from termagent.sandbox import open_sandbox
from termagent.sandbox.host import HostSandbox, host_environment
from tests.docker_support import make_config
from tests.session_support import eventually


@pytest.fixture
async def host(tmp_path: Path):  # type: ignore[no-untyped-def]
    sandbox = open_sandbox(make_config(backend="none", output_cap_bytes=1000), tmp_path, "host-test")
    assert isinstance(sandbox, HostSandbox)
    await sandbox.start()
    yield sandbox
    await sandbox.close()


async def test_runs_in_the_workspace_and_cd_carries_over(host: HostSandbox, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    first = await host.exec("pwd; cd sub; echo err >&2; exit 4", 10)
    assert first.output == f"{tmp_path}\nerr\n"
    assert first.exit_code == 4
    second = await host.exec("pwd", 10)
    assert second.output.strip() == str(tmp_path / "sub")


def dead_now(pid: int) -> bool:
    """True once `pid` is gone or a zombie (its killer's parent may not have reaped it yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


async def dead(pid: int) -> bool:
    """True once `pid` is dead; the deadline is generous because a killed process dies at once."""
    return await eventually(lambda: dead_now(pid), timeout_s=30)


async def test_timeout_kills_the_whole_process_group(host: HostSandbox) -> None:
    result = await host.exec("sleep 1e9 & echo $!; sleep 1e9", 1)
    assert result.timed_out and result.exit_code == 137
    assert await dead(int(result.output.split()[0]))


async def test_background_children_die_with_their_command(host: HostSandbox) -> None:
    result = await host.exec("sleep 1e9 & echo $!", 10)
    assert not result.timed_out
    assert await dead(int(result.output.strip()))


async def test_stdin_is_dev_null(host: HostSandbox) -> None:
    result = await host.exec("read x; echo rc=$?; cat", 10)
    assert result.output == "rc=1\n" and not result.timed_out


async def test_output_is_capped_head_and_tail(host: HostSandbox) -> None:
    result = await host.exec("seq 1 100000", 10)
    assert result.output.startswith("1\n2\n3\n")
    assert result.output.rstrip().endswith("100000")
    match = re.search(r"\[\.\.\. (\d+) bytes elided \.\.\.\]", result.output)
    assert match and int(match.group(1)) == result.elided_bytes > 500_000


async def test_credentials_do_not_reach_commands(host: HostSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-canary-host")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-canary")
    monkeypatch.setenv("TERMAGENT_PLAIN_SETTING", "kept")
    result = await host.exec("env", 10)
    assert "sk-canary-host" not in result.output and "ghp-canary" not in result.output
    assert "TERMAGENT_PLAIN_SETTING=kept" in result.output


def test_host_environment_filter() -> None:
    env = host_environment({"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "x", "MY_API_KEY": "y", "DB_PASSWORD": "z",
                            "HOME": "/home/u"})
    assert set(env) >= {"PATH", "HOME"}
    assert not {"AWS_SECRET_ACCESS_KEY", "MY_API_KEY", "DB_PASSWORD"} & set(env)


# ---------------------------------------------------------------- output cap (both backends)


def test_cap_keeps_head_and_tail_and_counts_the_middle() -> None:
    from termagent.sandbox.output_cap import HeadTailBuffer

    buffer = HeadTailBuffer(10)
    for _ in range(100_000):
        buffer.feed(b"0123456789")
    buffer.feed(b"END")
    assert len(buffer._tail) <= 2 * buffer.tail_cap  # memory stays bounded however much is fed
    text = buffer.render()
    assert text.startswith("01234") and text.endswith("89END")
    assert buffer.elided == 1_000_003 - 10
    assert f"[... {buffer.elided} bytes elided ...]" in text


def test_cap_never_elides_output_that_fits() -> None:
    from termagent.sandbox.output_cap import HeadTailBuffer

    buffer = HeadTailBuffer(10)
    buffer.feed(b"0123456789")
    assert buffer.render() == "0123456789" and buffer.elided == 0


def test_cap_does_not_show_half_characters_at_the_cut() -> None:
    from termagent.sandbox.output_cap import HeadTailBuffer

    buffer = HeadTailBuffer(9)  # a 5-byte tail starts inside a 2-byte character
    buffer.feed(("é" * 50).encode())
    tail = buffer.render().split("...]\n")[-1]
    assert tail == "éé"


def test_live_forwarding_keeps_characters_whole_and_stops_at_its_budget() -> None:
    from termagent.sandbox.output_cap import LiveForwarder

    seen: list[str] = []
    live = LiveForwarder(seen.append, interval_s=0, max_bytes=100)
    data = "ü".encode()
    live.feed(data[:1])
    live.feed(data[1:])
    live.feed(b"x" * 500)
    live.close()
    assert seen[0] == "ü"
    assert "\ufffd" not in "".join(seen)
    assert sum(len(s) for s in seen[:-1]) <= 100 and "live output stopped" in seen[-1]


@pytest.mark.parametrize("escape", [
    "setsid sleep 1e9 </dev/null >/dev/null 2>&1 & echo $!",
    "( setsid sh -c 'sleep 1e9 & echo $!' </dev/null 2>/dev/null & ) | head -1",
])
async def test_a_process_that_left_the_group_dies_with_its_command(host: HostSandbox, escape: str) -> None:
    result = await host.exec(escape, 10)
    pid = int(result.output.split()[0])
    assert await dead(pid)


async def test_a_process_that_left_the_group_dies_at_the_timeout(host: HostSandbox) -> None:
    result = await host.exec("setsid sleep 1e9 </dev/null >/dev/null 2>&1 & echo $!; sleep 1e9", 1)
    assert result.timed_out
    assert await dead(int(result.output.split()[0]))
