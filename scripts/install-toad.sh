#!/usr/bin/env bash
# Installs Toad (batrachian-toad, a terminal ACP client) for tests/test_toad.py, which runs
# Toad with `termagent acp` as its agent. Every Toad release needs Python >= 3.14 and Debian
# stable has 3.11, so Toad lives in a small Debian testing root filesystem, bootstrapped from
# the host's own apt mirror (the sandbox image's recipe: sandboxes/bootstrap.sh) into a cache
# dir keyed by a hash of the code below that makes it. Inside it, /opt/toad is a venv
# holding Toad and termagent with its dependencies; the test puts the checkout first on
# PYTHONPATH, so the code under test is always the checkout's (the venv is rebuilt only when
# pyproject.toml or the Toad version changes). pip inside the chroot uses the host's pip configuration: its config files, CA
# bundle and every local directory they name are made visible at the same paths.
#
# Usage: install-toad.sh            install (quick when cached)
#        install-toad.sh --root     print the ready root filesystem, or exit 1 when there is none
# Env:   TOAD_VERSION, TOAD_SUITE (default forky), TERMAGENT_TEST_CACHE (default ~/.cache/termagent-test),
#        MIRROR (default: read from the host's apt sources)
set -euo pipefail
cd "$(dirname "$0")/.."

TOAD_VERSION="${TOAD_VERSION:-0.6.20}"
SUITE="${TOAD_SUITE:-forky}"
PACKAGES="python3.14,python3.14-venv,ca-certificates,git"
CACHE="${TERMAGENT_TEST_CACHE:-$HOME/.cache/termagent-test}"

fail() { echo "install-toad: $*" >&2; exit 1; }

# shellcheck source=../sandboxes/host_mirror.sh
source sandboxes/host_mirror.sh

# Removes a cache dir only when nothing is mounted below it (a bind-mounted /dev would go too).
remove_tree() {
    if awk -v p="$1/" 'index($5 "/", p) == 1 {found = 1} END {exit !found}' /proc/self/mountinfo; then
        fail "$1 still has mounts below it; unmount them first"
    fi
    rm -rf "$1"
}

bootstrap() {
    [ -f "$ROOT/.ready" ] && return 0
    [ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap and chroot)"
    command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
    local mirror="${MIRROR:-$(host_mirror)}"
    [ -n "$mirror" ] || fail "no apt source found on this host; set MIRROR"
    local old
    for old in "$CACHE"/toad-*; do
        [ -d "$old" ] && [ "$old" != "$ROOT" ] && remove_tree "$old"
    done
    [ -d "$ROOT" ] && remove_tree "$ROOT"
    mkdir -p "$ROOTFS"
    echo "install-toad: debootstrap $SUITE (minbase) with $PACKAGES into $ROOTFS"
    # Debian's debootstrap may predate the suite's name; every testing suite shares sid's script.
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$mirror" \
        /usr/share/debootstrap/scripts/sid >"$ROOT/debootstrap.log" 2>&1 \
        || fail "debootstrap failed; see $ROOT/debootstrap.log"
    chroot "$ROOTFS" apt-get clean
    rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
    rm -f "$ROOTFS"/etc/apt/sources.list "$ROOTFS"/etc/apt/sources.list.d/*
    touch "$ROOT/.ready"
}

# Absolute paths that exist on the host and that pip's configuration (files or PIP_* variables) names;
# a local index's .../simple stands for its parent, whose files/ the index pages link to.
pip_paths() {
    local python="${PYTHON:-python3}"
    [ -x .venv/bin/python ] && python=.venv/bin/python
    { "$python" -m pip config debug 2>/dev/null || true; env | grep '^PIP_' || true; } \
        | grep -oE "(file://)?/[^' ,;]+" | sed -e 's|^file://||' -e 's|/simple/*$||' | sort -u | while IFS= read -r path; do
            [ -e "$path" ] && echo "$path"
        done
}

# Runs a command in the chroot with /proc, /dev and the host's pip paths visible, in a private
# mount namespace: the mounts end with the command, whatever happens to it.
in_chroot_with_pip() {
    local binds=""
    local path
    while IFS= read -r path; do binds+="$path"$'\n'; done < <(pip_paths)
    BINDS="$binds" ROOTFS="$ROOTFS" unshare --mount --propagation private bash -euc '
        mount -t proc proc "$ROOTFS/proc"
        mount --rbind /dev "$ROOTFS/dev"
        mount -t tmpfs tmpfs "$ROOTFS/tmp"
        while IFS= read -r path; do
            [ -n "$path" ] || continue
            if [ -d "$path" ]; then mkdir -p "$ROOTFS$path"; else mkdir -p "$(dirname "$ROOTFS$path")"; touch "$ROOTFS$path"; fi
            mount --bind -o ro "$path" "$ROOTFS$path"
        done <<<"$BINDS"
        exec chroot "$ROOTFS" "$@"' bash "$@"
}

install_venv() {
    [ "$(cat "$VENV_STAMP" 2>/dev/null)" = "$VENV_KEY" ] && return 0
    [ "$(id -u)" -eq 0 ] || fail "needs root (chroot)"
    echo "install-toad: venv with batrachian-toad==$TOAD_VERSION and termagent's dependencies"
    rm -rf "$ROOTFS/opt/toad" "$ROOTFS/opt/termagent-src"
    mkdir -p "$ROOTFS/opt/termagent-src"
    cp -r pyproject.toml README.md termagent "$ROOTFS/opt/termagent-src/"
    in_chroot_with_pip /usr/bin/python3.14 -m venv /opt/toad
    in_chroot_with_pip /opt/toad/bin/python -m pip install -q "batrachian-toad==$TOAD_VERSION" /opt/termagent-src \
        >"$ROOT/pip.log" 2>&1 || { tail -n 20 "$ROOT/pip.log" >&2; fail "pip install in the chroot failed; see $ROOT/pip.log"; }
    rm -rf "$ROOTFS/opt/termagent-src"
    echo "$VENV_KEY" > "$VENV_STAMP"
}

# The cache keys are hashes of the code that makes each layer: editing a comment elsewhere
# rebuilds nothing, editing bootstrap() rebuilds the root filesystem, and a new
# pyproject.toml or Toad version rebuilds only the venv.
ROOT="$CACHE/toad-$( (declare -f bootstrap remove_tree; echo "$SUITE $PACKAGES") | sha256sum | cut -c1-12)"
ROOTFS="$ROOT/rootfs"
VENV_STAMP="$ROOTFS/opt/toad/.installed"
VENV_KEY="$( (declare -f install_venv in_chroot_with_pip pip_paths; echo "$TOAD_VERSION"; cat pyproject.toml) \
    | sha256sum | cut -c1-16)"

if [ "${1:-}" = "--root" ]; then
    [ -f "$ROOT/.ready" ] && [ "$(cat "$VENV_STAMP" 2>/dev/null)" = "$VENV_KEY" ] || exit 1
    echo "$ROOTFS"
    exit 0
fi

start="$(date +%s)"
bootstrap
install_venv
echo "install-toad: Toad $TOAD_VERSION ready in $ROOTFS ($(( $(date +%s) - start ))s)"
