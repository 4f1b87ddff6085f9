"""The `vision-collapse` command: a thin layer over the library."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

import numpy as np

from vision_collapse.errors import UserError
from vision_collapse.studies.launch import add_launch_options, launch_from_args

DEFAULT_CONFIG = Path("configs/quick.yaml")


class _Parser(argparse.ArgumentParser):
    """argparse with its mistakes as one line, like every other bad input here (not usage plus an error), and no
    abbreviated flags: a prefix such as --seed would otherwise be taken as --seeds and start a multi-seed run."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        """Print one line naming the problem and where the options are listed, and exit 2."""
        _say(f"error: {message}; see {self.prog} --help", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    """The argument parser with its subcommands."""
    parser = _Parser(prog="vision-collapse", description="Recursive-training collapse testbed.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run or resume a recursive experiment")
    run.add_argument("items", nargs="*", metavar="CONFIG|KEY=VALUE",
                     help=f"a YAML config (default {DEFAULT_CONFIG}) then overrides such as loop.generations=8")
    run.add_argument("--out", type=Path, help="run folder (default runs/<config name>)")
    run.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    run.add_argument("--force", action="store_true", help="delete an existing run folder with another config and start over")
    run.add_argument("--seeds", metavar="LIST",
                     help="independent seeds such as 0,1,2 or 0-4: runs into OUT/seed_<s>/ and writes OUT/aggregate.csv")
    add_launch_options(run, "--seeds: run that many seeds at once as separate processes (default: one after "
                            "another in this process, or one per GPU on a machine with several)")
    run.add_argument("--perfect-twin", action="store_true",
                     help="then run the same pipeline through a perfect generator (model.kind=real) into OUT_perfect "
                          "and print both verdicts and what the model adds (one seed; attribute gives intervals)")
    attribute = sub.add_parser("attribute", help="run a config and, per active cause, the config with that cause off")
    attribute.add_argument("items", nargs="*", metavar="CONFIG|KEY=VALUE",
                           help=f"a YAML config (default {DEFAULT_CONFIG}) then overrides")
    attribute.add_argument("--seeds", default="0-4", metavar="LIST", help="seeds per arm, e.g. 0-4 (default)")
    attribute.add_argument("--out", type=Path, help="attribution folder (default runs/<config name>_attribution)")
    add_launch_options(attribute)
    remedy = sub.add_parser("remedy", help="run a config and, per remedy that applies, the config with it on")
    remedy.add_argument("items", nargs="*", metavar="CONFIG|KEY=VALUE",
                        help=f"a YAML config (default {DEFAULT_CONFIG}) then overrides")
    remedy.add_argument("--seeds", default="0-4", metavar="LIST", help="seeds per arm, e.g. 0-4 (default)")
    remedy.add_argument("--only", metavar="NAME,...",
                        help="only these remedies (the table in docs/remedies.md), e.g. keep_real,accumulate")
    remedy.add_argument("--dose", metavar="KEY=V1,V2,...",
                        help="run KEY at each value instead (on top of the --only remedies' switches) and write "
                             "dose.csv and dose.png, e.g. --only keep_real --dose loop.real_fraction=0,0.05,0.1,0.2")
    remedy.add_argument("--out", type=Path, help="remedy folder (default runs/<config name>_remedies)")
    remedy.add_argument("--tables-only", action="store_true", help="tabulate the seeds finished so far, run nothing")
    add_launch_options(remedy)
    data = sub.add_parser("datasets", help="list the datasets and where they are looked for, or one dataset's counts")
    data.add_argument("items", nargs="*", metavar="NAME|CONFIG|KEY=VALUE",
                      help="a dataset name or YAML config, then overrides such as data.root=~/data/dogs data.n_max=100")
    grid = sub.add_parser("grid", help="class x generation mosaic (or one class's filmstrip) under RUN/grids/")
    grid.add_argument("run", type=Path, help="a run folder, finished, partial or multi-seed")
    grid.add_argument("--class", dest="class_name", metavar="NAME", help="a filmstrip of one class, a row per generation")
    grid.add_argument("--gif", action="store_true", help="also an animated GIF over generations")
    grid.add_argument("--real", action="store_true", help="put real images of the training subset first")
    grid.add_argument("-n", type=int, default=0, metavar="N", help="samples per class and generation")
    plot = sub.add_parser("plot", help="redraw RUN/plots/*.png")
    plot.add_argument("run", type=Path, help="a run folder, finished, partial or multi-seed")
    plot.add_argument("--svg", action="store_true", help="also write every plot as SVG")
    report = sub.add_parser("report", help="write RUN/report.html, a self-contained page")
    report.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                        help="a run folder (finished, partial or multi-seed) or an attribute folder; several runs "
                             "give one page comparing them by the config keys in which they differ")
    report.add_argument("--out", type=Path, help="several runs: the comparison page (default compare.html beside "
                                                 "them)")
    compare = sub.add_parser("compare", help="overlay runs that differ in a few config keys")
    compare.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="two or more run folders")
    compare.add_argument("--metric", default="tail_share", help="a summary.csv column (default tail_share)")
    compare.add_argument("--out", type=Path, default=Path("."), help="folder for compare.png and compare.csv")
    export = sub.add_parser("export", help="write one generation's samples as PNGs in ImageFolder layout")
    export.add_argument("run", type=Path, help="a run folder")
    export.add_argument("--generation", type=int, required=True, metavar="G")
    export.add_argument("dir", type=Path, help="an empty or new folder: DIR/<class>/<n>.png")
    evaluate = sub.add_parser("evaluate", help="measure a folder of images against a run's or config's real data")
    evaluate.add_argument("images", type=Path, help="IMAGES/<class>/<image> (intended classes) or a flat folder")
    evaluate.add_argument("--reference", type=Path, required=True, metavar="CONFIG_OR_RUN",
                          help="a run folder (its judge and floors) or a YAML config")
    evaluate.add_argument("--out", type=Path, help="where metrics.csv and summary.csv go (default IMAGES_evaluation)")
    evaluate.add_argument("--generation", type=int, metavar="G",
                          help="IMAGES is generation G of the --reference run as `export` wrote it: measured with the "
                               "run's own draws, so an unconditional run's numbers come out exactly")
    return parser


def _split_items(items: list[str]) -> tuple[Path | None, list[str]]:
    """Separate the optional CONFIG path from the KEY=VALUE overrides."""
    if items and "=" not in items[0]:
        return Path(items[0]), items[1:]
    return (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None), items


def _require_run(run: Path) -> list[Path]:
    """The single runs inside `run` (itself, or its seed_<s> folders); one-line failure if it is not a run."""
    from vision_collapse.run_folder import single_runs

    return single_runs(run)


def _relaunch(processes: int, argv: list[str]) -> int:
    """Run this same command as `processes` DDP processes under accelerate launch (train.processes)."""
    import subprocess

    from vision_collapse.studies.launch import accelerate_command

    command, env = accelerate_command(processes, argv)
    _say(f"train.processes={processes}: starting {processes} processes under accelerate launch")
    return subprocess.run(command, env={**os.environ, **env}).returncode


def cmd_run(args) -> int:
    """vision-collapse run."""
    from vision_collapse.config import config_to_yaml, load_config

    config_path, overrides = _split_items(args.items)
    cfg = load_config(config_path, overrides)
    launching = [flag for flag, given in (("--jobs", args.jobs), ("--gpus", args.gpus),
                                          ("--launcher", args.launcher != "local")) if given]
    if launching and args.seeds is None:  # they start one job per seed; a single run would silently ignore them
        raise UserError(f"{launching[0]} starts one job per seed and needs --seeds (e.g. --seeds 0-4 {launching[0]} "
                        f"...); a single run takes several GPUs through train.processes")
    if args.dry_run:
        print(config_to_yaml(cfg), end="")
        return 0
    name = config_path.stem if config_path else "default"
    out = args.out or Path("runs") / name
    from vision_collapse.runtime import launched_processes

    if cfg.train.processes > 1 and launched_processes() == 1:
        return _relaunch(cfg.train.processes, args.argv)
    if args.perfect_twin and args.seeds is not None:
        raise UserError("--perfect-twin runs one seed beside the model; over several seeds, run vision-collapse "
                        f"attribute {config_path or DEFAULT_CONFIG} --seeds {args.seeds}")
    if cfg.log.tensorboard:
        from vision_collapse.viz.tensorboard import require_tensorboard

        require_tensorboard()
    from vision_collapse.studies.multiseed import parse_seeds
    from vision_collapse.viz.render import render_generation

    if args.seeds is not None:
        _run_seeds(config_path, overrides, parse_seeds(args.seeds), out, launch_from_args(args), args.force, name)
        return 0
    if not args.perfect_twin:
        from vision_collapse.loop.experiment import run_experiment

        run = run_experiment(cfg, out, force=args.force, after_generation=render_generation, name=name)
        _say(f"done: {run}  (metrics.csv, summary.csv, plots/, gen_*/, verdict.md)")
        _say_verdict(run)
        return 0
    _run_twin(config_path, overrides, out, args.force, name)
    return 0


def _run_seeds(config_path: Path | None, overrides: list[str], seeds: list[int], out: Path, launch, force: bool,
               name: str) -> None:
    """`run --seeds`: one arm of the arm runner into OUT/seed_<s>/, in this process (output streamed, plots drawn
    after each seed), or as jobs of a launcher (then the plots once at the end); then the verdict."""
    from vision_collapse import run_folder as rf
    from vision_collapse.studies.arms import Arm, InProcess, run_arms
    from vision_collapse.viz.plots import draw_plots
    from vision_collapse.viz.render import render_generation

    as_jobs = launch.launcher == "submitit" or launch.jobs > 1 or len(launch.gpus) > 1
    if as_jobs and force:
        raise UserError("--force starts seeds over one at a time; with --jobs, --gpus or --launcher, delete the "
                        "seed folders to start over instead")
    rf.check_multiseed_root(out)
    run_arms(config_path, overrides, [Arm("")], seeds, out,
             launch if as_jobs else InProcess(force, render_generation, draw_plots, name))
    if as_jobs:
        draw_plots(out)
    _say(f"done: {out}  (seed_*/, aggregate.csv, plots/, verdict.md)")
    _say_verdict(out)


def _run_twin(config_path: Path | None, overrides: list[str], out: Path, force: bool, name: str) -> None:
    """`run --perfect-twin`: the config and its pipeline through the perfect generator (OUT_perfect/), two single
    runs of the arm runner in this process; then both verdicts and what the model adds."""
    from vision_collapse.metrics.aggregate import model_effect, seed_changes
    from vision_collapse.studies.arms import Arm, InProcess, run_arms
    from vision_collapse.studies.attribute import PERFECT_OVERRIDES, perfect_twin_config
    from vision_collapse.viz.render import render_generation

    perfect_twin_config(config_path, overrides)  # one line, before anything runs, if it holds out no images
    model, twin = Arm(out.name), Arm(out.name + "_perfect", PERFECT_OVERRIDES, "perfect generator")
    run_arms(config_path, overrides, [model, twin], None, out.parent, InProcess(force, render_generation, name=name))
    run, perfect_run = out, out.with_name(twin.name)
    _say(f"done: {run}  (metrics.csv, summary.csv, plots/, gen_*/, verdict.md)")
    _say_verdict(run)
    _say(f"\nthe perfect-generator twin: {perfect_run}")
    _say_verdict(perfect_run)
    mine, perfect = seed_changes(run), seed_changes(perfect_run)
    added = {key: model_effect({0: mine}, {0: perfect}, key)["mean"] for key in ("head", "tail")}
    _say(f"\nwhat the model adds (generation 0 to the last, calibrated shares, this seed only): head "
         f"{mine['head']:+.3f} against the perfect generator's {perfect['head']:+.3f} "
         f"({added['head']:+.3f}); tail {mine['tail']:+.3f} against {perfect['tail']:+.3f} "
         f"({added['tail']:+.3f}). Over seeds: vision-collapse attribute {config_path} --seeds 0-4")


def _say_verdict(run: Path) -> None:
    """Write RUN/verdict.md and print it: the run's last lines answer whether the tail collapsed, and why."""
    from vision_collapse.runtime import is_main_process
    from vision_collapse.viz.verdict import write_verdict

    text = write_verdict(run) if is_main_process() else ""
    if text:
        print("\n" + text, end="")


