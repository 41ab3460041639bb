"""Per-call predict cost on small batches: each composite beside what a user would run
instead.

A model that serves requests predicts a row, or a few, per call. There the fixed cost of
a call (input checks, bookkeeping) decides, not the members' arithmetic, and a composite
can cost more than the models it wraps. Each line times a composite and its alternative
on the same held-out rows, interleaved in every round, and reports the median time per
call and the ratio of the medians:

- ``FusionClassifier`` (fixed and learned weights) against ``VotingClassifier``, and
  ``FusionRegressor`` against ``VotingRegressor``, over the same members;
- ``SerialStack`` stacking against ``StackingClassifier``, same members and final step;
- a ``SerialStack`` cascade against its first step alone, on rows that leave there;
- ``DistilledClassifier`` and ``DistilledRegressor`` against their student alone.

    python benchmarks/bench_latency.py [--rounds 9] [--old COMMIT] [--write]

With ``--old``, another commit's skfuse (extracted as in ``ab_weight_search.py``) is
fitted on the same data and timed in the same rounds, and each line gains its time.
"""

import argparse
import random
import statistics
import tempfile
import time

import numpy as np
import sklearn
from _common import DOC, old_package, versions, write_section
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    StackingClassifier,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from threadpoolctl import threadpool_limits

SECTION = "## Per-call predict cost (bench_latency.py)"
BATCHES = (1, 100, 5000)
CALL_SECONDS = 0.04  # time spent on one contender per round and batch


def classifiers():
    return [("lr", LogisticRegression()),
            ("tree", DecisionTreeClassifier(max_depth=5, random_state=0)),
            ("nb", GaussianNB())]


def regressors():
    return [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=5, random_state=0))]


def data():
    X, y = make_classification(n_samples=3000, n_features=20, random_state=0)
    Xr, yr = make_regression(n_samples=3000, n_features=20, noise=10.0, random_state=0)
    return (X[:2000], y[:2000], X[2000:]), (Xr[:2000], yr[:2000], Xr[2000:])


def composites(package, clf_data, reg_data):
    """``{case: (fitted composite, method, held-out rows)}`` for one version of skfuse."""
    X, y, X_new = clf_data
    Xr, yr, Xr_new = reg_data
    student = DecisionTreeClassifier(max_depth=6, random_state=0)
    cascade = package.SerialStack(
        [("lr", LogisticRegression()),
         ("tree", DecisionTreeClassifier(max_depth=6, random_state=0))],
        exit_threshold=0.8).fit(X, y)
    leaving = X_new[cascade.predict_route(X_new) == 0]
    return {
        "fusion, fixed weights": (
            package.FusionClassifier(classifiers(), weights=[1, 1, 1]).fit(X, y),
            "predict_proba", X_new),
        "fusion, learned weights": (
            package.FusionClassifier(classifiers(), random_state=0).fit(X, y),
            "predict_proba", X_new),
        "fusion regressor": (
            package.FusionRegressor(regressors(), weights=[1, 1]).fit(Xr, yr),
            "predict", Xr_new),
        "stack": (
            package.SerialStack(classifiers() + [("final", LogisticRegression())]).fit(X, y),
            "predict_proba", X_new),
        "cascade, rows leaving at its first step": (cascade, "predict_proba", leaving),
        "distilled classifier": (
            package.DistilledClassifier(
                package.FusionClassifier(classifiers(), weights=[1, 1, 1]), student,
                random_state=0).fit(X, y),
            "predict_proba", X_new),
        "distilled regressor": (
            package.DistilledRegressor(
                package.FusionRegressor(regressors(), weights=[1, 1]),
                DecisionTreeRegressor(max_depth=6, random_state=0),
                random_state=0).fit(Xr, yr),
            "predict", Xr_new),
    }


def alternatives(clf_data, reg_data):
    """``{case: (what it is, fitted alternative)}``."""
    X, y, _ = clf_data
    Xr, yr, _ = reg_data
    voting = VotingClassifier(classifiers(), voting="soft").fit(X, y)
    return {
        "fusion, fixed weights": ("`VotingClassifier`", voting),
        "fusion, learned weights": ("`VotingClassifier`", voting),
        "fusion regressor": ("`VotingRegressor`", VotingRegressor(regressors()).fit(Xr, yr)),
        "stack": ("`StackingClassifier`",
                  StackingClassifier(classifiers(), final_estimator=LogisticRegression())
                  .fit(X, y)),
        "cascade, rows leaving at its first step": (
            "its first step alone", LogisticRegression().fit(X, y)),
        "distilled classifier": (
            "the student alone", DecisionTreeClassifier(max_depth=6, random_state=0)
            .fit(X, y)),
        "distilled regressor": (
            "the student alone", DecisionTreeRegressor(max_depth=6, random_state=0)
            .fit(Xr, yr)),
    }


