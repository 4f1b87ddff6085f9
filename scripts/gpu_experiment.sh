#!/usr/bin/env bash
# The default's model arm and the realistic combination on Fashion-MNIST at 32x32, each beside its
# perfect-generator control, on one GPU; prints the four verdicts and what the model adds.
#
#   scripts/gpu_experiment.sh [OUT]      # OUT defaults to runs/gpu; re-running resumes
#
# Each config finishes 5 generations of one seed in under 8 minutes on one H100-class GPU (estimated from step
# rates; see the configs' comment blocks), its perfect twin in about a minute. Needs the Fashion-MNIST files
# (configs/fashion-mnist-lt-32.yaml says where) and a CUDA GPU; CI never runs it.
set -euo pipefail
OUT="${1:-runs/gpu}"
WHY="this experiment is sized for one (configs/quick.yaml is the CPU default)"
source "$(dirname "$0")/gpu_preamble.sh"
for arm in model combination; do
    echo "== fashion-mnist-lt-32-$arm, then its perfect-generator twin =="
    start=$SECONDS
    "$PY" -m vision_collapse run "configs/fashion-mnist-lt-32-$arm.yaml" --out "$OUT/fashion-mnist-$arm" --perfect-twin
    echo "$arm and its twin: $((SECONDS - start)) s"
done
