"""Training throughput: our trainer against a plain fp32 loop written the way diffusers' train_unconditional.py is.

    python scripts/bench_train.py [--resolution 32] [--channels 32,64] [--batch 64] [--steps 20] [--compile]

Both train the same UNet2DModel (unconditional, 3 channels) on the same random uint8 images at the same batch
size, in this process, alternating for --rounds rounds; the best round of each counts. The baseline keeps the
images as PIL images behind a torchvision transform pipeline and a DataLoader, moves each batch to the device,
and runs fp32 AdamW, EMA, clipping and a cosine schedule. Ours is DiffusionModel.fit: the uint8 set on the
device, flips there, bf16 autocast, channels_last and fused AdamW on a GPU. Prints images per second for each,
the ratio, and on a GPU the achieved TFLOP/s and MFU (against the GPU's dense bf16 peak).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}  # dense, per GPU


def _images(n: int, resolution: int, seed: int = 0) -> torch.Tensor:
    """Random uint8 RGB images: throughput does not depend on what they show."""
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 3, resolution, resolution), dtype=np.uint8))


def _unet(channels, resolution):
    """The UNet both loops train."""
    from vision_collapse.config import ModelConfig
    from vision_collapse.models.diffusion import build_unet

    torch.manual_seed(0)
    return build_unet(ModelConfig(channels=channels), resolution, 3, 0, conditional=False)


def baseline(images: torch.Tensor, channels, batch: int, steps: int, device: torch.device) -> float:
    """Seconds for `steps` steps of the train_unconditional.py-style fp32 loop."""
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel
    from torchvision import transforms

    pil = [Image.fromarray(np.ascontiguousarray(x.permute(1, 2, 0).numpy())) for x in images]
    augment = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                                  transforms.Normalize([0.5], [0.5])])

    class Images(torch.utils.data.Dataset):
        def __len__(self):
            return len(pil)

        def __getitem__(self, i):
            return augment(pil[i])

    loader = torch.utils.data.DataLoader(Images(), batch_size=batch, shuffle=True, drop_last=True)
    model = _unet(channels, images.shape[-1]).to(device).train()
    sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    lr_sched = get_scheduler("cosine", opt, num_warmup_steps=min(25, steps // 2), num_training_steps=steps)
    ema = EMAModel(model.parameters(), decay=0.9999, use_ema_warmup=True, power=0.75)
    _sync(device)
    start, step = time.perf_counter(), 0
    while step < steps:
        for clean in loader:
            clean = clean.to(device)
            noise = torch.randn(clean.shape, device=device)
            t = torch.randint(0, 1000, (len(clean),), device=device)
            loss = F.mse_loss(model(sched.add_noise(clean, noise, t), t).sample, noise)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            lr_sched.step()
            opt.zero_grad()
            ema.step(model.parameters())
            step += 1
            if step == steps:
                break
    _sync(device)
    return time.perf_counter() - start


def ours(images: torch.Tensor, channels, batch: int, steps: int, compile_: bool) -> float:
    """Seconds for DiffusionModel.fit over the same images and steps."""
    from vision_collapse.config import ModelConfig, TrainConfig
    from vision_collapse.data.images import LabelledImages
    from vision_collapse.models.diffusion import DiffusionModel
    from vision_collapse.models.training import batch_generator
    from vision_collapse.runtime import compute_device

    data = LabelledImages(images, torch.zeros(len(images), dtype=torch.int64), tuple(map(str, range(len(images)))),
                          ("x",))
    torch.manual_seed(0)
    model = DiffusionModel(ModelConfig(channels=channels), images.shape[-1], 3, 1, conditional=False)
    train = TrainConfig(steps=steps, batch_size=batch, lr=1e-4, hflip=True, compile=compile_)
    _sync(compute_device())
    start = time.perf_counter()
    model.fit(data, train, batch_generator(0))
    _sync(compute_device())
    return time.perf_counter() - start


def step_flops(channels, resolution: int, batch: int, device: torch.device) -> float:
    """FLOPs of one forward and backward pass at this batch (torch's FLOP counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = _unet(channels, resolution).to(device)
    x = torch.randn(batch, 3, resolution, resolution, device=device)
    t = torch.randint(0, 1000, (batch,), device=device)
    with FlopCounterMode(display=False) as counter:
        model(x, t).sample.square().mean().backward()
    return float(counter.get_total_flops())


def _sync(device: torch.device) -> None:
    """Wait for queued GPU work, so the clock measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    """Time both loops and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--channels", default="32,64", help="UNet widths per level, e.g. 64,128,256")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--compile", action="store_true", help="torch.compile our UNet (train.compile=true)")
    args = parser.parse_args()
    from vision_collapse.runtime import compute_device

    device = compute_device()
    channels = tuple(int(c) for c in args.channels.split(","))
    images = _images(args.images, args.resolution)
    # One untimed short run each first: cuDNN autotuning, allocator warm-up, compilation.
    baseline(images, channels, args.batch, 3, device)
    ours(images, channels, args.batch, 3, args.compile)
    base_s, our_s = [], []
    for _ in range(args.rounds):
        base_s.append(baseline(images, channels, args.batch, args.steps, device))
        our_s.append(ours(images, channels, args.batch, args.steps, args.compile))
    base_rate, our_rate = args.batch * args.steps / min(base_s), args.batch * args.steps / min(our_s)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {name}; {args.resolution}x{args.resolution}x3, UNet widths {channels}, batch {args.batch}, "
          f"{args.steps} steps, best of {args.rounds}")
    print(f"baseline (fp32, DataLoader + torchvision transforms): {base_rate:9.1f} img/s")
    print(f"ours (vision_collapse trainer{', compiled' if args.compile else ''}):        {our_rate:9.1f} img/s")
    print(f"ratio ours / baseline: {our_rate / base_rate:.2f}x")
    flops = step_flops(channels, args.resolution, args.batch, device)
    for label, rate in (("baseline", base_rate), ("ours", our_rate)):
        achieved = flops * rate / args.batch
        peak = next((p for key, p in PEAK_BF16.items() if key in name), None)
        mfu = f", MFU {achieved / peak:.1%} of {peak / 1e12:.0f} TFLOP/s bf16 peak" if peak else ""
        print(f"{label}: {achieved / 1e12:.3f} TFLOP/s achieved{mfu}")


if __name__ == "__main__":
    main()
