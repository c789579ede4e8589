"""Per-project cache volumes against the real engine.

The install under test is a real pip build: a local sdist with a C extension (a real
compile), installed with `--no-index` (the sandbox has no network at all). The first
session builds the wheel and pip caches it in the project's cache volume; a second
session (a new container) installs from that cache without building, so it is
faster. The volume holds the wheel and nothing of the workspace, and prune removes it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from termagent.sandbox.caches import CACHE_ENV, cache_volumes, list_volumes
from termagent.sandbox.maintenance import prune, status_lines
from tests.docker_support import make_config

pytestmark = pytest.mark.docker

SETUP = """
from setuptools import Extension, setup
setup(name="tinypkg", version="1.0", packages=["tinypkg"],
      ext_modules=[Extension("tinypkg._big", ["big.c"], extra_compile_args=["-O2"])])
"""
INSTALL = ("python3 -m pip install --no-build-isolation --no-index --find-links /workspace/dist --target /tmp/site "
           "tinypkg 2>&1 | grep -v 'Running pip as'; "
           "ls /tmp/site/tinypkg/_big*.so && PYTHONPATH=/tmp/site python3 -c 'import tinypkg; print(\"imported\")'")


def big_c(functions: int = 400) -> str:
    """A C file that takes the compiler a while: the build the cache lets pip skip."""
    body = "\n".join(f"int f{i}(int x) {{ int s = 0; for (int k = 0; k < x; k++) s += (k * {i}) ^ (s >> 3); "
                     f"return s; }}" for i in range(functions))
    return body + "\nvoid *PyInit__big(void) { return 0; }\n"  # no Python headers in the image: never imported


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "pkg" / "tinypkg").mkdir(parents=True)
    (ws / "pkg" / "setup.py").write_text(SETUP)
    (ws / "pkg" / "tinypkg" / "__init__.py").write_text("")
    (ws / "pkg" / "big.c").write_text(big_c())
    (ws / "workspace-only-marker.txt").write_text("this file must never be in a cache volume\n")
    return ws


async def timed(sandbox, command: str) -> tuple[float, str]:
    started = time.monotonic()
    result = await sandbox.exec(command, 600)
    assert result.exit_code == 0, result.output
    return time.monotonic() - started, result.output


async def test_a_second_install_in_a_new_session_uses_the_cache_and_is_faster(workspace, sandbox_factory,
                                                                              docker_client):
    first = await sandbox_factory(workspace)
    await timed(first, "cd pkg && python3 setup.py -q sdist -d /workspace/dist >/dev/null 2>&1; ls /workspace/dist")
    cold, cold_out = await timed(first, INSTALL)
    assert "Building wheel for tinypkg" in cold_out and "imported" in cold_out
    await first.close()

    second = await sandbox_factory(workspace)  # a new container: /tmp and $HOME start empty
    assert second.container_id != first.container_id
    warm, warm_out = await timed(second, INSTALL)
    assert "Building wheel" not in warm_out and "imported" in warm_out  # no compile
    assert "Using cached tinypkg-1.0-" in warm_out
    assert warm < cold, f"warm install {warm:.1f}s was not faster than the cold one {cold:.1f}s"

    _, inside = await timed(second, "find \"$XDG_CACHE_HOME\" -type f | sort; env | grep -E '^(PIP|npm|UV|GO|XDG)'")
    assert "/home/agent/.cache/pip/wheels/" in inside and "tinypkg-1.0-" in inside
    assert "workspace-only-marker" not in inside and "setup.py" not in inside and "big.c" not in inside
    for name, value in CACHE_ENV.items():
        assert f"{name}={value}" in inside
    assert "CARGO_HOME" not in inside  # only cache directories, never cargo's credentials and config
    mounts = {m["Destination"]: m for m in docker_client.api.inspect_container(second.container_id)["Mounts"]}
    names = {volume.name for volume in cache_volumes(workspace)}
    assert {mounts[v.target]["Name"] for v in cache_volumes(workspace)} == names
    assert all(mounts[v.target]["Source"] != str(workspace) for v in cache_volumes(workspace))


async def test_status_lists_the_volumes_and_prune_removes_them(workspace, sandbox_factory, docker_client):
    sandbox = await sandbox_factory(workspace)
    await timed(sandbox, "mkdir -p ~/.cache/pip && head -c 300000 /dev/urandom > ~/.cache/pip/blob; "
                         "mkdir -p ~/.cargo/registry/x && echo crate > ~/.cargo/registry/x/c")
    lines = status_lines(make_config(), workspace, trusted=False)
    assert lines[0].startswith("image in force: termagent-sandbox:latest (the default image)")
    mine = [line for line in lines if "(this workspace)" in line]
    assert len(mine) == 3 and any("KiB" in line for line in mine)
    kept = prune()  # the live session still mounts them: the engine refuses, prune says so
    assert any("kept" in line for line in kept)
    await sandbox.close()
    removed = "\n".join(prune())
    assert all(volume.name in removed for volume in cache_volumes(workspace))
    left = {row["name"] for row in list_volumes(docker_client)}
    assert not left & {volume.name for volume in cache_volumes(workspace)}


async def test_caches_off_mounts_nothing(workspace, sandbox_factory, docker_client):
    sandbox = await sandbox_factory(workspace, caches=False)
    mounts = docker_client.api.inspect_container(sandbox.container_id)["Mounts"]
    assert not [m for m in mounts if m.get("Type") == "volume"]
    _, out = await timed(sandbox, "echo ${PIP_CACHE_DIR:-unset}")
    assert out.strip() == "unset"
