"""Split 0 as bench_distill: the teacher's learned weights, and how far its held-out
predictions are from HGB on labels' (RMSE between the two), beside the sd of y.

Run from the repository root::

    python benchmarks/distill_teacher_weights.py
"""
import argparse
import warnings

import numpy as np
from _datasets import regression_sets
from bench_distill import REGRESSION, SEED, students, teacher
from sklearn.base import clone
from sklearn.model_selection import train_test_split


def rmse(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
print("| data set | sd of y (held out) | teacher RMSE | HGB on labels RMSE | RMSE between them | "
      "teacher's weights (ridge, rf, hgb, knn) |")
print("|---|---|---|---|---|---|")
for data in regression_sets(max_rows=1000, seed=SEED):
    if data.name not in REGRESSION:
        continue
    X_tr, X_te, y_tr, y_te = train_test_split(data.X, data.y, test_size=0.25, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = teacher(False, None).fit(X_tr, y_tr)
        h = clone(students(False)["gradient boosting"]).fit(X_tr, y_tr)
    pt, ph = t.predict(X_te), h.predict(X_te)
    print(f"| {data.name} | {np.std(y_te):.3f} | {rmse(pt, y_te):.4f} | {rmse(ph, y_te):.4f} | "
          f"{rmse(pt, ph):.4f} | {', '.join(f'{w:.2f}' for w in t.weights_)} |", flush=True)
