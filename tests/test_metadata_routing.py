"""Metadata routing: sample_weight to the members that ask for it, groups to the splitter."""

import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose
from sklearn.base import is_classifier
from sklearn.datasets import make_classification, make_regression
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss
from sklearn.model_selection import GroupKFold, KFold, cross_val_predict
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from skfuse import (
    DistilledClassifier,
    FusionClassifier,
    FusionRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SerialStack,
)

X, Y = make_classification(n_samples=180, n_features=6, n_informative=4, random_state=0)
X_REG, Y_REG = make_regression(n_samples=180, n_features=6, noise=1.0, random_state=0)
GROUPS = np.arange(180) // 6  # 30 groups of 6 consecutive rows


class RecordingGroupKFold(GroupKFold):
    """A GroupKFold that keeps the folds it made."""

    def split(self, X, y=None, groups=None):
        self.groups_ = np.asarray(groups)
        self.folds_ = list(super().split(X, y, groups))
        return iter(self.folds_)


class WeightRecorder(LogisticRegression):
    """A logistic regression that notes whether fit got sample_weight."""

    def fit(self, X, y, sample_weight=None):
        self.got_weight_ = sample_weight is not None
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def no_group_split(folds, groups):
    return all(not set(groups[train]) & set(groups[test]) for train, test in folds)


@pytest.mark.parametrize("make", [
    lambda: FusionClassifier([("lr", LogisticRegression())], cv=3),
    lambda: SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())], cv=3),
    lambda: MixtureOfExpertsClassifier(n_experts=2, max_iter=3),
])
def test_without_routing_only_sample_weight_is_taken(make):
    with pytest.raises(TypeError, match=r"unexpected argument\(s\) \['groups'\].*"
                                        "enable_metadata_routing"):
        make().fit(X, Y, groups=GROUPS)


@pytest.mark.parametrize("routed", [False, True])
def test_group_folds_without_groups_say_how_to_pass_them(routed):
    from sklearn.model_selection import GridSearchCV

    fusion = FusionClassifier([("lr", LogisticRegression())], weights="optimize",
                              cv=GroupKFold(3))
    search = GridSearchCV(fusion, {"lr__C": [0.1, 1.0]}, cv=GroupKFold(3),
                          error_score="raise")
    with sklearn.config_context(enable_metadata_routing=routed), \
            pytest.raises(ValueError, match=r"FusionClassifier: cv=GroupKFold.*splits by "
                                            r"groups.*enable_metadata_routing=True"):
        fusion.fit(X, Y) if routed else search.fit(X, Y, groups=GROUPS)


def test_fusion_learns_weights_on_group_folds(routing):
    cv = RecordingGroupKFold(3)
    members = [("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(max_depth=3,
                                                                               random_state=0))]
    fusion = FusionClassifier(members, weights="optimize", cv=cv).fit(X, Y, groups=GROUPS)
    assert len(cv.folds_) == 3 and no_group_split(cv.folds_, GROUPS)
    # The out-of-fold score of each member is that of cross_val_predict on those folds.
    for name, est in members:
        oof = cross_val_predict(est, X, Y, cv=cv.folds_, method="predict_proba")
        assert fusion.member_scores_[name] == pytest.approx(-log_loss(Y, oof), rel=1e-9)


@pytest.mark.parametrize("exit_threshold", [None, "auto"])
def test_serial_stack_uses_group_folds(routing, exit_threshold):
    cv = RecordingGroupKFold(3)
    stack = SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())], cv=cv,
                        exit_threshold=exit_threshold).fit(X, Y, groups=GROUPS)
    assert len(cv.folds_) == 3 and no_group_split(cv.folds_, GROUPS)
    same_folds = SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())],
                             cv=cv.folds_, exit_threshold=exit_threshold).fit(X, Y)
    assert_allclose(stack.predict_proba(X), same_folds.predict_proba(X), rtol=1e-12)


def test_mixture_routes_groups_to_an_expert_that_uses_them(routing):
    expert = FusionRegressor([("ridge", Ridge().set_fit_request(sample_weight=True))],
                             weights="optimize", cv=RecordingGroupKFold(2))
    moe = MixtureOfExpertsRegressor(expert, n_experts=2, top_k=1, max_iter=3,
                                    random_state=0).fit(X_REG, Y_REG, groups=GROUPS)
    for fitted in moe.experts_:
        cv = fitted.cv  # the expert's own (cloned) splitter
        # The expert is fitted on its rows only (top_k=1), with their groups.
        assert len(cv.groups_) == sum(len(test) for _, test in cv.folds_) < len(Y_REG)
        assert set(cv.groups_) <= set(GROUPS)
        assert no_group_split(cv.folds_, cv.groups_)


