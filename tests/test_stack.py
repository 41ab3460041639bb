"""Stacking (``SerialStack`` with ``exit_threshold=None``) against scikit-learn's own
``StackingClassifier`` and ``StackingRegressor`` on the same folds."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from composites import ColumnPredictLR, ColumnScoreLR
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_iris,
    load_wine,
    make_regression,
)
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    StackingClassifier,
    StackingRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import BayesianRidge, LogisticRegression, Ridge
from sklearn.model_selection import (
    KFold,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_val_predict,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils.metadata_routing import get_routing_for_object

from skfuse import FusionClassifier, FusionRegressor, SerialStack

CANCER_X, CANCER_Y = load_breast_cancer(return_X_y=True)
CANCER_X = StandardScaler().fit_transform(CANCER_X)
FOLDS = StratifiedKFold(3, shuffle=True, random_state=0)


def members():
    return [("lr", LogisticRegression()), ("nb", GaussianNB())]


def labels(kind):
    return CANCER_Y if kind == "int" else np.array(["malignant", "benign"])[CANCER_Y]


def weights(kind):
    if kind is None:
        return None
    return np.random.RandomState(0).uniform(0.2, 3.0, size=len(CANCER_Y))


@pytest.mark.parametrize("label_kind", ["int", "str"])
@pytest.mark.parametrize("passthrough", [False, True])
@pytest.mark.parametrize("sample_weight", [None, "skewed"])
def test_binary_fusion_level_agrees_with_stacking_classifier(label_kind, passthrough,
                                                               sample_weight):
    y, sw = labels(label_kind), weights(sample_weight)
    ours = SerialStack([("fusion", FusionClassifier(members())),
                        ("final", LogisticRegression())], cv=FOLDS, passthrough=passthrough)
    ours.fit(CANCER_X, y, sample_weight=sw)
    ref = StackingClassifier(members(), final_estimator=LogisticRegression(), cv=FOLDS,
                             stack_method="predict_proba", passthrough=passthrough)
    ref.fit(CANCER_X, y, sample_weight=sw)
    # scikit-learn drops the first probability column of each member (two classes).
    assert ours.named_steps_["final"].n_features_in_ == ref.final_estimator_.n_features_in_
    assert_allclose(ours.named_steps_["final"].coef_, ref.final_estimator_.coef_,
                    rtol=1e-7, atol=1e-10)
    assert_allclose(ours.predict_proba(CANCER_X), ref.predict_proba(CANCER_X), rtol=0,
                    atol=1e-10)
    assert_array_equal(ours.predict(CANCER_X), ref.predict(CANCER_X))
    assert_array_equal(ours.classes_, ref.classes_)


@pytest.mark.parametrize("label_kind", ["int", "str"])
def test_binary_classifier_step_agrees_with_stacking_classifier(label_kind):
    y = labels(label_kind)
    ours = SerialStack([("nb", GaussianNB()), ("final", LogisticRegression())],
                       cv=FOLDS, stack_method="predict_proba").fit(CANCER_X, y)
    ref = StackingClassifier([("nb", GaussianNB())], final_estimator=LogisticRegression(),
                             cv=FOLDS, stack_method="predict_proba").fit(CANCER_X, y)
    assert ours.named_steps_["final"].n_features_in_ == 1
    assert_allclose(ours.predict_proba(CANCER_X), ref.predict_proba(CANCER_X), rtol=0,
                    atol=1e-10)
    assert_array_equal(ours.predict(CANCER_X), ref.predict(CANCER_X))


# -- StackingClassifier's API ----------------------------------------------------------


def wine():
    X, y = load_wine(return_X_y=True, as_frame=True)
    X = (X - X.mean()) / X.std()
    return X, np.array(["barolo", "grignolino", "barbera"])[y]


def same_names(ours, ref):
    """scikit-learn's names with its class name in front replaced by ours."""
    prefix = type(ref).__name__.lower() + "_"
    expected = [name.replace(prefix, "serialstack_", 1) for name in ref.get_feature_names_out()]
    assert_array_equal(ours.get_feature_names_out(), np.asarray(expected, dtype=object))


@pytest.mark.parametrize("data", ["binary", "wine"])
@pytest.mark.parametrize("passthrough", [False, True])
def test_transform_and_feature_names_agree_with_stacking_classifier(data, passthrough):
    X, y = (CANCER_X, CANCER_Y) if data == "binary" else wine()
    ours = SerialStack([("fusion", FusionClassifier(members())),
                        ("final", LogisticRegression())], cv=FOLDS,
                       passthrough=passthrough).fit(X, y)
    ref = StackingClassifier(members(), final_estimator=LogisticRegression(), cv=FOLDS,
                             stack_method="predict_proba", passthrough=passthrough).fit(X, y)
    assert_allclose(ours.transform(X), ref.transform(X), rtol=0, atol=1e-12)
    assert_allclose(ours.fit_transform(X, y), ref.fit_transform(X, y), rtol=0, atol=1e-12)
    same_names(ours, ref)
    assert_allclose(ours.decision_function(X), ref.decision_function(X), rtol=0, atol=1e-9)


