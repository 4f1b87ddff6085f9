"""The experiment's schema: frozen dataclasses, one per section, with their defaults, meanings and checks.

Every field's meaning is the comment beside it (the README's key table is generated from them). Choice fields
are typed `Literal`, so an unknown choice gets a nearest-value suggestion wherever it is set.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from vision_collapse.config import loader
from vision_collapse.config.loader import check as _check
from vision_collapse.config.loader import check_choices
from vision_collapse.errors import UserError

DatasetName = Literal["digits", "fashion-mnist", "cifar10", "stanford-dogs", "oxford-pets", "imagefolder"]
ImbalanceProfile = Literal["exp", "step", "dominant", "custom", "none"]
Crop = Literal["none", "bbox"]
Species = Literal["all", "dog", "cat"]
ClassOrder = Literal["given", "seeded"]
ModelKind = Literal["diffusion", "dit", "vae", "gmm", "real"]
Adapter = Literal["none", "lora"]
Sampler = Literal["ddim", "dpmsolver", "ddpm"]
Precision = Literal["auto", "fp32", "bf16"]
Strategy = Literal["replace", "mix", "accumulate", "fresh", "scrape"]
WebGrowth = Literal["fixed", "compound"]
WebFilter = Literal["none", "oracle", "tag", "detector", "watermark"]
LabelSampling = Literal["proportional", "original", "original_exact", "uniform"]
LabelSource = Literal["conditioning", "classifier", "none"]
Init = Literal["scratch", "finetune", "pretrained"]
KeepModels = Literal["all", "last"]
CurationBy = Literal["labeller", "judge"]
Correction = Literal["none", "drop", "relabel"]
Compile = Literal["auto", True, False]
JudgeKind = Literal["cnn", "probe"]
CopySpace = Literal["pixels", "features"]

DATASETS = typing.get_args(DatasetName)
IMBALANCE_PROFILES = typing.get_args(ImbalanceProfile)
MODEL_KINDS = typing.get_args(ModelKind)
SAMPLERS = typing.get_args(Sampler)
PRECISIONS = typing.get_args(Precision)
STRATEGIES = typing.get_args(Strategy)
# loop.watermark_attack: the removals of a watermark, with their strength
ATTACK = re.compile(r"none|jpeg:(?:[1-9]|[1-8][0-9]|9[0-5])|resize:(?:0?\.\d*[1-9]\d*)|crop:(?:0?\.[0-4]\d*)"
                    r"|noise:(?:\d+(?:\.\d+)?)")
LABEL_SAMPLING = typing.get_args(LabelSampling)
LABEL_SOURCES = typing.get_args(LabelSource)


@dataclass(frozen=True)
class DataConfig:
    """Which real images to use and how to make them imbalanced."""

    # 'digits' (scikit-learn's bundled 8x8 digits, embedded), 'fashion-mnist', 'cifar10', 'stanford-dogs',
    # 'oxford-pets' or 'imagefolder' (root/<class>/<image>); `vision-collapse datasets` shows what is found
    name: DatasetName = "digits"
    root: str = ""  # the dataset folder as its archive unpacks; '' means the dataset's default location
    download: bool = False  # let torchvision download it into root (fashion-mnist, cifar10, oxford-pets only)
    resolution: int = 0  # square side images are resized to (shorter side, then centre crop); 0: dataset default
    channels: int = 0  # 1 (grey) or 3 (RGB); 0: the dataset's own
    crop: Crop = "none"  # stanford-dogs: 'bbox' crops each image to its largest annotated dog first
    species: Species = "all"  # oxford-pets: 'dog' keeps the 25 dog breeds, 'cat' the 12 cat breeds
    skip_corrupt: bool = False  # skip unreadable images (listed in RUN/data.json) instead of stopping
    classes: tuple[str, ...] = ()  # keep only these classes, by name; () keeps all
    test_fraction: float = 0.2  # digits and imagefolder: share of each class held out (others use the official split)
    # Share of each class's training pool the judge never trains on: noise floors, the judge's confusion matrix
    # and the recognition thresholds are measured on it, so they are like-for-like with generated samples.
    calibration_fraction: float = 0.5
    # Share of each class's training pool held out before anything else is drawn, for the perfect generator
    # (model.kind=real): images that no judge, labeller or model trains on and that are not the FID reference.
    # 0 holds out nothing; a run and its perfect-generator twin must share it to share their data.
    perfect_fraction: float = 0.0
    # 'exp' (CIFAR-LT: n_c = n_max (1/IF)^(rank/(C-1))), 'step' (first floor(C/2) ranks n_max, the rest n_max/IF),
    # 'dominant' (the head holds dominant_share, the rest split the remainder evenly), 'custom' (data.custom),
    # or 'none' (every class n_max)
    imbalance: ImbalanceProfile = "exp"
    imbalance_factor: float = 20.0  # IF: head count / rarest count for 'exp' and 'step'
    n_max: int = 0  # training images of the head class; 0 means as many as the scarcest class holds
    dominant_share: float = 0.5  # 'dominant': the head's share of the training subset
    custom: dict = field(default_factory=dict)  # 'custom': {class name: count} or {class name: proportion}
    head: str = ""  # the head class, by name; '' means the first class (of data.classes, or of the dataset)
    # ranks after the head: 'given' (data.classes or dataset order) or 'seeded' (shuffled by seed)
    order: ClassOrder = "given"

    def __post_init__(self):
        check_choices(self, "data")
        _check(0 < self.test_fraction < 1, "data.test_fraction must lie in (0, 1), e.g. data.test_fraction=0.2")
        _check(0 < self.calibration_fraction < 1,
               "data.calibration_fraction must lie in (0, 1), e.g. data.calibration_fraction=0.5")
        _check(0 <= self.perfect_fraction < 1,
               "data.perfect_fraction must lie in [0, 1), e.g. data.perfect_fraction=0.2 (0 holds out nothing)")
        _check(self.imbalance_factor >= 1, "data.imbalance_factor must be >= 1 (1 means balanced)")
        _check(self.n_max >= 0, "data.n_max must be >= 0 (0 means as many as possible)")
        _check(self.resolution >= 0, "data.resolution must be >= 0 (0 keeps the dataset default)")
        _check(self.channels in (0, 1, 3), "data.channels must be 1 (grey), 3 (RGB) or 0 (the dataset's own)")
        _check(self.crop == "none" or self.name == "stanford-dogs", "data.crop=bbox needs data.name=stanford-dogs")
        _check(self.species == "all" or self.name == "oxford-pets", "data.species needs data.name=oxford-pets")
        _check(0 < self.dominant_share < 1, "data.dominant_share must lie in (0, 1)")
        _check(self.imbalance != "custom" or bool(self.custom),
               "data.imbalance=custom needs data.custom, e.g. {golden_retriever: 200, pug: 20}")
        _check(all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in self.custom.values()),
               "data.custom values must be counts or proportions >= 0")


@dataclass(frozen=True)
class ModelConfig:
    """The generative model of every generation; conditional unless loop.label_source is 'none'."""

    # 'diffusion' (diffusers UNet2DModel, DDPM training, model.sampler sampling), 'dit' (a latent class-conditional
    # diffusion transformer, diffusers' DiTTransformer2DModel over a frozen AutoencoderKL: model.pretrained, or a
    # small one built from model.dit_* that learns its autoencoder once per run), 'vae' (small convolutional VAE)
    # 'gmm' (Gaussian mixture in PCA space, one per class when conditional; ignores train.*), or 'real': the
    # perfect generator, which draws held-out real images (data.perfect_fraction) of the asked class, so a run
    # shows what the rest of the pipeline does without any model error
    kind: ModelKind = "diffusion"
    channels: tuple[int, ...] = (32, 64)  # conv widths, one entry per resolution level (UNet and VAE)
    layers_per_block: int = 1  # diffusion: ResNet layers per UNet block
    train_timesteps: int = 1000  # diffusion: length of the DDPM noise schedule
    beta_schedule: str = "squaredcos_cap_v2"  # diffusion: DDPM beta schedule; cosine suits tiny images
    # diffusion and dit: the diffusers scheduler that samples: 'ddim' (deterministic DDIM), 'dpmsolver'
    # (DPM-Solver++ 2M, good at 10-25 steps) or 'ddpm' (ancestral; the model's training schedule)
    sampler: Sampler = "ddim"
    sampling_steps: int = 20  # diffusion and dit: denoising steps (network evaluations, doubled batch under CFG)
    guidance_scale: float = 1.0  # diffusion and dit: CFG weight w, eps_u + w (eps_c - eps_u); 1 is plain conditional
    # diffusion and dit: labels dropped (once per sample) to the null class, so CFG has an unconditional model
    label_dropout: float = 0.1
    # Sampling bias: a scale on the standard deviation of what sampling draws: the initial noise (diffusion, dit),
    # the latent (vae), each component's Gaussian (gmm); below 1 favours the modes, 1 is unbiased.
    temperature: float = 1.0
    latent_dim: int = 16  # vae: size of the latent code
    components: int = 3  # gmm: mixture components per class (fewer when a class has fewer images)
    # gmm: PCA dimensions the mixtures live in; 0 keeps the full rank, so nothing is lost to truncation (a
    # smaller value is a capacity limit: the dropped variance never comes back in the samples)
    pca_dim: int = 0
    # dit: a local diffusers DiTPipeline folder (model_index.json, transformer/, vae/, scheduler/), e.g.
    # facebook/DiT-XL-2-256 downloaded once; '' builds a fresh transformer from model.dit_* and an autoencoder of
    # widths model.channels, trained once per run on the real training pool (RUN/autoencoder/). Nothing downloads.
    pretrained: str = ""
    # dit: which model class each dataset class conditions on: 'synset' (folders named by WordNet synset, as
    # Stanford Dogs': ImageNet-1k's index of the synset), 'first' (dataset class k is model class k) or FILE.csv
    # (columns class_name, model_index). Written to RUN/class_map.csv.
    class_map: str = "first"
    # dit: 'none' trains the whole transformer; 'lora' only LoRA adapters (pip install 'vision-collapse[lora]')
    adapter: Adapter = "none"
    lora_rank: int = 16  # dit, adapter=lora: the adapters' rank (their alpha equals it)
    gradient_checkpointing: bool = False  # dit: recompute activations in the backward pass (less memory, ~30% more time)
    patch_size: int = 2  # dit without model.pretrained: latent pixels per token side
    dit_layers: int = 2  # dit without model.pretrained: transformer blocks
    dit_heads: int = 2  # dit without model.pretrained: attention heads
    dit_head_dim: int = 16  # dit without model.pretrained: width of each head (the model is heads x head_dim wide)
    latent_channels: int = 4  # dit without model.pretrained: channels of the autoencoder's latent
    # dit without model.pretrained: steps training the run's autoencoder (batch size and lr: train.*)
    autoencoder_steps: int = 300

    def __post_init__(self):
        check_choices(self, "model")
        _check(len(self.channels) >= 1 and min(self.channels) > 0, "model.channels needs positive entries, e.g. [32, 64]")
        _check(self.sampling_steps >= 1, "model.sampling_steps must be >= 1")
        _check(self.sampling_steps <= self.train_timesteps,
               f"model.sampling_steps must be <= model.train_timesteps ({self.train_timesteps})")
        _check(0 <= self.label_dropout < 1, "model.label_dropout must lie in [0, 1)")
        _check(self.temperature > 0, "model.temperature must be > 0 (1 is unbiased sampling)")
        _check(self.guidance_scale >= 0, "model.guidance_scale must be >= 0")
        _check(self.latent_dim >= 1 and self.components >= 1, "model.latent_dim and model.components must be >= 1")
        _check(self.pca_dim >= 0, "model.pca_dim must be >= 0 (0 keeps the full rank)")
        _check(self.kind in ("diffusion", "dit") or self.guidance_scale == 1.0,
               f"model.guidance_scale applies to model.kind=diffusion or dit only; set model.guidance_scale=1 for "
               f"model.kind={self.kind}")
        # model.kind=real (a perfect-generator twin of a dit run) keeps them: it ignores the model
        _check(self.kind in ("dit", "real") or (not self.pretrained and self.adapter == "none"
                                                and self.class_map == "first"),
               f"model.pretrained, model.adapter and model.class_map are for model.kind=dit, not {self.kind}")
        _check(self.adapter == "none" or bool(self.pretrained),
               "model.adapter=lora adapts a pretrained transformer; set model.pretrained=FOLDER, or model.adapter=none")
        _check(self.class_map in ("synset", "first") or self.class_map.endswith(".csv"),
               f"unknown model.class_map {self.class_map!r}; use synset, first or a FILE.csv of class_name,model_index")
        _check(min(self.lora_rank, self.patch_size, self.dit_layers, self.dit_heads, self.dit_head_dim,
                   self.latent_channels, self.autoencoder_steps) >= 1,
               "model.lora_rank, patch_size, dit_layers, dit_heads, dit_head_dim, latent_channels and "
               "autoencoder_steps must be >= 1")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation of one generation's model."""

    steps: int = 400  # optimiser steps per generation, from scratch
    batch_size: int = 128  # images per step, drawn with replacement
    lr: float = 2e-3  # AdamW peak learning rate
    warmup_steps: int = 25  # linear warm-up before the cosine decay
    ema_decay: float = 0.995  # EMA ceiling; diffusers' EMA warm-up ramps up to it
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    # Save the training state every this many steps (gen_XXX/checkpoint.pt) so a killed run resumes
    # mid-generation, exactly; 0 checkpoints only between generations. Worth it when a generation takes hours.
    checkpoint_every: int = 0
    # Arithmetic of training: 'auto' is bf16 autocast on a GPU and fp32 on a CPU; 'fp32' or 'bf16' force one.
    precision: Precision = "auto"
    # torch.compile the network: 'auto' is on where it pays (a CUDA device and images of at least 32 px; the
    # first steps pay the compile time) and off on a CPU; true or false force it.
    compile: Compile = "auto"
    # Processes (GPUs) that train, sample and judge each run together (DDP). Above 1, `vision-collapse run`
    # starts itself under `accelerate launch --num_processes N`, and the arm runners give each such job N GPUs.
    processes: int = 1
    hflip: bool = False  # random horizontal flips, done on the device; for photos, never for digits or text
    # Class-balanced loss (a remedy, after CBDM, Qin et al. CVPR 2023): each training item's loss is weighted by
    # the inverse of its class's share in this generation's training set, so every class carries equal weight.
    # Needs a conditional diffusion or VAE model (a GMM fits each class on its own already).
    class_balance: bool = False

    def __post_init__(self):
        check_choices(self, "train")
        _check(self.steps >= 1 and self.batch_size >= 1, "train.steps and train.batch_size must be >= 1")
        _check(self.lr > 0, "train.lr must be > 0")
        _check(0 <= self.ema_decay < 1, "train.ema_decay must lie in [0, 1)")
        _check(self.processes >= 1, f"train.processes must be >= 1, not {self.processes}")


