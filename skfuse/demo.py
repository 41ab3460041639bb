"""Compare skfuse's composites with their members and scikit-learn's ensembles.

Run ``python -m skfuse.demo``. On datasets bundled with scikit-learn (binary, multiclass
and regression), every model is cross-validated on the same folds and a table is
printed: accuracy and log-loss (classification) or R² and RMSE (regression), and the
mean fit and predict seconds per fold; then a verdict computed from that table.
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
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skfuse import (
    DistilledClassifier,
    DistilledRegressor,
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

# The distilled row, and the row of the teacher it learned from.
MIXTURE = "skfuse Mixture (linear experts)"
DISTILLED = "skfuse Distilled (fusion > tree)"
TEACHER = "skfuse Fusion (equal)"


def _members(classification, seed):
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


def _contenders(classification, seed):
    """Every model in the table, by the name it is printed under."""
    base = _members(classification, seed)
    models = {name: est for name, est in base}
    if classification:
        models["sklearn Voting (soft)"] = VotingClassifier(base, voting="soft")
        models["sklearn Stacking"] = StackingClassifier(base)
        fusion = FusionClassifier
    else:
        models["sklearn Voting"] = VotingRegressor(base)
        models["sklearn Stacking"] = StackingRegressor(base)
        fusion = FusionRegressor
    models[TEACHER] = fusion(base)
    models["skfuse Fusion (optimize)"] = fusion(base, weights="optimize", random_state=seed)
    models["skfuse Fusion (greedy)"] = fusion(base, weights="greedy", random_state=seed)
    final = LogisticRegression(max_iter=1000) if classification else Ridge()
    final_name = "logreg" if classification else "ridge"
    models[f"skfuse SerialStack (fusion > {final_name})"] = SerialStack(
        [("fusion", fusion(base)), ("final", final)], random_state=seed
    )
    if classification:
        # A cheap model answers the rows it is sure of; the forest sees the rest.
        models["skfuse Cascade (logreg > forest)"] = SerialStack(
            [base[0], base[1]], exit_threshold="auto", random_state=seed
        )
    # A gate splits the rows among linear experts, at the mixture's defaults: the number
    # of experts and the gate's penalty are chosen on held-out rows (one expert included).
    if classification:
        mixture = MixtureOfExpertsClassifier(LogisticRegression(max_iter=1000),
                                             random_state=seed)
    else:
        mixture = MixtureOfExpertsRegressor(Ridge(), random_state=seed)
    models[MIXTURE] = make_pipeline(StandardScaler(), mixture)
    # One depth-8 tree learns the equal-weight fusion's out-of-fold outputs (and, by
    # default, MUNGE rows near the training rows), then predicts alone.
    distiller, tree = ((DistilledClassifier, DecisionTreeClassifier) if classification
                       else (DistilledRegressor, DecisionTreeRegressor))
    models[DISTILLED] = distiller(fusion(base), tree(max_depth=8, random_state=seed),
                                  random_state=seed)
    return models


def _evaluate(model, X, y, folds):
    """Mean held-out scores (and the score's spread), mean fit/predict seconds over
    ``folds``; for a cascade the share of held-out rows its first step answered, for a
    mixture the numbers of experts it chose."""
    classification = is_classifier(model)
    scores, fit_seconds, predict_seconds, first_step, experts = [], [], [], [], []
    for train, test in folds:
        est = clone(model)
        start = time.perf_counter()
        est.fit(X[train], y[train])
        fit_seconds.append(time.perf_counter() - start)
        mixture = est[-1] if isinstance(est, Pipeline) else est  # after its scaler
        if hasattr(mixture, "n_experts_"):
            experts.append(int(mixture.n_experts_))
        start = time.perf_counter()
        if classification:
            proba = est.predict_proba(X[test])
            predict_seconds.append(time.perf_counter() - start)
            pred = est.classes_[np.argmax(proba, axis=1)]
            scores.append((accuracy_score(y[test], pred),
                           log_loss(y[test], proba, labels=est.classes_)))
            if getattr(est, "exit_threshold", None) is not None:
                first_step.append(np.mean(est.predict_route(X[test]) == 0))
        else:
            pred = est.predict(X[test])
            predict_seconds.append(time.perf_counter() - start)
            scores.append((r2_score(y[test], pred),
                           np.sqrt(mean_squared_error(y[test], pred))))
    score, loss = np.mean(scores, axis=0)
    return (score, float(np.std([s for s, _ in scores])), loss, np.mean(fit_seconds),
            np.mean(predict_seconds), np.mean(first_step) if first_step else None,
            sorted(set(experts)) or None)


def run(n_splits=5, seed=0, datasets=None, out=print):
    """Cross-validate every model on every dataset and print the table.

    Parameters
    ----------
    n_splits : int, default=5
        Cross-validation folds; every model sees the same folds.
    seed : int, default=0
        Seeds the folds and the members.
    datasets : list of str or None, default=None
        Only the datasets whose name contains one of these; None: all.
    out : callable, default=print
        Called once with the table's text and its verdict (:func:`verdict`).

    Returns
    -------
    rows : list of tuple
        ``(dataset, model, score, score's standard deviation over the folds, loss, fit
        seconds, predict seconds, first-step share, experts)`` per model: the share of
        held-out rows a cascade's first step answered, and the numbers of experts a
        mixture chose over the folds (sorted), each None for other models.
    """
    chosen = _chosen(datasets)
    _warm_up()
    rows = []
    for name in chosen:
        X, y = DATASETS[name](return_X_y=True)
        classification = "regression" not in name
        splitter = (StratifiedKFold if classification else KFold)(
            n_splits, shuffle=True, random_state=seed
        )
        folds = list(splitter.split(X, y))
        models = _contenders(classification, seed)
        print(f"{name}: cross-validating {len(models)} models...", file=sys.stderr, flush=True)
        for model_name, model in models.items():
            rows.append((name, model_name, *_evaluate(model, X, y, folds)))
    out(_format_table(rows, n_splits) + "\n\n" + "\n".join(verdict(rows)))
    return rows


def _chosen(datasets):
    """The names of ``DATASETS`` that contain one of ``datasets``, in any case (all for
    None)."""
    chosen = [name for name in DATASETS
              if not datasets or any(d.lower() in name.lower() for d in datasets)]
    if not chosen:
        raise ValueError(f"No dataset name contains any of {datasets!r}; the datasets "
                         f"are {list(DATASETS)!r}.")
    return chosen


def _warm_up():
    """Load the compiled routing kernels once, so that no model's first fold pays it."""
    X, y = load_breast_cancer(return_X_y=True)
    for mixture in (MixtureOfExpertsClassifier(n_experts=2, top_k=1, max_iter=2),
                    MixtureOfExpertsRegressor(n_experts=2, top_k=1, max_iter=2)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            make_pipeline(StandardScaler(), mixture).fit(X[:100], y[:100]).predict(X[:100])


_LEGEND = """\
{n_splits}-fold cross-validation; every model sees the same folds. Seconds are means per
fold. Higher accuracy and R² are better; lower log-loss and RMSE are better.
The members are logreg (scaled logistic regression), forest (a random forest) and knn
(15 nearest neighbours), ridge in place of logreg for regression. Every ensemble below
combines these three: Fusion with equal weights, weights optimised on out-of-fold
predictions, or greedy ensemble selection; SerialStack feeds the members' out-of-fold
outputs (what a fusion level passes on) to a final logreg (ridge), which by design
predicts as sklearn Stacking does. The exceptions are the cascade (classification
only: logreg answers the rows it is sure of, the forest the rest), the mixture (a gate
routes each row among linear experts, as many as held-out rows favour, one included)
and the distilled tree: a depth-8 decision tree that learned the equal-weight fusion's
out-of-fold outputs mixed with the labels (at a weight chosen out of fold), and
synthetic rows near the training rows, and predicts alone.
± is the standard deviation of the score over the folds."""


def _format_table(rows, n_splits):
    lines = [_LEGEND.format(n_splits=n_splits)]
    for dataset in dict.fromkeys(row[0] for row in rows):
        regression = "regression" in dataset
        header = (dataset, "R²" if regression else "accuracy",
                  "RMSE" if regression else "log-loss", "fit s", "predict s")
        block = [row for row in rows if row[0] == dataset]
        cells = [header] + [(m, f"{s:.4f} ± {sd:.4f}", f"{loss:.4f}", f"{fit:.3f}",
                             f"{pred:.4f}") for _, m, s, sd, loss, fit, pred, *_ in block]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        lines.append("")
        for i, row in enumerate(cells):
            lines.append("  ".join(cell.ljust(w) if j == 0 else cell.rjust(w)
                                   for j, (cell, w) in enumerate(zip(row, widths))))
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        lines += [f"{m}: its first step answered {share:.0%} of the held-out rows."
                  for _, m, *_, share, _ in block if share is not None]
        lines += [f"{m}: it chose {' or '.join(map(str, counts))} expert(s) over the folds"
                  + (" (one: its expert fitted alone)." if counts == [1] else ".")
                  for _, m, *_, counts in block if counts is not None]
        lines += _distilled_line(block, header[1])
    return "\n".join(lines)


def _distilled_line(block, metric):
    """The distilled tree's score and predict seconds beside its teacher's."""
    found = {row[1]: row for row in block if row[1] in (DISTILLED, TEACHER)}
    if len(found) < 2:
        return []
    student, teacher = found[DISTILLED], found[TEACHER]
    return [(f"{DISTILLED}: {metric} {student[2]:.4f} against its teacher's "
             f"{teacher[2]:.4f} ({TEACHER}); predict {student[6]:.4f} s against "
             f"{teacher[6]:.4f} s, {teacher[6] / student[6]:.0f}x faster.")]


def verdict(rows):
    """The table's verdict: a line per dataset, then a closing paragraph.

    Each line names the composite (a model named ``skfuse ...``) with the best score
    (accuracy or R²) and compares it with the best single member (a model named neither
    ``skfuse ...`` nor ``sklearn ...``) and with scikit-learn's best ensemble. A
    difference no larger than the larger of the two models' standard deviations over
    the folds is called a tie: the folds do not tell them apart.

    Parameters
    ----------
    rows : list of tuple
        As :func:`run` returns them.

    Returns
    -------
    lines : list of str
    """
    tally = {"member": [0, 0, 0], "ensemble": [0, 0, 0]}  # ahead, tied, behind
    lines = [("Verdict (a difference within the larger of the two models' standard "
              "deviations over the folds, the ± below, is a tie):")]
    for dataset in dict.fromkeys(row[0] for row in rows):
        block = [row for row in rows if row[0] == dataset]
        metric = "R²" if "regression" in dataset else "accuracy"
        kinds = {"composite": [], "member": [], "ensemble": []}
        for row in block:
            kinds["composite" if row[1].startswith("skfuse ") else
                  "ensemble" if row[1].startswith("sklearn ") else "member"].append(row)
        if not all(kinds.values()):
            continue
        best = {kind: max(found, key=lambda row: row[2]) for kind, found in kinds.items()}
        winner = best["composite"]
        tied = [row[1] for row in kinds["composite"]
                if row[2] == winner[2] and row is not winner]
        parts = []
        for kind, label in (("member", "the best member"),
                            ("ensemble", "scikit-learn's best ensemble")):
            other = best[kind]
            gap, spread = winner[2] - other[2], max(winner[3], other[3])
            outcome = 1 if abs(gap) <= spread else 0 if gap > 0 else 2
            tally[kind][outcome] += 1
            word = ("a tie, within the fold spread" if outcome == 1 else
                    "ahead, beyond the fold spread" if outcome == 0 else
                    "behind, beyond the fold spread")
            parts.append(f"against {label}, {other[1]} ({other[2]:.4f}), {gap:+.4f}: "
                         f"{word} (±{spread:.4f})")
        overall = max(block, key=lambda row: row[2])
        top = ("" if overall[2] <= winner[2] else
               f" The best model overall is {overall[1]} ({overall[2]:.4f}).")
        same = f" (as is {', '.join(tied)})" if tied else ""
        lines.append(f"- {dataset}: the best composite is {winner[1]}, {metric} "
                     f"{winner[2]:.4f}{same}; " + "; ".join(parts) + "." + top)
    counted = sum(tally["member"])
    if not counted:
        return lines
    (m_ahead, m_tie, m_behind), (e_ahead, e_tie, e_behind) = tally["member"], tally["ensemble"]
    lines += ["", (
        f"Over {counted} dataset(s), skfuse's best composite was ahead of the best single "
        f"member beyond the spread over folds on {m_ahead}, tied on {m_tie} and behind on "
        f"{m_behind}; against scikit-learn's best ensemble it was ahead on {e_ahead}, "
        f"tied on {e_tie} and behind on {e_behind}. A tie means these folds cannot tell "
        "the two apart, not that they are equal. The best composite is picked after "
        "seeing the scores, which flatters it; judge a composite you chose beforehand, "
        "on more folds or more datasets."
    )]
    return lines


def _n_splits_arg(text):
    """``--splits``: an int of at least 2, or a usage error."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be an integer of at least 2, got {text!r}")
    return value


def _seed_arg(text):
    """``--seed``: an int from 0 to 2**32 - 1 (NumPy's seeds), or a usage error."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 2**32 - 1, got {text!r}")
    return value


def _most_splits(name):
    """The most folds a dataset allows: its rows, or its smallest class's."""
    _, y = DATASETS[name](return_X_y=True)
    return len(y) if "regression" in name else int(np.unique(y, return_counts=True)[1].min())


def main(argv=None):
    """The command line: ``python -m skfuse.demo [--splits N] [--seed S] [--dataset D]``.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments; None reads them from the command line.
    """
    parser = argparse.ArgumentParser(prog="python -m skfuse.demo", description=__doc__)
    parser.add_argument("--splits", type=_n_splits_arg, default=5,
                        help="cross-validation folds (at least 2)")
    parser.add_argument("--seed", type=_seed_arg, default=0,
                        help="seed for folds and members (0 to 2**32 - 1)")
    parser.add_argument("--dataset", action="append",
                        help="only datasets whose name contains this (repeatable): "
                             + ", ".join(name.split()[0] for name in DATASETS))
    args = parser.parse_args(argv)
    try:
        chosen = _chosen(args.dataset)
    except ValueError as exc:
        parser.error(str(exc))  # a usage error; a model's own errors propagate
    for name in chosen:
        if args.splits > (most := _most_splits(name)):
            parser.error(f"argument --splits: {name} allows at most {most} folds (its "
                         f"smallest class or its rows), got {args.splits}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        run(args.splits, args.seed, args.dataset)


if __name__ == "__main__":
    main()
