"""Routing core: Numba kernels against the NumPy reference and a memory-copy bound.

Run from the repository root::

    python benchmarks/bench_routing.py            # print the table
    python benchmarks/bench_routing.py --write    # ... and write docs/benchmarks.md

n = 1,000,000 rows, 8 experts, k = 2. The contenders:

- ``top_k`` + ``group_by_expert``, and the full route-and-combine path (``top_k``,
  ``group_by_expert``, ``combine`` of one output per routed pair), with each backend,
  allocating their outputs as by default; the Numba path also writing into buffers
  reused from call to call (``out=``), and allocating on fresh pages, the C allocator
  having handed its free memory back to the operating system (glibc's ``malloc_trim``,
  untimed) before each call;
- a copy of a buffer half the size of the bytes the path must move at least (read the
  gate and the experts' outputs; write the routing, that is experts, weights and
  order, and the result), since a copy reads and writes every byte once: a lower bound
  for the same traffic. It is timed into a reused buffer (``np.copyto``), the faster
  copy and so the bound, and as ``np.copy``, which maps a fresh output on each call.

Each round times three loops, each contender ``--repeats`` times, interleaved: Numba
against NumPy, Numba against the copy (the order shuffled in each repeat, seeded), and
the single loop of an earlier version of this script, every contender in a fixed order,
where each Numba path came right after a NumPy-backend call, which allocates and frees
hundreds of megabytes. A ratio is of medians within a round; the table gives each
round's ratio and their median. Page faults per call are counted outside the timings.
"""

import argparse
import ctypes
import ctypes.util
import functools
import resource
import statistics
import time
from pathlib import Path
from typing import NamedTuple

import numba
import numpy as np
from _common import DOC, versions, write_section

import skfuse
from skfuse.routing import combine, group_by_expert, top_k

SECTION = "## Routing core (bench_routing.py)"
N, E, K = 1_000_000, 8, 2


def route(gate, backend):
    experts, weights = top_k(gate, K, backend=backend)
    return experts, weights, *group_by_expert(experts, E, backend=backend)


def full_path(gate, outputs, backend):
    experts, weights, order, offsets = route(gate, backend)
    return combine(outputs, order, offsets, experts, weights, backend=backend)


def full_path_into(gate, outputs, buffers):
    """The Numba path writing into ``buffers``: experts, weights, order and result."""
    experts, weights = top_k(gate, K, out=buffers[:2])
    order, offsets = group_by_expert(experts, E, out=buffers[2])
    return combine(outputs, order, offsets, experts, weights, out=buffers[3])


def path_buffers():
    return (np.empty((N, K), dtype=np.int64), np.empty((N, K)),
            np.empty(N * K, dtype=np.int64), np.empty(N))


def trim_heap():
    """Have glibc hand its free memory back to the OS, so the next arrays fault afresh."""
    _LIBC.malloc_trim(0)


_LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
if not hasattr(_LIBC, "malloc_trim"):
    raise SystemExit("bench_routing.py needs glibc (malloc_trim), as on most Linux systems.")


class Call(NamedTuple):
    function: object
    args: tuple
    setup: object = None  # run untimed before each timing


def seconds(function, *args):
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def page_faults(function, *args, before=None):
    """Minor page faults (pages the OS maps and zeroes) in a call after a first one.

    ``before`` is run between the two, to count the faults that follow it.
    """
    function(*args)
    if before is not None:
        before()
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    function(*args)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start


TARGETS = {  # ratio: (numerator, denominator, target)
    "`top_k` + `group_by_expert`: NumPy / Numba": ("route numpy", "route numba", ">= 8"),
    "route and combine: NumPy / Numba": ("path numpy", "path numba", ">= 3"),
    "route and combine into reused buffers (`out=`) / copy into a reused buffer "
    "(`np.copyto`)": ("path into", "copy into", "<= 3"),
    "route and combine / copy into a reused buffer": ("path", "copy into", ""),
    "route and combine on fresh pages / copy into a reused buffer":
        ("path fresh", "copy into", ""),
    "route and combine / `np.copy`, which maps its output afresh": ("path", "copy", ""),
    "route and combine / into reused buffers": ("path", "path into", ""),
    "route and combine on fresh pages / into reused buffers": ("path fresh", "path into",
                                                               ""),
    "earlier single loop: route and combine / `np.copy`": ("single: path", "single: copy",
                                                           ""),
}


def loops(gate, outputs, source, target, buffers):
    """Each loop's contenders (name: Call) and whether their order is shuffled."""
    against_numpy = {
        "route numba": Call(route, (gate, "numba")),
        "route numpy": Call(route, (gate, "numpy")),
        "path numba": Call(full_path, (gate, outputs, "numba")),
        "path numpy": Call(full_path, (gate, outputs, "numpy")),
    }
    against_copy = {
        "path": Call(full_path, (gate, outputs, "numba")),
        "path into": Call(full_path_into, (gate, outputs, buffers)),
        "path fresh": Call(full_path, (gate, outputs, "numba"), setup=trim_heap),
        "copy into": Call(np.copyto, (target, source)),
        "copy": Call(np.copy, (source,)),
    }
    single = {  # the loop of an earlier version of this script, in its order
        "single: route numba": Call(route, (gate, "numba")),
        "single: route numpy": Call(route, (gate, "numpy")),
        "single: path": Call(full_path, (gate, outputs, "numba")),
        "single: path numpy": Call(full_path, (gate, outputs, "numpy")),
        "single: copy": Call(np.copy, (source,)),
        "single: copy into": Call(np.copyto, (target, source)),
    }
    return [(against_numpy, True), (against_copy, True), (single, False)]