def test_sample_weight_reaches_only_the_members_that_request_it(routing):
    members = [("asks", WeightRecorder().set_fit_request(sample_weight=True)),
               ("declines", WeightRecorder().set_fit_request(sample_weight=False))]
    weights = np.where(Y == 1, 3.0, 1.0)
    fusion = FusionClassifier(members, weights="optimize", refit=True, cv=3).fit(
        X, Y, sample_weight=weights)
    assert fusion.named_estimators_["asks"].got_weight_
    assert not fusion.named_estimators_["declines"].got_weight_
    bagged = FusionClassifier(members, weights="optimize", cv=3).fit(X, Y,
                                                                     sample_weight=weights)
    assert all(fit.got_weight_ for fit in bagged.named_estimators_["asks"].estimators)
    assert not any(fit.got_weight_ for fit in bagged.named_estimators_["declines"].estimators)
    stack = SerialStack(members, cv=3).fit(X, Y, sample_weight=weights)
    assert stack.named_steps_["asks"].got_weight_
    assert not stack.named_steps_["declines"].got_weight_
    with pytest.raises(Exception, match="set_fit_request"):  # a member that did not say
        FusionClassifier([("lr", LogisticRegression())]).fit(X, Y, sample_weight=weights)


def test_unit_weights_equal_none_and_skewed_weights_matter_under_routing(routing):
    members = [("lr", LogisticRegression().set_fit_request(sample_weight=True)),
               ("nb", GaussianNB().set_fit_request(sample_weight=True))]
    plain = FusionClassifier(members, weights="optimize", cv=3).fit(X, Y)
    unit = FusionClassifier(members, weights="optimize", cv=3).fit(
        X, Y, sample_weight=np.ones(len(Y)))
    skewed = FusionClassifier(members, weights="optimize", cv=3).fit(
        X, Y, sample_weight=np.where(Y == 1, 10.0, 1.0))
    assert_allclose(unit.predict_proba(X), plain.predict_proba(X), rtol=1e-7)
    assert not np.allclose(skewed.predict_proba(X), plain.predict_proba(X))


def test_a_search_passes_weights_to_a_composite_that_asks_for_them(routing):
    # The composite uses sample_weight itself, so it must ask for it, in fit and score
    # (as CalibratedClassifierCV must); then the members that ask get it too.
    from sklearn.model_selection import GridSearchCV

    members = [("asks", WeightRecorder().set_fit_request(sample_weight=True)),
               ("declines", WeightRecorder().set_fit_request(sample_weight=False))]
    weights = np.where(Y == 1, 3.0, 1.0)
    fusion = FusionClassifier(members, weights="optimize", cv=RecordingGroupKFold(3))
    search = GridSearchCV(fusion, {"asks__C": [0.1, 1.0]}, cv=GroupKFold(3))
    from sklearn.exceptions import UnsetMetadataPassedError

    with pytest.raises(UnsetMetadataPassedError, match="FusionClassifier.set_fit_request"):
        search.fit(X, Y, groups=GROUPS, sample_weight=weights)
    fusion.set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
    search.fit(X, Y, groups=GROUPS, sample_weight=weights)
    best = search.best_estimator_
    assert all(fit.got_weight_ for fit in best.named_estimators_["asks"].estimators)
    assert not any(fit.got_weight_ for fit in best.named_estimators_["declines"].estimators)
    assert no_group_split(best.cv.folds_, GROUPS)


@pytest.mark.parametrize("make", [
    lambda lr: FusionClassifier([("lr", lr)], weights="optimize", cv=3, refit=False),
    lambda lr: SerialStack([("lr", lr), ("nb", GaussianNB())], cv=3),  # fitted by fold
])
@pytest.mark.parametrize("index", ["shuffled", "gapped"])
def test_routed_metadata_in_a_series_is_taken_by_position(routing, make, index):
    # scikit-learn slices per-row metadata by position; a pandas Series whose index is
    # not 0..n-1 was sliced by label (wrong rows' weights, or a KeyError).
    pd = pytest.importorskip("pandas")
    weights = np.random.RandomState(0).randint(0, 3, len(Y)).astype(float)
    labels = (np.random.RandomState(1).permutation(len(Y)) if index == "shuffled"
              else np.arange(len(Y)) * 3 + 7)
    lr = LogisticRegression().set_fit_request(sample_weight="w")
    from_series = make(lr).fit(X, Y, w=pd.Series(weights, index=labels))
    from_array = make(lr).fit(X, Y, w=weights)
    assert_allclose(from_series.predict_proba(X), from_array.predict_proba(X), rtol=1e-12)


