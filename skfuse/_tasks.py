"""The joblib layer: the one module that runs skfuse's work through joblib.

A fit is a flat list of ``(function, args)`` tasks (member x fold, never ``Parallel``
inside ``Parallel``), run by the active joblib backend, Dask included; predictions run
members in threads. :mod:`skfuse._jobs` builds the task lists; the composites call it.
"""

import concurrent.futures
import contextlib
import itertools
import os
import pickle
import sys
import threading
import time
import traceback
import warnings

import numpy as np
import threadpoolctl
from joblib import cpu_count, effective_n_jobs
from sklearn import get_config
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import (
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.feature_selection import RFE, SelectFromModel
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.metadata_routing import MetadataRouter, get_routing_for_object
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import has_fit_parameter
from threadpoolctl import ThreadpoolController, threadpool_info

from ._compat import BaseSearchCV, lists_params_as_sklearn, shallow_params
from ._views import take_rows, take_view
from ._warnings import OUTER_SITE

PARALLEL_PREDICT_ROWS = 10_000  # below this, predict runs its members one after another
_FIT_ATTEMPTS = 3


def is_frozen(estimator):
    """Whether ``estimator`` is prefit and used as it is.

    That is :class:`sklearn.frozen.FrozenEstimator`, or any estimator whose
    ``__sklearn_clone__`` returns the estimator itself: cloning keeps it fitted, and
    skfuse never fits it.
    """
    if getattr(type(estimator), "__sklearn_clone__", None) is BaseEstimator.__sklearn_clone__:
        return False  # scikit-learn's own clone builds a new estimator: skip making one
    return clone(estimator) is estimator


def holds_frozen(estimator):
    """Whether ``estimator`` is frozen or holds a frozen estimator among its parameters
    (a ``Pipeline``'s step, a composite's member) or a search's candidates: its clones
    share that object, which its owner may refit."""
    if not hasattr(estimator, "get_params") or isinstance(estimator, type):
        return False
    if is_frozen(estimator):
        return True
    held = _held(estimator)
    return any(is_frozen(value) for value in held) or any(
        holds_frozen(value) for owner in [estimator, *held] for _, value in _grid_steps(owner))


def _is_estimator(value):
    return hasattr(value, "get_params") and not isinstance(value, type)


def _held(estimator):
    """The estimators among ``estimator``'s parameters, nested ones included: those of
    ``get_params(deep=True)``, walked through :func:`shallow_params` where the listing
    is scikit-learn's own (it would inspect each constructor at every call)."""
    if not lists_params_as_sklearn(type(estimator)):
        return [value for value in estimator.get_params(deep=True).values()
                if _is_estimator(value)]
    return [found for value in shallow_params(estimator).values() if _is_estimator(value)
            for found in (value, *_held(value))]


def weight_key(estimator):
    """The ``fit`` argument that passes ``sample_weight`` to ``estimator``, or None.

    ``"sample_weight"`` when its ``fit`` takes it. A
    :class:`~sklearn.pipeline.Pipeline` needs its last step to take it, and no sampler
    before it (:func:`resampling_steps`): without
    metadata routing ``"<last step>__sample_weight"`` (the earlier steps that take it
    get it too: :func:`weight_params`); with it, ``"sample_weight"`` when the last step
    requests it (an earlier step's request alone would leave the fit unweighted). Any
    other estimator: with metadata routing, ``"sample_weight"`` when it or an estimator
    inside it requests it, and a search, ``RFE``, ``SelectFromModel`` or
    ``TransformedTargetRegressor`` only when each estimator it fits takes them (its
    own ``weight_key``); without, what one of scikit-learn's meta-estimators that
    hand ``fit``'s keyword arguments on needs (:func:`_handed_on_key`). A
    ``CalibratedClassifierCV``: what its estimator takes (:func:`_calibrated_key`).
    """
    if isinstance(estimator, CalibratedClassifierCV):
        return _calibrated_key(estimator)
    if has_fit_parameter(estimator, "sample_weight"):
        return "sample_weight"
    routed = get_config().get("enable_metadata_routing", False)
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1] if estimator.steps else (None, None)
        inner = None if last in (None, "passthrough") else weight_key(last)
        if inner is None or resampling_steps(estimator):
            return None
        if routed:
            requested = get_routing_for_object(last).consumes("fit", ["sample_weight"])
            return "sample_weight" if requested else None
        return f"{name}__{inner}"
    if routed:
        if any(weight_key(inner) is None for inner in _handing_on_to(estimator)):
            return None
        consumed = get_routing_for_object(estimator).consumes("fit", ["sample_weight"])
        return "sample_weight" if consumed else None
    return _handed_on_key(estimator)


