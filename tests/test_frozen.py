"""Frozen (prefit) members: used as they are, with their label spaces aligned."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier

from skfuse import FusionClassifier
from skfuse.exceptions import FrozenMemberWarning

X, y_int = load_iris(return_X_y=True)
NAMES = np.array(["setosa", "versicolor", "virginica"])
y = NAMES[y_int]
rng = np.random.RandomState(0)
order = rng.permutation(len(y))
TRAIN, BLEND = order[:90], order[90:]


class ReorderedClassifier(ClassifierMixin, BaseEstimator):
    """A prefit model that reports its classes in reversed order (as an external model may)."""

    def __init__(self, model):
        self.model = model

    def fit(self, X, y):
        self.model_ = self.model.fit(X, y)
        self.classes_ = self.model_.classes_[::-1]
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)[:, ::-1]

    def predict(self, X):
        return self.model_.predict(X)


def prefit_members():
    """Members trained elsewhere: all classes, a subset of them, and a reversed order."""
    full = LogisticRegression(max_iter=1000).fit(X[TRAIN], y[TRAIN])
    two = np.isin(y[TRAIN], ["setosa", "virginica"])
    subset = GaussianNB().fit(X[TRAIN][two], y[TRAIN][two])
    reordered = ReorderedClassifier(DecisionTreeClassifier(max_depth=2, random_state=0))
    reordered.fit(X[TRAIN], y[TRAIN])
    return [
        ("full", FrozenEstimator(full)),
        ("subset", FrozenEstimator(subset)),
        ("reordered", FrozenEstimator(reordered)),
    ]


def aligned_by_hand(member, X):
    """Each member's probabilities moved, by class name, into setosa/versicolor/virginica."""
    proba = member.predict_proba(X)
    out = np.zeros((len(X), 3))
    for j, label in enumerate(member.classes_):
        out[:, list(NAMES).index(label)] = proba[:, j]
    return out


WEIGHTS = np.array([0.5, 0.2, 0.3])


def test_frozen_soft_voting_matches_hand_computation():
    members = prefit_members()
    fusion = FusionClassifier(members, weights=WEIGHTS).fit(X[BLEND], y[BLEND])
    P = np.stack([aligned_by_hand(est, X) for _, est in members])
    expected = np.tensordot(WEIGHTS, P, axes=1)
    assert_allclose(fusion.predict_proba(X), expected, rtol=1e-12)
    assert_array_equal(fusion.predict(X), NAMES[expected.argmax(axis=1)])
    # The subset member gives versicolor probability 0.
    assert np.all(fusion.transform(X)[:, 3 + 1] == 0)


def test_frozen_geometric_voting_matches_hand_computation():
    members = prefit_members()
    fusion = FusionClassifier(members, voting="geometric", weights=WEIGHTS)
    fusion.fit(X[BLEND], y[BLEND])
    P = np.stack([aligned_by_hand(est, X) for _, est in members])
    log_p = np.tensordot(WEIGHTS, np.log(np.clip(P, np.finfo(float).eps, 1)), axes=1)
    expected = np.exp(log_p) / np.exp(log_p).sum(axis=1, keepdims=True)
    assert_allclose(fusion.predict_proba(X), expected, rtol=1e-9, atol=1e-15)
    assert np.all(np.isfinite(fusion.predict_log_proba(X)))


def test_frozen_hard_voting_matches_hand_computation():
    members = prefit_members()
    fusion = FusionClassifier(members, voting="hard", weights=WEIGHTS)
    fusion.fit(X[BLEND], y[BLEND])
    votes = np.zeros((len(X), 3))
    for w, (_, est) in zip(WEIGHTS, members):
        for row, label in enumerate(est.predict(X)):
            votes[row, list(NAMES).index(label)] += w
    assert_array_equal(fusion.predict(X), NAMES[votes.argmax(axis=1)])
    assert_array_equal(
        fusion.transform(X),
        np.column_stack([np.searchsorted(NAMES, est.predict(X)) for _, est in members]),
    )


def test_frozen_members_are_not_refitted():
    members = prefit_members()
    before = [est.predict_proba(X) for _, est in members]
    fusion = FusionClassifier(members, weights=WEIGHTS).fit(X[BLEND], y[BLEND])
    for (_, est), fitted, proba in zip(members, fusion.estimators_, before):
        assert fitted is est
        assert_allclose(fitted.predict_proba(X), proba)


def test_learned_weights_on_frozen_members_warn_and_use_the_blending_set():
    members = prefit_members()
    fusion = FusionClassifier(members, weights="optimize", cv=3)
    with pytest.warns(FrozenMemberWarning, match="blending set"):
        fusion.fit(X[BLEND], y[BLEND])
    P = np.stack([aligned_by_hand(est, X[BLEND]) for _, est in members])
    codes = np.searchsorted(NAMES, y[BLEND])
    for m, name in enumerate(["full", "subset", "reordered"]):
        true_class = np.clip(P[m, np.arange(len(BLEND)), codes], np.finfo(float).eps, 1)
        assert_allclose(fusion.member_scores_[name], np.mean(np.log(true_class)))
    assert_allclose(fusion.weights_.sum(), 1.0)


