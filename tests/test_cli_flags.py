"""Flags are never abbreviated: a prefix is an unknown flag with one line naming the nearest, never another flag."""

import argparse

import pytest

from vision_collapse.cli import _parser, main


def test_seed_is_not_taken_as_seeds(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "configs/quick.yaml", "--seed", "3", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "unrecognized arguments: --seed" in lines[0] and "did you mean --seeds or the config key seed=VALUE" in lines[0]
    assert not out.exists()  # no multi-seed run started


def test_unknown_flag_names_the_nearest(capsys):
    assert main(["run", "--ot", "somewhere"]) == 2
    assert "did you mean --out?" in capsys.readouterr().err


def test_no_parser_accepts_a_prefix():
    parser = _parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert all(not sub.allow_abbrev for sub in subs.values()) and not parser.allow_abbrev
    _, extra = parser.parse_known_args(["run", "--perfect", "--dry"])
    assert extra == ["--perfect", "--dry"]  # not --perfect-twin and --dry-run


@pytest.mark.parametrize("flags", [["--jobs", "2"], ["--gpus", "0,1"], ["--launcher", "submitit"]])
def test_a_launch_flag_without_seeds_is_one_line_and_creates_nothing(flags, tmp_path, capsys):
    from helpers import fails_in_one_line

    out = tmp_path / "run"
    fails_in_one_line(capsys, ["run", "configs/quick.yaml", *flags, "--out", str(out)],
                      f"{flags[0]} starts one job per seed and needs --seeds")
    assert not out.exists() and not list(tmp_path.iterdir())
