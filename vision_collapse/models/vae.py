"""A small convolutional VAE, class-conditional or not: Shumailov et al.'s baseline on MNIST-like digits."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from vision_collapse.config import ModelConfig, TrainConfig
from vision_collapse.data.images import LabelledImages
from vision_collapse.errors import UserError
from vision_collapse.models.training import Checkpoint, class_weights, my_share, optimise, resident, weighted_loss
from vision_collapse.runtime import compute_device


class ConvVAE(nn.Module):
    """Strided-conv encoder to a Gaussian latent, transposed-conv decoder to Bernoulli pixel means."""

    def __init__(self, resolution: int, channels: int, widths: tuple[int, ...], latent_dim: int, num_classes: int):
        super().__init__()
        levels = len(widths)
        if resolution % 2**levels:
            raise UserError(f"model.kind=vae halves the image {levels} time(s), so data.resolution must be a "
                            f"multiple of {2**levels}; got {resolution} (change data.resolution or model.channels)")
        self.num_classes, self.side, self.widths = num_classes, resolution // 2**levels, widths
        label_maps = num_classes  # one-hot label planes for the encoder; 0 when unconditional
        layers, width_in = [], channels + label_maps
        for w in widths:
            layers += [nn.Conv2d(width_in, w, 4, stride=2, padding=1), nn.SiLU()]
            width_in = w
        self.encoder = nn.Sequential(*layers, nn.Flatten())
        flat = widths[-1] * self.side**2
        self.to_latent = nn.Linear(flat, 2 * latent_dim)
        self.from_latent = nn.Linear(latent_dim + num_classes, flat)
        layers = []
        for w_in, w_out in zip(widths[::-1], widths[::-1][1:] + (widths[0],)):
            layers += [nn.SiLU(), nn.ConvTranspose2d(w_in, w_out, 4, stride=2, padding=1)]
        self.decoder = nn.Sequential(*layers, nn.SiLU(), nn.Conv2d(widths[0], channels, 3, padding=1))

    def _onehot(self, labels: torch.Tensor | None, n: int) -> torch.Tensor:
        """One-hot labels (N, C); an empty (N, 0) tensor for an unconditional model."""
        if self.num_classes == 0:
            return torch.zeros(n, 0, device=self.to_latent.weight.device)
        return F.one_hot(labels, self.num_classes).float()

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Pixel logits for latent codes."""
        h = self.from_latent(torch.cat([z, self._onehot(labels, len(z))], 1))
        return self.decoder(h.view(len(z), self.widths[-1], self.side, self.side))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None, noise: torch.Tensor):
        """(pixel logits, mean, log-variance) with the reparameterisation z = mean + std * noise."""
        onehot = self._onehot(labels, len(x))
        planes = onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])
        mean, logvar = self.to_latent(self.encoder(torch.cat([x, planes], 1))).chunk(2, dim=1)
        return self.decode(mean + (0.5 * logvar).exp() * noise, labels), mean, logvar


class VAEModel:
    """One generation's VAE: fit on labelled images, then sample by decoding prior draws."""

    def __init__(self, cfg: ModelConfig, resolution: int, channels: int, num_classes: int, conditional: bool,
                 bf16: bool = False):  # bf16: unused; the decoder samples in fp32, a single cheap pass
        self.cfg, self.num_classes, self.conditional = cfg, num_classes, conditional
        self.shape = (channels, resolution)
        self.net = ConvVAE(resolution, channels, cfg.channels, cfg.latent_dim, num_classes if conditional else 0)

    @property
    def network(self) -> torch.nn.Module:
        """The trained weights (encoder and decoder)."""
        return self.net

    def fit(self, data: LabelledImages, train: TrainConfig, generator: torch.Generator,
            checkpoint: Path | None = None) -> list[float]:
        """Maximise the ELBO (Bernoulli likelihood on [0, 1] pixels) for `train.steps` steps (resuming a
        checkpoint); returns the loss of every step."""
        device = compute_device()
        net = self.net.to(device).train()
        images, y_all = resident(data.images), data.labels.to(device)
        batch = train.batch_size
        weights = class_weights(y_all, self.num_classes) if train.class_balance else None

        def loss_at_step(model) -> torch.Tensor:
            idx = torch.randint(len(data), (batch,), generator=generator, device=device)
            noise = my_share(torch.randn(batch, self.cfg.latent_dim, generator=generator, device=device))
            x = my_share(images[idx.to(images.device)].to(device, non_blocking=True).float() / 255.0)
            labels = my_share(y_all[idx]) if self.conditional else None
            logits, mean, logvar = model(x, labels, noise)
            if weights is not None:
                recon = F.binary_cross_entropy_with_logits(logits.float(), x, reduction="none").flatten(1).sum(1)
                kl = -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp(), 1)
                return weighted_loss(recon + kl, my_share(weights[idx]))
            recon = F.binary_cross_entropy_with_logits(logits.float(), x, reduction="sum")
            kl = -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp())
            return (recon + kl) / len(x)

        losses = optimise(net, loss_at_step, train, resolution=data.images.shape[-1],
                          checkpoint=Checkpoint(checkpoint, train.checkpoint_every, generator, {"vae": net}))
        net.eval()
        return losses

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Decode n latents drawn from N(0, temperature^2 I) to uint8 images (the decoder's pixel means)."""
        device = compute_device()
        z = (torch.randn(n, self.cfg.latent_dim, generator=generator) * self.cfg.temperature).to(device)
        net = self.net.to(device).eval()
        probs = torch.sigmoid(net.decode(z, labels.to(device) if self.conditional else None))
        return probs.mul(255).round().to(torch.uint8).cpu()

    def save(self, directory: Path) -> None:
        """Write vae.safetensors and vae.json (the shape needed to rebuild the network)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file(self.net.state_dict(), directory / "vae.safetensors")
        info = {"channels": self.shape[0], "resolution": self.shape[1], "widths": list(self.cfg.channels),
                "latent_dim": self.cfg.latent_dim, "num_classes": self.num_classes, "conditional": self.conditional}
        (directory / "vae.json").write_text(json.dumps(info, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path, cfg: ModelConfig, num_classes: int, conditional: bool,
             bf16: bool = False) -> "VAEModel":
        """Read a folder written by `save`."""
        info = json.loads((Path(directory) / "vae.json").read_text())
        model = cls(cfg, info["resolution"], info["channels"], num_classes, conditional)
        model.net.load_state_dict(load_file(Path(directory) / "vae.safetensors"))
        model.net.eval()
        return model
