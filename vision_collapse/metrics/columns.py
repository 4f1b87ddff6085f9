"""What every column of metrics.csv and summary.csv means: one source for the README's tables and the report's
header tooltips.

    python -m vision_collapse.metrics.columns   # prints the two tables that docs/run-folder.md must contain
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One row of a column table: the columns it covers, what they mean, and the report's group for them."""

    names: tuple[str, ...]
    meaning: str
    group: str = ""  # summary.csv only: the report's table these columns go in
    shown: str = ""  # how the README names them, when listing every name would be long


START, END = "<!-- columns:start -->", "<!-- columns:end -->"
SHARES, CHANCE, QUALITY, WITHIN, WEB, TRAINING = ("Shares and divergence", "Against chance", "Quality against real",
                                                  "Inside the classes", "Web and filter", "Training set and timing")
_SIDES = ("head", "tail")
_CHANCE_NAMES = tuple(f"{s}_{k}" for s in _SIDES for k in ("chance_observed", "chance_low", "chance_high", "chance_p",
                                                          "beyond_chance"))
_COMPOUNDING_NAMES = tuple(f"{s}_{k}" for s in _SIDES for k in ("compounding_low", "compounding_high",
                                                               "compounding_p", "beyond_compounding"))
_CALIBRATED_NAMES = tuple(f"{s}_calibrated_{k}" for s in _SIDES for k in ("low", "high", "p", "beyond"))
_FLOOR_NAMES = tuple(f"{m}_floor_{q}" for m in ("fid_vs_original", "fid_at_labels") for q in ("median", "p95"))

PER_CLASS = (
    Column(("train_count",), "images of the class in that generation's training set"),
    Column(("sample_count",), "samples carrying the class label into the next generation (see `loop.label_source`)"),
    Column(("recognised_count", "unrecognised_count"),
           "samples the judge assigns to the class and recognises, or rejects as unrecognisable; the "
           "`unrecognisable` row (class_index −1) holds the total rejected"),
    Column(("gen_freq",), "the class's share of recognised samples"),
    Column(("gen_freq_calibrated", "calibrated_low", "calibrated_high"),
           "`gen_freq` corrected for the judge's confusion (black-box shift estimation: solve C q = p with C measured "
           "on the calibration split, project onto the simplex), with a 95% bootstrap interval over the samples and "
           "over the calibration images"),
    Column(("eval_count",), "evaluation samples of the class: `eval.samples_per_class` drawn per class for a "
           "conditional model, independent of the training draw; the first recognised members for an unconditional one"),
    Column(("fid", "kid", "kid_std"),
           "FID and unbiased KID of exactly `eval.samples_per_class` evaluation samples against the class's real test "
           "images; NaN when fewer exist, so every generation is measured at the same n"),
    Column(("fid_floor_median", "fid_floor_p95", "kid_floor_median", "kid_floor_p95"),
           "the same metric for n real calibration images (never seen by the judge) against the same test images, "
           "over `eval.floor_draws` draws (`floors.csv`). At or below the p95, a class cannot be told from real images"),
    Column(("precision", "recall", "density", "coverage"),
           "k-NN metrics (k = `eval.prdc_k`) of the class's evaluation samples against its real test images"),
    Column(("label_fidelity",),
           "conditional models: share of samples generated as the class that the judge recognises as it"),
    Column(("to_head", "to_head_real"),
           "conditional models, non-head classes: share of the class's samples judged as the head class; beside it the "
           "judge's own confusion of real images of the class into the head. NaN where it would repeat another number "
           "(unconditional models, the head row)"),
    Column(("toward_head", "toward_head_floor_median", "toward_head_floor_p95"),
           "non-head classes: how far the class's n evaluation samples moved toward the head class in the judge's "
           "feature space, the shift of their mean from the class's real mean (its test images) projected onto the "
           "direction to the head's real mean, over that distance: 0 is still at its own class, 1 at the head. "
           "Beside it the same number for n unseen real calibration images of the class over `eval.floor_draws` "
           "draws (`floors.csv`), and as p95 the one-sided Student-t prediction bound for a fresh sample of n (a "
           "perfect generator exceeds it 5% of the time); above it, the class moved toward the head beyond chance"),
    Column(("vendi", "vendi_floor_median", "vendi_floor_p05"),
           "diversity inside the class: the Vendi score (`vendi-score` package; cosine kernel on backbone features) of "
           "the n evaluation samples, the effective number of distinct samples from 1 to n; beside it the median and "
           "5th percentile for n unseen real images (`floors.csv`). Below the p05, the class has lost diversity real "
           "images of its size do not"),
    Column(("memorised_share", "memorised_photos", "memorised_real"),
           "the share of the class's evaluation samples whose nearest image in this generation's training set (pixel "
           "distance) is closer than the 1st percentile of held-out real images' nearest distances to the real "
           "subset: near-copies. Then the same share against the real subset's photos, whatever the generation "
           "trained on (memorisation of the photos apart from collapse; in `pretrained.csv` too). Beside them the "
           "same share for held-out real images (about 0.01)"),
    Column(("cas", "cas_real"),
           "classification accuracy score: recall on the real test images of the class, for a classifier with the "
           "judge's recipe (`eval.cas_epochs` epochs) trained on this generation's carried samples alone; beside it "
           "the same classifier trained on the real subset. NaN for `evaluate` on unlabelled images"),
)