def test_set_output_gives_frames_as_stacking_classifier_does():
    # In a pipeline set to pandas, the stack hands on a frame named by
    # get_feature_names_out; a cascade, which does not transform, has no set_output.

    X, y = wine()
    ours = make_pipeline(SerialStack([("fusion", FusionClassifier(members())),
                                      ("final", LogisticRegression())], cv=FOLDS),
                         StandardScaler()).set_output(transform="pandas").fit(X, y)
    ref = make_pipeline(StackingClassifier(members(), final_estimator=LogisticRegression(),
                                           cv=FOLDS, stack_method="predict_proba"),
                        StandardScaler()).set_output(transform="pandas").fit(X, y)
    frame = ours.transform(X)
    assert list(frame.columns) == list(ours[0].get_feature_names_out())
    assert_allclose(frame.to_numpy(), ref.transform(X).to_numpy(), rtol=0, atol=1e-9)
    assert type(ours[0].fit_transform(X, y)).__name__ == "DataFrame"
    import warnings

    # StackingClassifier hands its final step its own frame (and warns); we do not.
    expected, labels = ref[0].decision_function(X), ref[0].predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the final step gets what it was fitted on
        assert_allclose(ours[0].decision_function(X), expected, rtol=0, atol=1e-9)
        assert_array_equal(ours[0].predict(X), labels)
    cascade = SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())],
                          exit_threshold=0.9)
    assert not any(hasattr(cascade, m) for m in ("set_output", "transform", "fit_transform"))


@pytest.mark.parametrize("container", ["pandas", "polars"])
@pytest.mark.parametrize("view", [None, ["petal width (cm)", "sepal length (cm)"]])
def test_a_stack_of_one_step_transforms_to_a_frame(container, view):
    # Its final step sees X's view as given (a frame), which set_output's frames
    # failed on ("'DataFrame' object has no attribute 'dtype'"), also in a Pipeline
    # set to pandas after a step that hands on a frame.
    if container == "polars":
        pytest.importorskip("polars")
    X, y = load_iris(return_X_y=True, as_frame=True)
    stack = SerialStack([("lr", LogisticRegression(max_iter=1000))],
                        views=None if view is None else {"lr": view})
    stack.set_output(transform=container)
    expected = X if view is None else X[view]
    for Z in (stack.fit(X, y).transform(X), clone(stack).fit_transform(X, y)):
        assert type(Z).__module__.split(".")[0] == container
        assert list(Z.columns) == list(expected.columns)
        assert_array_equal(np.asarray(Z), expected.to_numpy())
    # Without set_output, an array, as a stack of more steps gives.
    plain = SerialStack([("lr", LogisticRegression(max_iter=1000))],
                        views=None if view is None else {"lr": view}).fit(X, y)
    assert type(plain.transform(X)) is np.ndarray
    assert_array_equal(plain.transform(X), expected.to_numpy())
    if view is None:  # set globally, after a step that hands on a frame
        with config_context(transform_output="pandas"):
            pipe = make_pipeline(StandardScaler(),
                                 SerialStack([("lr", LogisticRegression(max_iter=1000))]))
            Z = pipe.fit_transform(X.to_numpy(), y)
        assert list(Z.columns) == ["x0", "x1", "x2", "x3"]
        assert_allclose(Z.to_numpy(), StandardScaler().fit_transform(X.to_numpy()))


def test_a_stack_of_one_step_leaves_the_frame_it_transforms_as_it_is():
    # Without a view, its final step's input is X itself: set_output's wrapper, which
    # renames the frame it is given in place, renamed the caller's integer-labelled
    # columns to "x0", "x1"..., and the output was X (a write into it wrote into X).
    pd = pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True)
    X = pd.DataFrame(X, index=np.arange(100, 250))
    given = X.copy()
    stack = SerialStack([("lr", LogisticRegression(max_iter=1000))])
    stack.set_output(transform="pandas")
    for Z in (stack.fit(X, y).transform(X), clone(stack).fit_transform(X, y)):
        assert Z is not X
        assert list(Z.columns) == ["x0", "x1", "x2", "x3"]
        assert Z.index.equals(given.index)
        Z.iloc[0, 0] = 99.0
        pd.testing.assert_frame_equal(X, given)


