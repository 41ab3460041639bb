"""The shortcuts ``Composite`` takes past scikit-learn's generic machinery give its results.

A search clones and sets the parameters of a composite once per candidate and fold, so
``Composite`` lists its own parameters from its constructor (read once per class), sets
top-level ones without listing the members' nested ones, and skips conversions that would
return their input unchanged.
"""

import inspect
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.multiclass import check_classification_targets

from skfuse import FusionClassifier, SerialStack
from skfuse._base import (
    Composite,
    classes_of,
    refuse_infinite,
    seed_estimator,
)

from composites import make, names


@pytest.mark.parametrize("name", names(), ids=str)
def test_shallow_get_params_is_scikit_learns(name):
    estimator = make(name)
    assert list(estimator.get_params(deep=False).items()) == list(
        BaseEstimator.get_params(estimator, deep=False).items())


@pytest.mark.parametrize("name", [n for n in names() if isinstance(make(n), Composite)
                                  and type(make(n)).set_params is Composite.set_params],
                         ids=str)
def test_a_top_level_parameter_is_set_without_the_nested_listing(name, monkeypatch):
    estimator = make(name)
    nested = clone(estimator)
    BaseEstimator.set_params(nested, random_state=12345)  # lists every nested parameter
    shallow_only = type(estimator).get_params

    def get_params(self, deep=True):
        assert not deep, "the nested parameters were listed"
        return shallow_only(self, deep=False)

    monkeypatch.setattr(type(estimator), "get_params", get_params)
    assert estimator.set_params(random_state=12345) is estimator
    assert estimator.random_state == 12345
    assert repr(estimator.get_params(deep=False)) == repr(nested.get_params(deep=False))


def test_shallow_get_params_reads_the_signature_once_per_class(monkeypatch):
    # clone and parameter validation call it on every candidate of a search.
    calls = []
    signature = inspect.signature
    monkeypatch.setattr(inspect, "signature", lambda f: calls.append(f) or signature(f))

    class Fresh(FusionClassifier):
        pass

    for _ in range(3):
        Fresh([("lr", LogisticRegression())]).get_params(deep=False)
    assert calls.count(Fresh.__init__) == 1


def test_member_names_and_unknown_keys_take_scikit_learns_path():
    fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())])
    tree = DecisionTreeClassifier()
    fusion.set_params(nb=tree, random_state=3)
    assert fusion.estimators[1] == ("nb", tree) and fusion.random_state == 3
    with pytest.raises(ValueError, match="Invalid parameter 'no_such_parameter'"):
        fusion.set_params(random_state=4, no_such_parameter=1)


def test_constructor_args_are_refused_as_scikit_learn_does():
    class Starred(FusionClassifier):
        def __init__(self, *args, estimators=None):
            super().__init__(estimators)

    with pytest.raises(RuntimeError, match=r"\*args"):
        Starred().get_params(deep=False)


def test_huge_finite_values_are_not_taken_for_infinite_ones():
    # Their sum overflows to inf, which alone must not be read as an infinite value.
    X = np.vstack([np.full((10, 2), 1e308), -np.full((10, 2), 1e308)])
    refuse_infinite(X, "owner")
    X[3, 1] = -np.inf
    with pytest.raises(ValueError, match=r"column\(s\) \[1\], on 1 row"):
        refuse_infinite(X, "owner")


def test_a_strided_target_is_made_contiguous():
    X = np.random.RandomState(0).normal(size=(40, 2))
    Y = np.stack([np.arange(40) % 2, np.zeros(40, dtype=int)], axis=1)
    fusion = FusionClassifier([("lr", LogisticRegression())])
    y = fusion._check_y(X, Y[:, 0])
    assert y.flags.c_contiguous
    np.testing.assert_array_equal(y, Y[:, 0])


