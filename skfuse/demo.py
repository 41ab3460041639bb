"""Compare skfuse's composites with their members and scikit-learn's ensembles.

Run ``python -m skfuse.demo``. On datasets bundled with scikit-learn (binary, multiclass
and regression), every model is cross-validated on the same folds and one table is
printed: accuracy and log-loss (or R² and RMSE), and the mean fit and predict seconds
per fold. Later composites join the table by adding an entry to ``contenders``.
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.ensemble import (
    RandomForestClassifier,
    RandomForestRegressor,
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfuse import (
    FusionClassifier,
    FusionRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SerialStack,
)

DATASETS = {
    "breast_cancer (binary)": load_breast_cancer,
    "digits (10 classes)": load_digits,
    "diabetes (regression)": load_diabetes,
}


def members(classification, seed):
    """Three diverse members: linear, forest and neighbours."""
    if classification:
        return [
            ("logreg", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))),
            ("forest", RandomForestClassifier(n_estimators=60, random_state=seed)),
            ("knn", make_pipeline(StandardScaler(), KNeighborsClassifier(15))),
        ]
    return [
        ("ridge", make_pipeline(StandardScaler(), Ridge())),
        ("forest", RandomForestRegressor(n_estimators=60, min_samples_leaf=5,
                                         random_state=seed)),
        ("knn", make_pipeline(StandardScaler(), KNeighborsRegressor(15))),
    ]


def contenders(classification, seed):
    """Every model in the table, by the name it is printed under."""
    base = members(classification, seed)
    models = {name: est for name, est in base}
    if classification:
        models["sklearn Voting (soft)"] = VotingClassifier(base, voting="soft")
        models["sklearn Stacking"] = StackingClassifier(base)
        fusion = FusionClassifier
    else:
        models["sklearn Voting"] = VotingRegressor(base)
        models["sklearn Stacking"] = StackingRegressor(base)
        fusion = FusionRegressor
    models["skfuse Fusion (equal)"] = fusion(base)
    models["skfuse Fusion (optimize)"] = fusion(base, weights="optimize", random_state=seed)
    models["skfuse Fusion (greedy)"] = fusion(base, weights="greedy", random_state=seed)
    final = LogisticRegression(max_iter=1000) if classification else Ridge()
    models["skfuse SerialStack (fusion > final)"] = SerialStack(
        [("fusion", fusion(base)), ("final", final)], random_state=seed
    )
    if classification:
        # A cheap model answers the rows it is sure of; the forest sees the rest.
        models["skfuse Cascade (logreg > forest)"] = SerialStack(
            [base[0], base[1]], exit_threshold="auto", random_state=seed
        )
    # A gate splits the rows among linear experts; each row runs its top expert only.
    if classification:
        mixture = MixtureOfExpertsClassifier(LogisticRegression(max_iter=1000), n_experts=3,
                                             top_k=1, max_iter=20, random_state=seed)
    else:
        mixture = MixtureOfExpertsRegressor(Ridge(), n_experts=3, top_k=1, max_iter=20,
                                            random_state=seed)
    models["skfuse Mixture (3 linear experts, top-1)"] = make_pipeline(StandardScaler(),
                                                                       mixture)
    return models


def evaluate(model, X, y, folds):
    """Mean held-out scores and mean fit/predict seconds over ``folds``."""
    classification = is_classifier(model)
    scores, fit_seconds, predict_seconds = [], [], []
    for train, test in folds:
        est = clone(model)
        start = time.perf_counter()
        est.fit(X[train], y[train])
        fit_seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        if classification:
            proba = est.predict_proba(X[test])
            predict_seconds.append(time.perf_counter() - start)
            pred = est.classes_[np.argmax(proba, axis=1)]
            scores.append((accuracy_score(y[test], pred),
                           log_loss(y[test], proba, labels=est.classes_)))
        else:
            pred = est.predict(X[test])
            predict_seconds.append(time.perf_counter() - start)
            scores.append((r2_score(y[test], pred),
                           np.sqrt(mean_squared_error(y[test], pred))))
    score, loss = np.mean(scores, axis=0)
    return score, loss, np.mean(fit_seconds), np.mean(predict_seconds)


def run(n_splits=5, seed=0, datasets=None, out=print):
    """Cross-validate every contender on every dataset and print one table."""
    rows = []
    for name, load in DATASETS.items():
        if datasets and not any(d in name for d in datasets):
            continue
        X, y = load(return_X_y=True)
        classification = "regression" not in name
        splitter = (StratifiedKFold if classification else KFold)(
            n_splits, shuffle=True, random_state=seed
        )
        folds = list(splitter.split(X, y))
        models = contenders(classification, seed)
        print(f"{name}: cross-validating {len(models)} models...", file=sys.stderr, flush=True)
        for model_name, model in models.items():
            rows.append((name, model_name, *evaluate(model, X, y, folds)))
    out(format_table(rows, n_splits))
    return rows


def format_table(rows, n_splits):
    header = ("dataset", "model", "accuracy / R²", "log-loss / RMSE", "fit s", "predict s")
    cells = [header] + [
        (d, m, f"{s:.4f}", f"{loss:.4f}", f"{fit:.3f}", f"{pred:.4f}")
        for d, m, s, loss, fit, pred in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        f"{n_splits}-fold cross-validation, same folds for every model; "
        "seconds are means per fold.",
        "",
    ]
    for i, row in enumerate(cells):
        if i > 0 and row[0] != cells[i - 1][0] and i > 1:
            lines.append("")
        lines.append("  ".join(
            cell.ljust(w) if j < 2 else cell.rjust(w)
            for j, (cell, w) in enumerate(zip(row, widths))
        ))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skfuse.demo", description=__doc__)
    parser.add_argument("--splits", type=int, default=5, help="cross-validation folds")
    parser.add_argument("--seed", type=int, default=0, help="seed for folds and members")
    parser.add_argument("--dataset", action="append",
                        help="only datasets whose name contains this (repeatable)")
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        run(args.splits, args.seed, args.dataset)


if __name__ == "__main__":
    main()
