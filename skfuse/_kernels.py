"""Numba kernels behind :mod:`skfuse.routing`.

Kernels do not validate: callers pass C-contiguous arrays of the intended dtypes and
allocate the outputs (in NumPy, which is faster than allocating inside a kernel).
Compile options are set in one place, :func:`twins`. No kernel sums in an order that
depends on threads, so results do not depend on the number of threads.
"""

import threading
import types

import numba
import numpy as np

PARALLEL_MIN_ROWS = 20_000
CHUNK_ROWS = 16_384
_pool_lock = threading.Lock()


def twins(function):
    """Compile ``function`` twice: serially and with its ``prange`` loops in parallel.

    Numba's on-disk cache keys an entry by the function's name and signature, not by
    its compile options (numba/numba#6845), so the parallel twin is compiled from a
    copy with a name of its own; otherwise each twin could load the other's code.
    """
    copy = types.FunctionType(function.__code__, function.__globals__,
                              f"{function.__name__}_parallel", function.__defaults__,
                              function.__closure__)
    copy.__qualname__ = f"{function.__qualname__}_parallel"
    return _compiled(function), _compiled(copy, parallel=True)


def _compiled(function, **options):
    """``numba.njit`` with its on-disk cache where Numba finds a writable place for one
    (the package's folder, ``NUMBA_CACHE_DIR`` or the user's cache folder); without
    one (a read-only install run by a user without a home), compiled in each process,
    as Numba refuses ``cache=True`` there at import."""
    try:
        return numba.njit(cache=True, **options)(function)
    except RuntimeError as exc:
        if "no locator available" not in str(exc):
            raise
        return numba.njit(**options)(function)


def run(kernel_twins, n_rows, *args):
    """Run the parallel twin for large inputs when no other thread is in one.

    A call made while another thread runs a parallel kernel takes the serial twin, so
    concurrent callers never share Numba's thread pool.
    """
    serial, parallel = kernel_twins
    if n_rows >= PARALLEL_MIN_ROWS and _pool_lock.acquire(blocking=False):
        try:
            return parallel(*args)
        finally:
            _pool_lock.release()
    return serial(*args)


def chunk_bounds(n_rows):
    """Row bounds of the chunks that the parallel counting sort works on."""
    return np.unique(np.r_[np.arange(0, n_rows, CHUNK_ROWS), n_rows]).astype(np.int64)


# -- top k ---------------------------------------------------------------------------
# The best scores are found with max and min, which compile to branch-free
# instructions, and then located by equality, lowest expert first, through a bit mask;
# compare-and-swap code compiles to branches that gate scores mispredict (2x to 3x
# slower). Each kernel returns the number of bad rows: rows whose scores' sum is not
# finite (a NaN, an infinity, or finite scores whose sum overflows) or whose smallest
# score is negative.

MASK_EXPERTS = 64  # the bit-mask kernels serve up to this many experts
_DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)
_BIT_OF = np.zeros(64, dtype=np.int64)  # the bit of a power of two, by De Bruijn hash
_BIT_OF[(np.uint64(1) << np.arange(64, dtype=np.uint64)) * _DE_BRUIJN >> np.uint64(58)] = \
    np.arange(64)


@numba.njit(inline="always")
def _lowest_bit(mask):
    """The index of the lowest set bit of a non-zero uint64."""
    return _BIT_OF[((mask & (~mask + np.uint64(1))) * _DE_BRUIJN) >> np.uint64(58)]


@numba.njit(inline="always")
def _matches(row, value):
    """A bit mask of the experts whose score equals ``value``."""
    mask = np.uint64(0)
    for e in range(row.shape[0]):
        mask |= (np.uint64(1) << np.uint64(e)) if row[e] == value else np.uint64(0)
    return mask


def _top_1(gate, experts, weights):
    bad_rows = 0
    for i in numba.prange(gate.shape[0]):
        row = gate[i]
        best, total, lowest = -1.0, 0.0, 0.0
        for e in range(row.shape[0]):
            total += row[e]
            lowest = min(lowest, row[e])
            best = max(best, row[e])
        experts[i, 0] = _lowest_bit(_matches(row, best))
        weights[i, 0] = 1.0
        bad_rows += not (total < np.inf) or lowest < 0.0
    return bad_rows


def _top_2(gate, experts, weights):
    bad_rows = 0
    for i in numba.prange(gate.shape[0]):
        row = gate[i]
        best, runner_up, total, lowest = -1.0, -1.0, 0.0, 0.0
        for e in range(row.shape[0]):
            total += row[e]
            lowest = min(lowest, row[e])
            runner_up = max(runner_up, min(best, row[e]))
            best = max(best, row[e])
        first = _lowest_bit(_matches(row, best))
        second = _lowest_bit(_matches(row, runner_up) & ~(np.uint64(1) << np.uint64(first)))
        experts[i, 0] = first
        experts[i, 1] = second
        kept = 0.0 + best
        kept += runner_up
        positive = kept > 0.0
        weights[i, 0] = best / kept if positive else 0.5
        weights[i, 1] = runner_up / kept if positive else 0.5
        bad_rows += not (total < np.inf) or lowest < 0.0
    return bad_rows


def _top_any(gate, experts, weights):
    k = experts.shape[1]
    bad_rows = 0
    for i in numba.prange(gate.shape[0]):
        values, chosen = weights[i], experts[i]  # the output rows serve as scratch
        values[:] = -1.0
        chosen[:] = -1
        bad = False
        row_total = 0.0
        for e in range(gate.shape[1]):
            value = gate[i, e]
            row_total += value
            if not (0.0 <= value < np.inf and row_total < np.inf):
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
        bad_rows += bad
    return bad_rows


TOP_K = {1: twins(_top_1), 2: twins(_top_2)}
TOP_ANY = twins(_top_any)


# -- grouping rows by expert: a stable counting sort over chunks of rows ------------


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


COUNT = twins(_count_chunks)
SCATTER = twins(_scatter_chunks)


# -- combine -------------------------------------------------------------------------


OUT_OF_RANGE, MISMATCH = 1, 2  # what a bad chunk of combine reports


def _gather_chunks(outputs, order, experts, weights, bounds, starts, result, status):
    """result[i] = sum over slots, in slot order, of weight times the slot's output.

    Chunk c's pairs for expert e sit in the sorted order from starts[c, e] on, before
    starts[c + 1, e]. status[c] is OUT_OF_RANGE for a chunk with an expert out of
    range, MISMATCH for one with a pair past that limit or whose place in ``order``
    holds another row, and 0 for a good chunk.
    """
    n_experts, k = starts.shape[1], experts.shape[1]
    for c in numba.prange(len(bounds) - 1):
        cursor, limit = starts[c].copy(), starts[c + 1]
        places = np.empty(k, dtype=np.int64)
        code = 0
        for i in range(bounds[c], bounds[c + 1]):
            for slot in range(k):
                e = experts[i, slot]
                if e < 0 or e >= n_experts:
                    code = OUT_OF_RANGE
                    break
                place = cursor[e]
                if place >= limit[e] or order[place] != i:
                    code = MISMATCH
                    break
                cursor[e] = place + 1
                places[slot] = place
            if code:
                break
            for col in range(result.shape[1]):
                total = 0.0
                for slot in range(k):
                    total += weights[i, slot] * outputs[places[slot], col]
                result[i, col] = total
        status[c] = code


GATHER = twins(_gather_chunks)
