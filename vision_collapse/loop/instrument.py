"""What keeps the instrument fixed across a run: its judge, its data, its floors, and the chance chain."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.data import RealData, hash_images
from vision_collapse.errors import UserError
from vision_collapse.files import file_sha256
from vision_collapse.metrics import frequencies as fq
from vision_collapse.metrics.chance import ChanceRow, NeutralLoop, chance_rows, neutral_chain, observed_shares
from vision_collapse.metrics.classifier import Classifier, load_classifier, load_or_train_judge, save_classifier
from vision_collapse.metrics.evaluate import Reference
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


def run_judge(run: Path, real: RealData, cfg: ExperimentConfig) -> tuple[Classifier, str]:
    """The run's judge and its weights' hash: RUN/judge.pt, or at the first start the cached (or new) judge
    copied there. Main process first; the others then read the copy."""
    path = Path(run) / rf.JUDGE_WEIGHTS
    in_channels, num_classes = real.pool.images.shape[1], real.pool.num_classes
    if not path.is_file() and runtime().is_main:
        # The judge depends only on its pool and the test split, so runs of every imbalance share it.
        judge = load_or_train_judge(real.judge_pool, real.test, cfg.judge, {"data": hash_images(real.judge_pool,
                                                                                                  real.test)})
        save_classifier(judge, path)
    runtime().barrier()
    return load_classifier(path, in_channels, num_classes, cfg.judge), file_sha256(path)


def floors_in(run: Path):
    """A `build_reference(floors=)` hook: read RUN/floors.csv, or compute it once and keep it there."""
    path = Path(run) / rf.FLOORS

    def get(compute):
        if path.is_file():
            return [{k: int(v) if k in ("class_index", "n", "available", "draws") else float(v) for k, v in r.items()}
                    for r in rf.read_table(path)]
        rows = compute()
        runtime().on_main(lambda: rf.write_csv(path, rows))
        return rows

    return get


def neutral_loop(cfg: ExperimentConfig, ref: Reference, samples: int = 0) -> NeutralLoop:
    """The loop as the chance chain sees it (samples per generation: as many as the real subset unless given);
    unconditional models resample their judged histogram."""
    sampling = cfg.loop.label_sampling if cfg.conditional else "proportional"
    return NeutralLoop(ref.prior, samples or len(ref.real), cfg.loop.strategy, cfg.loop.real_fraction, sampling)


def observed(rows: list[dict], conditional: bool) -> np.ndarray:
    """The histogram the chain models, from a generation's class rows: carried labels, or recognised judgements."""
    key = "sample_count" if conditional else "recognised_count"
    return observed_shares(np.array([float(r[key]) for r in rows if int(r["class_index"]) >= 0]))


def chance_against(cfg: ExperimentConfig, ref: Reference, history: list[np.ndarray],
                   samples: int = 0) -> list[ChanceRow]:
    """Rows for generations 0 .. len(history)-1 (their observed shares) against the seeded neutral chain."""
    loop = neutral_loop(cfg, ref, samples)
    first = None if cfg.conditional else history[0]
    if first is not None and not np.isfinite(first).all():
        return []  # generation 0 recognised too little to start the chain from
    rng = np.random.default_rng([cfg.seed, 7919])
    simulated = neutral_chain(loop, len(history), cfg.eval.chance_chains, rng, first)
    head, tail = fq.head_and_tail(ref.real.class_counts(), cfg.eval.tail_fraction)
    return chance_rows(simulated, history, head, tail, ref.real.class_names)


def write_chance_table(run: Path, cfg: ExperimentConfig, ref: Reference, generations: list[int]) -> None:
    """RUN/chance.csv for the finished generations."""
    history = [observed(rf.read_table(rf.generation_dir(run, g) / rf.METRICS), cfg.conditional) for g in generations]
    rows = chance_against(cfg, ref, history) if history else []
    rf.write_csv(Path(run) / rf.CHANCE, [{**vars(r), "beyond": r.beyond} for r in rows],
                 ["generation", "quantity", "observed", "low", "high", "p_value", "beyond"])
