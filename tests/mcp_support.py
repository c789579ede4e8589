"""Where the MCP test servers are, and config entries for them (tests skip when one is missing)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

FIXTURE = str(Path(__file__).with_name("mcp_fixture_server.py"))
VENV_BIN = Path(sys.executable).parent
NPM_PREFIXES = [VENV_BIN.parent / "mcp-test-servers", Path.home() / ".cache" / "termagent-test" / "mcp"]


def binary(name: str) -> str:
    """A Python console script next to this interpreter, else on PATH; skip when absent."""
    local = VENV_BIN / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (scripts/install-mcp-test-servers.sh installs it)")
    return found


def filesystem_server() -> str:
    for prefix in [Path(p) for p in os.environ.get("TERMAGENT_MCP_NPM_PREFIX", "").split(":") if p] + NPM_PREFIXES:
        candidate = prefix / "node_modules" / ".bin" / "mcp-server-filesystem"
        if candidate.exists() and shutil.which("node"):
            return str(candidate)
    pytest.skip("@modelcontextprotocol/server-filesystem is not installed (scripts/install-mcp-test-servers.sh)")


def fixture(mode: str = "normal", **extra) -> dict:
    return {"command": sys.executable, "args": [FIXTURE, mode], **extra}
