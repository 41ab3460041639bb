"""Missing modalities: a member whose whole view is missing on a row sits that row out."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import get_tags

from skfuse import FusionClassifier, FusionRegressor, SerialStack
from skfuse._compat import InvalidParameterError
from skfuse._views import rows_present

VIEWS = {"a": [0, 1], "b": [2, 3], "c": [4, 5]}
WEIGHTS = np.array([0.5, 0.3, 0.2])


def classifiers():
    return [("a", LogisticRegression()), ("b", GaussianNB()),
            ("c", DecisionTreeClassifier(max_depth=3, random_state=0))]


def blank(X, pattern):
    """Copy of X with the views of the members marked 0 in ``pattern`` (one row each) NaN."""
    X = X.copy()
    for i, row in enumerate(pattern):
        for present, (name, cols) in zip(row, VIEWS.items()):
            if not present:
                X[i, cols] = np.nan
    return X


# Every combination of present members, from all three down to one (all-but-one missing).
PATTERNS = np.array([[1, 1, 1], [0, 1, 1], [1, 0, 1], [1, 1, 0],
                     [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=bool)


@pytest.fixture
def data():
    X, y = make_classification(n_samples=300, n_features=6, n_informative=6,
                               n_redundant=0, n_classes=3, random_state=0)
    return X, y


def by_hand(fusion, X, pattern, voting):
    """Fuse each row over its present members, with their weights renormalised."""
    rows = np.repeat(np.arange(len(pattern)), 1)
    out = []
    for i in rows:
        kept = np.flatnonzero(pattern[i])
        w = WEIGHTS[kept] / WEIGHTS[kept].sum()
        members = [fusion.named_estimators_[list(VIEWS)[m]] for m in kept]
        views = [VIEWS[list(VIEWS)[m]] for m in kept]
        if voting == "hard":
            votes = np.zeros(3)
            for weight, est, cols in zip(w, members, views):
                votes[est.predict(X[i : i + 1, cols])[0]] += weight
            out.append(votes)
            continue
        P = np.stack([est.predict_proba(X[i : i + 1, cols])[0] for est, cols in zip(members, views)])
        if voting == "soft":
            out.append(w @ P)
        else:
            log_p = w @ np.log(np.clip(P, np.finfo(float).eps, 1))
            out.append(np.exp(log_p - logsumexp(log_p)))
    return np.array(out)


@pytest.mark.parametrize("voting", ["soft", "geometric", "hard"])
def test_classifier_renormalises_over_present_members(data, voting):
    X, y = data
    fusion = FusionClassifier(classifiers(), voting=voting, weights=WEIGHTS,
                              views=VIEWS).fit(X, y)
    X_test = blank(X[: len(PATTERNS)], PATTERNS)
    expected = by_hand(fusion, X[: len(PATTERNS)], PATTERNS, voting)
    if voting == "hard":
        assert_array_equal(fusion.predict(X_test), expected.argmax(axis=1))
    else:
        assert_allclose(fusion.predict_proba(X_test), expected, rtol=1e-10)
        assert_array_equal(fusion.predict(X_test), expected.argmax(axis=1))
    # Complete rows are unchanged by the mask machinery.
    plain = FusionClassifier(classifiers(), voting=voting, weights=WEIGHTS, views=VIEWS)
    plain.fit(X, y)
    assert_array_equal(fusion.predict(X_test[:1]), plain.predict(X[:1]))


def test_regressor_renormalises_over_present_members():
    X, y = make_regression(n_samples=200, n_features=6, noise=1.0, random_state=0)
    members = [("a", Ridge()), ("b", LinearRegression()), ("c", Ridge(alpha=10.0))]
    fusion = FusionRegressor(members, weights=WEIGHTS, views=VIEWS).fit(X, y)
    X_test = blank(X[: len(PATTERNS)], PATTERNS)
    expected = []
    for i, row in enumerate(PATTERNS):
        kept = np.flatnonzero(row)
        preds = [fusion.named_estimators_[list(VIEWS)[m]].predict(X[i : i + 1, VIEWS[list(VIEWS)[m]]])[0]
                 for m in kept]
        expected.append(np.average(preds, weights=WEIGHTS[kept]))
    assert_allclose(fusion.predict(X_test), expected, rtol=1e-12)
    transformed = fusion.transform(X_test)
    assert_array_equal(np.isnan(transformed), ~PATTERNS)


def test_a_training_row_with_no_member_raises_unless_the_prior_is_asked_for(data):
    # A model that fits on X predicts on it: fit refuses what predict would.
    X, y = data
    X = blank(X, [[0, 0, 0]] * 5 + [[1, 1, 1]] * (len(X) - 5))
    with pytest.raises(ValueError, match="5 row\\(s\\) of X have no member present"):
        FusionClassifier(classifiers(), views=VIEWS).fit(X, y)
    fusion = FusionClassifier(classifiers(), views=VIEWS, missing="prior").fit(X, y)
    assert fusion.predict_proba(X).shape == (len(X), len(np.unique(y)))


def test_a_row_with_no_member_raises_or_takes_the_prior(data):
    X, y = data
    X_test = blank(X[:3], [[1, 1, 1], [0, 0, 0], [0, 0, 0]])
    fusion = FusionClassifier(classifiers(), views=VIEWS).fit(X, y)
    with pytest.raises(ValueError, match="2 row\\(s\\) of X have no member present"):
        fusion.predict(X_test)
    prior = fusion.set_params(missing="prior").fit(X, y).predict_proba(X_test)
    assert_allclose(prior[1:], np.tile(np.bincount(y) / len(y), (2, 1)))
    hard = FusionClassifier(classifiers(), voting="hard", views=VIEWS, missing="prior")
    assert hard.fit(X, y).predict(X_test)[1] == np.bincount(y).argmax()
    # A batch of such rows only (one row served at a time): no member answers at all.
    for fused in (fusion, hard):  # both fitted with missing="prior"
        assert_allclose(fused.predict_proba(X_test[1:]), np.tile(np.bincount(y) / len(y),
                                                                 (2, 1)))
    assert_array_equal(hard.predict(X_test[1:]), [np.bincount(y).argmax()] * 2)
    Xr, yr = make_regression(n_samples=100, n_features=6, random_state=0)
    reg = FusionRegressor([("a", Ridge()), ("b", Ridge()), ("c", Ridge())], views=VIEWS,
                          missing="prior").fit(Xr, yr)
    assert reg.predict(blank(Xr[:1], [[0, 0, 0]]))[0] == pytest.approx(yr.mean())
    with pytest.raises(InvalidParameterError, match="The 'missing' parameter .* Got 'mean'"):
        FusionRegressor([("a", Ridge())], missing="mean").fit(Xr, yr)


def test_members_train_only_on_rows_with_their_view(data):
    X, y = data
    rng = np.random.RandomState(0)
    pattern = rng.uniform(size=(len(X), 3)) > 0.3
    pattern[~pattern.any(axis=1), 0] = True
    X_missing = blank(X, pattern)
    fusion = FusionClassifier(classifiers(), views=VIEWS).fit(X_missing, y)
    for m, (name, cols) in enumerate(VIEWS.items()):
        alone = clone(dict(classifiers())[name]).fit(X[pattern[:, m]][:, cols], y[pattern[:, m]])
        assert_allclose(fusion.named_estimators_[name].predict_proba(X[:, cols]),
                        alone.predict_proba(X[:, cols]))
    with pytest.raises(ValueError, match="member 'a' has no row where its view is present"):
        FusionClassifier(classifiers(), views=VIEWS).fit(blank(X, [[0, 1, 1]] * len(X)), y)


def test_learned_weights_use_the_masks(data):
    X, y = data
    rng = np.random.RandomState(1)
    pattern = rng.uniform(size=(len(X), 3)) > 0.3
    pattern[~pattern.any(axis=1), 1] = True
    X_missing = blank(X, pattern)
    fusion = FusionClassifier(classifiers(), weights="optimize", views=VIEWS, cv=3).fit(X_missing, y)
    assert_allclose(fusion.weights_.sum(), 1.0)
    # Out-of-fold probabilities by hand: each member fitted on the training fold's rows
    # that have its view, asked about the test fold's rows that have it.
    oof = np.zeros((3, len(X), 3))
    for train, test in StratifiedKFold(3).split(X, y):
        for m, (name, cols) in enumerate(VIEWS.items()):
            tr, te = train[pattern[train, m]], test[pattern[test, m]]
            est = clone(dict(classifiers())[name]).fit(X[tr][:, cols], y[tr])
            oof[m, te] = est.predict_proba(X[te][:, cols])
    shares = fusion.weights_[:, None] * pattern.T
    fused = np.einsum("mn,mnc->nc", shares / shares.sum(axis=0), oof)
    log_loss = -np.mean(np.log(np.clip(fused[np.arange(len(y)), y], np.finfo(float).eps, None)))
    assert fusion.oof_score_ == pytest.approx(-log_loss, rel=1e-10)
    # Each member's own score is taken on its rows only.
    a = pattern[:, 0]
    own = -np.mean(np.log(np.clip(oof[0, a, y[a]], np.finfo(float).eps, None)))
    assert fusion.member_scores_["a"] == pytest.approx(-own, rel=1e-10)


def test_rows_present_reads_nan_and_none():
    values = np.array([[1.0, np.nan], [np.nan, np.nan], [np.nan, 2.0]])
    assert_array_equal(rows_present(values, None), [True, False, True])
    assert_array_equal(rows_present(values, [1]), [False, False, True])
    objects = np.array([["x", None], [None, np.nan], [None, "y"]], dtype=object)
    assert_array_equal(rows_present(objects, None), [True, False, True])
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"text": ["a", None, "c"], "num": [np.nan, np.nan, 1.0]})
    assert_array_equal(rows_present(frame, None), [True, False, True])
    assert_array_equal(rows_present(frame, [0]), [True, False, True])


def test_a_partly_missing_view_needs_a_member_that_takes_nan(data):
    X, y = data
    X = X.copy()
    X[:10, 0] = np.nan  # view "a" is [0, 1]: partly missing on 10 rows
    with pytest.raises(ValueError, match="member 'a' \\(LogisticRegression\\) does not accept "
                                         "NaN.*10 row"):
        FusionClassifier(classifiers(), views=VIEWS).fit(X, y)
    members = [("a", HistGradientBoostingClassifier(max_iter=20))] + classifiers()[1:]
    fusion = FusionClassifier(members, views=VIEWS).fit(X, y)
    assert fusion.predict_proba(X[:10]).shape == (10, 3)


# -- cascades ------------------------------------------------------------------------

CASCADE_THRESHOLDS = [0.9, 0.8]


def cascade(**params):
    steps = [("a", GaussianNB()), ("b", LogisticRegression()),
             ("c", DecisionTreeClassifier(max_depth=4, random_state=0))]
    return SerialStack(steps, views=VIEWS, exit_threshold=CASCADE_THRESHOLDS, cv=3,
                       cascade_fit="all", **params)


def cascade_by_hand(stack, X, pattern):
    """Each row leaves at its first present step that is confident, else at its last."""
    proba, route = [], []
    for i, row in enumerate(pattern):
        kept = np.flatnonzero(row)
        for step in kept:
            name = list(VIEWS)[step]
            p = stack.named_steps_[name].predict_proba(X[i : i + 1, VIEWS[name]])[0]
            if step == kept[-1] or p.max() > CASCADE_THRESHOLDS[step]:
                proba.append(p)
                route.append(step)
                break
    return np.array(proba), np.array(route)


def test_cascade_steps_sit_out_rows_without_their_view(data):
    X, y = data
    stack = cascade().fit(X, y)
    rows = np.repeat(np.arange(40), len(PATTERNS))  # each pattern on 40 rows
    pattern = np.tile(PATTERNS, (40, 1))
    X_test = blank(X[rows], pattern)
    proba, route = cascade_by_hand(stack, X[rows], pattern)
    assert_allclose(stack.predict_proba(X_test), proba, rtol=1e-12)
    assert_array_equal(stack.predict_route(X_test), route)
    assert_array_equal(stack.predict(X_test), proba.argmax(axis=1))
    # A row with only one step present is that step's, confident or not.
    alone = pattern.sum(axis=1) == 1
    assert_array_equal(route[alone], pattern[alone].argmax(axis=1))
    assert set(route[pattern[:, 0]]) >= {0, 1, 2}  # early exits and deferrals both occur


def test_cascade_steps_train_only_on_rows_with_their_view(data):
    X, y = data
    pattern = np.random.RandomState(0).uniform(size=(len(X), 3)) > 0.3
    pattern[~pattern.any(axis=1), 2] = True
    stack = cascade().fit(blank(X, pattern), y)
    for m, (name, est) in enumerate(stack.steps):
        alone = clone(est).fit(X[pattern[:, m]][:, VIEWS[name]], y[pattern[:, m]])
        assert_allclose(stack.named_steps_[name].predict_proba(X[:, VIEWS[name]]),
                        alone.predict_proba(X[:, VIEWS[name]]))
    assert stack.exit_rates_.sum() == pytest.approx(1.0)
    auto = cascade().set_params(exit_threshold="auto", cascade_fit="deferred")
    auto.fit(blank(X, pattern), y)
    assert np.all((auto.exit_thresholds_ >= 0) & (auto.exit_thresholds_ <= 1))
    route = auto.predict_route(blank(X, pattern))
    assert pattern[np.arange(len(X)), route].all()  # every row answered by a present step


def test_cascade_thresholds_use_the_masks(data):
    X, y = data
    pattern = np.random.RandomState(1).uniform(size=(len(X), 3)) > 0.4
    pattern[~pattern.any(axis=1), 0] = True
    stack = cascade().fit(blank(X, pattern), y)
    # Out of fold, a row is answered by its first confident present step, or its last.
    oof = np.zeros((3, len(X), 3))
    folds = list(StratifiedKFold(3).split(X, y))
    for m, (name, est) in enumerate(cascade().steps):
        for train, test in folds:
            train, test = train[pattern[train, m]], test[pattern[test, m]]
            oof[m, test] = clone(est).fit(X[train][:, VIEWS[name]], y[train]).predict_proba(
                X[test][:, VIEWS[name]])
    route = []
    for i, row in enumerate(pattern):
        kept = np.flatnonzero(row)
        route.append(next(s for s in kept if s == kept[-1] or oof[s, i].max()
                          > CASCADE_THRESHOLDS[s]))
    assert_allclose(stack.exit_rates_, np.bincount(route, minlength=3) / len(X))


def test_cascade_row_with_no_step_raises_or_takes_the_prior(data):
    X, y = data
    X_test = blank(X[:3], [[1, 1, 1], [0, 0, 0], [0, 0, 0]])
    stack = cascade().fit(X, y)
    with pytest.raises(ValueError, match="2 row\\(s\\) of X have no step present"):
        stack.predict(X_test)
    stack = cascade(missing="prior").fit(X, y)
    assert_allclose(stack.predict_proba(X_test)[1:], np.tile(np.bincount(y) / len(y), (2, 1)))
    assert_array_equal(stack.predict_route(X_test)[1:], [-1, -1])
    with pytest.raises(InvalidParameterError, match="'missing' parameter of SerialStack"):
        cascade(missing="mean").fit(X, y)
    with pytest.raises(ValueError, match="step 'a' has no row where its view is present"):
        cascade().fit(blank(X, [[0, 1, 1]] * len(X)), y)
    # At fit too, as a fusion refuses them: the rows the model is fitted on predict.
    X_train = blank(X, [[0, 0, 0]] * 4 + [[1, 1, 1]] * (len(X) - 4))
    with pytest.raises(ValueError, match="4 row\\(s\\) of X have no step present"):
        cascade().fit(X_train, y)
    fitted = cascade(missing="prior").fit(X_train, y)
    assert_array_equal(fitted.predict_route(X_train[:4]), [-1] * 4)


def test_cascade_step_refuses_a_partly_missing_view(data):
    X, y = data
    X = X.copy()
    X[:7, 2] = np.nan  # view "b" is [2, 3]
    with pytest.raises(ValueError, match="step 'b' \\(LogisticRegression\\) does not accept "
                                         "NaN.*7 row"):
        cascade().fit(X, y)


def test_stack_with_a_fusion_level_fuses_missing_modalities(data):
    X, y = data
    pattern = np.random.RandomState(2).uniform(size=(len(X), 3)) > 0.3
    pattern[~pattern.any(axis=1), 0] = True
    X_missing = blank(X, pattern)
    level = FusionClassifier(classifiers(), views=VIEWS)
    # The level's fused probabilities are renormalised over the members present; its
    # transform (every member's probabilities) has NaN where a member is missing.
    stack = SerialStack([("fusion", level), ("final", LogisticRegression())], cv=3,
                        stack_method="predict_proba").fit(X_missing, y)
    fused = stack.named_steps_["fusion"].predict_proba(X_missing)
    assert_allclose(stack.predict_proba(X_missing),
                    stack.named_steps_["final"].predict_proba(fused))
    assert np.isnan(stack.named_steps_["fusion"].transform(X_missing)).any()
    with pytest.raises(ValueError, match="NaN"):
        SerialStack([("lr", LogisticRegression()), ("final", LogisticRegression())],
                    cv=3).fit(X_missing, y)


def test_a_fusion_level_passing_its_members_nan_names_the_way_out(data):
    # Under the default stack_method, the level passes each member's own output, NaN
    # for a missing member: a next step that takes no NaN failed in scikit-learn's words,
    # which named neither the level nor stack_method="predict_proba".
    X, y = data
    pattern = np.random.RandomState(2).uniform(size=(len(X), 3)) > 0.3
    pattern[~pattern.any(axis=1), 0] = True
    X_missing = blank(X, pattern)

    def stack(final, **kwargs):
        return SerialStack([("fusion", FusionClassifier(classifiers(), views=VIEWS)),
                            ("final", final)], cv=3, **kwargs)

    refusal = (r"step 'fusion' passes NaN on \d+ row\(s\) for its members whose view is "
               r"missing there \(it passes each member's own output under stack_method "
               r"'auto'\).*step 'final' \(LogisticRegression\) does not take NaN "
               r".*stack_method=\{'fusion': 'predict_proba'\}")
    with pytest.raises(ValueError, match=refusal):
        stack(LogisticRegression()).fit(X_missing, y)
    # The refusal names the method the user set (a regressor level's "auto" was
    # reported as the "transform" it resolves to).
    with pytest.raises(ValueError, match="under stack_method 'transform'"):
        stack(LogisticRegression(), stack_method="transform").fit(X_missing, y)
    regressors = [(name, Ridge()) for name in VIEWS]
    for method in ("auto", {"fusion": "auto"}, "transform"):
        level = SerialStack([("fusion", FusionRegressor(regressors, views=VIEWS)),
                             ("final", Ridge())], cv=3, stack_method=method)
        named = method if isinstance(method, str) else method["fusion"]
        with pytest.raises(ValueError, match=f"under stack_method '{named}'"):
            level.fit(X_missing, y.astype(float))
    complete = stack(LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match=refusal):
        complete.predict(X_missing)
    # A next step that takes NaN gets them, as before.
    taking = stack(HistGradientBoostingClassifier(max_iter=10)).fit(X_missing, y)
    assert taking.predict_proba(X_missing).shape == (len(X), len(np.unique(y)))


# -- members that impute -------------------------------------------------------------


class ConservativeHGB(HistGradientBoostingClassifier):
    """Takes NaN, but its tags say it does not (as many third-party estimators' do)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _imputing_members():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    return {
        "pipeline": make_pipeline(SimpleImputer(), LogisticRegression()),
        "hgb": HistGradientBoostingClassifier(max_iter=20, random_state=0),
        "columns": make_pipeline(
            ColumnTransformer([("impute", SimpleImputer(), [0, 1, 2, 3])]),
            LogisticRegression()),
        # Tags that say no NaN, on estimators that take it: tried, not trusted.
        "conservative": ConservativeHGB(max_iter=20, random_state=0),
        "calibrated": CalibratedClassifierCV(
            HistGradientBoostingClassifier(max_iter=10, random_state=0), cv=3),
    }


