"""The verdict: did the minority classes collapse toward the head, beyond chance, and what drove it.

Generated from a run's own tables (summary.csv, or aggregate.csv and each seed's summary.csv for a multi-seed
folder) and its config; written to RUN/verdict.md, printed at the end of `vision-collapse run`, and the first
section of the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.config.causes import active_causes
from vision_collapse.metrics.aggregate import head_up_tail_down
from vision_collapse.metrics.frequencies import head_and_tail
from vision_collapse.null.bands import ALPHA

CHANCE_COLUMNS = {"head": "head_chance_observed", "tail": "tail_chance_observed"}


@dataclass(frozen=True)
class Cell:
    """One number of the verdict table, with the summary.csv column and generation it comes from."""

    value: float
    column: str = ""
    generation: int = -1
    low: float = float("nan")  # a multi-seed folder's 95% interval across seeds
    high: float = float("nan")
    digits: int = 3

    def text(self) -> str:
        """The value, and its interval when there is one."""
        if not np.isfinite(self.value):
            return "n/a"
        shown = f"{self.value:.{self.digits}f}"
        if np.isfinite(self.low) and np.isfinite(self.high):
            shown += f" [{self.low:.{self.digits}f}, {self.high:.{self.digits}f}]"
        return shown


@dataclass(frozen=True)
class Line:
    """One row of the verdict table: a quantity at generation 0 and at the last, and what to read into it."""

    key: str  # head, head_tracked, tail, tail_tracked, extinct_labels, extinct_judged, fid, unrecognised
    label: str
    first: Cell
    last: Cell
    band: str = ""  # the chance band at the last generation
    reading: str = ""


@dataclass
class Verdict:
    """A run's answer: sentences first, then the table they summarise."""

    title: str
    first_generation: int
    last_generation: int
    seeds: int
    sentences: list[str] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)

    def line(self, key: str) -> Line:
        """The table row called `key`."""
        return next(ln for ln in self.lines if ln.key == key)


def _f(row: dict, key: str) -> float:
    """A table cell as a float (NaN when missing)."""
    try:
        return float(row.get(key, "nan"))
    except ValueError:
        return float("nan")


def _classes(run: Path, cfg: ExperimentConfig) -> tuple[list[str], str, list[str]]:
    """(class names, head class, tail classes) from generation 0's training counts: the real subset's."""
    rows = [r for r in rf.read_table(run / rf.METRICS) if r["generation"] == "0" and int(r["class_index"]) >= 0]
    rows.sort(key=lambda r: int(r["class_index"]))
    names = [r["class_name"] for r in rows]
    head, tail = head_and_tail(np.array([_f(r, "train_count") for r in rows]), cfg.eval.tail_fraction)
    return names, names[head], [names[i] for i in tail]


def _extinct_by_labels(run: Path, generation: int) -> list[str]:
    """Classes that no sample carries on after `generation`."""
    return [r["class_name"] for r in rf.read_table(run / rf.METRICS)
            if r["generation"] == str(generation) and int(r["class_index"]) >= 0 and _f(r, "sample_count") == 0]


def _causes_sentence(cfg: ExperimentConfig) -> str:
    """Which causes the config switches on, with their off switches."""
    on = active_causes(cfg)
    if not on:
        return ("No cause of collapse is switched on, so whatever drift there is, is chance: "
                "this is a null experiment.")
    return "Active causes: " + "; ".join(f"{c.name} (off: {' '.join(c.off)})" for c in on) + "."


def _quality_sentence(first: dict, last: dict, last_generation: int) -> str:
    """FID at the generation's own labels against the real floor at the same labels."""
    fid0, fid1, floor = _f(first, "fid_at_labels"), _f(last, "fid_at_labels"), _f(last, "fid_at_labels_floor_p95")
    if not np.isfinite(fid1):
        return "Quality could not be measured (too few recognised samples)."
    told = ("cannot be told from real images" if np.isfinite(floor) and fid1 <= floor
            else f"is {fid1 / floor:.1f} times the real floor" if np.isfinite(floor) and floor > 0
            else "has no real floor to be read against (the floor is 0 or missing)")
    return (f"Quality at the samples' own class mix: FID {fid0:.1f} at generation 0 and {fid1:.1f} at generation "
            f"{last_generation}, against {floor:.1f} (95th percentile) for real images with the same class counts; "
            f"the last generation {told}.")


