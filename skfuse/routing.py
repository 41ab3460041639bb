"""Sparse routing for mixtures of experts: pick, group and combine.

A gate scores ``n_experts`` experts for each of ``n`` rows. Routing sends each row to
its ``k`` best experts, runs every expert once on the contiguous block of rows routed to
it, and folds the experts' outputs back into one gate-weighted output per row:

>>> import numpy as np
>>> from skfuse.routing import combine, group_by_expert, top_k
>>> gate_proba = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
>>> experts, weights = top_k(gate_proba, 2)
>>> experts
array([[1, 2],
       [0, 2]])
>>> order, offsets = group_by_expert(experts, 3)
>>> order, offsets
(array([1, 0, 0, 1]), array([0, 1, 2, 4]))
>>> outputs = np.array([10.0, 20.0, 30.0, 31.0])  # expert 0 on row 1, expert 1 on row 0, ...
>>> combine(outputs, order, offsets, experts, weights)
array([23.33333333, 17.875     ])

Each function has two backends that give identical results: ``"numba"``, compiled
kernels (parallel over rows for large inputs, serial below ``PARALLEL_MIN_ROWS`` rows,
where starting threads costs more than it saves), and ``"numpy"``, a plain reference
kept for tests and benchmarks. No kernel sums in an order that depends on threads, so
results do not depend on the number of threads. A parallel kernel runs in one thread
at a time; a call made while another thread is in one runs its serial twin instead, so
concurrent callers never share Numba's thread pool.
"""

import threading

import numba
import numpy as np

__all__ = ["PARALLEL_MIN_ROWS", "combine", "group_by_expert", "top_k"]

PARALLEL_MIN_ROWS = 20_000
_BACKENDS = ("numba", "numpy")
_pool_lock = threading.Lock()


def _twins(function):
    """Compile ``function`` twice: serially and with its ``prange`` loops in parallel."""
    return numba.njit(cache=True)(function), numba.njit(cache=True, parallel=True)(function)


def _run(twins, n_rows, *args):
    """Run the parallel twin for large inputs when no other thread is in one."""
    serial, parallel = twins
    if n_rows >= PARALLEL_MIN_ROWS and _pool_lock.acquire(blocking=False):
        try:
            return parallel(*args)
        finally:
            _pool_lock.release()
    return serial(*args)


def _check_backend(backend):
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}; got {backend!r}.")


# -- top_k -------------------------------------------------------------------------


# The kernels keep their loops free of branches (selects compile to conditional moves,
# which do not stall on unpredictable scores). A row is bad, and gets expert -1, when
# its scores' sum is not finite (a NaN or an infinity) or its smallest score is negative.


def _top_1(gate, experts, weights):
    for i in numba.prange(gate.shape[0]):
        first, first_value = 0, -1.0
        total, lowest = 0.0, 0.0
        for e in range(gate.shape[1]):
            value = gate[i, e]
            total += value
            lowest = value if value < lowest else lowest
            better = value > first_value
            first = e if better else first
            first_value = value if better else first_value
        bad = not (total < np.inf) or lowest < 0.0
        experts[i, 0] = -1 if bad else first
        weights[i, 0] = 1.0


def _top_2(gate, experts, weights):
    for i in numba.prange(gate.shape[0]):
        first, second = 0, 0
        first_value, second_value = -1.0, -1.0
        total, lowest = 0.0, 0.0
        for e in range(gate.shape[1]):
            value = gate[i, e]
            total += value
            lowest = value if value < lowest else lowest
            above_first = value > first_value
            above_second = value > second_value
            second_value = first_value if above_first else (
                value if above_second else second_value)
            second = first if above_first else (e if above_second else second)
            first_value = value if above_first else first_value
            first = e if above_first else first
        bad = not (total < np.inf) or lowest < 0.0
        experts[i, 0] = -1 if bad else first
        experts[i, 1] = second
        kept = 0.0 + first_value
        kept += second_value
        positive = kept > 0.0
        weights[i, 0] = first_value / kept if positive else 0.5
        weights[i, 1] = second_value / kept if positive else 0.5