def test_passthrough_hands_on_string_and_nullable_columns_as_they_are():
    # Strings reach the final step as StackingClassifier's do (objects, one-hot encoded
    # there); nullable numbers as floats with pd.NA as NaN, for a step that takes NaN.
    pd = pytest.importorskip("pandas")
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.RandomState(0)
    X = pd.DataFrame({"num": rng.randn(200), "cat": rng.choice(["a", "b", "c"], 200)})
    y = np.where(X["num"] + (X["cat"] == "a") > 0.3, "yes", "no")

    def steps():
        first = make_pipeline(make_column_transformer((OneHotEncoder(), ["cat"]),
                                                      remainder=StandardScaler()),
                              LogisticRegression())
        final = make_pipeline(make_column_transformer((OneHotEncoder(), [2]),
                                                      remainder="passthrough"),
                              LogisticRegression())
        return first, final

    first, final = steps()
    ours = SerialStack([("first", first), ("final", final)], cv=FOLDS,
                       passthrough=True).fit(X, y)
    first, final = steps()
    ref = StackingClassifier([("first", first)], final_estimator=final, cv=FOLDS,
                             stack_method="predict_proba", passthrough=True).fit(X, y)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-12)
    assert ours.transform(X)[:, 2].tolist() == X["cat"].tolist()

    X_na = pd.DataFrame({"f": pd.array(rng.randn(200), dtype="Float64"),
                         "g": rng.randn(200)})
    X_na.loc[:9, "f"] = pd.NA
    hgb = HistGradientBoostingClassifier(max_iter=10, random_state=0)
    stack = SerialStack([("first", hgb), ("final", clone(hgb))], cv=FOLDS,
                        passthrough=["f"]).fit(X_na, X_na["g"] > 0)
    assert np.isnan(stack.transform(X_na)[:10, -1]).all()
    # Beside a string column, pd.NA is NaN too (as an object).
    X_na["cat"] = X["cat"]
    encode = make_column_transformer(("passthrough", ["g"]))
    final = make_pipeline(make_column_transformer((OneHotEncoder(), [2]),
                                                  remainder="passthrough"),
                          HistGradientBoostingClassifier(max_iter=10, random_state=0))
    stack = SerialStack([("first", make_pipeline(encode, clone(hgb))), ("final", final)],
                        cv=FOLDS, passthrough=["f", "cat"]).fit(X_na, X_na["g"] > 0)
    passed = stack.transform(X_na)
    assert passed.dtype == object and all(np.isnan(v) for v in passed[:10, 1])


def test_one_column_outputs_are_named_without_an_index():
    ours = SerialStack([("nb", GaussianNB()), ("final", LogisticRegression())], cv=FOLDS,
                       passthrough=True).fit(CANCER_X, CANCER_Y)
    ref = StackingClassifier([("nb", GaussianNB())], final_estimator=LogisticRegression(),
                             cv=FOLDS, passthrough=True).fit(CANCER_X, CANCER_Y)
    same_names(ours, ref)
    assert ours.get_feature_names_out()[:2].tolist() == ["serialstack_nb", "x0"]
    # Names given for the passed-through columns are checked as scikit-learn checks them.
    named = [f"c{j}" for j in range(CANCER_X.shape[1])]
    assert ours.get_feature_names_out(named)[:2].tolist() == ["serialstack_nb", "c0"]
    with pytest.raises(ValueError, match="input_features should have length equal"):
        ours.get_feature_names_out(named[:3])
    with pytest.raises(ValueError, match="input_features should have length equal"):
        ref.get_feature_names_out(named[:3])


@pytest.mark.parametrize("data", ["binary", "wine"])
def test_auto_takes_each_members_method_as_stacking_classifier(data):
    # LinearSVC has no predict_proba: "auto" takes its decision_function and the other
    # members' probabilities. The level's hard voting is what its own fit needs.
    X, y = (CANCER_X, CANCER_Y) if data == "binary" else wine()

    def mixed():
        return [("lr", LogisticRegression()), ("svc", LinearSVC()), ("nb", GaussianNB())]

    ours = SerialStack([("fusion", FusionClassifier(mixed(), voting="hard")),
                        ("final", LogisticRegression())], cv=FOLDS).fit(X, y)
    ref = StackingClassifier(mixed(), final_estimator=LogisticRegression(), cv=FOLDS,
                             stack_method="auto").fit(X, y)
    assert ref.stack_method_ == ["predict_proba", "decision_function", "predict_proba"]
    assert_allclose(ours.transform(X), ref.transform(X), rtol=0, atol=1e-12)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-10)
    assert_array_equal(ours.predict(X), ref.predict(X))
    same_names(ours, ref)


