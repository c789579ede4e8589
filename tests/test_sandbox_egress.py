"""The egress allowlist, end to end on the real engine with the real squid sidecar.

Two HTTP servers sit on a test network the sandbox cannot reach by itself: `testsrv`
(allowed by name, and its address listed) and a second one reached under two names,
`privname` (allowed, but its private address is not listed) and `deniedname` (not
allowed). The second server's own log proves no denied attempt ever reached it. One
sandbox serves every assertion; the script inside tries each attack once.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from termagent.config import ConfigError, load_config
from termagent.sandbox.egress_policy import EgressPatternError, parse_pattern, policy_from_settings
from termagent.sandbox.squid_conf import blocked_minus_listed, parse_log_line, render
from tests.docker_support import make_config, run_labels
from tests.machine_indexes import pip_cert, pip_index

SERVER_IMAGE = "termagent-sandbox:latest"
BIG_BYTES = 3_000_000  # many of the proxy's 64 KB copies, and not a multiple of them
PROBE = r'''
import hashlib, http.client, json, os, socket, sys, urllib.error, urllib.parse, urllib.request
SRV, PRIV = sys.argv[1], sys.argv[2]

def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return "ok %d %s" % (reply.status, reply.read().decode(errors="replace")[:40])
    except urllib.error.HTTPError as exc:
        return "http %d" % exc.code
    except Exception as exc:
        return "error " + type(exc).__name__

def tunnel(host, port):
    proxy = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"])
    conn = http.client.HTTPConnection(proxy.hostname, proxy.port, timeout=30)
    conn.set_tunnel(host, port)
    try:
        conn.request("GET", "/")
        return "ok %d" % conn.getresponse().status
    except OSError as exc:
        return "error " + str(exc)

def digests(host, port, path):
    """sha256 of PATH fetched by plain-HTTP forwarding, then through a CONNECT tunnel."""
    proxy = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"])
    conn = http.client.HTTPConnection(proxy.hostname, proxy.port, timeout=60)
    conn.set_tunnel(host, port)
    try:
        forwarded = urllib.request.urlopen("http://%s:%d%s" % (host, port, path), timeout=60).read()
        conn.request("GET", path)
        tunnelled = conn.getresponse().read()
        return [hashlib.sha256(body).hexdigest() for body in (forwarded, tunnelled)]
    except OSError as exc:
        return ["error " + str(exc)]

def raw(host, port):
    sock = socket.socket()
    sock.settimeout(3)
    try:
        sock.connect((host, port))
        return "connected"
    except OSError as exc:
        return "error " + type(exc).__name__

def dns(name):
    try:
        return "resolved " + socket.gethostbyname(name)
    except OSError as exc:
        return "error " + type(exc).__name__

print(json.dumps({
    "name": get("http://testsrv:8000/"),
    "big": digests("testsrv", 8000, "/big"),
    "tunnel": tunnel("testsrv", 8000),
    "listed_ip": get("http://%s:8000/" % SRV),
    "denied_name": get("http://deniedname:8000/"),
    "private_via_name": get("http://privname:8000/"),
    "ip_literal": get("http://%s:8000/" % PRIV),
    "metadata": get("http://169.254.169.254/latest/meta-data/"),
    "other_port": get("http://testsrv:8001/"),
    "denied_tunnel": tunnel("privname", 8000),
    "raw_socket": raw(SRV, 8000),
    "dns_outside": dns("example.com"),
    "dns_testsrv": dns("testsrv"),
}))
'''


# ---------------------------------------------------------------- patterns and config (no engine)

@pytest.mark.parametrize("pattern,reason", [
    ("https://example.com", "not a URL"), ("example.com/x", "not a path"), ("127.0.0.1", "loopback"),
    ("169.254.0.0/16", "metadata"), ("*.com", "wildcard"), ("ex*.example.com", "leading"),
    ("example.com:0", "1-65535"), ("example.com:http", "number"), ("0.0.0.0/0", "0.0.0.0/8"),
    ("bad name.com", "host name"), ("fd00:ec2::254", "metadata"),
])
def test_bad_patterns_are_refused_with_the_reason(pattern: str, reason: str) -> None:
    with pytest.raises(EgressPatternError, match=re.escape(reason)):
        parse_pattern(pattern)


def test_patterns_allow_80_and_443_unless_a_port_is_given() -> None:
    assert parse_pattern("example.com").matches("EXAMPLE.com.", 443)
    assert not parse_pattern("example.com").matches("example.com", 8443)
    assert parse_pattern("api.example.net:8443").matches("api.example.net", 8443)
    assert not parse_pattern("api.example.net:8443").matches("api.example.net", 443)
    wildcard = parse_pattern("*.example.org")
    assert wildcard.matches("a.b.example.org", 80)
    assert not wildcard.matches("example.org", 80) and not wildcard.matches("badexample.org", 80)


def test_user_and_project_allowlists_add_up_and_a_broken_one_names_its_file(tmp_path: Path) -> None:
    user = Path(os.environ["TERMAGENT_CONFIG_DIR"]) / "config.toml"
    user.write_text('[sandbox.network]\nmode = "allowlist"\nallow = ["example.com"]\n')
    project = tmp_path / ".termagent" / "config.toml"
    project.parent.mkdir()
    project.write_text('[sandbox.network]\nallow = ["*.example.org"]\n')
    assert load_config(tmp_path).get("sandbox", "network") == {
        "mode": "allowlist", "allow": ["example.com", "*.example.org"]}
    assert load_config(tmp_path, include_project=False).get("sandbox", "network")["allow"] == ["example.com"]
    project.write_text('[sandbox.network]\nallow = ["https://example.org"]\n')
    with pytest.raises(ConfigError, match=re.escape(str(project)) + ".*not a URL"):
        load_config(tmp_path)
    project.write_text('[sandbox.network]\nmode = "open"\n')
    with pytest.raises(ConfigError, match="'none' or 'allowlist'"):
        load_config(tmp_path)
    user.write_text('[sandbox.network]\nmode = "allowlist"\n')
    with pytest.raises(ConfigError, match="allow is empty"):
        load_config(tmp_path, include_project=False)


def test_a_bad_allow_host_flag_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "termagent", "-C", str(tmp_path), "--allow-host", "10.0.0.1:x",
                           "sandbox", "status"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 2
    assert "--allow-host" in done.stderr and "port must be a number" in done.stderr


def test_denied_names_are_never_resolved_and_listed_networks_cut_the_blocked_ranges() -> None:
    policy = policy_from_settings({"mode": "allowlist", "allow": ["ok.example", "10.1.2.3:8000"]})
    conf = render(policy)
    rule = next(line for line in conf.splitlines() if line.startswith("http_access allow !ip_literal"))
    # squid evaluates left to right: the name is checked before `to_blocked` makes it resolve
    assert rule.index("name0") < rule.index("to_blocked")
    assert conf.strip().endswith("http_access deny all")
    cut = blocked_minus_listed(tuple(p.network for p in policy.networks if p.network is not None))
    import ipaddress
    assert not any(ipaddress.ip_address("10.1.2.3") in n for n in cut)
    assert any(ipaddress.ip_address("10.1.2.4") in n for n in cut)
    assert any(ipaddress.ip_address("169.254.169.254") in n for n in cut)


def test_access_log_lines_become_records() -> None:
    line = "TERMAGENT-EGRESS 1796224517.139 TCP_TUNNEL/200 CONNECT testsrv 8000 172.26.0.2 550 497"
    record = parse_log_line(line)
    assert record is not None and (record.host, record.port, record.decision) == ("testsrv", 8000, "allow")
    assert (record.bytes_in, record.bytes_out, record.server) == (550, 497, "172.26.0.2")
    denied = parse_log_line("TERMAGENT-EGRESS 1.0 TCP_DENIED/403 GET x.example 80 - 100 3400")
    assert denied is not None and denied.decision == "deny" and denied.server == ""
    assert parse_log_line("2026/12/02 squid: Accepting HTTP Socket connections") is None


# ---------------------------------------------------------------- the real engine and proxy

@pytest.fixture(scope="module")
def egress_world(docker_client: Any) -> Iterator[dict[str, Any]]:
    """A test network with the two servers; torn down with everything on it."""
    from termagent.sandbox.network import proxy_image

    try:
        docker_client.images.get(proxy_image())
    except Exception:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{proxy_image()} missing (scripts/build-proxy-image.sh)", pytrace=False)
        pytest.skip(f"{proxy_image()} missing (scripts/build-proxy-image.sh)")
    name = "termagent-egress-test-" + secrets.token_hex(3)
    network = docker_client.networks.create(name, driver="bridge", labels=run_labels())
    servers: list[Any] = []
    try:
        srv, srv_ip = _server(docker_client, name, ["testsrv"])
        servers.append(srv)
        priv, priv_ip = _server(docker_client, name, ["privname", "deniedname"])
        servers.append(priv)
        yield {"client": docker_client, "network": network, "srv": srv, "srv_ip": srv_ip,
               "priv": priv, "priv_ip": priv_ip}
    finally:
        for server in servers:
            server.remove(force=True)
        network.remove()


@pytest.mark.docker
def test_sandbox_status_says_which_squid_the_proxy_runs(egress_world: dict[str, Any], tmp_path: Path) -> None:
    """The proxy build falls back to Debian's binary when the rebuild fails; status says which
    one is in force, and CI's image must carry the rebuilt one the benchmarks measure."""
    from termagent.sandbox.maintenance import status_lines
    from termagent.sandbox.network import proxy_image
    from termagent.sandbox.proxy_image import LABEL_SQUID, SQUID_KINDS

    kind = (egress_world["client"].images.get(proxy_image()).labels or {}).get(LABEL_SQUID, "")
    line = next(line for line in status_lines(make_config(), tmp_path, trusted=False)
                if line.startswith("egress proxy:"))
    assert line == f"egress proxy: {proxy_image()}: {SQUID_KINDS[kind]}"
    if os.environ.get("CI") == "true":
        assert kind == "rebuilt-64k", line


