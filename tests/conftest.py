"""Shared test setup: a private judge cache per session, so tests never touch the user's cache; one torch thread
per worker when pytest-xdist runs the suite in parallel."""

import os

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: more threads each would oversubscribe them (10x slower, FIELD-NOTES); the runs a
    # test starts as subprocesses inherit the limit.
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

from helpers import FAST_GMM


def pytest_collection_modifyitems(items):
    """Slow tests first (in their file order): the two workers then end on short tests, not one of them on a long
    end-to-end run while the other sits idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Point the judge cache at a temporary folder shared by the session's tests."""
    mp = pytest.MonkeyPatch()
    mp.setenv("VISION_COLLAPSE_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    """make_run(*overrides, name=..., config=...) runs a config (configs/neutral.yaml) with FAST_GMM and the
    overrides; returns the folder."""
    from vision_collapse.cli import main

    def make(*overrides, name="run", config="configs/neutral.yaml"):
        out = tmp_path_factory.mktemp(name) / name
        assert main(["run", config, *FAST_GMM, *overrides, "--out", str(out)]) == 0
        return out

    return make
