"""Run-folder bookkeeping."""

from vision_collapse.loop import run_dir as rd


def test_finished_generations_stop_at_the_first_gap(tmp_path):
    for g in (0, 1, 3):
        rd.atomic_write_text(rd.generation_dir(tmp_path, g) / rd.DONE, "")
    rd.generation_dir(tmp_path, 2).mkdir()  # started, never finished
    assert rd.finished_generations(tmp_path) == [0, 1]


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    rd.write_csv(tmp_path / "t.csv", [{"a": 1, "b": 0.5}, {"a": 2, "b": float("nan")}])
    assert (tmp_path / "t.csv").read_text() == "a,b\n1,0.5\n2,nan\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_stale_temporaries_are_removed_and_files_kept(tmp_path):
    gen = rd.generation_dir(tmp_path, 0)
    (gen / ".model.tmp999" / "unet").mkdir(parents=True)
    (gen / ".samples.npz.tmp999").write_bytes(b"half")
    (gen / "samples.npz").write_bytes(b"whole")
    rd.remove_stale_temporaries(tmp_path)
    assert [p.name for p in gen.iterdir()] == ["samples.npz"]


def test_only_our_temporaries_count_as_temporary():
    assert rd.is_temporary(".config.yaml.tmp123") and rd.is_temporary(".model.tmp9")
    assert not rd.is_temporary("notes.tmp") and not rd.is_temporary(".bashrc") and not rd.is_temporary(".x.tmp")
