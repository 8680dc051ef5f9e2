#!/usr/bin/env bash
# Idempotent: make sure a local Prefect server (UI and API) answers on 127.0.0.1:${PREFECT_PORT:-4200}.
# `make run` uses it so runs can be watched in the UI and re-runs skip the ephemeral server's start-up.
set -euo pipefail
port="${PREFECT_PORT:-4200}"
url="http://127.0.0.1:${port}/api/health"
bin="$(dirname "$0")/../.venv/bin"
if curl -sf "$url" >/dev/null 2>&1; then
  echo "prefect server: already up on :${port}"
  exit 0
fi
PREFECT_SERVER_ANALYTICS_ENABLED=false "$bin/prefect" server start --background --host 127.0.0.1 --port "$port" >/dev/null
for _ in $(seq 1 120); do
  if curl -sf "$url" >/dev/null 2>&1; then
    echo "prefect server: up on :${port} (UI http://127.0.0.1:${port}; stop with .venv/bin/prefect server stop)"
    exit 0
  fi
  sleep 0.5
done
echo "prefect server: did not come up on :${port} within 60 s" >&2
exit 1