@dataclass(frozen=True)
class LoopConfig:
    """The recursive loop."""

    generations: int = 5  # generations to train; generation 0 learns from real images
    # How generation g >= 1 builds its training set (the same size as the real subset unless noted):
    # 'replace' only generation g-1's samples; 'mix' real_fraction drawn from the real subset, the rest
    # from g-1's samples; 'accumulate' the real subset plus every earlier generation's samples, growing;
    # 'fresh' real_fraction newly drawn real images with the same imbalance, the rest from g-1's samples;
    # 'scrape' like 'fresh', but the real_fraction part is scraped from a web of fresh real images and every
    # earlier generation's samples, with no provenance, through loop.filter.
    strategy: Strategy = "replace"
    real_fraction: float = 0.1  # share of real images per generation for 'mix' and 'fresh'; of scraped ones for 'scrape'
    web_synthetic_share: float = 0.5  # 'scrape': the share of generated images on the web (at generation 1)
    # 'scrape': 'fixed' keeps the web's generated share at web_synthetic_share; 'compound' grows it as
    # generations accumulate, 1 - (1 - web_synthetic_share)^g at generation g.
    web_growth: WebGrowth = "fixed"
    # 'scrape': what removes generated images from the web before training. 'none'; 'oracle' the true
    # provenance (an upper bound); 'tag' a provenance tag that survives scraping with probability
    # tag_survival; 'detector' a real-vs-generated classifier retrained each generation on known-real images
    # and earlier generations' samples, at detector_fpr false positives on real images; 'watermark' the
    # invisible-watermark DWT-DCT mark every generation embeds, after watermark_attack.
    filter: WebFilter = "none"
    tag_survival: float = 0.5  # 'tag': the chance that a generated image's tag survives re-upload
    detector_fpr: float = 0.05  # 'detector': the share of known-real images it may drop (sets its threshold)
    detector_known_real: int = 200  # 'detector': real images the defender knows are real (from the real subset)
    detector_epochs: int = 0  # 'detector': training epochs; 0 means judge.epochs
    # 'watermark': what happens to generated images between generation and scraping: none, jpeg:QUALITY
    # (1-95), resize:FACTOR (down to FACTOR of the size and back), crop:FRACTION (cut FRACTION of each side,
    # scale back) or noise:SIGMA (Gaussian, in 0-255 units).
    watermark_attack: str = "none"
    # 'watermark': invisible-watermark refuses images under 256x256; upsample smaller ones (nearest neighbour)
    # before marking. The mark then lives in the web copy only: box-averaged back to the training size, a
    # marked image equals the unmarked one, so marking changes nothing the learner sees.
    watermark_upsample: bool = True
    accumulate_cap: int = 0  # 'accumulate': subsample uniformly to at most this many; 0 means no cap
    # Labels a conditional model samples: 'proportional' to the current training set (finite resampling
    # drift), 'original' drawn from the real subset's frequencies every generation (still a multinomial draw),
    # 'original_exact' the real subset's counts exactly (finite resampling switched off), or 'uniform'.
    label_sampling: LabelSampling = "proportional"
    # Labels synthetic images carry into the next generation: 'conditioning' the label each sample was drawn
    # for; 'classifier' a pseudo-labeller's guess, the labeller trained on generation 0's imbalanced subset
    # (its lean toward the head is part of what is studied); 'none' unconditional models, whose samples are
    # labelled by the judge for bookkeeping only.
    label_source: LabelSource = "conditioning"
    # 'scratch' new weights each generation, 'finetune' from generation g-1's model (generation 0 from new or
    # pretrained weights), or 'pretrained' every generation from model.pretrained's weights (Bertrand et al.)
    init: Init = "scratch"
    finetune_steps: int = 0  # optimiser steps when fine-tuning; 0 means train.steps
    # Which generations' weights stay in gen_XXX/model/: 'all', or 'last' (the newest finished generation's only,
    # for models of gigabytes: DiT-XL/2 is 2.8 GiB a generation). Samples, tables and each model's small JSON files
    # stay either way; only a recomputed generation would need an older generation's weights.
    keep_models: KeepModels = "all"
    # Keep only this top fraction of samples, ranked by confidence (Ferbach-style curation); generation g
    # oversamples by 1/curation so the kept set keeps its size. 1 turns curation off.
    curation: float = 1.0
    # Stochastic K-choice curation (Ferbach et al. 2024): samples are grouped at random into K-tuples and one
    # of each is kept with probability proportional to exp(reward / reward_temperature), the reward being the
    # log confidence; generation g oversamples by K. 1 turns it off; it excludes loop.curation < 1.
    curation_choice: int = 1
    # K-choice: 1 keeps a sample in proportion to its confidence; toward 0 the most confident always wins
    # (top-1 of K); large values choose uniformly (no curation).
    reward_temperature: float = 1.0
    curation_by: CurationBy = "labeller"  # whose confidence ranks samples: 'labeller' (pseudo-labeller) or 'judge'
    # Epochs the pseudo-labeller trains on the imbalanced subset; 0 means judge.epochs. Fewer epochs leave it
    # closer to the class prior: surer of the head, less sure of rare classes, as a quickly trained tagger is.
    labeller_epochs: int = 0
    # Samples are made, judged and written to gen_XXX/samples/ this many at a time, so memory does not grow
    # with the sample count; it is also the sampling batch. Each shard has its own seed, so changing it
    # changes the draws.
    shard_size: int = 512
    # Expert correction (a remedy, after Gillman et al. 2024, self-correcting self-consuming loops): an expert
    # classifier, neither the judge nor the labeller (RUN/expert.pt, trained once on a balanced draw of the judge
    # pool with its own seed), checks each sample's carried label before curation. 'drop' redraws a sample
    # whose expert label disagrees (up to 10 times, for the same conditioning label); 'relabel' gives it the
    # expert's label; 'none' turns it off. Needs a conditional run, whose samples carry a label.
    correction: Correction = "none"
    correction_strength: float = 1.0  # the share of samples the expert checks (each chosen at random)
    # Neon (a remedy, Alemohammad, Wang and Baraniuk, ICLR 2026): after a generation's model theta is trained,
    # a copy is fine-tuned for neon_steps on theta's own samples (theta_self), and the generation samples from
    # (1 + neon_weight) theta - neon_weight theta_self. 0 turns it off; diffusion and VAE models only.
    neon_weight: float = 0.0
    neon_steps: int = 50  # optimiser steps of the self-trained copy (its batch size and lr: train.*)

    def __post_init__(self):
        check_choices(self, "loop")
        _check(self.generations >= 1, "loop.generations must be >= 1, e.g. loop.generations=5")
        _check(0 <= self.real_fraction <= 1, "loop.real_fraction must lie in [0, 1], e.g. loop.real_fraction=0.1")
        _check(self.accumulate_cap >= 0, "loop.accumulate_cap must be >= 0 (0 means no cap)")
        _check(self.finetune_steps >= 0, "loop.finetune_steps must be >= 0 (0 means train.steps)")
        _check(0 < self.curation <= 1, "loop.curation must lie in (0, 1], e.g. loop.curation=0.5 (1 turns it off)")
        _check(self.shard_size >= 1, "loop.shard_size must be >= 1, e.g. loop.shard_size=512")
        _check(self.curation_choice >= 1, "loop.curation_choice must be >= 1, e.g. loop.curation_choice=4 (1 turns it off)")
        _check(self.labeller_epochs >= 0, "loop.labeller_epochs must be >= 0 (0 means judge.epochs)")
        _check(0 <= self.web_synthetic_share < 1,
               "loop.web_synthetic_share must lie in [0, 1), e.g. loop.web_synthetic_share=0.5")
        _check(0 <= self.tag_survival <= 1, "loop.tag_survival must lie in [0, 1], e.g. loop.tag_survival=0.5")
        _check(0 < self.detector_fpr < 1, "loop.detector_fpr must lie in (0, 1), e.g. loop.detector_fpr=0.05")
        _check(self.detector_known_real >= 10, "loop.detector_known_real must be >= 10, e.g. 200")
        _check(self.detector_epochs >= 0, "loop.detector_epochs must be >= 0 (0 means judge.epochs)")
        _check(ATTACK.fullmatch(self.watermark_attack) is not None,
               f"unknown loop.watermark_attack {self.watermark_attack!r}; use none, jpeg:QUALITY (1-95), "
               "resize:FACTOR (below 1), crop:FRACTION (below 0.5) or noise:SIGMA, e.g. loop.watermark_attack=jpeg:75")
        _check(self.filter == "none" or self.strategy == "scrape",
               f"loop.filter={self.filter} filters a scraped web; set loop.strategy=scrape or loop.filter=none")
        _check(self.reward_temperature > 0, "loop.reward_temperature must be > 0, e.g. loop.reward_temperature=0.5")
        _check(self.curation == 1 or self.curation_choice == 1,
               "loop.curation (top fraction) and loop.curation_choice (K-choice) are two curations; set one of "
               "them to 1")
        _check(0 <= self.correction_strength <= 1,
               "loop.correction_strength must lie in [0, 1], e.g. loop.correction_strength=0.5 (the share checked)")
        _check(self.neon_weight >= 0, "loop.neon_weight must be >= 0, e.g. loop.neon_weight=0.5 (0 turns Neon off)")
        _check(self.neon_steps >= 1, "loop.neon_steps must be >= 1, e.g. loop.neon_steps=50")

    @property
    def oversampling(self) -> float:
        """How many samples are drawn per sample kept: 1/curation, K for K-choice, 1 without curation."""
        return self.curation_choice if self.curation_choice > 1 else 1 / self.curation

    @property
    def curating(self) -> bool:
        """Whether samples are curated before they are carried on."""
        return self.curation < 1 or self.curation_choice > 1


