"""Hard-voting aggregation cost at predict time: skfuse against VotingClassifier.

Run from the repository root::

    python benchmarks/bench_aggregation.py            # print the result
    python benchmarks/bench_aggregation.py --write    # ... and write docs/benchmarks.md

Three members (scaled logistic regression, a random forest, histogram gradient boosting)
are fitted once on the customer churn data; both ensembles are built from those same
fitted members (frozen), so only the aggregation differs. On 200,000 rows drawn with
replacement from the data, the script times, in one run and interleaved over
``--repeats`` rounds: the members' own ``predict`` calls, ``FusionClassifier.predict``
and ``VotingClassifier.predict`` (hard voting, weights 3/2/1). The aggregation overhead is
an ensemble's predict time over the members' summed predict time, minus one (medians).
Predictions must be identical.
"""

import argparse
import statistics
import time

import numpy as np
import sklearn
from _common import DOC, load_churn, three_members, versions, write_section
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator

import skfuse
from skfuse import FusionClassifier

SECTION = "## Hard-voting aggregation (bench_aggregation.py)"
N_ROWS = 200_000
WEIGHTS = [3, 2, 1]


def seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)

    data = load_churn()
    members = [(name, est.fit(data.X, data.y)) for name, est in three_members()]
    frozen = [(name, FrozenEstimator(est)) for name, est in members]
    fusion = FusionClassifier(frozen, voting="hard", weights=WEIGHTS).fit(data.X, data.y)
    voting = VotingClassifier(frozen, voting="hard", weights=WEIGHTS).fit(data.X, data.y)
    X = data.X[np.random.RandomState(0).randint(len(data.X), size=N_ROWS)]

    same = np.array_equal(fusion.predict(X), voting.predict(X))
    rounds = {"members": [], "fusion": [], "voting": []}
    for _ in range(args.repeats):
        rounds["members"].append(sum(seconds(lambda e=e: e.predict(X)) for _, e in members))
        rounds["fusion"].append(seconds(lambda: fusion.predict(X)))
        rounds["voting"].append(seconds(lambda: voting.predict(X)))
    median = {key: statistics.median(values) for key, values in rounds.items()}
    overhead = {key: median[key] / median["members"] - 1 for key in ("fusion", "voting")}
    lines = [
        SECTION,
        "",
        f"Run on {time.strftime('%Y-%m-%d')}, {versions(skfuse, sklearn, np)}. "
        f"{N_ROWS:,} rows drawn from {data.source}; three prefit members (scaled logistic "
        f"regression, random forest with 100 trees, histogram gradient boosting), hard "
        f"voting with weights {WEIGHTS}; medians of {args.repeats} interleaved rounds in "
        "one run.",
        "",
        "| predict | time / members' own predict time | aggregation overhead |",
        "|---|---|---|",
        "| members alone (sum of 3) | 1.00 | |",
        f"| skfuse `FusionClassifier` | {1 + overhead['fusion']:.2f} "
        f"| **{100 * overhead['fusion']:.1f}%** |",
        f"| scikit-learn `VotingClassifier` | {1 + overhead['voting']:.2f} "
        f"| {100 * overhead['voting']:.0f}% |",
        "",
        f"Identical predictions: {same}.",
    ]
    section = "\n".join(lines)
    print(section)
    if not same:
        raise SystemExit("skfuse and scikit-learn disagree")
    if args.write:
        write_section(DOC, SECTION, section)


if __name__ == "__main__":
    main()
