"""Routing core: Numba kernels against the NumPy reference and a memory-copy bound.

Run from the repository root::

    python benchmarks/bench_routing.py            # print the table
    python benchmarks/bench_routing.py --write    # ... and write docs/benchmarks.md

n = 1,000,000 rows, 8 experts, k = 2. Timed in ``--rounds`` rounds of one run (each
ratio is of medians of ``--repeats`` timings within a round), the Numba backend against
the NumPy one in one interleaved loop and against the copy bound in another:

- ``top_k`` + ``group_by_expert`` with each backend;
- the full route-and-combine path (``top_k``, ``group_by_expert``, ``combine`` of one
  output per routed pair) with each backend, allocating its outputs, and with Numba
  writing into buffers reused from call to call (``out=``);
- a copy of a buffer half the size of the bytes the path must move at least (read the
  gate and the experts' outputs; write the routing, that is experts, weights and
  order, and the result), since a copy reads and writes every byte once: a lower bound
  for the same traffic. It is timed into a reused buffer (``np.copyto``) and as
  ``np.copy``, which allocates its output.

The bound is compared like for like: the path into reused buffers against the copy
into a reused buffer (neither pays page faults), and the allocating path against the
allocating copy. Page faults per call are counted once, outside the timings.
"""

import argparse
import resource
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


def full_path_into(gate, outputs, buffers):
    """The Numba path writing into ``buffers``: experts, weights, order and result."""
    experts, weights = top_k(gate, K, out=buffers[:2])
    order, offsets = group_by_expert(experts, E, out=buffers[2])
    return combine(outputs, order, offsets, experts, weights, out=buffers[3])


def path_buffers():
    return (np.empty((N, K), dtype=np.int64), np.empty((N, K)),
            np.empty(N * K, dtype=np.int64), np.empty(N))


def seconds(function, *args):
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def page_faults(function, *args):
    """Minor page faults (pages the OS mapped and zeroed) in a call after a first one."""
    function(*args)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    function(*args)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


TARGETS = {
    "`top_k` + `group_by_expert`: NumPy / Numba": ">= 8",
    "route and combine: NumPy / Numba": ">= 3",
    "route and combine into reused buffers (`out=`) / copy into a reused buffer "
    "(`np.copyto`)": "<= 3",
    "route and combine, allocating / copy, allocating (`np.copy`)": "",
    "route and combine, allocating / copy into a reused buffer (`np.copyto`)": "",
    "route and combine, allocating / into reused buffers, in the copy loop": "",
    "route and combine, allocating / into reused buffers, each after a NumPy-backend "
    "call": "",
}


def measure(gate, outputs, source, target, buffers, repeats):
    """Medians of ``repeats`` timings of each contender.

    Each comparison is timed in its own interleaved loop: the NumPy backend allocates
    and frees hundreds of megabytes per call, which slows whichever call comes next. The NumPy loop also times the path
    into buffers, so that both Numba paths there follow a NumPy call, as routing in a
    program that allocates other large arrays between batches would.
    """
    against_numpy = {
        "route numba": (route, gate, "numba"),
        "route numpy": (route, gate, "numpy"),
        "path numba": (full_path, gate, outputs, "numba"),
        "path numpy": (full_path, gate, outputs, "numpy"),
        "path into, after numpy": (full_path_into, gate, outputs, buffers),
    }
    against_copy = {
        "path into": (full_path_into, gate, outputs, buffers),
        "copy into": (np.copyto, target, source),
        "path allocating": (full_path, gate, outputs, "numba"),
        "copy": (np.copy, source),
    }
    median = {}
    for calls in (against_numpy, against_copy):
        timings = {name: [] for name in calls}
        for _ in range(repeats):
            for name, (function, *args) in calls.items():
                timings[name].append(seconds(function, *args))
        median.update({name: statistics.median(values) for name, values in timings.items()})
    return median


def ratios(median):
    names = list(TARGETS)
    return {
        names[0]: median["route numpy"] / median["route numba"],
        names[1]: median["path numpy"] / median["path numba"],
        names[2]: median["path into"] / median["copy into"],
        names[3]: median["path allocating"] / median["copy"],
        names[4]: median["path allocating"] / median["copy into"],
        names[5]: median["path allocating"] / median["path into"],
        names[6]: median["path numba"] / median["path into, after numpy"],
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
    buffers = path_buffers()
    for backend in ("numba", "numpy"):  # compile and warm up; check agreement
        full_path(gate, outputs, backend)
    want = full_path(gate, outputs, "numpy")
    assert np.array_equal(full_path(gate, outputs, "numba"), want)
    assert np.array_equal(full_path_into(gate, outputs, buffers), want)
    faults = {
        "route and combine, allocating": page_faults(full_path, gate, outputs, "numba"),
        "route and combine into reused buffers": page_faults(full_path_into, gate,
                                                             outputs, buffers),
        "`np.copy`": page_faults(np.copy, source),
        "`np.copyto` into a reused buffer": page_faults(np.copyto, target, source),
    }
    rounds = [ratios(measure(gate, outputs, source, target, buffers, args.repeats))
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
        f"of medians of {args.repeats} timings within a round, interleaved among the "
        "contenders of each comparison (Numba against NumPy in one loop, against the "
        "copy in another, since the NumPy backend allocates and frees hundreds of "
        "megabytes per call and slows whatever comes next), and the "
        "table gives each round's ratio and their median (the rounds show how much the "
        "shared machine's load moves them). The copy moves "
        f"{traffic / 1e6:.0f} MB of traffic (reads plus writes), the least the path "
        "must move. The target compares like with like: the path writing into buffers "
        "reused from call to call (`out=`, as a loop over batches would) against the "
        "copy into a reused buffer, where neither pays page faults; the allocating path "
        "is compared with `np.copy`, which allocates its output too. Both backends, "
        "and the path into buffers, give identical results (checked in the run). "
        "Reproduce with `python benchmarks/bench_routing.py --write`.\n\n"
        f"{table}\n\n"
        "Page faults in one call (each a page the operating system maps and zeroes on "
        "first touch; a 2 MiB transparent huge page counts once): "
        + "; ".join(f"{name} {count:,}" for name, count in faults.items())
        + ". The allocating rows move with the C allocator's state: when it hands freed "
        "memory back to the operating system, the next call's fresh outputs fault again, "
        "page by page.\n"
    )
    print(section)
    if args.write:
        write_section(DOC, SECTION, section)


if __name__ == "__main__":
    main()
