"""Where a DiT chain starts: a pretrained diffusers DiTPipeline folder (model.pretrained), checked and hashed, or,
without one, an autoencoder the run trains once on its real training pool (RUN/autoencoder/); with the class map,
recorded in RUN/dit.json so every generation and every resume starts from the same weights."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDPMScheduler, DiTTransformer2DModel

from vision_collapse.config import ExperimentConfig, ModelConfig, TrainConfig
from vision_collapse.data.images import LabelledImages, to_model_range
from vision_collapse.errors import UserError
from vision_collapse.files import atomic_write_text
from vision_collapse.models.class_map import CLASS_MAP_FILE, resolve_class_map, write_class_map
from vision_collapse.models.training import optimise, resident, training_bar_label
from vision_collapse.runtime import compute_device, runtime

START_FILE = "dit.json"  # RUN/dit.json: the chain's starting point (a DiTStart)
AUTOENCODER = "autoencoder"  # RUN/autoencoder/: the run's own frozen autoencoder when there is no model.pretrained
PARTS = {"transformer": "config.json", "vae": "config.json", "scheduler": "scheduler_config.json"}
WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
KL_WEIGHT = 1e-6  # the run's autoencoder: the KL term only keeps the latent bounded, as in Stable Diffusion's VAE
_HASHES: dict[tuple, str] = {}  # folder fingerprint -> SHA-256, so a process hashes a pretrained folder once


@dataclass(frozen=True)
class DiTStart:
    """The weights a DiT chain starts from and the class map it conditions with (RUN/dit.json)."""

    base: str  # the pretrained folder, or RUN/autoencoder when the transformer is built fresh
    pretrained: bool  # whether `base` holds a pretrained transformer
    sha256: str  # of the files under `base` that define the model (model_files)
    model_classes: int  # the transformer's class count; its null class (for guidance) is this index
    class_map: tuple[int, ...]  # the model class of each dataset class


def model_files(folder: Path) -> list[Path]:
    """The files that define a DiTPipeline folder's model: model_index.json, and each component's configs and
    weights (*.json, *.safetensors, *.bin one folder down). Dot-folders are left out: `hf download --local-dir`
    keeps `.cache/huggingface/` there and rewrites its metadata, with a timestamp, on every download."""
    def defines(path: Path) -> bool:
        parts = path.relative_to(folder).parts
        if any(part.startswith(".") for part in parts):
            return False
        return parts == ("model_index.json",) or (len(parts) == 2 and path.suffix in (".json", ".safetensors", ".bin"))

    return sorted(p for p in folder.rglob("*") if p.is_file() and defines(p))


def folder_sha256(folder: Path) -> str:
    """One SHA-256 over the files that define the model (`model_files`: relative path and bytes), computed once
    per process."""
    files = model_files(folder)
    key = (str(folder.resolve()), tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    if key not in _HASHES:
        h = hashlib.sha256()
        for p in files:
            h.update(p.relative_to(folder).as_posix().encode() + b"\0")
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 24), b""):
                    h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def check_pretrained_folder(folder: Path) -> None:
    """One line naming what a pretrained DiTPipeline folder lacks, if anything."""
    how = ("model.pretrained must be a local diffusers DiTPipeline folder (model_index.json, transformer/, vae/, "
           "scheduler/), e.g. from hf download facebook/DiT-XL-2-256 --local-dir FOLDER")
    if not folder.is_dir():
        raise UserError(f"model.pretrained folder {str(folder)!r} not found; {how}")
    missing = [f"{part}/{name}" for part, name in PARTS.items() if not (folder / part / name).is_file()]
    missing += [f"{part}/{WEIGHTS[0]}" for part in ("transformer", "vae")
                if not any((folder / part / w).is_file() for w in WEIGHTS)]
    if missing:
        raise UserError(f"model.pretrained folder {str(folder)!r} is incomplete: no {', '.join(missing)}; {how}")


def read_part_config(folder: Path, part: str) -> dict:
    """A part's config.json as a dict."""
    return json.loads((folder / part / PARTS[part]).read_text())


def id2label(folder: Path) -> dict[int, str]:
    """The pipeline's class names (model_index.json's id2label, which DiTPipeline.save_pretrained drops); {} if none."""
    index = folder / "model_index.json"
    labels = json.loads(index.read_text()).get("id2label", {}) if index.is_file() else {}
    return {int(k): v for k, v in labels.items()}


def vae_factor(vae_config: dict) -> int:
    """How many pixels one latent pixel spans per side (2 per down block after the first)."""
    return 2 ** (len(vae_config["block_out_channels"]) - 1)


