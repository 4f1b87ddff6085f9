"""The instrument checks itself: real images read as real, chance drift reads as chance, nothing reads as a
perfect histogram, and a resume cannot change what measures the run."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from vision_collapse import run_folder as rf
from vision_collapse.config import load_config
from vision_collapse.data import load_real_data
from vision_collapse.errors import UserError
from vision_collapse.loop.evaluate_images import evaluate_images
from vision_collapse.loop.experiment import prepare_reference, run_experiment
from vision_collapse.metrics.prior import counts_for
from vision_collapse.null.bands import bonferroni, chance_rows, holm, mc_p_values
from vision_collapse.null.chains import null_chain
from vision_collapse.null.twin import TwinLoop

from helpers import FAST_GMM


def test_neutral_chains_are_flagged_five_percent_of_the_time_and_selection_is_flagged():
    counts = np.array([139, 110, 80, 51, 36, 26, 16, 8, 2, 1])
    loop = TwinLoop(counts, 469)
    rng, outside, checks = np.random.default_rng(1), 0, 0
    for k in range(300):  # independent neutral chains, drawn here with numpy alone
        band = null_chain(loop, 6, 199, np.random.default_rng([k, 0])).tracked
        shares, observed = counts / 469, []
        for _ in range(6):
            shares = rng.multinomial(469, shares) / 469
            observed.append(shares)
        rows = [r for r in chance_rows(band, observed, 0, np.array([7, 8, 9]), tuple("abcdefghij"), "level", [k])
                if r.quantity in ("head_share", "tail_share")]
        outside += sum(r.beyond for r in rows)
        checks += len(rows)
    # 3,600 checks, but the 12 of one chain share its history: about 3 standard errors either side of 0.05
    # (test_null.py measures each flag's size over 1,000 independent runs)
    rate = outside / checks
    assert 0.03 <= rate <= 0.07
    # Selection toward the head: each generation the head's weight grows by 30% before resampling.
    shares, observed = counts / 469, []
    for _ in range(6):
        weights = shares * np.r_[1.3, np.ones(9)]
        shares = rng.multinomial(469, weights / weights.sum()) / 469
        observed.append(shares)
    band = null_chain(loop, 6, 1999, np.random.default_rng(5)).tracked
    rows = chance_rows(band, observed, 0, np.array([7, 8, 9]), tuple("abcdefghij"), "level", [1])
    head = [r for r in rows if r.quantity == "head_share"]
    assert all(r.beyond for r in head[3:]) and head[-1].p_value < 0.01


def test_monte_carlo_p_values_holm_and_bonferroni_match_their_definitions():
    rng = np.random.default_rng(0)
    sim = rng.normal(size=(3, 99))
    obs = np.array([sim[0].max() + 1, np.median(sim[1]), sim[2].min() - 1])
    p = mc_p_values(sim, obs, rng)
    # beyond every chain on one side: rank 100 of 100, p = 2 * 1/100
    assert p[0] == pytest.approx(0.02) and p[2] == pytest.approx(0.02) and p[1] == pytest.approx(1.0)
    assert mc_p_values(np.zeros((1, 50)), np.zeros(1), rng)[0] == 1.0  # no randomness left: nothing to flag
    assert np.isnan(mc_p_values(sim[:1], np.array([np.nan]), rng)[0])
    raw = np.array([0.01, 0.04, 0.03, np.nan, 0.2])
    m, order = 4, [0, 2, 1, 4]  # Holm by hand: sorted p times (m - rank), running maximum, capped at 1
    expected = np.full(5, np.nan)
    running = 0.0
    for rank, k in enumerate(order):
        running = max(running, min(1.0, (m - rank) * raw[k]))
        expected[k] = running
    assert np.allclose(holm(raw), expected, equal_nan=True)
    assert holm(raw)[0] == pytest.approx(0.04) and holm(raw)[1] == pytest.approx(0.09)
    assert bonferroni([0.01, 0.3, np.nan]) == pytest.approx(0.02) and np.isnan(bonferroni([np.nan]))


def test_exact_extinction_bounds_agree_with_clopper_pearson():
    from scipy import stats

    from vision_collapse.metrics.frequencies import extinct_classes, share_upper_bound

    for k, n in [(0, 468), (1, 468), (3, 200), (10, 50)]:
        exact = stats.binomtest(k, n).proportion_ci(0.95, method="exact").high
        assert share_upper_bound(k, n) == pytest.approx(exact, rel=1e-9)
    assert share_upper_bound(0, 468) == pytest.approx(1 - 0.025 ** (1 / 468))  # about 0.0079
    # Only a count of 0 in 468 has its exact bound below 0.01 (0.0079; 1 in 468 gives 0.0118).
    calibrated = np.array([0, 1, 3, 464]) / 468
    assert extinct_classes(calibrated, 468, 0.01) == 1
    assert share_upper_bound(1, 468) > 0.01 > share_upper_bound(0, 468)
    assert extinct_classes(np.array([0.0, 1.0]), 200, 0.01) == 0  # 0 of 200: the bound is 0.018


@pytest.fixture(scope="module")
def digits_reference():
    """The default config (a fast judge), its real data and its reference, floors at n = 30."""
    cfg = load_config(None, ["eval.samples_per_class=30", "judge.epochs=10"])
    real = load_real_data(cfg.data, cfg.seed)
    return cfg, real, prepare_reference(cfg, _scratch(), real, lambda *_: None)


def _scratch():
    """A throwaway run folder for the reference's judge and floors."""
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp())


