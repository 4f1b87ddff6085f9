"""The class-frequency plot shows every finished generation beside the real bar, the first one included."""

import numpy as np
import pytest

from vision_collapse.viz import plots


def _rows(generations: int) -> list[dict]:
    shares = [[0.6, 0.3, 0.1], [0.7, 0.25, 0.05]]
    return [{"generation": str(g), "class_index": str(c), "class_name": "abc"[c], "gen_freq": str(shares[g][c]),
             "train_count": str([60, 30, 10][c])} for g in range(generations) for c in range(3)]


@pytest.mark.parametrize("generations", [1, 2])
def test_generation_zero_is_drawn(generations, monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: figures.append(fig))
    plots.plot_class_frequency(_rows(generations), tmp_path / "f.png")
    ax = figures[0].axes[0]
    bars = [(p.get_x() + p.get_width() / 2, p.get_height()) for p in ax.patches if p.get_width() > 0]
    real = [h for x, h in bars if x < -0.5]
    np.testing.assert_allclose(real, [0.6, 0.3, 0.1])
    # what is drawn at generation 0: bars of its shares (one generation), or the stacked areas (several)
    drawn = [h for x, h in bars if abs(x) < 0.3] + [1.0 for c in ax.collections if len(c.get_paths())]
    assert drawn and (generations > 1 or np.allclose(drawn, [0.6, 0.3, 0.1]))
