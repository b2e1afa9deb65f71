"""Tests and doctests never write into the user's population cache (~/.cache/trialsim)."""

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _session_population_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Session-wide so examples build their cohort once; tests/cohort overrides it per test.
    previous = os.environ.get("TRIALSIM_CACHE")
    os.environ["TRIALSIM_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("TRIALSIM_CACHE", None)
    else:
        os.environ["TRIALSIM_CACHE"] = previous
