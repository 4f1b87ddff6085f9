"""The remedies, each tested where it acts (expert correction, class-balanced loss, Neon), and `vision-collapse
remedy`: its table's cells recomputed from the per-seed summaries, its dose curve, its resume and its refusals."""

import os
import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import stats

from vision_collapse.cli import main
from vision_collapse.config import load_config
from vision_collapse.config.remedies import remedy_named
from vision_collapse.data.images import LabelledImages
from vision_collapse.loop import correction as corr
from vision_collapse.models.training import batch_generator, class_weights
from vision_collapse.studies.arms import Arm, InProcess, _job_command
from vision_collapse.studies.remedy import remedy

from helpers import FAST_GMM, one_thread, rows


class PixelLabeller:
    """A stand-in classifier: an image's label is its first pixel modulo the class count."""

    def __init__(self, classes: int):
        self.classes = classes

    def predict(self, images):
        return SimpleNamespace(labels=images[:, 0, 0, 0].long() % self.classes)


def _shard(n=400, classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 2, 2), generator=g, dtype=torch.uint8)
    cond = torch.randint(0, classes, (n,), generator=g)
    return images, cond


def _redraw(classes):
    """New samples that the expert reads as their conditioning label with probability 1/2."""
    def draw(n, labels, round_):
        g = torch.Generator().manual_seed(1000 + round_)
        images = torch.randint(0, 256, (n, 1, 2, 2), generator=g, dtype=torch.uint8)
        hit = torch.rand(n, generator=g) < 0.5
        images[hit, 0, 0, 0] = labels[hit].to(torch.uint8)  # these read as their label
        return images
    return draw


def _loop(strength, how="drop", source="conditioning"):
    return SimpleNamespace(correction=how, correction_strength=strength, label_source=source)


def test_expert_correction_drops_exactly_the_disagreeing_share_at_strength_one_and_none_at_zero():
    classes = 4
    ref = SimpleNamespace(expert=PixelLabeller(classes), labeller=None)
    images, cond = _shard(classes=classes)
    disagree = (images[:, 0, 0, 0].long() % classes != cond).numpy()
    out, relabelled, outcome = corr.correct_shard(images, cond, ref, _loop(1.0), np.random.default_rng(0),
                                                  _redraw(classes))
    assert relabelled is None
    assert ((outcome > corr.AGREED) == disagree).all()  # exactly the disagreeing ones were dropped
    assert torch.equal(out[~torch.from_numpy(disagree)], images[~torch.from_numpy(disagree)])
    settled = (outcome > corr.AGREED) & (outcome < corr.UNRESOLVED)
    assert (out[torch.from_numpy(settled), 0, 0, 0].long() % classes == cond[torch.from_numpy(settled)]).all()
    summary = corr.correction_summary([outcome])
    assert summary["expert_disagreed_share"] == pytest.approx(disagree.mean())
    assert summary["expert_checked_share"] == 1.0
    same, _, outcome = corr.correct_shard(images, cond, ref, _loop(0.0), np.random.default_rng(0), _redraw(classes))
    assert torch.equal(same, images) and (outcome == corr.UNCHECKED).all()
    assert corr.correction_summary([outcome])["expert_disagreed_share"] == 0.0
    # relabel: the disagreeing samples take the expert's label, the others keep theirs
    _, relabelled, outcome = corr.correct_shard(images, cond, ref, _loop(1.0, "relabel"), np.random.default_rng(0),
                                                _redraw(classes))
    assert torch.equal(relabelled, images[:, 0, 0, 0].long() % classes)
    assert ((outcome == 1) == disagree).all()


def test_expert_correction_checks_the_asked_share_of_samples():
    classes = 4
    ref = SimpleNamespace(expert=PixelLabeller(classes), labeller=None)
    images, cond = _shard(n=2000, classes=classes)
    _, _, outcome = corr.correct_shard(images, cond, ref, _loop(0.3), np.random.default_rng(5), _redraw(classes))
    checked = int((outcome != corr.UNCHECKED).sum())
    assert stats.binomtest(checked, 2000, 0.3).pvalue > 0.001


