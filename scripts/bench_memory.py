"""Peak host memory of sampling and measuring a generation at two sample counts 4x apart, streamed vs in memory.

    python scripts/bench_memory.py [--samples 4000] [--resolution 32]

A GMM over digits resized to RESOLUTION x RESOLUTION RGB (fast to sample, so the benchmark is about memory, not
compute) draws N and 4N samples. Each measurement runs in a fresh child process; after its set-up (data, judge,
reference, model) it resets the kernel's peak-RSS counter and reports how far the peak rose above the set-up's
resident memory. 'streamed' is the loop's path: shards written to disk as they are made, metrics accumulated
over them. 'in memory' is the path it replaced: every sample drawn at once, judged at once, every feature
kept, and PRDC over all of them with whole distance matrices.
Prints each peak and the 4N / N ratio of each path.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
from pathlib import Path


def _rss_kib(field: str) -> int:
    """A memory line of /proc/self/status, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _measure(args) -> float:
    """MiB the peak RSS rose above the set-up's resident memory while sampling and measuring n samples."""
    n, resolution, streamed = args
    import torch

    from vision_collapse.config import load_config
    from vision_collapse.data import hash_images, load_real_data
    from vision_collapse.loop.generation import draw_eval_set, train_model, write_samples
    from vision_collapse.loop.seeds import Generation, generation_seed
    from vision_collapse.metrics.classifier import load_or_train_judge
    from vision_collapse.metrics.evaluate import build_reference, judge_and_features, measure
    from vision_collapse.metrics.stream import SampleStats, Shard

    cfg = load_config("configs/neutral.yaml", ["model.kind=gmm", "model.guidance_scale=1", f"data.resolution={resolution}",
                                             "data.channels=3"])
    real = load_real_data(cfg.data, cfg.seed)
    judge = load_or_train_judge(real.judge_pool, real.test, cfg.judge, {"data": hash_images(real.judge_pool, real.test)})
    ref = build_reference(real, judge, None, None, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        gen = Generation(0, cfg, Path(tmp) / "gen_000", real.subset, perfect=real.perfect)
        model, _ = train_model(gen)
        Path("/proc/self/clear_refs").write_text("5")  # the peak-RSS counter now restarts from the current RSS
        base = _rss_kib("VmRSS")
        if streamed:
            stats = write_samples(gen, model, ref, count=n)
        else:
            import vision_collapse.metrics.prdc as prdc_module

            prdc_module.BLOCK = 10**9  # whole distance matrices, as before they were taken in blocks
            labels = torch.multinomial(torch.ones(real.subset.num_classes), n, replacement=True,
                                       generator=torch.Generator().manual_seed(0))
            images = model.sample(n, labels, torch.Generator().manual_seed(generation_seed(cfg.seed, 0, "sample")))
            judged, features = judge_and_features(judge, None, images)
            stats = SampleStats(n, real.subset.num_classes, ref.recogniser, n, 0, torch.Generator().manual_seed(0))
            stats.update(Shard(images, labels, labels, judged, features))
        result = measure(0, real.subset, stats, draw_eval_set(gen, model, stats, ref), ref, cfg,
                         torch.Generator().manual_seed(0))
        fid = result.summary["fid_vs_original"]
        assert fid == fid  # a number, not NaN: the measurement really ran
    return (_rss_kib("VmHWM") - base) / 1024


def main() -> None:
    """Measure both paths at N and 4N and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4000, help="N; the second count is 4N")
    parser.add_argument("--resolution", type=int, default=32)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    n = args.samples
    print(f"peak host memory above set-up while sampling and measuring (GMM, {args.resolution}x{args.resolution}x3)")
    for streamed, name in ((True, "streamed (shards)"), (False, "in memory (baseline)")):
        peaks = []
        for count in (n, 4 * n):
            with ctx.Pool(1) as pool:
                peaks.append(pool.apply(_measure, ((count, args.resolution, streamed),)))
        print(f"{name:22} N={n}: {peaks[0]:8.1f} MiB   4N={4 * n}: {peaks[1]:8.1f} MiB   "
              f"ratio 4N/N {peaks[1] / peaks[0]:.2f}")


if __name__ == "__main__":
    main()