@dataclass(frozen=True)
class JudgeConfig:
    """The reference classifier trained on all real training images."""

    # 'cnn': a small CNN trained from scratch (digits, Fashion-MNIST); 'probe': a multinomial logistic regression on
    # eval.backbone's features (photographs: a backbone such as DINOv2 reads breeds a small CNN cannot). The same
    # recipe makes the labeller, the expert, the detector and CAS's classifier.
    kind: JudgeKind = "cnn"
    probe_c: float = 1.0  # 'probe': inverse L2 strength of the logistic regression, on standardised features
    epochs: int = 30  # passes over the real training pool
    batch_size: int = 64  # images per judge training step
    lr: float = 2e-3  # Adam learning rate
    width: int = 32  # channels of the first conv layer; features are 2 x width wide
    # 'cnn': weight of outlier exposure in the judge's training (blends of two classes pushed toward the uniform
    # distribution, so its confidence rejects them); 0 turns it off. The labeller and CAS never use it.
    outlier_exposure: float = 0.5

    def __post_init__(self):
        check_choices(self, "judge")
        _check(self.outlier_exposure >= 0, f"judge.outlier_exposure must be >= 0, not {self.outlier_exposure}")
        _check(self.epochs >= 1 and self.batch_size >= 1 and self.width >= 1, "judge.epochs, batch_size, width must be >= 1")
        _check(self.probe_c > 0, f"judge.probe_c must be > 0, not {self.probe_c}")


