"""The judge: trained once, cached, and reused by later runs."""

import torch

from vision_collapse.config import JudgeConfig
from vision_collapse.data.digits import load_digits_split
from vision_collapse.metrics import classifier as judge_mod


def test_judge_is_accurate_and_cached(monkeypatch):
    pool, test = load_digits_split(0.2)
    cfg = JudgeConfig(epochs=3)
    key = {"name": "digits", "test_fraction": 0.2, "resolution": 0, "test": "cache"}
    first = judge_mod.load_or_train_judge(pool, test, cfg, key)
    judged = first.predict(test.images).labels
    accuracy = (judged == test.labels).double().mean().item()
    assert accuracy > 0.85 and abs(first.accuracy - accuracy) < 1e-12

    def must_not_train(*args, **kwargs):
        raise AssertionError("a cached judge was retrained")

    monkeypatch.setattr(judge_mod, "train_classifier", must_not_train)
    second = judge_mod.load_or_train_judge(pool, test, cfg, key)
    assert second.accuracy == first.accuracy
    for a, b in zip(first.net.state_dict().values(), second.net.state_dict().values()):
        assert torch.equal(a, b)
