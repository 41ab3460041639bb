"""Partitions: one copy of each member per data partition, fused by out-of-partition weights.

The partitioned counterpart of :mod:`skfuse._jobs`. A fusion with ``partitions`` splits
its rows into groups (the blocks of a Dask collection, grouped or not, or consecutive
ranges of in-memory rows), fits one clone of each member on each group, and asks each
fit about a small sample of rows drawn from every group. A sample row's
*out-of-partition* output is the mean output of the fits that did not see its group:
the fusion learns its weights from those, as it learns them from out-of-fold outputs.

On a Dask collection one task per group reads its blocks where they live (the Dask
scheduler places it) and fits every member on them in turn; only fitted members and
outputs on the sample come back: ``X`` is never gathered. In memory one task per
member and group runs through joblib (:func:`skfuse._tasks.run_fit_tasks`). Dask is
imported here only when ``X`` is a Dask collection.
"""

import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn import config_context, get_config
from sklearn.base import clone
from sklearn.exceptions import DataConversionWarning

from ._base import check_sample_weight, vote_counts
from ._compat import _get_output_config
from ._tasks import fit_task, run_fit_tasks, weight_params
from ._views import take_rows
from ._warnings import names_mismatch, names_warning_given, silenced

PARTITION_SAMPLE = 1000  # rows per partition that the other partitions' fits predict


