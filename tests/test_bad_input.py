"""Bad input gets a clear error in fit or predict, naming the member or column at fault.

One table of cases, run against every composite.
"""

import re
import sys
import warnings

import numpy as np
import pytest
from composites import NaNRidge, is_classifier, make
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import check_supervised_y_no_nan

from skfuse import (
    DistilledClassifier,
    FusionClassifier,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SerialStack,
)
from skfuse._compat import InvalidParameterError

X_CLF, Y_CLF = make_classification(n_samples=120, n_features=6, n_informative=4,
                                   n_classes=3, random_state=0)
X_REG, Y_REG = make_regression(n_samples=120, n_features=6, random_state=0)

# One composite of each family and kind, from the shared registry (tests/composites.py).
COMPOSITES = ["fusion-soft-equal", "fusion-regressor-equal", "stack", "cascade-three-all",
              "mixture-regressor-short", "mixture-classifier-short"]


def xy(classifier):
    return (X_CLF.copy(), Y_CLF.copy()) if classifier else (X_REG.copy(), Y_REG.copy())


def data(name):
    return xy(is_classifier(name))


def with_value(value, rows=(3,), column=1):
    def bad(X):
        X = X.astype(float)
        X[list(rows), column] = value
        return X
    return bad


# Who a NaN in column 1 is reported against: the member, step or gate that sees it.
NAN_CULPRIT = {"fusion-soft-equal": "member 'lr'", "fusion-regressor-equal": "member 'ridge'",
               "stack": "step 'lr'", "cascade-three-all": "step 'nb'",
               "mixture-regressor-short": "(gate|expert 'expert0')",
               "mixture-classifier-short": "(gate|expert 'expert0')"}

# (case, how to break the fit input, error type, message pattern)
FIT_CASES = [
    ("inf in X", lambda X, y: (with_value(np.inf)(X), y), ValueError,
     r"infinite values in column\(s\) \[1\], on 1 row"),
    ("NaN in X for members without NaN support", lambda X, y: (with_value(np.nan)(X), y),
     ValueError, "{culprit}.*NaN"),
    ("empty X", lambda X, y: (X[:0], y[:0]), ValueError, r"0 sample"),
    ("NaN in y", lambda X, y: (X, np.where(np.arange(len(y)) == 5, np.nan, y)), ValueError,
     r"(?i)nan|y"),
    ("X and y of different lengths", lambda X, y: (X, y[:-1]), ValueError,
     r"inconsistent numbers of samples"),
]


@pytest.mark.parametrize("name", COMPOSITES)
@pytest.mark.parametrize("case, breaker, error, match", FIT_CASES, ids=[c[0] for c in FIT_CASES])
def test_bad_fit_input(name, case, breaker, error, match):
    X, y = breaker(*data(name))
    with pytest.raises(error, match=match.format(culprit=NAN_CULPRIT[name])):
        make(name).fit(X, y)


@pytest.mark.parametrize("name", COMPOSITES)
def test_a_single_class(name):
    if not is_classifier(name):
        pytest.skip("regressor")
    X, y = data(name)
    # The composite's own words: a member's ("needs samples of at least 2 classes in
    # the data") would mean the composite let it through.
    with pytest.raises(ValueError, match=r"^\w+ needs samples of at least 2 classes; y "
                                         r"has only one class, 0\.$"):
        make(name).fit(X, np.zeros_like(y))


@pytest.mark.parametrize("name", COMPOSITES)
@pytest.mark.parametrize("weights, match", [
    (np.ones(5), r"sample_weight.*shape|length|\(120,\)"),
    (-np.ones(120), r"non-negative"),
    (np.full(120, np.nan), r"finite"),
    (np.ones(120) + 5j, r"real numbers; got dtype complex128"),
    (np.zeros(120, dtype="m8[s]"), r"real numbers; got dtype timedelta64"),
    # An object array (pandas' to_numpy() of a mixed column): each value read.
    (np.array([1.0] * 119 + ["2"], dtype=object), r"real numbers; got '2'"),
    # Each finite, their sum (near) infinite: EM's eigensolver and k-means failed on
    # NaN, as did the weighted sums of other fits from 1e306 on 120 rows.
    (np.full(120, 1e306), r"sums to 1.2e\+308, beyond what fitting's weighted sums keep "
                          r"within float64 \(at most 1.5e\+306 for 120 rows\); rescale it"),
], ids=["wrong length", "negative", "NaN", "complex", "durations", "a text among numbers",
        "overflowing sum"])
def test_bad_sample_weight(name, weights, match):
    X, y = data(name)
    with pytest.raises(ValueError, match=match):
        make(name).fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("name", COMPOSITES)
def test_predict_checks_its_input(name):
    X, y = data(name)
    est = make(name).fit(X, y)
    with pytest.raises(ValueError, match=r"6 features"):
        est.predict(X[:, :4])
    with pytest.raises(ValueError, match=r"infinite values in column\(s\) \[1\]"):
        est.predict(with_value(np.inf)(X))
    with pytest.raises(ValueError, match=f"{NAN_CULPRIT[name]}.*NaN"):
        est.predict(with_value(np.nan)(X))
    with pytest.raises(ValueError, match=r"0 sample"):
        est.predict(X[:0])


@pytest.mark.parametrize("name", COMPOSITES)
def test_numbers_held_as_objects_are_checked_for_infinite_values(name):
    # An object array, or a DataFrame's object column, of numbers passed the check: a
    # mixture failed deep in its start ("Eigenvalues did not converge"), a fusion of
    # members that take inf accepted what it refuses as floats.
    pd = pytest.importorskip("pandas")
    X, y = data(name)
    infinite = with_value(np.inf)(X).astype(object)
    with pytest.raises(ValueError, match=r"infinite values in column\(s\) \[1\], on 1 row"):
        make(name).fit(infinite, y)
    frame = pd.DataFrame(infinite, columns=[f"f{i}" for i in range(6)]).assign(
        note="text")  # a column of other objects is left to the members
    with pytest.raises(ValueError, match=r"infinite values in column\(s\) \['f1'\]"):
        make(name).fit(frame, y)
    est = make(name).fit(X.astype(object), y)
    with pytest.raises(ValueError, match=r"infinite values in column\(s\) \[1\]"):
        est.predict(infinite)


