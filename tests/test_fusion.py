import pickle
import re
import sys
import time
import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone, is_classifier
from sklearn.compose import make_column_selector
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_iris,
    make_classification,
    make_regression,
)
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import (
    RandomForestClassifier,
    RandomForestRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    PredefinedSplit,
    ShuffleSplit,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_val_predict,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skfuse import FusionClassifier, FusionRegressor, SerialStack
from skfuse._compat import InvalidParameterError
from skfuse._weights import classifier_objective, optimize_weights, regressor_objective
from skfuse.exceptions import FrozenMemberWarning

IRIS_X, IRIS_Y = load_iris(return_X_y=True)
IRIS_LABELS = np.array(["setosa", "versicolor", "virginica"])[IRIS_Y]


def classifiers(seed=0):
    return [
        ("lr", make_pipeline(StandardScaler(), LogisticRegression())),
        ("rf", RandomForestClassifier(n_estimators=20, max_depth=4, random_state=seed)),
        ("nb", GaussianNB()),
    ]


def regressors(seed=0):
    return [
        ("ridge", Ridge()),
        ("tree", DecisionTreeRegressor(max_depth=4, random_state=seed)),
        ("rf", RandomForestRegressor(n_estimators=20, max_depth=4, random_state=seed)),
    ]


# -- agreement with scikit-learn's voting estimators ---------------------------------


@pytest.mark.parametrize("voting", ["soft", "hard"])
@pytest.mark.parametrize("weights", [None, [1.0, 2.0, 0.5]])
@pytest.mark.parametrize("labels", ["int", "str"])
def test_classifier_agrees_with_voting(voting, weights, labels):
    X, y = load_breast_cancer(return_X_y=True)
    y = np.array(["malignant", "benign"])[y] if labels == "str" else y
    ours = FusionClassifier(classifiers(), voting=voting, weights=weights).fit(X, y)
    ref = VotingClassifier(classifiers(), voting=voting, weights=weights).fit(X, y)
    assert_array_equal(ours.predict(X), ref.predict(X))
    assert_allclose(ours.transform(X), ref.transform(X), rtol=0, atol=1e-10)
    if voting == "soft":
        assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-10)


def test_multiclass_agrees_with_voting():
    ours = FusionClassifier(classifiers(), weights=[3, 1, 1]).fit(IRIS_X, IRIS_LABELS)
    ref = VotingClassifier(classifiers(), voting="soft", weights=[3, 1, 1])
    ref.fit(IRIS_X, IRIS_LABELS)
    assert_allclose(ours.predict_proba(IRIS_X), ref.predict_proba(IRIS_X), rtol=0, atol=1e-10)
    assert_allclose(ours.transform(IRIS_X), ref.transform(IRIS_X), rtol=0, atol=1e-10)
    assert_array_equal(ours.predict(IRIS_X), ref.predict(IRIS_X))


@pytest.mark.parametrize("weights", [None, [1.0, 0.5, 2.0]])
def test_regressor_agrees_with_voting(weights):
    X, y = load_diabetes(return_X_y=True)
    ours = FusionRegressor(regressors(), weights=weights).fit(X, y)
    ref = VotingRegressor(regressors(), weights=weights).fit(X, y)
    assert_allclose(ours.predict(X), ref.predict(X), rtol=0, atol=1e-10)
    assert_allclose(ours.transform(X), ref.transform(X), rtol=0, atol=1e-10)


# -- fusion rules against hand computations -----------------------------------------


def test_geometric_voting_is_renormalised_weighted_log_mean():
    weights = np.array([0.5, 0.3, 0.2])
    fusion = FusionClassifier(classifiers(), voting="geometric", weights=weights)
    fusion.fit(IRIS_X, IRIS_Y)
    P = np.stack([est.predict_proba(IRIS_X) for est in fusion.estimators_])
    expected = np.prod(np.clip(P, np.finfo(float).eps, 1) ** weights[:, None, None], axis=0)
    expected /= expected.sum(axis=1, keepdims=True)
    assert_allclose(fusion.predict_proba(IRIS_X), expected, rtol=1e-10, atol=1e-12)
    assert_allclose(fusion.predict_log_proba(IRIS_X), np.log(expected), rtol=1e-8, atol=1e-12)


def test_geometric_voting_with_zero_probabilities_gives_no_nan():
    members = [(f"tree{i}", DecisionTreeClassifier(random_state=i)) for i in range(3)]
    fusion = FusionClassifier(members, voting="geometric", weights="optimize", cv=3)
    fusion.fit(IRIS_X, IRIS_Y)
    proba = fusion.predict_proba(IRIS_X)
    assert np.all(np.isfinite(proba))
    assert_allclose(proba.sum(axis=1), 1.0)
    assert np.isfinite(fusion.oof_score_)


def test_hard_voting_ties_go_to_the_smallest_class():
    X = np.zeros((4, 1))
    y = np.array(["a", "b", "c", "a"])
    members = [
        ("says_c", DummyClassifier(strategy="constant", constant="c")),
        ("says_b", DummyClassifier(strategy="constant", constant="b")),
    ]
    fusion = FusionClassifier(members, voting="hard").fit(X, y)
    assert_array_equal(fusion.predict(X), ["b"] * 4)
    fusion.set_params(weights=[2, 1]).fit(X, y)
    assert_array_equal(fusion.predict(X), ["c"] * 4)


@pytest.mark.parametrize("voting", ["soft", "geometric", "hard"])
def test_zero_weight_is_the_same_as_drop(voting):
    zero = FusionClassifier(classifiers(), voting=voting, weights=[1, 0, 2])
    dropped = FusionClassifier(classifiers(), voting=voting, weights=[1, 1, 2])
    dropped.set_params(rf="drop")
    zero.fit(IRIS_X, IRIS_Y)
    dropped.fit(IRIS_X, IRIS_Y)
    assert_array_equal(zero.predict(IRIS_X), dropped.predict(IRIS_X))
    if voting != "hard":
        assert_allclose(zero.predict_proba(IRIS_X), dropped.predict_proba(IRIS_X))
    assert list(dropped.named_estimators_) == ["lr", "nb"]
    assert_allclose(dropped.weights_, [1 / 3, 2 / 3])


class RowsAskedNB(GaussianNB):
    """GaussianNB that records how many rows each predict call was asked about."""

    asked = []

    def predict(self, X):
        type(self).asked.append(len(X))
        return super().predict(X)

    def predict_proba(self, X):
        type(self).asked.append(len(X))
        return super().predict_proba(X)


@pytest.mark.parametrize("voting", ["soft", "geometric", "hard"])
def test_a_member_of_weight_zero_is_not_asked_to_predict(voting):
    members = [("lr", LogisticRegression(max_iter=1000)), ("nb", RowsAskedNB())]
    fusion = FusionClassifier(members, voting=voting, weights=[1, 0]).fit(IRIS_X, IRIS_Y)
    RowsAskedNB.asked = []
    fusion.predict(IRIS_X)
    fusion.predict_proba(IRIS_X)
    fusion.predict_log_proba(IRIS_X)
    assert RowsAskedNB.asked == []
    fusion.transform(IRIS_X)  # every member's output, weighted or not
    assert RowsAskedNB.asked == [len(IRIS_X)]


def test_a_member_of_weight_zero_is_asked_where_it_is_alone():
    # "lr" (weight 0) shares the row with "rf" everywhere but the first ten rows,
    # where "rf"'s view is missing: there, as the only member present, it decides.
    views = {"lr": [0, 1], "rf": [2, 3]}
    X = IRIS_X.copy()
    X[:10, 2:] = np.nan
    members = [("lr", RowsAskedNB()), ("rf", RandomForestClassifier(random_state=0))]
    fusion = FusionClassifier(members, weights=[0, 1], views=views).fit(X, IRIS_Y)
    RowsAskedNB.asked = []
    proba = fusion.predict_proba(X)
    assert RowsAskedNB.asked == [10]
    assert_allclose(proba[:10], fusion.named_estimators_["lr"].predict_proba(X[:10, :2]))
    assert_allclose(proba[10:], fusion.named_estimators_["rf"].predict_proba(X[10:, 2:]))
    regression = FusionRegressor(
        [("ridge", Ridge()), ("tree", DecisionTreeRegressor(random_state=0))],
        weights=[0, 1]).fit(IRIS_X, IRIS_Y.astype(float))
    assert_allclose(regression.predict(IRIS_X),
                    regression.named_estimators_["tree"].predict(IRIS_X))


# -- learned weights -----------------------------------------------------------------


def _oof(members, X, y, cv, method):
    return np.stack([cross_val_predict(est, X, y, cv=cv, method=method) for _, est in members])


@pytest.mark.parametrize("voting", ["soft", "geometric"])
def test_optimize_beats_equal_weights_and_every_member(voting):
    X, y = load_breast_cancer(return_X_y=True)
    fusion = FusionClassifier(classifiers(), voting=voting, weights="optimize").fit(X, y)
    P = _oof(classifiers(), X, y, StratifiedKFold(5), "predict_proba")

    def loss(w):
        if voting == "soft":
            return log_loss(y, np.tensordot(w, P, axes=1))
        logp = np.tensordot(w, np.log(np.clip(P, np.finfo(float).eps, 1)), axes=1)
        proba = np.exp(logp)
        return log_loss(y, proba / proba.sum(axis=1, keepdims=True))

    assert np.all(fusion.weights_ >= 0)
    assert_allclose(fusion.weights_.sum(), 1.0)
    # oof_score_ is minus the log-loss of the fused out-of-fold probabilities.
    assert_allclose(fusion.oof_score_, -loss(fusion.weights_), rtol=1e-8)
    assert loss(fusion.weights_) <= loss(np.full(3, 1 / 3)) + 1e-12
    for m, name in enumerate(["lr", "rf", "nb"]):
        assert loss(fusion.weights_) <= loss(np.eye(3)[m]) + 1e-12
        assert_allclose(fusion.member_scores_[name], -loss(np.eye(3)[m]), rtol=1e-8)


def test_optimize_regressor_beats_equal_weights_and_every_member():
    X, y = load_diabetes(return_X_y=True)
    fusion = FusionRegressor(regressors(), weights="optimize").fit(X, y)
    P = _oof(regressors(), X, y, KFold(5), "predict")

    def loss(w):
        return mean_squared_error(y, w @ P)

    assert np.all(fusion.weights_ >= 0)
    assert_allclose(fusion.weights_.sum(), 1.0)
    assert_allclose(fusion.oof_score_, -loss(fusion.weights_), rtol=1e-8)
    assert loss(fusion.weights_) <= loss(np.full(3, 1 / 3)) + 1e-9
    for m in range(3):
        assert loss(fusion.weights_) <= loss(np.eye(3)[m]) + 1e-9


