"""Mixtures of experts: EM, sparse routing at predict time, errors and integration."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.datasets import load_iris
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import get_tags

from skfuse import (
    FusionRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
)
from skfuse._compat import InvalidParameterError

from composites import NaNRidge


def piecewise(n=600, seed=0):
    """Three linear regimes along x0; x1 is noise."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, size=(n, 2))
    y = np.select([X[:, 0] < -1, X[:, 0] < 1], [-2 * X[:, 0] - 4, 3 * X[:, 0]],
                  0.5 * X[:, 0] + 2.5) + rng.normal(0, 0.1, n)
    return X, y


def hand_mixture(moe, X, output, k):
    """The routed mixture by hand: every expert on every row, keep each row's top k."""
    gate = moe.predict_gate(X)
    top = np.argsort(-gate, axis=1, kind="stable")[:, :k]
    share = np.take_along_axis(gate, top, axis=1)
    share /= share.sum(axis=1, keepdims=True)
    outputs = np.stack([output(expert, X) for expert in moe.experts_], axis=1)
    picked = outputs[np.arange(len(X))[:, None], top]
    if picked.ndim == 2:
        return (share * picked).sum(axis=1)
    return (share[:, :, None] * picked).sum(axis=1)


@pytest.mark.parametrize("top_k", [None, 1, 2])
def test_regressor_predict_is_the_routed_mixture(top_k):
    X, y = piecewise()
    moe = MixtureOfExpertsRegressor(n_experts=3, top_k=top_k, random_state=0).fit(X, y)
    k = 3 if top_k is None else top_k
    np.testing.assert_allclose(moe.predict(X), hand_mixture(moe, X, _predict, k),
                               rtol=1e-10, atol=1e-10)
    assert moe.converged_ and moe.n_iter_ < moe.max_iter
    np.testing.assert_allclose(moe.expert_usage_.sum(), 1.0)
    assert moe.score(X, y) > 0.98
    assert moe.score(X, y) > Ridge().fit(X, y).score(X, y) + 0.2


def _predict(expert, X):
    return expert.predict(X)


def test_regressor_std_is_the_mixture_spread():
    X, y = piecewise()
    moe = MixtureOfExpertsRegressor(n_experts=3, top_k=2, random_state=0).fit(X, y)
    mean, std = moe.predict(X, return_std=True)
    gate = moe.predict_gate(X)
    top = np.argsort(-gate, axis=1, kind="stable")[:, :2]
    share = np.take_along_axis(gate, top, axis=1)
    share /= share.sum(axis=1, keepdims=True)
    means = np.stack([e.predict(X) for e in moe.experts_], axis=1)
    mu = np.take_along_axis(means, top, axis=1)
    var = moe.noise_variance_[top]
    expected_mean = (share * mu).sum(axis=1)
    expected_var = (share * (var + mu**2)).sum(axis=1) - expected_mean**2
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-10)
    np.testing.assert_allclose(std, np.sqrt(np.maximum(expected_var, 0)), rtol=1e-7,
                               atol=1e-10)
    np.testing.assert_array_equal(mean, moe.predict(X))


@pytest.mark.parametrize("n_experts", [1, 3])
def test_regressor_std_does_not_depend_on_the_targets_offset(n_experts):
    # The spread is taken around each row's mean: a target offset by 1e8 would cancel
    # it away in the sum of squares minus the squared mean (0 with one expert).
    X, y = piecewise()
    params = {"n_experts": n_experts, "experts": Ridge(), "random_state": 0}
    _, std = MixtureOfExpertsRegressor(**params).fit(X, y).predict(X, return_std=True)
    shifted = MixtureOfExpertsRegressor(**params).fit(X, y + 1e8)
    _, std_shifted = shifted.predict(X, return_std=True)
    if n_experts == 1:
        np.testing.assert_allclose(std_shifted, np.sqrt(shifted.noise_variance_[0]),
                                   rtol=1e-12)
    else:  # by hand, around the row's mean: all experts (top_k None), gate shares
        gate = shifted.predict_gate(X)
        means = np.stack([e.predict(X) for e in shifted.experts_], axis=1)
        mean = (gate * means).sum(axis=1)
        spread = (gate * (shifted.noise_variance_ + (means - mean[:, None]) ** 2)).sum(axis=1)
        np.testing.assert_allclose(std_shifted, np.sqrt(spread), rtol=1e-6)
    np.testing.assert_allclose(std_shifted, std, rtol=1e-3)


def test_one_expert_std_checks_x_once():
    X, y = piecewise()
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    mixture = MixtureOfExpertsRegressor(Ridge(), n_experts=1, random_state=0).fit(frame, y)

    def names_warnings(call):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            call()
        return [w for w in record if "valid feature names" in str(w.message)]

    plain = names_warnings(lambda: mixture.predict(X))
    assert len(names_warnings(lambda: mixture.predict(X, return_std=True))) == len(plain)


class _Counting:
    """Wraps a fitted expert's predict to count the rows it is asked about."""

    def __init__(self, expert, method):
        self.rows = 0
        self._inner = getattr(expert, method)
        setattr(expert, method, self)

    def __call__(self, X):
        self.rows += X.shape[0]
        return self._inner(X)


@pytest.mark.parametrize("top_k", [1, 2])
def test_each_expert_predicts_only_its_rows(top_k):
    X, y = piecewise()
    moe = MixtureOfExpertsRegressor(n_experts=4, top_k=top_k, random_state=0).fit(X, y)
    counters = [_Counting(expert, "predict") for expert in moe.experts_]
    moe.predict(X)
    assert sum(c.rows for c in counters) == top_k * len(X)
    routed = np.argsort(-moe.predict_gate(X), axis=1, kind="stable")[:, :top_k]
    assert [c.rows for c in counters] == [int((routed == e).sum()) for e in range(4)]


@pytest.mark.parametrize("top_k", [None, 1])
def test_classifier_proba_is_the_routed_mixture(top_k):
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    moe = MixtureOfExpertsClassifier(n_experts=3, top_k=top_k, random_state=0).fit(X, labels)
    k = 3 if top_k is None else top_k
    proba = moe.predict_proba(X)
    np.testing.assert_allclose(proba, hand_mixture(moe, X, _proba, k), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert proba.min() >= 0.0 and proba.max() <= 1.0
    np.testing.assert_array_equal(moe.predict(X), moe.classes_[proba.argmax(axis=1)])
    assert moe.score(X, labels) > 0.95


def _proba(expert, X):
    return expert.predict_proba(X)


def test_every_expert_sees_every_class():
    X, y = load_iris(return_X_y=True)
    moe = MixtureOfExpertsClassifier(n_experts=3, top_k=1, random_state=0).fit(X, y)
    for expert in moe.experts_:
        np.testing.assert_array_equal(expert.classes_, [0, 1, 2])


def test_a_starved_expert_gets_the_worst_fitted_rows():
    moe = MixtureOfExpertsRegressor()
    resp = np.zeros((10, 3))
    resp[:5, 0] = 1.0
    resp[5:, 1] = 1.0  # expert 2 holds nothing
    row_fit = np.array([0.0, -1, -5, 2, 3, -4, 1, 1, -3, 0])
    new = moe._reseed_starved(resp, np.ones(10), row_fit)
    # Half an even share (10 / 3 / 2) of the weight: the two rows fitted worst.
    np.testing.assert_array_equal(np.flatnonzero(new[:, 2]), [2, 5])
    np.testing.assert_array_equal(new.sum(axis=1), 1.0)
    kept = np.ones(10, dtype=bool)
    kept[[2, 5]] = False
    np.testing.assert_array_equal(new[kept], resp[kept])


def test_an_expert_left_starved_by_a_reseed_is_reseeded_in_turn():
    moe = MixtureOfExpertsRegressor()
    resp = np.zeros((12, 3))
    resp[:11, 0] = 1.0
    resp[11, 1] = 1.0  # expert 1 holds one row, expert 2 none
    row_fit = -np.arange(12.0)  # row 11 fits worst: expert 2 takes it
    new = moe._reseed_starved(resp, np.ones(12), row_fit)
    np.testing.assert_array_equal(new.sum(axis=1), 1.0)
    assert new[11, 2] == 1.0
    held = new.sum(axis=0)
    assert np.all(held > 0), held  # expert 1, robbed of its row, got rows of its own
    assert not set(np.flatnonzero(new[:, 1])) & set(np.flatnonzero(new[:, 2]))
    # With starved=0 only an expert with nothing is re-seeded.
    thin = np.zeros((100, 2))
    thin[:, 0], thin[0] = 1.0, [0.5, 0.5]
    np.testing.assert_array_equal(
        moe._reseed_starved(thin, np.ones(100), np.zeros(100), starved=0.0), thin)


def test_a_reseed_hands_integer_weights_over_as_it_would_repeated_rows(global_random_seed):
    # The row crossing half an even share went whole: a row of weight 3 moved 3 units
    # where its three copies moved 1, and the two fits parted from there on.
    rng = np.random.RandomState(global_random_seed)
    weight = rng.randint(1, 4, size=40).astype(float)
    resp = rng.dirichlet(np.ones(4), size=40)
    resp[:, 3] = 0.0  # expert 3 starved
    resp /= resp.sum(axis=1, keepdims=True)
    resp[:6, 2], resp[:6, 1] = 0.0, resp[:6, 1] + resp[:6, 2]  # expert 2 thin
    row_fit = rng.permutation(40).astype(float)
    moe = MixtureOfExpertsRegressor()
    weighted = moe._reseed_starved(resp, weight, row_fit, starved=0.9)
    copies = np.repeat(np.arange(40), weight.astype(int))
    repeated = moe._reseed_starved(resp[copies], np.ones(len(copies)), row_fit[copies],
                                   starved=0.9)
    # A row's weight on each expert, summed over its copies.
    by_row = np.zeros_like(resp)
    np.add.at(by_row, copies, repeated)
    assert_allclose(weight[:, None] * weighted, by_row, atol=1e-12)
    assert_allclose(weighted.sum(axis=1), 1.0)
    even = weight.sum() / 4
    assert_allclose((weight[:, None] * (weighted - resp)).clip(0)[:, 3].sum(), even / 2)


def test_integer_weights_fit_as_repeated_rows_through_a_reseed():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(300, 2))
    y = np.where(X[:, 0] > 0, 2 * X[:, 1], -3 * X[:, 1]) + rng.normal(0, 0.1, 300)
    w = rng.randint(1, 4, 300)
    params = dict(n_experts=8, top_k=1, validation_fraction=None, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = MixtureOfExpertsRegressor(**params).fit(X, y, sample_weight=w.astype(float))
        repeated = MixtureOfExpertsRegressor(**params).fit(np.repeat(X, w, axis=0),
                                                           np.repeat(y, w))
    assert_allclose(weighted.predict(X), repeated.predict(X), atol=1e-6)  # 5.5 apart


@pytest.mark.parametrize("validation_fraction", [0.1, None])
def test_top1_mixture_fits_whichever_expert_the_e_step_empties(validation_fraction):
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(300, 2))
    y = np.where(X[:, 0] < 0, -2 * X[:, 0], 3 * X[:, 0]) + rng.normal(0, 0.1, 300)
    for seed in range(4):  # each of these seeds left an expert no row before
        moe = MixtureOfExpertsRegressor(n_experts=4, top_k=1, random_state=seed,
                                        validation_fraction=validation_fraction)
        moe.fit(X, y)
        assert len(moe.experts_) == 4
        assert np.sqrt(np.mean((moe.predict(X) - y) ** 2)) < 0.5


