"""The mechanism survey: each cause of head-ward collapse switched on alone, then together, for each generative
model and for a perfect generator under the same pipeline, over several seeds.

    python scripts/survey.py [--datasets digits,fashion-mnist] [--models perfect,gmm,vae,diffusion_uncond,diffusion]
                             [--arms none,combination] [--seeds 0-4] [--jobs 2] [--out runs/survey]
                             [--set KEY=VALUE ...] [--write docs/survey.md] [--tables-only]

Every arm starts from configs/survey/<dataset>.yaml, where every cause is off (labels sampled at the real counts
exactly, temperature 1, conditioning labels, no curation), takes the model and train sections of its model's config
(MODELS) and switches causes on with overrides. Arms run as parallel processes into
OUT/<dataset>/<model>/<arm>/seed_<s>/ and resume when re-run. Each row gives the mean change of the calibrated head
and tail shares (recognised samples only) from generation 0 to the last, with 95% t intervals over seeds, the share of
seeds flagged by the level and compounding tests, the rarest class's `toward_head` at the last generation, the
judge's extinct classes, and the model effect: the change minus that of the perfect generator under the same
pipeline, paired by seed. OUT/<dataset>/survey.csv holds every row.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from vision_collapse import run_folder as rf
from vision_collapse.errors import UserError
from vision_collapse.metrics.aggregate import ci_columns, ci_text, mean_ci, paired, seed_changes
from vision_collapse.studies.arms import Arm, add_arm_options, arm_table, run_arms
from vision_collapse.studies.attribute import PERFECT_OVERRIDES
from vision_collapse.studies.launch import launch_from_args
from vision_collapse.studies.multiseed import parse_seeds

UNCONDITIONAL = ("loop.label_source=none",)
PIPELINE = ("loop.label_sampling=proportional", "loop.label_source=classifier", "loop.curation_choice=4")
UNCONDITIONAL_PIPELINE = (*UNCONDITIONAL, "loop.curation_choice=4")  # no labels to resample or to take from a tagger
TEMPERATURE = ("model.temperature=0.8",)


@dataclass(frozen=True)
class Model:
    """One model of the axis: its config (whose model and train sections the arms take) and its arms."""

    config: str  # '' keeps the dataset config's model (the GMM)
    label: str
    arms: tuple[tuple[Arm, str], ...]  # (arm, the perfect generator's arm of the same pipeline or '')


def _arms(conditional: bool, *extra: tuple[Arm, str]) -> tuple[tuple[Arm, str], ...]:
    """The arms every model has: no cause, temperature 0.8 alone, the realistic combination; then `extra`."""
    base = () if conditional else UNCONDITIONAL
    pipeline = PIPELINE if conditional else UNCONDITIONAL_PIPELINE
    twin = "" if conditional else "_uncond"
    return ((Arm("none", base, "no cause"), f"none{twin}"),
            (Arm("temperature", (*base, *TEMPERATURE), "temperature 0.8"), f"none{twin}"),
            (Arm("combination", (*pipeline, *TEMPERATURE), "realistic combination: finite resampling, biased labels, "
                 "curation, temperature 0.8" if conditional else "realistic combination: curation, temperature 0.8"),
             f"combination{twin}"), *extra)


MODELS = {
    # The same pipelines with held-out real images in place of samples: what the pipeline does with no model error.
    # Temperature and guidance are the model's knobs, so their arms pair with the perfect generator's null.
    "perfect": Model("", "perfect generator (model.kind=real)", (
        (Arm("none", PERFECT_OVERRIDES, "no cause"), ""),
        (Arm("combination", (*PIPELINE, *PERFECT_OVERRIDES), "the combination's pipeline"), ""),
        (Arm("none_uncond", (*UNCONDITIONAL, *PERFECT_OVERRIDES), "unconditional, no cause"), ""),
        (Arm("combination_uncond", (*UNCONDITIONAL_PIPELINE, *PERFECT_OVERRIDES),
             "unconditional, the combination's pipeline"), ""))),
    "gmm": Model("", "Gaussian mixture per class", _arms(
        True,
        (Arm("finite_resampling", ("loop.label_sampling=proportional",), "finite resampling"), ""),
        (Arm("pca_truncation", ("model.pca_dim=16",), "capacity: PCA truncated to 16 dimensions"), "none"),
        (Arm("biased_labels", ("loop.label_source=classifier",), "biased labels: classifier trained on the subset"), ""),
        (Arm("curation", ("loop.curation_choice=4",), "curation: 1-of-4 choice by the labeller's confidence"), ""))),
    "vae": Model("configs/vae.yaml", "conditional VAE", _arms(True)),
    "diffusion_uncond": Model("configs/diffusion-uncond.yaml", "unconditional diffusion", _arms(False)),
    "diffusion": Model("configs/diffusion.yaml", "conditional diffusion", _arms(
        True, (Arm("guidance", ("model.guidance_scale=3",), "guidance 3"), "none"))),
}
PERFECT = "perfect"
DEFAULT_MODELS = {"digits": tuple(MODELS), "fashion-mnist": ("perfect", "gmm", "vae")}


def model_overrides(model: str) -> list[str]:
    """KEY=VALUE overrides that give the dataset config the model and train sections of the model's config."""
    if not MODELS[model].config:
        return []
    sections = yaml.safe_load(Path(MODELS[model].config).read_text())
    out = []
    for section in ("model", "train"):
        for key, value in (sections.get(section) or {}).items():
            text = f"[{','.join(map(str, value))}]" if isinstance(value, list) else str(value)
            out.append(f"{section}.{key}={text}")
    return out