@pytest.fixture(scope="module")
def corrected_runs(make_run):
    common = [*FAST_GMM, "loop.generations=1", "loop.label_source=classifier", "loop.labeller_epochs=1"]
    return (make_run(*common, "loop.correction=drop", name="drop"),
            make_run(*common, "loop.correction=drop", "loop.correction_strength=0", name="none"),
            make_run(*common, name="plain"))


@pytest.mark.slow
def test_a_corrected_run_keeps_only_what_the_expert_accepts_and_its_expert_is_its_own(corrected_runs):
    from vision_collapse import run_folder as rf
    from vision_collapse.metrics.classifier import load_classifier

    drop, none, plain = corrected_runs
    cfg = rf.read_config(drop)
    samples, _ = rf.load_samples(drop / "gen_000")
    channels, classes = samples.images.shape[1], samples.num_classes
    expert = load_classifier(drop / "expert.pt", channels, classes, cfg.judge)
    labeller = load_classifier(drop / "labeller.pt", channels, classes, cfg.judge)
    disagree = (expert.predict(samples.images).labels != labeller.predict(samples.images).labels).float().mean()
    summary = rows(drop / "summary.csv")[0]
    assert float(disagree) == pytest.approx(float(summary["expert_unresolved_share"]), abs=1e-7)
    assert float(summary["expert_checked_share"]) == 1.0 and float(summary["expert_disagreed_share"]) > 0
    # strength 0 checks nothing: the samples are the uncorrected run's, byte for byte
    assert float(rows(none / "summary.csv")[0]["expert_disagreed_share"]) == 0.0
    for a, b in zip(rf.shard_paths(none / "gen_000"), rf.shard_paths(plain / "gen_000")):
        assert a.read_bytes() == b.read_bytes()
    # the expert shares no training seed and no weights with the judge or the labeller
    report = rf.read_json(drop / "expert.json")
    from vision_collapse.loop.seeds import generation_seed
    from vision_collapse.metrics.classifier import JUDGE_SEED
    assert report["seed"] not in (JUDGE_SEED, generation_seed(cfg.seed, 0, "labeller"))
    judge = load_classifier(drop / "judge.pt", channels, classes, cfg.judge)
    for other in (judge, labeller):
        assert not all(torch.equal(a, b) for a, b in zip(expert.net.state_dict().values(),
                                                         other.net.state_dict().values()))


def test_the_expert_learns_from_a_balanced_draw_of_the_judge_pool():
    from vision_collapse.data import load_real_data
    from vision_collapse.loop.labels import balanced_draw

    real = load_real_data(load_config("configs/neutral.yaml").data, 0)
    drawn = balanced_draw(real, 7)
    counts = np.bincount(drawn.labels.numpy(), minlength=drawn.num_classes)
    assert (counts == np.bincount(real.judge_pool.labels.numpy()).min()).all()
    assert set(drawn.ids) <= set(real.judge_pool.ids)


def test_class_weights_give_every_class_equal_total_weight():
    labels = torch.tensor([0] * 50 + [1] * 20 + [2] * 5 + [4] * 1)  # class 3 absent
    w = class_weights(labels, 5)
    totals = [float(w[labels == c].sum()) for c in (0, 1, 2, 4)]
    assert totals == pytest.approx([len(labels) / 4] * 4)
    assert float(w.mean()) == pytest.approx(1.0)


def _imbalanced(counts, side=8):
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (len(labels), 1, side, side), generator=g, dtype=torch.uint8)
    return LabelledImages(images, labels, tuple(str(i) for i in range(len(labels))), tuple("abc"[: len(counts)]))


@pytest.mark.parametrize("kind", ["diffusion", "vae"])
def test_the_class_balanced_loss_receives_each_items_inverse_class_share(kind, monkeypatch):
    from vision_collapse import models
    from vision_collapse.models import diffusion, vae

    counts = [60, 15, 5]
    data = _imbalanced(counts)
    cfg = load_config(None, [f"model.kind={kind}", "model.channels=[8,16]", "train.batch_size=64",
                             "train.steps=20", "train.class_balance=true"])
    received = []

    def spy(per_item, weights):
        received.append(weights.clone())
        return (per_item * weights).mean()

    monkeypatch.setattr({"diffusion": diffusion, "vae": vae}[kind], "weighted_loss", spy)
    model = models.build_model(cfg, 8, 1, 3)
    model.fit(data, cfg.train, batch_generator(0))
    expected = {round(len(data) / (3 * n), 5): c for c, n in enumerate(counts)}
    got = torch.cat(received)
    assert len(got) == 20 * 64
    classes = np.array([expected[round(float(v), 5)] for v in got])  # each weight is one class's N / (K n_c)
    totals = np.array([got[torch.from_numpy(classes == c)].sum().item() for c in range(3)])
    # each class's expected total weight over the draws is equal: N/K per epoch of N items
    assert totals / totals.sum() == pytest.approx([1 / 3] * 3, abs=0.08)