def test_a_sparse_frame_is_checked_for_infinite_values_as_stored(monkeypatch):
    # A DataFrame of pandas sparse columns was made a dense n x p array of floats at
    # every fit and predict (300 x 20,000 of them: 48 MB where the frame holds 6,000).
    pd = pytest.importorskip("pandas")
    import scipy.sparse as sp

    from skfuse._base import refuse_infinite

    X = sp.random(300, 2000, density=0.01, format="csr", random_state=0)
    frame = pd.DataFrame.sparse.from_spmatrix(X, columns=[f"c{i}" for i in range(2000)])

    def dense(*args, **kwargs):
        raise AssertionError("made dense")

    monkeypatch.setattr(pd.DataFrame, "to_numpy", dense)
    refuse_infinite(frame, "FusionClassifier")
    X = X.tolil()
    X[4, 3] = np.inf
    frame = pd.DataFrame.sparse.from_spmatrix(X, columns=[f"c{i}" for i in range(2000)])
    with pytest.raises(ValueError, match=r"infinite values in column\(s\) \['c3'\], on 1 row"):
        refuse_infinite(frame, "FusionClassifier")
    # Any fill value (pandas' default for floats is NaN, which to_coo refuses); an
    # infinite one counts for every row it fills.
    values = np.where(np.arange(12).reshape(4, 3) % 5 == 0, 1.0, np.nan)
    nan_filled = pd.DataFrame(values, columns=["a", "b", "c"]).astype(
        pd.SparseDtype(float, np.nan))
    refuse_infinite(nan_filled, "FusionClassifier")
    inf_filled = nan_filled.astype(pd.SparseDtype(float, np.nan)).fillna(np.inf).astype(
        pd.SparseDtype(float, np.inf))
    with pytest.raises(ValueError, match=r"\['a', 'b', 'c'\], on 4 row"):
        refuse_infinite(inf_filled, "FusionClassifier")


def test_strings_of_digits_are_not_taken_for_numbers():
    # A categorical column of "1", "inf", "2" was read as numbers and refused.
    pd = pytest.importorskip("pandas")
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"a": np.arange(30.0),
                          "code": np.array(["1", "inf", "2"] * 10, dtype=object)})
    encoded = make_pipeline(make_column_transformer((OneHotEncoder(), ["code"]),
                                                    remainder="passthrough"),
                            LogisticRegression())
    fusion = FusionClassifier([("lr", encoded)])
    fusion.fit(frame, np.arange(30) % 2)
    held = pd.array([1.0, np.inf] + [2.0] * 28, dtype=object)
    held[3] = pd.NA  # a missing entry beside the infinite one
    with pytest.raises(ValueError, match=r"infinite values in column\(s\) \['b'\]"):
        fusion.fit(frame.assign(b=held), np.arange(30) % 2)


def test_numbers_of_other_types_held_as_objects_are_checked_too():
    import decimal
    import warnings

    from sklearn.compose import make_column_transformer

    pd = pytest.importorskip("pandas")
    for entry in (decimal.Decimal("Infinity"), 10**400):
        X = np.ones((30, 2), dtype=object)
        X[3, 1] = entry
        with pytest.raises(ValueError, match=r"infinite values in column\(s\) \[1\]"):
            FusionClassifier([("lr", LogisticRegression())]).fit(X, np.arange(30) % 2)
    # pandas 3's string columns are left alone without its deprecation warning.
    frame = pd.DataFrame({"a": np.arange(30.0), "s": ["x", "y"] * 15})
    encoded = make_pipeline(make_column_transformer(("drop", ["s"]), remainder="passthrough"),
                            LogisticRegression())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FusionClassifier([("lr", encoded)]).fit(frame, np.arange(30) % 2)


@pytest.mark.parametrize("name", COMPOSITES)
def test_predict_checks_feature_names(name):
    pd = pytest.importorskip("pandas")
    X, y = data(name)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    est = make(name).fit(frame, y)
    renamed = frame.rename(columns={"f2": "other"})
    with pytest.raises(ValueError, match=r"(?s)feature names.*other"):
        est.predict(renamed)
    infinite = frame.assign(f4=np.where(np.arange(len(frame)) < 2, np.inf, frame.f4))
    with pytest.raises(ValueError, match=r"infinite values in column\(s\) \['f4'\], on 2 row"):
        est.predict(infinite)


@pytest.mark.parametrize("owner", [FusionClassifier, SerialStack])
def test_member_names_are_checked(owner):
    X, y = data("fusion-soft-equal")
    members = [("lr", LogisticRegression()), ("lr", GaussianNB())]
    with pytest.raises(ValueError, match=r"(?i)names.*unique|duplicate.*lr"):
        (owner(members) if owner is FusionClassifier else owner(members, cv=3)).fit(X, y)
    bad = [("a__b", LogisticRegression()), ("final", GaussianNB())]
    with pytest.raises(ValueError, match=r"a__b"):
        (owner(bad) if owner is FusionClassifier else owner(bad, cv=3)).fit(X, y)


@pytest.mark.parametrize("owner", [FusionClassifier, SerialStack, MixtureOfExpertsClassifier])
@pytest.mark.parametrize("name", ["self", "method_mapping"])
def test_member_names_that_scikit_learns_helpers_take_as_arguments_are_refused(owner, name):
    # "self" reached Bunch(**named) (named_estimators_, a stack's fit) and
    # "method_mapping" MetadataRouter.add(**named): a fusion fitted, then failed there
    # with a TypeError from scikit-learn's internals.
    X, y = data("fusion-soft-equal")
    members = [(name, LogisticRegression()), ("nb", GaussianNB())]
    with pytest.raises(ValueError, match=rf"member names \['{name}'\] are reserved"):
        (owner(members) if owner is MixtureOfExpertsClassifier else owner(members, cv=3)).fit(X, y)


class _Spoilt(LogisticRegression):
    """A logistic regression whose probabilities are ``value`` on rows where x0 > 50."""

    def __init__(self, value=np.inf, C=1.0):
        self.value = value
        super().__init__(C=C)

    def predict_proba(self, X):
        proba = super().predict_proba(X)
        proba[np.asarray(X)[:, 0] > 50] = self.value
        return proba


