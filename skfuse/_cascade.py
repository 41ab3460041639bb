"""The cascade engine of :class:`~skfuse.SerialStack`: early exit by confidence.

Every step sees ``X``. A row leaves at the first step whose top class probability
exceeds that step's threshold, else at its last step with its view present. The rule
is :func:`exit_route`; fitting (thresholds, exit rates, deferred training), ``predict``,
``predict_route`` and :class:`~skfuse.plotting.CascadeDisplay` all route through it.
"""

import warnings
from functools import partial

import numpy as np
from scipy.stats import norm

from ._base import (
    check_known_classes,
    member_proba,
    member_votes,
    refuse_improper_proba,
    refuse_non_finite_step,
    vote_counts,
)
from ._jobs import MemberJobs, folds_within
from ._tasks import is_frozen, noted
from ._views import class_name, presence, refuse_rows_without_any, take_rows, take_view
from ._weights import guard_gain

OWNER = "SerialStack"


def exit_route(top_proba, thresholds, present, n_samples):
    """The step that answers each row, by the cascade's exit rule.

    Parameters
    ----------
    top_proba : callable
        ``top_proba(i, rows)``: step ``i``'s top class probability on ``rows``. It is
        asked only about the rows that reach step ``i`` and have its view, in step
        order, so a step runs on no row it does not need.
    thresholds : ndarray of shape (n_steps - 1,)
        A row leaves at the first step whose top probability exceeds its threshold;
        a threshold of 1 lets no row leave, even where rounding puts a probability
        above 1.
    present : ndarray of bool of shape (n_steps, n_samples) or None
        Which steps have each row's view (None: all). A row that no earlier step lets
        go leaves at its last present step.
    n_samples : int

    Returns
    -------
    route : ndarray of int of shape (n_samples,)
        The answering step; -1 for a row with no step present.
    """
    n_steps = len(thresholds) + 1
    last = last_present_step(present, n_steps, n_samples)
    route = np.full(n_samples, -1)
    remaining = np.flatnonzero(last >= 0)
    for i in range(n_steps):
        here = remaining if present is None else remaining[present[i, remaining]]
        if here.size == 0:
            continue
        top = top_proba(i, here)
        leave = last[here] == i
        if i < n_steps - 1 and thresholds[i] < 1.0:  # 1 lets none exit, even at 1 + ulp
            leave |= top > thresholds[i]
        route[here[leave]] = i
        remaining = remaining[route[remaining] < 0]
    return route


def last_present_step(present, n_steps, n_samples):
    """Each row's last step with its view present (-1 for none); ``present`` may be None."""
    if present is None:
        return np.full(n_samples, n_steps - 1)
    return np.where(present.any(axis=0), n_steps - 1 - np.argmax(present[::-1], axis=0), -1)


def top_class_proba(proba):
    """Each row's largest class probability, ``proba.max(axis=-1)``; for up to 16
    classes taken column by column, as NumPy reduces a short last axis row by row
    (on 1,000 rows, 14 times slower at two classes, twice at ten)."""
    if proba.shape[-1] > 16:
        return proba.max(axis=-1)
    top = proba[..., 0]
    for column in range(1, proba.shape[-1]):
        top = np.maximum(top, proba[..., column])
    return top


def answer_codes(top_class, labels, forced):
    """Rows' answers (positions in the classes) at the steps that answer them: where
    ``forced`` (the row reached its last present step: every row left, where each step
    has every row's view, the last step) what the step predicts (``labels``, a tuned
    decision threshold's answer included), else the class its probabilities rank first
    (``top_class``: the row left by its confidence)."""
    return np.where(forced, labels, top_class)


def route_of_proba(proba, thresholds, present=None):
    """:func:`exit_route` over every step's probabilities, shape (n_steps, n, n_classes)."""
    return route_of_top(top_class_proba(proba), thresholds, present)


