"""Predict time of bench_distill's teachers (split 0) under the rule before, where the
optimiser's rounding stayed as tiny weights (``NEGLIGIBLE_WEIGHT = 0``: its output clipped
at 0) and the member still predicted, and under the rule now (below 1e-9 set to 0, the
member skipped). Medians of 5 interleaved timings on the held-out rows tiled to 5,000
rows, native threads limited to one.

Run from the repository root::

    python benchmarks/negligible_weights.py
"""
import argparse
import time
import warnings

import numpy as np
from _datasets import regression_sets
from bench_distill import REGRESSION, SEED, classification_sets, teacher
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import skfuse._weights

RULE_NOW = skfuse._weights.NEGLIGIBLE_WEIGHT


def teacher_weights(classification, X, y, negligible):
    skfuse._weights.NEGLIGIBLE_WEIGHT = negligible
    try:
        return teacher(classification, None).fit(X, y)
    finally:
        skfuse._weights.NEGLIGIBLE_WEIGHT = RULE_NOW


def row(data, classification):
    X_tr, X_te, y_tr, _ = train_test_split(
        data.X, data.y, test_size=0.25, random_state=0,
        stratify=data.y if classification else None)
    before = teacher_weights(classification, X_tr, y_tr, 0.0).weights_
    fitted = teacher_weights(classification, X_tr, y_tr, RULE_NOW)
    now = fitted.weights_.copy()
    assert np.allclose(before, now, atol=1e-12), (before, now)
    X_big = np.tile(X_te, (int(np.ceil(5000 / len(X_te))), 1))
    predict = fitted.predict_proba if classification else fitted.predict
    times = {"before": [], "now": []}
    for _ in range(5):
        for rule, weights in (("before", before), ("now", now)):
            fitted.weights_ = weights
            began = time.perf_counter()
            predict(X_big)
            times[rule].append(time.perf_counter() - began)
    old, new = np.median(times["before"]), np.median(times["now"])
    return (f"| {data.name} | {', '.join(f'{w:.2f}' for w in now)} | "
            f"{int((before == 0).sum())} / {int((now == 0).sum())} | {old * 1e3:.1f} | "
            f"{new * 1e3:.1f} | {new / old:.2f} |")


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    warnings.simplefilter("ignore")
    print("| data set | learned weights | members at 0, before / now | predict ms, before | "
          "predict ms, now | now / before |")
    print("|---|---|---|---|---|---|")
    with threadpool_limits(1):
        for data in classification_sets(1000):
            print(row(data, True), flush=True)
        for data in regression_sets(max_rows=1000, seed=SEED):
            if data.name in REGRESSION:
                print(row(data, False), flush=True)


if __name__ == "__main__":
    main()