def cmd_attribute(args) -> int:
    """vision-collapse attribute CONFIG [KEY=VALUE ...] [--seeds 0-4] [--out DIR] [--jobs N]."""
    from vision_collapse import run_folder as rf
    from vision_collapse.metrics.aggregate import ci_text
    from vision_collapse.studies.attribute import attribute
    from vision_collapse.studies.multiseed import parse_seeds
    from vision_collapse.viz.attribution import plot_attribution

    config_path, overrides = _split_items(args.items)
    if config_path is None:
        raise UserError("attribute needs a YAML config, e.g. vision-collapse attribute configs/quick.yaml")
    out = args.out or Path("runs") / f"{config_path.stem}_attribution"
    rows = attribute(config_path, overrides, parse_seeds(args.seeds), out, launch_from_args(args))
    plot_attribution(rows, out / rf.ATTRIBUTION_PLOT)
    for r in rows:
        print(f"{r['label']:60} head {ci_text(r, 'head_change')}  tail {ci_text(r, 'tail_change')}"
              f"  flagged (level/compounding) head {r['head_level_share']:.0%}/{r['head_compounding_share']:.0%},"
              f" tail {r['tail_level_share']:.0%}/{r['tail_compounding_share']:.0%} of {r['seeds']} seeds")
    full = rows[0]
    if np.isfinite(float(full.get("model_effect_head", np.nan))):
        print(f"beyond a perfect generator through the same pipeline, the model adds head "
              f"{ci_text(full, 'model_effect_head')}, tail {ci_text(full, 'model_effect_tail')} (paired by seed)")
    print(f"wrote {out / rf.ATTRIBUTION}, {out / rf.ATTRIBUTION_PLOT}")
    return 0