def _server(client: Any, network: str, aliases: list[str]) -> tuple[Any, str]:
    """A python3 http.server on `network` under `aliases`, serving a marker file."""
    api = client.api
    script = (f"mkdir -p /tmp/www && echo served-by-{aliases[0]} >/tmp/www/index.html && "
              f"head -c {BIG_BYTES} /dev/urandom >/tmp/www/big && exec python3 -m http.server -d /tmp/www 8000")
    created = api.create_container(
        SERVER_IMAGE, ["bash", "-c", script], labels=run_labels(), environment={"PYTHONUNBUFFERED": "1"},
        host_config=api.create_host_config(network_mode=network, init=True),
        networking_config=api.create_networking_config({network: api.create_endpoint_config(aliases=aliases)}))
    api.start(created["Id"])
    container = client.containers.get(created["Id"])
    container.reload()
    return container, container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]


def hits(server: Any) -> int:
    """Requests the server logged: its own count of who reached it."""
    return len(re.findall(r'"(GET|CONNECT|POST|HEAD) ', server.logs().decode(errors="replace")))


class Audit(list):  # type: ignore[type-arg]
    """Collects the audit writer's records."""


def _start(world: dict[str, Any], workspace: Path, allow: list[str], audit: Audit) -> Any:
    from termagent.sandbox.docker_backend import DockerSandbox
    from termagent.sandbox.docker_settings import limits_from_config

    config = make_config(network={"mode": "allowlist", "allow": allow}, timeout_default_s=120)
    sandbox = DockerSandbox(limits_from_config(config), workspace, "egress-" + secrets.token_hex(4), audit.append)
    asyncio.run(sandbox.start())
    return sandbox


