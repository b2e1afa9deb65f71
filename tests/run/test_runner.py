"""What the Dask runner does beside the blocks: the client's collector pause, the plans it ships, the first tasks."""

import gc

from trialsim.run.runner import _survivors_frozen, block_task, for_workers
from trialsim.run.seeds import blocks
from trialsim.run.simulate import prepare


def test_the_objects_alive_when_a_cluster_run_starts_are_frozen_until_it_ends():
    assert gc.get_freeze_count() == 0
    with _survivors_frozen():
        assert gc.get_freeze_count() > 0
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


def test_blocks_computed_from_the_plans_shipped_to_workers_are_the_same_bytes():
    plans = prepare("designs/two-arm-pfs-gsd.yaml", trials=500, seed=5).plans  # diversity goals and subgroups
    lean = for_workers(plans)
    assert sum(len(c.values) for plan in lean.values() for c in plan.covariates) == 0
    work = tuple(blocks("expected", 500))
    assert block_task(lean, 5, work) == block_task(plans, 5, work)


def test_each_worker_thread_is_given_a_first_task(monkeypatch):
    # Left to the scheduler, both first tasks sometimes went to one of two workers, the other idle
    # for a whole task; the runner places one on each thread (loosely), the rest as the scheduler likes.
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        placed = []
        submit = client.submit

        def recording(function, *args, **kwargs):
            if function is block_task:
                placed.append((kwargs.get("workers"), kwargs.get("allow_other_workers", False)))
            return submit(function, *args, **kwargs)

        monkeypatch.setattr(client, "submit", recording)
        prepare("bench/designs/w1-survival-gsd.yaml", trials=4000, seed=3).execute(client=client)
        first, rest = placed[:2], placed[2:]
        assert sorted(workers[0] for workers, _ in first) == sorted(client.nthreads())
        assert all(loose for _, loose in first)
        assert rest and all(workers is None for workers, _ in rest)