def routes_weights(estimator):
    """Whether ``estimator``'s ``fit`` can be given ``sample_weight`` without metadata
    routing refusing it: False only under routing, where an estimator inside it (a
    Pipeline's scaler) takes weights but leaves its request unset, which scikit-learn's
    router refuses even when the last step requests them."""
    if not get_config().get("enable_metadata_routing", False):
        return True
    routing = get_routing_for_object(estimator)
    if not isinstance(routing, MetadataRouter):
        return True  # its own fit takes what it is given
    try:
        routing.route_params(caller="fit", params={"sample_weight": np.ones(1)})
    except UnsetMetadataPassedError:
        return False
    return True


def resampling_steps(estimator, prefix=""):
    """The paths (``step__inner``) of the steps inside ``estimator`` that may change
    the rows before a model is fitted on them (imbalanced-learn's samplers,
    ``fit_resample``, before a Pipeline's last step): weights given for the rows given
    would not line up with them. A Pipeline's last step, and the estimator a search,
    ``RFE``, ``SelectFromModel`` or ``TransformedTargetRegressor`` fits, are looked
    into."""
    if isinstance(estimator, Pipeline):
        found = []
        for i, (name, step) in enumerate(estimator.steps):
            if i < len(estimator.steps) - 1 and hasattr(step, "fit_resample"):
                found.append(prefix + name)
            elif step not in (None, "passthrough", "drop"):  # (a selector's model, say)
                found += resampling_steps(step, f"{prefix}{name}__")
        return found
    key = "regressor" if isinstance(estimator, TransformedTargetRegressor) else "estimator"
    found = []
    for inner in _handing_on_to(estimator):  # a search's estimator and its grid's
        found += [path for path in resampling_steps(inner, f"{prefix}{key}__")
                  if path not in found]
    return found


def _handing_on_to(estimator):
    """The estimators a search (its estimator, and each its grid swaps in), ``RFE``,
    ``SelectFromModel`` or ``TransformedTargetRegressor`` fits with the weights it is
    given; none for any other estimator."""
    if isinstance(estimator, BaseSearchCV):
        return [estimator.estimator, *_candidates(estimator)]
    if isinstance(estimator, (RFE, SelectFromModel)):
        return [estimator.estimator]
    if isinstance(estimator, TransformedTargetRegressor):
        regressor = estimator.regressor
        return [LinearRegression() if regressor is None else regressor]
    return []


def _handed_on_key(estimator):
    """``weight_key`` of a scikit-learn meta-estimator whose ``fit(X, y, **fit_params)``
    hands ``sample_weight`` on without metadata routing; None for any other.

    A search, ``RFE``, ``SelectFromModel`` and ``TransformedTargetRegressor`` pass their
    keyword arguments to their estimator as they are, so theirs is its key (a search's
    only if every estimator its grid swaps in has the same). Voting and stacking call
    each member's ``fit`` (and the final estimator's) with ``sample_weight=``, so every
    one of them that is fitted must take that keyword.
    """
    if isinstance(estimator, BaseSearchCV):
        return _searched_key(estimator)
    if isinstance(estimator, (RFE, SelectFromModel)):
        return weight_key(estimator.estimator)
    if isinstance(estimator, TransformedTargetRegressor):
        regressor = estimator.regressor
        return weight_key(LinearRegression() if regressor is None else regressor)
    if isinstance(estimator, (VotingClassifier, VotingRegressor, StackingClassifier,
                              StackingRegressor)):
        inner = [est for _, est in estimator.estimators if est != "drop"]
        final = getattr(estimator, "final_estimator", None)  # None: a default that takes them
        inner += [] if final is None else [final]
        if all(is_frozen(est) or weight_key(est) == "sample_weight" for est in inner):
            return "sample_weight"
    return None


