#!/usr/bin/env bash
# The standing GPU check: training throughput against the plain diffusers loop at 32 and 64 px, eager and
# compiled (ratio, TFLOP/s, MFU), sampling quality against network evaluations, the evaluation's floor and
# memorisation check at 120 classes on the device, and a DiT-XL/2-shaped transformer with random weights (bf16
# fine-tuning and guided sampling at 256 px, batch 32 and 64: images/s, MFU, minutes per generation of the dogs
# config); then one table of the headline lines. One prepared script, so
# a borrowed GPU machine runs it in one call (a budget of about 5 minutes on one H100-class GPU).
#
#   scripts/gpu_check.sh [OUT]     # OUT (default runs/gpu_check) gets one log per benchmark; needs a CUDA GPU
#
# A machine without diffusers (or another package) installs it, with its dependencies, from wheels carried with
# the tree in .whl/ (ignored by git), made beforehand on a machine with the registry, e.g.
#   pip download --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 -d .whl diffusers
set -uo pipefail
OUT="${1:-runs/gpu_check}"
WHY="this check is for one (the CPU benchmarks run without it)"
NEEDS="diffusers vendi_score"
source "$(dirname "$0")/gpu_preamble.sh"
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
echo "== evaluation at 120 classes (global floor, memorisation) =="
"$PY" scripts/bench_metrics.py --classes 120 --eval-dims 384,2048 2>&1 | tee "$OUT/metrics.log" | tail -n 6
echo "== DiT-XL/2 at 256 px, random weights =="
"$PY" scripts/bench_dit.py --preset xl --batch 32,64 --steps 5 --rounds 1 --images 256 2>&1 | tee "$OUT/dit.log" \
    | tail -n 12

echo
echo "== summary =="
echo "| benchmark | result |"
echo "|---|---|"
for log in "$OUT"/train_*.log; do
    echo "| $(basename "$log" .log) | $(grep -h -E '^ratio|MFU' "$log" | tr '\n' ' ') |"
done
grep -h -E '^evaluation per generation|^speed-up' "$OUT/metrics.log" | sed 's/^/| metrics | /; s/$/ |/'
grep -h -E 'img/s|ratio|dogs config|LoRA rank' "$OUT/dit.log" | sed 's/^/| dit | /; s/$/ |/'
