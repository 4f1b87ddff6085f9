"""scripts/sanity_arm.py: the premise that makes its paired gap zero by construction holds in the committed files,
and its exact sign-flip p-value matches scipy's permutation test."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from helpers import rows


def _script():
    spec = importlib.util.spec_from_file_location("sanity_arm", Path("scripts/sanity_arm.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sign_flip_p_value_is_scipys_exact_permutation_test():
    """Every sign pattern of 8 paired gaps, against scipy.stats.permutation_test (one sample, exact)."""
    x = np.random.default_rng(3).normal(0.4, 1.0, size=8)
    reference = stats.permutation_test((x,), np.mean, permutation_type="samples", n_resamples=np.inf).pvalue
    assert _script().sign_flip_p(x) == pytest.approx(reference, rel=1e-12)


@pytest.mark.parametrize("study", ["remedies/digits", "remedies/digits-replicate"])
def test_both_real_data_arms_share_generation_0_and_train_on_the_same_class_counts(study):
    """Over the committed seeds: generation 0's summary row is one row, and every generation's training set has the
    same count per class, in the fixed-subset arm and the fresh-subset arm."""
    module = _script()
    folder = Path("results") / study
    seeds = module.both_done(folder)
    if not seeds:
        pytest.skip(f"{study} has no seed in both arms yet")
    for seed in seeds:
        summary = [rows(folder / arm / seed / "summary.csv") for arm in (module.FIXED, module.FRESH)]
        first = [{k: v for k, v in s[0].items() if not k.endswith("_seconds")} for s in summary]
        assert first[0] == first[1], seed
        counts = [[(r["generation"], r["class_index"], r["train_count"])
                   for r in rows(folder / arm / seed / "metrics.csv")] for arm in (module.FIXED, module.FRESH)]
        assert counts[0] == counts[1], seed
        assert len({c[0] for c in counts[0]}) == len(summary[0])  # every generation was compared


def test_the_real_data_level_is_the_mean_over_both_arms_every_generation():
    """real_level against a direct computation from the committed summaries."""
    module = _script()
    folders = [Path("results/remedies/digits")]
    seeds = module.both_done(folders[0])
    if len(seeds) < 2:
        pytest.skip("fewer than 2 seeds in both arms")
    per_seed, real = [], []
    for seed in seeds:
        tails = {arm: [float(r["tail_share_calibrated"]) for r in rows(folders[0] / arm / seed / "summary.csv")]
                 for arm in (module.FIXED, module.FRESH)}
        models = tails[module.FRESH] + tails[module.FIXED][1:]
        per_seed.append(sum(models) / len(models))
        real.append(float(rows(folders[0] / module.FRESH / seed / "baseline.csv")[0]["tail_share_calibrated"]))
    level, cost = module.real_level(folders, "tail_share_calibrated")
    assert level["mean"] == pytest.approx(np.mean(per_seed), rel=1e-9)
    assert cost["mean"] == pytest.approx(np.mean(per_seed) - np.mean(real), rel=1e-9)
    half = stats.t.ppf(0.975, len(seeds) - 1) * stats.sem(np.subtract(per_seed, real))
    assert cost["ci_high"] - cost["ci_low"] == pytest.approx(2 * half, rel=1e-9)