def test_heterogeneous_experts_custom_gate_and_views():
    X, y = piecewise()
    experts = [("ridge", Ridge()), ("knn", KNeighborsRegressor()),
               ("hgb", HistGradientBoostingRegressor(max_iter=20))]
    with pytest.raises(TypeError, match="'knn'.*sample_weight"):
        MixtureOfExpertsRegressor(experts).fit(X, y)
    experts[1] = ("lin", LinearRegression())
    moe = MixtureOfExpertsRegressor(
        experts, gate=LogisticRegression(), views={"ridge": [0]}, random_state=0
    ).fit(X, y)
    assert list(moe.named_experts_) == ["ridge", "lin", "hgb"]
    assert moe.named_experts_["ridge"].n_features_in_ == 1
    assert moe.named_experts_["hgb"].n_features_in_ == 2
    assert isinstance(moe.gate_, LogisticRegression)
    assert moe.predict_gate(X).shape == (len(X), 3)
    assert moe.score(X, y) > 0.9


def test_nested_parameters_of_the_default_experts_or_gate_say_what_to_set():
    # scikit-learn's set_params called None.set_params: "'NoneType' object has no
    # attribute 'set_params'", in every candidate of a search over experts__alpha.
    for mixture, key in [(MixtureOfExpertsRegressor(), "experts__alpha"),
                         (MixtureOfExpertsClassifier(), "gate__C")]:
        head, _, name = key.partition("__")
        with pytest.raises(ValueError, match=f"'{head}' is None \\(the built-in default\\), "
                                             f"which has no parameter '{name}'; set '{head}'"):
            mixture.set_params(**{key: 1.0})
    moe = MixtureOfExpertsRegressor().set_params(experts=Ridge(), experts__alpha=3.0)
    assert moe.experts.alpha == 3.0
    # Emptied in the same call (a search's candidate): scikit-learn's AttributeError
    # stopped the whole search, outside its error_score.
    with pytest.raises(ValueError, match="'gate' is set to None in this call, which has "
                                         "no parameter 'C'"):
        MixtureOfExpertsRegressor(gate=LogisticRegression()).set_params(gate=None, gate__C=2)
    listed = MixtureOfExpertsRegressor([("a", Ridge()), ("b", LinearRegression())])
    with pytest.raises(ValueError, match="'a' is set to 'drop' in this call"):
        listed.set_params(a="drop", a__alpha=2.0)


def test_the_order_of_listed_experts_does_not_matter():
    # Each k-means cluster of the start went to the expert at its position in the list:
    # ridge-on-x0, linear, boosting in one order reached R^2 0.99, reversed 0.81.
    X, y = piecewise()
    experts = [("ridge", Ridge()), ("lin", LinearRegression()),
               ("hgb", HistGradientBoostingRegressor(max_iter=20))]
    scores = []
    for order in (experts, experts[::-1], experts[1:] + experts[:1]):
        moe = MixtureOfExpertsRegressor(order, gate=LogisticRegression(),
                                        views={"ridge": [0]}, random_state=0).fit(X, y)
        scores.append(moe.score(X, y))
    assert_allclose(scores, scores[0], rtol=1e-12)
    assert scores[0] > 0.95

    iris = load_iris()
    classifiers = [("lr", LogisticRegression(max_iter=1000)),
                   ("tree", DecisionTreeClassifier(max_depth=2, random_state=0))]
    probas = [MixtureOfExpertsClassifier(order, random_state=0).fit(iris.data, iris.target)
              .predict_proba(iris.data) for order in (classifiers, classifiers[::-1])]
    assert_allclose(probas[0], probas[1], atol=1e-12)


def test_pairing_is_order_free_when_experts_lack_rows_in_groups():
    # Experts A and B see band 0 only: every pairing needs pairs without rows, whose
    # stand-in (about -2e307) swamped the real sums, and list order broke the tie.
    rng = np.random.RandomState(0)
    g = np.sort(rng.uniform(-4, 4, 800))
    a, b, c, d = rng.normal(size=(4, 800))
    band = np.digitize(g, [-2, 0, 2])
    y = np.choose(band, [2 * a + 6, rng.normal(0, 1, 800) - 6, 3 * c + 12, -3 * d - 12])
    X = np.c_[g, a, b, c, d]
    X[band != 0, 1:3] = np.nan
    experts = [("A", LinearRegression()), ("B", Ridge()), ("C", LinearRegression()),
               ("D", Ridge(alpha=2.0))]
    predictions = [
        MixtureOfExpertsRegressor([experts[i] for i in order], gate_view=[0],
                                  views={"A": [1], "B": [2], "C": [3], "D": [4]},
                                  validation_fraction=None, random_state=0).fit(X, y).predict(X)
        for order in ([0, 1, 2, 3], [1, 0, 2, 3], [3, 1, 2, 0])]
    assert_allclose(predictions[1], predictions[0], atol=1e-8)
    assert_allclose(predictions[2], predictions[0], atol=1e-8)


def test_pairing_does_not_fit_an_expert_on_a_sliver_of_a_group():
    # Expert b's view is on one training row of the second group: its trial fit there
    # (PCA with 3 components) failed the whole fit.
    from sklearn.decomposition import PCA

    rng = np.random.RandomState(0)
    g = np.r_[rng.uniform(-3, -1, 150), rng.uniform(1, 3, 150)]
    a, b1, b2, b3 = rng.normal(size=(4, 300))
    y = np.where(g > 0, 2 * a + 5, b1 - b2 - 5) + rng.normal(0, 0.1, 300)
    X = np.c_[g, a, b1, b2, b3]
    X[g > 0, 2:] = np.nan
    X[np.flatnonzero(g > 0)[:2], 2:] = [[0.3, -0.2, 0.1], [0.5, 0.1, -1.0]]
    experts = [("a", Ridge()), ("b", make_pipeline(PCA(n_components=3), Ridge()))]
    for order in (experts, experts[::-1]):
        moe = MixtureOfExpertsRegressor(order, views={"a": [0, 1], "b": [2, 3, 4]},
                                        gate_view=[0], random_state=0).fit(X, y)
        assert moe.score(X, y) > 0.99


def test_a_listed_expert_s_seed_depends_on_its_name_not_its_place():
    from sklearn.tree import DecisionTreeRegressor

    X, y = piecewise(300)
    experts = [("tree", DecisionTreeRegressor(max_depth=3, max_features=1)),
               ("ridge", Ridge()), ("other", DecisionTreeRegressor(max_depth=2))]
    seeds = []
    for order in (experts, experts[::-1]):
        moe = MixtureOfExpertsRegressor(order, random_state=0).fit(X, y)
        seeds.append({name: expert.random_state
                      for name, expert in moe.named_experts_.items()})
    assert seeds[0] == seeds[1] and seeds[0]["tree"] != seeds[0]["other"]


def test_dataframe_input_and_feature_names():
    X, y = piecewise()
    frame = pd.DataFrame(X, columns=["a", "b"])
    moe = MixtureOfExpertsRegressor(n_experts=3, views={"expert0": ["a"]},
                                    random_state=0).fit(frame, y)
    np.testing.assert_array_equal(moe.feature_names_in_, ["a", "b"])
    np.testing.assert_allclose(moe.predict(frame), hand_mixture(moe, frame, _predict_view(moe), 3))


def _predict_view(moe):
    def output(expert, X):
        view = moe._views_[moe.experts_.index(expert)]
        return expert.predict(X if view is None else X.iloc[:, view])
    return output


def test_same_seed_same_fit_and_n_jobs_do_not_matter():
    X, y = piecewise()
    kwargs = dict(n_experts=3, top_k=2, n_init=2, init="random", random_state=3)
    a = MixtureOfExpertsRegressor(**kwargs).fit(X, y)
    b = MixtureOfExpertsRegressor(**kwargs, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.lower_bound_ == b.lower_bound_


def test_negated_target_and_reordered_columns_give_the_same_mixture():
    # The k-means start sorts rows along the principal axis, whose sign eigh leaves
    # arbitrary: negating y or reordering columns flipped it and EM started elsewhere.
    from sklearn.datasets import make_regression

    X, y = make_regression(300, 6, n_informative=4, noise=20, random_state=0)

    def fitted(X, y, **kwargs):
        return MixtureOfExpertsRegressor(LinearRegression(), n_experts=3, max_iter=30,
                                         random_state=0, **kwargs).fit(X, y)

    scale = y.std()
    assert_allclose(-fitted(X, -y).predict(X), fitted(X, y).predict(X), atol=1e-9 * scale)
    order = [3, 0, 5, 1, 4, 2]
    assert_allclose(fitted(X[:, order], y, top_k=1).predict(X[:, order]),
                    fitted(X, y, top_k=1).predict(X), atol=1e-9 * scale)


def test_sample_weight_zero_is_removing_rows():
    X, y = piecewise()
    weight = np.ones(len(X))
    weight[::3] = 0
    a = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y, sample_weight=weight)
    b = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X[weight > 0], y[weight > 0])
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-6, atol=1e-8)


def test_rows_of_weight_zero_far_off_are_as_absent_at_the_defaults():
    # k-means scales its tolerance by the unweighted variance of its data: rows of weight
    # 0 far off in X and y once stopped the start early, and "auto" chose another count.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = np.where(X[:, 0] > 0, 2 * X[:, 1], -X[:, 2]) + rng.normal(0, 0.1, 300)
    far = np.zeros(300, dtype=bool)
    far[rng.permutation(300)[:60]] = True
    X_far, y_far = X.copy(), y.copy()
    X_far[far] += 1e3
    y_far[far] = 1e6
    weighted = MixtureOfExpertsRegressor(Ridge(), random_state=0).fit(
        X_far, y_far, sample_weight=(~far).astype(float))
    dropped = MixtureOfExpertsRegressor(Ridge(), random_state=0).fit(X[~far], y[~far])
    assert weighted.n_experts_ == dropped.n_experts_
    np.testing.assert_allclose(weighted.predict(X), dropped.predict(X), rtol=1e-9,
                               atol=1e-12)


def test_equal_weights_other_than_one_reach_the_expert():
    # As in scikit-learn, weights of 3 on every row are every row three times: against a
    # penalty, they move the fit. One expert is then that expert with those weights.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 2))
    y = X @ [1.0, 2.0] + rng.normal(0, 0.5, 120)
    weight = np.full(len(y), 3.0)
    moe = MixtureOfExpertsRegressor(Ridge(alpha=100), n_experts=1).fit(X, y,
                                                                       sample_weight=weight)
    alone = Ridge(alpha=100).fit(X, y, sample_weight=weight)
    assert_allclose(moe.predict(X), alone.predict(X), rtol=1e-10)
    assert not np.allclose(moe.predict(X), Ridge(alpha=100).fit(X, y).predict(X))
    labels = (y > 0).astype(int)
    clf = MixtureOfExpertsClassifier(LogisticRegression(C=0.01), n_experts=1).fit(
        X, labels, sample_weight=weight)
    assert_allclose(clf.predict_proba(X), LogisticRegression(C=0.01).fit(
        X, labels, sample_weight=weight).predict_proba(X), rtol=1e-8)


def test_grid_search_pipeline_and_pickle():
    X, y = piecewise(300)
    pipe = make_pipeline(StandardScaler(),
                         MixtureOfExpertsRegressor(Ridge(), n_experts=3, random_state=0))
    grid = GridSearchCV(pipe, {"mixtureofexpertsregressor__top_k": [1, None],
                               "mixtureofexpertsregressor__experts__alpha": [0.1, 10.0]},
                        cv=3).fit(X, y)
    assert grid.best_score_ > 0.9
    restored = pickle.loads(pickle.dumps(grid.best_estimator_))
    np.testing.assert_array_equal(restored.predict(X), grid.predict(X))
    params = MixtureOfExpertsRegressor(Ridge()).get_params()
    assert params["experts__alpha"] == 1.0
    listed = MixtureOfExpertsRegressor([("a", Ridge()), ("b", Ridge())])
    assert listed.set_params(a__alpha=3.0).get_params()["a__alpha"] == 3.0