def test_integer_labels_still_get_scikit_learns_target_warnings():
    X = np.arange(60.0).reshape(30, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # 25 unique labels of 30: scikit-learn before 1.8 warns only below all unique.
        y = np.r_[np.arange(25), np.arange(5)]
        FusionClassifier([("tree", DecisionTreeClassifier())]).fit(X, y)
    assert any("number of unique classes" in str(w.message) for w in caught)


def _warnings_of(fn, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(y)
    return [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.int32])
@pytest.mark.parametrize("n", [2, 20, 21, 22, 41, 60])
def test_integer_labels_warn_exactly_as_scikit_learns_check(n, dtype):
    # classes_of skips scikit-learn's target check for 1-D integer labels where that
    # check cannot warn: whatever the share of unique labels, the warnings are its own.
    for n_classes in range(2, n + 1):
        y = (np.arange(n) % n_classes).astype(dtype)
        assert _warnings_of(lambda v: classes_of(v, "owner"), y) == _warnings_of(
            check_classification_targets, y), (n, n_classes)


def test_a_composite_inside_with_its_own_seed_seeds_its_members_itself():
    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    inner = FusionClassifier([("rf", RandomForestClassifier(n_estimators=5)),
                              ("nb", GaussianNB())], random_state=123)
    assert seed_estimator(inner, 0) is inner  # nothing under it is seeded from outside
    alone = clone(inner).fit(X, y).predict_proba(X)
    for outer_seed in (0, 1):
        stack = SerialStack([("inner", clone(inner)), ("final", LogisticRegression())],
                            cv=3, random_state=outer_seed).fit(X, y)
        level = stack.steps_[0][1]
        assert level.get_params()["rf__random_state"] is None
        np.testing.assert_array_equal(level.predict_proba(X), alone)
    # An unseeded one gets a seed of its own, from which it seeds its members by name
    # when it is fitted (so that a member's seed does not depend on the others').
    unseeded = clone(inner).set_params(random_state=None)
    seeded = seed_estimator(unseeded, 0)
    assert seeded.get_params()["rf__random_state"] is None
    assert isinstance(seeded.get_params()["random_state"], int)


def test_only_a_skfuse_composite_keeps_the_seeds_inside_it():
    from sklearn.model_selection import RandomizedSearchCV
    from sklearn.pipeline import make_pipeline

    from skfuse._base import seeds_by_name

    # A search with its own seed does not seed the model it tunes: that one still is.
    search = RandomizedSearchCV(RandomForestClassifier(n_estimators=5),
                                {"max_depth": [2, 3, 4]}, n_iter=2, random_state=0)
    seeded = seed_estimator(search, 0).get_params()
    assert isinstance(seeded["estimator__random_state"], int)
    # Each other key gets the seed of its name, whatever the keys beside it.
    inner = FusionClassifier([("rf", RandomForestClassifier())], random_state=123)
    params = seed_estimator(make_pipeline(inner, RandomForestClassifier()), 0).get_params()
    assert params["fusionclassifier__rf__random_state"] is None
    key = "randomforestclassifier__random_state"
    assert params[key] == seeds_by_name(0, [key])[key]
    alone = seed_estimator(make_pipeline(RandomForestClassifier()), 0).get_params()
    assert alone[key] == params[key]


def test_an_unknown_nested_parameter_lists_the_member_names_of_its_own_level():
    inner = FusionClassifier([("lr", LogisticRegression())])
    stack = SerialStack([("level1", inner), ("final", LogisticRegression())])
    with pytest.raises(ValueError, match="Invalid parameter 'lrr'") as refused:
        stack.set_params(level1__lrr__C=1.0)
    message = str(refused.value)
    assert message.count("Member names") == 1
    assert "['lr']" in message and "'level1'" not in message


def test_an_unknown_parameter_of_a_member_is_refused_in_the_members_words():
    # The composite's member names were added to a member's own refusal, pointing at the
    # wrong level ('lr' is a member; 'foo' is what LogisticRegression lacks).
    fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())])
    with pytest.raises(ValueError, match="Invalid parameter 'foo' for estimator "
                       "LogisticRegression") as refused:
        fusion.set_params(lr__foo=1)
    assert "Member names" not in str(refused.value)
    with pytest.raises(ValueError, match=r"Member names .*\['lr', 'nb'\]"):
        fusion.set_params(lrr__C=1.0)  # a name that is no member's


