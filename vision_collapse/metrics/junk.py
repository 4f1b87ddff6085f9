"""Graded junk for testing the recogniser: images no class should claim, from pure noise to near-real blends."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture

from vision_collapse.data.images import LabelledImages, to_model_range, to_uint8
from vision_collapse.metrics.recognise import Recogniser


def junk_suite(real: LabelledImages, n: int, seed: int) -> dict[str, torch.Tensor]:
    """n uint8 images of each kind of junk, made from `real`: uniform noise; noise-real blends at alpha = 0.25,
    0.5 and 0.75 (alpha is the noise's weight); pixel shuffles of real images; blends of two images of different
    classes at alpha = 0.25, 0.5 and 0.75 (alpha is the first image's weight); and samples of a pooled Gaussian
    mixture (PCA-free, diagonal) at temperature 2."""
    rng = np.random.default_rng(seed)
    shape = real.images.shape[1:]
    x = to_model_range(real.images).numpy()

    def pick(k: int) -> np.ndarray:
        return x[rng.integers(0, len(x), k)]

    noise = rng.uniform(-1, 1, (n, *shape))
    suite = {"uniform_noise": noise}
    for alpha in (0.25, 0.5, 0.75):
        suite[f"noise_blend_{alpha}"] = alpha * rng.uniform(-1, 1, (n, *shape)) + (1 - alpha) * pick(n)
    flat = pick(n).reshape(n, -1)
    suite["pixel_shuffle"] = np.stack([row[rng.permutation(len(row))] for row in flat]).reshape(n, *shape)
    labels = real.labels.numpy()
    a = rng.integers(0, len(x), n)
    others = [np.flatnonzero(labels != labels[i]) for i in a]
    b = np.array([rng.choice(o) if len(o) else i for o, i in zip(others, a)])
    for alpha in (0.25, 0.5, 0.75):
        suite[f"two_class_blend_{alpha}"] = alpha * x[a] + (1 - alpha) * x[b]
    with warnings.catch_warnings():  # a junk generator: whether EM converged does not matter
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm = GaussianMixture(min(10, len(x)), covariance_type="diag", random_state=seed).fit(x.reshape(len(x), -1))
    comp = rng.choice(gmm.n_components, size=n, p=gmm.weights_)
    draws = gmm.means_[comp] + 2.0 * np.sqrt(gmm.covariances_[comp]) * rng.standard_normal((n, gmm.means_.shape[1]))
    suite["gmm_temperature_2"] = draws.reshape(n, *shape)
    return {k: to_uint8(torch.from_numpy(np.asarray(v, dtype=np.float32))) for k, v in suite.items()}


def recogniser_report(recogniser: Recogniser, judge, held_out: LabelledImages, n: int = 500, seed: int = 0) -> dict:
    """judge.json's recogniser section: thresholds, the share of real images neither the judge nor the thresholds
    ever saw (`held_out`: the test split) that it rejects, and per kind of junk made from those same images the
    share rejected, the AUROC of its strangeness against the held-out real images, and the classes the accepted
    junk is judged as."""
    def view(images):
        p = judge.predict(images)
        return p, recogniser.strangeness(p.probs, p.features, images)

    _, real = view(held_out.images)
    out = {"thresholds": {"min_confidence": recogniser.min_confidence,
                          "max_feature_distance": recogniser.max_feature_distance,
                          "max_pixel_distance": recogniser.max_pixel_distance},
           "held_out_rejected": float((real > 1).mean()),
           "held_out": "the test split (never used to fit); the junk is made from it too", "junk": {}}
    for kind, images in junk_suite(held_out, n, seed).items():
        judged, strange = view(images)
        accepted = judged.labels.numpy()[strange <= 1]
        counts = np.bincount(accepted, minlength=len(held_out.class_names))
        out["junk"][kind] = {
            "rejected": float((strange > 1).mean()),
            "auroc": float(roc_auc_score(np.r_[np.zeros(len(real)), np.ones(len(strange))], np.r_[real, strange])),
            "accepted_judged_as": {held_out.class_names[c]: int(k) for c, k in enumerate(counts) if k}}
    return out