@pytest.mark.parametrize("value", [np.inf, np.nan])
@pytest.mark.parametrize("options", [{}, {"weights": "optimize", "calibration": "temperature"}])
def test_member_outputs_that_are_not_finite_at_predict_are_refused(value, options):
    # Soft voting clipped an infinite probability to 1 (rows summing to 3), and a
    # temperature made a NaN one 0 (rows summing to 0.5), without a word.
    X, y = make_classification(300, 6, n_classes=3, n_informative=4, random_state=0)
    members = [("lr", LogisticRegression()), ("nb", GaussianNB()), ("bad", _Spoilt(value))]
    fusion = FusionClassifier(members, **options).fit(X, y)
    assert_allclose(fusion.predict_proba(X[:5]).sum(axis=1), 1.0)
    X_far = X[:5].copy()
    X_far[:, 0] = 100
    with pytest.raises(ValueError, match=r"'bad' \(5 rows\) hold NaN or infinite"):
        fusion.predict_proba(X_far)


def test_all_members_dropped():
    X, y = data("fusion-soft-equal")
    with pytest.raises(ValueError, match="all members are dropped"):
        FusionClassifier([("a", "drop"), ("b", "drop")]).fit(X, y)


def test_a_member_without_predict_proba_under_soft_voting():
    X, y = data("fusion-soft-equal")
    fusion = FusionClassifier([("lr", LogisticRegression()), ("svm", LinearSVC())])
    with pytest.raises(TypeError, match=r"member 'svm' has no predict_proba"):
        fusion.fit(X, y)
    cascade = SerialStack([("svm", LinearSVC()), ("lr", LogisticRegression())],
                          exit_threshold=0.9)
    with pytest.raises(TypeError, match=r"'svm' has no predict_proba"):
        cascade.fit(X, y)


@pytest.mark.parametrize("name", COMPOSITES)
def test_a_view_naming_a_missing_column(name):
    pd = pytest.importorskip("pandas")
    X, y = data(name)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    est = make(name)
    member = (est.steps[0][0] if isinstance(est, SerialStack)
              else "expert0" if "mixture" in name else est.estimators[0][0])
    est.set_params(views={member: ["f0", "nope"]})
    with pytest.raises(ValueError, match=rf"{member}.*'nope'"):
        est.fit(frame, y)


@pytest.mark.parametrize("name", COMPOSITES)
def test_views_for_an_unknown_member_name_the_composite(name):
    X, y = data(name)
    est = make(name).set_params(views={"nobody": [0, 1]})
    owner = type(est).__name__
    role = ("step" if isinstance(est, SerialStack) else "expert" if "mixture" in name
            else "member")
    with pytest.raises(ValueError, match=rf"^{owner}: views names {role}\(s\) \['nobody'\]"):
        est.fit(X, y)
    match = rf"^The 'views' parameter of {owner} must be None or an instance of 'dict'"
    with pytest.raises(InvalidParameterError, match=match):
        make(name).set_params(views=[0, 1]).fit(X, y)


@pytest.mark.parametrize("cls", [MixtureOfExpertsRegressor, MixtureOfExpertsClassifier])
def test_top_k_larger_than_n_experts(cls):
    X, y = xy(cls is MixtureOfExpertsClassifier)
    with pytest.raises(ValueError, match=r"top_k.*n_experts|n_experts.*top_k"):
        cls(n_experts=2, top_k=3).fit(X, y)


@pytest.mark.parametrize("name", ["fusion-soft-equal", "stack", "cascade-three-all",
                                  "mixture-classifier-short"])
def test_labels_unseen_in_fit_are_reported_by_score(name):
    X, y = data(name)
    est = make(name).fit(X, y)
    # predict never invents labels; scoring with an unseen label counts it as wrong.
    assert set(np.unique(est.predict(X))) <= set(np.unique(y))
    assert est.score(X, np.full_like(y, 7)) == 0.0


@pytest.mark.parametrize("cls", [MixtureOfExpertsRegressor, MixtureOfExpertsClassifier])
def test_a_gate_of_hard_zeros_and_ones_gives_no_nan(cls):
    # A fully grown tree as the gate predicts probabilities of exactly 0 and 1.
    X, y = xy(cls is MixtureOfExpertsClassifier)
    moe = cls(n_experts=3, gate=DecisionTreeClassifier(random_state=0), max_iter=5,
              random_state=0).fit(X, y)
    gate = moe.predict_gate(X)
    assert set(np.unique(gate)) <= {0.0, 1.0}
    outputs = [moe.predict(X)] + ([moe.predict_proba(X)] if hasattr(moe, "predict_proba")
                                  else [moe.predict(X, return_std=True)[1]])
    for out in outputs:
        assert np.isfinite(np.asarray(out, dtype=float)).all()


def test_geometric_voting_with_members_sure_of_opposite_classes():
    X, y = data("fusion-soft-equal")
    trees = [("a", DecisionTreeClassifier(random_state=0)),
             ("b", DecisionTreeClassifier(random_state=1, max_features=2))]
    fusion = FusionClassifier(trees, voting="geometric").fit(X, y)
    proba = fusion.predict_proba(X + np.random.RandomState(0).normal(size=X.shape))
    assert np.isfinite(proba).all()
    assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("labels, shown", [(np.zeros(6, dtype=np.int64), "0"),
                                           (np.array(["a"] * 6), "'a'")])
def test_a_single_class_is_named_as_a_plain_value(labels, shown):
    # A numpy scalar's repr (np.int64(0)) must not leak into the message.
    fusion = FusionClassifier([("lr", LogisticRegression())])
    with pytest.raises(ValueError, match=rf"y has only one class, {shown}\.$"):
        fusion.fit(np.arange(12.0).reshape(6, 2), labels)


@pytest.mark.parametrize("param", ["lrr", "lrr__C"])
def test_an_unknown_member_in_set_params_lists_the_member_names(param):
    fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())])
    with pytest.raises(ValueError, match=r"(?s)Invalid parameter 'lrr'.* Member names .*"
                                         r"\['lr', 'nb'\]"):
        fusion.set_params(**{param: 1})


@pytest.mark.parametrize("make_composite, name", [
    (lambda members: FusionClassifier(members), "estimators"),
    (lambda members: SerialStack(members, cv=3), "steps"),
    (lambda members: MixtureOfExpertsClassifier(members), "experts"),
])
def test_a_tuple_of_members_is_replaced_by_name_as_a_list_is(make_composite, name):
    # scikit-learn replaces a member by name in a list only; a tuple kept its member and
    # got a stray attribute, so a search over members compared one model with itself.
    from sklearn.model_selection import GridSearchCV

    members = (("nb", GaussianNB()), ("last", LogisticRegression()))
    composite = make_composite(members).set_params(last=DecisionTreeClassifier())
    assert [type(est) for _, est in getattr(composite, name)] == [GaussianNB,
                                                                  DecisionTreeClassifier]
    assert "last" not in vars(composite)
    X, y = make_classification(n_samples=120, random_state=0)
    grid = {"last": [LogisticRegression(), DecisionTreeClassifier(max_depth=1)]}
    scores = [GridSearchCV(make_composite(given), grid, cv=3).fit(X, y)
              .cv_results_["mean_test_score"] for given in (members, list(members))]
    assert_allclose(scores[0], scores[1])


