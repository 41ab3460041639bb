"""What the member nets and the neural mixtures share in training: seeded fits that
repeat, and row weights whose losses are weighted means on each side of a split."""

import contextlib
import threading

import numpy as np
import torch

# A seeded fit draws from generators that are one per process (torch's, NumPy's global
# one, which a shuffled ValidSplit without a seed of its own draws from): seeded fits in
# threads of one process take turns, so that each draws what it would draw alone.
# Re-entrant: a seeded fit inside another (a callback's) nests its seed and restores it.
SEEDED_FIT = threading.RLock()


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


def mean_one(weight, n_samples):
    """``weight`` (None: every row 1) as float32 of mean 1, so that weights change the
    balance between rows, not the step size. Scaled in float64, first by its largest
    value: equal weights of any size (1e-46, 1e37) give all 1, where float32 would
    round them to 0 or sum them to infinity."""
    if weight is None:
        return np.ones(n_samples, np.float32)
    weight = relative(weight)
    return (weight * (len(weight) / weight.sum())).astype(np.float32)


def relative(weight):
    """``weight`` (None stays None) divided by its largest value: its sums and
    weighted squares then stay within float64's range, whatever its size."""
    return None if weight is None else weight / weight.max()


def mean_one_within(weight, dataset, parts):
    """Scale ``weight`` (an array or tensor, in place) to mean 1 within each of
    ``parts``, the subsets of ``dataset`` a split returned: a weighted loss averaged over
    a part's rows is then its weighted mean, and the training and validation losses
    compare. Nothing is scaled unless every part is a ``Subset`` of ``dataset`` (a split
    may return other datasets, whose rows these weights are not). ``parts`` are the
    training and the validation part; one whose weights are all 0 is refused: its
    weighted loss is undefined (it would read 0, and stop early stopping at once)."""
    if not all(isinstance(part, torch.utils.data.Subset) and part.dataset is dataset
               for part in parts):
        return
    for part, name in zip(parts, ("training", "validation")):
        rows = np.asarray(part.indices, dtype=np.int64)
        if rows.size == 0:
            continue
        if torch.is_tensor(weight):
            rows = torch.as_tensor(rows, device=weight.device)
        total = float(weight[rows].sum())
        if not total > 0:
            raise ValueError(
                f"The {name} part of the split ({len(rows)} rows) has no sample_weight "
                f"in all (its weights sum to {total:g}), so its weighted loss is "
                "undefined; shuffle the split "
                "(skorch's ValidSplit with a random_state), or give some of its rows "
                "weight."
            )
        weight[rows] *= len(rows) / total
