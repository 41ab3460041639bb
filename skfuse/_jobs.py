"""Member jobs: the plan for fitting a composite's members, run through joblib once.

A composite adds each member to a :class:`MemberJobs` plan (its estimator, view, the
rows where its view is present, the folds, its fit metadata) and runs the plan once.
The plan builds one flat task list (member x fold), through the member cache when there
is one, labels each task for ``verbose``, and hands back per member, by name, a
:class:`MemberFit`: the fit on all its rows, its out-of-fold outputs and what they cost.
"""

from dataclasses import dataclass
from functools import partial

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from ._available import available_if
from ._base import (
    default_score,
    member_decision,
    member_proba,
    member_votes,
    pairwise_decision,
    vote_counts,
)
from ._cache import MemberCache, UncacheableMember
from ._tasks import (
    fit_task,
    holds_frozen,
    is_frozen,
    noted,
    run_fit_tasks,
    run_in_threads,
)
from ._views import intersect_positions, take_rows
from ._warnings import warnings_once


def _refuse_unfitted(estimator, label, owner):
    """A frozen member is used as it is, never fitted: refuse one whose estimator is not
    fitted now, at fit (as scikit-learn's voting and stacking do), not at predict. Only
    a ``FrozenEstimator``, or an object that says whether it is fitted
    (``__sklearn_is_fitted__``), is asked: a model frozen by a ``__sklearn_clone__``
    that returns itself may hold no fitted attribute (a formula)."""
    if not (isinstance(estimator, FrozenEstimator)
            or hasattr(estimator, "__sklearn_is_fitted__")):
        return
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise NotFittedError(f"{owner}: {label} is frozen (used as it is, never fitted), "
                             f"but its estimator is not fitted: {exc}") from None


@dataclass
class MemberFit:
    """What a member's jobs gave back.

    Attributes
    ----------
    estimator : estimator, StoredMember or None
        Fitted on all the member's rows; the member itself when it is frozen; None
        when planned without a refit. A plan with ``store_members`` may give a
        :class:`skfuse._cache.StoredMember` (see :func:`skfuse._cache.loaded`).
    oof : ndarray or None
        Out-of-fold outputs, one per row (first axis); 0 on the rows no fold tested.
        With ``compact_oof``, one per tested row alone, in row order. None without
        folds.
    tested : ndarray of bool or None
        The rows that hold an out-of-fold output. None without folds.
    predict_seconds : float or None
        Median predict seconds per 1000 rows over the folds. None without folds.
    fit_output : object
        With ``fit_output=True``, the output of the fit on the rows it was fitted on.
    key : str, tuple or None
        The member cache's digest of the fit on all rows (of its pickle: it keys the
        member's outputs), or without a refit (with ``keep_folds``) the fold fits'
        digests together, which key their mean's
        predictions (None without a cache).
    fold_estimators : list or None
        With ``keep_folds=True``, the fit of each fold, in fold order.
    """

    estimator: object = None
    oof: np.ndarray = None
    tested: np.ndarray = None
    predict_seconds: float = None
    fit_output: object = None
    key: str = None
    fold_estimators: list = None


@dataclass
class _Member:
    name: str
    estimator: object
    label: str
    view: object
    params: dict
    jobs: list  # (train, test) pairs: the refit first (test None), then the folds
    frozen: bool
    fit_output: bool
    refit: bool
    keep_folds: bool
    fold_numbers: list  # each fold job's number in cv (from 1), for progress lines
    n_folds: int  # the folds of cv, some of which a member may lack
    output: object  # its output on a fold's test rows; None: the plan's
    compact_oof: bool = False  # oof holds the tested rows alone, in row order

    @property
    def planned(self):
        """The jobs that run: all of them, or the folds alone without a refit."""
        return self.jobs if self.refit else self.jobs[1:]