@pytest.mark.parametrize("kind", ["pipeline", "hgb", "columns", "conservative", "calibrated"])
def test_a_member_that_takes_nan_is_accepted_in_every_composite(data, kind):
    X, y = data
    X = X.copy()
    X[::9, 1] = np.nan  # partly missing rows: the member itself must take NaN
    member = _imputing_members()[kind]
    composites = [
        FusionClassifier([("m", clone(member)), ("nb", GaussianNB())],
                         views={"nb": [0, 2, 3, 4, 5]}),
        FusionClassifier([("m", clone(member)), ("nb", GaussianNB())], weights="optimize",
                         views={"nb": [0, 2, 3, 4, 5]}, cv=3, random_state=0),
        SerialStack([("m", clone(member)), ("final", LogisticRegression())], cv=3),
        SerialStack([("m", clone(member)), ("tree", DecisionTreeClassifier(max_depth=3))],
                    exit_threshold=0.9, cv=3),
        SerialStack([("fusion", FusionClassifier([("m", clone(member)),
                                                  ("tree", DecisionTreeClassifier())])),
                     ("final", LogisticRegression())], cv=3),
    ]
    for composite in composites:
        proba = composite.fit(X, y).predict_proba(X)
        assert np.isfinite(proba).all() and proba.shape == (len(y), len(np.unique(y)))
    # The fitted member is the one trained on the NaN rows, not a stand-in.
    fusion = composites[0]
    alone = clone(member).fit(X, y)
    if kind in ("pipeline", "columns", "conservative", "hgb"):
        assert_allclose(fusion.named_estimators_["m"].predict_proba(X), alone.predict_proba(X))


