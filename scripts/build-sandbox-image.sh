#!/usr/bin/env bash
# Build the default sandbox image (debootstrap from the configured apt mirror + docker import) unless an image
# with the current recipe hash already exists. The hash covers every file under
# sandboxes/ except proxy/ (the egress proxy's own recipe, scripts/build-proxy-image.sh),
# so editing packages.txt or bootstrap.sh triggers a rebuild.
# termagent/sandbox/image.py computes the same hash (recipe_hash) for `sandbox status`.
#
# Usage: build-sandbox-image.sh [--force]   Env: TERMAGENT_SANDBOX_IMAGE (tag)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SANDBOXES="$ROOT/sandboxes"
TAG="${TERMAGENT_SANDBOX_IMAGE:-termagent-sandbox:latest}"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

recipe_hash() {
    (cd "$SANDBOXES" && find . -type f -not -path './proxy/*' -printf '%P\n' | LC_ALL=C sort | while IFS= read -r f; do
        printf '%s\n%s\n' "$f" "$(sha256sum <"$f" | cut -d' ' -f1)"
    done | sha256sum | cut -c1-16)
}

HASH="$(recipe_hash)"
CURRENT="$(docker image inspect -f '{{ index .Config.Labels "termagent.recipe" }}' "$TAG" 2>/dev/null || true)"
if [ "$FORCE" = "0" ] && [ "$CURRENT" = "$HASH" ]; then
    echo "build-sandbox-image: $TAG is up to date (recipe $HASH)"
    exit 0
fi
echo "build-sandbox-image: building $TAG (recipe $HASH, image has '${CURRENT:-none}')"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
$SUDO "$SANDBOXES/bootstrap.sh" "$SANDBOXES/default" "$TAG" "$HASH"