def _top_any(gate, experts, weights):
    k = experts.shape[1]
    for i in numba.prange(gate.shape[0]):
        values, chosen = weights[i], experts[i]  # the output rows serve as scratch
        values[:] = -1.0
        chosen[:] = -1
        bad = False
        for e in range(gate.shape[1]):
            value = gate[i, e]
            if not (0.0 <= value < np.inf):
                bad = True
                break
            if value > values[k - 1]:  # insert, keeping earlier (lower) experts first on ties
                slot = k - 1
                while slot > 0 and value > values[slot - 1]:
                    values[slot] = values[slot - 1]
                    chosen[slot] = chosen[slot - 1]
                    slot -= 1
                values[slot] = value
                chosen[slot] = e
        total = 0.0
        for slot in range(k):
            total += values[slot]
        for slot in range(k):
            values[slot] = values[slot] / total if total > 0.0 else 1.0 / k
        if bad:
            chosen[0] = -1


_TOP_KERNELS = {1: _twins(_top_1), 2: _twins(_top_2)}
_TOP_ANY = _twins(_top_any)


def _top_k_numpy(gate, k):
    order = np.argsort(-gate, axis=1, kind="stable")[:, :k]
    values = np.take_along_axis(gate, order, axis=1)
    total = np.zeros(gate.shape[0])
    for slot in range(k):  # the kernels' summation order, for identical results
        total += values[:, slot]
    positive = total > 0.0
    weights = np.full(values.shape, 1.0 / k)
    weights[positive] = values[positive] / total[positive, None]
    if k == 1:
        weights[:] = 1.0
    return order.astype(np.int64), weights


def top_k(gate_proba, k, *, backend="numba"):
    """Each row's ``k`` highest-scoring experts and their renormalised weights.

    Parameters
    ----------
    gate_proba : array-like of shape (n_samples, n_experts)
        Non-negative gate scores, such as a gate's probabilities.
    k : int
        Experts kept per row, from 1 to ``n_experts``.
    backend : {"numba", "numpy"}, default="numba"
        Compiled kernels, or the NumPy reference.

    Returns
    -------
    experts : ndarray of shape (n_samples, k), dtype int64
        Each row's experts from the highest score down; ties go to the lower expert.
    weights : ndarray of shape (n_samples, k)
        The kept scores divided by their sum, so each row sums to 1 (equal weights
        where every kept score is 0).
    """
    _check_backend(backend)
    gate = np.ascontiguousarray(gate_proba, dtype=np.float64)
    if gate.ndim != 2 or gate.shape[1] == 0:
        raise ValueError(
            f"gate_proba must be 2-D with at least one expert; got shape {gate.shape}."
        )
    n_experts = gate.shape[1]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_experts:
        raise ValueError(f"k must be an int from 1 to n_experts={n_experts}; got {k!r}.")
    k = int(k)
    if backend == "numpy":
        bad = ~(np.isfinite(gate) & (gate >= 0))
        if bad.any():
            _raise_bad_gate(np.count_nonzero(bad.any(axis=1)))
        return _top_k_numpy(gate, k)
    experts = np.empty((gate.shape[0], k), dtype=np.int64)
    weights = np.empty((gate.shape[0], k))
    _run(_TOP_KERNELS.get(k, _TOP_ANY), gate.shape[0], gate, experts, weights)
    if gate.shape[0] and experts[:, 0].min() < 0:
        _raise_bad_gate(np.count_nonzero(experts[:, 0] < 0))
    return experts, weights


def _raise_bad_gate(n_bad):
    raise ValueError(
        f"gate_proba must be finite and non-negative; {n_bad} row(s) hold NaN, "
        "infinite or negative scores."
    )


# -- group_by_expert ---------------------------------------------------------------


def _count_chunks(experts, n_experts, bounds, counts):
    """counts[c, e]: routed pairs of chunk c (rows bounds[c]:bounds[c+1]) going to e."""
    for c in numba.prange(len(bounds) - 1):
        for i in range(bounds[c], bounds[c + 1]):
            for slot in range(experts.shape[1]):
                e = experts[i, slot]
                if e < 0 or e >= n_experts:
                    counts[c, n_experts] += 1  # an out-of-range expert
                else:
                    counts[c, e] += 1


