#!/usr/bin/env bash
# The standing GPU check: training throughput against the plain diffusers loop at 32 and 64 px, eager and
# compiled (ratio, TFLOP/s, MFU), then sampling quality against network evaluations. One prepared script, so a
# borrowed GPU machine runs it in one call; about 6 minutes on one H100-class GPU.
#
#   scripts/gpu_check.sh [OUT]     # OUT (default runs/gpu_check) gets one log per benchmark; needs a CUDA GPU
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/gpu_check}"
PY="${PYTHON:-python}"
if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "error: no CUDA GPU visible; this check is for one (the CPU benchmarks run without it)" >&2
    exit 2
fi
mkdir -p "$OUT"
"$PY" -c 'import torch; print("GPU:", torch.cuda.get_device_name(0), "torch", torch.__version__)' | tee "$OUT/device.txt"
for res in 32 64; do
    for compile in "" "--compile"; do
        name="train_${res}px${compile:+_compiled}"
        echo "== $name =="
        "$PY" scripts/bench_train.py --resolution "$res" --channels 64,128,256 --batch 128 --steps 30 $compile \
            2>&1 | tee "$OUT/$name.log" | tail -n 4
    done
done
echo "== sampling =="
"$PY" scripts/bench_sampling.py configs/neutral.yaml --samples 2000 --out "$OUT/sampling_run" 2>&1 \
    | tee "$OUT/sampling.log" | tail -n 12