def test_group_series_reaches_a_nested_splitter_by_position(routing):
    pd = pytest.importorskip("pandas")
    labels = np.random.RandomState(1).permutation(len(Y))

    def mixture():
        experts = [(name, FusionClassifier(
            [("lr", LogisticRegression().set_fit_request(sample_weight=True))],
            weights="optimize", cv=RecordingGroupKFold(2))) for name in ("a", "b")]
        return MixtureOfExpertsClassifier(experts, max_iter=2, validation_fraction=None,
                                          random_state=0)

    from_series = mixture().fit(X, Y, groups=pd.Series(GROUPS, index=labels))
    for fitted in from_series.experts_:
        assert set(fitted.cv.groups_) <= set(GROUPS)
        assert no_group_split(fitted.cv.folds_, fitted.cv.groups_)
    from_array = mixture().fit(X, Y, groups=GROUPS)
    assert_allclose(from_series.predict_proba(X), from_array.predict_proba(X), rtol=1e-12)


def test_mixture_refuses_sample_weight_an_expert_requests_under_an_alias(routing):
    # EM weights the experts; weights routed under another name were silently dropped.
    expert = Ridge().set_fit_request(sample_weight="w")
    moe = MixtureOfExpertsRegressor(expert, n_experts=2, max_iter=3, random_state=0)
    with pytest.raises(TypeError, match=r"request sample_weight under another name.*"
                                        r"fit\(\.\.\., sample_weight=\.\.\.\)"):
        moe.fit(X_REG, Y_REG, w=np.ones(len(Y_REG)))
    # Requested under its own name, the mixture's sample_weight reaches EM as before.
    plain = MixtureOfExpertsRegressor(Ridge().set_fit_request(sample_weight=True),
                                      n_experts=2, max_iter=3, random_state=0)
    plain.fit(X_REG, Y_REG, sample_weight=np.ones(len(Y_REG)))


class SideTaker(LogisticRegression):
    """A logistic regression whose fit takes ``side``, per-row metadata; it notes how
    many rows of it each fit got."""

    def fit(self, X, y, sample_weight=None, side=None):
        self.side_rows_ = None if side is None else side.shape[0]
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("make", [
    lambda members: FusionClassifier(members, weights="optimize", refit=True,
                                     cv=RecordingGroupKFold(3)),
    lambda members: SerialStack(members, cv=RecordingGroupKFold(3)),
])
def test_a_member_named_splitter_keeps_its_route(routing, make):
    # The splitter's entry was keyed "splitter" and replaced a member of that name.
    members = [("splitter", SideTaker().set_fit_request(side=True)),
               ("lr", LogisticRegression())]
    composite = make(members).fit(X, Y, groups=GROUPS, side=np.ones((180, 2)))
    assert no_group_split(composite.cv.folds_, GROUPS)
    fitted = dict(getattr(composite, "steps_", None) or composite.named_estimators_.items())
    assert fitted["splitter"].side_rows_ == 180


@pytest.mark.parametrize("make", [
    lambda member: FusionClassifier([("m", member)], weights="optimize", refit=True, cv=3),
    lambda member: SerialStack([("m", member), ("lr", LogisticRegression())], cv=3),
])
def test_sparse_per_row_metadata_is_taken_at_each_fits_rows(routing, make):
    # A sparse matrix has no len(): taking its rows failed ("sparse array length is
    # ambiguous"), where scikit-learn's cross_val_predict takes them.
    from scipy import sparse

    side = sparse.random(180, 4, density=0.3, format="csr", random_state=0)
    composite = make(SideTaker().set_fit_request(side=True)).fit(X, Y, side=side)
    fitted = dict(getattr(composite, "steps_", None) or composite.named_estimators_.items())
    assert fitted["m"].side_rows_ == 180


class ItemsTaker(LogisticRegression):
    """A logistic regression whose fit takes ``items``, per-row metadata of any
    sequence; it keeps what each of its fits got."""

    got = []

    def fit(self, X, y, sample_weight=None, items=None):
        ItemsTaker.got.append(items)
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("kind", [list, tuple])
@pytest.mark.parametrize("make", [
    lambda member: FusionClassifier([("m", member)], weights="optimize", refit=True,
                                    cv=KFold(3)),
    lambda member: SerialStack([("m", member), ("lr", LogisticRegression())], cv=KFold(3)),
])
def test_per_row_metadata_in_a_list_or_tuple_keeps_its_items(routing, make, kind):
    # Lists went through np.asarray: mixed items became strings (3 -> '3'), token lists
    # of different lengths failed; a tuple failed ("only integer scalar arrays").
    items = kind([[i] * (i % 3) if i % 2 else i for i in range(180)])
    ItemsTaker.got = []
    make(ItemsTaker().set_fit_request(items=True)).fit(X, Y, items=items)
    folds = [test for _, test in KFold(3).split(X)]
    fold_items = [got for got in ItemsTaker.got if len(got) < 180]
    assert len(fold_items) == 3
    assert all(isinstance(got, list) for got in fold_items)
    expected = [[items[i] for i in np.setdiff1d(np.arange(180), test)] for test in folds]
    assert sorted(map(repr, fold_items)) == sorted(map(repr, expected))


