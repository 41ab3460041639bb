"""Views: the columns of ``X`` that one member sees.

A view is given per member as column names, integer positions, a slice, a boolean mask,
or a callable (such as :func:`sklearn.compose.make_column_selector`) that takes ``X`` and
returns one of those. Views are resolved once, in ``fit``, to integer positions; ``predict``
reuses the positions, which stay valid because the feature names are checked to match.
"""

import contextlib
import numbers
import re
from collections import Counter
from typing import NamedTuple

import numpy as np
from sklearn import config_context
from sklearn.base import clone, is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags

from ._compat import InvalidParameterError
from ._warnings import silenced


def _is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "iloc")


def pandas_frame(X):
    """A polars DataFrame or a pyarrow Table (or RecordBatch) as a pandas DataFrame, so
    that members get named columns as from pandas (a polars frame is built column by
    column, without pyarrow); anything else, or such a frame without pandas
    installed, comes back as it is. A polars LazyFrame is refused."""
    package = type(X).__module__.split(".")[0]
    if package == "pyarrow" and hasattr(X, "column_names") and hasattr(X, "to_pandas"):
        try:  # the Table's own column names (pandas metadata would make '0' an int 0)
            return X.to_pandas(ignore_metadata=True)
        except ImportError:
            return X
    if package != "polars":
        return X
    if not hasattr(X, "get_column"):
        if type(X).__name__ == "LazyFrame":
            raise TypeError("X is a polars LazyFrame; collect it first (X.collect()).")
        return X
    try:
        import pandas as pd
    except ImportError:
        return X
    return pd.DataFrame({name: _pandas_column(X.get_column(name), pd) for name in X.columns},
                        index=pd.RangeIndex(X.height))


def _pandas_column(column, pd):
    """A polars column's values as pandas holds them: categories (an Enum's in its order)
    as a ``category`` column, zoned datetimes with their zone, anything else as NumPy."""
    import polars as pl

    dtype = column.dtype
    if isinstance(dtype, pl.Enum):
        return pd.Categorical(column.to_numpy(), categories=list(dtype.categories),
                              ordered=True)
    if isinstance(dtype, pl.Categorical):
        return pd.Categorical(column.to_numpy())
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        utc = column.dt.convert_time_zone("UTC").dt.replace_time_zone(None).to_numpy()
        return pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(dtype.time_zone)
    return column.to_numpy()


def resolve_view(view, X, member, feature_names=None, *, subject=None, role="member"):
    """Return the integer column positions of ``view`` in ``X``.

    Parameters
    ----------
    view : str, int, slice, array-like of str, int or bool, or callable
        The columns the member sees.
    X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
        The input the view selects from.
    member : str
        The member's name, used in error messages.
    feature_names : ndarray of str, default=None
        Column names of ``X`` (``feature_names_in_``), if it has any.
    subject : str, default=None
        What error messages call the view, when it is not a member's
        (``"SerialStack: passthrough"``); by default "The view of <role> <member>".
    role : str, default="member"
        What the composite calls its parts ("member", "step", "expert").

    Returns
    -------
    positions : ndarray of int
        The selected columns, in the order the view gives them.
    """
    if subject is None:
        subject = f"The view of {role} {member!r}"
    n_features = X.shape[1]
    if callable(view):
        view = view(X)
    if isinstance(view, slice):
        positions = np.arange(n_features)[_positional(view, X, feature_names, subject)]
    else:
        if np.ndim(view) == 0 and hasattr(view, "item"):  # a 0-d array: one entry
            view = view.item()
        if isinstance(view, (str, numbers.Integral)):
            view = [view]
        elif not hasattr(view, "__iter__"):
            raise InvalidParameterError(
                f"{subject} must be columns: a name, a position, a slice, names, "
                f"positions or booleans, or a callable that gives them; got {view!r}.")
        items = np.asarray(list(view), dtype=object)
        if items.size == 0:
            raise ValueError(f"{subject} selects no column.")
        kinds = {_kind(v) for v in items}
        if len(kinds) != 1 or None in kinds:
            shown = list(items[:10]) + (["..."] if items.size > 10 else [])
            raise ValueError(
                f"{subject} must hold only column names, only integer positions or "
                f"only booleans; got {len(items)} entries: {shown!r} (a callable view "
                "gives the columns to select, not the data)."
            )
        kind = kinds.pop()
        if kind == "bool":
            if items.size != n_features:
                raise ValueError(
                    f"{subject} (booleans) has {items.size} entries; "
                    f"X has {n_features} columns."
                )
            positions = np.flatnonzero(items.astype(bool))
        elif kind == "int":
            positions = items.astype(np.intp)
            bad = positions[(positions < -n_features) | (positions >= n_features)]
            if bad.size:
                raise ValueError(
                    f"{subject} names column position(s) "
                    f"{bad.tolist()}, but X has {n_features} columns."
                )
            positions = positions % n_features
        else:
            if feature_names is None:
                raise ValueError(f"{subject} names columns {list(items)!r}, but "
                                 f"{_no_column_names(X)}")
            lookup = _column_lookup(feature_names, items, subject)
            missing = [name for name in items if name not in lookup]
            if missing:
                raise ValueError(
                    f"{subject} names column(s) {missing!r} that "
                    "are not in X."
                )
            positions = np.array([lookup[name] for name in items], dtype=np.intp)
    if positions.size == 0:
        raise ValueError(f"{subject} selects no column.")
    return positions


