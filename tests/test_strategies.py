"""Each loop strategy's training-set composition, and the conditioning-label distributions."""

import csv
from collections import Counter

import numpy as np
import pytest
import torch

from vision_collapse.cli import main
from vision_collapse.config import load_config
from vision_collapse.data import load_real_data
from vision_collapse.data.images import LabelledImages
from vision_collapse.loop.strategies import build_training_set, sampling_labels

from helpers import LIGHT_RUN, fake_samples


def _sources(train_set):
    return Counter("real" if i.startswith("real/") else i.split("/")[0] for i in train_set.ids)


@pytest.fixture(scope="module")
def setting():
    def make(*overrides):
        cfg = load_config(None, list(overrides))
        real = load_real_data(cfg.data, cfg.seed)
        return cfg, real, [fake_samples(real, g) for g in range(3)]
    return make


def test_replace(setting):
    cfg, real, history = setting("loop.strategy=replace")
    assert _sources(build_training_set(2, real, history, cfg)) == {"gen1": len(real.subset)}


def test_mix_keeps_size_and_real_fraction(setting):
    cfg, real, history = setting("loop.strategy=mix", "loop.real_fraction=0.1")
    n = len(real.subset)
    train = build_training_set(2, real, history, cfg)
    assert _sources(train) == {"real": round(0.1 * n), "gen1": n - round(0.1 * n)}
    assert len(set(train.ids)) == n  # drawn without replacement
    assert set(i for i in train.ids if i.startswith("real/")) <= set(real.subset.ids)


def test_accumulate_grows_and_cap(setting):
    cfg, real, history = setting("loop.strategy=accumulate")
    n = len(real.subset)
    assert _sources(build_training_set(2, real, history, cfg)) == {"real": n, "gen0": n, "gen1": n}
    cfg, real, history = setting("loop.strategy=accumulate", "loop.accumulate_cap=500")
    train = build_training_set(2, real, history, cfg)
    assert len(train) == 500 and len(set(train.ids)) == 500 and set(_sources(train)) == {"real", "gen0", "gen1"}


def test_fresh_draws_new_real_images_from_the_pool(setting):
    cfg, real, history = setting("loop.strategy=fresh", "loop.real_fraction=0.5")
    n = len(real.subset)
    train = build_training_set(1, real, history, cfg)
    assert _sources(train) == {"real": round(0.5 * n), "gen0": n - round(0.5 * n)}
    fresh = [i for i in train.ids if i.startswith("real/")]
    assert set(fresh) <= set(real.pool.ids) and not set(fresh) <= set(real.subset.ids)


def test_label_sampling_distributions():
    labels = torch.tensor([0] * 60 + [1] * 30 + [2] * 10)
    names = ("a", "b", "c")
    train = LabelledImages(torch.zeros((100, 1, 2, 2), dtype=torch.uint8), labels, tuple(map(str, range(100))), names)
    real = LabelledImages(torch.zeros((4, 1, 2, 2), dtype=torch.uint8), torch.tensor([0, 1, 2, 2]),
                          tuple("wxyz"), names)
    n = 200_000
    for how, expected in [("proportional", [0.6, 0.3, 0.1]), ("original", [0.25, 0.25, 0.5]),
                          ("uniform", [1 / 3] * 3)]:
        drawn = sampling_labels(train, real, n, how, np.random.default_rng(0))
        assert np.allclose(np.bincount(drawn.numpy(), minlength=3) / n, expected, atol=0.005), how


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["mix", "accumulate", "fresh"])
def test_strategy_end_to_end_manifest(strategy, tmp_path):
    out = tmp_path / strategy
    tiny = ["model.channels=[8,16]", "model.sampling_steps=2", "train.steps=5", "train.batch_size=8",
            "judge.epochs=1", "loop.generations=3", f"loop.strategy={strategy}", "loop.real_fraction=0.25",
            *LIGHT_RUN]
    assert main(["run", "configs/neutral.yaml", *tiny, "--out", str(out)]) == 0
    with open(out / "gen_000" / "manifest.csv") as fh:
        n = len(list(csv.DictReader(fh)))
    with open(out / "gen_002" / "manifest.csv") as fh:
        sources = Counter(r["source"] for r in csv.DictReader(fh))
    expected = {
        "mix": {"real": round(0.25 * n), "gen1": n - round(0.25 * n)},
        "fresh": {"real": round(0.25 * n), "gen1": n - round(0.25 * n)},
        "accumulate": {"real": n, "gen0": n, "gen1": n},
    }[strategy]
    assert sources == expected
    with open(out / "summary.csv") as fh:
        real_fraction = [float(r["real_fraction"]) for r in csv.DictReader(fh)]
    assert real_fraction[0] == 1.0 and abs(real_fraction[2] - expected["real"] / sum(expected.values())) < 1e-6