def _calibrated_key(calibrated):
    """``weight_key`` of a ``CalibratedClassifierCV``: its ``fit`` takes
    ``sample_weight``, but hands it to its estimator only where that estimator's ``fit``
    has a ``sample_weight`` parameter (with metadata routing: requests it), and fits it
    unweighted otherwise (with a warning); None then. A frozen estimator is not fitted."""
    inner = calibrated.estimator
    if inner is None or is_frozen(inner):  # (None: LinearSVC, which takes them)
        return "sample_weight"
    if get_config().get("enable_metadata_routing", False):
        consumed = (weight_key(inner) is not None
                    and get_routing_for_object(inner).consumes("fit", ["sample_weight"]))
        return "sample_weight" if consumed else None
    return "sample_weight" if has_fit_parameter(inner, "sample_weight") else None


def _searched_key(search):
    """The key of a search's estimator, if every estimator (or ``"passthrough"``) its
    grid sets gives the same key; None otherwise."""
    key = weight_key(search.estimator)
    if any(weight_key(candidate) != key for candidate in _candidates(search)):
        return None
    return key


def _candidates(search):
    """Clones of a search's estimator with the estimators (or ``"passthrough"``) one of
    its grids sets: each combination of those that depend on one another (``sel`` and
    ``sel__estimator``) set together as the search sets them, the others left as they
    are (so a grid of independent lists costs their sum, not their product); a
    combination that cannot be set is left out."""
    for grid in _grids(search):
        swaps = {param: [value for value in values if _is_step(value)]
                 for param, values in grid.items() if not hasattr(values, "rvs")}
        swaps = {param: values for param, values in swaps.items() if values}
        for linked in _linked(swaps):
            for combination in itertools.product(*(swaps[param] for param in linked)):
                params = {param: clone(value, safe=False)
                          for param, value in zip(linked, combination)}
                try:
                    yield clone(search.estimator).set_params(**params)
                except (ValueError, AttributeError, TypeError):
                    continue


def _linked(params):
    """``params`` in groups, each a parameter and those set inside what it sets
    (``sel``, then ``sel__estimator``), parents first."""
    groups = []
    for param in sorted(params, key=lambda name: name.count("__")):
        group = next((g for g in groups if any(param.startswith(f"{q}__") for q in g)),
                     None)
        if group is None:
            groups.append([param])
        else:
            group.append(param)
    return groups


def _is_step(value):
    return hasattr(value, "fit") or isinstance(value, str) and value == "passthrough"


def _grids(search):
    """A search's grids (or distributions), as a list of dicts; none for another."""
    grids = getattr(search, "param_grid", None) or getattr(search, "param_distributions",
                                                             None) or []
    return [grids] if isinstance(grids, dict) else list(grids)


def _grid_steps(search):
    """``(param, value)`` for each estimator (or ``"passthrough"``) a search's grid sets;
    none for what is not a search."""
    for grid in _grids(search):
        for param, values in grid.items():
            if hasattr(values, "rvs"):
                continue  # a distribution: numbers, not estimators
            for value in values:
                if _is_step(value):
                    yield param, value


def weight_params(estimator, sample_weight):
    """``fit``'s keywords for ``sample_weight`` (:func:`weight_key`, and a
    ``Pipeline``'s earlier steps': :func:`_earlier_weighed`): ``{}`` without weights.
    With no way in (None) it is passed as ``sample_weight``, for ``fit`` to refuse."""
    if sample_weight is None:
        return {}
    keys = [weight_key(estimator) or "sample_weight",
            *(key for key, _ in _earlier_weighed(estimator))]
    return dict.fromkeys(keys, sample_weight)


