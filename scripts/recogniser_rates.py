"""What the recogniser rejects, per config: each one's RUN/judge.json recogniser section, without a run.

    python scripts/recogniser_rates.py [--out runs/recogniser] [--keep results/recogniser] [CONFIG ...]

For each config (default: configs/quick.yaml, the default at 8 px; configs/dit-digits.yaml, 16 px; and
configs/survey/fashion-mnist.yaml) this builds the run's judge and reference exactly as `vision-collapse run` does,
into OUT/<config>/, prints the share of unseen real test images, of uniform noise and of two-class blends it
rejects, and keeps judge.json (no weights) under KEEP/<config>/, from which `python scripts/readme_tables.py`
writes the README's table.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from vision_collapse import run_folder as rf
from vision_collapse.config import load_config
from vision_collapse.data import load_real_data
from vision_collapse.loop.experiment import prepare_reference

CONFIGS = (Path("configs/quick.yaml"), Path("configs/dit-digits.yaml"), Path("configs/survey/fashion-mnist.yaml"))


def main() -> None:
    """Write OUT/<config>/judge.json for each config, keep a copy under KEEP, and print its rejection rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", type=Path, default=list(CONFIGS), help="experiment configs")
    parser.add_argument("--out", type=Path, default=Path("runs/recogniser"), help="one folder per config here")
    parser.add_argument("--keep", type=Path, default=Path("results/recogniser"), help="where judge.json is kept")
    args = parser.parse_args()
    for path in args.configs:
        cfg = load_config(path, [])
        folder = args.out / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        prepare_reference(cfg, folder, load_real_data(cfg.data, cfg.seed), print)
        (args.keep / path.stem).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / rf.JUDGE, args.keep / path.stem / rf.JUDGE)
        report = rf.read_json(folder / rf.JUDGE)["recogniser"]
        print(f"{path.stem}: unseen real rejected {report['held_out_rejected']:.3f}; " + ", ".join(
            f"{kind} {entry['rejected']:.3f}" for kind, entry in report["junk"].items()))


if __name__ == "__main__":
    main()