def route_of_top(top, thresholds, present=None):
    """:func:`exit_route` over every step's top class probability, shape (n_steps, n)."""
    return exit_route(lambda i, rows: top[i, rows], thresholds, present, top.shape[1])


def lower_bound(diff, sample_weight, confidence):
    """One-sided lower confidence bound on the (weighted) mean of paired differences
    ``diff``: the mean minus ``z`` standard errors, ``z`` the normal quantile at
    ``confidence`` (0.5 gives the mean itself). Weights count rows (a weight of 2 is the
    row repeated), as in :func:`skfuse._weights.guard_gain`."""
    mean, error = guard_gain(np.zeros(len(diff)), np.asarray(diff, float), sample_weight)
    return mean - norm.ppf(confidence) * error


def weighted_quantiles(values, weights, q):
    """``np.quantile(values, q)`` (linear interpolation) with each value counted as many
    times as its weight: whole-number weights give the quantiles of the values repeated.
    ``weights`` None counts each once. Weights that sum to fewer than the values are
    scaled up to sum to their number (equal weights then count each once), and ``q`` of 0
    and 1 give the smallest and the largest value whatever the weights."""
    order = np.argsort(values, kind="stable")
    values = np.asarray(values, float)[order]
    if weights is None:
        return np.quantile(values, q)
    weights = np.asarray(weights, float)[order]
    weights = weights * max(1.0, len(values) / weights.sum())
    ends = np.cumsum(weights)  # the repeated copies of each value end at these
    q = np.asarray(q, float)
    position = (ends[-1] - 1.0) * q
    low = np.floor(position)

    def at(index):  # the value at an index of the repeated values
        return values[np.minimum(np.searchsorted(ends, index, side="right"), len(values) - 1)]

    quantiles = at(low) + (position - low) * (at(np.ceil(position)) - at(low))
    return np.where(q >= 1.0, values[-1], np.where(q <= 0.0, values[0], quantiles))


def auto_thresholds(proba, codes, tolerance, sample_weight=None, present=None,
                    confidence=0.5, labels=None):
    """The lowest thresholds whose cascade stays within ``tolerance`` of the last step,
    with confidence.

    ``proba`` holds each step's out-of-fold probabilities, shape (n_steps, n, n_classes),
    ``labels`` (n_steps, n) the positions in the classes of what each step predicts
    (None: the class its probabilities rank first), which answers the rows that reach
    their last present step (:func:`answer_codes`), and ``present`` (n_steps, n) which
    steps have each row's view (None: all); every row must have at least one. Steps are
    settled in order. Each gets the lowest candidate
    threshold (0 or a quantile of its confidences on the rows present, of positive
    weight, a weight of 2 counting as the row twice) such that at it, and at every
    candidate above it, the one-sided lower bound at ``confidence``
    (:func:`lower_bound`) on the paired per-row difference between the cascade's
    correctness (later steps not exiting) and that of no early exit (each row answered
    by its last present step) is at least ``-tolerance``. Requiring every higher
    threshold to pass too keeps a lucky dip in the out-of-fold accuracy from setting the
    threshold; the bound keeps the exits that only noise puts within the tolerance from
    passing. Accuracies are weighted by ``sample_weight``.
    """
    top = top_class_proba(proba)
    n_steps = proba.shape[0]
    last = last_present_step(present, n_steps, proba.shape[1])
    top_class = proba.argmax(axis=2)
    labels = top_class if labels is None else labels

    rows = np.arange(proba.shape[1])

    def correct(route):  # (every row has a present step, so a route)
        return answer_codes(top_class[route, rows], labels[route, rows],
                            route == last) == codes

    thresholds = np.ones(n_steps - 1)
    no_exit = correct(route_of_top(top, thresholds, present)).astype(float)

    def passes(i, t, route, reach):
        # With the later thresholds at 1, the rows reaching step i that it lets go
        # leave there, and every other row keeps its route without step i's exits.
        if t < 1.0:  # (1 lets none exit, as in exit_route)
            route = np.where(reach & (top[i] > t), i, route)
        diff = correct(route) - no_exit
        return lower_bound(diff, sample_weight, confidence) >= -tolerance - 1e-12

    # Candidates come from the rows that count: present, and of positive weight (a row
    # of weight 0 is as absent).
    counted = np.ones_like(top, dtype=bool) if present is None else present.copy()
    if sample_weight is not None:
        counted &= sample_weight > 0
    for i in range(n_steps - 1):
        # 0 lets every row exit; the quantiles step through the confidences.
        seen = top[i][counted[i]]
        weights = None if sample_weight is None else sample_weight[counted[i]]
        quantiles = (weighted_quantiles(seen, weights, np.linspace(0, 1, 101))
                     if seen.size else [])
        candidates = np.unique(np.r_[0.0, np.minimum(quantiles, 1.0)])
        route = route_of_top(top, thresholds, present)  # thresholds[i:] are 1 here
        reach = route >= i if present is None else (route >= i) & present[i]
        chosen = 1.0
        for t in candidates[::-1]:
            if not passes(i, t, route, reach):
                break
            chosen = t
        thresholds[i] = chosen
    return thresholds