def _egress_objects(client: Any, session_id: str) -> tuple[list[Any], list[Any]]:
    terms = [f"termagent.session={session_id}", "termagent.role=egress"]
    return (client.containers.list(all=True, filters={"label": terms}),
            client.networks.list(filters={"label": terms}))


@pytest.fixture(scope="module")
def probed(egress_world: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One allowlist sandbox; the probe runs once; results, audit and Docker objects for the tests."""
    world = egress_world
    workspace = tmp_path_factory.mktemp("egress-ws")
    (workspace / "probe.py").write_text(PROBE)
    audit = Audit()
    before = hits(world["priv"])
    sandbox = _start(world, workspace, ["testsrv:8000", f"{world['srv_ip']}:8000", "privname:8000"], audit)
    try:
        proxies, networks = _egress_objects(world["client"], sandbox.session_id)
        world["network"].connect(proxies[0])  # the test servers' network is the proxy's "outside"
        result = asyncio.run(sandbox.exec(f"python3 probe.py {world['srv_ip']} {world['priv_ip']}", 120))
        getent = asyncio.run(sandbox.exec("getent hosts example.com; echo rc=$?", 30))
        big = world["srv"].exec_run(["sha256sum", "/tmp/www/big"]).output.decode().split()[0]
        seen = {"results": json.loads(result.output.strip().splitlines()[-1]), "getent": getent.output, "big": big,
                "proxy": proxies[0], "networks": networks, "describe": sandbox.describe(),
                "sandbox": world["client"].containers.get(sandbox.container_id)}
    finally:
        asyncio.run(sandbox.close())
    yield {**seen, "audit": audit, "priv_hits": hits(world["priv"]) - before, "srv_hits": hits(world["srv"]),
           "leftovers": _egress_objects(world["client"], sandbox.session_id)}


@pytest.mark.docker
def test_an_allowed_name_answers_through_the_proxy(probed: dict[str, Any]) -> None:
    results = probed["results"]
    assert results["name"] == "ok 200 served-by-testsrv\n"
    assert results["tunnel"] == "ok 200"  # CONNECT, as HTTPS would use
    assert results["listed_ip"] == "ok 200 served-by-testsrv\n"
    assert probed["srv_hits"] >= 3


@pytest.mark.docker
def test_a_large_reply_arrives_whole_forwarded_and_tunnelled(probed: dict[str, Any]) -> None:
    assert probed["results"]["big"] == [probed["big"], probed["big"]]


@pytest.mark.docker
def test_denied_destinations_fail_and_the_listener_sees_nothing(probed: dict[str, Any]) -> None:
    results = probed["results"]
    for key in ("denied_name", "private_via_name", "ip_literal", "metadata", "other_port"):
        assert results[key] == "http 403", key
    assert results["denied_tunnel"].startswith("error Tunnel connection failed: 403")
    assert results["raw_socket"].startswith("error")
    assert results["dns_outside"].startswith("error") and results["dns_testsrv"].startswith("error")
    assert "rc=2" in probed["getent"]
    assert probed["priv_hits"] == 0  # neither the denied name nor the private address got through


@pytest.mark.docker
def test_every_connection_is_an_audit_record(probed: dict[str, Any]) -> None:
    seen = {(r.host, r.port, r.decision) for r in probed["audit"]}
    assert ("testsrv", 8000, "allow") in seen
    for host, port in (("deniedname", 8000), ("privname", 8000), ("169.254.169.254", 80), ("testsrv", 8001)):
        assert (host, port, "deny") in seen, (host, port)
    allowed = next(r for r in probed["audit"] if r.host == "testsrv" and r.method == "GET" and r.decision == "allow")
    assert allowed.bytes_out > len("served-by-testsrv") and allowed.server


@pytest.mark.docker
def test_the_proxy_is_hardened_and_everything_goes_at_close(probed: dict[str, Any]) -> None:
    proxy = probed["proxy"].attrs["HostConfig"]
    assert proxy["ReadonlyRootfs"] and proxy["CapDrop"] == ["ALL"] and "no-new-privileges" in proxy["SecurityOpt"]
    assert proxy["PidsLimit"] == 64 and proxy["Memory"] > 0
    assert probed["proxy"].attrs["Config"]["User"] == "proxy"
    internal = next(n for n in probed["networks"] if n.name.endswith("-in"))
    assert internal.attrs["Internal"] is True
    assert list(probed["sandbox"].attrs["NetworkSettings"]["Networks"]) == [internal.name]
    assert probed["describe"]["network"] == "allowlist"
    assert probed["leftovers"] == ([], [])  # proxy and both networks removed at close


@pytest.mark.docker
def test_stale_egress_networks_are_reaped(docker_client: Any) -> None:
    from termagent.sandbox.network import LABEL_ROLE, reap_stale_networks
    from termagent.sandbox.reaper import owner_labels

    dead = subprocess.Popen(["true"])
    dead.wait()
    labels = {**owner_labels("stale-egress", "/nowhere"), "termagent.pid": str(dead.pid), LABEL_ROLE: "egress"}
    network = docker_client.networks.create("termagent-egress-stale-" + secrets.token_hex(3), labels=labels)
    live = docker_client.networks.create("termagent-egress-live-" + secrets.token_hex(3),
                                         labels={**owner_labels("live-egress", "/nowhere"), LABEL_ROLE: "egress"})
    try:
        removed = reap_stale_networks(docker_client)
        assert network.name in removed and live.name not in removed
    finally:
        live.remove()


# ---------------------------------------------------------------- the machine's package index

@pytest.mark.docker
def test_pip_download_works_only_with_the_index_allowed(egress_world: dict[str, Any], tmp_path: Path) -> None:
    index = pip_index()
    if index is None:
        pytest.skip("this machine's pip has no package index configured")
    url, hosts = index
    cert = pip_cert()
    cert_option = ""
    if cert is not None:
        (tmp_path / "ca.pem").write_bytes(cert.read_bytes())
        cert_option = "--cert /workspace/ca.pem "
    command = (f"pip download --no-deps --retries 0 --timeout 30 --no-cache-dir --index-url {url} {cert_option}"
               "-d /tmp/dl six && ls /tmp/dl")
    audit = Audit()
    sandbox = _start(egress_world, tmp_path, hosts, audit)
    try:
        allowed = asyncio.run(sandbox.exec(command, 180))
    finally:
        asyncio.run(sandbox.close())
    assert allowed.exit_code == 0, allowed.output
    assert re.search(r"six-[\d.]+-py.*\.whl", allowed.output)
    assert any(r.host == hosts[0] and r.decision == "allow" for r in audit)
    other = Audit()
    sandbox = _start(egress_world, tmp_path, ["testsrv:8000"], other)
    try:
        refused = asyncio.run(sandbox.exec(command, 180))
    finally:
        asyncio.run(sandbox.close())
    assert refused.exit_code != 0
    assert any(r.host == hosts[0] and r.decision == "deny" for r in other)


# ---------------------------------------------------------------- a whole session

@pytest.mark.docker
async def test_a_session_tells_the_model_and_termagent_audit_shows_the_connections(
        egress_world: dict[str, Any], scripted_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from termagent.commands import audit_command
    from termagent.headless import run_headless
    from termagent.testing.scripted_server import reply, text, tool_use
    from tests.session_support import make_session

    workspace = tmp_path / "ws"
    workspace.mkdir()
    fetch = "python3 -c \"import urllib.request as u; print(u.urlopen('http://nothere.invalid:8000/').status)\""
    scripted_server.add(reply(tool_use("bash", {"command": fetch})), reply(text("done")))
    overrides = {"sandbox": {"backend": "docker", "memory": "512m", "allow_root": os.getuid() == 0,
                             "network": {"mode": "allowlist", "allow": ["api.example.net:8443", "nothere.invalid:8000"]}},
                 "permissions": {"mode": "auto"}}
    session, _ = make_session(workspace, scripted_server, monkeypatch, overrides=overrides)
    assert any("allowlist" in w and "api.example.net:8443" in w for w in session.startup_warnings)
    await run_headless(session, "fetch it", "json", io.StringIO(), io.StringIO())
    system = " ".join(block["text"] for block in scripted_server.requests[0].body["system"])
    assert "api.example.net (port 8443)" in system and "nothere.invalid (port 8000)" in system
    assert audit_command(argparse.Namespace(id=session.session_id), workspace) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if " egress " in line)
    assert "allow by proxy" in line and '"host": "nothere.invalid"' in line and '"port": 8000' in line