def cmd_remedy(args) -> int:
    """vision-collapse remedy CONFIG [KEY=VALUE ...] [--seeds 0-4] [--only NAME,...] [--dose KEY=V1,...]."""
    from vision_collapse import run_folder as rf
    from vision_collapse.metrics.aggregate import ci_text
    from vision_collapse.studies.multiseed import parse_seeds
    from vision_collapse.studies.remedy import remedy
    from vision_collapse.viz.attribution import plot_attribution
    from vision_collapse.viz.dose import plot_dose

    config_path, overrides = _split_items(args.items)
    if config_path is None:
        raise UserError("remedy needs a YAML config, e.g. vision-collapse remedy configs/quick.yaml")
    out = args.out or Path("runs") / f"{config_path.stem}_remedies"
    rows = remedy(config_path, overrides, parse_seeds(args.seeds), out, launch_from_args(args), args.only, args.dose,
                  run=not args.tables_only)
    if args.dose:
        plot_dose(rows, out / rf.DOSE_PLOT)
        for r in rows:
            print(f"{r['key']}={r['dose']:8} tail at the last generation {ci_text(r, 'tail_last')} (real subset "
                  f"{float(r['tail_real']):.3f}); flagged beyond chance in {float(r['tail_level_share']):.0%} of "
                  f"{r['seeds']} seeds{' (within chance)' if float(r['within_chance']) == 1 else ''}")
        print(f"wrote {out / rf.DOSE}, {out / rf.DOSE_PLOT}")
        return 0
    ran = [r for r in rows if not r["skipped"]]
    plot_attribution(ran, out / rf.REMEDIES_PLOT, "What each remedy leaves: the untreated config, then each remedy on")
    for r in ran:
        gave = "" if r["arm"] == "untreated" else (f"  gave back: tail {ci_text(r, 'tail_change_arm_minus_untreated')}, "
                                                   f"head {ci_text(r, 'head_change_arm_minus_untreated')}")
        print(f"{r['label']:50} head {ci_text(r, 'head_change')}  tail {ci_text(r, 'tail_change')}{gave}  "
              f"real/gen {float(r['real_per_generation']):.0f}  {float(r['wall_seconds']):.0f}s")
    print(f"wrote {out / rf.REMEDIES}, {out / rf.REMEDIES_PLOT}")
    return 0