def last_step_output(estimator, X, classes):
    """The last step's class probabilities (:func:`last_step_proba`), then the position
    in ``classes`` of the class it predicts (:func:`step_outputs`)."""
    codes = member_votes(estimator, X, classes)
    return np.column_stack([last_step_proba(estimator, X, classes, codes), codes])


def last_step_proba(estimator, X, classes, codes=None):
    """The last step's class probabilities, columns in ``classes``' order. It may have
    no ``predict_proba`` (no row exits by its confidence; it answers the rows that reach
    it): it then gives 1 for the class it predicts (``codes``, where known)."""
    if hasattr(estimator, "predict_proba"):
        return member_proba(estimator, X, classes)
    codes = member_votes(estimator, X, classes) if codes is None else codes
    return vote_counts(codes[None, :], len(classes)).astype(np.float64)


def exit_step_output(estimator, X, classes, predicted=True):
    """The class probabilities of a step before the last (rows leave it by them), then
    the position of the class it predicts (a row whose last present step it is takes
    that; without ``predicted``, where no row's is, their top class, unread), or a
    ``ValueError`` where its fit has no ``predict_proba``: the step has it before fit,
    but the model a search picks may not. (A task's note names the step; the step's
    name stays out of its outputs' cache key.)"""
    try:
        estimator.predict_proba  # noqa: B018 - only a missing method is refused here
    except AttributeError as exc:
        raise ValueError(
            f"{class_name(estimator)} gives no probabilities once fitted ({exc}); a "
            "cascade step before the last needs them, as rows leave it by them.") from exc
    proba = member_proba(estimator, X, classes)
    codes = member_votes(estimator, X, classes) if predicted else proba.argmax(axis=1)
    return np.column_stack([proba, codes])


def step_outputs(stack, names, present):
    """Each step's output on a fold's test rows, (n, n_classes + 1): its probabilities,
    then the position of the class it predicts (:func:`exit_step_output`, but for the
    last step, :func:`last_step_output`); :func:`split_outputs` parts them. A step
    before the last is asked what it predicts only where it may be a row's last present
    step (``present``, the steps' presence: None where every step sees every row)."""
    last = len(names) - 1
    return {name: partial(last_step_output, classes=stack.classes_) if i == last else
            partial(exit_step_output, classes=stack.classes_, predicted=present is not None)
            for i, name in enumerate(names)}


def split_outputs(outputs):
    """:func:`step_outputs`' arrays (stacked or not) as (probabilities, positions of
    the predicted classes); views of ``outputs``, so writing into it shows in both."""
    return outputs[..., :-1], outputs[..., -1]


