"""The run folder, the project's on-disk contract: its layout, its writers and readers, and provenance ids.

Every other module reaches the run folder through this one, so the format is defined in one place:

    RUN/config.yaml  run.json  data.json  judge.json  metrics.csv  summary.csv  DONE
    RUN/gen_XXX/     manifest.csv  train_loss.csv  model/  samples/shard_XXXXX.npz  grid.png  metrics.csv ...
    RUN/plots/  RUN/grids/  RUN/report.html  RUN/tensorboard/
    ROOT/seed_<s>/   (a multi-seed folder: one run per seed)  ROOT/aggregate.csv
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import torch

from vision_collapse.config import ExperimentConfig, config_from_yaml_text, config_to_yaml, diff_configs
from vision_collapse.data.images import LabelledImages
from vision_collapse.errors import UserError
from vision_collapse.files import atomic_write_bytes, atomic_write_text, is_temporary, temporary_sibling

# -- layout -------------------------------------------------------------------------------------------------
CONFIG = "config.yaml"
RUN_INFO = "run.json"  # software versions, device and precision of every session that worked on the run
METRICS = "metrics.csv"  # one row per (generation, class)
SUMMARY = "summary.csv"  # one row per generation
JUDGE = "judge.json"  # the judge's held-out quality and the hash of its weights
JUDGE_WEIGHTS = "judge.pt"  # the judge itself, copied in at the first start so a resume cannot retrain it
FLOORS = "floors.csv"  # per-class FID and KID noise floors at the evaluation size, computed once per run
CHANCE = "chance.csv"  # head, tail and class shares against the neutral-drift chain, per generation
CHANCE_COLUMNS = ["generation", "test", "share", "quantity", "observed", "low", "high", "p_value", "p_adjusted",
                  "correction", "beyond"]
CHANCE_ORDER = [("level", "tracked"), ("level", "calibrated"), ("compounding", "tracked")]
BASELINE = "baseline.csv"  # the real subset measured exactly like a generation
PRETRAINED = "pretrained.csv"  # model.pretrained: the pretrained model before fine-tuning, measured like a generation
PRETRAINED_GENERATION = -1  # the generation column of pretrained.csv: before generation 0's fine-tuning
DATA = "data.json"  # the real data: dataset, root, classes, counts per split, skipped files
LABELLER = "labeller.pt"  # the pseudo-labeller's weights, when loop.label_source or curation needs one
LABELLER_REPORT = "labeller.json"
EXPERT = "expert.pt"  # loop.correction: the expert that checks each sample's label (neither judge nor labeller)
EXPERT_REPORT = "expert.json"
DONE = "DONE"  # written last, in the run folder and in each finished generation folder
SAMPLES = "samples"  # folder of shard_00000.npz, shard_00001.npz, ... in sample order
ATTRIBUTION = "attribution.csv"  # `attribute`: per arm, the change of head, tail and extinction
ATTRIBUTION_PLOT = "attribution.png"
REMEDIES = "remedies.csv"  # `remedy`: per arm, the change, what the remedy gave back against the untreated arm, the cost
REMEDIES_PLOT = "remedies.png"
DOSE = "dose.csv"  # `remedy --dose`: per value, the tail share at the last generation against the real subset's
DOSE_PLOT = "dose.png"
ARM_LOGS = "logs"  # `attribute` and the survey: OUT/logs/<arm>_seed_<s>.log, each process's console output
CANDIDATES = "candidates"  # curation's oversampled shards while the generation runs
MANIFEST = "manifest.csv"
WEB = "web.csv"  # loop.strategy=scrape: every web item, its true source, the filter's evidence and verdict
DETECTOR = "detector.pt"  # loop.filter=detector: the generation's real-vs-generated classifier
DETECTOR_REPORT = "detector.json"  # its threshold and held-out accuracy
TRAIN_LOSS = "train_loss.csv"  # the training loss at every optimiser step
GRID = "grid.png"
CONFUSION = "confusion.csv"  # conditioning label x judged label counts of the evaluation samples
MODEL = "model"
NOT_KEPT = "NOT_KEPT"  # in gen_XXX/model/ when its weights were deleted (loop.keep_models=last); says why
CHECKPOINT = "checkpoint.pt"  # training state inside an unfinished generation (train.checkpoint_every)
AGGREGATE = "aggregate.csv"  # multi-seed runs: mean and 95% interval across RUN/seed_<s>/
PLOTS = "plots"
GRIDS = "grids"
MOSAIC = "mosaic.png"  # under GRIDS: class x generation
REPORT_MOSAIC = "report_mosaic.png"  # under GRIDS: the report's own, so it never overwrites what `grid` drew
GENERATIONS_GIF = "generations.gif"  # under GRIDS: one frame per generation
REPORT = "report.html"
VERDICT = "verdict.md"  # the verdict: head and tail against chance, extinction, quality, active causes
COMPARISON = "compare.html"  # `report A B ...`: the page comparing runs, by default beside them
TENSORBOARD = "tensorboard"

# -- row names in the tables ----------------------------------------------------------------------------------
UNRECOGNISABLE = "unrecognisable"  # metrics.csv's extra row (class_index -1): samples judged as no class
ALL = "all"  # aggregate.csv's run-level rows (class_index -1), from summary.csv

REAL = "real"  # the provenance source of real images; synthetic ones come from 'gen<k>'
_SEED_DIR = re.compile(r"seed_(\d+)")
_MULTISEED_ENTRIES = re.compile(
    rf"seed_\d+|{re.escape(AGGREGATE)}|{PLOTS}|{DONE}|{re.escape(VERDICT)}|{re.escape(REPORT)}|{GRIDS}|{re.escape(COMPARISON)}"
    rf"|{ARM_LOGS}")  # the launchers' logs, when `run --seeds` runs its seeds as jobs


def filmstrip_name(class_name: str) -> str:
    """class_<name>.png, under GRIDS: one class, a row per generation."""
    return f"class_{class_name}.png"


def generation_name(generation: int) -> str:
    """gen_XXX, the name of a generation's folder (and of its TensorBoard events)."""
    return f"gen_{generation:03d}"


