"""The stacking engine of :class:`~skfuse.SerialStack`: multi-level stacking.

Each non-final level is fitted out of fold; its out-of-fold output (plus passed-through
raw columns) is the next level's input; it is then refitted on all rows. The last level
is fitted on the previous level's out-of-fold output.
"""

import warnings
from functools import partial

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier, is_regressor

from ._base import (
    Composite,
    check_known_classes,
    check_output_rows,
    deciding_estimator,
    member_decision,
    member_proba,
    member_votes,
    pairwise_decision,
    refuse_non_finite_step,
)
from ._compat import _get_output_config
from ._fusion import FusionClassifier, FusionRegressor, fitted_members
from ._jobs import MemberJobs, folds_within
from ._tasks import is_frozen, noted
from ._views import (
    _is_dataframe,
    class_name,
    missing_rows,
    missing_text_refusal,
    nan_error,
    nan_refusal,
    nan_sample,
    resolve_view,
    take_rows,
    take_view,
    takes_nan,
)
from ._weights import tempered

OWNER = "SerialStack"
METHODS = ("transform", "predict_proba", "decision_function", "predict")
# What "auto" takes from each member of a FusionClassifier level, as scikit-learn's
# StackingClassifier(stack_method="auto") does from each of its estimators.
MEMBER_METHODS = ("predict_proba", "decision_function", "predict")


def step_output(estimator, X, method, classes=None):
    """A non-final step's output as a 2-D float array, the next level's input.

    Probabilities (and multiclass decision values) of a classifier are aligned to the
    stack's ``classes`` by label; predicted labels become class positions. With two
    classes, each set of probabilities keeps the second class's column only (the first
    is one minus it), as scikit-learn's ``StackingClassifier`` does. A
    ``FusionClassifier`` level under ``"auto"`` or ``"transform"`` gives its members'
    outputs side by side (:func:`_fusion_level_output`).
    """
    if isinstance(estimator, FusionClassifier) and method in ("auto", "transform"):
        return _fusion_level_output(estimator, X, method, classes)
    if method == "predict_proba" and classes is not None:
        return _one_column_if_binary(member_proba(estimator, X, classes), classes)
    if method == "decision_function" and classes is not None:
        out = member_decision(estimator, X, classes)
    elif method == "predict" and classes is not None and is_classifier(estimator):
        out = member_votes(estimator, X, classes)  # refuses labels not in classes
    else:
        out = getattr(estimator, method)(X)
    out = out.toarray() if sp.issparse(out) else np.asarray(out, dtype=np.float64)
    check_output_rows(estimator, out, X, method)
    return out.reshape(out.shape[0], -1)


def _one_column_if_binary(proba, classes):
    return proba[:, 1:] if len(classes) == 2 else proba


def member_method(voting, estimator, method):
    """The method a member of a ``FusionClassifier`` level (with this ``voting``) gives
    the next level under ``method`` (``"auto"`` or ``"transform"``)."""
    if method == "transform":
        return "predict" if voting == "hard" else "predict_proba"
    return next(m for m in MEMBER_METHODS if hasattr(estimator, m))


def _member_output(estimator, X, voting, method, classes):
    return step_output(estimator, X, member_method(voting, estimator, method), classes)


def _fusion_level_output(level, X, method, classes):
    """A ``FusionClassifier`` level's members' outputs side by side, NaN where a
    member's view is missing. ``"auto"``: each member's own first method of
    :data:`MEMBER_METHODS`; ``"transform"``: what the level votes with (probabilities,
    tempered with ``calibration="temperature"``, or class positions under hard voting).
    The level's weights play no part."""
    temperatures = (getattr(level, "temperatures_", None) if method == "transform"
                    else None)
    if temperatures is None:
        output = partial(_member_output, voting=level.voting, method=method,
                         classes=classes)
    else:
        output = partial(member_proba, classes=classes)
    outs, present, _ = level._outputs_by_member(X, output)
    if temperatures is not None:
        outs = [None if out is None else _one_column_if_binary(tempered(out, t), classes)
                for out, t in zip(outs, temperatures)]
    if present is None:
        return np.hstack(outs)
    parts = []
    for out, est, rows in zip(outs, fitted_members(level).values(), present):
        part = np.full((len(rows), output_width(est, member_method(level.voting, est, method),
                                                classes)), np.nan)
        if out is not None:
            part[rows] = out
        parts.append(part)
    return np.hstack(parts)


