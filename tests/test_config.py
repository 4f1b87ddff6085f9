"""Config loading, overrides and typo errors."""

import pytest

from vision_collapse.config import ExperimentConfig, config_from_yaml_text, config_to_yaml, diff_configs, load_config
from vision_collapse.errors import UserError


def test_typo_suggests_nearest_key():
    with pytest.raises(UserError, match="did you mean 'loop.generations'"):
        load_config(None, ["loop.generatons=3"])


def test_typo_in_yaml_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  guidance_sacle: 2\n")
    with pytest.raises(UserError, match="model.guidance_scale"):
        load_config(path)


def test_overrides_and_types():
    cfg = load_config(None, ["loop.generations=8", "model.guidance_scale=3", "model.channels=[8,16]", "data.head=3"])
    assert cfg.loop.generations == 8 and cfg.model.guidance_scale == 3.0 and cfg.model.channels == (8, 16)
    assert cfg.data.head == "3"


def test_wrong_type_and_bad_values():
    with pytest.raises(UserError, match="loop.generations must be of type int"):
        load_config(None, ["loop.generations=many"])
    with pytest.raises(UserError, match="loop.generations must be >= 1"):
        load_config(None, ["loop.generations=0"])
    with pytest.raises(UserError, match="conditional"):
        load_config(None, ["loop.label_source=none", "model.guidance_scale=3"])


def test_exponent_floats_without_a_dot_are_numbers():
    assert load_config(None, ["train.lr=1e-4"]).train.lr == 1e-4  # PyYAML alone would read a string


def test_yaml_round_trip_and_diff():
    cfg = load_config(None, ["seed=4", "model.channels=[8,16]"])
    assert config_from_yaml_text(config_to_yaml(cfg)) == cfg
    assert diff_configs(ExperimentConfig(), cfg) == ["seed: 0 -> 4", "model.channels: [32, 64] -> [8, 16]"]


def test_every_shipped_config_loads():
    from pathlib import Path

    configs = sorted(Path("configs").glob("*.yaml"))
    assert len(configs) >= 4
    for path in configs:
        load_config(path)


def test_readme_config_table_matches_the_dataclasses():

    from vision_collapse.config import all_keys
    from vision_collapse.config.doc import END, START, config_table

    from helpers import block_in

    block = block_in((START, END))
    assert block == config_table(), "README config table is stale: python -m vision_collapse.config.doc"
    documented = [line.split("`")[1] for line in block.splitlines() if line.startswith("| `")]
    assert documented == all_keys()
    assert all(line.split("|")[3].strip() for line in block.splitlines() if line.startswith("| `"))