def test_a_mixture_of_one_ensemble_lists_and_sets_its_parameters():
    # An unfitted forest is iterable over the trees it does not have yet: listing the
    # experts as (name, estimator) pairs raised AttributeError in get_params, in
    # set_params, and in any composite around the mixture with an int random_state
    # (which seeds its members through their parameters).
    forest = RandomForestRegressor(n_estimators=5, max_depth=3)
    moe = MixtureOfExpertsRegressor(forest, n_experts=2, max_iter=3)
    assert moe.get_params()["experts__max_depth"] == 3
    assert moe.set_params(experts__max_depth=2).experts.max_depth == 2
    X, y = piecewise(200)
    fusion = FusionRegressor([("moe", moe), ("ridge", Ridge())], random_state=0).fit(X, y)
    assert fusion.predict(X).shape == (200,)
    # An entry of a list that is not a pair is left for fit to refuse, as listed.
    unnamed = MixtureOfExpertsRegressor([forest])
    assert unnamed.get_params()["experts"] == [forest]
    with pytest.raises(ValueError, match="pair"):
        unnamed.fit(X, y)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"top_k": 5}, ValueError, "top_k must be None or an int from 1 to n_experts=4"),
        ({"top_k": 0}, InvalidParameterError, "The 'top_k' parameter"),
        ({"n_experts": 0}, InvalidParameterError,
         r"The 'n_experts' parameter .* range \[1, inf\)"),
        ({"init": "pca"}, InvalidParameterError, "The 'init' parameter .* Got 'pca'"),
        ({"max_iter": 0}, InvalidParameterError, "The 'max_iter' parameter"),
        ({"tol": -1.0}, InvalidParameterError, "The 'tol' parameter"),
        ({"gate": Ridge()}, InvalidParameterError,
         "The 'gate' parameter .* implementing 'fit' and 'predict_proba'"),
        ({"gate": KNeighborsClassifier()}, TypeError,
         r"the gate \(KNeighborsClassifier\) does not accept sample_weight"),
        ({"experts": [("a", Ridge()), ("a", Ridge())]}, ValueError, "unique"),
        # Errors call the list by its parameter's name, not the fusion's "estimators".
        ({"experts": [Ridge(), Ridge()]}, ValueError,
         r"each entry of experts must be a \(name, estimator\) pair"),
        ({"experts": []}, ValueError, "experts must be a non-empty list"),
        ({"experts": [("a", "drop")]}, ValueError, "all experts are dropped"),
        ({"experts": [("a", LogisticRegression())]}, TypeError,
         "expert 'a' should be a regressor"),
        # A list's kept experts bound top_k, not n_experts (which a list ignores).
        ({"experts": [("a", Ridge()), ("b", "drop")], "top_k": 2}, ValueError,
         r"top_k must be None or an int from 1 to the 1 expert\(s\) kept in experts"),
    ],
)
def test_bad_parameters_are_refused(params, error, match):
    X, y = piecewise(50)
    with pytest.raises(error, match=match):
        MixtureOfExpertsRegressor(**params).fit(X, y)


def test_classifier_experts_need_predict_proba_and_enough_rows():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(TypeError, match="'expert0'.*predict_proba"):
        MixtureOfExpertsClassifier(LinearSVC()).fit(X, y)
    with pytest.raises(ValueError, match="n_samples=3"):
        MixtureOfExpertsClassifier(n_experts=4).fit(X[[0, 60, 120]], y[[0, 60, 120]])
    with pytest.raises(ValueError, match="NaN"):
        MixtureOfExpertsRegressor().fit(X, np.r_[np.nan, y[1:]])


def test_unconverged_fit_warns():
    X, y = piecewise()
    with pytest.warns(Warning, match="did not converge in max_iter=1") as record:
        MixtureOfExpertsRegressor(max_iter=1, random_state=0).fit(X, y)
    # It says what to do, as GaussianMixture's does.
    assert "Raise max_iter or tol" in str(record[0].message)


@pytest.mark.parametrize("max_iter", [1, 2, 3])
def test_short_sparse_fits_end_with_a_sparse_phase(max_iter):
    X, y = piecewise(200)
    with pytest.warns(Warning, match="did not converge"):
        moe = MixtureOfExpertsRegressor(n_experts=3, top_k=1, max_iter=max_iter,
                                        tol=0.0, random_state=0).fit(X, y)
    assert moe.n_iter_ == max_iter
    assert np.isfinite(moe.lower_bound_)


def test_threaded_and_concurrent_predict_give_identical_results(concurrently):
    X, y = piecewise(600)
    X_big = np.repeat(X, 40, axis=0)  # 24,000 rows: parallel kernels and threaded experts
    moe = MixtureOfExpertsRegressor(n_experts=4, top_k=2, random_state=0).fit(X, y)
    want = moe.predict(X_big)
    np.testing.assert_array_equal(moe.set_params(n_jobs=2).predict(X_big), want)
    results = concurrently(lambda: moe.predict(X_big))
    assert len(results) == 8
    assert all(np.array_equal(r, want) for r in results)


def test_gate_view_limits_the_gate_to_its_columns():
    X, y = piecewise()
    rng = np.random.RandomState(1)
    noisy = np.c_[X, rng.normal(size=(len(X), 3))]  # columns the gate should not see
    moe = MixtureOfExpertsRegressor(
        Ridge(), n_experts=2, gate=LogisticRegression(), gate_view=[0, 1],
        views={"expert0": slice(0, X.shape[1]), "expert1": slice(0, X.shape[1])},
        random_state=0,
    ).fit(noisy, y)
    assert moe.gate_.n_features_in_ == 2
    assert all(expert.n_features_in_ == X.shape[1] for expert in moe.experts_)
    assert_allclose(moe.predict_gate(noisy), moe.gate_.predict_proba(noisy[:, :2]))
    same = MixtureOfExpertsRegressor(Ridge(), n_experts=2, gate_view=slice(None),
                                     random_state=0).fit(X, y)
    plain = MixtureOfExpertsRegressor(Ridge(), n_experts=2, random_state=0).fit(X, y)
    assert_allclose(same.predict(X), plain.predict(X))


def test_gate_needs_numeric_columns_or_a_gate_view():
    X, y = piecewise()
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["label"] = np.where(X[:, 0] > 0, "right", "left")
    numeric = list(frame.columns[:-1])
    expert = Ridge()
    views = {"expert0": numeric, "expert1": numeric}
    with pytest.raises(ValueError, match="gate_view"):
        MixtureOfExpertsRegressor(expert, n_experts=2, views=views).fit(frame, y)
    moe = MixtureOfExpertsRegressor(expert, n_experts=2, views=views, gate_view=numeric,
                                    random_state=0).fit(frame, y)
    assert moe.predict(frame).shape == (len(y),)


@pytest.mark.parametrize("rows", [None, 40])
def test_a_gate_on_text_columns_is_refused_whatever_the_rows_leave_auto(rows):
    # "auto" with too few rows for a validation slice tries one expert, whose gate is
    # never asked: text columns passed there and failed on more rows, the message
    # quoting a cell without naming its column.
    X, y = piecewise()
    X, y = X[:rows], y[:rows]
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["name"] = [f"row {i}" for i in range(len(y))]
    frame["side"] = pd.Categorical(np.where(X[:, 0] > 0, "right", "left"))
    expert = make_pipeline(make_column_transformer(("drop", ["name", "side"]),
                                                   remainder="passthrough"), Ridge())
    moe = MixtureOfExpertsRegressor(expert)
    with pytest.raises(ValueError, match=r"sees every column of X \(gate_view=None\), of "
                                         r"which \['name', 'side'\] are not .*"
                                         r"make_column_selector"):
        moe.fit(frame, y)
    with pytest.raises(ValueError, match=r"sees the columns of gate_view, of which "
                                         r"\['column 1'\] are not"):
        moe.set_params(gate_view=[0, 1]).fit(frame[["x0", "name"]].to_numpy(), y)
    # One expert has no gate to take them, nor has "auto" without a validation slice
    # (it tries one count); numeric columns serve a gate.
    for one in (clone(moe).set_params(n_experts=1, gate_view=None),
                clone(moe).set_params(validation_fraction=None, gate_view=None)):
        assert one.fit(frame, y).n_experts_ == 1
    numeric = make_column_selector(dtype_include="number")
    moe.set_params(gate_view=numeric, n_experts=2, random_state=0).fit(frame, y)
    assert moe.predict(frame).shape == (len(y),)
    # NaN the built-in gate cannot take, likewise.
    X[::7, 1] = np.nan
    with pytest.raises(ValueError, match="the gate's columns hold NaN"):
        MixtureOfExpertsRegressor(HistGradientBoostingRegressor(max_iter=5)).fit(X, y)


def two_modalities(n=600, seed=0):
    """A gate column, two 2-column modalities each missing on about 20% of the rows."""
    rng = np.random.RandomState(seed)
    g = rng.uniform(-3, 3, size=(n, 1))
    a, b = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
    y = np.where(g[:, 0] > 0, a @ [2.0, 1.0], b @ [-1.0, 3.0]) + rng.normal(0, 0.1, n)
    X = np.c_[g, a, b]
    miss_a = rng.uniform(size=n) < 0.2
    miss_b = (rng.uniform(size=n) < 0.2) & ~miss_a
    X[miss_a, 1:3] = np.nan
    X[miss_b, 3:5] = np.nan
    return X, y, np.c_[~miss_a, ~miss_b]


@pytest.mark.parametrize("top_k", [None, 1])
def test_gate_renormalises_over_experts_with_their_view(top_k):
    X, y, present = two_modalities()
    views = {"expert0": [1, 2], "expert1": [3, 4]}
    moe = MixtureOfExpertsRegressor(Ridge(), n_experts=2, top_k=top_k, gate=LogisticRegression(),
                                    views=views, gate_view=[0], random_state=0).fit(X, y)
    gate = moe.gate_.predict_proba(X[:, [0]]) * present
    gate /= gate.sum(axis=1, keepdims=True)
    assert_allclose(moe.predict_gate(X), gate, rtol=1e-12)
    if top_k == 1:
        gate = np.eye(2)[gate.argmax(axis=1)]
    expected = np.zeros(len(X))
    for e, cols in enumerate(views.values()):
        rows = present[:, e]
        expected[rows] += gate[rows, e] * moe.experts_[e].predict(X[rows][:, cols])
    assert_allclose(moe.predict(X), expected, rtol=1e-10)


def test_a_batch_may_lack_a_modality_on_every_row():
    # At predict time, rows without an expert's view go to the others, however few rows
    # the batch holds; in fit, an expert needs at least one row with its view.
    X, y, present = two_modalities()
    views = {"expert0": [1, 2], "expert1": [3, 4]}
    for mixture, target in [(MixtureOfExpertsRegressor, y),
                            (MixtureOfExpertsClassifier, (y > 0).astype(int))]:
        moe = mixture(n_experts=2, views=views, gate_view=[0], random_state=0).fit(X, target)
        lacking = np.flatnonzero(~present[:, 1])[:3]
        whole = moe.predict_gate(X)[lacking]
        assert_allclose(whole[:, 1], 0.0)
        assert_allclose(moe.predict_gate(X[lacking]), whole, rtol=1e-12)
        method = "predict" if target is y else "predict_proba"
        assert_allclose(getattr(moe, method)(X[lacking[:1]]),
                        getattr(moe, method)(X)[lacking[:1]], rtol=1e-12)
    X_fit = X[present[:, 0]]
    X_fit[:, 3:5] = np.nan
    with pytest.raises(ValueError, match="expert 'expert1' has no row where its view is "
                                         "present"):
        MixtureOfExpertsRegressor(n_experts=2, views=views, gate_view=[0]).fit(
            X_fit, y[present[:, 0]])