def test_optimize_hard_voting_minimises_vote_brier_score():
    fusion = FusionClassifier(classifiers(), voting="hard", weights="optimize", cv=3)
    fusion.fit(IRIS_X, IRIS_Y)
    votes = np.eye(3)[_oof(classifiers(), IRIS_X, IRIS_Y, StratifiedKFold(3), "predict")]
    onehot = np.eye(3)[IRIS_Y]

    def brier(w):
        return np.mean(((np.tensordot(w, votes, axes=1) - onehot) ** 2).sum(axis=1))

    assert_allclose(fusion.oof_score_, -brier(fusion.weights_), rtol=1e-8)
    assert brier(fusion.weights_) <= brier(np.full(3, 1 / 3)) + 1e-12


@pytest.mark.parametrize("weights", ["optimize", "greedy"])
def test_learned_weights_are_reproducible(weights, global_random_seed):
    X, y = make_classification(n_samples=300, n_informative=5, random_state=global_random_seed)
    members = [
        ("lr", LogisticRegression()),
        ("rf", RandomForestClassifier(n_estimators=10)),  # seeded by the fusion
        ("tree", DecisionTreeClassifier(max_depth=3)),
    ]
    cv = StratifiedKFold(4, shuffle=True)  # random_state set by the fusion
    fits = [
        FusionClassifier(members, weights=weights, cv=cv, random_state=global_random_seed,
                         n_jobs=n_jobs).fit(X, y)
        for n_jobs in (1, 1, 2)
    ]
    for fit in fits[1:]:
        assert_array_equal(fit.weights_, fits[0].weights_)
        assert_array_equal(fit.predict_proba(X), fits[0].predict_proba(X))
    assert np.all(fits[0].weights_ >= 0)
    assert_allclose(fits[0].weights_.sum(), 1.0)


def test_greedy_weights_are_selection_counts_of_the_best_prefix():
    fusion = FusionClassifier(classifiers(), weights="greedy", selection_rounds=10, cv=3)
    fusion.fit(IRIS_X, IRIS_Y)
    assert len(fusion.selection_path_) == len(fusion.selection_scores_) == 10
    # Caruana's step 4: the selection with the best out-of-fold score (the earliest).
    best = int(np.argmax(fusion.selection_scores_)) + 1
    assert best < 10  # the path goes past its best on this data
    prefix = fusion.selection_path_[:best]
    counts = [prefix.count(name) for name in ["lr", "rf", "nb"]]
    assert_allclose(fusion.weights_, np.array(counts) / best)
    assert_allclose(fusion.oof_score_, max(fusion.selection_scores_))


def test_greedy_with_scoring_reports_that_score():
    fusion = FusionClassifier(
        classifiers(), weights="greedy", scoring="accuracy", selection_rounds=5, cv=3
    ).fit(IRIS_X, IRIS_Y)
    P = _oof(classifiers(), IRIS_X, IRIS_Y, StratifiedKFold(3), "predict_proba")
    fused = np.tensordot(fusion.weights_, P, axes=1)
    assert_allclose(fusion.oof_score_, accuracy_score(IRIS_Y, fused.argmax(axis=1)))
    best_member = max(fusion.member_scores_.values())
    assert fusion.oof_score_ >= best_member


def test_greedy_budget_limits_the_distinct_members():
    costs = {"lr": 1.0, "rf": 5.0, "nb": 1.0}
    fusion = FusionClassifier(
        classifiers(), weights="greedy", budget=2.0, costs=costs, cv=3
    ).fit(IRIS_X, IRIS_Y)
    chosen = {name for name, w in zip(["lr", "rf", "nb"], fusion.weights_) if w > 0}
    assert chosen <= {"lr", "nb"}
    assert sum(costs[name] for name in chosen) <= 2.0
    with pytest.raises(ValueError, match=r"^FusionClassifier: No member fits within budget"):
        fusion.set_params(budget=0.5).fit(IRIS_X, IRIS_Y)


class NaNOnSomeRowsNB(GaussianNB):
    """A member whose probabilities are NaN on rows whose first feature is large."""

    def predict_proba(self, X):
        proba = super().predict_proba(X)
        proba[np.asarray(X)[:, 0] > 6.5] = np.nan
        return proba


@pytest.mark.parametrize("weights", ["optimize", "greedy"])
def test_nan_out_of_fold_outputs_are_refused_by_member(weights):
    members = [("lr", LogisticRegression(max_iter=500)), ("nan", NaNOnSomeRowsNB())]
    with pytest.raises(ValueError, match=r"outputs of 'nan' \(\d+ rows\) hold NaN"):
        FusionClassifier(members, weights=weights, random_state=0).fit(IRIS_X, IRIS_Y)


class SlowNB(GaussianNB):
    """GaussianNB whose predict_proba takes at least 20 ms a call."""

    def predict_proba(self, X):
        time.sleep(0.02)
        return super().predict_proba(X)


def test_greedy_budget_uses_measured_costs():
    members = [("lr", LogisticRegression()), ("slow", SlowNB()), ("tree", DecisionTreeClassifier())]
    fusion = FusionClassifier(members, weights="greedy", cv=3).fit(IRIS_X, IRIS_Y)
    assert set(fusion.member_costs_) == {"lr", "slow", "tree"}
    # 20 ms for 50 rows is at least 0.4 s per 1000 rows.
    assert fusion.member_costs_["slow"] >= 0.4
    fusion.set_params(budget=0.3).fit(IRIS_X, IRIS_Y)
    assert fusion.named_estimators_["slow"] is not None
    assert fusion.weights_[1] == 0
    assert "slow" not in fusion.selection_path_


# -- scikit-learn integration ---------------------------------------------------------


def test_pipeline_grid_search_over_member_param_and_weights():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), FusionClassifier(classifiers()))
    grid = {
        "fusionclassifier__rf__max_depth": [2, 4],
        "fusionclassifier__weights": [[1, 1, 1], [2, 1, 0], "optimize"],
    }
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 6
    assert search.best_score_ > 0.9


@pytest.mark.parametrize(
    "fusion",
    [
        FusionClassifier(classifiers(), voting="geometric", weights="optimize", cv=3),
        FusionClassifier(classifiers(), voting="hard", weights="greedy", cv=3),
    ],
)
def test_pickle_round_trip_gives_identical_predictions(fusion):
    fusion.fit(IRIS_X, IRIS_LABELS)
    restored = pickle.loads(pickle.dumps(fusion))
    assert_array_equal(restored.predict(IRIS_X), fusion.predict(IRIS_X))
    assert_array_equal(restored.transform(IRIS_X), fusion.transform(IRIS_X))


def test_regressor_pickle_round_trip():
    X, y = load_diabetes(return_X_y=True)
    fusion = FusionRegressor(regressors(), weights="greedy", cv=3).fit(X, y)
    restored = pickle.loads(pickle.dumps(fusion))
    assert_array_equal(restored.predict(X), fusion.predict(X))


def test_feature_names_out():
    fusion = FusionClassifier(classifiers()).fit(IRIS_X, IRIS_Y)
    names = fusion.get_feature_names_out()
    assert names[:4].tolist() == [
        "fusionclassifier_lr0", "fusionclassifier_lr1", "fusionclassifier_lr2",
        "fusionclassifier_rf0",
    ]
    assert len(names) == fusion.transform(IRIS_X).shape[1]
    fusion.set_params(voting="hard").fit(IRIS_X, IRIS_Y)
    assert fusion.get_feature_names_out().tolist() == [
        "fusionclassifier_lr", "fusionclassifier_rf", "fusionclassifier_nb"
    ]
    regressor = FusionRegressor(regressors()).fit(IRIS_X, IRIS_Y.astype(float))
    assert regressor.get_feature_names_out().tolist() == [
        "fusionregressor_ridge", "fusionregressor_tree", "fusionregressor_rf"
    ]
    with pytest.raises(ValueError, match="input_features should have length equal"):
        regressor.get_feature_names_out(["x0"])  # fitted on an array: 4 unnamed columns
    assert len(regressor.get_feature_names_out([f"x{i}" for i in range(4)])) == 3


# -- sample_weight ----------------------------------------------------------------------


@pytest.mark.parametrize("weights", [None, "optimize"])
def test_unit_sample_weight_equals_none(weights):
    X, y = SCALED_CANCER_X, CANCER_Y
    plain = FusionClassifier(weighted_classifiers(), weights=weights, cv=3).fit(X, y)
    unit = FusionClassifier(weighted_classifiers(), weights=weights, cv=3)
    unit.fit(X, y, sample_weight=np.ones(len(y)))
    assert_allclose(unit.weights_, plain.weights_)
    assert_allclose(unit.predict_proba(X), plain.predict_proba(X))


def test_skewed_sample_weight_changes_the_fit():
    X, y = SCALED_CANCER_X, CANCER_Y
    plain = FusionClassifier(weighted_classifiers(), weights="optimize", cv=3).fit(X, y)
    sample_weight = np.where(y == 1, 10.0, 0.1)
    skewed = FusionClassifier(weighted_classifiers(), weights="optimize", cv=3)
    skewed.fit(X, y, sample_weight=sample_weight)
    assert not np.allclose(skewed.predict_proba(X), plain.predict_proba(X))
    # More weight on class 1 raises its fused probability on average.
    assert skewed.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()


def weighted_classifiers():
    """Members whose fit with unit sample weights equals their fit without."""
    return [
        ("lr", LogisticRegression()),
        ("tree", DecisionTreeClassifier(max_depth=4, random_state=0)),
        ("nb", GaussianNB()),
    ]


SCALED_CANCER_X = StandardScaler().fit_transform(load_breast_cancer().data)
CANCER_Y = load_breast_cancer().target


def test_member_without_sample_weight_fails_clearly():
    # Fractional weights: whole numbers it would take as repeated rows.
    members = weighted_classifiers() + [("knn", KNeighborsClassifier())]
    with pytest.raises(TypeError, match="member 'knn'.*sample_weight"):
        FusionClassifier(members).fit(IRIS_X, IRIS_Y, sample_weight=np.full(150, 0.5))


class WeightRecordingLR(LogisticRegression):
    """Records the sum of the weights each fit gets (None without)."""

    seen = []

    def fit(self, X, y, sample_weight=None):
        type(self).seen.append(None if sample_weight is None else float(np.sum(sample_weight)))
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("weights", [None, "optimize"])
def test_pipeline_member_gets_sample_weight_at_every_step_that_takes_it(weights):
    sample_weight = np.random.RandomState(0).uniform(0.1, 3.0, len(IRIS_Y))
    pipe = make_pipeline(StandardScaler(), WeightRecordingLR(max_iter=500))
    WeightRecordingLR.seen = []
    fusion = FusionClassifier([("pipe", pipe), ("nb", GaussianNB())], weights=weights,
                              random_state=0).fit(IRIS_X, IRIS_Y, sample_weight=sample_weight)
    # Every fit (the refit, or each fold's) got the weights of its rows.
    assert WeightRecordingLR.seen and None not in WeightRecordingLR.seen
    if weights is None:
        alone = clone(pipe).fit(IRIS_X, IRIS_Y, standardscaler__sample_weight=sample_weight,
                                weightrecordinglr__sample_weight=sample_weight)
        assert_allclose(fusion.named_estimators_["pipe"].predict_proba(IRIS_X),
                        alone.predict_proba(IRIS_X))
    else:
        assert len(WeightRecordingLR.seen) == 5  # the fold fits (refit=False)
        assert_allclose(sum(WeightRecordingLR.seen), 4 * sample_weight.sum())
    with pytest.raises(TypeError, match=r"member 'knn' \(Pipeline\) does not accept "
                                        r"sample_weight in fit, .*final step"):
        FusionClassifier([("knn", make_pipeline(StandardScaler(), KNeighborsClassifier())),
                          ("nb", GaussianNB())]).fit(IRIS_X, IRIS_Y, sample_weight=sample_weight)