def _web_sentence(cfg: ExperimentConfig, value, generation: int) -> list[str]:
    """loop.strategy=scrape: what the web held at `generation` and what the filter made of it; `value(column)`
    reads a summary column there."""
    if cfg.loop.strategy != "scrape" or not np.isfinite(value("web_synthetic_share")):
        return []
    found = (f"found {value('filter_recall'):.0%} of the generated images and discarded "
             f"{value('real_discarded'):.0%} of the real ones" if cfg.loop.filter != "none" else "let everything through")
    return [f"At generation {generation}, {value('web_synthetic_share'):.0%} of the scraped web was generated; the "
            f"{cfg.loop.filter} filter {found}, and {value('leaked_synthetic_share'):.0%} of what was scraped into "
            "training was generated."]


def _chance_reading(row: dict, side: str, test: str = "level") -> str:
    """'beyond chance (p = …)' or 'within chance (p = …)' for one side at one generation, against one null chain."""
    prefix, flag = ("chance", "beyond_chance") if test == "level" else ("compounding", "beyond_compounding")
    p = _f(row, f"{side}_{prefix}_p")
    if not np.isfinite(p):
        return "not tested"
    if _f(row, f"{side}_{flag}") == 1:
        return "beyond chance (p < 0.001)" if p < 0.001 else f"beyond chance (p = {p:.3f})"
    return f"within chance (p = {p:.2f})"


def _calibrated_reading(row: dict, side: str) -> str:
    """The calibrated share against the level chain measured as the run measures: 'within chance (p, band)'."""
    p = _f(row, f"{side}_calibrated_p")
    if not np.isfinite(p):
        return "not tested"
    words = "beyond chance" if _f(row, f"{side}_calibrated_beyond") == 1 else "within chance"
    return (f"{words} from the real subset, p = {p:.3f}, band {_f(row, f'{side}_calibrated_low'):.3f}–"
            f"{_f(row, f'{side}_calibrated_high'):.3f}")


def _drift_words(level: bool, compounding: bool) -> str:
    """What the level and compounding flags of one side say together."""
    if compounding:
        return "the drift compounds beyond chance"
    if level:
        return "generation 0 was shifted; from there the drift is within chance"
    return "within chance on both tests"


def _side_sentence(last: dict, side: str, tracked: str, generation: int) -> str:
    """One banded sentence per side: its share of the tracked labels against the level and compounding chains."""
    level, compounding = (_f(last, f"{side}_{k}") == 1 for k in ("beyond_chance", "beyond_compounding"))
    return (f"The {side} share of the {tracked} at generation {generation} is {_f(last, CHANCE_COLUMNS[side]):.3f}: "
            f"{_chance_reading(last, side)} from the real subset (band {_f(last, f'{side}_chance_low'):.3f}–"
            f"{_f(last, f'{side}_chance_high'):.3f}), and since generation 0 "
            f"{_chance_reading(last, side, 'compounding')} (band {_f(last, f'{side}_compounding_low'):.3f}–"
            f"{_f(last, f'{side}_compounding_high'):.3f}): {_drift_words(level, compounding)}.")


def _config_name(run: Path) -> str:
    """The config's name that the latest session recorded in run.json, else the run folder's name."""
    sessions = rf.read_json(run / rf.RUN_INFO).get("sessions", []) if (run / rf.RUN_INFO).is_file() else []
    return next((s["config"] for s in reversed(sessions) if s.get("config")), run.name)


