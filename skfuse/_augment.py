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

from ._gate import extreme_unit
from ._views import _is_dataframe, missing_objects

MUNGE_P = 0.5
MUNGE_S = 1.0
RESAMPLE_P = 0.25
DENSE_ONE_HOT_VALUES = 2**23  # 64 MiB of float64
METHODS = ("munge", "resample")
# augment="auto" grows MUNGE rows from at most this many rows: the nearest-neighbour
# search grows about as the square of the rows (1 s at 10,000 rows of 10 columns, 18 s
# at 50,000), and many real rows leave less between them for synthetic ones to fill.
AUTO_MAX_ROWS = 10_000


def column_kinds(X):
    """Each column's kind: ``"category"``, ``"integer"`` or ``"float"``.

    ``"category"``: a DataFrame column of category, object, string or bool dtype, or a
    column of a non-numeric array. ``"integer"``: an integer dtype, or a float column
    whose every non-NaN value is a whole number (codes, counts, 0/1 indicators after
    one-hot encoding). ``"float"``: the other numeric columns.
    """
    return _kinds_and_numbers(_table(X))[0]


def _table(X):
    """``X`` as a DataFrame or an array; an object array that holds numbers only as
    float64."""
    if _is_dataframe(X):
        return X
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (rows, columns); got {X.ndim}-D.")
    if X.dtype.kind == "O":
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError):
            pass
    return X


def _column(X, c):
    """Column ``c`` of a DataFrame or an array."""
    return X.iloc[:, c] if _is_dataframe(X) else X[:, c]


def _kinds_and_numbers(X):
    """Each column's kind (:func:`column_kinds`) and the numeric columns' values as
    float64, NaN where missing: transposed, one column per row (shape (n_numeric,
    n_samples)), so that a column's values lie together as the per-column draws and
    sums take them."""
    dtypes = X.dtypes if _is_dataframe(X) else [X.dtype] * X.shape[1]
    kinds = ["category" if getattr(t, "kind", "O") not in "iuf"
             else "integer" if t.kind in "iu" else "float" for t in dtypes]
    numeric_columns = [c for c, kind in enumerate(kinds) if kind != "category"]
    if not numeric_columns:
        return kinds, np.empty((0, X.shape[0]))
    if _is_dataframe(X):
        numbers = np.array([_floats(X.iloc[:, c]) for c in numeric_columns])
    elif len(numeric_columns) == X.shape[1]:
        numbers = np.ascontiguousarray(X.T, dtype=np.float64)
    else:
        numbers = np.ascontiguousarray(X[:, numeric_columns].T, dtype=np.float64)
    numbers = numbers.reshape(len(numeric_columns), X.shape[0])
    # A float column of whole numbers (NaN aside) is integer-coded.
    floats = [j for j, c in enumerate(numeric_columns) if kinds[c] == "float"]
    if floats:
        values = numbers[floats]
        whole = (np.isnan(values) | (values == np.round(values))).all(axis=1)
        for j in np.asarray(floats)[whole]:
            kinds[numeric_columns[j]] = "integer"
    return kinds, numbers


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
    # Missing as fit reads it (:func:`~skfuse._views.missing_rows`): None, a NaN of any
    # float type, and pandas' NA and NaT, which ``DataFrame.to_numpy()`` leaves in an
    # object array.
    missing = missing_objects(values)
    codes = np.full(len(values), -1)
    if (~missing).any():
        codes[~missing] = np.unique(values[~missing].astype(str), return_inverse=True)[1]
    return codes


def nearest_neighbours(X):
    """For each row, the index of its nearest other row (itself with a single row).

    Distances are taken on standardised numeric columns (a NaN at the column's mean)
    and one-hot categorical columns: sparse where the dense one-hot would hold more
    than ``DENSE_ONE_HOT_VALUES`` values (a column of ids or texts has a level per
    row), dense otherwise (searched faster, by a tree where the columns are few).
    """
    X = _table(X)
    return _neighbours(X, *_kinds_and_numbers(X))


