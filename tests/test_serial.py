import inspect
import pickle
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_diabetes, load_wine, make_classification
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    StackingClassifier,
    StackingRegressor,
)
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_val_predict,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if

from skfuse import FusionClassifier, FusionRegressor, SerialStack

from composites import CountingNB, CountingTree

X, y = load_wine(return_X_y=True)
X = StandardScaler().fit_transform(X)
LABELS = np.array(["barolo", "grignolino", "barbera"])[y]


def members():
    return [
        ("lr", LogisticRegression(C=0.1)),
        ("rf", RandomForestClassifier(n_estimators=15, max_depth=3, random_state=0)),
        ("nb", GaussianNB()),
    ]


# -- stacking -----------------------------------------------------------------------


def test_two_levels_agree_with_stacking_classifier():
    folds = StratifiedKFold(5, shuffle=True, random_state=1)
    ours = SerialStack(
        [("fusion", FusionClassifier(members(), weights=[1, 2, 3])),
         ("final", LogisticRegression())],
        cv=folds,
    ).fit(X, LABELS)
    ref = StackingClassifier(members(), final_estimator=LogisticRegression(), cv=folds,
                             stack_method="predict_proba").fit(X, LABELS)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-10)
    assert_array_equal(ours.predict(X), ref.predict(X))
    assert_array_equal(ours.classes_, ref.classes_)


def test_one_level_regressor_agrees_with_stacking_regressor():
    Xd, yd = load_diabetes(return_X_y=True)
    regressors = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3,
                                                                     random_state=0))]
    ours = SerialStack([("fusion", FusionRegressor(regressors)), ("final", Ridge())],
                       cv=KFold(5)).fit(Xd, yd)
    ref = StackingRegressor(regressors, final_estimator=Ridge(), cv=KFold(5)).fit(Xd, yd)
    assert_allclose(ours.predict(Xd), ref.predict(Xd), rtol=0, atol=1e-10)
    assert not hasattr(ours, "predict_proba")
    assert ours.score(Xd, yd) == pytest.approx(ref.score(Xd, yd))


def test_three_levels_fit_each_member_cv_plus_one_times():
    CountingNB.fits = CountingTree.fits = 0
    stack = SerialStack(
        [("level1", FusionClassifier([("nb", CountingNB()), ("lr", LogisticRegression())])),
         ("level2", CountingTree(max_depth=3, random_state=0)),
         ("final", LogisticRegression())],
        cv=4,
    ).fit(X, y)
    assert CountingNB.fits == 4 + 1
    assert CountingTree.fits == 4 + 1
    # Level 2 sees level 1's output: 2 members x 3 classes of probabilities.
    assert stack.named_steps_["level2"].n_features_in_ == 6
    assert stack.named_steps_["final"].n_features_in_ == 3


def test_level_inputs_are_out_of_fold():
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    stack = SerialStack([("nb", GaussianNB()), ("final", LogisticRegression())], cv=folds)
    stack.fit(X, y)
    oof = cross_val_predict(GaussianNB(), X, y, cv=folds, method="predict_proba")
    final = LogisticRegression().fit(oof, y)
    assert_allclose(stack.named_steps_["final"].coef_, final.coef_)


def test_passthrough_feeds_raw_columns_to_later_levels():
    stack = SerialStack([("nb", GaussianNB()), ("final", LogisticRegression())],
                        passthrough=[0, 1], cv=3).fit(X, y)
    assert stack.named_steps_["final"].n_features_in_ == 3 + 2
    stack.set_params(passthrough=True).fit(X, y)
    assert stack.named_steps_["final"].n_features_in_ == 3 + X.shape[1]


@pytest.mark.parametrize("passthrough", [np.True_, np.False_])
def test_passthrough_takes_numpy_booleans(passthrough):
    stack = SerialStack([("nb", GaussianNB()), ("final", LogisticRegression())],
                        passthrough=passthrough, cv=3).fit(X, y)
    assert stack.named_steps_["final"].n_features_in_ == 3 + X.shape[1] * bool(passthrough)


@pytest.mark.parametrize("passthrough, n_passed", [
    (np.array([0, 1]), 2), (np.arange(X.shape[1]) < 2, 2), (0, 1),
])
def test_passthrough_takes_arrays_of_columns_and_position_0(passthrough, n_passed):
    # An array is not read for its truth (tags, the HTML repr), and position 0 passes
    # column 0 on, so raw X (and its NaN) reaches the later steps.
    stack = SerialStack([("nb", GaussianNB()), ("final", LogisticRegression())],
                        passthrough=passthrough, cv=3)
    assert "SerialStack" in stack._repr_html_()
    assert stack.fit(X, y).named_steps_["final"].n_features_in_ == 3 + n_passed
    nan_taking = SerialStack([("hgb", HistGradientBoostingClassifier(max_iter=5)),
                              ("final", LogisticRegression())], passthrough=passthrough)
    assert get_tags(nan_taking).input_tags.allow_nan is False


# The frozen steps were fitted on the other rows: a blending set, as the warning asks.
@pytest.mark.filterwarnings("ignore::skfuse.exceptions.FrozenMemberWarning")
def test_auto_thresholds_leave_rows_of_weight_zero_out():
    # Frozen steps (fitted on other rows) give the same outputs to both fits, so only the
    # thresholds' own use of the weights can tell them apart.
    X_wine, y_wine = load_wine(return_X_y=True)
    X_wine = X_wine + np.random.RandomState(0).normal(0, X_wine.std(axis=0), X_wine.shape)
    other, rows = np.arange(len(y_wine)) % 2 == 0, np.arange(len(y_wine)) % 2 == 1
    steps = [(name, FrozenEstimator(est.fit(X_wine[other], y_wine[other])))
             for name, est in [("nb", GaussianNB()),
                               ("lr", make_pipeline(StandardScaler(), LogisticRegression()))]]
    X_fit, y_fit = X_wine[rows], y_wine[rows]
    weight = np.ones(len(y_fit))
    weight[::3] = 0.0
    kept = weight > 0

    def cascade():
        return SerialStack(steps, exit_threshold="auto", cascade_fit="all")

    weighted = cascade().fit(X_fit, y_fit, sample_weight=weight)
    dropped = cascade().fit(X_fit[kept], y_fit[kept])
    assert_array_equal(weighted.exit_thresholds_, dropped.exit_thresholds_)
    assert_array_equal(weighted.predict_proba(X_wine), dropped.predict_proba(X_wine))


def test_bad_passthrough_columns_are_named_as_passthrough():
    stack = SerialStack([("nb", GaussianNB()), ("final", LogisticRegression())],
                        passthrough=[X.shape[1] + 5], cv=3)
    with pytest.raises(ValueError, match=r"^SerialStack: passthrough names column position"):
        stack.fit(X, y)


def test_stack_method_per_step():
    stack = SerialStack(
        [("nb", GaussianNB()), ("tree", DecisionTreeClassifier(random_state=0)),
         ("final", LogisticRegression())],
        stack_method={"nb": "predict", "tree": "predict_proba"}, cv=3,
    ).fit(X, LABELS)
    assert stack.named_steps_["tree"].n_features_in_ == 1
    assert stack.named_steps_["final"].n_features_in_ == 3


def test_grid_search_reaches_nested_parameters_and_pickles():
    stack = SerialStack([("fusion", FusionClassifier(members())),
                         ("final", LogisticRegression())], cv=3)
    search = GridSearchCV(stack, {"fusion__weights": [[1, 1, 1], [0, 1, 1]],
                                  "final__C": [0.1, 1.0]}, cv=3).fit(X, LABELS)
    assert search.best_score_ > 0.9
    restored = pickle.loads(pickle.dumps(search.best_estimator_))
    assert_array_equal(restored.predict_proba(X), search.best_estimator_.predict_proba(X))


# -- cascade ------------------------------------------------------------------------


