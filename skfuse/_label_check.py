"""The out-of-fold check that chooses a distiller's label weight (``label_weight="auto"``).

For each ``cv`` fold, the student is fitted on the other folds' rows at each weight in
:data:`LABEL_WEIGHTS` and scored on the fold's labels. Its targets there must come from
teacher fits that never saw the scored fold, made the way the final targets are made:

- ``targets="oof"``: a row of fold ``j`` gets the output of the teacher fitted without
  folds ``j`` and ``k`` (one fit per pair of folds, shared by the checks of ``j`` and
  ``k``), where ``k`` is the fold scored;
- ``targets="fit"``: the output of the teacher's fit without fold ``k`` on its own rows;
- a frozen teacher: its output (never fitted here, so it saw no fold).

Synthetic rows are those grown for the fold from the other folds' rows alone
(``Distiller._grow_per_fold``): grown from all rows, a MUNGE row may move toward a
scored row (its parent's nearest neighbour) and a resampled one take a scored row's
values, which puts the teacher's targets next to the rows the check scores, and favours
them. They are labelled by the teacher's fit without fold ``k`` (the frozen teacher's
output).
"""

import copy
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from ._augment import synthetic_row_weight
from ._base import refuse_non_finite_student
from ._tasks import run_fit_tasks
from ._views import concat_rows, intersect_positions, take_rows, union_positions

# The label weights label_weight="auto" chooses from: teacher's targets only, ..., labels only.
LABEL_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass
class CheckFold:
    """The data of the check that scores one fold.

    Attributes
    ----------
    rows : ndarray of int
        The training rows that have a target no fit on the scored fold gave.
    targets : ndarray
        Their targets.
    test : ndarray of int
        The scored rows (those of the fold with a target in the final fit).
    teacher : estimator
        Labels the synthetic rows: the teacher's fit without the fold (or the frozen
        teacher).
    """

    rows: np.ndarray
    targets: np.ndarray
    test: np.ndarray
    teacher: object


def fold_pairs(folds, sample_weight=None, labels=None):
    """``{(j, k): (train, test)}`` for ``j < k``: the teacher's fit without folds ``j``
    and ``k`` (on the rows both train on) and the rows it labels (fold ``j``'s rows that
    fold ``k`` trains on, and the other way round). Pairs with no row to fit on (or
    whose rows all weigh 0) or to label are left out; given a classifier's ``labels``,
    so are pairs whose rows (of positive weight) hold a single class, which no
    classifier fits (unshuffled folds of rows sorted by class)."""
    pairs = {}
    for j, (train_j, test_j) in enumerate(folds):
        for k in range(j + 1, len(folds)):
            train_k, test_k = folds[k]
            train = intersect_positions(train_j, train_k)
            test = union_positions(intersect_positions(test_j, train_k),
                                   intersect_positions(test_k, train_j))
            if test.size and _has_weight(train, sample_weight) and (
                    labels is None or _has_two_classes(labels, train, sample_weight)):
                pairs[(j, k)] = (train, test)
    return pairs


def _has_two_classes(labels, rows, sample_weight):
    if sample_weight is not None:
        rows = rows[sample_weight[rows] > 0]
    return np.unique(labels[rows]).size > 1


def check_folds(X, folds, real, targets, teacher, fold_teachers, pair_outputs, oof, output):
    """One :class:`CheckFold` per fold.

    Parameters
    ----------
    X : data
        The training rows.
    folds : list of (train, test)
    real : ndarray of int
        The rows with a target in the final fit, and ``targets`` those targets.
    targets : ndarray
    teacher : estimator
        The fitted (or frozen) teacher.
    fold_teachers : list of estimators or None
        The teacher's fit without each fold; None for a frozen teacher.
    pair_outputs : dict of (j, k) to (ndarray, ndarray)
        Each pair fit's tested rows (in row order) and its outputs on them
        (:func:`fold_pairs`).
    oof : bool
        ``targets="oof"``.
    output : callable
        ``output(teacher, X)``: the teacher's targets.
    """
    n_rows = X.shape[0]
    has_target = np.zeros(n_rows, dtype=bool)
    has_target[real] = True
    fold_of = np.full(n_rows, -1)
    for j, (_, test) in enumerate(folds):
        fold_of[test] = j
    checks = []
    for k, (train, test) in enumerate(folds):
        train, test = np.asarray(train), np.asarray(test)
        if fold_teachers is None:  # frozen: its outputs stand for every fit's
            rows = train[has_target[train]]
            labelled = targets[np.searchsorted(real, rows)]
            fold_teacher = teacher
        elif not oof:
            fold_teacher = fold_teachers[k]
            rows = train
            labelled = output(fold_teacher, take_rows(X, rows))
        else:
            fold_teacher = fold_teachers[k]
            parts = [(train[fold_of[train] == j], pair_outputs[(min(j, k), max(j, k))])
                     for j in range(len(folds))
                     if j != k and (min(j, k), max(j, k)) in pair_outputs]
            rows = np.concatenate([r for r, _ in parts]) if parts else np.empty(0, int)
            order = np.argsort(rows, kind="stable")
            rows = rows[order]
            labelled = (np.concatenate([out[np.searchsorted(tested, r)]
                                        for r, (tested, out) in parts])[order] if parts
                        else targets[:0])
        checks.append(CheckFold(rows, labelled, test[has_target[test]], fold_teacher))
    return checks


