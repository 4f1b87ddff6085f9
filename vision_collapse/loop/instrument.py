"""What keeps the instrument fixed across a run: its judge, its data and its floors."""

from __future__ import annotations

from pathlib import Path

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.data import RealData, hash_images
from vision_collapse.errors import UserError
from vision_collapse.files import file_sha256
from vision_collapse.metrics.backbone import backbone_record, probe_backbone
from vision_collapse.metrics.classifier import Classifier, load_classifier, load_or_train_judge, save_classifier
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


def generation_tables(run: Path, generations: list[int]) -> list[list[dict]]:
    """The class rows (metrics.csv) of finished generations."""
    return [rf.read_table(rf.generation_dir(run, g) / rf.METRICS) for g in generations]