class _Sampler(FunctionTransformer):
    """Stands for an imbalanced-learn sampler (``fit_resample``), which changes the rows
    in an imbalanced-learn Pipeline; in scikit-learn's it passes them through."""

    def fit_resample(self, X, y):
        return X[::2], y[::2]


def test_a_pipeline_member_that_resamples_gets_no_weights():
    # Weights for the rows given cannot line up with those its last step is fitted on:
    # imbalanced-learn's Pipeline raised "sample_weight.shape == (300,), expected (60,)"
    # mid-fit, in a fusion, a stack, a cascade, a mixture and a distiller.
    from skfuse import MixtureOfExpertsClassifier

    pipe = make_pipeline(_Sampler(), WeightRecordingLR(max_iter=500))
    counts = np.random.RandomState(0).randint(1, 3, len(IRIS_Y)).astype(float)
    WeightRecordingLR.seen = []
    fusion = FusionClassifier([("pipe", pipe), ("nb", GaussianNB())]).fit(
        IRIS_X, IRIS_Y, sample_weight=counts)
    assert WeightRecordingLR.seen == [None]  # fitted on repeated rows instead
    alone = clone(pipe).fit(np.repeat(IRIS_X, counts.astype(int), axis=0),
                            np.repeat(IRIS_Y, counts.astype(int)))
    assert_allclose(fusion.named_estimators_["pipe"].predict_proba(IRIS_X),
                    alone.predict_proba(IRIS_X))
    refusal = (r"\(Pipeline\) cannot take sample_weight in fit, .*its step\(s\) "
               r"\['{}'\] may change the rows")
    with pytest.raises(TypeError, match="member 'pipe' " + refusal.format("_sampler")):
        FusionClassifier([("pipe", pipe), ("nb", GaussianNB())]).fit(
            IRIS_X, IRIS_Y, sample_weight=counts + 0.5)
    with pytest.raises(TypeError, match="expert 'expert0' " + refusal.format("_sampler")):
        MixtureOfExpertsClassifier(pipe, n_experts=2).fit(IRIS_X, IRIS_Y)
    # One level down, named by its path.
    nested = make_pipeline(StandardScaler(), pipe)
    with pytest.raises(TypeError, match=refusal.format("pipeline___sampler")):
        FusionClassifier([("pipe", nested), ("nb", GaussianNB())]).fit(
            IRIS_X, IRIS_Y, sample_weight=counts + 0.5)
    # Found wherever weights would reach one: a grid's candidate, a selector's model.
    from sklearn.feature_selection import SelectFromModel
    from sklearn.model_selection import GridSearchCV

    from skfuse._tasks import resampling_steps

    searched = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression()),
                            {"standardscaler": [StandardScaler(), _Sampler()]})
    selected = make_pipeline(SelectFromModel(pipe), LogisticRegression())
    assert resampling_steps(searched) == ["estimator__standardscaler"]
    assert resampling_steps(selected) == ["selectfrommodel__estimator___sampler"]
    assert resampling_steps(make_pipeline(StandardScaler(), LogisticRegression())) == []
    # Requested under metadata routing: refused before any fit, whatever the weights.
    with sklearn.config_context(enable_metadata_routing=True):
        routed = make_pipeline(_Sampler(),
                               WeightRecordingLR(max_iter=500).set_fit_request(
                                   sample_weight=True))
        WeightRecordingLR.seen = []
        with pytest.raises(TypeError, match="'pipe' " + refusal.format("_sampler")):
            FusionClassifier([("pipe", routed),
                              ("nb", GaussianNB().set_fit_request(sample_weight=True))]).fit(
                IRIS_X, IRIS_Y, sample_weight=counts)
        assert WeightRecordingLR.seen == []


@pytest.mark.parametrize("composite", ["fixed", "learned", "stack", "nested"])
def test_a_weight_of_zero_removes_the_row_from_every_pipeline_step(composite):
    # Without routing, a Pipeline member got the weights at its last step only: its
    # scaler was fitted on rows of weight 0 (scales of 20 for 1), so they still shaped
    # the model.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    X[:20] *= 50
    sample_weight = np.r_[np.zeros(20), np.ones(180)]
    # Nested: the inner pipeline's own last step takes no weights.
    scaler = make_pipeline(StandardScaler(), FunctionTransformer()) \
        if composite == "nested" else StandardScaler()
    pipe = make_pipeline(scaler, LogisticRegression(C=0.1))
    # The same folds on the kept rows; the weighted fit also trains on the 20 others.
    folds = list(KFold(3).split(X[20:]))
    cvs = ([(np.r_[np.arange(20), train + 20], test + 20) for train, test in folds], folds)

    def make(cv):
        members = [("pipe", clone(pipe)), ("nb", GaussianNB())]
        if composite == "stack":
            return SerialStack([("pipe", clone(pipe)), ("final", LogisticRegression())],
                               cv=cv)
        return FusionClassifier(members, weights="optimize" if composite == "learned"
                                else None, cv=cv)

    weighted = make(cvs[0]).fit(X, y, sample_weight=sample_weight)
    removed = make(cvs[1]).fit(X[20:], y[20:])
    assert_allclose(weighted.predict_proba(X[20:]), removed.predict_proba(X[20:]),
                    atol=1e-5)


def test_scikit_learn_meta_estimators_taking_fit_params_get_sample_weight():
    # VotingClassifier, GridSearchCV and TransformedTargetRegressor take **fit_params and
    # hand sample_weight to the estimators they fit, as scikit-learn's own ensembles do.
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import VotingClassifier

    sample_weight = np.random.RandomState(0).uniform(0.1, 3.0, len(IRIS_Y))
    members = [
        ("vote", VotingClassifier([("lr", LogisticRegression(max_iter=500)),
                                   ("nb", GaussianNB())], voting="soft")),
        ("search", GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, cv=3)),
    ]
    fusion = FusionClassifier(members).fit(IRIS_X, IRIS_Y, sample_weight=sample_weight)
    for name, member in members:
        alone = clone(member).fit(IRIS_X, IRIS_Y, sample_weight=sample_weight)
        unweighted = clone(member).fit(IRIS_X, IRIS_Y)
        got = fusion.named_estimators_[name].predict_proba(IRIS_X)
        assert_allclose(got, alone.predict_proba(IRIS_X))
        assert not np.allclose(got, unweighted.predict_proba(IRIS_X))
    # A search hands its keyword arguments on as they are: a Pipeline's final-step key.
    search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
                          {"logisticregression__C": [0.1, 1.0]}, cv=3)
    fused = FusionClassifier([("search", search)]).fit(IRIS_X, IRIS_Y,
                                                       sample_weight=sample_weight)
    alone = clone(search).fit(IRIS_X, IRIS_Y,
                              logisticregression__sample_weight=sample_weight)
    assert_allclose(fused.predict_proba(IRIS_X), alone.predict_proba(IRIS_X))
    # RFE and SelectFromModel hand them on as a search does; voting skips a frozen member.
    from sklearn.feature_selection import RFE
    from sklearn.frozen import FrozenEstimator

    rfe = RFE(LogisticRegression(max_iter=500), n_features_to_select=2)
    frozen = FrozenEstimator(GaussianNB().fit(IRIS_X, IRIS_Y))
    vote = VotingClassifier([("frozen", frozen), ("lr", LogisticRegression(max_iter=500))],
                            voting="soft")
    for name, member in (("rfe", rfe), ("vote", vote)):
        fused = FusionClassifier([(name, member)]).fit(IRIS_X, IRIS_Y,
                                                       sample_weight=sample_weight)
        alone = clone(member).fit(IRIS_X, IRIS_Y, sample_weight=sample_weight)
        assert_allclose(fused.predict_proba(IRIS_X), alone.predict_proba(IRIS_X))
    X, y = make_regression(n_samples=120, n_features=4, noise=5.0, random_state=0)
    weight = np.random.RandomState(1).uniform(0.1, 3.0, len(y))
    ttr = TransformedTargetRegressor(Ridge(), func=np.arcsinh, inverse_func=np.sinh)
    fused = FusionRegressor([("ttr", ttr)]).fit(X, y, sample_weight=weight)
    assert_allclose(fused.predict(X), clone(ttr).fit(X, y, sample_weight=weight).predict(X))


def test_a_member_without_weights_takes_whole_numbers_as_repeated_rows():
    # scikit-learn's Bagging passes its draws as whole-number sample weights to an
    # estimator whose fit takes them: a fusion with a nearest-neighbours member was
    # refused inside BaggingRegressor, where VotingRegressor fits. Such a member is
    # fitted on each row repeated as many times as its weight, which is what those
    # weights mean; the others get the weights.
    from sklearn.ensemble import BaggingClassifier, BaggingRegressor
    from sklearn.neighbors import KNeighborsRegressor

    X, y = make_regression(n_samples=80, n_features=4, noise=5.0, random_state=0)
    counts = np.random.RandomState(0).randint(0, 4, len(y)).astype(float)
    members = [("ridge", Ridge()), ("knn", KNeighborsRegressor())]
    fused = FusionRegressor(members).fit(X, y, sample_weight=counts)
    repeated = np.repeat(np.arange(len(y)), counts.astype(int))
    knn = KNeighborsRegressor().fit(X[repeated], y[repeated])
    ridge = Ridge().fit(X, y, sample_weight=counts)
    assert_allclose(fused.named_estimators_["knn"].predict(X), knn.predict(X))
    assert_allclose(fused.named_estimators_["ridge"].predict(X), ridge.predict(X))
    assert_allclose(fused.predict(X), (knn.predict(X) + ridge.predict(X)) / 2)
    # Learned weights: each fold's fit repeats that fold's rows.
    learned = FusionRegressor(members, weights="optimize", cv=3, random_state=0)
    assert learned.fit(X, y, sample_weight=counts).score(X, y) > 0.5
    bagged = BaggingRegressor(FusionRegressor(members), n_estimators=3, random_state=0)
    assert bagged.fit(X, y).score(X, y) > 0.5
    Xc, yc = IRIS_X, IRIS_Y
    bagged = BaggingClassifier(FusionClassifier([("lr", LogisticRegression(max_iter=500)),
                                                 ("knn", KNeighborsClassifier())]),
                               n_estimators=3, random_state=0)
    assert bagged.fit(Xc, yc).score(Xc, yc) > 0.8
    with pytest.raises(TypeError, match=r"member 'knn' \(KNeighborsRegressor\) does not "
                                        r"accept sample_weight.*whole-number weights"):
        FusionRegressor(members).fit(X, y, sample_weight=counts + 0.5)