def test_a_gate_or_a_student_that_requests_metadata_is_refused(routing):
    # They are fitted on rows of the composite's making, and the metadata never reached
    # them: silently, beside a member that requested it too, or as "not routed to any
    # object" alone.
    from skfuse import DistilledClassifier

    side = np.ones((180, 2))
    asking = SideTaker().set_fit_request(side=True)
    mixture = MixtureOfExpertsClassifier(SideTaker().set_fit_request(side=True),
                                         n_experts=2, gate=asking, max_iter=2)
    with pytest.raises(TypeError, match=r"the gate \(SideTaker\) requests \['side'\] at "
                                        "fit, which MixtureOfExpertsClassifier does not"):
        mixture.fit(X, Y, side=side)
    for teacher in (SideTaker().set_fit_request(side=True), LogisticRegression()):
        with pytest.raises(TypeError, match=r"the student \(SideTaker\) requests "):
            DistilledClassifier(teacher, asking, cv=3).fit(X, Y, side=side)
    declining = LogisticRegression().set_fit_request(sample_weight=False)
    with pytest.raises(TypeError, match=r"the student \(LogisticRegression\) declines "
                                        "sample_weight"):
        DistilledClassifier(LogisticRegression(), declining, cv=3).fit(X, Y)
    # A mixture weights its experts by their responsibilities: one that declines
    # sample_weight was fitted with them all the same.
    for experts in (declining, [("a", LogisticRegression()), ("b", declining)]):
        with pytest.raises(TypeError, match=r"expert '(expert0|b)' \(LogisticRegression\) "
                                            "declines sample_weight"):
            MixtureOfExpertsClassifier(experts, n_experts=2, max_iter=2).fit(X, Y)
    # A request for metadata that fit is not given stands in no one's way.
    DistilledClassifier(LogisticRegression(), asking, cv=3).fit(X, Y)


@pytest.mark.parametrize("make", [
    lambda: MixtureOfExpertsClassifier(LogisticRegression(), n_experts=2, random_state=0),
    lambda: MixtureOfExpertsRegressor(Ridge(), n_experts=2, random_state=0),
])
def test_a_search_passes_weights_to_a_mixture_only_when_it_asks(routing, make):
    # EM weights the experts itself, so their unset requests do not ask for weights: a
    # search passed them on for the experts, and a mixture that declined them was
    # fitted weighted regardless. Declined, they now reach no one, which scikit-learn
    # refuses as it does for a Ridge that declines them; a direct call still uses them.
    from sklearn.model_selection import GridSearchCV

    X_, y_ = (X, Y) if is_classifier(make()) else (X_REG, Y_REG)
    weights = np.random.RandomState(0).uniform(0, 3, len(y_))
    method = "predict_proba" if is_classifier(make()) else "predict"
    weighted, unweighted = make().fit(X_, y_, sample_weight=weights), make().fit(X_, y_)
    assert not np.allclose(getattr(weighted, method)(X_), getattr(unweighted, method)(X_))

    def searched(request):
        estimator = make().set_fit_request(sample_weight=request).set_score_request(
            sample_weight=request)
        return GridSearchCV(estimator, {"random_state": [0]}, cv=2).fit(
            X_, y_, sample_weight=weights).best_estimator_

    with pytest.raises(TypeError, match="which are not routed to any object"):
        searched(False)
    ridge = Ridge().set_fit_request(sample_weight=False).set_score_request(sample_weight=False)
    with pytest.raises(TypeError, match="which are not routed to any object"):
        GridSearchCV(ridge, {"alpha": [1.0]}, cv=2).fit(X_REG, Y_REG, sample_weight=weights)
    assert_allclose(getattr(searched(True), method)(X_), getattr(weighted, method)(X_))
    declined = make().set_fit_request(sample_weight=False)
    assert_allclose(getattr(declined.fit(X_, y_, sample_weight=weights), method)(X_),
                    getattr(weighted, method)(X_))


