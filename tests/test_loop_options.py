"""Label sources, curation, fine-tuning, the VAE and GMM baselines, and the multi-seed aggregate."""

import math

import numpy as np
import pytest
import torch

from vision_collapse import run_folder as rf
from vision_collapse.cli import main
from vision_collapse.config import config_from_yaml_text, load_config
from vision_collapse.data import load_real_data
from vision_collapse.loop.labels import confidence, curate
from vision_collapse.loop.seeds import generation_seed
from vision_collapse.loop.strategies import sampling_labels
from vision_collapse.metrics.classifier import load_classifier
from vision_collapse.models import build_model, load_model

from helpers import TINY_DIFFUSION as TINY
from helpers import rows as _rows


def _run(out, *extra):
    assert main(["run", "configs/neutral.yaml", *TINY, *extra, "--out", str(out)]) == 0
    return out


def _npz(gen_dir):
    return rf.read_sample_arrays(gen_dir)


def test_curate_keeps_the_top_scores_in_order():
    scores = np.array([0.2, 0.9, 0.5, 0.9, 0.1, 0.7])
    assert curate(scores, 3).tolist() == [1, 3, 5]
    assert curate(scores, 4).tolist() == [1, 2, 3, 5]
    probs = torch.tensor([[0.7, 0.3], [0.1, 0.9], [0.4, 0.6]], dtype=torch.float64)
    assert confidence(probs, None).tolist() == [0.7, 0.9, 0.6]
    assert confidence(probs, torch.tensor([1, 1, 0])).tolist() == [0.3, 0.9, 0.4]


def test_config_checks_for_the_new_keys():
    from vision_collapse.errors import UserError

    for bad, message in [
        (["loop.label_source=tags"], "unknown loop.label_source 'tags'"),
        (["loop.curation=0"], "loop.curation must lie in"),
        (["model.kind=gan"], "unknown model.kind 'gan'"),
        (["model.kind=gmm", "model.guidance_scale=2"], "set model.guidance_scale=1"),
        (["model.kind=gmm", "loop.init=finetune"], "loop.init=finetune needs a model trained by steps"),
    ]:
        with pytest.raises(UserError, match=message):
            load_config(None, bad)


@pytest.mark.slow
def test_pseudo_labeller_is_used_when_and_only_when_asked(tmp_path):
    plain = _run(tmp_path / "conditioning")
    assert not (plain / "labeller.pt").exists()
    z = _npz(plain / "gen_000")
    assert np.array_equal(z["labels"], z["conditioning"])

    tagged = _run(tmp_path / "classifier", "loop.label_source=classifier")
    cfg = config_from_yaml_text((tagged / "config.yaml").read_text())
    labeller = load_classifier(tagged / "labeller.pt", 1, 10, cfg.judge)
    z = _npz(tagged / "gen_000")
    again = labeller.predict(torch.from_numpy(z["images"])).labels.numpy()
    assert np.array_equal(z["labels"], again)  # the labels carried on are the labeller's
    assert not np.array_equal(z["labels"], z["conditioning"])  # ...and not what the model was asked for
    gen1 = _rows(tagged / "gen_001" / "manifest.csv")
    assert np.bincount([int(r["label"]) for r in gen1], minlength=10).tolist() == np.bincount(again, minlength=10).tolist()
    # The labeller saw only the imbalanced subset, so it is a different (and worse) classifier than the judge.
    judge = load_classifier(tagged / rf.JUDGE_WEIGHTS, 1, 10, cfg.judge)
    assert not torch.equal(labeller.net.head.weight, judge.net.head.weight)