def cascade_steps():
    return [("nb", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
            ("rf", RandomForestClassifier(n_estimators=30, random_state=0))]


def test_pipeline_step_gets_sample_weight_at_every_step_that_takes_it():
    weight = np.random.RandomState(0).uniform(0.1, 3.0, len(LABELS))
    cheap = make_pipeline(StandardScaler(), LogisticRegression())
    cascade = SerialStack([("cheap", cheap), ("rf", RandomForestClassifier(
        n_estimators=20, random_state=0))], exit_threshold=0.9, cascade_fit="all", cv=3,
        random_state=0).fit(X, LABELS, sample_weight=weight)
    alone = clone(cheap).fit(X, LABELS, standardscaler__sample_weight=weight,
                             logisticregression__sample_weight=weight)
    assert_allclose(cascade.named_steps_["cheap"].predict_proba(X), alone.predict_proba(X))
    knn = make_pipeline(StandardScaler(), KNeighborsClassifier())
    with pytest.raises(TypeError, match=r"^SerialStack: step 'knn' \(Pipeline\)"):
        SerialStack([("knn", knn), ("final", LogisticRegression())], cv=3).fit(
            X, LABELS, sample_weight=weight)
    # Whole-number weights it takes as repeated rows, as a fusion's member does.
    counts = np.round(weight)
    stack = SerialStack([("knn", knn), ("final", LogisticRegression())], cv=3,
                        random_state=0).fit(X, LABELS, sample_weight=counts)
    repeated = np.repeat(np.arange(len(LABELS)), counts.astype(int))
    assert_allclose(stack.named_steps_["knn"].predict_proba(X),
                    clone(knn).fit(X[repeated], LABELS[repeated]).predict_proba(X))


@pytest.mark.parametrize("threshold", [[0.9, "auto"], ["0.9", "0.8"], [0.9, None]])
def test_threshold_list_entries_must_be_numbers(threshold):
    with pytest.raises(ValueError, match="exit_threshold must be in \\[0, 1\\], one for each"):
        SerialStack(cascade_steps(), exit_threshold=threshold, cv=3).fit(X, LABELS)


@pytest.mark.parametrize("cascade_fit", ["deferred", "all"])
def test_threshold_one_predicts_exactly_the_last_step(cascade_fit):
    cascade = SerialStack(cascade_steps(), exit_threshold=1.0, cascade_fit=cascade_fit,
                          cv=3).fit(X, LABELS)
    last = clone(cascade_steps()[-1][1]).fit(X, LABELS)
    assert_array_equal(cascade.predict(X), last.predict(X))
    assert_allclose(cascade.predict_proba(X), last.predict_proba(X))
    assert np.all(cascade.predict_route(X) == 2)
    assert_allclose(cascade.exit_rates_, [0, 0, 1])


def test_a_step_that_gets_every_row_is_not_trained_again_on_them():
    # No row exits, so each later step's deferred rows are all its rows: its all-rows
    # fit is that fit, and the cascade says so rather than fitting it again.
    CountingTree.fits = 0
    steps = [("nb", GaussianNB()), ("tree", CountingTree(max_depth=3, random_state=0))]
    cascade = SerialStack(steps, exit_threshold=1.0, cv=3).fit(X, LABELS)
    assert cascade.cascade_fit_ == ["all", "all"]
    assert CountingTree.fits == 3 + 1


def test_rows_leave_at_the_first_confident_step():
    cascade = SerialStack(cascade_steps(), exit_threshold=[0.95, 0.8], cv=3).fit(X, y)
    route = cascade.predict_route(X)
    nb, tree, rf = (est for _, est in cascade.steps_)
    first = nb.predict_proba(X).max(axis=1) > 0.95
    second = ~first & (tree.predict_proba(X).max(axis=1) > 0.8)
    assert_array_equal(route, np.select([first, second], [0, 1], 2))
    expected = np.select(
        [first[:, None], second[:, None]],
        [nb.predict_proba(X), tree.predict_proba(X)],
        rf.predict_proba(X),
    )
    assert_allclose(cascade.predict_proba(X), expected)
    assert 0 < first.mean() < 1


@pytest.mark.parametrize("cascade_fit", ["all", "deferred"])
def test_a_last_step_without_predict_proba_answers_by_its_predict(cascade_fit):
    from skfuse._cascade import auto_thresholds

    # Rows exit by the confidence of the steps before the last one; the last step (an
    # SVC without probability=True) answers the rows that reach it with its predict.
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    svc = make_pipeline(StandardScaler(), SVC(C=0.3))
    cascade = SerialStack([("nb", GaussianNB()), ("svc", svc)], exit_threshold="auto",
                          cascade_fit=cascade_fit, cv=folds).fit(X, LABELS)
    nb, last = (est for _, est in cascade.steps_)
    first = nb.predict_proba(X).max(axis=1) > cascade.exit_thresholds_[0]
    assert 0 < first.mean() < 1
    assert_array_equal(cascade.predict_route(X), np.where(first, 0, 1))
    assert_array_equal(cascade.predict(X), np.where(first, nb.predict(X), last.predict(X)))
    # "auto" reads the last step's out-of-fold predictions as probabilities of 1.
    classes = np.unique(LABELS)
    oof = [cross_val_predict(GaussianNB(), X, LABELS, cv=folds, method="predict_proba"),
           (cross_val_predict(svc, X, LABELS, cv=folds)[:, None] == classes).astype(float)]
    expected = auto_thresholds(np.stack(oof), np.searchsorted(classes, LABELS),
                               cascade.cascade_tolerance,
                               confidence=cascade.cascade_confidence)
    assert_allclose(cascade.exit_thresholds_, expected)
    assert_array_equal(cascade.predict_step_proba(X)[1],
                       last.predict(X)[:, None] == cascade.classes_)
    # No probabilities for the rows it answers: the cascade has no predict_proba.
    assert not hasattr(cascade, "predict_proba")
    with pytest.raises(AttributeError, match="last step 'svc' \\(Pipeline\\) has no "
                                             "predict_proba"):
        cascade.predict_proba(X)
    # A step rows exit from still needs its probabilities.
    with pytest.raises(TypeError, match="step 'svc' has no predict_proba.*only the last"):
        SerialStack([("svc", SVC()), ("nb", GaussianNB())], exit_threshold=0.9).fit(X, y)


def test_a_last_step_without_predict_proba_takes_its_deferred_fit():
    Xb, yb = make_classification(400, 8, n_informative=5, flip_y=0.05, random_state=0)
    cascade = SerialStack([("nb", GaussianNB()), ("svc", SVC(C=3))], exit_threshold=0.9,
                          cascade_confidence=0.5, cv=3).fit(Xb, yb)
    assert cascade.cascade_fit_ == ["all", "deferred"]
    nb, svc = (est for _, est in cascade.steps_)
    assert svc.shape_fit_[0] < len(yb)  # trained on the rows the first step defers
    route = cascade.predict_route(Xb)
    assert_array_equal(cascade.predict(Xb)[route == 1], svc.predict(Xb[route == 1]))
    assert_array_equal(cascade.predict(Xb)[route == 0], nb.predict(Xb[route == 0]))


class ProbaOnSomeRows(LogisticRegression):
    """predict_proba only once fitted on ``min_rows`` to ``max_rows`` rows (a search
    that picks a hinge loss on some fits), and before fit."""

    def __init__(self, min_rows=0, max_rows=10**9):
        self.min_rows = min_rows
        self.max_rows = max_rows
        super().__init__()

    def _has_proba(self):
        return not hasattr(self, "n_rows_") or self.min_rows <= self.n_rows_ <= self.max_rows

    def fit(self, X, y, sample_weight=None):
        self.n_rows_ = len(y)
        return super().fit(X, y, sample_weight)

    @available_if(_has_proba)
    def predict_proba(self, X):
        return super().predict_proba(X)


@pytest.mark.parametrize("step, match, note", [
    # Its fold fits (118 of the 178 rows) give no probabilities: the task's note names
    # the step and fold.
    (ProbaOnSomeRows(min_rows=150), "ProbaOnSomeRows gives no probabilities once fitted",
     "step 'picky', fold"),
    # Its fit on all rows has no predict_proba.
    (ProbaOnSomeRows(max_rows=150), "step 'picky' has no predict_proba once fitted", None),
])
def test_a_step_before_the_last_whose_fit_has_no_predict_proba_is_refused(step, match,
                                                                           note):
    # The steps are checked before fit, where such a step still has predict_proba; a
    # fit without it read as certain let every row leave there, or skewed the
    # thresholds and exit rates.
    cascade = SerialStack([("picky", step), ("nb", GaussianNB())], exit_threshold=0.9, cv=3)
    with pytest.raises(ValueError, match=match) as raised:
        cascade.fit(X, y)
    if note and sys.version_info >= (3, 11):  # exception notes
        assert note in " ".join(raised.value.__notes__)


@pytest.mark.parametrize("cascade_fit", ["all", "deferred"])
def test_renaming_a_step_reuses_its_cached_fits(cascade_fit, tmp_path):
    # Its name is no part of its outputs' cache key: renamed, the step before the last
    # refitted its folds.
    def fitted(first):
        SerialStack([(first, CountingNB()), ("lr", LogisticRegression())],
                     exit_threshold=0.9, cascade_fit=cascade_fit, cv=3,
                     memory=str(tmp_path)).fit(X, y)

    fitted("nb")
    CountingNB.fits = 0
    fitted("gnb")
    assert CountingNB.fits == 0


def test_a_steps_error_inside_predict_proba_is_not_read_as_no_probabilities():
    class Broken(GaussianNB):
        def predict_proba(self, X):
            return self.missing_attribute

    cascade = SerialStack([("broken", Broken()), ("nb", GaussianNB())], exit_threshold=0.9,
                          cv=3)
    with pytest.raises(AttributeError, match="missing_attribute"):
        cascade.fit(X, y)


def test_a_last_step_may_lose_predict_proba_in_its_fits():
    # Its probabilities are never read, so its fits may lack them: it answers by
    # predict, and the fitted cascade has no predict_proba.
    cascade = SerialStack([("nb", GaussianNB()), ("picky", ProbaOnSomeRows(min_rows=1000))],
                          exit_threshold="auto", cv=3)
    assert hasattr(cascade, "predict_proba")
    cascade.fit(X, y)
    assert not hasattr(cascade, "predict_proba")
    picky = cascade.steps_[1][1]
    route = cascade.predict_route(X)
    assert_array_equal(cascade.predict(X)[route == 1], picky.predict(X[route == 1]))


@pytest.mark.parametrize("exit_threshold", [None, 0.9], ids=["stack", "cascade"])
def test_a_missing_predict_proba_chains_the_last_steps_own_reason(exit_threshold):
    # The last step's AttributeError was dropped for one of skfuse's own, so SVC's
    # reason (probability=False) was lost; StackingClassifier chains it.
    stack = SerialStack([("nb", GaussianNB()), ("svc", SVC())], cv=3,
                        exit_threshold=exit_threshold)
    with pytest.raises(AttributeError, match="has no attribute 'predict_proba'") as info:
        stack.predict_proba  # noqa: B018
    reason, chain = info.value.__cause__, []
    while reason is not None:
        chain.append(str(reason))
        reason = reason.__cause__
    assert "step 'svc' (SVC) has no predict_proba" in chain[0]
    assert "This 'SVC' has no attribute 'predict_proba'" in chain[1]
    assert "probability=False" in chain[-1]


def test_a_step_whose_deferred_fits_have_no_predict_proba_keeps_its_fit_on_all_rows():
    # The middle step's fits on its deferred rows' folds see fewer than 100 rows, where
    # it has no probabilities.
    steps = [("nb", GaussianNB()), ("picky", ProbaOnSomeRows(min_rows=100)),
             ("lr", LogisticRegression())]
    cascade = SerialStack(steps, exit_threshold=0.9, views={"nb": [0]}, cv=3)
    with pytest.warns(UserWarning, match="step 'picky' could not be trained on its "
                                         "deferred rows alone .*gives no probabilities"):
        cascade.fit(X, y)
    assert cascade.cascade_fit_[1] == "all"
    assert cascade.named_steps_["picky"].n_rows_ == len(y)


@pytest.mark.parametrize("threshold", [[0.9], [0.9, 0.8, 0.7], 1.5, "high"])
def test_bad_thresholds_are_refused_before_any_step_is_fitted(threshold):
    class NotToBeFitted(GaussianNB):
        def fit(self, X, y, sample_weight=None):
            raise AssertionError("a step was fitted before the thresholds were checked")

    cascade = SerialStack([("nb", NotToBeFitted()), ("tree", DecisionTreeClassifier()),
                           ("rf", RandomForestClassifier())], exit_threshold=threshold)
    # A value of the wrong type or range is refused as declared (InvalidParameterError),
    # a list of the wrong length by the rule that links it to the steps.
    with pytest.raises(ValueError, match="exit_threshold('? parameter of SerialStack)? must"):
        cascade.fit(X, y)


@pytest.mark.parametrize("steps", [{"nb": GaussianNB(), "lr": LogisticRegression()}, {}])
def test_steps_given_as_a_dict_are_refused_by_name(steps):
    # The tags read steps[-1] and failed with KeyError: -1 (in is_classifier, in
    # cross_val_score) before fit could name the parameter.
    from sklearn.model_selection import cross_val_score

    from skfuse._compat import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="'steps' parameter"):  # (scikit-learn
        # names cross_val_score in it)
        cross_val_score(SerialStack(steps), X, y, cv=3, error_score="raise")
    with pytest.raises(InvalidParameterError, match="'steps' parameter of SerialStack"):
        SerialStack(steps).fit(X, y)