def batch(rows, size):
    """``size`` rows of ``rows``, repeated when there are fewer."""
    return np.resize(rows, (size, rows.shape[1]))


def calls_for(call):
    """How many calls fill about ``CALL_SECONDS``."""
    began, n = time.perf_counter(), 0
    while time.perf_counter() - began < CALL_SECONDS / 4:
        call()
        n += 1
    return max(1, 4 * n)


def per_call(call, n):
    began = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - began) / n


def fmt(seconds):
    return f"{seconds * 1e6:.0f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--old", help="a commit to time beside the working tree")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args()
    import skfuse

    clf_data, reg_data = data()
    with tempfile.TemporaryDirectory() as folder, threadpool_limits(1):
        contenders = {"skfuse": composites(skfuse, clf_data, reg_data)}
        if args.old:
            contenders["old"] = composites(old_package(args.old, folder), clf_data, reg_data)
        others = alternatives(clf_data, reg_data)
        lines = []
        for case, (_, method, rows) in contenders["skfuse"].items():
            for size in BATCHES:
                X = batch(rows, size)
                calls = {name: getattr(models[case][0], method)
                         for name, models in contenders.items()}
                calls["alternative"] = getattr(others[case][1], method)
                expected = calls["skfuse"](X)
                assert calls["alternative"](X).shape == expected.shape, case
                if "old" in calls:
                    np.testing.assert_allclose(calls["old"](X), expected, rtol=1e-7,
                                               err_msg=f"{case}: the old commit differs")
                counts = {name: calls_for(lambda c=call, X=X: c(X))
                          for name, call in calls.items()}
                times = {name: [] for name in calls}
                for round_ in range(args.rounds):
                    for name in random.Random(round_).sample(sorted(calls), len(calls)):
                        times[name].append(per_call(lambda c=calls[name], X=X: c(X),
                                                    counts[name]))
                lines.append((case, size, {n: statistics.median(t) for n, t in times.items()},
                              times))
    old = " | old skfuse | skfuse / old" if args.old else ""
    table = [f"| composite | alternative | rows per call | skfuse | alternative | "
             f"skfuse / alternative{old} |",
             "|---|---|---|---|---|---|" + ("---|---|" if args.old else "")]
    for case, size, median, times in lines:
        row = (f"| {case} | {others[case][0]} | {size:,} | {fmt(median['skfuse'])} | "
               f"{fmt(median['alternative'])} | "
               f"{median['skfuse'] / median['alternative']:.2f} |")
        if args.old:
            paired = [n / o for n, o in zip(times["skfuse"], times["old"])]
            row += f" {fmt(median['old'])} | {statistics.median(paired):.2f} |"
        table.append(row)
    intro = (
        f"Run on {time.strftime('%Y-%m-%d')}, {versions(skfuse, sklearn, np)}. "
        "`make_classification` and `make_regression` (3,000 rows, 20 features): fitted "
        "on 2,000, timed on batches of the other 1,000 (repeated to fill 5,000). Members: "
        "logistic regression, a depth-5 tree and Gaussian naive Bayes (ridge and a depth-5 "
        "tree for regression); the cascade is logistic regression then a depth-6 tree at "
        "`exit_threshold=0.8`, timed on the held-out rows that leave at its first step; "
        "the distillers' students are depth-6 trees. `predict_proba` for classifiers, "
        "`predict` for regressors. Each round times every contender in a shuffled order "
        f"(about {CALL_SECONDS * 1e3:.0f} ms of calls each); medians of {args.rounds} "
        "rounds, the ratio of the medians. Native threads limited to 1."
    )
    if args.old:
        intro += (f" *old skfuse*: commit {args.old}, fitted on the same rows (its outputs "
                  "checked equal to the working tree's to 1e-7) and timed in the same rounds; "
                  "*skfuse / old* is the median of the per-round ratios.")
    section = "\n\n".join([SECTION, intro, "\n".join(table)])
    print(section)
    if args.write:
        write_section(DOC, SECTION, section)


if __name__ == "__main__":
    main()