def _with_final(final):
    """Three composites whose out-of-fold work shows their shuffled folds, over
    LogisticRegression ``final`` (lbfgs takes a random_state and never uses it)."""
    from sklearn.model_selection import KFold

    from skfuse import DistilledClassifier

    cv = KFold(5, shuffle=True)  # unseeded: the composite seeds it
    return {
        "fusion": FusionClassifier([("nb", GaussianNB()), ("lr", final)], weights="optimize",
                                   cv=cv, random_state=0),
        "stack": SerialStack([("nb", GaussianNB()), ("final", final)], cv=cv,
                             random_state=0),
        "distill": DistilledClassifier(final, DecisionTreeClassifier(max_depth=3,
                                                                     random_state=0),
                                       label_weight=0.0, cv=cv, random_state=0),
    }


@pytest.mark.parametrize("kind", ["fusion", "stack", "distill"])
def test_shuffled_folds_do_not_depend_on_which_members_have_a_seed(kind):
    # A search that swaps members compares them on the same folds: the folds' seed does
    # not depend on the members' unset seeds.
    X, y = make_classification(200, 5, n_informative=3, random_state=0)
    unset = _with_final(LogisticRegression())[kind].fit(X, y)
    seeded = _with_final(LogisticRegression(random_state=123))[kind].fit(X, y)
    if kind == "fusion":
        assert unset.oof_score_ == seeded.oof_score_
        np.testing.assert_array_equal(unset.weights_, seeded.weights_)
    else:
        np.testing.assert_array_equal(unset.predict_proba(X), seeded.predict_proba(X))


def _rf_seed(composite, X, y):
    """The seed the composite gave its unseeded forest named "rf" (the student of a
    distiller)."""
    fitted = composite.fit(X, y)
    forest = getattr(fitted, "student_", None) or dict(
        getattr(fitted, "steps_", None) or fitted.named_estimators_.items())["rf"]
    return forest.random_state


def test_a_nested_unseeded_composite_seeds_its_members_by_name_too():
    # Inside an unseeded fusion, a member's seed was drawn in turn with its neighbours':
    # a member of weight 0 there did not predict as dropping it.
    X, y = make_classification(150, 6, random_state=0)

    def outer(first):
        inner = FusionClassifier([("a", first), ("b", RandomForestClassifier(5))],
                                 weights=[0, 1])
        return FusionClassifier([("inner", inner), ("lr", LogisticRegression())],
                                random_state=0).fit(X, y)

    kept, dropped = outer(DecisionTreeClassifier()), outer("drop")
    np.testing.assert_array_equal(kept.predict_proba(X), dropped.predict_proba(X))


@pytest.mark.parametrize("kind", ["fusion", "stack", "distill"])
def test_a_members_seed_depends_on_the_composites_seed_and_its_name_alone(kind):
    from skfuse import DistilledClassifier

    X, y = make_classification(120, 5, random_state=0)
    forest = RandomForestClassifier(n_estimators=3)

    def build(other, weights="optimize"):
        if kind == "fusion":
            return FusionClassifier([("other", other), ("rf", clone(forest))],
                                    weights=weights, cv=3, refit=True, random_state=0)
        if kind == "stack":
            return SerialStack([("other", other), ("rf", clone(forest))], cv=3,
                               random_state=0)
        return DistilledClassifier(other, clone(forest), cv=3, label_weight=0.0,
                                   random_state=0)

    seeds = {_rf_seed(build(LogisticRegression()), X, y),
             _rf_seed(build(LogisticRegression(random_state=7)), X, y),
             _rf_seed(build(RandomForestClassifier(n_estimators=3)), X, y)}
    if kind == "fusion":
        seeds |= {_rf_seed(build("drop"), X, y),
                  _rf_seed(build(LogisticRegression(), weights=[1, 1]), X, y)}
    assert len(seeds) == 1 and None not in seeds
    # Another seed on the composite gives the member another seed.
    assert _rf_seed(build(LogisticRegression()).set_params(random_state=1), X, y) not in seeds