def test_a_member_that_hands_nan_on_is_refused_by_name_with_the_ways_on(data):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data
    X_nan = X.copy()
    X_nan[::9, 1] = np.nan
    # StandardScaler's tags take NaN, but it hands them on to LogisticRegression.
    member = make_pipeline(StandardScaler(), LogisticRegression())
    expected = ("member 'm' \\(Pipeline\\) does not accept NaN, and its view is partly "
                "missing \\(NaN\\) on 34 row\\(s\\); tried on a few of them, it raised: "
                "Input X contains NaN\\. Impute inside the estimator \\(a Pipeline with "
                "SimpleImputer first\\), or use one that takes NaN")
    fusion = FusionClassifier([("m", member), ("nb", GaussianNB())],
                              views={"nb": [0, 2, 3, 4, 5]})
    with pytest.raises(ValueError, match=expected):
        fusion.fit(X_nan, y)
    with pytest.raises(ValueError, match="step 'm' \\(Pipeline\\) does not accept NaN.*"
                                         "SimpleImputer first.*FusionClassifier with views"):
        SerialStack([("m", member), ("final", LogisticRegression())], cv=3).fit(X_nan, y)
    assert not hasattr(member, "n_features_in_")  # tried on a clone, never the user's
    # At predict time the fitted member is asked, and refused the same way; a member
    # bagged over its fold fits (learned weights, refit=False) by its own class.
    fusion.fit(X, y)
    with pytest.raises(ValueError, match=expected):
        fusion.predict(X_nan)
    fusion.set_params(weights="optimize", refit=False).fit(X, y)
    with pytest.raises(ValueError, match=expected):
        fusion.predict(X_nan)


