"""Serial fusion: multi-level stacking and confidence cascades."""

import numbers
import time
from functools import partial

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import Bunch, check_random_state, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._base import (
    Composite,
    check_sample_weight,
    check_sample_weight_support,
    job_labels,
    member_proba,
    present_jobs,
    report_fit_time,
    run_fit_tasks,
    seed_estimator,
    view_present,
)
from ._cache import MemberCache
from ._compat import _VisualBlock
from ._fusion import FusionClassifier
from ._views import _is_dataframe, check_views, missing_entries, resolve_view, take_view

_METHODS = ("transform", "predict_proba", "decision_function", "predict")


def step_output(estimator, X, method, classes=None):
    """A non-final step's output as a 2-D float array, the next level's input.

    Probabilities (and multiclass decision values) of a classifier are aligned to the
    stack's ``classes`` by label; predicted labels become class positions.
    """
    if method == "predict_proba" and classes is not None:
        return member_proba(estimator, X, classes)
    out = getattr(estimator, method)(X)
    if method == "transform" and classes is not None and isinstance(estimator, FusionClassifier):
        # Member outputs come per the level's own classes (a fold may miss one).
        positions = np.searchsorted(classes, estimator.classes_)
        if estimator.voting == "hard":
            out = positions[out]
        else:
            n, n_members = out.shape[0], len(estimator.estimators_)
            aligned = np.zeros((n, n_members, len(classes)))
            aligned[:, :, positions] = out.reshape(n, n_members, -1)
            out = aligned.reshape(n, -1)
    if method == "predict" and classes is not None and is_classifier(estimator):
        out = np.searchsorted(classes, np.asarray(out))
    if method == "decision_function" and classes is not None and np.ndim(out) == 2:
        aligned = np.zeros((out.shape[0], len(classes)))
        aligned[:, np.searchsorted(classes, estimator.classes_)] = out
        out = aligned
    out = out.toarray() if sp.issparse(out) else np.asarray(out, dtype=np.float64)
    return out.reshape(out.shape[0], -1)