class RidgeWeightRecorder(Ridge):
    """A ridge regression that notes whether fit got sample_weight."""

    def fit(self, X, y, sample_weight=None):
        self.got_weight_ = sample_weight is not None
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("last_request", [False, None])
def test_a_pipeline_whose_last_step_takes_no_weights_is_refused(routing, last_request):
    # An earlier step's request made the Pipeline look weighted: it was accepted as a
    # student, an expert or a gate, and its last step was fitted without the weights the
    # composite made for it (a duplicated student learned nothing: fidelity 0.49).
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from skfuse import DistilledClassifier

    def pipeline(last):
        return Pipeline([("scale", StandardScaler().set_fit_request(sample_weight=True)),
                         ("last", last.set_fit_request(sample_weight=last_request))])

    from sklearn.compose import TransformedTargetRegressor
    from sklearn.model_selection import GridSearchCV

    tree = DecisionTreeClassifier(max_depth=3, random_state=0)
    refusal = (r"\(Pipeline\) does not pass sample_weight to its last step 'last' "
               r"\({}\).*an earlier step's request alone leaves the fit unweighted")
    with pytest.raises(TypeError, match="the student " + refusal.format(
            "DecisionTreeClassifier")):
        DistilledClassifier(LogisticRegression(), pipeline(tree), cv=3).fit(X, Y)
    with pytest.raises(TypeError, match=refusal.format("Ridge")):
        MixtureOfExpertsRegressor(pipeline(Ridge()), n_experts=2, max_iter=2).fit(X_REG, Y_REG)
    with pytest.raises(TypeError, match=refusal.format("LogisticRegression")):
        MixtureOfExpertsClassifier(LogisticRegression(), n_experts=2, max_iter=2,
                                   gate=pipeline(LogisticRegression())).fit(X, Y)
    # Wrapped in a search or a TransformedTargetRegressor, it was accepted all the same.
    searched = GridSearchCV(pipeline(tree), {"last__max_depth": [3]}, cv=2)
    with pytest.raises(TypeError, match=r"the student \(GridSearchCV\) does not request"):
        DistilledClassifier(LogisticRegression(), searched, cv=3).fit(X, Y)
    for expert in (GridSearchCV(pipeline(Ridge()), {"last__alpha": [1.0]}, cv=2),
                   TransformedTargetRegressor(regressor=pipeline(Ridge()))):
        with pytest.raises(TypeError, match=rf"\({type(expert).__name__}\) does not "
                                            "request sample_weight"):
            MixtureOfExpertsRegressor(expert, n_experts=2, max_iter=2).fit(X_REG, Y_REG)
    # Asked for by the last step, the weights reach it: the scaled tree is the tree.
    student = pipeline(tree)
    student.steps[-1][1].set_fit_request(sample_weight=True)
    piped, bare = (DistilledClassifier(LogisticRegression(), s, cv=3, label_weight=0.0,
                                       random_state=0).fit(X, Y)
                   for s in (student, DecisionTreeClassifier(max_depth=3, random_state=0)))
    assert piped.fidelity_ == bare.fidelity_
    assert_allclose(piped.predict_proba(X), bare.predict_proba(X))


def test_a_mixture_routes_no_weights_to_a_pipeline_expert(routing):
    # A Pipeline expert kept its steps' requests in the mixture's routing, so a search
    # passed weights to a mixture that declined them (as if the expert took them); EM
    # gives its experts weights of its own making, which reach the step that asks.
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    expert = Pipeline([("scale", StandardScaler().set_fit_request(sample_weight=False)),
                       ("ridge", RidgeWeightRecorder().set_fit_request(sample_weight=True))])
    mixture = MixtureOfExpertsRegressor(expert, n_experts=2, max_iter=2, random_state=0)
    assert not mixture.get_metadata_routing().consumes("fit", ["sample_weight"])
    declined = mixture.set_fit_request(sample_weight=False).set_score_request(
        sample_weight=False)
    weights = np.random.RandomState(0).uniform(0, 3, len(Y_REG))
    with pytest.raises(TypeError, match="which are not routed to any object"):
        GridSearchCV(declined, {"random_state": [0]}, cv=2).fit(
            X_REG, Y_REG, sample_weight=weights)
    fitted = mixture.fit(X_REG, Y_REG)
    assert all(e.named_steps["ridge"].got_weight_ for e in fitted.experts_)
    assert expert.get_metadata_routing().consumes("fit", ["sample_weight"])
    # A search expert's scorer asks for them at score, which its fit routes to.
    from sklearn.metrics import make_scorer, r2_score

    scored = GridSearchCV(Ridge().set_fit_request(sample_weight=True), {"alpha": [1.0]},
                          cv=2, scoring=make_scorer(r2_score).set_score_request(
                              sample_weight=True))
    mixture = MixtureOfExpertsRegressor(scored, n_experts=2, max_iter=2, random_state=0)
    assert not mixture.get_metadata_routing().consumes("fit", ["sample_weight"])


