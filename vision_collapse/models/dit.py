"""A latent class-conditional diffusion transformer (model.kind=dit): diffusers' DiTTransformer2DModel over a frozen
AutoencoderKL, fine-tuned (whole, or through LoRA adapters) on latents cached once per generation, sampled by the
project's own guided loop (DiTPipeline hard-codes the null class, has no temperature, cannot be sharded)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDPMScheduler, DiTTransformer2DModel
from diffusers.models.embeddings import LabelEmbedding
from diffusers.training_utils import EMAModel

from vision_collapse.config import ModelConfig, TrainConfig
from vision_collapse.data.images import LabelledImages, to_model_range, to_uint8
from vision_collapse.errors import UserError
from vision_collapse.models.diffusion import denoise, guided_eps, sampling_scheduler
from vision_collapse.models.dit_base import (
    DiTStart,
    base_folder,
    folder_sha256,
    fresh_transformer,
    id2label,
    read_part_config,
    read_start,
    vae_factor,
)
from vision_collapse.models.training import (
    Checkpoint,
    bf16_autocast,
    class_weights,
    my_share,
    optimise,
    resident,
    weighted_loss,
)
from vision_collapse.runtime import compute_device

MODEL_FILE = "dit.json"  # gen_XXX/model/dit.json: what the folder holds and which base it completes
ADAPTER_FILE = "adapter.safetensors"
VAE_BATCH = 32  # images through the autoencoder at once: its activations at 256 px dominate memory
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]  # attention projections, as diffusers' LoRA scripts adapt


def add_lora(transformer: DiTTransformer2DModel, rank: int) -> None:
    """Inject LoRA adapters into the attention projections and freeze everything else."""
    from peft import LoraConfig, inject_adapter_in_model

    inject_adapter_in_model(LoraConfig(r=rank, lora_alpha=rank, target_modules=LORA_TARGETS), transformer)
    for name, p in transformer.named_parameters():
        p.requires_grad_("lora_" in name)


def single_label_dropout(transformer: DiTTransformer2DModel) -> None:
    """Switch off the label dropout every block's LabelEmbedding does on its own in train mode (p=0.1 each, so a
    sample's label would be dropped in some blocks and kept in others); fit drops each label once instead. The
    null row (index = class count) stays, since it exists only while dropout_prob > 0 at construction."""
    for module in transformer.modules():
        if isinstance(module, LabelEmbedding):
            module.dropout_prob = 0.0


class Latents:
    """A training set's VAE posterior (mean, std), cached once (and for flipped images under train.hflip), or, with
    `cached` False, encoded afresh at every step (the baseline the cache is measured against)."""

    def __init__(self, vae: AutoencoderKL, images: torch.Tensor, hflip: bool, cached: bool = True):
        self.vae, self.images, self.cached = vae, resident(images), cached
        self.scale = float(vae.config.scaling_factor)
        if cached:
            parts = [self.images, self.images.flip(3)] if hflip else [self.images]
            encoded = [self.posterior(c) for part in parts for c in part.split(VAE_BATCH)]
            self.mean = torch.cat([m for m, _ in encoded])
            self.std = torch.cat([s for _, s in encoded])

    @torch.no_grad()
    def posterior(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The frozen VAE's posterior mean and std of uint8 images."""
        x = to_vae(to_model_range(images.to(compute_device())), self.vae.config.in_channels)
        dist = self.vae.encode(x).latent_dist
        return dist.mean.float(), dist.std.float()

    def draw(self, idx: torch.Tensor, flip: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """A posterior sample of the items `idx` (flipped where `flip`), times the VAE's scaling_factor."""
        if self.cached:
            k = idx if flip is None else idx + len(self.images) * flip.long()
            mean, std = self.mean[k], self.std[k]
        else:
            images = self.images[idx.to(self.images.device)]
            if flip is not None:
                images = torch.where(flip.to(images.device)[:, None, None, None], images.flip(3), images)
            mean, std = self.posterior(images)
        return (mean + std * torch.randn(mean.shape, generator=generator, device=mean.device)) * self.scale


def to_vae(x: torch.Tensor, vae_channels: int) -> torch.Tensor:
    """Grey images repeated to RGB for an RGB autoencoder."""
    return x.repeat(1, vae_channels, 1, 1) if x.shape[1] == 1 and vae_channels == 3 else x


class DiTModel:
    """One generation's DiT: the transformer that trains (or its adapters), the frozen VAE, and the start it came from."""

    def __init__(self, cfg: ModelConfig, start: DiTStart, base: Path, transformer: DiTTransformer2DModel,
                 resolution: int, channels: int, conditional: bool, bf16: bool = False):
        self.cfg, self.start, self.base, self.transformer = cfg, start, Path(base), transformer
        self.resolution, self.channels, self.conditional, self.bf16 = resolution, channels, conditional, bf16
        self.vae = AutoencoderKL.from_pretrained(self.base / "vae").eval().requires_grad_(False)
        self.schedule = read_part_config(self.base, "scheduler")
        self.scheduler = DDPMScheduler.from_config(self.schedule)
        self.class_index = torch.tensor(start.class_map)
        single_label_dropout(transformer)
        if cfg.gradient_checkpointing:
            transformer.enable_gradient_checkpointing()

    @classmethod
    def build(cls, cfg: ModelConfig, resolution: int, channels: int, conditional: bool, bf16: bool,
              run: Path) -> "DiTModel":
        """Generation 0's model (and every generation's under loop.init=pretrained or scratch), from RUN/dit.json."""
        return cls.from_start(cfg, read_start(run), run, resolution, channels, conditional, bf16)

    @classmethod
    def from_start(cls, cfg: ModelConfig, start: DiTStart, run: Path, resolution: int, channels: int,
                   conditional: bool, bf16: bool = False) -> "DiTModel":
        """The pretrained transformer of `start`, or a fresh one of model.dit_* sizes over the run's autoencoder,
        with LoRA adapters under model.adapter=lora."""
        base = base_folder(start, run)
        if start.pretrained:
            transformer = DiTTransformer2DModel.from_pretrained(base / "transformer")
        else:
            vae = read_part_config(base, "vae")
            transformer = fresh_transformer(cfg, resolution // vae_factor(vae), vae["latent_channels"],
                                            start.model_classes)
        if cfg.adapter == "lora":
            add_lora(transformer, cfg.lora_rank)
        return cls(cfg, start, base, transformer, resolution, channels, conditional, bf16)

    @property
    def network(self) -> torch.nn.Module:
        """The trained weights (the transformer, adapters included)."""
        return self.transformer

    @property
    def null_class(self) -> int:
        """The model's own null class, which guidance conditions the unconditional half on."""
        return self.start.model_classes

    def model_labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor:
        """The model classes of dataset labels; the null class throughout for an unconditional model."""
        device = compute_device()
        if not self.conditional or labels is None:
            return torch.full((n,), self.null_class, dtype=torch.long, device=device)
        return self.class_index.to(device)[labels.to(device)]

    def fit(self, data: LabelledImages, train: TrainConfig, generator: torch.Generator,
            checkpoint: Path | None = None, cache_latents: bool = True) -> list[float]:
        """Train the transformer (or its adapters) for `train.steps` steps on the VAE latents of `data`, encoded once
        (`cache_latents` False re-encodes every step), then keep the EMA weights; returns every step's loss."""
        device = compute_device()
        transformer, sched = self.transformer.to(device), self.scheduler
        self.vae.to(device)
        latents = Latents(self.vae, data.images, train.hflip, cached=cache_latents)
        y_all = self.model_labels(data.labels, len(data))
        trainable = [p for p in transformer.parameters() if p.requires_grad]
        ema = EMAModel(trainable, decay=train.ema_decay, use_ema_warmup=True, power=0.75, foreach=True)
        weights = class_weights(data.labels.to(device), data.num_classes) if train.class_balance else None
        channels, batch = transformer.config.in_channels, train.batch_size
        transformer.train()

        def loss_at_step(model) -> torch.Tensor:
            # Every process draws the whole batch alike and keeps its share (as DiffusionModel.fit does).
            idx = torch.randint(len(data), (batch,), generator=generator, device=device)
            flip = torch.rand(batch, generator=generator, device=device) < 0.5 if train.hflip else None
            z = latents.draw(idx, flip, generator)
            noise = torch.randn(z.shape, generator=generator, device=device)
            t = torch.randint(0, sched.config.num_train_timesteps, (batch,), generator=generator, device=device)
            labels = y_all[idx]
            if self.conditional:  # dropped once per sample, to the model's own null class (see single_label_dropout)
                drop = torch.rand(batch, generator=generator, device=device) < self.cfg.label_dropout
                labels = torch.where(drop, torch.full_like(labels, self.null_class), labels)
            z, noise, t, labels = my_share(z), my_share(noise), my_share(t), my_share(labels)
            out = model(sched.add_noise(z, noise, t), timestep=t, class_labels=labels).sample.float()
            # DiT predicts 2C channels: the noise (epsilon), then the interpolation between beta_t and beta~_t that
            # sets each step's variance, which DiT trains with the variational bound. Every sampler here uses a
            # fixed variance (DDIM, DPM-Solver, DDPM's fixed_small), so only epsilon is trained and the variance
            # half keeps its pretrained values.
            eps = out[:, :channels]
            if weights is None:
                return F.mse_loss(eps, noise)
            return weighted_loss((eps - noise).pow(2).mean((1, 2, 3)), my_share(weights[idx]))

        state = {"transformer": transformer, "ema": ema}
        losses = optimise(transformer, loss_at_step, train, after_step=lambda: ema.step(trainable),
                          checkpoint=Checkpoint(checkpoint, train.checkpoint_every, generator, state),
                          resolution=self.resolution)
        ema.copy_to(trainable)
        transformer.eval()
        return losses

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """n uint8 images at the dataset's resolution, with classifier-free guidance (model.guidance_scale) against
        the model's own null class; the same generator draws the same images on any device."""
        cfg, device = self.cfg, compute_device()
        transformer = self.transformer.to(device).eval()
        self.vae.to(device)
        sched = sampling_scheduler(cfg, self.scheduler, pixels=False)
        channels = transformer.config.in_channels
        side = self.resolution // vae_factor(self.vae.config)
        x = (torch.randn((n, channels, side, side), generator=generator) * cfg.temperature).to(device)
        # an unconditional model is conditioned on its null class throughout, and so never guided
        scale = cfg.guidance_scale if self.conditional else 1.0

        def predict(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            out = transformer(x, timestep=t.to(device).expand(len(x)), class_labels=y).sample
            return out[:, :channels]  # the variance half is unused: every sampler here has a fixed variance

        eps_of = guided_eps(predict, self.model_labels(labels, n), self.null_class, scale, self.bf16)
        return self.decode(denoise(eps_of, sched, x, generator if cfg.sampler == "ddpm" else None))

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """uint8 images of scaled latents, decoded a few at a time; RGB turned grey for a grey dataset."""
        out = []
        for z in latents.split(VAE_BATCH):
            with bf16_autocast(self.bf16):
                x = self.vae.decode(z / self.vae.config.scaling_factor).sample.float()
            if self.channels == 1 and x.shape[1] == 3:
                x = x.mean(1, keepdim=True)
            out.append(to_uint8(x).cpu())
        return torch.cat(out)

    def save(self, directory: Path) -> None:
        """Write what trained (the transformer, or only its adapters) and dit.json, the pointer to the base it
        completes (its folder and SHA-256) with the class map and the base's class names."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.cfg.adapter == "lora":
            from peft.utils import get_peft_model_state_dict
            from safetensors.torch import save_file

            save_file({k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(self.transformer).items()},
                      directory / ADAPTER_FILE)
        else:
            self.transformer.save_pretrained(directory / "transformer")
        base = str(self.base) if self.start.pretrained else os.path.relpath(self.base.resolve(), directory.resolve())
        record = {"weights": self.cfg.adapter if self.cfg.adapter == "lora" else "transformer", "base": base,
                  "pretrained": self.start.pretrained, "sha256": self.start.sha256,
                  "model_classes": self.start.model_classes, "class_map": list(self.start.class_map),
                  "lora_rank": self.cfg.lora_rank, "resolution": self.resolution, "channels": self.channels,
                  "id2label": {str(k): v for k, v in id2label(self.base).items()}}
        (directory / MODEL_FILE).write_text(json.dumps(record, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path, cfg: ModelConfig, num_classes: int, conditional: bool,
             bf16: bool = False) -> "DiTModel":
        """Read a folder written by `save`: its base (checked against the SHA-256 it was trained from) plus what trained."""
        directory = Path(directory)
        record = json.loads((directory / MODEL_FILE).read_text())
        base = Path(record["base"]) if record["pretrained"] else (directory / record["base"]).resolve()
        if record["pretrained"] and folder_sha256(base) != record["sha256"]:
            raise UserError(f"{directory} was trained from a pretrained folder with SHA-256 {record['sha256'][:12]}..., "
                            f"but {base} now hashes differently; restore the original weights there")
        start = DiTStart(str(base), record["pretrained"], record["sha256"], record["model_classes"],
                         tuple(record["class_map"]))
        if record["weights"] == "lora":
            from peft.utils import set_peft_model_state_dict
            from safetensors.torch import load_file

            transformer = DiTTransformer2DModel.from_pretrained(base / "transformer")
            add_lora(transformer, record["lora_rank"])
            set_peft_model_state_dict(transformer, load_file(directory / ADAPTER_FILE))
        else:
            transformer = DiTTransformer2DModel.from_pretrained(directory / "transformer")
        return cls(cfg, start, base, transformer.eval(), record["resolution"], record["channels"], conditional, bf16)