@dataclass(frozen=True)
class EvalConfig:
    """Measurement and pictures."""

    tail_fraction: float = 0.3  # tail_share covers this rarest share of classes (by real count)
    grid_per_class: int = 10  # samples per class row in grid.png
    # Conditional models: evaluation samples drawn per class at this fixed count, apart from the training
    # draw, so a fading class can still be measured (per-class FID, KID, PRDC, label fidelity).
    # Unconditional models are evaluated on the first this many recognised samples the judge puts in each class;
    # a class with fewer gets no per-class quality numbers that generation (every generation at the same n).
    samples_per_class: int = 50
    # Generation-wide KID, precision, recall, density and coverage use a seeded random subset of at most
    # this many samples (FID and class frequencies use every sample), so memory stays bounded.
    max_features: int = 10000
    # Noise floors: draws of real calibration images (never seen by the judge) at the evaluation size, against the
    # same test images; their median and 95th percentile are the floor band.
    floor_draws: int = 50
    min_recognised: int = 20  # fewer recognised samples: class shares, entropy and divergences are NaN
    # calibration_shift above this (total variation between BBSE with the calibration confusion and with the
    # confusion on the generation's own samples) flags that generation's calibrated shares as unreliable
    max_calibration_shift: float = 0.05
    # A class is extinct by the judge when the exact (Clopper-Pearson) 97.5% upper bound of its calibrated share
    # lies below this share; with R recognised samples no bound falls below 1 - 0.025^(1/R) (about 3.7 / R).
    extinct_share: float = 0.01
    chance_chains: int = 1999  # chains of the loop's null twin behind each chance band and p-value
    kid_subset_size: int = 100  # images per KID subset (capped by the smaller set)
    kid_subsets: int = 20  # subsets whose MMD^2 gives KID's mean and standard deviation
    prdc_k: int = 5  # nearest neighbours for precision, recall, density and coverage
    # CAS: epochs of the classifier trained on each generation's samples alone (the judge's recipe otherwise)
    # and tested on the real test split; 0 turns CAS off
    cas_epochs: int = 10
    # The unrecognisable bin: the share of calibration images (never trained on) each criterion alone rejects;
    # together they reject 1-2% of unseen real images (judge.json measures it on the test split). With the judge's
    # outlier exposure, confidence does most of the work, so it gets the largest rate.
    reject_confidence: float = 0.01  # the judge's top probability below its this-quantile
    reject_feature_distance: float = 0.005  # 5-nearest distance in judge features, over the feature norm
    reject_pixel_distance: float = 0.005  # 5-nearest distance in pixels (thumbnails of at most 16 x 16)
    # Feature space for FID/KID/PRDC: 'judge' (the reference classifier, offline), 'inception' (torchmetrics'
    # FID InceptionV3; needs its weights cached or eval.inception_weights) or 'timm:MODEL', any model of the timm
    # package (pip install 'vision-collapse[timm]'), e.g. timm:vit_small_patch14_dinov2.lvd142m (DINOv2) or
    # timm:vit_base_patch16_clip_224.openai (CLIP), with its weights from eval.backbone_weights or timm's local
    # cache; images are resized and normalised by the model's own data config. Nothing is ever downloaded.
    backbone: str = "judge"
    inception_weights: str = ""  # path to pt_inception-2015-12-05-6726825d.pth for eval.backbone=inception
    backbone_weights: str = ""  # eval.backbone=timm:MODEL: a local weights file (.safetensors or a torch state dict)
    # timm:MODEL: the square side images are resized to before the backbone; 0 keeps the model's own (DINOv2's is
    # 518, which costs about 5x the compute of 224 per image; timm resamples the position embedding to fit)
    backbone_size: int = 0
    # Where the memorisation check measures a sample's distance to its nearest training image: 'pixels' (small
    # images) or 'features' (the evaluation features: for photographs, where pixel distance means little and a
    # 120-breed check in pixels takes minutes)
    copy_space: CopySpace = "pixels"

    def __post_init__(self):
        check_choices(self, "eval")
        _check(0 < self.tail_fraction < 1, "eval.tail_fraction must lie in (0, 1)")
        _check(self.grid_per_class >= 1, "eval.grid_per_class must be >= 1")
        _check(self.samples_per_class >= 2, "eval.samples_per_class must be >= 2")
        _check(self.max_features >= 10, "eval.max_features must be >= 10")
        _check(self.floor_draws >= 10 and self.chance_chains >= 100,
               "eval.floor_draws must be >= 10 and eval.chance_chains >= 100")
        _check(self.min_recognised >= 1, "eval.min_recognised must be >= 1")
        _check(0 < self.extinct_share < 1, "eval.extinct_share must lie in (0, 1), e.g. eval.extinct_share=0.01")
        _check(self.max_calibration_shift > 0, "eval.max_calibration_shift must be > 0, e.g. 0.05")
        _check(self.cas_epochs >= 0, "eval.cas_epochs must be >= 0 (0 turns CAS off)")
        _check(min(self.kid_subset_size, self.kid_subsets, self.prdc_k) >= 1,
               "eval.kid_subset_size, kid_subsets and prdc_k must be >= 1")
        _check(self.backbone in ("judge", "inception") or (self.backbone.startswith("timm:") and
                                                            len(self.backbone) > len("timm:")),
               f"unknown eval.backbone {self.backbone!r}; use judge, inception or timm:MODEL, e.g. "
               "eval.backbone=timm:vit_small_patch14_dinov2.lvd142m")
        _check(self.backbone_size >= 0 and (not self.backbone_size or self.backbone.startswith("timm:")),
               "eval.backbone_size resizes images for a timm backbone; set eval.backbone=timm:MODEL, or leave "
               "eval.backbone_size=0")
        _check(not self.backbone_weights or self.backbone.startswith("timm:"),
               "eval.backbone_weights names a timm model's weights; set eval.backbone=timm:MODEL (InceptionV3 takes "
               "eval.inception_weights)")
        _check(all(0 <= r < 0.5 for r in self.reject_rates),
               "eval.reject_confidence, reject_feature_distance and reject_pixel_distance must lie in [0, 0.5), "
               "e.g. 0.01")

    @property
    def reject_rates(self) -> tuple[float, float, float]:
        """The recogniser's false-rejection rate per criterion: confidence, feature distance, pixel distance."""
        return self.reject_confidence, self.reject_feature_distance, self.reject_pixel_distance


