#!/usr/bin/env bash
# Build the egress proxy image (Debian's squid on top of the sandbox image) unless one
# with the current recipe hash exists. The hash covers sandboxes/proxy/ and the id of
# the base image, so a rebuilt sandbox image or an edited recipe rebuilds the proxy.
# termagent/sandbox/proxy_image.py computes the same hash.
#
# Usage: build-proxy-image.sh [--force]
# Env: TERMAGENT_SANDBOX_IMAGE (base), TERMAGENT_PROXY_IMAGE (tag)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECIPE="$ROOT/sandboxes/proxy"
BASE="${TERMAGENT_SANDBOX_IMAGE:-termagent-sandbox:latest}"
TAG="${TERMAGENT_PROXY_IMAGE:-termagent-proxy:latest}"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

proxy_hash() {
    (cd "$RECIPE" && {
        find . -type f -printf '%P\n' | LC_ALL=C sort | while IFS= read -r f; do
            printf '%s\n%s\n' "$f" "$(sha256sum <"$f" | cut -d' ' -f1)"
        done
        printf 'base\n%s\n' "$BASE_ID"
    } | sha256sum | cut -c1-16)
}

BASE_ID="$(docker image inspect -f '{{ .Id }}' "$BASE" 2>/dev/null || true)"
if [ -z "$BASE_ID" ]; then
    echo "build-proxy-image: base image $BASE not found; run scripts/build-sandbox-image.sh first" >&2
    exit 1
fi
HASH="$(proxy_hash)"
CURRENT="$(docker image inspect -f '{{ index .Config.Labels "termagent.recipe" }}' "$TAG" 2>/dev/null || true)"
if [ "$FORCE" = "0" ] && [ "$CURRENT" = "$HASH" ]; then
    echo "build-proxy-image: $TAG is up to date (recipe $HASH)"
    exit 0
fi
echo "build-proxy-image: building $TAG (recipe $HASH, image has '${CURRENT:-none}')"
bash "$RECIPE/build.sh" "$BASE" "$TAG" "$HASH"
