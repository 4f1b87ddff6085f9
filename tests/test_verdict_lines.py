"""Verdict sentences built from made-up summary rows."""

from vision_collapse.viz.verdict import _all_samples_sentence


def _row(recognised: float, everything: float) -> dict:
    return {"tail_share_calibrated": str(recognised), "tail_share_all": str(everything)}


def test_tail_over_all_samples_is_stated_and_a_disagreement_named():
    same = _all_samples_sentence(_row(0.10, 0.08), _row(0.05, 0.03), 0, 4)
    assert len(same) == 1 and "from 0.080 at generation 0 to 0.030 at generation 4" in same[0]
    # the tail's share of recognised samples holds up while the tail turns into junk
    apart = _all_samples_sentence(_row(0.10, 0.08), _row(0.12, 0.02), 0, 4)
    assert len(apart) == 2 and "up among recognised samples, down over all samples" in apart[1]
    assert _all_samples_sentence(_row(0.1, float("nan")), _row(0.1, 0.1), 0, 1) == []


def test_quality_sentence_without_a_real_floor_still_ends():
    from vision_collapse.viz.verdict import _quality_sentence

    row = {"fid_at_labels": "0.5", "fid_at_labels_floor_p95": "0"}
    assert _quality_sentence(row, row, 1).endswith("the last generation has no real floor to be read against "
                                                   "(the floor is 0 or missing).")


def test_rising_memorisation_is_named_against_where_the_chain_started(tmp_path):
    from vision_collapse import run_folder as rf
    from vision_collapse.viz.verdict import _memorised_sentence

    def rows(*shares, real=0.01):
        return [{"generation": str(g), "memorised_photos": str(s), "memorised_real": str(real)}
                for g, s in enumerate(shares)]

    (line,) = _memorised_sentence(tmp_path, rows(0.02, 0.05, 0.31, 0.2))
    assert line.startswith("Memorisation rose: 31.0% of generation 2's evaluation samples")
    assert "against 2.0% at generation 0 and 1.0% for unseen real photos" in line
    assert _memorised_sentence(tmp_path, rows(0.05, 0.03, 0.01)) == []  # falling: nothing to name
    assert _memorised_sentence(tmp_path, rows(0.0, 0.005)) == []  # below unseen real photos' own rate
    # A fine-tuned chain starts at the pretrained model (generation -1): copying it already did is not a rise.
    rf.write_csv(tmp_path / rf.PRETRAINED, [{"generation": -1, "memorised_photos": 0.4, "memorised_real": 0.01}])
    assert _memorised_sentence(tmp_path, rows(0.02, 0.3)) == []
    rf.write_csv(tmp_path / rf.PRETRAINED, [{"generation": -1, "memorised_photos": 0.0, "memorised_real": 0.01}])
    assert "against 0.0% at generation -1" in _memorised_sentence(tmp_path, rows(0.02, 0.3))[0]