def test_later_steps_only_run_on_deferred_rows():
    class CountingRows(LogisticRegression):
        rows = 0

        def predict_proba(self, X):
            type(self).rows += X.shape[0]
            return super().predict_proba(X)

    cascade = SerialStack([("nb", GaussianNB()), ("lr", CountingRows())],
                          exit_threshold=0.99, cv=3).fit(X, y)
    CountingRows.rows = 0
    route = cascade.predict_route(X)
    assert CountingRows.rows == np.sum(route == 1) < len(X)


def test_auto_thresholds_keep_out_of_fold_accuracy_within_tolerance():
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    steps = [("nb", GaussianNB()), ("rf", RandomForestClassifier(n_estimators=50,
                                                                  random_state=0))]
    cascade = SerialStack(steps, exit_threshold="auto", cascade_tolerance=0.01,
                          cascade_fit="all", cv=folds).fit(X, y)
    oof = [cross_val_predict(est, X, y, cv=folds, method="predict_proba") for _, est in steps]
    exits = oof[0].max(axis=1) > cascade.exit_thresholds_[0]
    fused = np.where(exits, oof[0].argmax(axis=1), oof[1].argmax(axis=1))
    assert np.mean(fused == y) >= np.mean(oof[1].argmax(axis=1) == y) - 0.01
    assert_allclose(cascade.exit_rates_, [exits.mean(), 1 - exits.mean()])
    assert exits.mean() > 0.5  # the cheap model answers most rows of this easy problem


@pytest.mark.parametrize(
    "last, level, expected_fit",
    [(DecisionTreeClassifier(max_depth=2, random_state=0), 0.5, "deferred"),
     (DecisionTreeClassifier(max_depth=2, random_state=0), 0.95, "all"),
     (LogisticRegression(C=0.5), 0.5, "all")],
)
def test_deferred_fit_follows_the_out_of_fold_rule(last, level, expected_fit):
    from scipy.stats import norm

    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    steps = [("nb", GaussianNB()), ("last", last)]
    cascade = SerialStack(steps, exit_threshold=0.999999, cv=folds,
                          cascade_confidence=level).fit(X, y)
    confidence = cross_val_predict(GaussianNB(), X, y, cv=folds, method="predict_proba")
    deferred = np.flatnonzero(confidence.max(axis=1) <= 0.999999)
    assert 20 <= deferred.size < len(y)
    # By hand: the last step cross-fitted on the deferred rows alone, against its
    # all-rows out-of-fold predictions on those rows.
    alone = np.empty(len(y), dtype=int)
    for train, test in folds:
        tr, te = np.intersect1d(train, deferred), np.intersect1d(test, deferred)
        alone[te] = clone(last).fit(X[tr], y[tr]).predict(X[te])
    together = cross_val_predict(last, X, y, cv=folds)
    # Deferred only when its paired gain is at least 0 with confidence (one-sided).
    gain = (alone[deferred] == y[deferred]).astype(float) - (together[deferred] == y[deferred])
    bound = gain.mean() - norm.ppf(level) * gain.std() / np.sqrt(gain.size)
    use_deferred = bound >= -1e-12
    assert cascade.cascade_fit_ == ["all", "deferred" if use_deferred else "all"]
    assert cascade.cascade_fit_[1] == expected_fit  # both branches are exercised
    rows = deferred if use_deferred else np.arange(len(y))
    expected = clone(last).fit(X[rows], y[rows])
    assert_allclose(cascade.named_steps_["last"].predict_proba(X), expected.predict_proba(X))


class FailsOnFewRows(DecisionTreeClassifier):
    """A tree that refuses to fit on fewer than 100 rows (a nested composite can fail
    so on a few deferred rows, re-splitting them with its own cv)."""

    def fit(self, X, y, sample_weight=None):
        if len(X) < 100:
            raise ValueError("too few rows for this step")
        return super().fit(X, y, sample_weight=sample_weight)


