"""Predict on a plain array: a composite fitted on an unnamed NumPy array takes a numeric
one of the same width at predict without scikit-learn's ``validate_data`` (most of the
cost of a one-row call), with the same outputs and the same refusals."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification, make_regression

from skfuse import _base, _distill
from skfuse._base import member_proba
from skfuse._cascade import top_class_proba

from composites import is_classifier, make

NAMES = ["fusion-soft-optimize", "fusion-hard-fixed", "fusion-regressor-fixed",
         "stack", "stack-regressor-passthrough", "cascade-three-all",
         "mixture-regressor-short", "mixture-classifier-short", "distilled-classifier",
         "distilled-regressor"]


def data(name):
    if is_classifier(name):
        return make_classification(n_samples=120, n_features=6, n_informative=4,
                                   n_classes=3, random_state=0)
    return make_regression(n_samples=120, n_features=6, noise=1.0, random_state=0)


def outputs(est, X):
    methods = ["predict", "predict_proba", "transform", "predict_route"]
    return {m: getattr(est, m)(X) for m in methods if hasattr(est, m)}


def counting(monkeypatch):
    """Count the calls of ``validate_data`` made by skfuse's composites."""
    calls = []
    for module in (_base, _distill):
        original = module.validate_data

        def counted(*args, original=original, **kwargs):
            calls.append(args[1])
            return original(*args, **kwargs)

        monkeypatch.setattr(module, "validate_data", counted)
    return calls


@pytest.mark.parametrize("name", NAMES)
def test_a_plain_array_skips_the_check_and_predicts_as_a_list_does(name, monkeypatch):
    X, y = data(name)
    est = make(name).fit(X, y)
    calls = counting(monkeypatch)
    fast = outputs(est, X[:7])
    assert calls == []
    for dtype in (np.float32, np.int64):  # other numeric dtypes take the same path
        outputs(est, X[:7].astype(dtype))
    assert calls == []
    slow = outputs(est, X[:7].tolist())  # a list goes through validate_data
    assert calls
    for method, out in fast.items():
        np.testing.assert_array_equal(out, slow[method], err_msg=method)


@pytest.mark.parametrize("name", NAMES)
def test_a_plain_array_keeps_every_refusal(name):
    X, y = data(name)
    est = make(name).fit(X, y)
    with pytest.raises(ValueError, match=r"X has 5 features, but \w+ is expecting 6"):
        est.predict(X[:3, :5])
    with pytest.raises(ValueError, match="0 sample"):
        est.predict(X[:0])
    inf = X[:3].copy()
    inf[1, 2] = np.inf
    with pytest.raises(ValueError, match="infinite|infinity") as fast:
        est.predict(inf)
    with pytest.raises(ValueError) as slow:
        est.predict(inf.tolist())
    assert str(fast.value) == str(slow.value)
    nan = X[:3].copy()
    nan[1, 2] = np.nan
    try:  # whether NaN passes is the members' call, the same for an array and a list
        expected = est.predict(nan.tolist())
    except ValueError as exc:
        with pytest.raises(ValueError) as refused:
            est.predict(nan)
        assert str(refused.value) == str(exc)
    else:
        np.testing.assert_array_equal(est.predict(nan), expected)


@pytest.mark.parametrize("name", ["fusion-soft-optimize", "stack", "distilled-regressor"])
def test_fitted_on_a_frame_an_array_still_gets_scikit_learns_warning(name):
    X, y = data(name)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    est = make(name).fit(frame, y)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.predict(X[:3])


class StoredProba(ClassifierMixin, BaseEstimator):
    """Gives back the same float32 array at every call."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.table_ = np.full((len(X), len(self.classes_)), 1 / len(self.classes_),
                              dtype=np.float32)
        return self

    def predict_proba(self, X):
        return self.table_[: len(X)]


def test_member_proba_of_a_member_with_every_class_is_a_new_float_array():
    X, y = np.zeros((6, 1)), np.array([0, 1, 2, 0, 1, 2])
    member = StoredProba().fit(X, y)
    out = member_proba(member, X, np.array([0, 1, 2]))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, member.table_)
    out[:] = 7.0
    assert np.all(member.table_ < 1)  # the member's own array is untouched
    # A member that knows fewer classes has its columns placed, 0 for the others.
    known = StoredProba().fit(X[:4], np.array([0, 2, 0, 2]))
    out = member_proba(known, X[:4], np.array([0, 1, 2]))
    np.testing.assert_array_equal(out, [[0.5, 0.0, 0.5]] * 4)


@pytest.mark.parametrize("n_classes", [2, 3, 16, 17, 40])
def test_top_class_proba_is_the_row_maximum(n_classes):
    rng = np.random.default_rng(n_classes)
    proba = rng.dirichlet(np.ones(n_classes), size=(3, 50))
    proba[1, 4] = np.nan  # a step without the row's view
    np.testing.assert_array_equal(top_class_proba(proba), proba.max(axis=-1))
    np.testing.assert_array_equal(top_class_proba(proba[0]), proba[0].max(axis=1))