def test_missing_modalities_need_a_complete_gate_view_and_an_expert_per_row():
    X, y, _ = two_modalities()
    views = {"expert0": [1, 2], "expert1": [3, 4]}
    with pytest.raises(ValueError, match="gate's columns hold NaN"):
        MixtureOfExpertsRegressor(Ridge(), n_experts=2, views=views).fit(X, y)
    X_none = X.copy()
    X_none[:3, 1:] = np.nan
    with pytest.raises(ValueError, match="3 row\\(s\\) of X have no expert present"):
        MixtureOfExpertsRegressor(Ridge(), n_experts=2, views=views, gate_view=[0]).fit(X_none, y)
    with pytest.raises(ValueError, match="expert 'expert0' \\(Ridge\\) does not accept NaN"):
        MixtureOfExpertsRegressor(Ridge(), n_experts=2, views={"expert0": [0, 1, 2]},
                                  gate_view=[0]).fit(X, y)
    codes = (y > 0).astype(int)
    clf = MixtureOfExpertsClassifier(LogisticRegression(), n_experts=2, views=views,
                                     gate_view=[0], random_state=0).fit(X, codes)
    assert clf.score(X, codes) > 0.7


WAYS_OUT = ("Point gate_view at columns present on every row.*or give a gate that takes "
            "NaN: one that imputes, such as make_pipeline\\(SimpleImputer\\(\\), "
            "LogisticRegression\\(\\)\\), or HistGradientBoostingClassifier")


def imputing_gate():
    from sklearn.impute import SimpleImputer

    return make_pipeline(SimpleImputer(), LogisticRegression())


def test_a_gate_that_takes_nan_sees_the_missing_modalities():
    X, y, present = two_modalities()
    views = {"expert0": [1, 2], "expert1": [3, 4]}
    moe = MixtureOfExpertsRegressor(Ridge(), n_experts=2, views=views, gate=imputing_gate(),
                                    random_state=0).fit(X, y)
    # The gate saw every column, NaN included, and is renormalised over present experts.
    gate = moe.gate_.predict_proba(X) * present
    assert_allclose(moe.predict_gate(X), gate / gate.sum(axis=1, keepdims=True))
    assert np.isfinite(moe.predict(X)).all()
    assert moe.score(X, y) > 0.3
    # The case: every expert takes NaN, and so can the gate.
    from sklearn.ensemble import HistGradientBoostingClassifier

    codes = (y > 0).astype(int)
    clf = MixtureOfExpertsClassifier(
        HistGradientBoostingClassifier(max_iter=10, random_state=0), n_experts=2,
        gate=imputing_gate(), max_iter=5, random_state=0).fit(X, codes)
    assert np.isfinite(clf.predict_proba(X)).all() and clf.score(X, codes) > 0.7


def test_a_gate_that_takes_no_nan_is_refused_with_both_ways_out():
    X, y, _ = two_modalities()
    views = {"expert0": [1, 2], "expert1": [3, 4]}
    with pytest.raises(ValueError, match="the gate's columns hold NaN on 231 row\\(s\\), and "
                                         "the built-in gate \\(gate=None\\) takes none\\. "
                                         + WAYS_OUT):
        MixtureOfExpertsRegressor(Ridge(), n_experts=2, views=views).fit(X, y)
    with pytest.raises(ValueError, match="the gate \\(LogisticRegression\\) raised: Input X "
                                         "contains NaN\\. " + WAYS_OUT):
        MixtureOfExpertsRegressor(Ridge(), n_experts=2, views=views,
                                  gate=LogisticRegression()).fit(X, y)
    # At predict time the fitted gate is asked.
    complete = np.nan_to_num(X)
    moe = MixtureOfExpertsRegressor(Ridge(), n_experts=2, views=views,
                                    gate=LogisticRegression(), random_state=0).fit(complete, y)
    complete[:5, 0] = np.nan  # partly missing rows of the gate's columns only
    with pytest.raises(ValueError, match="NaN on 5 row.*gate \\(LogisticRegression\\) "
                                         "raised.*" + WAYS_OUT):
        moe.predict(complete)


def test_a_pipeline_gate_gets_the_em_weights_on_its_final_step():
    from skfuse._base import weight_key
    from skfuse._gate import fit_classifier_gate

    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 3))
    X[::7, 1] = np.nan
    targets = rng.dirichlet(np.ones(3), size=50)
    weight = rng.uniform(0.5, 2.0, size=50)
    gate = fit_classifier_gate(imputing_gate(), X, targets, weight)
    rows, experts = np.nonzero(targets > 0)
    by_hand = LogisticRegression().fit(gate[0].transform(X[rows]), experts,
                                       sample_weight=targets[rows, experts] * weight[rows])
    assert_allclose(gate[-1].coef_, by_hand.coef_)
    assert weight_key(imputing_gate()) == "logisticregression__sample_weight"
    assert weight_key(make_pipeline(StandardScaler(), KNeighborsClassifier())) is None
    with pytest.raises(TypeError, match="gate \\(Pipeline\\) does not accept sample_weight"):
        MixtureOfExpertsClassifier(
            gate=make_pipeline(StandardScaler(), KNeighborsClassifier())).fit(X[:, [0, 2]],
                                                                           experts[:50] % 2)
    # With metadata routing, a pipeline gate gets the weights only where a step asks.
    import sklearn

    with sklearn.config_context(enable_metadata_routing=True):
        unasked = make_pipeline(StandardScaler(), LogisticRegression())
        assert weight_key(unasked) is None
        with pytest.raises(TypeError, match="gate \\(Pipeline\\) does not pass sample_weight "
                                            "to its last step 'logisticregression' "
                                            "\\(LogisticRegression\\).*set_fit_request"):
            MixtureOfExpertsClassifier(gate=unasked, n_experts=2).fit(X[:, [0, 2]],
                                                                      experts[:50] % 2)
        asked = make_pipeline(StandardScaler().set_fit_request(sample_weight=False),
                              LogisticRegression().set_fit_request(sample_weight=True))
        assert weight_key(asked) == "sample_weight"
        MixtureOfExpertsClassifier(gate=asked, n_experts=2, max_iter=3).fit(
            X[:, [0, 2]], experts[:50] % 2)


@pytest.mark.parametrize("routing", [False, True])
def test_a_pipeline_expert_gets_the_em_weights_on_its_final_step(routing):
    # The same mixture, its experts a Ridge or a Pipeline around one: EM's weights reach
    # the Ridge either way, so the fits are the same.
    import sklearn
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(300, 2))
    y = np.where(X[:, 0] > 0, 2 * X[:, 1], -X[:, 1]) + rng.normal(0, 0.1, 300)
    with sklearn.config_context(enable_metadata_routing=routing):
        final = Ridge().set_fit_request(sample_weight=True) if routing else Ridge()
        piped = MixtureOfExpertsRegressor(make_pipeline(FunctionTransformer(), final),
                                          n_experts=2, max_iter=5, random_state=0).fit(X, y)
        plain = MixtureOfExpertsRegressor(Ridge(), n_experts=2, max_iter=5,
                                          random_state=0).fit(X, y)
    assert_allclose(piped.predict(X), plain.predict(X), rtol=1e-10)
    assert_allclose(piped.experts_[0][-1].coef_, plain.experts_[0].coef_, rtol=1e-10)
    assert not np.allclose(plain.experts_[0].coef_, plain.experts_[1].coef_)


def test_verbose_reports_each_em_iteration_and_a_summary(capsys):
    import re

    X, y = piecewise(200)
    moe = MixtureOfExpertsRegressor(n_experts=2, top_k=1, max_iter=4, tol=0.0, verbose=1,
                                    random_state=0)
    with pytest.warns(Warning, match="did not converge"):
        moe.fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    iterations = [line for line in lines if ", EM iteration " in line]
    assert len(iterations) == moe.n_iter_ == 4
    head = "[MixtureOfExpertsRegressor] 2 expert(s), start 1 of 1, EM iteration"
    assert iterations[0].startswith(f"{head} 1 (dense): objective")  # not "(top 2)"
    assert iterations[-1].startswith(f"{head} 4 (top 1): objective")
    assert f"objective {moe.objective_curve_[-1]:.6g}" in iterations[-1]
    assert f"held-out loss {moe.validation_loss_curve_[-1]:.6g}" in iterations[-1]
    summary = lines[-1]
    assert summary.startswith("[MixtureOfExpertsRegressor] fitted in ")
    assert "4 EM iteration(s), not converged (max_iter=4 reached)" in summary
    assert "expert usage [" in summary
    assert summary.endswith(f"; gate_alpha {moe.gate_alpha_:g}")  # the penalty chosen
    # Each line gives its own iteration's time, not the time so far: they add up to less
    # than the whole fit.
    seconds = [float(re.search(r"([0-9.]+) s$", line).group(1)) for line in iterations]
    total = float(re.search(r"fitted in ([0-9.]+) s", summary).group(1))
    assert sum(seconds) <= total + 0.01 * len(seconds)
    MixtureOfExpertsRegressor(n_experts=2, max_iter=4, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""  # silent by default


# -- the fit: sparse M-step, stopping, "auto" -----------------------------------------


def test_sparse_m_step_equals_the_dense_one_when_every_row_is_kept():
    from skfuse._mixture import _Rows

    X, y = piecewise(300)
    rng = np.random.RandomState(0)
    resp = rng.dirichlet(np.ones(3), size=len(X)) * 0.9 + 0.1 / 3  # every entry >= 0.03
    fitted = {}
    for floor in (0.0, 0.01, 0.2):
        moe = MixtureOfExpertsRegressor(n_experts=3, min_responsibility=floor)
        moe._expert_names_, moe._views_ = ["a", "b", "c"], [None] * 3
        rows = _Rows(X, X, y, y, np.ones(len(y)), [None] * 3)
        fitted[floor] = moe._m_step(rows, resp, [LinearRegression()] * 3)
    for dense, sparse in zip(fitted[0.0][0], fitted[0.01][0]):
        assert_allclose(sparse.coef_, dense.coef_, rtol=0, atol=0)
    assert_allclose(fitted[0.01][1], fitted[0.0][1], rtol=0, atol=0)
    # A floor above some responsibilities leaves those rows out: the fits differ, and
    # equal a dense fit on the kept rows alone.
    kept = resp[:, 0] >= 0.2
    alone = LinearRegression().fit(X[kept], y[kept], sample_weight=resp[kept, 0])
    assert_allclose(fitted[0.2][0][0].coef_, alone.coef_, rtol=1e-10)
    assert not np.allclose(fitted[0.2][0][0].coef_, fitted[0.0][0][0].coef_)


def test_em_objective_never_falls_with_exact_m_steps():
    # EM raises the observed log-likelihood when each M-step maximises its part
    # exactly: weighted least squares (LinearRegression) and the Gaussian variance for
    # the experts, and for the gate the penalised multinomial fit, which the objective
    # counts (its L2 penalty subtracted) so the penalty cannot make it fall. A partial
    # gate step from the previous solution (generalised EM) only lowers the gate's loss,
    # so it keeps this. What may break it, and is kept out here: the sparse M-step
    # (min_responsibility > 0, rows dropped), the top-k truncation, a ridge penalty the
    # objective does not count, and re-seeding a starved expert.
    X, y = piecewise(600)
    moe = MixtureOfExpertsRegressor(LinearRegression(), n_experts=3, min_responsibility=0.0,
                                    gate_alpha=0.1, validation_fraction=None, tol=0.0,
                                    max_iter=25, random_state=0)
    with pytest.warns(Warning, match="did not converge"):
        moe.fit(X, y)
    steps = np.diff(moe.objective_curve_)
    assert len(moe.objective_curve_) == 25
    assert np.all(steps >= -1e-9 * np.abs(moe.objective_curve_[1:])), steps.min()
    assert moe.objective_curve_[-1] > moe.objective_curve_[0] + 1  # it did climb


def test_auto_picks_one_expert_on_a_linear_target_and_more_on_a_piecewise_one():
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(800, 2))
    linear = 2 * X[:, 0] - X[:, 1] + rng.normal(0, 0.3, 800)
    moe = MixtureOfExpertsRegressor(random_state=0).fit(X, linear)
    assert moe.n_experts_ == 1 and len(moe.experts_) == 1
    alone = Ridge().fit(X, linear)  # one expert is the expert fitted alone
    assert_allclose(moe.predict(X), alone.predict(X), rtol=1e-10)
    X, y = piecewise(800)
    moe = MixtureOfExpertsRegressor(random_state=0).fit(X, y)
    assert moe.n_experts_ >= 2
    assert moe.score(X, y) > 0.98 and moe.gate_alpha_ in (0.1, 1.0, 0.01)


