#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install docker.io from Debian if dockerd
# is missing (and bubblewrap, for the sandbox's local backend), start dockerd in the background
# if `docker info` fails, wait until it is ready.
# Idempotent; meant for root on a fresh Debian machine (CI) with only Debian/PyPI mirrors.
set -euo pipefail

LOG_FILE="${DOCKERD_LOG:-/var/log/dockerd-codemint.log}"
WAIT_S="${DOCKERD_WAIT_S:-60}"

log() { echo "[docker-engine] $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# dockerd for the Docker backend; bwrap for the local backend (which falls back to unshare).
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} via apt"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

if docker info >/dev/null 2>&1; then
    log "engine already running"
    exit 0
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd (log: $LOG_FILE)"
    as_root mkdir -p "$(dirname "$LOG_FILE")"
    # setsid + nohup: the engine must outlive this script and the shell that ran it.
    as_root setsid nohup dockerd >>"$LOG_FILE" 2>&1 </dev/null &
fi

deadline=$((SECONDS + WAIT_S))
until docker info >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        log "dockerd did not become ready within ${WAIT_S}s; last log lines:"
        tail -n 30 "$LOG_FILE" >&2 || true
        exit 1
    fi
    sleep 0.5
done
log "engine ready"
