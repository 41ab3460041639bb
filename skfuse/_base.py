"""Machinery shared by every composite: members, seeds, sample weights and fit tasks."""

import concurrent.futures
import copy
import time

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, clone, is_classifier, is_regressor
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    check_consistent_length,
    column_or_1d,
    has_fit_parameter,
    validate_data,
)

from ._compat import _BaseComposition, _VisualBlock
from ._views import _is_dataframe, missing_entries, take_view


class Composite(_BaseComposition):
    """Nested parameters, input checks and out-of-fold splits shared by every composite.

    ``_members`` names the parameter that holds the ``(name, estimator)`` pairs.
    """

    _members = None

    def get_params(self, deep=True):
        """Get parameters, including ``<name>__<param>`` ones of each member when ``deep``.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of each member (or step).

        Returns
        -------
        params : dict
        """
        return self._get_params(self._members, deep=deep)

    def set_params(self, **params):
        """Set parameters, including members by name and ``<name>__<param>``.

        Parameters
        ----------
        **params : dict
            Parameter names mapped to their values; a member's name replaces it.

        Returns
        -------
        self : estimator
        """
        self._set_params(self._members, **params)
        return self

    def _sk_visual_block_(self):
        """Members side by side in the HTML representation (a stack overrides it)."""
        names, estimators = zip(*getattr(self, self._members))
        return _VisualBlock("parallel", list(estimators), names=list(names))

    # -- metadata routing -------------------------------------------------------------

    def _routed_members(self):
        """The ``(name, estimator)`` pairs that ``fit`` routes metadata to."""
        return [(name, est) for name, est in getattr(self, self._members)
                if not is_drop(est)]

    def get_metadata_routing(self):
        """How ``fit`` routes metadata: to each member's ``fit`` and the splitter's ``split``.

        With ``sklearn.set_config(enable_metadata_routing=True)``, a member gets
        ``sample_weight`` (or any other metadata) only if it requests it
        (``member.set_fit_request(sample_weight=True)``), and ``groups`` reaches the
        ``cv`` splitter (a ``GroupKFold`` requests it), so out-of-fold outputs never
        split a group.

        Returns
        -------
        routing : :class:`~sklearn.utils.metadata_routing.MetadataRouter`
        """
        router = MetadataRouter(owner=self).add_self_request(self)
        for name, est in self._routed_members():
            router.add(**{name: est},
                       method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        cv = getattr(self, "cv", None)
        if hasattr(cv, "split"):
            router.add(splitter=cv,
                       method_mapping=MethodMapping().add(caller="fit", callee="split"))
        return router

    def _fit_metadata(self, sample_weight, fit_params):
        """Split ``fit``'s metadata: ``(groups, {member name: fit params})``.

        Without metadata routing only ``sample_weight`` is accepted, and every member
        gets it (the second item is then None); other metadata are refused.
        """
        owner = type(self).__name__
        if not get_config().get("enable_metadata_routing", False):
            if fit_params:
                raise TypeError(
                    f"{owner}.fit got unexpected argument(s) {sorted(fit_params)}. Pass "
                    "metadata such as groups with "
                    "sklearn.set_config(enable_metadata_routing=True)."
                )
            return None, None
        if sample_weight is not None:
            fit_params = {"sample_weight": sample_weight, **fit_params}
        names = [name for name, _ in self._routed_members()]
        if not fit_params:
            return None, {name: {} for name in names}
        routed = process_routing(self, "fit", **fit_params)
        has_splitter = hasattr(getattr(self, "cv", None), "split")
        groups = routed["splitter"].split.get("groups") if has_splitter else None
        return groups, {name: dict(routed[name].fit) for name in names}

    def _check_X(self, X, reset):
        """Validate ``X``, refusing infinite values (the error names their columns).

        NaN passes: the members that see ``X`` judge it. A row whose whole view is
        NaN is a missing modality for that member, and a view missing on part of a row
        is refused for a member that does not take NaN (``view_present``).
        """
        if _is_dataframe(X):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError(f"{type(self).__name__}: X has 0 samples.")
        else:
            X = validate_data(self, X, reset=reset, accept_sparse=["csr", "csc"],
                              dtype=None, ensure_all_finite=False)
        refuse_infinite(X, type(self).__name__, getattr(self, "feature_names_in_", None))
        return X

    def _check_y(self, X, y):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        return y

    def _set_classes(self, y):
        """Check classification targets and set ``classes_``; at least two are needed."""
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; y has only "
                f"one class, {self.classes_[0]!r}."
            )

    def _folds(self, X, y, rng, classifier, groups=None):
        """The ``cv`` splits, fixed once (a shuffling splitter is seeded from ``rng``)."""
        cv = check_cv(self.cv, y, classifier=classifier)
        if getattr(cv, "shuffle", False) and getattr(cv, "random_state", 0) is None:
            cv = copy.copy(cv)
            cv.random_state = int(rng.randint(np.iinfo(np.int32).max))
        folds = list(cv.split(X, y, groups))
        if not folds:
            raise ValueError(
                f"{type(self).__name__}: cv gave no splits. A generator of splits can be "
                "used only once; pass a list of (train, test) pairs or a splitter."
            )
        for train, test in folds:
            if np.intersect1d(train, test).size:
                raise ValueError(
                    f"{type(self).__name__}: a cv split puts rows in both its train and "
                    "its test part, which would leak their labels into the out-of-fold "
                    "predictions."
                )
        covered = np.sort(np.concatenate([test for _, test in folds]))
        if not np.array_equal(covered, np.arange(X.shape[0])):
            raise ValueError(
                f"{type(self).__name__}: out-of-fold predictions are needed for "
                "every row, so cv must split the rows into disjoint test folds (as KFold "
                f"does); {cv!r} does not."
            )
        return folds