def test_transform_and_feature_names_agree_with_stacking_regressor():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    regressors = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3,
                                                                     random_state=0))]
    ours = SerialStack([("fusion", FusionRegressor(regressors)), ("final", Ridge())],
                       cv=KFold(5), passthrough=True).fit(X, y)
    ref = StackingRegressor(regressors, final_estimator=Ridge(), cv=KFold(5),
                            passthrough=True).fit(X, y)
    assert_allclose(ours.transform(X), ref.transform(X), rtol=0, atol=1e-9)
    same_names(ours, ref)


@pytest.mark.parametrize("routing", [False, True])
def test_predict_parameters_reach_the_final_step(routing):
    X, y = load_diabetes(return_X_y=True)
    regressors = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3,
                                                                     random_state=0))]
    with config_context(enable_metadata_routing=routing):
        final = BayesianRidge()
        if routing:
            final.set_predict_request(return_std=True)
        ours = SerialStack([("fusion", FusionRegressor(regressors)), ("final", final)],
                           cv=KFold(5)).fit(X, y)
        ref = StackingRegressor(regressors, final_estimator=clone(final),
                                cv=KFold(5)).fit(X, y)
        mean, std = ours.predict(X, return_std=True)
        ref_mean, ref_std = ref.predict(X, return_std=True)
    assert_allclose(mean, ref_mean, rtol=0, atol=1e-9)
    assert_allclose(std, ref_std, rtol=1e-9)
    assert_allclose(std, ours.named_steps_["final"].predict(ours.transform(X),
                                                            return_std=True)[1])


def test_a_cascade_does_not_advertise_routing_its_predict_refuses():
    # The router said the cascade's predict consumed what its last step requested, so
    # a Pipeline passed it on, and the cascade refused it.
    class Flagged(GaussianNB):
        def predict(self, X, flag=None):
            return super().predict(X)

    with config_context(enable_metadata_routing=True):
        final = Flagged().set_predict_request(flag=True)
        cascade = SerialStack([("nb", GaussianNB()), ("final", final)],
                              exit_threshold=0.9, cv=3)
        stack = SerialStack([("nb", GaussianNB()), ("final", clone(final))], cv=3)
        for composite in (cascade, cascade.fit(CANCER_X, CANCER_Y)):
            assert get_routing_for_object(composite).consumes("predict", {"flag"}) == set()
        assert get_routing_for_object(stack).consumes("predict", {"flag"}) == {"flag"}
        with pytest.raises(TypeError, match="not routed to any object"):
            make_pipeline(StandardScaler(), cascade).fit(CANCER_X, CANCER_Y).predict(
                CANCER_X, flag=1)


def test_a_cascade_has_no_stack_methods_and_says_why():
    cascade = SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())],
                          exit_threshold=0.9, cv=3).fit(CANCER_X, CANCER_Y)
    for method in ("transform", "fit_transform", "get_feature_names_out",
                   "decision_function"):
        with pytest.raises(AttributeError) as missing:
            getattr(cascade, method)
        assert f"{method} is not available when exit_threshold is set" in str(
            missing.value.__cause__)
    with pytest.raises(TypeError, match="a cascade's predict takes no parameters"):
        cascade.predict(CANCER_X, return_std=True)
    stack = SerialStack([("nb", GaussianNB()), ("final", GaussianNB())], cv=3)
    with pytest.raises(AttributeError) as missing:
        stack.decision_function  # noqa: B018 - the attribute access is what is tested
    assert "the final step 'final' (GaussianNB) has no decision_function" in str(
        missing.value.__cause__)


# -- several outputs ---------------------------------------------------------------------


def test_a_stack_of_regressors_fits_several_outputs():
    X, y = make_regression(n_samples=200, n_features=6, n_targets=3, noise=20.0,
                           random_state=0)
    regressors = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=4,
                                                                     random_state=0))]
    stack = SerialStack([("fusion", FusionRegressor(regressors)), ("final", Ridge())],
                        cv=KFold(4), passthrough=[0]).fit(X, y)
    # By hand: each member's out-of-fold predictions of every output, member by member,
    # then the passed-through column; a multi-output final step on them.
    Z = np.hstack([cross_val_predict(est, X, y, cv=KFold(4)) for _, est in regressors]
                  + [X[:, :1]])
    final = Ridge().fit(Z, y)
    assert_allclose(stack.named_steps_["final"].coef_, final.coef_)
    refit = np.hstack([clone(est).fit(X, y).predict(X) for _, est in regressors] + [X[:, :1]])
    assert_allclose(stack.transform(X), refit)
    assert_allclose(stack.predict(X), final.predict(refit))
    assert stack.predict(X).shape == y.shape
    assert stack.get_feature_names_out().tolist() == [
        "serialstack_ridge0", "serialstack_ridge1", "serialstack_ridge2",
        "serialstack_tree0", "serialstack_tree1", "serialstack_tree2", "x0"]
    with pytest.raises(ValueError, match="y has 3 columns .* 'final' does not take "
                                         "several"):
        SerialStack([("ridge", Ridge()), ("final", SVR())], cv=3).fit(X, y)


