"""Shared fixtures: per-test state isolation and the scripted model server."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from termagent.testing.scripted_server import ScriptedServer


def pytest_configure(config: pytest.Config) -> None:
    """Label this run's sandbox containers, and accept a root sandbox where tests run as root.

    TERMAGENT_TEST_RUN makes every container this run starts carry its own label, so the
    reaper and container listings of this run never touch those of a parallel run (or of
    a real session) on the same engine. CI and dev containers run as root, which the
    sandbox refuses without an explicit opt-in; tests that check the refusal unset it.
    """
    os.environ.setdefault("TERMAGENT_TEST_RUN", "test-" + secrets.token_hex(6))
    if os.getuid() == 0:
        os.environ.setdefault("TERMAGENT_SANDBOX_ALLOW_ROOT", "1")


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every test away from the user's real config, state and API credentials."""
    root = tmp_path_factory.mktemp("termagent-home")
    for var, sub in (
        ("TERMAGENT_CONFIG_DIR", "config"),
        ("TERMAGENT_STATE_DIR", "state"),
        ("XDG_CONFIG_HOME", "xdg-config"),
        ("XDG_STATE_HOME", "xdg-state"),
        ("XDG_DATA_HOME", "xdg-data"),
        ("CLAUDE_CONFIG_DIR", "claude"),  # ~/.claude: its skills and commands would join every session
    ):
        (root / sub).mkdir()
        monkeypatch.setenv(var, str(root / sub))
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TERMAGENT_WORKER", "0")  # one-shot runs stay in-process; tests/test_worker.py opts in
    return root


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    """A started ScriptedServer with an empty script; the test queues steps with ``.add``."""
    with ScriptedServer() as server:
        yield server
    server.check_finished()
pytest_plugins = ["tests.docker_support"]