def test_fixed_weights_on_frozen_members_do_not_warn():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", FrozenMemberWarning)
        FusionClassifier(prefit_members()).fit(X[BLEND], y[BLEND])


def test_frozen_and_trainable_members_mix():
    members = prefit_members()[:2] + [("tree", DecisionTreeClassifier(random_state=0))]
    with pytest.warns(FrozenMemberWarning, match=r"\['full', 'subset'\]"):
        fusion = FusionClassifier(members, weights="greedy", cv=3).fit(X[BLEND], y[BLEND])
    tree = fusion.named_estimators_["tree"]
    assert tree is not members[2][1]
    assert [fit.n_features_in_ for fit in tree.estimators] == [4, 4, 4]  # its fold fits
    assert fusion.named_estimators_["full"] is members[0][1]
    refitted = FusionClassifier(members, weights="greedy", refit=True, cv=3)
    with pytest.warns(FrozenMemberWarning):
        tree = refitted.fit(X[BLEND], y[BLEND]).named_estimators_["tree"]
    assert tree is not members[2][1]
    assert tree.n_features_in_ == 4


def test_cross_validate_keeps_frozen_members_fitted():
    fusion = FusionClassifier(prefit_members(), weights=WEIGHTS)
    result = cross_validate(fusion, X[BLEND], y[BLEND], cv=3, return_estimator=True)
    assert np.all(result["test_score"] > 0.8)
    for fitted in result["estimator"]:
        assert fitted.named_estimators_["full"] is fusion.estimators[0][1]


def test_frozen_member_with_a_class_outside_y_fails_clearly():
    versicolor = y[BLEND] != "versicolor"
    with pytest.raises(ValueError, match="member 'full' knows class.*versicolor"):
        FusionClassifier(prefit_members()).fit(X[BLEND][versicolor], y[BLEND][versicolor])


def test_frozen_members_with_sample_weight():
    # A frozen member is never fitted, so it need not accept sample_weight; the
    # weights still weigh the blending objective.
    sample_weight = np.where(y[BLEND] == "virginica", 5.0, 1.0)
    fusion = FusionClassifier(prefit_members(), weights="optimize", cv=3)
    with pytest.warns(FrozenMemberWarning):
        fusion.fit(X[BLEND], y[BLEND], sample_weight=sample_weight)
    P = np.stack([aligned_by_hand(est, X[BLEND]) for _, est in prefit_members()])
    fused = np.tensordot(fusion.weights_, P, axes=1)
    true_class = fused[np.arange(len(BLEND)), np.searchsorted(NAMES, y[BLEND])]
    log_true = np.log(np.clip(true_class, np.finfo(float).eps, None))
    assert_allclose(fusion.oof_score_, np.average(log_true, weights=sample_weight))


@pytest.mark.parametrize("setting", [{"n_jobs": 2}, {"memory": "cache"}])
def test_frozen_members_are_the_given_objects_with_jobs_or_cache(tmp_path, setting):
    if "memory" in setting:
        setting = {"memory": tmp_path}
    # Only scikit-learn members: worker processes cannot import this test module.
    members = prefit_members()[:2]
    fusion = FusionClassifier(members, weights=[1, 1], **setting).fit(X[BLEND], y[BLEND])
    for (_, given), fitted in zip(members, fusion.estimators_):
        assert fitted is given


@pytest.mark.parametrize("weights", [None, "optimize"])
@pytest.mark.parametrize("frozen_on, fitted_on", [("one target", "two"), ("two", "one target")])
def test_a_frozen_member_of_another_number_of_targets_is_refused(weights, frozen_on,
                                                                  fitted_on):
    # Its predictions were reshaped to the fusion's width, pairing rows with other
    # rows' outputs, and failed in numpy (or, with an even number of rows, could not).
    from sklearn.linear_model import Ridge
    from sklearn.tree import DecisionTreeRegressor

    from skfuse import FusionRegressor

    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 3))
    targets = {"one target": X[:, 0], "two": np.c_[X[:, 0], -X[:, 0]]}
    frozen = FrozenEstimator(Ridge().fit(X, targets[frozen_on]))
    fusion = FusionRegressor([("frozen", frozen), ("tree", DecisionTreeRegressor())],
                             weights=weights, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FrozenMemberWarning)
        with pytest.raises(ValueError, match=r"FrozenEstimator predicted an array of shape "
                                             r"\(100(, 2)?,?\) for 100 rows; the composite "
                                             r"was fitted on [12] target"):
            fusion.fit(X, targets[fitted_on]).predict(X)


