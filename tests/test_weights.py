"""Weights that do not overfit: bagged fold fits, temperatures and the guard, each
against a computation by hand."""

import gc
import tracemalloc
import weakref

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import nnls
from scipy.special import softmax
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.datasets import load_diabetes, load_iris, make_classification
from sklearn.dummy import DummyRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
)
from sklearn.metrics import accuracy_score, log_loss, make_scorer
from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skfuse import FusionClassifier, FusionRegressor, SerialStack
from skfuse._weights import (
    NEGLIGIBLE_WEIGHT,
    classifier_objective,
    combine_classifier,
    combine_regressor,
    fit_temperature,
    greedy_weights,
    guard_gain,
    optimize_weights,
    regressor_objective,
    row_losses,
    tempered,
)

IRIS_X, IRIS_Y = load_iris(return_X_y=True)


def _oof(members, X, y, cv, method):
    """Each member's out-of-fold output, shape (M, n, ...)."""
    out = []
    for _, est in members:
        rows = [None] * len(y)
        for train, test in cv.split(X, y):
            fitted = clone(est).fit(X[train], y[train])
            for i, value in zip(test, getattr(fitted, method)(X[test])):
                rows[i] = value
        out.append(np.array(rows))
    return np.stack(out)


# -- refit=False: the mean of the fold fits -------------------------------------------


