"""What the member nets and the neural mixtures share in training: seeded fits that
repeat, and row weights whose losses are weighted means on each side of a split."""

import contextlib
import threading

import numpy as np
import torch

# A seeded fit draws from generators that are one per process (torch's, NumPy's global
# one, which a shuffled ValidSplit without a seed of its own draws from): seeded fits in
# threads of one process take turns, so that each draws what it would draw alone.
SEEDED_FIT = threading.Lock()


@contextlib.contextmanager
def seeded(seed, torch_too=True):
    """Inside, NumPy's global generator (and torch's, with ``torch_too``) seeded from
    ``seed``; NumPy's state is restored after, so the caller's draws are untouched."""
    with SEEDED_FIT:
        state = np.random.get_state()
        np.random.seed(seed)
        if torch_too:
            torch.manual_seed(seed)
        try:
            yield
        finally:
            np.random.set_state(state)


def mean_one_within(weight, *parts):
    """Scale ``weight`` (an array or tensor, in place) to mean 1 within each of
    ``parts`` (index arrays of disjoint rows): a weighted loss averaged over a part's
    rows is then its weighted mean, and the training and validation losses compare. A
    part whose weights are all 0 is left as it is."""
    for rows in parts:
        if rows is None or len(rows) == 0:
            continue
        rows = torch.as_tensor(np.asarray(rows, dtype=np.int64)) if torch.is_tensor(weight) \
            else np.asarray(rows)
        if torch.is_tensor(weight):
            rows = rows.to(weight.device)
        total = float(weight[rows].sum())
        if total > 0:
            weight[rows] *= len(rows) / total