def test_a_step_that_cannot_train_on_its_deferred_rows_keeps_its_all_rows_fit():
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    steps = [("nb", GaussianNB()), ("last", FailsOnFewRows(max_depth=2, random_state=0)),
             ("more", DecisionTreeClassifier(max_depth=2, random_state=0))]
    cascade = SerialStack(steps, exit_threshold=0.999999, cv=folds, cascade_confidence=0.5)
    with pytest.warns(UserWarning, match="step 'last' could not be trained on its deferred "
                                         "rows alone .ValueError: too few rows") as record:
        cascade.fit(X, y)
    assert record[0].filename == __file__  # it points at the caller's fit
    assert cascade.cascade_fit_[1] == "all"
    expected = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    assert_allclose(cascade.named_steps_["last"].predict_proba(X), expected.predict_proba(X))
    # The other step's trial still ran: trained on the rows that the first step and
    # the kept all-rows fit of 'last' defer, out of fold.
    assert cascade.cascade_fit_[2] == "deferred"
    top = [cross_val_predict(est, X, y, cv=folds, method="predict_proba").max(axis=1)
           for est in (GaussianNB(), DecisionTreeClassifier(max_depth=2, random_state=0))]
    rows = np.flatnonzero((top[0] <= 0.999999) & (top[1] <= 0.999999))
    expected = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X[rows], y[rows])
    assert_allclose(cascade.named_steps_["more"].predict_proba(X), expected.predict_proba(X))


@pytest.mark.parametrize(
    "steps, params, error, match",
    [
        ([("a", Ridge()), ("b", Ridge())], {"exit_threshold": 0.9}, TypeError,
         "classifier as the last"),
        # A step of the wrong kind, or without a method the configuration needs:
        # TypeError, as for fusions.
        ([("svr", SVR()), ("lr", LogisticRegression())], {"exit_threshold": 0.9},
         TypeError, "step 'svr' has no predict_proba"),
        ([("nb", GaussianNB()), ("lr", LogisticRegression())], {"exit_threshold": [0.9, 0.9]},
         ValueError, "one for each of the 1 non-final"),
        ([("nb", GaussianNB()), ("lr", LogisticRegression())], {"exit_threshold": "best"},
         ValueError, "'auto'"),
        ([("nb", GaussianNB()), ("lr", LogisticRegression())], {"cascade_fit": "some"},
         ValueError, "cascade_fit"),
        ([("nb", GaussianNB()), ("nb", LogisticRegression())], {}, ValueError, "unique"),
        ([], {}, ValueError, "non-empty list"),
        ([("nb", GaussianNB()), ("lr", LogisticRegression())], {"stack_method": "apply"},
         ValueError, "stack_method"),
        ([("svr", SVR()), ("lr", LogisticRegression())], {"stack_method": "predict_proba"},
         TypeError, "no usable output method"),
    ],
)
def test_invalid_settings_fail_in_fit(steps, params, error, match):
    with pytest.raises(error, match=match):
        SerialStack(steps, **params).fit(X, y)


def test_pipeline_steps_and_sample_weight():
    steps = [("nb", GaussianNB()),
             ("final", make_pipeline(StandardScaler(), LogisticRegression()))]
    stack = SerialStack(steps, cv=3).fit(X, y)
    assert stack.score(X, y) > 0.9
    weighted = SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())], cv=3)
    plain = clone(weighted).fit(X, y)
    weighted.fit(X, y, sample_weight=np.ones(len(y)))
    assert_allclose(weighted.predict_proba(X), plain.predict_proba(X))


@pytest.mark.parametrize("exit_threshold", [None, "auto"])
def test_memory_reuses_step_fits(tmp_path, exit_threshold):
    CountingNB.fits = 0
    steps = [("nb", CountingNB()), ("final", LogisticRegression())]
    plain = SerialStack(steps, exit_threshold=exit_threshold, cv=3).fit(X, y)
    assert CountingNB.fits == 3 + 1
    cached = SerialStack(steps, exit_threshold=exit_threshold, cv=3, memory=tmp_path)
    cached.fit(X, y)
    cached.fit(X, y)
    assert CountingNB.fits == 2 * (3 + 1)  # the second cached fit reuses every step fit
    assert_allclose(cached.predict_proba(X), plain.predict_proba(X))


def test_refit_in_another_mode_predicts_as_a_fresh_fit():
    steps = [("nb", GaussianNB()), ("lr", LogisticRegression())]
    stack = SerialStack(steps, cv=3).fit(X, y)
    stack.set_params(exit_threshold=0.9).fit(X, y)
    fresh = SerialStack(steps, cv=3, exit_threshold=0.9).fit(X, y)
    assert_array_equal(stack.predict_route(X), fresh.predict_route(X))
    # Changing the parameter without refitting keeps predicting as fitted.
    stack.set_params(exit_threshold=None)
    assert_array_equal(stack.predict(X), fresh.predict(X))
    stack.fit(X, y)
    assert not hasattr(stack, "exit_thresholds_") and not hasattr(stack, "predict_route")
    ridge = SerialStack([("nb", GaussianNB()), ("ridge", Ridge())], cv=3).fit(X, y)
    ridge.fit(X, np.arange(len(y)) % 4)
    assert not hasattr(ridge, "classes_")


def test_fusion_level_is_aligned_when_a_fold_misses_a_class():
    keep = np.r_[np.flatnonzero(y == 0)[:2], np.flatnonzero(y != 0)]
    Xr, yr = X[keep], y[keep]
    tests = (np.arange(0, 60), np.arange(60, len(yr)))
    folds = [(np.setdiff1d(np.arange(len(yr)), test), test) for test in tests]
    assert 0 not in yr[folds[0][0]]  # the first fold's level never sees class 0

    def members():
        return [GaussianNB(), DecisionTreeClassifier(max_depth=2, random_state=0)]

    for voting in ("soft", "hard"):
        level = FusionClassifier(list(zip(["nb", "tree"], members())), voting=voting)
        # "transform": the level's vote (probabilities, or class positions when hard).
        stack = SerialStack([("level", level), ("final", LogisticRegression())], cv=folds,
                            stack_method="transform")
        stack.fit(Xr, yr)
        # By hand: each fold's members, their outputs placed by class label.
        Z = np.zeros((len(yr), 6 if voting == "soft" else 2))
        for train, test in folds:
            for m, est in enumerate(members()):
                est.fit(Xr[train], yr[train])
                if voting == "hard":
                    Z[test, m] = est.predict(Xr[test])  # labels 0, 1, 2 are positions
                else:
                    Z[np.ix_(test, 3 * m + est.classes_)] = est.predict_proba(Xr[test])
        expected = LogisticRegression().fit(Z, yr)
        assert_allclose(stack.named_steps_["final"].coef_, expected.coef_, rtol=1e-6)


def test_stack_method_naming_an_unknown_step_fails():
    with pytest.raises(ValueError, match=r"stack_method names \['NB'\]"):
        SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())],
                     stack_method={"NB": "predict"}).fit(X, y)


@pytest.mark.parametrize("method", ["predict_prob", None])
def test_a_stack_method_per_step_is_validated_as_the_string_is(method):
    # Inside the dict a typo was a TypeError saying GaussianNB had no predict_proba.
    from skfuse._compat import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=r"stack_method must map steps to one "
                                                    rf"of .*got \{{'nb': {method!r}\}}"):
        SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())],
                     stack_method={"nb": method}).fit(X, y)


def test_deferred_rows_in_a_single_fold_fall_back_to_all_rows():
    order = np.argsort(GaussianNB().fit(X, y).predict_proba(X).max(axis=1))
    Xs, ys = X[order], y[order]  # the least confident rows first: one unshuffled fold
    cascade = SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())],
                          exit_threshold=0.999, cv=KFold(3)).fit(Xs, ys)
    assert cascade.cascade_fit_[1] in ("all", "deferred")
    assert cascade.score(Xs, ys) > 0.9


def test_auto_thresholds_weigh_rows_by_sample_weight():
    from skfuse._cascade import auto_thresholds

    # Step 0 is confident on every row but wrong on the last two; step 1 is always right.
    proba = np.array([
        [[0.95, 0.05]] * 8 + [[0.95, 0.05]] * 2,
        [[0.9, 0.1]] * 8 + [[0.1, 0.9]] * 2,
    ])
    codes = np.array([0] * 8 + [1] * 2)
    # Unweighted, letting every row exit loses 20 points: no exit passes a 5-point budget.
    assert auto_thresholds(proba, codes, 0.05)[0] >= 0.95
    # With the two rows weighted 0, every row may exit.
    weights = np.r_[np.ones(8), np.zeros(2)]
    assert auto_thresholds(proba, codes, 0.05, weights)[0] < 0.95


