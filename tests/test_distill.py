"""Distillation: soft targets, out-of-fold honesty, synthetic rows, frozen teachers."""

import tracemalloc
import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import GroupKFold, KFold, TimeSeriesSplit
from sklearn.multioutput import MultiOutputRegressor
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skfuse import DistilledClassifier, DistilledRegressor, FusionClassifier, SerialStack
from skfuse._augment import augment, column_kinds, nearest_neighbours
from skfuse._distill import LOGIT_EPS, duplicated_targets

from composites import CountingLR, CountingNB, NaNRidge, reset_counts

X_CLF, Y_CLF = make_classification(n_samples=120, n_features=5, n_informative=3,
                                   n_classes=3, random_state=0)
X_BIN, Y_BIN = make_classification(n_samples=100, n_features=4, random_state=1)
X_REG, Y_REG = make_regression(n_samples=100, n_features=4, noise=5.0, random_state=0)


class RecordingTree(DecisionTreeClassifier):
    """A tree that records what each of its fits got (in this process), in fit order."""

    fits = []

    def fit(self, X, y, sample_weight=None, check_input=True):
        type(self).fits.append((np.array(X, copy=True), np.array(y, copy=True),
                                None if sample_weight is None else np.array(sample_weight)))
        return super().fit(X, y, sample_weight=sample_weight, check_input=check_input)


class RecordingRegressor(DecisionTreeRegressor):
    """A regression tree that records what each of its fits got, in fit order."""

    fits = []

    def fit(self, X, y, sample_weight=None, check_input=True):
        type(self).fits.append((np.array(X, copy=True), np.array(y, copy=True),
                                None if sample_weight is None else np.array(sample_weight)))
        return super().fit(X, y, sample_weight=sample_weight, check_input=check_input)


def full_fit(recorder):
    """The student's fit on all its rows: the first, as the plan runs the refit first."""
    (fit, *_) = recorder.fits
    assert len(fit[0]) == max(len(X) for X, _, _ in recorder.fits)
    return fit


# Which rows each fit of a RowMemory teacher saw: ids in column 0 of X, by fit number.
SEEN = []


class RowMemory(RegressorMixin, BaseEstimator):
    """A teacher that remembers the rows it was fitted on and predicts its fit number."""

    def fit(self, X, y, sample_weight=None):
        self.fit_id_ = len(SEEN)
        SEEN.append(set(np.asarray(X)[:, 0].astype(int)))
        return self

    def predict(self, X):
        return np.full(len(X), float(self.fit_id_))


class RowMemoryClassifier(ClassifierMixin, BaseEstimator):
    """RowMemory for classifiers: class 0 gets probability (fit number + 1) / 100."""

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.unique(y)
        self.fit_id_ = len(SEEN)
        SEEN.append(set(np.asarray(X)[:, 0].astype(int)))
        return self

    def predict_proba(self, X):
        first = (self.fit_id_ + 1) / 100
        return np.tile([first, 1.0 - first], (len(X), 1))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def with_ids(X):
    """X with a first column holding each row's position."""
    return np.column_stack([np.arange(len(X)), X])


# -- soft targets ----------------------------------------------------------------------


def test_duplication_targets_equal_a_hand_computation():
    rng = np.random.RandomState(0)
    proba = rng.dirichlet(np.ones(3), size=5)
    sw = rng.uniform(0.5, 2.0, size=5)
    classes = np.array(["a", "b", "c"])
    rows, labels, weights = duplicated_targets(proba, classes, sw)
    for i in range(5):
        for k in range(3):
            assert rows[3 * i + k] == i
            assert labels[3 * i + k] == classes[k]
            assert weights[3 * i + k] == pytest.approx(sw[i] * proba[i, k], rel=1e-15)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_the_student_is_fitted_on_the_hand_computed_duplicates(temperature):
    # A frozen teacher's output on every row is its out-of-fold output: known in advance.
    teacher = FrozenEstimator(LogisticRegression().fit(X_CLF[:60], Y_CLF[:60]))
    sw = np.random.RandomState(1).uniform(0.5, 2.0, size=len(Y_CLF))
    RecordingTree.fits = []
    DistilledClassifier(teacher, RecordingTree(max_depth=3), label_weight=0.0,
                        temperature=temperature,
                        augment=None, cv=3, random_state=0).fit(X_CLF, Y_CLF, sample_weight=sw)
    X_fit, y_fit, w_fit = full_fit(RecordingTree)
    proba = teacher.predict_proba(X_CLF)
    soft = proba ** (1 / temperature)
    soft /= soft.sum(axis=1, keepdims=True)
    n, k = proba.shape
    assert_array_equal(X_fit, np.repeat(X_CLF, k, axis=0))
    assert_array_equal(y_fit, np.tile([0, 1, 2], n))
    assert_allclose(w_fit, (soft * sw[:, None]).ravel(), rtol=1e-12)


@pytest.mark.parametrize("in_pipeline", [False, True])
def test_a_balanced_student_is_balanced_by_the_weights_of_the_copies(in_pipeline):
    # A tree balances by its rows' unweighted label counts: the copies give every class
    # about as many rows, so "balanced" changed nothing below label_weight=1. The
    # classes are balanced by the copies' weights instead (LogisticRegression's way),
    # and the student fitted without class_weight.
    teacher = FrozenEstimator(LogisticRegression().fit(X_CLF[:60], Y_CLF[:60]))
    sw = np.random.RandomState(1).uniform(0.5, 2.0, size=len(Y_CLF))
    tree = RecordingTree(max_depth=3, class_weight="balanced")
    RecordingTree.fits = []
    distilled = DistilledClassifier(teacher, make_pipeline(tree) if in_pipeline else tree,
                                    label_weight=0.0, augment=None, cv=3,
                                    random_state=0).fit(X_CLF, Y_CLF, sample_weight=sw)
    _, y_fit, w_fit = full_fit(RecordingTree)
    copies = (teacher.predict_proba(X_CLF) * sw[:, None]).ravel()
    counts = np.bincount(y_fit, weights=copies)
    assert_allclose(w_fit, copies * (copies.sum() / (3 * counts))[y_fit], rtol=1e-12)
    fitted = distilled.student_[-1] if in_pipeline else distilled.student_
    assert fitted.class_weight is None
    assert distilled.student.get_params()[
        "recordingtree__class_weight" if in_pipeline else "class_weight"] == "balanced"
    # A forest's per-bootstrap balance, from the copies' counts too, is the same as none.
    forest = RandomForestClassifier(n_estimators=5, class_weight="balanced_subsample",
                                    random_state=0)
    distilled = DistilledClassifier(teacher, forest, label_weight=0.0, augment=None, cv=3,
                                    random_state=0).fit(X_CLF, Y_CLF)
    assert distilled.student_.class_weight is None


@pytest.mark.parametrize("label_weight", [0.5, "auto"])
def test_a_student_with_non_finite_outputs_is_refused(label_weight):
    # Its fidelity_ was made up of NaN (the regressor's r2 failed in scikit-learn's bare
    # words), and "auto" failed with "min() arg is an empty sequence".
    X = X_REG * np.array([3.0, 1, 1, 1])  # a fair share of rows with x0 > 1
    distiller = DistilledRegressor(Ridge(), NaNRidge(), label_weight=label_weight, cv=3,
                                   random_state=0)
    where = "at label weight" if label_weight == "auto" else "out of fold"
    with pytest.raises(ValueError, match=f"^DistilledRegressor: the student gave NaN or "
                                         f"infinite outputs {where}"):
        distiller.fit(X, Y_REG)


def test_a_balanced_student_at_label_weight_one_is_the_one_fitted_on_the_labels(
        global_random_seed):
    X, y = make_classification(300, 5, n_informative=3, weights=[0.8, 0.2],
                               random_state=global_random_seed)
    sw = np.random.RandomState(global_random_seed).choice([0.2, 5.0], size=300)
    tree = DecisionTreeClassifier(max_depth=3, class_weight="balanced", random_state=0)
    teacher = FrozenEstimator(LogisticRegression().fit(X, y))
    distilled = DistilledClassifier(teacher, tree, label_weight=1.0, cv=3,
                                    random_state=0).fit(X, y, sample_weight=sw)
    assert_array_equal(distilled.predict_proba(X),
                       clone(tree).fit(X, y, sample_weight=sw).predict_proba(X))
    # A teacher of hard probabilities gives each row one copy at any label weight:
    # below 1 the copies' weights balance the classes all the same.
    hard = FrozenEstimator(DecisionTreeClassifier(random_state=0).fit(X, y))
    distilled = DistilledClassifier(hard, tree, label_weight=0.5, cv=3,
                                    random_state=0).fit(X, y, sample_weight=sw)
    assert distilled.student_.class_weight is None


@pytest.mark.parametrize("student, weights_to, rtol", [
    # the weights at a Pipeline's last step
    (make_pipeline(StandardScaler(), LogisticRegression()),
     "logisticregression__sample_weight", 1e-9),
    # LogisticRegression already balances by weighted counts: the same fit either way
    (LogisticRegression(class_weight="balanced"), "sample_weight", 1e-6),
], ids=["pipeline", "balanced logistic"])
def test_a_student_is_the_fit_on_the_weighted_copies(student, weights_to, rtol):
    teacher = FrozenEstimator(GaussianNB().fit(X_CLF, Y_CLF))
    distilled = DistilledClassifier(teacher, student, label_weight=0.0,
                                    augment=None, cv=3, random_state=0).fit(X_CLF, Y_CLF)
    proba = teacher.predict_proba(X_CLF)
    by_hand = clone(student).fit(np.repeat(X_CLF, 3, axis=0), np.tile([0, 1, 2], len(X_CLF)),
                                 **{weights_to: proba.ravel()})
    assert_allclose(distilled.predict_proba(X_CLF), by_hand.predict_proba(X_CLF), rtol=rtol)


@pytest.mark.parametrize("X, y", [(X_BIN, Y_BIN), (X_CLF, Y_CLF)], ids=["binary", "3 classes"])
def test_a_regressor_student_learns_the_teachers_logits(X, y):
    teacher = FrozenEstimator(LogisticRegression().fit(X, y))
    RecordingRegressor.fits = []
    distilled = DistilledClassifier(teacher, RecordingRegressor(max_depth=4), label_weight=0.0,
                                    temperature=2.0, augment=None, cv=3, random_state=0).fit(X, y)
    assert distilled.soft_labels_ == "logits"
    log_p = np.log(np.clip(teacher.predict_proba(X), LOGIT_EPS, 1 - LOGIT_EPS))
    _, z_fit, w_fit = full_fit(RecordingRegressor)
    assert w_fit is None
    if len(np.unique(y)) == 2:
        assert_allclose(z_fit, (log_p[:, 1] - log_p[:, 0]) / 2.0, rtol=1e-12)
        z = distilled.student_.predict(X)
        assert_allclose(distilled.predict_proba(X)[:, 1], 1 / (1 + np.exp(-2.0 * z)))
    else:  # one logit per class, centred, in one multi-output fit (a tree takes them)
        assert_allclose(z_fit, (log_p - log_p.mean(axis=1, keepdims=True)) / 2.0,
                        rtol=1e-12)
        assert_allclose(distilled.predict_proba(X),
                        softmax(2.0 * distilled.student_.predict(X), axis=1))
        # A regressor of one output learns them one per class.
        one = DistilledClassifier(teacher, HistGradientBoostingRegressor(max_iter=5), label_weight=0.0,
                                  augment=None, cv=3,
                                  random_state=0).fit(X, y)
        assert isinstance(one.student_, MultiOutputRegressor)
        assert len(one.student_.estimators_) == 3


