"""Run-folder bookkeeping."""

from pathlib import Path

import pytest

from vision_collapse import run_folder as rf
from vision_collapse.files import is_temporary


def test_finished_generations_stop_at_the_first_gap(tmp_path):
    for g in (0, 1, 3):
        rf.atomic_write_text(rf.generation_dir(tmp_path, g) / rf.DONE, "")
    rf.generation_dir(tmp_path, 2).mkdir()  # started, never finished
    assert rf.finished_generations(tmp_path) == [0, 1]


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    rf.write_csv(tmp_path / "t.csv", [{"a": 1, "b": 0.5}, {"a": 2, "b": float("nan")}])
    assert (tmp_path / "t.csv").read_text() == "a,b\n1,0.5\n2,nan\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_stale_temporaries_are_removed_and_files_kept(tmp_path):
    gen = rf.generation_dir(tmp_path, 0)
    (gen / ".model.tmp999" / "unet").mkdir(parents=True)
    (gen / ".manifest.csv.tmp999").write_bytes(b"half")
    (gen / "manifest.csv").write_bytes(b"whole")
    rf.remove_stale_temporaries(tmp_path)
    assert [p.name for p in gen.iterdir()] == ["manifest.csv"]


def test_only_our_temporaries_count_as_temporary():
    assert rf.is_temporary(".config.yaml.tmp123") and rf.is_temporary(".model.tmp9")
    assert not rf.is_temporary("notes.tmp") and not rf.is_temporary(".bashrc") and not rf.is_temporary(".x.tmp")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gmm", "vae"])
def test_every_run_file_is_written_through_a_temporary(kind, tmp_path, monkeypatch):
    import builtins

    from vision_collapse.cli import main

    run = tmp_path / "run"
    written = []
    real_open = builtins.open

    def spy(file, mode="r", *args, **kwargs):
        if any(m in mode for m in "wax") and str(file).startswith(str(run)):
            written.append(Path(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    argv = ["run", "configs/neutral.yaml", f"model.kind={kind}", "model.guidance_scale=1", "model.channels=[8,16]",
            "train.steps=5", "judge.epochs=1", "loop.generations=2", "eval.samples_per_class=10", "--out", str(run)]
    assert main(argv) == 0
    assert written
    # Each write goes to a '.NAME.tmpPID' file, or into a '.NAME.tmpPID' folder renamed into place whole.
    direct = [p for p in written if not any(is_temporary(part) for part in [p, *p.parents])]
    assert not direct, direct
