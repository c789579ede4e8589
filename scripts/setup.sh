#!/usr/bin/env bash
# Create .venv and install termagent with its test extras. Idempotent and quick when
# nothing changed, so every other script can call it first.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.termagent-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[test,ray]'  # ray: termagent batch --ray and its tests
    touch "$stamp"
fi