def generation_dir(run: Path, generation: int) -> Path:
    """RUN/gen_XXX."""
    return Path(run) / generation_name(generation)


def finished_generations(run: Path) -> list[int]:
    """0, 1, ... up to the first generation without a DONE marker."""
    # A generation after a missing one learnt from samples that no longer exist, so it does not count.
    gens = []
    while (generation_dir(run, len(gens)) / DONE).is_file():
        gens.append(len(gens))
    return gens


def mark_done(folder: Path) -> None:
    """Write the DONE marker: everything else in `folder` is complete."""
    atomic_write_text(Path(folder) / DONE, "")


def drop_weights(model_dir: Path, why: str) -> None:
    """Delete a saved model's weights (every file but its small JSON configs and pointers) and leave NOT_KEPT in
    their place, saying why; a no-op on a folder that has no weights left."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir() or (model_dir / NOT_KEPT).is_file():
        return
    atomic_write_text(model_dir / NOT_KEPT, why + "\n")  # first, so a kill mid-way still reads as not kept
    for path in sorted(model_dir.rglob("*"), reverse=True):  # files before the folders that hold them
        if path.is_file() and path.suffix != ".json" and path.name != NOT_KEPT:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def weights_kept(model_dir: Path) -> bool:
    """Whether a saved model still has its weights (drop_weights has not run on it)."""
    return not (Path(model_dir) / NOT_KEPT).is_file()


def unmark_from(run: Path, generation: int) -> None:
    """Remove the DONE of `generation`, of every later one and of the run, before `generation` is recomputed."""
    # Later generations learnt from the samples about to be replaced; a kill mid-way must not leave them "done".
    (Path(run) / DONE).unlink(missing_ok=True)
    for folder in Path(run).glob("gen_*"):
        if folder.is_dir() and folder.name[4:].isdigit() and int(folder.name[4:]) >= generation:
            (folder / DONE).unlink(missing_ok=True)


# -- multi-seed folders ---------------------------------------------------------------------------------------
def seed_dirs(root: Path) -> list[Path]:
    """The ROOT/seed_<s> folders holding a run, in seed order."""
    found = [p for p in Path(root).glob("seed_*") if _SEED_DIR.fullmatch(p.name) and (p / CONFIG).is_file()]
    return sorted(found, key=lambda p: int(_SEED_DIR.fullmatch(p.name)[1]))


def seed_dir(root: Path, seed: int) -> Path:
    """ROOT/seed_<s>."""
    return Path(root) / f"seed_{seed}"


def is_run(folder: Path) -> bool:
    """Whether `folder` holds a single run."""
    return (Path(folder) / CONFIG).is_file()


def is_multiseed(root: Path) -> bool:
    """Whether `root` is a multi-seed run folder."""
    return not is_run(root) and bool(seed_dirs(root))


def single_runs(folder: Path) -> list[Path]:
    """The single runs inside `folder` (itself, or its seed folders); a one-line error if it holds none."""
    if is_run(folder):
        return [Path(folder)]
    if is_multiseed(folder):
        return seed_dirs(folder)
    raise UserError(f"{str(folder)!r} is not a run folder (no {CONFIG}); pass a folder made by 'vision-collapse run'")


def check_multiseed_root(root: Path) -> None:
    """Refuse a --seeds folder that holds a single run or someone else's files."""
    root = Path(root)
    if is_run(root):
        raise UserError(f"{str(root)!r} holds a single-seed run; use another --out for --seeds")
    if root.is_dir() and any(not (_MULTISEED_ENTRIES.fullmatch(p.name) or is_temporary(p)) for p in root.iterdir()):
        raise UserError(f"--out {str(root)!r} is not empty and holds no multi-seed run; choose an empty or new folder")