def test_a_frozen_member_is_asked_about_nan_never_refitted(data):
    from sklearn.frozen import FrozenEstimator
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    X, y = data
    X_nan = X.copy()
    X_nan[::9, 1] = np.nan
    prefit = make_pipeline(SimpleImputer(), LogisticRegression()).fit(X[:100], y[:100])
    coef = prefit[-1].coef_.copy()
    nb_view = {"nb": [0, 2, 3, 4, 5]}
    fusion = FusionClassifier([("m", FrozenEstimator(prefit)), ("nb", GaussianNB())],
                              views=nb_view)
    fusion.fit(X_nan, y)
    assert_array_equal(prefit[-1].coef_, coef)
    assert_allclose(fusion.named_estimators_["m"].predict_proba(X_nan),
                    prefit.predict_proba(X_nan))
    lr = LogisticRegression().fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="member 'm' \\(FrozenEstimator\\) does not accept"):
        FusionClassifier([("m", FrozenEstimator(lr)), ("nb", GaussianNB())],
                         views=nb_view).fit(X_nan, y)


# -- members without a view are asked about every row ----------------------------------


def _all_nan_rows(data, count=30):
    """Data whose first ``count`` rows are wholly NaN, all of the class 1."""
    X, y = data
    X, y = X.copy(), y.copy()
    X[:count], y[:count] = np.nan, 1
    return X, y