def is_collection(X):
    """Whether ``X`` is a Dask array, DataFrame or Series (checked without importing
    Dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "__dask_graph__")


def _dask():
    try:
        import dask
        import dask.array
    except ImportError as exc:  # pragma: no cover - dask is in the test extra
        raise ImportError(
            "Dask collections need dask: pip install 'dask[array,dataframe]' "
            "distributed (or skfuse's dask extra)."
        ) from exc
    return dask


@dataclass
class Partitioned:
    """A fit's data split into partition groups.

    Attributes
    ----------
    X, y, w : list of list
        Per group, its blocks: Dask's (delayed objects), or one block of in-memory
        rows; ``w`` is None without sample weights.
    lengths : ndarray of int
        Rows in each group.
    lazy : bool
        Whether the groups are Dask blocks (delayed objects).
    """

    X: list
    y: list
    w: list
    lengths: np.ndarray
    lazy: bool
    block_lengths: list = None  # per group, its blocks' rows (Dask)
    names: list = None  # per group, its number in messages (X's block, with "blocks")

    def name(self, group):
        """How messages call ``group``: its block of ``X`` with ``partitions="blocks"``
        (empty blocks are left out, so the groups' numbers are not the blocks'), else
        its number from 1 and the count, as progress lines give it."""
        if self.names is None:
            return f"{group + 1} of {len(self.lengths)}"
        return self.names[group]


def one_column_as_1d(y):
    """A ``y`` of one column beside a Dask ``X`` (a Dask array or DataFrame, lazily, or
    in memory) as the 1-D ``y`` it holds, with scikit-learn's
    ``DataConversionWarning``, as a classifier reads such a ``y`` in memory; any other
    ``y`` as it is."""
    if len(np.shape(y)) != 2:
        return y
    warnings.warn(
        "y is a column (its shape is (n_samples, 1)); it is read as a 1-D y. Pass a 1-D "
        "y (a Dask array y[:, 0], or a Series) to silence this warning.",
        DataConversionWarning,
        stacklevel=6,  # here, _fit_partitioned, fit, atomic_fit, _fit_context, the caller
    )
    if not is_collection(y):
        return np.asarray(y)[:, 0]
    return y[:, 0] if hasattr(y, "chunks") else y.iloc[:, 0]


def split(X, y, sample_weight, partitions, owner):
    """Split ``X``, ``y`` and ``sample_weight`` into the groups ``partitions`` asks for.

    ``partitions`` is ``"blocks"`` (one group per block of a Dask collection) or an
    int ``n`` (``n`` groups of consecutive blocks, or of consecutive in-memory rows).
    """
    if not is_collection(X):
        if partitions == "blocks":
            kind = f"{type(X).__module__.split('.')[0]}.{type(X).__name__}"
            raise ValueError(
                f"{owner}: partitions='blocks' needs X to be a Dask collection; X is "
                f"in memory ({kind}). For in-memory X, give the number of partitions "
                "(an int). If you gave a Dask collection, it was computed into memory "
                "before it reached this fusion, by a composite around it (a "
                "SerialStack, a mixture, a distilled model, a partition of another "
                "fusion) or a Pipeline step before it: fit the partitioned fusion on "
                "the collection itself."
            )
        n = X.shape[0]
        if partitions > n:
            raise ValueError(
                f"{owner}: X has {n} sample(s), fewer than partitions={partitions}."
            )
        ranges = np.array_split(np.arange(n), partitions)
        y = np.asarray(y)
        return Partitioned(
            [[take_rows(X, r)] for r in ranges],
            [[y[r]] for r in ranges],
            None
            if sample_weight is None
            else [[np.asarray(sample_weight)[r]] for r in ranges],
            np.array([len(r) for r in ranges]),
            lazy=False,
        )
    dask = _dask()
    given = {"X": X, "y": y, "sample_weight": sample_weight}
    collections = {what: v for what, v in given.items() if is_collection(v)}
    for what, values in collections.items():
        _check_chunks(values, what, owner)
    # The blocks are known without reading them; their rows may not be.
    n_blocks = len(X.chunks[0]) if hasattr(X, "chunks") else X.npartitions
    if partitions != "blocks" and partitions > n_blocks:
        raise ValueError(
            f"{owner}: partitions={partitions} is more than the {n_blocks} blocks of "
            "X; rechunk (repartition) X into more blocks, or ask for fewer partitions."
        )
    sizes = dict(zip(collections, _row_counts(list(collections.values()), dask)))
    lengths = sizes["X"]
    X_blocks = _blocks(X)
    if sample_weight is not None and not is_collection(sample_weight):
        sample_weight = check_sample_weight(sample_weight, int(lengths.sum()))
    y_blocks = _aligned(y, lengths, sizes.get("y"), "y", owner, dask)
    w_blocks = (
        None
        if sample_weight is None
        else _aligned(sample_weight, lengths, sizes.get("sample_weight"), "sample_weight",
                      owner, dask)
    )
    # An empty block (a filtered frame's partition) has nothing to fit: left out, as
    # blockwise predict passes it by.
    filled = np.flatnonzero(lengths > 0)
    if len(filled) == 0:
        raise ValueError(f"{owner}: X has 0 samples (every block is empty).")
    if partitions == "blocks":
        groups = [[b] for b in filled]
    else:
        if partitions > len(filled):
            raise ValueError(
                f"{owner}: partitions={partitions} is more than the {len(filled)} "
                f"non-empty blocks of X (of {n_blocks}); repartition X, or ask for "
                "fewer partitions."
            )
        groups = [list(g) for g in np.array_split(filled, partitions)]
    return Partitioned(
        [[X_blocks[b] for b in g] for g in groups],
        [[y_blocks[b] for b in g] for g in groups],
        None if w_blocks is None else [[w_blocks[b] for b in g] for g in groups],
        np.array([sum(lengths[b] for b in g) for g in groups]),
        lazy=True,
        block_lengths=[[int(lengths[b]) for b in g] for g in groups],
        names=[int(b) for b in filled] if partitions == "blocks" else None,
    )


def _check_chunks(X, what, owner):
    """Refuse a Dask array that is not 1-D or 2-D, or whose row chunks are unknown."""
    if not hasattr(X, "chunks"):  # a DataFrame or Series: its rows are counted
        return
    if X.ndim not in (1, 2):
        raise ValueError(f"{owner}: {what} must be 1-D or 2-D, got {X.ndim}-D.")
    unknown = [b for b, size in enumerate(X.chunks[0]) if np.isnan(size)]
    if unknown:
        raise ValueError(
            f"{owner}: {what} has unknown chunk sizes (partition(s) {unknown[:5]}"
            f"{' ...' if len(unknown) > 5 else ''}), as boolean indexing leaves them; "
            f"call {what}.compute_chunk_sizes() first."
        )


def _row_counts(collections, dask):
    """The rows of each block of each Dask collection: an array's from its chunks, the
    DataFrames' and Series' counted in one ``compute`` (so a source they share, X and
    y taken from one frame, is read once)."""
    frames = [c for c in collections if not hasattr(c, "chunks")]
    counted = iter(compute(*[c.map_partitions(len) for c in frames]) if frames else ())
    return [np.array(c.chunks[0] if hasattr(c, "chunks") else next(counted), dtype=int)
            for c in collections]


def _blocks(X):
    """The row blocks of a Dask collection (delayed objects), with every column."""
    if hasattr(X, "chunks"):  # dask.array
        if X.ndim == 2 and len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})  # one block per row range, with every column
        return list(X.to_delayed().ravel())
    return list(X.to_delayed())


def _aligned(values, lengths, sizes, what, owner, dask):
    """The blocks of ``values`` (a Dask collection split like ``X``, its blocks'
    ``sizes``; or in memory)."""
    if not is_collection(values):
        values = np.asarray(values)
        if len(values) != lengths.sum():
            raise ValueError(
                f"{owner}: {what} has {len(values)} rows and X has {lengths.sum()}."
            )
        return [
            dask.delayed(part) for part in np.split(values, np.cumsum(lengths)[:-1])
        ]
    blocks = _blocks(values)
    if len(sizes) != len(lengths) or np.any(sizes != lengths):
        bad = next(
            (b for b, (s, n) in enumerate(zip(sizes, lengths)) if s != n),
            min(len(sizes), len(lengths)),
        )
        raise ValueError(
            f"{owner}: {what} is not partitioned like X (partition {bad} differs: "
            f"{len(sizes)} partitions of {what} for {len(lengths)} of X); split both "
            "the same way. Dask may merge the partitions of a column read on its own "
            "(from parquet, say): persist the frame (frame = frame.persist()) before "
            "taking X and y from it."
        )
    return blocks


def sample_positions(lengths, per_partition, rng):
    """Sorted positions of the sample rows within each group."""
    return [
        np.sort(rng.choice(n, size=min(per_partition, n), replace=False))
        for n in lengths
    ]


def _concat(blocks):
    """One group's blocks as one block (a NumPy array, or a pandas object)."""
    if len(blocks) == 1:
        return blocks[0]
    if hasattr(blocks[0], "iloc"):
        import pandas as pd

        return pd.concat(blocks)
    return np.concatenate(blocks)


