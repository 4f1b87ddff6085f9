"""Everything measured about one generation, per class and overall, against a reference computed once per run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.data import RealData
from vision_collapse.data.images import LabelledImages
from vision_collapse.metrics import frequencies as fq
from vision_collapse.metrics.calibration import (
    calibrated_frequencies,
    calibrated_interval,
    condition_number,
    confusion_matrix,
)
from vision_collapse.metrics.classifier import Classifier, Prediction
from vision_collapse.metrics.fid import fid_from_features, frechet_distance, grouped
from vision_collapse.metrics.floor import Band, class_floors, global_floor
from vision_collapse.metrics.kid import kid
from vision_collapse.metrics.prdc import prdc
from vision_collapse.metrics.prior import counts_for, mixture_moments, prior_matched_subset
from vision_collapse.metrics.recognise import Recogniser, thumbnails
from vision_collapse.metrics.stream import PixelMoments, SampleStats, Shard
from vision_collapse.metrics.toward import head_absorption, toward_head, toward_head_floor
from vision_collapse.metrics.within_class import CopyDetector, class_accuracy, pixel_vectors, within_class_columns

BOOTSTRAPS = 200  # replicates of the calibrated-share interval


@dataclass(frozen=True)
class Reference:
    """What every generation is measured against; computed once per run."""

    real: LabelledImages  # the generation-0 imbalanced subset
    judge: Classifier
    features: Callable[[torch.Tensor], torch.Tensor] | None  # images -> backbone features; None: the judge's
    test_by_class: list[torch.Tensor]  # backbone features of the held-out test images, per class
    calibration_by_class: list[torch.Tensor]  # backbone features of the calibration images, per class
    calibration_true: np.ndarray  # true classes of the calibration images
    calibration_judged: np.ndarray  # the judge's labels for them
    confusion: np.ndarray  # judge's P(judged i | true j) on the calibration images
    recogniser: Recogniser
    floors: list[dict]  # class_floors at eval.samples_per_class (RUN/floors.csv)
    copies: CopyDetector  # what counts as a near-copy of a training image
    labeller: Classifier | None = None  # the pseudo-labeller, when the config asks for one
    test: LabelledImages | None = None  # the held-out real test images (CAS is measured on them)
    recognition: np.ndarray | None = None  # per true class, the share of calibration images the recogniser accepts
    recognised_confusion: np.ndarray | None = None  # P(judged j | true i, recognised) on the calibration images
    judge_means: torch.Tensor | None = None  # per class, the mean judge feature of its real test images
    expert: Classifier | None = None  # loop.correction's expert, which checks each sample's carried label
    prior: np.ndarray = field(init=False)  # class shares of the real subset
    real_variance: float = field(init=False)  # total pixel variance of the real subset

    def __post_init__(self):
        object.__setattr__(self, "prior", fq.shares(self.real.class_counts()))
        object.__setattr__(self, "real_variance", PixelMoments().update(self.real.images).total_variance())


def copy_vectors(images: torch.Tensor, judge: Classifier, features, space: str) -> torch.Tensor:
    """What the memorisation check compares (eval.copy_space): pixels on [0, 1], or the evaluation features (the
    backbone's, else the judge's)."""
    if space == "pixels":
        return pixel_vectors(images)
    return features(images) if features is not None else judge.predict(images).features


@dataclass(frozen=True)
class EvalSet:
    """The samples per-class quality is measured on."""

    classes: torch.Tensor  # the class each sample stands for (conditioning label, or the judge's label)
    conditioning: torch.Tensor | None  # conditioning labels, for label fidelity; None when unconditional
    judged: Prediction
    features: torch.Tensor  # backbone features
    images: torch.Tensor | None = None  # the uint8 samples themselves, for memorisation


def eval_set(stats: SampleStats, parts: list[Shard] | None = None) -> EvalSet | None:
    """The evaluation set: the judged shards drawn for it, each image standing for its conditioning label
    (conditional), or without `parts` the first recognised samples the judge put in each class (unconditional);
    None when conditional shards are empty."""
    if parts is None:
        classes, judged, features, images = stats.eval_parts()
        return EvalSet(classes, None, judged, features, images)
    if not parts:
        return None
    classes = torch.cat([p.conditioning for p in parts])
    judged = Prediction(*(torch.cat(t) for t in zip(*(p.judged for p in parts))))
    return EvalSet(classes, classes, judged, torch.cat([p.features for p in parts]), torch.cat([p.images for p in parts]))


def judge_and_features(judge: Classifier, features, images: torch.Tensor) -> tuple[Prediction, torch.Tensor]:
    """The judge's prediction and the backbone features of images: one pass when `features` is None (the judge's)."""
    judged = judge.predict(images)
    return judged, judged.features if features is None else features(images)


def fit_recogniser(real: RealData, judge: Classifier, calibration: Prediction,
                   rates: tuple[float, float, float]) -> Recogniser:
    """The recogniser of a judge: thresholds from `calibration` (the judge's prediction of the calibration split,
    real images it never trained on) at `rates` (eval.reject_rates), distances to the judge pool's images of each
    class; it never sees a test image."""
    pool, num = real.judge_pool, real.pool.num_classes
    seen = judge.predict(pool.images)
    return Recogniser.fit(calibration.probs, calibration.features, real.calibration.images,
                          grouped(seen.features, pool.labels, num), grouped(thumbnails(pool.images), pool.labels, num),
                          rates)


def build_reference(real: RealData, judge: Classifier, labeller: Classifier | None, features, cfg: ExperimentConfig,
                    floors: Callable[[Callable[[], list[dict]]], list[dict]] = lambda compute: compute()) -> Reference:
    """Test and calibration features, the judge's confusion, the recognition thresholds and the class floors.

    `features` maps images to backbone features, or is None when the judge itself is the backbone. `floors`
    receives the function computing the class floors, so a caller can keep them (RUN/floors.csv) instead.
    """
    num = real.pool.num_classes
    test_pred, test_feats = judge_and_features(judge, features, real.test.images)
    cal_pred, cal_feats = judge_and_features(judge, features, real.calibration.images)
    judge_means = torch.stack([f.mean(0) for f in grouped(test_pred.features, real.test.labels, num)])
    judge_cal = grouped(cal_pred.features, real.calibration.labels, num)
    head, _ = fq.head_and_tail(real.subset.class_counts(), cfg.eval.tail_fraction)
    # Confusion and thresholds on images the judge never trained on: calibration, not its own training set.
    confusion = confusion_matrix(real.calibration.labels.numpy(), cal_pred.labels.numpy(), num)
    recogniser = fit_recogniser(real, judge, cal_pred, cfg.eval.reject_rates)
    test_by_class = grouped(test_feats, real.test.labels, num)
    cal_by_class = grouped(cal_feats, real.calibration.labels, num)
    ev = cfg.eval
    rng = torch.Generator().manual_seed(cfg.seed * 1000 + 17)

    def compute() -> list[dict]:
        rows = class_floors(cal_by_class, test_by_class, ev.samples_per_class, ev.floor_draws, ev.kid_subset_size,
                            ev.kid_subsets, rng)
        # CAS's real baseline: the same recipe trained on the real subset instead of a generation's samples.
        cas = class_accuracy(real.subset, real.test, cfg)
        toward = [toward_head_floor(judge_cal[c], judge_means[c], judge_means[head], int(r["n"]), ev.floor_draws, rng)
                  if c != head else Band(float("nan"), float("nan")) for c, r in enumerate(rows)]
        return [{**r, "cas_real": float("nan") if cas is None else float(cas[c]),
                 "toward_head_floor_median": toward[c].median, "toward_head_floor_p95": toward[c].p95}
                for c, r in enumerate(rows)]

    space = cfg.eval.copy_space
    copies = CopyDetector.fit(copy_vectors(real.test.images, judge, features, space), real.test.labels,
                              copy_vectors(real.subset.images, judge, features, space), num)
    cal_true, cal_judged = real.calibration.labels.numpy(), cal_pred.labels.numpy()
    # What the null chain of an unconditional run measures its perfect samples through: recognition, then confusion.
    accepted = ~recogniser.unrecognisable(cal_pred.probs, cal_pred.features, real.calibration.images)
    recognition = np.array([accepted[cal_true == c].mean() if (cal_true == c).any() else 1.0 for c in range(num)])
    recognised_confusion = confusion_matrix(cal_true[accepted], cal_judged[accepted], num).T
    return Reference(real.subset, judge, features, test_by_class, cal_by_class, cal_true, cal_judged, confusion,
                     recogniser, floors(compute), copies, labeller, real.test, recognition, recognised_confusion,
                     judge_means)


@dataclass(frozen=True)
class GenerationResult:
    """What `measure` found about one generation."""

    rows: list[dict]  # metrics.csv: one row per class, then the unrecognisable row
    summary: dict  # summary.csv's row
    confusion: np.ndarray | None  # conditioning x judged counts (last column: unrecognisable); None if unconditional
    warnings: list[str] = field(default_factory=list)  # one line each, for the console
    chance: list[dict] = field(default_factory=list)  # chance.csv's rows of this generation (null.check)


def class_frequencies(stats: SampleStats, ref: Reference, min_recognised: int, rng: np.random.Generator) -> dict:
    """Judged and calibrated shares over recognised samples, with a bootstrap interval; NaN below the minimum."""
    num, total = len(stats.recognised), int(stats.recognised.sum())
    if total < min_recognised:
        nan = np.full(num, np.nan)
        return {"judged": nan, "calibrated": nan, "low": nan, "high": nan, "total": total}
    judged = fq.shares(stats.recognised)
    low, high = calibrated_interval(stats.recognised, ref.calibration_true, ref.calibration_judged, BOOTSTRAPS, rng)
    return {"judged": judged, "calibrated": calibrated_frequencies(judged, ref.confusion), "low": low, "high": high,
            "total": total}


def class_rows(generation: int, train_set: LabelledImages, stats: SampleStats, eval_set: EvalSet | None,
               ref: Reference, cfg: ExperimentConfig, freq: dict, rng: torch.Generator,
               cas: np.ndarray | None = None) -> list[dict]:
    """The per-class table's rows: one per class, then the unrecognisable row."""
    ev, num, names = cfg.eval, train_set.num_classes, train_set.class_names
    head, _ = fq.head_and_tail(ref.real.class_counts(), ev.tail_fraction)
    nan = float("nan")
    verdicts = eval_verdict(eval_set, ref) if eval_set is not None else None
    rows, train_vectors = [], None
    for c in range(num):
        n = int(ref.floors[c].get("n", ev.samples_per_class))  # fewer where calibration images are scarce
        mine = eval_set.classes == c if eval_set is not None else torch.zeros(0, dtype=torch.bool)
        count = int(mine.sum())
        real_c = ref.test_by_class[c]
        row = {"generation": generation, "class_index": c, "class_name": names[c],
               "train_count": int(train_set.class_counts()[c]), "sample_count": int(stats.carried[c]),
               "recognised_count": int(stats.recognised[c]), "unrecognised_count": int(stats.rejected[c]),
               "gen_freq": freq["judged"][c], "gen_freq_calibrated": freq["calibrated"][c],
               "calibrated_low": freq["low"][c], "calibrated_high": freq["high"][c], "eval_count": count}
        floor = {k: ref.floors[c][k] for k in ("fid_floor_median", "fid_floor_p95", "kid_floor_median", "kid_floor_p95")}
        # Every generation at the same n: a class with fewer evaluation samples gets no quality numbers.
        if count >= n:
            feats = eval_set.features[mine][:n]
            k_mean, k_std = kid(feats, real_c, ev.kid_subset_size, ev.kid_subsets, rng)
            quality = {"fid": fid_from_features(feats, real_c), **floor, "kid": k_mean, "kid_std": k_std,
                       **prdc(real_c, feats, ev.prdc_k)}
        else:
            quality = {"fid": nan, **floor, "kid": nan, "kid_std": nan,
                       "precision": nan, "recall": nan, "density": nan, "coverage": nan}
        measured = count >= n and eval_set.images is not None
        vectors = None
        if measured:  # the class's samples where the memorisation check compares them (eval.copy_space)
            vectors = eval_set.features[mine][:n] if ev.copy_space == "features" else \
                pixel_vectors(eval_set.images[mine][:n])
        if measured and train_vectors is None:  # the training set's, once per generation
            train_vectors = copy_vectors(train_set.images, ref.judge, ref.features, ev.copy_space)
        quality.update(within_class_columns(eval_set.features[mine][:n] if count >= n else torch.zeros(0, 1), vectors,
                                            train_vectors, ref.copies, c, ref.floors[c], cas,
                                            _floor_column(ref, "cas_real")))
        verdict = verdicts[mine] if verdicts is not None else torch.zeros(0, dtype=torch.long)
        conditional = eval_set is not None and eval_set.conditioning is not None and count > 0
        redundant = not conditional or c == head  # unconditional: 0 or label fidelity; head row: label fidelity
        rows.append({**row, **quality, **_toward_columns(eval_set, mine, n, c, head, ref),
                     "label_fidelity": float((verdict == c).double().mean()) if conditional else nan,
                     "to_head": nan if redundant else float((verdict == head).double().mean()),
                     "to_head_real": nan if c == head else float(ref.confusion[head, c])})
    rows.append({**{k: nan for k in rows[0]}, "generation": generation, "class_index": -1,
                 "class_name": rf.UNRECOGNISABLE, "train_count": 0, "sample_count": 0, "eval_count": 0,
                 "recognised_count": 0, "unrecognised_count": stats.unrecognised})
    return rows  # the unrecognisable row counts rejected samples; its share is summary's unrecognisable_share