def single_verdict(run: Path) -> Verdict | None:
    """The verdict of one run from its summary.csv; None before generation 0 has finished."""
    rows = rf.read_table(run / rf.SUMMARY)
    if not rows:
        return None
    cfg = rf.read_config(run)
    first, last = rows[0], rows[-1]
    g0, gl = int(first["generation"]), int(last["generation"])
    _, head, tail = _classes(run, cfg)
    tracked = "carried labels" if cfg.conditional else "recognised judgements"
    v = Verdict(f"Verdict: {_config_name(run)}, seed {cfg.seed}", g0, gl, 1)

    def cell(row: dict, column: str, digits: int = 3) -> Cell:
        return Cell(_f(row, column), column, int(row["generation"]), digits=digits)

    for side, who in (("head", f"head share ('{head}')"), ("tail", f"tail share ({', '.join(tail)})")):
        v.lines.append(Line(side, f"{who}, judged and calibrated", cell(first, f"{side}_share_calibrated"),
                            cell(last, f"{side}_share_calibrated"),
                            f"level {_f(last, f'{side}_calibrated_low'):.3f}–{_f(last, f'{side}_calibrated_high'):.3f}",
                            _calibrated_reading(last, side).split(" from")[0]))
        band = (f"level {_f(last, f'{side}_chance_low'):.3f}–{_f(last, f'{side}_chance_high'):.3f}, compounding "
                f"{_f(last, f'{side}_compounding_low'):.3f}–{_f(last, f'{side}_compounding_high'):.3f}")
        v.lines.append(Line(f"{side}_tracked", f"{side} share of the {tracked} (what the chance check tracks)",
                            cell(first, CHANCE_COLUMNS[side]), cell(last, CHANCE_COLUMNS[side]), band,
                            f"level {_chance_reading(last, side)}; compounding "
                            f"{_chance_reading(last, side, 'compounding')}"))
    gone = _extinct_by_labels(run, gl)
    v.lines += [
        Line("extinct_labels", "extinct classes, by labels", cell(first, "extinct_labels", 0),
             cell(last, "extinct_labels", 0), reading=", ".join(gone)),
        Line("extinct_judged", "extinct classes, by the judge", cell(first, "extinct_judged", 0),
             cell(last, "extinct_judged", 0)),
        Line("fid", "FID at the samples' own class mix", cell(first, "fid_at_labels", 1),
             cell(last, "fid_at_labels", 1), reading=f"real floor (p95) {_f(last, 'fid_at_labels_floor_p95'):.1f}"),
        Line("unrecognised", "unrecognisable share", cell(first, "unrecognisable_share"),
             cell(last, "unrecognisable_share")),
    ]
    h0, h1 = _f(first, "head_share_calibrated"), _f(last, "head_share_calibrated")
    t0, t1 = _f(first, "tail_share_calibrated"), _f(last, "tail_share_calibrated")
    v.sentences.append(
        f"From generation {g0} to {gl}, the head class '{head}' went from {h0:.3f} to {h1:.3f} of recognised samples "
        f"(judged, calibrated for the judge's confusion; {_calibrated_reading(last, 'head')}) and the tail "
        f"({', '.join(tail)}) from {t0:.3f} to {t1:.3f} ({_calibrated_reading(last, 'tail')}): "
        f"{_direction(h1 - h0, t1 - t0)}.")
    v.sentences += [_side_sentence(last, side, tracked, gl) for side in ("head", "tail")]
    combined = _f(last, "chance_combined_p")
    if np.isfinite(combined):
        v.sentences.append(f"All four tests together (Bonferroni, size 5%): p = {combined:.3f}, "
                           + ("beyond chance." if combined <= ALPHA else "within chance."))
    if _f(last, "shares_unreliable") == 1:
        v.sentences.append(f"The judged and calibrated shares of generation {gl} are unreliable: the judge's confusion on "
                           f"its own samples moves them by {_f(last, 'calibration_shift'):.3f} (calibration_shift); read "
                           "the carried labels instead.")
    v.sentences += _pretrained_sentence(run, first)
    v.sentences += _memorised_sentence(run, rows)
    v.sentences.append(_extinct_sentence(_f(last, "extinct_labels"), _f(last, "extinct_judged"), gl, gone))
    v.sentences.append(_quality_sentence(first, last, gl))
    v.sentences.append(f"{_f(last, 'unrecognisable_share'):.1%} of generation {gl}'s samples are unrecognisable; "
                       "every share above is over the recognised rest.")
    v.sentences += _all_samples_sentence(first, last, g0, gl)
    v.sentences += _web_sentence(cfg, lambda k: _f(last, k), gl)
    v.sentences.append(_causes_sentence(cfg))
    return v


def _all_samples_sentence(first: dict, last: dict, g0: int, gl: int) -> list[str]:
    """The tail over every sample drawn (tail_share_all), and one line when it moved the other way from the tail's
    share of the recognised samples."""
    a0, a1 = _f(first, "tail_share_all"), _f(last, "tail_share_all")
    if not (np.isfinite(a0) and np.isfinite(a1)):
        return []
    out = [f"Over every sample drawn, unrecognisable ones counted (tail_share_all), the tail went from {a0:.3f} "
           f"at generation {g0} to {a1:.3f} at generation {gl}."]
    r0, r1 = _f(first, "tail_share_calibrated"), _f(last, "tail_share_calibrated")
    if np.isfinite(r0) and np.isfinite(r1) and (a1 - a0) * (r1 - r0) < 0:
        out.append(f"The two tail shares disagree in direction: {'up' if r1 > r0 else 'down'} among recognised "
                   f"samples, {'up' if a1 > a0 else 'down'} over all samples, so the recognisable share of the "
                   "tail and its absolute rate tell different stories; read both.")
    return out