def test_a_student_that_takes_neither_kind_of_soft_label_is_refused():
    teacher = LogisticRegression()
    with pytest.raises(TypeError, match=r"student \(KNeighborsClassifier\) does not accept "
                       r"sample_weight.*regressor student"):
        DistilledClassifier(teacher, KNeighborsClassifier()).fit(X_CLF, Y_CLF)
    # The same kind of model as a regressor learns the logits, without weights.
    distilled = DistilledClassifier(teacher, KNeighborsRegressor(), cv=3).fit(X_CLF, Y_CLF)
    assert distilled.soft_labels_ == "logits"
    with pytest.raises(TypeError, match=r"student \(KNeighborsRegressor\) does not accept"):
        distilled.fit(X_CLF, Y_CLF, sample_weight=np.ones(len(Y_CLF)))
    with pytest.raises(TypeError, match="teacher should be a classifier with predict_proba"):
        DistilledClassifier(LinearSVC(), DecisionTreeClassifier()).fit(X_CLF, Y_CLF)
    with pytest.raises(TypeError, match="student should be a regressor"):
        DistilledRegressor(Ridge(), DecisionTreeClassifier()).fit(X_REG, Y_REG)
    # A model that predicts but is neither kind (clusters) learns no soft label.
    with pytest.raises(TypeError, match=r"student should be a classifier .* or a "
                       r"regressor .*; got KMeans"):
        DistilledClassifier(teacher, KMeans(2, n_init=1)).fit(X_CLF, Y_CLF)


# -- out of fold -------------------------------------------------------------------------


@pytest.mark.parametrize("cv", [3, KFold(4, shuffle=True, random_state=0)])
def test_out_of_fold_targets_never_come_from_a_fit_that_saw_the_row(cv):
    SEEN.clear()
    X = with_ids(X_REG)
    RecordingRegressor.fits = []
    DistilledRegressor(RowMemory(), RecordingRegressor(), label_weight=0.0,
                       augment=None, cv=cv, random_state=0).fit(X, Y_REG)
    X_fit, y_fit, _ = full_fit(RecordingRegressor)
    assert len(SEEN) == 1 + (cv if isinstance(cv, int) else cv.get_n_splits())
    for row, fit_id in zip(X_fit[:, 0].astype(int), y_fit.astype(int)):
        assert row not in SEEN[fit_id]
    # In-sample targets all come from the fit on every row, which saw each of them.
    SEEN.clear()
    RecordingRegressor.fits = []
    DistilledRegressor(RowMemory(), RecordingRegressor(), label_weight=0.0,
                       targets="fit", augment=None, cv=cv).fit(X, Y_REG)
    _, y_fit, _ = full_fit(RecordingRegressor)
    assert len(SEEN) == 1 and set(y_fit) == {0.0} and SEEN[0] == set(range(len(X)))


def test_out_of_fold_probabilities_never_come_from_a_fit_that_saw_the_row():
    SEEN.clear()
    X = with_ids(X_BIN)
    RecordingTree.fits = []
    distilled = DistilledClassifier(RowMemoryClassifier(), RecordingTree(), label_weight=0.0,
                                    augment="munge",
                                    n_augment=30, cv=4, random_state=0).fit(X, Y_BIN)
    X_fit, _, w_fit = full_fit(RecordingTree)
    # Each row's first copy is weighted by the probability of class 0, which names the fit.
    fit_ids = np.round(w_fit[::2] * 100).astype(int) - 1
    real = len(X)
    for row, fit_id in zip(X_fit[: 2 * real : 2, 0].astype(int), fit_ids[:real]):
        assert row not in SEEN[fit_id]
    # Synthetic rows were labelled by the teacher fitted on all rows (fit number 0).
    assert distilled.n_augmented_ == 30 and set(fit_ids[real:]) == {0}


def test_groups_reach_the_splitter_with_metadata_routing():
    SEEN.clear()
    X = with_ids(X_REG)
    groups = np.arange(len(X)) // 10
    RecordingRegressor.fits = []
    with sklearn.config_context(enable_metadata_routing=True):
        DistilledRegressor(RowMemory(), RecordingRegressor(), label_weight=0.0,
                           augment=None, cv=GroupKFold(3)).fit(
            X, Y_REG, groups=groups)
    X_fit, y_fit, _ = full_fit(RecordingRegressor)
    for row, fit_id in zip(X_fit[:, 0].astype(int), y_fit.astype(int)):
        seen_groups = {groups[r] for r in SEEN[fit_id]}
        assert groups[row] not in seen_groups


def test_rows_no_fold_tests_are_left_out_of_the_students_fit():
    RecordingRegressor.fits = []
    DistilledRegressor(Ridge(), RecordingRegressor(), label_weight=0.0,
                       augment=None, cv=TimeSeriesSplit(4)).fit(X_REG, Y_REG)
    X_fit, _, _ = full_fit(RecordingRegressor)
    assert_array_equal(X_fit, X_REG[20:])  # the first of five blocks is never tested


# -- frozen teachers and predict ---------------------------------------------------------


@pytest.mark.parametrize("targets", ["oof", "fit"])
def test_a_teacher_predicting_nan_is_named(targets):
    # The student's fit refused its targets as "Input y contains NaN", naming neither
    # the teacher nor the cause.
    X, y = make_regression(200, 4, noise=5, random_state=0)
    distiller = DistilledRegressor(NaNRidge(), DecisionTreeRegressor(max_depth=3),
                                   targets=targets, random_state=0)
    with pytest.raises(ValueError, match=r"the teacher \(NaNRidge\) predicted NaN"):
        distiller.fit(X, y)


@pytest.mark.parametrize("targets", ["oof", "fit"])
def test_a_frozen_teacher_is_not_refitted(targets):
    fitted = CountingLR(max_iter=500).fit(X_CLF, Y_CLF)
    reset_counts()
    teacher = FrozenEstimator(fitted)
    distilled = DistilledClassifier(teacher, DecisionTreeClassifier(max_depth=3), label_weight=0.0,
                                    
                                    targets=targets, cv=3, random_state=0).fit(X_CLF, Y_CLF)
    assert CountingLR.fits == 0
    assert distilled.teacher_ is teacher
    # Not frozen, the same teacher is fitted on all rows, and on each fold for "oof".
    DistilledClassifier(CountingLR(max_iter=500), DecisionTreeClassifier(max_depth=3), label_weight=0.0,
                        
                        targets=targets, cv=3, random_state=0).fit(X_CLF, Y_CLF)
    assert CountingLR.fits == (4 if targets == "oof" else 1)


@pytest.mark.parametrize("distiller, student, X, y", [
    (DistilledClassifier, DecisionTreeClassifier(max_depth=3), X_CLF, Y_CLF),
    (DistilledClassifier, Ridge(), X_CLF, Y_CLF),
    (DistilledRegressor, Ridge(), X_REG, Y_REG),
])
def test_a_frozen_student_is_refused_as_one_that_cannot_learn(distiller, student, X, y):
    teacher = LogisticRegression() if distiller is DistilledClassifier else Ridge()
    frozen = FrozenEstimator(clone(student).fit(X, y))
    with pytest.raises(TypeError, match=r"the student \(FrozenEstimator\) is frozen, so "
                                        "it cannot learn from the teacher"):
        distiller(teacher, frozen, cv=3).fit(X, y)


def test_predict_calls_only_the_student():
    distilled = DistilledClassifier(CountingNB(), DecisionTreeClassifier(max_depth=3),
                                    cv=3, random_state=0).fit(X_CLF, Y_CLF)
    reset_counts()
    distilled.predict(X_CLF)
    distilled.predict_proba(X_CLF)
    assert CountingNB.calls == 0 and CountingNB.fits == 0
    assert_array_equal(distilled.predict_proba(X_CLF),
                       distilled.student_.predict_proba(X_CLF))


def test_fidelity_is_agreement_with_the_teacher_on_held_out_folds():
    # A student that can copy the teacher exactly agrees with it everywhere.
    teacher = FrozenEstimator(Ridge().fit(X_REG, Y_REG))
    copy = DistilledRegressor(teacher, LinearRegression(), augment=None, cv=3).fit(X_REG, Y_REG)
    assert copy.fidelity_ == pytest.approx(1.0)
    stump = DistilledRegressor(teacher, DecisionTreeRegressor(max_depth=1), augment=None, cv=3,
                               random_state=0).fit(X_REG, Y_REG)
    assert 0 < stump.fidelity_ < 0.9
    clf = DistilledClassifier(LogisticRegression(), DecisionTreeClassifier(max_depth=4),
                              augment=None, cv=3, random_state=0).fit(X_CLF, Y_CLF)
    assert 0.5 < clf.fidelity_ <= 1.0


@pytest.mark.parametrize("augment", [None, "munge", "resample"])
def test_unit_weights_equal_no_weights_and_skewed_weights_change_the_fit(augment):
    # With synthetic rows too: equal weights draw the same parents as no weights.
    def make():
        return DistilledClassifier(LogisticRegression(), DecisionTreeClassifier(max_depth=3),
                                   augment=augment, cv=3, random_state=0)

    plain = make().fit(X_CLF, Y_CLF).predict_proba(X_CLF)
    assert_allclose(make().fit(X_CLF, Y_CLF, sample_weight=np.ones(len(Y_CLF)))
                    .predict_proba(X_CLF), plain)
    skewed = np.where(Y_CLF == 0, 10.0, 1.0)
    assert not np.allclose(make().fit(X_CLF, Y_CLF, sample_weight=skewed)
                           .predict_proba(X_CLF), plain)


def test_a_distilled_student_is_a_cascades_cheap_step():
    teacher = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB()),
                                ("tree", DecisionTreeClassifier(max_depth=5))])
    student = DistilledClassifier(teacher, DecisionTreeClassifier(max_depth=3))
    cascade = SerialStack([("student", student), ("teacher", teacher)],
                          exit_threshold="auto", cv=3, random_state=0).fit(X_CLF, Y_CLF)
    routes = cascade.predict_route(X_CLF)
    assert set(routes) <= {0, 1} and cascade.score(X_CLF, Y_CLF) > 0.8


# -- synthetic rows ------------------------------------------------------------------------


def frame():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    n = 80
    return pd.DataFrame({
        "height": np.where(rng.uniform(size=n) < 0.1, np.nan, rng.normal(170, 10, n)),
        "code": rng.choice([1, 3, 5, 7], n).astype(np.int64),
        "onehot": rng.randint(0, 2, n).astype(np.float64),
        "colour": pd.Categorical(rng.choice(["red", "green"], n),
                                 categories=["red", "green", "blue"]),
        "flag": rng.uniform(size=n) < 0.3,
        "city": rng.choice(["Oslo", "Lima", "Pune"], n).astype(object),
    })


def test_column_kinds_say_how_integer_columns_are_detected():
    assert column_kinds(frame()) == ["float", "integer", "integer", "category", "category",
                                     "category"]
    X = np.column_stack([np.arange(5.0), np.linspace(0, 1, 5), [0, 1, 0, np.nan, 1]])
    assert column_kinds(X) == ["integer", "float", "integer"]