def test_a_member_of_weight_zero_predicts_as_dropping_it():
    X, y = make_classification(200, 6, random_state=0)

    def fusion(first):
        return FusionClassifier([("first", first), ("rf", RandomForestClassifier(10))],
                                weights=[0, 1], random_state=0).fit(X, y)

    kept, dropped = fusion(LogisticRegression()), fusion("drop")
    np.testing.assert_array_equal(kept.predict_proba(X), dropped.predict_proba(X))


@pytest.mark.parametrize("splitter", ["ShuffleSplit", "StratifiedShuffleSplit"])
def test_a_shuffle_split_without_a_seed_is_seeded_from_random_state(splitter):
    from sklearn import model_selection

    X, y = make_classification(200, 5, n_informative=3, random_state=0)
    cv = getattr(model_selection, splitter)(n_splits=1, test_size=0.5)
    fits = [FusionClassifier([("nb", GaussianNB()), ("tree", DecisionTreeClassifier(
        max_depth=3, random_state=0))], weights="optimize", cv=cv, random_state=seed).fit(X, y)
        for seed in (0, 0, 1)]
    assert fits[0].oof_score_ == fits[1].oof_score_
    np.testing.assert_array_equal(fits[0].weights_, fits[1].weights_)
    assert cv.random_state is None  # the user's splitter is left as it was


def test_a_refused_splitter_is_named_as_given_not_as_seeded():
    # An unseeded shuffling splitter is seeded from random_state for the fit; the
    # refusal showed that copy's seed, one the user never set.
    from sklearn.model_selection import GroupKFold, ShuffleSplit

    X, y = make_classification(200, 5, n_informative=3, random_state=0)
    fusion = FusionClassifier([("nb", GaussianNB()), ("lr", LogisticRegression())],
                              weights="optimize", cv=ShuffleSplit(5, test_size=0.2),
                              random_state=0)
    with pytest.raises(ValueError, match="disjoint test folds") as info:
        fusion.fit(X, y)
    assert "random_state=None" in str(info.value)
    fusion.set_params(cv=GroupKFold(3, shuffle=True))
    with pytest.raises(ValueError, match="splits by groups") as info:
        fusion.fit(X, y)
    assert "random_state=None" in str(info.value)


def test_names_whose_checksums_collide_get_different_seeds():
    # A 32-bit CRC of the name entered the seed: "plumless" and "buckeroo" share one, and
    # two forests of those names were the same forest.
    from skfuse._base import seeds_by_name

    seeds = seeds_by_name(0, ["plumless", "buckeroo", "codding", "gnu"])
    assert len(set(seeds.values())) == 4


@pytest.mark.parametrize("splitter", ["kfold", "shuffle_split"])
def test_a_members_own_shuffling_splitter_without_a_seed_is_seeded(splitter):
    # A search member holding KFold(shuffle=True) without a seed drew its folds from
    # NumPy's global generator: two fits with one random_state differed.
    from sklearn.model_selection import GridSearchCV, KFold, ShuffleSplit
    X, y = make_classification(120, 5, random_state=0)
    cv = KFold(3, shuffle=True) if splitter == "kfold" else ShuffleSplit(3, test_size=0.3)

    def fit(global_seed):
        np.random.seed(global_seed)
        search = GridSearchCV(DecisionTreeClassifier(), {"max_depth": [1, 2, 3, 4, 5]}, cv=cv)
        return FusionClassifier([("search", search), ("lr", LogisticRegression())],
                                weights="optimize", cv=3, refit=True,
                                random_state=0).fit(X, y)

    first, second = fit(1), fit(2)
    np.testing.assert_array_equal(first.estimators_[0].cv_results_["mean_test_score"],
                                  second.estimators_[0].cv_results_["mean_test_score"])
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert cv.random_state is None  # the user's splitter is left as it was