def _scatter_chunks(experts, bounds, starts, order):
    for c in numba.prange(len(bounds) - 1):
        cursor = starts[c].copy()
        for i in range(bounds[c], bounds[c + 1]):
            for slot in range(experts.shape[1]):
                e = experts[i, slot]
                order[cursor[e]] = i
                cursor[e] += 1


_COUNT = _twins(_count_chunks)
_SCATTER = _twins(_scatter_chunks)
_CHUNK_ROWS = 16_384


def _group_numpy(experts, n_experts):
    flat = experts.ravel()
    order = np.argsort(flat, kind="stable") // max(experts.shape[1], 1)
    offsets = np.zeros(n_experts + 1, dtype=np.int64)
    np.cumsum(np.bincount(flat, minlength=n_experts), out=offsets[1:])
    return order.astype(np.int64), offsets


def group_by_expert(experts, n_experts, *, backend="numba"):
    """Sort the routed (row, slot) pairs by expert, stably.

    Parameters
    ----------
    experts : array-like of int of shape (n_samples, k)
        Each row's experts, as :func:`top_k` returns them.
    n_experts : int
        The number of experts.
    backend : {"numba", "numpy"}, default="numba"
        Compiled kernels, or the NumPy reference.

    Returns
    -------
    order : ndarray of shape (n_samples * k,), dtype int64
        Row indices grouped by expert, ascending within an expert: the rows routed to
        expert ``e`` are ``order[offsets[e]:offsets[e + 1]]``.
    offsets : ndarray of shape (n_experts + 1,), dtype int64
        Where each expert's rows start in ``order``.
    """
    _check_backend(backend)
    experts = np.ascontiguousarray(experts)
    if experts.ndim != 2 or not np.issubdtype(experts.dtype, np.integer):
        raise ValueError(
            f"experts must be a 2-D array of ints; got shape {experts.shape} and dtype "
            f"{experts.dtype}."
        )
    if isinstance(n_experts, bool) or not isinstance(n_experts, (int, np.integer)) \
            or n_experts < 1:
        raise ValueError(f"n_experts must be a positive int; got {n_experts!r}.")
    experts = experts.astype(np.int64, copy=False)
    n_experts = int(n_experts)
    if backend == "numpy":
        if experts.size and (experts.min() < 0 or experts.max() >= n_experts):
            _raise_bad_expert(n_experts)
        return _group_numpy(experts, n_experts)
    bounds, starts, offsets = _chunk_starts(experts, n_experts)
    order = np.empty(experts.size, dtype=np.int64)
    _run(_SCATTER, experts.shape[0], experts, bounds, starts, order)
    return order, offsets


def _chunk_starts(experts, n_experts):
    """Split the rows into chunks; count each chunk's pairs per expert (in parallel).

    Returns the chunk bounds, where each chunk's pairs for each expert start in the
    sorted order (expert-major, chunk-minor prefix sums), and the experts' offsets.
    """
    n = experts.shape[0]
    bounds = np.unique(np.r_[np.arange(0, n, _CHUNK_ROWS), n]).astype(np.int64)
    counts = np.zeros((max(len(bounds) - 1, 0), n_experts + 1), dtype=np.int64)
    _run(_COUNT, n, experts, n_experts, bounds, counts)
    if counts[:, n_experts].any():
        _raise_bad_expert(n_experts)
    counts = counts[:, :n_experts]
    offsets = np.zeros(n_experts + 1, dtype=np.int64)
    np.cumsum(counts.sum(axis=0), out=offsets[1:])
    starts = np.ascontiguousarray(offsets[:-1] + np.cumsum(counts, axis=0) - counts)
    return bounds, starts, offsets


def _raise_bad_expert(n_experts):
    raise ValueError(f"experts must hold expert indices from 0 to {n_experts - 1}.")


# -- combine -----------------------------------------------------------------------