@pytest.mark.parametrize("method", ["munge", "resample"])
def test_augmented_rows_respect_column_types_ranges_and_categories(method):
    X = frame()
    new, parents = augment(X, 500, method, np.random.RandomState(0))
    assert len(new) == 500 and parents.min() >= 0 and parents.max() < len(X)
    assert list(new.columns) == list(X.columns)
    assert (new.dtypes == X.dtypes).all()
    assert list(new["colour"].cat.categories) == ["red", "green", "blue"]
    for column in ("code", "onehot", "colour", "flag", "city"):
        assert set(new[column].dropna()) <= set(X[column].dropna()), column
    height = new["height"].dropna()
    assert X["height"].min() <= height.min() and height.max() <= X["height"].max()
    # The rows are new: MUNGE draws heights between the observed ones; resampling
    # mixes the observed values of other rows into a copy of the parent.
    if method == "munge":
        assert not set(height) <= set(X["height"].dropna())
    changed = (new["code"].to_numpy() != X["code"].to_numpy()[parents])
    assert 0.1 < changed.mean() < 0.9


@pytest.mark.parametrize("method", ["munge", "resample"])
def test_augmented_rows_keep_the_parents_missing_values(method):
    # A missing value stays, and a move toward a missing value is none, in numeric and
    # categorical columns alike (resampling drew NaN from other rows like any value).
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    n = 200  # numeric columns enough that a row's neighbour often lacks its NaN
    X = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(4)})
    X["colour"] = pd.Categorical(rng.choice(["red", "green", "blue"], n))
    X["city"] = rng.choice(["Oslo", "Lima", "Pune"], n).astype(object)
    X.loc[rng.uniform(size=n) < 0.3, "colour"] = np.nan
    X.loc[rng.uniform(size=n) < 0.3, "city"] = np.nan
    X.loc[rng.uniform(size=n) < 0.3, "x0"] = np.nan
    new, parents = augment(X, 2000, method, np.random.RandomState(0))
    for column in ("x0", "colour", "city"):
        parent_missing = X[column].isna().to_numpy()[parents]
        assert_array_equal(new[column].isna().to_numpy(), parent_missing, err_msg=column)
    changed = new["city"].to_numpy() != X["city"].to_numpy()[parents]
    assert (changed & ~pd.isna(new["city"]).to_numpy()).any()  # the others still move


@pytest.mark.parametrize("method", ["munge", "resample"])
@pytest.mark.parametrize("missing", ["NA", "NaT", "float32"])
def test_augmented_object_arrays_keep_pandas_and_numpy_missing_values(method, missing):
    # DataFrame.to_numpy() leaves pandas' NA (string, nullable columns) and NaT
    # (datetimes) in an object array; a float32 column leaves np.float32 NaN. fit reads
    # them as missing, and so must augmentation: resampling drew them from other rows
    # as values (and filled a parent's), MUNGE took them from a neighbour.
    pd = pytest.importorskip("pandas")
    value = {"NA": pd.NA, "NaT": pd.NaT, "float32": np.float32("nan")}[missing]
    rng = np.random.RandomState(0)
    n = 200
    X = np.empty((n, 3), dtype=object)
    X[:, 0] = rng.choice(["Oslo", "Lima", "Pune"], n)
    X[:, 1] = rng.choice([f"c{i}" for i in range(20)], n)  # few rows alike: a row's
    X[:, 2] = rng.choice([f"d{i}" for i in range(20)], n)  # neighbour may miss column 0
    X[rng.uniform(size=n) < 0.3, 0] = value
    new, parents = augment(X, 2000, method, np.random.RandomState(0))
    assert_array_equal(pd.isna(new[:, 0]), pd.isna(X[parents, 0]))
    changed = new[:, 0].astype(str) != X[parents, 0].astype(str)
    assert changed.any()  # the others still move


@pytest.mark.parametrize("method", ["munge", "resample"])
def test_augmented_rows_keep_a_teachers_views_whole(method):
    # Resampled rows mixed one view's NaN (a missing modality) with another row's values:
    # a view partly missing, which the teacher's members refused (or, taking NaN,
    # labelled rows unlike any in the data).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + X[:, 2] > 0).astype(int)
    X[:40, :2] = np.nan  # view "a" missing on 40 rows
    teacher = FusionClassifier([("a", LogisticRegression()), ("b", LogisticRegression())],
                               views={"a": [0, 1], "b": [2, 3]})
    new, parents = augment(X, 1000, method, np.random.RandomState(0))
    assert_array_equal(np.isnan(new), np.isnan(X[parents]))
    distilled = DistilledClassifier(teacher, HistGradientBoostingClassifier(max_iter=10),
                                    augment=method, random_state=0).fit(X, y)
    assert distilled.n_augmented_ > 0


def test_augmented_arrays_keep_integer_codes_and_ranges():
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.choice([2.0, 4.0, 10.0], 60), rng.uniform(-1, 3, 60),
                         rng.randint(0, 2, 60)]).astype(np.float64)
    new, _ = augment(X, 300, "munge", np.random.RandomState(1))
    assert new.dtype == X.dtype
    assert set(new[:, 0]) <= {2.0, 4.0, 10.0} and set(new[:, 2]) <= {0.0, 1.0}
    assert X[:, 1].min() <= new[:, 1].min() and new[:, 1].max() <= X[:, 1].max()


def column_by_column(X, n_rows, method, rng):
    """MUNGE and column resampling of a plain float array, one column at a time: the
    reference the block-wise :func:`augment` must match draw for draw."""
    from skfuse._augment import MUNGE_P, MUNGE_S, RESAMPLE_P, nearest_neighbours

    n, d = X.shape
    parents = rng.choice(n, size=n_rows)
    if method == "munge":
        donors = np.repeat(nearest_neighbours(X)[parents][:, None], d, axis=1)
        moves = rng.uniform(size=(n_rows, d)) < MUNGE_P
    else:
        donors = rng.choice(n, size=(n_rows, d))
        moves = rng.uniform(size=(n_rows, d)) < RESAMPLE_P
    out = np.empty((n_rows, d))
    for c, kind in enumerate(column_kinds(X)):
        values = X[:, c]
        new, other = values[parents], values[donors[:, c]]
        move = moves[:, c] & ~np.isnan(new) & ~np.isnan(other)
        if method == "resample":
            new = np.where(move, other, new)
        else:
            drawn = rng.normal(np.where(move, other, 0.0),
                               np.where(move, np.abs(new - other) / MUNGE_S, 0.0))
            new = np.where(move, drawn, new)
        seen = values[~np.isnan(values)]
        if seen.size:  # (compared: np.clip may return a bound at a tie, -0.0 for 0.0)
            new = np.where(new < seen.min(), seen.min(),
                           np.where(new > seen.max(), seen.max(), new))
        if kind == "integer" and method == "munge" and move.any():
            levels = np.unique(seen)
            nearest = levels[np.abs(new[:, None] - levels[None, :]).argmin(axis=1)]
            # The value as the first row holding it has it (-0.0 or 0.0).
            first_holder = (values[None, :] == nearest[:, None]).argmax(axis=1)
            new = np.where(move, values[first_holder], values[parents])
        elif kind == "integer":
            new = values[np.where(move, donors[:, c], parents)]
        out[:, c] = new
    return out, parents


@pytest.mark.parametrize("method", ["munge", "resample"])
@pytest.mark.parametrize("shape", [(1, 3), (40, 5), (1100, 1000)])
def test_augmentation_draws_as_one_column_at_a_time_would(method, shape):
    # The columns are grown in blocks (1100 x 1000 takes two); each cell must be the one
    # a column-by-column loop draws: same draws, same order, an integer column's signed
    # zeros read from their rows.
    rng = np.random.RandomState(0)
    X = rng.normal(size=shape)
    X[:, 1::3] = rng.randint(-3, 4, size=X[:, 1::3].shape)  # integer-coded
    X[rng.uniform(size=shape) < 0.1] = np.nan
    X[:, 0] = np.where(rng.uniform(size=shape[0]) < 0.5, -0.0, 0.0)  # signed zeros
    if shape[1] > 3:
        X[:, 2], X[:, 3] = np.nan, 7.5  # a column with no value, a constant one
    new, parents = augment(X, 2 * shape[0], method, np.random.RandomState(1))
    expected, expected_parents = column_by_column(X, 2 * shape[0], method,
                                                  np.random.RandomState(1))
    assert_array_equal(parents, expected_parents)
    assert_array_equal(new, expected)
    assert_array_equal(np.signbit(new[:, 0]), np.signbit(expected[:, 0]))


@pytest.mark.parametrize("method", ["munge", "resample"])
@pytest.mark.parametrize("as_frame", [False, True])
def test_augmented_integers_beyond_2_53_keep_their_exact_values(method, as_frame):
    # Integer columns went through float64, which rounds beyond 2**53: nanosecond
    # timestamps and hashed ids came back as values never seen in their column.
    rng = np.random.RandomState(0)
    ids = 2**60 + rng.randint(0, 10**6, 80).astype(np.int64) * 1001
    X = np.column_stack([ids, rng.randint(0, 5, 80)])
    if as_frame:
        pd = pytest.importorskip("pandas")
        X = pd.DataFrame({"id": ids, "level": X[:, 1], "x": rng.randn(80)})
    new, parents = augment(X, 400, method, np.random.RandomState(1))
    new_ids = new["id"].to_numpy() if as_frame else new[:, 0]
    assert new_ids.dtype == np.int64
    assert set(new_ids.tolist()) <= set(ids.tolist())
    # Some cells moved, and those that did not are their parent's, exactly.
    assert 0 < (new_ids != ids[parents]).sum() < len(new_ids)


def test_munge_neighbours_of_rows_with_an_id_column_are_found_sparsely():
    # The one-hot of a column with one level per row was dense, n x n: 137 MiB and 8 s
    # at 3,000 rows (beyond 64 MiB it is sparse now). Distinct ids add the same
    # distance to every pair, so the neighbours are those of the other columns.
    import tracemalloc

    pd = pytest.importorskip("pandas")
    from skfuse._augment import nearest_neighbours

    n = 4000
    X = pd.DataFrame({"text": [f"review {i}" for i in range(n)],
                      "x": np.random.RandomState(0).randn(n)})
    with sklearn.config_context(working_memory=4):  # scikit-learn's chunks, in MiB
        tracemalloc.start()
        try:
            found = nearest_neighbours(X)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert_array_equal(found, nearest_neighbours(X[["x"]]))
    assert peak < n * n * 8 / 2  # half the dense one-hot


def test_the_student_learns_synthetic_rows_of_a_dataframe():
    pd = pytest.importorskip("pandas")
    X = frame().drop(columns=["city", "flag"])
    y = (X["code"] > 3).to_numpy() ^ (X["colour"] == "red").to_numpy()
    model = HistGradientBoostingClassifier(max_iter=50, min_samples_leaf=5,
                                           categorical_features="from_dtype")
    distilled = DistilledClassifier(model, model, label_weight=0.0,
                                    augment="munge", n_augment=2.0, cv=3,
                                    random_state=0).fit(X, y)
    assert distilled.n_augmented_ == 2 * len(X)
    assert list(distilled.feature_names_in_) == list(X.columns)
    assert distilled.score(X, y) > 0.8
    assert isinstance(distilled.predict(X.iloc[:5]), np.ndarray)
    assert isinstance(X, pd.DataFrame)


