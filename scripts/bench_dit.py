"""The DiT trainer and sampler: cached latents against encoding every step, LoRA against full fine-tuning,
torch.compile against eager, and (on a GPU, --preset xl) DiT-XL/2-shaped throughput, MFU and the minutes a
generation of the dogs config costs.

    python scripts/bench_dit.py                          # CPU: configs/dit-digits.yaml's shapes at 16 px
    python scripts/bench_dit.py --preset xl --batch 32,64   # DiT-XL/2 and the SD VAE at 256 px, random weights
    python scripts/bench_dit.py --arms compile           # one comparison only (cache, compile, lora, sample)

Every model has random weights built from its published config (nothing downloads). Both arms of each
comparison run in this process on the same random images, through DiTModel.fit and DiTModel.sample, alternating
for --rounds rounds; the best round counts. A step's time is the difference between a run of 2k steps and one of
k, so the one-off work (building, caching latents, decoding) cancels.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_train import PEAK_BF16, _sync

# The published DiT-XL/2-256 transformer and the Stable Diffusion VAE it decodes with (facebook/DiT-XL-2-256).
XL = dict(num_attention_heads=16, attention_head_dim=72, in_channels=4, out_channels=8, num_layers=28, patch_size=2,
          sample_size=32, num_embeds_ada_norm=1000, norm_type="ada_norm_zero", norm_num_groups=32)
SD_VAE = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
              up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
              latent_channels=4, norm_num_groups=32, sample_size=256, scaling_factor=0.18215)
TINY = dict(num_attention_heads=4, attention_head_dim=32, in_channels=4, out_channels=8, num_layers=4, patch_size=2,
            sample_size=8, num_embeds_ada_norm=10, norm_num_groups=32)
TINY_VAE = dict(in_channels=1, out_channels=1, down_block_types=("DownEncoderBlock2D",) * 2,
                up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(32, 64), layers_per_block=1,
                latent_channels=4, norm_num_groups=32, sample_size=16)
PRESETS = {"tiny": (TINY, TINY_VAE, 16, 1), "xl": (XL, SD_VAE, 256, 3)}
ARMS = ("cache", "compile", "lora", "sample")  # the comparisons, each against training on cached latents, eager


def _folder(vae_config: dict, root: Path) -> Path:
    """A base folder holding a random VAE and the DDPM schedule DiT trains with."""
    from diffusers import AutoencoderKL, DDPMScheduler

    torch.manual_seed(0)
    AutoencoderKL(**vae_config).save_pretrained(root / "vae")
    DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=False).save_pretrained(root / "scheduler")
    return root


def _model(preset: str, root: Path, adapter: str = "none", sampling_steps: int = 25):
    """A DiTModel of the preset's shapes with random weights."""
    from diffusers import DiTTransformer2DModel

    from vision_collapse.config import load_config
    from vision_collapse.models.dit import DiTModel, add_lora
    from vision_collapse.models.dit_base import DiTStart

    transformer_config, _, resolution, channels = PRESETS[preset]
    classes = transformer_config["num_embeds_ada_norm"]
    cfg = load_config(None, ["model.kind=dit", f"model.pretrained={root}", "loop.init=finetune",
                             f"model.adapter={adapter}", f"model.sampling_steps={sampling_steps}",
                             "model.guidance_scale=1.5", "model.sampler=dpmsolver"]).model
    torch.manual_seed(0)
    transformer = DiTTransformer2DModel(**transformer_config)
    if adapter == "lora":
        add_lora(transformer, cfg.lora_rank)
    start = DiTStart(str(root), True, "", classes, tuple(range(min(10, classes))))
    bf16 = torch.cuda.is_available()
    return DiTModel(cfg, start, root, transformer, resolution, channels, True, bf16=bf16)


def _data(preset: str, n: int):
    """n random uint8 images at the preset's resolution, ten classes."""
    from vision_collapse.data.images import LabelledImages

    _, _, resolution, channels = PRESETS[preset]
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (n, channels, resolution, resolution),
                                                                dtype=np.uint8))
    labels = torch.arange(n) % 10
    return LabelledImages(images, labels, tuple(f"real/bench/{i}" for i in range(n)), tuple(map(str, range(10))))


