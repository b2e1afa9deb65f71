"""Every cohort test builds into its own population cache, never the user's ~/.cache."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def population_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("TRIALSIM_CACHE", str(cache))
    return cache / "populations"