def _pretrained_sentence(run: Path, first: dict) -> list[str]:
    """Where a fine-tuned chain started: the pretrained model's shares before any fine-tuning (RUN/pretrained.csv)."""
    rows = rf.read_table(run / rf.PRETRAINED) if (run / rf.PRETRAINED).is_file() else []
    if not rows:
        return []
    ref, g0 = rows[0], int(first["generation"])
    return [f"Before any fine-tuning (generation {ref['generation']}, {rf.PRETRAINED}), the pretrained model drew head "
            f"share {_f(ref, 'head_share_calibrated'):.3f} and tail share {_f(ref, 'tail_share_calibrated'):.3f} "
            f"(judged, calibrated) at the real subset's labels, with {_f(ref, 'unrecognisable_share'):.1%} "
            f"unrecognisable; generation {g0}, fine-tuned on the real subset, drew {_f(first, 'head_share_calibrated'):.3f} "
            f"and {_f(first, 'tail_share_calibrated'):.3f}."]


def _memorised_sentence(run: Path, rows: list[dict]) -> list[str]:
    """One line when the share of samples that are near-copies of the real subset's photos (memorised_photos) rose
    above where the chain started (the pretrained model's, else generation 0's) and above unseen real photos' share
    (memorised_real): memorisation, which would otherwise read as collapse."""
    before = rf.read_table(run / rf.PRETRAINED)[:1] if (run / rf.PRETRAINED).is_file() else []
    start = (before or rows)[0]
    measured = [r for r in rows if np.isfinite(_f(r, "memorised_photos"))]
    if not measured or not np.isfinite(_f(start, "memorised_photos")):
        return []
    peak = max(measured, key=lambda r: _f(r, "memorised_photos"))
    share, base, real = _f(peak, "memorised_photos"), _f(start, "memorised_photos"), _f(peak, "memorised_real")
    if not (share > base and share > real):
        return []
    return [f"Memorisation rose: {share:.1%} of generation {peak['generation']}'s evaluation samples are near-copies "
            f"of the real subset's photos (memorised_photos), against {base:.1%} at generation {start['generation']} "
            f"and {real:.1%} for unseen real photos (memorised_real); part of what changed is copying, not collapse."]


def _direction(head_change: float, tail_change: float) -> str:
    """Words for the direction of the head and tail changes."""
    if head_change > 0 and tail_change < 0:
        return "toward the head"
    if head_change <= 0 and tail_change >= 0:
        return "away from the head"
    return "the head and the tail moved the same way"


def _extinct_sentence(labels: float, judged: float, generation: int, names: list[str]) -> str:
    """How many classes are gone at the last generation, by labels and by the judge."""
    if labels == 0 and judged == 0:
        return f"No class is extinct at generation {generation}."
    named = f" ({', '.join(names)})" if names else ""
    labels_text = f"{labels:.0f} by labels{named}" if np.isfinite(labels) else "n/a by labels"
    return f"Extinct at generation {generation}: {labels_text}, {judged:.0f} by the judge."