def output_width(estimator, method, classes):
    """The columns a fitted classifier's ``method`` gives the next level."""
    if method == "predict_proba":
        return 1 if len(classes) == 2 else len(classes)
    if method == "decision_function" and len(estimator.classes_) > 2:
        n = len(estimator.classes_)
        return n * (n - 1) // 2 if pairwise_decision(estimator) else len(classes)
    return 1


def _auto_methods(est):
    """What ``"auto"`` tries, in order, on a step other than a ``FusionClassifier``:
    ``METHODS``, but a ``SerialStack``'s predictions first (its ``transform`` is the
    input of its own final step, which would then be fitted and never used)."""
    from ._serial import SerialStack  # (which imports this module)

    return METHODS[1:] + METHODS[:1] if isinstance(est, SerialStack) else METHODS


def asked_method(stack, name):
    """The ``stack_method`` the user set for step ``name`` (``"auto"`` if none)."""
    asked = stack.stack_method
    return asked.get(name, "auto") if isinstance(asked, dict) else asked


def output_methods(stack):
    """The output method of each non-final step: ``"auto"`` is resolved, but for a
    ``FusionClassifier`` level, whose members each take their own."""
    methods = []
    for name, est in stack._kept_steps()[:-1]:
        asked = asked_method(stack, name)
        if asked == "auto" and isinstance(est, FusionClassifier):
            methods.append(asked)
            continue
        method = asked
        if asked == "auto":
            method = next((m for m in _auto_methods(est) if hasattr(est, m)), None)
        if method not in METHODS or not hasattr(est, method):
            raise TypeError(
                f"SerialStack: step {name!r} has no usable output method "
                f"(stack_method={asked!r}: it has no {method or ', '.join(METHODS)})."
            )
        methods.append(method)
    return methods


def output_names(stack):
    """Names of the last level's output columns, as ``StackingClassifier`` names its
    estimators' (``serialstack_<name><k>``, or ``serialstack_<name>`` for one column):
    by member for a fusion level that passes its members' outputs, else by step."""
    name, level = stack.steps_[-2]
    method = stack._methods_[-1]
    if isinstance(level, FusionClassifier) and method in ("auto", "transform"):
        parts = [(member, output_width(est, member_method(level.voting, est, method),
                                       stack._level_classes_))
                 for member, est in fitted_members(level).items()]
    elif isinstance(level, FusionRegressor) and method == "transform":
        width = stack._output_width_ // len(fitted_members(level))
        parts = [(member, width) for member in fitted_members(level)]
    else:
        parts = [(name, stack._output_width_)]
    names = []
    for part, width in parts:
        names += ([f"serialstack_{part}"] if width == 1
                  else [f"serialstack_{part}{k}" for k in range(width)])
    return names


def fit_stack(stack, estimators, step_params, X, y, sample_weight, folds):
    """Fit the levels in order, each on the previous level's out-of-fold output; set
    the output methods, passed-through columns and level classes. Returns the fitted
    steps."""
    refuse_nan(stack, X, fitted=False)
    stack._methods_ = output_methods(stack)
    _warn_unused_level_weights(stack)
    stack._passthrough_ = _passthrough_columns(stack, X)
    stack._passed_nan_ = refuse_passed_nan(stack, X, fitted=False)
    # Classifier levels are aligned to the labels of y, also under a regressor final.
    levels = [est for _, est in stack._kept_steps()[:-1]]
    stack._level_classes_ = (
        np.unique(y) if any(is_classifier(est) for est in levels) else None
    )
    fitted, Z, view = [], X, stack._views_[0]
    names = [name for name, _ in stack._kept_steps()]
    # Frozen steps know only the classes of y: the levels' (and a classifier final's).
    checked = len(names) - (0 if is_classifier(stack) else 1)
    if stack._level_classes_ is not None or is_classifier(stack):
        check_known_classes([(name, est) for name, est in zip(names[:checked],
                                                              estimators[:checked])
                             if is_frozen(est)], np.unique(y), OWNER, "step")
    # The rows a level is fitted on: all for the first; then those the level before
    # predicted out of fold (a forward-chaining cv never tests its first rows).
    rows = None
    # A regressor level of a classifier stack learns the label codes (positions in
    # the sorted labels), as in scikit-learn's StackingClassifier: labels need not
    # be numbers.
    codes = (np.searchsorted(stack.classes_, y).astype(np.float64)
             if is_classifier(stack) else None)
    for i, (name, est, params, method) in enumerate(zip(names, estimators[:-1], step_params,
                                                       stack._methods_)):
        plan = _plan(stack, X.shape[0])
        plan.add(name, est, label=f"step {name!r}", view=view, rows=rows,
                 folds=_level_folds(folds, rows, name), params=params)
        target = codes if codes is not None and is_regressor(est) else y
        fit = plan.run(Z, target, sample_weight,
                       partial(step_output, method=method, classes=stack._level_classes_))
        fitted.append(fit[name].estimator)
        _refuse_non_finite_level(name, est, fit[name].oof[fit[name].tested], "out of fold")
        stack._output_width_ = fit[name].oof.shape[1]
        _check_refit_width(name, fit[name].estimator, Z, view, method,
                           stack._level_classes_, stack._output_width_)
        rows = None if fit[name].tested.all() else np.flatnonzero(fit[name].tested)
        Z = None  # freed first, so that two levels' inputs are not held at once
        Z, view = _next_input(stack, fit[name].oof, X), None
        _refuse_missing_members(name, est, asked_method(stack, name), fit[name].oof, Z,
                                fit[name].tested, names[i + 1], estimators[i + 1],
                                fitted=False)
        if np.ndim(y) == 2:  # several outputs: asked of a later step on its own input
            # (after the NaN it may pass on is explained)
            stack._check_takes_outputs(names[i + 1], estimators[i + 1],
                                       *((Z, y) if rows is None else (take_rows(Z, rows),
                                                                       y[rows])))
    stack.n_oof_samples_ = X.shape[0] if rows is None else rows.size
    plan = _plan(stack, X.shape[0])
    plan.add(names[-1], estimators[-1], label=f"step {names[-1]!r} (final)", view=view,
             rows=rows, params=step_params[-1])
    return [*fitted, plan.run(Z, y, sample_weight)[names[-1]].estimator]