@pytest.mark.parametrize("names", [[0, 1, 2], [3, 7, 11], ["a", "b", "c"]])
def test_regressor_level_of_a_classifier_stack_learns_label_codes(names):
    X, codes = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = np.asarray(names, dtype=object if isinstance(names[0], str) else None)[codes]
    cv = KFold(5, shuffle=True, random_state=0)
    ours = SerialStack([("ridge", Ridge()), ("final", LogisticRegression())], cv=cv).fit(X, y)
    theirs = StackingClassifier([("ridge", Ridge())], final_estimator=LogisticRegression(),
                                cv=cv).fit(X, y)
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X))
    assert_array_equal(ours.predict(X), theirs.predict(X))


def test_auto_takes_a_stack_levels_predictions_as_nested_stacking_classifiers():
    # A classifier with a transform (a stack) passes its probabilities, not its inner
    # features; its final step then matters, as in scikit-learn's nesting.
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    cv = StratifiedKFold(3)

    def inner(C):
        return SerialStack([("f", FusionClassifier([("lr", LogisticRegression()),
                                                    ("nb", GaussianNB())])),
                            ("final", LogisticRegression(C=C))], cv=cv)

    ours = SerialStack([("inner", inner(1.0)), ("final", LogisticRegression())], cv=cv)
    theirs = StackingClassifier(
        [("inner", StackingClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                                      final_estimator=LogisticRegression(), cv=cv,
                                      stack_method="predict_proba"))],
        final_estimator=LogisticRegression(), cv=cv)
    assert_allclose(ours.fit(X, y).predict_proba(X), theirs.fit(X, y).predict_proba(X),
                    atol=1e-12)
    weak = SerialStack([("inner", inner(1e-6)), ("final", LogisticRegression())], cv=cv)
    assert not np.allclose(weak.fit(X, y).predict_proba(X), ours.predict_proba(X))


def test_auto_still_takes_other_levels_transform():
    # scikit-learn's stack at its default final_estimator hides its predictions until
    # fitted: "auto" passes its transform, as before.
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    level = StackingClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())], cv=3)
    stack = SerialStack([("s", level), ("final", LogisticRegression())], cv=3).fit(X, y)
    assert_allclose(stack.transform(X), stack.steps_[0][1].transform(X))
    with pytest.raises(TypeError, match=r"stack_method='decision_function': it has no "
                                        "decision_function"):
        SerialStack([("nb", GaussianNB()), ("final", LogisticRegression())],
                    stack_method="decision_function").fit(X, y)


def test_a_class_only_in_untested_first_rows_gets_a_zero_column():
    # Forward-chaining folds never test the first rows, so a class seen only there is
    # left out of the final step's fit: its columns still follow classes_.
    rng = np.random.RandomState(0)
    X = rng.randn(120, 3)
    y = np.where(X[:, 0] > 0, "up", "down").astype(object)
    y[:5] = "rare"
    stack = SerialStack([("nb", GaussianNB()), ("final", LogisticRegression())],
                        cv=TimeSeriesSplit(3)).fit(X, y)
    assert stack.classes_.tolist() == ["down", "rare", "up"]
    assert stack.steps_[-1][1].classes_.tolist() == ["down", "up"]
    proba = stack.predict_proba(X)
    assert proba.shape == (120, 3)
    assert_array_equal(proba[:, 1], 0.0)
    assert_allclose(proba[:, [0, 2]], stack.steps_[-1][1].predict_proba(stack.transform(X)))
    assert_array_equal(stack.classes_[proba.argmax(axis=1)], stack.predict(X))
    with pytest.raises(ValueError, match="saw only the classes"):
        stack.decision_function(X)