def cascade_presence(stack, X, fitted=True):
    """Which steps have their view on each row: (n_steps, n) bool, or None if all do;
    ``fitted``: of the fitted steps (predict), else of the steps (fit)."""
    steps = stack.steps_ if fitted else stack._kept_steps()
    return presence(X, stack._views_, [est for _, est in steps],
                    [f"step {name!r}" for name, _ in steps], OWNER, fitted)


def fit_cascade(stack, estimators, step_params, X, y, sample_weight, folds, thresholds):
    """Fit every step on every row (where its view is present) and out of fold; set the
    thresholds (``thresholds`` None: ``"auto"``), exit rates and prior; with
    ``cascade_fit="deferred"``, retrain later steps on the rows they get. Returns the
    fitted steps."""
    names = [name for name, _ in stack._kept_steps()]
    check_known_classes([(name, est) for name, est in zip(names, estimators) if is_frozen(est)],
                        stack.classes_, OWNER, "step")
    present = cascade_presence(stack, X, fitted=False)
    _refuse_rows_without_steps(stack, present)  # at fit too: a model fitted on X predicts on it
    plan = MemberJobs(OWNER, X.shape[0], n_jobs=stack.n_jobs, verbose=stack.verbose,
                      memory=stack.memory)
    outputs = step_outputs(stack, names, present)
    for i, (name, est) in enumerate(zip(names, estimators)):
        plan.add(name, est, label=f"step {name!r}", view=stack._views_[i],
                 rows=None if present is None else present[i], folds=folds,
                 params=step_params[i], output=outputs[name])
    fits = plan.run(X, y, sample_weight)
    fitted = [fits[name].estimator for name in names]
    for name, est in zip(names[:-1], fitted):
        _refuse_exit_step_without_proba(name, est)
    for name in names:
        _refuse_broken_step(name, split_outputs(fits[name].oof[fits[name].tested])[0],
                            "out of fold")
    # Rows where a step's view is missing keep 0; the presence mask rules them out.
    # Rows a step should have an out-of-fold output for but has none (a forward-chaining
    # cv never tests its first rows) are left out.
    oof = np.stack([fits[name].oof for name in names])
    proba, labels = split_outputs(oof)  # (views: a deferred step's outputs show there)
    tested = np.stack([fits[name].tested for name in names])
    codes = np.searchsorted(stack.classes_, y)
    answerable = (tested.all(axis=0) if present is None
                  else present.any(axis=0) & (tested | ~present).all(axis=0))
    stack.n_oof_samples_ = int(answerable.sum())
    if stack.n_oof_samples_ == 0:
        raise ValueError("SerialStack: no row has an out-of-fold output of every step.")
    if answerable.all():
        answerable = slice(None)
    kept = (proba[:, answerable], codes[answerable],
            None if sample_weight is None else sample_weight[answerable],
            None if present is None else present[:, answerable])
    if thresholds is None:
        thresholds = auto_thresholds(*kept[:2], stack.cascade_tolerance, *kept[2:],
                                     confidence=stack.cascade_confidence,
                                     labels=labels[:, answerable])
    stack.exit_thresholds_ = thresholds
    counts = np.bincount(codes, weights=sample_weight, minlength=len(stack.classes_))
    stack._prior_ = counts / counts.sum()

    def routed():
        """Each row's out-of-fold route through the steps' outputs in ``oof``."""
        route = route_of_proba(proba, thresholds, present)
        if not isinstance(answerable, slice):
            route[~answerable] = -1  # no out-of-fold output of every step: no route
        return route

    route = routed()
    if stack.cascade_fit == "deferred":
        fitted, route = _refit_deferred(stack, estimators, step_params, fitted, oof, route,
                                        routed, present, X, y, sample_weight, folds)
    # The rates of the steps as trained: a deferred step's own out-of-fold outputs.
    # Weights count rows, here as in the thresholds: a row of weight 0 is as absent
    # (unless every routed row has weight 0: the rows are then counted alike).
    routed_rows = route >= 0
    weights = None if sample_weight is None else sample_weight[routed_rows]
    if weights is not None and not weights.sum() > 0:
        weights = None
    counts = np.bincount(route[routed_rows], weights=weights, minlength=len(estimators))
    stack.exit_rates_ = counts / counts.sum()
    return fitted