class MemberJobs:
    """The fit jobs of some members of one composite.

    Parameters
    ----------
    owner : str
        The composite's class name, for errors and progress lines.
    n_samples : int
        Rows of the data the plan runs on.
    n_jobs : int or None
        joblib jobs for the flat task list.
    verbose : int
        With 1 or more, a line per task as its result arrives.
    memory : None, str, path-like or joblib.Memory
        The member cache (see :class:`skfuse._cache.MemberCache`).
    store_members : bool, default=False
        Hand back a fit on all rows that the cache holds in memory as a
        :class:`skfuse._cache.StoredMember`, for a composite that unpickles a member
        only when it needs it.
    """

    def __init__(self, owner, n_samples, *, n_jobs=None, verbose=0, memory=None,
                 store_members=False):
        self.owner = owner
        self.n_samples = n_samples
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.memory = memory
        self.store_members = store_members
        self._members = []

    def add(self, name, estimator, *, label, view=None, rows=None, folds=(), params=None,
            fit_output=False, refit=True, keep_folds=False, output=None,
            compact_oof=False):
        """Plan a member's fit on ``rows`` and its out-of-fold outputs on ``folds``.

        Parameters
        ----------
        name : str
            The member's name in the composite: the key of its :class:`MemberFit`.
        estimator : estimator
            Cloned in each task; a frozen one is never fitted: its output on all of
            ``rows`` stands for its out-of-fold output.
        label : str
            Names the member in errors and progress lines (``"member 'rf'"``).
        view : ndarray of int or None
            The columns it sees.
        rows : ndarray of bool or of int, or None
            The rows it is fitted and tested on (where its view is present); None: all.
            A fold with no test row or no training row among them is left out.
        folds : list of (train, test)
            Cross-fitting splits (``train`` None: all of ``rows``); empty for no
            out-of-fold outputs.
        params : dict or None
            Per-member fit metadata (per-row entries are taken at the fit's rows);
            None gives the plan's ``sample_weight`` when there is one.
        fit_output : bool, default=False
            Also return the refit's output on the rows it was fitted on.
        refit : bool, default=True
            Fit on all of ``rows``; False plans the folds alone (a frozen member is
            always used as it is).
        keep_folds : bool, default=False
            Keep each fold's fit (:attr:`MemberFit.fold_estimators`).
        output : callable or None, default=None
            Its output on a fold's test rows, in place of the one :meth:`run` is given.
        compact_oof : bool, default=False
            Keep :attr:`MemberFit.oof` for the tested rows alone (in row order, the rows
            ``np.flatnonzero(tested)``): for a member tested on few of many rows (a
            distilled student's first copies), whose full ``oof`` would be mostly 0.
        """
        frozen = is_frozen(estimator)
        if frozen:
            _refuse_unfitted(estimator, label, self.owner)
        if frozen and folds:
            # Never fitted, so its output on every row stands for its out-of-fold output.
            folds = [(None, np.arange(self.n_samples))]
        jobs, numbers = _restricted(rows, folds, label, self.owner)
        if folds and not numbers and not frozen:
            raise ValueError(
                f"{self.owner}: {label} has none of its rows (where its view is "
                "present) in a test fold of cv whose training part holds some of them, "
                "so it has no out-of-fold output; use other folds (fewer, where its view "
                "lies within one test fold).")
        self._members.append(_Member(name, estimator, label, view, params, jobs, frozen,
                                     fit_output, refit or frozen, keep_folds and not frozen,
                                     numbers, len(folds), output, compact_oof))

    def run(self, X, y, sample_weight=None, output=None):
        """Run every planned job in one joblib task list.

        Parameters
        ----------
        X, y : data
            What every member is fitted on (each takes its view and rows).
        sample_weight : ndarray or None
            For members without ``params``.
        output : callable or None
            ``output(fitted, X_test)``: a member's output on a fold's test rows (unless
            it was planned with its own).

        Returns
        -------
        fits : dict of str to MemberFit
            In the order the members were added.
        """
        cache = MemberCache(self.memory)
        jobs = [(m.estimator, m.view, train, test, m.params,
                 m.keep_folds and test is not None)
                for m in self._members for train, test in m.planned]
        outputs = [output if m.output is None else m.output
                   for m in self._members for _ in m.planned]
        if cache.enabled:
            if any(m.fit_output for m in self._members):
                raise ValueError("fit_output is not cached; plan without memory.")
            try:
                tasks, local = cache.fit_tasks(jobs, X, y, sample_weight, outputs,
                                               store=self.store_members)
            except UncacheableMember as exc:
                label = next(m.label for m in self._members if m.estimator is exc.estimator)
                what, holds = (("the fit parameters routed to it do", "they hold")
                               if exc.routed else ("it does", "it holds"))
                raise TypeError(
                    f"{self.owner}: memory= cannot cache {label}: {what} not pickle "
                    f"({exc}). Define the functions {holds} at module level (as "
                    "scikit-learn's Pipeline(memory=...) needs too), or pass memory=None."
                ) from exc
        else:
            # A refit with fit_output is tested on its own rows and keeps its fit.
            fitted_out = [m.fit_output and j == 0 and m.refit
                          for m in self._members for j in range(len(m.planned))]
            every_row = np.arange(X.shape[0])
            tasks = [(fit_task, (est, X, y, sample_weight, train,
                                 (every_row if train is None else train) if own else test,
                                 view, None if test is None and not own else out,
                                 params, own or kept))
                     for (est, view, train, test, params, kept), own, out
                     in zip(jobs, fitted_out, outputs)]
            local = None
        labels = [label for m in self._members for label in _labels(m)]
        results = run_fit_tasks(tasks, self.n_jobs, self.verbose, self.owner, labels,
                                local)
        keys = [None] * len(results)
        if cache.enabled:  # a fit's outputs are keyed by the fitted member's digest
            keys = [fitted_digest for *_, fitted_digest in results]
            results = [(fitted, out, seconds) for fitted, out, seconds, _ in results]
        fits, start = {}, 0
        for m in self._members:
            done = results[start:start + len(m.planned)]
            fit = MemberFit()
            # The user's frozen object, in the member or the member itself, may change
            # after this fit: what predicts through it keys no output.
            live = cache.enabled and holds_frozen(m.estimator)
            if m.refit:
                (fitted, fit_out, _), *done = done
                # A frozen member is used as it is, not as the copy a task returns.
                fit.estimator = m.estimator if m.frozen else fitted
                fit.fit_output = fit_out if m.fit_output else None
                fit.key = None if live else keys[start]
            if done:
                fit.oof, fit.tested = _out_of_fold([out for _, out, _ in done], m.jobs[1:],
                                                   X.shape[0], m.label, self.owner,
                                                   compact=m.compact_oof)
                fit.predict_seconds = float(np.median([secs for *_, secs in done]))
                if m.keep_folds:
                    fit.fold_estimators = [fitted for fitted, *_ in done]
                    fold_keys = keys[start:start + len(m.planned)]
                    if not (m.refit or live) and all(key is not None for key in fold_keys):
                        # The fold fits together key their mean's predictions.
                        fit.key = ("fold mean", *fold_keys)
            fits[m.name] = fit
            start += len(m.planned)
        return fits


