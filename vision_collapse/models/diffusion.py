"""Class-conditional (or unconditional) pixel diffusion: diffusers' UNet2DModel, DDPM training, DDIM, DPM-Solver++ or DDPM
sampling."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMPipeline, DDPMScheduler, DPMSolverMultistepScheduler, UNet2DModel
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from vision_collapse.config import ModelConfig, TrainConfig
from vision_collapse.data.images import LabelledImages, to_model_range, to_uint8
from vision_collapse.models.training import (
    Checkpoint,
    bf16_autocast,
    class_weights,
    my_share,
    optimise,
    resident,
    weighted_loss,
)
from vision_collapse.runtime import compute_device, runtime


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


SAMPLERS = {"ddim": DDIMScheduler, "dpmsolver": DPMSolverMultistepScheduler, "ddpm": DDPMScheduler}


def sampling_scheduler(cfg: ModelConfig, training: DDPMScheduler, pixels: bool = True):
    """A fresh scheduler of kind model.sampler over the training schedule, set to model.sampling_steps; `pixels`
    False for latents, which are not confined to [-1, 1] and so are never clipped or thresholded."""
    options = {}
    if cfg.sampler == "dpmsolver":
        options = {"algorithm_type": "dpmsolver++", "solver_order": 2}
        if pixels:
            # Dynamic thresholding plays the part of DDPM's and DDIM's clip_sample: without it, guided pixel-space
            # samples saturate (diffusers recommends it for pixel-space models with dpmsolver++).
            options.update(thresholding=True, sample_max_value=1.0)
    elif not pixels:
        options = {"clip_sample": False}
    sched = SAMPLERS[cfg.sampler].from_config(training.config, **options)
    sched.set_timesteps(cfg.sampling_steps)
    return sched


def guided_eps(predict, labels: torch.Tensor | None, null_class: int, scale: float, bf16: bool):
    """eps_of(x, t) for `denoise` from predict(x, t, labels) -> eps, under bf16 autocast where asked. With labels
    and scale != 1, classifier-free guidance: one doubled batch [labels, null class] per step, then
    eps_u + scale (eps_c - eps_u)."""
    guided = labels is not None and scale != 1.0
    y = torch.cat([labels, torch.full_like(labels, null_class)]) if guided else labels

    def eps_of(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with bf16_autocast(bf16):
            eps = predict(torch.cat([x, x]) if guided else x, t, y).float()
        if not guided:
            return eps
        eps_c, eps_u = eps.chunk(2)
        return eps_u + scale * (eps_c - eps_u)

    return eps_of


def denoise(eps_of, sched, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Integrate a sampling scheduler from noise `x` to a sample; eps_of(x, t) predicts the noise at step t."""
    # DDIM clips its estimate of x0 to [-1, 1] but by default steps on with the unclipped noise, which is not
    # the ODE it integrates: under guidance every step pushes pixels further out, so FID got worse the more
    # steps it took (165 at 5 steps, 353 at 100). Noise recomputed from the clipped x0 keeps the two
    # consistent, and FID falls as steps grow (165, 161, 159, 157, 156 at 5 to 100 steps).
    options = {"use_clipped_model_output": True} if isinstance(sched, DDIMScheduler) else {}
    for t in tqdm(sched.timesteps, desc="sample", leave=False, disable=None if runtime().is_main else True):
        x = sched.step(eps_of(x, t), t, x, generator=generator, **options).prev_sample
    return x