def test_a_search_that_sets_a_parameter_of_an_estimator_it_swaps_in_is_taken(routing):
    # The grid sets "sel" and "sel__estimator" together; set alone on the search's
    # estimator, "sel__estimator" fell on "passthrough" and the check crashed.
    from sklearn.feature_selection import SelectFromModel
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    from skfuse import DistilledClassifier

    def declined(est):
        return est.set_fit_request(sample_weight=False)

    from sklearn.metrics import accuracy_score, make_scorer

    tree = DecisionTreeClassifier(max_depth=3, random_state=0).set_fit_request(
        sample_weight=True)
    # (A Pipeline's own score takes sample_weight before scikit-learn 1.9: the search
    # scores with a scorer that declines them.)
    search = GridSearchCV(Pipeline([("sel", "passthrough"), ("clf", tree)]),
                          {"sel": [SelectFromModel(declined(LogisticRegression()))],
                           "sel__estimator": [declined(LogisticRegression()),
                                              declined(DecisionTreeClassifier())]}, cv=2,
                          scoring=make_scorer(accuracy_score).set_score_request(
                              sample_weight=False))
    distilled = DistilledClassifier(LogisticRegression(), search, cv=3, random_state=0)
    assert distilled.fit(X, Y).predict(X).shape == Y.shape
    with sklearn.config_context(enable_metadata_routing=False):
        plain = GridSearchCV(Pipeline([("sel", "passthrough"), ("clf", DecisionTreeClassifier(
            max_depth=3, random_state=0))]), {"sel": [SelectFromModel(LogisticRegression())],
                                             "sel__estimator": [LogisticRegression()]}, cv=2)
        distilled = DistilledClassifier(LogisticRegression(), plain, cv=3, random_state=0)
        assert distilled.fit(X, Y).predict(X).shape == Y.shape


def test_a_search_candidate_set_with_its_parent_is_checked_for_weights():
    # "reg__regressor" swaps a KNN into the TransformedTargetRegressor that "reg" swaps
    # in: set alone it could not be, so the KNN candidate went unchecked and failed
    # inside the search (NaN scores) instead of being refused.
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import Pipeline

    from skfuse._tasks import weight_key

    def search(candidates):
        return GridSearchCV(Pipeline([("reg", Ridge())]),
                            {"reg": [TransformedTargetRegressor(regressor=Ridge())],
                             "reg__regressor": candidates}, cv=2)

    weights = np.random.RandomState(0).uniform(0.5, 2.0, len(Y_REG))
    knn = search([KNeighborsRegressor(), Ridge(alpha=2.0)])
    assert weight_key(knn) is None
    with pytest.raises(TypeError, match=r"member 's' \(GridSearchCV\) cannot hand "
                                        "sample_weight on"):
        FusionRegressor([("s", knn), ("r", Ridge())]).fit(X_REG, Y_REG, sample_weight=weights)
    assert isinstance(knn.param_grid["reg"][0].regressor, Ridge)  # the grid left as given
    assert weight_key(search([Ridge(), Ridge(alpha=2.0)])) == "reg__sample_weight"


def test_search_candidates_grow_with_the_sum_of_independent_lists():
    # Only lists that set one another are combined: six independent lists of five
    # estimators gave 15,625 candidates to check (24 s), not 30.
    from sklearn.model_selection import RandomizedSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

    from skfuse._tasks import _candidates

    scalers = [StandardScaler(), MinMaxScaler(), MaxAbsScaler(), "passthrough",
               StandardScaler(with_mean=False)]
    steps = [(f"s{i}", StandardScaler()) for i in range(5)] + [("reg", Ridge())]
    grid = {f"s{i}": scalers for i in range(5)}
    grid["reg"] = [Ridge(alpha=a) for a in (0.1, 1.0, 10.0, 100.0, 1000.0)]
    search = RandomizedSearchCV(Pipeline(steps), grid, n_iter=3, cv=2)
    assert len(list(_candidates(search))) == 30


class NoRouting:
    """A classifier outside scikit-learn's base classes without metadata routing (as
    CatBoost's): routing passes it nothing."""

    def __init__(self, C=1.0):
        self.C = C

    def get_params(self, deep=True):
        return {"C": self.C}

    def set_params(self, **params):
        self.C = params.get("C", self.C)
        return self

    def __sklearn_tags__(self):
        return LogisticRegression().__sklearn_tags__()

    def fit(self, X, y, sample_weight=None):
        self.got_weight_ = sample_weight is not None
        self.model_ = LogisticRegression(C=self.C).fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


def _fits(composite, is_teacher):
    """The fits of member "plain" (or the teacher) that take weights: the step of a
    Pipeline, each fold's fit of a bagged member."""
    if is_teacher:
        fits = [composite.teacher_]
    else:
        fitted = getattr(composite, "named_estimators_", None) or composite.named_steps_
        fits = getattr(fitted["plain"], "estimators", [fitted["plain"]])
    return [fit[-1] if isinstance(fit, Pipeline) else fit for fit in fits]


class NoRoutingNoWeights(NoRouting):
    """As :class:`NoRouting`, with a fit that takes no weights."""

    def fit(self, X, y):
        return super().fit(X, y)


def _scaled(step, request):
    return Pipeline([("scale", StandardScaler().set_fit_request(sample_weight=request)),
                     ("step", step)])


