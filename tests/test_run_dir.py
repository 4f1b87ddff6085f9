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
