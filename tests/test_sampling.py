"""Samplers, the trainer's precision switch, and statistics accumulated shard by shard."""

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

from vision_collapse.config import load_config
from vision_collapse.data import load_real_data
from vision_collapse.metrics.fid import gaussian_stats
from vision_collapse.metrics.judge import Prediction
from vision_collapse.metrics.recognise import Recogniser
from vision_collapse.metrics.stream import SampleStats
from vision_collapse.models import build_model
from vision_collapse.models.diffusion import sampling_scheduler


def _model(*overrides, steps=5):
    cfg = load_config(None, ["model.channels=[8,16]", f"train.steps={steps}", "train.batch_size=8", *overrides])
    data = load_real_data(cfg.data, 0).subset
    torch.manual_seed(0)
    model = build_model(cfg.model, 8, 1, 10, True)
    model.fit(data, cfg.train, torch.Generator().manual_seed(1))
    return cfg, model


@pytest.mark.parametrize("sampler, kind", [("ddim", DDIMScheduler), ("dpmsolver", DPMSolverMultistepScheduler),
                                           ("ddpm", DDPMScheduler)])
def test_each_sampler_is_the_diffusers_scheduler_at_the_asked_steps(sampler, kind):
    cfg = load_config(None, [f"model.sampler={sampler}", "model.sampling_steps=7"])
    sched = sampling_scheduler(cfg.model, DDPMScheduler(num_train_timesteps=1000))
    assert type(sched) is kind and len(sched.timesteps) == 7
    if sampler == "dpmsolver":
        assert sched.config.algorithm_type == "dpmsolver++" and sched.config.solver_order == 2
        assert sched.config.thresholding and sched.config.sample_max_value == 1.0
    else:
        assert sched.config.clip_sample  # predicted clean images clipped to [-1, 1], as in training's range


@pytest.mark.parametrize("sampler", ["ddim", "dpmsolver", "ddpm"])
def test_sampling_calls_the_unet_once_per_step_on_one_doubled_batch(sampler):
    cfg, model = _model(f"model.sampler={sampler}", "model.sampling_steps=6", "model.guidance_scale=2")
    batches = []
    hook = model.unet.register_forward_hook(lambda _m, args, _out: batches.append(len(args[0])))
    labels = torch.tensor([0, 3, 3, 9, 1])
    images = model.sample(5, labels, torch.Generator().manual_seed(4))
    hook.remove()
    assert batches == [10] * 6  # 6 network evaluations, each on [conditional, unconditional] together
    assert images.dtype == torch.uint8 and images.shape == (5, 1, 8, 8)
    assert torch.equal(images, model.sample(5, labels, torch.Generator().manual_seed(4)))  # seeded
    assert not torch.equal(images, model.sample(5, labels, torch.Generator().manual_seed(5)))


def test_bf16_training_runs_on_the_cpu_and_differs_from_fp32():
    weights = {}
    for precision in ("fp32", "bf16"):
        _, model = _model(f"train.precision={precision}", steps=3)
        weights[precision] = torch.cat([p.detach().flatten() for p in model.unet.parameters()])
    assert torch.isfinite(weights["bf16"]).all()
    assert not torch.equal(weights["fp32"], weights["bf16"])
    assert (weights["fp32"] - weights["bf16"]).abs().max() < 0.05  # rounding, not a different model


def test_flips_change_what_the_model_sees():
    _, plain = _model(steps=3)
    _, flipped = _model("train.hflip=true", steps=3)
    a = torch.cat([p.detach().flatten() for p in plain.unet.parameters()])
    b = torch.cat([p.detach().flatten() for p in flipped.unet.parameters()])
    assert not torch.equal(a, b)


def _prediction(rng, n, classes, dim):
    probs = rng.dirichlet(np.ones(classes) * 0.3, size=n)
    return Prediction(torch.from_numpy(probs.argmax(1)), torch.from_numpy(rng.normal(size=(n, dim))),
                      torch.from_numpy(probs))


def test_shard_statistics_equal_the_whole_sets():
    rng = np.random.default_rng(0)
    classes, dim, n = 4, 6, 230
    # Thresholds that reject a known set: confidence below 0.5 (distance never decides: infinite limit).
    recogniser = Recogniser(0.5, float("inf"), [torch.zeros(1, dim, dtype=torch.float64)] * classes)
    whole = _prediction(rng, n, classes, dim)
    features = torch.from_numpy(rng.normal(3, 2, size=(n, dim)))
    carried = torch.from_numpy(rng.integers(0, classes, n))
    images = torch.arange(n, dtype=torch.uint8)[:, None, None, None].expand(n, 1, 2, 2)
    stats = SampleStats(n, classes, recogniser, 100, 3, 5, torch.Generator().manual_seed(0))
    for lo in range(0, n, 64):  # uneven last shard
        part = slice(lo, lo + 64)
        stats.update(images[part], carried[part], Prediction(*(t[part] for t in whole)), features[part])

    mean, cov = stats.moments()
    want_mean, want_cov = gaussian_stats(features)
    assert torch.allclose(mean, want_mean, atol=1e-12) and torch.allclose(cov, want_cov, atol=1e-10)
    lost = whole.probs.max(1).values.numpy() < 0.5
    assert stats.unrecognisable_share == pytest.approx(lost.mean())
    assert stats.recognised.tolist() == np.bincount(whole.labels.numpy()[~lost], minlength=classes).tolist()
    assert stats.carried.tolist() == np.bincount(carried.numpy(), minlength=classes).tolist()
    subset = stats.feature_subset()
    assert len(subset) == 100 and len({tuple(r.tolist()) for r in subset}) == 100  # distinct rows of the set
    assert all(any(torch.equal(r, f) for f in features) for r in subset[:5])
    for c in range(classes):  # grids: the first 3 images carried as c; evaluation: the first 5 judged as c
        assert [int(t[0, 0, 0]) for t in stats.firsts[c]] == np.flatnonzero(carried.numpy() == c)[:3].tolist()
    labels, judged, feats = stats.eval_parts()
    for c in range(classes):
        first = np.flatnonzero(whole.labels.numpy() == c)[:5]
        assert torch.equal(feats[labels == c], features[first])
        assert torch.equal(judged.probs[labels == c], whole.probs[first])