def _no_column_names(X):
    """Why ``X`` has no column names for a view to name, and what to do."""
    if _is_dataframe(X):
        return ("X's column names are not all strings, so none is kept as a name (as "
                "in scikit-learn): make them strings (X.columns = X.columns.astype(str)) "
                "or use integer positions.")
    return "X has no column names: pass a DataFrame or use integer positions."


def _column_lookup(feature_names, named, subject):
    """``{name: position}`` of X's columns, refusing a name in ``named`` that several
    columns share (it would stand for the last of them alone)."""
    lookup = {name: i for i, name in enumerate(feature_names)}
    if len(lookup) < len(feature_names):
        counts = Counter(list(feature_names))
        shared = [name for name in dict.fromkeys(named) if counts.get(name, 0) > 1]
        if shared:
            raise ValueError(f"{subject} names column(s) {shared!r}, which several "
                             "columns of X share; give the columns unique names.")
    return lookup


def _positional(view, X, feature_names, subject):
    """A slice of positions; one of column names becomes one, its end included (as in
    ``ColumnTransformer`` and pandas' ``.loc``)."""
    ends = [end for end in (view.start, view.stop) if end is not None]
    kinds = {_kind(end) for end in ends}
    if kinds <= {"int"} and _kind(view.step) in ("int", None):
        return view
    if kinds != {"str"} or not (view.step is None or _kind(view.step) == "int"):
        raise ValueError(f"{subject} is {view!r}: a slice's ends must be both column "
                         "names or both integer positions, and its step an integer.")
    if feature_names is None:
        raise ValueError(f"{subject} is a slice of column names, {view!r}, but "
                         f"{_no_column_names(X)}")
    lookup = _column_lookup(feature_names, ends, subject)
    missing = [end for end in ends if end not in lookup]
    if missing:
        raise ValueError(f"{subject} names column(s) {missing!r} that are not in X.")
    start = None if view.start is None else lookup[view.start]
    stop = None
    if view.stop is not None:  # one past the named end, in the slice's direction
        stop = lookup[view.stop] + (1 if (view.step or 1) > 0 else -1)
        stop = None if stop < 0 else stop
    return slice(start, stop, view.step)


def _kind(value):
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, str):
        return "str"
    return None


