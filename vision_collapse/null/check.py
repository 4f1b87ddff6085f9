"""The null's check of a generation: its twin chains simulated once, read into the summary's chance columns and
the generation's chance rows (gen_XXX/chance.csv, gathered into RUN/chance.csv) alike."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from vision_collapse.config import ExperimentConfig
from vision_collapse.metrics import frequencies as fq
from vision_collapse.metrics.evaluate import Reference
from vision_collapse.null.bands import ALPHA, ChanceRow, bonferroni, chance_rows, observed_shares
from vision_collapse.null.chains import from_generation_zero, null_chain
from vision_collapse.null.twin import TwinLoop

# What a generation's chance check gives back: its summary columns and its rows of chance.csv.
Check = Callable[[list[dict]], tuple[dict, list[dict]]]


def twin_loop(cfg: ExperimentConfig, ref: Reference, samples: int = 0) -> TwinLoop:
    """The loop as its twin sees it (samples per generation: as many as the real subset unless given), measured
    through the judge's recognition and confusion on the calibration split, as the run measures its samples."""
    return TwinLoop(ref.real.class_counts(), samples or len(ref.real), cfg.loop, cfg.conditional, ref.recognition,
                    ref.recognised_confusion, ref.confusion)


def _class_column(rows: list[dict], key: str) -> np.ndarray:
    """One column of a generation's class rows (the unrecognisable row left out), as floats."""
    return np.array([float(r[key]) for r in rows if int(r["class_index"]) >= 0])


def observed(rows: list[dict], conditional: bool) -> np.ndarray:
    """The histogram the chain tracks, from a generation's class rows: carried labels, or recognised judgements."""
    return observed_shares(_class_column(rows, "sample_count" if conditional else "recognised_count"))


def start_shares(rows: list[dict], conditional: bool) -> np.ndarray:
    """Generation 0's true class shares, where the compounding chain starts: its carried labels, or (unconditional)
    its calibrated judged shares."""
    return observed(rows, True) if conditional else _class_column(rows, "gen_freq_calibrated")


def chance_against(cfg: ExperimentConfig, ref: Reference, tables: list[list[dict]], samples: int = 0
                   ) -> list[ChanceRow]:
    """Rows for generations 0 .. len(tables)-1, from their class rows (metrics.csv): the tracked shares against the
    level chain, and from generation 1 against the compounding chain; the calibrated head and tail shares against
    the level chain."""
    loop = twin_loop(cfg, ref, samples)
    head, tail = fq.head_and_tail(ref.real.class_counts(), cfg.eval.tail_fraction)
    names = ref.real.class_names
    tracked = [observed(t, cfg.conditional) for t in tables]
    ties = [cfg.seed, 7919, 2]  # then 0, 1, 2 for the three kinds of row, and the generation
    level = null_chain(loop, len(tables), cfg.eval.chance_chains, np.random.default_rng([cfg.seed, 7919]))
    rows = chance_rows(level.tracked, tracked, head, tail, names, "level", [*ties, 0])
    calibrated = [_class_column(t, "gen_freq_calibrated") for t in tables]
    rows += [replace(r, share="calibrated") for r in chance_rows(level.calibrated, calibrated, head, tail, names,
                                                                 "level", [*ties, 1]) if r.quantity.endswith("_share")]
    start = start_shares(tables[0], cfg.conditional)
    if len(tables) > 1 and np.isfinite(start).all() and start.sum() > 0:
        compounding = null_chain(from_generation_zero(loop, start), len(tables), cfg.eval.chance_chains,
                                 np.random.default_rng([cfg.seed, 7919, 1]))
        rows += chance_rows(compounding.tracked, tracked, head, tail, names, "compounding", [*ties, 2])
    return rows


def chance_columns(chance: list[ChanceRow]) -> dict:
    """Summary columns for head and tail against the null chains: the share the chains track (carried labels for
    conditional models, recognised judgements otherwise); for the level chain its 95% band, p-value and flag, for
    the compounding chain the same; the Bonferroni combination of those four (a flag of size at most ALPHA); and
    the calibrated judged share's level band, p-value and flag."""
    nan = float("nan")
    out, p = {}, []
    for quantity in ("head_share", "tail_share"):
        name = quantity.removesuffix("_share")
        for test, prefix, flag in (("level", "chance", "beyond_chance"),
                                   ("compounding", "compounding", "beyond_compounding")):
            row = next((r for r in chance if r.quantity == quantity and r.test == test and r.share == "tracked"), None)
            if test == "level":
                out[f"{name}_chance_observed"] = row.observed if row else nan
            values = (row.low, row.high, row.p_value, float(row.beyond)) if row else (nan, nan, nan, nan)
            out.update(zip((f"{name}_{prefix}_low", f"{name}_{prefix}_high", f"{name}_{prefix}_p", f"{name}_{flag}"),
                           values))
            p.append(row.p_value if row else nan)
        row = next((r for r in chance if r.quantity == quantity and r.share == "calibrated"), None)
        out.update(zip((f"{name}_calibrated_low", f"{name}_calibrated_high", f"{name}_calibrated_p",
                        f"{name}_calibrated_beyond"),
                       (row.low, row.high, row.p_value, float(row.beyond)) if row else (nan, nan, nan, nan)))
    combined = bonferroni(p)
    out.update(chance_combined_p=combined, any_beyond_chance=float(combined <= ALPHA) if np.isfinite(combined) else nan)
    return out


def chance_check(cfg: ExperimentConfig, ref: Reference, previous: list[list[dict]], samples: int = 0) -> Check:
    """The check of the generation after `previous` (the class rows of generations 0 .. g-1, as metrics.csv holds
    them; samples per generation as in `twin_loop`), for `measure` to call with the generation's class rows."""
    def check(rows: list[dict]) -> tuple[dict, list[dict]]:
        # This generation's rows at full precision: a share equal to some chains' is a tie, which the p-value
        # breaks at random; the same share read back at 8 digits would not tie. A generation's rows depend only
        # on it and generation 0, so they are computed once, here, and kept in its folder.
        mine = [r for r in chance_against(cfg, ref, [*previous, rows], samples) if r.generation == len(previous)]
        return chance_columns(mine), chance_table(mine)
    return check


def chance_table(chance: list[ChanceRow]) -> list[dict]:
    """Chance rows as chance.csv's rows."""
    return [{**vars(r), "beyond": r.beyond} for r in chance]  # write_csv orders them by rf.CHANCE_COLUMNS