def _earlier_weighed(estimator):
    """Without metadata routing, ``(key, step)`` for each step before a ``Pipeline``'s
    last whose ``fit`` takes ``sample_weight`` (``<step>__sample_weight`` for a scaler,
    in a nested pipeline too), when its last step takes the weights: a weight of 0
    then removes the row from every step that takes weights, not from the last alone."""
    if (get_config().get("enable_metadata_routing", False)
            or not isinstance(estimator, Pipeline) or not estimator.steps
            or has_fit_parameter(estimator, "sample_weight")
            or weight_key(estimator) is None):
        return []
    *earlier, (name, last) = estimator.steps
    return [*((f"{step_name}__{key}", weighed) for step_name, step in earlier
              for key, weighed in _weighed(step)),
            *((f"{name}__{key}", weighed) for key, weighed in _earlier_weighed(last))]


def _weighed(step):
    """``(key, step)`` for a step before a Pipeline's last whose ``fit`` takes
    ``sample_weight``; for each of its own steps that does when it is a Pipeline."""
    if step in (None, "passthrough"):
        return []
    if has_fit_parameter(step, "sample_weight"):
        return [("sample_weight", step)]
    if isinstance(step, Pipeline):
        return [(f"{name}__{key}", weighed) for name, inner in step.steps
                for key, weighed in _weighed(inner)]
    return []


def _raised_in(exc, objects):
    """Whether ``exc`` was raised inside a method of one of ``objects``."""
    ids = {id(obj) for obj in objects}
    frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
    return any(id(frame.f_locals.get("self")) in ids for frame in frames)


# Whole-number weights are repeated rows for a member that takes no weights, up to this
# many times the rows in all (Bagging's draws sum to the rows; more is refused, not
# allocated).
MAX_REPEATS = 100


def whole_numbers(sample_weight):
    """Whether ``sample_weight`` holds whole numbers only, summing to at most
    ``MAX_REPEATS`` times its length: weights a member that takes none can be fitted
    with, as repeated rows (:func:`fit_task`)."""
    return (sample_weight is not None
            and bool(np.all(sample_weight == np.round(sample_weight)))
            and sample_weight.sum() <= MAX_REPEATS * len(sample_weight))


def fit_task(estimator, X, y, sample_weight, train, test, view, output, params=None,
             keep=False):
    """Fit a clone of ``estimator`` on rows ``train`` (None: all) of its view of ``X``.

    The member gets ``params`` (its fit metadata) when given, else ``sample_weight``
    when not None; per-row metadata are taken at ``train``. A member whose ``fit`` takes
    no ``sample_weight`` (:func:`weight_key`) is fitted on each row repeated as many
    times as its weight, a whole number (scikit-learn's meaning of such weights; what
    ``BaggingClassifier`` passes as its draws). A frozen estimator is not fitted.
    Returns ``(fitted, output, seconds)``: the fitted clone when ``test`` is None or
    ``keep``, else None; with ``test`` given, ``output(fitted, X_test)`` (the member's
    out-of-fold output for that fold) and its predict seconds per 1000 rows, else None
    for both.
    """
    estimator = clone(estimator)
    X = take_view(X, view)
    if not is_frozen(estimator):
        key = None if params is not None or sample_weight is None else weight_key(estimator)
        if params is None and sample_weight is not None and key is None:
            rows = np.arange(len(y)) if train is None else np.asarray(train)
            train = np.repeat(rows, sample_weight[rows].astype(np.intp))
            if train.size == 0:
                raise ValueError(f"{type(estimator).__name__} takes no sample_weight, so it "
                                 "is fitted on each row repeated as many times as its "
                                 "weight, and its training rows all weigh 0.")
        X_train = X if train is None else take_rows(X, train)
        y_train = y if train is None else y[train]
        if params is None:
            params = {} if key is None else weight_params(estimator, sample_weight)
        try:
            estimator.fit(X_train, y_train, **rows_of_params(params, train, len(y)))
        except (TypeError, ValueError) as exc:
            # Weights skfuse gave an earlier step that refuses them (sample_weight given,
            # no params: weight_params was called above).
            weighed = _earlier_weighed(estimator) if key is not None else []
            if (weighed and hasattr(exc, "add_note")
                    and _raised_in(exc, [step for _, step in weighed])):
                exc.add_note(
                    f"(skfuse passed sample_weight to the Pipeline's earlier steps too, "
                    f"as {[k for k, _ in weighed]}; to choose which steps take it, "
                    "enable metadata routing and set each step's request with "
                    "set_fit_request)")
            raise
    if test is None:
        return estimator, None, None
    X_test = take_rows(X, test)
    start = time.perf_counter()
    out = output(estimator, X_test)
    seconds = time.perf_counter() - start
    return (estimator if keep else None), out, 1000.0 * seconds / max(len(test), 1)