def test_meta_estimators_that_cannot_pass_weights_on_are_refused_up_front():
    # Wrapping a member without sample_weight, or refusing keyword arguments without
    # metadata routing (one-vs-rest), or a plain model whose fit takes **params (LarsCV).
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LarsCV
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.neighbors import KNeighborsRegressor

    # Fractional weights: whole numbers would be taken as repeated rows.
    weight = np.full(len(IRIS_Y), 0.5)
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    swapping = GridSearchCV(pipe, {"logisticregression": [LogisticRegression(),
                                                          KNeighborsClassifier()]}, cv=3)
    for member in (GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [3, 5]}, cv=3),
                   swapping,  # a candidate (KNN) that would not take them
                   VotingClassifier([("knn", KNeighborsClassifier())]),
                   VotingClassifier([("pipe", make_pipeline(StandardScaler(),
                                                            LogisticRegression()))]),
                   OneVsRestClassifier(LogisticRegression())):
        with pytest.raises(TypeError, match=f"member 'm' \\({type(member).__name__}\\) "
                                            "cannot hand sample_weight on here.*"
                                            "set_fit_request"):
            FusionClassifier([("m", member)]).fit(IRIS_X, IRIS_Y, sample_weight=weight)
    X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    for member, says in ((TransformedTargetRegressor(KNeighborsRegressor()),
                          "cannot hand sample_weight on here"),
                         (LarsCV(), "does not accept sample_weight in fit")):
        with pytest.raises(TypeError, match=f"member 'm'.*{says}"):
            FusionRegressor([("m", member)]).fit(X, y, sample_weight=np.full(60, 0.5))
    # Under metadata routing a wrapper gets them when what it wraps requests them: an
    # expert, which EM must weight, is told so.
    import sklearn

    from skfuse import MixtureOfExpertsClassifier

    with sklearn.config_context(enable_metadata_routing=True):
        declined = LogisticRegression().set_fit_request(sample_weight=False)
        with pytest.raises(TypeError, match=r"\(OneVsRestClassifier\) does not request "
                                            "sample_weight.*on the estimator inside it"):
            MixtureOfExpertsClassifier(OneVsRestClassifier(declined)).fit(IRIS_X, IRIS_Y)


# -- views ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "view, expected",
    [
        (["sepal length (cm)", "petal width (cm)"], [0, 3]),
        ([1, 2], [1, 2]),
        (slice(0, 2), [0, 1]),
        ([True, False, False, True], [0, 3]),
        (make_column_selector(pattern="petal"), [2, 3]),
        (lambda X: [0], [0]),
    ],
)
def test_views_select_each_members_columns(view, expected):
    X = load_iris(as_frame=True).data
    fusion = FusionClassifier(classifiers(), views={"nb": view}).fit(X, IRIS_Y)
    nb = fusion.named_estimators_["nb"]
    assert nb.n_features_in_ == len(expected)
    assert_array_equal(nb.feature_names_in_, X.columns[expected])
    assert fusion.named_estimators_["rf"].n_features_in_ == 4
    # The member predicts from its own columns only.
    alone = GaussianNB().fit(X.iloc[:, expected], IRIS_Y)
    assert_allclose(fusion.transform(X)[:, 6:9], alone.predict_proba(X.iloc[:, expected]))


def test_views_on_arrays_by_position():
    fusion = FusionRegressor(regressors(), views={"ridge": [0, 1], "tree": slice(2, None)})
    X, y = load_diabetes(return_X_y=True)
    fusion.fit(X, y)
    assert fusion.named_estimators_["ridge"].n_features_in_ == 2
    assert fusion.named_estimators_["tree"].n_features_in_ == X.shape[1] - 2
    assert fusion.named_estimators_["rf"].n_features_in_ == X.shape[1]


@pytest.mark.parametrize(
    "views, match",
    [
        ({"nb": ["no such column"]}, "member 'nb'.*'no such column'"),
        ({"nb": [7]}, "member 'nb'.*7"),
        ({"ghost": [0]}, "'ghost'"),
        ({"nb": []}, "member 'nb' selects no column"),
    ],
)
def test_bad_views_name_the_member_or_column(views, match):
    X = load_iris(as_frame=True).data
    with pytest.raises(ValueError, match=match):
        FusionClassifier(classifiers(), views=views).fit(X, IRIS_Y)


def test_a_callable_view_that_gives_data_is_refused_briefly():
    # The message printed the whole array the callable returned (150 rows on iris).
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=r"got 150 entries: .*'\.\.\.'\] \(a callable "
                                         r"view gives the columns") as caught:
        FusionClassifier(classifiers(), views={"nb": lambda X: X[:, :2]}).fit(X, y)
    assert len(str(caught.value)) < 1000


def test_a_slice_of_column_names_takes_both_ends():
    X = load_iris(as_frame=True).data  # sepal length, sepal width, petal length, ...
    names = list(X.columns)
    by_slice = FusionClassifier(classifiers(), views={"nb": slice(names[1], names[2])})
    by_list = FusionClassifier(classifiers(), views={"nb": names[1:3]})
    assert_array_equal(by_slice.fit(X, IRIS_Y)._views_["nb"], [1, 2])
    assert_array_equal(by_slice.predict_proba(X), by_list.fit(X, IRIS_Y).predict_proba(X))
    for view, expected in [(slice(names[2], None), [2, 3]),
                           (slice(names[2], names[0], -1), [2, 1, 0]),
                           (slice(names[1], names[0], -1), [1, 0]),
                           (slice(None, names[2], 2), [0, 2])]:
        fitted = FusionClassifier(classifiers(), views={"nb": view}).fit(X, IRIS_Y)
        assert_array_equal(fitted._views_["nb"], expected)
        assert list(X.loc[:, view].columns) == [names[i] for i in expected]  # as pandas
    for view, match in [(slice(names[0], 2), "ends must be both column names or both"),
                        (slice(names[0], "z"), r"names column\(s\) \['z'\]")]:
        with pytest.raises(ValueError, match=match):
            FusionClassifier(classifiers(), views={"nb": view}).fit(X, IRIS_Y)
    with pytest.raises(ValueError, match="slice of column names.*no column names"):
        FusionClassifier(classifiers(), views={"nb": slice("a", "b")}).fit(IRIS_X, IRIS_Y)


def test_column_names_on_an_array_fail_clearly():
    with pytest.raises(ValueError, match="member 'nb'.*no column names"):
        FusionClassifier(classifiers(), views={"nb": ["a"]}).fit(IRIS_X, IRIS_Y)


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"voting": "mean"}, InvalidParameterError,
         "The 'voting' parameter of FusionClassifier must be a str among"),
        ({"weights": [1, 2]}, ValueError, "weights has 2 entries for 3 estimators"),
        ({"weights": [[1, 2, 3]]}, InvalidParameterError,
         r"weights must be a 1-D list of numbers, one per estimator .* got \[\[1, 2, 3\]\]"),
        ({"weights": {"lr": 1, "rf": 2, "nb": 3}}, InvalidParameterError,
         r"weights must be a 1-D list .* got \{'lr': 1"),
        ({"weights": ["a", "b", "c"]}, InvalidParameterError, "weights must be a 1-D list"),
        ({"weights": [10**400, 1, 1]}, InvalidParameterError, "weights must be a 1-D list"),
        ({"weights": [1, -1, 1]}, ValueError, "non-negative"),
        ({"weights": [0, 0, 0]}, ValueError, "sum to 0"),
        ({"weights": "best"}, InvalidParameterError, "The 'weights' parameter .* Got 'best'"),
        ({"budget": 1.0}, ValueError, "budget applies only to weights='greedy'"),
        ({"budget": 1.0, "weights": np.ones(3)}, ValueError, "budget applies only"),
        ({"weights": "greedy", "costs": {"lr": 1}}, ValueError, r"\['rf', 'nb'\]"),
        ({"weights": "greedy", "selection_rounds": 0}, InvalidParameterError,
         r"The 'selection_rounds' parameter .* range \[1, inf\)"),
        ({"weights": "optimize", "cv": ShuffleSplit(3, random_state=0)}, ValueError,
         "disjoint test folds"),
        ({"estimators": [("lr", "drop")]}, ValueError, "all members are dropped"),
        ({"estimators": [("a__b", GaussianNB())]}, ValueError, "must not contain __"),
        ({"estimators": [("a", GaussianNB()), ("a", GaussianNB())]}, ValueError, "unique"),
        ({"estimators": [("ridge", Ridge())]}, TypeError, "member 'ridge' should be a classifier"),
        ({"estimators": [("svc", SVC())]}, TypeError, "member 'svc' has no predict_proba"),
        ({"estimators": [("a", 5)]}, TypeError, "member 'a' should be a classifier"),
        ({"estimators": []}, ValueError, "estimators must be a non-empty list"),
    ],
)
def test_invalid_parameters_fail_in_fit(params, error, match):
    fusion = FusionClassifier(classifiers()).set_params(**params)
    with pytest.raises(error, match=match):
        fusion.fit(IRIS_X, IRIS_Y)


