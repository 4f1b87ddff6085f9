"""Samplers, the trainer's precision switch, and statistics accumulated shard by shard."""

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

from vision_collapse.config import load_config
from vision_collapse.data import load_real_data
from vision_collapse.metrics.classifier import Prediction
from vision_collapse.metrics.fid import gaussian_stats
from vision_collapse.metrics.recognise import Recogniser
from vision_collapse.metrics.stream import SampleStats, Shard
from vision_collapse.models import build_model
from vision_collapse.models.diffusion import sampling_scheduler


def _model(*overrides, steps=5):
    cfg = load_config(None, ["model.channels=[8,16]", f"train.steps={steps}", "train.batch_size=8", *overrides])
    data = load_real_data(cfg.data, 0).subset
    torch.manual_seed(0)
    model = build_model(cfg, 8, 1, 10)
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


def _first_unet_batch(*overrides):
    """The noisy batch and timesteps the UNet receives at the first training step, and the training data."""
    cfg = load_config(None, ["model.channels=[8,16]", "train.steps=1", "train.batch_size=64", *overrides])
    data = load_real_data(cfg.data, 0).subset
    torch.manual_seed(0)
    model = build_model(cfg, 8, 1, 10)
    seen = []
    model.unet.register_forward_hook(lambda _m, args, _out: seen.append((args[0].detach().clone(), args[1].clone())))
    model.fit(data, cfg.train, torch.Generator().manual_seed(1))
    return seen[0], data


def test_flips_mirror_exactly_the_images_the_unet_receives():
    (plain, t), data = _first_unet_batch()
    (flipped, t_flipped), _ = _first_unet_batch("train.hflip=true")
    assert torch.equal(t, t_flipped)  # the flip draw comes last, so batch, noise and timesteps are shared
    # The same generator draws the same batch indices first; then x_t = sqrt(abar) x0 + sqrt(1 - abar) noise,
    # so the difference of the two batches is sqrt(abar) (mirror(x0) - x0) on flipped rows and 0 elsewhere.
    idx = torch.randint(len(data), (64,), generator=torch.Generator().manual_seed(1))
    x0 = data.images[idx].float() / 127.5 - 1
    abar = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2").alphas_cumprod[t]
    expected = abar.sqrt()[:, None, None, None].float() * (x0.flip(3) - x0)
    diff = flipped - plain
    was_flipped = [bool((diff[i] - expected[i]).abs().max() < 1e-4) for i in range(64)]
    unchanged = [bool(diff[i].abs().max() < 1e-6) for i in range(64)]
    asymmetric = [bool((x0[i].flip(2) - x0[i]).abs().max() > 0) for i in range(64)]
    assert all(f or u for f, u in zip(was_flipped, unchanged))  # each row is either mirrored or untouched
    mirrored = sum(f and not u for f, u in zip(was_flipped, unchanged))
    assert sum(asymmetric) > 50 and 15 < mirrored < 50  # about half of the asymmetric digits were flipped


def _prediction(rng, n, classes, dim):
    probs = rng.dirichlet(np.ones(classes) * 0.3, size=n)
    return Prediction(torch.from_numpy(probs.argmax(1)), torch.from_numpy(rng.normal(size=(n, dim))),
                      torch.from_numpy(probs))


def test_shard_statistics_equal_the_whole_sets():
    rng = np.random.default_rng(0)
    classes, dim, n = 4, 6, 230
    # Thresholds that reject a known set: confidence below 0.5 (distance never decides: infinite limit).
    recogniser = Recogniser(0.5, float("inf"), float("inf"), [torch.zeros(1, dim, dtype=torch.float64)] * classes,
                            [torch.zeros(1, 4)] * classes)
    whole = _prediction(rng, n, classes, dim)
    features = torch.from_numpy(rng.normal(3, 2, size=(n, dim)))
    carried = torch.from_numpy(rng.integers(0, classes, n))
    images = torch.arange(n, dtype=torch.uint8)[:, None, None, None].expand(n, 1, 2, 2)
    stats = SampleStats(n, classes, recogniser, 100, 5, torch.Generator().manual_seed(0))
    for lo in range(0, n, 64):  # uneven last shard
        part = slice(lo, lo + 64)
        stats.update(Shard(images[part], None, carried[part], Prediction(*(t[part] for t in whole)), features[part]))

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
    labels, judged, feats, _ = stats.eval_parts()
    for c in range(classes):  # evaluation: the first 5 recognised samples judged as c
        first = np.flatnonzero((whole.labels.numpy() == c) & ~lost)[:5]
        assert torch.equal(feats[labels == c], features[first])
        assert torch.equal(judged.probs[labels == c], whole.probs[first])


def _two_gaussians_eps(schedule, means, sigma, guidance, label):
    """The exact noise prediction for data that is N(means[c], sigma^2 I) per class (equal weights), guided
    toward class `label` with classifier-free guidance."""
    alphas = schedule.alphas_cumprod.double()

    def eps_of(x, t):
        ab = alphas[int(t)]
        var = ab * sigma**2 + 1 - ab
        per_class = [(x - ab.sqrt() * m) * (1 - ab).sqrt() / var for m in means]
        log_lik = torch.stack([-((x - ab.sqrt() * m) ** 2).flatten(1).sum(1) / (2 * var) for m in means], 1)
        weights = torch.softmax(log_lik, 1)[:, :, None, None, None]
        uncond = sum(weights[:, k] * e for k, e in enumerate(per_class))
        return uncond + guidance * (per_class[label] - uncond)

    return eps_of


@pytest.mark.parametrize("sampler", ["ddim", "dpmsolver"])
def test_guided_samplers_converge_as_steps_grow(sampler):
    # Exact guided scores of two Gaussian classes: the sampler alone decides how the result changes with steps.
    # DDIM that clipped its x0 estimate but stepped on with the unclipped noise saturated more pixels, and moved
    # further from the converged result, the more steps it took.
    from vision_collapse.config import ModelConfig
    from vision_collapse.models.diffusion import denoise, noise_scheduler, sampling_scheduler

    cfg = ModelConfig(sampler=sampler)
    schedule = noise_scheduler(cfg)
    means = [torch.full((1, 4, 4), 0.35, dtype=torch.float64), torch.full((1, 4, 4), -0.35, dtype=torch.float64)]
    eps_of = _two_gaussians_eps(schedule, means, 0.3, 3.0, 0)
    results = {}
    for steps in (10, 25, 50, 100, 250):
        sched = sampling_scheduler(ModelConfig(sampler=sampler, sampling_steps=steps), schedule)
        x = denoise(eps_of, sched, torch.randn(4000, 1, 4, 4, generator=torch.Generator().manual_seed(0),
                                               dtype=torch.float64))
        results[steps] = (x.mean().item(), x.std().item(), (x.abs() >= 0.999).double().mean().item())
    reference = results[250]
    gaps = [max(abs(a - b) for a, b in zip(results[s], reference)) for s in (10, 25, 50, 100)]
    assert gaps[-1] < 0.02  # 100 steps are as good as 250
    assert all(later <= earlier + 0.01 for earlier, later in zip(gaps, gaps[1:]))  # never worse with more steps
    assert reference[2] < 0.05  # guided samples stay inside [-1, 1]: nothing piles up at the clip
