"""The routing core: Numba and NumPy backends agree exactly, and both do what they say."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skfuse import _kernels, routing
from skfuse.routing import combine, group_by_expert, top_k

# Scores drawn from a few values, so that ties are common, plus 0 and tiny numbers.
SCORES = st.sampled_from([0.0, 5e-324, 1e-300, 0.1, 0.25, 0.5, 1.0])


@st.composite
def gates(draw):
    n = draw(st.integers(0, 40))
    n_experts = draw(st.integers(1, 8))
    k = draw(st.integers(1, n_experts))
    gate = draw(arrays(np.float64, (n, n_experts), elements=SCORES))
    return gate, k


def reference_top_k(gate, k):
    """Each row's experts by (score descending, index ascending), by plain Python."""
    experts = np.array([sorted(range(gate.shape[1]), key=lambda e: (-row[e], e))[:k]
                        for row in gate], dtype=np.int64).reshape(len(gate), k)
    return experts


def routed(gate, k, backend="numba"):
    experts, weights = top_k(gate, k, backend=backend)
    order, offsets = group_by_expert(experts, gate.shape[1], backend=backend)
    return experts, weights, order, offsets


@settings(max_examples=300, deadline=None)
@given(gates())
def test_top_k_backends_agree_and_follow_the_definition(case):
    gate, k = case
    experts, weights = top_k(gate, k)
    ref_experts, ref_weights = top_k(gate, k, backend="numpy")
    assert np.array_equal(experts, ref_experts)
    assert np.array_equal(weights, ref_weights)  # bit for bit
    assert experts.dtype == np.int64 and experts.shape == (len(gate), k)
    assert np.array_equal(experts, reference_top_k(gate, k))
    kept = np.take_along_axis(gate, experts, axis=1) if len(gate) else np.empty((0, k))
    total = kept.sum(axis=1)
    expected = np.where(total[:, None] > 0, kept / np.where(total > 0, total, 1)[:, None],
                        1.0 / k)
    np.testing.assert_allclose(weights, expected, rtol=1e-12)
    assert not np.isnan(weights).any()
    if len(gate):
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-12)


@settings(max_examples=300, deadline=None)
@given(gates())
def test_group_by_expert_backends_agree_and_sort_stably(case):
    gate, k = case
    n_experts = gate.shape[1]
    experts, _ = top_k(gate, k)
    order, offsets = group_by_expert(experts, n_experts)
    ref_order, ref_offsets = group_by_expert(experts, n_experts, backend="numpy")
    assert np.array_equal(order, ref_order) and np.array_equal(offsets, ref_offsets)
    assert offsets[0] == 0 and offsets[-1] == experts.size
    for e in range(n_experts):  # experts with no rows get an empty block
        rows = order[offsets[e]:offsets[e + 1]]
        assert np.array_equal(rows, np.flatnonzero((experts == e).any(axis=1)))


@settings(max_examples=300, deadline=None)
@given(gates(), st.integers(1, 3))
def test_combine_backends_agree_with_a_hand_computation(case, n_outputs):
    gate, k = case
    experts, weights, order, offsets = routed(gate, k)
    expert_of = np.repeat(np.arange(gate.shape[1]), np.diff(offsets))
    # Expert e's output on row i, column c: 100 e + i + c / 10, laid out as combine wants.
    outputs = (100.0 * expert_of + order)[:, None] + np.arange(n_outputs) / 10
    result = combine(outputs, order, offsets, experts, weights)
    reference = combine(outputs, order, offsets, experts, weights, backend="numpy")
    assert np.array_equal(result, reference)
    rows = np.arange(len(gate))
    hand = np.zeros((len(gate), n_outputs))
    for slot in range(k):
        hand += weights[:, slot, None] * ((100.0 * experts[:, slot] + rows)[:, None]
                                          + np.arange(n_outputs) / 10)
    np.testing.assert_allclose(result, hand, rtol=1e-12)
    flat = combine(outputs[:, 0], order, offsets, experts, weights)
    assert flat.shape == (len(gate),)
    np.testing.assert_array_equal(flat, result[:, 0])


