"""The causes of collapse a config can switch on, and the one switch that turns each truly off.

    python -m vision_collapse.config.causes   # prints the switch table that docs/findings.md must contain
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vision_collapse.config.schema import ExperimentConfig


@dataclass(frozen=True)
class Cause:
    """One cause: what it is, whether a config has it on, and the overrides that switch it off."""

    name: str
    meaning: str
    active: Callable[[ExperimentConfig], bool]
    off: tuple[str, ...]  # KEY=VALUE overrides that remove this cause and nothing else


START, END = "<!-- causes:start -->", "<!-- causes:end -->"

CAUSES = (
    Cause("finite_resampling", "conditioning labels redrawn from a finite sample every generation (neutral drift)",
          lambda c: c.conditional and c.loop.label_sampling in ("proportional", "original"),
          ("loop.label_sampling=original_exact",)),
    Cause("pca_truncation", "model capacity: the GMM keeps model.pca_dim PCA dimensions and loses the rest",
          lambda c: c.model.kind == "gmm" and c.model.pca_dim > 0, ("model.pca_dim=0",)),
    Cause("temperature", "sampling bias: model.temperature scales the sampling noise's standard deviation",
          lambda c: c.model.temperature != 1.0, ("model.temperature=1",)),
    Cause("guidance", "sampling bias: classifier-free guidance pushes samples toward their class's mode",
          lambda c: c.model.guidance_scale != 1.0, ("model.guidance_scale=1",)),
    Cause("biased_labels", "labels from a classifier trained on the imbalanced subset, which leans to the head",
          lambda c: c.loop.label_source == "classifier", ("loop.label_source=conditioning",)),
    Cause("curation", "samples kept by confidence (top fraction or K-choice) before they are carried on",
          lambda c: c.loop.curating, ("loop.curation=1", "loop.curation_choice=1")),
    Cause("lost_provenance", "generated images scraped back into training unfiltered or imperfectly filtered "
          "(loop.strategy=scrape)", lambda c: c.loop.strategy == "scrape" and c.loop.filter != "oracle",
          ("loop.filter=oracle",)),
)


def active_causes(cfg: ExperimentConfig) -> list[Cause]:
    """The causes switched on in a config, in CAUSES order."""
    return [cause for cause in CAUSES if cause.active(cfg)]


def cause_named(name: str) -> Cause:
    """The cause called `name`."""
    return next(c for c in CAUSES if c.name == name)


def causes_table() -> str:
    """The README's switch table, between its markers: each cause, what it is and the overrides turning it off."""
    lines = [START, "| cause | what it is | off switch (`vision-collapse attribute` uses it) |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.meaning} | {', '.join(f'`{o}`' for o in c.off)} |" for c in CAUSES]
    return "\n".join(lines + [END])


if __name__ == "__main__":
    print(causes_table())