def test_a_member_without_a_view_is_asked_about_wholly_missing_rows(data):
    # As in VotingClassifier: a row whose every value is NaN is data, not a missing
    # modality, for a member given no view; nothing is dropped from its fit.
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import VotingClassifier

    X, y = _all_nan_rows(data)
    hgb = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    fusion = FusionClassifier([("h", hgb)]).fit(X, y)
    voting = VotingClassifier([("h", hgb)], voting="soft").fit(X, y)
    assert_allclose(fusion.predict_proba(X), voting.predict_proba(X))
    prior = FusionClassifier([("d", DummyClassifier())]).fit(X, y)
    assert_allclose(prior.named_estimators_["d"].class_prior_, np.bincount(y) / len(y))
    # A member given a view still sits out the rows where all of it is missing.
    viewed = FusionClassifier([("h", hgb), ("nb", GaussianNB())],
                              views={"nb": [0, 1]}).fit(X[10:], y[10:])
    assert viewed.named_estimators_["nb"].class_count_.sum() == len(y) - 30


def test_a_member_without_a_view_that_refuses_nan_is_named(data):
    X, y = _all_nan_rows(data)
    fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())])
    with pytest.raises(ValueError, match=r"member 'lr' \(LogisticRegression\) does not accept "
                       r"NaN, and its view is missing \(NaN\) on 30 row\(s\).*Without a view, "
                       r"every row is passed to it"):
        fusion.fit(X, y)