def _toward_columns(eval_set: EvalSet | None, mine: torch.Tensor, n: int, c: int, head: int, ref: Reference) -> dict:
    """`toward_head` of class c's first n evaluation samples in the judge's feature space, beside its floor; NaN for
    the head, for a class with fewer than n samples, and for a run that predates the floor."""
    floor = {k: float(ref.floors[c].get(k, "nan")) for k in ("toward_head_floor_median", "toward_head_floor_p95")}
    value = float("nan")
    if c != head and ref.judge_means is not None and eval_set is not None and int(mine.sum()) >= n:
        value = toward_head(eval_set.judged.features[mine][:n], ref.judge_means[c], ref.judge_means[head])
    return {"toward_head": value, **floor}


def _floor_column(ref: Reference, key: str) -> np.ndarray:
    """One column of the class floors table (NaN where an older run's table lacks it)."""
    return np.array([float(r.get(key, float("nan"))) for r in ref.floors])


def eval_verdict(eval_set: EvalSet, ref: Reference) -> torch.Tensor:
    """The judge's verdict on each evaluation sample, with unrecognisable ones as class C."""
    if eval_set.images is None:  # nothing was kept to evaluate
        return torch.zeros(0, dtype=torch.long)
    rejected = ref.recogniser.unrecognisable(eval_set.judged.probs, eval_set.judged.features, eval_set.images)
    return torch.from_numpy(np.where(rejected, len(ref.test_by_class), eval_set.judged.labels.numpy()))