@pytest.mark.parametrize("make", [
    lambda m: FusionClassifier(m, cv=3),
    lambda m: SerialStack(m, cv=3),
    lambda m: DistilledClassifier(m[1][1], DecisionTreeClassifier(), cv=3),  # the teacher
])
def test_weights_that_routing_cannot_pass_a_member_are_not_dropped_silently(routing, make):
    asks = WeightRecorder().set_fit_request(sample_weight=True)
    weights = np.where(Y == 1, 3.0, 1.0)
    is_teacher = "Distilled" in type(make([("lr", asks), ("x", asks)])).__name__
    who = "'teacher'" if is_teacher else "'plain'"
    cases = {  # member: what the warning says of it
        NoRouting(): rf"{who} \(NoRouting\) does not implement metadata routing",
        # Whatever the rest of a Pipeline requests, its step gets no weights.
        _scaled(NoRouting(), True): rf"{who} \(Pipeline\) holds NoRouting, which does not",
        _scaled(NoRouting(), False): rf"{who} \(Pipeline\) holds NoRouting, which does not",
    }
    for member, message in cases.items():
        composite = make([("lr", asks), ("plain", member)])
        with pytest.warns(UserWarning, match=message + r".*cannot pass it the sample_weight "
                                                      r"given") as record:
            composite.fit(X, Y, sample_weight=weights)
        ours = [r for r in record if "metadata routing" in str(r.message)]
        assert len(ours) == 1 and ours[0].filename == __file__
        assert not any(fit.got_weight_ for fit in _fits(composite, is_teacher))
    # Declined, never fitted (frozen), taking no weights, or no weights given: silent.
    frozen = FrozenEstimator(NoRouting().fit(X, Y))
    inner = FusionClassifier([("b", NoRouting())], cv=3).set_fit_request(sample_weight=False)
    silent = [WeightRecorder().set_fit_request(sample_weight=False), frozen,
              Pipeline([("frozen", frozen)]), NoRoutingNoWeights(), inner]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*does not implement metadata routing")
        for member in silent:
            make([("lr", asks), ("plain", member)]).fit(X, Y, sample_weight=weights)
        make([("lr", asks), ("plain", NoRouting())]).fit(X, Y)


def test_a_nested_composite_warns_about_its_own_unroutable_member(routing):
    inner = FusionClassifier([("b", NoRouting())], cv=3).set_fit_request(sample_weight=True)
    outer = FusionClassifier([("inner", inner)], cv=3)
    with pytest.warns(UserWarning, match=r"'b' \(NoRouting\) does not implement") as record:
        outer.fit(X, Y, sample_weight=np.where(Y == 1, 3.0, 1.0))
    assert len([r for r in record if "metadata routing" in str(r.message)]) == 1


class _Fitter:
    """An object with a fit but no get_params (not an estimator clone takes)."""

    def fit(self, X):
        return self


class _Holding(WeightRecorder):
    """A logistic regression holding a :class:`_Fitter` as a parameter."""

    def __init__(self, helper=None, C=1.0):
        self.helper = helper
        super().__init__(C=C)


def test_a_member_holding_an_object_with_fit_is_fitted_under_routing(routing):
    # Looking for estimators without routing, the check cloned it ("Cannot clone
    # object"), failing the fit.
    member = _Holding(_Fitter()).set_fit_request(sample_weight=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*does not implement metadata routing")
        fusion = FusionClassifier([("h", member)], cv=3).fit(X, Y, sample_weight=2.0 * Y + 1)
    assert fusion.named_estimators_["h"].got_weight_


class _WeightedStep:
    """A Pipeline step that takes weights in fit but is no estimator (no get_params,
    no routing)."""

    def fit(self, X, y=None, sample_weight=None):
        self.got_weight_ = sample_weight is not None
        return self

    def transform(self, X):
        return X


def test_a_pipeline_step_that_is_no_estimator_is_named_when_routing_passes_it_nothing(
        routing):
    member = Pipeline([("step", _WeightedStep()),
                       ("lr", LogisticRegression().set_fit_request(sample_weight=True))])
    with pytest.warns(UserWarning, match=r"'m' \(Pipeline\) holds _WeightedStep, which "
                                         r"does not implement metadata routing"):
        fusion = FusionClassifier([("m", member)], cv=3).fit(X, Y, sample_weight=2.0 * Y + 1)
    assert not fusion.named_estimators_["m"].steps[0][1].got_weight_


def test_a_student_or_gate_whose_request_comes_from_inside_is_told_where(routing):
    # A search's request for groups comes from its cv: the advice to unset it with the
    # search's set_fit_request could not be followed (it has none for groups).
    from sklearn.model_selection import GridSearchCV

    search = GridSearchCV(LogisticRegression().set_fit_request(sample_weight=True),
                          {"C": [0.1, 1.0]}, cv=GroupKFold(3))
    for model in (DistilledClassifier(LogisticRegression(), search, cv=GroupKFold(3)),
                  MixtureOfExpertsClassifier(LogisticRegression(), n_experts=2,
                                             gate=search)):
        with pytest.raises(TypeError, match=r"requests \['groups'\] .* comes from inside "
                                            r"it .* a cv that uses no groups"):
            model.fit(X, Y, groups=GROUPS)


class BlockSplit(KFold):
    """A splitter whose split needs a per-row ``block`` besides groups (a custom
    time-block splitter): one test fold per block."""

    def split(self, X, y=None, groups=None, block=None):
        if block is None:
            raise ValueError("BlockSplit.split needs block=")
        self.block_ = np.asarray(block)
        for b in np.unique(block)[: self.n_splits]:
            yield np.flatnonzero(block != b), np.flatnonzero(block == b)


@pytest.mark.parametrize("make", [
    lambda cv: FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                                weights="optimize", cv=cv),
    lambda cv: SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())], cv=cv),
    lambda cv: DistilledClassifier(LogisticRegression(), LogisticRegression(), cv=cv,
                                   augment=None),
])
def test_every_metadata_the_splitter_requests_reaches_its_split(routing, make):
    # get_metadata_routing says fit consumes what cv.split requests, so it must reach
    # split (as cross_validate passes it), not groups alone.
    block = np.arange(len(Y)) % 3
    cv = BlockSplit(3).set_split_request(block=True)
    est = make(cv)
    assert est.get_metadata_routing().consumes("fit", ["block"]) == {"block"}
    est.fit(X, Y, block=block)
    np.testing.assert_array_equal(cv.block_, block)