def _shown_threshold(t):
    """``t`` to 3 decimals; just below 1 as ``1 - gap``, which rows above it can still
    exit by, where 1.0 lets none."""
    return f"1 - {1 - t:.2g}" if 0.9995 <= t < 1 else f"{t:.3f}"


def cascade_decisions(stack):
    """What a cascade's fit decided, one line each: the thresholds, the out-of-fold exit
    rates, and (``cascade_fit="deferred"``) what each step was trained on."""
    names = [name for name, _ in stack.steps_]
    given = "auto" if isinstance(stack.exit_threshold, str) else "given"
    lines = [f"exit thresholds ({given}): " + ", ".join(
                 f"{name} {_shown_threshold(t)}"
                 for name, t in zip(names, stack.exit_thresholds_)),
             "out-of-fold exit rates: " + ", ".join(
                 f"{name} {rate:.1%}" for name, rate in zip(names, stack.exit_rates_))]
    if stack.cascade_fit == "deferred":
        lines.append("trained on: " + ", ".join(
            f"{name} {'its deferred rows' if how == 'deferred' else 'all rows'}"
            for name, how in zip(names, stack.cascade_fit_)))
    return lines


def _refit_deferred(stack, estimators, step_params, fitted, oof, route, routed, present,
                    X, y, sample_weight, folds):
    """Retrain each later step on the rows its predecessors defer; return the fitted
    steps and the out-of-fold route through them.

    A step keeps its all-rows fit when every row it was fitted on is deferred (that fit
    is then the deferred one), when too few rows are deferred, or unless, on the
    deferred rows, its out-of-fold accuracy trained on them alone (cross-fitted on the
    same folds) is at least that of its all-rows out-of-fold predictions with
    confidence: the one-sided lower bound at ``cascade_confidence`` on the paired
    per-row difference is at least 0. A step that takes its deferred fit answers its
    rows by that fit's out-of-fold outputs from then on (in ``oof``, which ``routed``
    routes), so the rows the next step gets, and the exit rates, are the trained ones'.
    (A deferred row that no fold of its rows tests keeps the all-rows fit's output.)
    """
    minimum = max(20, 2 * len(folds))
    codes = np.searchsorted(stack.classes_, y)
    last = last_present_step(present, len(estimators), len(y))
    # Weights count rows, as for the thresholds' candidates: a row of weight 0 is as
    # absent, a weight of 2 two rows, and weights that sum to fewer than the rows are
    # scaled up to them (equal weights then count each row once).
    counted = np.ones(len(y), bool) if sample_weight is None else sample_weight > 0
    per_row = 1.0
    if sample_weight is not None and counted.any():
        per_row = max(1.0, np.count_nonzero(counted) / sample_weight[counted].sum())

    def size(rows):
        return rows.size if sample_weight is None else per_row * sample_weight[rows].sum()

    names = [name for name, _ in stack._kept_steps()]
    outputs = step_outputs(stack, names, present)
    stack.cascade_fit_ = ["all"] * len(estimators)

    def trial(i, rows, sub_folds):
        """Step ``i``'s fits on its deferred rows (one joblib task list), or None when
        it refuses them (few rows, or a nested composite's own folds left with one
        class) or gives NaN or improper probabilities on them, or (a step before the
        last) none there, where its fit on all rows worked: it then keeps that one."""
        plan = MemberJobs(OWNER, X.shape[0], n_jobs=stack.n_jobs, verbose=stack.verbose,
                          memory=stack.memory)
        plan.add(names[i], estimators[i], label=f"step {names[i]!r} on its deferred rows",
                 view=stack._views_[i], rows=rows, folds=sub_folds, params=step_params[i],
                 output=outputs[names[i]])
        try:
            fit = plan.run(X, y, sample_weight)[names[i]]
            if i < len(names) - 1:
                _refuse_exit_step_without_proba(names[i], fit.estimator)
            _refuse_broken_step(names[i], split_outputs(fit.oof[fit.tested])[0],
                                "out of fold")
            return fit
        except ValueError as error:
            warnings.warn(
                f"SerialStack: step {names[i]!r} could not be trained on its deferred rows "
                f"alone ({type(error).__name__}: {error}); it keeps its fit on all rows.",
                UserWarning,
                stacklevel=7)  # trial, _refit_deferred, fit_cascade, fit, atomic_fit,
            return None        # _fit_context, the caller

    for i in range(1, len(estimators)):
        reached = (route >= i) & counted
        rows = np.flatnonzero(reached if present is None else reached & present[i])
        if is_frozen(estimators[i]) or size(rows) < minimum or np.unique(y[rows]).size < 2:
            continue
        # No row exited before it: its fit on every row is the one (rows no fold tested,
        # the first of forward-chaining folds, have no route and count as not exiting).
        routed_here = (route >= 0) & counted
        if present is not None:
            routed_here &= present[i]
        if rows.size == np.count_nonzero(routed_here):
            continue
        # (The jobs leave out the folds without test rows, numbering the others as in
        # cv.)
        sub_folds = folds_within(folds, rows)
        used = [tr for tr, te in sub_folds if te.size]
        if not used or any(np.unique(y[tr]).size < 2 for tr in used):
            continue  # cannot be cross-fitted on the deferred rows alone
        fit = trial(i, rows, sub_folds)
        if fit is None:
            continue
        tested = fit.tested
        weights = None if sample_weight is None else sample_weight[tested]
        # Each row answered as the cascade would if it reached step i and no further
        # (its probabilities' top class; at its last present step, what it predicts).
        forced = last[tested] == i
        alone = _answers(fit.oof[tested], forced) == codes[tested]
        together = _answers(oof[i][tested], forced) == codes[tested]
        diff = alone.astype(float) - together
        if lower_bound(diff, weights, stack.cascade_confidence) >= -1e-12:
            fitted[i] = fit.estimator
            stack.cascade_fit_[i] = "deferred"
            oof[i][tested] = fit.oof[tested]
            route = routed()
    return fitted, route


