"""The stacking engine of :class:`~skfuse.SerialStack`: multi-level stacking.

Each non-final level is fitted out of fold; its out-of-fold output (plus passed-through
raw columns) is the next level's input; it is then refitted on all rows. The last level
is fitted on the previous level's out-of-fold output.
"""

from functools import partial

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier

from ._base import Composite, check_known_classes, member_proba
from ._fusion import FusionClassifier
from ._jobs import MemberJobs
from ._tasks import is_frozen
from ._views import (
    _is_dataframe,
    missing_entries,
    nan_error,
    nan_refusal,
    nan_sample,
    resolve_view,
    take_view,
)

OWNER = "SerialStack"
METHODS = ("transform", "predict_proba", "decision_function", "predict")


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


def output_methods(stack):
    """The output method of each non-final step."""
    methods = []
    for name, est in stack.steps[:-1]:
        method = stack.stack_method
        if isinstance(method, dict):
            method = method.get(name, "auto")
        if method == "auto":
            method = next((m for m in METHODS if hasattr(est, m)), None)
        if method not in METHODS or not hasattr(est, method):
            raise TypeError(
                f"SerialStack: step {name!r} has no usable output method "
                f"(stack_method={method!r})."
            )
        methods.append(method)
    return methods


def fit_stack(stack, estimators, step_params, X, y, sample_weight, folds):
    """Fit the levels in order, each on the previous level's out-of-fold output; set
    the output methods, passed-through columns and level classes. Returns the fitted
    steps."""
    refuse_nan(stack, X, fitted=False)
    stack._methods_ = output_methods(stack)
    stack._passthrough_ = _passthrough_columns(stack, X)
    # Classifier levels are aligned to the labels of y, also under a regressor final.
    levels = [est for _, est in stack.steps[:-1]]
    stack._level_classes_ = (
        np.unique(y) if any(is_classifier(est) for est in levels) else None
    )
    fitted, Z, view = [], X, stack._views_[0]
    names = [name for name, _ in stack.steps]
    if stack._level_classes_ is not None:
        check_known_classes([(name, est) for name, est in zip(names[:-1], estimators[:-1])
                             if is_frozen(est)], stack._level_classes_, OWNER, "step")
    for name, est, params, method in zip(names, estimators[:-1], step_params,
                                         stack._methods_):
        plan = _plan(stack, X.shape[0])
        plan.add(name, est, label=f"step {name!r}", view=view, folds=folds, params=params)
        fit = plan.run(Z, y, sample_weight,
                       partial(step_output, method=method, classes=stack._level_classes_))
        fitted.append(fit[name].estimator)
        Z, view = _next_input(stack, fit[name].oof, X), None
    plan = _plan(stack, X.shape[0])
    plan.add(names[-1], estimators[-1], label=f"step {names[-1]!r} (final)", view=view,
             params=step_params[-1])
    return [*fitted, plan.run(Z, y, sample_weight)[names[-1]].estimator]


def final_input(stack, X):
    """What the final step sees for ``X``: each level's output in turn."""
    refuse_nan(stack, X, fitted=True)
    Z = take_view(X, stack._views_[0])
    for (_, est), method in zip(stack.steps_[:-1], stack._methods_):
        out = step_output(est, Z, method, stack._level_classes_)
        Z = _next_input(stack, out, X)
    return Z


def refuse_nan(stack, X, fitted):
    """A stack's first step sees X as it is: NaN in its view needs a step that takes
    NaN (:func:`~skfuse._views.nan_error`, asked of the fitted step when ``fitted``), or
    a skfuse composite (whose members sit out the rows without their view)."""
    name, est = (stack.steps_ if fitted else stack.steps)[0]
    if isinstance(est, Composite):
        return
    missing = missing_entries(X, stack._views_[0])
    if missing is None or not missing.any():
        return
    holds = missing.any(axis=1)
    reason = nan_error(est, nan_sample(X, stack._views_[0], holds), fitted)
    if reason is not None:
        raise ValueError(
            nan_refusal(OWNER, f"step {name!r}", est, int(holds.sum()), "holds NaN", reason)
            + " Or make it a FusionClassifier with views, to fuse missing modalities."
        )


def _plan(stack, n_samples):
    return MemberJobs(OWNER, n_samples, n_jobs=stack.n_jobs, verbose=stack.verbose,
                      memory=stack.memory)


def _passthrough_columns(stack, X):
    if stack.passthrough is False or stack.passthrough is None:
        return None
    if stack.passthrough is True:
        return np.arange(X.shape[1])
    return resolve_view(stack.passthrough, X, "passthrough",
                        getattr(stack, "feature_names_in_", None))


def _next_input(stack, out, X):
    if stack._passthrough_ is None:
        return out
    raw = take_view(X, stack._passthrough_)
    if sp.issparse(raw):
        return sp.hstack([sp.csr_matrix(out), raw], format="csr")
    raw = raw.to_numpy() if _is_dataframe(raw) else raw
    return np.hstack([out, np.asarray(raw, dtype=np.float64)])
