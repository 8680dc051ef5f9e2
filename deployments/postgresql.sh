#!/usr/bin/env bash
# Make sure Debian's PostgreSQL server binaries are on this machine (/usr/lib/postgresql/<N>/bin):
# install the `postgresql` package if initdb is missing. Nothing is started here: the test of the
# Prefect server on PostgreSQL (tests/deployments/test_compose.py) runs a throwaway cluster of
# its own on loopback, not the system service.
# Idempotent; meant for root on a fresh Debian machine (CI) with only Debian/PyPI mirrors.
set -euo pipefail

log() { echo "[postgresql] $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    exit 0
fi
apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql \
        >/dev/null
}
log "installing postgresql via apt (~72 MB, 29 packages on Debian 12)"
# The package lists are often fresh already (deployments/docker-engine.sh may have just updated
# them): an update costs ~30 s, so only when the install cannot find the packages without one.
apt_install 2>/dev/null || { as_root apt-get update -qq && apt_install; }
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || { log "initdb still missing after install"; exit 1; }
log "installed: $(ls /usr/lib/postgresql/)"