# -- creating, checking and resuming ----------------------------------------------------------------------------
def read_config(run: Path) -> ExperimentConfig:
    """The resolved config a run folder was made with (a multi-seed folder: its first seed's)."""
    single = seed_dirs(run)[0] if is_multiseed(run) else Path(run)
    return config_from_yaml_text((single / CONFIG).read_text())


def stored_config(run: Path) -> ExperimentConfig | None:
    """The config RUN/config.yaml holds; None when there is none or it is unreadable."""
    try:
        return config_from_yaml_text((Path(run) / CONFIG).read_text())
    except (OSError, UserError):
        return None


def finished_with(run: Path, cfg: ExperimentConfig) -> bool:
    """Whether RUN is a finished run (DONE) made with exactly `cfg`: nothing is left to do there."""
    return (Path(run) / DONE).is_file() and stored_config(run) == cfg


def prepare_run_folder(cfg: ExperimentConfig, run: Path, force: bool) -> None:
    """Create the run folder, or check that an existing one holds the same config so it can be resumed."""
    config_path = Path(run) / CONFIG
    if run.exists() and not run.is_dir():
        raise UserError(f"--out {str(run)!r} is a file, not a folder; choose another --out")
    if run.is_dir() and not config_path.is_file() and any(not is_temporary(p) for p in run.iterdir()):
        # Not ours: never write into, let alone --force-delete, a folder holding someone else's files.
        raise UserError(f"--out {str(run)!r} is not empty and holds no run; choose an empty or new folder")
    if config_path.is_file() and not force:
        old = stored_config(run)
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
            atomic_write_text(config_path, config_to_yaml(cfg))
        except OSError as exc:
            raise UserError(f"cannot write the run folder {str(run)!r} ({exc.strerror}); choose a writable --out") from None
    remove_stale_temporaries(run)  # what a killed run left half-written, config.yaml's included


def remove_stale_temporaries(run: Path) -> None:
    """Delete the half-written temporaries that a killed run leaves behind (never finished files)."""
    for stale in sorted((p for p in Path(run).rglob(".*.tmp*") if is_temporary(p)), reverse=True):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def record_session(run: Path, session: dict) -> None:
    """Append this session's software and hardware to RUN/run.json (a resumed run lists every session)."""
    path = Path(run) / RUN_INFO
    sessions = read_json(path).get("sessions", [])
    write_json(path, {"sessions": sessions + [session]})