def _position_chunks(experts, bounds, starts, where):
    """where[i, slot]: the place of row i's slot-th pair in the sorted order."""
    for c in numba.prange(len(bounds) - 1):
        cursor = starts[c].copy()
        for i in range(bounds[c], bounds[c + 1]):
            for slot in range(experts.shape[1]):
                e = experts[i, slot]
                where[i, slot] = cursor[e]
                cursor[e] += 1


def _weighted_sum(outputs, where, weights, result):
    for i in numba.prange(result.shape[0]):
        for col in range(result.shape[1]):
            total = 0.0
            for slot in range(where.shape[1]):
                total += weights[i, slot] * outputs[where[i, slot], col]
            result[i, col] = total


_POSITIONS = _twins(_position_chunks)
_WEIGHTED_SUM = _twins(_weighted_sum)


def _positions_numpy(experts, order, offsets):
    where = np.empty(experts.shape, dtype=np.int64)
    expert_of = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    slot = np.argmax(experts[order] == expert_of[:, None], axis=1)
    where[order, slot] = np.arange(order.size)
    return where


def combine(outputs, order, offsets, experts, weights, *, backend="numba"):
    """Fold the experts' outputs on their rows back into one weighted output per row.

    Parameters
    ----------
    outputs : array-like of shape (n_samples * k,) or (n_samples * k, n_outputs)
        Expert outputs in ``order``: ``outputs[offsets[e]:offsets[e + 1]]`` is what
        expert ``e`` gave on rows ``order[offsets[e]:offsets[e + 1]]``.
    order, offsets : ndarray
        As :func:`group_by_expert` returns them for ``experts``.
    experts, weights : ndarray of shape (n_samples, k)
        As :func:`top_k` returns them.
    backend : {"numba", "numpy"}, default="numba"
        Compiled kernels, or the NumPy reference.

    Returns
    -------
    combined : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Per row, the sum over its slots, in slot order, of weight times output.
    """
    _check_backend(backend)
    outputs = np.asarray(outputs, dtype=np.float64)
    flat = outputs.ndim == 1
    outputs = np.ascontiguousarray(outputs[:, None] if flat else outputs)
    if outputs.ndim != 2:
        raise ValueError(f"outputs must be 1-D or 2-D; got shape {outputs.shape}.")
    experts = np.ascontiguousarray(experts, dtype=np.int64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    order = np.ascontiguousarray(order, dtype=np.int64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if weights.shape != experts.shape or outputs.shape[0] != experts.size \
            or order.size != experts.size or offsets[-1] != experts.size:
        raise ValueError(
            f"combine got {outputs.shape[0]} outputs, {order.size} routed rows and "
            f"experts/weights of shapes {experts.shape}/{weights.shape}; they must all "
            "describe the same n_samples * k routed pairs."
        )
    n = experts.shape[0]
    where = _slot_positions(experts, order, offsets, backend=backend)
    if backend == "numpy":
        result = np.zeros((n, outputs.shape[1]))
        for slot in range(experts.shape[1]):  # the kernels' summation order
            result += weights[:, slot, None] * outputs[where[:, slot]]
    else:
        result = np.empty((n, outputs.shape[1]))
        _run(_WEIGHTED_SUM, n, outputs, where, weights, result)
    return result[:, 0] if flat else result


def _slot_positions(experts, order, offsets, *, backend="numba"):
    """Where each routed pair sits in ``order``: shape (n_samples, k).

    ``outputs[_slot_positions(...)[i, s]]`` is what row ``i``'s ``s``-th expert gave
    on it, for outputs laid out as :func:`combine` takes them.
    """
    if backend == "numpy":
        counted = np.r_[0, np.cumsum(np.bincount(experts.ravel(), minlength=len(offsets) - 1))]
    else:
        bounds, starts, counted = _chunk_starts(experts, len(offsets) - 1)
    if not np.array_equal(counted, offsets):
        raise ValueError("offsets do not match experts; pass what group_by_expert returned.")
    if backend == "numpy":
        return _positions_numpy(experts, order, offsets)
    where = np.empty(experts.shape, dtype=np.int64)
    _run(_POSITIONS, experts.shape[0], experts, bounds, starts, where)
    return where