class _RotatedClasses(ClassifierMixin, BaseEstimator):
    """A logistic regression whose ``classes_`` and output columns are rotated by one
    (for two classes, reversed): an order that is not its own inverse from three on."""

    def fit(self, X, y, sample_weight=None):
        self.model_ = LogisticRegression(max_iter=5000).fit(X, y, sample_weight=sample_weight)
        self.classes_ = np.roll(self.model_.classes_, 1)
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_proba(self, X):
        return np.roll(self.model_.predict_proba(X), 1, axis=1)

    def decision_function(self, X):
        values = self.model_.decision_function(X)
        return -values if values.ndim == 1 else np.roll(values, 1, axis=1)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_final_step_with_classes_in_another_order_is_aligned(n_classes):
    # A final step that knows every class in another order: decision_function was
    # refused as if it lacked classes; its columns (its sign, for two classes) now
    # follow classes_, as predict_proba's do.
    X, y = load_wine(return_X_y=True)
    keep = y < n_classes
    X, y = X[keep], np.array(["a", "b", "c"])[y[keep]]
    steps = [("nb", GaussianNB()), ("final", LogisticRegression(max_iter=5000))]
    plain = SerialStack(steps, cv=3).fit(X, y)
    rotated = SerialStack(steps[:1] + [("final", _RotatedClasses())], cv=3).fit(X, y)
    assert rotated.steps_[-1][1].classes_.tolist() == np.roll(plain.classes_, 1).tolist()
    assert_allclose(rotated.decision_function(X), plain.decision_function(X),
                    rtol=1e-12, atol=1e-12)
    assert_allclose(rotated.predict_proba(X), plain.predict_proba(X), rtol=1e-12, atol=1e-12)
    assert_array_equal(rotated.predict(X), plain.predict(X))


def test_nan_in_passed_through_columns_needs_later_steps_that_take_it():
    # Later levels see the passed-through columns as they are: NaN there was left to
    # the final step's own error at fit (after the first level's fits), and passed
    # through transform unchecked.
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:200, :4], y[:200]
    with_nan = X.copy()
    with_nan[::7, 1] = np.nan
    hgb = HistGradientBoostingClassifier(max_iter=10, random_state=0)
    refused = SerialStack([("hgb", hgb), ("final", LogisticRegression())],
                          passthrough=True, cv=3)
    with pytest.raises(ValueError, match=r"step 'final' \(LogisticRegression\) does not "
                                         r"accept NaN.*passthrough.*29 row.*Input X "
                                         r"contains NaN"):
        refused.fit(with_nan, y)
    fitted = clone(refused).fit(X, y)  # fitted without NaN: predict and transform refuse
    for method in ("predict", "transform"):
        with pytest.raises(ValueError, match=r"passthrough hands on hold NaN on 29 row.*"
                                             r"step 'final'"):
            getattr(fitted, method)(with_nan)
    taken = SerialStack([("hgb", hgb), ("final", clone(hgb))], passthrough=True, cv=3)
    assert np.isfinite(taken.fit(with_nan, y).predict_proba(with_nan)).all()
    # Columns passed through without NaN need nothing of the later steps.
    clean = clone(refused).set_params(passthrough=[0, 2, 3]).fit(with_nan, y)
    assert clean.predict(with_nan).shape == y.shape


@pytest.mark.parametrize("stack_method, warns", [
    ("auto", True), ("transform", True), ("predict_proba", False)])
def test_a_fusion_level_whose_weights_play_no_part_is_warned_of(stack_method, warns):
    # Its members' outputs go on: the weights learned (a cross-validation in each of the
    # level's cv + 1 fits) change nothing. (With refit=False, the default, the members
    # are the means of those fold fits: no warning.)
    X, y = load_breast_cancer(return_X_y=True)
    level = FusionClassifier(members(), weights="optimize", refit=True, cv=3)
    stack = SerialStack([("fusion", level), ("final", LogisticRegression())], cv=3,
                        stack_method={"fusion": stack_method})
    if not warns:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)  # the members' own
            stack.fit(X[:200], y[:200])
            clone(stack).set_params(stack_method="auto", fusion__refit=False).fit(
                X[:200], y[:200])
        return
    with pytest.warns(UserWarning, match=r"step 'fusion' is a FusionClassifier with "
                                         r"weights='optimize'.*play no part") as record:
        stack.fit(X[:200], y[:200])
    assert record[0].filename == __file__
    unweighted = clone(stack).set_params(fusion__weights=None).fit(X[:200], y[:200])
    assert_allclose(stack.predict_proba(X), unweighted.predict_proba(X))


def test_one_vs_one_decision_values_pass_on_as_scikit_learn_passes_them():
    """A one-vs-one SVC's decision values have a column per pair of classes (6 for 4
    classes): passed on as they are, named one by one, in a fusion level too."""
    from sklearn.datasets import make_classification

    X, y = make_classification(200, 6, n_informative=4, n_classes=4, random_state=0)
    svc = SVC(decision_function_shape="ovo")
    theirs = StackingClassifier([("svc", svc)], final_estimator=LogisticRegression(),
                                cv=5).fit(X, y)
    ours = SerialStack([("svc", svc), ("final", LogisticRegression())], cv=5).fit(X, y)
    assert_allclose(ours.transform(X), theirs.transform(X))
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X))
    assert len(ours.get_feature_names_out()) == 6
    level = FusionClassifier([("svc", make_pipeline(StandardScaler(), svc)),
                              ("lr", LogisticRegression())], voting="hard")
    stack = SerialStack([("level", level), ("final", LogisticRegression())], cv=5).fit(X, y)
    names = stack.get_feature_names_out()
    assert stack.transform(X).shape == (200, 10)
    assert [n for n in names if "svc" in n] == [f"serialstack_svc{k}" for k in range(6)]