def _calibration_draw(real, counts, seed):
    """counts[c] calibration images of each class (never seen by the judge), with their labels."""
    g = torch.Generator().manual_seed(seed)
    picks = [torch.nonzero(real.calibration.labels == c).squeeze(1) for c in range(real.pool.num_classes)]
    index = torch.cat([p[torch.randperm(len(p), generator=g)[:k]] for p, k in zip(picks, counts)])
    return real.calibration.images[index], real.calibration.labels[index]


def test_unseen_real_images_read_as_real(digits_reference):
    cfg, real, ref = digits_reference
    images, labels = _calibration_draw(real, [30] * 10, seed=5)
    result = evaluate_images(images, labels, ref, cfg, seed=3)
    rows, s = result.rows[:10], result.summary
    within = [r["fid"] <= r["fid_floor_p95"] for r in rows]
    assert np.mean(within) >= 0.9, [(round(r["fid"], 1), round(r["fid_floor_p95"], 1)) for r in rows]
    assert s["fid_at_labels"] <= s["fid_at_labels_floor_p95"]
    assert s["extinct_labels"] == 0 and s["extinct_judged"] == 0
    # With the real subset's class profile, head and tail sit inside the band of chance drift.
    profile = counts_for(ref.prior, 200)
    assert profile.min() >= 1
    images, labels = _calibration_draw(real, profile, seed=6)
    s = evaluate_images(images, labels, ref, cfg, seed=4).summary
    assert not s["head_beyond_chance"] and not s["tail_beyond_chance"]
    assert s["extinct_labels"] == 0 and s["extinct_judged"] == 0
    assert s["recognised_count"] == pytest.approx(200, abs=8)


def test_nothing_recognised_gives_nan_shares_and_a_warning(digits_reference):
    cfg, real, ref = digits_reference
    rejects_all = replace(ref, recogniser=replace(ref.recogniser, min_confidence=2.0))
    images, labels = _calibration_draw(real, [10] * 10, seed=7)
    result = evaluate_images(images, None, rejects_all, cfg)
    s = result.summary
    assert s["recognised_count"] == 0 and s["unrecognisable_share"] == 1
    for key in ("head_share", "tail_share", "head_share_calibrated", "entropy", "js_to_real", "kl_real_to_gen",
                "extinct_judged"):
        assert np.isnan(s[key]), key  # not a uniform, maximum-entropy histogram
    assert all(np.isnan(r["gen_freq_calibrated"]) for r in result.rows[:10])
    assert any("recognised" in w and "NaN" in w for w in result.warnings)


