"""Shared test setup: a private judge cache per session, so tests never touch the user's cache."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Point the judge cache at a temporary folder shared by the session's tests."""
    mp = pytest.MonkeyPatch()
    mp.setenv("VISION_COLLAPSE_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


# A whole run in seconds: Gaussian mixtures instead of diffusion, and small evaluation settings.
FAST_GMM = ["model.kind=gmm", "model.guidance_scale=1", "judge.epochs=2", "loop.generations=2",
            "eval.samples_per_class=10", "eval.kid_subsets=2"]


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    """make_run(*overrides, name=...) runs configs/quick.yaml with FAST_GMM and the overrides; returns the folder."""
    from vision_collapse.cli import main

    def make(*overrides, name="run"):
        out = tmp_path_factory.mktemp(name) / name
        assert main(["run", "configs/quick.yaml", *FAST_GMM, *overrides, "--out", str(out)]) == 0
        return out

    return make
