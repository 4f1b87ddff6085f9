"""Which source files one generation's code path opens: every vision_collapse file with a function that runs
inside run_generation and finish_generation (down to the CSV writers), for one tiny generation of a config.

    python scripts/code_path.py [CONFIG] [KEY=VALUE ...]     # default: configs/quick.yaml, shrunk

Two counts: every file a function of which runs, and the files one must open to follow the flow: those whose
functions hand work to a function in another file. A file that only computes (one metric, one model's training
step) reads as a black box: calls inside metrics/, models/ or null/ are their own business. So are the files
every step touches: the config, the processes, file writing and the image container (INFRASTRUCTURE).
"""

from __future__ import annotations

import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import vision_collapse
from vision_collapse.config import load_config
from vision_collapse.loop import experiment

ROOT = Path(vision_collapse.__file__).resolve().parent
INFRASTRUCTURE = ("config/", "runtime.py", "files.py", "errors.py", "data/images.py")
BLACK_BOXES = ("metrics/", "models/", "null/")  # a call between two files of one of these packages is internal
SHRINK = ["loop.generations=1", "train.steps=5", "model.sampling_steps=2", "eval.floor_draws=10",
          "eval.chance_chains=199", "log.plots=false"]


def traced_generation(config: str, overrides: list[str]) -> dict[str, set[str]]:
    """Run one generation; for every project file whose functions run inside it, the project files they call
    into."""
    calls: dict[str, set[str]] = defaultdict(set)
    inside = False

    def profile(frame, event, _arg):
        if event != "call" or not inside:
            return
        callee = Path(frame.f_code.co_filename)
        caller = frame.f_back and Path(frame.f_back.f_code.co_filename)
        if ROOT in callee.parents:
            name = callee.relative_to(ROOT).as_posix()
            calls.setdefault(name, set())
            if caller is not None and ROOT in caller.parents and caller != callee:
                calls[caller.relative_to(ROOT).as_posix()].add(name)

    def traced(function):
        def run(*args, **kwargs):
            nonlocal inside
            inside = True
            sys.setprofile(profile)
            try:
                return function(*args, **kwargs)
            finally:
                sys.setprofile(None)
                inside = False
        return run

    # one generation: its work, then its run-level tables before its DONE
    for step in ("run_generation", "finish_generation"):
        setattr(experiment, step, traced(getattr(experiment, step)))
    cfg = load_config(config, [*SHRINK, *overrides])
    with tempfile.TemporaryDirectory() as tmp:
        experiment.run_experiment(cfg, Path(tmp) / "run", log=lambda *_: None)
    return calls


def main() -> None:
    """Print both counts and the files."""
    args = sys.argv[1:]
    config = args.pop(0) if args and args[0].endswith((".yaml", ".yml")) else "configs/quick.yaml"
    calls = traced_generation(config, args)
    def internal(caller: str, callee: str) -> bool:
        return any(caller.startswith(box) and callee.startswith(box) for box in BLACK_BOXES)

    handed = {f: sorted(c for c in callees if not c.startswith(INFRASTRUCTURE) and not internal(f, c))
              for f, callees in calls.items() if not f.startswith(INFRASTRUCTURE)}
    flow = sorted(f for f, callees in handed.items() if callees)
    print(f"{len(calls)} files run inside one generation; {len(flow)} hand work to another file "
          "(infrastructure and black boxes aside):")
    for name in flow:
        print(f"  {name} -> {', '.join(handed[name])}")


if __name__ == "__main__":
    main()