def test_recomputing_a_generation_unmarks_later_ones_and_resumes_byte_identical(tmp_path):
    cfg = load_config("configs/neutral.yaml", FAST_GMM)
    run = run_experiment(cfg, tmp_path / "run", log=lambda *_: None)
    before = (run / rf.METRICS).read_bytes()
    judge_hash = rf.read_json(run / rf.JUDGE)["weights_sha256"]
    assert (run / rf.JUDGE_WEIGHTS).is_file() and (run / rf.FLOORS).is_file() and (run / rf.BASELINE).is_file()
    (rf.generation_dir(run, 0) / rf.DONE).unlink()  # generation 0 must be recomputed

    def killed(folder, generation):
        assert not (rf.generation_dir(folder, 1) / rf.DONE).exists()  # already unmarked: it learnt from gen 0
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, run, log=lambda *_: None, after_generation=killed)
    assert rf.finished_generations(run) == [] and not (run / rf.DONE).exists()
    run_experiment(cfg, run, log=lambda *_: None)
    assert (run / rf.METRICS).read_bytes() == before
    assert rf.read_json(run / rf.JUDGE)["weights_sha256"] == judge_hash


def test_floors_are_the_same_numbers_at_the_first_start_and_read_back_on_resume(tmp_path):
    from vision_collapse.loop.instrument import floors_in

    rng = np.random.default_rng(0)
    computed = [{"class_index": c, "n": 20, "available": 40, "draws": 9, "fid_floor_median": float(rng.random() * 7),
                 "vendi_floor_median": float(1 + rng.random() / 3)} for c in range(4)]
    first = floors_in(tmp_path)(lambda: computed)
    assert (tmp_path / rf.FLOORS).is_file()
    resumed = floors_in(tmp_path)(lambda: pytest.fail("a resume must read the floors back, not recompute them"))
    assert resumed == first  # exactly: a mean over classes of either gives the same last digit
    assert first != computed  # the full-precision values are not what a resume sees
    assert [r["vendi_floor_median"] for r in first] == pytest.approx([r["vendi_floor_median"] for r in computed],
                                                                      rel=1e-7)


def test_a_judge_from_before_outlier_exposure_is_kept_and_named_in_one_line(tmp_path):
    from vision_collapse.files import file_sha256
    from vision_collapse.loop.instrument import run_judge

    cfg = load_config(None, ["judge.epochs=2"])
    real = load_real_data(cfg.data, cfg.seed)
    lines = []
    judge, digest = run_judge(tmp_path, real, cfg, lines.append)
    assert lines == [] and judge.outlier_exposure == cfg.judge.outlier_exposure == 0.5  # today's judge, as trained
    assert digest == file_sha256(tmp_path / rf.JUDGE_WEIGHTS)
    again, same = run_judge(tmp_path, real, cfg, lines.append)
    assert same == digest and lines == []  # read back, never retrained
    # A file written before judges recorded their exposure: the same weights, without the key.
    state = torch.load(tmp_path / rf.JUDGE_WEIGHTS, weights_only=True)
    del state["outlier_exposure"]
    torch.save(state, tmp_path / rf.JUDGE_WEIGHTS)
    old, _ = run_judge(tmp_path, real, cfg, lines.append)
    assert old.outlier_exposure is None
    assert len(lines) == 1 and "predates outlier exposure" in lines[0] and "\n" not in lines[0]
    assert torch.equal(old.predict(real.test.images[:50]).probs, again.predict(real.test.images[:50]).probs)


def test_a_resume_on_other_data_is_refused_with_the_difference(tmp_path):
    cfg = load_config("configs/neutral.yaml", [*FAST_GMM, "loop.generations=1"])
    run = run_experiment(cfg, tmp_path / "run", log=lambda *_: None)
    info = rf.read_json(run / rf.DATA)
    rf.write_json(run / rf.DATA, {**info, "fingerprint": "0" * 64})  # as if the files changed under the run
    with pytest.raises(UserError, match="started on other data"):
        run_experiment(cfg, run, log=lambda *_: None)
    rf.write_json(run / rf.DATA, {**info, "subset_counts": [1] * 10})
    with pytest.raises(UserError, match="subset_counts"):
        run_experiment(cfg, run, log=lambda *_: None)