@dataclass(frozen=True)
class LogConfig:
    """What a run reports besides its tables."""

    tensorboard: bool = False  # also write each generation's scalars and grid for TensorBoard under RUN/tensorboard/
    # Redraw RUN/plots/ after each generation; false saves seconds per generation in sweeps (draw them later
    # with `vision-collapse plot RUN`).
    plots: bool = True


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole recursive experiment."""

    seed: int = 0  # seeds the subset, every model and every sample
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def __post_init__(self):
        _check(
            self.conditional or self.model.guidance_scale == 1.0,
            "model.guidance_scale needs a conditional model, but loop.label_source=none makes it unconditional; "
            "set model.guidance_scale=1 or loop.label_source=conditioning",
        )
        _check(self.model.kind != "real" or self.data.perfect_fraction > 0,
               "model.kind=real draws held-out real images that nothing trained on; set data.perfect_fraction "
               "(e.g. data.perfect_fraction=0.2), the same for the run it is compared with")
        _check(self.model.kind != "real" or self.model.temperature == 1.0,
               "model.kind=real draws real images as they are; set model.temperature=1")
        _check(self.model.kind not in ("gmm", "real") or self.loop.init == "scratch",
               f"loop.init={self.loop.init} needs a model trained by steps; use model.kind=diffusion, dit or vae")
        _check(self.loop.init != "pretrained" or (self.model.kind == "dit" and bool(self.model.pretrained)),
               "loop.init=pretrained restarts every generation from model.pretrained; set model.pretrained=FOLDER "
               "(model.kind=dit), or use loop.init=scratch or finetune")
        _check(self.model.kind != "dit" or not self.model.pretrained or self.loop.init != "scratch",
               "model.pretrained is fine-tuned, never trained from scratch; set loop.init=finetune (each generation "
               "from the one before) or loop.init=pretrained (each from the pretrained weights)")
        stepped = self.model.kind in ("diffusion", "dit", "vae")
        _check(stepped or not self.train.class_balance,
               f"train.class_balance weights a loss that model.kind={self.model.kind} does not have (a GMM fits "
               "each class on its own already), so it would change nothing; set train.class_balance=false")
        _check(self.conditional or not self.train.class_balance,
               "train.class_balance weights items by their class, but an unconditional run's synthetic labels are "
               "the judge's bookkeeping; set loop.label_source=conditioning (or classifier), or "
               "train.class_balance=false")
        _check(stepped or self.loop.neon_weight == 0,
               f"loop.neon_weight merges the weights of a model trained by steps; model.kind={self.model.kind} has "
               "none, so set loop.neon_weight=0 (or use model.kind=diffusion or vae)")
        _check(self.judge.kind != "probe" or self.eval.backbone != "judge",
               "judge.kind=probe reads a backbone's features, but eval.backbone=judge is the judge itself; set "
               "eval.backbone=timm:MODEL (e.g. timm:vit_small_patch14_dinov2.lvd142m) or inception")
        _check(self.conditional or self.loop.correction == "none",
               f"loop.correction={self.loop.correction} checks the label a sample carries, but an unconditional "
               "run's samples carry none; set loop.label_source=conditioning (or classifier), or "
               "loop.correction=none")

    @property
    def conditional(self) -> bool:
        """Whether every generation's model is class-conditional."""
        return self.loop.label_source != "none"


