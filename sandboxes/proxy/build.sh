#!/usr/bin/env bash
# Build the egress proxy image: Debian's squid installed on top of the sandbox image.
# The build container alone gets the host's apt sources (bind-mounted read-only, never
# committed) and the default bridge network; the result carries no sources and no lists.
#
# Usage: build.sh BASE_IMAGE TAG RECIPE_HASH
set -euo pipefail

BASE="$1"
TAG="$2"
RECIPE_HASH="$3"

MOUNTS=()
for path in /etc/apt/sources.list /etc/apt/sources.list.d /etc/apt/apt.conf.d /etc/apt/trusted.gpg.d; do
    if [ -e "$path" ]; then
        MOUNTS+=(-v "$path:$path:ro")
    fi
done

NAME="termagent-proxy-build-$$"
cleanup() { docker rm -f "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "proxy build: installing squid on $BASE"
docker run --name "$NAME" --user 0:0 --network bridge "${MOUNTS[@]}" "$BASE" bash -c '
    set -e
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends squid
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/* /usr/share/doc/* /usr/share/man/*
    squid -v | head -n 1
'
echo "proxy build: committing $TAG"
docker commit \
    --change 'USER proxy' \
    --change 'WORKDIR /' \
    --change 'CMD ["squid", "-N", "-f", "/etc/termagent/squid.conf"]' \
    --change "LABEL termagent.recipe=$RECIPE_HASH" \
    --change "LABEL termagent.image=proxy" \
    "$NAME" "$TAG" >/dev/null
echo "proxy build: done"