def test_steps_and_experts_without_a_view_are_asked_about_wholly_missing_rows(data):
    from skfuse import MixtureOfExpertsClassifier

    X, y = _all_nan_rows(data)
    hgb = HistGradientBoostingClassifier(max_iter=10, random_state=0)
    cascade = SerialStack([("small", clone(hgb).set_params(max_iter=3)), ("big", hgb)],
                          exit_threshold=0.9, cv=3).fit(X, y)
    # Every step was trained on those rows and is asked about them: on a row it
    # answers, the cascade predicts what that step does.
    route = cascade.predict_route(X[:30])
    steps = [est for _, est in cascade.steps_]
    by_step = np.array([steps[r].predict(X[i : i + 1])[0] for i, r in zip(range(30), route)])
    assert_array_equal(cascade.predict(X[:30]), by_step)
    assert (route >= 0).all()
    mixture = MixtureOfExpertsClassifier(hgb, n_experts=2, gate=clone(hgb), max_iter=3,
                                         random_state=0).fit(X, y)
    assert np.isfinite(mixture.predict_proba(X[:30])).all()


def test_a_nested_nan_refusal_gives_its_advice_once():
    X, y = make_classification(n_samples=120, n_features=6, random_state=0)
    X[:20, 0] = np.nan  # part of the inner member's view: not a missing modality
    inner = FusionClassifier([("lr", LogisticRegression())], views={"lr": [0, 1, 2]})
    outer = FusionClassifier([("inner", inner), ("nb", GaussianNB())],
                             views={"inner": [0, 1, 2], "nb": [3, 4, 5]})
    with pytest.raises(ValueError, match="member 'inner'") as refused:
        outer.fit(X, y)
    message = str(refused.value)
    assert "member 'lr' (LogisticRegression) does not accept NaN" in message
    assert message.count("Impute inside the estimator") == 1
    assert message.count("A row is a missing modality only") == 1