def test_auto_augment_grows_no_rows_where_routing_refuses_the_students_weights():
    # Under metadata routing a Pipeline whose scaler (which takes sample_weight) leaves
    # its request unset refuses weights: "auto" falls back to no synthetic rows.
    with sklearn.config_context(enable_metadata_routing=True):
        student = make_pipeline(StandardScaler(), DecisionTreeRegressor(
            max_depth=3).set_fit_request(sample_weight=True))
        for label_weight in (0.5, "auto"):
            distilled = DistilledRegressor(Ridge(), student, label_weight=label_weight, cv=3,
                                           random_state=0).fit(X_REG, Y_REG)
            assert distilled.augment_ is None and distilled.n_augmented_ == 0
        # At label_weight=0 every row weighs 1: no weights to route.
        assert DistilledRegressor(Ridge(), student, label_weight=0.0, cv=3,
                                  random_state=0).fit(X_REG, Y_REG).augment_ == "munge"


@pytest.mark.parametrize("method", ["munge", "resample"])
def test_explicit_augment_is_the_method_recorded(method):
    distilled = DistilledRegressor(Ridge(), DecisionTreeRegressor(max_depth=3),
                                   augment=method, cv=3, random_state=0).fit(X_REG, Y_REG)
    assert distilled.augment_ == method and distilled.n_augmented_ == len(X_REG)


def test_auto_augment_label_weight_1_as_an_int_and_a_dataframe():
    pd = pytest.importorskip("pandas")

    def fit(X, **params):
        return DistilledRegressor(Ridge(), DecisionTreeRegressor(max_depth=3), cv=3,
                                  random_state=0, **params).fit(X, Y_REG)

    assert fit(X_REG, label_weight=1).augment_ is None
    frame = pd.DataFrame(X_REG, columns=[f"x{i}" for i in range(X_REG.shape[1])])
    assert fit(frame).augment_ == "munge"


def test_augmentation_needs_dense_input():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="augment='munge' needs dense X"):
        DistilledClassifier(LogisticRegression(), DecisionTreeClassifier(), augment="munge",
                            cv=3).fit(sparse.csr_matrix(X_CLF), Y_CLF)


def test_auto_augment_grows_munge_rows_from_a_dense_table():
    auto = DistilledRegressor(Ridge(), DecisionTreeRegressor(max_depth=3), cv=3,
                              random_state=0).fit(X_REG, Y_REG)
    munge = DistilledRegressor(Ridge(), DecisionTreeRegressor(max_depth=3), augment="munge",
                               cv=3, random_state=0).fit(X_REG, Y_REG)
    assert auto.augment == "auto" and auto.augment_ == "munge" and munge.augment_ == "munge"
    assert auto.n_augmented_ == len(X_REG)
    assert_array_equal(auto.predict(X_REG), munge.predict(X_REG))
    none = DistilledRegressor(Ridge(), DecisionTreeRegressor(max_depth=3), augment=None,
                              cv=3, random_state=0).fit(X_REG, Y_REG)
    assert none.augment_ is None and none.n_augmented_ == 0


def test_auto_augment_grows_no_rows_where_munge_cannot_or_should_not(monkeypatch, capsys):
    sparse = pytest.importorskip("scipy.sparse")

    def fit(X, y=Y_REG, student=None, **params):
        student = DecisionTreeRegressor(max_depth=3) if student is None else student
        return DistilledRegressor(Ridge(), student, cv=3, random_state=0,
                                  **params).fit(X, y)

    # A sparse matrix: no neighbours searched, no error (as with augment=None); verbose
    # says why.
    assert fit(sparse.csr_matrix(X_REG), verbose=1).augment_ is None
    assert "augment='auto' grows no synthetic rows: X is a sparse matrix" in (
        capsys.readouterr().out)
    # A student without sample_weight cannot take the synthetic rows' weights when the
    # label weight may fall between 0 and 1; at label_weight=0 every row weighs 1.
    knn = fit(X_REG, student=KNeighborsRegressor())
    assert knn.augment_ is None and knn.n_augmented_ == 0
    assert fit(X_REG, student=KNeighborsRegressor(), label_weight=0.0).augment_ == "munge"
    # The labels alone: no rows grown to be left out.
    assert fit(X_REG, label_weight=1.0).augment_ is None
    assert fit(X_REG, label_weight=1.0, augment="munge").augment_ == "munge"
    # More rows than the neighbour search is given.
    monkeypatch.setattr("skfuse._augment.AUTO_MAX_ROWS", len(X_REG) - 1)
    big = fit(X_REG)
    assert big.augment_ is None and big.n_augmented_ == 0
    monkeypatch.setattr("skfuse._augment.AUTO_MAX_ROWS", len(X_REG))
    assert fit(X_REG).augment_ == "munge"


def test_auto_augment_takes_one_text_per_row():
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = np.array(["good film", "bad film", "good plot", "bad plot", "great acting",
                      "awful acting"] * 5, dtype=object)
    y = np.array([1, 0, 1, 0, 1, 0] * 5)
    distilled = DistilledClassifier(make_pipeline(TfidfVectorizer(), LogisticRegression()),
                                    make_pipeline(TfidfVectorizer(),
                                                  DecisionTreeClassifier(max_depth=2)),
                                    cv=3, random_state=0).fit(texts, y)
    assert distilled.augment_ is None and distilled.n_augmented_ == 0
    assert distilled.score(texts, y) == 1.0

# -- label weight ------------------------------------------------------------------------


def test_a_label_weight_mixes_labels_and_the_teachers_targets():
    teacher = FrozenEstimator(Ridge(alpha=50.0).fit(X_REG, Y_REG))
    distilled = DistilledRegressor(teacher, LinearRegression(), label_weight=0.3,
                                   augment=None, cv=3).fit(X_REG, Y_REG)
    by_hand = LinearRegression().fit(X_REG, 0.3 * Y_REG + 0.7 * teacher.predict(X_REG))
    assert_allclose(distilled.student_.coef_, by_hand.coef_)
    assert distilled.label_weight_ == 0.3 and distilled.label_weight_losses_ is None
    # A classifier's labels are one-hot probabilities, mixed before duplication.
    lr = FrozenEstimator(LogisticRegression(max_iter=500).fit(X_CLF, Y_CLF))
    RecordingTree.fits = []
    DistilledClassifier(lr, RecordingTree(max_depth=3), label_weight=0.4, augment=None, cv=3,
                        random_state=0).fit(X_CLF, Y_CLF)
    _, labels, weights = full_fit(RecordingTree)
    one_hot = (Y_CLF[:, None] == np.unique(Y_CLF)[None, :]).astype(float)
    _, want_labels, want = duplicated_targets(0.4 * one_hot + 0.6 * lr.predict_proba(X_CLF),
                                              np.unique(Y_CLF))
    assert_array_equal(labels, want_labels)
    assert_allclose(weights, want)


def test_auto_label_weight_ties_up_to_rounding_go_to_the_teacher():
    # A linear teacher refitted on its own fit gives every w the same loss, up to
    # rounding that moved with an offset of y (label_weight_ 0, 0 and 0.5 before).
    X, y = make_regression(300, 6, n_informative=4, noise=20, random_state=0)
    folds = list(KFold(5, shuffle=True, random_state=0).split(X))
    for offset in (0.0, 1000.0, 2000.0):
        distilled = DistilledRegressor(LinearRegression(), LinearRegression(), cv=folds,
                                       targets="fit", random_state=0).fit(X, y + offset)
        losses = np.array(list(distilled.label_weight_losses_.values()))
        assert np.ptp(losses) < 1e-12 * losses.min()
        assert distilled.label_weight_ == 0.0


def test_label_weight_one_learns_the_labels_alone():
    distilled = DistilledRegressor(Ridge(), LinearRegression(), label_weight=1.0,
                                   augment="munge", cv=3, random_state=0).fit(X_REG, Y_REG)
    assert distilled.n_augmented_ == 0  # synthetic rows have no label: left out
    assert_allclose(distilled.predict(X_REG), LinearRegression().fit(X_REG, Y_REG)
                    .predict(X_REG))


def test_label_weight_one_classifier_is_the_student_on_the_labels_alone():
    X, y = make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)
    student = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    distilled = DistilledClassifier(LogisticRegression(), student, label_weight=1.0, cv=3,
                                    random_state=0).fit(X, y)
    # Zero-weight duplicates of the other classes would count toward min_samples_leaf.
    assert_allclose(distilled.predict_proba(X), clone(student).fit(X, y).predict_proba(X))


def test_duplicates_of_weight_zero_are_left_out_but_a_row_keeps_one():
    X, y = make_classification(120, 4, n_informative=3, n_redundant=0, n_classes=3,
                               random_state=0)
    weight = np.ones(len(y))
    weight[:10] = 0.0  # every copy of these rows weighs 0
    RecordingTree.fits = []
    DistilledClassifier(LogisticRegression(), RecordingTree(random_state=0),
                        label_weight=1.0, cv=3, random_state=0).fit(X, y, sample_weight=weight)
    X_s, y_s, w_s = full_fit(RecordingTree)
    # At label weight 1 each row's one copy of weight > 0 is its label; a row of weight
    # 0 keeps its first copy (the first class), at weight 0.
    assert len(y_s) == len(y)
    assert_array_equal(y_s[10:], y[10:])
    assert_array_equal(y_s[:10], 0)
    assert_array_equal(w_s[:10], 0.0)
    assert np.all(w_s[10:] > 0)
    assert_allclose(X_s, X)


def _with_far_rows_of_weight_zero(student, label_weight, augment):
    """``student`` distilled on X_REG with and without 30 far-off rows of weight 0
    (the same three folds otherwise); the real rows weigh 1 to 3."""
    rng = np.random.RandomState(0)
    far = np.zeros(len(Y_REG) + 30, dtype=bool)
    far[rng.permutation(len(far))[:30]] = True
    X = np.empty((len(far), X_REG.shape[1]))
    X[~far], X[far] = X_REG, 1e3 + rng.normal(size=(30, X_REG.shape[1]))
    y = np.empty(len(far))
    y[~far], y[far] = Y_REG, 1e6
    fold = np.where(far, rng.randint(0, 3, len(far)), 0)
    fold[~far] = np.arange(len(Y_REG)) % 3
    weight = np.zeros(len(far))
    weight[~far] = rng.uniform(1.0, 3.0, len(Y_REG))

    def fit(X, y, fold, weight):
        cv = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(3)]
        return DistilledRegressor(Ridge(), student, label_weight=label_weight,
                                  augment=augment, n_augment=0.5, cv=cv,
                                  random_state=0).fit(X, y, sample_weight=weight)

    return fit(X, y, fold, weight), fit(X_REG, Y_REG, fold[~far], weight[~far])


@pytest.mark.parametrize("augment", ["munge", "resample"])
def test_rows_of_weight_zero_far_off_grow_no_synthetic_rows(augment):
    # A row of weight 0 is no parent, neighbour or donor, does not widen a column's
    # observed range, and does not count toward n_augment's multiple.
    weighted, dropped = _with_far_rows_of_weight_zero(
        DecisionTreeRegressor(max_depth=4, random_state=0), 0.0, augment)
    assert weighted.n_augmented_ == dropped.n_augmented_ == round(0.5 * len(Y_REG))
    assert_allclose(weighted.predict(X_REG), dropped.predict(X_REG), rtol=1e-12)