@pytest.mark.parametrize("n, d, noise, seed", [(100, 1, 2.0, 1), (100, 5, 2.0, 2),
                                               (1000, 1, 0.01, 1), (1000, 5, 2.0, 1)])
def test_auto_keeps_one_expert_on_linear_targets_that_fooled_the_one_error_rule(
        n, d, noise, seed):
    # Under the one-standard-error rule these linear targets kept 2 or 4 ridge experts
    # (benchmarks/expert_count_rule.py), each worse on new rows than one ridge: the
    # slice that scores the counts also picked their EM iteration and gate penalty.
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + rng.normal(0, noise, n)
    moe = MixtureOfExpertsRegressor(random_state=seed).fit(X, y)
    assert moe.n_experts_ == 1, moe.count_losses_


@pytest.mark.parametrize("scale, exact", [(2.0**-60, True), (2.0**40, True),
                                          (2.0**-540, False), (2.0**530, False)])
def test_the_mixture_does_not_depend_on_the_units_of_x(scale, exact):
    # The gate standardises X, and took a column of variance below 1e-24 for a
    # constant one: features in small units (~1e-18) left it nothing to learn from.
    # Powers of two scale exactly; unpenalised linear experts follow their units.
    # Near the limits of float64 (1e-163, 1e160) squares vanish or overflow: the gate
    # and the k-means start read such columns as constant (or gave them an infinite
    # scale); they are divided by their peak first, which rounds (hence not exact).
    X, y = piecewise(400)
    moe = MixtureOfExpertsRegressor(LinearRegression(), random_state=0)
    plain = clone(moe).fit(X, y)
    scaled = clone(moe).fit(X * scale, y)
    assert scaled.n_experts_ == plain.n_experts_ >= 2
    assert_allclose(scaled.gate_.scale_, plain.gate_.scale_ * scale, rtol=1e-12)
    if exact:
        assert_array_equal(scaled.predict(X * scale), plain.predict(X))
    else:
        assert_allclose(scaled.predict(X * scale), plain.predict(X), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("scale", [2.0**-540, 2.0**530])
def test_the_gate_scales_sparse_and_dense_columns_near_the_limits_alike(scale, sparse):
    # (Scikit-learn's sparse LinearRegression fails at these scales, so the gate is
    # fitted alone.)
    import scipy.sparse as sp

    from skfuse._gate import SoftmaxGate

    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    targets = rng.dirichlet(np.ones(3), size=200)
    as_given = sp.csr_matrix if sparse else np.asarray
    plain = SoftmaxGate().fit(as_given(X), targets)
    scaled = SoftmaxGate().fit(as_given(X * scale), targets)
    assert_allclose(scaled.scale_, plain.scale_ * scale, rtol=1e-12)
    assert_allclose(scaled.predict_proba(as_given(X * scale)), plain.predict_proba(X),
                    rtol=1e-6, atol=1e-9)


def test_the_gate_reads_sparse_subnormal_columns_as_dense_ones():
    # Sparse columns were multiplied by 1 / their peak, which overflows for a peak
    # below ~5.6e-309: the mean came out infinite and the gate's shares NaN.
    import scipy.sparse as sp

    from skfuse._gate import SoftmaxGate, column_mean_scale

    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 2))
    X[rng.rand(200) < 0.3, 0] = 0.0
    X[:, 0] *= 1e-310
    targets = rng.dirichlet(np.ones(2), size=200)
    weight = rng.rand(200)
    dense = column_mean_scale(X, weight)
    for sparse in (sp.csr_matrix(X), sp.csc_array(X)):
        assert_allclose(column_mean_scale(sparse, weight), dense, rtol=1e-9)
        assert_allclose(SoftmaxGate().fit(sparse, targets).predict_proba(sparse),
                        SoftmaxGate().fit(X, targets).predict_proba(X), rtol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("value", [1e20, 1e30, 1e60, 1e90])
def test_a_constant_column_of_large_values_changes_no_gate_share(value, weighted):
    # A constant column kept a scale of 1, so the rounding of its mean (1e-16 of it)
    # stood as a standardised value of up to 1e74: equal shares for every row.
    from skfuse._gate import SoftmaxGate

    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 2))
    shares = np.exp(np.c_[X[:, 0], -X[:, 0]])
    targets = shares / shares.sum(axis=1, keepdims=True)
    weight = rng.rand(500) if weighted else None
    plain = SoftmaxGate().fit(X, targets, sample_weight=weight)
    wider = np.c_[X, np.full(500, value)]
    gate = SoftmaxGate().fit(wider, targets, sample_weight=weight)
    assert_allclose(gate.predict_proba(wider), plain.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("n_features", [4, 600])  # the axis: eigh, then Lanczos
def test_the_kmeans_start_seeds_sparse_x_as_dense_x(n_features):
    import scipy.sparse as sp

    from skfuse._mixture import _axis_seeds, _mean_filled, _standardise

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, n_features)) * (rng.rand(300, n_features) < 0.3)
    X[rng.rand(*X.shape) < 0.02] = np.nan
    weight = rng.rand(300)
    dense = _standardise(_mean_filled(X, weight), weight)
    sparse = _standardise(_mean_filled(sp.csr_matrix(X), weight), weight)
    assert sp.issparse(sparse)
    # Sparse columns are not centred: the same seeds, shifted by the columns' means.
    shift = weight @ sparse / weight.sum()
    assert_allclose(_axis_seeds(sparse, weight, 3) - shift, _axis_seeds(dense, weight, 3),
                    atol=1e-12)


def test_the_kmeans_start_keeps_wide_sparse_x_sparse():
    # The start densified X and formed its (d x d) covariance: 128 MB here, and
    # text-sized X (1e5 columns) could not be fitted with the default init.
    import tracemalloc

    import scipy.sparse as sp

    rng = np.random.RandomState(0)
    X = sp.random(500, 4000, density=1e-3, format="csr", random_state=rng)
    y = (np.asarray(X[:, :400].sum(axis=1)).ravel() > 0).astype(float)
    moe = MixtureOfExpertsClassifier(LogisticRegression())

    def start():
        return moe._initial_responsibilities(X, y, np.ones(500), 2,
                                             np.random.RandomState(0), 0)

    start()  # (the first call imports and compiles what it needs)
    tracemalloc.start()
    try:
        start()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.shape[0] * X.shape[1] * 8 / 8  # an eighth of one dense copy


