"""Routing core: Numba kernels against the NumPy reference and a memory-copy bound.

Run from the repository root::

    python benchmarks/bench_routing.py            # print the table
    python benchmarks/bench_routing.py --write    # ... and write docs/benchmarks.md

n = 1,000,000 rows, 8 experts, k = 2. Timed, interleaved in one run (median of
``--repeats``): ``top_k`` + ``group_by_expert`` with each backend; the full
route-and-combine path (``top_k``, ``group_by_expert``, ``combine`` of one output per
routed pair) with each backend; and a copy of a buffer half the size of the bytes the
path must move at least (read the gate and the experts' outputs; write the routing,
that is experts, weights and order, and the result), since a copy reads and writes
every byte once: a lower bound for the same traffic. The bound is timed as ``np.copy``,
which allocates its output as the path does, and as ``np.copyto`` into a buffer that
is already mapped, which pays no page faults.
"""

import argparse
import statistics
import time

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


def seconds(function, *args):
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
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
    assert np.array_equal(full_path(gate, outputs, "numba"), full_path(gate, outputs, "numpy"))
    timings = {name: [] for name in ("route numba", "route numpy", "path numba",
                                     "path numpy", "copy", "copy into")}
    for _ in range(args.repeats):
        timings["route numba"].append(seconds(route, gate, "numba"))
        timings["route numpy"].append(seconds(route, gate, "numpy"))
        timings["path numba"].append(seconds(full_path, gate, outputs, "numba"))
        timings["path numpy"].append(seconds(full_path, gate, outputs, "numpy"))
        timings["copy"].append(seconds(np.copy, source))
        timings["copy into"].append(seconds(np.copyto, target, source))
    median = {name: statistics.median(values) for name, values in timings.items()}
    rows = [
        ("`top_k` + `group_by_expert`: NumPy / Numba", median["route numpy"] / median["route numba"],
         ">= 8"),
        ("route and combine: NumPy / Numba", median["path numpy"] / median["path numba"],
         ">= 3"),
        ("route and combine, Numba / memory copy of the same traffic (`np.copy`)",
         median["path numba"] / median["copy"], "<= 3"),
        ("route and combine, Numba / copy into a warm buffer (`np.copyto`)",
         median["path numba"] / median["copy into"], ""),
    ]
    table = "\n".join(
        ["| ratio | measured | target |", "|---|---|---|"]
        + [f"| {name} | {value:.1f}x | {target} |" for name, value, target in rows]
    )
    section = (
        f"{SECTION}\n\n"
        f"Run on {time.strftime('%Y-%m-%d')}, {versions(skfuse, np, numba)}; Numba "
        f"threads: {numba.get_num_threads()}, threading layer "
        f"{numba.threading_layer()}. n = {N:,} rows, {E} experts, k = {K}; gate rows "
        f"drawn from a flat Dirichlet. Medians of {args.repeats} interleaved timings in "
        f"one run. The copy moves {traffic / 1e6:.0f} MB of traffic (reads plus writes), "
        "the least the path must move; `np.copy` allocates its output as the path does, "
        "`np.copyto` writes into a buffer already mapped. Both backends give identical results (checked in "
        "the run). Reproduce with `python benchmarks/bench_routing.py --write`.\n\n"
        f"{table}\n"
    )
    print(section)
    if args.write:
        write_section(DOC, SECTION, section)


if __name__ == "__main__":
    main()