@pytest.mark.parametrize("augment", ["munge", "resample"])
def test_rows_of_weight_zero_do_not_weigh_in_the_label_weight_check(augment):
    # Synthetic rows weigh the mean weight of the rows of positive weight, in "auto"'s
    # check as in the final fit. (A linear student: a tree's splits can fall beside rows
    # of weight 0, so it is not the same as one fitted without them.)
    weighted, dropped = _with_far_rows_of_weight_zero(LinearRegression(), "auto", augment)
    losses, expected = weighted.label_weight_losses_, dropped.label_weight_losses_
    assert losses.keys() == expected.keys() and len(losses) == 5
    assert_allclose(list(losses.values()), list(expected.values()), rtol=1e-9)
    assert weighted.label_weight_ == dropped.label_weight_
    assert_allclose(weighted.predict(X_REG), dropped.predict(X_REG), rtol=1e-9)


def test_synthetic_rows_weigh_one_minus_the_label_weight():
    RecordingRegressor.fits = []
    DistilledRegressor(Ridge(), RecordingRegressor(), label_weight=0.25, augment="munge",
                       n_augment=30, cv=3, random_state=0).fit(X_REG, Y_REG)
    _, _, weights = full_fit(RecordingRegressor)
    assert_array_equal(weights, np.r_[np.ones(len(X_REG)), np.full(30, 0.75)])


@pytest.mark.parametrize("label_weight, sample_weight", [
    ("auto", None), (0.5, None), (0.0, np.full(len(Y_REG), 2.0)),
])
def test_student_without_weights_is_refused_before_the_teacher_is_fitted(label_weight,
                                                                          sample_weight):
    RecordingRegressor.fits = []
    with pytest.raises(TypeError, match="does not accept sample_weight"):
        DistilledRegressor(RecordingRegressor(), KNeighborsRegressor(),
                           label_weight=label_weight, augment="munge",
                           cv=3).fit(X_REG, Y_REG, sample_weight=sample_weight)
    assert RecordingRegressor.fits == []
    # Without weights to give (no sample_weight, synthetic rows at full or no weight,
    # or "auto" with two folds, where its check cannot run) the student need not take
    # them.
    for fixed in (0.0, 1.0):
        DistilledRegressor(Ridge(), KNeighborsRegressor(), label_weight=fixed,
                           augment="munge", cv=3).fit(X_REG, Y_REG)
    with pytest.warns(UserWarning, match="could not check any label weight"):
        DistilledRegressor(Ridge(), KNeighborsRegressor(), augment="munge",
                           cv=2).fit(X_REG, Y_REG)


@pytest.mark.parametrize("inner", [KNeighborsClassifier(),
                                   make_pipeline(StandardScaler(), KNeighborsClassifier())],
                         ids=["knn", "pipeline"])