def test_threshold_candidates_count_a_weight_as_repeated_rows():
    from skfuse._cascade import weighted_quantiles

    rng = np.random.default_rng(0)
    q = np.linspace(0, 1, 101)
    for _ in range(50):
        values, weights = rng.random(12).round(2), rng.integers(1, 5, 12)
        assert_allclose(weighted_quantiles(values, weights, q),
                        np.quantile(np.repeat(values, weights), q), rtol=0, atol=1e-12)
        # Equal weights of any scale under 1 count each value once; the ends stay the
        # extremes (weights that summed to 1 gave the smallest value for every q).
        for scale in (1.0, 0.05, 1 / 12):
            assert_allclose(weighted_quantiles(values, np.full(12, scale), q),
                            np.quantile(values, q), rtol=0, atol=1e-12)
        fractions = rng.random(12)
        ends = weighted_quantiles(values, fractions, [0.0, 1.0])
        assert_allclose(ends, [values.min(), values.max()])
    # Whole-number weights through a cascade's fit: as the rows repeated, on the same folds.
    X, y = make_classification(300, 8, n_informative=5, random_state=3)
    weights = np.random.RandomState(1).randint(1, 6, 300)
    rows = np.arange(300)
    folds = [(rows[rows % 4 != f], rows[rows % 4 == f]) for f in range(4)]
    repeated = np.repeat(rows, weights)
    repeated_folds = [(np.flatnonzero(np.isin(repeated, train)),
                       np.flatnonzero(np.isin(repeated, test))) for train, test in folds]

    def cascade(cv):
        return SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())],
                           exit_threshold="auto", cascade_confidence=0.5, cv=cv)

    weighted = cascade(folds).fit(X, y, sample_weight=weights)
    by_rows = cascade(repeated_folds).fit(X[repeated], y[repeated])
    assert_allclose(weighted.exit_thresholds_, by_rows.exit_thresholds_, rtol=1e-9)
    assert_array_equal(weighted.predict(X), by_rows.predict(X))


def test_auto_thresholds_need_the_bound_not_only_the_mean():
    from scipy.stats import norm

    from skfuse._cascade import auto_thresholds, lower_bound

    # Step 0: confident on rows 0-499 and wrong on 4 of them, unsure but right on the
    # rest; step 1 is always right. Letting rows exit loses 0.4 points on average: within
    # a 0.5-point tolerance, but not with 95% confidence.
    n = 1000
    codes = np.zeros(n, dtype=int)
    codes[:4] = 1
    first = np.where(np.arange(n)[:, None] < 500, [0.99, 0.01], [0.6, 0.4])
    last = np.where(codes[:, None] == 1, [0.1, 0.9], [0.9, 0.1])
    proba = np.stack([first, last])
    diff = -(np.arange(n) < 4).astype(float)
    by_hand = diff.mean() - norm.ppf(0.95) * diff.std() / np.sqrt(n)
    assert_allclose(lower_bound(diff, None, 0.95), by_hand)
    assert by_hand < -0.005 < diff.mean()
    assert auto_thresholds(proba, codes, 0.005, confidence=0.5)[0] == 0.0
    kept = auto_thresholds(proba, codes, 0.005, confidence=0.95)[0]
    assert kept >= 0.99  # no row exits: top > threshold never holds
    # With 1,000 times the rows, the same mean loss is within the tolerance with confidence.
    many = np.repeat(proba, 1000, axis=1), np.repeat(codes, 1000)
    assert auto_thresholds(*many, 0.005, confidence=0.95)[0] < 0.6


def test_default_bound_covers_a_new_sample_as_large_at_95_percent():
    from skfuse._cascade import lower_bound

    # Per-row differences (cascade minus last step: -1, 0 or +1). The bound at the
    # default level, from one sample, should lie below the mean of a second,
    # independent sample of the same size in 95% of draws (the docstring's claim);
    # a 95% bound on the mean alone leaves out about 12%.
    default = inspect.signature(SerialStack).parameters["cascade_confidence"].default
    rng = np.random.RandomState(0)
    n, draws = 400, 4000
    values, p = np.array([-1.0, 0.0, 1.0]), [0.08, 0.86, 0.06]
    fit, fresh = (rng.choice(values, size=(draws, n), p=p) for _ in range(2))
    missed = {level: np.mean([lower_bound(a, None, level) > b.mean()
                              for a, b in zip(fit, fresh)])
              for level in (default, 0.95)}
    assert 0.035 < missed[default] < 0.065
    assert missed[0.95] > 0.09


def test_lower_bound_weighs_rows():
    from skfuse._cascade import lower_bound

    diff = np.array([1.0, -1.0, 0.0, 0.0])
    weights = np.array([2, 1, 1, 0])
    # Weights count rows: the bound is that of the rows repeated.
    repeated = np.repeat(diff, weights)
    by_hand = repeated.mean() - 1.2815515655446004 * repeated.std() / np.sqrt(4)
    assert_allclose(lower_bound(diff, weights.astype(float), 0.9), by_hand)
    assert_allclose(lower_bound(diff, weights.astype(float), 0.5), repeated.mean())


def test_cascade_confidence_is_a_level():
    from skfuse._compat import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="cascade_confidence"):
        SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())],
                    exit_threshold="auto", cascade_confidence=1.0).fit(X, y)


# -- views ---------------------------------------------------------------------------


def test_cascade_steps_see_their_views():
    X, y = load_wine(return_X_y=True)
    cascade = SerialStack(
        [("nb", GaussianNB()), ("lr", make_pipeline(StandardScaler(), LogisticRegression()))],
        views={"nb": [0, 1, 2], "lr": slice(3, None)},
        exit_threshold=0.9, cascade_fit="all", cv=3,
    ).fit(X, y)
    nb, lr = (est for _, est in cascade.steps_)
    assert nb.n_features_in_ == 3 and lr.n_features_in_ == X.shape[1] - 3
    first, last = nb.predict_proba(X[:, :3]), lr.predict_proba(X[:, 3:])
    leave = first.max(axis=1) > 0.9
    assert_allclose(cascade.predict_proba(X), np.where(leave[:, None], first, last))
    assert_array_equal(cascade.predict_route(X), np.where(leave, 0, 1))


def test_stack_view_feeds_the_first_level_only():
    X, y = load_wine(return_X_y=True)
    steps = [("nb", GaussianNB()), ("final", LogisticRegression(max_iter=1000))]
    viewed = SerialStack(steps, views={"nb": [0, 6, 9]}, cv=3).fit(X, y)
    sliced = SerialStack(steps, cv=3).fit(X[:, [0, 6, 9]], y)
    assert_allclose(viewed.predict_proba(X), sliced.predict_proba(X[:, [0, 6, 9]]))
    with pytest.raises(ValueError, match="only the first step sees X"):
        SerialStack(steps, views={"final": [0, 1]}, cv=3).fit(X, y)
    with pytest.raises(ValueError, match="not among"):
        SerialStack(steps, views={"other": [0]}, cv=3).fit(X, y)


def test_cascade_views_by_column_name():
    pd = pytest.importorskip("pandas")
    X, y = load_wine(return_X_y=True, as_frame=True)
    names = list(X.columns)
    cascade = SerialStack(
        [("nb", GaussianNB()), ("tree", DecisionTreeClassifier(random_state=0))],
        views={"nb": names[:4], "tree": names[4:]}, exit_threshold="auto", cv=3,
    ).fit(X, y)
    assert list(cascade.steps_[0][1].feature_names_in_) == names[:4]
    assert isinstance(X, pd.DataFrame)
    assert cascade.score(X, y) > 0.8


def test_methods_a_configuration_lacks_say_why():
    # The message itself says why the method is missing (scikit-learn's available_if
    # keeps the reason in the error's cause, which one-line logs and match= miss).
    stack = SerialStack([("nb", GaussianNB()), ("final", LogisticRegression())], cv=3)
    with pytest.raises(AttributeError, match=r"^This 'SerialStack' has no attribute "
                       r"'predict_route': predict_route is not available when "
                       r"exit_threshold=None") as missing:
        stack.predict_route  # noqa: B018 - the attribute access is what is tested
    assert "is not available when" in str(missing.value.__cause__)
    regression = SerialStack([("ridge", Ridge()), ("final", SVR())], cv=3)
    with pytest.raises(AttributeError, match="predict_proba is not available when the "
                                             "final step 'final'"):
        regression.predict_proba  # noqa: B018
    with pytest.raises(AttributeError, match="predict_proba is not available when the "
                                             "final step 'final'"):
        SerialStack.predict_proba(regression, X=None)  # looked up on the class
    assert not hasattr(regression, "predict_proba")


