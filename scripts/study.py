"""Run a study behind a README or docs table one slice at a time, keeping each slice's small tables in results/.

    python scripts/study.py remedies/digits --part dose --seeds 0      # one slice: the dose arms, seed 0
    python scripts/study.py remedies/digits --seeds 0-4                # every part, every seed not yet kept
    python scripts/study.py remedies/digits --tables-only              # only re-tabulate what results/ holds

A study is a folder results/<study>/ of `vision-collapse remedy` arms (<arm>/seed_<s>/) and their tables
(dose.csv, remedies.csv). The runs go to a work folder (default runs/studies/<study>/), which first receives
what results/<study>/ already holds: a kept seed has its DONE marker, so it is never run again, and a fresh
clone resumes where the repository left off. After the slice, its small files go back to results/<study>/
(scripts/keep_results.py: no weights, no images) and each part's table is rewritten over every kept seed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from keep_results import keep  # noqa: E402

from vision_collapse.errors import UserError  # noqa: E402
from vision_collapse.studies.multiseed import parse_seeds  # noqa: E402
from vision_collapse.studies.remedy import remedy  # noqa: E402

RESULTS = Path("results")


@dataclass(frozen=True)
class Part:
    """One `vision-collapse remedy` command of a study; parts of one study share the runs their arms share."""

    name: str  # what --part calls it
    config: str
    overrides: tuple[str, ...] = ()
    only: str | None = None  # --only
    dose: str | None = None  # --dose


QUICK = "configs/quick.yaml"
FASHION = "configs/survey/fashion-mnist.yaml"
COMBINATION = ("loop.label_sampling=proportional", "loop.label_source=classifier", "loop.curation_choice=4",
               "model.temperature=0.8")
DOSE = Part("dose", QUICK, only="keep_real", dose="loop.real_fraction=0,0.05,0.1,0.2,0.5,1")
# keep_real is the dose's 0.1 arm (same overrides, same folder), and the reference is shared
REMEDIES = Part("remedies", QUICK, only="keep_real,accumulate,fresh_real,neon")
STUDIES = {
    # digits at the default's temperature 0.8; the dose at 1 is a sanity arm: the real subset every generation
    # must land at the reference's level (fresh real images every generation) within its interval
    "remedies/digits": (DOSE, REMEDIES),
    # sanity arm 1 again, on seeds of its own (5-9): on seeds 0-4 the real subset every generation ended above the
    # reference (fresh real images every generation) on every seed; new seeds tell chance from a cause
    "remedies/digits-replicate": (Part("dose", QUICK, only="keep_real", dose="loop.real_fraction=0,1"),),
    # the same at temperature 1, where the sampler adds no bias of its own
    "remedies/digits-t1": (Part("dose", QUICK, ("model.temperature=1.0",), only="keep_real",
                                dose="loop.real_fraction=0,0.1,0.5"),),
    # a sanity arm: the synthetic half drawn by the perfect generator (held-out real images) must stay at the
    # real level, so whatever the dose leaves on digits is the model's
    "remedies/digits-perfect": (Part("dose", QUICK, ("model.kind=real", "model.temperature=1"), only="keep_real",
                                     dose="loop.real_fraction=0,0.5"),),
    # Fashion-MNIST's realistic combination (conditional GMM: finite resampling, labels from a biased tagger, K = 4
    # curation, temperature 0.8); needs Debian's dataset-fashion-mnist
    "remedies/fashion-mnist": tuple(Part(p.name, FASHION, COMBINATION, p.only, p.dose) for p in (DOSE, REMEDIES)),
}


def study_parts(name: str, part: str | None) -> tuple[Part, ...]:
    """The parts of study `name` (only `part`, when given); one line naming the known ones otherwise."""
    if name not in STUDIES:
        raise UserError(f"no study {name!r}; known: {', '.join(STUDIES)}")
    parts = tuple(p for p in STUDIES[name] if part in (None, p.name))
    if not parts:
        raise UserError(f"study {name!r} has no part {part!r}; its parts: {', '.join(p.name for p in STUDIES[name])}")
    return parts


def run_study(parts: tuple[Part, ...], seeds: list[int], kept: Path, work: Path,
              launch=1,  # how runs start (studies.arms.run_arms): an int of local processes, a Launch, or InProcess
              run: bool = True) -> None:
    """Seed `work` from `kept` (results/<study>), run `parts` over `seeds` there (each part's table over those and
    every seed already kept), and keep the slice's small files and the tables back in `kept`."""
    work.mkdir(parents=True, exist_ok=True)
    if kept.is_dir():
        shutil.copytree(kept, work, dirs_exist_ok=True)  # a kept seed keeps its DONE: run_arms skips it
    done = {int(p.name.removeprefix("seed_")) for p in work.glob("*/seed_*") if (p / "DONE").is_file()}
    for part in parts:
        args = (Path(part.config), list(part.overrides))
        if run:  # this slice's seeds only: a part new to the study must not run the seeds other parts kept
            remedy(*args, seeds, work, launch, part.only, part.dose)
        # the table over every kept seed, from the small files alone, which is all a kept seed has
        remedy(*args, sorted(done | set(seeds)), work, launch, part.only, part.dose, run=False)
    keep(work, kept)


def main(argv: list[str] | None = None) -> int:
    """Run the slice the arguments name."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", help=f"one of: {', '.join(STUDIES)}")
    parser.add_argument("--part", help="only this part of the study (default: every part)")
    parser.add_argument("--seeds", default="0-4", help="seeds of this slice, e.g. 0 or 0-4 (default 0-4)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (default 1; 2 only on an idle machine)")
    parser.add_argument("--work", type=Path, help="where the runs go (default runs/studies/<study>)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the kept tables go (default results)")
    parser.add_argument("--tables-only", action="store_true", help="re-tabulate what results/ holds, run nothing")
    args = parser.parse_args(argv)
    try:
        parts = study_parts(args.study, args.part)
        run_study(parts, parse_seeds(args.seeds), args.results / args.study,
                  args.work or Path("runs/studies") / args.study, args.jobs, not args.tables_only)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"kept under {args.results / args.study}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
