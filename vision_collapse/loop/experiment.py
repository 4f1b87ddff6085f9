"""The recursive experiment: generation 0 learns from real images, generation g from generation g-1's samples."""

from __future__ import annotations

import platform
import subprocess
import sys
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.data import load_real_data
from vision_collapse.data.watermark import web_size
from vision_collapse.loop.evaluate_images import evaluate_images, measure_shards
from vision_collapse.loop.generation import run_generation, starting_model
from vision_collapse.loop.instrument import (
    check_same_data,
    floors_in,
    generation_tables,
    run_judge,
)
from vision_collapse.loop.labels import load_or_train_expert, load_or_train_labeller, needs_labeller
from vision_collapse.loop.sampling import draw_shards
from vision_collapse.loop.seeds import Generation, generation_seed
from vision_collapse.loop.strategies import build_training_set
from vision_collapse.loop.web import scrape_training_set
from vision_collapse.metrics.backbone import backbone_module, backbone_record, feature_extractor
from vision_collapse.metrics.classifier import classifier_report
from vision_collapse.metrics.evaluate import Reference, build_reference
from vision_collapse.metrics.junk import recogniser_report
from vision_collapse.models import build_model
from vision_collapse.models.training import uses_bf16
from vision_collapse.runtime import runtime

# Called on the main process with (run folder, generation) once the generation's files and the run's tables
# are written, before the generation's DONE: what it draws (grid, plots, TensorBoard) is part of "complete".
AfterGeneration = Callable[[Path, int], None]