class SerialStack(Composite):
    """Serial fusion: multi-level stacking, or a cascade with early exit.

    **Stacking** (``exit_threshold=None``): each non-final step is fitted out-of-fold,
    its out-of-fold output is the next step's input, and it is then refitted on all
    rows; the last step is fitted on the previous step's out-of-fold output. Each member
    is fitted ``cv + 1`` times, whatever the number of levels. The stack is a classifier
    or a regressor as its last step is.

    **Cascade** (``exit_threshold`` set; classification): every step sees ``X``. At
    predict time a row leaves at the first step whose top class probability exceeds
    that step's threshold; the last step answers the rows still left. Later steps only
    run on the rows that reach them.

    Parameters
    ----------
    steps : list of (str, estimator)
        The levels in order, as in :class:`~sklearn.pipeline.Pipeline`; the last is the
        final estimator. A level may be any composite, such as a ``FusionClassifier``.
    cv : int, cross-validation generator or iterable, default=5
        Splits for the out-of-fold outputs, fixed once so that every level sees the same
        folds. An int gives ``StratifiedKFold`` for a classifier, ``KFold`` otherwise.
    passthrough : bool or columns, default=False
        Stacking: also feed these raw columns of ``X`` (``True``: all) to every level
        after the first. Columns are given as for a view (names, positions, a slice, a
        mask or a callable). Not used by a cascade.
    views : dict of str to columns, default=None
        The columns of ``X`` a step sees, by step name (names, positions, a slice, a
        mask or a callable such as :func:`~sklearn.compose.make_column_selector`);
        a step without one sees all of ``X``. In a cascade any step may have a view;
        in a stack only the first step sees ``X``, so only it may.

        Missing modalities (cascade): a row whose whole view is missing (every entry
        NaN, or None in object columns) is missing for that step. The step is trained
        only on rows that have its view and is not asked about rows that lack it;
        such a row goes on to the next step, and the last step that has the row's
        view answers it. A view missing on part of a row's entries is refused for a
        step that does not take NaN. In a stack, a first level that is a
        ``FusionClassifier`` with views fuses modalities that may be missing; pass
        ``stack_method="predict_proba"`` for its renormalised probabilities (its
        ``transform`` is NaN for a member that is missing).
    missing : {"error", "prior"}, default="error"
        Cascade: what to predict for a row where no step has its view. ``"error"``
        raises; ``"prior"`` predicts the training class frequencies (weighted by
        ``sample_weight``), with route -1. Such rows are left out of the thresholds
        and exit rates in ``fit``.
    stack_method : {"auto", "transform", "predict_proba", "decision_function", \
            "predict"} or dict, default="auto"
        Stacking: which output of a non-final step the next level sees. ``"auto"``
        takes the first the step has, in that order (a ``FusionClassifier`` level
        passes all its members' probabilities on). A dict maps step names to methods.
    exit_threshold : float, list of float, "auto" or None, default=None
        None: stacking. Otherwise a cascade: one threshold for every non-final step, a
        list with one per non-final step, or ``"auto"``: the lowest thresholds (most
        early exits) at and above which the cascade's out-of-fold accuracy stays within
        ``cascade_tolerance`` of the last step's. A threshold of 1.0 lets no row exit.
    cascade_fit : {"deferred", "all"}, default="deferred"
        ``"deferred"``: each step after the first is trained on the rows that the
        steps before it defer (by their out-of-fold confidence), unless fewer than
        ``max(20, 2 * n_splits)`` rows or a single class are deferred (in any training
        fold), or the step's
        out-of-fold accuracy on those rows is lower when trained on them alone than when
        trained on all rows; then it is trained on all rows. ``"all"``: every step is
        trained on every row.
    cascade_tolerance : float, default=0.005
        For ``exit_threshold="auto"``: the out-of-fold accuracy the cascade may lose
        against its last step.
    n_jobs : int, default=None
        Jobs for the fits of a level (its folds and refit: one flat joblib task list).
    verbose : int, default=0
        With 1 or more, ``fit`` prints a line for each step fit and each fold, in
        task order as the results arrive, with the seconds it took, then the whole
        fit's time.
    memory : str, path-like, joblib.Memory or None, default=None
        Caches each step fit and out-of-fold output (see ``FusionClassifier``).
    random_state : int, RandomState instance or None, default=None
        Seeds the steps' unset ``random_state`` parameters and a shuffling ``cv``.

    Attributes
    ----------
    steps_ : list of (str, estimator)
        The fitted steps.
    named_steps_ : :class:`~sklearn.utils.Bunch`
        The fitted steps by name.
    classes_ : ndarray of shape (n_classes,)
        The class labels (classifier stacks).
    exit_thresholds_ : ndarray of shape (n_steps - 1,)
        The thresholds used (cascade only).
    exit_rates_ : ndarray of shape (n_steps,)
        Out-of-fold share of the rows that each step answers (cascade only), among
        the rows where some step has its view.
    cascade_fit_ : list of str
        For ``cascade_fit="deferred"``: how each step was trained, ``"deferred"`` or
        ``"all"`` (cascade only).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Names of the features seen during fit, when ``X`` has string column names.

    See Also
    --------
    FusionClassifier : Parallel fusion, usable as a level.
    sklearn.ensemble.StackingClassifier : One level of stacking.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skfuse import FusionClassifier, SerialStack
    >>> X, y = load_iris(return_X_y=True)
    >>> level = FusionClassifier([("nb", GaussianNB()),
    ...                           ("tree", DecisionTreeClassifier(random_state=0))])
    >>> stack = SerialStack([("fusion", level), ("final", LogisticRegression())], cv=3)
    >>> stack.fit(X, y).predict(X[:2])
    array([0, 0])
    >>> cascade = SerialStack([("cheap", GaussianNB()), ("costly", LogisticRegression())],
    ...                       exit_threshold=0.99, cv=3).fit(X, y)
    >>> cascade.predict_route(X[:3])
    array([0, 0, 0])
    """

    _members = "steps"

    def __init__(
        self,
        steps,
        *,
        cv=5,
        passthrough=False,
        views=None,
        missing="error",
        stack_method="auto",
        exit_threshold=None,
        cascade_fit="deferred",
        cascade_tolerance=0.005,
        n_jobs=None,
        verbose=0,
        memory=None,
        random_state=None,
    ):
        self.steps = steps
        self.cv = cv
        self.passthrough = passthrough
        self.views = views
        self.missing = missing
        self.stack_method = stack_method
        self.exit_threshold = exit_threshold
        self.cascade_fit = cascade_fit
        self.cascade_tolerance = cascade_tolerance
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.memory = memory
        self.random_state = random_state

    def _sk_visual_block_(self):
        """Steps one after another in the HTML representation, as a Pipeline's."""
        estimators = [est for _, est in self.steps]
        names = [f"{name}: {type(est).__name__}" for name, est in self.steps]
        return _VisualBlock("serial", estimators, names=names,
                            name_details=[str(est) for est in estimators], dash_wrapped=False)

    @property
    def named_steps(self):
        """Dict-like access to the (unfitted) steps by name."""
        return Bunch(**dict(self.steps))

    @property
    def _final(self):
        return self.steps[-1][1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            final = get_tags(self._final)
            steps = [get_tags(est) for _, est in self.steps]
        except (TypeError, ValueError, AttributeError, IndexError):
            return tags  # invalid steps: fit reports them
        tags.estimator_type = final.estimator_type
        tags.classifier_tags = final.classifier_tags
        tags.regressor_tags = final.regressor_tags
        tags.target_tags.required = True
        # A stack's later levels see the outputs of the one before, not X, unless
        # raw columns are passed through to them.
        sees_x = steps if self.exit_threshold is not None or self.passthrough else steps[:1]
        tags.input_tags.allow_nan = all(t.input_tags.allow_nan for t in sees_x)
        tags.input_tags.sparse = all(t.input_tags.sparse for t in steps)
        return tags

    def _is_cascade(self):
        """Cascade or stack: as fitted once fitted, else as the parameters say."""
        if hasattr(self, "steps_"):
            return hasattr(self, "exit_thresholds_")
        return self.exit_threshold is not None

    # -- validation ----------------------------------------------------------------

    def _check_steps(self):
        steps = self.steps
        if not isinstance(steps, (list, tuple)) or not steps or not all(
            isinstance(s, tuple) and len(s) == 2 and isinstance(s[0], str) for s in steps
        ):
            raise ValueError(
                "SerialStack: steps must be a non-empty list of (name, estimator) tuples; "
                f"got {steps!r}."
            )
        self._validate_names([name for name, _ in steps])
        for name, est in steps:
            if not hasattr(est, "fit"):
                raise TypeError(f"SerialStack: step {name!r} is not an estimator: {est!r}.")
        if self.missing not in ("error", "prior"):
            raise ValueError(f"missing must be 'error' or 'prior'; got {self.missing!r}.")
        if self.cascade_fit not in ("deferred", "all"):
            raise ValueError(
                f"cascade_fit must be 'deferred' or 'all'; got {self.cascade_fit!r}."
            )
        if isinstance(self.stack_method, dict):
            unknown = sorted(set(self.stack_method) - {name for name, _ in steps[:-1]})
            if unknown:
                raise ValueError(
                    f"SerialStack: stack_method names {unknown!r}, which are not non-final "
                    "steps."
                )
        if self.exit_threshold is None:
            return
        if not is_classifier(self._final) or len(steps) < 2:
            raise ValueError(
                "SerialStack: a cascade (exit_threshold set) needs at least two steps "
                "and a classifier as the last step."
            )
        for name, est in steps:
            if not hasattr(est, "predict_proba"):
                raise ValueError(
                    f"SerialStack: cascade step {name!r} has no predict_proba, which the "
                    "exit rule needs."
                )

    def _thresholds_given(self, n):
        t = self.exit_threshold
        if isinstance(t, str):
            if t != "auto":
                raise ValueError(
                    f"SerialStack: exit_threshold must be a number, a list or 'auto'; got "
                    f"{t!r}."
                )
            return None
        values = np.full(n, t, dtype=float) if isinstance(t, numbers.Real) else (
            np.asarray(t, dtype=float)
        )
        if values.shape != (n,) or not np.all((values >= 0) & (values <= 1)):
            raise ValueError(
                f"SerialStack: exit_threshold must be in [0, 1], one for each of the {n} "
                f"non-final steps; got {t!r}."
            )
        return values

    def _methods(self):
        """The output method of each non-final step (stacking)."""
        methods = []
        for name, est in self.steps[:-1]:
            method = self.stack_method
            if isinstance(method, dict):
                method = method.get(name, "auto")
            if method == "auto":
                method = next((m for m in _METHODS if hasattr(est, m)), None)
            if method not in _METHODS or not hasattr(est, method):
                raise ValueError(
                    f"SerialStack: step {name!r} has no usable output method "
                    f"(stack_method={method!r})."
                )
            methods.append(method)
        return methods

    # -- fit -----------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit every level (stacking) or every step of the cascade.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training input.
        y : array-like of shape (n_samples,)
            Target.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to every step's ``fit`` (each must accept it); with metadata routing,
            only to the steps that request it. Weights the cascade's thresholds.
        **fit_params : dict
            With ``sklearn.set_config(enable_metadata_routing=True)`` only: metadata
            for the steps that request them, and ``groups`` for a ``cv`` splitter that
            uses groups (``GroupKFold``). See :meth:`get_metadata_routing`.

        Returns
        -------
        self : SerialStack
        """
        began = time.perf_counter()
        for stale in ("steps_", "classes_", "exit_thresholds_", "exit_rates_", "cascade_fit_",
                      "_methods_", "_passthrough_", "_level_classes_", "_views_", "_prior_"):
            self.__dict__.pop(stale, None)  # from an earlier fit with other settings
        self._check_steps()
        X = self._check_X(X, reset=True)
        y = self._check_y(X, y)
        classifier = is_classifier(self._final)
        if classifier:
            self._set_classes(y)
        else:
            y = np.asarray(y, dtype=np.float64)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        names = [name for name, _ in self.steps]
        groups, routed = self._fit_metadata(sample_weight, fit_params)
        if sample_weight is not None and routed is None:
            check_sample_weight_support(names, [est for _, est in self.steps], "SerialStack")
        step_params = [routed[name] for name in names] if routed else [None] * len(names)
        self._views_ = self._resolve_views(X, names)
        rng = check_random_state(self.random_state)
        seed = None if self.random_state is None else rng
        estimators = [seed_estimator(est, seed) for _, est in self.steps]
        folds = self._folds(X, y, rng, classifier, groups) if len(self.steps) > 1 else []
        cache = MemberCache(self.memory)
        fit = self._fit_cascade if self.exit_threshold is not None else self._fit_stack
        fitted = fit(estimators, step_params, X, y, sample_weight, folds, cache)
        self.steps_ = list(zip(names, fitted))
        self.named_steps_ = Bunch(**dict(self.steps_))
        if self.verbose:
            report_fit_time("SerialStack", began)
        return self

    def _resolve_views(self, X, names):
        views = check_views(self.views, names, "SerialStack")
        if self.exit_threshold is None and set(views) - {names[0]}:
            raise ValueError(
                f"SerialStack: views given for step(s) {sorted(set(views) - {names[0]})!r}; "
                "in a stack only the first step sees X (use passthrough to feed raw "
                "columns to later levels)."
            )
        feature_names = getattr(self, "feature_names_in_", None)
        return [resolve_view(views[name], X, name, feature_names) if name in views else None
                for name in names]

    def _run(self, cache, jobs, X, y, sample_weight, output, labels):
        tasks, _ = cache.fit_tasks(jobs, X, y, sample_weight, output)
        return run_fit_tasks(tasks, self.n_jobs, self.verbose, "SerialStack", labels)

    def _oof(self, chunks, folds, n_samples):
        out = None
        for (_, test), (_, values, _) in zip(folds, chunks):
            if out is None:
                out = np.empty((n_samples,) + values.shape[1:])
            if values.shape[1:] != out.shape[1:]:
                raise ValueError(
                    "SerialStack: a step's output has a different width on different "
                    "folds (a class missing from a training fold?); use fewer folds."
                )
            out[test] = values
        return out

    def _passthrough_columns(self, X):
        if self.passthrough is False or self.passthrough is None:
            return None
        if self.passthrough is True:
            return np.arange(X.shape[1])
        return resolve_view(self.passthrough, X, "passthrough",
                            getattr(self, "feature_names_in_", None))

    def _next_input(self, out, X):
        if self._passthrough_ is None:
            return out
        raw = take_view(X, self._passthrough_)
        if sp.issparse(raw):
            return sp.hstack([sp.csr_matrix(out), raw], format="csr")
        raw = raw.to_numpy() if _is_dataframe(raw) else raw
        return np.hstack([out, np.asarray(raw, dtype=np.float64)])

    def _refuse_nan(self, X):
        """A stack's first step sees X as it is: NaN in its view needs a step that takes
        NaN, or a skfuse composite (whose members sit out the rows without their view)."""
        name, est = (self.steps_ if hasattr(self, "steps_") else self.steps)[0]
        if isinstance(est, Composite) or get_tags(est).input_tags.allow_nan:
            return
        missing = missing_entries(X, self._views_[0])
        if missing is not None and missing.any():
            raise ValueError(
                f"SerialStack: step {name!r} ({type(est).__name__}) does not accept NaN, "
                f"and its view holds NaN on {int(missing.any(axis=1).sum())} row(s). "
                "Impute inside the step (a Pipeline with SimpleImputer), or make it a "
                "FusionClassifier with views to fuse missing modalities."
            )

    def _fit_stack(self, estimators, step_params, X, y, sample_weight, folds, cache):
        self._refuse_nan(X)
        self._methods_ = self._methods()
        self._passthrough_ = self._passthrough_columns(X)
        # Classifier levels are aligned to the labels of y, also under a regressor final.
        levels = [est for _, est in self.steps[:-1]]
        self._level_classes_ = (
            np.unique(y) if any(is_classifier(est) for est in levels) else None
        )
        classes = self._level_classes_
        fitted, Z, view = [], X, self._views_[0]
        names = [name for name, _ in self.steps]
        for name, est, params, method in zip(names, estimators[:-1], step_params,
                                             self._methods_):
            output = partial(step_output, method=method, classes=classes)
            step_jobs = [(None, None)] + folds
            jobs = [(est, view, train, test, params) for train, test in step_jobs]
            results = self._run(cache, jobs, Z, y, sample_weight, output,
                                job_labels(f"step {name!r}", step_jobs))
            fitted.append(results[0][0])
            Z, view = self._next_input(self._oof(results[1:], folds, X.shape[0]), X), None
        final = self._run(cache, [(estimators[-1], view, None, None, step_params[-1])], Z, y,
                          sample_weight, None, [f"step {names[-1]!r} (final), fit"])
        return fitted + [final[0][0]]

    def _fit_cascade(self, estimators, step_params, X, y, sample_weight, folds, cache):
        names = [name for name, _ in self.steps]
        thresholds = self._thresholds_given(len(estimators) - 1)  # checked before fitting
        present = self._presence(X)
        jobs = [
            present_jobs(None if present is None else present[i], folds, f"step {name!r}",
                         "SerialStack")
            for i, name in enumerate(names)
        ]
        output = partial(member_proba, classes=self.classes_)
        results = self._run(
            cache,
            [(est, view, train, test, params)
             for est, view, params, step_jobs in zip(estimators, self._views_, step_params,
                                                     jobs)
             for train, test in step_jobs],
            X, y, sample_weight, output,
            [label for name, step_jobs in zip(names, jobs)
             for label in job_labels(f"step {name!r}", step_jobs)],
        )
        starts = np.cumsum([0] + [len(step_jobs) for step_jobs in jobs])
        fitted = [results[start][0] for start in starts[:-1]]
        # Rows where a step's view is missing keep 0; the presence mask rules them out.
        oof = np.zeros((len(estimators), X.shape[0], len(self.classes_)))
        for i, step_jobs in enumerate(jobs):
            for (_, test), (_, values, _) in zip(step_jobs[1:], results[starts[i] + 1:]):
                oof[i, test] = values
        codes = np.searchsorted(self.classes_, y)
        answerable = slice(None) if present is None else present.any(axis=0)
        kept = (oof[:, answerable], codes[answerable],
                None if sample_weight is None else sample_weight[answerable],
                None if present is None else present[:, answerable])
        if thresholds is None:
            thresholds = auto_thresholds(*kept[:2], self.cascade_tolerance, *kept[2:])
        self.exit_thresholds_ = thresholds
        counts = np.bincount(codes, weights=sample_weight, minlength=len(self.classes_))
        self._prior_ = counts / counts.sum()
        route = cascade_route(step_confidence(oof, present), thresholds, present)
        self.exit_rates_ = np.bincount(route[route >= 0], minlength=len(estimators)) / (
            np.count_nonzero(route >= 0))
        if self.cascade_fit == "deferred":
            fitted = self._refit_deferred(estimators, step_params, fitted, oof, route,
                                          present, X, y, sample_weight, folds, cache)
        return fitted

    def _presence(self, X):
        """Which steps have their view on each row: (n_steps, n) bool, or None if all do."""
        steps = self.steps_ if hasattr(self, "steps_") else self.steps
        present = np.stack([
            view_present(X, view, est, f"step {name!r}", "SerialStack")
            for (name, est), view in zip(steps, self._views_)
        ])
        return None if present.all() else present

    def _refit_deferred(self, estimators, step_params, fitted, oof, route, present, X, y,
                        sample_weight, folds, cache):
        """Retrain each later step on the rows its predecessors defer.

        A step keeps its all-rows fit when too few rows are deferred, or when on the
        deferred rows its out-of-fold accuracy trained on them alone (cross-fitted on the
        same folds) is below that of its all-rows out-of-fold predictions.
        """
        minimum = max(20, 2 * len(folds))
        codes = np.searchsorted(self.classes_, y)
        self.cascade_fit_ = ["all"] * len(estimators)
        jobs, plans, labels = [], [], []
        for i in range(1, len(estimators)):
            reached = route >= i
            rows = np.flatnonzero(reached if present is None else reached & present[i])
            if rows.size < minimum or np.unique(y[rows]).size < 2:
                continue
            sub_folds = [
                (np.intersect1d(train, rows), np.intersect1d(test, rows))
                for train, test in folds
            ]
            sub_folds = [(tr, te) for tr, te in sub_folds if te.size and tr.size]
            if not sub_folds or any(np.unique(y[tr]).size < 2 for tr, _ in sub_folds):
                continue  # cannot be cross-fitted on the deferred rows alone
            view, params = self._views_[i], step_params[i]
            jobs += [(estimators[i], view, train, test, params)
                     for train, test in [(rows, None)] + sub_folds]
            labels += job_labels(f"step {self.steps[i][0]!r} on its deferred rows",
                                 [(rows, None)] + sub_folds)
            plans.append((i, rows, sub_folds))
        if not jobs:
            return fitted
        output = partial(member_proba, classes=self.classes_)
        results = iter(self._run(cache, jobs, X, y, sample_weight, output, labels))
        for i, rows, sub_folds in plans:
            refit = next(results)[0]
            tested = np.concatenate([te for _, te in sub_folds])
            deferred_oof = self._oof([next(results) for _ in sub_folds], sub_folds, len(y))
            weights = None if sample_weight is None else sample_weight[tested]
            alone = np.average(deferred_oof[tested].argmax(axis=1) == codes[tested],
                               weights=weights)
            together = np.average(oof[i][tested].argmax(axis=1) == codes[tested],
                                  weights=weights)
            if alone >= together:
                fitted[i] = refit
                self.cascade_fit_[i] = "deferred"
        return fitted

    # -- predict -------------------------------------------------------------------

    def _final_input(self, X):
        self._refuse_nan(X)
        Z = take_view(X, self._views_[0])
        for (_, est), method in zip(self.steps_[:-1], self._methods_):
            out = step_output(est, Z, method, self._level_classes_)
            Z = self._next_input(out, X)
        return Z

    def _cascade(self, X):
        """Fused probabilities and the step that answered each row (-1: none could)."""
        n = X.shape[0]
        present = self._presence(X)
        last = last_present_step(present, len(self.steps_), n)
        proba = np.zeros((n, len(self.classes_)))
        route = np.full(n, -1)
        unanswerable = np.flatnonzero(last < 0)
        if unanswerable.size:
            if self.missing == "error":
                raise ValueError(
                    f"SerialStack: {unanswerable.size} row(s) of X have no step present "
                    "(every step's view is missing there); pass missing='prior' to "
                    "predict the training class frequencies there."
                )
            proba[unanswerable] = self._prior_
        remaining = np.flatnonzero(last >= 0)
        for i, (_, est) in enumerate(self.steps_):
            here = remaining if present is None else remaining[present[i, remaining]]
            if here.size == 0:
                continue
            p = member_proba(est, take_rows(take_view(X, self._views_[i]), here),
                             self.classes_)
            leave = last[here] == i
            if i < len(self.steps_) - 1:
                leave |= p.max(axis=1) > self.exit_thresholds_[i]
            proba[here[leave]] = p[leave]
            route[here[leave]] = i
            remaining = remaining[route[remaining] < 0]
        return proba, route

    def predict(self, X):
        """Predict with the last level (stacking) or the cascade.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        if self._is_cascade():
            return self.classes_[np.argmax(self._cascade(X)[0], axis=1)]
        return self.steps_[-1][1].predict(self._final_input(X))

    def _has_proba(self):
        return self._is_cascade() or hasattr(self._final, "predict_proba")

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities of the last level, or of the step that answered each row.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        if self._is_cascade():
            return self._cascade(X)[0]
        return self.steps_[-1][1].predict_proba(self._final_input(X))

    @available_if(_is_cascade)
    def predict_route(self, X):
        """Index of the cascade step that answers each row.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        route : ndarray of int of shape (n_samples,)
            -1 for a row where no step has its view (with ``missing="prior"``).
        """
        check_is_fitted(self)
        return self._cascade(self._check_X(X, reset=False))[1]

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifier stack) or R² (regressor stack) on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        metric = accuracy_score if is_classifier(self) else r2_score
        return metric(y, self.predict(X), sample_weight=sample_weight)


