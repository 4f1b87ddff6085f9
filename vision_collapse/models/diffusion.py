"""Class-conditional (or unconditional) pixel diffusion: diffusers' UNet2DModel, DDPM training, DDIM sampling."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMPipeline, DDPMScheduler, UNet2DModel
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from vision_collapse.config import ModelConfig, TrainConfig
from vision_collapse.data.images import LabelledImages, to_model_range, to_uint8
from vision_collapse.models.training import Checkpoint, optimise


def build_unet(cfg: ModelConfig, resolution: int, channels: int, num_classes: int, conditional: bool) -> UNet2DModel:
    """A small UNet; a conditional one gets C + 1 class rows, the last being the null class for CFG."""
    levels = len(cfg.channels)
    return UNet2DModel(
        sample_size=resolution,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=cfg.channels,
        layers_per_block=cfg.layers_per_block,
        down_block_types=("DownBlock2D",) * levels,
        up_block_types=("UpBlock2D",) * levels,
        norm_num_groups=min(32, math.gcd(*cfg.channels)),  # GroupNorm needs a divisor of every width
        num_class_embeds=num_classes + 1 if conditional else None,
    )


def noise_scheduler(cfg: ModelConfig) -> DDPMScheduler:
    """The DDPM schedule the model is trained under."""
    return DDPMScheduler(num_train_timesteps=cfg.train_timesteps, beta_schedule=cfg.beta_schedule)


class DiffusionModel:
    """One generation's generative model: fit on labelled images, then sample."""

    def __init__(self, cfg: ModelConfig, resolution: int, channels: int, num_classes: int, conditional: bool):
        self.cfg, self.num_classes, self.conditional = cfg, num_classes, conditional
        self.unet = build_unet(cfg, resolution, channels, num_classes, conditional)
        self.scheduler = noise_scheduler(cfg)

    def fit(self, data: LabelledImages, train: TrainConfig, generator: torch.Generator, desc: str = "train",
            checkpoint: Path | None = None) -> None:
        """Train from the current weights for `train.steps` steps (resuming a checkpoint), then keep the EMA weights."""
        unet, sched = self.unet, self.scheduler
        unet.train()
        x_all, y_all = to_model_range(data.images), data.labels
        # power 3/4 suits runs of a few hundred steps; the decay ramps up instead of averaging in the random init.
        ema = EMAModel(unet.parameters(), decay=train.ema_decay, use_ema_warmup=True, power=0.75)

        def loss_at_step() -> torch.Tensor:
            idx = torch.randint(len(data), (train.batch_size,), generator=generator)
            x0 = x_all[idx]
            noise = torch.randn(x0.shape, generator=generator)
            t = torch.randint(0, sched.config.num_train_timesteps, (len(idx),), generator=generator)
            labels = None
            if self.conditional:
                drop = torch.rand(len(idx), generator=generator) < self.cfg.label_dropout
                labels = torch.where(drop, torch.full_like(y_all[idx], self.num_classes), y_all[idx])
            return F.mse_loss(unet(sched.add_noise(x0, noise, t), t, class_labels=labels).sample, noise)

        optimise(unet.parameters(), loss_at_step, train.steps, train.lr, train.warmup_steps, desc,
                 after_step=lambda: ema.step(unet.parameters()),
                 checkpoint=Checkpoint(checkpoint, train.checkpoint_every, generator, {"unet": unet, "ema": ema}))
        ema.copy_to(unet.parameters())
        unet.eval()

    @torch.no_grad()
    def sample(
        self,
        n: int,
        labels: torch.Tensor | None,  # class per sample for a conditional model, else None
        generator: torch.Generator,
        batch_size: int = 1024,
        desc: str = "sample",
    ) -> torch.Tensor:
        """Draw `n` uint8 images with DDIM, using classifier-free guidance when conditional."""
        cfg, unet = self.cfg, self.unet
        unet.eval()
        ddim = DDIMScheduler.from_config(self.scheduler.config)
        ddim.set_timesteps(cfg.sampling_steps)
        shape = (unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
        guided = self.conditional and cfg.guidance_scale != 1.0
        out = []
        for start in tqdm(range(0, n, batch_size), desc=desc, leave=False, disable=None):
            stop = min(n, start + batch_size)
            x = torch.randn((stop - start, *shape), generator=generator) * cfg.temperature
            y = labels[start:stop] if self.conditional else None
            if guided:  # one doubled batch [y, null] per step, as in DiT
                y = torch.cat([y, torch.full_like(y, self.num_classes)])
            for t in ddim.timesteps:
                if guided:
                    eps_c, eps_u = unet(torch.cat([x, x]), t, class_labels=y).sample.chunk(2)
                    eps = eps_u + cfg.guidance_scale * (eps_c - eps_u)
                else:
                    eps = unet(x, t, class_labels=y).sample
                x = ddim.step(eps, t, x).prev_sample
            out.append(to_uint8(x))
        return torch.cat(out)

    def save(self, directory: Path) -> None:
        """Write a stock diffusers pipeline folder (model_index.json, unet/, scheduler/)."""
        DDPMPipeline(unet=self.unet, scheduler=self.scheduler).save_pretrained(directory)

    @classmethod
    def load(cls, directory: Path, cfg: ModelConfig, num_classes: int, conditional: bool) -> "DiffusionModel":
        """Read a folder written by `save`."""
        model = cls.__new__(cls)
        model.cfg, model.num_classes, model.conditional = cfg, num_classes, conditional
        model.unet = UNet2DModel.from_pretrained(Path(directory) / "unet").eval()
        model.scheduler = DDPMScheduler.from_pretrained(Path(directory) / "scheduler")
        return model