def _say(text: str, file=None) -> None:
    """Print from the main process only (under `accelerate launch` the others stay quiet)."""
    from vision_collapse.runtime import is_main_process

    if is_main_process():
        print(text, file=file or sys.stdout)


def cmd_datasets(args) -> int:
    """vision-collapse datasets [NAME|CONFIG] [KEY=VALUE ...]."""
    from vision_collapse.config import DATASETS, load_config
    from vision_collapse.data import READERS, dataset_root, load_real_data

    items = list(args.items)
    config_path = None
    if items and "=" not in items[0]:
        first = items.pop(0)
        if first in DATASETS:
            items.insert(0, f"data.name={first}")
        else:
            config_path = Path(first)
    if config_path is None and not items:
        for name, reader in READERS.items():
            try:
                root = dataset_root(load_config(None, [f"data.name={name}"]).data)
                facts = ", ".join(f"{k} {v}" for k, v in reader.survey(root).items())
                print(f"{name:14} found     {str(root) if root else '(embedded)'}: {facts}")
            except UserError as exc:
                print(f"{name:14} not found {exc}")
        print("set data.root=DIR to look elsewhere, e.g. vision-collapse datasets stanford-dogs data.root=~/data/dogs")
        return 0
    cfg = load_config(config_path, items)
    real = load_real_data(cfg.data, cfg.seed)
    info = real.info
    print(f"{cfg.data.name} from {info['root']} at {info['resolution']}x{info['resolution']}, "
          f"{info['channels']} channel(s); "
          f"imbalance {cfg.data.imbalance}, head {real.subset.class_names[int(np.argmax(real.subset.class_counts()))]!r}")
    print(f"{'class':28} {'pool':>7} {'test':>7} {'subset':>7}")
    for name, pool, test, subset in zip(info["classes"], info["pool_counts"], info["test_counts"], info["subset_counts"]):
        print(f"{name:28} {pool:7d} {test:7d} {subset:7d}")
    print(f"{'total':28} {sum(info['pool_counts']):7d} {sum(info['test_counts']):7d} {sum(info['subset_counts']):7d}")
    if info.get("skipped"):
        print(f"skipped {len(info['skipped'])} unreadable image(s), e.g. {info['skipped'][0]}")
    return 0