def _tiny(kind):
    from vision_collapse import models

    cfg = load_config(None, [f"model.kind={kind}", "model.channels=[8,16]", "model.sampling_steps=3",
                             "train.batch_size=16", "train.steps=5"])
    data = _imbalanced([20, 10, 6])
    model = models.build_model(cfg, 8, 1, 3)
    model.fit(data, cfg.train, batch_generator(0))
    return model, data, cfg


@pytest.mark.parametrize("kind", ["diffusion", "vae"])
def test_neon_merges_two_theta_minus_theta_self_and_is_the_plain_model_at_zero(kind):
    from vision_collapse.models.neon import neon

    model, data, cfg = _tiny(kind)
    theta = {k: v.clone() for k, v in model.network.state_dict().items()}
    merged, self_trained = neon(model, data, cfg.train, 1.0, 3, 11, 12)
    theta_self = self_trained.network.state_dict()
    assert any(not torch.equal(theta[k], theta_self[k]) for k in theta)  # the self-training moved something
    for k, v in merged.network.state_dict().items():
        assert torch.equal(v, 2 * theta[k] - theta_self[k]) if v.is_floating_point() else torch.equal(v, theta[k]), k
    model, data, cfg = _tiny(kind)
    theta = {k: v.clone() for k, v in model.network.state_dict().items()}
    merged, _ = neon(model, data, cfg.train, 0.0, 3, 11, 12)
    assert all(torch.equal(v, theta[k]) for k, v in merged.network.state_dict().items())


@pytest.mark.slow
def test_a_neon_generation_keeps_the_extrapolated_weights(tmp_path):
    """The run's saved model is neon() applied to the plain run's saved model, with the generation's seeds."""
    from vision_collapse import run_folder as rf
    from vision_collapse.data import load_real_data
    from vision_collapse.loop.seeds import generation_seed
    from vision_collapse.models import load_model
    from vision_collapse.models.neon import neon

    tiny = ["model.kind=vae", "model.guidance_scale=1", "model.channels=[8,16]", "train.steps=10",
            "train.batch_size=16", "judge.epochs=1", "loop.generations=1", "eval.samples_per_class=10",
            "eval.floor_draws=10", "eval.chance_chains=199", "eval.kid_subsets=2", "eval.cas_epochs=0",
            "log.plots=false"]
    plain, treated = tmp_path / "plain", tmp_path / "neon"
    assert main(["run", "configs/neutral.yaml", *tiny, "--out", str(plain)]) == 0
    assert main(["run", "configs/neutral.yaml", *tiny, "loop.neon_weight=0.5", "loop.neon_steps=4",
                 "--out", str(treated)]) == 0
    cfg = rf.read_config(treated)
    real = load_real_data(cfg.data, cfg.seed)
    theta = load_model(plain / "gen_000" / "model", cfg, real.subset.num_classes)
    expected, _ = neon(theta, real.subset, cfg.train, 0.5, 4, generation_seed(cfg.seed, 0, "neon"),
                       generation_seed(cfg.seed, 0, "neon_train"))
    saved = load_model(treated / "gen_000" / "model", cfg, real.subset.num_classes)
    for k, v in saved.network.state_dict().items():
        torch.testing.assert_close(v, expected.network.state_dict()[k], rtol=0, atol=1e-6)


def _change(run: Path, key: str) -> float:
    table = rows(run / "summary.csv")
    return float(table[-1][key]) - float(table[0][key])