SUMMARY = (
    Column(("recognised_count", "unrecognisable_share"),
           "recognised samples; share of all samples the judge rejects (thresholds that together keep "
           "`eval.recognisable_quantile` of calibration images)", SHARES),
    Column(("head_share", "tail_share"),
           "share of the head class (most real images), and of the rarest 30% of classes (`eval.tail_fraction`), "
           "among recognised samples. Earlier versions called the first `dominant_share` and counted unrecognisable "
           "samples in the denominator", SHARES),
    Column(("head_share_calibrated", "tail_share_calibrated"), "the same from `gen_freq_calibrated`", SHARES),
    Column(("head_share_all", "tail_share_all"),
           "head and tail images per sample drawn: the judged counts over every sample, unrecognisable ones in the "
           "denominator, so a class that degrades into junk falls here even while its share of the recognised rest "
           "holds", SHARES),
    Column(("head_share_calibrated_all", "tail_share_calibrated_all"),
           "the calibrated shares times the recognised fraction: the same over all samples", SHARES),
    Column(("head_absorption",),
           "where the tail's calibrated share fell below the real subset's: the share of its lost mass the head took, "
           "over the share a proportional renormalisation of the other classes would give it (1 proportional, above 1 "
           "the head took more than its share, 0 none); NaN when the tail lost nothing. Unbounded above: when the head "
           "also takes from classes outside the tail it reads far above 1; noisy when the tail's loss is small",
           SHARES),
    Column(("toward_head", "toward_head_beyond_floor"),
           "the class mean of the per-class `toward_head` (non-head classes), and the share of those classes above "
           "their floor's p95", SHARES),
    Column(("entropy", "kl_real_to_gen", "js_to_real", "tv_to_real"),
           "entropy of the calibrated frequencies (nats); KL(p_real ‖ p_g) with a 1e-6 floor (large when a real class "
           "vanishes), Jensen–Shannon and total variation, all against the real subset's prior", SHARES),
    Column(("extinct_labels",),
           "classes no sample carries into the next generation: a conditional loop cannot bring them back", SHARES),
    Column(("unobserved_classes",), "classes the judge gives no recognised sample: unseen, not yet extinct", SHARES),
    Column(("extinct_judged", "extinct_detectable_share"),
           "classes whose calibrated share has an exact (Clopper–Pearson) 97.5% upper bound over `recognised_count` "
           "samples below `eval.extinct_share` (default 0.01); beside it the smallest bound this many samples can give "
           "(a class seen 0 times): when it exceeds `eval.extinct_share`, no extinction can be detected", SHARES),
    Column(("confusion_condition",),
           "condition number of the judge's confusion matrix: how much calibration amplifies noise", SHARES),
    Column(("calibration_shift", "shares_unreliable"),
           "conditional models: the total variation between the calibrated shares with the confusion measured on real "
           "calibration images and with the confusion measured on this generation's own evaluation samples against the "
           "labels they were generated for (BBSE assumes generated images look like real ones to the judge); above "
           "`eval.max_calibration_shift` (default 0.05) the flag is 1 and the calibrated shares are unreliable", SHARES),
    Column(_CHANCE_NAMES,
           "the share the null chains track (the carried labels for a conditional model, the recognised judgements "
           "otherwise) against the level chain (the loop's twin from the real subset, with a perfect generator and a "
           "class-blind filter): its 95% band, the two-sided Monte-Carlo p-value (k+1)/(B+1), and the flag p ≤ 0.05 "
           "(1 or 0; averaged across seeds, the share of seeds flagged)", CHANCE,
           "`head_chance_observed/low/high/p`, `head_beyond_chance` (and `tail_…`)"),
    Column(_COMPOUNDING_NAMES,
           "the same against the compounding chain, started at generation 0's observed samples: flagged when the drift "
           "since generation 0 exceeds chance (NaN at generation 0). A filter that shifts generation 0 once is flagged by "
           "the level test only", CHANCE, "`head_compounding_low/high/p`, `head_beyond_compounding` (and `tail_…`)"),
    Column(_CALIBRATED_NAMES,
           "the calibrated head and tail shares (`head_share_calibrated`, `tail_share_calibrated`) against the level "
           "chain, whose samples are judged as the run judges (recognition and confusion measured on the calibration "
           "split) and calibrated the same way: band, p-value and flag", CHANCE,
           "`head_calibrated_low/high/p`, `head_calibrated_beyond` (and `tail_…`)"),
    Column(("chance_combined_p", "any_beyond_chance"),
           "the four head and tail tests of the generation combined (Bonferroni: 4 × the smallest p-value), and its "
           "flag at 0.05: a neutral run is flagged at most 5% of the time", CHANCE),
    Column(("fid_vs_original",),
           "FID of all samples against the real test images reweighted to the real subset's class prior (closed form "
           "from per-class moments): quality and class drift together", QUALITY),
    Column(("fid_at_labels",),
           "the same against the test images reweighted to this generation's own class mix (its conditioning labels, "
           "or the recognised judgements): quality alone", QUALITY),
    Column(_FLOOR_NAMES, "the same FID for real calibration images with the same class counts, over "
           "`eval.floor_draws` draws", QUALITY, "`*_floor_median`, `*_floor_p95`"),
    Column(("fid_macro",), "mean of the per-class FIDs", QUALITY),
    Column(("kid_vs_original", "kid_std", "precision", "recall", "density", "coverage"),
           "against a prior-matched subset of the test images (the largest one drawable without repeats)", QUALITY,
           "`kid_vs_original`, `kid_std`, `precision` … `coverage`"),
    Column(("variance_ratio", "variance_ratio_train"),
           "total pixel variance of the samples over that of the real subset, and over that of this generation's own "
           "training set: the second is the generation's approximation error (1 is none; below 1 the model narrows "
           "what it learnt)", WITHIN),
    Column(("vendi", "vendi_floor_median", "memorised_share", "memorised_photos", "memorised_real", "cas",
            "cas_real"),
           "means over classes of the per-class columns of the same names (`cas` is then the balanced accuracy)",
           WITHIN),
    Column(("web_synthetic_share",), "`loop.strategy=scrape`: the share of generated images on the web this "
           "generation scraped (NaN at generation 0, which learns from the real subset)", WEB),
    Column(("filter_precision", "filter_recall", "real_discarded"),
           "`loop.filter` against the truth: the share of the images it dropped that were generated, the share of "
           "the web's generated images it dropped, and the share of the web's real images it dropped", WEB),
    Column(("leaked_synthetic_share", "leaked_newest_share"),
           "the share of generated images among the scraped images that went into training, and the share of those "
           "that the newest earlier generation made (per item and source generation: `gen_XXX/web.csv`)", WEB),
    Column(("expert_checked_share", "expert_disagreed_share", "expert_redraws", "expert_unresolved_share"),
           "`loop.correction`: of every sample drawn (before curation), the share the expert checked, the share "
           "whose carried label it disagreed with (dropped and redrawn, or relabelled), the redraws that took, and "
           "the share still disagreeing after 10 redraws (kept as they are)", TRAINING),
    Column(("train_size", "real_fraction"), "images in the training set, and the share of them that is real",
           TRAINING),
    Column(("train_seconds", "sample_seconds", "eval_seconds"),
           "wall-clock seconds the generation spent training, sampling and measuring", TRAINING),
    Column(("generation_seconds",), "wall-clock seconds of the whole generation, from its manifest to its tables",
           TRAINING),
)
GROUPS = (SHARES, CHANCE, QUALITY, WITHIN, WEB, TRAINING)


def meaning(column: str, per_class: bool = False) -> str:
    """What a metrics.csv (per_class) or summary.csv column means, as plain text; '' for one not described."""
    for entry in PER_CLASS if per_class else SUMMARY:
        if column in entry.names:
            return entry.meaning.replace("`", "")
    return ""


def group_of(column: str) -> str:
    """The report's group for a summary.csv column ('' for the generation and unknown columns)."""
    return next((c.group for c in SUMMARY if column in c.names), "")


def _markdown(entries: tuple[Column, ...], heading: str) -> list[str]:
    """One markdown table of column entries."""
    lines = [f"| {heading} | meaning |", "|---|---|"]
    return lines + [f"| {c.shown or ', '.join(f'`{n}`' for n in c.names)} | {c.meaning} |" for c in entries]


def columns_tables() -> str:
    """The README's two column tables, between their markers."""
    return "\n".join([START, *_markdown(PER_CLASS, "column (metrics.csv, per generation and class)"), "",
                      *_markdown(SUMMARY, "column (summary.csv, per generation)"), END])


if __name__ == "__main__":
    print(columns_tables())