def cmd_grid(args) -> int:
    """vision-collapse grid RUN [--class NAME] [--gif] [--real] [-n N]."""
    from vision_collapse.viz.run_grids import draw_grids

    paths = [p for run in _require_run(args.run)
             for p in draw_grids(run, args.class_name, args.gif, args.real, args.n)]
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_report(args) -> int:
    """vision-collapse report RUN [RUN ...] [--out FILE]."""
    from vision_collapse.viz.report import write_comparison, write_report

    if len(args.runs) == 1:
        if args.out:
            raise UserError("--out names the page comparing several runs; one run's page is RUN/report.html")
        print(f"wrote {write_report(args.runs[0])}")
    else:
        print(f"wrote {write_comparison(args.runs, args.out)}")
    return 0


def cmd_compare(args) -> int:
    """vision-collapse compare RUN_A RUN_B ... [--metric M] [--out DIR]."""
    from vision_collapse.viz.compare import compare_runs

    if len(args.runs) < 2:
        raise UserError("compare needs at least two run folders")
    for run in args.runs:
        _require_run(run)
    print("wrote " + ", ".join(str(p) for p in compare_runs(args.runs, args.metric, args.out)))
    return 0


def cmd_export(args) -> int:
    """vision-collapse export RUN --generation G DIR."""
    from vision_collapse.viz.export import export_generation

    _require_run(args.run)
    count = export_generation(args.run, args.generation, args.dir)
    print(f"wrote {count} PNGs under {args.dir}")
    return 0