@pytest.mark.parametrize("rows", ["zero", "alike"])
def test_the_kmeans_start_takes_wide_sparse_x_without_spread(rows):
    # Lanczos started from a vector the covariance maps to 0 raised ArpackError.
    import scipy.sparse as sp

    rng = np.random.RandomState(0)
    if rows == "zero":
        X = sp.csr_matrix((200, 600))
    else:
        X = sp.csr_matrix(np.tile((rng.rand(600) < 0.05) * 1.0, (200, 1)))
    y = rng.randint(0, 2, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        moe = MixtureOfExpertsClassifier(LogisticRegression(), n_experts=2, max_iter=2,
                                         random_state=0).fit(X, y)
    assert np.isfinite(moe.predict_proba(X)).all()


def test_the_kmeans_start_centres_sparse_columns_stored_in_every_row():
    # Scaled but not centred, a column at 1e9 (plus 10 between the groups) stood 2e8
    # standard units from 0, and the rounding of k-means's distances hid the groups.
    import scipy.sparse as sp

    rng = np.random.RandomState(0)
    groups = rng.randint(0, 2, 300)
    X = np.c_[1e9 + 10.0 * groups + rng.normal(size=300),
              rng.normal(size=(300, 2)) * (rng.rand(300, 2) < 0.3)]
    moe = MixtureOfExpertsClassifier(LogisticRegression())
    for given in (X, sp.csr_matrix(X)):
        for start in range(3):
            found = moe._initial_responsibilities(given, groups * 1.0, np.ones(300), 2,
                                                  np.random.RandomState(0), start)
            same = found.argmax(axis=1) == groups  # the groups, up to their order
            assert same.all() or not same.any()


def test_the_kmeans_start_fills_nan_in_sparse_x_with_repeated_entries_as_dense():
    import scipy.sparse as sp

    from skfuse._mixture import _mean_filled

    # Row 0 column 0 is stored twice, NaN and 1: one NaN, as toarray() sums them.
    X = sp.csr_matrix((np.array([np.nan, 1.0, 2.0, 4.0]), np.zeros(4, dtype=int),
                       np.array([0, 2, 3, 4, 4])), shape=(4, 1))
    assert not X.has_canonical_format
    weight = np.ones(4)
    assert_allclose(_mean_filled(X, weight).toarray(), _mean_filled(X.toarray(), weight))


def test_the_kmeans_start_of_wide_dense_x_forms_no_covariance():
    # 100 rows of 3,000 features (genes, pixels): the (d x d) covariance took 72 MB
    # and its eigendecomposition most of the fit. The rows' SVD gives the same axis.
    import tracemalloc

    from skfuse._mixture import _axis_seeds

    rng = np.random.RandomState(0)
    Z = rng.normal(size=(100, 3000)) + np.outer(rng.normal(size=100), rng.normal(size=3000))
    weight = rng.rand(100)
    centred = Z - weight @ Z / weight.sum()
    axis = np.linalg.eigh((centred * weight[:, None]).T @ centred)[1][:, -1]
    projection = centred @ axis
    projection *= np.sign(projection[np.argmax(np.abs(projection))])
    cumulative = np.cumsum(weight[np.argsort(projection, kind="stable")])
    picks = np.searchsorted(cumulative, (np.arange(3) + 0.5) * cumulative[-1] / 3)
    tracemalloc.start()
    try:
        seeds = _axis_seeds(Z, weight, 3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_array_equal(seeds, Z[np.argsort(projection, kind="stable")[picks]])
    assert peak < 3000 * 3000 * 8 / 4  # a quarter of the covariance


def test_the_kmeans_start_leaves_a_nearly_constant_column_centred():
    # A column varying within the rounding of its mean (1e6 plus changes of 1e-9) was
    # scaled up to unit spread, as far-reaching in the k-means start as a real feature.
    from skfuse._mixture import _standardise

    rng = np.random.RandomState(0)
    X = np.c_[rng.normal(size=200), 1e6 + 1e-9 * rng.normal(size=200)]
    Z = _standardise(X, np.ones(200))
    assert_allclose(Z[:, 0].std(), 1.0)
    assert np.abs(Z[:, 1]).max() < 1e-8


@pytest.mark.parametrize("scale", [1e-80, 1e80, 1e120])
def test_the_choice_of_experts_does_not_depend_on_the_scale_of_y(scale):
    # Held-out squared errors of y ~ 1e80 are ~ 1e160: their spread, squared again,
    # overflowed, and the choice fell back to one expert.
    X, y = piecewise(400)
    plain = MixtureOfExpertsRegressor(random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = MixtureOfExpertsRegressor(random_state=0).fit(X, y * scale)
    assert scaled.n_experts_ == plain.n_experts_ >= 2
    assert scaled.gate_alpha_ == plain.gate_alpha_
    assert_allclose(scaled.predict(X) / scale, plain.predict(X), rtol=1e-9, atol=1e-9)


def test_gate_alpha_zero_is_an_unpenalised_gate():
    X, y = piecewise(300)
    fits = {alpha: MixtureOfExpertsRegressor(n_experts=3, gate_alpha=alpha, random_state=0,
                                             max_iter=5).fit(X, y)
            for alpha in (0.0, 1.0)}
    assert fits[0.0].gate_.alpha == 0.0 and fits[0.0].gate_alpha_ == 0.0
    assert not np.allclose(fits[0.0].predict_gate(X), fits[1.0].predict_gate(X))


def test_a_bad_gate_view_is_named_as_gate_view():
    X, y = piecewise(100)
    with pytest.raises(ValueError, match=r"^MixtureOfExpertsRegressor: gate_view names "
                                         r"column position"):
        MixtureOfExpertsRegressor(n_experts=2, gate_view=[5]).fit(X, y)


def test_held_out_rows_pick_the_iteration_kept():
    X, y = piecewise(600)
    moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    curve = moe.validation_loss_curve_
    assert len(curve) == len(moe.objective_curve_) == moe.n_iter_
    assert moe.best_iteration_ == int(np.argmin(curve)) + 1
    no_slice = MixtureOfExpertsRegressor(n_experts=3, validation_fraction=None,
                                         random_state=0).fit(X, y)
    assert no_slice.validation_loss_curve_ is None
    assert no_slice.best_iteration_ == int(np.argmax(no_slice.objective_curve_)) + 1


def test_a_fit_that_stops_early_says_so_and_why(capsys):
    X, y = piecewise(300)
    moe = MixtureOfExpertsRegressor(n_experts=2, tol=10.0, n_iter_no_change=3, verbose=1,
                                    random_state=0).fit(X, y)
    assert moe.converged_ and moe.n_iter_ == 1 + 3 < moe.max_iter  # a rise, then 3 without
    summary = capsys.readouterr().out.splitlines()[-1]
    assert "4 EM iteration(s), converged (the held-out log-likelihood rose by less than " \
           "tol=10.0 for 3 iteration(s); kept iteration" in summary
    with pytest.warns(Warning, match="did not converge in max_iter=2"):
        moe = MixtureOfExpertsRegressor(n_experts=2, tol=0.0, max_iter=2, verbose=1,
                                        random_state=0).fit(X, y)
    assert not moe.converged_ and moe.n_iter_ == 2
    assert "not converged (max_iter=2 reached)" in capsys.readouterr().out


def test_one_expert_needs_no_gate_even_with_nan():
    # One expert (given, or kept by "auto") has a trivial gate, so the NaN that a given
    # gate takes in its columns do not reach the built-in one.
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(400, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(0, 0.1, 400)
    X[::5, 2] = np.nan
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.neighbors import KNeighborsRegressor

    # An expert must take EM's weights: a Pipeline passes them to a final step that does.
    expert = make_pipeline(imputing_gate()[0], KNeighborsRegressor())
    moe = MixtureOfExpertsRegressor(expert, gate=imputing_gate(), random_state=0)
    with pytest.raises(TypeError, match="expert 'expert0' \\(Pipeline\\) does not accept "
                                        "sample_weight.*its final step"):
        moe.fit(X, y)

    moe = MixtureOfExpertsRegressor(HistGradientBoostingRegressor(max_iter=20), n_experts=1,
                                    gate=imputing_gate(), random_state=0).fit(X, y)
    assert moe.n_experts_ == 1 and moe.converged_
    assert_allclose(moe.predict_gate(X), 1.0)
    assert np.isfinite(moe.predict(X)).all()


def test_auto_races_on_a_sample_of_many_rows_then_goes_on_from_there(monkeypatch):
    # Above _RACE_ROWS training rows, the counts race on a sample of them; the chosen
    # count's EM then goes on from the sample's mixture on every training row.
    from skfuse import _mixture

    monkeypatch.setattr(_mixture, "_RACE_ROWS", 200)
    # The one k-means start misses a regime on some draws (seed 0 of piecewise: R^2
    # 0.86; it finds all three on 4 of seeds 0-5): this test is about the race, the
    # start's quality is measured by bench_moe.py.
    X, y = piecewise(1200, seed=1)
    moe = MixtureOfExpertsRegressor(random_state=0).fit(X, y)
    assert moe.n_experts_ >= 2 and moe.score(X, y) > 0.98
    assert len(moe.objective_curve_) == moe.n_iter_ < moe.n_iter_total_  # the last run
    assert len(moe.validation_loss_curve_) == moe.n_iter_
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(1200, 2))
    linear = 2 * X[:, 0] - X[:, 1] + rng.normal(0, 0.3, 1200)
    moe = MixtureOfExpertsRegressor(random_state=0).fit(X, linear)
    assert moe.n_experts_ == 1  # one expert: fitted alone on every row
    assert_allclose(moe.predict(X), Ridge().fit(X, linear).predict(X), rtol=1e-10)


def test_verbose_tells_the_chosen_counts_continuation_from_a_start(monkeypatch, capsys):
    # Its lines read "start 1 of 1" again, as if EM had run twice from scratch.
    from skfuse import _mixture

    monkeypatch.setattr(_mixture, "_RACE_ROWS", 200)
    X, y = piecewise(1200, seed=1)
    moe = MixtureOfExpertsRegressor(max_iter=5, verbose=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converging in 5 iterations
        moe.fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    going_on = [line for line in lines if "on every row from the raced fit" in line]
    assert going_on and all(f"{moe.n_experts_} expert(s)" in line for line in going_on)
    assert len(going_on) == moe.n_iter_


@pytest.mark.parametrize("params, reason", [
    ({"validation_fraction": None}, "no validation slice to choose on"),
    ({"views": {"expert3": [0, 1]}}, "the views name an expert that fewer experts would lack"),
    # Views that leave one count: a validation slice would not give a choice.
    ({"views": {"expert3": [0, 1]}, "validation_fraction": None},
     "the views name an expert that fewer experts would lack"),
])
def test_verbose_says_why_auto_had_one_count_to_try(params, reason, capsys):
    # The docs promise the count "auto" chose; with one count to try nothing was said.
    X, y = piecewise(300)
    moe = MixtureOfExpertsRegressor(Ridge(), verbose=1, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        moe.fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if "n_experts=" in line]
    expected = (f'[MixtureOfExpertsRegressor] n_experts={moe.n_experts_} ("auto" had one '
                f"count to try: {reason})")
    assert lines == [expected]


# -- found by an audit -------------------------------------------------------------------


def test_a_class_with_one_row_keeps_it_for_training_and_auto_still_chooses():
    # The row once landed in the validation slice for some seeds, which then dropped
    # the slice, and "auto" silently fell back to one expert.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = np.array(["cat", "dog", "eel"], dtype=object)[(X[:, 0] > 0).astype(int)
                                                     + (X[:, 1] > 0.5)]
    y[160] = "rare"
    # The draw itself: over these seeds it takes the row at least once, and gives it back.
    sizes = set()
    for seed in range(20):
        valid = MixtureOfExpertsClassifier()._validation_rows(
            y, np.ones(len(y)), 4, np.random.RandomState(seed))
        assert valid is not None and not valid[160], seed
        sizes.add(int(valid.sum()))
    assert sizes == {49, 50}  # 49: a seed drew the row, which went back
    for seed in range(6):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            moe = MixtureOfExpertsClassifier(random_state=seed).fit(X, y)
        assert moe.count_losses_ is not None, seed  # the counts were compared
        assert moe.classes_.tolist() == ["cat", "dog", "eel", "rare"]


def test_rare_classes_that_take_back_the_validation_slice_leave_none():
    # With one row per class every drawn row went back to training: an empty slice
    # failed inside an expert ("Found array with 0 sample(s)"), and one row left over
    # chose n_experts on that row.
    X = np.random.RandomState(0).randn(100, 2)
    for y in (np.arange(100), np.r_[np.arange(98), 98, 98]):
        for seed in range(3):
            assert MixtureOfExpertsClassifier()._validation_rows(
                y, np.ones(100), 4, np.random.RandomState(seed)) is None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            moe = MixtureOfExpertsClassifier(random_state=0).fit(X, y)
        assert moe.count_losses_ is None  # not chosen on a handful of rows
        assert_allclose(moe.predict_proba(X).sum(axis=1), 1.0)


@pytest.mark.parametrize("validation_fraction, n", [(0.1, 60), (None, 300)])
def test_auto_without_a_validation_slice_keeps_every_expert_views_name(
        validation_fraction, n):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 3))
    y = X[:, 0] + rng.normal(0, 0.1, n)
    moe = MixtureOfExpertsRegressor(views={"expert0": [1, 2], "expert1": [0]},
                                    validation_fraction=validation_fraction,
                                    random_state=0).fit(X, y)
    assert moe.count_losses_ is None  # nothing to choose on
    assert moe.n_experts_ == 2 and moe.experts_[1].n_features_in_ == 1
    assert moe.score(X, y) > 0.9


def test_converged_is_the_last_phases_and_max_iter_warns():
    # With top_k, a dense phase that stops on tol is followed by a sparse one: when that
    # one runs to max_iter, the fit has not converged.
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(300, 2))
    y = (np.where(X[:, 0] > 0, 2, -1) * X[:, 1] + np.where(X[:, 1] > 0, 1, -2) * X[:, 0]
         + rng.normal(0, 0.3, 300))
    with pytest.warns(ConvergenceWarning, match="max_iter=8 reached"):
        moe = MixtureOfExpertsRegressor(n_experts=4, top_k=1, max_iter=8, n_iter_no_change=3,
                                        random_state=0).fit(X, y)
    assert moe.n_iter_ == 8 and not moe.converged_
    # The premise: the dense phase (iterations 1 to 4) stopped on tol, its held-out
    # log-likelihood never rising by tol after the first iteration.
    dense = moe.validation_score_curve_[:4]
    assert np.all(dense[1:] - dense[0] <= moe.tol)


def test_a_view_may_name_an_expert_a_search_drops():
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(200, 3))
    y = np.abs(X[:, 0]) + rng.normal(0, 0.1, 200)
    moe = MixtureOfExpertsRegressor([("a", Ridge()), ("b", Ridge())], views={"b": [0, 1]},
                                    random_state=0)
    search = GridSearchCV(moe, {"b": [Ridge(), "drop"]}, cv=2, error_score="raise")
    search.fit(X, y)
    dropped = clone(moe).set_params(b="drop").fit(X, y)
    assert list(dropped.named_experts_) == ["a"] and dropped.experts_[0].n_features_in_ == 3
    with pytest.raises(ValueError, match=r"views names expert\(s\) \['c'\]"):
        clone(moe).set_params(views={"c": [0]}).fit(X, y)