def _train_config(steps: int, batch: int, compiled: bool = False):
    """Fine-tuning settings: bf16 on a GPU, torch.compile only when `compiled`, no checkpoints."""
    from vision_collapse.config import load_config

    return load_config(None, [f"train.steps={steps}", f"train.batch_size={batch}", "train.lr=0.0001",
                              "train.hflip=true", f"train.compile={str(compiled).lower()}",
                              "train.warmup_steps=1"]).train


def step_seconds(model, data, batch: int, steps: int, cache: bool, compiled: bool = False) -> float:
    """Seconds per training step: a fit of 2 x steps less a fit of steps (building and caching cancel), after an
    untimed fit of `steps` (first-touch allocation of the optimiser's state, autotuning, and compiling: dynamo
    keeps the compiled graph for the same module, so the timed fits reuse it); NaN when noise makes the
    difference negative (raise --steps)."""
    times = []
    for n in (steps, steps, 2 * steps):
        start = time.perf_counter()
        model.fit(data, _train_config(n, batch, compiled), torch.Generator(device=_device()).manual_seed(0),
                  cache_latents=cache)
        _sync(_device())
        times.append(time.perf_counter() - start)
    return _per_step(times[2] - times[1], steps)


def _per_step(difference: float, steps: int) -> float:
    """Seconds per step from the difference of two timed runs; NaN when it is not positive (too noisy)."""
    return difference / steps if difference > 0 else float("nan")


def sample_step_seconds(preset: str, root: Path, n: int, steps: int) -> float:
    """Seconds per guided sampling step for a batch of n: a sample of 2 x steps less one of steps."""
    times = []
    for k in (steps, 2 * steps):
        model = _model(preset, root, sampling_steps=k)
        start = time.perf_counter()
        model.sample(n, torch.arange(n) % 10, torch.Generator().manual_seed(0))
        _sync(_device())
        times.append(time.perf_counter() - start)
    return _per_step(times[1] - times[0], steps)


def forward_flops(preset: str, root: Path) -> float:
    """FLOPs of one transformer forward for one image (torch's FLOP counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = _model(preset, root)
    t = model.transformer.to(_device())
    side, c = t.config.sample_size, t.config.in_channels
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        t(torch.randn(1, c, side, side, device=_device()), timestep=torch.tensor([500], device=_device()),
          class_labels=torch.tensor([1], device=_device()))
    return float(counter.get_total_flops())


def _device() -> torch.device:
    from vision_collapse.runtime import compute_device

    return compute_device()


def _peak_memory(fn) -> str:
    """fn's peak GPU memory in GiB; on a CPU, 'n/a' without running it."""
    if _device().type != "cuda":
        return "n/a (CPU)"
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    fn()
    return f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"


def dogs_generation_minutes(train_rate: float, sample_rate: float) -> str:
    """Minutes per generation of configs/stanford-dogs-dit-256.yaml at these images/s (training, guided sampling
    steps), from its training steps, its subset size and its evaluation draws."""
    from vision_collapse.config import load_config
    from vision_collapse.data.imbalance import exp_profile_counts

    cfg = load_config(Path("configs/stanford-dogs-dit-256.yaml"))
    subset = sum(exp_profile_counts(cfg.data.n_max, cfg.data.imbalance_factor, len(cfg.data.classes)))
    samples = subset + cfg.eval.samples_per_class * len(cfg.data.classes)
    train_s = cfg.train.steps * cfg.train.batch_size / train_rate
    sample_s = samples * cfg.model.sampling_steps / sample_rate
    return (f"dogs config: {cfg.train.steps} steps x {cfg.train.batch_size} = {train_s / 60:.1f} min training, "
            f"{samples} samples x {cfg.model.sampling_steps} steps = {sample_s / 60:.1f} min sampling, "
            f"{(train_s + sample_s) / 60:.1f} min per generation before decoding and evaluation")