# -- writers and readers ------------------------------------------------------------------------------------------
def atomic_save_png(path: Path, image) -> None:
    """Atomically write a PIL image as PNG."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def atomic_save_dir(path: Path, save) -> None:
    """Call `save(tmp_dir)` and then rename the finished folder to `path`, replacing an old one."""
    path = Path(path)
    tmp = temporary_sibling(path)
    shutil.rmtree(tmp, ignore_errors=True)
    save(tmp)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)


def format_value(value) -> str:
    """A CSV cell: floats at 8 significant digits so files are readable and stable; flags as 1 or 0, so that
    every column reads as a number (and a mean across seeds is a share)."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "nan" if np.isnan(value) else format(float(value), ".8g")
    return str(value)


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> None:
    """Atomically write dict rows with the first row's keys (or `columns`) as the header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = columns or (list(rows[0]) if rows else None)
    if header:
        writer.writerow(header)
        for row in rows:
            writer.writerow(format_value(row[k]) for k in header)
    atomic_write_text(path, buf.getvalue())


def read_table(path: Path) -> list[dict]:
    """Rows of a CSV as dicts of strings; [] when the file does not exist (yet)."""
    if not Path(path).is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def write_json(path: Path, value) -> None:
    """Atomically write indented JSON."""
    atomic_write_text(path, json.dumps(value, indent=2) + "\n")


def read_json(path: Path) -> dict:
    """A JSON file's object; {} when the file does not exist (yet)."""
    return json.loads(Path(path).read_text()) if Path(path).is_file() else {}


def write_generation_tables(out: Path, rows: list[dict], summary: dict, chance: list[dict],
                            confusion: np.ndarray | None, class_names: tuple[str, ...]) -> None:
    """A measured generation's tables in `out`: metrics.csv (its class rows), summary.csv (its summary row),
    chance.csv (its chance rows) and, for a conditional model, confusion.csv (conditioning x judged counts, the
    last column unrecognisable)."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / METRICS, rows)
    write_csv(out / SUMMARY, [summary])
    write_csv(out / CHANCE, chance, CHANCE_COLUMNS)
    if confusion is not None:
        names = list(class_names) + [UNRECOGNISABLE]
        write_csv(out / CONFUSION, [{"conditioning": names[c], **dict(zip(names, row.tolist()))}
                                    for c, row in enumerate(confusion)])


def write_run_tables(run: Path, generations: list[int]) -> None:
    """Rebuild RUN/metrics.csv, RUN/summary.csv and RUN/chance.csv from these generations' folders."""
    rows, summaries, chance = [], [], []
    before = read_table(Path(run) / CHANCE)  # a run begun before generations kept their own chance rows
    for g in generations:
        rows += read_table(generation_dir(run, g) / METRICS)
        summaries += read_table(generation_dir(run, g) / SUMMARY)
        own = generation_dir(run, g) / CHANCE
        chance += read_table(own) if own.is_file() else [r for r in before if r["generation"] == str(g)]
    write_csv(Path(run) / METRICS, rows)
    write_csv(Path(run) / SUMMARY, summaries)
    # grouped by test, generation by generation within each, as the table has always been read
    write_csv(Path(run) / CHANCE, sorted(chance, key=lambda r: CHANCE_ORDER.index((r["test"], r["share"]))),
              CHANCE_COLUMNS)


# -- provenance ids -----------------------------------------------------------------------------------------------
def sample_ids(generation: int, start: int, count: int) -> list[str]:
    """Ids 'gen<k>/<n>' of a generation's samples n = start .. start + count - 1."""
    return [f"gen{generation}/{i}" for i in range(start, start + count)]


def is_real(item_id: str) -> bool:
    """Whether an id names a real image ('real/<dataset>/<path>')."""
    return item_id.startswith(REAL + "/")