def test_fewer_rows_of_positive_weight_than_experts_are_refused_in_the_mixtures_words():
    X = np.random.RandomState(0).normal(size=(20, 2))
    weight = np.r_[np.ones(3), np.zeros(17)]
    with pytest.raises(ValueError, match=r"per expert \(4\); got 3 of n_samples=20"):
        MixtureOfExpertsRegressor(n_experts=4).fit(X, X[:, 0], sample_weight=weight)


def test_predict_log_proba_is_the_log_of_predict_proba():
    X, y = load_iris(return_X_y=True)
    moe = MixtureOfExpertsClassifier(n_experts=2, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        moe.fit(X, y)
    assert_allclose(moe.predict_log_proba(X), np.log(moe.predict_proba(X)))


def test_several_targets_are_refused_in_the_composites_words():
    from skfuse import DistilledRegressor

    X = np.random.RandomState(0).normal(size=(60, 3))
    Y = X[:, :2]
    for model in (MixtureOfExpertsRegressor(n_experts=2),
                  DistilledRegressor(Ridge(), Ridge(), cv=3)):
        with pytest.raises(ValueError, match=f"{type(model).__name__}: y has shape "
                                             r"\(60, 2\).*MultiOutputRegressor"):
            model.fit(X, Y)


def test_one_expert_predicts_without_routing(monkeypatch):
    # With one expert on every row the gate's share is 1: the mixture's outputs are the
    # expert's, and routing (top-k, grouping, combining) would only cost time.
    from skfuse import routing

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(scale=0.1, size=120)
    mixture = MixtureOfExpertsRegressor(Ridge(), n_experts=1, random_state=0).fit(X, y)
    labels = (y > 0).astype(int)
    classifier = MixtureOfExpertsClassifier(LogisticRegression(), n_experts=1,
                                            random_state=0).fit(X, labels)

    def refuse(*args, **kwargs):
        raise AssertionError("routing was asked")

    for name in ("top_k", "group_by_expert", "combine"):
        monkeypatch.setattr(routing, name, refuse)
    expert = mixture.experts_[0]
    np.testing.assert_array_equal(mixture.predict(X), expert.predict(X))
    mean, std = mixture.predict(X, return_std=True)
    np.testing.assert_array_equal(mean, expert.predict(X))
    np.testing.assert_allclose(std, np.sqrt(mixture.noise_variance_[0]))
    np.testing.assert_array_equal(classifier.predict_proba(X),
                                  classifier.experts_[0].predict_proba(X))
    np.testing.assert_array_equal(classifier.predict_log_proba(X),
                                  np.log(classifier.experts_[0].predict_proba(X)))
    np.testing.assert_array_equal(classifier.predict(X), classifier.experts_[0].predict(X))


def test_one_expert_refuses_nan_in_its_own_words():
    # The direct path keeps the presence check: an expert that takes no NaN is named.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3))
    mixture = MixtureOfExpertsRegressor(Ridge(), n_experts=1, random_state=0).fit(
        X, X[:, 0])
    X[5, 1] = np.nan
    with pytest.raises(ValueError, match="expert 'expert0' \\(Ridge\\) does not accept NaN"):
        mixture.predict(X)


def test_one_expert_with_a_view_is_routed_as_before():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3))
    y = X @ [1.0, -1.0, 0.0]
    mixture = MixtureOfExpertsRegressor(Ridge(), n_experts=1, views={"expert0": [0, 1]},
                                        random_state=0).fit(X, y)
    np.testing.assert_array_equal(mixture.predict(X),
                                  mixture.experts_[0].predict(X[:, [0, 1]]))


def test_a_gate_that_gives_every_expert_present_0_shares_the_row_among_them():
    # A tree gate gives hard 0/1 shares; where its chosen expert's view is missing, the
    # row goes to the experts present, equally (renormalising 0 over them gave NaN).
    rng = np.random.RandomState(0)
    X = rng.randn(400, 3)
    y = (np.where(X[:, 2] > 0, X[:, 0], X[:, 1]) > 0).astype(int)
    moe = MixtureOfExpertsClassifier(
        [("a", LogisticRegression()), ("b", LogisticRegression())],
        views={"a": [0], "b": [1]}, gate_view=[2],
        gate=DecisionTreeClassifier(max_depth=2, random_state=0), random_state=0).fit(X, y)
    full = np.array([[1.0, 0.5, 2.0], [1.0, 0.5, -2.0]])
    assert set(moe.predict_gate(full).ravel()) == {0.0, 1.0}  # hard shares
    blank_b = full.copy()
    blank_b[:, 1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gate = moe.predict_gate(blank_b)
        proba = moe.predict_proba(blank_b)
    assert_allclose(gate, [[1.0, 0.0], [1.0, 0.0]])
    assert_allclose(proba, moe.experts_[0].predict_proba(blank_b[:, :1]))


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("cls", [MixtureOfExpertsClassifier, MixtureOfExpertsRegressor])
def test_fitted_on_dense_x_a_mixture_answers_sparse_x_alike(cls, fmt):
    # The gate scales sparse X without centring it (centring would densify it): fitted
    # on dense X, whose column means are not 0, it routed the same rows otherwise when
    # they came sparse (shares 0.90 / 0.10 against 0.0 / 1.0), with no error.
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3) + 10.0
    y = np.where(X[:, 0] > 10, 3 * X[:, 1], -X[:, 2]) + 0.1 * rng.randn(200)
    if cls is MixtureOfExpertsClassifier:
        y = (y > np.median(y)).astype(int)
    mixture = cls(n_experts=2, max_iter=5, random_state=0).fit(X, y)
    X_sparse = sp.coo_matrix(X).asformat(fmt)
    assert_allclose(mixture.predict_gate(X_sparse), mixture.predict_gate(X), atol=1e-12)
    method = "predict_proba" if cls is MixtureOfExpertsClassifier else "predict"
    assert_allclose(getattr(mixture, method)(X_sparse), getattr(mixture, method)(X),
                    atol=1e-9)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_sparse_x_gives_the_mixture_dense_x_gives(kind):
    # The k-means start standardised dense columns only: on a sparse X the widest
    # column decided the start, and EM ended in another, far worse mixture.
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.RandomState(1)
    X = np.column_stack([rng.randn(300), 50 * rng.randn(300), rng.randn(300)])
    y = np.where(X[:, 0] > 0, 3 * X[:, 2], -3 * X[:, 2]) + 0.1 * rng.randn(300)
    if kind == "regressor":
        mixture = MixtureOfExpertsRegressor(Ridge(), n_experts=2, random_state=0)
        dense, sparse = clone(mixture).fit(X, y), clone(mixture).fit(sp.csr_matrix(X), y)
        gap = np.abs(dense.predict(X) - sparse.predict(sp.csr_matrix(X))).max()
        assert gap < 0.05 * y.std()  # the solvers differ by rounding, not by mixture
    else:
        labels = (y > 0).astype(int)
        mixture = MixtureOfExpertsClassifier(random_state=0)
        dense = clone(mixture).fit(X, labels)
        sparse = clone(mixture).fit(sp.csr_matrix(X), labels)
        gap = np.abs(dense.predict_proba(X) - sparse.predict_proba(sp.csr_matrix(X))).max()
        assert gap < 0.05
    assert dense.n_experts_ == sparse.n_experts_


def test_the_default_classifier_expert_is_a_standardised_logistic_regression():
    # On raw columns of different scales lbfgs ran out of its 1000 iterations (a
    # ConvergenceWarning at every default fit on breast_cancer, and fits 5-23x slower).
    sp = pytest.importorskip("scipy.sparse")
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "lbfgs failed to converge", ConvergenceWarning)
        dense = MixtureOfExpertsClassifier(n_experts=2, random_state=0).fit(X, y)
    scaler, model = dense.experts_[0]
    assert isinstance(scaler, StandardScaler) and scaler.with_mean
    assert isinstance(model, LogisticRegression) and model.max_iter == 1000
    # Sparse X is scaled without centring; sparse X given to a mixture fitted on dense
    # X is taken dense, as its centring experts were fitted.
    sparse = MixtureOfExpertsClassifier(n_experts=2, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # EM's, at max_iter=3
        sparse.fit(sp.csr_matrix(X), y)
    assert not sparse.experts_[0][0].with_mean
    assert_allclose(dense.predict_proba(sp.csr_matrix(X[:20])), dense.predict_proba(X[:20]))
    # A DataFrame of sparse columns reaches the experts as a sparse matrix.
    frame = pd.DataFrame(X[:, :5]).astype(pd.SparseDtype(float, 0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        on_frame = clone(sparse).fit(frame, y)
    assert not on_frame.experts_[0][0].with_mean
    dense = clone(sparse).set_params(max_iter=100).fit(X[:, :5], y)
    assert_allclose(dense.predict_proba(frame), dense.predict_proba(X[:, :5]))


def test_the_default_experts_scaler_is_quiet_on_a_column_constant_on_weighted_rows():
    # scikit-learn's weighted variance of a constant column can round below 0 (about
    # -1e-46): its square root warned "invalid value encountered in sqrt" on 11 of 22
    # real sets at defaults, where EM's weights leave a one-hot column constant.
    from skfuse._mixture import _Standardiser

    rng = np.random.RandomState(0)
    X, weight = np.c_[rng.randn(231), np.ones(231)], rng.uniform(0.01, 1, 231)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        expected = StandardScaler().fit(X, sample_weight=weight)
    assert any("invalid value" in str(w.message) for w in caught)  # the case at hand
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = _Standardiser().fit(X, sample_weight=weight)
    assert quiet.scale_[1] == 1.0
    assert_array_equal(quiet.transform(X), expected.transform(X))


def test_the_gate_scales_sparse_columns_by_their_spread_as_dense_ones():
    # Sparse columns were scaled by their root mean square, not their standard
    # deviation: a column with a non-zero mean (an indicator, a one-hot level) took
    # another share of the penalty, and the gate another solution (0.2 apart).
    sp = pytest.importorskip("scipy.sparse")
    from skfuse._gate import SoftmaxGate

    rng = np.random.RandomState(0)
    X = np.column_stack([rng.randn(300) + 3, rng.rand(300) > 0.5, rng.randn(300),
                         np.full(300, 2.5)])  # a shifted, an indicator, a constant
    targets = np.eye(2)[(X[:, 0] + X[:, 1] > 3.5).astype(int)]
    weight = rng.rand(300)
    dense = SoftmaxGate().fit(X, targets, weight)
    sparse = SoftmaxGate().fit(sp.csr_matrix(X), targets, weight)
    assert_allclose(sparse.scale_, dense.scale_, rtol=1e-12)
    assert_allclose(sparse.scale_[3], 2.5)  # constant: scaled by its magnitude, as dense
    assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X),
                    atol=1e-5)


@pytest.mark.parametrize("cls", [MixtureOfExpertsClassifier, MixtureOfExpertsRegressor])
def test_the_default_experts_speak_in_the_tags(cls):
    # With experts=None the tags looked at the gate alone: a gate that takes NaN made
    # the mixture claim NaN, which its default experts (logistic regression, ridge)
    # refuse at fit.
    gate = DecisionTreeClassifier(max_depth=3)
    assert get_tags(gate).input_tags.allow_nan
    assert not get_tags(cls(gate=gate)).input_tags.allow_nan
    default = LogisticRegression if cls is MixtureOfExpertsClassifier else Ridge
    assert get_tags(cls(gate=gate)) == get_tags(cls(default(), gate=gate))


def test_a_mixtures_own_fitted_gate_given_as_gate_is_refused_clearly():
    # It passed the gate check (fit, predict_proba) and failed deep inside EM.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + rng.normal(0, 0.1, 200)
    fitted = MixtureOfExpertsRegressor(Ridge(), n_experts=2, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match=r"gate is skfuse's own gate .* leave gate=None "
                                         r"and set gate_alpha \(this one's alpha is 1.0\)"):
        MixtureOfExpertsRegressor(Ridge(), n_experts=2, gate=clone(fitted.gate_)).fit(X, y)


def test_a_frozen_gate_keeps_its_routing_and_em_fits_the_experts():
    # It was refused as a gate that "cannot hand sample_weight on" (which EM never asks
    # of a gate it does not fit).

    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, (300, 2))
    y = np.abs(X[:, 0])
    gate = FrozenEstimator(LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)))
    for seed in range(8):  # a k-means start numbered the other way round stuck (R2 -11)
        mixture = MixtureOfExpertsRegressor(Ridge(), gate=gate, random_state=seed).fit(X, y)
        assert mixture.n_experts_ == 2  # "auto": one expert per class of the gate
        assert_allclose(mixture.predict_gate(X), gate.predict_proba(X))
        assert mixture.score(X, y) > 0.99  # a line per side of the gate's boundary
    with pytest.raises(ValueError, match=r"frozen gate routes to its classes, which must "
                                         r"be the experts' positions 0 to 2 \(n_experts=3\); "
                                         r"its classes are \[0, 1\]"):
        MixtureOfExpertsRegressor(Ridge(), n_experts=3, gate=gate).fit(X, y)
    with pytest.raises(ValueError, match="top_k must be None or an int from 1 to "
                                         "n_experts=2"):
        MixtureOfExpertsRegressor(Ridge(), gate=gate, top_k=3).fit(X, y)
    with pytest.raises(ValueError, match="a frozen gate must be fitted beforehand"):
        MixtureOfExpertsRegressor(Ridge(), gate=FrozenEstimator(LogisticRegression())).fit(X, y)
    # "auto" beyond its own largest count (4): an expert per class of the gate.
    five = FrozenEstimator(LogisticRegression().fit(X, np.digitize(X[:, 0], [-2, -1, 1, 2])))
    assert MixtureOfExpertsRegressor(Ridge(), gate=five, random_state=0).fit(X, y).n_experts_ == 5