def _group_summary(y_blocks, positions, x_blocks, w_blocks, classifier):
    """What a group sends back before the fits: its sample rows and its classes."""
    y = np.asarray(_concat(y_blocks))
    X = _concat(x_blocks)
    w = None if w_blocks is None else np.asarray(_concat(w_blocks))
    return (
        take_rows(X, positions),
        y[positions],
        None if w is None else w[positions],
        _distinct(y) if classifier else None,
    )


def _distinct(labels):
    """The distinct labels, sorted where they sort: labels that do not (text beside
    numbers, missing ones) are left for the composite's check of all the classes to
    name."""
    try:
        return np.unique(labels)
    except TypeError:
        return np.array(list(dict.fromkeys(labels.tolist())), dtype=object)


def summarise(parts, positions, classifier, owner):
    """Each group's sample rows (X, y, weights) and classes, computed where it lives."""
    calls = [
        (
            _group_summary,
            (
                parts.y[g],
                positions[g],
                parts.X[g],
                None if parts.w is None else parts.w[g],
                classifier,
            ),
        )
        for g in range(len(parts.lengths))
    ]
    return _run(calls, parts.lazy)


def _fit_on_group(
    estimator, X_blocks, y_blocks, w_blocks, sample, output, label, group, params=None
):
    """Fit a clone on one group; return it, its output on the sample, and its seconds
    per 1000 sample rows."""
    X, y = _concat(X_blocks), np.asarray(_concat(y_blocks))
    try:
        # Weights on a collection are first seen here, a group at a time.
        w = None if w_blocks is None else check_sample_weight(_concat(w_blocks), len(y))
        fitted, _, _ = fit_task(estimator, X, y, w, None, None, None, None, params)
        start = time.perf_counter()
        out = output(fitted, sample)
        seconds = time.perf_counter() - start
    except Exception as exc:
        raise _renamed(
            exc,
            f"{label} could not be fitted on partition {group} ({len(y)} rows), or "
            f"not asked about the sample once fitted: {exc}",
        ) from exc
    return fitted, out, 1000.0 * seconds / max(sample.shape[0], 1)


def _renamed(exc, message):
    """``exc``'s own kind of error with ``message`` (a ValueError if it cannot be)."""
    try:
        return type(exc)(message)
    except Exception:  # noqa: BLE001 - any constructor that does not take a message
        return ValueError(f"{message} ({type(exc).__name__})")


def _fit_all_on_group(members, X_blocks, y_blocks, w_blocks, sample, output, group):
    """:func:`_fit_on_group` for each ``(label, estimator)`` of ``members`` in turn."""
    return [
        _fit_on_group(est, X_blocks, y_blocks, w_blocks, sample, output, label, group)
        for label, est in members
    ]