@pytest.mark.parametrize("make_composite, name", [
    (lambda members: FusionClassifier(members), "estimators"),
    (lambda members: SerialStack(members, cv=3), "steps"),
    (lambda members: MixtureOfExpertsClassifier(members), "experts"),
])
def test_a_new_list_of_members_is_set_before_the_names_in_it(make_composite, name):
    # The names were read from the list being replaced: a member dropped there could
    # not be given a parameter in the new one, and a new tuple was not replaced by name.
    composite = make_composite([("nb", GaussianNB()), ("last", "drop")])
    new = [("nb", GaussianNB()), ("last", LogisticRegression())]
    composite.set_params(**{name: new, "last__C": 5.0})
    assert getattr(composite, name)[1][1].C == 5.0  # as VotingClassifier sets it
    composite.set_params(**{name: tuple(new), "last": DecisionTreeClassifier()})
    assert [type(est) for _, est in getattr(composite, name)] == [GaussianNB,
                                                                  DecisionTreeClassifier]
    assert "last" not in vars(composite)


@pytest.mark.parametrize("name", [name for name in COMPOSITES if is_classifier(name)])
@pytest.mark.parametrize("missing", [np.nan, "NA"], ids=["NaN", "pandas NA"])
def test_missing_labels_are_called_missing(name, missing):
    # Text labels beside NaN read "y mixes labels of types ['float', 'str']".
    X, y = data(name)
    y = np.array(["a", "b", "c"], dtype=object)[y]
    y[3] = pytest.importorskip("pandas").NA if missing == "NA" else missing
    owner = type(make(name)).__name__
    with pytest.raises(ValueError,
                       match=rf"^{owner}: Input y contains NaN \(missing labels\)"):
        make(name).fit(X, y)


def test_labels_of_two_types_that_sort_keep_scikit_learns_words():
    # Continuous labels held as objects (ints beside floats, which sort) are not
    # "labels of types that do not sort".
    X, _ = data("fusion-soft-equal")
    y = np.array([0.5, 1, 1.5, 2] * (len(X) // 4) + [3] * (len(X) % 4), dtype=object)
    with pytest.raises(ValueError, match="^FusionClassifier: Unknown label type"):
        make("fusion-soft-equal").fit(X, y)


@pytest.mark.parametrize("name", [name for name in COMPOSITES if is_classifier(name)]
                         + ["distilled-classifier"])
@pytest.mark.parametrize("bad, dtype, match", [
    (np.inf, float, r"Input y contains infinity or a value too large for dtype\('float64'\)"),
    (-np.inf, np.float32,
     r"Input y contains infinity or a value too large for dtype\('float32'\)"),
    (np.nan, float, r"Input y contains NaN \(missing labels\)"),
], ids=["inf", "-inf float32", "NaN"])
def test_a_non_finite_label_is_refused_after_the_owner_without_a_warning(name, bad, dtype,
                                                                        match):
    # scikit-learn's label check warns as it casts such labels to int ("invalid value
    # encountered in cast"), which under -W error hid the refusal: refused before it.
    X, y = data(name)
    y = y.astype(dtype)
    y[3] = bad
    owner = type(make(name)).__name__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=rf"^{owner}: {match}"):
            make(name).fit(X, y)


@pytest.mark.parametrize("name", COMPOSITES + ["distilled-classifier"])
@pytest.mark.parametrize("as_list", [False, True], ids=["array", "list"])
def test_a_complex_y_is_refused_after_the_owner_without_a_warning(name, as_list):
    # column_or_1d refused it in scikit-learn's words alone, which named nobody.
    X, y = data(name)
    y = y + 1j
    owner = type(make(name)).__name__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=rf"^{owner}: Complex data not supported"):
            make(name).fit(X, list(y) if as_list else y)


@pytest.mark.parametrize("make_composite, where", [
    (lambda: SerialStack([("nb", GaussianNB), ("lr", LogisticRegression())]), "step 'nb'"),
    (lambda: SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression)],
                         exit_threshold=0.9), "step 'lr'"),
    (lambda: DistilledClassifier(GaussianNB, LogisticRegression()), "the teacher"),
    (lambda: DistilledClassifier(GaussianNB(), LogisticRegression), "the student"),
], ids=["stack", "cascade", "teacher", "student"])
def test_a_class_given_for_an_estimator_is_refused_by_name(make_composite, where):
    # A class has a fit too: it passed the checks and failed in clone, unnamed.
    composite = make_composite()
    with pytest.raises(TypeError, match=rf"^{type(composite).__name__}: {where}: Expected "
                                        r"an estimator instance \(\w+\(\)\), got "
                                        "estimator class instead"):
        composite.fit(X_CLF, Y_CLF)


@pytest.mark.parametrize("name", [name for name in COMPOSITES + ["distilled-classifier"]
                                  if is_classifier(name)])