def survey_rows(dataset: str, models: list[str], arms: list[str] | None, seeds: list[int], out: Path, launch,
                overrides: list[str], run: bool) -> list[dict]:
    """Run (unless `run` is false) every chosen arm of every model on one dataset and return the table's rows,
    each with its model effect against the perfect generator's arm of the same pipeline, paired by seed."""
    config = Path("configs/survey") / f"{dataset}.yaml"
    chosen = {m: [(a, twin) for a, twin in MODELS[m].arms if arms is None or a.name in arms] for m in models}
    if PERFECT not in models:  # the model effect needs the perfect generator's arms of the same pipelines
        chosen[PERFECT] = []
    needed = {twin for m in models if m != PERFECT for _, twin in chosen[m] if twin}
    chosen[PERFECT] = [(a, t) for a, t in MODELS[PERFECT].arms if any(a is b for b, _ in chosen[PERFECT])
                       or a.name in needed]
    if run:
        for model in [PERFECT, *[m for m in models if m != PERFECT]]:
            if chosen[model]:
                run_arms(config, [*model_overrides(model), *overrides], [a for a, _ in chosen[model]], seeds,
                         out / dataset / model, launch)
    perfect = {a.name: {s: seed_changes(rf.seed_dir(out / dataset / PERFECT / a.name, s)) for s in seeds}
               for a, _ in chosen[PERFECT]}
    rows = []
    for model in [m for m in MODELS if m in models]:
        table = arm_table(out / dataset / model, [a for a, _ in chosen[model]], seeds)
        for row, (arm, twin) in zip(table, chosen[model]):
            mine = {s: seed_changes(rf.seed_dir(out / dataset / model / arm.name, s)) for s in seeds}
            for key in ("head", "tail"):
                ci = paired(mine, perfect[twin], key) if twin else mean_ci([])
                row.update(ci_columns(f"model_effect_{key}", ci))
            rows.append({"model": model, "twin": twin, **row})
    return rows


HEADER = """# Mechanism survey: what moves the class histogram toward the head, model by model

Generated by `{command}` (re-running resumes). Each arm starts from `configs/survey/<dataset>.yaml`, where every cause
is off, takes its model's `model` and `train` sections (the GMM of the survey config, `configs/vae.yaml`,
`configs/diffusion.yaml`, `configs/diffusion-uncond.yaml`) and switches causes on with the overrides shown. Every
number is a change from generation 0 to the last generation (replace loop), with a 95% Student-t interval over the
seeds: the calibrated share of the head class and of the rarest 30% of classes among recognised samples, and the
classes the judge calls extinct. The flag columns give the share of seeds whose last generation lies beyond the
loop's null twin (p ≤ 0.05, so 5% of seeds under the null): "level" from the real subset, "compounding" in the
change since generation 0. "Toward head" is the rarest class's `toward_head` at the last generation (0 at its own
class, 1 at the head's), with the share of seeds above its floor's p95, then the mean over the non-head classes with
enough samples to measure (an unconditional chain's rarest class has often vanished: NaN). "Head's take" is
`head_absorption` at the last generation against the real subset, over the seeds whose tail lost mass. A seed
whose last generation has fewer than `eval.min_recognised` recognised samples has no shares there (its
unrecognisable share says so) and drops out of the share columns, which then count fewer seeds than the `seeds`
column. The perfect generator's rows run each pipeline with held-out real images in place of samples; the **model
effect** is a model arm's change minus the perfect generator's under the same pipeline (its `twin`), paired by
seed: what the model adds to what the pipeline does alone. Temperature and guidance are the model's knobs, so
their arms pair with the perfect generator's no-cause pipeline.
"""