@pytest.mark.parametrize("make", [
    lambda w: FusionClassifier(classifiers(), weights=w),
    lambda w: FusionRegressor([("a", Ridge()), ("b", Ridge(alpha=10.0)), ("c", Ridge(0.1))],
                              weights=w),
])
def test_fixed_weights_whose_sum_overflows_are_normalised(make):
    # Each finite, their sum infinite: weights_ came out [0, 0, 0] (with NumPy's
    # overflow warning) and predict raised a bare StopIteration.
    X, y = (IRIS_X, IRIS_Y) if is_classifier(make(None)) else load_diabetes(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        huge = make([1e308, 1e308, 5e307]).fit(X, y)
    assert_allclose(huge.weights_, [0.4, 0.4, 0.2])
    small = make([2, 2, 1]).fit(X, y)
    assert_allclose(huge.predict(X), small.predict(X), rtol=1e-12)


def test_a_classifier_refuses_several_targets_naming_the_classifier_wrapper():
    y = np.column_stack([IRIS_Y, IRIS_Y])
    with pytest.raises(ValueError, match=r"shape \(150, 2\).*MultiOutputClassifier\.") as info:
        FusionClassifier(classifiers()).fit(IRIS_X, y)
    assert "Regressor" not in str(info.value)


def test_hard_voting_accepts_members_without_predict_proba():
    fusion = FusionClassifier(classifiers() + [("svc", SVC())], voting="hard")
    fusion.fit(IRIS_X, IRIS_Y)
    assert accuracy_score(IRIS_Y, fusion.predict(IRIS_X)) > 0.9


def test_hard_voting_probabilities_are_the_weighted_vote_shares():
    # Asked of VotingClassifier for years (scikit-learn issue 10355); by hand here.
    members = classifiers() + [("svc", SVC())]
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    fusion = FusionClassifier(members, voting="hard", weights=weights).fit(IRIS_X, IRIS_Y)
    votes = np.stack([est.predict(IRIS_X) for est in fusion.estimators_])
    shares = np.zeros((len(IRIS_Y), 3))
    for m, w in enumerate(weights / weights.sum()):
        shares[np.arange(len(IRIS_Y)), votes[m]] += w
    assert np.any((shares > 0) & (shares < 1))  # the members disagree on some rows
    assert_allclose(fusion.predict_proba(IRIS_X), shares)
    with np.errstate(divide="ignore"):
        assert_allclose(fusion.predict_log_proba(IRIS_X), np.log(shares))
    assert_array_equal(fusion.predict(IRIS_X), fusion.classes_[shares.argmax(axis=1)])
    # A member whose view is missing on a row leaves the vote: the others share it.
    views = {"lr": [0, 1], "rf": [2, 3], "nb": [0, 1], "svc": [0, 1]}
    X = IRIS_X.copy()
    X[:10, 2:] = np.nan  # "rf" has no view on the first ten rows
    fusion = FusionClassifier(members, voting="hard", weights=weights, views=views)
    fusion.fit(X, IRIS_Y)
    votes = np.stack([fusion.named_estimators_[name].predict(X[:10, :2])
                      for name in ("lr", "nb", "svc")])
    expected = np.zeros((10, 3))
    for m, w in enumerate(np.array([1.0, 3.0, 4.0]) / 8.0):
        expected[np.arange(10), votes[m]] += w
    assert_allclose(fusion.predict_proba(X[:10]), expected)


def test_single_class_fails_clearly():
    with pytest.raises(ValueError, match="at least 2 classes"):
        FusionClassifier(classifiers()).fit(IRIS_X[:50], IRIS_Y[:50])


def test_regressor_rejects_classifier_member_and_non_finite_y():
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(TypeError, match="member 'nb' should be a regressor"):
        FusionRegressor([("lin", LinearRegression()), ("nb", GaussianNB())]).fit(X, y)
    y = y.copy()
    y[3] = np.nan
    with pytest.raises(ValueError, match="^FusionRegressor: Input y contains NaN"):
        FusionRegressor(regressors()).fit(X, y)
    y[3] = -np.inf
    with pytest.raises(ValueError, match=r"^FusionRegressor: Input y contains infinity or "
                                         r"a value too large for dtype\('float32'\)"):
        FusionRegressor(regressors()).fit(X, y.astype(np.float32))


def test_member_that_knows_only_some_classes_gives_them_zero_probability():
    # Unshuffled 3-fold splits of sorted iris: the last fold holds all of class 2, so the
    # members fitted for it know classes 0 and 1 only.
    members = [("lr", LogisticRegression()), ("nb", GaussianNB())]
    fusion = FusionClassifier(members, weights="optimize", cv=KFold(3))
    fusion.fit(IRIS_X, IRIS_LABELS)
    for name, est in members:
        oof = np.zeros((150, 3))
        for train, test in KFold(3).split(IRIS_X):
            fitted = clone(est).fit(IRIS_X[train], IRIS_LABELS[train])
            columns = np.searchsorted(fusion.classes_, fitted.classes_)
            oof[np.ix_(test, columns)] = fitted.predict_proba(IRIS_X[test])
        assert np.all(oof[100:, 2] == 0)
        assert_allclose(fusion.member_scores_[name], -log_loss(IRIS_LABELS, oof), rtol=1e-10)


@pytest.mark.parametrize("voting", ["soft", "hard"])
def test_predict_with_threads_matches_serial(voting):
    serial = FusionClassifier(classifiers(), voting=voting).fit(IRIS_X, IRIS_LABELS)
    threaded = FusionClassifier(classifiers(), voting=voting, n_jobs=2)
    threaded.fit(IRIS_X, IRIS_LABELS)
    assert_array_equal(threaded.predict(IRIS_X), serial.predict(IRIS_X))
    assert_array_equal(threaded.transform(IRIS_X), serial.transform(IRIS_X))


def test_unanimous_probabilities_stay_at_most_one():
    members = [(f"tree{i}", DecisionTreeClassifier(random_state=i)) for i in range(4)]
    fusion = FusionClassifier(members, weights=[8, 8, 9, 2]).fit(IRIS_X, IRIS_Y)
    proba = fusion.predict_proba(IRIS_X)
    assert proba.max() <= 1.0
    log_loss(IRIS_Y, proba)  # raises on probabilities above 1
    hard = FusionClassifier(classifiers(), voting="hard", weights="greedy",
                            scoring="neg_log_loss", cv=3).fit(IRIS_X, IRIS_Y)
    assert np.isfinite(hard.oof_score_)


def test_refit_with_other_weights_drops_attributes_of_the_earlier_fit():
    fusion = FusionClassifier(classifiers(), weights="greedy", cv=3).fit(IRIS_X, IRIS_Y)
    assert hasattr(fusion, "selection_path_")
    fusion.set_params(weights="optimize").fit(IRIS_X, IRIS_Y)
    assert not hasattr(fusion, "selection_path_")
    fusion.set_params(weights=[1, 2, 3]).fit(IRIS_X, IRIS_Y)
    for name in ("oof_score_", "member_scores_", "member_costs_"):
        assert not hasattr(fusion, name)
    shuffled = np.random.RandomState(0).permutation(len(IRIS_Y))  # every class in a part
    fusion.set_params(partitions=3).fit(IRIS_X[shuffled], IRIS_Y[shuffled])
    assert fusion.n_partitions_ == 3
    fusion.set_params(partitions=None).fit(IRIS_X, IRIS_Y)
    assert not hasattr(fusion, "n_partitions_")


@pytest.mark.parametrize(
    "cv, match",
    [
        ([], "gave no splits"),
        ([(np.arange(150), np.arange(0, 150, 2)), (np.arange(150), np.arange(1, 150, 2))],
         "both its train and its test part"),
        # A negative position (row 149, which the split tests: a leak that was fitted),
        # one beyond the rows, positions as floats, and a split testing no row.
        ([(np.r_[np.arange(75), -1], np.arange(75, 150)), (np.arange(75, 150), np.arange(75))],
         r"row positions from 0 to 149, or boolean masks of 150 entries; got positions "
         r"\[-1\]\.$"),
        ([(np.arange(75), np.arange(75, 151)), (np.arange(75, 150), np.arange(75))],
         r"got positions \[150\]\.$"),
        ([(np.arange(75.0), np.arange(75.0, 150)), (np.arange(75.0, 150), np.arange(75.0))],
         r"got float64 values \[0\.0, 1\.0, 2\.0, 3\.0, 4\.0, \.\.\.\]\.$"),
        ([(np.arange(150) < 75, np.arange(150) >= 75)[::-1], (np.arange(100) < 50,) * 2],
         "got a boolean mask of 100 entries"),
        ([(np.arange(75)[:, None], np.arange(75, 150)), (np.arange(75, 150), np.arange(75))],
         r"got a part of shape \(75, 1\)"),
        ([(np.arange(150), []), (np.arange(75, 150), np.arange(75))], "tests no row"),
    ],
)
def test_bad_splits_fail_clearly(cv, match):
    with pytest.raises(ValueError, match=match):
        FusionClassifier(classifiers(), weights="optimize", cv=cv).fit(IRIS_X, IRIS_Y)


def test_splits_of_mixed_integer_types_are_taken():
    # int64 and uint64 parts concatenated into float64, which bincount refused.
    first, second = np.arange(0, 150, 2), np.arange(1, 150, 2)
    cv = [(first, second), (second.astype(np.uint64), first.astype(np.uint64))]
    fitted = FusionClassifier(classifiers(), weights="optimize", cv=cv).fit(IRIS_X, IRIS_Y)
    reference = FusionClassifier(classifiers(), weights="optimize",
                                 cv=[(first, second), (second, first)]).fit(IRIS_X, IRIS_Y)
    assert_array_equal(fitted.weights_, reference.weights_)


def test_bad_scoring_and_costs_fail_before_fitting():
    with pytest.raises(InvalidParameterError, match="'scoring' parameter .* Got 'acuracy'"):
        FusionClassifier(classifiers(), weights="greedy", scoring="acuracy").fit(
            IRIS_X, IRIS_Y
        )
    costs = {"lr": 1.0, "rf": -5.0, "nb": 1.0}
    with pytest.raises(ValueError, match=r"costs of \['rf'\]"):
        FusionClassifier(classifiers(), weights="greedy", costs=costs).fit(IRIS_X, IRIS_Y)
    # A mistyped name is named, beside the member it leaves without a cost.
    with pytest.raises(ValueError, match=r"no cost for member\(s\) \['lr'\]; it names "
                                         r"\['lrr'\], which are not among the members"):
        FusionClassifier(classifiers(), weights="greedy",
                         costs={"lrr": 1.0, "rf": 1.0, "nb": 1.0}).fit(IRIS_X, IRIS_Y)
    # A cost that is not a number is refused by name (NumPy's own errors named neither).
    for cost in ("1", None, [1, 2], 1j, True):
        with pytest.raises(InvalidParameterError, match=r"costs must map each member to a "
                                                        rf"number; got \{{'rf': {re.escape(repr(cost))}\}}"):
            FusionClassifier(classifiers(), weights="greedy", budget=2.0,
                             costs={"lr": 1.0, "rf": cost, "nb": 1.0}).fit(IRIS_X, IRIS_Y)
    # A cost for a name that is not a member is let be (a table shared by searches).
    extra = FusionClassifier(classifiers(), weights="greedy",
                             costs={"lr": 1.0, "rf": 1.0, "nb": 1.0, "svm": 9.0})
    assert extra.fit(IRIS_X, IRIS_Y).member_costs_ == {"lr": 1.0, "rf": 1.0, "nb": 1.0}
    # A dropped member may keep its cost (a search that drops it).
    dropped = FusionClassifier(classifiers(), weights="greedy",
                               costs={"lr": 1.0, "rf": 1.0, "nb": 1.0}).set_params(rf="drop")
    assert dropped.fit(IRIS_X, IRIS_Y).weights_.shape == (2,)


# -- forward-chaining folds -------------------------------------------------------------


def test_forward_chaining_folds_leave_untested_rows_out_of_the_weights():
    X, y = load_diabetes(return_X_y=True)
    splits = list(TimeSeriesSplit(3).split(X))
    tested = np.concatenate([test for _, test in splits])
    fusion = FusionRegressor(regressors(), weights="optimize", cv=TimeSeriesSplit(3))
    fusion.fit(X, y)
    assert fusion.n_oof_samples_ == tested.size == len(y) - splits[0][0].size
    # By hand: each member's out-of-fold predictions, on the rows some fold tests.
    P = np.stack([np.concatenate([clone(est).fit(X[train], y[train]).predict(X[test])
                                  for train, test in splits])
                  for _, est in regressors()])
    loss, grad = regressor_objective(P, y[tested])
    assert_allclose(fusion.weights_, optimize_weights(loss, grad, 3))
    assert fusion.oof_score_ == pytest.approx(-loss(fusion.weights_))
    # The members' final fit uses every row.
    for name, est in regressors():
        assert_allclose(fusion.named_estimators_[name].predict(X),
                        clone(est).fit(X, y).predict(X))


def test_forward_chaining_folds_in_a_classifier_fusion():
    order = np.random.RandomState(0).permutation(len(IRIS_Y))
    X, y = IRIS_X[order], IRIS_Y[order]
    splits = list(TimeSeriesSplit(3).split(X))
    tested = np.concatenate([test for _, test in splits])
    members = [("lr", LogisticRegression(max_iter=1000)), ("nb", GaussianNB())]
    fusion = FusionClassifier(members, weights="optimize", cv=TimeSeriesSplit(3),
                              refit=True).fit(X, y)
    P = np.stack([np.concatenate([clone(est).fit(X[train], y[train]).predict_proba(X[test])
                                  for train, test in splits])
                  for _, est in members])
    loss, grad = classifier_objective(P, y[tested], "soft")
    assert fusion.n_oof_samples_ == tested.size
    assert_allclose(fusion.weights_, optimize_weights(loss, grad, 2))


def test_fold_fits_that_never_saw_the_last_rows_warn():
    # Without a refit the members predict with their fold fits, and a forward-chaining
    # cv trains none of them on its last test fold: the newest rows went unused, and
    # a class seen only there could never be predicted, without a word.
    X, y = make_classification(120, 6, random_state=0)
    y[110:] = 2
    members = [("nb", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=3,
                                                                      random_state=0))]
    with pytest.warns(UserWarning, match=r"30 of 120 rows are in no training part of cv"):
        fusion = FusionClassifier(members, weights="optimize", cv=TimeSeriesSplit(3),
                                  random_state=0).fit(X, y)
    assert fusion.predict_proba(X[110:])[:, 2].max() == 0.0
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*in no training part")
        refitted = FusionClassifier(members, weights="optimize", cv=TimeSeriesSplit(3),
                                    refit=True, random_state=0).fit(X, y)
        FusionClassifier(members, weights="optimize", cv=3, random_state=0).fit(X, y)
    assert refitted.predict_proba(X[110:])[:, 2].max() > 0.0
    with pytest.warns(UserWarning, match=r"36 of 120 rows are in no training part"):
        FusionRegressor([("ridge", Ridge())], weights="optimize", refit=False,
                        cv=ShuffleSplit(1, test_size=0.3, random_state=0)).fit(X, y)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes")