def test_stack_on_a_frozen_level_warns_and_names_it():
    from skfuse import SerialStack

    steps = prefit_members()[:1] + [("tree", DecisionTreeClassifier(random_state=0)),
                                    ("final", LogisticRegression(max_iter=1000))]
    with pytest.warns(FrozenMemberWarning, match=r"next level .* \['full'\] .*blending set") \
            as record:
        SerialStack(steps, cv=3).fit(X[BLEND], y[BLEND])
    assert record[0].filename == __file__


def test_auto_cascade_with_a_frozen_step_warns_and_names_it():
    from skfuse import SerialStack

    # The last step counts too: the thresholds weigh the exits against its accuracy.
    steps = [("tree", DecisionTreeClassifier(max_depth=2, random_state=0)),
             prefit_members()[0]]
    with pytest.warns(FrozenMemberWarning, match=r"thresholds .* \['full'\]") as record:
        SerialStack(steps, exit_threshold="auto", cv=3).fit(X[BLEND], y[BLEND])
    assert record[0].filename == __file__


def test_deferred_cascade_with_a_frozen_first_step_warns_and_names_it():
    from skfuse import SerialStack

    steps = prefit_members()[:1] + [("tree", DecisionTreeClassifier(random_state=0))]
    with pytest.warns(FrozenMemberWarning, match=r"rows each later step is trained on "
                                                 r".* \['full'\]") as record:
        SerialStack(steps, exit_threshold=0.9, cv=3).fit(X[BLEND], y[BLEND])
    assert record[0].filename == __file__


@pytest.mark.parametrize("setting", [
    {"steps": "trainable final"},  # a stack whose only frozen step is its final one
    # given thresholds learn nothing, and nor does training every step on every row
    {"exit_threshold": 0.9, "cascade_fit": "all"},
])
def test_serial_stack_that_learns_nothing_from_frozen_outputs_does_not_warn(setting):
    from skfuse import SerialStack

    frozen = prefit_members()[0]
    tree = ("tree", DecisionTreeClassifier(max_depth=2, random_state=0))
    if "steps" in setting:
        stack = SerialStack([tree, frozen], cv=3)
    else:
        stack = SerialStack([frozen, tree], cv=3, **setting)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FrozenMemberWarning)
        stack.fit(X[BLEND], y[BLEND])


def test_a_frozen_final_step_that_knows_a_class_outside_y_is_refused():
    from skfuse import SerialStack

    two = np.isin(y[BLEND], ["setosa", "versicolor"])
    steps = [("tree", DecisionTreeClassifier(max_depth=2, random_state=0)),
             prefit_members()[0]]
    with pytest.raises(ValueError, match=r"step 'full' knows class\(es\) \['virginica'\]"):
        SerialStack(steps, cv=3).fit(X[BLEND][two], y[BLEND][two])


@pytest.mark.parametrize("voting", ["soft", "hard"])
def test_an_unfitted_frozen_member_is_refused_at_fit(voting):
    # It is never fitted, and equal weights never ask it anything at fit: the composite
    # looked fitted and failed at predict, where scikit-learn's voting fails at fit.
    from sklearn.exceptions import NotFittedError

    from skfuse import SerialStack

    X, y = load_iris(return_X_y=True)
    unfitted = FrozenEstimator(LogisticRegression())
    with pytest.raises(NotFittedError, match=r"FusionClassifier: member 'lr' is frozen "
                                             r"\(used as it is, never fitted\), but its "
                                             "estimator is not fitted"):
        FusionClassifier([("lr", unfitted), ("nb", GaussianNB())], voting=voting).fit(X, y)
    with pytest.raises(NotFittedError, match=r"SerialStack: step 'lr' \(final\) is frozen"):
        SerialStack([("nb", GaussianNB()), ("lr", unfitted)], cv=3).fit(X, y)


class Formula(ClassifierMixin, BaseEstimator):
    """A model frozen by a ``__sklearn_clone__`` that returns itself, holding no fitted
    attribute: a fixed rule."""

    classes_ = np.array([0, 1, 2])

    def __sklearn_clone__(self):
        return self

    def fit(self, X, y=None):
        return self

    def predict_proba(self, X):
        scores = np.c_[-X[:, 0], X[:, 1], X[:, 0]]
        return np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.predict_proba(X).argmax(axis=1)


def test_a_model_frozen_by_its_clone_is_taken_without_fitted_attributes():
    # Only a FrozenEstimator (or an object that says it is fitted or not) is asked
    # whether its estimator is fitted: a rule holds nothing to find.
    X, y = load_iris(return_X_y=True)
    fusion = FusionClassifier([("rule", Formula()), ("nb", GaussianNB())]).fit(X, y)
    assert fusion.predict_proba(X).shape == (len(X), 3)