@pytest.mark.parametrize("init", ["random", "kmeans"])
def test_rows_of_weight_zero_leave_the_sparse_m_step_as_if_dropped(init):
    # The fallback of the sparse M-step (no row reaching min_responsibility) took the
    # largest share over every row: when a row of weight 0 held it, the expert kept no
    # row ("has no row to be fitted on").
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, (40, 2))
    y = np.where(X[:, 0] > 0, 2 * X[:, 1], -X[:, 1] + 1) + rng.normal(0, 0.5, 40)
    weight = (rng.uniform(size=40) < 0.6).astype(float)
    settings = dict(n_experts=3, max_iter=6, validation_fraction=None, gate_alpha=0.5,
                    init=init, min_responsibility=0.9, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = MixtureOfExpertsRegressor(**settings).fit(X, y, sample_weight=weight)
        dropped = MixtureOfExpertsRegressor(**settings).fit(X[weight > 0], y[weight > 0])
    if init == "kmeans":  # the same start: the same mixture
        assert_allclose(weighted.predict(X), dropped.predict(X), rtol=1e-10)
    assert np.all(np.isfinite(weighted.predict(X)))


def test_target_whose_squares_overflow_is_refused_by_name():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 3)
    y = np.where(X[:, 0] > 0, 3 * X[:, 1], -2 * X[:, 2])
    MixtureOfExpertsRegressor(LinearRegression(), n_experts=2, random_state=0).fit(X, y * 1e150)
    with pytest.raises(ValueError, match="squared errors of y overflow .* rescale y"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the experts' own fits
        MixtureOfExpertsRegressor(LinearRegression(), n_experts=2,
                                  random_state=0).fit(X, y * 1e153)


def test_an_expert_predicting_nan_is_named():
    # It was told as "the squared errors of y overflow float64 ...; rescale y".
    X, y = piecewise(300)
    with pytest.raises(ValueError, match=r"expert\(s\) 'expert\d'.* predicted NaN"):
        MixtureOfExpertsRegressor(NaNRidge(), n_experts=2, random_state=0).fit(X, y)


def test_one_expert_takes_what_its_expert_takes_with_no_gate_to_ask():
    """One expert is the expert alone: X with NaN, or with text columns, which only a
    gate would refuse, fits as the expert does (fit refused them, predict took them)."""
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, (300, 3))
    y = X @ [1.0, 2.0, 3.0]
    X[::7, 1] = np.nan
    alone = HistGradientBoostingRegressor(max_iter=10).fit(X, y).predict(X)
    expert = HistGradientBoostingRegressor(max_iter=10)
    for mixture in (MixtureOfExpertsRegressor(expert, n_experts=1),
                    MixtureOfExpertsRegressor([("h", expert)]),
                    MixtureOfExpertsRegressor(expert, validation_fraction=None),
                    MixtureOfExpertsRegressor(expert, n_experts=1, gate=LogisticRegression())):
        assert_array_equal(mixture.fit(X, y).predict(X), alone)
        assert_array_equal(mixture.predict_gate(X), np.ones((300, 1)))
    assert MixtureOfExpertsRegressor(expert, n_experts=1).__sklearn_tags__().input_tags.allow_nan
    with pytest.raises(ValueError, match="the gate's columns hold NaN"):
        MixtureOfExpertsRegressor(expert, random_state=0).fit(X, y)  # "auto" tries 2 and 4
    frame = pd.DataFrame(np.nan_to_num(X), columns=list("abc"))
    frame["s"] = np.where(X[:, 2] > 0, "p", "q")
    texts = make_pipeline(make_column_transformer((OneHotEncoder(), ["s"]),
                                                  remainder="passthrough"), Ridge())
    assert_allclose(MixtureOfExpertsRegressor(texts, n_experts=1).fit(frame, y).predict(frame),
                    texts.fit(frame, y).predict(frame))


def test_a_gate_picking_columns_by_name_is_told_of_gate_view():
    """The gate gets its columns as a float array without names (docs/mixture.md): a
    gate that picks them by name failed with scikit-learn's bare words."""
    from sklearn.compose import ColumnTransformer

    rng = np.random.RandomState(0)
    frame = pd.DataFrame(rng.randn(200, 3), columns=["a", "b", "c"])
    y = np.where(frame["a"] > 0, frame["b"], -frame["c"])
    gate = make_pipeline(ColumnTransformer([("n", StandardScaler(), ["a"])]),
                         LogisticRegression())
    with pytest.raises(ValueError, match="picks columns by name, but it is given its "
                                         "columns \\(gate_view\\) as a float array"):
        MixtureOfExpertsRegressor(Ridge(), n_experts=2, gate=gate,
                                  gate_view=["a", "b"]).fit(frame, y)


def test_a_given_gate_is_left_unseeded_without_a_random_state():
    # Under random_state=None the experts keep their None seeds; a given gate took an
    # int drawn from numpy's global generator (consuming it, and showing in gate_).
    X, y = piecewise(300)
    kwargs = {"n_experts": 2, "gate": DecisionTreeClassifier(max_depth=3), "max_iter": 3}
    unseeded = MixtureOfExpertsRegressor(Ridge(), random_state=None, **kwargs).fit(X, y)
    assert unseeded.gate_.random_state is None
    seeded = MixtureOfExpertsRegressor(Ridge(), random_state=0, **kwargs).fit(X, y)
    assert isinstance(seeded.gate_.random_state, int)


def test_a_composite_expert_or_gate_holding_a_member_without_weights_is_refused_first():
    # EM's weights are fractional, which such a composite takes only where each of its
    # members takes weights: the nested member's refusal came from deep in EM.
    from skfuse import FusionClassifier

    iris = load_iris()
    inner = FusionClassifier([("knn", KNeighborsClassifier()), ("lr", LogisticRegression())])
    experts = [("fusion", inner), ("lr", LogisticRegression())]
    with pytest.raises(TypeError, match=r"'knn' inside expert 'fusion' "
                       r"\(KNeighborsClassifier\) does not accept sample_weight in fit, "
                       "which EM weights it with"):
        MixtureOfExpertsClassifier(experts, max_iter=3).fit(iris.data, iris.target)
    with pytest.raises(TypeError, match="'knn' inside the gate"):
        MixtureOfExpertsClassifier(n_experts=2, gate=clone(inner),
                                   max_iter=3).fit(iris.data, iris.target)
    with pytest.raises(TypeError, match="'fusionclassifier__knn' inside expert 'pipe'"):
        MixtureOfExpertsClassifier([("pipe", make_pipeline(StandardScaler(), clone(inner)))],
                                   max_iter=3).fit(iris.data, iris.target)
    # Fitted as they are (frozen), or left unweighted (metadata routing), such members
    # are no obstacle; nor are members that all take weights.
    frozen = FrozenEstimator(KNeighborsClassifier().fit(iris.data, iris.target))
    for knn in (frozen, DecisionTreeClassifier(max_depth=2, random_state=0)):
        inner.set_params(knn=knn)
        mixture = MixtureOfExpertsClassifier(experts, max_iter=3, random_state=0)
        assert mixture.fit(iris.data, iris.target).score(iris.data, iris.target) > 0.8
    with sklearn.config_context(enable_metadata_routing=True):
        lr = LogisticRegression().set_fit_request(sample_weight=True)
        inner = FusionClassifier([("knn", KNeighborsClassifier()), ("lr", lr)])
        mixture = MixtureOfExpertsClassifier([("fusion", inner), ("lr", clone(lr))],
                                             max_iter=3, random_state=0)
        assert mixture.fit(iris.data, iris.target).score(iris.data, iris.target) > 0.8


def test_a_gate_refuses_dates_and_durations_as_it_does_text():
    # As floats they were counts of the column's unit: the same dates in seconds and in
    # nanoseconds routed the rows apart (pandas' and polars' frames differ in unit).
    X, y = piecewise(200)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["when"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(200), unit="D")
    frame["wait"] = frame["when"] - frame["when"].min()
    views = {"a": ["x0", "x1"], "b": ["x0", "x1"]}
    moe = MixtureOfExpertsRegressor([("a", Ridge()), ("b", Ridge())], views=views)
    with pytest.raises(ValueError, match=r"of which \['when', 'wait'\] are not"):
        moe.fit(frame, y)
    dates = frame[["when", "when"]].to_numpy()  # an array of datetime64: the same
    with pytest.raises(ValueError, match="dates and durations are not numbers"):
        MixtureOfExpertsRegressor(Ridge(), n_experts=2).fit(dates, y)
    moe.set_params(gate_view=[f"x{i}" for i in range(X.shape[1])], random_state=0)
    assert moe.fit(frame, y).predict(frame).shape == (200,)


@pytest.mark.parametrize("constant", [True, False])
def test_auto_keeps_one_expert_on_an_exact_target(constant):
    # Held-out squared errors of an exact target (constant, or exactly linear for
    # LinearRegression experts) are float rounding, ~1e-30: "auto" read 2 or 4 experts
    # as clearly better by it and kept them.
    from sklearn.linear_model import LinearRegression
    rng = np.random.RandomState(0)
    if constant:
        X, expert = rng.uniform(-3, 3, size=(200, 2)), None
        y = np.full(200, 0.1)
    else:
        X, expert = rng.uniform(-3, 3, size=(300, 3)), LinearRegression()
        y = X @ [1.5, -2, 0.5] + 3
    moe = MixtureOfExpertsRegressor(expert, random_state=0).fit(X, y)
    assert moe.n_experts_ == 1
