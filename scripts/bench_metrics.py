"""Per-class FID: our one-pass grouped computation against C separate torchmetrics FID instances; and the
evaluation's heaviest steps per generation at dog-breed scale, today's path against the one before.

    python scripts/bench_metrics.py [--classes 120] [--dim 512] [--per-class 50] [--eval-dims 384,2048]

Both per-class FIDs get the same precomputed features (torchmetrics through a pass-through feature module). Each
runs in a fresh child process so its peak memory (max RSS above the child's baseline) is its own. Prints the time
and memory ratios and the largest relative difference between the two sets of values.

The evaluation case (120 classes at 384 and 2048 dimensions, as DINOv2 ViT-S and InceptionV3 give) times what a
generation's evaluation spends most on: the global floor (2 x 50 draws of calibration features against a fixed
reference) and the memorisation check (each class's 64 px samples against the whole training set). Before: a
float64 D x D eigendecomposition pair per draw and pixel distances on the CPU; now: the reference's root once and
one eigenvalue pass per draw, and distances between features (eval.copy_space=features) on the compute device.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

import numpy as np
import torch


def _features(classes: int, dim: int, per_class: int, seed: int = 0):
    """Synthetic generated and real features with a class structure."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g, dtype=torch.float64) * 3
    labels = torch.arange(classes).repeat_interleave(per_class)
    real = centres[labels] + torch.randn(len(labels), dim, generator=g, dtype=torch.float64)
    gen = centres[labels] * 0.9 + 1.2 * torch.randn(len(labels), dim, generator=g, dtype=torch.float64)
    return gen, real, labels


def _ours(args) -> np.ndarray:
    from vision_collapse.metrics.fid import per_class_fid

    gen, real, labels = _features(*args)
    return per_class_fid(gen, labels, real, labels, args[0])


def _torchmetrics(args) -> np.ndarray:
    from torchmetrics.image.fid import FrechetInceptionDistance

    classes, dim, _ = args
    gen, real, labels = _features(*args)

    class PassThrough(torch.nn.Module):
        """Hands precomputed features to torchmetrics; its probe image gets a feature vector of zeros."""

        def forward(self, x):
            return x if x.ndim == 2 else torch.zeros(len(x), dim)

    out = []
    metrics = [FrechetInceptionDistance(feature=PassThrough()).set_dtype(torch.float64) for _ in range(classes)]
    for c, metric in enumerate(metrics):
        metric.update(real[labels == c], real=True)
        metric.update(gen[labels == c], real=False)
    for metric in metrics:
        out.append(float(metric.compute()))
    return np.array(out)


def _child(name: str, args, queue) -> None:
    """Run one method, report (seconds, peak RSS growth in bytes, values)."""
    torch.set_num_threads(1)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    values = {"ours": _ours, "torchmetrics": _torchmetrics}[name](args)
    seconds = time.perf_counter() - start
    queue.put((seconds, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024, values))


def run(name: str, args):
    """Run a method in a fresh spawned process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _eval_case(classes: int, dim: int, per_class: int, draws: int = 50, seed: int = 0) -> tuple[float, float]:
    """(seconds before, seconds now) of one generation's global floor and memorisation check; checks that both
    give the same floor."""
    from vision_collapse.metrics.fid import FrechetReference, frechet_distance, gaussian_stats
    from vision_collapse.metrics.within_class import nearest_distances
    from vision_collapse.runtime import compute_device

    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g, dtype=torch.float64) * 3
    reference = centres.repeat_interleave(4 * per_class, 0) + torch.randn(4 * per_class * classes, dim, generator=g,
                                                                          dtype=torch.float64)
    mu, cov = gaussian_stats(reference)
    draw_list = [centres.repeat_interleave(per_class, 0) + torch.randn(per_class * classes, dim, generator=g,
                                                                       dtype=torch.float64) for _ in range(draws)]
    samples = torch.randint(0, 256, (classes * per_class, 3, 64, 64), generator=g, dtype=torch.uint8)
    training = torch.randint(0, 256, (classes * per_class, 3, 64, 64), generator=g, dtype=torch.uint8)

    def pixel_distances_on_cpu(images, ref):
        """The memorisation distances as computed before: per class, on the CPU."""
        flat = ref.flatten(1).float() / 255
        return torch.cdist(images.flatten(1).float() / 255, flat).min(1).values

    start = time.perf_counter()
    before = [frechet_distance(*gaussian_stats(d), mu, cov) for _ in range(2) for d in draw_list]
    for c in range(classes):
        pixel_distances_on_cpu(samples[c * per_class:(c + 1) * per_class], training)
    before_s = time.perf_counter() - start
    start = time.perf_counter()
    now = []
    for _ in range(2):
        fixed = FrechetReference(mu, cov, compute_device())
        now += [fixed.distance(d) for d in draw_list]
    sample_features = draw_list[0].float()  # eval.copy_space=features: distances between backbone features
    training_features = draw_list[1].float()
    for c in range(classes):
        nearest_distances(sample_features[c * per_class:(c + 1) * per_class], training_features)
    now_s = time.perf_counter() - start
    assert np.allclose(before, now, rtol=1e-6), "the floors differ"
    return before_s, now_s


def main() -> None:
    """Time both, compare memory and values."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=120)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--eval-dims", default="384,2048", help="feature sizes of the evaluation case ('' skips it)")
    a = parser.parse_args()
    args = (a.classes, a.dim, a.per_class)
    base_s, base_mem, base_v = run("torchmetrics", args)
    our_s, our_mem, our_v = run("ours", args)
    rel = np.max(np.abs(our_v - base_v) / np.abs(base_v))
    print(f"{a.classes} classes, {a.dim}-d features, {a.per_class} generated and real per class; 1 thread each")
    print(f"torchmetrics x{a.classes}: {base_s:7.2f} s  peak +{base_mem / 2**20:8.1f} MiB")
    print(f"ours (one pass)  : {our_s:7.2f} s  peak +{our_mem / 2**20:8.1f} MiB")
    print(f"speed-up {base_s / our_s:.2f}x   memory {base_mem / max(our_mem, 1):.1f}x less   "
          f"largest relative difference {rel:.2e}")
    from vision_collapse.runtime import compute_device

    for dim in [int(d) for d in a.eval_dims.split(",") if d]:
        before_s, now_s = _eval_case(a.classes, dim, a.per_class)
        print(f"evaluation per generation, {a.classes} classes, {dim}-d ({compute_device().type}): global floor and "
              f"memorisation {before_s:7.2f} s before, {now_s:7.2f} s now: {before_s / now_s:.2f}x")


if __name__ == "__main__":
    main()
