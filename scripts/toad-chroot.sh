#!/usr/bin/env bash
# Runs a command inside Toad's root filesystem (scripts/install-toad.sh builds it) the way
# tests/test_toad.py needs it: /proc, /dev (with the caller's pty), /sys, a fresh /tmp and /run,
# Docker's socket, and every --bind PATH at the same path inside as outside, so the paths
# termagent hands the Docker engine for its sandbox mean the same thing to the engine.
# Everything is mounted in a private mount namespace: the mounts end with the command, even
# when the caller is killed, and the cached root filesystem is never left with /dev inside.
#
# Usage: toad-chroot.sh ROOTFS [--bind PATH]... -- COMMAND [ARG]...
set -euo pipefail

ARGS=("$@")
ROOTFS="$1"
shift
BINDS=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    [ "$1" = "--bind" ] && [ "$#" -ge 2 ] || { echo "toad-chroot: usage: ROOTFS [--bind PATH]... -- COMMAND" >&2; exit 2; }
    BINDS+=("$2")
    shift 2
done
[ "${1:-}" = "--" ] && shift
[ "$#" -gt 0 ] || { echo "toad-chroot: no command" >&2; exit 2; }
[ -x "$ROOTFS/opt/toad/bin/toad" ] || { echo "toad-chroot: no Toad in $ROOTFS (run scripts/install-toad.sh)" >&2; exit 1; }

if [ "${TOAD_CHROOT_INSIDE:-}" != "1" ]; then
    TOAD_CHROOT_INSIDE=1 exec unshare --mount --propagation private "$0" "${ARGS[@]}"
fi
unset TOAD_CHROOT_INSIDE

# Host paths are resolved first: the root filesystem's own symlinks (/var/run -> /run) are
# absolute and would lead out of it when followed from here.
SOCKET="/var/run/docker.sock"
case "${DOCKER_HOST:-}" in unix://*) SOCKET="${DOCKER_HOST#unix://}" ;; esac
SOCKET="$(readlink -f "$SOCKET")"
mount -t proc proc "$ROOTFS/proc"
mount --rbind /dev "$ROOTFS/dev"
mount --rbind /sys "$ROOTFS/sys"
mount -t tmpfs tmpfs "$ROOTFS/tmp"
mount -t tmpfs tmpfs "$ROOTFS/run"
if [ -S "$SOCKET" ]; then  # under /run (the fresh tmpfs) on Debian
    mkdir -p "$ROOTFS$(dirname "$SOCKET")"
    touch "$ROOTFS$SOCKET"
    mount --bind "$SOCKET" "$ROOTFS$SOCKET"
fi
for path in "${BINDS[@]}"; do
    path="$(readlink -f "$path")"
    mkdir -p "$ROOTFS$path"
    mount --bind "$path" "$ROOTFS$path"
done
exec chroot "$ROOTFS" "$@"