def test_methods_follow_the_fitted_final_step_not_a_later_set_params():
    # Whether decision_function and predict_proba exist was read from the final step of
    # the parameters, while the methods call the fitted one: a step swapped by set_params
    # after fit offered a method the fitted step lacks (and hid one it has).
    X, y = load_wine(return_X_y=True)
    stack = SerialStack([("nb", GaussianNB()),
                         ("final", DecisionTreeClassifier(max_depth=3, random_state=0))],
                        cv=3).fit(X, y)
    stack.set_params(final=LogisticRegression())
    assert not hasattr(stack, "decision_function")
    with pytest.raises(AttributeError) as missing:
        stack.decision_function  # noqa: B018 - the attribute access is what is tested
    assert "the final step 'final' (DecisionTreeClassifier) has no decision_function" in str(
        missing.value.__cause__)
    stack.set_params(final=SVR())
    assert hasattr(stack, "predict_proba")
    assert stack.predict_proba(X).shape == (len(y), 3)
    # Unfitted, the parameters decide.
    assert not hasattr(clone(stack), "predict_proba")


def test_fit_transform_is_offered_as_the_parameters_say():
    # fit_transform refits, so the parameters decide, not what the last fit made: a
    # cascade set to stack lacked it, and a stack set to cascade offered it, refitted
    # itself into a cascade and only then failed.
    X, y = load_wine(return_X_y=True)
    steps = [("nb", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))]
    cascade = SerialStack(steps, exit_threshold=0.9, cv=3).fit(X, y)
    cascade.set_params(exit_threshold=None)
    assert not hasattr(cascade, "transform")  # still the fitted cascade
    assert_allclose(cascade.fit_transform(X, y), cascade.transform(X))
    stack = SerialStack(steps, cv=3).fit(X, y)
    stack.set_params(exit_threshold=0.9)
    with pytest.raises(AttributeError):
        stack.fit_transform(X, y)
    assert hasattr(stack, "transform")  # left as fitted: a stack
    assert not hasattr(stack, "exit_thresholds_")


def test_step_probabilities_agree_with_the_routed_prediction():
    from skfuse._cascade import exit_route

    X, y = load_wine(return_X_y=True)
    cascade = SerialStack([("nb", GaussianNB()),
                           ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))],
                          exit_threshold=0.95, cv=3).fit(X, y)
    steps = cascade.predict_step_proba(X)
    route = cascade.predict_route(X)
    assert steps.shape == (2, len(y), 3)
    np.testing.assert_array_equal(cascade.predict_proba(X), steps[route, np.arange(len(y))])
    top = steps.max(axis=2)
    again = exit_route(lambda i, rows: top[i, rows], cascade.exit_thresholds_, None, len(y))
    np.testing.assert_array_equal(again, route)


# -- forward-chaining folds -------------------------------------------------------------


def test_forward_chaining_stack_fits_each_level_on_the_rows_predicted_out_of_fold():
    Xd, yd = load_diabetes(return_X_y=True)
    splits = list(TimeSeriesSplit(3).split(Xd))

    def tree():
        return DecisionTreeRegressor(max_depth=3, random_state=0)

    stack = SerialStack([("ridge", Ridge()), ("tree", tree()), ("final", Ridge())],
                        cv=TimeSeriesSplit(3)).fit(Xd, yd)
    # By hand. Level 1: out of fold on the rows some fold tests (not the first ones).
    rows1 = np.concatenate([test for _, test in splits])
    z1 = np.zeros(len(yd))
    for train, test in splits:
        z1[test] = Ridge().fit(Xd[train], yd[train]).predict(Xd[test])
    # Level 2 sees only those rows: the first fold has no training row among them.
    rows2 = np.concatenate([test for _, test in splits[1:]])
    z2 = np.zeros(len(yd))
    for train, test in splits[1:]:
        train = np.intersect1d(train, rows1)
        z2[test] = tree().fit(z1[train, None], yd[train]).predict(z1[test, None])
    final = Ridge().fit(z2[rows2, None], yd[rows2])
    assert stack.n_oof_samples_ == rows2.size < rows1.size < len(yd)
    assert_allclose(stack.named_steps_["final"].coef_, final.coef_)
    # Refits: level 1 on every row, level 2 on every row level 1 predicted out of fold.
    assert_allclose(stack.named_steps_["ridge"].coef_, Ridge().fit(Xd, yd).coef_)
    grid = np.linspace(z1.min(), z1.max(), 50)[:, None]
    assert_allclose(stack.named_steps_["tree"].predict(grid),
                    tree().fit(z1[rows1, None], yd[rows1]).predict(grid))
    level1 = Ridge().fit(Xd, yd).predict(Xd)
    level2 = tree().fit(z1[rows1, None], yd[rows1]).predict(level1[:, None])
    assert_allclose(stack.predict(Xd), final.predict(level2[:, None]))


def test_forward_chaining_stack_needs_a_fold_to_train_each_level():
    Xd, yd = load_diabetes(return_X_y=True)
    one_fold = [(np.arange(200), np.arange(200, len(yd)))]  # forward, one split
    with pytest.raises(ValueError, match="step 'tree' has no fold with training rows"):
        SerialStack([("ridge", Ridge()), ("tree", DecisionTreeRegressor()),
                     ("final", Ridge())], cv=one_fold).fit(Xd, yd)
    two = SerialStack([("ridge", Ridge()), ("final", Ridge())], cv=one_fold).fit(Xd, yd)
    assert two.n_oof_samples_ == len(yd) - 200


def test_forward_chaining_auto_thresholds_use_the_rows_predicted_out_of_fold():
    from skfuse._cascade import auto_thresholds, route_of_proba

    order = np.random.RandomState(0).permutation(len(y))
    Xs, ys = X[order], y[order]
    splits = list(TimeSeriesSplit(3).split(Xs))
    tested = np.concatenate([test for _, test in splits])
    steps = [("nb", GaussianNB()), ("lr", LogisticRegression(C=0.05))]
    cascade = SerialStack(steps, exit_threshold="auto", cascade_fit="all",
                          cv=TimeSeriesSplit(3)).fit(Xs, ys)
    proba = np.stack([np.concatenate([clone(est).fit(Xs[train], ys[train])
                                      .predict_proba(Xs[test]) for train, test in splits])
                      for _, est in steps])
    thresholds = auto_thresholds(proba, ys[tested], 0.005,
                                 confidence=cascade.cascade_confidence)
    assert cascade.n_oof_samples_ == tested.size < len(ys)
    assert_allclose(cascade.exit_thresholds_, thresholds)
    route = route_of_proba(proba, thresholds)
    assert_allclose(cascade.exit_rates_, np.bincount(route, minlength=2) / tested.size)
    # Every step's final fit uses every row.
    assert_allclose(cascade.named_steps_["lr"].coef_,
                    clone(steps[1][1]).fit(Xs, ys).coef_)


def test_deferred_steps_route_by_their_own_out_of_fold_outputs():
    # exit_rates_ and the rows the next step trains on followed the all-rows fit of a
    # step that had switched to its deferred fit, which predict does not use.
    X_, y_ = make_classification(2500, 8, n_informative=5, random_state=2, flip_y=0.1)
    X_, y_ = X_[:500], y_[:500]
    folds = list(StratifiedKFold(3).split(X_, y_))
    steps = [("nb", GaussianNB()), ("lr", LogisticRegression()),
             ("tree", DecisionTreeClassifier(max_depth=4, random_state=0))]
    cascade = SerialStack(steps, exit_threshold=[0.8, 0.7], cv=folds,
                          cascade_confidence=0.5).fit(X_, y_)
    assert cascade.cascade_fit_ == ["all", "deferred", "all"]
    # By hand: nb out of fold; lr cross-fitted on the rows nb defers.
    top_nb = cross_val_predict(GaussianNB(), X_, y_, cv=folds,
                               method="predict_proba").max(axis=1)
    deferred = np.flatnonzero(top_nb <= 0.8)
    top_lr = np.zeros(len(y_))
    for train, test in folds:
        train, test = np.intersect1d(train, deferred), np.intersect1d(test, deferred)
        top_lr[test] = LogisticRegression().fit(X_[train], y_[train]).predict_proba(
            X_[test]).max(axis=1)
    route = np.where(top_nb > 0.8, 0, np.where(top_lr > 0.7, 1, 2))
    assert_allclose(cascade.exit_rates_, np.bincount(route, minlength=3) / len(y_))