def fit_groups(members, parts, sample, output, owner, n_jobs=None, verbose=0):
    """Fit each member on each group: per member, ``(fits, outputs, seconds)``.

    ``members`` is a list of ``(label, estimator)``; ``output(fitted, sample)`` is a
    fit's output on the sample rows.
    """
    n_groups = len(parts.lengths)
    calls, labels = [], []
    for label, est in members:
        for g in range(n_groups):
            calls.append(
                (
                    _fit_on_group,
                    (
                        est,
                        parts.X[g],
                        parts.y[g],
                        None if parts.w is None else parts.w[g],
                        sample,
                        output,
                        label,
                        parts.name(g),
                    ),
                )
            )
            labels.append(f"{label}, partition {g + 1} of {n_groups}")
    if parts.lazy:
        # One task per group fits every member, so that a worker reads each block
        # once and lets it go: tasks per member would hold every block until the
        # last member's turn.
        by_group = _run(
            [
                (
                    _fit_all_on_group,
                    (
                        members,
                        parts.X[g],
                        parts.y[g],
                        None if parts.w is None else parts.w[g],
                        sample,
                        output,
                        parts.name(g),
                    ),
                )
                for g in range(n_groups)
            ],
            True,
            shared=(sample,),
        )
        results = [by_group[g][m] for m in range(len(members)) for g in range(n_groups)]
    else:
        results = run_fit_tasks(calls, n_jobs, verbose, owner, labels)
    return [results[m * n_groups : (m + 1) * n_groups] for m in range(len(members))]


def _run(calls, lazy, shared=()):
    """Run ``(function, args)`` calls: as Dask tasks on a collection's blocks (one
    ``dask.compute``), else here, one after another."""
    if not lazy:
        return [function(*args) for function, args in calls]
    dask = _dask()
    keyed = {id(obj): dask.delayed(obj) for obj in shared}  # sent once, not per task
    config = get_config()  # Dask's threads and workers start from the defaults
    tasks = [
        dask.delayed(_configured, pure=True)(
            config, function, *[keyed.get(id(a), a) for a in args])
        for function, args in calls
    ]
    return list(compute(*tasks))


def _configured(config, function, *args):
    """``function(*args)`` under the caller's scikit-learn configuration ``config``
    (``set_config``, ``config_context``: thread-local, so not seen by a Dask scheduler's
    threads or workers), as scikit-learn's ``delayed`` carries it into joblib's tasks."""
    with config_context(**config):
        return function(*args)


def compute(*tasks):
    """``dask.compute``: the one place where partitioned results reach this process."""
    return _dask().compute(*tasks)


def stack_rows(pieces):
    """The sample rows of every group, one below the other."""
    if hasattr(pieces[0], "iloc"):
        import pandas as pd

        return pd.concat(pieces)
    if hasattr(pieces[0], "tocsr"):
        import scipy.sparse as sp

        return sp.vstack(pieces, format="csr")
    return np.concatenate(pieces)


def out_of_partition(outputs, groups, n_classes=None):
    """Each sample row's output by the fits of the other groups: their mean, or with
    ``n_classes`` (class indices, a hard vote) the class most of them give (the
    smallest on ties, as :class:`skfuse._jobs.FoldMean` predicts).

    ``outputs`` holds one fit's output on every sample row per group; ``groups`` is
    each sample row's group.
    """
    outputs = np.asarray(outputs)
    oop = np.empty(outputs.shape[1:], dtype=outputs.dtype if n_classes else np.float64)
    for g in range(len(outputs)):
        rows = groups == g
        others = outputs[np.delete(np.arange(len(outputs)), g)][:, rows]
        if n_classes is None:
            oop[rows] = others.astype(np.float64).mean(axis=0)
        else:
            oop[rows] = np.argmax(vote_counts(others, n_classes), axis=1)
    return oop


# -- members that take Dask collections ------------------------------------------------


def takes_collections(estimator):
    """Whether ``estimator`` is fitted on a Dask collection as it is: the estimators of
    ``xgboost.dask``, which distribute their own fit."""
    return type(estimator).__module__.split(".")[:2] == ["xgboost", "dask"]


def _drop_rows(block, positions, dtype):
    return np.delete(np.asarray(block, dtype=dtype), positions, axis=0)


def _without_sample(blocks, block_lengths, positions, width, dtype):
    """A Dask array of ``blocks`` less the sample rows (``positions`` in the group)."""
    import dask.array as da

    dask = _dask()
    pieces, start = [], 0
    for block, n in zip(blocks, block_lengths):
        local = positions[(positions >= start) & (positions < start + n)] - start
        pieces.append(
            da.from_delayed(
                dask.delayed(_drop_rows)(block, local, dtype),
                (n - len(local),) + width,
                dtype=dtype,
            )
        )
        start += n
    return pieces