@pytest.mark.slow
def test_evaluate_measures_exported_samples_exactly_like_their_generation(make_run, tmp_path, capsys):
    from vision_collapse.cli import main

    from helpers import rows

    run = make_run()
    assert main(["export", str(run), "--generation", "0", str(tmp_path / "gen0")]) == 0
    assert main(["evaluate", str(tmp_path / "gen0"), "--reference", str(run), "--out", str(tmp_path / "eval")]) == 0
    got, want = rows(tmp_path / "eval" / rf.SUMMARY)[0], rows(rf.generation_dir(run, 0) / rf.SUMMARY)[0]
    # The same images against the run's own judge and reference: the same numbers.
    assert got["recognised_count"] == want["recognised_count"]
    for key in ("fid_vs_original", "fid_at_labels", "head_share", "unrecognisable_share", "variance_ratio"):
        assert float(got[key]) == pytest.approx(float(want[key]), rel=1e-6), key
    (tmp_path / "gen0" / "zebra").mkdir()
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "gen0"), "--reference", str(run), "--out", str(tmp_path / "e2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'zebra'" in err[0] and "not a class" in err[0]


@pytest.mark.slow
def test_the_summary_and_chance_table_give_the_same_p_values(make_run):
    """A generation's chance columns and its rows of chance.csv come from one simulation, at full precision: the
    same p-values and bands, and the calibrated shares chance.csv tests are the summary's to the last digit."""
    from helpers import rows

    run = make_run("loop.curation_choice=4", "loop.label_sampling=proportional", name="chance_consistency")
    table = {(r["generation"], r["test"], r["share"], r["quantity"]): r for r in rows(run / "chance.csv")}
    for s in rows(run / "summary.csv"):
        g = s["generation"]
        for side in ("head", "tail"):
            level, tracked = table[g, "level", "tracked", f"{side}_share"], f"{side}_chance_p"
            assert float(s[tracked]) == pytest.approx(float(level["p_value"]))
            assert float(s[f"{side}_calibrated_p"]) == pytest.approx(float(table[g, "level", "calibrated",
                                                                             f"{side}_share"]["p_value"]))
            calibrated = table[g, "level", "calibrated", f"{side}_share"]
            assert calibrated["observed"] == s[f"{side}_share_calibrated"]
            assert calibrated["p_value"] == s[f"{side}_calibrated_p"]
            if g != "0":
                since = table[g, "compounding", "tracked", f"{side}_share"]
                assert float(s[f"{side}_compounding_p"]) == pytest.approx(float(since["p_value"]))
                assert float(s[f"{side}_compounding_low"]) == pytest.approx(float(since["low"]))


@pytest.mark.slow
def test_exported_unconditional_samples_read_their_generations_fid_at_labels(make_run, tmp_path):
    from vision_collapse.cli import main

    from helpers import rows

    run = make_run("loop.label_source=none", name="uncond")
    assert main(["export", str(run), "--generation", "1", str(tmp_path / "gen1")]) == 0
    assert not [p for p in (tmp_path / "gen1").iterdir() if p.is_dir()]  # flat: the samples were meant as no class
    assert main(["evaluate", str(tmp_path / "gen1"), "--reference", str(run), "--out", str(tmp_path / "eval")]) == 0
    got, want = rows(tmp_path / "eval" / rf.SUMMARY)[0], rows(rf.generation_dir(run, 1) / rf.SUMMARY)[0]
    assert got["recognised_count"] == want["recognised_count"]
    for key in ("fid_vs_original", "fid_at_labels", "head_share", "tail_share", "unrecognisable_share"):
        assert float(got[key]) == pytest.approx(float(want[key]), rel=1e-6), key
    # Told which generation they are, the same images are drawn from as the run drew: its numbers, to the digit.
    assert main(["evaluate", str(tmp_path / "gen1"), "--reference", str(run), "--generation", "1",
                 "--out", str(tmp_path / "exact")]) == 0
    got = rows(tmp_path / "exact" / rf.SUMMARY)[0]
    drawn = ("recall", "coverage", "precision", "density", "kid_vs_original", "kid_std", "fid_vs_original_floor_p95",
             "fid_vs_original_floor_median", "fid_at_labels_floor_p95", "fid_at_labels_floor_median", "vendi",
             "fid_vs_original", "fid_at_labels", "head_share_calibrated", "tail_share_calibrated")
    assert {k: got[k] for k in drawn} == {k: want[k] for k in drawn}
    assert float(got["recall"]) > 0 and np.isfinite(float(got["fid_at_labels_floor_p95"]))


def test_evaluate_generation_needs_the_run_that_finished_it(tmp_path, capsys):
    from vision_collapse.cli import main

    (tmp_path / "images").mkdir()
    assert main(["evaluate", str(tmp_path / "images"), "--reference", "configs/quick.yaml", "--generation", "1",
                 "--out", str(tmp_path / "eval")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--generation 1 needs a run folder" in err[0]
    assert not (tmp_path / "eval").exists()
