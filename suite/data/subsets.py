"""Deterministic, class-stratified index selections: ``limit=`` subsets and CIFAR10-DVS's 90/10 split.

Both depend only on the labels in dataset order (never on a random state), so every process, worker and
machine picks the same samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def stratified_limit(targets: Sequence[int], limit: int | None) -> list[int]:
    """Indices of a ``limit``-sample subset, sorted, dealt round-robin over the classes.

    Sample ``i`` gets the rank it has inside its class (0 for the first of its class in dataset order); the
    subset is the ``limit`` samples of lowest (rank, class). So classes are balanced to within one sample,
    and a smaller limit is always a subset of a larger one (a quick profile is a prefix of a bigger one).
    """
    n = len(targets)
    if limit is None or limit >= n:
        return list(range(n))
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit={limit!r}: want a positive int (or None for every sample)")
    y = np.asarray(targets, dtype=np.int64)
    order = np.argsort(y, kind="stable")
    starts = np.searchsorted(y[order], y[order], side="left")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - starts
    chosen = np.lexsort((y, rank))[:limit]
    return sorted(chosen.tolist())


def stratified_split(targets: Sequence[int], train_ratio: float) -> tuple[list[int], list[int]]:
    """(train, test) indices: per class, the first ``ceil(n * train_ratio)`` samples in dataset order train.

    This is SpikingJelly's ``split_to_train_test_set(train_ratio, ..., random_split=False)``, which the
    PLIF reference code uses for CIFAR10-DVS (0.9: 900/100 per class on the full set).
    """
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(targets):
        by_class.setdefault(int(label), []).append(i)
    train, test = [], []
    for members in by_class.values():
        cut = math.ceil(len(members) * train_ratio)
        train += members[:cut]
        test += members[cut:]
    return sorted(train), sorted(test)
