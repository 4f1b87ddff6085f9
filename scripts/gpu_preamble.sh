# Sourced by the GPU scripts (gpu_check.sh, gpu_experiment.sh) after they set OUT and WHY: the repository root
# as the working folder and on PYTHONPATH, packages the GPU machine lacks (diffusers) installed from wheels
# carried in .whl/ (ignored by git), then one line and exit 2 without a CUDA GPU. PYTHON picks the interpreter.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # the project, installed or not
if ! "$PY" -c 'import diffusers' 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "error: no CUDA GPU visible; $WHY" >&2
    exit 2
fi
mkdir -p "$OUT"