@pytest.mark.slow
def test_curation_keeps_the_size_and_the_most_confident_samples(tmp_path):
    run = _run(tmp_path / "curated", "model.kind=gmm", "loop.curation=0.5", "loop.curation_by=judge")
    cfg = config_from_yaml_text((run / "config.yaml").read_text())
    real = load_real_data(cfg.data, cfg.seed)
    n = len(real.subset)
    z = _npz(run / "gen_000")
    assert len(z["images"]) == n and len(_rows(run / "gen_001" / "manifest.csv")) == n
    # Redraw generation 0's 2n candidates and rank them independently by the judge's probability of the
    # conditioning label: the kept images are exactly the top n.
    model = load_model(run / "gen_000" / "model", cfg, 10)
    cond = sampling_labels(real.subset, real.subset, 2 * n, "proportional",
                           np.random.default_rng(generation_seed(cfg.seed, 0, "labels")))
    assert 2 * n > cfg.loop.shard_size  # the candidates span shards, each drawn with its own seed
    images = torch.cat([model.sample(len(c), c, torch.Generator().manual_seed(generation_seed(cfg.seed, 0, "sample", k)))
                        for k, c in enumerate(cond.split(cfg.loop.shard_size))])
    judge = load_classifier(run / rf.JUDGE_WEIGHTS, 1, 10, cfg.judge)  # the run's own judge
    p = judge.predict(images).probs.numpy()[np.arange(2 * n), cond.numpy()]
    top = np.sort(np.argsort(-p, kind="stable")[:n])
    assert np.array_equal(images.numpy()[top], z["images"])
    assert np.array_equal(cond.numpy()[top], z["labels"])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gmm", "vae"])
def test_baseline_runs_end_to_end_and_reloads(kind, tmp_path):
    run = _run(tmp_path / kind, f"model.kind={kind}")
    cfg = config_from_yaml_text((run / "config.yaml").read_text())
    z = _npz(run / "gen_001")
    assert z["images"].dtype == np.uint8 and z["images"].shape[1:] == (1, 8, 8)
    assert len(_rows(run / "metrics.csv")) == 2 * 11 and (run / "DONE").is_file()
    model = load_model(run / "gen_001" / "model", cfg, 10)
    again = model.sample(len(z["labels"]), torch.from_numpy(z["labels"]),
                         torch.Generator().manual_seed(generation_seed(cfg.seed, 1, "sample")))
    assert np.array_equal(again.numpy(), z["images"])


def test_gmm_matches_class_means_and_temperature_scales_the_standard_deviation():
    # Full-rank PCA and one Gaussian per class; temperatures below 1 keep draws away from the [0, 255] clip.
    keys = ["model.kind=gmm", "model.components=1", "model.pca_dim=64"]
    data = load_real_data(load_config(None, keys).data, 0).pool
    draws = {}
    for t in (0.4, 0.2):
        model = build_model(load_config(None, [*keys, f"model.temperature={t}"]), 8, 1, 10)
        model.fit(data, load_config(None, keys).train, torch.Generator().manual_seed(0))
        x = model.sample(4000, torch.full((4000,), 3), torch.Generator().manual_seed(1))
        draws[t] = x.double().numpy().reshape(4000, -1)
    truth = data.images[data.labels == 3].double().numpy().reshape(-1, 64)
    mid = (truth.mean(0) > 40) & (truth.mean(0) < 215)
    assert mid.sum() >= 10 and np.abs(draws[0.4].mean(0) - truth.mean(0))[mid].max() < 3
    ratio = draws[0.2][:, mid].var(0).sum() / draws[0.4][:, mid].var(0).sum()
    assert 0.22 < ratio < 0.28  # the standard deviation scales with the temperature: variance by its square
    assert 0.12 < draws[0.4][:, mid].var(0).sum() / truth[:, mid].var(0).sum() < 0.17


@pytest.mark.slow
def test_finetune_starts_from_the_previous_generation(tmp_path):
    from safetensors.torch import load_file

    slow_lr = ["model.kind=vae", "train.lr=1e-7", "loop.init=finetune", "loop.finetune_steps=2"]
    run = _run(tmp_path / "ft", *slow_lr)
    w0, w1 = (load_file(run / f"gen_00{g}" / "model" / "vae.safetensors") for g in (0, 1))
    assert max((w0[k] - w1[k]).abs().max().item() for k in w0) < 1e-4
    scratch = _run(tmp_path / "scratch", *slow_lr[:2])
    s1 = load_file(scratch / "gen_001" / "model" / "vae.safetensors")
    assert max((w0[k] - s1[k]).abs().max().item() for k in w0) > 1e-2