def check_resolution(resolution: int, factor: int, patch: int) -> None:
    """One line when images of `resolution` cannot be tokenised: the side must be a multiple of factor x patch."""
    if resolution % (factor * patch):
        step = factor * patch
        raise UserError(f"data.resolution={resolution} cannot be tokenised by the DiT: its autoencoder divides the "
                        f"side by {factor} and each token spans {patch} latent pixels, so use a multiple of {step}, "
                        f"e.g. data.resolution={max(step, round(resolution / step) * step)}")


def check_lora(cfg: ModelConfig) -> None:
    """One line when LoRA is asked for without peft installed."""
    if cfg.adapter == "lora":
        try:
            import peft  # noqa: F401
        except ImportError:
            raise UserError("model.adapter=lora needs peft: pip install 'vision-collapse[lora]' (or pip install peft), "
                            "or set model.adapter=none") from None


def fresh_autoencoder(cfg: ModelConfig, channels: int, resolution: int) -> AutoencoderKL:
    """An untrained AutoencoderKL of widths model.channels for images of `channels` channels."""
    levels = len(cfg.channels)
    return AutoencoderKL(in_channels=channels, out_channels=channels, down_block_types=("DownEncoderBlock2D",) * levels,
                         up_block_types=("UpDecoderBlock2D",) * levels, block_out_channels=cfg.channels,
                         layers_per_block=1, latent_channels=cfg.latent_channels,
                         norm_num_groups=min(32, math.gcd(*cfg.channels)), sample_size=resolution)


def fresh_transformer(cfg: ModelConfig, latent_size: int, latent_channels: int, num_classes: int) -> DiTTransformer2DModel:
    """An untrained DiTTransformer2DModel of model.dit_* sizes, with DiT's learned-sigma output (2 x channels) and
    its adaLN-Zero initialisation."""
    width = cfg.dit_heads * cfg.dit_head_dim
    return adaln_zero(DiTTransformer2DModel(
        num_attention_heads=cfg.dit_heads, attention_head_dim=cfg.dit_head_dim, in_channels=latent_channels,
        out_channels=2 * latent_channels, num_layers=cfg.dit_layers, norm_num_groups=min(32, width),
        sample_size=latent_size, patch_size=cfg.patch_size, num_embeds_ada_norm=num_classes))


def adaln_zero(transformer: DiTTransformer2DModel) -> DiTTransformer2DModel:
    """DiT's adaLN-Zero (Peebles and Xie 2023, section 3.2; `initialize_weights` in facebookresearch/DiT): every
    block's adaLN modulation and the output layers (the final modulation and projection) start at zero, so each
    block starts as the identity and the prediction at 0; the paper's FID was markedly better for it than for plain
    adaLN or cross-attention. diffusers builds them with PyTorch's default initialisation."""
    with torch.no_grad():
        for layer in [block.norm1.linear for block in transformer.transformer_blocks] + \
                [transformer.proj_out_1, transformer.proj_out_2]:
            layer.weight.zero_()
            layer.bias.zero_()
    return transformer


def training_schedule(cfg: ModelConfig) -> DDPMScheduler:
    """The run's own DDPM schedule when there is no pretrained one (model.train_timesteps, model.beta_schedule)."""
    return DDPMScheduler(num_train_timesteps=cfg.train_timesteps, beta_schedule=cfg.beta_schedule, clip_sample=False)


def train_autoencoder(vae: AutoencoderKL, images: torch.Tensor, train: TrainConfig, steps: int, seed: int) -> list[float]:
    """Fit the autoencoder (reconstruction plus a tiny KL) for `steps` steps, then set its scaling_factor to one over
    the latents' standard deviation, as Stable Diffusion's was set; returns the losses."""
    device = compute_device()
    vae.to(device).train()
    data = resident(images)
    generator = torch.Generator(device=device).manual_seed(seed)

    def loss_at_step(model) -> torch.Tensor:
        idx = torch.randint(len(data), (train.batch_size,), generator=generator, device=device)
        x = to_model_range(data[idx.to(data.device)].to(device))
        posterior = model.encode(x).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=generator, device=device)
        recon = model.decode(z).sample.float()
        return torch.nn.functional.mse_loss(recon, x) + KL_WEIGHT * posterior.kl().mean()

    losses = optimise(vae, loss_at_step, replace(train, steps=steps, checkpoint_every=0, class_balance=False))
    vae.eval()
    with torch.no_grad():
        means = torch.cat([vae.encode(to_model_range(c.to(device))).latent_dist.mean for c in data.split(256)])
    vae.register_to_config(scaling_factor=float(1.0 / means.std().clamp(min=1e-6)))
    return losses