def _all_in_order(indices, n):
    """Whether ``indices`` are the integers ``0 .. n - 1`` in order: all of an axis, as
    it is (a boolean mask ``[False, True]`` compares equal to ``[0, 1]``)."""
    indices = np.asarray(indices)
    return (indices.dtype.kind in "iu" and len(indices) == n
            and np.array_equal(indices, np.arange(n)))


def intersect_positions(a, b):
    """``np.intersect1d(a, b)`` for arrays of row positions (sorted, unique), from
    masks: linear in the rows, where ``intersect1d`` sorts both (a second, at 200,000
    rows, for each fold of a cascade's step)."""
    return _combined_positions(a, b, np.logical_and, np.intersect1d)


def union_positions(a, b):
    """``np.union1d(a, b)`` for arrays of row positions, as :func:`intersect_positions`."""
    return _combined_positions(a, b, np.logical_or, np.union1d)


def _combined_positions(a, b, combine, by_sorting):
    """``by_sorting(a, b)`` from masks of ``a`` and ``b`` joined by ``combine``; sorted
    where they are not non-negative integers, or are few positions far out (a mask as
    long as the largest would cost more than the sort)."""
    a, b = np.asarray(a), np.asarray(b)
    if not all(v.dtype.kind in "iu" and np.min(v, initial=0) >= 0 for v in (a, b)):
        return by_sorting(a, b)
    size = 1 + max(int(np.max(a, initial=0)), int(np.max(b, initial=0)))
    if size > 8 * (a.size + b.size) + 1024:
        return by_sorting(a, b)
    in_a, in_b = np.zeros(size, dtype=bool), np.zeros(size, dtype=bool)
    in_a[a] = True
    in_b[b] = True
    return np.flatnonzero(combine(in_a, in_b)).astype(np.result_type(a, b), copy=False)


def take_view(X, positions):
    """Return the columns ``positions`` of ``X``; ``None`` means every column, as do
    positions that are every column in order (``X`` itself, not a copy)."""
    shape = getattr(X, "shape", ())
    if positions is None or (len(shape) == 2 and _all_in_order(positions, shape[1])):
        return X
    if _is_dataframe(X):
        return X.iloc[:, positions]
    return X[:, positions]


def take_rows(X, rows, copy=True):
    """Return the rows ``rows`` (integer positions) of ``X``, a DataFrame, a Series, an
    array, or a list or a tuple (as a list of its items, each as it is, as scikit-learn
    takes them); with ``copy=False``, ``X`` itself when ``rows`` are all its rows in
    order."""
    listed = isinstance(X, (list, tuple))
    n_rows = len(X) if listed else X.shape[0]
    if not copy and _all_in_order(rows, n_rows):
        return X
    if listed:
        return [X[i] for i in rows]
    if hasattr(X, "iloc"):  # pandas: by position, whatever the index holds
        return X.iloc[rows]
    return X[rows]


def concat_rows(first, *rest):
    """The rows of ``first``, then those of each of ``rest`` (DataFrames, or dense
    arrays)."""
    if _is_dataframe(first):
        import pandas as pd

        return pd.concat([first, *rest], ignore_index=True)
    return np.concatenate([np.asarray(first), *rest])


def check_views(views, names, owner, role="member"):
    """Check that ``views`` is None or a dict keyed by the names of the composite's
    parts (``role``: "member", "step", "expert"); ``owner`` names the composite in
    errors."""
    if views is None:
        return {}
    if not isinstance(views, dict):
        raise TypeError(
            f"{owner}: views must be a dict from {role} name to columns; got "
            f"{type(views).__name__}."
        )
    unknown = sorted(set(views) - set(names))
    if unknown:
        raise ValueError(
            f"{owner}: views names {role}(s) {unknown!r} that are not among "
            f"{list(names)!r}."
        )
    return views


class MissingRows(NamedTuple):
    """Rows of a view that miss some entry, and those that miss every entry."""

    some: np.ndarray
    every: np.ndarray