def markdown(dataset: str, rows: list[dict], real: tuple[float, float] | None) -> str:
    """One dataset's table; `real` is the real subset's (head, tail) share."""
    lines = [f"### {dataset}", ""]
    if real:
        lines += [f"Real subset: head share {real[0]:.3f}, tail share {real[1]:.3f}.", ""]
    lines += ["| model | arm | overrides | seeds | head share change [95% CI] | tail share change [95% CI] | "
              "head flagged: level / compounding | tail flagged: level / compounding | toward head: rarest class "
              "(share beyond its floor); class mean | head's take of the tail's loss (1 = proportional) | extinct "
              "(judge) change | unrecognisable at the last generation | model effect on head | model effect on tail |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        overrides = " ".join(o for o in r["overrides"].split() if o not in PERFECT_OVERRIDES) or "-"
        name = MODELS[r["model"]].label
        if not r["seeds"]:
            lines.append(f"| {name} | {r['label']} | `{overrides}` | 0 | not run yet: re-run the command to resume |"
                         + " |" * 9)
            continue
        beyond = r["toward_rarest_beyond_share"]
        toward = f"{ci_text(r, 'toward_rarest')} ({beyond:.0%})" if beyond == beyond else ci_text(r, "toward_rarest")
        toward += f"; mean {ci_text(r, 'toward_mean')}"
        effect = (lambda side: ci_text(r, f"model_effect_{side}") + f" vs {r['twin']}") if r["twin"] else (lambda _: "–")
        lines.append(f"| {name} | {r['label']} | `{overrides}` | {r['seeds']} | {ci_text(r, 'head_change')} | "
                     f"{ci_text(r, 'tail_change')} | {r['head_level_share']:.0%} / {r['head_compounding_share']:.0%} | "
                     f"{r['tail_level_share']:.0%} / {r['tail_compounding_share']:.0%} | {toward} | "
                     f"{ci_text(r, 'head_absorption', '')} | {ci_text(r, 'extinct_change')} | "
                     f"{ci_text(r, 'unrecognisable_last', '')} | "
                     f"{effect('head')} | {effect('tail')} |")
    return "\n".join(lines) + "\n"


def generation_zero_quality(folder: Path, seeds: list[int]) -> dict:
    """Mean and 95% CI over the finished seeds of one arm's generation-0 quality: FID at its own class mix and that
    FID's real floor (p95), label fidelity (mean over classes; conditional models) and the unrecognisable share."""
    values: dict[str, list[float]] = {k: [] for k in ("fid_at_labels", "fid_at_labels_floor_p95", "label_fidelity",
                                                      "unrecognisable_share")}
    for s in seeds:
        run = rf.seed_dir(folder, s)
        if not (run / rf.DONE).is_file():
            continue
        first = rf.read_table(run / rf.SUMMARY)[0]
        for key in ("fid_at_labels", "fid_at_labels_floor_p95", "unrecognisable_share"):
            values[key].append(float(first[key]))
        fidelity = [float(r["label_fidelity"]) for r in rf.read_table(run / rf.METRICS)
                    if r["generation"] == "0" and int(r["class_index"]) >= 0]
        values["label_fidelity"].append(float(np.nanmean(fidelity)) if np.isfinite(fidelity).any() else np.nan)
    return {k: mean_ci(v) for k, v in values.items()}


def quality_markdown(out: Path, models: list[str], seeds: list[int]) -> str:
    """Each model's generation-0 quality in its no-cause arm, so a reader can judge whether it means anything."""
    lines = ["Generation-0 quality of each model with every cause off (mean [95% CI] over seeds): FID of the samples "
             "at their own class mix against the real floor's p95 (real calibration images with the same class "
             "counts), label fidelity (conditional models: the share of samples the judge reads as their label) "
             "and the unrecognisable share.", "",
             "| model | arm | seeds | FID at labels | real floor (p95) | label fidelity | unrecognisable |",
             "|---|---|---|---|---|---|---|"]
    for model in [m for m in MODELS if m in models]:
        for arm in ("none", "none_uncond") if model == PERFECT else ("none",):
            q = generation_zero_quality(out / model / arm, seeds)
            if not q["fid_at_labels"]["seeds"]:
                continue

            def cell(key: str, digits: int) -> str:
                return ci_text(ci_columns(key, q[key]), key, sign="", digits=digits)

            lines.append(f"| {MODELS[model].label} | {arm} | {q['fid_at_labels']['seeds']} | {cell('fid_at_labels', 1)} "
                         f"| {cell('fid_at_labels_floor_p95', 1)} | {cell('label_fidelity', 3)} | "
                         f"{cell('unrecognisable_share', 3)} |")
    return "\n".join(lines) + "\n"


def real_shares(folder: Path, seeds: list[int]) -> tuple[float, float] | None:
    """The real subset's calibrated head and tail shares, from the first run's baseline.csv found."""
    for run in sorted(folder.glob("*/*/seed_*")):
        if (run / rf.BASELINE).is_file():
            row = rf.read_table(run / rf.BASELINE)[0]
            return float(row["head_share_calibrated"]), float(row["tail_share_calibrated"])
    return None


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, with datasets, models and arms checked before anything runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="digits,fashion-mnist", help="datasets with a configs/survey/ config")
    parser.add_argument("--models", help=f"models to run, of {', '.join(MODELS)} (default: per dataset, "
                        f"{'; '.join(f'{d}: ' + ','.join(m) for d, m in DEFAULT_MODELS.items())})")
    parser.add_argument("--arms", help="only these arms (by name), e.g. none,combination (default: every arm)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="an override for every arm, e.g. --set loop.generations=3 (repeatable)")
    add_arm_options(parser, "0-4", "runs/survey")
    parser.add_argument("--write", type=Path, help="also write the tables into this Markdown file")
    args = parser.parse_args(argv)
    for dataset in args.datasets.split(","):
        if not (Path("configs/survey") / f"{dataset}.yaml").is_file():
            known = ", ".join(sorted(p.stem for p in Path("configs/survey").glob("*.yaml")))
            raise UserError(f"no survey config for dataset {dataset!r}; choose from {known}")
    for model in (args.models or "").split(",") if args.models else []:
        if model not in MODELS:
            raise UserError(f"unknown survey model {model!r}; choose from {', '.join(MODELS)}")
    known_arms = {a.name for m in MODELS.values() for a, _ in m.arms}
    for arm in args.arms.split(",") if args.arms else []:
        if arm not in known_arms:
            raise UserError(f"unknown survey arm {arm!r}; choose from {', '.join(sorted(known_arms))}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every arm of every model and dataset, print the tables and optionally write them to a Markdown file."""
    try:
        args = parse(argv)
        seeds, tables = parse_seeds(args.seeds), []
        for dataset in args.datasets.split(","):
            models = args.models.split(",") if args.models else list(DEFAULT_MODELS.get(dataset, MODELS))
            rows = survey_rows(dataset, models, args.arms.split(",") if args.arms else None, seeds, args.out,
                               launch_from_args(args), args.overrides, not args.tables_only)
            rf.write_csv(args.out / dataset / "survey.csv", rows)
            tables.append(markdown(dataset, rows, real_shares(args.out / dataset, seeds)) + "\n"
                          + quality_markdown(args.out / dataset, models, seeds))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The command that makes the tables: --tables-only only re-reads what it made.
    given = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--tables-only"]
    command = " ".join(["python scripts/survey.py", *given])
    text = HEADER.format(command=command) + "\n" + "\n".join(tables)
    print(text)
    if args.write:
        args.write.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