def _every_fit_has(method):
    """An ``available_if`` check: ``method`` exists when every fold fit has it."""

    def check(fold_mean):
        missing = [type(est).__name__ for est in fold_mean.estimators
                   if not hasattr(est, method)]
        if missing:
            raise AttributeError(f"{method} is not available: the fold fits "
                                 f"({missing[0]}) have no {method}.")
        return True

    return check


def _has(estimator, name):
    """``hasattr``, False also where looking the attribute up raises something else."""
    try:
        return hasattr(estimator, name)
    except Exception:  # noqa: BLE001 - a property's own failure: not an attribute here
        return False


class FoldMean(BaseEstimator):
    """A member bagged over its fold fits: its output is the mean of theirs.

    What a fusion with ``refit=False`` holds for each member: its out-of-fold outputs
    were made by these fits, and its outputs at predict time are made the same way.

    Parameters
    ----------
    estimators : list of fitted estimators
        The fold fits.
    classes : ndarray or None
        The ensemble's classes, for classifiers: ``predict_proba`` averages the fold
        fits' probabilities aligned to them, ``predict`` takes the class most fold fits
        predict (the first of them on ties).
    """

    def __init__(self, estimators, classes=None):
        self.estimators = estimators
        self.classes = classes

    def __sklearn_tags__(self):
        return get_tags(self.estimators[0])

    @property
    def classes_(self):
        return self.classes

    @property
    def member_class_name(self):
        """The class of the fold fits: what errors call the member."""
        return type(self.estimators[0]).__name__

    @property
    def n_features_in_(self):
        """The fold fits' input width (every fold sees the same columns)."""
        return self.estimators[0].n_features_in_

    @property
    def feature_names_in_(self):
        """The fold fits' input column names (every fold sees the same columns)."""
        return self.estimators[0].feature_names_in_

    def __getattr__(self, name):
        # Reached only when the usual lookup fails: a fitted attribute that each fold fit
        # has on its own (coef_, feature_importances_) is not the member's, so say where
        # it is rather than that it does not exist.
        if hasattr(type(self), name):  # a method or property that said why it is not
            return object.__getattribute__(self, name)  # here: say it again
        fits = self.__dict__.get("estimators")
        if (name.endswith("_") and not name.startswith("__") and fits
                and all(_has(fit, name) for fit in fits)):
            raise AttributeError(
                f"{type(self).__name__} has no {name!r}: it predicts with the mean of "
                f"{len(fits)} fits of {self.member_class_name} (its fold fits, with "
                "refit=False, or one per partition), and each has its own, in "
                f".estimators (e.g. .estimators[0].{name}).")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _each(self, output, X):
        """``output(fit, X)`` for every fold fit; a warning they all give alike (about
        feature names: a frame at fit, an array now) is shown once, as one member
        would give it (:func:`~skfuse._warnings.warnings_once`; in the main thread
        only, so not when members predict in threads)."""
        with warnings_once():
            return [output(est, X) for est in self.estimators]

    @available_if(_every_fit_has("predict_proba"))
    def predict_proba(self, X):
        return np.mean(self._each(partial(member_proba, classes=self.classes), X), axis=0)

    @available_if(_every_fit_has("decision_function"))
    def decision_function(self, X):
        """The mean of the fold fits' decision values; with more than two classes, each
        fit's columns aligned to ``classes`` first (0 for a class a fit does not know)."""
        if self.classes is None:
            return np.mean(self._each(lambda est, X: est.decision_function(X), X), axis=0)
        outs = self._each(partial(member_decision, classes=self.classes), X)
        for est, out in zip(self.estimators, outs):
            # A binary fit's 1-D values, or a one-vs-one fit's pairs of fewer classes,
            # do not line up with the others'.
            if len(self.classes) > 2 and (np.ndim(out) == 1 or (
                    pairwise_decision(est) and len(est.classes_) != len(self.classes))):
                raise ValueError(
                    f"The decision values of {type(est).__name__}'s fold fits cannot be "
                    "averaged: one was fitted on only the classes "
                    f"{np.asarray(est.classes_).tolist()} of "
                    f"{np.asarray(self.classes).tolist()}.")
        return np.mean(outs, axis=0)

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifiers) or R² (regressors) of :meth:`predict`."""
        return default_score(self.classes is not None, y, self.predict(X), sample_weight)

    def predict(self, X):
        if self.classes is None:
            return np.mean(self._each(
                lambda est, X: np.asarray(est.predict(X), dtype=np.float64), X), axis=0)
        votes = np.stack(self._each(partial(member_votes, classes=self.classes), X))
        return self.classes[np.argmax(vote_counts(votes, len(self.classes)), axis=1)]


def _restricted(rows, folds, label, owner):
    """A member's (train, test) jobs: a fit on ``rows`` (test None), then ``folds``,
    each restricted to ``rows`` (bool mask, positions or None for all) and kept where
    both its parts hold some; and the number in ``folds`` (from 1) of each fold kept
    (a fold given with no test row keeps its number out of use)."""
    by_view = rows is not None and rows.dtype == bool
    if by_view:
        rows = None if rows.all() else np.flatnonzero(rows)
    if rows is None:
        numbers = [number for number, (_, test) in enumerate(folds, start=1) if len(test)]
        return [(None, None)] + [folds[number - 1] for number in numbers], numbers
    if rows.size == 0:
        raise ValueError(
            f"{owner}: {label} has no row where its view is present among the rows "
            "it is given (every row of it is missing)." if by_view
            else f"{owner}: {label} has no row to be fitted on."
        )
    jobs, numbers = [(rows, None)], []
    for number, (train, test) in enumerate(folds_within(folds, rows), start=1):
        if test.size:  # (none: no row of it to predict here, or none to fit on)
            jobs.append((train, test))
            numbers.append(number)
    return jobs, numbers


def folds_within(folds, rows):
    """``folds`` restricted to ``rows`` (positions; a ``train`` of None, all of them):
    a fold left without a training row there loses its test rows too (a forward-
    chaining cv's first folds, before a view begins), which then get no out-of-fold
    output, as rows no fold tests."""
    kept = [(rows if train is None else intersect_positions(train, rows),
             intersect_positions(test, rows)) for train, test in folds]
    return [(train, test if train.size else test[:0]) for train, test in kept]


def _labels(member):
    """Progress labels of one member's jobs: its fit, then each fold."""
    if member.frozen:  # its refit is the member as it is; a fold job is its output
        return [f"{member.label} (frozen), " + ("used as it is" if test is None
                                                else "output on all rows")
                for _, test in member.jobs]
    if not member.refit and member.n_folds == 1 and member.fold_numbers:
        return [member.label]  # one job: its label says what it is
    folds = [f"{member.label}, fold {j} of {member.n_folds}" for j in member.fold_numbers]
    return ([f"{member.label}, fit"] if member.refit else []) + folds


def _out_of_fold(outputs, folds, n_samples, label, owner, compact=False):
    """Place each fold's output at its test rows: ``(oof, tested)``; 0 elsewhere.

    With ``compact``, ``oof`` has one entry per tested row (in row order) alone.
    """
    first = np.asarray(outputs[0])
    tested = np.zeros(n_samples, dtype=bool)
    for _, test in folds:
        tested[test] = True
    place = np.cumsum(tested) - 1 if compact else None  # a row's place among the tested
    oof = np.zeros((int(tested.sum()) if compact else n_samples,) + first.shape[1:],
                   dtype=first.dtype)
    for (_, test), out in zip(folds, outputs):
        if np.shape(out)[1:] != first.shape[1:]:
            raise ValueError(
                f"{owner}: the output of {label} has a different width on different "
                "folds (a class missing from a training fold?); use fewer folds."
            )
        oof[test if place is None else place[test]] = out
    return oof, tested


def predict_members(members, X, output, *, owner, n_jobs=None, memory=None,
                    still_keyed=None):
    """Each member's ``output`` on its rows of ``X``, in threads for big inputs; an
    error gets a note naming the member (and ``owner``, the composite's class name).

    Parameters
    ----------
    members : list of (name, estimator, view, rows, key)
        A fitted member's name, the member, its columns, the rows to ask it about (None:
        all; empty: none) and its cache key (:attr:`MemberFit.key`; None: not cached).
    X : data
    output : callable
        ``output(fitted, X_rows)``.
    n_jobs : int or None
        Threads, for 10,000 rows or more.
    memory : None, str, path-like or joblib.Memory
        The member cache that fitted the members.
    still_keyed : callable or None
        ``still_keyed()``: whether the members' keys still stand once an output is
        computed (not where the members were handed out meanwhile, and may have been
        changed); the output is written to the cache only then. None: always.

    Returns
    -------
    outputs : list
        One per member, in order; None for a member with no rows.
    """
    cache = MemberCache(memory)
    keys = [key for *_, key in members]
    whole = [m for m, (*_, rows, _) in enumerate(members) if rows is None]
    placed = list(whole)
    tasks = cache.output_tasks([members[m][1] for m in whole], [keys[m] for m in whole],
                               [members[m][2] for m in whole], X, output,
                               still_keyed) if whole else []
    for m, (_, est, view, rows, key) in enumerate(members):
        if rows is None or rows.size == 0:
            continue
        tasks += cache.output_tasks([est], [key], [view], take_rows(X, rows), output,
                                    still_keyed)
        placed.append(m)
    tasks = [(noted, (owner, f"member {members[m][0]!r}, predict", fn, *args))
             for m, (fn, args) in zip(placed, tasks)]
    outputs = [None] * len(members)
    for m, out in zip(placed, run_in_threads(tasks, n_jobs, X.shape[0])):
        outputs[m] = out
    return outputs