def test_a_multilabel_y_is_refused_with_a_pointer_to_multioutput(name):
    # StackingClassifier stacks a multilabel y; skfuse's classifiers take one target.
    X, _ = data(name)
    Y = np.column_stack([np.arange(len(X)) % 2, np.arange(len(X)) // 60])
    owner = type(make(name)).__name__
    with pytest.raises(ValueError, match=rf"^{owner}: y has shape \(120, 2\).*"
                                         r"MultiOutputClassifier"):
        make(name).fit(X, Y)


@pytest.mark.parametrize("make_composite", [
    lambda members: FusionClassifier(members, weights="optimize", cv=3),
    lambda members: SerialStack(members, cv=3),
    lambda members: MixtureOfExpertsClassifier(members, max_iter=3, random_state=0),
])
def test_members_given_as_lists_work_as_tuples_do(make_composite):
    # A configuration read from JSON or YAML gives [name, estimator] lists, which
    # scikit-learn's Voting, Stacking and Pipeline take as pairs.
    X, y = make_classification(n_samples=120, random_state=0)
    pairs = [("nb", GaussianNB()), ("last", LogisticRegression())]
    as_lists = make_composite([list(pair) for pair in pairs]).set_params(last__C=0.5)
    as_tuples = make_composite(pairs).set_params(last__C=0.5)
    assert as_lists.get_params()["last__C"] == 0.5
    assert_allclose(as_lists.fit(X, y).predict_proba(X),
                    as_tuples.fit(X, y).predict_proba(X), rtol=1e-12)
    with pytest.raises(ValueError, match=r"\(name, estimator\) pair"):
        make_composite([["nb", GaussianNB(), "extra"]]).fit(X, y)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes: Python 3.11+")
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_member_that_fails_on_a_fold_is_named_in_a_note(n_jobs):
    # A member's own error names neither the member nor the split it failed on.
    X = np.random.RandomState(0).normal(size=(100, 3))
    y = (np.arange(100) < 1).astype(int)  # one row of class 1: a fold without it
    fusion = FusionClassifier([("nb", GaussianNB()), ("lr", LogisticRegression())],
                              weights="optimize", cv=3, n_jobs=n_jobs)
    with pytest.warns(UserWarning, match="lacks"), \
            pytest.raises(ValueError, match="at least 2 classes") as raised:
        fusion.fit(X, y)
    assert raised.value.__notes__ == [
        "(raised in FusionClassifier's task: member 'lr', fold 1 of 3)"]


REGRESSORS = ["fusion-regressor-equal", "stack-regressor-passthrough",
              "mixture-regressor-short", "distilled-regressor"]


@pytest.mark.parametrize("name", REGRESSORS)
@pytest.mark.parametrize("bad, match", [
    (np.nan, "Input y contains NaN"),
    (np.inf, r"Input y contains infinity or a value too large for dtype\('float64'\)"),
    ("a", r"y must be numeric \(could not convert"),
], ids=["NaN", "inf", "text"])
def test_every_regressor_refuses_a_bad_target_in_its_own_words(name, bad, match):
    # A regressor stack left NaN to its first step's error and text to NumPy's; each
    # regressor now names itself and what is wrong with y, in the same words.
    X, y = data(name)
    y = y.astype(object)
    y[5] = bad
    owner = type(make(name)).__name__
    with pytest.raises(ValueError, match=f"^{owner}: {match}"):
        make(name).fit(X, y)


@pytest.mark.parametrize("name", COMPOSITES + ["distilled-classifier", "distilled-regressor"])
def test_a_pipeline_ending_in_a_composite_refuses_a_bad_target_in_scikit_learns_words(name):
    # scikit-learn's check holds its own estimators (a Pipeline among them) to its words
    # for a target of NaN or infinity: a composite's words are scikit-learn's, its name
    # first.
    check_supervised_y_no_nan(name, make_pipeline(StandardScaler(), make(name)))


@pytest.mark.parametrize("name", [name for name in COMPOSITES if is_classifier(name)])
@pytest.mark.parametrize("odd, kinds", [(1, "['int', 'str']"), (None, "['NoneType', 'str']")],
                         ids=["int", "None"])
@pytest.mark.parametrize("row", [7, 0], ids=["inside", "first"])
def test_labels_of_types_that_do_not_sort_are_named(name, odd, kinds, row):
    # NumPy's bare "'<' not supported between instances" told nothing of where; and
    # with the odd label first, scikit-learn's "Unknown label type: unknown" nothing of
    # what.
    X, y = data(name)
    y = np.array(["a", "b", "c"], dtype=object)[y]
    y[row] = odd
    owner = type(make(name)).__name__
    with pytest.raises(TypeError, match=rf"^{owner}: y mixes labels of types {re.escape(kinds)}"):
        make(name).fit(X, y)


@pytest.mark.parametrize("make_composite, role", [
    (lambda views: FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                                    views=views), "member"),
    (lambda views: SerialStack([("lr", LogisticRegression()), ("nb", GaussianNB())],
                               views=views, exit_threshold=0.9), "step"),
    (lambda views: MixtureOfExpertsClassifier([("lr", LogisticRegression()),
                                               ("nb", GaussianNB())], views=views), "expert"),
])
@pytest.mark.parametrize("view", [1.5, None])
def test_a_view_that_is_not_columns_is_refused_by_name(make_composite, role, view):
    # Python's own "'float' object is not iterable" named neither views nor the member;
    # each composite calls its parts as its docs do (a stack's steps, a mixture's experts).
    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    with pytest.raises(TypeError, match=rf"view of {role} 'lr' must be columns.*got "
                                        rf"{view}\.$"):
        make_composite({"lr": view}).fit(X, y)


class _FitReturnsNone(LogisticRegression):
    """A classifier whose ``fit`` returns None (against scikit-learn's convention)."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight=sample_weight)


class _FitReturnsNoneRegressor(RegressorMixin, BaseEstimator):
    def fit(self, X, y, sample_weight=None):
        self.ridge_ = Ridge().fit(X, y, sample_weight=sample_weight)

    def predict(self, X):
        return self.ridge_.predict(X)


def test_an_estimator_whose_fit_returns_none_is_used_as_fitted():
    """skfuse uses the estimator it fitted, not what ``fit`` returned: a student checked
    at ``label_weight="auto"``, a gate, and a member tried on several outputs failed
    with AttributeError on None (the last was refused as single-output)."""
    from skfuse import DistilledRegressor, FusionRegressor, MixtureOfExpertsClassifier

    X, y = make_regression(n_samples=80, n_features=3, noise=1.0, random_state=0)
    DistilledRegressor(Ridge(), _FitReturnsNoneRegressor(), cv=3).fit(X, y)
    two = np.c_[y, -y]
    fitted = FusionRegressor([("a", _FitReturnsNoneRegressor()), ("b", Ridge())]).fit(X, two)
    assert fitted.predict(X).shape == (80, 2)
    Xc, yc = make_classification(n_samples=120, random_state=0)
    MixtureOfExpertsClassifier(LogisticRegression(), n_experts=2, gate=_FitReturnsNone(),
                               max_iter=3, random_state=0).fit(Xc, yc)


class _ShiftedLabels(LogisticRegression):
    """Predicts labels 10 above the classes it knows."""

    def predict(self, X):
        return super().predict(X) + 10


def test_labels_outside_the_classes_are_refused_naming_the_member():
    X, y = make_classification(n_samples=90, n_classes=3, n_informative=4, random_state=0)
    stack = SerialStack([("a", _ShiftedLabels()), ("b", LogisticRegression())], cv=3,
                        stack_method="predict")
    # They became one impossible class position on every row.
    with pytest.raises(ValueError, match=r"_ShiftedLabels outputs class\(es\) \[10, 11, 12\] "
                                         r"that are not among the classes of y") as raised:
        stack.fit(X, y)
    if sys.version_info >= (3, 11):  # exception notes
        assert "step 'a'" in " ".join(raised.value.__notes__)
    fusion = FusionClassifier([("a", _ShiftedLabels()), ("b", LogisticRegression())],
                              voting="hard").fit(X, y)
    with pytest.raises(ValueError, match="outputs class") as raised:
        fusion.predict(X)
    if sys.version_info >= (3, 11):
        assert "member 'a', predict" in " ".join(raised.value.__notes__)


class _NaNWhenFittedOnFew(LogisticRegression):
    """A logistic regression whose probabilities are NaN when fitted on under 150 rows."""

    def fit(self, X, y, sample_weight=None):
        self.n_fitted_ = len(X)
        return super().fit(X, y, sample_weight=sample_weight)

    def predict_proba(self, X):
        proba = super().predict_proba(X)
        return proba if self.n_fitted_ >= 150 else np.full_like(proba, np.nan)


@pytest.mark.parametrize("final", [Ridge(), HistGradientBoostingRegressor(max_iter=10)])
def test_a_stack_step_giving_nan_is_named(final):
    # The next step failed on the NaN without naming the step that gave it, or, taking
    # NaN (gradient boosting), read a broken output as a missing value without a word.
    X, y = make_regression(200, 3, noise=1.0, random_state=0)
    X[:, 0] /= np.abs(X[:, 0]).max()  # NaNRidge's NaN rows (x0 > 1): none yet
    stack = SerialStack([("nan", NaNRidge()), ("final", final)]).fit(X, y)
    X_far = X[:5].copy()
    X_far[:3, 0] = 2.0
    with pytest.raises(ValueError, match=r"step 'nan' gave NaN .* at predict on 3 of 5 row"):
        stack.predict(X_far)
    X[:20, 0] = 2.0
    with pytest.raises(ValueError, match=r"step 'nan' gave NaN .* out of fold on 20 of 200"):
        SerialStack([("nan", NaNRidge()), ("final", final)]).fit(X, y)



@pytest.mark.parametrize("wrap", [lambda fusion: fusion,
                                  lambda fusion: make_pipeline(StandardScaler(), fusion)],
                         ids=["bare", "in a pipeline"])
def test_a_fusion_step_passes_nan_for_a_missing_view(wrap):
    # A fusion level marks a member whose view is missing with NaN, which the next step
    # may take as missing; it refuses its members' own NaN itself.
    X, y = make_classification(300, 6, random_state=0)
    X[:40, :3] = np.nan
    fusion = FusionClassifier([("a", LogisticRegression()), ("b", GaussianNB())],
                              views={"a": [0, 1, 2], "b": [3, 4, 5]})
    stack = SerialStack([("level", wrap(fusion)), ("final", HistGradientBoostingClassifier(
        max_iter=10, random_state=0))], cv=3).fit(X, y)
    assert np.isnan(stack.transform(X[:40])[:, 0]).all()

@pytest.mark.parametrize("value", [np.inf, np.nan])
@pytest.mark.parametrize("last", [False, True])
def test_a_cascade_step_giving_nan_is_named(value, last):
    # A last step's NaN came out as the cascade's probabilities, and its predictions as
    # class 0; a first step's rows of NaN never exited, without a word.
    X, y = make_classification(300, 6, random_state=0)
    X[:, 0] /= np.abs(X[:, 0]).max()
    bad, good = ("bad", _Spoilt(value)), ("lr", LogisticRegression())
    steps = [good, bad] if last else [bad, good]
    cascade = SerialStack(steps, exit_threshold=1.0).fit(X, y)  # every row asks both
    X_far = X[:5].copy()
    X_far[:2, 0] = 100
    with pytest.raises(ValueError, match=r"step 'bad' gave NaN or infinite outputs at "
                                         r"predict on 2 of"):
        cascade.predict_proba(X_far)
    X[:30, 0] = 100
    with pytest.raises(ValueError, match=r"step 'bad' gave NaN .* out of fold on 30 of 300"):
        SerialStack(steps, exit_threshold="auto").fit(X, y)


def test_a_deferred_fit_giving_nan_keeps_the_fit_on_all_rows():
    X, y = make_classification(300, 6, class_sep=0.5, random_state=0)
    steps = [("lr", LogisticRegression()), ("few", _NaNWhenFittedOnFew())]
    # Its fold fits on every row see 240 rows; on the rows the first step defers, fewer.
    with pytest.warns(UserWarning, match=r"step 'few' could not be trained on its "
                                         r"deferred rows .*gave NaN"):
        cascade = SerialStack(steps, exit_threshold=0.7, cascade_fit="deferred").fit(X, y)
    assert cascade.exit_rates_[0] > 0.5
    assert cascade.cascade_fit_ == ["all", "all"]
    assert np.isfinite(cascade.predict_proba(X)).all()


@pytest.mark.parametrize("name", [name for name in COMPOSITES if is_classifier(name)])
def test_labels_of_one_type_scikit_learn_refuses_are_not_called_mixed(name):
    # Bytes labels were refused as "y mixes labels of types ['bytes']", with the advice
    # to give every label the same type, which they had.
    X, y = data(name)
    y = np.array([b"a", b"b", b"c"])[y]
    owner = type(make(name)).__name__
    with pytest.raises(TypeError, match=rf"^{owner}: Support for labels represented as "
                                        r"bytes is not supported"):
        make(name).fit(X, y)


class _KernelSVC(SVC):
    """An SVC on a precomputed kernel whose probabilities are a logistic function of
    its decision function (two classes): scikit-learn 1.9 deprecates
    ``SVC(probability=True)``."""

    def __init__(self, C=1.0):
        super().__init__(kernel="precomputed", C=C)

    def predict_proba(self, X):
        positive = expit(self.decision_function(X))
        return np.column_stack([1 - positive, positive])


def _kernel_svc():
    return _KernelSVC()


KERNEL_MEMBERS = {
    "learned weights": lambda: FusionClassifier(
        [("svc", _kernel_svc()), ("lr", LogisticRegression())], weights="optimize"),
    "view": lambda: FusionClassifier([("svc", _kernel_svc())], views={"svc": [0, 1]}),
    "stack": lambda: SerialStack([("svc", _kernel_svc()), ("lr", LogisticRegression())]),
    "cascade": lambda: SerialStack([("lr", LogisticRegression()), ("svc", _kernel_svc())],
                                   exit_threshold=0.9),
    "expert": lambda: MixtureOfExpertsClassifier(_kernel_svc(), n_experts=1),
    "gate": lambda: MixtureOfExpertsClassifier(LogisticRegression(), gate=_kernel_svc(),
                                               n_experts=2),
    "teacher": lambda: DistilledClassifier(_kernel_svc(), LogisticRegression()),
}


@pytest.mark.parametrize("kind", KERNEL_MEMBERS)
def test_a_member_taking_a_kernel_is_refused_where_rows_are_cut(kind):
    # Folds, views, a validation slice cut a kernel's rows and not its columns: the
    # member failed with "Precomputed matrix must be a square matrix", or fitted on
    # the wrong kernel entries.
    X, y = make_classification(60, 4, random_state=0)
    with pytest.raises(TypeError, match="takes a precomputed kernel as X"):
        KERNEL_MEMBERS[kind]().fit(X @ X.T, y)


def test_a_frozen_member_taking_a_kernel_serves_learned_weights():
    # Never fitted, it predicts on any rows of a kernel: a blending set works.
    X, y = make_classification(90, 4, random_state=0)
    fitted, blend = slice(0, 45), slice(45, 90)
    frozen = FrozenEstimator(_kernel_svc().fit(X[fitted] @ X[fitted].T, y[fitted]))
    other = FrozenEstimator(_KernelSVC(C=0.01).fit(X[fitted] @ X[fitted].T, y[fitted]))
    fusion = FusionClassifier([("svc", frozen), ("small", other)], weights="optimize",
                              cv=3).fit(X[blend] @ X[fitted].T, y[blend])
    assert fusion.weights_.sum() == pytest.approx(1.0)


def test_a_frozen_kernel_member_that_would_not_see_the_kernel_is_refused():
    # A stack's later step sees the outputs before it, a view some columns: a frozen
    # kernel member failed there with "X has 1 features, but SVC is expecting 80".
    X, y = make_classification(80, 4, random_state=0)
    K = X @ X.T
    frozen = FrozenEstimator(_kernel_svc().fit(K, y))
    for composite in (SerialStack([("lr", LogisticRegression()), ("svc", frozen)]),
                      FusionClassifier([("svc", frozen), ("lr", LogisticRegression())],
                                       views={"svc": slice(0, 40)})):
        with pytest.raises(TypeError, match="takes a precomputed kernel as X"):
            composite.fit(K, y)
    # A cascade's step predicts on rows of the kernel: it still serves.
    cascade = SerialStack([("lr", LogisticRegression()), ("svc", frozen)],
                          exit_threshold=0.9).fit(K, y)
    deferred = cascade.predict_route(K) == 1
    assert deferred.any()
    assert_array_equal(cascade.predict(K)[deferred], frozen.predict(K[deferred]))


def test_a_fusion_of_fixed_weights_takes_a_kernel_in_a_search():
    # It fits its members on every row, so it takes a kernel as they do, and says so:
    # cross-validation then cuts the kernel's columns with its rows.
    X, y = make_classification(90, 4, random_state=0)
    fusion = FusionClassifier([("svc", _kernel_svc()),
                               ("small", _KernelSVC(C=0.1))])
    assert get_tags(fusion).input_tags.pairwise
    scores = cross_val_score(fusion, X @ X.T, y, cv=3, error_score="raise")
    assert np.all(scores > 0.7)


class _Scaled(LogisticRegression):
    """A logistic regression whose probabilities are ``factor`` times theirs on rows
    where x0 > ``above``: not probabilities there."""

    def __init__(self, factor=3.0, above=50.0, C=1.0):
        self.factor = factor
        self.above = above
        super().__init__(C=C)

    def predict_proba(self, X):
        proba = super().predict_proba(X)
        proba[np.asarray(X)[:, 0] > self.above] *= self.factor
        return proba


def _far(X, rows=5, spoilt=5):
    """The first ``rows`` rows of ``X``, the first ``spoilt`` of them with x0 = 100."""
    X_far = X[:rows].copy()
    X_far[:spoilt, 0] = 100
    return X_far


@pytest.mark.parametrize("voting", ["soft", "geometric"])
@pytest.mark.parametrize("weights", [None, "optimize"])
def test_member_outputs_that_are_not_probabilities_at_predict_are_refused(voting, weights):
    # Rows summing to 3 were fused, then clipped to [0, 1], without a word.
    X, y = make_classification(300, 6, n_classes=3, n_informative=4, random_state=0)
    members = [("lr", LogisticRegression()), ("bad", _Scaled())]
    fusion = FusionClassifier(members, voting=voting, weights=weights).fit(X, y)
    assert_allclose(fusion.predict_proba(X[:5]).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match=r"the outputs of 'bad' \(3 rows\) are probabilities "
                                         r"outside \[0, 1\] or that do not sum to 1"):
        fusion.predict_proba(_far(X, spoilt=3))
    # Hard voting fuses labels, which these are.
    FusionClassifier(members, voting="hard").fit(X, y).predict(_far(X))


@pytest.mark.parametrize("value", [np.nan, "scaled"])
def test_a_mixture_classifiers_expert_giving_improper_outputs_in_em_is_named(value):
    # EM weighed rows by NaN or by probabilities summing to 3, and predict passed them on.
    X, y = make_classification(200, 6, random_state=0)
    expert = _Scaled(above=-np.inf) if value == "scaled" else _Spoilt(value)
    if value != "scaled":
        X[:4, 0] = 100
    what = "probabilities outside .*" if value == "scaled" else "NaN or infinite outputs"
    with pytest.raises(ValueError, match=rf"^MixtureOfExpertsClassifier: expert 'expert\d' "
                                         rf"gave {what} at fit on"):
        MixtureOfExpertsClassifier(expert, n_experts=2, random_state=0).fit(X, y)


@pytest.mark.parametrize("n_experts", [1, 2])
@pytest.mark.parametrize("expert, what", [(_Spoilt(np.nan), "NaN or infinite outputs"),
                                          (_Scaled(), "probabilities outside .*")],
                         ids=["NaN", "scaled"])
def test_a_mixture_classifiers_expert_giving_improper_outputs_at_predict_is_named(
        n_experts, expert, what):
    X, y = make_classification(200, 6, random_state=0)
    moe = MixtureOfExpertsClassifier(expert, n_experts=n_experts, random_state=0).fit(X, y)
    assert_allclose(moe.predict_proba(X[:5]).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match=rf"expert 'expert\d' gave {what} at predict on"):
        moe.predict_proba(_far(X))


@pytest.mark.parametrize("n_experts", [1, 2])
def test_a_mixture_regressors_expert_giving_nan_at_predict_is_named(n_experts):
    # Its NaN came out as the mixture's prediction.
    X, y = make_regression(200, 6, random_state=0)
    X[:, 0] /= np.abs(X[:, 0]).max()  # NaNRidge's NaN rows (x0 > 1): none yet
    moe = MixtureOfExpertsRegressor(NaNRidge(), n_experts=n_experts, random_state=0).fit(X, y)
    assert np.isfinite(moe.predict(X[:5])).all()
    with pytest.raises(ValueError, match=r"^MixtureOfExpertsRegressor: expert 'expert\d' gave "
                                         r"NaN or infinite outputs at predict on"):
        moe.predict(_far(X), return_std=n_experts == 2)


class _ShortOnFew(LogisticRegression):
    """A logistic regression whose outputs (predict_proba and predict read its decision
    function) lack their last row on 5 or 8 rows."""

    def decision_function(self, X):
        out = super().decision_function(X)
        return out[:-1] if len(out) in (5, 8) else out


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes: Python 3.11+")
@pytest.mark.parametrize("make_composite, note", [
    (lambda: FusionClassifier([("lr", LogisticRegression()), ("short", _ShortOnFew())]),
     "member 'short', predict"),
    (lambda: FusionClassifier([("lr", LogisticRegression()), ("short", _ShortOnFew())],
                              voting="hard"), "member 'short', predict"),
    (lambda: SerialStack([("short", _ShortOnFew()), ("final", LogisticRegression())]),
     "step 'short', predict"),
    (lambda: SerialStack([("short", _ShortOnFew()), ("final", LogisticRegression())],
                         stack_method="predict"), "step 'short', predict"),
    (lambda: SerialStack([("short", _ShortOnFew()), ("final", LogisticRegression())],
                         stack_method="decision_function"), "step 'short', predict"),
    (lambda: SerialStack([("short", _ShortOnFew()), ("lr", LogisticRegression())],
                         exit_threshold=1.0), "step 'short', predict"),
    (lambda: MixtureOfExpertsClassifier(_ShortOnFew(), n_experts=1),
     "expert 'expert0', predict"),
], ids=["fusion", "fusion-hard", "stack", "stack-predict", "stack-decision", "cascade",
        "mixture"])
def test_a_member_giving_too_few_rows_is_named(make_composite, note):
    # NumPy's "all input arrays must have the same shape" (or a broadcast error) named
    # neither the member nor what was wrong.
    X, y = make_classification(200, 6, random_state=0)
    composite = make_composite().fit(X, y)
    method = "predict" if "hard" in repr(composite) else "predict_proba"
    with pytest.raises(ValueError, match=r"_ShortOnFew's (predict|predict_proba|"
                                         r"decision_function) gave an array of shape "
                                         r"\(4,.*\) for 5 rows") as raised:
        getattr(composite, method)(X[:5])
    assert any(note in n for n in raised.value.__notes__)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes: Python 3.11+")
def test_a_member_giving_too_few_rows_out_of_fold_is_named():
    X, y = make_classification(40, 6, random_state=0)  # test folds of 8 rows
    fusion = FusionClassifier([("lr", LogisticRegression()), ("short", _ShortOnFew())],
                              weights="optimize")
    with pytest.raises(ValueError, match=r"gave an array of shape \(7, 2\) for 8 rows") \
            as raised:
        fusion.fit(X, y)
    assert "member 'short', fold 1 of 5" in " ".join(raised.value.__notes__)


def test_a_cascade_step_giving_improper_probabilities_is_named():
    # The cascade routed rows on probabilities summing to 3, and returned them.
    X, y = make_classification(300, 6, random_state=0)
    steps = [("bad", _Scaled()), ("lr", LogisticRegression())]
    cascade = SerialStack(steps, exit_threshold=1.0).fit(X, y)
    with pytest.raises(ValueError, match=r"step 'bad' gave probabilities outside \[0, 1\] or "
                                         r"that do not sum to 1 over the classes at predict "
                                         r"on 2 of 5 row"):
        cascade.predict_proba(_far(X, spoilt=2))
    steps[0] = ("bad", _Scaled(above=-np.inf))
    with pytest.raises(ValueError, match=r"step 'bad' gave probabilities .* out of fold on "
                                         r"300 of 300"):
        SerialStack(steps, exit_threshold="auto").fit(X, y)


class _FailsOn(Ridge):
    """A ridge regression whose predict raises on ``n`` rows."""

    def __init__(self, n=5, alpha=1.0):
        self.n = n
        super().__init__(alpha=alpha)

    def predict(self, X):
        if len(X) == self.n:
            raise ValueError("predict failed")
        return super().predict(X)


class _GateFailsOn(LogisticRegression):
    """A logistic regression whose predict_proba raises on 5 rows."""

    def predict_proba(self, X):
        if len(X) == 5:
            raise ValueError("gate failed")
        return super().predict_proba(X)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes: Python 3.11+")
@pytest.mark.parametrize("make_mixture, note", [
    (lambda: MixtureOfExpertsRegressor(_FailsOn(), n_experts=1), "expert 'expert0', predict"),
    (lambda: MixtureOfExpertsRegressor(_FailsOn(), n_experts=2), r"expert 'expert\d', predict"),
    (lambda: MixtureOfExpertsRegressor(Ridge(), n_experts=2, gate=_GateFailsOn()),
     "the gate, predict"),
], ids=["lone expert", "routed expert", "gate"])
def test_a_mixture_member_failing_at_predict_is_named_in_a_note(make_mixture, note):
    X, y = make_regression(200, 6, random_state=0)
    mixture = make_mixture().set_params(random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="failed") as raised:
        mixture.predict(X[:5])
    assert any(re.search(note, n) for n in raised.value.__notes__)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes: Python 3.11+")
def test_a_mixture_expert_failing_in_em_is_named_in_a_note():
    # EM scores every expert on every row: 200 of them here.
    X, y = make_regression(200, 6, random_state=0)
    mixture = MixtureOfExpertsRegressor(_FailsOn(200), n_experts=2, random_state=0,
                                        validation_fraction=None)
    with pytest.raises(ValueError, match="predict failed") as raised:
        mixture.fit(X, y)
    assert any(re.search(r"expert 'expert\d', predict", n) for n in raised.value.__notes__)
