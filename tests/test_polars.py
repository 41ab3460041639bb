"""A polars DataFrame reaches the members as a pandas one, with its column names, so a
member that selects columns by name works as on pandas (scikit-learn's own estimators
would otherwise see a bare array)."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from skfuse import DistilledClassifier, FusionClassifier, SerialStack

pl = pytest.importorskip("polars")


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
