#!/usr/bin/env bash
# Start a Docker engine in the background when none answers, and wait (bounded) until
# `docker info` does. Used on CI machines and containers that have no init system.
# Env: DOCKERD_LOG (default /tmp/dockerd.log), DOCKERD_WAIT_S (default 60).
set -euo pipefail

LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
WAIT_S="${DOCKERD_WAIT_S:-60}"

if docker info >/dev/null 2>&1; then
    echo "start-dockerd: engine already answering"
    exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
    echo "start-dockerd: dockerd not installed (run scripts/install-docker.sh)" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "start-dockerd: starting dockerd (log: $LOG)"
# setsid detaches the engine from this shell's process group, so a CI step or a
# terminal closing does not take the engine down with it.
$SUDO setsid dockerd >"$LOG" 2>&1 </dev/null &

deadline=$((SECONDS + WAIT_S))
until docker info >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "start-dockerd: engine did not answer within ${WAIT_S}s; last log lines:" >&2
        tail -n 30 "$LOG" >&2 || true
        exit 1
    fi
    sleep 0.5
done
echo "start-dockerd: engine ready"
