"""What keeps the instrument fixed across a run: its judge, its data, its floors, and the chance chain."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.data import RealData, hash_images
from vision_collapse.errors import UserError
from vision_collapse.files import file_sha256
from vision_collapse.loop.null import from_generation_zero, null_chain
from vision_collapse.loop.twin import TwinLoop
from vision_collapse.metrics import frequencies as fq
from vision_collapse.metrics.backbone import backbone_record, probe_backbone
from vision_collapse.metrics.chance import ChanceRow, chance_rows, observed_shares
from vision_collapse.metrics.classifier import Classifier, load_classifier, load_or_train_judge, save_classifier
from vision_collapse.metrics.evaluate import GenerationResult, Reference, chance_columns
from vision_collapse.runtime import runtime

# data.json keys compared on resume, in the order a difference is reported
_DATA_KEYS = ("name", "root", "resolution", "channels", "classes", "pool_counts", "test_counts",
              "calibration_counts", "subset_counts", "fingerprint")


def check_same_data(run: Path, info: dict) -> None:
    """Refuse to resume a run whose real data differs from what it started with, naming the difference."""
    before = rf.read_json(Path(run) / rf.DATA)
    if not before or "fingerprint" not in before:
        return
    for key in _DATA_KEYS:
        if before.get(key) != info.get(key):
            what = "the images or their ids" if key == "fingerprint" else f"{key} {before.get(key)} -> {info.get(key)}"
            raise UserError(f"{run} was started on other data ({what}); restore that data, or start a new run "
                            f"with --out NEW_FOLDER (or --force to replace this one)")


def run_judge(run: Path, real: RealData, cfg: ExperimentConfig, log=print) -> tuple[Classifier, str]:
    """The run's judge and its weights' hash: RUN/judge.pt, or at the first start the cached (or new) judge
    copied there. Main process first; the others then read the copy. A judge saved before outlier exposure is
    kept as it is, with one line saying so."""
    path = Path(run) / rf.JUDGE_WEIGHTS
    in_channels, num_classes = real.pool.images.shape[1], real.pool.num_classes
    if not path.is_file() and runtime().is_main:
        # The judge depends only on its pool and the test split, so runs of every imbalance share it.
        key = {"data": hash_images(real.judge_pool, real.test)}
        if cfg.judge.kind == "probe":  # a probe is only as its backbone: a cached one on other weights is not it
            key["backbone"] = backbone_record(cfg.eval)
        judge = load_or_train_judge(real.judge_pool, real.test, cfg.judge, key, probe_backbone(cfg))
        save_classifier(judge, path)
    runtime().barrier()
    judge = load_classifier(path, in_channels, num_classes, cfg.judge, probe_backbone(cfg))
    if judge.outlier_exposure is None and cfg.judge.kind == "cnn":
        log(f"note: {path} predates outlier exposure (trained without blends, whatever judge.outlier_exposure "
            "says): this run keeps it and its rejection criteria, so two-class blends mostly pass as before; a new "
            "run (--out NEW_FOLDER) gets the blend-rejecting judge")
    return judge, file_sha256(path)


def floors_in(run: Path):
    """A `build_reference(floors=)` hook: read RUN/floors.csv, or compute it once and keep it there."""
    path = Path(run) / rf.FLOORS

    def typed(rows: list[dict]) -> list[dict]:
        """Rows of CSV cells as numbers."""
        return [{k: int(v) if k in ("class_index", "n", "available", "draws") else float(v) for k, v in r.items()}
                for r in rows]

    def get(compute):
        if path.is_file():
            return typed(rf.read_table(path))
        rows = compute()
        runtime().on_main(lambda: rf.write_csv(path, rows))
        # The values as written (8 significant digits), not as computed: a resume reads them back, and its numbers
        # must equal the first start's to the last digit.
        return typed([{k: rf.format_value(v) for k, v in r.items()} for r in rows])

    return get


def twin_loop(cfg: ExperimentConfig, ref: Reference, samples: int = 0) -> TwinLoop:
    """The loop as its twin sees it (samples per generation: as many as the real subset unless given), measured
    through the judge's recognition and confusion on the calibration split, as the run measures its samples."""
    loop = cfg.loop
    return TwinLoop(ref.real.class_counts(), samples or len(ref.real), loop.strategy, loop.real_fraction,
                    loop.accumulate_cap, loop.label_sampling, loop.oversampling, cfg.conditional,
                    ref.recognition, ref.recognised_confusion, ref.confusion)


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


def add_chance(result: GenerationResult, cfg: ExperimentConfig, ref: Reference, previous: list[list[dict]],
               samples: int = 0) -> GenerationResult:
    """Fill a measured generation's chance columns, from its class rows and those of the generations before it."""
    generation = len(previous)
    rows = [r for r in chance_against(cfg, ref, [*previous, result.rows], samples) if r.generation == generation]
    result.summary.update(chance_columns(rows))
    return result


def generation_tables(run: Path, generations: list[int]) -> list[list[dict]]:
    """The class rows (metrics.csv) of finished generations."""
    return [rf.read_table(rf.generation_dir(run, g) / rf.METRICS) for g in generations]


def write_chance_table(run: Path, cfg: ExperimentConfig, ref: Reference, generations: list[int]) -> None:
    """RUN/chance.csv for the finished generations."""
    rows = chance_against(cfg, ref, generation_tables(run, generations)) if generations else []
    rf.write_csv(Path(run) / rf.CHANCE, [{**vars(r), "beyond": r.beyond} for r in rows],
                 ["generation", "test", "share", "quantity", "observed", "low", "high", "p_value", "p_adjusted",
                  "correction", "beyond"])
