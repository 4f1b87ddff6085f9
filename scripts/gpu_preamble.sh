# Sourced by the GPU scripts (gpu_check.sh, gpu_flagship.sh) after they set OUT and WHY, and optionally NEEDS (the
# Python modules they import, default diffusers) and CONFIG (a config whose eval.backbone weights must be on disk;
# EXTRA's KEY=VALUE overrides apply to it). Before any GPU time is spent:
#   - OUT, DATA_ROOT and DIT_DIR are made absolute while the caller's folder is still the working folder;
#   - a module the machine lacks is installed, with its dependencies, from wheels carried in .whl/ (ignored by git;
#     make them beforehand on a machine with the registry: pip download PACKAGE -d .whl);
#   - each piece still missing (a module, the backbone's weights file, a CUDA GPU) gets one line, then exit 2.
# Then the repository root is the working folder and on PYTHONPATH. PYTHON picks the interpreter.
OUT="$(realpath -m "$OUT")"
for var in DATA_ROOT DIT_DIR; do
    if [ -n "${!var:-}" ]; then export "$var=$(realpath -m "${!var}")"; fi
done
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
PY="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # the project, installed or not

gpu_missing_modules() {
    local module
    for module in ${NEEDS:-diffusers}; do
        "$PY" -c "import $module" 2>/dev/null || echo "$module"
    done
}

missing=$(gpu_missing_modules)
if [ -n "$missing" ] && ls .whl/*.whl >/dev/null 2>&1; then
    packages=$(echo "$missing" | tr '_' '-')  # vendi_score is the package vendi-score
    # With their dependencies, resolved against what is installed; into the user site where the environment's is
    # read-only.
    # shellcheck disable=SC2086
    "$PY" -m pip install -q --no-index --find-links .whl --no-cache-dir $packages 2>/dev/null \
        || "$PY" -m pip install -q --user --no-index --find-links .whl --no-cache-dir $packages 2>/dev/null
    missing=$(gpu_missing_modules)
fi
problems=0
for module in $missing; do
    echo "error: the Python module $module is missing; carry its wheels in .whl/ (pip download $(echo "$module" \
| tr '_' '-') -d .whl on a machine with the registry)" >&2
    problems=1
done
if [ -n "${CONFIG:-}" ]; then
    # shellcheck disable=SC2086
    "$PY" - "$CONFIG" ${EXTRA:-} <<'CHECK' || problems=1
import sys

from vision_collapse.config import load_config
from vision_collapse.errors import UserError
from vision_collapse.metrics.backbone import check_backbone

try:
    check_backbone(load_config(sys.argv[1], sys.argv[2:]).eval)
except UserError as exc:
    sys.exit(f"error: {exc}")
CHECK
fi
if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "error: no CUDA GPU visible; $WHY" >&2
    problems=1
fi
if [ "$problems" != 0 ]; then
    exit 2
fi
mkdir -p "$OUT"
