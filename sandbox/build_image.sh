#!/usr/bin/env bash
# Build the sandbox image (default codemint-sandbox:latest), skipping the build when an image
# labelled with the hash of its build context (runner.py, zygote.py, import_once.py, codec.py, Dockerfile) already exists.
# Base image: $BASE_IMAGE if set; else python:3.11-slim if present or pullable; else a local
# Debian bookworm base made with debootstrap (rootfs tarball cached under <repo>/.cache/).
# Usage: build_image.sh [IMAGE]   (or CODEMINT_SANDBOX__IMAGE=..., the variable the settings read)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
IMAGE="${1:-${CODEMINT_SANDBOX__IMAGE:-codemint-sandbox:latest}}"
CACHE_DIR="${CODEMINT_CACHE_DIR:-$REPO/.cache/sandbox}"
LOCAL_BASE="codemint-base:bookworm"
# The machine's own Debian mirror (first URI of its apt sources) unless DEBIAN_MIRROR is set.
apt_mirror() {
    { grep -hs -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources || true; } | awk '{print $2}' | head -n1
    { grep -hs -m1 -E '^deb ' /etc/apt/sources.list || true; } | awk '{print $2}' | head -n1
}
MIRROR="${DEBIAN_MIRROR:-$(apt_mirror | head -n1)}"

log() { echo "[build_image] $*" >&2; }

# The runtime files (sandbox/files.py RUNNER_FILES) and the Dockerfile: the build context.
CONTEXT_FILES=("$HERE/runner.py" "$HERE/zygote.py" "$HERE/import_once.py" "$REPO/codemint/codec.py" "$HERE/Dockerfile")
HASH="$(cat "${CONTEXT_FILES[@]}" | sha256sum | cut -c1-16)"
current="$(docker image inspect -f '{{ index .Config.Labels "codemint.sandbox.hash" }}' "$IMAGE" 2>/dev/null || true)"
if [ "$current" = "$HASH" ]; then
    log "$IMAGE is up to date ($HASH)"
    exit 0
fi

ensure_local_base() {
    if docker image inspect "$LOCAL_BASE" >/dev/null 2>&1; then
        return
    fi
    local tarball="$CACHE_DIR/bookworm-minbase-python3.tar"
    if [ ! -s "$tarball" ]; then
        if ! command -v debootstrap >/dev/null 2>&1; then
            log "installing debootstrap"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
        fi
        mkdir -p "$CACHE_DIR"
        local rootfs
        rootfs="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
        # shellcheck disable=SC2064
        trap "rm -rf '$rootfs'" EXIT
        log "debootstrap bookworm into $rootfs (about a minute)"
        [ -n "$MIRROR" ] || { log "no Debian mirror in the apt sources; set DEBIAN_MIRROR"; exit 1; }
        debootstrap --variant=minbase --include=python3 bookworm "$rootfs" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
            || { tail -n 20 "$CACHE_DIR/debootstrap.log" >&2; exit 1; }
        # Package caches are dead weight in the image.
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
        trap - EXIT
    fi
    log "importing $tarball as $LOCAL_BASE"
    docker import - "$LOCAL_BASE" <"$tarball" >/dev/null
}

if [ -z "${BASE_IMAGE:-}" ]; then
    if docker image inspect python:3.11-slim >/dev/null 2>&1; then
        BASE_IMAGE=python:3.11-slim
    elif timeout 60 docker pull -q python:3.11-slim >/dev/null 2>&1; then
        BASE_IMAGE=python:3.11-slim
    else
        log "no registry reachable; using a local debootstrap base"
        ensure_local_base
        BASE_IMAGE="$LOCAL_BASE"
    fi
fi

# Minimal build context: only the files the image needs.
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "${CONTEXT_FILES[@]}" "$ctx/"
log "building $IMAGE from $BASE_IMAGE"
# The classic builder: BuildKit/buildx is not part of Debian's docker.io.
DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}" docker build --force-rm \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --label "codemint.sandbox.hash=$HASH" \
    -t "$IMAGE" "$ctx" >"$ctx/build.log" 2>&1 \
    || { tail -n 40 "$ctx/build.log" >&2; exit 1; }
log "built $IMAGE ($HASH)"