@pytest.mark.parametrize("passthrough, sparse", [(False, True), (True, False)])
def test_a_stack_takes_sparse_x_when_the_steps_that_see_x_do(passthrough, sparse):
    # The tags asked every step, though later levels see only the outputs before them.
    from scipy import sparse as sp

    X, y = make_classification(200, 5, random_state=0)
    stack = SerialStack([("lr", LogisticRegression()),
                         ("hgb", HistGradientBoostingClassifier(max_iter=10))], cv=3,
                        passthrough=passthrough)
    assert get_tags(stack).input_tags.sparse is sparse
    X_sparse = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0))
    if sparse:
        assert stack.fit(X_sparse, y).predict(X_sparse).shape == (200,)
    else:
        with pytest.raises(TypeError, match="(?i)sparse"):
            stack.fit(X_sparse, y)


def test_a_step_no_row_exits_before_keeps_its_fit_on_every_row_under_forward_folds():
    # Rows no forward-chaining fold tests have no route, so "every row reached it" never
    # held: the last step was retrained on the tested rows alone, a fifth fewer.
    rng = np.random.default_rng(0)
    X_ = rng.normal(size=(400, 2))
    y_ = (X_[:, 0] > 0).astype(int)
    steps = [("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(max_depth=1))]
    cascade = SerialStack(steps, cv=TimeSeriesSplit(4), exit_threshold=1.0).fit(X_, y_)
    assert cascade.cascade_fit_ == ["all", "all"]
    assert cascade.named_steps_["tree"].tree_.n_node_samples[0] == 400
    alone = DecisionTreeClassifier(max_depth=1).fit(X_, y_)
    assert_array_equal(cascade.predict_proba(X_), alone.predict_proba(X_))


def test_a_threshold_given_as_a_0d_array_is_one_number():
    cascade = SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())],
                          exit_threshold=np.array(0.5)).fit(X, y)
    assert_array_equal(cascade.exit_thresholds_, [0.5])


class _OverOne(LogisticRegression):
    """Confident rows as one-hot probabilities a rounding above 1 (1 + 1e-12), as a
    model's rounding may give."""

    def predict_proba(self, X):
        proba = super().predict_proba(X)
        return np.where(proba > 0.9, 1 + 1e-12, np.where(proba < 0.1, 0.0, proba))


def test_threshold_one_lets_no_row_exit_despite_rounding():
    X, y = make_classification(n_samples=300, random_state=0)
    steps = [("first", _OverOne(C=100.0)), ("last", GaussianNB())]
    assert (_OverOne(C=100.0).fit(X, y).predict_proba(X).max(axis=1) > 1.0).any()
    cascade = SerialStack(steps, exit_threshold=1.0, cascade_fit="all", cv=3).fit(X, y)
    assert_array_equal(cascade.exit_rates_, [0.0, 1.0])
    assert_array_equal(cascade.predict_route(X), 1)
    auto = SerialStack(steps, exit_threshold="auto", cascade_fit="all", cv=3).fit(X, y)
    assert auto.exit_thresholds_.max() <= 1.0


def _mapped_folds(folds, kept_or_repeats):
    """``folds`` of the full rows moved onto the rows kept (a bool mask) or onto the rows
    repeated (an int count per row), row for row."""
    if kept_or_repeats.dtype == bool:
        new = np.cumsum(kept_or_repeats) - 1
        return [(new[tr[kept_or_repeats[tr]]], new[te[kept_or_repeats[te]]])
                for tr, te in folds]
    starts = np.r_[0, np.cumsum(kept_or_repeats)[:-1]]
    copies = [np.arange(s, s + k) for s, k in zip(starts, kept_or_repeats)]
    return [(np.concatenate([copies[r] for r in tr]), np.concatenate([copies[r] for r in te]))
            for tr, te in folds]


def _deferring_cascade(data_seed, first=LogisticRegression):
    """Data, fixed folds and a cascade whose later step may be trained on its deferred
    rows."""
    X_w, y_w = make_classification(150, 6, n_informative=4, flip_y=0.1,
                                   random_state=data_seed)
    order = np.random.RandomState(0).permutation(len(y_w))
    parts = np.array_split(order, 3)
    folds = [(np.sort(np.r_[parts[(i + 1) % 3], parts[(i + 2) % 3]]), np.sort(parts[i]))
             for i in range(3)]

    def cascade(cv, threshold):
        return SerialStack([("first", first()),
                            ("tree", DecisionTreeClassifier(max_depth=2, random_state=0))],
                           cv=cv, exit_threshold=threshold, cascade_confidence=0.5)

    return X_w, y_w, folds, cascade


def _assert_same_cascade(one, other, X_w):
    assert one.cascade_fit_ == other.cascade_fit_
    assert_allclose(one.exit_rates_, other.exit_rates_)
    assert_allclose(one.predict_proba(X_w), other.predict_proba(X_w), atol=1e-12)


# Weights count rows for which steps are retrained on their deferred rows and for the
# exit rates, as for the thresholds: weight 0 is the row dropped, 3 the row three times.
@pytest.mark.parametrize("data_seed", [2, 4])
def test_deferred_training_and_exit_rates_leave_rows_of_weight_zero_out(data_seed):
    X_w, y_w, folds, cascade = _deferring_cascade(data_seed)
    weight = (np.random.RandomState(data_seed).rand(len(y_w)) > 0.3).astype(float)
    kept = weight > 0
    weighted = cascade(folds, 0.6).fit(X_w, y_w, sample_weight=weight)
    dropped = cascade(_mapped_folds(folds, kept), 0.6).fit(X_w[kept], y_w[kept])
    _assert_same_cascade(weighted, dropped, X_w)


def test_deferred_training_counts_a_weight_as_repeated_rows():
    X_w, y_w, folds, cascade = _deferring_cascade(0)
    threes = np.full(len(y_w), 3)
    weighted = cascade(folds, 0.54).fit(X_w, y_w, sample_weight=threes.astype(float))
    repeated = cascade(_mapped_folds(folds, threes), 0.54).fit(
        np.repeat(X_w, 3, axis=0), np.repeat(y_w, 3))
    assert repeated.cascade_fit_ == ["all", "deferred"]
    _assert_same_cascade(weighted, repeated, X_w)


def test_equal_weights_summing_below_the_rows_count_each_row_once():
    # Weights normalised to sum to 1 summed below the rule's 20 rows, so no step was
    # ever trained on its deferred rows; as for the thresholds' candidates, weights
    # summing to fewer than the rows are scaled up to them. (Naive Bayes and a tree
    # fit alike at any scale of equal weights; a penalised model would not.)
    X_w, y_w, folds, cascade = _deferring_cascade(0, GaussianNB)
    unweighted = cascade(folds, 0.8).fit(X_w, y_w)
    assert unweighted.cascade_fit_ == ["all", "deferred"]
    for weight in (0.1, 1 / len(y_w)):
        weighted = cascade(folds, 0.8).fit(X_w, y_w, sample_weight=np.full(len(y_w), weight))
        _assert_same_cascade(weighted, unweighted, X_w)


