"""Results computed once per set of objects (pool arrays, a plan's subgroups), kept by the objects' identity.

A plan's pool arrays live as long as the plan and are never changed in place, so what is derived
from them (packed tally matrices, the subgroup bits, whether the outcome model has covariates) can
be kept between seed blocks. numpy arrays are not hashable: entries are keyed by ``id``, and keep
the objects themselves so that an id cannot be reused while its entry is held.

Examples
--------
>>> import numpy as np
>>> memo = IdentityMemo(size=2)
>>> a = np.arange(3)
>>> memo.get((a,), lambda: int(a.sum())), memo.get((a,), lambda: -1)
(3, 3)
>>> memo.get((a.copy(),), lambda: -1)  # an equal array is another object
-1
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["IdentityMemo"]

T = TypeVar("T")


class IdentityMemo(Generic[T]):
    """The ``size`` most recently used results, by the identity of the objects they were computed from."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[tuple, tuple[tuple, T]] = OrderedDict()
        self._lock = threading.Lock()  # Dask workers may run blocks in threads

    def get(self, objects: tuple, compute: Callable[[], T], extra: Hashable = None) -> T:
        """``compute()`` the first time these very ``objects`` (and ``extra``) are seen, its result after."""
        key = (*map(id, objects), extra)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and all(a is b for a, b in zip(hit[0], objects, strict=True)):
                self._entries.move_to_end(key)
                return hit[1]
        value = compute()
        with self._lock:
            self._entries[key] = (objects, value)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value
