"""A ``SerialStack`` step set to ``"drop"`` or ``"passthrough"`` is skipped, exactly as if
it were not listed (as a ``Pipeline`` skips a step), so a search can compare depths."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.datasets import load_wine
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils import estimator_html_repr
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfuse import FusionClassifier, SerialStack

X, y = load_wine(return_X_y=True)
X = StandardScaler().fit_transform(X)


def _level():
    return FusionClassifier([("lr", LogisticRegression(C=0.1)), ("nb", GaussianNB())])


def _tree():
    return DecisionTreeClassifier(max_depth=3, random_state=0)


@pytest.mark.parametrize("skip", ["drop", "passthrough"])
def test_a_skipped_level_is_as_if_not_listed(skip):
    skipped = SerialStack([("fusion", _level()), ("tree", skip), ("final", LogisticRegression())],
                          random_state=0).fit(X, y)
    shorter = SerialStack([("fusion", _level()), ("final", LogisticRegression())],
                          random_state=0).fit(X, y)
    assert_allclose(skipped.predict_proba(X), shorter.predict_proba(X))
    assert [name for name, _ in skipped.steps_] == ["fusion", "final"]
    assert list(skipped.named_steps_) == ["fusion", "final"]
    assert_array_equal(skipped.get_feature_names_out(), shorter.get_feature_names_out())


def test_a_skipped_first_level_gives_x_to_the_next():
    skipped = SerialStack([("fusion", "passthrough"), ("tree", _tree()),
                           ("final", LogisticRegression())], random_state=0).fit(X, y)
    shorter = SerialStack([("tree", _tree()), ("final", LogisticRegression())],
                          random_state=0).fit(X, y)
    assert_allclose(skipped.predict_proba(X), shorter.predict_proba(X))


@pytest.mark.parametrize("threshold", [[0.8, 0.3], "auto"])
def test_a_skipped_cascade_step_is_as_if_not_listed(threshold):
    skipped = SerialStack([("lr", LogisticRegression(C=0.1)), ("nb", "drop"), ("tree", _tree())],
                          exit_threshold=threshold, random_state=0).fit(X, y)
    kept = [0.8] if isinstance(threshold, list) else threshold
    shorter = SerialStack([("lr", LogisticRegression(C=0.1)), ("tree", _tree())],
                          exit_threshold=kept, random_state=0).fit(X, y)
    assert_allclose(skipped.predict_proba(X), shorter.predict_proba(X))
    assert_allclose(skipped.exit_thresholds_, shorter.exit_thresholds_)
    assert_allclose(skipped.exit_rates_, shorter.exit_rates_)
    assert_array_equal(skipped.predict_route(X), shorter.predict_route(X))


def test_a_search_compares_depths():
    stack = SerialStack([("fusion", _level()), ("tree", "passthrough"),
                         ("final", LogisticRegression())], random_state=0)
    search = GridSearchCV(stack, {"tree": ["passthrough", _tree()]}, cv=3).fit(X, y)
    assert search.cv_results_["mean_test_score"].shape == (2,)
    stack.set_params(fusion="drop")
    assert [name for name, _ in stack.fit(X, y).steps_] == ["final"]


def test_views_and_methods_of_a_skipped_step_are_unused():
    stack = SerialStack([("fusion", "drop"), ("lr", LogisticRegression()),
                         ("final", LogisticRegression())],
                        views={"fusion": [0], "lr": [1, 2]},
                        stack_method={"fusion": "predict"}, random_state=0).fit(X, y)
    shorter = SerialStack([("lr", LogisticRegression()), ("final", LogisticRegression())],
                          views={"lr": [1, 2]}, random_state=0).fit(X, y)
    assert_allclose(stack.predict_proba(X), shorter.predict_proba(X))


def test_what_cannot_be_skipped():
    with pytest.raises(ValueError, match="last step 'final' is the final estimator and "
                                         "cannot be 'passthrough'"):
        SerialStack([("lr", LogisticRegression()), ("final", "passthrough")]).fit(X, y)
    with pytest.raises(TypeError, match="at least two steps that are not skipped"):
        SerialStack([("lr", "drop"), ("tree", _tree())], exit_threshold=0.9).fit(X, y)
    with pytest.raises(ValueError, match="one for each of the 2 non-final steps"):
        SerialStack([("lr", LogisticRegression()), ("nb", "drop"), ("tree", _tree())],
                    exit_threshold=[0.9]).fit(X, y)


def test_skipped_steps_get_no_metadata_and_show_in_the_html():
    weights = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y))

    def stack(skip):
        final = LogisticRegression().set_fit_request(sample_weight=True)
        steps = [("tree", _tree().set_fit_request(sample_weight=True)), ("final", final)]
        return SerialStack(steps[:1] + [("skip", skip)] * (skip is not None) + steps[1:],
                           random_state=0)

    with config_context(enable_metadata_routing=True):
        skipped = stack("passthrough").fit(X, y, sample_weight=weights)
        shorter = stack(None).fit(X, y, sample_weight=weights)
        html = estimator_html_repr(stack("passthrough"))
    assert_allclose(skipped.predict_proba(X), shorter.predict_proba(X))
    assert ">passthrough<" in html


def _booster():
    return HistGradientBoostingClassifier(max_iter=5, random_state=0)


def test_nan_is_judged_by_the_kept_steps():
    holes = X.copy()
    holes[::5, 0] = np.nan
    stack = SerialStack([("x", "drop"), ("hgb", _booster()), ("final", LogisticRegression())],
                        cv=3, random_state=0).fit(holes, y)
    shorter = SerialStack([("hgb", _booster()), ("final", LogisticRegression())], cv=3,
                          random_state=0).fit(holes, y)
    assert_allclose(stack.predict_proba(holes), shorter.predict_proba(holes))
    cascade = SerialStack([("a", _booster()), ("x", "drop"), ("c", _booster())],
                          exit_threshold=0.9, cv=3, random_state=0).fit(holes, y)
    assert cascade.score(holes, y) > 0.9
    with pytest.raises(ValueError, match="step 'd' \\(LogisticRegression\\) does not accept NaN"):
        SerialStack([("a", _booster()), ("x", "drop"), ("c", _booster()),
                     ("d", LogisticRegression())], exit_threshold=0.9, cv=3).fit(holes, y)


def test_a_skipped_step_has_no_parameters_to_set():
    stack = SerialStack([("nb", "drop"), ("final", LogisticRegression())])
    with pytest.raises(ValueError, match="'nb' is 'drop', which has no parameter "
                                         "'var_smoothing'; set 'nb' to an estimator first"):
        stack.set_params(nb__var_smoothing=1e-3)
    stack.set_params(nb=GaussianNB(), nb__var_smoothing=1e-3)
    assert stack.named_steps["nb"].var_smoothing == 1e-3
    with pytest.raises(TypeError, match='nor "drop" or "passthrough" to skip it: None'):
        SerialStack([("nb", None), ("final", LogisticRegression())]).fit(X, y)


def test_a_list_of_members_has_no_parameters_to_set():
    # experts__alpha is the key of a mixture's one cloned expert; once experts is a
    # list, scikit-learn's set_params called list.set_params (AttributeError), and a
    # search stopped on it.
    from skfuse import MixtureOfExpertsRegressor

    listed = MixtureOfExpertsRegressor([("a", Ridge()), ("b", Ridge())])
    with pytest.raises(ValueError, match=r"'experts' is a list of \(name, estimator\) "
                                         r"pairs, which has no parameter 'alpha'; set a "
                                         r"member's as '<name>__alpha' \(member names: "
                                         r"\['a', 'b'\]\)"):
        listed.set_params(experts__alpha=3.0)
    with pytest.raises(ValueError, match="'experts' is set to a list of .* in this call"):
        MixtureOfExpertsRegressor(Ridge()).set_params(experts=[("c", Ridge())],
                                                      experts__alpha=3.0)
    with pytest.raises(ValueError, match="'estimators' is a list .* no parameter 'C'"):
        FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())]).set_params(
            estimators__C=2.0)
    with pytest.raises(ValueError, match="'steps' is a list .* no parameter 'C'"):
        SerialStack([("lr", LogisticRegression()), ("f", LogisticRegression())]).set_params(
            steps__C=2.0)
    # the single expert's key and the members' keys as before
    assert MixtureOfExpertsRegressor(Ridge()).set_params(experts__alpha=3.0).experts.alpha == 3
    assert listed.set_params(a__alpha=2.0).experts[0][1].alpha == 2.0


@parametrize_with_checks([
    SerialStack([("lr", LogisticRegression()), ("skip", "passthrough"),
                 ("final", DecisionTreeClassifier(max_depth=3))], cv=3, random_state=0),
    SerialStack([("skip", "drop"), ("ridge", Ridge()),
                 ("tree", DecisionTreeRegressor(max_depth=3)), ("final", Ridge())],
                cv=3, passthrough=True, random_state=0),
    SerialStack([("nb", GaussianNB()), ("skip", "drop"),
                 ("lr", LogisticRegression(max_iter=200))],
                exit_threshold=[0.9, 0.5], cv=3, random_state=0),
])
def test_skipped_steps_pass_scikit_learns_checks(estimator, check):
    check(estimator)
