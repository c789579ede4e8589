"""SECURITY-CASES.md against the real sandbox, judged by effects.

Each attack runs as the worst model would run it; the tests then look at what
changed: host files, canary secrets, a listener on the bridge gateway, the process
table, the next command's answer. An exit code alone proves nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from termagent.sandbox.base import SandboxUnavailable
from termagent.sandbox.docker_backend import DockerSandbox
from termagent.sandbox.caches import CACHE_ENV, CACHE_MOUNTS
from termagent.sandbox.docker_settings import ENV_ALLOWLIST, LABEL_SESSION, limits_from_config
from termagent.tools.bash import format_result
from tests.docker_support import TEST_MEMORY, git, label_terms, make_config, make_workspace, run_labels

pytestmark = pytest.mark.docker


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def run(sandbox: Any, command: str, timeout: float = 10) -> Any:
    return await sandbox.exec(command, timeout)


# ------------------------------------------------------------ filesystem escape


@pytest.mark.parametrize("command", [
    "echo x >/etc/passwd",
    "touch /usr/bin/z",
    "touch /z",
    "mkdir /opt/x",
    "echo x >/root/.bashrc",
])
async def test_root_filesystem_is_read_only(shared_sandbox: Any, command: str) -> None:
    host_passwd = digest(Path("/etc/passwd"))
    inside_before = (await run(shared_sandbox, "sha256sum /etc/passwd")).output
    result = await run(shared_sandbox, command)
    assert result.exit_code != 0
    assert "Read-only file system" in result.output
    assert (await run(shared_sandbox, "sha256sum /etc/passwd")).output == inside_before
    assert (await run(shared_sandbox, "test -e /usr/bin/z || test -e /z || test -e /opt/x")).exit_code != 0
    assert digest(Path("/etc/passwd")) == host_passwd


async def test_no_capabilities_no_new_privileges_and_seccomp(shared_sandbox: Any) -> None:
    result = await run(shared_sandbox, "grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status")
    fields = dict(line.split(":\t") for line in result.output.strip().splitlines())
    assert int(fields["CapEff"], 16) == 0 and int(fields["CapPrm"], 16) == 0 and int(fields["CapBnd"], 16) == 0
    assert fields["NoNewPrivs"] == "1"
    assert fields["Seccomp"] == "2"


@pytest.mark.parametrize("command", [
    "unshare -r id",
    "unshare -m true",
    "mount -t tmpfs x /mnt",
    "chroot / true",
    "hostname evil",
    "python3 -c 'import os; os.chown(\"/workspace/README.md\", 4321, 4321)'",
    "mknod /tmp/disk b 8 0",
    "su -c id nobody",
])
async def test_privileged_operations_fail(shared_sandbox: Any, shared_workspace: Path, command: str) -> None:
    owner = (shared_workspace / "README.md").stat().st_uid
    result = await run(shared_sandbox, command)
    assert result.exit_code != 0, result.output
    assert (shared_workspace / "README.md").stat().st_uid == owner
    assert (await run(shared_sandbox, "test -e /tmp/disk")).exit_code != 0


async def test_no_docker_socket_and_only_the_workspace_is_bound(shared_sandbox: Any) -> None:
    sock = await run(shared_sandbox, "test -S /var/run/docker.sock || test -S /run/docker.sock || ls /run/docker*")
    assert sock.exit_code != 0
    mountinfo = await run(shared_sandbox, "cat /proc/self/mountinfo")
    host_binds = set()
    for line in mountinfo.output.splitlines():
        fields = line.split()
        fstype = fields[fields.index("-") + 1]
        if fstype not in {"overlay", "proc", "sysfs", "tmpfs", "cgroup", "cgroup2", "devpts", "mqueue", "shm"}:
            host_binds.add(fields[4])
    # Docker always binds its own per-container hosts/hostname/resolv.conf files, and
    # its init binary (init=True); the rest are workspace paths re-mounted read-only.
    outside = {bind for bind in host_binds if not bind.startswith("/workspace/")}
    cache_mounts = {target for _, target in CACHE_MOUNTS}  # the project's cache volumes (sandbox/caches.py)
    assert outside <= {"/workspace", "/usr/sbin/docker-init", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf",
                       *cache_mounts}
    assert "/workspace" in host_binds


@pytest.mark.parametrize("command", [
    "printf '#!/bin/sh\\necho pwned\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit",
    "echo '[core]\\n\\thooksPath = /tmp' >> .git/config",
    "git config core.fsmonitor 'touch /workspace/pwned'",
    "echo 'mode = \"auto\"' >> .termagent/config.toml",
    "mkdir -p .termagent/agents && echo x > .termagent/agents/evil.md",
    "rm -rf .git",
    "mv .termagent gone",
])
async def test_git_and_termagent_dirs_cannot_be_changed(shared_sandbox: Any, shared_workspace: Path, command: str) -> None:
    watched = [shared_workspace / ".git" / "config", shared_workspace / ".termagent" / "config.toml",
               shared_workspace / ".git" / "HEAD"]
    before = {path: digest(path) for path in watched}
    hooks_before = sorted(p.name for p in (shared_workspace / ".git" / "hooks").iterdir())
    result = await run(shared_sandbox, command)
    assert result.exit_code != 0, result.output
    assert {path: digest(path) for path in watched} == before
    assert sorted(p.name for p in (shared_workspace / ".git" / "hooks").iterdir()) == hooks_before
    assert not (shared_workspace / ".termagent" / "agents").exists()
    assert not (shared_workspace / "pwned").exists()


async def test_planted_symlinks_point_nowhere_on_the_host(
    shared_sandbox: Any, shared_workspace: Path, canary_home: Any
) -> None:
    canary = canary_home.home / ".ssh" / "id_canary"
    (shared_workspace / "k").symlink_to(canary)
    try:
        through_host_link = await run(shared_sandbox, "cat k")
        planted = await run(shared_sandbox, f"ln -s / r && cat r{canary}; cat r{canary_home.home}/.aws/credentials")
        for result in (through_host_link, planted):
            assert result.exit_code != 0
            assert "No such file" in result.output
            assert not any(secret in result.output for secret in canary_home.secrets())
        assert canary_home.unchanged()
    finally:
        for name in ("k", "r"):
            (shared_workspace / name).unlink(missing_ok=True)


# ---------------------------------------------------------------- network egress


EGRESS = [
    "python3 -c 'import urllib.request; urllib.request.urlopen(\"http://{gw}:{port}/\", timeout=3)'",
    "echo hi > /dev/tcp/{gw}/{port}",
    "python3 -c 'import socket; socket.create_connection((\"{gw}\", {port}), timeout=3)'",
    "python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b\"x\", (\"{gw}\", {port}))'",
    "echo hi > /dev/udp/{gw}/{port}",
    "getent hosts x.example.com",
    "getent hosts host.docker.internal",
    "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)'",
    "python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)'",
    "python3 -c 'import socket; socket.create_connection((\"169.254.169.254\", 80), timeout=3)'",
    "python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 443), timeout=3)'",
]


@pytest.mark.parametrize("template", EGRESS)
async def test_egress_fails_and_nothing_reaches_the_gateway(
    shared_sandbox: Any, gateway_listener: Any, template: str
) -> None:
    before = gateway_listener.hits
    result = await run(shared_sandbox, template.format(gw=gateway_listener.host, port=gateway_listener.port), 15)
    assert result.exit_code != 0, result.output
    assert "No module named" not in result.output and "command not found" not in result.output
    assert gateway_listener.hits == before


async def test_only_loopback_exists(shared_sandbox: Any) -> None:
    result = await run(shared_sandbox, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
    assert result.output.split() == ["lo"]


def test_listener_is_reachable_from_a_networked_container(docker_client: Any, gateway_listener: Any) -> None:
    """The control: the same probe from a bridge-networked container does hit the listener."""
    before = gateway_listener.tcp_hits
    probe = f"echo hi > /dev/tcp/{gateway_listener.host}/{gateway_listener.port}"
    docker_client.containers.run(make_config().get("sandbox", "image"), ["bash", "-c", probe], remove=True)
    for _ in range(50):
        if gateway_listener.tcp_hits > before:
            break
        __import__("time").sleep(0.1)
    assert gateway_listener.tcp_hits == before + 1


async def test_engine_rejecting_a_setting_refuses_to_run(tmp_path: Path, docker_client: Any) -> None:
    limits = limits_from_config(make_config(memory="1m"))
    sandbox = DockerSandbox(limits, make_workspace(tmp_path / "ws"), "rejected")
    with pytest.raises(SandboxUnavailable, match="refused"):
        await sandbox.start()
    leftovers = docker_client.containers.list(all=True, filters={"label": [f"{LABEL_SESSION}=rejected",
                                                                           *label_terms(run_labels())]})
    assert leftovers == []


# ---------------------------------------------------------------- resource exhaustion


async def test_fork_bomb_hits_the_pids_limit_and_the_next_command_answers(shared_sandbox: Any) -> None:
    bomb = await run(shared_sandbox, ":(){ :|:& };:; sleep 30", 3)
    assert bomb.timed_out
    assert "Resource temporarily unavailable" in bomb.output
    after = await run(shared_sandbox, "echo alive; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null;"
                                      " ls /proc | grep -c '^[0-9]'", 10)
    lines = after.output.split()
    assert lines[0] == "alive"
    assert lines[1] == str(shared_sandbox.limits.pids)
    assert int(lines[2]) < 10


async def test_8gb_allocation_is_oom_killed_and_reported(shared_sandbox: Any) -> None:
    result = await run(shared_sandbox, "python3 -c 'b = b\"x\" * (8 << 30)'", 60)
    assert result.oom_killed
    assert result.exit_code == 137
    assert format_result(result, 60, TEST_MEMORY).endswith(f"killed: out of memory (limit {TEST_MEMORY})")
    assert (await run(shared_sandbox, "echo fine")).output == "fine\n"


async def test_filling_tmp_stops_at_the_tmpfs_cap(shared_sandbox: Any) -> None:
    try:
        result = await run(shared_sandbox, "head -c 400M /dev/zero > /tmp/fill; echo rc=$?; stat -c %s /tmp/fill", 30)
        assert "No space left on device" in result.output
        size = int(result.output.split()[-1])
        assert size <= 256 * 1024 * 1024
    finally:
        await run(shared_sandbox, "rm -f /tmp/fill")


async def test_a_huge_workspace_file_is_refused(shared_sandbox: Any, shared_workspace: Path) -> None:
    try:
        result = await run(shared_sandbox, "truncate -s 2G big; echo t=$?; "
                                           "head -c 2M /dev/zero | dd of=big2 bs=1M seek=1023 2>&1; echo d=$?", 30)
        assert "File too large" in result.output or "File size limit exceeded" in result.output
        assert not (shared_workspace / "big").exists() or (shared_workspace / "big").stat().st_size <= 1 << 30
        assert (shared_workspace / "big2").stat().st_size <= 1 << 30
    finally:
        for name in ("big", "big2"):
            (shared_workspace / name).unlink(missing_ok=True)


@pytest.mark.parametrize("command", [
    "while :; do :; done  # runaway-marker",
    "sleep 1e9  # runaway-marker",
    "sleep 1e9 & sleep 1e9 & wait  # runaway-marker",
    "bash -c 'while :; do :; done; : runaway-marker' & wait",
])
async def test_runaway_commands_end_at_the_timeout(shared_sandbox: Any, command: str) -> None:
    result = await run(shared_sandbox, command, 2)
    assert result.timed_out
    listing = await run(shared_sandbox, "ps -eo args")
    assert "runaway-marker" not in listing.output
    assert "sleep 1e9" not in listing.output


@pytest.mark.parametrize("command", ["read x", "cat", "less README.md", "python3 -c 'input()'",
                                     "python3 -c 'import getpass; getpass.getpass()'"])
async def test_stdin_is_dev_null_so_interactive_commands_return(shared_sandbox: Any, command: str) -> None:
    result = await run(shared_sandbox, command, 20)
    assert not result.timed_out, result.output


async def test_urandom_flood_is_capped(shared_sandbox: Any) -> None:
    result = await run(shared_sandbox, "cat /dev/urandom", 2)
    assert result.timed_out
    assert result.elided_bytes > 0
    assert len(result.output.encode()) < 3 * shared_sandbox.limits.output_cap_bytes


async def test_one_huge_line_is_capped(shared_sandbox: Any) -> None:
    result = await run(shared_sandbox, "head -c 200000000 /dev/zero | tr '\\0' a; echo", 30)
    assert result.elided_bytes > 199_000_000
    assert "bytes elided" in result.output


# ---------------------------------------------------------------- secrets


async def test_no_host_variables_or_api_key_inside(
    sandbox_factory: Any, tmp_path: Path, canary_env: dict[str, str], canary_home: Any
) -> None:
    sandbox = await sandbox_factory(make_workspace(tmp_path / "ws"))
    result = await run(sandbox, "env; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done")
    for value in canary_env.values():
        assert value not in result.output
    assert str(canary_home.home) not in result.output
    names = {line.split("=", 1)[0] for line in (await run(sandbox, "env")).output.splitlines() if "=" in line}
    assert names <= set(ENV_ALLOWLIST) | set(CACHE_ENV) | {"PWD", "OLDPWD", "SHLVL", "_", "HOSTNAME"}, names


async def test_host_credentials_are_not_visible(
    sandbox_factory: Any, tmp_path: Path, canary_env: dict[str, str], canary_home: Any
) -> None:
    sandbox = await sandbox_factory(make_workspace(tmp_path / "ws"))
    result = await run(sandbox, "cat ~/.ssh/* ~/.aws/credentials ~/.netrc ~/.docker/config.json; "
                                f"cat {canary_home.home}/.ssh/id_canary; echo sock=$SSH_AUTH_SOCK; "
                                "ls -A ~ | grep -cvxE '[.]cache|[.]cargo'")  # only the cache mount points
    assert not any(secret in result.output for secret in canary_home.secrets())
    assert "sock=\n" in result.output
    assert result.output.rstrip().endswith("0")
    assert canary_home.unchanged()


# ---------------------------------------------------------------- git (sandbox side)


async def test_push_and_commit_are_impossible_from_inside(
    sandbox_factory: Any, tmp_path: Path, gateway_listener: Any
) -> None:
    workspace = make_workspace(tmp_path / "ws")
    git(workspace, "remote", "add", "origin", f"http://{gateway_listener.host}:{gateway_listener.port}/r.git")
    (workspace / "README.md").write_text("second\n")
    git(workspace, "commit", "-q", "-am", "second")
    head = git(workspace, "rev-parse", "HEAD")
    status = git(workspace, "status", "--porcelain")
    sandbox = await sandbox_factory(workspace)
    before = gateway_listener.hits
    for command in ("git push --force origin main", "git push origin :main",
                    "git -c user.name=x -c user.email=x@x commit --allow-empty -m evil",
                    "git reset --hard HEAD~1"):
        result = await run(sandbox, command, 20)
        assert result.exit_code != 0, (command, result.output)
    assert gateway_listener.hits == before
    assert git(workspace, "rev-parse", "HEAD") == head
    assert (workspace / "README.md").read_text() == "second\n"
    assert git(workspace, "status", "--porcelain") == status