def measure(contenders, repeats, rng):
    """Medians of ``repeats`` interleaved timings of each loop's contenders."""
    median = {}
    for calls, shuffled in contenders:
        timings = {name: [] for name in calls}
        for _ in range(repeats):
            names = list(calls)
            if shuffled:
                rng.shuffle(names)
            for name in names:
                call = calls[name]
                if call.setup is not None:
                    call.setup()
                timings[name].append(seconds(call.function, *call.args))
        median.update({name: statistics.median(values) for name, values in timings.items()})
    return median


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    gate = rng.dirichlet(np.ones(E), size=N)
    outputs = rng.normal(size=N * K)
    # The least traffic of the path, in bytes: read gate and outputs, write experts,
    # weights, order (n k each) and the result (n).
    traffic = gate.nbytes + outputs.nbytes + 3 * 8 * N * K + 8 * N
    source = np.ones(traffic // 2 // 8)
    target = np.empty_like(source)
    for backend in ("numba", "numpy"):  # compile and warm up; check agreement
        full_path(gate, outputs, backend)
    want = full_path(gate, outputs, "numpy")
    buffers = path_buffers()
    assert np.array_equal(full_path(gate, outputs, "numba"), want)
    assert np.array_equal(full_path_into(gate, outputs, buffers), want)
    after_numpy = functools.partial(full_path, gate, outputs, "numpy")
    path_faults = {
        "allocating": page_faults(full_path, gate, outputs, "numba"),
        "on fresh pages": page_faults(full_path, gate, outputs, "numba", before=trim_heap),
        "right after a NumPy-backend call": page_faults(full_path, gate, outputs, "numba",
                                                        before=after_numpy),
        "into reused buffers": page_faults(full_path_into, gate, outputs, buffers),
    }
    copy_faults = {
        "`np.copy`": page_faults(np.copy, source),
        "`np.copyto` into a reused buffer": page_faults(np.copyto, target, source),
    }
    contenders = loops(gate, outputs, source, target, buffers)
    medians = [measure(contenders, args.repeats, rng) for _ in range(args.rounds)]
    table = "\n".join(
        ["| ratio | median of the rounds | rounds | target |", "|---|---|---|---|"]
        + [f"| {name} | {statistics.median(values):.1f}x | "
           f"{', '.join(f'{v:.1f}' for v in values)} | {goal} |"
           for name, (top, bottom, goal) in TARGETS.items()
           for values in [[m[top] / m[bottom] for m in medians]]]
    )
    copy_ratio = statistics.median(m["copy into"] / m["copy"] for m in medians)
    faster = (f"{1 / copy_ratio:.1f}x faster than `np.copy` here" if copy_ratio < 1
              else f"though `np.copy` was {copy_ratio:.1f}x faster here")
    huge_pages = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    huge_pages = huge_pages.read_text().strip() if huge_pages.exists() else "unknown"
    section = (
        f"{SECTION}\n\n"
        f"Run on {time.strftime('%Y-%m-%d')}, {versions(skfuse, np, numba)}; Numba "
        f"threads: {numba.get_num_threads()}, threading layer "
        f"{numba.threading_layer()}; transparent huge pages: `{huge_pages}`. "
        f"n = {N:,} rows, {E} experts, k = {K}; gate rows drawn from a flat Dirichlet. "
        f"{args.rounds} rounds in one run. Each round times three loops, each contender "
        f"{args.repeats} times, interleaved: Numba against NumPy, and Numba against the "
        "copy, each in an order shuffled at every repeat, then the single loop of an "
        "earlier version of this script, all contenders in a fixed order, where each Numba "
        "path came right after a NumPy-backend call, which allocates and frees hundreds "
        "of megabytes. A ratio is of medians within a round; the table gives each "
        "round's ratio and their median. \"Route and combine\" allocates its outputs, as "
        "by default; \"on fresh pages\", glibc has handed its free memory back to the "
        "operating system (`malloc_trim`, untimed) before each call. The copy moves "
        f"{traffic / 1e6:.0f} MB of traffic (reads plus writes), the least the path "
        f"must move; the bound is the copy into a reused buffer, {faster}. Both "
        "backends, and the path into buffers, give identical results (checked in the "
        "run). Reproduce with "
        "`python benchmarks/bench_routing.py --write`.\n\n"
        f"{table}\n\n"
        "Page faults in one call, after a first call: route and combine "
        + ", ".join(f"{name} {count:,}" for name, count in path_faults.items()) + "; "
        + "; ".join(f"{name} {count:,}" for name, count in copy_faults.items()) + ".\n"
    )
    print(section)
    if args.write:
        write_section(DOC, SECTION, section)


if __name__ == "__main__":
    main()
