"""Checkpoints inside a generation: resuming one gives exactly the weights of an uninterrupted fit."""

from pathlib import Path

import pytest
import torch

from vision_collapse.config import load_config
from vision_collapse.data import load_real_data
from vision_collapse.models import build_model


def _state(model):
    net = model.unet if hasattr(model, "unet") else model.net
    return {k: v.clone() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("kind", ["diffusion", "vae"])
def test_resuming_a_checkpoint_reproduces_the_uninterrupted_fit(kind, tmp_path):
    cfg = load_config(None, [f"model.kind={kind}", "model.channels=[8,16]", "train.steps=10", "train.batch_size=8",
                             "train.checkpoint_every=4"])
    data = load_real_data(cfg.data, 0).subset

    def fit(init_seed, data_seed, path):
        torch.manual_seed(init_seed)
        model = build_model(cfg, 8, 1, 10)
        model.fit(data, cfg.train, torch.Generator().manual_seed(data_seed), checkpoint=path)
        return _state(model)

    straight = fit(0, 1, None)
    with_ckpt = fit(0, 1, tmp_path / "ckpt.pt")
    assert all(torch.equal(straight[k], with_ckpt[k]) for k in straight)
    saved = torch.load(tmp_path / "ckpt.pt", weights_only=False)
    assert saved["step"] == 8  # the last checkpoint before the end
    # Other init and data seeds: only a checkpoint restoring weights, optimiser, EMA and RNG state from
    # step 8 can land on the same final weights.
    resumed = fit(5, 6, tmp_path / "ckpt.pt")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert not all(torch.equal(straight[k], v) for k, v in fit(5, 6, None).items())


def test_a_checkpoint_goes_straight_to_a_file_and_never_beside_the_old_one(tmp_path, monkeypatch):
    cfg = load_config(None, ["model.channels=[8,16]", "train.steps=10", "train.batch_size=8",
                             "train.checkpoint_every=4"])
    path, saves, save = tmp_path / "ckpt.pt", [], torch.save

    def spy(obj, f):
        # Where the state goes (a file on disk, not a buffer in memory that would double the host memory), and
        # whether the old checkpoint is still on disk beside the one being written.
        saves.append((Path(f.name).parent == tmp_path, path.exists()))
        save(obj, f)

    monkeypatch.setattr(torch, "save", spy)
    torch.manual_seed(0)
    build_model(cfg, 8, 1, 10).fit(load_real_data(cfg.data, 0).subset, cfg.train, torch.Generator().manual_seed(1),
                                   checkpoint=path)
    assert saves == [(True, False), (True, False)]  # at steps 4 and 8
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary left behind