def multiseed_verdict(root: Path) -> Verdict | None:
    """The verdict of a multi-seed folder: means and 95% intervals across seeds, and counts of seeds."""
    seeds = [s for s in rf.seed_dirs(root) if rf.read_table(s / rf.SUMMARY)]
    if not seeds:
        return None
    summaries = [rf.read_table(s / rf.SUMMARY) for s in seeds]
    gl = min(int(rows[-1]["generation"]) for rows in summaries)  # the last generation every seed has finished
    cfg = rf.read_config(root)
    _, head, tail = _classes(seeds[0], cfg)
    agg = {(int(r["generation"]), r["metric"]): r for r in rf.read_table(root / rf.AGGREGATE)
           if r["class_name"] == rf.ALL}
    v = Verdict(f"Verdict: {root.name}, {len(seeds)} seeds", 0, gl, len(seeds))

    def cell(g: int, column: str, digits: int = 3) -> Cell:
        r = agg.get((g, column), {})
        return Cell(_f(r, "mean"), column, g, _f(r, "ci_low"), _f(r, "ci_high"), digits)

    lasts = [next(r for r in rows if int(r["generation"]) == gl) for rows in summaries]
    counts = {(s, k): sum(_f(r, f"{s}_{k}") == 1 for r in lasts) for s in ("head", "tail")
              for k in ("beyond_chance", "beyond_compounding", "calibrated_beyond")}
    n = len(seeds)
    tracked = "carried labels" if cfg.conditional else "recognised judgements"
    for side, who in (("head", f"head share ('{head}')"), ("tail", f"tail share ({', '.join(tail)})")):
        v.lines.append(Line(side, f"{who}, judged and calibrated", cell(0, f"{side}_share_calibrated"),
                            cell(gl, f"{side}_share_calibrated"),
                            reading=f"beyond chance in {counts[side, 'calibrated_beyond']} of {n} seeds from the real "
                                    "subset"))
        v.lines.append(Line(f"{side}_tracked", f"{side} share of the {tracked} (what the chance check tracks)",
                            cell(0, CHANCE_COLUMNS[side]), cell(gl, CHANCE_COLUMNS[side]),
                            reading=f"beyond chance in {counts[side, 'beyond_chance']} of {n} seeds from the real "
                                    f"subset, in {counts[side, 'beyond_compounding']} since generation 0"))
    v.lines += [
        Line("extinct_labels", "extinct classes, by labels", cell(0, "extinct_labels", 1),
             cell(gl, "extinct_labels", 1)),
        Line("extinct_judged", "extinct classes, by the judge", cell(0, "extinct_judged", 1),
             cell(gl, "extinct_judged", 1)),
        Line("fid", "FID at the samples' own class mix", cell(0, "fid_at_labels", 1), cell(gl, "fid_at_labels", 1),
             reading=f"real floor (p95) {_f(agg.get((gl, 'fid_at_labels_floor_p95'), {}), 'mean'):.1f}"),
        Line("unrecognised", "unrecognisable share", cell(0, "unrecognisable_share"),
             cell(gl, "unrecognisable_share")),
    ]
    firsts = [rows[0] for rows in summaries]
    toward = sum(head_up_tail_down(a, b) for a, b in zip(firsts, lasts))
    either = sum(_f(r, "any_beyond_chance") == 1 for r in lasts)
    h0, h1 = cell(0, "head_share_calibrated"), cell(gl, "head_share_calibrated")
    t0, t1 = cell(0, "tail_share_calibrated"), cell(gl, "tail_share_calibrated")
    v.sentences += [
        f"Across {n} seeds (mean and 95% interval), from generation 0 to {gl} the head class '{head}' went from "
        f"{h0.text()} to {h1.text()} of recognised samples (judged, calibrated) and the tail ({', '.join(tail)}) "
        f"from {t0.text()} to {t1.text()}; the head rose and the tail fell in {toward} of {n} seeds.",
        *(f"At generation {gl}, the {side} share of the {tracked} is beyond chance from the real subset in "
          f"{counts[side, 'beyond_chance']} of {n} seeds, and its change since generation 0 in "
          f"{counts[side, 'beyond_compounding']} (each test flags 5% of seeds under the null)."
          for side in ("head", "tail")),
        f"The four head and tail tests combined (Bonferroni, size 5%) flag {either} of {n} seeds.",
        f"Extinct at generation {gl}, mean over seeds: {cell(gl, 'extinct_labels', 1).text()} classes by labels, "
        f"{cell(gl, 'extinct_judged', 1).text()} by the judge.",
        _quality_sentence({k: agg.get((0, k), {}).get("mean", "nan") for k in ("fid_at_labels",)},
                          {k: agg.get((gl, k), {}).get("mean", "nan")
                           for k in ("fid_at_labels", "fid_at_labels_floor_p95")}, gl).replace("FID", "mean FID", 1),
        f"{_f(agg.get((gl, 'unrecognisable_share'), {}), 'mean'):.1%} of generation {gl}'s samples are "
        "unrecognisable on average; every share above is over the recognised rest.",
        *_web_sentence(cfg, lambda k: _f(agg.get((gl, k), {}), "mean"), gl),
        _causes_sentence(cfg),
    ]
    return v


def run_verdict(run: Path) -> Verdict | None:
    """The verdict of a single run or a multi-seed folder; None while nothing has finished."""
    return (multiseed_verdict if rf.is_multiseed(run) else single_verdict)(Path(run))


def to_markdown(v: Verdict) -> str:
    """The verdict as markdown: the sentences, then an aligned table."""
    header = ["", f"generation {v.first_generation}", f"generation {v.last_generation}", "chance band", "reading"]
    table = [header] + [[ln.label, ln.first.text(), ln.last.text(), ln.band, ln.reading] for ln in v.lines]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    fmt = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    lines = [f"# {v.title}", "", *v.sentences, "", fmt(table[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join(lines + [fmt(r) for r in table[1:]]) + "\n"


def write_verdict(run: Path, v: Verdict | None = None) -> str:
    """Write RUN/verdict.md from `v` (default: the run's verdict, computed here) and return its text ('' while
    nothing has finished)."""
    v = v or run_verdict(run)
    if v is None:
        return ""
    text = to_markdown(v)
    rf.atomic_write_text(Path(run) / rf.VERDICT, text)
    return text