def missing_rows(X, positions):
    """Which rows of the view ``positions`` of ``X`` miss some entry, and which miss
    every entry (:class:`MissingRows`, bool arrays of shape (n,)), or None when nothing
    can be missing (integer input).

    Missing means NaN, or None (or NaN, or pandas' ``NA``) in an object column; in a
    sparse matrix, a stored NaN (an entry not stored is a 0), counted row by row without
    densifying the view.
    """
    view = take_view(X, positions)
    n = view.shape[0]
    if hasattr(view, "toarray"):
        if view.dtype.kind not in "fc":
            return None
        counts = _stored_nan_counts(view)
        return MissingRows(counts > 0, counts == view.shape[1])
    if _is_dataframe(view):
        missing = view.isna().to_numpy()
    else:
        values = np.asarray(view).reshape(n, -1)
        if values.dtype.kind in "fc":
            missing = np.isnan(values)
        elif values.dtype.kind == "O":
            missing = missing_objects(values)
        else:
            return None
    return MissingRows(missing.any(axis=1), missing.all(axis=1))


def _stored_nan_counts(matrix):
    """The NaN entries stored in each row of a sparse matrix (duplicates summed first;
    a copy is made only for that, or to convert the format)."""
    csr = matrix.tocsr()
    nan = np.isnan(csr.data)
    if not nan.any():  # the common case: no copy, no counting
        return np.zeros(csr.shape[0], dtype=np.intp)
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
        nan = np.isnan(csr.data)
    rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
    return np.bincount(rows[nan], minlength=csr.shape[0])


def rows_present(X, positions):
    """True for each row of ``X`` where the view ``positions`` holds at least one value."""
    missing = missing_rows(X, positions)
    if missing is None:
        return np.ones(X.shape[0], dtype=bool)
    return ~missing.every


def nan_rows(values):
    """Which rows of a float array or sparse matrix hold a NaN, as a bool mask."""
    if hasattr(values, "toarray"):
        return _stored_nan_counts(values) > 0
    return np.isnan(values).reshape(values.shape[0], -1).any(axis=1)


def missing_objects(values):
    """Which entries of an object array are missing (:func:`_is_missing_value`)."""
    with np.errstate(invalid="ignore"):  # NaN's comparison with itself is the test
        return np.frompyfunc(_is_missing_value, 1, 1)(values).astype(bool)


def _is_missing_value(value):
    """None, a float NaN, or pandas' ``NA`` and ``NaT`` (found by type: pandas is
    optional)."""
    if value is None or (isinstance(value, (float, np.floating)) and value != value):
        return True
    kind = type(value)
    return (kind.__name__ in ("NAType", "NaTType")
            and kind.__module__.partition(".")[0] == "pandas")


def refuse_rows_without_any(present, owner, kind, prior=None):
    """Refuse rows where no ``kind`` (member, step, expert) has its view (``present``:
    (n_kinds, n) bool, or None); ``prior``: what ``missing="prior"`` predicts there, for
    a composite that offers it."""
    none = 0 if present is None else int((~present.any(axis=0)).sum())
    if none:
        advice = "" if prior is None else f"; pass missing='prior' to predict {prior} there"
        raise ValueError(f"{owner}: {none} row(s) of X have no {kind} present (every "
                         f"{kind}'s view is missing there){advice}.")


def takes_nan(estimator):
    """Whether ``estimator`` declares that it takes NaN in ``X``.

    Its tags say so, or it is a ``Pipeline`` whose steps take NaN up to one that
    removes it (an imputer of ``sklearn.impute``), or all of them: a scaler takes NaN
    only to hand it on, so a scaler before a logistic regression does not. A
    ``ColumnTransformer`` takes NaN when each transformer (and the remainder) does
    ("drop" and "passthrough" do). scikit-learn's own tags say False for such a
    pipeline whatever its steps. Composites' tags use this; whether a member is refused
    on NaN is decided by :func:`nan_error`.
    """
    if get_tags(estimator).input_tags.allow_nan and not isinstance(
            estimator, (Pipeline, ColumnTransformer)):
        return True
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps:
            if step is None or step == "passthrough":
                continue
            if not takes_nan(step):
                return False
            if _removes_nan(step):
                return True
        return True  # every step takes NaN (the last one included)
    if isinstance(estimator, ColumnTransformer):
        return all(part in ("drop", "passthrough") or takes_nan(part)
                   for part in _column_parts(estimator))
    return False