def take_rows(X, rows):
    return X.iloc[rows] if _is_dataframe(X) else X[rows]


def last_present_step(present, n_steps, n_samples):
    """Each row's last step with its view present (-1 for none); ``present`` may be None."""
    if present is None:
        return np.full(n_samples, n_steps - 1)
    return np.where(present.any(axis=0), n_steps - 1 - np.argmax(present[::-1], axis=0), -1)


def step_confidence(proba, present=None):
    """Each step's top probability per row, shape (n_steps, n); -inf where it is missing."""
    confidence = proba.max(axis=2)
    if present is not None:
        confidence[~present] = -np.inf
    return confidence


def cascade_route(confidence, thresholds, present=None):
    """The step that answers each row, given each step's top probability per row.

    ``confidence`` has shape (n_steps, n_samples), -inf where a step's view is missing
    (``present`` False). A row leaves at the first step whose confidence exceeds its
    threshold, else at its last present step (the last step when every view is
    there); -1 marks a row with no step present.
    """
    n_steps, n_samples = confidence.shape
    route = last_present_step(present, n_steps, n_samples)
    for i in range(n_steps - 2, -1, -1):
        route[(confidence[i] > thresholds[i]) & (i < route)] = i
    return route


def auto_thresholds(proba, codes, tolerance, sample_weight=None, present=None):
    """The lowest thresholds whose cascade stays within ``tolerance`` of the last step.

    ``proba`` holds each step's out-of-fold probabilities, shape (n_steps, n, n_classes),
    and ``present`` (n_steps, n) which steps have each row's view (None: all); every row
    must have at least one. Steps are settled in order. Each gets the lowest candidate
    threshold (0 or a quantile of its confidences) such that at it, and at every
    candidate above it, the cascade's accuracy (later steps not exiting) is at least
    that of no early exit (each row answered by its last present step) minus
    ``tolerance``. Requiring every higher threshold to pass too keeps a lucky dip in
    the out-of-fold accuracy from setting the threshold. Accuracies are weighted by
    ``sample_weight``.
    """
    confidence = step_confidence(proba, present)
    correct = proba.argmax(axis=2) == codes[None, :]
    n_steps = proba.shape[0]
    rows = np.arange(proba.shape[1])
    thresholds = np.ones(n_steps - 1)

    def accuracy():
        answered = correct[cascade_route(confidence, thresholds, present), rows]
        return np.average(answered, weights=sample_weight)

    floor = accuracy() - tolerance - 1e-12
    for i in range(n_steps - 1):
        # 0 lets every row exit; the quantiles step through the confidences.
        seen = confidence[i][np.isfinite(confidence[i])]
        candidates = np.unique(np.r_[0.0, np.quantile(seen, np.linspace(0, 1, 101))])
        chosen = 1.0
        for t in candidates[::-1]:
            thresholds[i] = t
            if accuracy() < floor:
                break
            chosen = t
        thresholds[i] = chosen
    return thresholds