def rows_of_params(params, rows, n_samples):
    """``params`` with every per-row entry (of ``n_samples`` rows) taken at ``rows``
    (integer positions; a list or a tuple as a list of its items, :func:`take_rows`)."""
    if rows is None:
        return params
    return {key: take_rows(value, rows) if _n_rows(value) == n_samples else value
            for key, value in params.items()}


def _n_rows(value):
    """The rows of a metadata entry (its first axis; a sparse matrix's too, which has no
    ``len``), or None for a scalar, a str or a dict."""
    if isinstance(value, (str, dict)):
        return None
    shape = getattr(value, "shape", None)
    if shape is not None:
        return shape[0] if len(shape) else None
    return len(value) if hasattr(value, "__len__") else None


def run_fit_tasks(calls, n_jobs, verbose, owner, labels=None, local=None):
    """Run a fit's flat list of ``(function, args)`` calls as joblib tasks; once more if
    a cluster lost a worker.

    Under Dask, the data joblib scatters lives on some workers; a worker that dies takes
    it along, and the scheduler then cancels the tasks that need it. The tasks are pure
    (seeded clones), so running the list again on the workers left gives the same fit.

    ``local`` (one bool per call) flags calls that only read this process's memory (the
    member cache's in-process entries): they run here, first, without joblib.

    With ``verbose`` and ``labels`` (one per call, such as ``"member 'rf', fold 2 of
    5"``), a line reports each task, in task order, as its result arrives, with the
    seconds it ran. The arguments stay top-level task arguments either way, so that
    joblib's Dask backend scatters the data once.
    """
    reporting = bool(verbose) and labels is not None
    if labels is not None:
        if len(labels) != len(calls):
            raise ValueError(f"{len(labels)} progress labels for {len(calls)} tasks.")
        calls = [(noted, (owner, label, function, *args))
                 for (function, args), label in zip(calls, labels)]
    local = [False] * len(calls) if local is None else local
    here = [i for i, flag in enumerate(local) if flag]
    away = [i for i, flag in enumerate(local) if not flag]
    results = [None] * len(calls)
    for done, i in enumerate(here, start=1):
        function, args = calls[i]
        results[i] = function(*args)
        if reporting:
            report(owner, f"({done} of {len(calls)}) {labels[i]}: from the cache")
    if away:
        remote = _run_parallel([calls[i] for i in away], n_jobs, owner,
                               [labels[i] for i in away] if reporting else None,
                               len(here), len(calls))
        for i, result in zip(away, remote):
            results[i] = result
    return results