def _check_refit_width(name, fitted, Z, view, method, classes, width):
    """Refuse a step whose refit passes on more (or fewer) columns than its fold fits
    did: decision values of fits that each saw two classes (one column) where the
    refit saw more (one per class). The next level was fitted on the fold fits' width."""
    probe = take_rows(take_view(Z, view), np.arange(1))
    refit = step_output(fitted, probe, method, classes).shape[1]
    if refit != width:
        raise ValueError(
            f"{OWNER}: step {name!r} passes on {refit} column(s) when fitted on every "
            f"row, but {width} out of fold (each training fold lacked a class?), "
            "so the next level would not fit its output; use a stratified, shuffled cv, "
            "or pass probabilities (stack_method='predict_proba'), which are aligned to "
            "the classes.")


def _warn_unused_level_weights(stack):
    """Warn of a fusion level with learned weights whose members' outputs are what the
    next level sees: its weights play no part, yet each of its fits learns them, each
    with a cross-validation of its own. (With ``refit=False`` that cross-validation
    gives the members it predicts with, the means of their fold fits: no warning.)"""
    for (name, est), method in zip(stack._kept_steps()[:-1], stack._methods_):
        if (isinstance(est, (FusionClassifier, FusionRegressor)) and est.refit
                and isinstance(est.weights, str) and method in ("auto", "transform")):
            warnings.warn(
                f"{OWNER}: step {name!r} is a {type(est).__name__} with "
                f"weights={est.weights!r}, but the next level sees its members' outputs "
                f"(stack_method {method!r}), so its weights play no part; learning them "
                "costs a cross-validation in each of the level's fits. Give the level "
                f"weights=None, or pass its fused output: stack_method={{{name!r}: "
                + ("'predict_proba'} (or 'predict')." if isinstance(est, FusionClassifier)
                   else "'predict'}."),
                UserWarning,
                stacklevel=6)  # here, fit_stack, fit, atomic_fit, _fit_context, the caller


def _level_folds(folds, rows, name):
    """``folds`` restricted to ``rows``, the rows the level before predicted (None:
    all), as :func:`~skfuse._jobs.folds_within` restricts them (the jobs leave out a
    fold without a test row, numbering the others as in ``folds``); a level with no
    fold left is refused."""
    if rows is None:
        return folds
    kept = folds_within(folds, rows)
    if not any(test.size for _, test in kept):
        raise ValueError(
            f"SerialStack: step {name!r} has no fold with training rows among the "
            f"{rows.size} rows the step before it predicted out of fold; use a cv with "
            "more splits."
        )
    return kept


