"""How often ``weights="optimize"`` learns a weight of 0, and how often SLSQP left it as a
tiny positive number instead (before ``NEGLIGIBLE_WEIGHT``): the quality benchmark's
classification and regression parts are run with the old rule (``NEGLIGIBLE_WEIGHT =
0``: the optimiser's output clipped at 0) and every weight vector ``optimize_weights``
returns is counted by size.

Run from the repository root (``--cache``: bench_quality.py's folder of member fits)::

    python benchmarks/learned_zero_weights.py --cache /work/qcache
"""
import contextlib
import io
import itertools
import sys

import bench_quality
import numpy as np

import skfuse._fusion
import skfuse._weights

BINS = [0, 1e-15, 1e-12, 1e-9, 1e-6, 1e-4, 1e-2, 1.0 + 1e-9]


def main():
    if {"-h", "--help"} & set(sys.argv[1:]):  # bench_quality's help, not swallowed below
        print(__doc__.split("\n\n")[0] + "\n\nOptions: bench_quality.py's (passed on).\n")
        bench_quality.main(["--help"])
    learned = []
    optimize = skfuse._weights.optimize_weights

    def recorded(*args):
        weights = optimize(*args)
        learned.append(weights)
        return weights

    skfuse._weights.NEGLIGIBLE_WEIGHT = 0.0
    skfuse._fusion.optimize_weights = recorded
    with contextlib.redirect_stdout(io.StringIO()):
        bench_quality.main(["--parts", "classifier,regressor", "--seeds", "10",
                            *sys.argv[1:]])
    weights = np.concatenate(learned)
    positive = weights[weights > 0]
    print(f"{len(learned)} weight vectors, {weights.size} weights: "
          f"{int((weights == 0).sum())} exactly 0; positive ones by size:")
    for low, high in itertools.pairwise(BINS):
        print(f"  [{low:g}, {high:g}): {int(((positive >= low) & (positive < high)).sum())}")


if __name__ == "__main__":
    main()
