#!/usr/bin/env bash
# Install Debian's Docker engine and debootstrap (needed to build the sandbox image
# from the machine's configured apt mirror) when they are missing. Idempotent: does nothing on a machine that has both.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ "${#need[@]}" -eq 0 ]; then
    echo "install-docker: docker.io and debootstrap already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "install-docker: installing ${need[*]}"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need[@]}"
