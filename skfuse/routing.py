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

Each function also takes ``out=``, arrays to fill with its results: of exactly the
result's shape and dtype, C-contiguous and writeable, as :func:`numpy.dot`'s ``out``
must be, and, stricter than that, sharing no memory with the inputs. A loop over
batches can reuse one set of buffers, slicing them for a short last batch; given a
C-contiguous float64 gate and int64 routing arrays, the Numba backend then allocates no
per-row arrays:

>>> buffers = (np.empty((4, 2), dtype=np.int64), np.empty((4, 2)),
...            np.empty(8, dtype=np.int64), np.empty(4))
>>> rng = np.random.default_rng(0)
>>> for n in (4, 4, 3):  # batches of 4, 4 and 3 rows
...     gate_proba, outputs = rng.random((n, 3)), rng.random(2 * n)
...     experts, weights = top_k(gate_proba, 2, out=(buffers[0][:n], buffers[1][:n]))
...     order, offsets = group_by_expert(experts, 3, out=buffers[2][:2 * n])
...     combined = combine(outputs, order, offsets, experts, weights,
...                        out=buffers[3][:n])
>>> np.shares_memory(combined, buffers[3])
True

When an error is raised, what the buffers hold is unspecified. Why reuse them: see
"Routing at predict time" in the mixture-of-experts guide.
"""

import numpy as np

from skfuse import _kernels
from skfuse._base import is_int, real_array
from skfuse._kernels import PARALLEL_MIN_ROWS

__all__ = ["PARALLEL_MIN_ROWS", "combine", "group_by_expert", "top_k"]

_BACKENDS = ("numba", "numpy")


def _check_backend(backend):
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}; got {backend!r}.")


def _output(out, name, shape, dtype, inputs):
    """``out`` checked to receive an array of ``shape`` and ``dtype``; new if None.

    ``inputs`` are the arrays it must not share memory with: both the caller's and the
    converted copies the kernels read (a conversion copies, so a buffer that aliases
    the caller's array would pass a check of the copy alone and overwrite it). A
    caller's pandas DataFrame is checked through each column's array.
    """
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be an ndarray; got {type(out).__name__}.")
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(f"{name} must have shape {shape} and dtype {np.dtype(dtype)}; "
                         f"got shape {out.shape} and dtype {out.dtype}.")
    if not (out.flags.c_contiguous and out.flags.writeable):
        raise ValueError(f"{name} must be C-contiguous and writeable.")
    held = [column for array in inputs for column in _arrays_held(array)]
    if any(np.may_share_memory(out, array) for array in held):
        raise ValueError(f"{name} must not share memory with the inputs or the other "
                         "outputs.")
    return out


def _arrays_held(array):
    """The NumPy arrays whose memory ``array`` uses, as far as can be told without a
    copy: itself, or a pandas frame's columns (a Series its own); none otherwise."""
    if isinstance(array, np.ndarray):
        return [array]
    if hasattr(array, "iloc") and hasattr(array, "columns"):
        return [array.iloc[:, j].to_numpy(copy=False) for j in range(array.shape[1])]
    if hasattr(array, "iloc"):
        return [array.to_numpy(copy=False)]
    return []


# -- top_k -------------------------------------------------------------------------


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


def top_k(gate_proba, k, *, backend="numba", out=None):
    """Each row's ``k`` highest-scoring experts and their renormalised weights.

    Parameters
    ----------
    gate_proba : array-like of shape (n_samples, n_experts)
        Non-negative gate scores, such as a gate's probabilities; each row's sum must
        be finite.
    k : int
        Experts kept per row, from 1 to ``n_experts``.
    backend : {"numba", "numpy"}, default="numba"
        Compiled kernels, or the NumPy reference.
    out : tuple of two ndarrays, default=None
        Buffers for ``experts`` (int64) and ``weights`` (float64), each C-contiguous
        of shape (n_samples, k); they are filled and returned. None allocates them.

    Returns
    -------
    experts : ndarray of shape (n_samples, k), dtype int64
        Each row's experts from the highest score down; ties go to the lower expert.
    weights : ndarray of shape (n_samples, k)
        The kept scores divided by their sum, so each row sums to 1 (equal weights
        where every kept score is 0).
    """
    _check_backend(backend)
    gate = np.ascontiguousarray(_float_array(gate_proba, "gate_proba"))
    if gate.ndim != 2 or gate.shape[1] == 0:
        raise ValueError(
            f"gate_proba must be 2-D with at least one expert; got shape {gate.shape}."
        )
    n_experts = gate.shape[1]
    if not (is_int(k) and 1 <= k <= n_experts):
        raise ValueError(f"k must be an int from 1 to n_experts={n_experts}; got {k!r}.")
    k = int(k)
    if out is not None and (not isinstance(out, tuple) or len(out) != 2
                            or any(buffer is None for buffer in out)):
        raise TypeError("out must be a tuple of two arrays, (experts, weights).")
    experts_out, weights_out = (None, None) if out is None else out
    shape = (gate.shape[0], k)
    experts = _output(experts_out, "out[0] (experts)", shape, np.int64, [gate, gate_proba])
    weights = _output(weights_out, "out[1] (weights)", shape, np.float64,
                      [gate, gate_proba, experts])
    if backend == "numpy":
        total = np.zeros(gate.shape[0])
        with np.errstate(over="ignore", invalid="ignore"):  # such rows are refused
            for e in range(n_experts):  # in the kernels' order
                total += gate[:, e]
        bad = ~np.isfinite(total) | (gate < 0).any(axis=1)
        if bad.any():
            _raise_bad_gate(np.count_nonzero(bad))
        results = _top_k_numpy(gate, k)
        if out is None:
            return results
        np.copyto(experts, results[0])
        np.copyto(weights, results[1])
        return experts, weights
    kernel = _kernels.TOP_K.get(k) if n_experts <= _kernels.MASK_EXPERTS else None
    bad_rows = _kernels.run(kernel or _kernels.TOP_ANY, gate.shape[0], gate, experts, weights)
    if bad_rows:
        _raise_bad_gate(bad_rows)
    return experts, weights


def _raise_bad_gate(n_bad):
    raise ValueError(
        f"gate_proba must be finite and non-negative; {n_bad} row(s) hold NaN, "
        "infinite or negative scores, or scores whose sum overflows."
    )


# -- group_by_expert ---------------------------------------------------------------


def _group_numpy(experts, n_experts):
    flat = experts.ravel()
    order = np.argsort(flat, kind="stable") // max(experts.shape[1], 1)
    offsets = np.zeros(n_experts + 1, dtype=np.int64)
    np.cumsum(np.bincount(flat, minlength=n_experts), out=offsets[1:])
    return order.astype(np.int64), offsets


def group_by_expert(experts, n_experts, *, backend="numba", out=None):
    """Sort the routed (row, slot) pairs by expert, stably.

    Parameters
    ----------
    experts : array-like of int of shape (n_samples, k)
        Each row's experts, as :func:`top_k` returns them.
    n_experts : int
        The number of experts.
    backend : {"numba", "numpy"}, default="numba"
        Compiled kernels, or the NumPy reference.
    out : ndarray of shape (n_samples * k,), dtype int64, default=None
        A C-contiguous buffer for ``order``, filled and returned. None allocates it.

    Returns
    -------
    order : ndarray of shape (n_samples * k,), dtype int64
        Row indices grouped by expert, ascending within an expert: the rows routed to
        expert ``e`` are ``order[offsets[e]:offsets[e + 1]]``.
    offsets : ndarray of shape (n_experts + 1,), dtype int64
        Where each expert's rows start in ``order``.
    """
    _check_backend(backend)
    given = experts
    experts = _index_array(experts, "experts", 2)
    if not (is_int(n_experts) and n_experts >= 1):
        raise ValueError(f"n_experts must be a positive int; got {n_experts!r}.")
    n_experts = int(n_experts)
    order = _output(out, "out (order)", (experts.size,), np.int64, [experts, given])
    if backend == "numpy":
        if experts.size and (experts.min() < 0 or experts.max() >= n_experts):
            _raise_bad_expert(n_experts)
        grouped, offsets = _group_numpy(experts, n_experts)
        if out is None:
            return grouped, offsets
        np.copyto(order, grouped)
        return order, offsets
    bounds, starts, offsets = _chunk_starts(experts, n_experts)
    _kernels.run(_kernels.SCATTER, experts.shape[0], experts, bounds, starts, order)
    return order, offsets


def _refuse_sparse(values, name):
    if hasattr(values, "tocsr"):
        raise TypeError(f"{name} must be dense; got a sparse matrix (densify it with "
                        ".toarray(): the kernels read every entry).")


def _float_array(values, name):
    """``values`` as a float64 array (:func:`~skfuse._base.real_array`); refused when
    sparse. Missing values become NaN, which the callers refuse as they refuse NaN."""
    _refuse_sparse(values, name)
    return real_array(values, name)


def _index_array(values, name, ndim):
    """``values`` as a C-contiguous int64 array of ``ndim`` dimensions; refused unless
    given as ints of that many dimensions (floats are not truncated)."""
    _refuse_sparse(values, name)
    values = np.ascontiguousarray(values)
    if values.ndim != ndim or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(
            f"{name} must be a {ndim}-D array of ints; got shape {values.shape} and dtype "
            f"{values.dtype}."
        )
    return values.astype(np.int64, copy=False)


def _chunk_starts(experts, n_experts):
    """Split the rows into chunks; count each chunk's pairs per expert (in parallel).

    Returns the chunk bounds, where each chunk's pairs for each expert start in the
    sorted order (expert-major, chunk-minor prefix sums), and the experts' offsets.
    """
    n = experts.shape[0]
    bounds = _kernels.chunk_bounds(n)
    counts = np.zeros((max(len(bounds) - 1, 0), n_experts + 1), dtype=np.int64)
    _kernels.run(_kernels.COUNT, n, experts, n_experts, bounds, counts)
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


def _positions_numpy(experts, order, offsets):
    """Where each routed pair sits in the stable sort by expert: shape (n_samples, k)."""
    sort = np.argsort(experts.ravel(), kind="stable")
    counted = np.r_[0, np.cumsum(np.bincount(experts.ravel(), minlength=len(offsets) - 1))]
    if not (np.array_equal(counted, offsets)
            and np.array_equal(order, sort // max(experts.shape[1], 1))):
        _raise_mismatch()
    where = np.empty(experts.size, dtype=np.int64)
    where[sort] = np.arange(experts.size)
    return where.reshape(experts.shape)


def _block_starts(order, offsets, bounds):
    """starts[c, e]: where the rows from bounds[c] on begin in expert e's block."""
    starts = np.empty((len(bounds), len(offsets) - 1), dtype=np.int64)
    for e in range(len(offsets) - 1):
        block = order[offsets[e]:offsets[e + 1]]  # ascending when order is valid
        starts[:, e] = offsets[e] + np.searchsorted(block, bounds)
    return starts


def _raise_mismatch():
    raise ValueError(
        "order and offsets do not match experts; pass what group_by_expert returned."
    )


def combine(outputs, order, offsets, experts, weights, *, backend="numba", out=None):
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
    out : ndarray of shape (n_samples,) or (n_samples, n_outputs), default=None
        A C-contiguous float64 buffer for the result, of the result's shape, filled
        and returned. None allocates it.

    Returns
    -------
    combined : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Per row, the sum over its slots, in slot order, of weight times output.
    """
    _check_backend(backend)
    given = (outputs, order, offsets, experts, weights)
    outputs = _float_array(outputs, "outputs")
    if outputs.ndim not in (1, 2):
        raise ValueError(f"outputs must be 1-D or 2-D; got shape {outputs.shape}.")
    flat = outputs.ndim == 1
    outputs = np.ascontiguousarray(outputs[:, None] if flat else outputs)
    experts = _index_array(experts, "experts", 2)
    order = _index_array(order, "order", 1)
    offsets = _index_array(offsets, "offsets", 1)
    weights = np.ascontiguousarray(_float_array(weights, "weights"))
    if offsets.size < 2 or offsets[0] != 0 \
            or np.any(np.diff(offsets) < 0):
        _raise_mismatch()
    if weights.shape != experts.shape or outputs.shape[0] != experts.size \
            or order.size != experts.size or offsets[-1] != experts.size:
        raise ValueError(
            f"combine got {outputs.shape[0]} outputs, {order.size} routed rows and "
            f"experts/weights of shapes {experts.shape}/{weights.shape}; they must all "
            "describe the same n_samples * k routed pairs."
        )
    n, n_experts = experts.shape[0], offsets.size - 1
    shape = (n,) if flat else (n, outputs.shape[1])
    combined = _output(out, "out", shape, np.float64,
                       [outputs, order, offsets, experts, weights, *given])
    result = combined.reshape(n, outputs.shape[1])  # a view: the kernels fill combined
    if backend == "numpy":
        if experts.size and (experts.min() < 0 or experts.max() >= n_experts):
            _raise_bad_expert(n_experts)
        where = _positions_numpy(experts, order, offsets)
        result.fill(0.0)
        for slot in range(experts.shape[1]):  # the kernels' summation order
            result += weights[:, slot, None] * outputs[where[:, slot]]
    else:
        bounds = _kernels.chunk_bounds(n)
        starts = _block_starts(order, offsets, bounds)
        status = np.zeros(len(bounds) - 1, dtype=np.int64)
        _kernels.run(_kernels.GATHER, n, outputs, order, experts, weights, bounds, starts,
                     result, status)
        if np.any(status == _kernels.OUT_OF_RANGE):
            _raise_bad_expert(n_experts)
        if status.any():
            _raise_mismatch()
    return combined