def final_input(stack, X):
    """What the final step sees for ``X``: each level's output in turn."""
    refuse_nan(stack, X, fitted=True)
    refuse_passed_nan(stack, X, fitted=True)
    Z = take_view(X, stack._views_[0])
    for i, ((name, est), method) in enumerate(zip(stack.steps_[:-1], stack._methods_)):
        out = noted(OWNER, f"step {name!r}, predict", step_output, est, Z, method,
                    stack._level_classes_)
        _refuse_non_finite_level(name, est, out, "at predict")
        Z = None  # freed first, so that two levels' inputs are not held at once
        Z = _next_input(stack, out, X)
        _refuse_missing_members(name, est, asked_method(stack, name), out, Z, None,
                                *stack.steps_[i + 1], fitted=True)
    return Z


def _refuse_non_finite_level(name, est, out, when):
    """:func:`~skfuse._base.refuse_non_finite_step`, but for a skfuse composite (alone,
    in a ``Pipeline``, searched), whose NaN marks a member's missing view."""
    if not isinstance(deciding_estimator(est), Composite):
        refuse_non_finite_step(OWNER, name, out, when)


def _refuse_missing_members(name, est, asked, out, Z, tested, next_name, next_est,
                            fitted):
    """A composite level passes NaN for a member whose view is missing on a row (its
    members' own outputs, under the ``stack_method`` ``asked``, "auto" or "transform"):
    refuse, naming both and the way out, a next step that does not take NaN
    (:func:`nan_error`, asked of the fitted step when ``fitted``) on the rows it sees
    (``tested``: None for all), where it would fail in its own words."""
    if not isinstance(deciding_estimator(est), Composite) or isinstance(
            deciding_estimator(next_est), Composite):
        return
    out = out.toarray() if sp.issparse(out) else np.asarray(out, dtype=np.float64)
    holds = np.isnan(out).any(axis=1)
    if tested is not None:
        holds &= tested
    if not holds.any():
        return
    reason = nan_error(next_est, nan_sample(Z, None, holds, tested), fitted)
    if reason is None:
        return
    fused = "'predict_proba'" if is_classifier(est) else "'predict'"
    raise ValueError(
        f"{OWNER}: step {name!r} passes NaN on {int(holds.sum())} row(s) for its members "
        f"whose view is missing there (it passes each member's own output under "
        f"stack_method {asked!r}), and step "
        f"{next_name!r} ({class_name(next_est)}) does not take NaN "
        f"({reason}). Pass the level's fused output, renormalised over the members "
        f"present: stack_method={{{name!r}: {fused}}}.")


def refuse_nan(stack, X, fitted):
    """A stack's first step sees X as it is: NaN in its view needs a step that takes
    NaN (:func:`~skfuse._views.nan_error`, asked of the fitted step when ``fitted``), or
    a skfuse composite (whose members sit out the rows without their view)."""
    name, est = (stack.steps_ if fitted else stack._kept_steps())[0]
    if isinstance(est, Composite):
        return
    missing = missing_rows(X, stack._views_[0])
    if missing is None or not missing.some.any():
        return
    holds = missing.some
    reason = nan_error(est, nan_sample(X, stack._views_[0], holds), fitted)
    if reason is not None and np.ndim(X) == 1:  # one object per row
        raise ValueError(missing_text_refusal(OWNER, f"step {name!r}", est,
                                              int(holds.sum()), reason))
    if reason is not None:
        raise ValueError(nan_refusal(
            OWNER, f"step {name!r}", est, int(holds.sum()), "holds NaN", reason,
            "Or make it a FusionClassifier with views, to fuse missing modalities."))


def refuse_passed_nan(stack, X, fitted):
    """Later levels see the columns passed through as they are: NaN there needs steps
    that take NaN. At fit, a step whose tags do not say so is tried on a few rows of
    those columns (:func:`~skfuse._views.nan_error`); at predict, the steps that took
    them at fit (the names returned then) are trusted, the others refused on their
    tags. Returns the names of the later steps that took NaN in those columns."""
    if stack._passthrough_ is None:
        return set()
    missing = missing_rows(X, stack._passthrough_)
    if missing is None or not missing.some.any():
        return set() if not fitted else getattr(stack, "_passed_nan_", set())
    holds = missing.some
    took = set()
    for name, est in (stack.steps_ if fitted else stack._kept_steps())[1:]:
        if isinstance(est, Composite) or takes_nan(est) or (
                fitted and name in getattr(stack, "_passed_nan_", set())):
            took.add(name)
            continue
        if fitted:
            raise ValueError(
                f"{OWNER}: the columns passthrough hands on hold NaN on "
                f"{int(holds.sum())} row(s), and step {name!r} ({class_name(est)}) was "
                "fitted without NaN there and does not say (in its tags) that it takes "
                "them. Impute them first, or pass through only columns without NaN.")
        reason = nan_error(est, nan_sample(X, stack._passthrough_, holds))
        if reason is not None:
            raise ValueError(nan_refusal(
                OWNER, f"step {name!r}", est, int(holds.sum()),
                "(the columns passthrough hands it) holds NaN", reason,
                "Or pass through only columns without NaN."))
        took.add(name)
    return took