def refuse_infinite(X, owner, feature_names=None):
    """Raise a ``ValueError`` naming the columns of ``X`` that hold an infinite value."""
    if _is_dataframe(X):
        numeric = X.select_dtypes("number")
        names, values = numeric.columns, numeric.to_numpy(dtype=np.float64)
    elif hasattr(X, "tocoo"):
        names, values = feature_names, None
        coo = X.tocoo()
        bad = np.isinf(coo.data) if coo.dtype.kind in "fc" else np.zeros(0, bool)
        columns, rows = np.unique(coo.col[bad]), np.unique(coo.row[bad]).size
    else:
        names, values = feature_names, np.asarray(X)
    if values is not None:
        if values.dtype.kind not in "fc" or values.size == 0:
            return
        bad = np.isinf(values)
        columns, rows = np.flatnonzero(bad.any(axis=0)), int(bad.any(axis=1).sum())
    if columns.size == 0:
        return
    shown = [names[c] if names is not None else int(c) for c in columns[:10]]
    more = f" and {columns.size - 10} more" if columns.size > 10 else ""
    raise ValueError(
        f"{owner}: X holds infinite values in column(s) {shown}{more}, on {rows} row(s). "
        "Replace them; NaN marks a missing value."
    )


def check_members(estimators, kind, owner):
    """Validate ``estimators=[(name, est), ...]`` and return the kept ``(names, members)``.

    ``"drop"`` members are left out. Each kept member must be a ``kind``
    ("classifier" or "regressor") estimator; errors name the member.
    """
    if not isinstance(estimators, (list, tuple)) or len(estimators) == 0:
        raise ValueError(
            f"{owner}: estimators must be a non-empty list of (name, estimator) tuples; "
            f"got {estimators!r}."
        )
    for item in estimators:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise ValueError(
                f"{owner}: each entry of estimators must be a (name, estimator) tuple "
                f"with a string name; got {item!r}."
            )
    names, members = [], []
    is_kind = is_classifier if kind == "classifier" else is_regressor
    for name, est in estimators:
        if is_drop(est):
            continue
        if not hasattr(est, "fit") or not is_kind(est):
            raise ValueError(
                f"{owner}: member {name!r} should be a {kind}; got {est!r}."
            )
        names.append(name)
        members.append(est)
    if not members:
        raise ValueError(f"{owner}: all members are dropped; at least one is required.")
    return names, members