def thread_cap(n_jobs):
    """The width of the members' own thread pools while skfuse runs ``n_jobs`` workers:
    the cores divided by the workers (at least 1); None for one worker."""
    workers = effective_n_jobs(n_jobs)
    return None if workers <= 1 else max(cpu_count() // workers, 1)


@contextlib.contextmanager
def member_threads(n_jobs):
    """Cap the members' own thread pools (OpenMP, BLAS) at :func:`thread_cap` while
    skfuse runs ``n_jobs`` workers; a pool already narrower is left as it is.

    The cap holds in this process: BLAS pools are process-wide, so it covers workers
    that are threads. OpenMP's width is per thread, so each task sets its own thread's
    to what :func:`openmp_limits` read here (:func:`capped_call`); worker processes also
    get loky's own cap.
    """
    cap = thread_cap(n_jobs)
    if cap is None:
        yield
        return
    with _SHARED_CAP:  # the first of overlapping calls sets it, the last puts it back
        if _SHARED_CAP.users == 0:
            _SHARED_CAP.limiter = _limited("blas", _narrowed(cap, user_api="blas"))
            _release_blas()
        _SHARED_CAP.users += 1
    try:
        with _limited("openmp", _narrowed(cap, user_api="openmp")):  # this thread's
            yield
    finally:
        with _SHARED_CAP:
            _SHARED_CAP.users -= 1
            if _SHARED_CAP.users == 0:
                _SHARED_CAP.limiter.restore_original_limits()
                _release_blas()


class _SharedCap:
    """The BLAS cap :func:`member_threads` holds, shared by the calls that overlap in
    time (a service predicting from several threads): BLAS pools are process-wide, and
    limits restored out of order would leave them capped for good. OpenMP's width is
    per thread, so each call caps and restores its own."""

    def __init__(self):
        self._lock = threading.Lock()
        self.users, self.limiter = 0, None

    def __enter__(self):
        self._lock.acquire()

    def __exit__(self, *exc):
        self._lock.release()


_SHARED_CAP = _SharedCap()


def openmp_limits(n_jobs):
    """The OpenMP widths for the tasks of ``n_jobs`` workers, read in the calling thread:
    :func:`thread_cap`, or the caller's own width where it is narrower; None for one
    worker."""
    cap = thread_cap(n_jobs)
    return None if cap is None else _narrowed(cap, user_api="openmp")


def capped_call(limits, function, *args):
    """``function(*args)`` with the OpenMP pools of the thread (or process) that runs it
    set to ``limits`` (from :func:`openmp_limits`; None: as they are)."""
    if not limits:
        return function(*args)
    with _limited("openmp", limits):
        return function(*args)


def _limited(user_api, limits):
    """A limiter of the ``user_api`` pools alone: restoring it leaves the others as
    they are (``threadpool_limits`` puts back every pool it saw, so a thread's OpenMP
    limit ending lifted the BLAS cap of calls still running)."""
    return ThreadpoolController().select(user_api=user_api).limit(limits=limits)


def _release_blas():
    """Let any thread set OpenBLAS's width after this one set it outside a ``with``:
    threadpoolctl (3.8 on) lets only the thread that took control set it, and ignores
    the others silently."""
    controller = getattr(threadpoolctl, "OpenBLASController", None)
    clear = getattr(controller, "clear_controlling_thread", None)
    if clear is not None:
        clear()


def _narrowed(cap, user_api=None):
    """Per library prefix, ``cap`` or the pool's width if it is narrower."""
    limits = {}
    for pool in threadpool_info():
        if user_api is None or pool["user_api"] == user_api:
            limits[pool["prefix"]] = min(limits.get(pool["prefix"], cap), pool["num_threads"])
    return limits


def _run_parallel(calls, n_jobs, owner, labels, done_before, n_total):
    reporting = labels is not None
    limits = openmp_limits(n_jobs)
    # The caller: its process, its thread and this call (whose first error a thread
    # of the process keeps in _FAILED).
    site, caller = OUTER_SITE.get(), (os.getpid(), threading.get_ident(), next(_CALLS))
    call = caller[2]
    tasks = [delayed(_relayed)(site, caller, limits, _timed, function, *args) if reporting
             else delayed(_relayed)(site, caller, limits, function, *args)
             for function, args in calls]
    with _LOCK:
        _OPEN.add(call)
    try:
        for attempt in range(1, _FIT_ATTEMPTS + 1):
            try:
                with member_threads(n_jobs):
                    if not reporting:
                        return _raised_first(
                            [_shown(result) for result in Parallel(n_jobs=n_jobs)(tasks)],
                            call)
                    return _raised_first(_reported(
                        (_shown(result) for result in _as_done(n_jobs)(tasks)),
                        labels, owner, done_before, n_total), call)
            except Exception as exc:
                _FAILED.pop(call, None)
                if not _lost_worker(exc):
                    raise
                if attempt == _FIT_ATTEMPTS:
                    raise RuntimeError(
                        f"{owner}: the cluster lost a worker (or the data scattered to it) "
                        f"during each of {_FIT_ATTEMPTS} attempts at the fit; check the "
                        "workers' memory limits and logs."
                    ) from exc
                if reporting:
                    report(owner, f"a worker was lost; fitting again (attempt "
                                  f"{attempt + 1} of {_FIT_ATTEMPTS})")
    finally:  # (also on an interrupt) its tasks still running keep nothing
        with _LOCK:
            _OPEN.discard(call)
            _FAILED.pop(call, None)


def _as_done(n_jobs):
    """A ``Parallel`` that yields results as they come, for progress lines; on a
    backend that cannot (joblib's ``multiprocessing``), one that gives them all at the
    end."""
    try:
        return Parallel(n_jobs=n_jobs, return_as="generator")
    except ValueError:  # the backend refuses return_as="generator"
        return Parallel(n_jobs=n_jobs)


def _relayed(site, caller, limits, function, *args):
    """:func:`capped_call` as a joblib task: ``(result, warnings)``. The task's warnings
    point at ``site`` (the user's call, which a worker process cannot see). In a worker
    process (not ``caller``'s), in its main thread, they are recorded and returned
    rather than printed there, for the caller to show (:func:`_shown`) once, as
    skfuse shows a fit's warnings; in the caller's process they go their usual way.
    (A Dask worker runs tasks in threads of its pool, where recording, process-wide,
    could take another task's warnings: they are printed there.) ``caller`` is the
    calling process, thread and call of :func:`_run_parallel`."""
    token = OUTER_SITE.set(site)
    _RUNNING.depth += 1
    try:
        process, thread, call = caller
        if os.getpid() == process and threading.get_ident() != thread:
            # Another thread of the caller's process (a thread backend): the first
            # error is kept for the caller to raise once every task is done
            # (:func:`_raised_first`), and tasks not yet started then skip their work:
            # joblib does not wait for the other tasks of a call that raised.
            if call not in _OPEN or call in _FAILED:  # the call has ended or failed
                return _SKIPPED, []
            try:
                return capped_call(limits, function, *args), []
            except BaseException as exc:  # noqa: BLE001 - the caller raises the first
                with _LOCK:
                    if call in _OPEN:
                        _FAILED.setdefault(call, exc)
                return _SKIPPED, []
        if os.getpid() == process or threading.current_thread() is not threading.main_thread():
            return capped_call(limits, function, *args), []
        with warnings.catch_warnings(record=True) as caught:
            result = capped_call(limits, function, *args)
        return result, [(_picklable(w.message), w.category, w.filename, w.lineno)
                        for w in caught]
    finally:
        _RUNNING.depth -= 1
        OUTER_SITE.reset(token)


_CALLS = itertools.count()  # numbers each call of _run_parallel
_OPEN = set()  # the calls of _run_parallel under way in this process
_FAILED = {}  # open call -> the first error of its tasks in other threads of this process
_LOCK = threading.Lock()  # guards _OPEN and _FAILED
_SKIPPED = object()  # a task that failed, or did not run after another failed


def _raised_first(results, call):
    """``results``, once every task of ``call`` is done; the first error of its tasks
    that ran in other threads of this process, if any, raised."""
    error = _FAILED.pop(call, None)
    if error is not None:
        raise error
    return results


def _picklable(message):
    """A warning as it was raised, or its text where it cannot travel back."""
    try:
        pickle.dumps(message)
    except Exception:  # noqa: BLE001 - any refusal: its text
        return str(message)
    return message


def _shown(relayed):
    """A :func:`_relayed` task's result, its warnings shown here (where a fit's
    warnings are recorded and shown once)."""
    result, caught = relayed
    for message, category, filename, lineno in caught:
        warnings.showwarning(message, category, filename, lineno)
    return result


def noted(owner, label, function, *args):
    """``function(*args)``; an error it raises gets a note naming the task (the member
    and fold), which a member's own message does not (Python 3.11 and later)."""
    try:
        return function(*args)
    except Exception as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(f"(raised in {owner}'s task: {label})")
        raise


class _Running(threading.local):
    """This thread's tasks: how deep they nest (a task of a composite fitted inside
    another's task), and the depth of the last task read from the member cache."""

    depth = 0
    read_at = None


_RUNNING = _Running()


def read_from_cache():
    """Say that the running task's result was read from the member cache's disk (its
    progress line then says so, not the seconds the read took)."""
    _RUNNING.read_at = _RUNNING.depth


def _timed(function, *args):
    """``(result, seconds)``; seconds None for a result read from the cache, not for one
    computed, in part from a nested composite's cache or not."""
    _RUNNING.read_at = None
    start = time.perf_counter()
    result = function(*args)
    read = _RUNNING.read_at == _RUNNING.depth
    return result, None if read else time.perf_counter() - start


def _reported(timed_results, labels, owner, done_before, n_total):
    results = []
    for done, timed in enumerate(timed_results):
        if timed is _SKIPPED:  # its call's first error is raised once all are done
            results.append(timed)
            continue
        result, seconds = timed
        results.append(result)
        took = "from the cache" if seconds is None else f"{seconds:.2f} s"
        report(owner, f"({done_before + done + 1} of {n_total}) {labels[done]}: {took}")
    return results


def _lost_worker(exc):
    """Whether ``exc`` is how Dask reports tasks lost with a worker."""
    return isinstance(exc, concurrent.futures.CancelledError) or (
        type(exc).__name__ == "KilledWorker"
        and type(exc).__module__.startswith("distributed")
    )


def report(owner, text):
    """A verbose line, ``[owner] text``, written in one call and flushed: lines that
    worker processes print at once never run into each other, where ``print`` writes
    the text and its newline apart on an unbuffered stdout (``PYTHONUNBUFFERED``).
    Line breaks in ``text`` (a member's name) are shown escaped, keeping one line.
    Without a stdout (``pythonw``, some services) nothing is shown, as ``print`` does."""
    stream = sys.stdout
    if stream is None:
        return
    one_line = text.replace("\r", "\\r").replace("\n", "\\n")  # a name may hold them
    stream.write(f"[{owner}] {one_line}\n")
    stream.flush()


def report_fit_time(owner, began):
    """The last line of a verbose fit: its wall time since ``began``."""
    report(owner, f"fitted in {time.perf_counter() - began:.2f} s")


def run_in_threads(calls, n_jobs, n_rows):
    """Run ``calls`` (function, args) in threads when ``n_jobs`` asks and the input is big.

    Threads share the fitted members (nothing is copied, whatever joblib backend is
    active), each member's own threads limited (``member_threads``); below
    ``PARALLEL_PREDICT_ROWS`` rows starting them costs more than it saves. The
    threads' warnings show as they come: a member kept as its fold fits shows one
    that they all give once per fold fit here (the calling thread records only its
    own warnings).
    """
    if n_jobs in (None, 1) or n_rows < PARALLEL_PREDICT_ROWS or len(calls) < 2:
        return [fn(*args) for fn, args in calls]
    limits = openmp_limits(n_jobs)
    with member_threads(n_jobs):
        return Parallel(n_jobs=n_jobs, require="sharedmem")(
            delayed(capped_call)(limits, fn, *args) for fn, args in calls)