def test_an_earlier_step_refusing_the_weights_says_skfuse_passed_them():
    from sklearn.preprocessing import KBinsDiscretizer

    X, y = make_classification(100, 3, n_informative=2, n_redundant=0, random_state=0)
    binned = make_pipeline(KBinsDiscretizer(n_bins=4, encode="ordinal",
                                            quantile_method="linear"),
                           LogisticRegression())
    with pytest.raises(ValueError, match="quantile_method") as refused:
        FusionClassifier([("binned", binned)]).fit(X, y, sample_weight=np.full(100, 2.0))
    assert any("passed sample_weight to the Pipeline's earlier steps too, as "
               "['kbinsdiscretizer__sample_weight']" in note
               for note in refused.value.__notes__)


def test_an_error_of_the_last_step_gets_no_note_about_earlier_steps():
    X, y = make_classification(100, 3, n_informative=2, n_redundant=0, random_state=0)
    bad = make_pipeline(StandardScaler(), LogisticRegression(C=-1.0))
    with pytest.raises(ValueError, match="C") as refused:
        FusionClassifier([("bad", bad)]).fit(X, y, sample_weight=np.full(100, 2.0))
    assert not any("earlier steps" in note for note in getattr(refused.value,
                                                                "__notes__", []))


def test_frozen_members_raise_no_warning_of_rows_no_fit_has_seen():
    X, y = make_classification(120, 6, random_state=0)
    frozen = [(name, FrozenEstimator(est.fit(X, y))) for name, est in
              [("nb", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=3,
                                                                      random_state=0))]]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*in no training part")
        warnings.simplefilter("ignore", FrozenMemberWarning)
        FusionClassifier(frozen, weights="optimize", cv=TimeSeriesSplit(3)).fit(X, y)


def test_a_member_without_rows_in_any_test_fold_is_named_without_a_refit():
    # Its progress labels outnumbered its tasks: "2 progress labels for 1 tasks".
    X, y = make_classification(120, 6, random_state=0)
    X[:60, 3:] = np.nan
    split = PredefinedSplit(np.r_[np.zeros(60), -np.ones(60)])
    fusion = FusionClassifier([("a", GaussianNB()), ("b", GaussianNB())],
                              views={"a": [0, 1, 2], "b": [3, 4, 5]}, weights="optimize",
                              cv=split)
    with pytest.raises(ValueError, match="member 'b' has none of its rows .* in a test "
                                         "fold of cv"):
        fusion.fit(X, y)


@pytest.mark.parametrize("cascade", [False, True])
def test_a_member_with_no_out_of_fold_output_is_named_with_a_refit_too(cascade):
    # With a refit planned, the member reached the weights (or the cascade's search)
    # with no out-of-fold output: "unsupported operand type(s) for *: 'NoneType'".
    X, y = make_classification(120, 6, random_state=0)
    X[:60, 3:] = np.nan
    split = PredefinedSplit(np.r_[np.zeros(60), -np.ones(60)])
    members = [("a", GaussianNB()), ("b", GaussianNB())]
    views = {"a": [0, 1, 2], "b": [3, 4, 5]}
    model = (SerialStack(members, views=views, exit_threshold="auto", cv=split) if cascade
             else FusionClassifier(members, views=views, weights="optimize", refit=True,
                                   cv=split))
    with pytest.raises(ValueError, match="'b' has none of its rows .* in a test fold of cv "
                                         "whose training part holds some"):
        model.fit(X, y)


@pytest.mark.parametrize("cascade", [False, True])
def test_forward_chaining_folds_before_a_view_begins_leave_its_rows_out(cascade):
    # A modality that begins at row 20 (a sensor added later) has no training row in
    # TimeSeriesSplit's first fold: that fold was refused ("its view only in one test
    # fold"); its test rows now get no out-of-fold output of the member, as the rows
    # no fold tests.
    X, y = make_classification(60, 6, n_informative=4, random_state=0)
    X[:20, 3:] = np.nan
    members = [("a", LogisticRegression()), ("b", LogisticRegression())]
    views = {"a": [0, 1, 2], "b": [3, 4, 5]}
    cv = TimeSeriesSplit(3)  # tests rows 15-29, 30-44, 45-59
    kept = np.r_[15:20, 30:60]  # b has no training row in the first fold
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rows no fold tests
        if cascade:
            model = SerialStack(members, views=views, exit_threshold="auto",
                                cv=cv).fit(X, y)
        else:
            model = FusionClassifier(members, views=views, weights="optimize",
                                     cv=cv).fit(X, y)
    assert model.n_oof_samples_ == kept.size
    assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)  # rows without b too


def test_cv_splits_given_as_boolean_masks_are_taken_as_their_rows():
    # np.intersect1d of two masks is {False, True}: every split looked like it put
    # rows in both its parts.
    X, y = load_diabetes(return_X_y=True)
    fold = np.arange(len(y)) % 3
    masks = [(fold != k, fold == k) for k in range(3)]
    indices = [(np.flatnonzero(train), np.flatnonzero(test)) for train, test in masks]
    by_mask = FusionRegressor(regressors(), weights="optimize", cv=masks).fit(X, y)
    by_index = FusionRegressor(regressors(), weights="optimize", cv=indices).fit(X, y)
    assert by_mask.n_oof_samples_ == len(y)
    assert_array_equal(by_mask.weights_, by_index.weights_)


# -- several outputs ---------------------------------------------------------------------


def multi_output_data():
    X, y = make_regression(n_samples=200, n_features=6, n_targets=3, noise=20.0,
                           random_state=0)
    y[:, 2] = np.abs(y[:, 2]) ** 1.3  # an output a tree fits better than a line
    return X, y


def two_regressors():
    return [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=5, random_state=0))]


def test_fixed_weights_fuse_every_output():
    X, y = multi_output_data()
    fusion = FusionRegressor(two_regressors(), weights=[1, 3]).fit(X, y)
    by_hand = sum(w * clone(est).fit(X, y).predict(X)
                  for w, (_, est) in zip([0.25, 0.75], two_regressors()))
    assert fusion.predict(X).shape == y.shape
    assert_allclose(fusion.predict(X), by_hand)
    assert_allclose(fusion.transform(X), np.hstack([clone(est).fit(X, y).predict(X)
                                                    for _, est in two_regressors()]))
    assert fusion.get_feature_names_out()[:4].tolist() == [
        "fusionregressor_ridge0", "fusionregressor_ridge1", "fusionregressor_ridge2",
        "fusionregressor_tree0"]


def test_shared_weights_minimise_the_mean_error_over_outputs():
    X, y = multi_output_data()
    fusion = FusionRegressor(two_regressors(), weights="optimize", cv=KFold(4)).fit(X, y)
    # By hand: out-of-fold predictions of each member, every output.
    P = np.stack([cross_val_predict(est, X, y, cv=KFold(4)) for _, est in two_regressors()])

    def mse(w):
        return np.mean((np.tensordot(w, P, axes=1) - y) ** 2)

    assert fusion.weights_.shape == (2,)
    assert fusion.oof_score_ == pytest.approx(-mse(fusion.weights_))
    grid = [np.array([a, 1 - a]) for a in np.linspace(0, 1, 201)]
    assert mse(fusion.weights_) <= min(mse(w) for w in grid) + 1e-9
    assert 0.05 < fusion.weights_[0] < 0.95  # a real mix, not a single member


