"""A polars DataFrame reaches the members as a pandas one, with its column names, so a
member that selects columns by name works as on pandas (scikit-learn's own estimators
would otherwise see a bare array)."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from skfuse import DistilledClassifier, FusionClassifier, SerialStack

pl = pytest.importorskip("polars")


def _to_pandas(frame):
    """polars' own conversion, which needs pyarrow (skfuse's does not)."""
    pytest.importorskip("pyarrow")
    return frame.to_pandas()


def _frames(n=90, seed=0):
    rng = np.random.RandomState(seed)
    data = {"colour": rng.choice(["red", "green", "blue"], n).tolist(),
            "size": rng.normal(size=n).tolist()}
    y = ((np.array(data["colour"]) == "red") ^ (np.array(data["size"]) > 1)).astype(int)
    return pl.DataFrame(data), pd.DataFrame(data), y


def _by_name():
    encode = ColumnTransformer([("colour", OneHotEncoder(), ["colour"])], remainder="passthrough")
    return make_pipeline(encode, LogisticRegression())


class _Recorder(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.seen_ = (type(X), list(X.columns))
        self.frame_ = X
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 0.5)


@pytest.mark.parametrize("make", [
    lambda: FusionClassifier([("lr", _by_name()), ("tree", _by_name())], weights="optimize",
                             random_state=0),
    lambda: FusionClassifier([("lr", _by_name())], views={"lr": ["colour"]}),
    lambda: SerialStack([("lr", _by_name()), ("final", LogisticRegression())],
                        passthrough=["size"]),
    lambda: SerialStack([("lr", _by_name()), ("last", _by_name())], exit_threshold="auto",
                        random_state=0),
    lambda: DistilledClassifier(FusionClassifier([("lr", _by_name())]),
                                make_pipeline(ColumnTransformer(
                                    [("colour", OneHotEncoder(), ["colour"])],
                                    remainder="passthrough"), DecisionTreeClassifier(
                                        max_depth=3, random_state=0)), random_state=0),
], ids=["fusion", "views", "stack", "cascade", "distilled"])
def test_polars_predicts_as_pandas(make):
    polars_X, pandas_X, y = _frames()
    on_polars = make().fit(polars_X, y)
    on_pandas = make().fit(pandas_X, y)
    assert list(on_polars.feature_names_in_) == ["colour", "size"]
    assert_allclose(on_polars.predict_proba(polars_X[:20]), on_pandas.predict_proba(pandas_X[:20]))


def test_members_get_a_pandas_frame_with_the_polars_names():
    polars_X, _, y = _frames(30)
    fusion = FusionClassifier([("rec", _Recorder())]).fit(polars_X, y)
    assert fusion.named_estimators_["rec"].seen_ == (pd.DataFrame, ["colour", "size"])


def test_columns_arrive_as_pandas_would_hold_them():
    from datetime import datetime

    n = 30
    frame = pl.DataFrame({
        "kind": pl.Series(["p", "q", None] * (n // 3), dtype=pl.Categorical),
        "size": pl.Series(["s", "m", "l"] * (n // 3), dtype=pl.Enum(["s", "m", "l"])),
        "when": pl.Series([datetime(2020, 1, 1, 9)] * n, dtype=pl.Datetime("us", "Europe/Paris")),
        "count": pl.Series([1, None, 3] * (n // 3), dtype=pl.Int64),
    })
    y = np.arange(n) % 2
    seen = FusionClassifier([("rec", _Recorder())]).fit(frame, y)
    member_frame = seen.named_estimators_["rec"].frame_
    expected = _to_pandas(frame)
    assert member_frame["kind"].dtype == "category"
    assert list(member_frame["kind"].cat.categories) == ["p", "q"]
    # An Enum's order is kept (polars' own to_pandas drops it before about 1.40).
    assert member_frame["size"].dtype == pd.CategoricalDtype(["s", "m", "l"], ordered=True)
    assert member_frame["when"].iloc[0] == expected["when"].iloc[0]
    assert str(member_frame["when"].dt.tz) == "Europe/Paris"
    assert member_frame["count"].isna().sum() == n // 3


def test_categories_reach_a_member_that_reads_them_from_the_dtype():
    rng = np.random.RandomState(0)
    frame = pl.DataFrame({"a": rng.normal(size=120),
                          "k": pl.Series(rng.choice(["p", "q", "r"], 120).tolist(),
                                         dtype=pl.Categorical)})
    y = ((frame["k"] == "p").to_numpy() ^ (frame["a"].to_numpy() > 1)).astype(int)
    booster = [("hgb", HistGradientBoostingClassifier(categorical_features="from_dtype",
                                                      max_iter=20, random_state=0))]
    on_polars = FusionClassifier(booster).fit(frame, y)
    on_pandas = FusionClassifier(booster).fit(_to_pandas(frame), y)
    assert_allclose(on_polars.predict_proba(frame), on_pandas.predict_proba(_to_pandas(frame)))


def test_a_lazy_frame_is_refused_with_what_to_do():
    polars_X, _, y = _frames(30)
    with pytest.raises(TypeError, match="polars LazyFrame; collect it first"):
        FusionClassifier([("lr", _by_name())]).fit(polars_X.lazy(), y)


def test_the_routing_display_takes_polars():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from sklearn.linear_model import Ridge

    from skfuse import MixtureOfExpertsRegressor
    from skfuse.plotting import ExpertRoutingDisplay

    rng = np.random.RandomState(0)
    frame = pl.DataFrame({"a": rng.normal(size=100), "b": rng.normal(size=100)})
    mixture = MixtureOfExpertsRegressor([("e1", Ridge()), ("e2", Ridge())], max_iter=5,
                                        random_state=0).fit(frame, np.abs(frame["a"].to_numpy()))
    on_polars = ExpertRoutingDisplay.from_estimator(mixture, frame, features=("a", "b"),
                                                    grid_resolution=5)
    on_pandas = ExpertRoutingDisplay.from_estimator(mixture, _to_pandas(frame),
                                                    features=("a", "b"), grid_resolution=5)
    assert_allclose(on_polars.expert, on_pandas.expert)


def _mixed_frame(n=90, seed=0):
    rng = np.random.RandomState(seed)
    size = rng.normal(size=n)
    frame = pd.DataFrame({
        "size": size, "colour": rng.choice(["red", "green"], n),
        "flag": rng.rand(n) > 0.5,
        "count": pd.array(np.where(np.arange(n) % 9 == 0, None, np.arange(n)), "Int64"),
        "kind": pd.Categorical(rng.choice(["a", "b"], n))})
    return frame, (size > 0).astype(int)


@pytest.mark.parametrize("given, container", [
    ("pandas", "pandas"), ("pandas", "polars"), ("polars", "polars"),
    ("pandas", "polars without pyarrow"), ("polars", "polars without pyarrow")])
def test_a_stacks_frame_output_keeps_passed_columns_in_their_types(given, container,
                                                                    monkeypatch):
    # The levels' outputs and text columns passed through were one object array, so
    # every column of the frame was of objects (polars' Object: no expression, no
    # parquet), where ColumnTransformer keeps floats, strings, booleans, integers.
    frame, y = _mixed_frame()
    if "polars" in (given, container):  # (pl.from_pandas; without it, the last case)
        pytest.importorskip("pyarrow")
    X = frame if given == "pandas" else pl.from_pandas(frame)
    if container == "polars without pyarrow":
        def no_pyarrow(*args, **kwargs):
            raise ImportError("pyarrow is needed")
        monkeypatch.setattr(pl, "from_pandas", no_pyarrow)
    first = make_pipeline(ColumnTransformer([("size", "passthrough", ["size"])]),
                          LogisticRegression())
    final = make_pipeline(ColumnTransformer([("text", OneHotEncoder(), [1, 4])]),
                          LogisticRegression())
    stack = SerialStack([("lr", first), ("final", final)],
                        passthrough=["colour", "flag", "count", "kind"])
    Z = stack.set_output(transform=container.split()[0]).fit(X, y).transform(X)
    plain = stack.set_output(transform="default").transform(X)
    names = ["serialstack_lr", "colour", "flag", "count", "kind"]
    assert list(Z.columns) == names
    if container == "pandas":
        assert [str(Z[name].dtype) for name in names] == [
            "float64", str(frame["colour"].dtype), "bool", "Int64", "category"]
        assert Z["count"].isna().sum() == frame["count"].isna().sum()
    else:
        kind = pl.String if container.endswith("pyarrow") and given == "pandas" else pl.Categorical
        assert [dtype.base_type() for dtype in Z.dtypes] == [
            pl.Float64, pl.String, pl.Boolean, pl.Int64, kind]
        assert Z["count"].null_count() == frame["count"].isna().sum()
        Z = Z.to_dict(as_series=False)
    assert_allclose(np.asarray(Z["serialstack_lr"], dtype=float), plain[:, 0].astype(float))
    assert list(Z["colour"]) == list(frame["colour"])