def test_a_calibrated_student_whose_estimator_drops_the_weights_is_refused(inner):
    # CalibratedClassifierCV's fit takes sample_weight but hands it on only to an
    # estimator whose fit names it: the copies' weights, the teacher's probabilities,
    # were dropped (with scikit-learn's warning) and the student learned noise.
    from sklearn.calibration import CalibratedClassifierCV

    RecordingRegressor.fits = []
    with pytest.raises(TypeError, match=r"student \(CalibratedClassifierCV\) cannot "
                                        r"hand sample_weight on, .*its estimator's fit "
                                        r"\((KNeighborsClassifier|Pipeline)\) has no "
                                        "sample_weight parameter"):
        DistilledClassifier(LogisticRegression(), CalibratedClassifierCV(inner, cv=3),
                            cv=3, label_weight=0.0).fit(X_CLF, Y_CLF)
    # One whose estimator takes weights learns the teacher (as a tree alone does).
    student = CalibratedClassifierCV(DecisionTreeClassifier(max_depth=3, random_state=0),
                                     cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        calibrated = DistilledClassifier(LogisticRegression(), student, cv=3,
                                         label_weight=0.0, random_state=0).fit(X_CLF, Y_CLF)
    assert calibrated.fidelity_ > 0.8


def test_a_calibrated_student_takes_weights_where_its_fit_hands_them_on():
    # Its default estimator (LinearSVC) takes weights; a frozen one is not fitted (the
    # calibration takes them); under metadata routing its estimator must request them.
    from sklearn.calibration import CalibratedClassifierCV

    prefit = LogisticRegression().fit(X_CLF, Y_CLF)
    for student in [CalibratedClassifierCV(cv=3),
                    CalibratedClassifierCV(FrozenEstimator(prefit))]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (FrozenEstimator: "does not appear to accept")
            DistilledClassifier(LogisticRegression(), student, cv=3, label_weight=0.0,
                                random_state=0).fit(X_CLF, Y_CLF)
    with sklearn.config_context(enable_metadata_routing=True):
        asked = LogisticRegression().set_fit_request(sample_weight=True)
        DistilledClassifier(LogisticRegression(), CalibratedClassifierCV(asked, cv=3),
                            cv=3, label_weight=0.0, random_state=0).fit(X_CLF, Y_CLF)
        with pytest.raises(TypeError, match=r"student \(CalibratedClassifierCV\) does "
                                            r"not request sample_weight"):
            DistilledClassifier(LogisticRegression(),
                                CalibratedClassifierCV(LogisticRegression(), cv=3),
                                cv=3, label_weight=0.0).fit(X_CLF, Y_CLF)


def test_a_composite_student_holding_a_member_without_weights_is_refused_first():
    # Such a composite takes whole-number weights only (as repeated rows); the
    # distiller's are fractional, and the nested member's refusal came from deep in the
    # student's fit, after the teacher's, speaking of weights the user never gave.
    from skfuse import FusionRegressor

    RecordingRegressor.fits = []
    student = FusionClassifier([("knn", KNeighborsClassifier()), ("lr", LogisticRegression())])
    with pytest.raises(TypeError, match=r"'knn' inside the student \(KNeighborsClassifier\) "
                       "does not accept sample_weight in fit, by which the student learns"):
        DistilledClassifier(LogisticRegression(), student, cv=3).fit(X_CLF, Y_CLF)
    nested = SerialStack([("fusion", FusionRegressor([("knn", KNeighborsRegressor()),
                                                      ("ridge", Ridge())])),
                          ("final", Ridge())])
    with pytest.raises(TypeError, match=r"'fusion__knn' inside the student"):
        DistilledRegressor(RecordingRegressor(), nested, label_weight=0.5, augment="munge",
                           cv=3).fit(X_REG, Y_REG)
    assert RecordingRegressor.fits == []
    # Whole-number weights, or none, such a student takes.
    DistilledRegressor(Ridge(), nested, label_weight=0.0, augment="munge",
                       cv=3).fit(X_REG, Y_REG, sample_weight=np.full(len(Y_REG), 2.0))
    student = FusionClassifier([("nb", GaussianNB()), ("lr", LogisticRegression())])
    DistilledClassifier(LogisticRegression(), student, cv=3).fit(X_CLF, Y_CLF)


def test_pipeline_teacher_gets_sample_weight_at_every_step_that_takes_it():
    weight = np.random.RandomState(1).uniform(0.1, 3.0, len(Y_REG))
    teacher = make_pipeline(StandardScaler(), Ridge(alpha=10.0))
    distilled = DistilledRegressor(teacher, LinearRegression(), targets="fit",
                                   label_weight=0.0, random_state=0)
    distilled.fit(X_REG, Y_REG, sample_weight=weight)
    alone = clone(teacher).fit(X_REG, Y_REG, standardscaler__sample_weight=weight,
                               ridge__sample_weight=weight)
    assert_allclose(distilled.teacher_.predict(X_REG), alone.predict(X_REG))
    with pytest.raises(TypeError, match=r"the teacher \(Pipeline\) does not accept"):
        DistilledRegressor(make_pipeline(StandardScaler(), KNeighborsRegressor()),
                           LinearRegression()).fit(X_REG, Y_REG, sample_weight=weight)


def test_auto_label_weight_warns_when_two_folds_leave_nothing_to_check():
    distilled = DistilledRegressor(Ridge(), LinearRegression(), cv=2, random_state=0)
    with pytest.warns(UserWarning, match="could not check any label weight") as record:
        distilled.fit(X_REG, Y_REG)
    assert record[0].filename == __file__
    assert distilled.label_weight_ == 0.0 and distilled.label_weight_losses_ == {}
    fitted = DistilledRegressor(Ridge(), LinearRegression(), cv=2, targets="fit")
    assert len(fitted.fit(X_REG, Y_REG).label_weight_losses_) == 5  # checked: no warning


def test_auto_label_weight_leaves_out_fits_on_rows_that_all_weigh_zero():
    # Unshuffled 3 folds, the last one weighing 0: the teacher's fit without folds 1
    # and 2 would train on zero weights only (scikit-learn refuses it), and every
    # check then lacks a fit or a scored row of positive weight.
    weight = np.r_[np.ones(2 * len(Y_REG) // 3), np.zeros(len(Y_REG) - 2 * len(Y_REG) // 3)]
    distilled = DistilledRegressor(Ridge(), LinearRegression(), cv=KFold(3))
    with pytest.warns(UserWarning, match="no fold left rows of positive weight"):
        distilled.fit(X_REG, Y_REG, sample_weight=weight)
    assert distilled.label_weight_ == 0.0 and distilled.label_weight_losses_ == {}


def _hand_losses(X, y, cv, teacher, student, weights):
    """The auto label weight's check, written out: each fold scored by the student
    fitted on the other folds, whose rows are labelled by the teacher fitted without
    their fold and the scored one."""
    folds = list(cv.split(X, y))
    fold_of = np.empty(len(y), dtype=int)
    for j, (_, test) in enumerate(folds):
        fold_of[test] = j
    losses = dict.fromkeys(weights, 0.0)
    for k, (train, test) in enumerate(folds):
        target = np.empty(len(train))
        for j in set(fold_of[train]):
            rows = fold_of[train] == j
            seen = np.flatnonzero((fold_of != j) & (fold_of != k))
            target[rows] = clone(teacher).fit(X[seen], y[seen]).predict(X[train][rows])
        for w in weights:
            fitted = clone(student).fit(X[train], w * y[train] + (1 - w) * target)
            losses[w] += np.sum((fitted.predict(X[test]) - y[test]) ** 2)
    return {w: loss / len(y) for w, loss in losses.items()}


def test_the_auto_label_weight_equals_a_hand_computation():
    X, y = X_REG, Y_REG + np.random.RandomState(0).normal(scale=40.0, size=len(Y_REG))
    teacher = DecisionTreeRegressor(max_depth=2, random_state=0)
    distilled = DistilledRegressor(teacher, LinearRegression(), label_weight="auto",
                                   augment=None, cv=KFold(4)).fit(X, y)
    want = _hand_losses(X, y, KFold(4), teacher, LinearRegression(),
                        (0.0, 0.25, 0.5, 0.75, 1.0))
    assert list(distilled.label_weight_losses_) == list(want)
    assert_allclose(list(distilled.label_weight_losses_.values()), list(want.values()))
    assert distilled.label_weight_ == min(want, key=want.get)
    # The student is then fitted on all rows at the chosen weight.
    w = distilled.label_weight_
    oof = np.empty(len(y))
    for train, test in KFold(4).split(X):
        oof[test] = clone(teacher).fit(X[train], y[train]).predict(X[test])
    assert_allclose(distilled.student_.coef_,
                    LinearRegression().fit(X, w * y + (1 - w) * oof).coef_)


@pytest.mark.parametrize("targets", ["oof", "fit"])
def test_the_label_weight_check_never_learns_from_a_fit_that_saw_the_scored_fold(targets):
    SEEN.clear()
    RecordingRegressor.fits = []
    X = with_ids(X_REG)
    cv = KFold(4, shuffle=True, random_state=0)
    DistilledRegressor(RowMemory(), RecordingRegressor(), targets=targets,
                       label_weight="auto", augment="munge", n_augment=30, cv=cv,
                       random_state=0).fit(X, Y_REG)
    # Fits: the refit and 4 folds, then (with "oof") one without each pair of folds.
    assert len(SEEN) == 5 + (6 if targets == "oof" else 0)
    # The check fits fold by fold, each weight in turn; at weight 0 every target
    # (synthetic rows' too) is a teacher's fit number.
    checks = RecordingRegressor.fits[:4 * 5]
    for k, (_, scored) in enumerate(cv.split(X)):
        _, y_fit, _ = checks[5 * k]
        for fit_id in set(y_fit.astype(int)):
            assert SEEN[fit_id].isdisjoint(scored)


def test_rows_grown_from_every_row_out_of_order_name_their_parents():
    # A fold's training rows may come in any order (a cv given as an iterable): each
    # synthetic row's parent is still the row of X it was grown from.
    distiller = DistilledRegressor(Ridge(), Ridge(), augment="resample")
    distiller.augment_ = "resample"
    rows = np.random.RandomState(0).permutation(len(X_REG))
    synthetic, parents = distiller._grow(X_REG, rows, None, 200,
                                         np.random.RandomState(1))
    # Each column keeps its parent's value with chance 3/4.
    assert (synthetic == X_REG[parents]).mean() > 0.6


@pytest.mark.parametrize("augment", ["munge", "resample"])
def test_the_label_weight_checks_synthetic_rows_draw_on_its_training_folds_alone(augment):
    # Grown from all rows, a MUNGE row moves toward its parent's nearest neighbour and a
    # resampled one takes other rows' values: a scored row's, next to which the student
    # then learned the teacher's targets. The id column is integer-coded, so a moved or
    # taken value is one of the rows grown from: it names the rows each one drew on.
    RecordingRegressor.fits = []
    X = with_ids(X_REG)
    cv = KFold(4, shuffle=True, random_state=0)
    distilled = DistilledRegressor(Ridge(), RecordingRegressor(), label_weight="auto",
                                   augment=augment, n_augment=3.0, cv=cv,
                                   random_state=0).fit(X, Y_REG)
    for k, (train, _) in enumerate(cv.split(X)):
        X_fit, _, _ = RecordingRegressor.fits[5 * k]  # at weight 0, synthetic rows too
        assert len(X_fit) > 2 * len(train)
        assert set(X_fit[:, 0].astype(int)) <= set(train)
    # The final fit grows its rows from every row, as before.
    assert distilled.n_augmented_ == 3 * len(X)


@pytest.mark.parametrize("augment", ["munge", "resample"])
def test_fidelitys_fold_fits_learn_synthetic_rows_grown_from_their_training_rows(augment):
    # fidelity_ scores each fold's student fit on the fold's rows: the synthetic rows it
    # learns from must not draw on them (grown from all rows, a scored row's neighbour
    # or donor could be one of them, flattering the agreement). The id column names the
    # rows each synthetic row drew on, as above.
    RecordingRegressor.fits = []
    X = with_ids(X_REG)
    cv = KFold(4, shuffle=True, random_state=0)
    distilled = DistilledRegressor(Ridge(), RecordingRegressor(), label_weight=0.5,
                                   augment=augment, n_augment=3.0, cv=cv,
                                   random_state=0).fit(X, Y_REG)
    final, *fold_fits = RecordingRegressor.fits
    assert len(final[0]) == 4 * len(X) and distilled.n_augmented_ == 3 * len(X)
    assert len(fold_fits) == 4
    for (train, _), (X_fit, _, _) in zip(cv.split(X), fold_fits):
        assert len(X_fit) > 2 * len(train)  # its real rows and some 3 grown per row
        assert set(X_fit[:, 0].astype(int)) <= set(train)
    assert 0 < distilled.fidelity_ <= 1


def test_a_frozen_teacher_is_not_refitted_for_the_label_weight_check():
    fitted = CountingLR(max_iter=500).fit(X_CLF, Y_CLF)
    reset_counts()
    distilled = DistilledClassifier(FrozenEstimator(fitted), DecisionTreeClassifier(
        max_depth=3), label_weight="auto", cv=3, random_state=0).fit(X_CLF, Y_CLF)
    assert CountingLR.fits == 0
    assert set(distilled.label_weight_losses_) == {0.0, 0.25, 0.5, 0.75, 1.0}
    # Not frozen: the refit, 3 folds and 3 pairs of folds.
    DistilledClassifier(CountingLR(max_iter=500), DecisionTreeClassifier(max_depth=3),
                        label_weight="auto", cv=3, random_state=0).fit(X_CLF, Y_CLF)
    assert CountingLR.fits == 7


def test_the_auto_label_weight_of_a_classifier_equals_a_hand_computation():
    # A frozen teacher: its probabilities stand for every fit's; log-loss on the labels.
    teacher = FrozenEstimator(GaussianNB().fit(X_CLF[::2], Y_CLF[::2]))
    student = DecisionTreeClassifier(max_depth=3, random_state=0)
    distilled = DistilledClassifier(teacher, student, label_weight="auto",
                                    augment=None, cv=KFold(3)).fit(X_CLF, Y_CLF)
    classes = np.unique(Y_CLF)
    one_hot = (Y_CLF[:, None] == classes[None, :]).astype(float)
    proba = teacher.predict_proba(X_CLF)
    want = {}
    for w in (0.0, 0.25, 0.5, 0.75, 1.0):
        loss = 0.0
        for train, test in KFold(3).split(X_CLF):
            rows, labels, weights = duplicated_targets(
                w * one_hot[train] + (1 - w) * proba[train], classes)
            fitted = clone(student).fit(X_CLF[train][rows], labels, sample_weight=weights)
            p = fitted.predict_proba(X_CLF[test])[np.arange(len(test)), Y_CLF[test]]
            loss -= np.sum(np.log(np.clip(p, 1e-15, 1.0)))
        want[w] = loss / len(Y_CLF)
    assert_allclose(list(distilled.label_weight_losses_.values()), list(want.values()))
    assert distilled.label_weight_ == min(want, key=want.get)


def test_auto_label_weight_leaves_out_pairs_of_folds_that_leave_one_class():
    # Unshuffled folds of rows sorted by class: without two of three folds, the
    # teacher would see a single class, which no classifier fits.
    rng = np.random.RandomState(0)
    X, y = rng.randn(90, 3), np.repeat([0, 1, 2], 30)
    with pytest.warns(UserWarning, match="of two classes or more, for a classifier"):
        distilled = DistilledClassifier(LogisticRegression(), DecisionTreeClassifier(),
                                        cv=KFold(3)).fit(X, y)
    assert distilled.label_weight_ == 0.0 and distilled.label_weight_losses_ == {}


def test_a_student_that_refuses_nan_is_refused_before_any_teacher_fit():
    X = X_CLF.copy()
    X[::10, 0] = np.nan
    reset_counts()
    teacher = make_pipeline(SimpleImputer(), CountingLR())
    with pytest.raises(ValueError, match=r"the student \(LogisticRegression\) does not "
                                         "accept NaN, and X holds NaN on 12 row"):
        DistilledClassifier(teacher, LogisticRegression(), cv=3).fit(X, Y_CLF)
    assert CountingLR.fits == 0
    # A student whose tags say no but that copes (an imputer first) is tried, and fits;
    # it then predicts the rows fit took (one imputing inside a ColumnTransformer, whose
    # tags say no, was refused them at predict).
    for imputing in [SimpleImputer(), ColumnTransformer([("imp", SimpleImputer(), [0])],
                                                        remainder="passthrough")]:
        student = make_pipeline(imputing, LogisticRegression())
        distiller = DistilledClassifier(teacher, student, cv=3).fit(X, Y_CLF)
        assert_array_equal(distiller.predict(X), distiller.student_.predict(X))


@pytest.mark.parametrize("student", [LinearSVC(), make_pipeline(StandardScaler(),
                                                                LinearSVC())])
def test_a_classifier_student_without_predict_proba_is_refused_first(student):
    reset_counts()
    with pytest.raises(TypeError, match="has no predict_proba.*regressor student"):
        DistilledClassifier(CountingLR(), student, cv=3).fit(X_CLF, Y_CLF)
    assert CountingLR.fits == 0


def test_a_student_that_learned_from_nan_rows_predicts_them():
    # The teacher's tags refuse NaN (its members take none), but its views mark a
    # missing modality, so fit takes such rows; the student, which takes NaN, learns
    # from them and alone predicts.
    X, y = make_classification(n_samples=200, n_features=8, n_informative=5,
                               random_state=0)
    X[:40, :3] = np.nan
    teacher = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                               views={"lr": [0, 1, 2], "nb": [3, 4, 5, 6, 7]})
    student = HistGradientBoostingClassifier(max_iter=10)
    distiller = DistilledClassifier(teacher, student, cv=3, random_state=0).fit(X, y)
    assert not distiller.__sklearn_tags__().input_tags.allow_nan  # what fit takes
    assert_array_equal(distiller.predict_proba(X), distiller.student_.predict_proba(X))
    # Fitted on rows without NaN, it still refuses them, and says why.
    clean = DistilledClassifier(teacher, student, cv=3, random_state=0).fit(X[40:], y[40:])
    with pytest.raises(ValueError, match="the student never learned from a row with NaN"):
        clean.predict(X[:5])
    refusing = DistilledClassifier(teacher, LogisticRegression(), cv=3,
                                   random_state=0).fit(X[40:], y[40:])
    with pytest.raises(ValueError, match="the student does not take NaN"):
        refusing.predict(X[:5])


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_fidelity_gives_rows_of_weight_zero_no_say(kind):
    # Rows of weight 0 play no part in the fit; fidelity_ counted them all the same.
    if kind == "classifier":
        X, y = make_classification(240, 5, random_state=0, flip_y=0.1)
        distiller = DistilledClassifier(LogisticRegression(), DecisionTreeClassifier(
            max_depth=3, random_state=0), label_weight=0.5, random_state=0)
    else:
        X, y = make_regression(240, 5, noise=5.0, random_state=0)
        distiller = DistilledRegressor(Ridge(), Ridge(alpha=10.0), label_weight=0.5,
                                       random_state=0)
    kept = np.random.RandomState(0).rand(len(y)) < 0.6
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    position = np.cumsum(kept) - 1  # each kept row's place among the kept rows
    kept_folds = [(position[train[kept[train]]], position[test[kept[test]]])
                  for train, test in folds]
    weighted = clone(distiller).set_params(cv=folds).fit(X, y, sample_weight=kept * 1.0)
    dropped = clone(distiller).set_params(cv=kept_folds).fit(X[kept], y[kept])
    predict = "predict_proba" if kind == "classifier" else "predict"
    assert_allclose(getattr(weighted, predict)(X), getattr(dropped, predict)(X), atol=1e-8)
    assert weighted.fidelity_ == pytest.approx(dropped.fidelity_, rel=1e-9)


@pytest.mark.parametrize("student", [DecisionTreeClassifier(max_depth=3, random_state=0),
                                     Ridge()], ids=["duplication", "logits"])
def test_predict_sharpens_by_the_temperature_fit_used(student):
    # predict_proba read the temperature parameter: set_params after fit changed the
    # predictions of a student that had learned at another temperature.
    X, y = make_classification(n_samples=150, n_features=5, n_informative=3,
                               n_classes=3, random_state=0)
    teacher = LogisticRegression(max_iter=1000)
    fitted = DistilledClassifier(teacher, student, temperature=3.0, cv=3,
                                 random_state=0).fit(X, y)
    proba = fitted.predict_proba(X)
    fitted.set_params(temperature=1.0)
    assert_array_equal(fitted.predict_proba(X), proba)
    assert_array_equal(fitted.predict(X), fitted.classes_[proba.argmax(axis=1)])
    refitted = clone(fitted).set_params(temperature=3.0).fit(X, y)
    assert_allclose(refitted.predict_proba(X), proba)


def test_a_teacher_without_weights_takes_whole_numbers_as_repeated_rows():
    # As a fusion's member: whole-number weights (what BaggingRegressor passes) are
    # repeated rows for a teacher whose fit takes none; the student gets the weights.
    counts = np.random.RandomState(0).randint(0, 4, len(Y_REG)).astype(float)
    distilled = DistilledRegressor(KNeighborsRegressor(), LinearRegression(), targets="fit",
                                   label_weight=0.0, augment=None).fit(X_REG, Y_REG,
                                                                       sample_weight=counts)
    repeated = np.repeat(np.arange(len(Y_REG)), counts.astype(int))
    teacher = KNeighborsRegressor().fit(X_REG[repeated], Y_REG[repeated])
    assert_allclose(distilled.teacher_.predict(X_REG), teacher.predict(X_REG))
    student = LinearRegression().fit(X_REG, teacher.predict(X_REG), sample_weight=counts)
    assert_allclose(distilled.predict(X_REG), student.predict(X_REG))
    with pytest.raises(TypeError, match=r"the teacher \(KNeighborsRegressor\) does not "
                                        "accept sample_weight"):
        DistilledRegressor(KNeighborsRegressor(), LinearRegression()).fit(
            X_REG, Y_REG, sample_weight=counts + 0.5)


def test_the_tags_follow_the_parameters_after_a_fit():
    # A fitted distiller reported the NaN support of the pair it was fitted with, not
    # of the one set since: its tags differed from its clone's, and fit refused NaN.
    from sklearn.utils import get_tags

    X, y = make_classification(120, 5, random_state=0)
    distiller = DistilledClassifier(HistGradientBoostingClassifier(max_iter=5),
                                    HistGradientBoostingClassifier(max_iter=5), cv=3,
                                    random_state=0).fit(X, y)
    assert get_tags(distiller).input_tags.allow_nan
    distiller.set_params(teacher=LogisticRegression(), student=LogisticRegression())
    assert not get_tags(distiller).input_tags.allow_nan
    assert get_tags(distiller) == get_tags(clone(distiller))


class _OffProbabilities(LogisticRegression):
    """A teacher whose small probabilities (below 1e-3) are ``small``: -1e-17 (rounding
    below 0), 0.0, or None (left as they are); with ``twice``, every row sums to 2."""

    def __init__(self, small=-1e-17, twice=False):
        super().__init__()
        self.small = small
        self.twice = twice

    def predict_proba(self, X):
        proba = super().predict_proba(X)
        if self.small is not None:
            proba = np.where(proba < 1e-3, self.small, proba)
        return 2 * proba if self.twice else proba


def test_teacher_rounding_below_zero_is_clipped_and_no_probabilities_refused():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 3)
    y = (X[:, 0] > 0).astype(int)
    assert (_OffProbabilities().fit(X, y).predict_proba(X) < 0).any()
    # A temperature takes logs: a probability of -1e-17 gave NaN weights.
    fitted = DistilledClassifier(_OffProbabilities(), LogisticRegression(), temperature=2.0,
                                 cv=3, random_state=0).fit(X, y)
    clean = DistilledClassifier(_OffProbabilities(small=0.0), LogisticRegression(),
                                temperature=2.0, cv=3, random_state=0).fit(X, y)
    assert_allclose(fitted.predict_proba(X), clean.predict_proba(X), atol=1e-12)
    with pytest.raises(ValueError, match="teacher .* outside \\[0, 1\\] or not summing"):
        DistilledClassifier(_OffProbabilities(small=None, twice=True), LogisticRegression(),
                            cv=3).fit(X, y)


def test_a_per_class_student_that_cannot_take_weights_is_refused_before_the_teacher():
    """Three classes' logits for a single-output Pipeline student: MultiOutputRegressor
    hands weights to no Pipeline (scikit-learn's "Underlying estimator does not support
    sample weights", after every teacher fit); two classes' one logit needs no wrapper."""
    from sklearn.svm import SVR

    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    weights = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    teacher = CountingNB()
    student = make_pipeline(StandardScaler(), SVR())
    reset_counts()
    from sklearn.model_selection import GridSearchCV

    for refused in (student, GridSearchCV(SVR(), {"C": [1.0]})):
        with pytest.raises(TypeError, match="learns the teacher's 3 logits, one model per"):
            DistilledClassifier(teacher, refused, cv=3).fit(X, y, sample_weight=weights)
    assert CountingNB.fits == 0
    DistilledClassifier(teacher, SVR(), cv=3).fit(X, y, sample_weight=weights)
    DistilledClassifier(teacher, student, cv=3).fit(X, y)  # unweighted: fine
    DistilledClassifier(teacher, student, cv=3).fit(X, y > 0, sample_weight=weights)


class _ListProba(LogisticRegression):
    def predict_proba(self, X):
        return super().predict_proba(X).tolist()


def test_a_teacher_giving_lists_of_probabilities_is_aligned_to_the_classes():
    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    teacher = FrozenEstimator(_ListProba().fit(X[y < 2], y[y < 2]))  # knows 2 of 3
    fitted = DistilledClassifier(teacher, LogisticRegression(), cv=3).fit(X, y)
    assert fitted.predict_proba(X).shape == (150, 3)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_predict_refuses_non_finite_x_under_assume_finite(value):
    # Under sklearn.config_context(assume_finite=True) the one-pass check of predict
    # returned NaN or a confident answer for such rows, where fit and every other
    # composite refuse them whatever that setting says.
    X, y = make_classification(150, 4, random_state=0)
    distiller = DistilledClassifier(FusionClassifier([("lr", LogisticRegression())]),
                                    LogisticRegression(), cv=3).fit(X, y)
    X_bad = X[:3].copy()
    X_bad[0, 0] = value
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match="X holds (NaN|infinite values)"):
            distiller.predict_proba(X_bad)


