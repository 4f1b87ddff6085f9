"""What the recogniser rejects, per config: each one's RUN/judge.json recogniser section, without a run.

    python scripts/recogniser_rates.py [--out runs/recogniser] [--keep results/recogniser] [CONFIG ...]

For each config (default: configs/quick.yaml, the default at 8 px; configs/dit-digits.yaml, 16 px; and
configs/survey/fashion-mnist.yaml) this builds the run's judge and reference exactly as `vision-collapse run` does,
into OUT/<config>/, prints the share of unseen real test images, of uniform noise and of two-class blends it
rejects, and keeps judge.json (no weights) under KEEP/<config>/, with tradeoff.csv: blend rejection against real
rejection as eval.reject_confidence moves. `python scripts/readme_tables.py` writes the README's tables from them.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from vision_collapse import run_folder as rf
from vision_collapse.config import load_config
from vision_collapse.data import load_real_data
from vision_collapse.loop.experiment import prepare_reference
from vision_collapse.metrics.evaluate import fit_recogniser
from vision_collapse.metrics.junk import recogniser_report

CONFIGS = (Path("configs/quick.yaml"), Path("configs/dit-digits.yaml"), Path("configs/survey/fashion-mnist.yaml"))
CONFIDENCE_RATES = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)  # eval.reject_confidence along the trade-off curve
TRADEOFF = "tradeoff.csv"


def tradeoff(real, judge, rates: tuple[float, float, float]) -> list[dict]:
    """Blend and noise rejection against unseen real images' rejection as eval.reject_confidence moves along
    CONFIDENCE_RATES (the distance criteria at their rates): the recogniser refitted at each, measured on the
    test split and junk made from it, exactly as judge.json is."""
    calibration = judge.predict(real.calibration.images)
    rows = []
    for rate in CONFIDENCE_RATES:
        report = recogniser_report(fit_recogniser(real, judge, calibration, (rate, *rates[1:])), judge, real.test)
        rows.append({"reject_confidence": rate, "real_rejected": report["held_out_rejected"],
                     **{kind: report["junk"][kind]["rejected"] for kind in ("two_class_blend_0.5", "uniform_noise")}})
    return rows


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
        real = load_real_data(cfg.data, cfg.seed)
        ref = prepare_reference(cfg, folder, real, print)
        (args.keep / path.stem).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / rf.JUDGE, args.keep / path.stem / rf.JUDGE)
        if ref.judge.outlier_exposure:  # the CNN judges; a probe has no confidence trained against blends
            rf.write_csv(args.keep / path.stem / TRADEOFF, tradeoff(real, ref.judge, cfg.eval.reject_rates))
        report = rf.read_json(folder / rf.JUDGE)["recogniser"]
        print(f"{path.stem}: unseen real rejected {report['held_out_rejected']:.3f}; " + ", ".join(
            f"{kind} {entry['rejected']:.3f}" for kind, entry in report["junk"].items()))


if __name__ == "__main__":
    main()
