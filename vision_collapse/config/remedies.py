"""The remedies for collapse a config can switch on, where each comes from, and when one does not apply.

    python -m vision_collapse.config.remedies   # prints the remedy table that docs/remedies.md must contain
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vision_collapse.config.schema import ExperimentConfig, load_config
from vision_collapse.errors import UserError


def _not_scraping(cfg: ExperimentConfig) -> str:
    """Why a strategy remedy does not apply to a scrape config ('' when it does)."""
    return "the config scrapes the web (loop.strategy=scrape), and a new strategy would remove what it studies" \
        if cfg.loop.strategy == "scrape" else ""


def _conditional(cfg: ExperimentConfig) -> str:
    """Why a label remedy does not apply ('' when it does)."""
    return "" if cfg.conditional else "an unconditional model (loop.label_source=none) has no labels to act on"


def _stepped(cfg: ExperimentConfig) -> str:
    """Why a weight remedy does not apply ('' when it does)."""
    return "" if cfg.model.kind in ("diffusion", "vae") else f"model.kind={cfg.model.kind} has no trained weights"


def _scraping(cfg: ExperimentConfig) -> str:
    """Why a provenance remedy does not apply ('' when it does)."""
    return "" if cfg.loop.strategy == "scrape" else "the config scrapes nothing (needs loop.strategy=scrape)"


@dataclass(frozen=True)
class Remedy:
    """One remedy: what it is, where the claim comes from, the overrides that switch it on, and when it applies."""

    name: str
    meaning: str
    reference: str
    on: tuple[str, ...]  # KEY=VALUE overrides that switch it on
    needs: Callable[[ExperimentConfig], str] = lambda cfg: ""  # why it does not apply to a config; '' if it does


START, END = "<!-- remedies:start -->", "<!-- remedies:end -->"

REMEDIES = (
    Remedy("keep_real", "each generation trains on 10% real images from the real subset, the rest its "
           "predecessor's samples", "Shumailov et al., Nature 2024", ("loop.strategy=mix", "loop.real_fraction=0.1"),
           _not_scraping),
    Remedy("accumulate", "each generation trains on the real subset and every earlier generation's samples",
           "Gerstgrasser et al. 2024", ("loop.strategy=accumulate",), _not_scraping),
    Remedy("fresh_real", "each generation trains on 10% newly drawn real images, the rest its predecessor's samples",
           "Alemohammad et al., ICLR 2024 (fresh-data loop)", ("loop.strategy=fresh", "loop.real_fraction=0.1"),
           _not_scraping),
    Remedy("prior_labels", "a conditional model samples labels drawn from the real subset's frequencies every "
           "generation, not its training set's", "the conditioning prior held fixed",
           ("loop.label_sampling=original",), _conditional),
    Remedy("expert_correction", "an expert classifier (neither judge nor labeller) checks every sample's label and "
           "disagreeing samples are redrawn", "Gillman et al. 2024 (self-correcting self-consuming loops)",
           ("loop.correction=drop", "loop.correction_strength=1"), _conditional),
    Remedy("class_balanced", "each training item's loss is weighted by the inverse of its class's share",
           "Qin et al., CVPR 2023 (class-balancing diffusion models)", ("train.class_balance=true",),
           lambda cfg: _stepped(cfg) or _conditional(cfg)),
    Remedy("provenance_filter", "generated images are removed from the scraped web by their invisible watermark",
           "provenance (loop.filter)", ("loop.filter=watermark",), _scraping),
    Remedy("provenance_detector", "generated images are removed from the scraped web by a real-vs-generated detector",
           "provenance (loop.filter)", ("loop.filter=detector",), _scraping),
    Remedy("neon", "the model is fine-tuned on its own samples and its weights extrapolated away from that: "
           "(1 + w) theta - w theta_self, w = 0.5", "Alemohammad, Wang and Baraniuk, ICLR 2026 (Neon)",
           ("loop.neon_weight=0.5",), _stepped),
)
NAMES = tuple(r.name for r in REMEDIES)


def remedy_named(name: str) -> Remedy:
    """The remedy called `name`; one line naming the known ones otherwise."""
    for remedy in REMEDIES:
        if remedy.name == name:
            return remedy
    raise UserError(f"unknown remedy {name!r}; choose from {', '.join(NAMES)}")


def why_not(remedy: Remedy, config, overrides: list[str]) -> str:
    """Why `remedy` does not apply to the config with `overrides` ('' when it does): it does not act there, the
    config refuses it, or it is on already."""
    cfg = load_config(config, overrides)
    reason = remedy.needs(cfg)
    if reason:
        return reason
    try:
        treated = load_config(config, [*overrides, *remedy.on])
    except UserError as exc:
        return str(exc)
    return "it is on in the config already" if treated == cfg else ""


def remedies_table() -> str:
    """The README's remedy table, between its markers: each remedy, what it is, its source and its switch."""
    lines = [START, "| remedy | what it does | claim from | switch (`vision-collapse remedy` uses it) |",
             "|---|---|---|---|"]
    lines += [f"| `{r.name}` | {r.meaning} | {r.reference} | {', '.join(f'`{o}`' for o in r.on)} |" for r in REMEDIES]
    return "\n".join(lines + [END])


if __name__ == "__main__":
    print(remedies_table())