@pytest.mark.parametrize("load", [load_wine, load_breast_cancer])
def test_transform_level_passes_its_tempered_probabilities(load):
    """``stack_method="transform"`` passes what a calibrated fusion level votes with:
    its members' probabilities tempered (the second class's column alone, with two)."""
    X, y = load(return_X_y=True)
    X = StandardScaler().fit_transform(X)[::2]
    y = y[::2]
    level = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                             weights="optimize", calibration="temperature", random_state=0)
    stack = SerialStack([("level", level), ("final", LogisticRegression())], cv=3,
                        stack_method="transform").fit(X, y)
    fitted = stack.named_steps_["level"]
    assert not np.allclose(fitted.temperatures_, 1.0)
    expected = fitted.transform(X)
    if len(fitted.classes_) == 2:
        expected = expected[:, 1::2]
    assert_allclose(stack.transform(X), expected)
    assert len(stack.get_feature_names_out()) == expected.shape[1]


def test_one_vs_one_values_are_recognised_behind_a_search_and_fold_fits():
    from sklearn.datasets import make_classification
    from sklearn.model_selection import GridSearchCV

    X, y = make_classification(200, 6, n_informative=4, n_classes=4, random_state=0)
    searched = GridSearchCV(SVC(decision_function_shape="ovo"), {"C": [1.0]}, cv=3)
    theirs = StackingClassifier([("svc", searched)], final_estimator=LogisticRegression(),
                                cv=5).fit(X, y)
    ours = SerialStack([("svc", searched), ("final", LogisticRegression())], cv=5).fit(X, y)
    assert_allclose(ours.transform(X), theirs.transform(X))
    bagged = FusionClassifier([("svc", SVC(decision_function_shape="ovo")),
                               ("lr", LogisticRegression())], voting="hard",
                              weights="greedy", refit=False)  # the SVC kept as fold fits
    stack = SerialStack([("level", bagged), ("final", LogisticRegression())], cv=5).fit(X, y)
    assert stack.transform(X).shape == (200, 10)
    assert len(stack.get_feature_names_out()) == 10


def test_a_refit_wider_than_its_fold_fits_is_refused_at_fit():
    """Fold fits that each saw two of three classes pass one decision column; the refit
    passes three, and predict failed with scikit-learn's feature-count error."""
    rng = np.random.RandomState(0)
    X = rng.randn(150, 4)
    y = np.repeat([0, 1, 2], 50)  # unshuffled KFold(3): each training part has two
    stack = SerialStack([("svc", LinearSVC()), ("final", LogisticRegression())],
                        cv=KFold(3))
    with pytest.warns(UserWarning, match="lacks a class"), \
            pytest.raises(ValueError, match="step 'svc' passes on 3 column\\(s\\) when "
                                            "fitted on every row, but 1 out of fold"):
        stack.fit(X, y)


def test_regressor_levels_are_told_of_predict_and_their_members_named():
    X, y = make_regression(n_samples=120, n_features=5, n_targets=3, random_state=0)
    members = [("r", Ridge()), ("t", DecisionTreeRegressor(max_depth=3, random_state=0))]
    stack = SerialStack([("f", FusionRegressor(members, weights="optimize")),
                         ("final", Ridge())], cv=3)
    # A FusionRegressor has no predict_proba: the advice was one that fails.
    with pytest.warns(UserWarning, match="stack_method=\\{'f': 'predict'\\}\\.$"):
        stack.fit(X, y)
    level = FusionRegressor([*members, ("svr", SVR())])
    with pytest.raises(ValueError, match="and 'f1' refuses them: FusionRegressor: y has 3 "
                                         "columns \\(outputs\\), and 'svr' does not"):
        SerialStack([("f1", level), ("final", Ridge())], cv=3).fit(X, y)