def check_sample_weight(sample_weight, n_samples):
    """Return ``sample_weight`` as a finite, non-negative float array of length n_samples."""
    if sample_weight is None:
        return None
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    if sample_weight.ndim == 0:
        sample_weight = np.full(n_samples, float(sample_weight))
    if sample_weight.ndim != 1 or sample_weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has shape {sample_weight.shape}; expected ({n_samples},)."
        )
    if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
        raise ValueError("sample_weight must be finite and non-negative.")
    if sample_weight.sum() <= 0:
        raise ValueError("sample_weight must not sum to zero.")
    return sample_weight


def is_frozen(estimator):
    """Whether ``estimator`` is prefit and used as it is.

    That is :class:`sklearn.frozen.FrozenEstimator`, or any estimator whose
    ``__sklearn_clone__`` returns the estimator itself: cloning keeps it fitted, and
    skfuse never fits it.
    """
    if getattr(type(estimator), "__sklearn_clone__", None) is BaseEstimator.__sklearn_clone__:
        return False  # scikit-learn's own clone builds a new estimator: skip making one
    return clone(estimator) is estimator


def view_present(X, view, estimator, label, owner):
    """Rows of ``X`` where the ``view`` of ``estimator`` is present (not wholly missing).

    A view missing on only part of a row's entries is refused when ``estimator`` does not
    take NaN; ``label`` names it (``"member 'a'"``) in the error.
    """
    missing = missing_entries(X, view)
    if missing is None:
        return np.ones(X.shape[0], dtype=bool)
    present = ~missing.all(axis=1)
    partial = int((present & missing.any(axis=1)).sum())
    if partial and not get_tags(estimator).input_tags.allow_nan:
        raise ValueError(
            f"{owner}: {label} ({type(estimator).__name__}) does not accept NaN, and its "
            f"view is partly missing (NaN) on {partial} row(s). A row is a missing "
            "modality only when the whole view is missing; impute inside the estimator "
            "(a Pipeline with SimpleImputer)."
        )
    return present


def present_jobs(present, splits, label, owner):
    """The (train, test) jobs of one member: a refit on all rows, then ``splits``.

    All are restricted to the rows where the member's view is present (``present``
    None: every row); a split with no such test row is left out. ``label`` names the
    member (``"member 'a'"``) in errors.
    """
    rows = None if present is None or present.all() else np.flatnonzero(present)
    if rows is None:
        return [(None, None)] + list(splits)
    if rows.size == 0:
        raise ValueError(
            f"{owner}: {label} has no row where its view is present (every row of it "
            "is missing)."
        )
    jobs = [(rows, None)]
    for train, test in splits:
        train = rows if train is None else np.intersect1d(train, rows)
        test = np.intersect1d(test, rows)
        if test.size == 0:
            continue  # no out-of-fold row of this member in this fold
        if train.size == 0:
            raise ValueError(
                f"{owner}: {label} has its view only in one test fold, so it cannot be "
                "fitted out of fold; use fewer folds."
            )
        jobs.append((train, test))
    return jobs


def check_sample_weight_support(names, members, owner):
    """Raise if a member's ``fit`` does not take ``sample_weight`` (frozen ones are not fit)."""
    for name, est in zip(names, members):
        if not is_frozen(est) and not has_fit_parameter(est, "sample_weight"):
            raise TypeError(
                f"{owner}: member {name!r} ({type(est).__name__}) does not accept "
                "sample_weight in fit."
            )


