"""What many tests share: tiny-run settings and table readers."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path

# Fewer noise-floor draws, chance chains and KID subsets, and a one-epoch CAS: the instrument's numbers, only coarser.
LIGHT_EVAL = ["eval.floor_draws=10", "eval.chance_chains=199", "eval.kid_subsets=5", "eval.cas_epochs=1"]
# ...and no plots redrawn after each generation, for runs whose plots no test reads.
LIGHT_RUN = [*LIGHT_EVAL, "log.plots=false"]

# A whole run in seconds: Gaussian mixtures instead of diffusion, and a light run (tests that read plots draw
# them, or run without this list).
FAST_GMM = ["model.kind=gmm", "model.guidance_scale=1", "judge.epochs=2", "loop.generations=2",
            "eval.samples_per_class=10", *LIGHT_RUN, "eval.kid_subsets=2"]

# A tiny 8x8 diffusion run: a 2-level UNet of widths 8 and 16, a few steps of everything.
TINY_DIFFUSION = ["model.channels=[8,16]", "model.sampling_steps=3", "model.guidance_scale=1", "train.steps=15",
                  "train.batch_size=16", "judge.epochs=2", "loop.generations=2", *LIGHT_RUN]


@contextlib.contextmanager
def one_thread():
    """torch and numpy's BLAS on one thread in this process, as each of two jobs on two cores is (OMP_NUM_THREADS=1),
    then back: runs made here then match a job's to the last digit, also outside xdist (where both take 2 cores)."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


def fake_samples(real, generation: int):
    """Stand-in samples of one generation: the real subset's images relabelled with generation ids."""
    from vision_collapse.data.images import LabelledImages

    n = len(real.subset)
    return LabelledImages(real.subset.images, real.subset.labels, tuple(f"gen{generation}/{i}" for i in range(n)),
                          real.subset.class_names)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` by its SHA-256, to show that a refused command touched nothing."""
    import hashlib

    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def fails_in_one_line(capsys, argv: list[str], message: str) -> None:
    """Run the CLI, expect status 2 and exactly one stderr line containing `message`."""
    from vision_collapse.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert message in lines[0], lines[0]


def rows(path: Path) -> list[dict]:
    """A CSV file's rows as dicts of strings."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def column(path: Path, name: str) -> list[float]:
    """One column of a CSV file as floats."""
    return [float(r[name]) for r in rows(path)]


def tiny_dit_pipeline(folder: Path) -> Path:
    """A random DiTPipeline folder (transformer, VAE, scheduler, id2label) as diffusers' save_pretrained writes it,
    with ImageNet's 1000 classes and 8x8 RGB images (a 4x4 latent, 4 tokens); about 0.4 MB."""
    import json

    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, DiTPipeline, DiTTransformer2DModel

    torch.manual_seed(0)
    transformer = DiTTransformer2DModel(num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=8,
                                        num_layers=2, norm_num_groups=16, sample_size=4, patch_size=2,
                                        num_embeds_ada_norm=1000)
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16), latent_channels=4,
                        norm_num_groups=8, sample_size=8)
    DiTPipeline(transformer=transformer, vae=vae, scheduler=DDIMScheduler(clip_sample=False)).save_pretrained(folder)
    index = json.loads((folder / "model_index.json").read_text())
    # save_pretrained drops id2label, which the real DiT folder carries
    index["id2label"] = {"151": "Chihuahua", "207": "golden retriever", "254": "pug"}
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def block_in(markers: tuple[str, str]) -> str:
    """The generated block between `markers` (markers included) in whichever of README.md and docs/*.md holds it."""
    for path in [Path("README.md"), *sorted(Path("docs").glob("*.md"))]:
        text = path.read_text()
        if markers[0] in text:
            return text[text.index(markers[0]): text.index(markers[1]) + len(markers[1])]
    raise AssertionError(f"no page holds {markers[0]}")