def _column_parts(transformer):
    return [part for _, part, _ in transformer.transformers] + [transformer.remainder]


def _removes_nan(step):
    """Whether ``step`` leaves no NaN in its output: an imputer (or missing-value
    indicator) of ``sklearn.impute``, a pipeline of steps of which one does, or a
    ``ColumnTransformer`` whose every part does or drops its columns."""
    if isinstance(step, Pipeline):
        return any(part not in (None, "passthrough") and _removes_nan(part)
                   for _, part in step.steps)
    if isinstance(step, ColumnTransformer):
        return all(part == "drop" or (part != "passthrough" and _removes_nan(part))
                   for part in _column_parts(step))
    return type(step).__module__.startswith("sklearn.impute")


def nan_error(estimator, X, fitted=False):
    """The error ``estimator`` raises on the NaN in ``X``, or None when it takes them.

    ``X`` is a few rows of the estimator's view, some holding NaN (:func:`nan_sample`).
    Tags that say the estimator takes NaN are trusted. Anything else is tried, since
    tags may be conservative and a pipeline's first step may hand NaN on to the next: a
    clone is fitted on ``X`` (labels made up: two alternating classes for a classifier,
    a ramp otherwise) and asked to ``predict`` (or ``transform``) ``X``; a ``fitted`` or
    frozen estimator is only asked. Only an error that names NaN (or None, or pandas'
    NA; for one object per row, a float where a text was expected: a vectorizer's
    ``'float' object has no attribute 'lower'``) counts, as its first line; any other is
    left to the real fit.
    """
    if get_tags(estimator).input_tags.allow_nan:
        return None
    probe = estimator if fitted else clone(estimator)
    # A fitted estimator is asked as predict will ask it, its warnings shown: silencing
    # them would hide other threads' warnings under concurrent predicts. Asked with
    # scikit-learn's finite checks on: under assume_finite=True an estimator that
    # cannot take NaN raises nothing, and would be fitted on them.
    try:
        with (contextlib.nullcontext() if fitted else silenced(),
              config_context(assume_finite=False)):
            if probe is not estimator:  # a frozen estimator's clone is itself: not fitted
                n = X.shape[0]
                y = np.arange(n) % 2 if is_classifier(probe) else np.arange(n, dtype=float)
                probe.fit(X, y)
            method = next((m for m in ("predict", "transform") if hasattr(probe, m)), None)
            if method is not None:
                getattr(probe, method)(X)
    except Exception as exc:  # noqa: BLE001 - judged by what it names
        text = str(exc).strip()
        names = r"\bnan\b|NoneType|NAType" + (r"|'float' object" if np.ndim(X) == 1 else "")
        if re.search(names, text, re.IGNORECASE):
            return text.splitlines()[0]
    return None


def nan_sample(X, positions, holds_nan, usable=None):
    """What :func:`nan_error` tries: the view ``positions`` of the first 10 rows of ``X``
    that hold NaN (bool mask ``holds_nan``) and of the first 10 ``usable`` ones without
    (None: every row), in order, so that no column of the sample is wholly missing when
    ``X`` has complete rows."""
    clean = ~holds_nan if usable is None else usable & ~holds_nan
    rows = np.sort(np.concatenate([np.flatnonzero(holds_nan)[:10],
                                   np.flatnonzero(clean)[:10]]))
    return take_rows(take_view(X, positions), rows)


