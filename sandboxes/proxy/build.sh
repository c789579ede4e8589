#!/usr/bin/env bash
# Build the egress proxy image: Debian's squid installed on top of the sandbox image, its
# binary replaced by one rebuilt from Debian's source with 64 KB plain-HTTP copies
# (rebuild-squid.sh says why). If the rebuild fails (no source packages on the mirror, a
# new squid version), Debian's binary stays and the build says so; the image's
# termagent.squid label records which one is in force. The build containers alone get the
# host's apt sources (bind-mounted read-only, never committed) and the default bridge
# network; the result carries no sources, no lists and no build tools.
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

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NAME="termagent-proxy-build-$$"
OUT="$(mktemp -d)"
cleanup() {
    docker rm -f "$NAME" "$NAME-src" >/dev/null 2>&1 || true
    rm -rf "$OUT"
}
trap cleanup EXIT

echo "proxy build: rebuilding squid from Debian's source (64 KB plain-HTTP copies)"
if docker run --name "$NAME-src" --user 0:0 --network bridge -v /etc/apt:/host-apt:ro \
        -v "$HERE/rebuild-squid.sh:/rebuild-squid.sh:ro" "$BASE" bash /rebuild-squid.sh /out \
        && docker cp "$NAME-src:/out/squid" "$OUT/squid"; then
    chmod 0755 "$OUT/squid"
else
    echo "proxy build: WARNING: the rebuild failed; keeping Debian's squid (plain HTTP copies 4 KB at a time)" >&2
fi

echo "proxy build: installing squid on $BASE"
docker run --name "$NAME" --user 0:0 --network bridge "${MOUNTS[@]}" -v "$OUT:/rebuilt" "$BASE" bash -c '
    set -e
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends squid
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/* /usr/share/doc/* /usr/share/man/*
    if [ -x /rebuilt/squid ] && /rebuilt/squid -v >/dev/null; then
        install -m 0755 /rebuilt/squid /usr/sbin/squid
        echo rebuilt-64k >/rebuilt/kind
    else
        echo debian >/rebuilt/kind
    fi
    squid -v | head -n 1
'
KIND="$(cat "$OUT/kind")"
echo "proxy build: squid in force: $KIND"
echo "proxy build: committing $TAG"
docker commit \
    --change 'USER proxy' \
    --change 'WORKDIR /' \
    --change 'CMD ["squid", "-N", "-f", "/etc/termagent/squid.conf"]' \
    --change "LABEL termagent.recipe=$RECIPE_HASH" \
    --change "LABEL termagent.image=proxy" \
    --change "LABEL termagent.squid=$KIND" \
    "$NAME" "$TAG" >/dev/null
echo "proxy build: done"