def calibration_shift(freq: dict, eval_set: EvalSet | None, ref: Reference) -> float:
    """How far BBSE's answer moves when the confusion is measured on this generation's own samples (against the
    labels they were generated for) instead of on real calibration images: the total variation between the two
    calibrated histograms. BBSE assumes generated images of a class look like real ones to the judge; a large
    shift says they do not. NaN for unconditional models (no intended label) or without recognised samples."""
    if eval_set is None or eval_set.conditioning is None or not np.isfinite(freq["judged"]).all():
        return float("nan")
    verdict = eval_verdict(eval_set, ref).numpy()
    kept = verdict < len(ref.test_by_class)  # recognised evaluation samples
    if not kept.any():
        return float("nan")
    own = confusion_matrix(eval_set.conditioning.numpy()[kept], verdict[kept], len(ref.test_by_class))
    return fq.total_variation(calibrated_frequencies(freq["judged"], own), freq["calibrated"])


def global_quality(stats: SampleStats, mix: np.ndarray, ref: Reference, cfg: ExperimentConfig,
                   rng: torch.Generator) -> dict:
    """FID against the real subset's prior and against the generation's own class mix, with floors; KID and
    PRDC against a prior-matched real reference."""
    ev, nan = cfg.eval, float("nan")
    original = mixture_moments(ref.test_by_class, ref.prior)
    out = {"fid_vs_original": nan, "fid_at_labels": nan}
    if stats.seen > 1:
        moments = stats.moments()
        out["fid_vs_original"] = frechet_distance(*moments, *original)
        if np.isfinite(mix).all() and mix.sum() > 0:
            out["fid_at_labels"] = frechet_distance(*moments, *mixture_moments(ref.test_by_class, mix))
    band = global_floor(ref.calibration_by_class, original, counts_for(ref.prior, stats.seen), ev.floor_draws, rng)
    out.update(fid_vs_original_floor_median=band.median, fid_vs_original_floor_p95=band.p95)
    band = Band(nan, nan)
    if np.isfinite(out["fid_at_labels"]):
        band = global_floor(ref.calibration_by_class, mixture_moments(ref.test_by_class, mix),
                            counts_for(mix, stats.seen), ev.floor_draws, rng)
    out.update(fid_at_labels_floor_median=band.median, fid_at_labels_floor_p95=band.p95)
    subset = stats.feature_subset()
    real = prior_matched_subset(ref.test_by_class, ref.prior, rng, ev.max_features)
    k_mean, k_std = kid(subset, real, ev.kid_subset_size, ev.kid_subsets, rng)
    return {**out, "kid_vs_original": k_mean, "kid_std": k_std, **prdc(real, subset, ev.prdc_k)}