def seed_estimator(estimator, random_state):
    """Clone ``estimator`` and give every unset ``random_state`` in it an int seed.

    Seeds the user set explicitly are kept. With ``random_state=None`` the clone is
    returned untouched, and a frozen estimator is returned as it is.
    """
    estimator = clone(estimator)
    if random_state is None or is_frozen(estimator):
        return estimator
    rng = check_random_state(random_state)
    seeds = {
        key: int(rng.randint(np.iinfo(np.int32).max))
        for key, value in sorted(estimator.get_params(deep=True).items())
        if (key == "random_state" or key.endswith("__random_state")) and value is None
    }
    return estimator.set_params(**seeds) if seeds else estimator


PARALLEL_PREDICT_ROWS = 10_000  # below this, predict runs its members one after another
_FIT_ATTEMPTS = 3


def run_fit_tasks(calls, n_jobs, verbose, owner, labels=None):
    """Run a fit's flat list of ``(function, args)`` calls as joblib tasks; once more if
    a cluster lost a worker.

    Under Dask, the data joblib scatters lives on some workers; a worker that dies takes
    it along, and the scheduler then cancels the tasks that need it. The tasks are pure
    (seeded clones), so running the list again on the workers left gives the same fit.

    With ``verbose`` and ``labels`` (one per call, such as ``"member 'rf', fold 2 of
    5"``), a line reports each task, in task order, as its result arrives, with the
    seconds it ran. The arguments stay top-level task arguments either way, so that
    joblib's Dask backend scatters the data once.
    """
    report = bool(verbose) and labels is not None
    if report and len(labels) != len(calls):
        raise ValueError(f"{len(labels)} progress labels for {len(calls)} tasks.")
    tasks = [delayed(_timed)(function, *args) if report else delayed(function)(*args)
             for function, args in calls]
    for attempt in range(1, _FIT_ATTEMPTS + 1):
        try:
            if not report:
                return Parallel(n_jobs=n_jobs)(tasks)
            return _reported(Parallel(n_jobs=n_jobs, return_as="generator")(tasks),
                             labels, owner)
        except Exception as exc:
            if not _lost_worker(exc):
                raise
            if attempt == _FIT_ATTEMPTS:
                raise RuntimeError(
                    f"{owner}: the cluster lost a worker (or the data scattered to it) "
                    f"during each of {_FIT_ATTEMPTS} attempts at the fit; check the "
                    "workers' memory limits and logs."
                ) from exc
            if report:
                print(f"[{owner}] a worker was lost; fitting again (attempt "
                      f"{attempt + 1} of {_FIT_ATTEMPTS})", flush=True)


def _timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def _reported(timed_results, labels, owner):
    results = []
    for done, (result, seconds) in enumerate(timed_results, start=1):
        results.append(result)
        print(f"[{owner}] ({done} of {len(labels)}) {labels[done - 1]}: {seconds:.2f} s",
              flush=True)
    return results


def report_fit_time(owner, began):
    """The last line of a verbose fit: its wall time since ``began``."""
    print(f"[{owner}] fitted in {time.perf_counter() - began:.2f} s", flush=True)


def job_labels(label, jobs, frozen=False):
    """Progress labels of one member's jobs (see :func:`present_jobs`): its fit, then
    each fold; ``label`` names it (``"member 'rf'"``)."""
    if frozen:  # its refit is the estimator as it is; a fold job is its output on all rows
        return [f"{label} (frozen), " + ("used as it is" if test is None
                                         else "output on all rows") for _, test in jobs]
    n_folds = len(jobs) - 1
    return [f"{label}, " + ("fit" if test is None else f"fold {j} of {n_folds}")
            for j, (_, test) in enumerate(jobs)]


def _lost_worker(exc):
    """Whether ``exc`` is how Dask reports tasks lost with a worker."""
    return isinstance(exc, concurrent.futures.CancelledError) or (
        type(exc).__name__ == "KilledWorker"
        and type(exc).__module__.startswith("distributed")
    )


