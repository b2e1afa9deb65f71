"""The Dask client's garbage-collector pause (``runner._survivors_frozen``)."""

import gc

from trialsim.run.runner import _survivors_frozen


def test_the_objects_alive_when_a_cluster_run_starts_are_frozen_until_it_ends():
    assert gc.get_freeze_count() == 0
    with _survivors_frozen():
        assert gc.get_freeze_count() > 0
        survivors = gc.get_freeze_count()
        made = [[] for _ in range(100)]  # noqa: F841 - objects made during the run stay collectable
        assert gc.get_freeze_count() == survivors
    assert gc.get_freeze_count() == 0


def test_objects_someone_else_froze_stay_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with _survivors_frozen():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