def test_per_output_weights_are_each_outputs_own():
    X, y = multi_output_data()
    fusion = FusionRegressor(two_regressors(), weights="optimize", output_weights="per_output",
                             cv=KFold(4)).fit(X, y)
    assert fusion.weights_.shape == (3, 2)
    # By hand: the members' out-of-fold predictions (fitted on every output at once),
    # and on each output alone the weights that minimise its squared error.
    P = np.stack([cross_val_predict(est, X, y, cv=KFold(4)) for _, est in two_regressors()])
    for k in range(3):
        loss, grad = regressor_objective(P[:, :, k], y[:, k])
        assert_allclose(fusion.weights_[k], optimize_weights(loss, grad, 2))
        assert fusion.oof_score_[k] == pytest.approx(-loss(fusion.weights_[k]))
        assert fusion.member_scores_["tree"][k] == pytest.approx(-loss(np.array([0, 1.0])))
    assert not np.allclose(fusion.weights_[0], fusion.weights_[2])
    by_hand = np.stack([fusion.weights_[k] @ np.stack(
        [est.predict(X)[:, k] for est in fusion.estimators_]) for k in range(3)], axis=1)
    assert_allclose(fusion.predict(X), by_hand)
    greedy = FusionRegressor(two_regressors(), weights="greedy", output_weights="per_output",
                             cv=KFold(4)).fit(X, y)
    assert len(greedy.selection_path_) == 3 and greedy.weights_.shape == (3, 2)


def test_per_output_weights_are_reported_and_guarded_per_output(capsys):
    X, y = multi_output_data()
    fusion = FusionRegressor(two_regressors(), weights="optimize", output_weights="per_output",
                             guard=True, cv=KFold(4), verbose=1).fit(X, y)
    assert len(fusion.fallback_) == 3
    lines = capsys.readouterr().out.splitlines()
    learned = clone(fusion).set_params(guard=False, verbose=0).fit(X, y).weights_
    for k in range(3):
        weights = ", ".join(f"{name} {w:.3f}" for name, w in zip(["ridge", "tree"],
                                                                  learned[k]))
        assert f"[FusionRegressor] output {k}: learned weights (optimize): {weights}" in lines
        assert any(line.startswith(f"[FusionRegressor] output {k}: out-of-fold score of ")
                   and line.split(";")[0].endswith(f" {fusion.oof_score_[k]:.4f}")
                   for line in lines)
        fell_back = [line for line in lines if line.startswith(
            f"[FusionRegressor] output {k}: guard: fell back to member")]
        assert len(fell_back) == isinstance(fusion.fallback_[k], str)


def test_members_that_take_several_outputs_without_saying_so_are_tried_and_taken():
    from sklearn.model_selection import GridSearchCV

    X, y = multi_output_data()
    search = GridSearchCV(Ridge(), {"alpha": [1.0, 2.0]}, cv=2)
    assert not search.__sklearn_tags__().target_tags.multi_output  # the tags say no
    fusion = FusionRegressor([("ridge", Ridge()), ("search", search)], weights="optimize",
                             cv=3).fit(X, y)
    assert fusion.predict(X).shape == y.shape
    stack = SerialStack([("search", search), ("final", Ridge())], cv=3).fit(X, y)
    assert stack.predict(X).shape == y.shape


def test_members_are_tried_on_several_outputs_with_their_own_input():
    # The trial fit saw the whole X: a text column the member's view leaves out, the
    # rows where its view is missing, and in a stack the raw X in place of the level's
    # outputs. Each refused a member that takes several outputs.
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.model_selection import GridSearchCV
    from sklearn.preprocessing import OneHotEncoder

    X, y = multi_output_data()
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"]).assign(
        text=np.array(["red", "green", "blue"])[np.arange(len(X)) % 3])
    search = GridSearchCV(Ridge(), {"alpha": [1.0, 2.0]}, cv=2)  # no multi_output tag
    fusion = FusionRegressor([("search", search), ("ridge", Ridge())],
                             views={"search": ["a", "b", "c"], "ridge": ["a", "b"]})
    assert fusion.fit(frame, y).predict(frame).shape == y.shape
    missing = frame[["a", "b"]].assign(d=np.r_[np.full(60, np.nan), X[60:, 3]])
    fusion.set_params(views={"search": ["d"], "ridge": ["a", "b"]})
    assert fusion.fit(missing, y).predict(missing).shape == y.shape
    stack = SerialStack([("search", search), ("final", Ridge())], cv=3,
                        views={"search": ["a", "b", "c"]})
    assert stack.fit(frame, y).predict(frame).shape == y.shape
    encoded = make_pipeline(make_column_transformer((OneHotEncoder(), ["text"]),
                                                    remainder="passthrough"), Ridge())
    stack = SerialStack([("encoded", encoded), ("search", search)], cv=3)
    assert stack.fit(frame, y).predict(frame).shape == y.shape


def test_a_member_tried_on_several_outputs_is_refused_for_its_own_fault():
    # A member whose view is present on no row, and a later step given the NaN of a
    # level's missing views, were told to take several outputs (their trial fit failed
    # for the other reason): each now gets the refusal a 1-D y gets.
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import GridSearchCV

    X, y = multi_output_data()
    search = GridSearchCV(Ridge(), {"alpha": [1.0, 2.0]}, cv=2)  # no multi_output tag
    empty = np.c_[X[:, :2], np.full(len(X), np.nan)]
    fusion = FusionRegressor([("search", search),
                              ("imputed", make_pipeline(SimpleImputer(), Ridge()))],
                             views={"search": [2]})
    with pytest.raises(ValueError, match="'search' has no row where its view is present"):
        fusion.fit(empty, y)
    holed = X[:, :2].copy()
    holed[::5, 0] = np.nan
    level = FusionRegressor([("a", Ridge()), ("b", Ridge())], views={"a": [0], "b": [1]})
    stack = SerialStack([("level", level), ("search", search)], stack_method="transform",
                        cv=3)
    with pytest.raises(ValueError, match="'search' .*does not take NaN"):
        stack.fit(holed, y)


def test_a_nested_composite_is_tried_on_several_outputs_past_its_members_missing_rows():
    # Its trial fit on the first 50 rows failed because a member's view is missing on
    # all of them, and that read as a refusal of the outputs.
    from sklearn.model_selection import GridSearchCV

    rng = np.random.RandomState(0)
    X = rng.randn(150, 4)
    X[:60, 2:] = np.nan
    y = np.c_[X[:, 0], X[:, 1]]

    def inner():
        search = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=3)  # no multi_output tag
        return FusionRegressor([("a", Ridge()), ("b", search)],
                               views={"a": [0, 1], "b": [2, 3]}, cv=3)

    stack = SerialStack([("f", inner()), ("g", Ridge())], cv=3, stack_method={"f": "predict"})
    assert stack.fit(X, y).predict(X).shape == y.shape
    outer = FusionRegressor([("f", inner()), ("r", Ridge())], views={"r": [0, 1]})
    assert outer.fit(X, y).predict(X).shape == y.shape


def test_several_outputs_need_members_that_take_them():
    X, y = multi_output_data()
    from sklearn.svm import SVR

    with pytest.raises(ValueError, match="y has 3 columns .* 'svr' does not take "
                                         "several"):
        FusionRegressor([("ridge", Ridge()), ("svr", SVR())]).fit(X, y)
    # One column: kept 2-D when every member takes several outputs, as LinearRegression
    # does (Ridge and the trees return 1-D there: scikit-learn has both).
    column = FusionRegressor(two_regressors()).fit(X, y[:, :1])
    assert column.predict(X).shape == (len(X), 1)
    assert_allclose(column.predict(X)[:, 0],
                    FusionRegressor(two_regressors()).fit(X, y[:, 0]).predict(X))


def test_whole_number_weights_as_rows_are_bounded_and_named():
    # Repeated rows are allocated: weights summing to more than 100 times the rows are
    # refused (1e20 overflowed NumPy's repeat, 1e6 built millions of rows a fold), and a
    # fold whose training rows all weigh 0 is named, not left to the member's words.
    from sklearn.model_selection import KFold
    from sklearn.neighbors import KNeighborsRegressor

    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    members = [("ridge", Ridge()), ("knn", KNeighborsRegressor())]
    for huge in (1e20, 1e6):
        with pytest.raises(TypeError, match=r"member 'knn'.*at most 100 times the rows"):
            FusionRegressor(members).fit(X, y, sample_weight=np.full(60, huge))
    zero_first = np.r_[np.zeros(40), np.ones(20)]
    fusion = FusionRegressor([("knn", KNeighborsRegressor(3))], weights="optimize",
                             cv=KFold(3))
    with pytest.raises(ValueError, match="KNeighborsRegressor takes no sample_weight.*all "
                                         "weigh 0") as raised:
        fusion.fit(X, y, sample_weight=zero_first)
    assert "member 'knn'" in "".join(getattr(raised.value, "__notes__", [""])) \
        or sys.version_info < (3, 11)


def test_a_budget_is_refused_with_weights_chosen_for_each_output_apart():
    # Each output's selection kept within the budget, and predict called the members of
    # both: costs 3 against a budget of 2.5.
    from sklearn.neighbors import KNeighborsRegressor

    X, y = make_regression(150, 3, n_targets=2, random_state=0)
    fusion = FusionRegressor([("ridge", Ridge()), ("knn", KNeighborsRegressor())],
                             weights="greedy", output_weights="per_output", budget=2.5,
                             costs={"ridge": 1.0, "knn": 2.0}, cv=3)
    with pytest.raises(ValueError, match="output_weights='shared' with a budget"):
        fusion.fit(X, y)
    # Partitioned too: there the members of both outputs' selections were kept.
    with pytest.raises(ValueError, match="output_weights='shared' with a budget"):
        clone(fusion).set_params(partitions=2, random_state=0).fit(X, y)
    # One output: nothing is chosen apart.
    assert fusion.fit(X, y[:, 0]).weights_.shape == (2,)


@pytest.mark.parametrize("weights", ["optimize", "greedy"])
def test_a_scorer_that_gives_one_score_per_output_is_refused_by_name(weights):
    # "The truth value of an array ... is ambiguous" said nothing of the scorer.
    from sklearn.metrics import make_scorer, r2_score
    from sklearn.neighbors import KNeighborsRegressor

    X, y = make_regression(120, 3, n_targets=2, random_state=0)
    scorer = make_scorer(r2_score, multioutput="raw_values")
    with pytest.raises(ValueError, match=r"scoring must return one number; got array.*"
                                         "multioutput='uniform_average'"):
        FusionRegressor([("ridge", Ridge()), ("knn", KNeighborsRegressor())],
                        weights=weights, scoring=scorer, cv=3).fit(X, y)



@pytest.mark.parametrize("returned", ["0.9", None])
@pytest.mark.parametrize("weights", ["optimize", "greedy"])
def test_a_scorer_that_gives_no_number_is_refused_by_name(returned, weights):
    # Text or None passed the check and failed as "bad operand type for unary -".
    fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                              weights=weights, scoring=lambda est, X, y: returned, cv=3)
    with pytest.raises(ValueError, match=f"scoring must return one number; got "
                                         f"{re.escape(repr(returned))}"):
        fusion.fit(IRIS_X, IRIS_Y)


