"""Gaussian mixtures in PCA space, one per class when conditional: the toy of Shumailov et al. and MAD."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from vision_collapse.config import ModelConfig, TrainConfig
from vision_collapse.data.images import LabelledImages, to_model_range, to_uint8

REG_COVAR = 1e-3  # added to every covariance diagonal, so a class of 1-2 images still has a proper Gaussian


class GMMModel:
    """PCA (full rank, or model.pca_dim dimensions), then a Gaussian mixture per class (or one for all images)."""

    def __init__(self, cfg: ModelConfig, resolution: int, channels: int, num_classes: int, conditional: bool,
                 bf16: bool = False):  # bf16: unused; mixtures are sampled in float64
        self.cfg, self.num_classes, self.conditional = cfg, num_classes, conditional
        self.shape = (channels, resolution, resolution)
        self.params: dict[str, np.ndarray] = {}

    def fit(self, data: LabelledImages, train: TrainConfig, generator: torch.Generator,
            checkpoint: Path | None = None) -> list[float]:
        """Fit the PCA and the mixtures by EM in seconds (train.* and checkpoints do not apply); no loss curve."""
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator, device=generator.device))
        x = to_model_range(data.images).flatten(1).double().numpy()
        pca = PCA(n_components=min(self.cfg.pca_dim or x.shape[1], *x.shape), random_state=seed).fit(x)
        z, labels = pca.transform(x), data.labels.numpy()
        pooled = self._mixture(z, seed)
        groups = range(self.num_classes) if self.conditional else [None]
        mixtures = [pooled if g is None else self._mixture(z[labels == g], seed, fallback=pooled) for g in groups]
        k = max(len(w) for w, _, _ in mixtures)
        d = z.shape[1]
        # Padded to k components per group; padded components get weight 0 and are never drawn.
        groups = len(mixtures)
        weights, means, covs = np.zeros((groups, k)), np.zeros((groups, k, d)), np.tile(np.eye(d), (groups, k, 1, 1))
        for g, (w, m, c) in enumerate(mixtures):
            weights[g, : len(w)], means[g, : len(w)], covs[g, : len(w)] = w, m, c
        self.params = {"pca_mean": pca.mean_, "pca_components": pca.components_, "weights": weights, "means": means,
                       "covariances": covs}
        return []

    def _mixture(self, z: np.ndarray, seed: int, fallback=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weights, means, covariances) of a mixture fitted to the rows of z."""
        if len(z) == 0:  # an extinct class: the model knows nothing of it, so it draws from all images
            return fallback
        if len(z) == 1:  # EM needs two points; one image is a Gaussian at that image
            return np.ones(1), z.copy(), REG_COVAR * np.eye(z.shape[1])[None]
        gm = GaussianMixture(min(self.cfg.components, len(z)), covariance_type="full", reg_covar=REG_COVAR,
                             random_state=seed).fit(z)
        return gm.weights_, gm.means_, gm.covariances_

    def sample(self, n: int, labels: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """Draw n images: a component by weight, then a Gaussian draw whose standard deviation is scaled by
        model.temperature (the same meaning as for the other models)."""
        p = self.params
        rng = np.random.default_rng(int(torch.randint(2**63 - 1, (1,), generator=generator)))
        groups = labels.numpy() if self.conditional else np.zeros(n, dtype=np.int64)
        chol = np.linalg.cholesky(p["covariances"])
        z = np.empty((n, p["means"].shape[-1]))
        for g in np.unique(groups):
            rows = np.flatnonzero(groups == g)
            comp = rng.choice(len(p["weights"][g]), size=len(rows), p=p["weights"][g] / p["weights"][g].sum())
            eps = rng.standard_normal((len(rows), z.shape[1]))
            z[rows] = p["means"][g][comp] + self.cfg.temperature * np.einsum("nij,nj->ni", chol[g][comp], eps)
        x = z @ p["pca_components"] + p["pca_mean"]
        return to_uint8(torch.from_numpy(x).float().view(n, *self.shape))

    def save(self, directory: Path) -> None:
        """Write gmm.npz (PCA and mixture parameters, readable with numpy alone) and gmm.json."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "gmm.npz", **self.params)
        info = {"shape": list(self.shape), "conditional": self.conditional, "num_classes": self.num_classes,
                "layout": "image = z @ pca_components + pca_mean, in [-1, 1]; "
                          "z ~ sum_k weights[g,k] N(means[g,k], covariances[g,k])"}
        (directory / "gmm.json").write_text(json.dumps(info, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path, cfg: ModelConfig, num_classes: int, conditional: bool,
             bf16: bool = False) -> "GMMModel":
        """Read a folder written by `save`."""
        info = json.loads((Path(directory) / "gmm.json").read_text())
        channels, resolution, _ = info["shape"]
        model = cls(cfg, resolution, channels, num_classes, conditional)
        with np.load(Path(directory) / "gmm.npz") as z:
            model.params = {k: z[k] for k in z.files}
        return model