def _answers(outputs, forced):
    """One step's answers (positions in the classes) from its outputs
    (:func:`step_outputs`) on some rows: what it predicts where ``forced`` (the row's
    last present step), else its probabilities' top class."""
    proba, labels = split_outputs(outputs)
    return answer_codes(proba.argmax(axis=1), labels, forced)


def step_proba(stack, X, step, rows):
    """Step ``step``'s class probabilities on ``rows`` (sorted positions) of ``X``."""
    # Only the last step may answer by predict alone (the fit refuses others).
    output = last_step_proba if step == len(stack.steps_) - 1 else member_proba
    proba = _on_rows(stack, X, step, rows, output)
    _refuse_broken_step(stack.steps_[step][0], proba, "at predict")
    return proba


def _on_rows(stack, X, step, rows, output):
    """``output(step's estimator, its view of rows of X, classes)``; asked about every
    row, the step gets ``X`` itself, as a fusion's members do (not a copy)."""
    X_step = take_view(X, stack._views_[step])
    if len(rows) < X.shape[0]:
        X_step = take_rows(X_step, rows)
    name, est = stack.steps_[step]
    return noted(OWNER, f"step {name!r}, predict", output, est, X_step, stack.classes_)


def _refuse_exit_step_without_proba(name, fitted):
    """Refuse a step before the last whose fit on all rows has no ``predict_proba``
    (the model a search picks may not, where its fold fits' did)."""
    if not hasattr(fitted, "predict_proba"):
        raise ValueError(
            f"{OWNER}: step {name!r} has no predict_proba once fitted "
            f"({type(fitted).__name__}); a step before the last needs it, as rows leave "
            "it by its probabilities.")


