"""A run killed with SIGKILL at random moments and re-run ends byte-identical to an uninterrupted one."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

ARGS = ["model.channels=[8,16]", "model.sampling_steps=4", "model.guidance_scale=2", "train.steps=40",
        "train.batch_size=16", "train.checkpoint_every=10", "judge.epochs=2", "loop.generations=3"]


def _command(out):
    return [sys.executable, "-m", "vision_collapse", "run", "configs/quick.yaml", *ARGS, "--out", str(out)]


def _env(cache):
    return {**os.environ, "VISION_COLLAPSE_CACHE": str(cache), "PYTHONUNBUFFERED": "1"}


def test_sigkill_then_resume_is_byte_identical(tmp_path):
    cache = tmp_path / "cache"
    reference = tmp_path / "reference"
    started = time.perf_counter()
    subprocess.run(_command(reference), env=_env(cache), check=True, capture_output=True)
    full = time.perf_counter() - started

    run = tmp_path / "killed"
    rng = random.Random(0)
    kills = 0
    for _ in range(3):
        proc = subprocess.Popen(_command(run), env=_env(cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # A random moment: loading, training, sampling or writing. The reference paid the cold import of
            # torch and diffusers, so warm re-runs are faster than `full`; early fractions still land mid-run.
            proc.wait(timeout=rng.uniform(0.1, 0.5) * full)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
    final = subprocess.run(_command(run), env=_env(cache), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr[-2000:]
    assert kills >= 1, "the run always finished before the kill; nothing was tested"
    assert (run / "metrics.csv").read_bytes() == (reference / "metrics.csv").read_bytes()
    assert (run / "DONE").is_file()
    leftovers = [p for p in run.rglob("*") if ".tmp" in p.name]
    assert not leftovers, leftovers
