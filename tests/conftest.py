"""Shared test setup: a private judge cache per session, so tests never touch the user's cache."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Point the judge cache at a temporary folder shared by the session's tests."""
    mp = pytest.MonkeyPatch()
    mp.setenv("VISION_COLLAPSE_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()