@pytest.mark.parametrize("make", [
    lambda m: SerialStack(m, cv=3),
    lambda m: FusionClassifier(m),
    lambda m: FusionClassifier(m, weights=[2.0, 1.0]),
    lambda m: FusionRegressor([(n, Ridge().set_fit_request(sample_weight=False))
                               for n, _ in m]),
])
def test_weights_that_nothing_uses_are_refused_as_scikit_learn_does(routing, make):
    # A stack (stack mode) or a fusion of fixed weights uses no sample_weight itself, so
    # with every member declining them the weights changed nothing, without a word;
    # scikit-learn's StackingClassifier and VotingClassifier refuse them.
    declining = [("a", WeightRecorder().set_fit_request(sample_weight=False)),
                 ("b", WeightRecorder(C=0.1).set_fit_request(sample_weight=False))]
    composite = make(declining)
    X_, y_ = (X_REG, Y_REG) if not is_classifier(composite) else (X, Y)
    weights = np.where(np.arange(len(y_)) % 2, 5.0, 0.2)
    with pytest.raises(TypeError, match=r"sample_weight.*not routed to any object"):
        composite.fit(X_, y_, sample_weight=weights)
    make(declining).fit(X_, y_)  # without weights: fitted
    # Where one member takes them, or the composite uses them itself, they are taken.
    asks = [declining[0], ("b", WeightRecorder(C=0.1).set_fit_request(sample_weight=True))]
    if is_classifier(composite):
        make(asks).fit(X_, y_, sample_weight=weights)
        FusionClassifier(declining, weights="optimize", cv=3).fit(X_, y_, sample_weight=weights)
        SerialStack(declining, exit_threshold="auto", cv=3).fit(X_, y_, sample_weight=weights)


class _WeightedKFold(KFold):
    # A splitter that requests sample_weight (and records whether split ran).
    __metadata_request__split = {"sample_weight": True}
    called = False

    def split(self, X, y=None, groups=None, sample_weight=None):
        type(self).called = True
        return super().split(X, y, groups)


def test_weights_routed_only_to_a_splitter_that_is_never_called_are_refused(routing):
    # A fusion of fixed weights never calls cv: weights that reach only its split (no
    # member requests them) change nothing, and are refused as without the splitter.
    declining = [("a", Ridge().set_fit_request(sample_weight=False)),
                 ("b", Ridge(alpha=10.0).set_fit_request(sample_weight=False))]
    weights = np.where(np.arange(len(Y_REG)) % 2, 5.0, 0.2)
    _WeightedKFold.called = False
    with pytest.raises(TypeError, match=r"sample_weight.*not routed to any object"):
        FusionRegressor(declining, cv=_WeightedKFold(3)).fit(X_REG, Y_REG,
                                                             sample_weight=weights)
    assert not _WeightedKFold.called
    # Learned weights split, so the splitter uses them there.
    FusionRegressor(declining, weights="optimize", cv=_WeightedKFold(3)).fit(
        X_REG, Y_REG, sample_weight=weights)
    assert _WeightedKFold.called


def test_partitions_keep_their_own_error_for_weights_no_member_requests(routing):
    declining = [("a", Ridge().set_fit_request(sample_weight=False)),
                 ("b", Ridge(alpha=10.0).set_fit_request(sample_weight=False))]
    weights = np.where(np.arange(len(Y_REG)) % 2, 5.0, 0.2)
    with pytest.raises(ValueError, match="with partitions every member is fitted"):
        FusionRegressor(declining, partitions=3).fit(X_REG, Y_REG, sample_weight=weights)
