"""Every user mistake: one line on stderr, exit status 2, and the existing run's files untouched."""

import errno

import pytest

from vision_collapse.cli import main

import archives
from helpers import FAST_GMM as FAST
from helpers import fails_in_one_line as _fails
from helpers import snapshot as _snapshot

pytestmark = pytest.mark.slow  # these tests run the CLI end to end on tiny runs


@pytest.fixture(scope="module")
def finished(make_run):
    return make_run()


def _bad_data_folders(tmp_path):
    corrupt = archives.image_folder(tmp_path / "corrupt", {"a": 6, "b": 6})
    (corrupt / "b" / "3.png").write_bytes(b"\x89PNG broken")
    empty = archives.image_folder(tmp_path / "empty", {"a": 6})
    (empty / "b").mkdir()
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "image.png").write_bytes(b"")
    return corrupt, empty, flat


def test_each_mistake_is_one_line_and_touches_nothing(finished, tmp_path, capsys):
    before = _snapshot(finished)
    corrupt, empty, flat = _bad_data_folders(tmp_path)
    out = ["--out", str(finished)]
    cases = [
        (["data.name=digitz"], "unknown data.name 'digitz'; did you mean 'digits'?"),
        (["data.name=stanford-dogs", "data.root=/nonexistent/dogs"], "does not exist; expected ROOT/Images/"),
        (["data.name=imagefolder", f"data.root={flat}"], "has no class folders: expected ROOT/<class name>/<image>"),
        (["data.name=imagefolder", f"data.root={corrupt}", "data.resolution=8"], "b/3.png"),
        (["data.name=imagefolder", f"data.root={empty}", "data.resolution=8"], "holds no images"),
        (["data.imbalance_factor=500"], "leaves class '7' with 1 image(s)"),
        (["loop.generatoins=3"], "unknown config key 'loop.generatoins'; did you mean 'loop.generations'?"),
        (["loop.generations=three"], "loop.generations must be of type int"),
        (["loop.generations=0"], "loop.generations must be >= 1"),
        (["loop.strategy=mix", "loop.real_fraction=1.5"], "loop.real_fraction must lie in [0, 1]"),
        (["model.kind=diffusion", "model.guidance_scale=3", "loop.label_source=none"],
         "model.guidance_scale needs a conditional model"),
        (["seed=1"], "holds a run with a different config (seed: 0 -> 1)"),
        (["model.kind=perfect"], "unknown model.kind 'perfect'"),
        (["model.kind=real"], "model.kind=real draws held-out real images that nothing trained on; set "
                              "data.perfect_fraction"),
        (["model.kind=real", "data.perfect_fraction=0.001"], "holds out no image of class '0'"),
        (["eval.extinct_share=0"], "eval.extinct_share must lie in (0, 1)"),
        (["eval.extinct_share=1.5"], "eval.extinct_share must lie in (0, 1)"),
        (["--perfect-twin"], "--perfect-twin needs held-out images: add data.perfect_fraction=0.2"),
        (["data.perfect_fraction=0.2", "--perfect-twin", "--seeds", "0-1"], "--perfect-twin runs one seed"),
    ]
    for extra, message in cases:
        _fails(capsys, ["run", "configs/neutral.yaml", *FAST, *extra, *out], message)
        assert _snapshot(finished) == before, extra
    _fails(capsys, ["run", "configs/neutral.yaml", *FAST, "data.name=imagefolder", f"data.root={corrupt}",
                    "data.resolution=8", *out], "data.skip_corrupt=true")


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    _fails(capsys, ["run", "configs/neutral.yaml", *FAST, "--out", str(blocker / "run")], "cannot write the run folder")
    assert blocker.read_text() == "not a folder"


def test_nan_loss_names_generation_and_step_and_is_not_done(tmp_path, capsys):
    run = tmp_path / "nan"
    _fails(capsys, ["run", "configs/neutral.yaml", *FAST, "model.kind=vae", "train.lr=1e30", "train.steps=20",
                    "--out", str(run)], "generation 0: loss became nan at step")
    assert not (run / "gen_000" / "DONE").exists() and not (run / "DONE").exists()


def test_disk_full_keeps_the_last_generation_and_resumes(tmp_path, capsys, monkeypatch):
    from vision_collapse import run_folder as rf

    reference = tmp_path / "reference"
    assert main(["run", "configs/neutral.yaml", *FAST, "--out", str(reference)]) == 0
    capsys.readouterr()
    real_write = rf.atomic_write_bytes

    def full_disk(path, data):
        if "gen_001" in str(path) and path.name.startswith("shard_"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, data)

    run = tmp_path / "run"
    monkeypatch.setattr(rf, "atomic_write_bytes", full_disk)
    _fails(capsys, ["run", "configs/neutral.yaml", *FAST, "--out", str(run)], "No space left on device")
    assert (run / "gen_000" / "DONE").is_file() and not (run / "gen_001" / "DONE").exists()
    kept = _snapshot(run / "gen_000")
    monkeypatch.setattr(rf, "atomic_write_bytes", real_write)
    assert main(["run", "configs/neutral.yaml", *FAST, "--out", str(run)]) == 0
    assert _snapshot(run / "gen_000") == kept
    assert (run / "metrics.csv").read_bytes() == (reference / "metrics.csv").read_bytes()


def test_command_line_mistakes_are_one_line_and_overrides_may_follow_the_options(tmp_path, capsys):
    out = tmp_path / "run"
    _fails(capsys, ["run", "configs/quick.yaml", "--bogus"], "unrecognized arguments: --bogus")
    _fails(capsys, ["remedy", "configs/quick.yaml", "--launcher", "slurm"], "invalid choice: 'slurm'")
    _fails(capsys, ["run", "configs/quick.yaml", "--out", str(out), "loop.generatons=3"],
           "unknown config key 'loop.generatons'")  # an override after --out is read as one
    assert not out.exists()
    assert main(["run", "configs/quick.yaml", "--dry-run", "--out", str(out), "loop.generations=3"]) == 0
    assert "generations: 3" in capsys.readouterr().out