@pytest.mark.parametrize("kind", ["Fraction", "Decimal"])
@pytest.mark.parametrize("weights", ["optimize", "greedy"])
def test_a_scorer_may_return_any_real_number_as_cross_validate_takes(kind, weights):
    # A Fraction reached NumPy's isnan and failed; a Decimal was refused as no number.
    from decimal import Decimal
    from fractions import Fraction

    def plain(estimator, X, y):
        return accuracy_score(y, estimator.predict(X))

    def typed(estimator, X, y):
        score = plain(estimator, X, y)
        return Fraction(score) if kind == "Fraction" else Decimal(repr(score))

    members = [("lr", LogisticRegression(max_iter=300)), ("nb", GaussianNB())]
    expected = FusionClassifier(members, weights=weights, scoring=plain, cv=3)
    fusion = FusionClassifier(members, weights=weights, scoring=typed, cv=3)
    assert_allclose(fusion.fit(IRIS_X, IRIS_Y).weights_,
                    expected.fit(IRIS_X, IRIS_Y).weights_)


def test_a_scorer_the_fused_outputs_cannot_serve_says_how_it_is_called():
    # A scorer needing decision_function (or, for a regressor, predict_proba) failed
    # with an AttributeError naming a private class; one reading X got X=None and
    # failed with "'NoneType' object has no attribute 'shape'".
    from sklearn.metrics import hinge_loss, make_scorer, r2_score

    X, y = make_classification(200, random_state=0)
    hinge = make_scorer(hinge_loss, greater_is_better=False,
                        response_method="decision_function")
    fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                              weights="greedy", scoring=hinge, cv=3)
    with pytest.raises(ValueError, match=r"^FusionClassifier: scoring could not score the "
                       r"fused out-of-fold outputs .*decision_function.*scorer\(fused, "
                       r"None, y\)"):
        fusion.fit(X, y)

    def adjusted_r2(estimator, X, y):
        n, p = X.shape
        return 1 - (1 - r2_score(y, estimator.predict(X))) * (n - 1) / (n - p - 1)

    X_reg, y_reg = make_regression(200, 5, random_state=0)
    for scoring in ("neg_log_loss", adjusted_r2):
        regressor = FusionRegressor([("ridge", Ridge()), ("tree", DecisionTreeRegressor(
            max_depth=3))], weights="optimize", scoring=scoring, cv=3)
        with pytest.raises(ValueError, match=r"^FusionRegressor: scoring could not score "
                           r".*X is None"):
            regressor.fit(X_reg, y_reg)

def test_a_scorer_without_sample_weight_is_told_it_is_given_the_weights():
    # Given sample_weight, a scorer is called with them; the refusal said it was called
    # as scorer(fused, None, y) whatever it was given.
    def plain(estimator, X, y):
        return -np.mean((estimator.predict(X) - y) ** 2)

    X, y = make_regression(120, 4, noise=5.0, random_state=0)
    fusion = FusionRegressor([("ridge", Ridge()), ("tree", DecisionTreeRegressor(
        max_depth=3, random_state=0))], weights="optimize", scoring=plain, cv=3)
    fusion.fit(X, y)  # without weights, it is called without them
    with pytest.raises(ValueError, match=r"called as scorer\(fused, None, y, "
                       r"sample_weight=\.\.\.\), as the weights of fit reach it"):
        fusion.fit(X, y, sample_weight=np.ones(len(y)))


def test_under_routing_a_scorer_gets_the_weights_it_requests():
    # With metadata routing on, the scorer of learned weights is routed to as a
    # search's is: set_score_request(sample_weight=False) was ignored (the learned
    # weights were those of a weighted score), an unset request was given the weights
    # where scikit-learn refuses them, and a plain function was given them too.
    import sklearn
    from sklearn.exceptions import UnsetMetadataPassedError
    from sklearn.metrics import make_scorer, mean_absolute_error

    # Linear where x1 < 0 (ridge's rows), a step where x1 > 0 (the tree's), weighted
    # towards the step.
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (200, 3))
    y = np.where(X[:, 1] < 0, 3 * X[:, 0], 3 * np.sign(X[:, 0])) + rng.normal(0, .1, 200)
    w = np.where(X[:, 1] > 0, 3.0, 0.2)

    def fused(scorer, **fit_params):
        members = [(name, est.set_fit_request(sample_weight=True)) for name, est in (
            ("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3,
                                                               random_state=0)))]
        return FusionRegressor(members, weights="optimize", scoring=scorer, cv=3).fit(
            X, y, **fit_params)

    def mae(request=None):
        scorer = make_scorer(mean_absolute_error, greater_is_better=False)
        return scorer if request is None else scorer.set_score_request(
            sample_weight=request)

    def unweighted(estimator, X, y, sample_weight=None):  # a function: requests nothing
        assert sample_weight is None
        return -mean_absolute_error(y, estimator.predict(X))

    def weighted(estimator, X, y):  # the weights by hand, all rows being kept
        return -mean_absolute_error(y, estimator.predict(X), sample_weight=w)

    with sklearn.config_context(enable_metadata_routing=True):
        declined = fused(mae(False), sample_weight=w)
        requested = fused(mae(True), sample_weight=w)
        by_hand = fused(unweighted, sample_weight=w)
        if tuple(int(part) for part in sklearn.__version__.split(".")[:2]) >= (1, 9):
            with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
                fused(mae(), sample_weight=w)
        else:  # scorers requested nothing before 1.9: it gets none, as in searches
            assert_allclose(fused(mae(), sample_weight=w).weights_, declined.weights_)
        # An alias: the scorer's weights are fit's `scored`; the members get none.
        aliased = fused(mae("scored"), scored=w)
        hand_weighted = fused(weighted)
    assert not np.allclose(declined.weights_, requested.weights_)
    # Declined: the members are fitted with the weights, the score is not weighted.
    assert_allclose(declined.weights_, by_hand.weights_)
    assert declined.oof_score_ == pytest.approx(by_hand.oof_score_)
    assert_allclose(aliased.weights_, hand_weighted.weights_)
    assert aliased.oof_score_ == pytest.approx(hand_weighted.oof_score_)
    with sklearn.config_context(enable_metadata_routing=True):
        # Fixed weights use no scorer: its unset request is nothing to refuse.
        fixed = FusionRegressor([("ridge", Ridge().set_fit_request(sample_weight=True))],
                                weights=[1.0], scoring=mae()).fit(X, y, sample_weight=w)
    assert_allclose(fixed.predict(X), Ridge().fit(X, y, sample_weight=w).predict(X))
    # Other metadata a scorer requests are not passed to it: refused, not dropped.
    def mae_in_groups(y_true, y_pred, sample_weight=None, groups=None):
        return mean_absolute_error(y_true, y_pred, sample_weight=sample_weight)

    with sklearn.config_context(enable_metadata_routing=True):
        grouped = make_scorer(mae_in_groups, greater_is_better=False).set_score_request(
            groups=True)
        with pytest.raises(TypeError, match=r"scoring requests \['groups'\] at score, "
                           "which FusionRegressor does not pass to it"):
            fused(grouped, groups=np.arange(len(y)) % 4)
    # Routing off: the scorer is always given the weights.
    plain = FusionRegressor([("ridge", Ridge()), ("tree", DecisionTreeRegressor(
        max_depth=3, random_state=0))], weights="optimize", scoring=mae(), cv=3)
    assert_allclose(plain.fit(X, y, sample_weight=w).weights_, requested.weights_)


def test_hard_vote_shares_stay_within_one():
    """Weights that sum to 1 only up to rounding (as learned ones may) give vote shares
    and probabilities at most 1, and log-probabilities at most 0."""
    X, y = make_classification(n_samples=200, random_state=0)
    fusion = FusionClassifier([("a", LogisticRegression()), ("b", GaussianNB())],
                              voting="hard").fit(X, y)
    fusion.weights_ = np.array([0.5, 0.5 + 2.2e-16])  # sums to 1 + 2.2e-16
    assert fusion.weights_.sum() > 1.0
    proba = fusion.predict_proba(X)
    assert proba.max() == 1.0  # unanimous rows
    assert fusion.predict_log_proba(X).max() == 0.0


class _SlowPredict(LogisticRegression):
    """Takes 20 ms per predict call, whatever the rows."""

    def predict_proba(self, X):
        time.sleep(0.02)
        return super().predict_proba(X)


def test_measured_cost_of_a_member_kept_as_its_fold_fits_counts_each_fit():
    """With refit=False a member predicts with each of its 5 fold fits: its measured cost,
    which the budget caps, is theirs summed (it was one fold fit's)."""
    X, y = make_classification(n_samples=200, random_state=0)
    members = [("slow", _SlowPredict()), ("nb", GaussianNB())]
    costs = {refit: FusionClassifier(members, weights="greedy", refit=refit, cv=5)
             .fit(X, y).member_costs_["slow"] for refit in (False, True)}
    assert 4.0 < costs[False] / costs[True] < 6.0


def test_hard_voting_set_after_a_calibrated_fit_votes():
    # Temperatures learned under soft voting were applied to the class positions hard
    # voting reads, normalising them across rows: every row went to class 0.
    X, y = load_iris(return_X_y=True)
    members = [("lr", LogisticRegression(max_iter=500)),
               ("tree", DecisionTreeClassifier(random_state=0))]
    fusion = FusionClassifier(members, weights="optimize", calibration="temperature",
                              cv=3, random_state=0).fit(X, y)
    fusion.set_params(voting="hard")
    votes = np.zeros((len(X), 3))  # the weighted majority, by hand
    for name, weight in zip(["lr", "tree"], fusion.weights_):
        votes[np.arange(len(X)), fusion.named_estimators_[name].predict(X)] += weight
    assert_allclose(fusion.predict_proba(X), votes / votes.sum(axis=1, keepdims=True))
    assert_array_equal(fusion.predict(X), votes.argmax(axis=1))
    assert (fusion.predict(X) == y).mean() > 0.9


def test_fixed_weights_are_read_at_fit_and_dropped_members_are_not_named():
    # As documented: weights take effect at the next fit (VotingClassifier reads them
    # at predict time), and named_estimators_ lines up with weights_ (no "drop" entry).
    X, y = load_iris(return_X_y=True)
    members = [("lr", LogisticRegression(max_iter=500)), ("off", "drop"),
               ("stump", DecisionTreeClassifier(max_depth=1, random_state=0))]
    fusion = FusionClassifier(members, weights=[1, 1, 3]).fit(X, y)
    before = fusion.predict_proba(X)
    fusion.set_params(weights=[3, 1, 1])
    assert_allclose(fusion.predict_proba(X), before)
    assert_allclose(fusion.weights_, [0.25, 0.75])
    assert list(fusion.named_estimators_) == ["lr", "stump"]
    fusion.fit(X, y)
    assert_allclose(fusion.weights_, [0.75, 0.25])
    assert not np.allclose(fusion.predict_proba(X), before)