def session_info(cfg: ExperimentConfig) -> dict:
    """The software, device and resolved precision of this session, and the project's commit when known."""
    versions = {}
    for package in ("torch", "diffusers", "accelerate", "scikit-learn", "torchmetrics", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    source = Path(__file__).resolve().parents[2]
    try:  # only a git checkout of the project knows its commit; an installed wheel does not
        commit = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    rt = runtime()
    return {"python": platform.python_version(), **versions, **backbone_record(cfg.eval), "device": str(rt.device),
            "processes": rt.world,
            "precision": "bf16" if uses_bf16(cfg.train) else "fp32", "commit": commit}


def prepare_reference(cfg: ExperimentConfig, run: Path, real, log) -> Reference:
    """Load the run's judge (and the pseudo-labeller), record their quality, and measure the real data."""
    rt = runtime()
    judge, digest = run_judge(run, real, cfg, log)
    note = (f"trained on {len(real.judge_pool)} real training images (the calibration split of "
            f"{len(real.calibration)} is held out from it); accuracy measured on the held-out test split")
    report = {**classifier_report(judge, real.pool.class_names, note), "weights_sha256": digest,
              "backbone": cfg.eval.backbone if cfg.judge.kind == "probe" else "its own CNN"}
    log(f"judge: held-out accuracy {judge.accuracy:.3f} on {len(real.test)} real test images")
    if report["unreliable_classes"]:
        log(f"warning: the judge recalls fewer than 80% of held-out {', '.join(report['unreliable_classes'])}; "
            "their frequencies are unreliable")
    labeller = rt.main_first(lambda: load_or_train_labeller(run, real, cfg)) if needs_labeller(cfg) else None
    if labeller is not None:
        log(f"pseudo-labeller: held-out accuracy {labeller.accuracy:.3f} (trained on the imbalanced subset)")
    ref = build_reference(real, judge, labeller, feature_extractor(cfg.eval, judge), cfg, floors_in(run))
    if cfg.loop.correction != "none":
        expert = rt.main_first(lambda: load_or_train_expert(run, real, cfg))
        log(f"expert: held-out accuracy {expert.accuracy:.3f} (trained on a balanced draw of the judge pool)")
        ref = replace(ref, expert=expert)
    smaller = [f"{real.pool.class_names[r['class_index']]} at {r['n']}" for r in ref.floors
               if r["n"] < cfg.eval.samples_per_class]
    if smaller:
        log(f"note: {len(smaller)} class(es) have fewer than 2 x eval.samples_per_class calibration images and are "
            f"evaluated at half their count ({', '.join(smaller[:5])}{', ...' if len(smaller) > 5 else ''}); "
            "floors.csv lists each class's n")
    if rt.is_main and not (run / rf.JUDGE).is_file():  # the junk suite is judged once per run folder
        report["recogniser"] = recogniser_report(ref.recogniser, judge, real.test)
        rf.write_json(run / rf.JUDGE, report)
    return ref


def write_baseline(run: Path, cfg: ExperimentConfig, ref: Reference) -> None:
    """RUN/baseline.csv: the real subset measured exactly like a generation, once per run."""
    if not (run / rf.BASELINE).is_file():
        labels = ref.real.labels if cfg.conditional else None
        summary = evaluate_images(ref.real.images, labels, ref, cfg).summary
        rf.write_csv(run / rf.BASELINE, [{**summary, "generation": rf.REAL}])


def write_pretrained_reference(run: Path, cfg: ExperimentConfig, ref: Reference, log) -> None:
    """RUN/pretrained.csv, generation -1: the pretrained model before any fine-tuning, sampled at the real
    subset's labels (its class counts exactly) with the chain's sampler, measured like a generation; once per run.
    Every process draws its share of the shards (the loop's own drawing); the main process measures and writes."""
    if (run / rf.PRETRAINED).is_file():
        return
    real = ref.real
    model = build_model(cfg, real.images.shape[-1], real.images.shape[1], real.num_classes, run)
    gen = Generation(0, cfg, run, real)  # shard k is seeded by generation 0's 'pretrained' stream
    shards = draw_shards(gen, model, len(real), real.labels if cfg.conditional else None, "pretrained", ref)
    if not runtime().is_main:
        for _ in shards:  # take part in drawing; main measures
            pass
        return
    summary = measure_shards(shards, len(real), cfg.conditional, ref, cfg, (0, 1)).summary
    rf.write_csv(run / rf.PRETRAINED, [{**summary, "generation": rf.PRETRAINED_GENERATION}])
    log(f"pretrained model, no fine-tuning (generation {rf.PRETRAINED_GENERATION}): head share "
        f"{summary['head_share_calibrated']:.3f}, tail share {summary['tail_share_calibrated']:.3f} (calibrated) at "
        f"the real subset's labels (RUN/{rf.PRETRAINED})")


def finish_generation(run: Path, cfg: ExperimentConfig, generation: int,
                      after_generation: AfterGeneration | None) -> None:
    """Rebuild the run's tables with this generation, let the caller draw, then mark the generation DONE."""
    generations = list(range(generation + 1))
    rf.write_run_tables(run, generations)
    if after_generation is not None:
        after_generation(run, generation)
    rf.mark_done(rf.generation_dir(run, generation))
    if cfg.loop.keep_models == "last":  # after DONE: until then, a resume recomputes this one from the one before
        for older in generations[:-1]:
            rf.drop_weights(rf.generation_dir(run, older) / rf.MODEL, f"generation {older}'s weights were deleted "
                            f"when generation {generation} finished (loop.keep_models=last)")


def run_experiment(
    cfg: ExperimentConfig,
    run: Path,  # the run folder: created, or resumed when it holds the same config
    force: bool = False,  # start over in a folder that holds a run with another config
    log: Callable[[str], None] = print,
    after_generation: AfterGeneration | None = None,  # e.g. the CLI's renderer of grids and plots
    name: str = "",  # the config's name (its file's stem), recorded in run.json; the verdict is titled with it
) -> Path:
    """Run (or resume) the whole experiment into `run` and return it; DONE is written last.

    Under `accelerate launch` every process calls this; they share training, sampling and judging, and only
    the main process writes or logs.
    """
    run = Path(run)
    rt = runtime()
    log = log if rt.is_main else _silent
    if rt.world > 1:
        log(f"sharing the work between {rt.world} processes ({torch.distributed.get_backend()}) on {rt.device.type}")
    real = load_real_data(cfg.data, cfg.seed)  # first, so a bad data setting leaves no run folder behind
    if cfg.eval.backbone != "judge":  # so do missing or foreign backbone weights (the module is loaded once, kept)
        backbone_module(cfg.eval)
    if cfg.loop.filter == "watermark":  # a size the watermark refuses is a setting error, known before any work
        web_size(real.subset.images.shape[-1], cfg.loop.watermark_upsample)
    # a DiT's pretrained folder, class map and resolution are checked before the folder is written
    start = None
    if cfg.model.kind == "dit":  # imported here: diffusers' DiT takes seconds to import, and no other kind needs it
        from vision_collapse.models.dit_base import check_start, prepare_start

        start = check_start(cfg, real.pool, run, force)
    rt.on_main(lambda: rf.prepare_run_folder(cfg, run, force))
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    rt.on_main(lambda: check_same_data(run, real.info))  # a resume must measure the same data
    session = {**({"config": name} if name else {}), **session_info(cfg)}
    rt.on_main(lambda: (rf.write_json(run / rf.DATA, real.info), rf.record_session(run, session)))
    if real.info.get("skipped"):
        log(f"skipped {len(real.info['skipped'])} unreadable image(s), listed in {run / rf.DATA}")
    ref = prepare_reference(cfg, run, real, log)
    rt.on_main(lambda: write_baseline(run, cfg, ref))
    if start is not None:
        start = prepare_start(cfg, run, real.pool, real.judge_pool, start, generation_seed(cfg.seed, 0, "autoencoder"))
        if start.pretrained:
            write_pretrained_reference(run, cfg, ref, log)

    history = []  # labelled samples of each finished generation
    done = set(rf.finished_generations(run))
    if done:
        log(f"resuming {run}: generation(s) {', '.join(map(str, sorted(done)))} already finished")
    for g in tqdm(range(cfg.loop.generations), desc="generations", disable=None if rt.is_main else True):
        folder = rf.generation_dir(run, g)
        if g not in done:
            starting_model(run, g, cfg)  # its weights kept, or one line before anything is unmarked
            rt.on_main(lambda: rf.unmark_from(run, g))
            if cfg.loop.strategy == "scrape" and g > 0:
                gen = Generation(g, cfg, folder, *scrape_training_set(g, real, history, cfg, run), perfect=real.perfect)
            else:
                gen = Generation(g, cfg, folder, build_training_set(g, real, history, cfg), perfect=real.perfect)
            previous = generation_tables(run, list(range(g))) if rt.is_main else []
            if not sys.stderr.isatty():  # no progress bars there: say at least when a generation starts
                log(f"gen {g}: training on {len(gen.train_set)} images, then sampling and measuring")
            s = run_generation(gen, ref, previous, log)
            rt.on_main(lambda: finish_generation(run, cfg, g, after_generation))
            if s is not None:  # the main process's summary row
                log(summary_line(g, s, cfg.conditional))
        # Read back from disk on every process: the next generation learns from exactly what was written.
        history.append(rf.load_samples(folder)[0])

    rt.on_main(lambda: (rf.write_run_tables(run, rf.finished_generations(run)), rf.mark_done(run)))
    return run


def summary_line(g: int, s: dict, conditional: bool) -> str:
    """The console's line for a finished generation; judged shares are over recognised samples."""
    def share(k: str) -> str:
        # A conditional run's chance band is about the labels it carries on, so say which share it judges.
        band = "beyond chance" if s[f"{k}_beyond_chance"] else "within chance"
        labels = f"labels {s[f'{k}_chance_observed']:.3f}, " if conditional else ""
        return f"{k} share {s[f'{k}_share']:.3f} ({labels}{band})"

    return (f"gen {g}: fid vs original {s['fid_vs_original']:.1f}, at labels {s['fid_at_labels']:.1f} "
            f"(real floor p95 {s['fid_at_labels_floor_p95']:.1f})  {share('head')}  {share('tail')}  "
            f"unrecognisable {s['unrecognisable_share']:.3f}  "
            f"train {s['train_seconds']:.0f}s  sample {s['sample_seconds']:.0f}s  eval {s['eval_seconds']:.0f}s")


def _silent(*_args, **_kwargs) -> None:
    """The log of processes other than the main one."""