# -- what the tags say about NaN, sparse X and determinism ---------------------------


def _pipelines():
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    hgb = HistGradientBoostingClassifier(max_iter=10)
    return {  # pipeline -> whether it takes NaN
        "scaler, then a model without NaN": (
            make_pipeline(StandardScaler(), LogisticRegression()), False),
        "imputer, then the model": (make_pipeline(SimpleImputer(), LogisticRegression()), True),
        "scaler, imputer, model": (
            make_pipeline(StandardScaler(), SimpleImputer(), LogisticRegression()), True),
        "scaler, then a model with NaN": (make_pipeline(StandardScaler(), hgb), True),
        "columns scaled, then the model": (make_pipeline(
            ColumnTransformer([("s", StandardScaler(), [0])]), LogisticRegression()), False),
        "columns imputed, then the model": (make_pipeline(
            ColumnTransformer([("i", SimpleImputer(), [0])]), LogisticRegression()), True),
        "columns imputed, others passed on": (make_pipeline(
            ColumnTransformer([("i", SimpleImputer(), [0])], remainder="passthrough"),
            LogisticRegression()), False),
    }


@pytest.mark.parametrize("case", list(_pipelines()))
def test_a_pipeline_takes_nan_only_when_a_step_removes_it_before_a_step_that_cannot(
        data, case):
    # A scaler's tags allow NaN, which it hands on: its pipeline's composites said they
    # took NaN, then fit refused it.
    pipeline, takes = _pipelines()[case]
    fusion = FusionClassifier([("m", pipeline), ("hgb", HistGradientBoostingClassifier(
        max_iter=10))])
    assert get_tags(fusion).input_tags.allow_nan is takes
    X, y = data
    X = X.copy()
    X[::9, 0] = X[1::9, 1] = np.nan
    if takes:
        fusion.fit(X, y)
    else:
        with pytest.raises(ValueError, match="does not accept NaN"):
            fusion.fit(X, y)


def test_a_mixture_s_tags_count_its_gate():
    import scipy.sparse as sp
    from sklearn.ensemble import HistGradientBoostingRegressor

    from skfuse import MixtureOfExpertsRegressor

    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = np.where(X[:, 0] > 0, X[:, 1], -X[:, 1])
    tree_gate = MixtureOfExpertsRegressor([("a", Ridge()), ("b", Ridge())],
                                          gate=HistGradientBoostingClassifier(max_iter=10))
    assert get_tags(tree_gate).input_tags.sparse is False  # the gate takes no sparse X
    with pytest.raises(TypeError, match="dense data is required"):
        tree_gate.fit(sp.csr_matrix(X), y)
    assert get_tags(MixtureOfExpertsRegressor([("a", Ridge()), ("b", Ridge())]))\
        .input_tags.sparse is True  # the built-in gate takes it
    # NaN: every expert and the gate must take it; the built-in gate does not.
    trees = [(name, HistGradientBoostingRegressor(max_iter=10)) for name in "ab"]
    assert not get_tags(MixtureOfExpertsRegressor(trees)).input_tags.allow_nan
    with_nan = MixtureOfExpertsRegressor(trees, gate=HistGradientBoostingClassifier(
        max_iter=10), max_iter=3, random_state=0)
    assert get_tags(with_nan).input_tags.allow_nan
    X[::7, 1] = np.nan
    assert np.isfinite(with_nan.fit(X, y).predict(X)).all()


class NonDeterministicLR(LogisticRegression):
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        return tags


def test_composites_say_a_member_is_not_deterministic():
    from skfuse import DistilledClassifier, MixtureOfExpertsClassifier

    odd = NonDeterministicLR()
    for composite in [FusionClassifier([("odd", odd), ("nb", GaussianNB())]),
                      SerialStack([("nb", GaussianNB()), ("odd", odd)]),
                      MixtureOfExpertsClassifier([("odd", odd), ("lr", LogisticRegression())]),
                      DistilledClassifier(odd, DecisionTreeClassifier())]:
        assert get_tags(composite).non_deterministic, type(composite).__name__
        plain = clone(composite).set_params(odd=LogisticRegression()) \
            if not isinstance(composite, DistilledClassifier) \
            else clone(composite).set_params(teacher=LogisticRegression())
        assert not get_tags(plain).non_deterministic, type(composite).__name__