def all_keys() -> list[str]:
    """Every dotted key of the experiment config, such as 'loop.generations'."""
    return loader.all_keys(ExperimentConfig)


def load_config(path: str | Path | None, overrides: list[str] = ()) -> ExperimentConfig:
    """Load a YAML config (or the defaults when `path` is None) and apply KEY=VALUE overrides."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"config file {str(path)!r} not found; pass an existing YAML file such as configs/quick.yaml")
        values = loader.read_yaml_file(path)
    return loader.build(ExperimentConfig, loader.merge(values, loader.parse_overrides(list(overrides))))


def config_to_dict(cfg) -> dict:
    """Plain nested dict of a config, tuples as lists, ready for YAML."""
    return loader.to_dict(cfg)


def config_to_yaml(cfg: ExperimentConfig) -> str:
    """The resolved config as YAML text."""
    return yaml.safe_dump(loader.to_dict(cfg), sort_keys=False)


def config_from_yaml_text(text: str) -> ExperimentConfig:
    """Rebuild a config from the YAML that `config_to_yaml` wrote."""
    return loader.build(ExperimentConfig, yaml.safe_load(text) or {})


def diff_configs(a: ExperimentConfig, b: ExperimentConfig) -> list[str]:
    """Dotted keys whose values differ between two configs, as 'key: a -> b'."""
    return loader.diff(a, b)