def _base_parts(cfg: ExperimentConfig, pool: LabelledImages) -> tuple[Path, bool, int, dict, int]:
    """(base folder, pretrained?, model classes, VAE config, patch size) before anything is trained."""
    if cfg.model.pretrained:
        folder = Path(cfg.model.pretrained)
        check_pretrained_folder(folder)
        transformer = read_part_config(folder, "transformer")
        return folder, True, int(transformer["num_embeds_ada_norm"]), read_part_config(folder, "vae"), \
            int(transformer["patch_size"])
    vae = {"block_out_channels": list(cfg.model.channels)}
    return Path(AUTOENCODER), False, pool.num_classes, vae, cfg.model.patch_size


def check_start(cfg: ExperimentConfig, pool: LabelledImages, run: Path, force: bool = False) -> DiTStart:
    """Every DiT setting checked against the data and any earlier start of this run, before the run folder is
    written: the pretrained folder, the resolution, the class map, peft, and (on a resume) the pretrained hash."""
    check_lora(cfg.model)
    folder, pretrained, model_classes, vae_config, patch = _base_parts(cfg, pool)
    check_resolution(pool.images.shape[-1], vae_factor(vae_config), patch)
    if not pretrained and cfg.model.class_map == "synset":
        raise UserError("model.class_map=synset maps breeds to a pretrained ImageNet model's classes; set "
                        "model.pretrained=FOLDER, or model.class_map=first for a DiT built from scratch")
    class_map = tuple(resolve_class_map(cfg.model.class_map, pool, model_classes))
    earlier = run / START_FILE
    sha = folder_sha256(folder) if pretrained else ""
    if pretrained and earlier.is_file() and not force:  # --force starts the folder over
        before = json.loads(earlier.read_text())
        if before.get("sha256") != sha:
            raise UserError(f"{run} was started from a pretrained folder with SHA-256 {before.get('sha256', '?')[:12]}..., "
                            f"but {folder} now hashes to {sha[:12]}...; point model.pretrained at the original "
                            "weights, or start a new run (--out elsewhere, or --force to start over)")
    return DiTStart(str(folder.resolve()) if pretrained else AUTOENCODER, pretrained, sha, model_classes, class_map)


def prepare_start(cfg: ExperimentConfig, run: Path, pool: LabelledImages, learn: LabelledImages, start: DiTStart,
                  seed: int) -> DiTStart:
    """Write RUN/dit.json and RUN/class_map.csv (of `pool`'s classes); without a pretrained folder, first train
    RUN/autoencoder/ on `learn` (the judge's pool) once, which a resume reuses. Every process calls this; the main
    one writes."""
    rt = runtime()
    labels = id2label(Path(start.base)) if start.pretrained else {}
    if not start.pretrained:
        folder = run / AUTOENCODER
        if not (folder / "vae" / PARTS["vae"]).is_file():
            torch.manual_seed(seed)  # the autoencoder's initial weights draw from the global RNG
            vae = fresh_autoencoder(cfg.model, pool.images.shape[1], pool.images.shape[-1])
            with training_bar_label("autoencoder (once per run)"):
                train_autoencoder(vae, learn.images, cfg.train, cfg.model.autoencoder_steps, seed)

            def write() -> None:
                vae.to("cpu").save_pretrained(folder / "vae")
                training_schedule(cfg.model).save_pretrained(folder / "scheduler")
            rt.on_main(write)
            rt.barrier()
        start = replace(start, sha256=folder_sha256(folder))
        labels = dict(enumerate(pool.class_names))

    def record() -> None:
        atomic_write_text(run / START_FILE, json.dumps(asdict(start), indent=2) + "\n")
        write_class_map(run / CLASS_MAP_FILE, pool.class_names, list(start.class_map), labels)
    rt.on_main(record)
    return start


def read_start(run: Path) -> DiTStart:
    """RUN/dit.json as a DiTStart."""
    values = json.loads((run / START_FILE).read_text())
    return DiTStart(**{**values, "class_map": tuple(values["class_map"])})


def base_folder(start: DiTStart, run: Path) -> Path:
    """The folder the chain's frozen parts (VAE, schedule, and a pretrained transformer) load from."""
    return Path(start.base) if start.pretrained else run / AUTOENCODER