def class_name(estimator):
    """The class name errors give: a member bagged over its fold fits
    (:class:`~skfuse._jobs.FoldMean`, which says so through ``member_class_name``; it
    lives in a module that imports this one) is named by theirs."""
    return getattr(estimator, "member_class_name", type(estimator).__name__)


_WAYS_ON = ("Impute inside the estimator (a Pipeline with SimpleImputer first), or use "
            "one that takes NaN (HistGradientBoostingClassifier/Regressor).")


_WAYS_ON_ROWS = ("Map the missing entries to a value inside the estimator (a Pipeline "
                 'with a FunctionTransformer first: "" for a missing text, {} for a '
                 "missing dict).")


def nan_refusal(owner, label, estimator, count, where, reason, hint="",
                subject="its view", ways=_WAYS_ON):
    """The message for an estimator that does not take NaN where its view (``subject``:
    what it is given) holds some: what was tried, and the ``ways`` on (and ``hint``),
    unless the error it raised (a composite's inside) gave them already."""
    ways_on = "".join(f" {text}" for text in (ways, hint) if text and text not in reason)
    return (
        f"{owner}: {label} ({class_name(estimator)}) does not accept NaN, and "
        f"{subject} {where} on {count} row(s); tried on a few of them, it raised: "
        f"{reason.rstrip('.')}.{ways_on}"
    )


def missing_text_refusal(owner, label, estimator, count, reason):
    """:func:`nan_refusal` for one object per row (1-D ``X``: texts, dicts), where no
    imputer and no view applies."""
    return nan_refusal(owner, label, estimator, count, "is missing (None or NaN)", reason,
                       ways=_WAYS_ON_ROWS, subject="its text")


def view_present(X, view, estimator, label, owner, fitted=False):
    """Rows of ``X`` where the ``view`` of ``estimator`` is present (not wholly missing).

    A row is a missing modality only when its whole view is missing, and only for an
    estimator given a view: without one (``view`` None) it is asked about every row, as
    in scikit-learn. NaN on a row it is asked about is refused when ``estimator`` does
    not take NaN (:func:`nan_error`, tried on a few such rows); ``label`` names it
    (``"member 'a'"``) in the error.
    """
    missing = missing_rows(X, view)
    if missing is None:
        return np.ones(X.shape[0], dtype=bool)
    some, every = missing.some, missing.every
    present = np.ones(X.shape[0], dtype=bool) if view is None else ~every
    partial = present & some
    if partial.any():
        reason = nan_error(estimator, nan_sample(X, view, partial, present), fitted)
        if reason is not None:
            wholly = every[partial].any()  # only possible without a view
            if np.ndim(X) == 1:  # one object per row
                raise ValueError(missing_text_refusal(owner, label, estimator,
                                                      int(partial.sum()), reason))
            raise ValueError(nan_refusal(
                owner, label, estimator, int(partial.sum()),
                "is missing (NaN)" if wholly else "is partly missing (NaN)", reason,
                "Without a view, every row is passed to it (give it a view to treat rows "
                "where its columns are all missing as a missing modality)." if wholly else
                "A row is a missing modality only when its whole view is missing."))
    return present


def presence(X, views, estimators, labels, owner, fitted=False):
    """Which members have their view on each row of ``X``.

    Returns a bool array of shape (n_members, n_samples), members first as in the
    stacked member outputs, or None when every member has its view on every row.
    ``views`` holds each member's column positions (None: all columns); ``labels``
    name the members in errors (``"member 'a'"``); ``fitted``: the estimators are
    fitted (at predict time), so :func:`nan_error` only asks them. ``estimators`` may
    be a function that returns them, called only when ``X`` may hold NaN.
    """
    if isinstance(X, np.ndarray) and X.dtype.kind in "fc" and not np.isnan(X).any():
        return None  # nothing missing: skip the per-member checks
    if callable(estimators):
        estimators = estimators()
    present = np.stack([view_present(X, view, est, label, owner, fitted)
                        for view, est, label in zip(views, estimators, labels)])
    return None if present.all() else present