@pytest.fixture(scope="session")
def remedy_folder(tmp_path_factory, worker_id):
    """A tiny remedy run (2 seeds, 2 generations) and, in the same folder, a dose run on top of keep_real; made once
    per test session, in the folder every xdist worker shares (their base temp's parent), under a lock."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    out = shared / "remedies"
    common = ["remedy", "configs/neutral.yaml", *FAST_GMM, "--seeds", "0-1", "--jobs", "2", "--out", str(out)]
    with FileLock(str(shared / "remedies.lock")):
        if not (out / "dose.csv").is_file():  # the runs in this process, to the last digit as jobs would make them
            args = (Path("configs/neutral.yaml"), FAST_GMM, [0, 1], out, InProcess())
            with one_thread():
                remedy(*args, only="keep_real,class_balanced")
                remedy(*args, only="keep_real", dose="loop.real_fraction=0.1,0.5")
            # the command over the finished runs: nothing to run, the table and its plot
            assert main([*common, "--only", "keep_real", "--dose", "loop.real_fraction=0.1,0.5"]) == 0
    return out, common


@pytest.mark.slow
def test_a_tiny_remedy_run_gives_paired_effects_costs_and_resumes(remedy_folder, capsys):
    out, common = remedy_folder
    table = {r["arm"]: r for r in rows(out / "remedies.csv")}
    assert set(table) == {"untreated", "reference", "keep_real", "class_balanced"}
    assert table["class_balanced"]["seeds"] == "0" and "no trained weights" in table["class_balanced"]["skipped"]
    for arm in ("keep_real",):
        row = table[arm]
        assert row["seeds"] == "2"
        for side in ("head", "tail"):
            key = f"{side}_share_calibrated"
            mine = [_change(out / arm / f"seed_{s}", key) for s in (0, 1)]
            diffs = [m - _change(out / "untreated" / f"seed_{s}", key) for s, m in zip((0, 1), mine)]
            half = stats.t.ppf(0.975, 1) * np.std(diffs, ddof=1) / np.sqrt(2)
            assert float(row[f"{side}_change"]) == pytest.approx(np.mean(mine), abs=1e-6)
            gave = f"{side}_change_arm_minus_untreated"  # the column says which change is subtracted from which
            assert float(row[gave]) == pytest.approx(np.mean(diffs), abs=1e-6)
            assert float(row[f"{gave}_low"]) == pytest.approx(np.mean(diffs) - half, abs=1e-6)
            assert float(row[f"{gave}_high"]) == pytest.approx(np.mean(diffs) + half, abs=1e-6)
        real = [np.mean([float(r["real_fraction"]) * float(r["train_size"])
                         for r in rows(out / arm / f"seed_{s}" / "summary.csv")[1:]]) for s in (0, 1)]
        assert float(row["real_per_generation"]) == pytest.approx(np.mean(real), rel=1e-6)
    assert float(table["untreated"]["real_per_generation"]) == 0.0
    assert float(table["keep_real"]["real_per_generation"]) == pytest.approx(
        0.1 * float(rows(out / "keep_real" / "seed_0" / "summary.csv")[1]["train_size"]), abs=1)
    for s in (0, 1):  # the reference arm trains on real images only, at the untreated chain's sizes
        for g in (0, 1):
            mine = rows(out / "reference" / f"seed_{s}" / f"gen_00{g}" / "manifest.csv")
            assert {r["source"] for r in mine} == {"real"}
            assert len(mine) == len(rows(out / "untreated" / f"seed_{s}" / f"gen_00{g}" / "manifest.csv"))
    tail = {arm: [float(rows(out / arm / f"seed_{s}" / "summary.csv")[-1]["tail_share_calibrated"]) for s in (0, 1)]
            for arm in ("untreated", "reference", "keep_real")}
    row = table["keep_real"]
    assert float(row["tail_share_reference"]) == pytest.approx(np.mean(tail["reference"]), rel=1e-6)
    gap = np.subtract(tail["keep_real"], tail["reference"])
    assert float(row["tail_share_gap_to_reference"]) == pytest.approx(gap.mean(), rel=1e-6)
    removed = 1 - gap / np.subtract(tail["untreated"], tail["reference"])
    assert float(row["compounding_removed"]) == pytest.approx(removed.mean(), rel=1e-6, nan_ok=True)
    assert float(table["untreated"]["compounding_removed"]) == pytest.approx(0, abs=1e-9, nan_ok=True)
    before = (out / "remedies.csv").read_text()
    capsys.readouterr()
    assert main([*common, "--only", "keep_real,class_balanced"]) == 0
    printed = capsys.readouterr().out
    assert "skipping class_balanced: model.kind=gmm has no trained weights" in printed
    assert "0 run(s) to do" in printed
    assert (out / "remedies.csv").read_text() == before
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "What each remedy gave back" in page and "keep_real" in page and "no trained weights" in page
    assert "Dose" in page


@pytest.mark.slow
def test_a_dose_run_writes_one_row_per_value_and_plots_against_the_dose(remedy_folder, monkeypatch):
    from vision_collapse.viz import plots
    from vision_collapse.viz.dose import plot_dose

    out, _ = remedy_folder
    table = rows(out / "dose.csv")
    assert [r["dose"] for r in table] == ["0.1", "0.5"]
    assert [r["arm"] for r in table] == ["keep_real", "dose_0.5"]  # 0.1 is keep_real's own switch
    reference = [float(rows(out / "reference" / f"seed_{s}" / "summary.csv")[-1]["tail_share_calibrated"])
                 for s in (0, 1)]
    assert all(float(r["tail_share_reference"]) == pytest.approx(np.mean(reference), rel=1e-6) for r in table)
    assert float(table[0]["compounding_removed"]) == pytest.approx(0, abs=1e-9, nan_ok=True)  # the first dose
    for r in table:
        tails = [float(rows(out / r["arm"] / f"seed_{s}" / "summary.csv")[-1]["tail_share_calibrated"])
                 for s in (0, 1)]
        assert float(r["tail_last"]) == pytest.approx(np.mean(tails), abs=1e-6)
        flagged = round(float(r["tail_level_share"]) * 2)
        assert float(r["tail_flag_p"]) == pytest.approx(stats.binom.sf(flagged - 1, 2, 0.05))
    assert (out / "dose.png").is_file()
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: figures.append(fig))
    plot_dose(table, out / "again.png")
    ax = figures[-1].axes[0]
    assert ax.get_xlabel() == "loop.real_fraction"
    assert list(ax.lines[0].get_xdata()) == [0.1, 0.5]


@pytest.mark.slow
def test_a_submitit_array_gives_the_local_runs_and_resumes(remedy_folder, tmp_path, capsys, monkeypatch):
    """The same arms as a SLURM job array (submitit's local executor) give the local runner's runs; a second
    invocation submits nothing, and a job killed mid-run is finished by the same command."""
    pytest.importorskip("submitit")
    monkeypatch.setenv("VISION_COLLAPSE_SUBMITIT_CLUSTER", "local")  # no SLURM needed
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the local array's jobs on one thread each, as the fixture's runs
    local, _ = remedy_folder
    cluster = tmp_path / "cluster"
    command = ["remedy", "configs/neutral.yaml", *FAST_GMM, "--only", "keep_real", "--seeds", "0",
               "--launcher", "submitit", "--out", str(cluster)]
    assert main(command) == 0
    assert list((cluster / "logs" / "submitit").glob("*_log.out"))  # submitit's logs live under OUT/logs/
    for arm in ("untreated", "keep_real"):
        assert _numbers(cluster / arm / "seed_0") == _numbers(local / arm / "seed_0")
    capsys.readouterr()
    assert main(command) == 0
    assert "0 run(s) to do" in capsys.readouterr().out  # nothing is submitted twice
    # Kill one job's process mid-run (after its first generation), then the same command finishes it.
    seed = cluster / "keep_real" / "seed_0"
    shutil.rmtree(seed)
    arm = Arm("keep_real", remedy_named("keep_real").on)
    job = subprocess.Popen(_job_command(Path("configs/neutral.yaml"), FAST_GMM, arm, 0, seed),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})  # one thread, as the array's jobs have
    while not (seed / "gen_000" / "DONE").is_file() and job.poll() is None:
        time.sleep(0.02)
    job.kill()
    job.wait()
    assert not (seed / "DONE").is_file()  # it died before its last generation
    assert main(command) == 0
    assert "1 run(s) to do" in capsys.readouterr().out and (seed / "DONE").is_file()
    for mine, theirs in zip(_numbers(seed), _numbers(local / "keep_real" / "seed_0"), strict=True):
        assert mine == theirs, {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}


def _numbers(run: Path) -> list[dict]:
    """A run's summary.csv without its timings, which differ from run to run."""
    return [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in rows(run / "summary.csv")]


@pytest.mark.slow
def test_each_remedy_mistake_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "nothing"
    cases = [
        (["--only", "keep_reel"], "unknown remedy 'keep_reel'; choose from keep_real"),
        (["--dose", "loop.real_fractoin=0,0.1"], "unknown config key 'loop.real_fractoin'"),
        (["--dose", "loop.real_fraction=0,lots"], "loop.real_fraction must be of type float"),
        (["--dose", "loop.real_fraction=0.1"], "at least two values"),
        (["--dose", "model.temperature=0.8,1"], "changes the model or sampler, and so the no-recursion level"),
        (["loop.correction_strength=2"], "loop.correction_strength must lie in [0, 1]"),
        (["train.class_balance=true"], "train.class_balance weights a loss that model.kind=gmm does not have"),
        (["loop.neon_weight=0.5"], "loop.neon_weight merges the weights of a model trained by steps"),
        (["loop.correction=drop", "loop.label_source=none"], "an unconditional run's samples carry none"),
    ]
    for extra, message in cases:
        assert main(["remedy", "configs/neutral.yaml", *FAST_GMM, *extra, "--seeds", "0", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err and message in lines[0], (extra, err)
        assert not out.exists(), extra


def test_compounding_removed_is_the_share_of_the_drift_a_dose_takes_away(monkeypatch, tmp_path):
    """Made-up seeds: the untreated chain drifts from the reference; a dose halves each seed's drift."""
    from vision_collapse.studies import remedy as rm

    reference = {0: 0.050, 1: 0.060, 2: 0.040}
    drift = {0: -0.030, 1: -0.020, 2: -0.040}
    tails = {"reference": reference, "untreated": {s: reference[s] + d for s, d in drift.items()},
             "half": {s: reference[s] + d / 2 for s, d in drift.items()},
             "mixed": {0: reference[0] - 0.006, 1: reference[1] - 0.012, 2: reference[2] - 0.004}}

    def fake(run):
        arm, seed = run.parent.name, int(run.name.split("_")[1])
        return {"tail_last": tails[arm][seed], "head_last": 0.3, "tail_all_last": tails[arm][seed] / 2}

    monkeypatch.setattr(rm, "seed_changes", fake)
    arms = [rm.Arm("untreated"), rm.Arm("half"), rm.Arm("mixed")]
    out = rm.with_reference([{} for _ in arms], tmp_path, arms, [0, 1, 2], "untreated")
    assert out[0]["compounding_removed"] == pytest.approx(0)
    assert out[1]["compounding_removed"] == pytest.approx(0.5)
    # every seed removed exactly half, so the interval has no width
    assert out[1]["compounding_removed_low"] == pytest.approx(0.5) == out[1]["compounding_removed_high"]
    per_seed = [1 - (tails["mixed"][s] - reference[s]) / drift[s] for s in (0, 1, 2)]  # 0.8, 0.4, 0.9
    half = stats.t.ppf(0.975, 2) * np.std(per_seed, ddof=1) / np.sqrt(3)
    assert out[2]["compounding_removed"] == pytest.approx(np.mean(per_seed))
    assert out[2]["compounding_removed_low"] == pytest.approx(np.mean(per_seed) - half)
    assert out[2]["compounding_removed_high"] == pytest.approx(np.mean(per_seed) + half)
    assert out[2]["tail_share_reference"] == pytest.approx(np.mean(list(reference.values())))
    assert out[2]["tail_share_gap_to_reference"] == pytest.approx(np.mean([-0.006, -0.012, -0.004]))


def test_readme_remedy_table_is_generated_from_the_remedies():
    from vision_collapse.config.remedies import END, START, remedies_table

    from helpers import block_in

    block = block_in((START, END))
    assert block == remedies_table(), "README remedy table is stale: python -m vision_collapse.config.remedies"