def test_bagged_classifier_predicts_the_mean_of_its_fold_fits():
    members = [("lr", LogisticRegression(max_iter=1000)), ("nb", GaussianNB()),
               ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    fusion = FusionClassifier(members, weights="optimize", refit=False, cv=cv).fit(
        IRIS_X, IRIS_Y)
    by_hand = np.stack([
        np.mean([clone(est).fit(IRIS_X[train], IRIS_Y[train]).predict_proba(IRIS_X)
                 for train, _ in cv.split(IRIS_X, IRIS_Y)], axis=0)
        for _, est in members])
    assert_allclose(fusion.predict_proba(IRIS_X),
                    np.tensordot(fusion.weights_, by_hand, axes=1), rtol=1e-12)
    assert_allclose(fusion.transform(IRIS_X), np.hstack(list(by_hand)), rtol=1e-12)
    assert all(len(est.estimators) == 3 for est in fusion.estimators_)
    # The weights were learned on the outputs those same fold fits made.
    oof = _oof(members, IRIS_X, IRIS_Y, cv, "predict_proba")
    assert_allclose(-fusion.oof_score_,
                    log_loss(IRIS_Y, np.tensordot(fusion.weights_, oof, axes=1)),
                    rtol=1e-10)


def test_bagged_regressor_predicts_the_mean_of_its_fold_fits():
    X, y = load_diabetes(return_X_y=True)
    members = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3,
                                                                  random_state=0))]
    cv = KFold(4, shuffle=True, random_state=0)
    fusion = FusionRegressor(members, weights="optimize", refit=False, cv=cv).fit(X, y)
    by_hand = np.stack([
        np.mean([clone(est).fit(X[train], y[train]).predict(X)
                 for train, _ in cv.split(X)], axis=0)
        for _, est in members])
    assert_allclose(fusion.predict(X), fusion.weights_ @ by_hand, rtol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_bagged_member_has_the_methods_of_its_fold_fits(n_classes):
    # A member without predict_proba does not gain one by being bagged, and its
    # decision values are the mean of its fold fits'; a stack on such a level then
    # uses them, as it would the member's own.
    X, y = (IRIS_X, IRIS_Y) if n_classes == 3 else (IRIS_X[50:], IRIS_Y[50:])
    members = [("ridge", RidgeClassifier()),
               ("tree", DecisionTreeClassifier(max_depth=2, random_state=0))]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    fusion = FusionClassifier(members, voting="hard", weights="optimize", refit=False,
                              cv=cv).fit(X, y)
    bagged = fusion.named_estimators_["ridge"]
    assert not hasattr(bagged, "predict_proba")
    with pytest.raises(AttributeError) as missing:
        bagged.predict_proba(X)
    assert "fold fits (RidgeClassifier) have no predict_proba" in str(missing.value.__cause__)
    by_hand = np.mean([RidgeClassifier().fit(X[train], y[train]).decision_function(X)
                       for train, _ in cv.split(X, y)], axis=0)
    assert_allclose(bagged.decision_function(X), by_hand, rtol=1e-12)
    stack = SerialStack([("level", fusion), ("final", LogisticRegression())], cv=3)
    width = 1 if n_classes == 2 else n_classes  # columns per member
    assert stack.fit(X, y).transform(X).shape == (len(y), 2 * width)


def test_bagged_decision_values_are_aligned_to_the_classes():
    # A fold fit that lacks a class has no column for it: 0 there, as in a stack. One
    # fitted on two classes of more gives 1-D values, which cannot be averaged.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(160, 3))
    y = np.repeat([0, 1, 2, 3], 40)
    held = np.r_[30:40, 70:80, 110:120, 150:160]
    rest = np.setdiff1d(np.arange(160), held)
    lacks_3 = np.r_[30:40, 70:80, 110:120]  # a training part without class 3
    folds = [(rest, held), (lacks_3, rest)]
    fusion = FusionClassifier([("ridge", RidgeClassifier()), ("nb", GaussianNB())],
                              voting="hard", weights="optimize", refit=False,
                              cv=folds).fit(X, y)
    whole = RidgeClassifier().fit(X[rest], y[rest]).decision_function(X)
    part = RidgeClassifier().fit(X[lacks_3], y[lacks_3])
    aligned = np.zeros((160, 4))
    aligned[:, :3] = part.decision_function(X)
    assert_allclose(fusion.named_estimators_["ridge"].decision_function(X),
                    (whole + aligned) / 2, rtol=1e-12)
    binary = [(np.r_[0:80], np.r_[80:160]), (np.r_[80:160], np.r_[0:80])]
    two_classes = FusionClassifier([("ridge", RidgeClassifier()), ("nb", GaussianNB())],
                                   voting="hard", weights="optimize", refit=False,
                                   cv=binary).fit(X, y)
    with pytest.raises(ValueError, match="fitted on only the classes \\[0, 1\\]"):
        two_classes.named_estimators_["ridge"].decision_function(X)


def test_bagged_member_reads_as_its_fold_fits_where_they_agree():
    # The fold fits all see the member's columns: its width and names are theirs. A
    # fitted attribute each fold fit has on its own (coef_) is not the member's: the
    # error says where to find it rather than that no such thing exists.
    X = pd.DataFrame(IRIS_X, columns=["a", "b", "c", "d"])
    fusion = FusionClassifier(
        [("lr", LogisticRegression(max_iter=1000)), ("nb", GaussianNB())],
        views={"lr": ["a", "c"]}, weights="optimize", refit=False, cv=3).fit(X, IRIS_Y)
    bagged = fusion.named_estimators_["lr"]
    assert bagged.n_features_in_ == 2
    assert_array_equal(bagged.feature_names_in_, ["a", "c"])
    assert fusion.named_estimators_["nb"].n_features_in_ == 4
    with pytest.raises(AttributeError, match=r"mean of 3 fits of LogisticRegression \(its "
                       r"fold fits, with refit=False.*\.estimators\[0\]\.coef_\)"):
        bagged.coef_  # noqa: B018 - the attribute access is what is tested
    assert not hasattr(bagged, "coef_")
    with pytest.raises(AttributeError, match="'FoldMean' object has no attribute 'nope_'"):
        bagged.nope_  # noqa: B018
    no_names = FusionClassifier([("lr", LogisticRegression(max_iter=1000))],
                                weights="optimize", refit=False, cv=3).fit(IRIS_X, IRIS_Y)
    assert not hasattr(no_names.named_estimators_["lr"], "feature_names_in_")
    # A member kept as its partition copies reads the same way.
    X, y = load_diabetes(return_X_y=True)
    copies = FusionRegressor([("a", Ridge()), ("b", Ridge(alpha=5.0))],
                             partitions=2).fit(X, y).named_estimators_["a"]
    with pytest.raises(AttributeError, match=r"mean of 2 fits of Ridge .*one per partition"):
        copies.coef_  # noqa: B018
    # A fold fit's property that fails otherwise does not make hasattr raise.
    copies.estimators = [_Failing(), _Failing()]
    assert not hasattr(copies, "broken_")


class _Failing:
    @property
    def broken_(self):
        raise ValueError("not an attribute error")


def test_refit_decides_only_with_learned_weights():
    # Equal weights have no folds: members are fitted on all rows either way.
    members = [("lr", LogisticRegression(max_iter=1000)), ("nb", GaussianNB())]
    fusion = FusionClassifier(members, refit=False).fit(IRIS_X, IRIS_Y)
    assert isinstance(fusion.estimators_[0], LogisticRegression)
    refitted = FusionClassifier(members, weights="optimize", refit=True, cv=3).fit(
        IRIS_X, IRIS_Y)
    assert isinstance(refitted.estimators_[0], LogisticRegression)


# -- calibration="temperature" --------------------------------------------------------


def test_temperature_minimises_the_out_of_fold_log_loss():
    members = [("nb", GaussianNB()),  # over-confident
               ("lr", LogisticRegression(C=0.01, max_iter=1000))]  # under-confident
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    fusion = FusionClassifier(members, weights="optimize", calibration="temperature",
                              cv=cv).fit(IRIS_X, IRIS_Y)
    oof = _oof(members, IRIS_X, IRIS_Y, cv, "predict_proba")
    grid = np.exp(np.linspace(-3, 3, 2001))
    for P, t in zip(oof, fusion.temperatures_):
        def loss(temperature, P=P):
            return log_loss(IRIS_Y, tempered(P, temperature), labels=[0, 1, 2])

        assert loss(t) <= min(loss(g) for g in grid) + 1e-6
        assert loss(t) < loss(1.0)
    assert fusion.temperatures_[0] > 1 > fusion.temperatures_[1]
    # Tempered by hand: p ** (1 / T), renormalised; fused with the learned weights.
    refit = [clone(est).fit(IRIS_X, IRIS_Y).predict_proba(IRIS_X) for _, est in members]
    by_hand = [p ** (1 / t) / (p ** (1 / t)).sum(axis=1, keepdims=True)
               for p, t in zip(refit, fusion.temperatures_)]
    fusion.set_params(refit=True).fit(IRIS_X, IRIS_Y)
    assert_allclose(fusion.predict_proba(IRIS_X),
                    np.tensordot(fusion.weights_, np.stack(by_hand), axes=1), atol=1e-9)


@pytest.mark.filterwarnings("ignore::skfuse.exceptions.FrozenMemberWarning")
def test_temperature_minimises_the_weighted_out_of_fold_log_loss():
    # Rows of weight 0 (here with their labels flipped) play no part, and integer
    # weights act as repeated rows. Frozen members give the same outputs to both fits,
    # so only the weighting differs.
    members = [(name, FrozenEstimator(est.fit(IRIS_X, IRIS_Y))) for name, est in
               [("nb", GaussianNB()), ("lr", LogisticRegression(C=0.01, max_iter=1000))]]
    weight = np.random.RandomState(0).randint(0, 3, len(IRIS_Y)).astype(float)
    y = IRIS_Y.copy()
    y[weight == 0] = (y[weight == 0] + 1) % 3

    def fit(X, y, sample_weight=None):
        return FusionClassifier(members, weights="optimize", calibration="temperature"
                                ).fit(X, y, sample_weight=sample_weight)

    weighted = fit(IRIS_X, y, weight)
    rows = np.repeat(np.arange(len(y)), weight.astype(int))
    repeated = fit(IRIS_X[rows], y[rows])
    assert_allclose(weighted.temperatures_, repeated.temperatures_, rtol=1e-9)
    assert_allclose(weighted.weights_, repeated.weights_, atol=1e-7)
    assert not np.allclose(fit(IRIS_X, y).temperatures_, weighted.temperatures_)


def test_fit_temperature_keeps_one_when_nothing_improves():
    P = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    y = np.array([0, 1, 0])
    t = fit_temperature(P, y)
    assert_allclose(tempered(P, 1.0), P)
    assert t > 0


@pytest.mark.parametrize("params, match", [
    ({"calibration": "temperature"}, "calibration applies only to learned weights"),
    ({"calibration": "temperature", "weights": "optimize", "voting": "hard"},
     "calibration applies only to voting='soft' or 'geometric'"),
])
def test_calibration_is_refused_where_it_cannot_apply(params, match):
    members = [("lr", LogisticRegression(max_iter=1000)), ("nb", GaussianNB())]
    with pytest.raises(ValueError, match=match):
        FusionClassifier(members, **params).fit(IRIS_X, IRIS_Y)


# -- the guard --------------------------------------------------------------------------


def _logistic_data(n, seed):
    """Labels drawn from a logistic model: a logistic regression is the right model."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-X @ np.array([2.0, -1.0, 0.5])))).astype(int)
    return X, y


def _guard_by_hand(fusion, members, X, y, cv):
    """The learned weights (with the guard off), and the gain over the best member and
    its standard error, from per-row out-of-fold log-losses."""
    unguarded = clone(fusion).set_params(guard=False).fit(X, y)
    oof = _oof(members, X, y, cv, "predict_proba")
    rows = np.arange(len(y))
    per_row = [-np.log(np.clip(np.tensordot(w, oof, axes=1)[rows, y], 1e-15, None))
               for w in (unguarded.weights_, *np.eye(len(members)))]
    best = int(np.argmin([loss.mean() for loss in per_row[1:]]))
    gain = per_row[1 + best] - per_row[0]
    return unguarded.weights_, best, gain.mean(), gain.std() / np.sqrt(len(y))


def test_guard_falls_back_when_one_member_dominates(capsys):
    X, y = _logistic_data(600, 0)
    # A shallow tree is a worse model of these labels than the logistic regression.
    members = [("lr", LogisticRegression()),
               ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))]
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    fusion = FusionClassifier(members, weights="optimize", guard=True, cv=cv, verbose=1)
    fusion.fit(X, y)
    learned, best, gain, error = _guard_by_hand(fusion, members, X, y, cv)
    assert learned[1] > 0  # the optimiser gave the tree some weight ...
    assert best == 0 and gain <= error  # ... for a gain within its standard error
    assert fusion.fallback_ == "lr"
    assert_allclose(fusion.weights_, [1.0, 0.0])
    assert_allclose(fusion.oof_score_, fusion.member_scores_["lr"])
    out = capsys.readouterr().out
    assert "guard: fell back to member 'lr' alone" in out
    # verbose shows the weights learned, not the fallback's one-hot that replaced them.
    assert (f"learned weights (optimize): lr {learned[0]:.3f}, tree {learned[1]:.3f}"
            in out)
    assert f"out-of-fold score of member 'lr' alone {fusion.oof_score_:.4f}" in out


def test_guard_stays_silent_where_fusion_clearly_helps():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 4))
    y = (X[:, 0] + X[:, 1] + X[:, 2] + X[:, 3] + 0.5 * rng.normal(size=600) > 0).astype(int)
    # Each member sees half the signal.
    members = [("a", LogisticRegression()), ("b", LogisticRegression())]
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    fusion = FusionClassifier(members, weights="optimize", guard=True, cv=cv,
                              views={"a": [0, 1], "b": [2, 3]}).fit(X, y)
    assert fusion.fallback_ is None
    assert np.all(fusion.weights_ > 0.3)
    oof = np.stack([
        _oof([m], X[:, view], y, cv, "predict_proba")[0]
        for m, view in zip(members, ([0, 1], [2, 3]))])
    rows = np.arange(len(y))
    fused = -np.log(np.tensordot(fusion.weights_, oof, axes=1)[rows, y])
    best = min((-np.log(p[rows, y]) for p in oof), key=np.mean)
    gain = best - fused
    assert gain.mean() > 3 * gain.std() / np.sqrt(len(y))


def test_regressor_guard_falls_back_to_the_dominant_member():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3))
    y = X @ np.array([1.0, 2.0, -1.0]) + rng.normal(size=400)
    members = [("ols", LinearRegression()), ("mean", DummyRegressor())]
    fusion = FusionRegressor(members, weights="optimize", guard=True,
                             cv=KFold(5, shuffle=True, random_state=0)).fit(X, y)
    assert fusion.fallback_ == "ols"
    assert_allclose(fusion.weights_, [1.0, 0.0])
    unguarded = clone(fusion).set_params(guard=False).fit(X, y)
    assert fusion.fallback_ is not None and unguarded.fallback_ is None


def test_guard_gain_by_hand():
    fused = np.array([0.1, 0.4, 0.2, 0.3])
    best = np.array([0.2, 0.3, 0.4, 0.3])
    gain, error = guard_gain(fused, best)
    d = best - fused
    assert_allclose(gain, d.mean())
    assert_allclose(error, d.std() / np.sqrt(4))
    # Weights count rows: the same as the rows repeated.
    weights = np.array([1, 2, 3, 0])
    repeated = np.repeat(np.arange(4), weights)
    assert_allclose(guard_gain(fused, best, weights.astype(float)),
                    guard_gain(fused[repeated], best[repeated]))


# -- the units of y -------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2.0**-10, 2.0**10, 2.0**20, 2.0**266])
def test_learned_regressor_weights_do_not_depend_on_the_units_of_y(scale):
    # SLSQP's tolerances are absolute: squared errors in the thousands stopped it at its
    # start ("Positive directional derivative"), leaving a single member; and the guard
    # squared squared errors, which overflowed at y ~ 1e80. Powers of two scale every
    # member's output exactly, so neither the weights nor the guard may move.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 6))
    y = (X @ np.random.RandomState(1).normal(size=6) * 4 + 20 * np.sign(X[:, 0])
         + rng.normal(0, 2, 200))
    members = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3,
                                                                  random_state=0))]
    fusion = FusionRegressor(members, weights="optimize", guard=True,
                             cv=KFold(3, shuffle=True, random_state=0))
    plain = clone(fusion).fit(X, y)
    assert 0.2 < plain.weights_[0] < 0.8 and plain.fallback_ is None
    scaled = clone(fusion).fit(X, y * scale)
    assert scaled.fallback_ is None
    assert_allclose(scaled.weights_, plain.weights_, rtol=1e-12)
    assert_allclose(scaled.predict(X) / scale, plain.predict(X), rtol=1e-12)


@pytest.mark.parametrize("far", [1e3, 1e5])
def test_optimize_reaches_the_optimum_beside_a_member_far_off(far):
    # A member whose squared errors are ~ far**2 times the others' must not make the
    # optimiser's tolerance coarse where the good members are. The reference solves the
    # same least squares on the simplex with NNLS, the sum to 1 as a heavy extra row.
    rng = np.random.RandomState(0)
    y = rng.normal(0, 3, 300)
    P = np.stack([y + rng.normal(0, s, 300) for s in (2.0, 2.5, 3.0)]
                 + [far + rng.normal(0, 1, 300)])
    loss, grad = regressor_objective(P, y)
    heavy = 1e4 * np.abs(P).max()
    reference, _ = nnls(np.vstack([P.T, np.full(4, heavy)]), np.r_[y, heavy])
    weights = optimize_weights(loss, grad, 4)
    assert loss(weights) <= loss(reference / reference.sum()) * (1 + 1e-8)
    assert weights[3] < 1e-3



def _bound_active_members(seed=0, n=100):
    """Four regression members' outputs whose least-squares weights on the simplex put
    two members on the bound 0: a linear-ish, a shrunk, a good and a weak member."""
    rng = np.random.RandomState(seed)
    f = rng.normal(size=n)
    y = f + rng.normal(scale=0.5, size=n)
    good = f + rng.normal(scale=0.2, size=n)
    P = np.stack([0.7 * f + rng.normal(scale=0.4, size=n),
                  0.5 * good + rng.normal(scale=0.1, size=n),
                  good,
                  0.3 * f + rng.normal(scale=0.6, size=n)])
    return P, y


def test_optimize_sets_the_optimisers_rounding_to_zero():
    # Where a bound is active SLSQP leaves weights of ~1e-17 (member 3 here, before
    # NEGLIGIBLE_WEIGHT): a share that moves no output but costs the member's predict.
    P, y = _bound_active_members()
    loss, grad = regressor_objective(P, y)
    weights = optimize_weights(loss, grad, 4)
    assert not np.any((weights > 0) & (weights < NEGLIGIBLE_WEIGHT)), weights
    assert_array_equal(weights[[1, 3]], 0.0)
    assert weights.sum() == pytest.approx(1.0)
    reference, _ = nnls(np.vstack([P.T, np.full(4, 1e4)]), np.r_[y, 1e4])
    assert loss(weights) <= loss(reference / reference.sum()) * (1 + 1e-8)



def test_optimize_sets_the_rounding_to_zero_for_probabilities_too():
    # A good, a weak and a pure-noise classifier: SLSQP gave the weak one 1.1e-16.
    rng = np.random.RandomState(80)
    y = rng.randint(0, 3, 150)
    onehot = np.eye(3)[y]
    P = np.stack([softmax(3 * onehot + rng.normal(size=(150, 3)), axis=1),
                  softmax(onehot + rng.normal(size=(150, 3)), axis=1),
                  softmax(rng.normal(size=(150, 3)), axis=1)])
    loss, grad = classifier_objective(P, y, "soft")
    assert_array_equal(optimize_weights(loss, grad, 3), [1.0, 0.0, 0.0])

class _Column(RegressorMixin, BaseEstimator):
    """Predicts column ``k`` of X, counting its predict calls."""

    calls = 0

    def __init__(self, k=0):
        self.k = k

    def fit(self, X, y):
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        type(self).calls += 1
        return np.asarray(X)[:, self.k]


def test_a_member_learned_at_weight_zero_is_not_asked_to_predict():
    P, y = _bound_active_members()
    members = [(f"m{k}", _Column(k)) for k in range(4)]
    fusion = FusionRegressor(members, weights="optimize", cv=KFold(5)).fit(P.T, y)
    assert_array_equal(fusion.weights_[[1, 3]], 0.0)
    _Column.calls = 0
    fusion.predict(P.T)
    assert _Column.calls == 2  # the two members of positive weight


@pytest.mark.parametrize("order", [["a", "b", "c"], ["b", "a", "c"]])
def test_guard_falls_back_to_the_first_listed_of_members_tied_to_rounding(order):
    # "a" and "b" predict the same values, computed two ways: their out-of-fold losses
    # differ in the last bit only (rounding picked "b" on the CPU that built this test).
    # "c" earns a sliver of weight, far less than its standard error (t ~ 0.7), so the
    # guard falls back; of the tied members, to the one listed first.
    rng = np.random.RandomState(4)
    y, e, noise = rng.normal(size=(3, 200))
    columns = {"a": y + e, "b": (y + 3 * e) - 2 * e, "c": y + e + 2 * noise}
    assert abs(np.mean((columns["a"] - y) ** 2) - np.mean((columns["b"] - y) ** 2)) < 1e-12
    X = np.column_stack([columns[name] for name in order])
    members = [(name, _Column(k)) for k, name in enumerate(order)]
    fusion = FusionRegressor(members, weights="optimize", guard=True, cv=KFold(5)).fit(X, y)
    assert fusion.fallback_ == order[0]
    assert_array_equal(fusion.weights_, [1.0, 0.0, 0.0])


@pytest.mark.parametrize("copies", [2, 3, 5])
def test_guard_falls_back_from_copies_of_one_member_whatever_their_number(copies):
    # Fusing copies of one member gains nothing; the rounding of their weighted mean
    # (1/3 + 1/3 + 1/3) must not decide the guard (3 copies kept equal weights).
    rng = np.random.RandomState(3)
    y, e = rng.normal(size=(2, 150))
    X = np.tile((y + e)[:, None], copies)
    members = [(f"m{k}", _Column(k)) for k in range(copies)]
    fusion = FusionRegressor(members, weights="optimize", guard=True, cv=KFold(3)).fit(X, y)
    # (the optimiser may already have chosen m0 alone, with no fallback to report)
    assert_array_equal(fusion.weights_, np.eye(copies)[0])


def test_guard_keeps_a_real_gain_beside_one_huge_row_loss():
    # The rounding allowance was sized by the largest row loss: one target of 1e6 that
    # both members miss alike made it 1 and swallowed a gain of 6 standard errors.
    rng = np.random.RandomState(0)
    y = rng.normal(size=300)
    X = np.c_[y + rng.normal(size=300), y + rng.normal(size=300)]
    y[0], X[0] = 1e6, 0.0
    members = [("m0", _Column(0)), ("m1", _Column(1))]
    fusion = FusionRegressor(members, weights="optimize", guard=True, cv=KFold(3)).fit(X, y)
    assert fusion.fallback_ is None
    assert_allclose(fusion.weights_, [0.5, 0.5], atol=0.1)


def test_guard_gain_of_huge_losses_is_the_scaled_gain():
    fused = np.array([0.1, 0.4, 0.2, 0.3])
    best = np.array([0.2, 0.3, 0.4, 0.3])
    gain, error = guard_gain(fused * 1e160, best * 1e160)
    assert_allclose([gain, error], np.array(guard_gain(fused, best)) * 1e160)


# -- greedy: the best prefix ----------------------------------------------------------


def test_greedy_returns_the_best_prefix():
    # Member 0 alone is best; adding anything makes the loss worse.
    values = {(1, 0): 1.0, (0, 1): 2.0}

    def loss(w):
        return values.get(tuple(np.round(w, 6)), 1.0 + 0.1 * w[1] + 0.05 * w[0])

    weights, path, losses = greedy_weights(loss, 2, rounds=4)
    assert len(path) == 4
    assert_allclose(weights, [1.0, 0.0])
    assert losses[0] == min(losses)


def test_guard_per_output_says_each_outputs_fallback():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3))
    # Output 0 is linear with a slight curve (the linear model dominates; the curve earns
    # the neighbours a sliver, about 0.003, clear of 0 whatever the CPU's last bits:
    # without it the optimum sat on the boundary on some CPUs); output 1 is a step, where
    # the two members are complementary.
    y = np.c_[X @ np.array([1.0, 2.0, -1.0]) + rng.normal(size=400)
              + 0.3 * np.sin(3 * X[:, 1]),
              np.where(X[:, 0] > 0, 3.0, -3.0) + X @ np.array([1.0, 1.0, 1.0])]
    members = [("ols", LinearRegression()), ("knn", KNeighborsRegressor(30))]
    fusion = FusionRegressor(members, weights="optimize", output_weights="per_output",
                             guard=True, cv=KFold(5, shuffle=True, random_state=0)).fit(X, y)
    unguarded = clone(fusion).set_params(guard=False).fit(X, y)
    assert 0 < unguarded.weights_[0, 1] < 0.01  # a sliver of the neighbours on output 0
    assert fusion.fallback_ == ["ols", None]
    assert_allclose(fusion.weights_[0], [1.0, 0.0])
    assert_allclose(fusion.weights_[1], unguarded.weights_[1])
    assert np.all(fusion.weights_[1] > 0.1)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_objectives_with_missing_views_have_their_gradient(kind):
    # With members missing on some rows, the objectives fused every class and had no
    # gradient (finite differences: M + 1 evaluations a step), 10x to 370x slower.
    from scipy.optimize import approx_fprime

    from skfuse._weights import combine_regressor

    rng = np.random.RandomState(0)
    M, n, C = 5, 400, 4
    present = rng.rand(M, n) > 0.3
    present[0, ~present.any(axis=0)] = True
    sample_weight = rng.rand(n)
    if kind == "classifier":
        P = rng.dirichlet(np.ones(C), size=(M, n)) * present[:, :, None]
        y = rng.randint(0, C, n)
        loss, grad = classifier_objective(P, y, "soft", sample_weight, present=present)

        def by_hand(w):  # the fused output of predict, then its log-loss
            fused = combine_classifier(P, w, "soft", present=present)[np.arange(n), y]
            return np.average(-np.log(np.clip(fused, 1e-300, None)), weights=sample_weight)
    else:
        P = rng.normal(size=(M, n)) * present
        y = rng.normal(size=n)
        loss, grad = regressor_objective(P, y, sample_weight, present=present)

        def by_hand(w):
            fused = combine_regressor(P, w, present=present)
            return np.average((fused - y) ** 2, weights=sample_weight)

    assert grad is not None
    for w in rng.dirichlet(np.ones(M), size=3):  # inside the simplex: differentiable
        assert loss(w) == pytest.approx(by_hand(w), rel=1e-12)
        assert_allclose(grad(w), approx_fprime(w, loss, 1e-7), rtol=1e-4, atol=1e-6)
    # Where every member present on a row weighs 0, the row is shared among them.
    w = np.array([0.0, 0.5, 0.5, 0.0, 0.0])
    assert loss(w) == pytest.approx(by_hand(w), rel=1e-12)


def test_soft_objective_with_missing_views_has_its_gradient_where_a_row_is_certain():
    # At a fused probability of exactly 1 the loss is 0, but weight moved to a member
    # less sure of the true class raises it: that slope was taken for 0.
    P = np.zeros((2, 4, 2))
    P[0, :, 0] = 1.0  # member 0 is certain of class 0, the true class of every row
    P[1] = 0.5
    loss, grad = classifier_objective(P, np.zeros(4, dtype=int), "soft",
                                      present=np.ones((2, 4), dtype=bool))
    assert loss(np.array([1.0, 0.0])) == pytest.approx(0.0, abs=1e-15)
    assert_allclose(grad(np.array([1.0, 0.0])), [0.0, 0.5])


# -- a sweep's findings: budget under the guard, improper probabilities, NaN and
# overflowing losses, duplicate members -------------------------------------------------


class _Table(ClassifierMixin, BaseEstimator):
    """Gives the row ``X[:, 0]`` of ``table`` as its probabilities, whatever it is fitted on."""

    def __init__(self, table=None):
        self.table = table

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.asarray(self.table)[np.asarray(X)[:, 0].astype(int)]

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _table_data(n=60, seed=4):
    rng = np.random.RandomState(seed)
    y = np.tile([0, 1], n // 2)
    X = np.c_[np.arange(n), rng.randn(n)]

    def member(mean, spread):
        q = np.clip(mean + spread * rng.randn(n), 0.01, 0.99)
        p = np.where(y == 1, q, 1 - q)
        return np.c_[1 - p, p]

    return X, y, member


def test_the_guard_falls_back_only_to_a_member_within_the_budget():
    # 'big' is the best member but over budget; greedy mixes the two cheap ones, a
    # little better than 'w1' alone out of fold, within the gain's standard error.
    X, y, member = _table_data(seed=1)
    members = [("big", _Table(member(0.9, 0.05))), ("w1", _Table(member(0.72, 0.2))),
               ("w2", _Table(member(0.7, 0.25)))]
    costs = {"big": 10.0, "w1": 1.0, "w2": 1.0}

    def fused(guard):
        return FusionClassifier(members, weights="greedy", budget=2.0, costs=costs,
                                guard=guard, cv=3).fit(X, y)

    unguarded, guarded = fused(False), fused(True)
    assert unguarded.weights_[0] == 0 and np.all(unguarded.weights_[1:] > 0)
    assert guarded.fallback_ == "w1"
    assert_array_equal(guarded.weights_, [0.0, 1.0, 0.0])


def test_probabilities_that_are_not_probabilities_are_refused_by_name():
    X, y, member = _table_data()
    good = member(0.95, 0.03)
    with pytest.raises(ValueError, match=r"outputs of 'double' \(60 rows\) are "
                                         r"probabilities outside \[0, 1\] or that do not "
                                         "sum to 1"):
        FusionClassifier([("good", _Table(good)), ("double", _Table(2 * member(0.6, 0.2)))],
                         weights="optimize", cv=3).fit(X, y)
    # Fixed weights learn nothing from them; hard voting reads the labels only.
    FusionClassifier([("good", _Table(good)), ("double", _Table(2 * good))], cv=3).fit(X, y)
    FusionClassifier([("good", _Table(good)), ("double", _Table(2 * good))], voting="hard",
                     weights="optimize", cv=3).fit(X, y)


@pytest.mark.parametrize("weights", ["optimize", "greedy"])
def test_a_scorer_that_gives_nan_is_refused_alike(weights):
    from sklearn.metrics import make_scorer

    X, y = load_diabetes(return_X_y=True)

    def undefined_off_ridge(y_true, y_pred):
        return float(np.mean((y_true - y_pred) ** 2)) if np.all(y_pred < 1e6) else np.nan

    members = [("ridge", Ridge()), ("huge", DummyRegressor(strategy="constant",
                                                             constant=1e7))]
    # The member by its name ("member 1" told its position).
    where = ("with equal weights, with member 'huge' alone" if weights == "optimize"
             else "with member 'huge' added")
    with pytest.raises(ValueError, match=r"^FusionRegressor: The out-of-fold loss is NaN "
                                         + where + "; check the scorer"):
        FusionRegressor(members, weights=weights, cv=3, scoring=make_scorer(
            undefined_off_ridge, greater_is_better=False)).fit(X, y)


@pytest.mark.parametrize("weights", ["optimize", "greedy"])
def test_squared_errors_that_overflow_are_refused_alike(weights):
    X, y = load_diabetes(return_X_y=True)
    members = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3,
                                                                  random_state=0))]
    with pytest.raises(ValueError, match=r"^FusionRegressor: The out-of-fold loss is "
                                         r"infinite .*rescale y"), \
            np.errstate(over="ignore", invalid="ignore"):
        FusionRegressor(members, weights=weights, cv=3).fit(X, y * 1e160)


def test_greedy_keeps_the_earliest_prefix_among_ties_of_rounding():
    # Copies of one member give every prefix the same loss, up to rounding.
    X, y, _ = _table_data(seed=0)
    q = np.clip(0.7 + 0.2 * np.random.RandomState(0).randn(len(y)), 0.01, 0.99)
    p = np.where(y == 1, q, 1 - q)
    same = np.c_[1 - p, p]
    fusion = FusionClassifier([(f"m{k}", _Table(same)) for k in range(3)],
                              weights="greedy", cv=3).fit(X, y)
    assert_array_equal(fusion.weights_, [1.0, 0.0, 0.0])
    # By hand: members 0, 1 (a real gain of 1e-9), then 0 again, which lowers the loss
    # by ``gap``: by rounding's 1e-16 the second prefix stays; by 1e-9 the third is
    # the best.
    for gap, expected in ((1e-16, [0.5, 0.5]), (1e-9, [2 / 3, 1 / 3])):
        def loss(w, gap=gap):
            return {0.0: 1.0, 1.0: 5.0, 0.5: 1.0 - 1e-9, round(1 / 3, 9): (1.0 - 1e-9) * (1 - gap),
                    round(2 / 3, 9): 2.0}[round(w[1], 9)]

        weights, path, losses = greedy_weights(loss, 2, rounds=3)
        assert path == [0, 1, 0] and losses[0] > losses[1] > losses[2]
        assert_allclose(weights, expected)


def test_greedy_round_ties_of_rounding_go_to_the_member_listed_first():
    # Within a round, adding member 1 came out 2.5e-16 (relative) below adding member 0,
    # its copy, and the copy kept weight.
    def loss(w):
        return 1.0 - 0.1 * (w[0] + w[1]) * (1 + 2.5e-16 * (w[1] > 0)) + 0.3 * w[2] ** 2

    weights, path, _ = greedy_weights(loss, 3, rounds=6)
    assert 1 not in path and weights[1] == 0.0
    # A real gain, however small, still counts.
    def gaining(w):
        return 1.0 - 0.1 * (w[0] + w[1]) - 1e-9 * w[1] + 0.3 * w[2] ** 2

    assert greedy_weights(gaining, 3, rounds=6)[1][0] == 1

    from sklearn.datasets import make_classification
    from sklearn.tree import DecisionTreeClassifier

    X, y = make_classification(200, 6, n_informative=4, n_classes=3,
                               n_clusters_per_class=1, random_state=0)
    members = [("a", LogisticRegression()), ("a2", LogisticRegression()),
               ("t", DecisionTreeClassifier(max_depth=2, random_state=0))]
    fusion = FusionClassifier(members, weights="greedy", cv=3, random_state=0).fit(X, y)
    assert fusion.weights_[1] == 0.0


def test_greedy_takes_a_loss_of_minus_infinity_as_the_best():
    def loss(w):
        return -np.inf if w[1] == 1 else 1.0 - w[1]

    weights, path, losses = greedy_weights(loss, 3, rounds=3)
    assert_array_equal(weights, [0.0, 1.0, 0.0])
    assert losses[0] == -np.inf


def test_the_hard_vote_loss_is_the_brier_score_of_one_hot_votes():
    rng = np.random.RandomState(31)
    for case in range(40):
        M, n, C = rng.randint(1, 6), rng.randint(1, 40), rng.randint(2, 7)
        votes, y = rng.randint(0, C, (M, n)), rng.randint(0, C, n)
        sample_weight = None if case % 2 else rng.uniform(0.1, 3, n)
        w = rng.dirichlet(np.ones(M)) * rng.uniform(0.5, 2)  # off the simplex too
        D = np.eye(C)[votes] - np.eye(C)[y]  # (M, n, C)
        r = np.tensordot(w, D, axes=1)
        loss, grad = classifier_objective(votes, y, "hard", sample_weight)
        assert loss(w) == pytest.approx(np.average((r**2).sum(axis=1),
                                                   weights=sample_weight), abs=1e-14)
        assert_allclose(grad(w), np.average(2 * np.einsum("nc,mnc->nm", r, D), axis=0,
                                            weights=sample_weight), atol=1e-14)
        shares = np.tensordot(w / w.sum(), np.eye(C)[votes], axes=1)
        assert_allclose(row_losses(votes, y, w, "classifier", "hard"),
                        ((shares - np.eye(C)[y]) ** 2).sum(axis=1), atol=1e-14)


class _Votes(ClassifierMixin, BaseEstimator):
    """Votes for the class coded in column ``k`` of X, whatever it is fitted on."""

    def __init__(self, k=0):
        self.k = k

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.asarray(X)[:, self.k].astype(int)


@pytest.mark.parametrize("weights", ["optimize", "greedy"])
def test_hard_voting_learns_weights_without_a_class_axis(weights):
    # The votes were made one-hot, (members, rows, classes), and read at every call of
    # the loss: 192 MB each, and a fit of 24.4 s (6.3 s now) for 30 members, 2,000
    # rows and 400 classes.
    rng = np.random.RandomState(32)
    n, n_classes = 1200, 400
    y = np.arange(n) % n_classes
    X = np.c_[y, np.where(rng.rand(n) < 0.5, y, rng.randint(0, n_classes, n)),
              rng.randint(0, n_classes, n)]
    fusion = FusionClassifier([(f"v{k}", _Votes(k)) for k in range(3)], voting="hard",
                              weights=weights,
                              cv=StratifiedKFold(3, shuffle=True, random_state=0))
    tracemalloc.start()
    try:
        fusion.fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * n * n_classes * 8 / 2  # half of one array of one-hot votes
    assert_allclose(fusion.weights_, [1.0, 0.0, 0.0])  # the member always right


def test_geometric_voting_with_views_has_the_gradient_of_its_loss():
    # It had none: the optimiser differentiated by M + 1 calls of an O(M n C) loss that
    # took the logarithm of every probability again (23 s against 0.8 s at 40 members).
    rng = np.random.RandomState(33)
    for case in range(30):
        M, n, C = rng.randint(2, 6), rng.randint(2, 30), rng.randint(2, 6)
        P, y = rng.dirichlet(np.full(C, 0.5), (M, n)), rng.randint(0, C, n)
        present = rng.rand(M, n) > 0.3
        present[rng.randint(0, M, n), np.arange(n)] = True  # a member on every row
        sample_weight = None if case % 2 else rng.uniform(0.2, 2, n)
        w = rng.dirichlet(np.ones(M)) + 0.05
        loss, grad = classifier_objective(P, y, "geometric", sample_weight,
                                          present=present)
        fused = combine_classifier(P, w, "geometric", present=present)
        assert loss(w) == pytest.approx(np.average(-np.log(fused[np.arange(n), y]),
                                                   weights=sample_weight), rel=1e-12)
        step = 1e-5
        central = [(loss(w + step * e) - loss(w - step * e)) / (2 * step)
                   for e in np.eye(M)]
        assert_allclose(grad(w), central, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("voting", ["soft", "geometric", "hard"])
def test_weights_are_not_learned_from_rows_that_all_weigh_nothing(voting):
    # numpy's "Weights sum to zero, can't be normalized" (soft), or a NaN loss blamed
    # on a scorer that was never given (hard).
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    sample_weight = np.r_[np.ones(50), np.zeros(150)]  # the folds test rows 50 on
    fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                              voting=voting, weights="optimize", cv=TimeSeriesSplit(3))
    with pytest.raises(ValueError, match="the sample weights of all 150 rows the weights "
                                         r"are learned from \(those the cv tests\) are 0"):
        fusion.fit(X, y, sample_weight=sample_weight)
    # A scorer that declines the weights (metadata routing) learns from those rows.
    with config_context(enable_metadata_routing=True):
        scorer = make_scorer(accuracy_score).set_score_request(sample_weight=False)
        members = [("lr", LogisticRegression().set_fit_request(sample_weight=True)),
                   ("nb", GaussianNB().set_fit_request(sample_weight=True))]
        FusionClassifier(members, voting=voting, weights="optimize", scoring=scorer,
                         cv=TimeSeriesSplit(3)).fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("with_presence", [False, True])
@pytest.mark.parametrize("kind", ["soft", "geometric", "regressor"])
def test_greedy_trial_loss_reads_only_the_members_it_weighs(kind, with_presence):
    # Greedy selection tries weights on a few members of many: each trial's loss must
    # cost O(n k), not O(n M), or the weight search grows as M^2 (200 members: slower
    # than fitting them), with views' missing rows too. A member of weight 0 is not
    # read, so a NaN there is unseen.
    rng = np.random.RandomState(0)
    n_members, n = 200, 300
    y = rng.randint(3, size=n)
    P = rng.dirichlet(np.ones(3), size=(n_members, n))
    present = rng.rand(n_members, n) < 0.7 if with_presence else None
    if with_presence:
        present[0] = True  # the member weighed has every row
    P[1:, 0] = np.nan  # a probe: read only where weighed
    target = rng.randn(n)

    def objective(P):
        if kind == "regressor":
            return regressor_objective(P[..., 0], target, present=present)[0]
        return classifier_objective(P, y, kind, present=present)[0]

    def expected(P, w):
        if kind == "regressor":
            return np.mean((combine_regressor(P[..., 0], w, present) - target) ** 2)
        return log_loss(y, combine_classifier(P, w, kind, present=present),
                        labels=[0, 1, 2])

    trial = np.zeros(n_members)
    trial[0] = 1.0
    assert np.isfinite(objective(P)(trial))
    clean = np.nan_to_num(P, nan=1 / 3)
    loss = objective(clean)
    # with most members weighed, the dense path gives the same loss as before
    dense = np.full(n_members, 1.0 / n_members)
    assert_allclose(loss(dense), expected(clean, dense), rtol=1e-10)
    if with_presence:
        # rows that no member weighed has are shared by the members present there
        trial = np.zeros(n_members)
        trial[[1, 2]] = [0.25, 0.75]
        assert (~present[1] & ~present[2]).any()
        assert_allclose(loss(trial), expected(clean, trial), rtol=1e-10)


def _offset_data():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(400, 4))
    y = np.sin(2 * X[:, 0]) + X[:, 1] + 0.3 * rng.randn(400)
    return X, y


@pytest.mark.parametrize("offset", [1e9, -1e9])
def test_regressor_weights_equivariant_under_a_large_target_offset(offset):
    # The squared error was computed as (P @ w - y)**2 with y ~ 1e9: every evaluation
    # cancelled ~9 digits, and SLSQP saw a Hessian dominated by offset**2 along the
    # all-ones direction; the weights moved by ~2e-5 (the residuals P - y are exact).
    X, y = _offset_data()

    def members():
        return [("knn", KNeighborsRegressor(10)), ("lin", LinearRegression()),
                ("knn3", KNeighborsRegressor(3))]

    base = FusionRegressor(members(), weights="optimize", random_state=0).fit(X, y)
    moved = FusionRegressor(members(), weights="optimize", random_state=0).fit(X, y + offset)
    assert_allclose(moved.weights_, base.weights_, atol=1e-7)


@pytest.mark.parametrize("offset", [0.0, 1e6, 1e9, -1e9])
def test_copies_tie_whatever_the_target_offset(offset):
    # Copies of one member are a tie (greedy: the one listed first; the guard: no
    # gain), also where y is far from 0 and the fused outputs' rounding is ~1e-7.
    X, y = _offset_data()
    copies = [(name, KNeighborsRegressor(10)) for name in "abc"]
    greedy = FusionRegressor(copies, weights="greedy", random_state=0).fit(X, y + offset)
    assert_array_equal(greedy.weights_, [1.0, 0.0, 0.0])
    guarded = FusionRegressor(copies, weights="optimize", guard=True,
                              random_state=0).fit(X, y + offset)
    assert_array_equal(guarded.weights_, [1.0, 0.0, 0.0])
    assert guarded.fallback_ in ("a", None)
    mixed = [("lin", LinearRegression())] + copies[:2]
    greedy = FusionRegressor(mixed, weights="greedy", random_state=0).fit(X, y + offset)
    assert greedy.weights_[2] == 0.0


def test_geometric_loss_keeps_the_digits_of_confident_members():
    # The loss's own logsumexp must keep the maxima out of the sum (log1p), as numpy's
    # logaddexp does: members sure of every row (a loss ~ 1e-13) would otherwise have
    # their losses rounded at 1e-4 relative, and greedy's 1e-12 ties decided by it.
    rng = np.random.RandomState(0)
    n_members, n = 4, 200
    y = rng.randint(2, size=n)
    doubt = 10.0 ** rng.uniform(-15, -10, size=(n_members, n))
    P = np.empty((n_members, n, 2))
    P[:, np.arange(n), y] = 1 - doubt
    P[:, np.arange(n), 1 - y] = doubt
    loss, _ = classifier_objective(P, y, "geometric")
    L = np.log(np.clip(P, np.finfo(float).eps, 1.0))
    for w in [np.eye(n_members)[1], np.array([0.5, 0.25, 0.25, 0.0])]:
        log_p = np.tensordot(w, L, axes=1)
        expected = np.mean(np.logaddexp(log_p[:, 0], log_p[:, 1]) - log_p[np.arange(n), y])
        assert_allclose(loss(w), expected, rtol=1e-14)


@pytest.mark.parametrize("with_present", [False, True])
@pytest.mark.parametrize("offset", [1e9, -1e9])
def test_regressor_objective_is_invariant_under_a_target_offset(offset, with_present):
    # The residuals are taken once, also where each row's weights are renormalised over
    # its members present: the loss and gradient at y + offset are those at y (the
    # offset added to P and y is exact here: both are multiples of 2**-20).
    rng = np.random.RandomState(0)
    M, n = 4, 200
    y = np.round(rng.randn(n) * 2**20) / 2**20
    P = y + np.round(rng.randn(M, n) * 2**20) / 2**20
    present = None
    if with_present:
        present = rng.rand(M, n) > 0.3
        present[0, ~present.any(axis=0)] = True
        P = np.where(present, P, 0.0)
    sample_weight = rng.uniform(0.5, 2.0, n)
    base = regressor_objective(P, y, sample_weight, present=present)
    moved = regressor_objective(np.where(present, P + offset, 0.0) if with_present
                                else P + offset, y + offset, sample_weight,
                                present=present)
    for w in [np.full(M, 1.0 / M), rng.dirichlet(np.ones(M))]:
        assert_allclose(moved[0](w), base[0](w), rtol=1e-12)
        assert_allclose(moved[1](w) - moved[1](w).mean(), base[1](w) - base[1](w).mean(),
                        rtol=1e-9, atol=1e-12)


def test_optimize_weights_lets_go_of_the_loss_when_done():
    # scipy < 1.14 left what minimize was given (the loss, and through it the members'
    # out-of-fold outputs) in a reference cycle until the next garbage collection.
    # (Later scipy has no cycle: there this passes either way.)
    class Outputs:  # stands for the out-of-fold outputs the loss reads
        pass

    def objective(outputs):
        def loss(w):
            return float(((w - 0.3) ** 2).sum()) + 0 * (outputs is None)

        def grad(w):
            return 2 * (w - 0.3)

        return loss, grad

    outputs = Outputs()
    alive = weakref.ref(outputs)
    loss, grad = objective(outputs)
    gc.disable()
    try:
        assert_allclose(optimize_weights(loss, grad, 3), [1 / 3] * 3, atol=1e-6)
        del outputs, loss, grad
        assert alive() is None
    finally:
        gc.enable()


def test_hard_voting_loss_with_views_is_the_brier_score_of_the_shares_of_members_present():
    # The one loss over views without a test of its own: each row's vote shares come
    # from the members present there, weights renormalised over them.
    rng = np.random.RandomState(0)
    M, n, C = 3, 40, 3
    votes = rng.randint(0, C, size=(M, n))
    present = rng.rand(M, n) > 0.3
    present[rng.randint(0, M, n), np.arange(n)] = True  # a member on every row
    y = rng.randint(0, C, n)
    weight = rng.uniform(0.5, 2.0, n)
    P = np.eye(C)[votes] * present[:, :, None]
    loss, grad = classifier_objective(P, y, "hard", weight, present=present)
    assert grad is None
    w = np.array([0.5, 0.3, 0.2])
    shares = w[:, None] * present
    fused = np.einsum("mn,mnc->nc", shares / shares.sum(axis=0), P)
    expected = np.average(((fused - np.eye(C)[y]) ** 2).sum(axis=1), weights=weight)
    assert_allclose(loss(w), expected, rtol=1e-12)
    # With every member on every row, the loss of the votes without views.
    everywhere, _ = classifier_objective(np.eye(C)[votes], y, "hard", weight,
                                         present=np.ones((M, n), dtype=bool))
    plain, _ = classifier_objective(votes, y, "hard", weight)
    assert_allclose(everywhere(w), plain(w), rtol=1e-12)
