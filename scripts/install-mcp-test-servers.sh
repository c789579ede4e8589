#!/usr/bin/env bash
# Installs the third-party MCP servers the MCP tests run for real: mcp-server-git and
# mcp-server-time (PyPI) into .venv, @modelcontextprotocol/server-filesystem (npm) under
# .venv/mcp-test-servers. Idempotent and quick when they are already there; without npm
# or node the filesystem tests skip. Tests look in the same places (tests/mcp_support.py).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/mcp-server-git" ] || [ ! -x "$VENV/bin/mcp-server-time" ]; then
    "$VENV/bin/python" -m pip install -q mcp-server-git mcp-server-time
fi
PREFIX="$VENV/mcp-test-servers"
if [ ! -x "$PREFIX/node_modules/.bin/mcp-server-filesystem" ]; then
    if command -v npm >/dev/null 2>&1; then
        mkdir -p "$PREFIX"
        npm install --silent --no-audit --no-fund --prefix "$PREFIX" @modelcontextprotocol/server-filesystem \
            || echo "install-mcp-test-servers: npm install failed; the filesystem MCP tests will skip" >&2
    else
        echo "install-mcp-test-servers: npm not found; the filesystem MCP tests will skip" >&2
    fi
fi
