"""A pyarrow Table reaches the members as a pandas DataFrame, with its column names, as
scikit-learn's own composites pass it on: a member that selects columns by name works
as on pandas (it saw a bare array: "Specifying the columns using strings is only
supported for dataframes")."""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from skfuse import (
    DistilledClassifier,
    FusionClassifier,
    MixtureOfExpertsClassifier,
    SerialStack,
)

pa = pytest.importorskip("pyarrow")


def _frames(n=120, seed=0):
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=["f0", "f1", "f2", "f3"])
    y = (frame["f0"] + frame["f1"] + 0.5 * rng.normal(size=n) > 0).astype(int).to_numpy()
    return pa.Table.from_pandas(frame, preserve_index=False), frame, y


def _by_name():
    scale = ColumnTransformer([("scale", StandardScaler(), ["f0", "f1"])])
    return make_pipeline(scale, LogisticRegression())


@pytest.mark.parametrize("make", [
    lambda: FusionClassifier([("lr", _by_name()), ("nb", GaussianNB())], weights="optimize",
                             random_state=0),
    lambda: FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                             views={"nb": ["f0", "f1"]}),
    lambda: SerialStack([("level", FusionClassifier([("nb", GaussianNB())],
                                                    views={"nb": ["f0", "f1"]})),
                         ("final", LogisticRegression())], cv=3),
    lambda: SerialStack([("lr", _by_name()), ("last", _by_name())], exit_threshold="auto",
                        random_state=0),
    lambda: MixtureOfExpertsClassifier(_by_name(), n_experts=2, random_state=0),
    lambda: DistilledClassifier(FusionClassifier([("lr", _by_name())]),
                                DecisionTreeClassifier(max_depth=3, random_state=0),
                                random_state=0),
], ids=["fusion", "views", "stack-of-views", "cascade", "mixture", "distilled"])
def test_arrow_predicts_as_pandas(make):
    table, frame, y = _frames()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "X does not have valid feature names" included
        on_arrow = make().fit(table, y)
        proba = on_arrow.predict_proba(table.slice(0, 20))
    on_pandas = make().fit(frame, y)
    assert list(on_arrow.feature_names_in_) == ["f0", "f1", "f2", "f3"]
    assert_allclose(proba, on_pandas.predict_proba(frame[:20]))


def test_a_record_batch_is_a_table_too():
    table, frame, y = _frames()
    fusion = FusionClassifier([("lr", _by_name())]).fit(table.to_batches()[0], y)
    assert_allclose(fusion.predict_proba(frame), FusionClassifier([("lr", _by_name())])
                    .fit(frame, y).predict_proba(frame))


def test_a_table_keeps_its_own_column_names():
    # pyarrow's to_pandas read the pandas metadata of a Table written from a frame with
    # columns 0, 1, 2, so its names '0', '1', '2' came back as integers: no names were
    # kept ("X has no column names"), and with a column added, pyarrow failed on it.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    table = pa.Table.from_pandas(pd.DataFrame(X))  # as a parquet file written by pandas
    assert table.column_names == ["0", "1", "2"]

    def fusion():
        return FusionClassifier([("a", LogisticRegression()), ("b", GaussianNB())],
                                views={"a": ["0", "1"], "b": ["2"]}, cv=3)
    fitted = fusion().fit(table, y)
    assert list(fitted.feature_names_in_) == ["0", "1", "2"]
    wider = table.append_column("d", pa.array(rng.normal(size=60)))
    assert list(fusion().fit(wider, y).feature_names_in_) == ["0", "1", "2", "d"]


def test_views_by_name_on_a_frame_without_string_names_say_why():
    frame = pd.DataFrame(np.random.RandomState(0).normal(size=(40, 3)))  # names 0, 1, 2
    y = (frame[0] > 0).astype(int)
    fusion = FusionClassifier([("a", LogisticRegression()), ("b", GaussianNB())],
                              views={"a": ["0"], "b": [1, 2]}, cv=3)
    with pytest.raises(ValueError, match=r"column names are not all strings.*astype\(str\)"):
        fusion.fit(frame, y)


def test_an_arrow_duration_column_is_not_taken_for_one_that_may_hold_inf():
    # The infinite-value check took every "number" column, Arrow durations included,
    # whose conversion to floats raised a bare IndexError in pandas: only float columns
    # can hold inf, and those are still checked, Arrow's too.
    _, frame, y = _frames()
    frame["wait"] = pd.array(pd.to_timedelta(np.arange(len(y)), unit="s"),
                             dtype=pd.ArrowDtype(pa.duration("us")))
    fusion = FusionClassifier([("lr", _by_name())])
    assert fusion.fit(frame, y).score(frame, y) == _by_name().fit(frame, y).score(frame, y)
    frame["f2"] = pd.array(np.r_[np.inf, np.zeros(len(y) - 1)], dtype=pd.ArrowDtype(pa.float64()))
    with pytest.raises(ValueError, match=r"infinite.*\['f2'\]|\['f2'\].*infinite"):
        fusion.fit(frame, y)