def _plan(stack, n_samples):
    return MemberJobs(OWNER, n_samples, n_jobs=stack.n_jobs, verbose=stack.verbose,
                      memory=stack.memory)


def _passthrough_columns(stack, X):
    if not stack._passes_columns():
        return None
    if isinstance(stack.passthrough, (bool, np.bool_)):  # a grid may hold NumPy's
        return np.arange(X.shape[1])
    return resolve_view(stack.passthrough, X, "passthrough",
                        getattr(stack, "feature_names_in_", None),
                        subject=f"{OWNER}: passthrough")


def _next_input(stack, out, X):
    if stack._passthrough_ is None:
        return out
    raw = take_view(X, stack._passthrough_)
    if sp.issparse(raw):
        return sp.hstack([sp.csr_matrix(out), raw], format="csr")
    raw = _as_array(raw)
    # Row-major, whatever the layout of out and raw (columns taken by fancy indexing
    # are column-major, and np.hstack would keep that): the next step's own check
    # (order="C") would copy it again.
    width = out.shape[1]
    Z = np.empty((out.shape[0], width + raw.shape[1]), dtype=np.result_type(out, raw))
    Z[:, :width] = out
    Z[:, width:] = raw
    return Z


def typed_output(stack, Z, X, given):
    """``transform``'s output ``Z`` for ``X`` (checked from ``given``); under
    ``set_output`` to a frame, with passed-through columns that are not all numbers,
    built column by column: the levels' outputs as floats, the passed-through columns
    in their own types, as ``ColumnTransformer`` passes them (from the object array
    ``Z`` the frame's every column would be of objects). A sparse ``Z`` for a sparse
    ``given`` takes its format (COO, CSC, CSR), as ``StackingClassifier`` returns it."""
    if sp.issparse(Z) and sp.issparse(given) and Z.format != given.format:
        return Z.asformat(given.format)
    container = _get_output_config("transform", stack)["dense"]
    if _is_dataframe(Z):  # a stack of one step hands on X's view
        if container not in ("pandas", "polars"):
            return _as_array(Z)
        # A new frame: without a view Z is the caller's X itself, and set_output's
        # wrapper renames the frame it gets in place (integer labels become "x0"...).
        return Z.copy()
    if container not in ("pandas", "polars") or Z.dtype != object:
        return Z
    raw = take_view(X, stack._passthrough_)
    if not _is_dataframe(raw):
        return Z
    names = [str(name) for name in stack.get_feature_names_out()]
    n_outputs = Z.shape[1] - raw.shape[1]
    outputs = Z[:, :n_outputs].astype(np.float64)
    if container == "pandas":
        import pandas as pd

        frame = pd.concat([pd.DataFrame(outputs, index=raw.index), raw], axis=1)
        frame.columns = names
        return frame
    import polars as pl

    if type(given).__module__.split(".")[0] == "polars":  # its columns as they came
        passed = given.select([given.columns[i] for i in stack._passthrough_])
    else:
        passed = _polars_frame(pl, raw)
    passed.columns = names[n_outputs:]
    return pl.concat([pl.DataFrame(dict(zip(names, outputs.T))), passed],
                     how="horizontal")


def _polars_frame(pl, frame):
    """A pandas frame as a polars one, its columns' types kept (``from_pandas``, which
    needs pyarrow; without it, each column from its values, missing ones as None)."""
    try:
        return pl.from_pandas(frame)
    except ImportError:
        return pl.DataFrame({str(name): column.astype(object).where(column.notna(), None)
                             .tolist() for name, column in frame.items()})


def _as_array(raw):
    """Passed-through columns as an array: a numeric frame's as floats, a frame with
    other columns (strings, categories) as objects; ``pd.NA`` as NaN either way."""
    if not _is_dataframe(raw):
        return np.asarray(raw)
    from pandas.api.types import is_numeric_dtype

    if all(is_numeric_dtype(dtype) for dtype in raw.dtypes):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan)
    return raw.to_numpy(dtype=object, na_value=np.nan)
