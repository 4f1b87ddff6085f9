"""loop.strategy=scrape: the 'fresh' loop with its real part scraped from a web that also holds every earlier
generation's samples, with no provenance, through loop.filter.

Generation g >= 1 trains on real_fraction x n images scraped from the filtered web plus the rest from
generation g-1's own samples (the learner knows those are its own), exactly as 'fresh' does; with the oracle
filter the two are the same. The web holds n freshly drawn real images (with the real imbalance) and
enough samples of generations 0 .. g-1, drawn uniformly, to make up the synthetic share (re-posting some
when it needs more than there are); a defender's share of those samples is never posted (what a detector
trains on, whatever the filter, so that every filter faces the same web). The learner sees
only images and labels; the ids keep the truth, so every filter's errors are measured exactly (web.csv).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.data import RealData
from vision_collapse.data.images import LabelledImages, concat
from vision_collapse.data.imbalance import build_imbalanced_subset
from vision_collapse.loop.seeds import generation_seed
from vision_collapse.loop.strategies import draw_index, draw_items


@dataclass(frozen=True)
class Scrape:
    """One generation's web, what the filter made of it, and what went into training."""

    web: LabelledImages  # the learner's copies of everything on the web: fresh real images, then samples
    synthetic: np.ndarray  # the truth per item, from its id (never shown to a filter but the oracle)
    kept: np.ndarray  # the filter's verdict: True where it let the image through
    score: np.ndarray  # the filter's evidence per item (tag found, detector probability, mark bit errors); NaN if none
    trained: np.ndarray  # True where the image went into the training set


def web_share(cfg: ExperimentConfig, generation: int) -> float:
    """The synthetic share of the web at `generation` under loop.web_growth."""
    s = cfg.loop.web_synthetic_share
    return s if cfg.loop.web_growth == "fixed" else 1 - (1 - s) ** generation


def build_web(generation: int, real: RealData, history: list[LabelledImages], cfg: ExperimentConfig
              ) -> tuple[LabelledImages, np.ndarray, np.ndarray]:
    """(the web, its synthetic truth, the positions in the earlier samples kept back for a defender)."""
    fresh = build_imbalanced_subset(real.pool, cfg.data, cfg.seed, generation_seed(cfg.seed, generation, "fresh"))
    share = web_share(cfg, generation)
    earlier = concat(history[:generation])
    reserve = draw_index(len(earlier), min(cfg.loop.detector_known_real, len(earlier) // 2),
                         np.random.default_rng(generation_seed(cfg.seed, generation, "detector")))
    pool = np.setdiff1d(np.arange(len(earlier)), reserve)
    count = int(round(len(fresh) * share / (1 - share)))
    rng = np.random.default_rng(generation_seed(cfg.seed, generation, "web"))
    posted = pool[draw_index(len(pool), count, rng)]
    if count > len(pool):  # more than there are: some are posted again
        posted = np.sort(np.concatenate([posted, rng.choice(pool, count - len(pool))]))
    web = concat([fresh, earlier.subset(posted)])
    synthetic = np.array([not rf.is_real(i) for i in web.ids])
    return web, synthetic, reserve


def scrape_training_set(generation: int, real: RealData, history: list[LabelledImages], cfg: ExperimentConfig,
                        run) -> tuple[LabelledImages, Scrape]:
    """The training set of a scrape generation and its record; `run` is the run folder (the detector's cache)."""
    from vision_collapse.loop.filters import apply_filter

    web, synthetic, reserve = build_web(generation, real, history, cfg)
    web, kept, score = apply_filter(generation, web, synthetic, reserve, real, history, cfg, run)
    n = len(real.subset)
    n_scraped = int(round(cfg.loop.real_fraction * n))
    rng = np.random.default_rng(generation_seed(cfg.seed, generation, "data"))  # as 'fresh' draws
    passed = np.flatnonzero(kept)  # drawn as 'fresh' draws (the twin's counts), so the oracle filter is 'fresh'
    chosen = passed[draw_items(web.subset(passed), n_scraped, rng)]
    previous = history[generation - 1]
    own = draw_items(previous, n - n_scraped, rng)
    trained = np.zeros(len(web), bool)
    trained[chosen] = True
    return concat([web.subset(chosen), previous.subset(own)]), Scrape(web, synthetic, kept, score, trained)


def web_rows(scrape: Scrape) -> list[dict]:
    """web.csv: every web item with its true source, the filter's evidence and verdict, and whether it trained."""
    rows = []
    for i, item_id in enumerate(scrape.web.ids):
        source, from_generation = rf.provenance(item_id)
        rows.append({"id": item_id, "label": int(scrape.web.labels[i]), "source": source,
                     "from_generation": from_generation, "score": float(scrape.score[i]),
                     "kept": int(scrape.kept[i]), "trained": int(scrape.trained[i])})
    return rows


def web_summary(scrape: Scrape | None) -> dict:
    """The web columns of the summary table: the synthetic share of the web, the filter's precision and recall on generated
    images, the real images it discarded, and the synthetic share of what was scraped into training."""
    names = ("web_synthetic_share", "filter_precision", "filter_recall", "real_discarded", "leaked_synthetic_share",
             "leaked_newest_share")
    if scrape is None:  # generation 0 learns from the real subset; there is no web yet
        return dict.fromkeys(names, float("nan"))
    syn, dropped, trained = scrape.synthetic, ~scrape.kept, scrape.trained
    leaked = syn & trained
    generations = np.array([rf.provenance(i)[1] for i in scrape.web.ids])
    newest = generations.max() if syn.any() else -1

    def ratio(a: np.ndarray, b: np.ndarray) -> float:
        return float(a.sum() / b.sum()) if b.sum() else float("nan")

    return dict(zip(names, (float(syn.mean()), ratio(dropped & syn, dropped), ratio(dropped & syn, syn),
                            ratio(dropped & ~syn, ~syn), ratio(leaked, trained),
                            ratio(leaked & (generations == newest), leaked))))
