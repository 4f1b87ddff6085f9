"""Sampling: FID against network evaluations (NFE) for DDIM and DPM-Solver++, against DDPM with 1000 steps.

    python scripts/bench_sampling.py [CONFIG] [KEY=VALUE ...] [--model RUN/gen_000/model] [--samples 2000]

Trains generation 0's model of CONFIG (default configs/neutral.yaml) on its real subset, or loads --model, then
draws --samples images with the same labels and seed for every sampler and step count, and measures FID in the
run's backbone against the held-out real test split. DDPM-1000 is the reference; the largest step count of
each fast sampler is drawn again with another seed to show how much FID moves by chance alone
(--repeat-reference does the same for DDPM-1000). Prints a table, the smallest step count of each fast
sampler whose FID is within 10% of DDPM-1000, and the speed-up in network evaluations.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from vision_collapse.config import load_config
from vision_collapse.data import hash_images, load_real_data
from vision_collapse.loop.generation import train_model
from vision_collapse.loop.seeds import Generation, generation_seed
from vision_collapse.loop.strategies import sampling_labels
from vision_collapse.metrics.backbone import feature_extractor
from vision_collapse.metrics.classifier import load_or_train_judge
from vision_collapse.metrics.evaluate import judge_and_features
from vision_collapse.metrics.fid import fid_from_features
from vision_collapse.models import load_model

STEPS = (5, 10, 15, 20, 25, 50, 100)


def main() -> None:
    """Run every sampler and print the FID/NFE table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="*", default=["configs/neutral.yaml"], help="CONFIG then KEY=VALUE overrides")
    parser.add_argument("--model", default="", help="a saved model folder (RUN/gen_XXX/model); default: train one")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--steps", default=",".join(map(str, STEPS)))
    parser.add_argument("--repeat-reference", action="store_true", help="also draw DDPM-1000 with a second seed")
    parser.add_argument("--out", default="/tmp/bench_sampling_run", help="scratch folder for a trained model")
    args = parser.parse_args()
    cfg = load_config(args.config[0], args.config[1:])
    real = load_real_data(cfg.data, cfg.seed)
    judge = load_or_train_judge(real.judge_pool, real.test, cfg.judge, {"data": hash_images(real.judge_pool, real.test)})
    extract = feature_extractor(cfg.eval, judge)
    _, test_features = judge_and_features(judge, extract, real.test.images)
    if args.model:
        model = load_model(args.model, cfg, real.subset.num_classes, real.perfect)
    else:
        start = time.perf_counter()
        model, _ = train_model(Generation(0, cfg, Path(args.out), real.subset, perfect=real.perfect))
        print(f"trained generation 0's model in {time.perf_counter() - start:.0f} s")
    labels = None
    if cfg.conditional:
        labels = sampling_labels(real.subset, real.subset, args.samples, "proportional",
                                 np.random.default_rng(generation_seed(cfg.seed, 0, "labels")))

    def fid(sampler: str, steps: int, seed: int = 0) -> tuple[float, float]:
        """(FID, seconds) of --samples images from this sampler."""
        model.cfg = replace(cfg.model, sampler=sampler, sampling_steps=steps)
        start = time.perf_counter()
        images = torch.cat([model.sample(len(y), y, torch.Generator().manual_seed(seed + k))
                            for k, y in enumerate(torch.split(labels, 1000) if labels is not None else
                                                  [None] * -(-args.samples // 1000))])[: args.samples]
        seconds = time.perf_counter() - start
        return fid_from_features(judge_and_features(judge, extract, images)[1], test_features), seconds

    reference, ref_s = fid("ddpm", 1000)
    cfg_note = f", guidance {cfg.model.guidance_scale}" if cfg.conditional else ""
    print(f"{args.samples} samples{cfg_note}; FID in the {cfg.eval.backbone} feature space vs {len(real.test)} test images")
    print(f"{'sampler':10} {'steps':>5} {'NFE':>5} {'FID':>9} {'vs DDPM':>8} {'seconds':>8}")
    print(f"{'ddpm':10} {1000:5d} {1000:5d} {reference:9.2f} {1:8.3f} {ref_s:8.1f}")
    if args.repeat_reference:
        again, _ = fid("ddpm", 1000, seed=10_000)
        print(f"{'ddpm':10} {1000:5d} {1000:5d} {again:9.2f} {again / reference:8.3f}     (another seed: chance alone)")
    steps_tried = [int(s) for s in args.steps.split(",")]
    for sampler in ("ddim", "dpmsolver"):
        best = None
        for steps in steps_tried:
            value, seconds = fid(sampler, steps)
            print(f"{sampler:10} {steps:5d} {steps:5d} {value:9.2f} {value / reference:8.3f} {seconds:8.1f}")
            if best is None and value <= 1.1 * reference:
                best = steps
        again, _ = fid(sampler, steps_tried[-1], seed=10_000)
        print(f"{sampler:10} {steps_tried[-1]:5d} {steps_tried[-1]:5d} {again:9.2f} {again / reference:8.3f}"
              "          (another seed: chance alone)")
        verdict = f"{best} steps ({1000 / best:.0f}x fewer NFE)" if best else "none of the step counts tried"
        print(f"  {sampler}: smallest step count within 10% of DDPM-1000's FID: {verdict}")


if __name__ == "__main__":
    main()
