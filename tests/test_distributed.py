"""Two processes under `accelerate launch` on the CPU (gloo) give the single-process run, within tolerance."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from vision_collapse import run_folder as rf
from vision_collapse.cli import main

from helpers import LIGHT_RUN

# Several shards per generation, so both processes draw and judge some; a batch both can split evenly.
# CAS's classifier, trained by the main process alone, makes each generation's evaluation outlast TIMEOUT_SECONDS.
TINY = ["loop.generations=2", "model.channels=[8,16]", "train.steps=60", "train.batch_size=64", "loop.shard_size=128",
        "eval.samples_per_class=20", *LIGHT_RUN, "eval.cas_epochs=60"]


TIMEOUT_SECONDS = 2


def _files(run) -> set[str]:
    """Every file in a run folder, relative to it, without the timing-only TensorBoard or temporaries."""
    return {str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()}


def _summary(run) -> list[dict]:
    """summary.csv as floats."""
    return [{k: float(v) for k, v in row.items()} for row in rf.read_table(run / rf.SUMMARY)]


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    single, double = tmp_path / "single", tmp_path / "double"
    assert main(["run", "configs/neutral.yaml", *TINY, "--out", str(single)]) == 0
    # A collective timeout (2 s) shorter than the main process's evaluation of a generation: the others must wait
    # for it outside the collectives that timeout governs.
    # train.processes=2: the plain command starts itself under `accelerate launch` (CPU processes over gloo here).
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VISION_COLLAPSE_TIMEOUT_MINUTES": str(TIMEOUT_SECONDS / 60)}
    command = [sys.executable, "-m", "vision_collapse", "run", "configs/neutral.yaml", *TINY, "train.processes=2",
               "--out", str(double)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "train.processes=2: starting 2 processes" in done.stdout
    assert "between 2 processes (gloo)" in done.stdout
    assert max(r["eval_seconds"] for r in _summary(double)) > TIMEOUT_SECONDS  # the evaluation outlasted it

    # The same folder: every file the single process wrote, and nothing else (no second writer's leftovers).
    assert _files(double) == _files(single)
    assert len(rf.shard_paths(double / "gen_000")) == len(rf.shard_paths(single / "gen_000")) > 2

    # The same numbers, within what float reduction order in DDP can move.
    one, two = _summary(single), _summary(double)
    for a, b in zip(one, two):
        assert b["fid_vs_original"] == pytest.approx(a["fid_vs_original"], rel=0.03)
        for key in ("head_share", "tail_share", "unrecognisable_share", "head_share_calibrated"):
            assert b[key] == pytest.approx(a[key], abs=0.02, nan_ok=True), key  # NaN when nothing is recognised
    rows_one = [r for r in rf.read_table(single / rf.METRICS) if int(r["class_index"]) >= 0]
    rows_two = [r for r in rf.read_table(double / rf.METRICS) if int(r["class_index"]) >= 0]
    freq_one = np.array([float(r["gen_freq"]) for r in rows_one])
    freq_two = np.array([float(r["gen_freq"]) for r in rows_two])
    assert np.allclose(freq_one, freq_two, atol=0.02, equal_nan=True)  # NaN both when nothing is recognised
    # Generation 0's samples are drawn per shard with the shard's own seed, whichever process drew them.
    a, b = rf.read_sample_arrays(single / "gen_000"), rf.read_sample_arrays(double / "gen_000")
    assert np.array_equal(a["conditioning"], b["conditioning"])
    assert np.abs(a["images"].astype(int) - b["images"].astype(int)).mean() < 1.0


_MEET = """
import os, sys, time
from datetime import timedelta
import torch, torch.distributed as dist
time.sleep(float(os.environ["DELAY"]))  # after the imports: the arrival gap is this, give or take their jitter
if sys.argv[1] == "two_steps":
    from vision_collapse.runtime import join_cpu_group
    join_cpu_group(timedelta(seconds=1))
else:  # what accelerate does: one init whose timeout governs the rendezvous too
    dist.init_process_group("gloo", init_method="env://", timeout=timedelta(seconds=1))
total = torch.ones(1)
dist.all_reduce(total)
print(int(total.item()))
"""


@pytest.mark.slow
def test_cpu_processes_that_arrive_seconds_apart_still_form_their_group(tmp_path):
    """The flaky DDP test's cause and its fix: with a 1 s collective timeout and the second process arriving 6 s
    after the first, one-step initialisation fails at the rendezvous, and join_cpu_group meets and all-reduces."""
    from vision_collapse.studies.launch import free_port

    procs = {}
    for how in ("two_steps", "one_step"):
        port = str(free_port())
        for rank in (0, 1):
            env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port,
                   "DELAY": str(6 * rank), "OMP_NUM_THREADS": "1"}
            procs[how, rank] = subprocess.Popen([sys.executable, "-c", _MEET, how], env=env, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE, text=True)
    done = {key: (p.communicate(timeout=120), p.returncode) for key, p in procs.items()}
    assert [done["two_steps", r][0][0].strip() for r in (0, 1)] == ["2", "2"], done["two_steps", 0][0][1][-2000:]
    assert done["one_step", 0][1] != 0 or done["one_step", 1][1] != 0  # the rendezvous timed out
