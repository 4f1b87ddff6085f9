"""The recursive experiment: generation 0 learns from real images, generation g from generation g-1's samples."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from vision_collapse.config import ExperimentConfig, config_from_yaml_text, config_to_yaml, diff_configs
from vision_collapse.data import data_fingerprint, load_real_data
from vision_collapse.errors import UserError
from vision_collapse.loop import run_dir as rd
from vision_collapse.loop.generation import run_generation
from vision_collapse.loop.labels import load_or_train_labeller, needs_labeller
from vision_collapse.loop.strategies import build_training_set
from vision_collapse.metrics.backbone import feature_extractor
from vision_collapse.metrics.evaluate import build_reference
from vision_collapse.metrics.judge import judge_report, load_or_train_judge
from vision_collapse.runtime import runtime
from vision_collapse.viz.plots import draw_plots


def prepare_run_dir(cfg: ExperimentConfig, run: Path, force: bool) -> None:
    """Create the run folder, or check that an existing one holds the same config so it can be resumed."""
    config_path = run / rd.CONFIG
    if run.exists() and not run.is_dir():
        raise UserError(f"--out {str(run)!r} is a file, not a folder; choose another --out")
    if run.is_dir() and not config_path.is_file() and any(not rd.is_temporary(p) for p in run.iterdir()):
        # Not ours: never write into, let alone --force-delete, a folder holding someone else's files.
        raise UserError(f"--out {str(run)!r} is not empty and holds no run; choose an empty or new folder")
    if config_path.is_file() and not force:
        try:
            old = config_from_yaml_text(config_path.read_text())
        except UserError:
            old = None
        if old != cfg:
            changes = "; ".join(diff_configs(old, cfg)) if old is not None else "its config.yaml is unreadable"
            raise UserError(
                f"{str(run)!r} holds a run with a different config ({changes}); "
                "use --out for a new folder or --force to start this one over"
            )
    else:
        if force and run.exists():
            shutil.rmtree(run)
        try:
            run.mkdir(parents=True, exist_ok=True)
            rd.atomic_write_text(config_path, config_to_yaml(cfg))
        except OSError as exc:
            raise UserError(f"cannot write the run folder {str(run)!r} ({exc.strerror}); choose a writable --out") from None
    rd.remove_stale_temporaries(run)  # what a killed run left half-written, config.yaml's included


def write_tables(run: Path) -> None:
    """Rebuild RUN/metrics.csv and RUN/summary.csv from the finished generation folders."""
    rows, summaries = [], []
    for g in rd.finished_generations(run):
        rows += rd.read_csv(rd.generation_dir(run, g) / rd.METRICS)
        summaries += rd.read_csv(rd.generation_dir(run, g) / rd.SUMMARY)
    rd.write_csv(run / rd.METRICS, rows)
    rd.write_csv(run / rd.SUMMARY, summaries)


def gen0_calibrated(run: Path):
    """Generation 0's calibrated class frequencies from its metrics.csv, or None before it has finished."""
    path = rd.generation_dir(run, 0) / rd.METRICS
    if not (rd.generation_dir(run, 0) / rd.DONE).is_file():
        return None
    rows = [r for r in rd.read_csv(path) if int(r["class_index"]) >= 0]
    return np.array([float(r["gen_freq_calibrated"]) for r in rows])


def run_experiment(cfg: ExperimentConfig, run: Path, force: bool = False, log=print) -> Path:
    """Run (or resume) the whole experiment into `run` and return it; DONE is written last.

    Under `accelerate launch` every process calls this; they share training, sampling and judging, and only
    the main process writes or logs.
    """
    run = Path(run)
    rt = runtime()
    if not rt.is_main:
        log = _silent
    if cfg.log.tensorboard:
        from vision_collapse.viz.tensorboard import require_tensorboard

        require_tensorboard()
    if rt.world > 1:
        log(f"sharing the work between {rt.world} processes ({dist.get_backend()}) on {rt.device.type}")
    real = load_real_data(cfg.data, cfg.seed)  # first, so a bad data setting leaves no run folder behind
    rt.on_main(lambda: prepare_run_dir(cfg, run, force))
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    rt.on_main(lambda: rd.atomic_write_text(run / rd.DATA, json.dumps(real.info, indent=2) + "\n"))
    if real.info.get("skipped"):
        log(f"skipped {len(real.info['skipped'])} unreadable image(s), listed in {run / rd.DATA}")
    # The judge depends only on the real pool and split, not on the imbalance, so all such runs share it.
    judge = rt.main_first(lambda: load_or_train_judge(real.pool, real.test, cfg.judge, {"data": data_fingerprint(real)}))
    note = "trained on every real training image (not the imbalanced subset); measured on the held-out test split"
    report = judge_report(judge, real.pool.class_names, note)
    rt.on_main(lambda: rd.atomic_write_text(run / rd.JUDGE, json.dumps(report, indent=2) + "\n"))
    log(f"judge: held-out accuracy {judge.accuracy:.3f} on {len(real.test)} real test images")
    if report["unreliable_classes"]:
        log(f"warning: the judge recalls fewer than 80% of held-out {', '.join(report['unreliable_classes'])}; "
            "their frequencies are unreliable")
    labeller = rt.main_first(lambda: load_or_train_labeller(run, real, cfg)) if needs_labeller(cfg) else None
    if labeller is not None:
        log(f"pseudo-labeller: held-out accuracy {labeller.accuracy:.3f} (trained on the imbalanced subset)")
    ref = build_reference(real, judge, labeller, feature_extractor(cfg.eval, judge), cfg)

    history = []  # labelled samples of each finished generation
    done = set(rd.finished_generations(run))
    if done:
        log(f"resuming {run}: generation(s) {', '.join(map(str, sorted(done)))} already finished")
    for g in tqdm(range(cfg.loop.generations), desc="generations", disable=None if rt.is_main else True):
        out = rd.generation_dir(run, g)
        if g not in done:
            s = run_generation(g, build_training_set(g, real, history, cfg), ref, cfg, out, gen0_calibrated(run))
            if s is not None:
                write_tables(run)
                draw_plots(run)
                log(
                    f"gen {g}: fid {s['fid']:.2f}  head share {s['dominant_share']:.3f}  tail share "
                    f"{s['tail_share']:.3f} (calibrated {s['tail_share_calibrated']:.3f})  unrecognisable "
                    f"{s['unrecognisable_share']:.3f}  train {s['train_seconds']:.0f}s  "
                    f"sample {s['sample_seconds']:.0f}s  eval {s['eval_seconds']:.0f}s"
                )
        # Read back from disk on every process: the next generation learns from exactly what was written.
        history.append(rd.load_samples(out)[0])

    def finish():
        write_tables(run)
        draw_plots(run)
        rd.atomic_write_text(run / rd.DONE, "")

    rt.on_main(finish)
    return run


def _silent(*_args, **_kwargs) -> None:
    """The log of processes other than the main one."""