class _NeverRare(ClassifierMixin, BaseEstimator):
    """A teacher that gives the last class probability 0 on every row."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        proba = np.zeros((len(X), len(self.classes_)))
        proba[:, 0] = 1.0
        return proba

    def predict(self, X):
        return self.classes_[np.zeros(len(X), dtype=int)]


@pytest.mark.parametrize("student", [LogisticRegression(),
                                     HistGradientBoostingClassifier(max_iter=10)])
def test_targets_of_one_class_are_refused_clearly_and_skipped_by_auto(student):
    # A teacher that never gives the rare class any probability left the student one
    # class at label_weight=0: it failed with the student's "only one class" (though y
    # has two) or numpy's shape mismatch, and under "auto" that one weight failed the
    # whole search.
    X, y = make_classification(300, 6, weights=[0.9, 0.1], random_state=0)
    labels = np.array(["neg", "pos"])[y]
    with pytest.raises(ValueError, match=r"at label_weight_=0 the student's targets give "
                                         r"weight to one class only"):
        DistilledClassifier(_NeverRare(), student, label_weight=0.0).fit(X, labels)
    distiller = DistilledClassifier(_NeverRare(), student, label_weight="auto").fit(X, labels)
    assert distiller.label_weight_ > 0
    assert distiller.label_weight_losses_[0.0] == np.inf
    assert_array_equal(distiller.student_.classes_, ["neg", "pos"])


class _RareOnOneRow(_NeverRare):
    """A teacher that gives the last class probability 1 on the row of largest x0."""

    def predict_proba(self, X):
        proba = super().predict_proba(X)
        top = np.asarray(X)[:, 0] >= 2.5
        proba[top] = np.eye(len(self.classes_))[-1]
        return proba


def test_fidelity_says_when_a_fold_is_left_out_for_one_class():
    X, y = make_classification(300, 6, weights=[0.9, 0.1], random_state=0)
    X[:, 0] = np.where(np.arange(300) == 7, 3.0, np.clip(X[:, 0], -2, 2))  # one such row
    with pytest.warns(UserWarning, match=r"fidelity_ leaves out the test rows of 1 of 3 "):
        distiller = DistilledClassifier(_RareOnOneRow(), DecisionTreeClassifier(),
                                        label_weight=0.0, cv=3).fit(X, y)
    assert 0 <= distiller.fidelity_ <= 1


def test_fidelity_is_nan_when_the_folds_left_test_only_rows_of_weight_zero():
    # The folds kept for fidelity_ tested one row, of weight 0: the weighted mean of
    # the agreement divided by zero (a bare ZeroDivisionError from NumPy).
    X, y = np.array([[0.0], [1.0], [2.0]]), np.array(["a", "b", "c"])
    with pytest.warns(UserWarning, match="fidelity_ leaves out the test rows of 2 of 3"):
        distiller = DistilledClassifier(GaussianNB(), DecisionTreeClassifier(),
                                        label_weight=1.0, cv=KFold(3)).fit(
            X, y, sample_weight=np.array([1.0, 1.0, 0.0]))
    assert np.isnan(distiller.fidelity_)
    assert_array_equal(distiller.predict(X[:2]), ["a", "b"])


@pytest.mark.parametrize("targets", ["oof", "fit"])
def test_the_rows_the_student_learned_teacher_targets_for_are_counted(targets):
    # A cv that tests 20 of 100 rows gave the student 20 rows, and no attribute said so.
    from sklearn.model_selection import PredefinedSplit

    X, y = make_classification(100, 5, random_state=0)
    cv = PredefinedSplit(np.r_[-np.ones(80), np.zeros(20)])
    distilled = DistilledClassifier(GaussianNB(), DecisionTreeClassifier(random_state=0),
                                    targets=targets, label_weight=0.0, cv=cv).fit(X, y)
    assert distilled.n_oof_samples_ == (20 if targets == "oof" else 100)
    regressor = DistilledRegressor(Ridge(), DecisionTreeRegressor(random_state=0),
                                   targets=targets, cv=TimeSeriesSplit(4)).fit(X, y * 1.0)
    assert regressor.n_oof_samples_ == (80 if targets == "oof" else 100)


def test_a_single_output_regressor_student_of_three_classes_takes_weights_under_routing():
    # Wrapped per class in a MultiOutputRegressor, which under routing hands the weights
    # only on request: the fit failed after every teacher fit, naming the wrapper.
    X, y = make_classification(120, 5, n_informative=3, n_classes=3, random_state=0)
    student = HistGradientBoostingRegressor(max_iter=10, random_state=0)
    settings = dict(cv=3, label_weight=0.5, augment="munge", random_state=0)
    plain = DistilledClassifier(LogisticRegression(), student, **settings).fit(X, y)
    with sklearn.config_context(enable_metadata_routing=True):
        teacher = LogisticRegression().set_fit_request(sample_weight=True)
        routed = DistilledClassifier(teacher, student, **settings).fit(X, y)
        assert student.get_metadata_routing().fit.requests["sample_weight"] is None
    assert routed.soft_labels_ == "logits"
    assert_allclose(routed.predict_proba(X), plain.predict_proba(X))


def test_fidelity_counts_a_fold_testing_one_row_of_weight_beside_rows_of_none():
    # Rows of weight 0 left out of the folds' tests (to spare a division by 0) left one
    # test row in all, where R² is undefined: fidelity_ came out NaN instead of 0.
    class TwoFolds:
        def split(self, X, y=None, groups=None):
            yield np.arange(2, 8), np.array([0, 1])
            yield np.arange(0, 6), np.array([6, 7])

        def get_n_splits(self, X=None, y=None, groups=None):
            return 2

    X, y = np.arange(8.0)[:, None], np.array([0.0, 1, 3, 2, 5, 4, 7, 6])
    weights = np.array([1.0, 0, 1, 1, 1, 1, 0, 0])
    distilled = DistilledRegressor(Ridge(), Ridge(), targets="fit", cv=TwoFolds()).fit(
        X, y, sample_weight=weights)
    assert distilled.fidelity_ == 0.0


def test_predict_is_what_a_tuned_student_predicts():
    # predict was the top class of the student's probabilities: a student's tuned
    # decision threshold was dropped silently.
    from sklearn.model_selection import FixedThresholdClassifier

    X, y = make_classification(600, 8, weights=[0.9, 0.1], random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        student = FixedThresholdClassifier(
            LogisticRegression().set_fit_request(sample_weight=True), threshold=0.15)
        distilled = DistilledClassifier(GaussianNB(), student, label_weight=1.0, cv=3,
                                        random_state=0).fit(X, y)
    top = distilled.predict_proba(X).argmax(axis=1)
    assert not np.array_equal(distilled.student_.predict(X), top)
    assert_array_equal(distilled.predict(X), distilled.student_.predict(X))


class _ColumnRidge(Ridge):
    """Predicts a column vector, as a skorch NeuralNetRegressor does."""

    def predict(self, X):
        return super().predict(X).reshape(-1, 1)


def test_regressor_student_predicting_a_column_learns_binary_logits():
    X, y = make_classification(n_samples=120, random_state=0)
    column = DistilledClassifier(LogisticRegression(), _ColumnRidge(), cv=3,
                                 random_state=0).fit(X, y)
    flat = DistilledClassifier(LogisticRegression(), Ridge(), cv=3, random_state=0).fit(X, y)
    assert np.allclose(column.predict_proba(X), flat.predict_proba(X))
    with pytest.raises(ValueError, match=r"_WideRidge predicted an array of shape "
                                         r"\(40, 2\) for 40 rows"):
        DistilledClassifier(LogisticRegression(), _WideRidge(), cv=3).fit(X, y)
    # Three classes: the logits by row, not transposed or flattened by class.
    X, y = make_classification(n_samples=150, n_classes=3, n_informative=4, random_state=0)
    for student, shape in ((_ByClass(), r"\(3, 50\)"), (_ByClass(flat=True), r"\(150,\)")):
        with pytest.raises(ValueError, match=f"predicted an array of shape {shape}"):
            DistilledClassifier(LogisticRegression(), student, cv=3).fit(X, y)


class _ByClass(Ridge):
    """Predicts the logits by class: (3, n), or flattened to (3 n,)."""

    def __init__(self, flat=False):
        super().__init__()
        self.flat = flat

    def predict(self, X):
        out = super().predict(X).T
        return out.ravel() if self.flat else out


class _WideRidge(Ridge):
    """Predicts two columns where one is learned."""

    def predict(self, X):
        return np.tile(super().predict(X).reshape(-1, 1), 2)


def test_regressor_student_confident_rows_symmetric_and_log_finite():
    # Two classes: class 0's probability is expit(-z), not 1 - expit(z) (which is 0 from
    # z ~ 37 on), and predict_log_proba is taken in the log domain.
    rng = np.random.RandomState(0)
    X = rng.randn(300, 1)
    y = (X[:, 0] + 0.5 * rng.randn(300) > 0).astype(int)
    d = DistilledClassifier(LogisticRegression(), LinearRegression(), random_state=0)
    d.fit(X, y)
    Xt = np.array([[-100.0], [100.0]])
    z = d.student_.predict(Xt)
    proba, log_proba = d.predict_proba(Xt), d.predict_log_proba(Xt)
    assert (proba > 0).all()
    assert_allclose(proba[1, 0], np.exp(-z[1]), rtol=1e-12)
    assert np.isfinite(log_proba).all()
    assert_allclose(log_proba[:, 1] - log_proba[:, 0], z, rtol=1e-12)
    assert_allclose(np.exp(log_proba), proba, rtol=1e-12)
    # the confident class's log-probability is -exp(-|z|), not log(1.0) = 0
    assert_allclose(log_proba[[0, 1], [0, 1]], -np.exp(-np.abs(z)), rtol=1e-12)


def test_student_out_of_fold_memory_is_linear_in_the_classes():
    # The student sees each row once per class, but only each real row's first copy is
    # tested out of fold: an out-of-fold output kept for every copy took
    # (rows x classes) x classes floats (80 MB here, up to 720 MB at 1,000 rows of 300
    # classes), for the rows x classes that fidelity_ reads.
    rng = np.random.RandomState(0)
    n_classes, n = 100, 1000
    y = np.r_[np.arange(n_classes), rng.randint(0, n_classes, n - n_classes)]
    X = rng.normal(scale=0.5, size=(n_classes, 5))[y] + rng.normal(size=(n, 5))
    distilled = DistilledClassifier(GaussianNB(var_smoothing=1.0),
                                    DecisionTreeClassifier(max_depth=3, random_state=0),
                                    label_weight=0, augment=None,
                                    cv=KFold(3, shuffle=True, random_state=0),
                                    random_state=0)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # classes of few rows, missing from folds
            distilled.fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40e6, f"peak {peak / 1e6:.0f} MB"
    assert 0 <= distilled.fidelity_ <= 1


@pytest.mark.parametrize("student, temperature", [(Ridge(), 1.0), (Ridge(), 3.0),
                                                  (LogisticRegression(), 50.0)])
def test_log_proba_is_finite_where_proba_underflows_with_three_classes(student, temperature):
    # Three classes: a regressor student's softmax of its logits, and a classifier
    # student's probabilities sharpened at a high temperature, underflow to 0 on
    # confident rows; predict_log_proba stays finite there and agrees elsewhere.
    X, y = make_classification(300, 4, n_informative=3, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, random_state=0)
    d = DistilledClassifier(LogisticRegression(), student, temperature=temperature,
                            random_state=0).fit(X, y)
    Xt = np.vstack([X[:20], 1000 * X[:5]])
    proba, log_proba = d.predict_proba(Xt), d.predict_log_proba(Xt)
    assert (proba == 0).any()  # the case at stake
    assert np.isfinite(log_proba).all()
    assert_allclose(np.exp(log_proba), proba, rtol=1e-12, atol=1e-300)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


def test_munge_neighbours_see_a_column_whose_squares_overflow():
    # A column near 1e160 had an infinite spread (its squares overflow), so it carried
    # no distance in the neighbour search (and warned); near 1e-170 its squares vanished.
    rng = np.random.RandomState(0)
    a, b = rng.normal(size=300), rng.normal(size=300)
    expected = nearest_neighbours(np.c_[a, b])
    for scale in (1e160, 1e-170):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert_array_equal(nearest_neighbours(np.c_[a, b * scale]), expected)


def test_a_balanced_students_final_fit_is_balanced_on_its_own_rows():
    # The final student's "balanced" class weights count the final fit's rows alone,
    # not the synthetic rows grown for fidelity_'s fold fits: with the teacher's targets
    # on all rows (targets="fit", no shuffling), the number of folds leaves it as it is.
    X, y = make_classification(n_samples=150, n_features=5, n_informative=3, n_classes=3,
                               weights=[0.6, 0.3, 0.1], random_state=0)
    probas = [
        DistilledClassifier(LogisticRegression(max_iter=500),
                            DecisionTreeClassifier(max_depth=3, class_weight="balanced"),
                            targets="fit", label_weight=0.5, augment="munge", cv=cv,
                            random_state=0).fit(X, y).predict_proba(X)
        for cv in (3, 5)]
    assert_array_equal(probas[0], probas[1])


def test_a_single_splits_student_fold_is_labelled_as_a_fold(capsys):
    splits = [(np.arange(50, 100), np.arange(50))]
    DistilledRegressor(Ridge(), DecisionTreeRegressor(max_depth=3), label_weight=0.5,
                       augment="munge", cv=splits, random_state=0, verbose=1).fit(X_REG, Y_REG)
    assert "student, fold 1 of 1" in capsys.readouterr().out


def test_at_label_weight_one_fidelitys_fold_fits_learn_real_rows_alone():
    # The labels alone: no synthetic row in any fit (none labelled for the folds).
    RecordingRegressor.fits = []
    cv = KFold(4, shuffle=True, random_state=0)
    distilled = DistilledRegressor(Ridge(), RecordingRegressor(), label_weight=1.0,
                                   augment="munge", cv=cv, random_state=0).fit(X_REG, Y_REG)
    final, *fold_fits = RecordingRegressor.fits
    assert len(final[0]) == len(X_REG) and distilled.n_augmented_ == 0
    assert [len(X_fit) for X_fit, _, _ in fold_fits] == [len(train)
                                                        for train, _ in cv.split(X_REG)]



@pytest.mark.parametrize("in_pipeline", [False, True])
def test_a_multi_output_only_student_learns_two_classes_one_logit_as_a_column(in_pipeline):
    # MultiOutputRegressor takes 2-D targets only: with two classes (one logit) it got
    # a vector and failed with scikit-learn's "y must have at least two dimensions"
    # (also inside a Pipeline, whose own tags do not say it takes 2-D targets only).
    X, y = make_classification(n_samples=120, n_features=4, random_state=0)
    student = MultiOutputRegressor(DecisionTreeRegressor(max_depth=3, random_state=0))
    if in_pipeline:
        student = make_pipeline(StandardScaler(), student)
    wrapped = DistilledClassifier(LogisticRegression(), student, augment=None,
                                  label_weight=0.5, cv=3, random_state=0).fit(X, y)
    plain = DistilledClassifier(LogisticRegression(), DecisionTreeRegressor(
        max_depth=3, random_state=0), augment=None, label_weight=0.5, cv=3,
        random_state=0).fit(X, y)
    assert_allclose(wrapped.predict_proba(X), plain.predict_proba(X))
    assert 0.5 < wrapped.fidelity_ <= 1
