"""The GPU scripts' preamble on a machine without a GPU: every missing piece is one line before any GPU time, and
the caller's relative paths are resolved where the caller stands; the DiT benchmark's compiled arm runs."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _source_preamble(tmp_path, **env):
    """Source scripts/gpu_preamble.sh from `tmp_path` with these variables; (exit code, stderr lines, the variables
    as the preamble left them, printed on exit)."""
    script = (f'trap \'echo "$OUT|$DIT_DIR|$DATA_ROOT|$PWD"\' EXIT; source {ROOT / "scripts" / "gpu_preamble.sh"}')
    hub = tmp_path / "empty_hub"  # no cached weights: what a fresh GPU machine has
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable, "HF_HUB_CACHE": str(hub), "HF_HOME": str(hub),
                               **env})
    return done.returncode, done.stderr.strip().splitlines(), done.stdout.strip().split("|")


def test_each_missing_piece_is_one_line_and_nothing_is_created(tmp_path):
    code, lines, (out, dit, data, cwd) = _source_preamble(
        tmp_path, OUT="runs/check", WHY="the test needs one", NEEDS="json no_such_module_xyz",
        CONFIG="configs/stanford-dogs-dit-256.yaml", DIT_DIR="weights/dit", DATA_ROOT="../dogs")
    assert code == 2
    assert len(lines) == 3, lines  # a module, the DINOv2 weights, the GPU: one line each, no traceback
    assert lines[0].startswith("error: the Python module no_such_module_xyz is missing")
    assert "pip download no-such-module-xyz -d .whl" in lines[0]
    assert "eval.backbone=timm:vit_small_patch14_dinov2.lvd142m needs its weights on disk" in lines[1]
    assert lines[2] == "error: no CUDA GPU visible; the test needs one"
    # Paths were resolved from where the script started, before it moved to the repository root.
    assert (out, dit, data) == (str(tmp_path / "runs" / "check"), str(tmp_path / "weights" / "dit"),
                                str(tmp_path.parent / "dogs"))
    assert Path(cwd) == ROOT
    assert not (tmp_path / "runs").exists()


def test_present_modules_and_no_config_leave_only_the_gpu_line(tmp_path):
    code, lines, _ = _source_preamble(tmp_path, OUT="o", WHY="w", NEEDS="diffusers vendi_score")
    assert (code, lines) == (2, ["error: no CUDA GPU visible; w"])


@pytest.mark.slow
def test_the_dit_benchmark_times_a_compiled_fit_at_tiny_shapes():
    done = subprocess.run([sys.executable, "scripts/bench_dit.py", "--arms", "compile", "--batch", "8", "--steps", "3",
                           "--rounds", "1", "--images", "32"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    ratio = re.search(r"batch 8: compiled +\S+ img/s; ratio compiled / eager: (\S+)x", done.stdout)
    assert ratio is not None, done.stdout
    assert float(ratio.group(1)) > 0 or ratio.group(1) == "nan"  # a number: the compiled fit ran to the end