@pytest.mark.slow
def test_keep_models_last_keeps_the_newest_weights_and_says_what_a_recompute_lacks(tmp_path, capsys):
    keys = ["model.kind=vae", "loop.init=finetune", "loop.finetune_steps=2", "loop.generations=3"]
    everything = _run(tmp_path / "all", *keys)
    last = _run(tmp_path / "last", *keys, "loop.keep_models=last")
    for g in range(3):
        kept, pruned = everything / f"gen_00{g}" / "model", last / f"gen_00{g}" / "model"
        assert (kept / "vae.safetensors").is_file()
        assert (pruned / "vae.safetensors").is_file() == (g == 2) and (pruned / rf.NOT_KEPT).is_file() == (g < 2)
        assert sorted(p.name for p in kept.iterdir() if p.suffix == ".json") == \
            sorted(p.name for p in pruned.iterdir() if p.suffix == ".json")  # the small files stay
    # Keeping fewer weights changes no number.
    for table in (rf.METRICS, rf.SUMMARY):
        assert [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in _rows(everything / table)] == \
            [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in _rows(last / table)]
    # Recomputing generation 2 needs generation 1's weights, which are gone: one line, and nothing changes.
    (last / "gen_002" / rf.DONE).unlink()
    before = sorted(p.name for p in last.rglob("*"))
    assert main(["run", "configs/neutral.yaml", *TINY, *keys, "loop.keep_models=last", "--out", str(last)]) == 2
    err = capsys.readouterr().err.strip()
    assert "generation 2 fine-tunes from generation 1's weights, which were not kept" in err and "\n" not in err
    assert sorted(p.name for p in last.rglob("*")) == before


@pytest.mark.slow
def test_multi_seed_aggregate_matches_numpy(tmp_path):
    root = tmp_path / "seeds"
    assert main(["run", "configs/neutral.yaml", *TINY, "model.kind=gmm", "--seeds", "0,1,2", "--out", str(root)]) == 0
    assert sorted(p.name for p in root.iterdir()) == ["DONE", "aggregate.csv", "plots", "seed_0", "seed_1", "seed_2",
                                                      "verdict.md"]
    agg = {(r["generation"], r["class_name"], r["metric"]): r for r in _rows(root / "aggregate.csv")}
    t975_df2 = 4.302652729911275  # Student t quantile, 2 degrees of freedom
    seeds = [_rows(root / f"seed_{s}" / "metrics.csv") for s in range(3)]
    for g in ("0", "1"):
        for name in ("0", "9"):
            v = np.array([float(r["gen_freq"]) for rows in seeds for r in rows
                          if (r["generation"], r["class_name"]) == (g, name)])
            row = agg[(g, name, "gen_freq")]
            half = t975_df2 * v.std(ddof=1) / math.sqrt(3)
            assert row["seeds"] == "3"
            assert np.isclose(float(row["mean"]), v.mean(), rtol=1e-6)
            assert np.isclose(float(row["ci_low"]), v.mean() - half, rtol=1e-5, atol=1e-8)
            assert np.isclose(float(row["ci_high"]), v.mean() + half, rtol=1e-5, atol=1e-8)
        tails = [float(_rows(root / f"seed_{s}" / "summary.csv")[int(g)]["tail_share"]) for s in range(3)]
        assert np.isclose(float(agg[(g, "all", "tail_share")]["mean"]), np.mean(tails), rtol=1e-6)
    assert (root / "seed_1" / "config.yaml").read_text().startswith("seed: 1\n")
    assert main(["plot", str(root)]) == 0 and (root / "plots" / "shares.png").is_file()
