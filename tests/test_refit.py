"""A fit is all or nothing (``atomic_fit`` in ``_base.py``): it replaces every trace of
the earlier fit, or it raises and leaves the earlier fit as it was, never half of each."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn import config_context
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.validation import check_is_fitted

from skfuse import (
    DistilledClassifier,
    FusionClassifier,
    FusionRegressor,
    MixtureOfExpertsClassifier,
    SerialStack,
)
from skfuse._compat import InvalidParameterError

from composites import is_classifier, make, names

rng = np.random.default_rng(0)
X6 = rng.normal(size=(160, 6))
X4 = rng.normal(size=(120, 4))
FRAME = pd.DataFrame(X6, columns=[f"c{i}" for i in range(6)])


def labels(X, k):
    """``k`` classes of about equal size, by the sum of the first two columns."""
    score = X[:, 0] + X[:, 1]
    return np.digitize(score, np.quantile(score, np.linspace(0, 1, k + 1)[1:-1]))


class Failing:
    """A member whose ``fit`` raises when ``fail``."""

    def fit(self, X, y, sample_weight=None):
        if self.fail:
            raise RuntimeError("this member failed")
        return super().fit(X, y, sample_weight=sample_weight)


class FailingLR(Failing, LogisticRegression):
    def __init__(self, fail=False, max_iter=200):
        self.fail = fail
        super().__init__(max_iter=max_iter)


class FailingRidge(Failing, Ridge):
    def __init__(self, fail=False, alpha=1.0):
        self.fail = fail
        super().__init__(alpha=alpha)


def fitted_state(estimator):
    return fitted_state_of(vars(estimator))


def fitted_state_of(attributes):
    return sorted(key for key in attributes if key.endswith("_"))


# Each: the composite, the parameter that makes its refit fail in a member's fit.
FAILING = {
    "fusion": (lambda: FusionClassifier([("lr", FailingLR()), ("nb", GaussianNB())],
                                        weights="optimize", cv=3, random_state=0),
               {"lr__fail": True}),
    "stack": (lambda: SerialStack([("lr", FailingLR()), ("final", GaussianNB())], cv=3,
                                  random_state=0), {"lr__fail": True}),
    "cascade": (lambda: SerialStack([("lr", FailingLR()), ("tree", DecisionTreeClassifier(
        max_depth=3, random_state=0))], exit_threshold=0.8, cv=3, random_state=0),
        {"lr__fail": True}),
    "mixture": (lambda: MixtureOfExpertsClassifier(FailingLR(), n_experts=2, max_iter=3,
                                                   random_state=0), {"experts__fail": True}),
    "distilled": (lambda: DistilledClassifier(
        FailingLR(), DecisionTreeClassifier(max_depth=3, random_state=0), cv=3,
        random_state=0), {"teacher__fail": True}),
}


@pytest.mark.parametrize("name", FAILING)
def test_a_refit_that_raises_in_a_member_leaves_the_earlier_fit_as_it_was(name):
    make_failing, fail = FAILING[name]
    estimator = make_failing().fit(FRAME, labels(X6, 2))
    state, before = vars(estimator).copy(), estimator.predict_proba(FRAME)
    estimator.set_params(**fail)
    with pytest.raises(RuntimeError, match="this member failed"):
        estimator.fit(X4, labels(X4, 3))  # another width, one more class
    # Never the earlier members under the new classes (an all-zero column for class 2).
    assert fitted_state(estimator) == fitted_state_of(state)
    assert all(vars(estimator)[key] is state[key] for key in fitted_state_of(state))
    assert_allclose(estimator.predict_proba(FRAME), before)


def test_a_first_fit_that_raises_leaves_the_estimator_unfitted():
    make_failing, fail = FAILING["fusion"]
    fusion = make_failing().set_params(**fail)
    with pytest.raises(RuntimeError, match="this member failed"):
        fusion.fit(X6, labels(X6, 2))
    assert fitted_state(fusion) == []
    with pytest.raises(NotFittedError):
        check_is_fitted(fusion)


def test_a_regressor_refit_on_another_output_count_that_raises_predicts_as_before():
    # It used to keep the earlier members and reshape their outputs to the new count:
    # 160 rows gave an (80, 2) prediction.
    y = X6[:, 0] + X6[:, 1]
    fusion = FusionRegressor([("ridge", FailingRidge()), ("tree", DecisionTreeRegressor(
        max_depth=3, random_state=0))], weights="optimize", cv=3, random_state=0)
    before = fusion.fit(X6, y).predict(X6)
    fusion.set_params(ridge__fail=True)
    with pytest.raises(RuntimeError, match="this member failed"):
        fusion.fit(X6, np.c_[y, -y])
    assert_allclose(fusion.predict(X6), before)
    fusion.set_params(ridge__fail=False)
    assert fusion.fit(X6, np.c_[y, -y]).predict(X6).shape == (160, 2)


@pytest.mark.parametrize("params, y, error", [
    ({"cv": -1}, labels(X4, 2), InvalidParameterError),  # refused before the fit begins
    ({}, np.zeros(len(X4)), ValueError),  # one class: refused once X is read
], ids=["parameter", "target"])
def test_a_refused_refit_leaves_the_earlier_fit_as_it_was(params, y, error):
    fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                              weights="optimize", cv=3, random_state=0).fit(X6, labels(X6, 3))
    before, state = fusion.predict_proba(X6), fitted_state(fusion)
    fusion.set_params(**params)
    with pytest.raises(error):
        fusion.fit(X4, y)
    assert fitted_state(fusion) == state and fusion.n_features_in_ == 6
    assert_allclose(fusion.predict_proba(X6), before)


@pytest.mark.parametrize("name", names(data="array", neural=False))
def test_a_refit_holds_what_a_fresh_fit_holds(name):
    """Fitted on a named frame of six columns, then on an array of four (with other
    classes): the same fitted attributes and outputs as a fresh fit on the array."""
    k1, k2 = (3, 2) if is_classifier(name) else (None, None)
    y1 = labels(X6, k1) if k1 else X6[:, 0] - X6[:, 2]
    y2 = labels(X4, k2) if k2 else X4[:, 1] + X4[:, 3]
    refitted = make(name).fit(FRAME, y1).fit(X4, y2)
    fresh = make(name).fit(X4, y2)
    assert fitted_state(refitted) == fitted_state(fresh)
    assert not hasattr(refitted, "feature_names_in_")
    assert refitted.n_features_in_ == 4
    assert_allclose(refitted.predict(X4), fresh.predict(X4))


# Each: a composite, then the settings of its refit; the refit must hold what a fresh
# fit with those settings holds (no attribute only the first settings set).
SWITCHES = {
    "learned weights, then fixed": (lambda: FusionClassifier(
        [("lr", LogisticRegression()), ("nb", GaussianNB())], weights="optimize", cv=3,
        random_state=0), {"weights": [1, 2]}),
    "cascade, then stack": (lambda: SerialStack(
        [("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(max_depth=3,
                                                                       random_state=0))],
        exit_threshold=0.8, cv=3, random_state=0), {"exit_threshold": None}),
    "partitions, then none": (lambda: FusionClassifier(
        [("lr", LogisticRegression()), ("nb", GaussianNB())], partitions=2,
        random_state=0), {"partitions": None}),
}


@pytest.mark.parametrize("name", SWITCHES)
def test_a_refit_with_other_settings_holds_what_a_fresh_fit_holds(name):
    make_first, switch = SWITCHES[name]
    y = labels(X6, 2)
    refitted = make_first().fit(X6, y).set_params(**switch).fit(X6, y)
    fresh = make_first().set_params(**switch).fit(X6, y)
    assert fitted_state(refitted) == fitted_state(fresh)
    assert_allclose(refitted.predict_proba(X6), fresh.predict_proba(X6))


def test_a_refit_keeps_the_output_container_and_the_metadata_requests():
    with config_context(enable_metadata_routing=True):
        fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())])
        assert fusion.get_metadata_routing().consumes("fit", ["sample_weight"]) == set()
        fusion.set_output(transform="pandas").set_fit_request(sample_weight=True)
        fusion.fit(FRAME, labels(X6, 2)).fit(FRAME, labels(X6, 3))
        assert isinstance(fusion.transform(FRAME), pd.DataFrame)
        assert fusion.get_metadata_routing().consumes("fit", ["sample_weight"]) == {
            "sample_weight"}


def test_a_neural_mixture_refit_that_raises_predicts_as_before():
    pytest.importorskip("torch")  # skfuse.torch raises ImportError without them, which
    pytest.importorskip("skorch")  # pytest 9 no longer takes for a missing module
    torch_mixture = pytest.importorskip("skfuse.torch")
    mixture = torch_mixture.NeuralMixtureOfExpertsRegressor(
        n_experts=2, max_epochs=2, device="cpu", random_state=0).fit(X6, X6[:, 0])
    before = mixture.predict(X6)
    mixture.set_params(hidden_units=(8, 0))  # a layer of no units: refused after X is read
    with pytest.raises(ValueError, match="hidden_units"):
        mixture.fit(X4, X4[:, 0])
    assert mixture.n_features_in_ == 6
    assert_allclose(mixture.predict(X6), before)


def test_a_net_refit_on_skorch_input_forgets_the_columns_of_an_earlier_fit():
    torch = pytest.importorskip("torch")
    pytest.importorskip("skorch")
    skfuse_torch = pytest.importorskip("skfuse.torch")

    class Linear(torch.nn.Module):  # skorch passes a dict's entries by name
        def __init__(self, n_in=4):
            super().__init__()
            self.layer = torch.nn.Linear(n_in, 1)

        def forward(self, X):
            return self.layer(X)

    def net(n_in):
        return skfuse_torch.NetRegressor(Linear, module__n_in=n_in, max_epochs=2,
                                         train_split=None, random_state=0)

    X, y = X4.astype(np.float32), X4[:, 0].astype(np.float32)
    refitted = net(6).fit(FRAME.astype(np.float32), X6[:, 0].astype(np.float32))
    refitted.set_params(module__n_in=4).fit({"X": X}, y)
    assert not hasattr(refitted, "n_features_in_")
    assert not hasattr(refitted, "feature_names_in_")
    assert_allclose(refitted.predict(X), net(4).fit({"X": X}, y).predict(X))
