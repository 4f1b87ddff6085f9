"""judge.kind=probe: a logistic regression on a backbone's features, equal to scikit-learn's own fit, and a whole
run on a folder of colour photographs-in-miniature (procedural textures) with a random timm backbone from a file."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from vision_collapse import run_folder as rf
from vision_collapse.cli import main
from vision_collapse.config import load_config
from vision_collapse.data.images import LabelledImages

from helpers import FAST_GMM

timm = pytest.importorskip("timm")

MODEL = "test_convnext"  # one of timm's tiny test networks


def _texture(kind: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One 32x32 RGB image of texture `kind` (stripes, the other stripes, checks, rings) in its own hue."""
    y, x = np.mgrid[:size, :size]
    period, phase = rng.integers(4, 8), rng.uniform(0, 2 * np.pi)
    wave = [np.sin(2 * np.pi * x / period + phase), np.sin(2 * np.pi * y / period + phase),
            np.sign(np.sin(2 * np.pi * x / period)) * np.sign(np.sin(2 * np.pi * y / period + phase)),
            np.sin(2 * np.pi * np.hypot(x - size / 2, y - size / 2) / period + phase)][kind]
    palette = np.array([[200, 60, 60], [60, 200, 60], [60, 60, 200], [200, 200, 60]])  # each class its own hue
    a, b = palette[kind] + rng.uniform(-40, 40, 3), rng.uniform(0, 80, 3)
    mix = (wave[..., None] + 1) / 2
    return (a * mix + b * (1 - mix) + rng.normal(0, 8, (size, size, 3))).clip(0, 255).astype(np.uint8)


def _folder(root, per_class: int = 60):
    """ROOT/<texture>/<i>.png: four classes of procedurally drawn colour textures."""
    rng = np.random.default_rng(0)
    for kind, name in enumerate(("stripes_v", "stripes_h", "checks", "rings")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(_texture(kind, rng)).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "random.pth"
    torch.save(timm.create_model(MODEL, pretrained=False, num_classes=0).state_dict(), path)
    return path


def test_the_probe_is_scikit_learns_logistic_regression_folded_into_one_layer(weights):
    from sklearn.linear_model import LogisticRegression

    from vision_collapse.metrics.backbone import backbone_module
    from vision_collapse.metrics.classifier import Classifier
    from vision_collapse.metrics.probe import backbone_features, fit_probe

    cfg = load_config(None, [f"eval.backbone=timm:{MODEL}", f"eval.backbone_weights={weights}"])
    rng = np.random.default_rng(1)
    kinds = np.repeat(np.arange(3), 20)
    images = torch.from_numpy(np.stack([_texture(k, rng) for k in kinds])).permute(0, 3, 1, 2).contiguous()
    data = LabelledImages(images, torch.from_numpy(kinds), tuple(map(str, range(60))), ("a", "b", "c", "d"))  # d unseen
    backbone = backbone_module(cfg.eval)
    net = fit_probe(data, backbone, 0.5)
    probs = Classifier(net, 0.0, []).predict(images).probs.numpy()

    f = backbone_features(backbone, images).numpy()
    z = (f - f.mean(0)) / (f.std(0) + 1e-6)
    reference = LogisticRegression(C=0.5, max_iter=2000).fit(z, kinds).predict_proba(z)
    np.testing.assert_allclose(probs[:, :3], reference, atol=2e-4)
    assert probs[:, 3].max() < 1e-6  # the unseen class is never predicted


@pytest.mark.slow
def test_a_photo_folder_runs_end_to_end_with_a_probe_judge(tmp_path, weights):
    root = _folder(tmp_path / "textures")
    out = tmp_path / "run"
    args = ["run", "configs/neutral.yaml", *FAST_GMM, "data.name=imagefolder", f"data.root={root}",
            "data.resolution=32", "data.channels=3", "data.head=checks", "data.n_max=24", "data.imbalance_factor=4",
            "model.pca_dim=16", "eval.copy_space=features", "eval.backbone_size=64",
            "judge.kind=probe", f"eval.backbone=timm:{MODEL}", f"eval.backbone_weights={weights}",
            "eval.floor_draws=10", "log.plots=true", "--out", str(out)]
    assert main(args) == 0
    judge = json.loads((out / "judge.json").read_text())
    assert judge["kind"] == "probe" and judge["backbone"] == f"timm:{MODEL}"
    assert judge["heldout_accuracy"] > 0.6  # four textures, chance 0.25: a random convnet's features separate them
    run = json.loads((out / "run.json").read_text())["sessions"][-1]
    assert run["backbone"] == f"timm:{MODEL}" and len(run["backbone_weights_sha256"]) == 64
    summary = rf.read_table(out / rf.SUMMARY)
    assert [int(r["generation"]) for r in summary] == [0, 1]
    floors = [float(r["fid_vs_original_floor_p95"]) for r in summary]
    assert all(np.isfinite(floors)) and floors[0] > 0
    assert all(r["head_chance_low"] != "" for r in summary)
    assert main(["report", str(out)]) == 0 and (out / "report.html").is_file()
    assert main(args) == 0  # resumes with nothing to do