def main() -> None:
    """Run the comparisons and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--batch", default="64", help="training and sampling batch sizes, e.g. 32,64")
    parser.add_argument("--steps", type=int, default=10, help="k: timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--images", type=int, default=512, help="size of the training set")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comparisons to run, of {','.join(ARMS)}")
    args = parser.parse_args()
    arms = args.arms.split(",")
    if unknown := sorted(set(arms) - set(ARMS)):
        parser.error(f"unknown arm(s) {', '.join(unknown)}; choose from {', '.join(ARMS)}")
    device = _device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = next((p for key, p in PEAK_BF16.items() if key in name), None)
    data = _data(args.preset, args.images)
    batches = [int(b) for b in args.batch.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = _folder(PRESETS[args.preset][1], Path(tmp))
        fwd = forward_flops(args.preset, root)
        print(f"device {name}; preset {args.preset}: transformer forward {fwd / 1e9:.3g} GFLOP per image; "
              f"{args.images} training images; best of {args.rounds} rounds of {args.steps} steps")
        model = _model(args.preset, root)
        total = sum(p.numel() for p in model.transformer.parameters())

        def best(batch: int, **arm) -> float:
            """The best round's seconds per step of the full model at `batch`."""
            return np.nanmin([step_seconds(model, data, batch, args.steps, **arm) for _ in range(args.rounds)])

        rates: dict[int, float] = {}  # training images/s on cached latents, eager, per batch size
        for batch in batches:
            rates[batch] = rate = batch / best(batch, cache=True)
            mfu = f", MFU {3 * fwd * rate / peak:.1%} of {peak / 1e12:.0f} TFLOP/s" if peak else ""
            print(f"batch {batch}: training on cached latents {rate:8.1f} img/s ({3 * fwd * rate / 1e12:.2f} TFLOP/s"
                  f"{mfu})")
            if "cache" in arms:
                encoded = batch / best(batch, cache=False)
                print(f"batch {batch}: encoding every step {encoded:8.1f} img/s; ratio cached / encoding every "
                      f"step: {rate / encoded:.2f}x")
            if "compile" in arms:
                compiled = batch / best(batch, cache=True, compiled=True)
                print(f"batch {batch}: compiled {compiled:8.1f} img/s; ratio compiled / eager: {compiled / rate:.2f}x")
        model = None  # one XL transformer with its optimiser at a time: two do not fit in 24 GiB
        if "lora" in arms:
            lora = _model(args.preset, root, adapter="lora")
            trainable = sum(p.numel() for p in lora.transformer.parameters() if p.requires_grad)
            print(f"LoRA rank 16 trains {trainable:,} of {total:,} parameters ({trainable / total:.2%})")
            for batch in batches:
                adapted = np.nanmin([step_seconds(lora, data, batch, args.steps, True) for _ in range(args.rounds)])
                print(f"batch {batch}: LoRA {batch / adapted:8.1f} img/s, ratio LoRA / full "
                      f"{batch / rates[batch] / adapted:.2f}x")
            del lora
        for batch in batches:
            if "lora" in arms:
                full_mem = _peak_memory(lambda: step_seconds(_model(args.preset, root), data, batch, 2, True))
                lora_mem = _peak_memory(lambda: step_seconds(_model(args.preset, root, "lora"), data, batch, 2, True))
                print(f"batch {batch}: peak memory full fine-tuning {full_mem}, LoRA {lora_mem}")
            if "sample" in arms:
                sample_rate = batch / np.nanmin([sample_step_seconds(args.preset, root, batch, args.steps)
                                                 for _ in range(args.rounds)])
                smfu = f", MFU {2 * fwd * sample_rate / peak:.1%}" if peak else ""
                print(f"batch {batch}: guided sampling {sample_rate:8.1f} image-steps/s "
                      f"({2 * fwd * sample_rate / 1e12:.2f} TFLOP/s{smfu})")
                if args.preset == "xl":
                    print(f"batch {batch}: {dogs_generation_minutes(rates[batch], sample_rate)}")


if __name__ == "__main__":
    main()
