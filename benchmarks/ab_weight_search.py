"""The light weight search of ``bench_weight_search.py``, two versions of skfuse side by
side in one process.

On a shared machine the load moves the figures of two runs made minutes apart by more
than a change of a few percent. This script imports the working tree's ``skfuse`` and
another commit's (extracted with ``git archive`` as the package ``skfuse_old``) into
one process and times both in every round, in a shuffled order: a warm search (every
member cached) and a cold one (an empty cache), each beside ``cross_validate``. It
reports medians and, per round, the new version's time over the old one's, the figure
that the load moves least.

    python benchmarks/ab_weight_search.py --old 194c788 --rounds 20
"""

import argparse
import random
import statistics
import tempfile

from _common import light_members, old_package
from bench_weight_search import FIXED, GRID, clear_memo, splitter, timed, timed_search
from sklearn.datasets import make_classification
from sklearn.model_selection import cross_validate
from threadpoolctl import threadpool_limits


def search(package, folder, X, y):
    fusion = package.FusionClassifier(light_members(), memory=folder)
    return timed_search(fusion, X, y, refit=False)[0]


def one_cv(package, X, y):
    fusion = package.FusionClassifier(light_members(), weights=FIXED)
    return timed(lambda: cross_validate(fusion, X, y, cv=splitter()))[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (the per-round ratios' quartiles)")
    import skfuse

    X, y = make_classification(n_samples=2000, n_features=20, random_state=0)
    with tempfile.TemporaryDirectory() as folder, threadpool_limits(1):
        versions = {"new": skfuse, "old": old_package(args.old, folder)}
        caches = {name: tempfile.mkdtemp(dir=folder) for name in versions}
        for name, package in versions.items():
            search(package, caches[name], X, y)  # fills the cache
        times = {(name, what): [] for name in versions for what in ("warm", "cold", "cv")}
        for round_ in range(args.rounds):
            for name in random.Random(round_).sample(sorted(versions), 2):
                package = versions[name]
                times[name, "warm"].append(search(package, caches[name], X, y))
                times[name, "cv"].append(one_cv(package, X, y))
                with tempfile.TemporaryDirectory(dir=folder) as empty:
                    clear_memo(package)
                    times[name, "cold"].append(search(package, empty, X, y))
    median = {key: statistics.median(values) for key, values in times.items()}
    folds = len(GRID["weights"]) * splitter().get_n_splits()
    print(f"new: the working tree; old: {args.old}; {args.rounds} rounds; medians")
    for name in ("old", "new"):
        print(f"{name}: warm search {1e3 * median[name, 'warm'] / folds:.2f} ms per "
              f"candidate-fold; cold search / cross_validate "
              f"{median[name, 'cold'] / median[name, 'cv']:.3f}")
    for what in ("warm", "cold", "cv"):
        paired = [new / old for new, old in zip(times["new", what], times["old", what])]
        print(f"{what}: new / old per round, median {statistics.median(paired):.3f} "
              f"(quartiles {', '.join(f'{q:.3f}' for q in statistics.quantiles(paired))})")


if __name__ == "__main__":
    main()
