"""Synthetic rows near the training rows, for a teacher to label (distillation).

Two ways, each row grown from a *parent* row drawn in proportion to its sample weight:

- ``"munge"`` (Bucilă, Caruana and Niculescu-Mizil, 2006): each column, with chance
  ``MUNGE_P``, moves to a value drawn around the same column of the parent's nearest
  neighbour: a normal with that value as its mean and ``|parent - neighbour| / MUNGE_S``
  as its spread; a categorical column takes the neighbour's value.
- ``"resample"``: each column, with chance ``RESAMPLE_P``, takes that column's value in
  another row (drawn like parents), so every value is one seen in its column.

Columns keep their kind (:func:`column_kinds`): a categorical one takes only values seen
in it, an integer-coded one only values seen in it (a moved value snaps to the nearest),
a float one stays within its observed range. Both keep the parent's missing values as
they are: NaN stays where the parent has it, and a move toward a NaN is no move, so a
synthetic row misses what its parent misses (a view, a modality) and nothing else.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from ._views import _is_dataframe, take_rows

MUNGE_P = 0.5
MUNGE_S = 1.0
RESAMPLE_P = 0.25
DENSE_ONE_HOT_VALUES = 2**23  # 64 MiB of float64
METHODS = ("munge", "resample")


def column_kinds(X):
    """Each column's kind: ``"category"``, ``"integer"`` or ``"float"``.

    ``"category"``: a DataFrame column of category, object, string or bool dtype, or a
    column of a non-numeric array. ``"integer"``: an integer dtype, or a float column
    whose every non-NaN value is a whole number (codes, counts, 0/1 indicators after
    one-hot encoding). ``"float"``: the other numeric columns.
    """
    return [_kind(col) for col in _columns(X)]


def _columns(X):
    if _is_dataframe(X):
        return [X.iloc[:, c] for c in range(X.shape[1])]
    X = np.asarray(X)
    if X.dtype.kind == "O":  # an object array may still hold numbers only
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError):
            pass
    return [X[:, c] for c in range(X.shape[1])]


def _kind(col):
    if getattr(col.dtype, "kind", "O") not in "iuf":  # category, object, string, bool
        return "category"
    if col.dtype.kind in "iu":
        return "integer"
    values = _floats(col)
    values = values[~np.isnan(values)]
    return "integer" if np.array_equal(values, np.round(values)) else "float"


def _floats(col):
    """A numeric column as float64, NaN where missing (pandas' NA included)."""
    if hasattr(col, "to_numpy"):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(col, dtype=np.float64)


def _codes(col):
    """A categorical column as integer codes, -1 where missing (for distances)."""
    if hasattr(col, "iloc"):
        import pandas as pd

        return np.asarray(pd.factorize(col)[0])
    values = np.asarray(col, dtype=object)
    missing = np.array([v is None or (isinstance(v, float) and np.isnan(v))
                        for v in values], dtype=bool)
    codes = np.full(len(values), -1)
    if (~missing).any():
        codes[~missing] = np.unique(values[~missing].astype(str), return_inverse=True)[1]
    return codes


def nearest_neighbours(X, kinds=None):
    """For each row, the index of its nearest other row (itself with a single row).

    Distances are taken on standardised numeric columns (a NaN at the column's mean)
    and one-hot categorical columns: sparse where the dense one-hot would hold more
    than ``DENSE_ONE_HOT_VALUES`` values (a column of ids or texts has a level per
    row), dense otherwise (searched faster, by a tree where the columns are few).
    """
    kinds = column_kinds(X) if kinds is None else kinds
    columns = _columns(X)
    codes = [_codes(col) if kind == "category" else None
             for col, kind in zip(columns, kinds)]
    levels = sum(c.max() + 2 for c in codes if c is not None)
    parts = []
    for col, kind, code in zip(columns, kinds, codes):
        if kind == "category":
            n = len(code)
            one_hot = sp.csr_matrix((np.ones(n), (np.arange(n), code + 1)),
                                    shape=(n, code.max() + 2))
            parts.append(one_hot if n * levels > DENSE_ONE_HOT_VALUES else one_hot.toarray())
        else:
            values = _floats(col)
            if np.isnan(values).all():
                continue
            scale = np.nanstd(values)
            centred = (values - np.nanmean(values)) / (scale if scale > 0 else 1.0)
            parts.append(np.nan_to_num(centred, nan=0.0)[:, None])
    n = X.shape[0]
    if not parts:
        Z = np.zeros((n, 1))
    elif any(sp.issparse(part) for part in parts):
        Z = sp.hstack(parts, format="csr")
    else:
        Z = np.hstack(parts)
    if n < 2:
        return np.zeros(n, dtype=int)
    _, index = NearestNeighbors(n_neighbors=2).fit(Z).kneighbors(Z)
    own = np.arange(n)
    # A duplicate of a row may come back first: take whichever of the two is not it.
    return np.where(index[:, 0] != own, index[:, 0], index[:, 1])


def synthetic_row_weight(sample_weight):
    """The ``sample_weight`` of each synthetic row: the mean weight of the rows of
    positive weight, the rows that grow them (a row of weight 0 counts for nothing)."""
    return sample_weight[sample_weight > 0].mean()


def augment(X, n_rows, method, rng, sample_weight=None):
    """``n_rows`` synthetic rows grown from rows of ``X``.

    Parameters
    ----------
    X : ndarray or DataFrame of shape (n_samples, n_features)
        Dense training input.
    n_rows : int
    method : {"munge", "resample"}
    rng : numpy.random.RandomState
    sample_weight : ndarray or None
        Parents and resampled values are drawn in proportion to it.

    Returns
    -------
    X_new : ndarray or DataFrame of shape (n_rows, n_features)
        Of the type, dtypes (categories included) and column names of ``X``.
    parents : ndarray of int of shape (n_rows,)
        The row each synthetic row was grown from.
    """
    if hasattr(X, "tocsr"):
        raise TypeError("augment needs dense X; got a sparse matrix.")
    n, n_features = X.shape
    # Equal weights draw as no weights do (numpy draws otherwise when given p).
    weighted = sample_weight is not None and np.ptp(sample_weight) > 0
    p = sample_weight / sample_weight.sum() if weighted else None
    parents = rng.choice(n, size=n_rows, p=p)
    kinds = column_kinds(X)
    if method == "munge":
        donors = np.repeat(nearest_neighbours(X, kinds)[parents][:, None], n_features, axis=1)
        moves = rng.uniform(size=(n_rows, n_features)) < MUNGE_P
    else:
        donors = rng.choice(n, size=(n_rows, n_features), p=p)
        moves = rng.uniform(size=(n_rows, n_features)) < RESAMPLE_P
    columns = []
    for c, (col, kind) in enumerate(zip(_columns(X), kinds)):
        own, donor, move = parents, donors[:, c], moves[:, c]
        if kind == "category":
            # As for numbers: a missing value stays, and a move toward one is none.
            missing = _codes(col) < 0
            move = move & ~missing[own] & ~missing[donor]
            columns.append(np.where(move, donor, own))  # row indices, read back below
            continue
        values = _floats(col)
        new, other = values[own], values[donor]
        move &= ~np.isnan(new) & ~np.isnan(other)
        if method == "resample":
            new = np.where(move, other, new)
        else:
            spread = np.abs(new - other) / MUNGE_S
            drawn = rng.normal(np.where(move, other, 0.0), np.where(move, spread, 0.0))
            new = np.where(move, drawn, new)
        observed = ~np.isnan(values)
        if observed.any():
            new = np.clip(new, values[observed].min(), values[observed].max())
        if kind == "integer":
            # Row indices, read back below as categories are, so that integers beyond
            # 2**53 (which float64 rounds) keep their values: a cell takes its
            # parent's row, its donor's, or (moved by munge) a row holding the value
            # nearest to the one drawn.
            rows = np.where(move, donor, own)
            if method == "munge" and move.any():
                levels, first = np.unique(values[observed], return_index=True)
                holder = np.flatnonzero(observed)[first]
                rows[move] = holder[_nearest(new[move], levels)]
            new = rows
        columns.append(new)
    return _assemble(X, kinds, columns), parents


def _nearest(values, levels):
    """The index of the nearest of the sorted ``levels`` to each finite value (the
    lower of two equally near)."""
    if len(levels) == 1:
        return np.zeros(len(values), dtype=int)
    right = np.clip(np.searchsorted(levels, values), 1, len(levels) - 1)
    left = right - 1
    return np.where(values - levels[left] <= levels[right] - values, left, right)


def _assemble(X, kinds, columns):
    """The synthetic columns (row indices for categorical and integer ones) as
    ``X``'s type."""
    if _is_dataframe(X):
        import pandas as pd

        data = {}
        for c, (name, kind, new) in enumerate(zip(X.columns, kinds, columns)):
            source = X.iloc[:, c]
            if kind != "float":
                data[name] = source.iloc[new].reset_index(drop=True)
            else:
                data[name] = pd.Series(new).astype(source.dtype)
        return pd.DataFrame(data, columns=X.columns)
    X = np.asarray(X)
    out = np.empty((len(columns[0]), X.shape[1]), dtype=X.dtype)
    for c, (kind, new) in enumerate(zip(kinds, columns)):
        out[:, c] = new if kind == "float" else take_rows(X[:, c], new)
    return out