def run_in_threads(calls, n_jobs, n_rows):
    """Run ``calls`` (function, args) in threads when ``n_jobs`` asks and the input is big.

    Threads share the fitted members (nothing is copied, whatever joblib backend is
    active); below ``PARALLEL_PREDICT_ROWS`` rows starting them costs more than it saves.
    """
    if n_jobs in (None, 1) or n_rows < PARALLEL_PREDICT_ROWS or len(calls) < 2:
        return [fn(*args) for fn, args in calls]
    return Parallel(n_jobs=n_jobs, require="sharedmem")(
        delayed(fn)(*args) for fn, args in calls)


def fit_task(estimator, X, y, sample_weight, train, test, view, output, params=None):
    """Fit a clone of ``estimator`` on rows ``train`` (None: all) of its view of ``X``.

    The member gets ``params`` (its routed metadata) when given, else ``sample_weight``
    when not None; per-row metadata are taken at ``train``. A frozen estimator is not
    fitted. With ``test`` None the fitted clone is returned. Otherwise
    ``output(fitted, X_test)`` is returned with the predict seconds per 1000 rows: the
    member's out-of-fold output for that fold.
    """
    estimator = clone(estimator)
    X = take_view(X, view)
    if not is_frozen(estimator):
        X_train = X if train is None else _take_rows(X, train)
        y_train = y if train is None else y[train]
        if params is None:
            params = {} if sample_weight is None else {"sample_weight": sample_weight}
        estimator.fit(X_train, y_train, **rows_of_params(params, train, len(y)))
    if test is None:
        return estimator, None, None
    X_test = _take_rows(X, test)
    start = time.perf_counter()
    out = output(estimator, X_test)
    seconds = time.perf_counter() - start
    return None, out, 1000.0 * seconds / max(len(test), 1)


def rows_of_params(params, rows, n_samples):
    """``params`` with every per-row entry (of length ``n_samples``) taken at ``rows``."""
    if rows is None:
        return params
    return {key: _take_rows(np.asarray(value) if isinstance(value, list) else value, rows)
            if hasattr(value, "__len__") and not isinstance(value, (str, dict))
            and len(value) == n_samples else value
            for key, value in params.items()}


def _take_rows(X, rows):
    if hasattr(X, "iloc"):
        return X.iloc[rows]
    return X[rows]


# -- member outputs, aligned to the composite's classes --------------------------


def is_drop(est):
    """Whether a member is the ``"drop"`` sentinel."""
    return isinstance(est, str) and est == "drop"


def _class_positions(member, labels, classes):
    positions = np.searchsorted(classes, labels)
    positions = np.clip(positions, 0, len(classes) - 1)
    unknown = classes[positions] != labels
    if np.any(unknown):
        raise ValueError(
            f"Member {member!r} outputs class(es) {np.unique(labels[unknown]).tolist()!r} "
            f"that are not among the ensemble's classes {classes.tolist()!r}."
        )
    return positions


def member_proba(estimator, X, classes):
    """A member's ``predict_proba`` with columns aligned to the ensemble's ``classes``.

    Classes the member does not know get probability 0.
    """
    proba = estimator.predict_proba(X)
    aligned = np.zeros((proba.shape[0], len(classes)))
    member_classes = np.asarray(estimator.classes_)
    aligned[:, _class_positions(type(estimator).__name__, member_classes, classes)] = proba
    return aligned


def member_votes(estimator, X, classes):
    """A member's predictions as positions in the ensemble's ``classes``."""
    labels = np.asarray(estimator.predict(X))
    return _class_positions(type(estimator).__name__, labels, classes)


def member_prediction(estimator, X):
    """A regressor member's predictions as a float vector."""
    return np.asarray(estimator.predict(X), dtype=np.float64).reshape(-1)