def test_a_final_step_predicting_a_column_of_labels_gives_a_vector():
    # CatBoost's multiclass predict gives shape (n, 1): the stack passed it on, so
    # (stack.predict(X) == y).mean() compared every row with every row (0.33 for 0.92),
    # and a hard-voting fusion with such a member failed to stack the members' votes.
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    labels = np.array(["a", "b", "c"])[y]
    plain = SerialStack([("nb", GaussianNB()), ("final", LogisticRegression())], cv=3)
    column = SerialStack([("nb", GaussianNB()), ("final", ColumnPredictLR())], cv=3)
    predicted = column.fit(X, labels).predict(X)
    assert predicted.shape == (len(y),)
    assert_array_equal(predicted, plain.fit(X, labels).predict(X))
    members = [("nb", GaussianNB()), ("lr", LogisticRegression())]
    fusion = FusionClassifier(members, voting="hard").fit(X, labels)
    with_column = FusionClassifier([members[0], ("lr", ColumnPredictLR())],
                                   voting="hard").fit(X, labels)
    assert_array_equal(with_column.predict(X), fusion.predict(X))
    assert_allclose(with_column.predict_proba(X), fusion.predict_proba(X))


def test_a_binary_score_given_as_a_column_is_one_score():
    # A binary decision_function shaped (n, 1) was spread over two class columns (the
    # class-0 column holding the class-1 score), so the final step saw the score twice;
    # in a fusion level with a missing view it failed with numpy's shape mismatch.
    X, y = CANCER_X[:, :6], CANCER_Y
    X = StandardScaler().fit_transform(X)
    column = SerialStack([("a", ColumnScoreLR()), ("f", LogisticRegression())],
                         stack_method="decision_function").fit(X, y)
    plain = SerialStack([("a", LogisticRegression()), ("f", LogisticRegression())],
                        stack_method="decision_function").fit(X, y)
    assert column.transform(X[:5]).shape == (5, 1)
    assert_allclose(column.predict_proba(X), plain.predict_proba(X))
    X_missing = X.copy()
    X_missing[:30, 3:] = np.nan
    level = FusionClassifier([("a", ColumnScoreLR()), ("b", LogisticRegression())],
                             views={"a": [3, 4, 5], "b": [0, 1, 2]}, voting="hard")
    stack = SerialStack([("level", level), ("f", HistGradientBoostingClassifier(
        max_iter=10, random_state=0))]).fit(X_missing, y)  # "auto": each member's scores
    out = stack.transform(X_missing[:40])
    assert out.shape == (40, 2)
    assert np.isnan(out[:30, 0]).all() and np.isfinite(out[30:]).all()


def test_a_classifier_stack_predicts_labels_of_its_classes_type():
    # GaussianNB gives strings where y held objects: the stack passed them on, where
    # its classes_ (and StackingClassifier's predictions) are objects.
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    stack = SerialStack([("lr", LogisticRegression(max_iter=1000)), ("nb", GaussianNB())],
                        cv=3).fit(X, labels)
    assert stack.classes_.dtype == object
    assert stack.predict(X).dtype == object
    assert_array_equal(stack.predict(X), stack.named_steps_["nb"].predict(stack.transform(X)))


def test_a_final_step_giving_nan_probabilities_is_refused_by_name():
    # The out-of-fold column is constant, so GaussianNB's variance is 0: its NaN
    # probabilities were passed on, where a step before it, or a fusion's member,
    # is refused by name.
    from sklearn.model_selection import KFold
    from sklearn.neighbors import KNeighborsClassifier

    X, y = np.array([[0.0], [5.0], [6.0], [7.0], [8.0], [9.0]]), np.array([1, 0, 0, 0, 0, 0])
    stack = SerialStack([("kn", KNeighborsClassifier(n_neighbors=1)), ("nb", GaussianNB())],
                        cv=KFold(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GaussianNB's own
        stack.fit(X, y)
        with pytest.raises(ValueError, match=r"step 'nb' gave NaN or infinite outputs at "
                                             r"predict on 2 of 2 row"):
            stack.predict_proba(X[:2])


@pytest.mark.parametrize("container", [sp.coo_matrix, sp.csc_matrix, sp.csr_matrix,
                                       sp.coo_array, sp.csc_array])
def test_sparse_passthrough_keeps_the_callers_format(container):
    # transform built the passed-through block as CSR whatever came in; scikit-learn's
    # stacking hands back the caller's format (COO in, COO out).
    X, y = load_iris(return_X_y=True)
    Xs = container(StandardScaler().fit_transform(X))
    stack = SerialStack([("level", FusionClassifier([("lr", LogisticRegression())])),
                         ("final", LogisticRegression())], passthrough=True).fit(Xs, y)
    Z = stack.transform(Xs)
    assert type(Z) is type(Xs)
    assert_allclose(Z.toarray()[:, -4:], Xs.toarray())
    assert_allclose(stack.predict_proba(Xs), stack.predict_proba(Xs.tocsr()))