@pytest.mark.parametrize("k", [1, 2, 3, 8])
def test_parallel_kernels_agree_with_the_reference(k):
    rng = np.random.default_rng(k)
    n = 3 * routing.PARALLEL_MIN_ROWS
    gate = rng.integers(0, 4, size=(n, 8)) / 4.0  # many ties
    experts, weights, order, offsets = routed(gate, k)
    reference = routed(gate, k, backend="numpy")
    for got, want in zip((experts, weights, order, offsets), reference):
        assert np.array_equal(got, want)
    outputs = rng.normal(size=(n * k, 2))
    assert np.array_equal(combine(outputs, order, offsets, experts, weights),
                          combine(outputs, order, offsets, experts, weights,
                                  backend="numpy"))


def test_concurrent_calls_give_identical_results(concurrently):
    rng = np.random.default_rng(0)
    gate = rng.random((2 * routing.PARALLEL_MIN_ROWS, 8))
    outputs = rng.normal(size=gate.shape[0] * 2)
    want = combine(outputs, *group_by_expert(top_k(gate, 2)[0], 8), *top_k(gate, 2))

    def route_three_times():
        results = []
        for _ in range(3):
            experts, weights = top_k(gate, 2)
            order, offsets = group_by_expert(experts, 8)
            results.append(combine(outputs, order, offsets, experts, weights))
        return results

    results = [r for batch in concurrently(route_three_times) for r in batch]
    assert len(results) == 24
    assert all(np.array_equal(r, want) for r in results)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -0.5])
