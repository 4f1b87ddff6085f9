#!/usr/bin/env bash
# The flagship on one GPU: DiT-XL/2-256 fine-tuned on Stanford Dogs for 2 generations
# (configs/stanford-dogs-dit-256.yaml), then its perfect-generator twin; prints both verdicts. Re-running resumes.
#
#   DATA_ROOT=/data/stanford-dogs DIT_DIR=/weights/DiT-XL-2-256 scripts/gpu_flagship.sh [OUT]
#
# DATA_ROOT holds Images/, Annotation/ and the .mat lists (configs/stanford-dogs-64.yaml says where to get them);
# DIT_DIR is the local DiTPipeline folder (hf download facebook/DiT-XL-2-256 --local-dir DIT_DIR). Relative paths
# are read from the folder this is started in.
# The DINOv2 judge's weights must be in the Hugging Face cache or given as eval.backbone_weights=FILE in EXTRA.
# About 10-25 minutes on one H100 (the config's cost block; scripts/gpu_check.sh measures the rates).
set -euo pipefail
OUT="${1:-runs/flagship}"
WHY="DiT-XL/2 at 256 px is sized for one"
NEEDS="diffusers peft timm vendi_score"  # the model, LoRA, the DINOv2 judge, diversity
CONFIG=configs/stanford-dogs-dit-256.yaml  # its DINOv2 weights must be on disk: nothing downloads at run time
: "${DATA_ROOT:?set DATA_ROOT to the Stanford Dogs folder (Images/, Annotation/, *_list.mat)}"
: "${DIT_DIR:?set DIT_DIR to a local DiT-XL-2-256 folder (hf download facebook/DiT-XL-2-256 --local-dir DIT_DIR)}"
source "$(dirname "$0")/gpu_preamble.sh"
start=$SECONDS
"$PY" -m vision_collapse run "$CONFIG" "data.root=$DATA_ROOT" "model.pretrained=$DIT_DIR" \
    loop.generations=2 ${EXTRA:-} --out "$OUT" --perfect-twin
echo "flagship, 2 generations and the twin: $((SECONDS - start)) s"
