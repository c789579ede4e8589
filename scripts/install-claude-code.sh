#!/usr/bin/env bash
# Installs Claude Code (npm: @anthropic-ai/claude-code), the reference the start-up benchmark
# (scripts/bench_vs_peer.py) compares against, under .venv/claude-code. Benchmarks only: no
# test needs it, and the benchmark skips the comparison when it is missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
PREFIX="$VENV/claude-code"
VERSION="${CLAUDE_CODE_VERSION:-2.1.332}"
if [ -x "$PREFIX/node_modules/.bin/claude" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "install-claude-code: npm not found; the benchmark will skip Claude Code" >&2
    exit 0
fi
mkdir -p "$PREFIX"
npm install --silent --no-audit --no-fund --prefix "$PREFIX" "@anthropic-ai/claude-code@$VERSION" \
    || echo "install-claude-code: npm install failed; the benchmark will skip Claude Code" >&2