def fit_on_collection(estimator, X, parts, positions, sample, output, label, owner):
    """Fit a collection-taking member once, on every row but the sample's, with its own
    Dask interface; return its in-memory copy, its output on the (held-out) sample and
    its seconds per 1000 sample rows."""
    import dask.array as da

    if not hasattr(X, "chunks"):
        raise TypeError(
            f"{owner}: {label} takes Dask collections; give X as a Dask "
            "array (a DataFrame is not supported for it yet)."
        )

    def rest(blocks_by_group, width, dtype):
        return da.concatenate(
            [
                piece
                for g, blocks in enumerate(blocks_by_group)
                for piece in _without_sample(
                    blocks, parts.block_lengths[g], positions[g], width, dtype
                )
            ]
        )

    X_rest = rest(parts.X, (X.shape[1],), X.dtype)
    y_rest = rest(parts.y, (), np.float64)
    w_rest = None if parts.w is None else rest(parts.w, (), np.float64)
    estimator = clone(estimator)
    try:
        estimator.fit(X_rest, y_rest, **weight_params(estimator, w_rest))
    except Exception as exc:
        raise _renamed(
            exc, f"{owner}: {label} could not be fitted on the collection: {exc}"
        ) from exc
    local = in_memory_copy(estimator)
    start = time.perf_counter()
    out = output(local, sample)
    seconds = time.perf_counter() - start
    return local, out, 1000.0 * seconds / max(sample.shape[0], 1)


def in_memory_copy(fitted):
    """The in-memory estimator that predicts as a fitted collection-taking member does:
    its booster loaded into xgboost's own scikit-learn estimator of the same kind."""
    import xgboost

    local = getattr(xgboost, type(fitted).__name__.removeprefix("Dask"))()
    local.load_model(bytearray(fitted.get_booster().save_raw("json")))
    return local


# -- blockwise prediction ------------------------------------------------------------


def _call(estimator, method, block, empty, names_warned):
    """``estimator.method(block)``; ``empty`` (the output of no row) for an empty block.
    ``names_warned``: the feature-names warning was given for the whole collection, so
    no block repeats it."""
    if block.shape[0] == 0:
        return empty
    if not names_warned:
        return getattr(estimator, method)(block)
    with names_warning_given():
        return getattr(estimator, method)(block)


def _first_rows(X):
    """The first row of a Dask DataFrame, reading its partitions in turn only until one
    holds a row (not every partition, as ``head(npartitions=-1)`` would)."""
    head = X._meta
    for i in range(X.npartitions):
        with silenced(UserWarning):  # "insufficient elements"
            head = X.partitions[i].head(1, npartitions=1)
        if len(head):
            break
    return head


def transform_collection(estimator, X):
    """``estimator.transform`` on a Dask collection (:func:`blockwise`), refused under a
    ``set_output`` container, which would gather the Dask array here as a frame."""
    container = _get_output_config("transform", estimator)["dense"]
    if container != "default":
        raise ValueError(
            f"{type(estimator).__name__}.transform on a Dask collection returns a Dask "
            f"array, computed where the data live; set_output(transform={container!r}) "
            "would gather it into this process as an in-memory frame. Call "
            "set_output(transform='default') for Dask input.")
    return blockwise(estimator, "transform", X)


def blockwise(estimator, method, X):
    """``estimator.method`` on each block of a Dask collection, as a Dask array.

    Each block is predicted where it lives; the fitted estimator is sent once per
    worker, and nothing of ``X`` reaches this process. A feature-names warning is the
    caller's to give, once: the blocks do not repeat it. A DataFrame's blocks keep their
    column names; the result's row-chunk sizes are unknown for a DataFrame (as with
    ``map_partitions``) and ``X``'s own for an array.
    """
    dask = _dask()
    import dask.array as da

    owner = type(estimator).__name__
    if hasattr(X, "chunks"):
        if X.ndim != 2:
            raise ValueError(f"{owner}: X must be 2-D (rows, features); got {X.ndim}-D.")
        _check_chunks(X, "X", owner)
        blocks, lengths = _blocks(X), X.chunks[0]
        head = X[:1].compute()
    else:
        blocks, lengths = list(X.to_delayed()), None
        head = _first_rows(X)
    if X.shape[1] is not None and len(head) == 0:
        raise ValueError(f"{owner}: X has 0 samples.")
    probe = np.asarray(getattr(estimator, method)(head))  # warns of names, if at all
    names_warned = names_mismatch(estimator, head)
    empty = np.empty((0, *probe.shape[1:]), dtype=probe.dtype)
    fitted = dask.delayed(estimator, pure=True)
    config = get_config()
    parts = [
        da.from_delayed(
            dask.delayed(_configured, pure=True)(config, _call, fitted, method, block,
                                                 empty, names_warned),
            shape=(np.nan if lengths is None else lengths[b],) + probe.shape[1:],
            dtype=probe.dtype,
        )
        for b, block in enumerate(blocks)
    ]
    return da.concatenate(parts, axis=0)