@pytest.mark.parametrize("n", [5, 3 * routing.PARALLEL_MIN_ROWS])
def test_top_k_refuses_bad_scores(backend, bad, n):
    gate = np.full((n, 3), 0.3)
    gate[2, 1] = bad
    for k in (1, 2, 3):
        with pytest.raises(ValueError, match=r"; 1 row\(s\)"):
            top_k(gate, k, backend=backend)
    gate[[0, n // 2 + 1, n - 1], [0, 2, 1]] = bad  # and bad rows in every thread's share
    with pytest.raises(ValueError, match=r"; 4 row\(s\)"):
        top_k(gate, 2, backend=backend)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("n_experts", [3, 70])  # the bit-mask kernels, and the general one
def test_top_k_refuses_finite_scores_whose_sum_overflows(backend, n_experts):
    # Their weights cannot be the scores over their sum: refused on every backend and k.
    gate = np.full((4, n_experts), 0.25)
    gate[1, :2] = 1e308
    for k in (1, 2, 3):
        with pytest.raises(ValueError, match=r"; 1 row\(s\).*sum overflows"):
            top_k(gate, k, backend=backend)


@pytest.mark.parametrize("k", [0, 4, 1.5, True])
def test_top_k_refuses_bad_k(k):
    with pytest.raises(ValueError, match="k must be an int from 1 to n_experts=3"):
        top_k(np.ones((2, 3)), k)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_top_k_refuses_a_sparse_gate_by_name(backend):
    from scipy import sparse

    with pytest.raises(TypeError, match="gate_proba must be dense; got a sparse matrix"):
        top_k(sparse.csr_matrix(np.eye(3)), 1, backend=backend)


def _routed(n=6, n_experts=3, k=2):
    gate = np.random.default_rng(0).random((n, n_experts))
    experts, weights = top_k(gate, k)
    order, offsets = group_by_expert(experts, n_experts)
    return gate, experts, weights, order, offsets


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_every_argument_refuses_sparse_input_by_name(backend):
    from scipy import sparse

    _, experts, weights, order, offsets = _routed()
    outputs = np.ones((experts.size, 2))
    with pytest.raises(TypeError, match="experts must be dense"):
        group_by_expert(sparse.csr_array(experts), 3, backend=backend)
    for name, args in [
        ("outputs", (sparse.csr_array(outputs), order, offsets, experts, weights)),
        ("weights", (outputs, order, offsets, experts, sparse.csr_matrix(weights))),
    ]:
        with pytest.raises(TypeError, match=f"{name} must be dense"):
            combine(*args, backend=backend)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_scores_and_outputs_must_be_real_numbers(backend):
    # Complex numbers lost their imaginary part behind a warning, and dates were
    # averaged as day counts.
    gate, experts, weights, order, offsets = _routed()
    with pytest.raises(ValueError, match="gate_proba must hold real numbers; got dtype "
                                         "complex128"):
        top_k(gate + 5j, 2, backend=backend)
    for outputs in (np.ones(12) + 1j, np.arange(12).astype("M8[D]"),
                    np.array(["a"] * 12)):
        with pytest.raises(ValueError, match="outputs must hold real numbers"):
            combine(outputs, order, offsets, experts, weights, backend=backend)


def test_a_missing_pandas_score_is_refused_as_nan_is():
    pd = pytest.importorskip("pandas")

    gate = pd.DataFrame(_routed()[0]).astype("Float64")
    np.testing.assert_array_equal(top_k(gate, 2)[0], top_k(gate.to_numpy(float), 2)[0])
    gate.iloc[0, 0] = pd.NA
    with pytest.raises(ValueError, match="gate_proba must be finite and non-negative; 1 "
                                         "row"):
        top_k(gate, 2)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_group_by_expert_refuses_unknown_experts(backend):
    with pytest.raises(ValueError, match="from 0 to 2"):
        group_by_expert(np.array([[0, 3]]), 3, backend=backend)
    with pytest.raises(ValueError, match="from 0 to 2"):
        group_by_expert(np.array([[-1, 0]]), 3, backend=backend)


def test_bad_shapes_and_backends_are_refused():
    with pytest.raises(ValueError, match="2-D"):
        top_k(np.ones(3), 1)
    with pytest.raises(ValueError, match="backend"):
        top_k(np.ones((2, 2)), 1, backend="cuda")
    with pytest.raises(ValueError, match="ints"):
        group_by_expert(np.ones((2, 2)), 2)
    experts, weights, order, offsets = routed(np.ones((3, 2)), 1)
    with pytest.raises(ValueError, match="same n_samples"):
        combine(np.ones(2), order, offsets, experts, weights)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_combine_refuses_routing_arrays_of_other_shapes_or_floats(backend):
    # Checked before the kernels see them: a squeezed k=1 routing, a 2-D order, float
    # indices (never truncated), a scalar output.
    experts, weights, order, offsets = routed(np.ones((3, 2)), 1)
    outputs = np.ones(3)
    cases = [
        ((outputs, order, offsets, experts[:, 0], weights[:, 0]), "experts must be a 2-D"),
        ((outputs, order[:, None], offsets, experts, weights), "order must be a 1-D"),
        ((outputs, order, offsets, experts + 0.5, weights), "experts must be a 2-D array of ints"),
        ((outputs, order + 0.9, offsets, experts, weights), "order must be a 1-D array of ints"),
        ((outputs, order, offsets * 1.0, experts, weights), "offsets must be a 1-D array of ints"),
        ((1.0, order, offsets, experts, weights), r"outputs must be 1-D or 2-D; got shape \(\)"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            combine(*args, backend=backend)


def test_combine_with_an_expert_twice_in_a_row():
    # A mixture fills a slot left without weight with the row's first expert, so a
    # row may route to one expert twice; its slots take consecutive places in order.
    experts = np.array([[1, 1], [0, 1], [2, 2], [1, 0]])
    weights = np.array([[0.75, 0.25], [0.5, 0.5], [1.0, 0.0], [0.9, 0.1]])
    for backend in ("numba", "numpy"):
        order, offsets = group_by_expert(experts, 3, backend=backend)
        assert np.array_equal(order, [1, 3, 0, 0, 1, 3, 2, 2])
        outputs = np.arange(1.0, 9.0)  # the slot of each place, by hand: 1, 2, ..., 8
        hand = [0.75 * 3 + 0.25 * 4, 0.5 * 1 + 0.5 * 5, 1.0 * 7 + 0.0 * 8, 0.9 * 6 + 0.1 * 2]
        assert np.array_equal(combine(outputs, order, offsets, experts, weights,
                                      backend=backend), hand)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("n", [5, 3 * routing.PARALLEL_MIN_ROWS])
def test_combine_refuses_routing_that_does_not_match_experts(backend, n):
    rng = np.random.default_rng(n)
    experts, weights = top_k(rng.random((n, 4)), 2)
    order, offsets = group_by_expert(experts, 4)
    outputs = np.ones(2 * n)
    mismatch = "order and offsets do not match experts"
    swapped = order.copy()  # two rows of the largest block out of order
    first = offsets[np.argmax(np.diff(offsets))]
    swapped[[first, first + 1]] = swapped[[first + 1, first]]
    shifted = offsets.copy()
    shifted[1:-1] += np.array([1, -1, 1])
    other_order, other_offsets = group_by_expert(top_k(rng.random((n, 4)), 2)[0], 4)
    for bad_order, bad_offsets in [(swapped, offsets), (order, shifted),
                                   (order, offsets[::-1].copy()), (order, offsets[1:]),
                                   (other_order, other_offsets)]:
        with pytest.raises(ValueError, match=mismatch):
            combine(outputs, bad_order, bad_offsets, experts, weights, backend=backend)
    unknown = experts.copy()
    unknown[-1, 1] = 4
    with pytest.raises(ValueError, match="from 0 to 3"):
        combine(outputs, order, offsets, unknown, weights, backend=backend)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("n, n_experts, k, n_outputs", [
    pytest.param(5, 4, 2, None, id="small"),
    pytest.param(5, 4, 1, 1, id="k=1, 2-D outputs of one column"),
    pytest.param(0, 3, 2, None, id="no rows"),
    pytest.param(0, 3, 3, 2, id="no rows, 2-D outputs"),
    pytest.param(7, _kernels.MASK_EXPERTS + 2, 3, None, id="the kernel for many experts"),
    pytest.param(3 * routing.PARALLEL_MIN_ROWS, 4, 2, None, id="parallel"),
    pytest.param(3 * routing.PARALLEL_MIN_ROWS, 4, 1, 2, id="parallel, k=1, 2-D outputs"),
])
def test_out_buffers_are_filled_and_returned(backend, n, n_experts, k, n_outputs):
    rng = np.random.default_rng(n + k)
    tail = () if n_outputs is None else (n_outputs,)
    # Leading slices of larger buffers, as a loop's short last batch would use them.
    spare = 3
    buffers = (np.full((n + spare, k), -7, dtype=np.int64)[:n],
               np.full((n + spare, k), np.nan)[:n],
               np.full((n + spare) * k, -7, dtype=np.int64)[:n * k],
               np.full((n + spare, *tail), np.nan)[:n])
    for _ in range(2):  # a second batch overwrites every entry of the first
        gate = rng.integers(0, 3, size=(n, n_experts)) / 3.0  # with ties
        outputs = rng.normal(size=(n * k, *tail))
        experts, weights = top_k(gate, k, backend=backend)
        order, offsets = group_by_expert(experts, n_experts, backend=backend)
        want = combine(outputs, order, offsets, experts, weights, backend=backend)
        got_experts, got_weights = top_k(gate, k, backend=backend, out=buffers[:2])
        got_order, got_offsets = group_by_expert(got_experts, n_experts, backend=backend,
                                                 out=buffers[2])
        got = combine(outputs, got_order, got_offsets, got_experts, got_weights,
                      backend=backend, out=buffers[3])
        for result, buffer in zip((got_experts, got_weights, got_order, got), buffers):
            assert result is buffer
        for result, expected in zip((got_experts, got_weights, got_order, got_offsets, got),
                                    (experts, weights, order, offsets, want)):
            assert np.array_equal(result, expected)


_GATE = np.random.default_rng(0).random((6, 3))
_EXPERTS, _WEIGHTS = top_k(_GATE, 2)
_ORDER, _OFFSETS = group_by_expert(_EXPERTS, 3)
_OUTPUTS = np.ones(12)
_INTS, _FLOATS = np.zeros((6, 2), dtype=np.int64), np.zeros((6, 2))


def _top_k_into(out, backend, gate=_GATE):
    return top_k(gate, 2, backend=backend, out=out)


def _group_into(out, backend):
    return group_by_expert(_EXPERTS, 3, backend=backend, out=out)


def _combine_into(out, backend):
    return combine(_OUTPUTS, _ORDER, _OFFSETS, _EXPERTS, _WEIGHTS, backend=backend, out=out)


_SHARED = _GATE.reshape(-1)[:12].reshape(6, 2)  # a gate and a buffer on the same memory
_INT_GATE = np.arange(12, dtype=np.int64).reshape(6, 2) + 1
_FORTRAN_GATE = np.asfortranarray(np.random.default_rng(1).random((6, 2)))
_INT32_MEMORY = np.zeros(24, dtype=np.int32)  # int32 experts and an int64 order on it
_FLOAT32_MEMORY = np.ones(24, dtype=np.float32)  # float32 outputs and a float64 result
_ROUTING_MEMORY = np.zeros(12, dtype=np.int64)  # order, offsets and experts on it in turn
_BAD_OUT = {  # case: (call with a backend, error, message)
    "top_k, one array": (lambda b: _top_k_into(_INTS, b), TypeError, "tuple of two"),
    "top_k, a list": (lambda b: _top_k_into([_INTS, _FLOATS], b), TypeError, "tuple of two"),
    "top_k, None inside": (lambda b: _top_k_into((_INTS, None), b), TypeError, "tuple of"),
    "top_k, not an array": (lambda b: _top_k_into((_INTS, _FLOATS.tolist()), b), TypeError,
                            "ndarray; got list"),
    "top_k, wrong shape": (lambda b: _top_k_into((_INTS, np.zeros((6, 3))), b), ValueError,
                           r"shape \(6, 2\) and dtype float64; got shape \(6, 3\)"),
    "top_k, int32 experts": (lambda b: _top_k_into((_INTS.astype(np.int32), _FLOATS), b),
                             ValueError, "dtype int64; got .* dtype int32"),
    "top_k, float32 weights": (lambda b: _top_k_into((_INTS, _FLOATS.astype(np.float32)), b),
                               ValueError, "dtype float64; got .* dtype float32"),
    "top_k, Fortran order": (lambda b: _top_k_into((_INTS, np.asfortranarray(_FLOATS)), b),
                             ValueError, "C-contiguous"),
    "top_k, strided": (lambda b: _top_k_into((_INTS, np.zeros((6, 4))[:, ::2]), b),
                       ValueError, "C-contiguous"),
    "top_k, read-only": (lambda b: _top_k_into((_INTS, np.broadcast_to(_FLOATS, (6, 2))), b),
                         ValueError, "writeable"),
    "top_k, outputs overlap": (lambda b: _top_k_into((_INTS, _INTS.view(np.float64)), b),
                               ValueError, "share memory"),
    "top_k, weights overlap the gate": (lambda b: _top_k_into((_INTS, _SHARED), b,
                                                              gate=_SHARED),
                                        ValueError, "share memory"),
    "top_k, experts overlap the gate": (lambda b: _top_k_into((_SHARED.view(np.int64),
                                                               _FLOATS), b, gate=_SHARED),
                                        ValueError, "share memory"),
    # Input that must be converted first (ints, Fortran order): the buffer was checked
    # against the converted copy only, and overwrote the caller's array.
    "top_k, experts on an int gate": (lambda b: _top_k_into(
        (_INT_GATE, _FLOATS), b, gate=_INT_GATE), ValueError, "share memory"),
    "top_k, weights on a Fortran gate": (lambda b: _top_k_into(
        (_INTS, _FORTRAN_GATE.T.reshape(6, 2)), b, gate=_FORTRAN_GATE), ValueError,
                                         "share memory"),
    "group_by_expert, on int32 experts": (lambda b: group_by_expert(
        _INT32_MEMORY[:12].reshape(6, 2), 3, backend=b, out=_INT32_MEMORY.view(np.int64)),
                                          ValueError, "share memory"),
    "combine, on float32 outputs": (lambda b: combine(
        _FLOAT32_MEMORY[:12], _ORDER, _OFFSETS, _EXPERTS, _WEIGHTS, backend=b,
        out=_FLOAT32_MEMORY.view(np.float64)[:6]), ValueError, "share memory"),
    "group_by_expert, wrong size": (lambda b: _group_into(np.zeros(11, dtype=np.int64), b),
                                    ValueError, r"shape \(12,\)"),
    "group_by_expert, float": (lambda b: _group_into(np.zeros(12), b), ValueError,
                               "dtype int64"),
    "group_by_expert, strided": (lambda b: _group_into(np.zeros(24, dtype=np.int64)[::2], b),
                                 ValueError, "C-contiguous"),
    "group_by_expert, overlaps experts": (lambda b: _group_into(_EXPERTS.reshape(-1), b),
                                          ValueError, "share memory"),
    "combine, 2-D for 1-D outputs": (lambda b: _combine_into(np.zeros((6, 1)), b),
                                     ValueError, r"shape \(6,\)"),
    "combine, int64": (lambda b: _combine_into(np.zeros(6, dtype=np.int64), b), ValueError,
                       "dtype float64"),
    "combine, read-only": (lambda b: _combine_into(np.broadcast_to(np.zeros(1), (6,)), b),
                           ValueError, "writeable"),
    "combine, overlaps outputs": (lambda b: _combine_into(_OUTPUTS[:6], b), ValueError,
                                  "share memory"),
    "combine, overlaps weights": (lambda b: _combine_into(_WEIGHTS.reshape(-1)[:6], b),
                                  ValueError, "share memory"),
    "combine, overlaps order": (lambda b: _combine_with_on_buffer("order", b), ValueError,
                                "share memory"),
    "combine, overlaps offsets": (lambda b: _combine_with_on_buffer("offsets", b),
                                  ValueError, "share memory"),
    "combine, overlaps experts": (lambda b: _combine_with_on_buffer("experts", b),
                                  ValueError, "share memory"),
}


def _combine_with_on_buffer(name, backend):
    """combine with ``name`` copied onto memory that ``out`` covers too."""
    routing_arrays = {"order": _ORDER, "offsets": _OFFSETS, "experts": _EXPERTS}
    shared = _ROUTING_MEMORY[:routing_arrays[name].size]
    shared[:] = routing_arrays[name].reshape(-1)
    given = {**routing_arrays, name: shared.reshape(routing_arrays[name].shape)}
    return combine(_OUTPUTS, given["order"], given["offsets"], given["experts"], _WEIGHTS,
                   backend=backend, out=_ROUTING_MEMORY[:6].view(np.float64))


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("case", list(_BAD_OUT))
def test_bad_out_buffers_are_refused(case, backend):
    call, error, message = _BAD_OUT[case]
    with pytest.raises(error, match=message):
        call(backend)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_good_out_buffers_for_contrast(backend):
    buffers = (np.zeros((6, 2), dtype=np.int64), np.zeros((6, 2)),
               np.zeros(12, dtype=np.int64), np.zeros(6))
    experts, weights = _top_k_into(buffers[:2], backend)
    assert experts is buffers[0] and weights is buffers[1]
    assert _group_into(buffers[2], backend)[0] is buffers[2]
    assert _combine_into(buffers[3], backend) is buffers[3]
    assert np.array_equal(buffers[2], _ORDER)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_beyond_the_bit_mask_kernels(k):
    gate = np.random.default_rng(k).integers(0, 3, size=(50, _kernels.MASK_EXPERTS + 6))
    gate = gate.astype(float)
    experts, weights = top_k(gate, k)
    assert np.array_equal(experts, reference_top_k(gate, k))
    ref_experts, ref_weights = top_k(gate, k, backend="numpy")
    assert np.array_equal(experts, ref_experts) and np.array_equal(weights, ref_weights)


_CACHE_PROBE = """
import numpy as np
from skfuse import _kernels
serial, parallel = _kernels.TOP_K[1]
gate, experts, weights = np.ones((3, 2)), np.empty((3, 1), np.int64), np.empty((3, 1))
serial(gate, experts, weights)
parallel(gate, experts, weights)
print(sum(serial.stats.cache_hits.values()), sum(parallel.stats.cache_hits.values()))
"""


def test_serial_and_parallel_twins_keep_their_own_cache_entries(tmp_path):
    # Numba's cache keys ignore compile options (numba/numba#6845): twins of one
    # function would load each other's code, and the "serial" twin run in parallel.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}

    def hits():
        done = subprocess.run([sys.executable, "-c", _CACHE_PROBE], env=env, check=True,
                              capture_output=True, text=True, timeout=300)
        return done.stdout.split()

    assert hits() == ["0", "0"]  # the parallel twin compiled its own code
    assert hits() == ["1", "1"]  # and each twin finds its own entry later


_NO_CACHE_PROBE = """
import numba, numpy as np
njit = numba.njit

def refusing(*args, cache=False, **options):  # as Numba with no writable cache folder
    if cache:
        def decorate(function):
            raise RuntimeError(f"cannot cache function {function.__name__!r}: no locator "
                               "available for file 'skfuse/_kernels.py'")
        return decorate
    return njit(*args, **options)

numba.njit = refusing
from skfuse import routing
gate = np.random.default_rng(0).random((30_000, 4))
a, b = routing.top_k(gate, 2), routing.top_k(gate, 2, backend="numpy")
print(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
"""


def test_a_read_only_install_without_a_cache_folder_still_imports():
    # A service user without a home on a read-only install: Numba refuses cache=True at
    # decoration, and `import skfuse` failed; the kernels now compile in the process.
    done = subprocess.run([sys.executable, "-c", _NO_CACHE_PROBE], check=True,
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["True"]


def test_an_out_buffer_inside_a_dataframe_input_is_refused():
    # The aliasing check looked at NumPy inputs only: a buffer viewing a DataFrame's
    # memory was accepted, and the caller's frame overwritten.
    import pandas as pd

    experts = np.asfortranarray(np.array([[1, 2], [0, 2], [2, 1]]))
    frame = pd.DataFrame(experts, copy=False)
    out = experts.T.reshape(-1)  # the frame's own memory
    assert np.shares_memory(out, frame.to_numpy())
    with pytest.raises(ValueError, match="must not share memory with the inputs"):
        group_by_expert(frame, 3, out=out)
    np.testing.assert_array_equal(frame.to_numpy(), [[1, 2], [0, 2], [2, 1]])
    # A frame of one block per column: np.asarray would copy it, its columns do not.
    memory = np.array([2, 2, 0, 9, 9, 9])
    columns = pd.DataFrame({"a": memory[:3], "b": np.array([0, 1, 1])}, copy=False)
    assert np.shares_memory(columns["a"].to_numpy(), memory)
    with pytest.raises(ValueError, match="must not share memory with the inputs"):
        group_by_expert(columns, 3, backend="numpy", out=memory)