def measure(
    generation: int,
    train_set: LabelledImages,
    stats: SampleStats,  # what was accumulated over the generation's samples (the next training set)
    eval_set: EvalSet | None,
    ref: Reference,
    cfg: ExperimentConfig,
    rng: torch.Generator,  # draws KID subsets, floors and bootstrap replicates
    samples: LabelledImages | None = None,  # the labelled samples carried on, for CAS; None: no CAS
    chance: Callable[[list[dict]], tuple[dict, list]] | None = None,  # class rows -> (the null's summary columns,
    # its chance rows): null.check.chance_check; None: no chance columns
) -> GenerationResult:
    """Per-class rows, the whole summary row, the conditioning x judged confusion and the chance rows of one
    generation."""
    ev, num = cfg.eval, train_set.num_classes
    np_rng = np.random.default_rng(int(torch.randint(2**31, (1,), generator=rng)))
    freq = class_frequencies(stats, ref, ev.min_recognised, np_rng)
    warnings, enough = [], freq["total"] >= ev.min_recognised
    if not enough:
        warnings.append(f"generation {generation}: only {freq['total']} recognised sample(s), fewer than "
                        f"eval.min_recognised={ev.min_recognised}; class shares, entropy and divergences are NaN")
    shift = calibration_shift(freq, eval_set, ref)
    if shift > ev.max_calibration_shift:
        warnings.append(f"generation {generation}: the judge's confusion on its own samples moves the calibrated shares "
                        f"by {shift:.3f} (above eval.max_calibration_shift={ev.max_calibration_shift}); its calibrated "
                        "shares are unreliable")
    cas = class_accuracy(samples, ref.test, cfg) if samples is not None else None
    rows = class_rows(generation, train_set, stats, eval_set, ref, cfg, freq, rng, cas)
    head, tail = fq.head_and_tail(ref.real.class_counts(), ev.tail_fraction)
    # The class mix FID is matched to: the labels asked for, or (unconditional) what the judge recognised.
    mix = fq.shares(stats.conditioned) if cfg.conditional else freq["judged"]
    calibrated = freq["calibrated"]
    head_share, tail_share = fq.head_and_tail_shares(freq["judged"], head, tail)
    head_cal, tail_cal = fq.head_and_tail_shares(calibrated, head, tail)
    # Over every sample drawn, unrecognisable ones included: what the model still makes of each class at all.
    seen = max(stats.seen, 1)
    head_all, tail_all = fq.head_and_tail_shares(stats.recognised / seen, head, tail)
    kept = freq["total"] / seen
    chance_summary, chance_rows = chance(rows) if chance is not None else ({}, [])
    fids = np.array([r["fid"] for r in rows[:num]], dtype=float)
    summary = {
        "generation": generation, "recognised_count": freq["total"],
        "unrecognisable_share": stats.unrecognisable_share,
        **global_quality(stats, mix, ref, cfg, rng),
        "fid_macro": float(np.nanmean(fids)) if np.isfinite(fids).any() else float("nan"),
        "head_share": head_share, "tail_share": tail_share,
        "head_share_calibrated": head_cal, "tail_share_calibrated": tail_cal,
        "head_share_all": head_all, "tail_share_all": tail_all,
        "head_share_calibrated_all": head_cal * kept, "tail_share_calibrated_all": tail_cal * kept,
        **toward_summary(rows[:num], head),
        "head_absorption": head_absorption(ref.prior, calibrated, head, tail),
        "entropy": fq.entropy(calibrated) if enough else float("nan"),
        "kl_real_to_gen": fq.kl_divergence(ref.prior, calibrated),
        "js_to_real": fq.js_divergence(calibrated, ref.prior),
        "tv_to_real": fq.total_variation(calibrated, ref.prior),
        "extinct_labels": int((stats.carried == 0).sum()),
        "unobserved_classes": int((stats.recognised == 0).sum()),
        "extinct_judged": fq.extinct_classes(calibrated, freq["total"], ev.extinct_share) if enough else float("nan"),
        # the smallest upper bound this many recognised samples can give: extinction below it cannot be seen
        "extinct_detectable_share": float(fq.share_upper_bound(0, freq["total"])) if freq["total"] else float("nan"),
        "confusion_condition": condition_number(ref.confusion),
        "calibration_shift": shift,
        "shares_unreliable": float(shift > ev.max_calibration_shift) if np.isfinite(shift) else float("nan"),
        **chance_summary,
        **within_class_summary(rows[:num], stats, train_set, ref),
        "train_size": len(train_set),
        "real_fraction": sum(rf.is_real(i) for i in train_set.ids) / len(train_set) if len(train_set) else float("nan"),
    }
    confusion = None
    if eval_set is not None and eval_set.conditioning is not None:
        confusion = np.zeros((num, num + 1), dtype=np.int64)  # last column: unrecognisable
        np.add.at(confusion, (eval_set.conditioning.numpy(), eval_verdict(eval_set, ref).numpy()), 1)
    return GenerationResult(rows, summary, confusion, warnings, chance_rows)


