#!/usr/bin/env bash
# Check a GPU machine: every architecture trained a few steps on CUDA (bf16, channels_last), checkpoints
# round-tripped to the CPU, DDP through torchrun (NCCL), bench dcgan, SR x4 of 1024x1024 and the anomaly
# search on 500 digits; one JSON file of figures. Without a GPU: the CPU parts, exit 0 if they pass.
#
#   scripts/gpu_check.sh [OUT.json] [--quick] [--device auto|cuda|cpu] [--only NAME ...]
#   make gpu-check
#
# Installs nothing: it runs the project's .venv (make install) or, without one, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=python3
if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; fi
OUT=runs/gpu_check.json
if [[ $# -gt 0 && $1 != -* ]]; then OUT=$1; shift; fi
mkdir -p "$(dirname "$OUT")"

if command -v nvidia-smi >/dev/null 2>&1; then
  echo "== nvidia-smi"
  nvidia-smi --query-gpu=index,name,memory.total,driver_version,utilization.gpu --format=csv \
    || echo "nvidia-smi failed (driver not loaded?)"
else
  echo "== no nvidia-smi here: no NVIDIA driver, so the CPU parts only"
fi

rc=0
"$PY" -m gan_core.gpu_check --out "$OUT" "$@" || rc=$?
if [[ -f $OUT ]]; then echo "== figures: $(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT") (exit $rc)"; fi
exit "$rc"