def provenance(item_id: str) -> tuple[str, int]:
    """(source, generation it came from): ('real', -1) or ('gen<k>', k)."""
    if is_real(item_id):
        return REAL, -1
    source = item_id.split("/", 1)[0]
    return source, int(source[3:])


# -- sample shards --------------------------------------------------------------------------------------------------
def _npz_bytes(arrays: dict, compressed: bool = True) -> bytes:
    """An .npz file's bytes."""
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _numpy(shard) -> dict[str, np.ndarray]:
    """A shard's tensors as arrays; conditioning -1 when the samples were drawn unconditionally."""
    cond = shard.conditioning if shard.conditioning is not None else torch.full_like(shard.judged.labels, -1)
    return {"images": shard.images.numpy(), "labels": shard.carried.numpy(), "judged": shard.judged.labels.numpy(),
            "conditioning": cond.numpy()}


def write_shard(gen_dir: Path, index: int, shard, ids: list[str], class_names: tuple[str, ...]) -> None:
    """Store shard `index` of a generation's samples: uint8 images, carried-on, judged and conditioning labels, ids."""
    arrays = {**_numpy(shard), "ids": np.array(ids, dtype=str), "class_names": np.array(class_names)}
    atomic_write_bytes(Path(gen_dir) / SAMPLES / f"shard_{index:05d}.npz", _npz_bytes(arrays))


def shard_paths(gen_dir: Path) -> list[Path]:
    """A generation's sample shards, in order."""
    return sorted((Path(gen_dir) / SAMPLES).glob("shard_*.npz"))


def has_samples(gen_dir: Path) -> bool:
    """Whether a generation folder holds samples."""
    return bool(shard_paths(gen_dir))


def read_sample_arrays(gen_dir: Path) -> dict[str, np.ndarray]:
    """Every shard's arrays concatenated: images, labels, judged, conditioning, ids, and class_names once."""
    parts = []
    for path in shard_paths(gen_dir):
        with np.load(path) as z:
            parts.append({k: z[k] for k in z.files})
    if not parts:
        raise FileNotFoundError(f"no samples in {Path(gen_dir) / SAMPLES}")
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "class_names"}
    out["class_names"] = parts[0]["class_names"]
    return out


def load_samples(gen_dir: Path) -> tuple[LabelledImages, torch.Tensor]:
    """A generation's samples as written shard by shard: (labelled samples, judged labels)."""
    z = read_sample_arrays(gen_dir)
    samples = LabelledImages(
        torch.from_numpy(z["images"]),
        torch.from_numpy(z["labels"]),
        tuple(str(i) for i in z["ids"]),
        tuple(str(n) for n in z["class_names"]),
    )
    return samples, torch.from_numpy(z["judged"])


def write_candidates(gen_dir: Path, index: int, shard) -> None:
    """Store a whole shard of curation candidates, with the judge's view, features and scores."""
    arrays = {**_numpy(shard), "judged_features": shard.judged.features.numpy(), "probs": shard.judged.probs.numpy(),
              "features": shard.features.numpy(), "score": shard.score}
    atomic_write_bytes(Path(gen_dir) / CANDIDATES / f"candidates_{index:05d}.npz", _npz_bytes(arrays, compressed=False))


def read_candidates(gen_dir: Path, index: int) -> dict[str, np.ndarray]:
    """What `write_candidates` stored for shard `index`."""
    with np.load(Path(gen_dir) / CANDIDATES / f"candidates_{index:05d}.npz") as z:
        return {k: z[k] for k in z.files}


def remove_candidates(gen_dir: Path) -> None:
    """Drop a generation's curation candidates (before drawing them anew, and once the kept ones are written)."""
    shutil.rmtree(Path(gen_dir) / CANDIDATES, ignore_errors=True)


def remove_samples(gen_dir: Path) -> None:
    """Drop a killed attempt's sample shards before writing them anew."""
    shutil.rmtree(Path(gen_dir) / SAMPLES, ignore_errors=True)