def toward_summary(rows: list[dict], head: int) -> dict:
    """The class mean of `toward_head` over the non-head classes measured, and the share of them above their
    floor's p95 (a perfect generator's class lands there 5% of the time)."""
    values = np.array([r["toward_head"] for r in rows if r["class_index"] != head], dtype=float)
    p95 = np.array([r["toward_head_floor_p95"] for r in rows if r["class_index"] != head], dtype=float)
    seen = np.isfinite(values) & np.isfinite(p95)
    return {"toward_head": float(np.nanmean(values)) if np.isfinite(values).any() else float("nan"),
            "toward_head_beyond_floor": float((values[seen] > p95[seen]).mean()) if seen.any() else float("nan")}


def within_class_summary(rows: list[dict], stats: SampleStats, train_set: LabelledImages, ref: Reference) -> dict:
    """Generation-wide within-class numbers: pixel variance against the real subset's and the training set's (the
    approximation error; 1 is none), mean Vendi score, memorised share and CAS (balanced accuracy), with baselines."""
    def mean(key: str) -> float:
        values = np.array([r[key] for r in rows], dtype=float)
        return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

    train_variance = PixelMoments().update(train_set.images).total_variance() if len(train_set) else float("nan")
    variance = stats.pixels.total_variance()
    def ratio(reference: float) -> float:  # NaN, not a crash, for a set of identical images
        return variance / reference if reference > 0 else float("nan")

    return {"variance_ratio": ratio(ref.real_variance), "variance_ratio_train": ratio(train_variance),
            **{k: mean(k) for k in ("vendi", "vendi_floor_median", "memorised_share", "memorised_photos",
                                    "memorised_real", "cas", "cas_real")}}