def losses(distiller, student, X, y, sample_weight, grown, checks):
    """``{label weight: loss}``: the student's mean out-of-fold loss against the labels
    (log-loss or squared error, weighted by ``sample_weight``) at each of
    :data:`LABEL_WEIGHTS`; empty when no fold can be checked.

    ``grown``: per fold, its synthetic rows and their parents, or None.
    """
    teacher_output = distiller._teacher_output()
    student_output = distiller._student_output()
    # What the tasks need of the distiller (how it mixes targets and builds a student's
    # rows), without the fitted teacher that a process-based backend would copy to each.
    recipe = copy.copy(distiller)
    for fitted in ("teacher_", "student_"):  # the latter from an earlier fit
        vars(recipe).pop(fitted, None)
    calls, labels, scored = [], [], []
    for k, check in enumerate(checks):
        if not (_has_weight(check.rows, sample_weight)
                and _has_weight(check.test, sample_weight)):
            continue  # nothing to fit the student on, or nothing to score
        t_k, X_grown, n_grown = check.targets, None, 0
        if grown[k] is not None:
            X_grown, parents = grown[k]
            n_grown = len(parents)
            t_k = np.concatenate([t_k, teacher_output(check.teacher, X_grown)])
        w_k = None if sample_weight is None else np.concatenate(
            [sample_weight[check.rows],
             np.full(n_grown, synthetic_row_weight(sample_weight))])
        y_k = y[check.rows]
        for weight in LABEL_WEIGHTS:
            # The task takes the fold's rows of X and builds the student's rows itself
            # (a classifier's repeat each row once per class): taken here, every
            # fold's copy of X would be held at once.
            calls.append((_fit_mixed_output, (recipe, student, X, check.rows, X_grown, y_k,
                                              t_k, w_k, weight, check.test, student_output)))
            labels.append(f"student at label weight {weight:g}, fold {k + 1} of "
                          f"{len(checks)}")
            scored.append((k, weight, check.test))
    if not calls:
        return {}
    outputs = run_fit_tasks(calls, distiller.n_jobs, distiller.verbose,
                            type(distiller).__name__, labels)
    # A weight whose student data is of one class scores infinite; a fold where every
    # weight's is tells them nothing apart and is left out.
    told = {k for (k, _, _), out in zip(scored, outputs) if out is not None}
    if not told:
        return {}
    total, weight_sum = dict.fromkeys(LABEL_WEIGHTS, 0.0), dict.fromkeys(LABEL_WEIGHTS, 0.0)
    for (k, weight, test), out in zip(scored, outputs):
        if k not in told:
            continue
        if out is not None:
            refuse_non_finite_student(type(distiller).__name__, out,
                                      f"at label weight {weight:g}, fold {k + 1}")
        w = np.ones(test.size) if sample_weight is None else sample_weight[test]
        total[weight] += (np.inf if out is None
                          else float(np.dot(w, distiller._row_losses(out, y[test]))))
        weight_sum[weight] += float(w.sum())
    return {weight: total[weight] / weight_sum[weight] for weight in LABEL_WEIGHTS}


def _has_weight(rows, sample_weight):
    """Whether ``rows`` is not empty and, with ``sample_weight``, weighs more than 0."""
    return rows.size > 0 and (sample_weight is None or sample_weight[rows].sum() > 0)


def _fit_mixed_output(distiller, student, X, rows, X_grown, labels, targets, weights,
                      label_weight, test, output):
    """A clone of ``student`` fitted on the ``rows`` of ``X`` (their ``labels`` first),
    then the synthetic rows ``X_grown`` (or None), with the ``targets`` mixed at
    ``label_weight``, as ``distiller`` builds a student's data: its output on the
    ``test`` rows of ``X``; None where that data gives weight to one class only."""
    keep, mixed, w = distiller._mixed(labels, targets, weights, len(labels), label_weight)
    X_k = take_rows(X, rows)
    if X_grown is not None:
        X_k = concat_rows(X_k, X_grown)
    X_s, y_s, w_s, _, est = distiller._student_data(take_rows(X_k, keep, copy=False), mixed,
                                                    w, student, label_weight)
    if distiller._one_class(y_s, w_s):
        return None  # no classifier learns from one class: this weight is not a choice
    params = distiller._student_fit_params(est, w_s)
    fitted = clone(est)
    fitted.fit(X_s, y_s, **params)  # (what fit returns is not used: it should be self)
    del X_k, X_s  # the test rows' copy is not held beside them
    return output(fitted, take_rows(X, test))