def test_exit_rates_count_rows_when_no_routed_row_has_weight():
    # Only the rows no fold tests (the first of forward-chaining folds) have weight: the
    # weighted exit rates were 0 / 0.
    X_w, y_w = make_classification(120, 5, random_state=0)
    weight = np.r_[np.ones(30), np.zeros(90)]
    cascade = SerialStack([("nb", GaussianNB()),
                           ("tree", DecisionTreeClassifier(max_depth=2, random_state=0))],
                          cv=TimeSeriesSplit(3), exit_threshold=0.8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        rates = cascade.fit(X_w, y_w, sample_weight=weight).exit_rates_
    assert np.isfinite(rates).all() and rates.sum() == pytest.approx(1.0)


def _tuned_last_step():
    """Imbalanced rows and a last step whose decision threshold is tuned (0.2 for the
    rare class), so its predict differs from its probabilities' top class."""
    from sklearn.model_selection import FixedThresholdClassifier

    Xi, yi = make_classification(600, 6, weights=[0.85, 0.15], flip_y=0.05, random_state=0)
    tuned = FixedThresholdClassifier(RandomForestClassifier(50, random_state=0),
                                     threshold=0.2)
    return Xi, yi, tuned


def test_the_last_step_answers_with_its_own_predict():
    # The cascade answered every row by its step's top class: a last step's tuned
    # decision threshold (FixedThresholdClassifier, TunedThresholdClassifierCV) was
    # dropped, and a threshold of 1.0 did not predict what the last step predicts.
    Xi, yi, tuned = _tuned_last_step()
    cascade = SerialStack([("lr", LogisticRegression()), ("rf", tuned)],
                          exit_threshold=1.0).fit(Xi, yi)
    last = cascade.named_steps_["rf"]
    assert not np.array_equal(last.predict(Xi), last.predict_proba(Xi).argmax(axis=1))
    assert_array_equal(cascade.predict(Xi), last.predict(Xi))
    # A row that leaves the first step by its confidence takes the class it ranks first.
    early = cascade.set_params(exit_threshold=0.8).fit(Xi, yi)
    route = early.predict_route(Xi)
    assert (route == 0).any() and (route == 1).any()
    first, last = early.named_steps_["lr"], early.named_steps_["rf"]
    expected = np.where(route == 0, first.predict_proba(Xi).argmax(axis=1), last.predict(Xi))
    assert_array_equal(early.predict(Xi), expected)


def test_auto_thresholds_measure_the_last_step_by_what_it_predicts():
    from skfuse._cascade import auto_thresholds, route_of_proba

    # The first step is right on 90% of the rows; the last step's probabilities rank
    # the wrong class first on every row, but what it predicts is right.
    rng = np.random.RandomState(0)
    codes = rng.randint(0, 2, 400)
    first = np.where(rng.uniform(size=400) < 0.9, codes, 1 - codes)
    proba = np.stack([np.eye(2)[first] * 0.9 + 0.05, np.eye(2)[1 - codes] * 0.4 + 0.3])
    labels = np.stack([first, codes])
    by_rank = auto_thresholds(proba, codes, 0.005)  # the last step "worse" than the first
    assert (route_of_proba(proba, by_rank) == 0).all()
    by_predict = auto_thresholds(proba, codes, 0.005, labels=labels)
    assert (route_of_proba(proba, by_predict) == 1).all()  # no row may leave early


class _RanksBackwards(RandomForestClassifier):
    """A forest whose probabilities rank the classes backwards (two classes), while
    its predict stays the forest's."""

    def predict_proba(self, X):
        return super().predict_proba(X)[:, ::-1]

    def predict(self, X):  # (the forest's predict reads predict_proba)
        return self.classes_[super().predict_proba(X).argmax(axis=1)]


def test_a_fit_with_auto_thresholds_reads_the_last_step_by_what_it_predicts():
    Xi, yi = make_classification(400, 6, flip_y=0.1, random_state=0)
    cascade = SerialStack([("nb", GaussianNB()),
                           ("rf", _RanksBackwards(50, random_state=0))],
                          exit_threshold="auto", cascade_fit="all").fit(Xi, yi)
    # Read by its probabilities' ranking, the forest would be wrong on most rows, and
    # every row would leave the first step.
    assert cascade.exit_rates_[1] > 0
    assert_array_equal(cascade.predict(Xi)[cascade.predict_route(Xi) == 1],
                       cascade.named_steps_["rf"].predict(Xi)[cascade.predict_route(Xi) == 1])


def _views_with_a_tuned_middle_step(missing="error"):
    """Three steps on three views; the last one's columns are missing on a quarter of
    the rows, whose last step with their view is the tuned middle one."""
    from sklearn.model_selection import FixedThresholdClassifier

    Xi, yi = make_classification(600, 9, n_informative=6, weights=[0.8, 0.2], flip_y=0.05,
                                 random_state=0)
    rng = np.random.RandomState(0)
    Xi[rng.uniform(size=600) < 0.25, 6:] = np.nan
    views = {"a": [0, 1, 2], "b": [3, 4, 5], "c": [6, 7, 8]}
    steps = [("a", LogisticRegression()),
             ("b", FixedThresholdClassifier(RandomForestClassifier(30, random_state=0),
                                            threshold=0.25)),
             ("c", HistGradientBoostingClassifier(max_iter=20, random_state=0))]
    return Xi, yi, SerialStack(steps, views=views, missing=missing, random_state=0), views


@pytest.mark.parametrize("exit_threshold", [0.8, 1.0, "auto"])
def test_a_row_missing_the_last_view_takes_its_last_steps_predict(exit_threshold):
    Xi, yi, cascade, views = _views_with_a_tuned_middle_step()
    cascade.set_params(exit_threshold=exit_threshold).fit(Xi, yi)
    route = cascade.predict_route(Xi)
    top = cascade.predict_step_proba(Xi).argmax(axis=2)
    missing_c = np.isnan(Xi[:, 6])
    last = np.where(missing_c, 1, 2)
    expected = top[route, np.arange(len(yi))]
    for i, name in enumerate(views):
        forced = (route == i) & (last == i)
        if forced.any():
            step = cascade.named_steps_[name]
            expected[forced] = step.predict(Xi[forced][:, views[name]])
    assert_array_equal(cascade.predict(Xi), expected)
    tuned = cascade.named_steps_["b"]
    at_b = (route == 1) & missing_c
    assert at_b.any()
    assert not np.array_equal(tuned.predict(Xi[at_b][:, views["b"]]),
                              top[1, at_b])  # the tuned threshold answers otherwise
    from skfuse.plotting import CascadeDisplay

    display = CascadeDisplay.from_estimator(cascade, Xi, yi, thresholds=[0.5])
    at = np.flatnonzero(display.thresholds == cascade.exit_thresholds_[0])[0]
    assert display.accuracies[at] == pytest.approx(cascade.score(Xi, yi), abs=1e-12)


class _ProbaOfPredict(ClassifierMixin, BaseEstimator):
    """``estimator`` whose probabilities are 1 for the class it predicts."""

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y):
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X):
        return self.estimator_.predict(X)

    def predict_proba(self, X):
        return (self.predict(X)[:, None] == self.classes_).astype(float)


@pytest.mark.parametrize("cascade_fit", ["deferred", "all"])
def test_a_tuned_last_step_is_read_as_one_whose_probabilities_say_its_predict(cascade_fit):
    # What the cascade reads of its last step, out of fold and at predict, is what it
    # predicts: the same fit as with probabilities of 1 for that class.
    from sklearn.model_selection import FixedThresholdClassifier

    Xi, yi = make_classification(600, 6, weights=[0.8, 0.2], flip_y=0.05, random_state=1)
    tuned = FixedThresholdClassifier(RandomForestClassifier(30, random_state=0),
                                     threshold=0.25)
    fits = [SerialStack([("nb", GaussianNB()), ("last", last)], exit_threshold="auto",
                        cascade_fit=cascade_fit, random_state=0).fit(Xi, yi)
            for last in (tuned, _ProbaOfPredict(tuned))]
    assert_array_equal(fits[0].exit_thresholds_, fits[1].exit_thresholds_)
    assert getattr(fits[0], "cascade_fit_", None) == getattr(fits[1], "cascade_fit_", None)
    assert_array_equal(fits[0].exit_rates_, fits[1].exit_rates_)
    assert_array_equal(fits[0].predict(Xi), fits[1].predict(Xi))


def test_auto_thresholds_read_a_rows_last_present_step_by_what_it_predicts():
    from skfuse._cascade import auto_thresholds, route_of_proba

    # Three steps; the third lacks the view of the first 200 rows, whose last present
    # step is the second: its probabilities rank the wrong class first there, but what
    # it predicts is right. The first step is right on 90% of the rows.
    rng = np.random.RandomState(0)
    codes = rng.randint(0, 2, 400)
    first = np.where(rng.uniform(size=400) < 0.9, codes, 1 - codes)
    proba = np.stack([np.eye(2)[first] * 0.9 + 0.05, np.eye(2)[1 - codes] * 0.4 + 0.3,
                      np.eye(2)[codes] * 0.8 + 0.1])
    labels = np.stack([first, codes, codes])
    present = np.ones((3, 400), dtype=bool)
    present[2, :200] = False
    by_predict = auto_thresholds(proba, codes, 0.005, present=present, labels=labels)
    assert (route_of_proba(proba, by_predict, present)[:200] == 1).all()  # none leaves early
    by_rank = auto_thresholds(proba, codes, 0.005, present=present)
    assert (route_of_proba(proba, by_rank, present)[:200] == 0).all()


def test_deferred_training_reads_a_step_by_what_it_predicts_where_rows_end_there():
    from skfuse._cascade import _answers

    # A step's out-of-fold outputs: probabilities, then the class it predicts.
    outputs = np.array([[0.7, 0.3, 1.0], [0.6, 0.4, 0.0], [0.2, 0.8, 0.0]])
    forced = np.array([True, False, True])  # the rows whose last present step it is
    assert_array_equal(_answers(outputs, forced), [1, 0, 0])
