#!/usr/bin/env bash
# Build a sandbox image without any registry: debootstrap a minimal Debian root
# filesystem from the host's own apt sources, add the packages in
# <image-dir>/packages.txt, and `docker import` it with a label carrying the recipe hash.
#
# Usage: bootstrap.sh IMAGE_DIR TAG RECIPE_HASH
# Env:   SUITE (default bookworm), MIRROR (default: read from the host's apt sources),
#        WORKDIR (default: a temp dir under /var/tmp), KEEP_ROOTFS=1 to keep the rootfs.
set -euo pipefail

IMAGE_DIR="$1"
TAG="$2"
RECIPE_HASH="$3"
SUITE="${SUITE:-bookworm}"

# shellcheck source=host_mirror.sh
source "$(dirname "$0")/host_mirror.sh"

MIRROR="${MIRROR:-$(host_mirror)}"
if [ -z "$MIRROR" ]; then
    echo "bootstrap: no apt source found on this host; set MIRROR" >&2
    exit 1
fi
PACKAGES="$(grep -Ev '^\s*(#|$)' "$IMAGE_DIR/packages.txt" | tr '\n' ',' | sed 's/,$//')"

WORK="${WORKDIR:-$(mktemp -d /var/tmp/termagent-rootfs.XXXXXX)}"
ROOTFS="$WORK/rootfs"
cleanup() {
    if [ "${KEEP_ROOTFS:-0}" != "1" ]; then
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
mkdir -p "$ROOTFS"

echo "bootstrap: debootstrap $SUITE (minbase) with: $PACKAGES"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR"

echo "bootstrap: trimming caches"
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
    "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/log/* \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
    "$ROOTFS"/tmp/* "$ROOTFS"/root/.cache
# The host's sources must not travel inside the image: the sandbox has no network.
rm -f "$ROOTFS"/etc/apt/sources.list "$ROOTFS"/etc/apt/sources.list.d/*
mkdir -p "$ROOTFS/workspace" "$ROOTFS/home/agent"
chmod 1777 "$ROOTFS/home/agent"

echo "bootstrap: importing as $TAG"
tar --numeric-owner -C "$ROOTFS" -c . | docker import \
    --change 'CMD ["sleep", "infinity"]' \
    --change 'ENV LANG=C.UTF-8 HOME=/home/agent PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'WORKDIR /workspace' \
    --change "LABEL termagent.recipe=$RECIPE_HASH" \
    --change "LABEL termagent.image=default" \
    - "$TAG"
echo "bootstrap: done"