def _neighbours(X, kinds, numbers):
    """:func:`nearest_neighbours` given the kinds and numbers of
    :func:`_kinds_and_numbers`."""
    n = X.shape[0]
    if n < 2:
        return np.zeros(n, dtype=int)
    # Standardised numeric columns; a column with no value carries no distance.
    kept = ~np.isnan(numbers).all(axis=1)
    values = numbers[kept]
    # A column beyond 1e100 in magnitude (or below 1e-100) is divided by its largest
    # magnitude first, as the gate's scaling does: its squares would overflow (an
    # infinite spread, so the column carried no distance) or vanish.
    unit = extreme_unit(np.nanmax(np.abs(values), axis=1, initial=0.0))
    if (unit != 1.0).any():
        values = values / unit[:, None]
    scale = np.nanstd(values, axis=1, keepdims=True)
    centred = (values - np.nanmean(values, axis=1, keepdims=True)) / np.where(
        scale > 0, scale, 1.0)
    centred = np.nan_to_num(centred, nan=0.0)
    row_of = np.cumsum(kept) - 1  # the j-th numeric column's row of centred
    codes = {c: _codes(_column(X, c)) for c, kind in enumerate(kinds) if kind == "category"}
    levels = sum(code.max() + 2 for code in codes.values())
    # The parts of the distance space in X's column order: each categorical column's
    # one-hot, and each run of numeric columns between them as one dense part.
    parts, run, j = [], [], 0
    for c, kind in enumerate(kinds):
        if kind != "category":
            if kept[j]:
                run.append(row_of[j])
            j += 1
            continue
        if run:
            parts.append(centred[run].T)
            run = []
        code = codes[c]
        one_hot = sp.csr_matrix((np.ones(n), (np.arange(n), code + 1)),
                                shape=(n, code.max() + 2))
        parts.append(one_hot if n * levels > DENSE_ONE_HOT_VALUES else one_hot.toarray())
    if run:
        parts.append(centred[run].T)
    if not parts:
        Z = np.zeros((n, 1))
    elif any(sp.issparse(part) for part in parts):
        Z = sp.hstack(parts, format="csr")
    else:
        Z = np.hstack(parts)
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
    table = _table(X)
    n, n_features = table.shape
    # Equal weights draw as no weights do (numpy draws otherwise when given p).
    weighted = sample_weight is not None and np.ptp(sample_weight) > 0
    p = sample_weight / sample_weight.sum() if weighted else None
    parents = rng.choice(n, size=n_rows, p=p)
    kinds, numbers = _kinds_and_numbers(table)
    if method == "munge":
        donors = np.broadcast_to(_neighbours(table, kinds, numbers)[parents][:, None],
                                 (n_rows, n_features))
        moves = rng.uniform(size=(n_rows, n_features)) < MUNGE_P
    else:
        donors = rng.choice(n, size=(n_rows, n_features), p=p)
        moves = rng.uniform(size=(n_rows, n_features)) < RESAMPLE_P
    rows = {}  # column -> the row each synthetic cell is read from (all but floats)
    for c, kind in enumerate(kinds):
        if kind == "category":
            # As for numbers: a missing value stays, and a move toward one is none.
            missing = _codes(_column(table, c)) < 0
            move = moves[:, c] & ~missing[parents] & ~missing[donors[:, c]]
            rows[c] = np.where(move, donors[:, c], parents)
    numeric_columns = np.array([c for c, kind in enumerate(kinds) if kind != "category"],
                               dtype=int)
    floats = {}
    # In blocks of columns (of about 2**20 cells), to bound the temporaries; the normal
    # draws come column after column, as one column at a time would draw them.
    step = max(1, 2**20 // max(n, n_rows, 1))
    for first in range(0, len(numeric_columns), step):
        block = numeric_columns[first:first + step]
        grown, taken = _grow_numbers(numbers[first:first + step], parents, donors[:, block].T,
                                     moves[:, block].T, [kinds[c] for c in block], method,
                                     rng)
        floats.update(zip(block[[kinds[c] == "float" for c in block]], grown))
        rows.update(zip(block[[kinds[c] == "integer" for c in block]], taken))
    return _assemble(X, n_rows, rows, floats), parents


def _grow_numbers(numbers, parents, donors, moves, kinds, method, rng):
    """The synthetic cells of numeric columns (``numbers``, one per row, as
    :func:`_kinds_and_numbers` gives them; ``donors`` and ``moves`` likewise, one row
    per column): the float columns' values, and the integer columns' rows (a row holding
    each cell's value), each in column order."""
    values = numbers[:, parents]
    other = np.take_along_axis(numbers, donors, axis=1)
    moves = moves & ~np.isnan(values) & ~np.isnan(other)
    if method == "resample":
        values = np.where(moves, other, values)
    else:
        spread = np.abs(values - other) / MUNGE_S
        drawn = rng.normal(np.where(moves, other, 0.0), np.where(moves, spread, 0.0))
        values = np.where(moves, drawn, values)
    del other
    # Within the observed range (a column with no value has bounds of +-inf). Compared,
    # not np.clip: with array bounds it returns the bound at a tie, so +0.0 at a
    # minimum of -0.0 came back as -0.0.
    observed = ~np.isnan(numbers)
    low = np.where(observed, numbers, np.inf).min(axis=1, initial=np.inf)[:, None]
    high = np.where(observed, numbers, -np.inf).max(axis=1, initial=-np.inf)[:, None]
    values = np.where(values < low, low, np.where(values > high, high, values))
    floats, rows = [], []
    for j, kind in enumerate(kinds):
        if kind == "float":
            floats.append(values[j])
            continue
        # Row indices, read back as categories are, so that integers beyond 2**53
        # (which float64 rounds) keep their values: a cell takes its parent's row, its
        # donor's, or (moved by munge) a row holding the value nearest to the one drawn.
        taken = np.where(moves[j], donors[j], parents)
        if method == "munge" and moves[j].any():
            levels, first = np.unique(numbers[j][observed[j]], return_index=True)
            holder = np.flatnonzero(observed[j])[first]
            taken[moves[j]] = holder[_nearest(values[j, moves[j]], levels)]
        rows.append(taken)
    return floats, rows


def _nearest(values, levels):
    """The index of the nearest of the sorted ``levels`` to each finite value (the
    lower of two equally near)."""
    if len(levels) == 1:
        return np.zeros(len(values), dtype=int)
    right = np.clip(np.searchsorted(levels, values), 1, len(levels) - 1)
    left = right - 1
    return np.where(values - levels[left] <= levels[right] - values, left, right)


def _assemble(X, n_rows, rows, floats):
    """The synthetic rows as ``X``'s type: ``rows`` maps a column to the row each cell
    is read from, ``floats`` the other columns to their values."""
    if _is_dataframe(X):
        import pandas as pd

        data = {}
        for c, name in enumerate(X.columns):
            source = X.iloc[:, c]
            if c in rows:
                data[name] = source.iloc[rows[c]].reset_index(drop=True)
            else:
                data[name] = pd.Series(floats[c]).astype(source.dtype)
        return pd.DataFrame(data, columns=X.columns)
    X = np.asarray(X)
    out = np.empty((n_rows, X.shape[1]), dtype=X.dtype)
    if floats:
        out[:, list(floats)] = np.array(list(floats.values())).T
    if rows:
        # take_rows per column, all at once: each cell is X[its row, its column].
        taken = list(rows)
        out[:, taken] = X[np.array(list(rows.values())).T, taken]
    return out
