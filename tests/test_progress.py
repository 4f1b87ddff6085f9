"""Progress bars: drawn on a terminal, silent when the output is captured or piped."""

import io
import sys

import pytest
import torch

from vision_collapse.config import load_config
from vision_collapse.models.training import optimise


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _train(monkeypatch, stream) -> str:
    monkeypatch.setattr(sys, "stderr", stream)
    model = torch.nn.Linear(2, 1)
    train = load_config(None, ["train.steps=5", "train.warmup_steps=1", "train.compile=false"]).train
    optimise(model, lambda m: m(torch.ones(4, 2)).square().mean(), train)
    return stream.getvalue()


@pytest.mark.parametrize("stream, shown", [(_Terminal(), True), (io.StringIO(), False)])
def test_training_bar_only_on_a_terminal(monkeypatch, stream, shown):
    text = _train(monkeypatch, stream)
    assert ("train:" in text and "/5 [" in text) is shown, text  # the bar, with its count and ETA


def test_the_loop_names_the_generation_on_the_training_bar(monkeypatch):
    from vision_collapse.models.training import training_bar_label

    with training_bar_label("gen 3 train"):
        text = _train(monkeypatch, _Terminal())
    assert "gen 3 train:" in text, text
    assert "gen 3" not in _train(monkeypatch, _Terminal())  # the label ends with its block
