"""Routing core: Numba kernels against the NumPy reference and a memory-copy bound.

Run from the repository root::

    python benchmarks/bench_routing.py            # print the table
    python benchmarks/bench_routing.py --write    # ... and write docs/benchmarks.md

n = 1,000,000 rows, 8 experts, k = 2. Timed, interleaved, in ``--rounds`` rounds of
one run (each ratio is of medians of ``--repeats`` timings within a round): ``top_k`` + ``group_by_expert`` with each backend; the full
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


TARGETS = {
    "`top_k` + `group_by_expert`: NumPy / Numba": ">= 8",
    "route and combine: NumPy / Numba": ">= 3",
    "route and combine, Numba / memory copy of the same traffic (`np.copy`)": "<= 3",
    "route and combine, Numba / copy into a warm buffer (`np.copyto`)": "",
}


def measure(gate, outputs, source, target, repeats):
    """Medians of ``repeats`` interleaved timings of each contender."""
    timings = {name: [] for name in ("route numba", "route numpy", "path numba",
                                     "path numpy", "copy", "copy into")}
    for _ in range(repeats):
        timings["route numba"].append(seconds(route, gate, "numba"))
        timings["route numpy"].append(seconds(route, gate, "numpy"))
        timings["path numba"].append(seconds(full_path, gate, outputs, "numba"))
        timings["path numpy"].append(seconds(full_path, gate, outputs, "numpy"))
        timings["copy"].append(seconds(np.copy, source))
        timings["copy into"].append(seconds(np.copyto, target, source))
    return {name: statistics.median(values) for name, values in timings.items()}


def ratios(median):
    names = list(TARGETS)
    return {
        names[0]: median["route numpy"] / median["route numba"],
        names[1]: median["path numpy"] / median["path numba"],
        names[2]: median["path numba"] / median["copy"],
        names[3]: median["path numba"] / median["copy into"],
    }


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
    assert np.array_equal(full_path(gate, outputs, "numba"), full_path(gate, outputs, "numpy"))
    rounds = [ratios(measure(gate, outputs, source, target, args.repeats))
              for _ in range(args.rounds)]
    rows = [(name, [r[name] for r in rounds], goal) for name, goal in TARGETS.items()]
    table = "\n".join(
        ["| ratio | median of the rounds | rounds | target |", "|---|---|---|---|"]
        + [f"| {name} | {statistics.median(values):.1f}x | "
           f"{', '.join(f'{v:.1f}' for v in values)} | {goal} |"
           for name, values, goal in rows]
    )
    section = (
        f"{SECTION}\n\n"
        f"Run on {time.strftime('%Y-%m-%d')}, {versions(skfuse, np, numba)}; Numba "
        f"threads: {numba.get_num_threads()}, threading layer "
        f"{numba.threading_layer()}. n = {N:,} rows, {E} experts, k = {K}; gate rows "
        f"drawn from a flat Dirichlet. {args.rounds} rounds in one run; each ratio is "
        f"of medians of {args.repeats} interleaved timings within a round, and the "
        "table gives each round's ratio and their median (the rounds show how much the "
        "shared machine's load moves them). The copy moves "
        f"{traffic / 1e6:.0f} MB of traffic (reads plus writes), the least the path "
        "must move; `np.copy` allocates its output as the path does, `np.copyto` writes "
        "into a buffer already mapped. Both backends give identical results (checked in "
        "the run). Reproduce with `python benchmarks/bench_routing.py --write`.\n\n"
        f"{table}\n"
    )
    print(section)
    if args.write:
        write_section(DOC, SECTION, section)


if __name__ == "__main__":
    main()