def cmd_evaluate(args) -> int:
    """vision-collapse evaluate IMAGES --reference CONFIG_OR_RUN [--out DIR] [--generation G]."""
    from vision_collapse.loop.evaluate_images import evaluate_folder

    out = args.out or args.images.with_name(args.images.name + "_evaluation")
    s = evaluate_folder(args.images, args.reference, out, generation=args.generation).summary
    print(f"fid vs original {s['fid_vs_original']:.2f}, at labels {s['fid_at_labels']:.2f} (real floor p95 "
          f"{s['fid_at_labels_floor_p95']:.2f}); head share {s['head_share']:.3f}, tail share {s['tail_share']:.3f} "
          f"of {s['recognised_count']} recognised; unrecognisable {s['unrecognisable_share']:.3f}")
    print(f"wrote the per-class and summary tables into {out}")
    return 0


def cmd_plot(args) -> int:
    """vision-collapse plot RUN."""
    from vision_collapse.viz.plots import draw_plots

    runs = _require_run(args.run)
    paths = [p for run in runs if run != args.run for p in draw_plots(run, args.svg)] + draw_plots(args.run, args.svg)
    if not paths:
        raise UserError(f"{str(args.run)!r} has no finished generation yet; wait for generation 0 to end")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _nearest_flag(parser: argparse.ArgumentParser, command: str, extra: list[str]) -> str:
    """'; did you mean --seeds?' for the first unknown flag that is close to one of the subcommand's flags, or the
    KEY=VALUE form when the flag names a config key (--seed 3 is seed=3)."""
    import difflib

    from vision_collapse.config import all_keys

    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    flags = [f for action in sub._actions for f in action.option_strings if f.startswith("--")]
    keys = set(all_keys())
    for word in (e.split("=")[0] for e in extra if e.startswith("--")):
        hints = difflib.get_close_matches(word, flags, n=1, cutoff=0.6)
        if word[2:] in keys:
            hints.append(f"the config key {word[2:]}=VALUE")
        if hints:
            return f"; did you mean {' or '.join(hints)}?"
    return ""


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a subcommand, turning user mistakes into one-line errors."""
    parser = _parser()
    try:  # argparse exits on a mistake (one line, _Parser.error) or after --help
        args, extra = parser.parse_known_args(argv)
        # KEY=VALUE overrides may also come after the options (`run CONFIG --out DIR loop.generations=8`)
        if extra and hasattr(args, "items") and all("=" in e and not e.startswith("-") for e in extra):
            args.items += extra
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}{_nearest_flag(parser, args.command, extra)}")
    except SystemExit as exc:
        return int(exc.code or 0)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # `run` restarts itself with them for train.processes
    try:
        commands = {"run": cmd_run, "attribute": cmd_attribute, "remedy": cmd_remedy, "datasets": cmd_datasets,
                    "grid": cmd_grid, "plot": cmd_plot, "evaluate": cmd_evaluate,
                    "compare": cmd_compare, "export": cmd_export, "report": cmd_report}
        return commands[args.command](args)
    except UserError as exc:
        _say(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder: the machine's problem, not a bug
        where = f" ({exc.filename})" if exc.filename else ""
        hint = ("free some space and re-run the same command to resume; finished generations are kept"
                if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "check the path and its permissions")
        _say(f"error: {exc.strerror or exc}{where}; {hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _say("interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    finally:
        if "vision_collapse.runtime" in sys.modules:  # only runs that used the runtime can hold a process group
            sys.modules["vision_collapse.runtime"].shutdown()
