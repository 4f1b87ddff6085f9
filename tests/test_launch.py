"""Starting an arm runner's jobs: one GPU per local job (round-robin over --gpus, never two running jobs on one
GPU) and one line for each launch mistake. The submitit array is tested beside the remedy runs it reuses
(tests/test_remedies.py)."""

import sys
from pathlib import Path

import pytest

from vision_collapse.cli import main
from vision_collapse.studies import launch as ln

from helpers import FAST_GMM, one_thread


def _recorder(path: Path) -> list[str]:
    """A job that writes its CUDA_VISIBLE_DEVICES and its start and end times."""
    code = ("import os, sys, time; t0 = time.time(); time.sleep(0.6); "
            "open(sys.argv[1], 'w').write(f\"{os.environ.get('CUDA_VISIBLE_DEVICES', '')} {t0} {time.time()}\")")
    return [sys.executable, "-c", code, str(path)]


def test_local_jobs_take_one_gpu_each_round_robin(tmp_path):
    jobs = [ln.Job(f"job{i}", _recorder(tmp_path / f"job{i}.txt")) for i in range(5)]
    failed = ln.run_local(jobs, tmp_path, ln.Launch(gpus=(0, 1)))
    assert failed == []
    seen = []
    for i in range(5):
        gpu, start, end = (tmp_path / f"job{i}.txt").read_text().split()
        seen.append((gpu, float(start), float(end)))
    assert [g for g, _, _ in seen[:2]] == ["0", "1"]  # the first round takes each GPU once
    assert {g for g, _, _ in seen} == {"0", "1"}
    for i, (g, s, e) in enumerate(seen):  # two jobs that run at once never share a GPU
        for h, s2, e2 in seen[i + 1:]:
            if s < e2 and s2 < e:
                assert g != h


def test_without_gpus_the_cores_are_shared_and_no_gpu_is_set(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    jobs = [ln.Job(f"job{i}", _recorder(tmp_path / f"job{i}.txt")) for i in range(2)]
    assert ln.run_local(jobs, tmp_path, ln.Launch()) == []
    assert all((tmp_path / f"job{i}.txt").read_text().split()[0].replace(".", "").isdigit() for i in range(2))


def test_slurm_times_parse_to_minutes():
    assert ln.minutes("4:00:00") == 240 and ln.minutes("1-02:30:00") == 1590 and ln.minutes("90") == 90
    assert ln.minutes("0:30") == 30 and ln.minutes("0:00:30") == 1


@pytest.mark.slow
def test_each_launch_mistake_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "nothing"
    visible = ln.visible_gpus()
    cases = [(["--gpus", str(visible + 5)], f"this machine has {visible} GPU(s)"),
             (["--launcher", "submitit", "--slurm-time", "soon"], "--slurm-time 'soon' does not parse"),
             (["--jobs", "-1"], "--jobs must be >= 1")]
    for extra, message in cases:
        assert main(["attribute", "configs/neutral.yaml", *FAST_GMM, "--seeds", "0", *extra, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (extra, err)
        assert not out.exists()
    monkeypatch.setitem(sys.modules, "submitit", None)  # as if it were not installed
    assert main(["remedy", "configs/neutral.yaml", *FAST_GMM, "--seeds", "0", "--launcher", "submitit",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'vision-collapse[cluster]'" in err[0]
    assert not out.exists()


def test_a_job_with_several_processes_takes_a_block_of_gpus(tmp_path):
    jobs = [ln.Job(f"job{i}", _recorder(tmp_path / f"job{i}.txt"), gpus=2) for i in range(3)]
    assert ln.run_local(jobs, tmp_path, ln.Launch(gpus=(0, 1, 2, 3))) == []
    seen = [(tmp_path / f"job{i}.txt").read_text().split() for i in range(3)]
    assert [g for g, _, _ in seen[:2]] == ["0,1", "2,3"]  # two jobs at once, two GPUs each
    assert seen[2][0] in ("0,1", "2,3")
    assert ln.Launch(gpus=(0, 1, 2, 3)).processes(2) == 2 and ln.Launch(jobs=3).processes(2) == 3


def test_run_seeds_as_jobs_makes_the_folder_one_process_makes(tmp_path):
    one, jobs = tmp_path / "one", tmp_path / "jobs"
    with one_thread():
        assert main(["run", "configs/neutral.yaml", *FAST_GMM, "--seeds", "0,1", "--out", str(one)]) == 0
    assert main(["run", "configs/neutral.yaml", *FAST_GMM, "--seeds", "0,1", "--jobs", "2", "--out", str(jobs)]) == 0
    assert (jobs / "logs" / "seed_0.log").is_file() and (jobs / "DONE").is_file()
    for name in ("aggregate.csv", "seed_0/metrics.csv", "seed_1/summary.csv"):
        a, b = (one / name).read_text(), (jobs / name).read_text()
        a, b = (_without_seconds(t) for t in (a, b))  # wall-clock times differ between any two runs
        assert len(a) == len(b) and a[0] == b[0], name
        for row_a, row_b in zip(a, b):  # the jobs run on one thread each: float sums may differ in the last digits
            for x, y in zip(row_a, row_b):
                assert _number(x) == pytest.approx(_number(y), rel=1e-5, nan_ok=True) if _number(x) != x else x == y
    assert main(["run", "configs/neutral.yaml", *FAST_GMM, "--seeds", "0,1", "--jobs", "2", "--out", str(jobs)]) == 0


def _without_seconds(table: str) -> list[list[str]]:
    """A CSV's cells without its *_seconds columns and rows."""
    rows = [line.split(",") for line in table.strip().splitlines()]
    keep = [i for i, name in enumerate(rows[0]) if not name.endswith("_seconds")]
    return [[row[i] for i in keep] for k, row in enumerate(rows)
            if k == 0 or not any(cell.endswith("_seconds") for cell in row)]


def _number(cell: str):
    """A CSV cell as a float where it is one (else the cell itself)."""
    try:
        return float(cell) if cell else cell
    except ValueError:
        return cell


def test_the_arm_runner_puts_a_seeded_run_under_seed_s_and_a_single_run_in_the_arm_folder(tmp_path):
    """run_folder and the job command of one (arm, seed): OUT/<arm>/seed_<s>/ with seed=S, or OUT/<arm>/ at the
    config's own seed (the perfect twin's two runs), and OUT/seed_<s>/ for run --seeds' arm named ''."""
    from vision_collapse.studies.arms import Arm, _job_command, run_folder

    arm = Arm("twin", ("model.kind=real",))
    assert run_folder(tmp_path, arm, 3) == tmp_path / "twin" / "seed_3"
    assert run_folder(tmp_path, arm, None) == tmp_path / "twin"
    assert run_folder(tmp_path, Arm(""), 0) == tmp_path / "seed_0"
    seeded = _job_command(Path("c.yaml"), ["a=1"], arm, 3, run_folder(tmp_path, arm, 3))
    single = _job_command(None, ["a=1"], arm, None, run_folder(tmp_path, arm, None))
    assert seeded[3:] == ["run", "c.yaml", "a=1", "model.kind=real", "seed=3", "log.plots=false", "--out",
                          str(tmp_path / "twin" / "seed_3")]
    assert single[3:] == ["run", "a=1", "model.kind=real", "log.plots=false", "--out", str(tmp_path / "twin")]