def _refuse_broken_step(name, proba, when):
    """Refuse a step's probabilities that hold NaN or infinite values, or that are not
    probabilities: the cascade would route rows on them, and pass them on."""
    refuse_non_finite_step(OWNER, name, proba, when)
    refuse_improper_proba(OWNER, f"step {name!r}", proba, when,
                          "which the cascade would route rows on, and pass on")


def _refuse_rows_without_steps(stack, present):
    """With ``missing="error"``, refuse rows where every step's view is missing."""
    if stack.missing == "error":
        refuse_rows_without_any(present, OWNER, "step", "the training class frequencies")


def predict_cascade(stack, X, labels=False, thresholds=None):
    """The cascade's answer on each row and the step that gives it (-1: none could),
    by :func:`exit_route` at ``thresholds`` (None: the fitted ones); each step runs only
    on the rows that reach it.

    The answer is the answering step's probabilities (the prior where no step could
    answer), or with ``labels``, positions in the classes (:func:`answer_codes`: a row
    that leaves a step by its confidence takes the class it ranks first, one that
    reaches its last present step what that step predicts; the prior's most frequent
    class where no step could answer), for which the last step is not asked for
    probabilities.
    """
    n = X.shape[0]
    n_steps = len(stack.steps_)
    present = cascade_presence(stack, X)
    unanswerable = np.zeros(n, dtype=bool) if present is None else ~present.any(axis=0)
    if unanswerable.any():
        _refuse_rows_without_steps(stack, present)
    answers = {}

    def top_proba(i, rows):
        if labels and i == n_steps - 1:
            answers[i] = (rows, None)  # every row reaching it leaves there
            return np.zeros(rows.size)
        answers[i] = (rows, step_proba(stack, X, i, rows))
        return top_class_proba(answers[i][1])

    thresholds = stack.exit_thresholds_ if thresholds is None else thresholds
    route = exit_route(top_proba, thresholds, present, n)
    if labels:
        return _labels(stack, X, route, answers, present), route
    proba = np.zeros((n, len(stack.classes_)))
    proba[unanswerable] = stack._prior_
    for i, (rows, p) in answers.items():
        leave = route[rows] == i
        if len(rows) == n and leave.all():  # one step answered every row
            return p, route
        proba[rows[leave]] = p[leave]
    return proba, route


def answers_without_exits(stack, X):
    """What the fitted cascade ``stack`` predicts for ``X`` (as given to ``predict``)
    where no row leaves early: each row's last step with its view answers with its
    ``predict`` (the prior's most frequent class where none has it)."""
    X = stack._check_X(X, reset=False)
    no_exit = np.ones_like(stack.exit_thresholds_)
    return stack.classes_[predict_cascade(stack, X, labels=True, thresholds=no_exit)[0]]


def _labels(stack, X, route, answers, present):
    """:func:`predict_cascade`'s labels from the steps' probabilities on the rows that
    reached them (``answers``: step -> (rows, probabilities or None)) and ``route``."""
    last = last_present_step(present, len(stack.steps_), X.shape[0])
    labels = np.full(X.shape[0], np.argmax(stack._prior_))  # where no step could answer
    for i, (rows, p) in answers.items():
        leave = route[rows] == i
        forced = leave & (last[rows] == i)
        if p is not None:
            confident = leave & ~forced
            labels[rows[confident]] = p[confident].argmax(axis=1)
        if forced.any():
            labels[rows[forced]] = _on_rows(stack, X, i, rows[forced], member_votes)
    return labels


def predict_all_steps(stack, X):
    """Every step's probabilities on every row with its view; NaN elsewhere."""
    present = cascade_presence(stack, X)
    proba = np.full((len(stack.steps_), X.shape[0], len(stack.classes_)), np.nan)
    for i in range(len(stack.steps_)):
        rows = np.arange(X.shape[0]) if present is None else np.flatnonzero(present[i])
        if rows.size:
            proba[i, rows] = step_proba(stack, X, i, rows)
    return proba