class DiffusionModel:
    """One generation's generative model: fit on labelled images, then sample."""

    def __init__(self, cfg: ModelConfig, resolution: int, channels: int, num_classes: int, conditional: bool,
                 bf16: bool = False):  # bf16: sample under bf16 autocast, as training does on a GPU
        self.cfg, self.num_classes, self.conditional, self.bf16 = cfg, num_classes, conditional, bf16
        self.unet = build_unet(cfg, resolution, channels, num_classes, conditional)
        self.scheduler = noise_scheduler(cfg)

    @property
    def network(self) -> torch.nn.Module:
        """The trained weights (the UNet)."""
        return self.unet

    def _to_device(self) -> None:
        """Move the UNet to the compute device, channels-last on a GPU (faster convolutions under bf16)."""
        device = compute_device()
        self.unet.to(device, memory_format=torch.channels_last if device.type == "cuda" else torch.preserve_format)

    def fit(self, data: LabelledImages, train: TrainConfig, generator: torch.Generator,
            checkpoint: Path | None = None) -> list[float]:
        """Train from the current weights for `train.steps` steps (resuming a checkpoint), then keep the EMA
        weights; returns the loss of every step."""
        unet, sched = self.unet, self.scheduler
        self._to_device()
        unet.train()
        device = compute_device()
        images, y_all = resident(data.images), data.labels.to(device)
        channels_last = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        # power 3/4 suits runs of a few hundred steps; the decay ramps up instead of averaging in the random init.
        # foreach: one fused update over all ~275 tensors per step instead of a Python loop over them
        ema = EMAModel(unet.parameters(), decay=train.ema_decay, use_ema_warmup=True, power=0.75, foreach=True)
        batch = train.batch_size
        weights = class_weights(y_all, self.num_classes) if train.class_balance else None

        def loss_at_step(model) -> torch.Tensor:
            # Every process draws the whole batch alike and keeps its share, so the averaged DDP gradient is
            # the single-process one and results do not depend on the process count.
            idx = torch.randint(len(data), (batch,), generator=generator, device=device)
            x0 = to_model_range(images[idx.to(images.device)].to(device, non_blocking=True))
            noise = torch.randn(x0.shape, generator=generator, device=device)
            t = torch.randint(0, sched.config.num_train_timesteps, (batch,), generator=generator, device=device)
            labels = None
            if self.conditional:
                drop = torch.rand(batch, generator=generator, device=device) < self.cfg.label_dropout
                labels = my_share(torch.where(drop, torch.full_like(y_all[idx], self.num_classes), y_all[idx]))
            if train.hflip:
                flip = torch.rand(batch, generator=generator, device=device) < 0.5
                x0 = torch.where(flip[:, None, None, None], x0.flip(3), x0)
            x0, noise, t = my_share(x0), my_share(noise), my_share(t)
            noisy = sched.add_noise(x0, noise, t).contiguous(memory_format=channels_last)
            predicted = model(noisy, t, class_labels=labels).sample.float()
            if weights is None:
                return F.mse_loss(predicted, noise)
            return weighted_loss((predicted - noise).pow(2).mean((1, 2, 3)), my_share(weights[idx]))

        state = {"unet": unet, "ema": ema}
        losses = optimise(unet, loss_at_step, train, after_step=lambda: ema.step(unet.parameters()),
                          checkpoint=Checkpoint(checkpoint, train.checkpoint_every, generator, state),
                          resolution=unet.config.sample_size)
        ema.copy_to(unet.parameters())
        unet.eval()
        return losses

    @torch.no_grad()
    def sample(
        self,
        n: int,
        labels: torch.Tensor | None,  # class per sample for a conditional model, else None
        generator: torch.Generator,  # CPU generator: the same draws on every device
    ) -> torch.Tensor:
        """Draw `n` uint8 images in one batch with model.sampler, using classifier-free guidance when conditional."""
        cfg, unet = self.cfg, self.unet
        self._to_device()
        unet.eval()
        device = compute_device()
        sched = sampling_scheduler(cfg, self.scheduler)
        shape = (unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
        x = (torch.randn((n, *shape), generator=generator) * cfg.temperature).to(device)
        y = labels.to(device) if self.conditional else None
        eps_of = guided_eps(lambda x, t, y: unet(x, t, class_labels=y).sample, y, self.num_classes,
                            cfg.guidance_scale, self.bf16)
        return to_uint8(denoise(eps_of, sched, x, generator if cfg.sampler == "ddpm" else None)).cpu()

    def save(self, directory: Path) -> None:
        """Write a stock diffusers pipeline folder (model_index.json, unet/, scheduler/)."""
        DDPMPipeline(unet=self.unet, scheduler=self.scheduler).save_pretrained(directory)

    @classmethod
    def load(cls, directory: Path, cfg: ModelConfig, num_classes: int, conditional: bool,
             bf16: bool = False) -> "DiffusionModel":
        """Read a folder written by `save`; it samples like the model that wrote it when given the same bf16."""
        model = cls.__new__(cls)
        model.cfg, model.num_classes, model.conditional, model.bf16 = cfg, num_classes, conditional, bf16
        model.unet = UNet2DModel.from_pretrained(Path(directory) / "unet").eval()
        model.scheduler = DDPMScheduler.from_pretrained(Path(directory) / "scheduler")
        return model