def _two_views_missing_on_rows():
    X, y = make_classification(n_samples=200, n_features=4, n_informative=4,
                               n_redundant=0, random_state=0)
    X[:20, :2] = np.nan  # member a's whole view missing on 20 rows
    return X, y


@pytest.mark.parametrize("make", [
    lambda: FusionClassifier([("a", LogisticRegression()), ("b", LogisticRegression())],
                             views={"a": [0, 1], "b": [2, 3]}, weights="optimize", cv=3),
    lambda: SerialStack([("a", LogisticRegression()), ("b", LogisticRegression())],
                        views={"a": [0, 1], "b": [2, 3]}, exit_threshold=0.8),
])
def test_a_sparse_view_stored_as_nan_is_a_missing_modality_as_dense(make):
    # Sparse X was never read for NaN: the member was handed the rows and failed with
    # scikit-learn's raw "Input X contains NaN".
    from scipy import sparse

    X, y = _two_views_missing_on_rows()
    dense = make().fit(X, y).predict_proba(X)
    as_sparse = make().fit(sparse.csr_matrix(X), y).predict_proba(sparse.csr_matrix(X))
    assert_allclose(as_sparse, dense, atol=1e-12)
    partly = X.copy()
    partly[30, 2] = np.nan
    with pytest.raises(ValueError, match=r"member 'b' \(LogisticRegression\) does not "
                                         r"accept NaN, and its view is partly missing"):
        FusionClassifier([("a", LogisticRegression()), ("b", LogisticRegression())],
                         views={"a": [0, 1], "b": [2, 3]}).fit(sparse.csr_matrix(partly), y)


@pytest.mark.parametrize("nan", [np.float32("nan"), np.float16("nan")])
def test_a_narrow_float_nan_in_an_object_column_is_missing(nan):
    # Only a Python float (NumPy's float64 is one) was read as NaN.
    X = np.empty((4, 2), dtype=object)
    X[:, 0] = ["x", "y", nan, None]
    X[:, 1] = [1.0, nan, nan, None]
    assert_array_equal(rows_present(X, [0, 1]), [True, True, False, False])


def test_nullable_float_columns_with_na_read_as_nan():
    # pandas before 3 refuses to_numpy(float64) on a Float64 column holding pd.NA
    # unless told na_value: the fusion's infinity check, the distiller's NaN check
    # and the mixture's gate columns failed with pandas' "cannot convert" error.
    pd = pytest.importorskip("pandas")
    from sklearn.ensemble import HistGradientBoostingRegressor

    from skfuse import DistilledClassifier, MixtureOfExpertsRegressor

    rng = np.random.RandomState(0)
    X = pd.DataFrame({"f": pd.array(rng.randn(120), dtype="Float64"), "g": rng.randn(120)})
    X.loc[:9, "f"] = pd.NA
    y = (X["g"] > 0).to_numpy().astype(int)
    booster = HistGradientBoostingClassifier(max_iter=5)
    for composite in (FusionClassifier([("hgb", booster)]),
                      DistilledClassifier(booster, clone(booster), random_state=0)):
        assert np.isin(composite.fit(X, y).predict(X), [0, 1]).all()
    mixture = MixtureOfExpertsRegressor(HistGradientBoostingRegressor(max_iter=5),
                                        random_state=0)
    with pytest.raises(ValueError, match="the gate's columns hold NaN on 10 row"):
        mixture.fit(X, X["g"].to_numpy())


def test_a_member_is_asked_about_nan_with_finite_checks_on():
    # Under assume_finite=True LogisticRegression raised nothing when asked about NaN,
    # so it was fitted on them (coefficients all 0) and a stack predicted NaN.
    import sklearn

    X, y = make_classification(200, 6, random_state=0)
    X[3, 1] = np.nan
    members = [("lr", LogisticRegression()),
               ("dt", DecisionTreeClassifier(max_depth=3, random_state=0))]
    composites = [FusionClassifier(members),
                  SerialStack([("fusion", FusionClassifier(members)),
                               ("final", LogisticRegression())], cv=3)]
    for composite in composites:
        with sklearn.config_context(assume_finite=True), pytest.raises(
                ValueError, match="member 'lr' \\(LogisticRegression\\) does not accept NaN"):
            composite.fit(X, y)
    fitted = composites[1].fit(np.nan_to_num(X), y)
    with sklearn.config_context(assume_finite=True), pytest.raises(
            ValueError, match="does not accept NaN"):
        fitted.predict_proba(X)
