"""How big, and how noisy, is the teacher's gain over HGB on labels (regression sets of
bench_distill)? Per split: RMSE of the teacher and of HGB on labels on the 25% held out,
their difference, and a paired bootstrap standard error of that difference.

Run from the repository root::

    python benchmarks/distill_teacher_edge.py [splits, 5] [max rows, 1000]
"""
import argparse
import warnings

import numpy as np
from _datasets import regression_sets
from bench_distill import REGRESSION, SEED, students, teacher
from sklearn.base import clone
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("splits", type=int, nargs="?", default=5)
parser.add_argument("max_rows", type=int, nargs="?", default=1000)
args = parser.parse_args()
SPLITS, MAX_ROWS = args.splits, args.max_rows
rng = np.random.RandomState(0)
print("| data set | rows | split | teacher RMSE | HGB on labels RMSE | gain | gain / HGB | bootstrap SE of gain | gain / SE |")
print("|---|---|---|---|---|---|---|---|---|")
for data in regression_sets(max_rows=MAX_ROWS, seed=SEED):
    if data.name not in REGRESSION:
        continue
    gains = []
    for seed in range(SPLITS):
        X_tr, X_te, y_tr, y_te = train_test_split(data.X, data.y, test_size=0.25,
                                                  random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = teacher(False, None).fit(X_tr, y_tr)
            h = clone(students(False)["gradient boosting"]).fit(X_tr, y_tr)
        et, eh = (t.predict(X_te) - y_te) ** 2, (h.predict(X_te) - y_te) ** 2
        rt, rh = np.sqrt(et.mean()), np.sqrt(eh.mean())
        boot = []
        for _ in range(2000):
            i = rng.randint(0, len(y_te), len(y_te))
            boot.append(np.sqrt(eh[i].mean()) - np.sqrt(et[i].mean()))
        se = np.std(boot)
        gains.append(rh - rt)
        print(f"| {data.name} | {len(data.y)} | {seed} | {rt:.4f} | {rh:.4f} | {rh - rt:.4f} | "
              f"{(rh - rt) / rh:.2%} | {se:.4f} | {(rh - rt) / se:.2f} |", flush=True)
    print(f"| {data.name} | | mean (sd) over {SPLITS} | | | {np.mean(gains):.4f} ({np.std(gains, ddof=1):.4f}) | | | |", flush=True)
