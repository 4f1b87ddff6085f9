"""A run killed with SIGKILL at random moments and re-run ends byte-identical to an uninterrupted one."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from helpers import LIGHT_RUN

pytestmark = pytest.mark.slow

ARGS = ["model.channels=[8,16]", "model.sampling_steps=4", "model.guidance_scale=2", "train.steps=40",
        "train.batch_size=16", "train.checkpoint_every=10", "judge.epochs=2", "loop.generations=2",
        *LIGHT_RUN]  # plots are redrawn from the tables, which are what is compared


def _command(out):
    return [sys.executable, "-m", "vision_collapse", "run", "configs/neutral.yaml", *ARGS, "--out", str(out)]


def _env(cache):
    return {**os.environ, "VISION_COLLAPSE_CACHE": str(cache), "PYTHONUNBUFFERED": "1"}


def test_sigkill_then_resume_is_byte_identical(tmp_path):
    cache = tmp_path / "cache"
    reference = tmp_path / "reference"
    started = time.perf_counter()
    subprocess.run(_command(reference), env=_env(cache), check=True, capture_output=True)
    full = time.perf_counter() - started

    rng = random.Random(0)
    interrupted = 0
    # Four moments spread over the run (jittered strata), so kills land in loading, training, sampling,
    # metrics and writing; each killed run is re-run to completion and must match the reference exactly.
    for i, stratum in enumerate((0.1, 0.3, 0.5, 0.7)):
        run = tmp_path / f"killed{i}"
        proc = subprocess.Popen(_command(run), env=_env(cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # The reference paid the cold import of torch and diffusers, so warm runs are faster than `full`.
            proc.wait(timeout=(stratum + rng.uniform(0, 0.12)) * full)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            interrupted += 1
        final = subprocess.run(_command(run), env=_env(cache), capture_output=True, text=True)
        assert final.returncode == 0, final.stderr[-2000:]
        assert (run / "metrics.csv").read_bytes() == (reference / "metrics.csv").read_bytes(), f"kill {i}"
        assert (run / "DONE").is_file()
        leftovers = [p for p in run.rglob("*") if ".tmp" in p.name]
        assert not leftovers, leftovers
    assert interrupted >= 3, f"only {interrupted} of 4 runs were interrupted; the kill moments came too late"
