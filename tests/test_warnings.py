"""The warnings a user sees: each points at the user's own call, and a warning raised
many times inside one fit is shown once."""

import contextlib
import inspect
import threading
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_backend
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import (
    KFold,
    PredefinedSplit,
    StratifiedKFold,
    TimeSeriesSplit,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.parallel import Parallel, delayed

from skfuse import (
    DistilledClassifier,
    FusionClassifier,
    FusionRegressor,
    MixtureOfExpertsClassifier,
    SerialStack,
)
from skfuse._warnings import silenced, warnings_once
from skfuse.exceptions import FrozenMemberWarning

X, Y = make_classification(n_samples=300, n_features=5, random_state=0)


def caught(call):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        call()
    return record


@pytest.mark.parametrize("partitions", [None, 3])
def test_the_frozen_member_warning_points_at_fit_with_or_without_partitions(partitions):
    frozen = FrozenEstimator(LogisticRegression().fit(X, Y))
    fusion = FusionClassifier([("pre", frozen), ("nb", GaussianNB())], weights="optimize",
                              cv=3, partitions=partitions)
    record = [w for w in caught(lambda: fusion.fit(X, Y))
              if w.category is FrozenMemberWarning]
    assert len(record) == 1
    assert record[0].filename == __file__


@pytest.mark.parametrize("outer", ["stack", "fusion", "distiller", "pipeline in a stack",
                                   "stack.fit_transform", "fusion.fit_transform"])
def test_a_nested_composites_warning_points_at_the_users_fit(outer):
    # The nested fusion warns at the line that fits it, which is skfuse's or
    # scikit-learn's (a Pipeline's) own: it is shown at the user's call instead.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frozen = FrozenEstimator(LogisticRegression().fit(X, Y))
    inner = FusionClassifier([("pre", frozen), ("nb", GaussianNB())], weights="optimize",
                             cv=3)
    final = ("final", LogisticRegression())
    composite = {
        "stack": SerialStack([("inner", inner), final], cv=3),
        "fusion": FusionClassifier([("inner", inner), ("nb", GaussianNB())], cv=3),
        "distiller": DistilledClassifier(inner, DecisionTreeClassifier(max_depth=2), cv=3),
        "pipeline in a stack": SerialStack(
            [("inner", make_pipeline(StandardScaler(), inner)), final], cv=3),
        # fit_transform reaches fit through scikit-learn's wrappers; the stack's own
        # warning, of its frozen step, is shown there too
        "stack.fit_transform": SerialStack([("frozen", frozen), final], cv=3),
        "fusion.fit_transform": FusionClassifier([("inner", inner), ("nb", GaussianNB())],
                                                 cv=3),
    }[outer]
    fit = composite.fit_transform if outer.endswith("fit_transform") else composite.fit
    record = [w for w in caught(lambda: fit(X, Y)) if w.category is FrozenMemberWarning]
    assert record and all(w.filename == __file__ for w in record)
    lines, first = inspect.getsourcelines(
        test_a_nested_composites_warning_points_at_the_users_fit)
    fit_line = first + next(i for i, text in enumerate(lines) if "lambda: fit(X, Y)" in text)
    assert all(w.lineno == fit_line for w in record)


def test_the_mixtures_convergence_warning_points_at_fit():
    mixture = MixtureOfExpertsClassifier(n_experts=2, max_iter=1, random_state=0)
    record = [w for w in caught(lambda: mixture.fit(X, Y))
              if w.category is ConvergenceWarning]
    assert len(record) == 1
    assert record[0].filename == __file__


@pytest.mark.parametrize("weights", ["optimize", "greedy"])
def test_a_scorers_warning_is_shown_once_per_fit_not_once_per_step(weights):
    # Imbalanced classes and a member that never predicts the rare one: precision is
    # ill-defined for the weights that give it everything, at every step that tries them.
    X_rare, y_rare = make_classification(n_samples=600, n_features=5, weights=[0.96],
                                         flip_y=0, class_sep=0.8, random_state=0)
    fusion = FusionClassifier([("nb", GaussianNB()), ("shy", LogisticRegression(C=1e-4))],
                              voting="hard", weights=weights, scoring="precision")
    record = caught(lambda: fusion.fit(X_rare, y_rare))
    ill_defined = [w for w in record if w.category is UndefinedMetricWarning]
    assert len(ill_defined) == 1
    assert "Precision is ill-defined" in str(ill_defined[0].message)


def test_a_scorers_warning_still_obeys_the_filters():
    X_rare, y_rare = make_classification(n_samples=600, n_features=5, weights=[0.96],
                                         flip_y=0, class_sep=0.8, random_state=0)
    fusion = FusionClassifier([("nb", GaussianNB()), ("shy", LogisticRegression(C=1e-4))],
                              voting="hard", weights="optimize", scoring="precision")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=UndefinedMetricWarning)
        fusion.fit(X_rare, y_rare)
    assert not [w for w in record if w.category is UndefinedMetricWarning]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        with pytest.raises(UndefinedMetricWarning):
            fusion.fit(X_rare, y_rare)


@pytest.mark.parametrize("bad", [np.nan, np.inf, 0.5])
def test_a_distiller_fitted_on_a_frame_warns_once_about_an_unnamed_array(bad):
    frame = pd.DataFrame(X, columns=list("abcde"))
    distiller = DistilledClassifier(GaussianNB(), DecisionTreeClassifier(max_depth=3),
                                    cv=3, random_state=0).fit(frame, Y)
    X_new = X[:5].copy()
    X_new[1, 0] = bad

    def predict():
        try:
            distiller.predict(X_new)
        except ValueError:
            pass  # NaN and infinite values are refused; the warning came first

    names = [w for w in caught(predict) if "valid feature names, but DistilledClassifier"
             in str(w.message)]
    assert len(names) == 1


def _sorted_iris():
    X, y = load_iris(return_X_y=True)  # rows sorted by class: 50 of each
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


COMPOSITES_WITH_FOLDS = {
    "fusion": lambda cv: FusionClassifier([("lr", LogisticRegression(max_iter=1000)),
                                           ("nb", GaussianNB())], weights="optimize", cv=cv),
    "stack": lambda cv: SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())],
                                    cv=cv),
    "distiller": lambda cv: DistilledClassifier(GaussianNB(), LogisticRegression(),
                                                label_weight=0.0, cv=cv),
}


@pytest.mark.parametrize("kind", COMPOSITES_WITH_FOLDS)
def test_training_folds_without_a_class_warn_once_at_the_users_fit(kind):
    X, y = _sorted_iris()
    record = caught(lambda: COMPOSITES_WITH_FOLDS[kind](KFold(3)).fit(X, y))
    lacking = [w for w in record if "lacks a class" in str(w.message)]
    assert len(lacking) == 1
    assert lacking[0].filename == __file__
    message = str(lacking[0].message)
    assert "3 of the 3 cv splits" in message
    assert ("split 1 lacks 'setosa'; split 2 lacks 'versicolor'; split 3 lacks "
            "'virginica'") in message
    assert "Stratified folds (StratifiedKFold(shuffle=True)) leave every class" in message
    for cv in (3, KFold(3, shuffle=True, random_state=0)):  # stratified, shuffled
        record = caught(lambda cv=cv: COMPOSITES_WITH_FOLDS[kind](cv).fit(X, y))
        assert not [w for w in record if "lacks a class" in str(w.message)]


@pytest.mark.parametrize("kind", COMPOSITES_WITH_FOLDS)
def test_a_class_of_one_row_is_not_told_to_shuffle(kind):
    # The split that tests a class's one row lacks it whatever the folds: the advice
    # to shuffle, given to a user already shuffling stratified folds, could not help.
    X, y = load_iris(return_X_y=True)
    y = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    y[0] = "single"
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    record = caught(lambda: COMPOSITES_WITH_FOLDS[kind](cv).fit(X, y))
    lacking = [str(w.message) for w in record if "lacks a class" in str(w.message)]
    assert len(lacking) == 1
    assert "A class of one row ('single') is missing from the training part" in lacking[0]
    assert "shuffle" not in lacking[0].lower()


def _named_in_names_warnings(record):
    return [str(w.message).split("but ")[1].split(" was")[0] for w in record
            if "feature names, but" in str(w.message)]


def test_bagged_fold_fits_warn_about_feature_names_once():
    frame = pd.DataFrame(X, columns=list("abcde"))
    fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                              weights="optimize", refit=False, cv=5).fit(frame, Y)
    filters = list(warnings.filters)
    record = caught(lambda: fusion.predict_proba(X[:5]))
    # once, for the fusion: not once per fold fit, nor once per member
    assert _named_in_names_warnings(record) == ["FusionClassifier"]
    assert warnings.filters == filters


def _members():
    return [("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(random_state=0))]


NAMED_INPUT_COMPOSITES = {
    "fusion": lambda: FusionClassifier(_members(), weights="optimize", cv=3),
    "fusion of a fusion": lambda: FusionClassifier(
        [("inner", FusionClassifier(_members(), cv=3)), ("nb", GaussianNB())], cv=3),
    "stack of a fusion": lambda: SerialStack(
        [("fusion", FusionClassifier(_members(), cv=3)), ("lr", LogisticRegression())],
        cv=3),
    "cascade": lambda: SerialStack(_members(), exit_threshold=0.8, cv=3),
    "mixture": lambda: MixtureOfExpertsClassifier(LogisticRegression(), n_experts=2,
                                                  random_state=0),
    "distiller": lambda: DistilledClassifier(FusionClassifier(_members(), cv=3),
                                             DecisionTreeClassifier(random_state=0), cv=3),
}


@pytest.mark.parametrize("named_at", ["fit", "predict"])
@pytest.mark.parametrize("kind", NAMED_INPUT_COMPOSITES)
def test_feature_names_that_disagree_with_fit_are_warned_of_once(kind, named_at):
    # Each member (and each level of a nested composite) repeated the composite's
    # warning in its own name: a stack of a fusion of two warned four times a call.
    frame = pd.DataFrame(X, columns=list("abcde"))
    fitted_on, given = (frame, X[:5]) if named_at == "fit" else (X, frame[:5])
    composite = NAMED_INPUT_COMPOSITES[kind]().fit(fitted_on, Y)
    owner = type(composite).__name__
    methods = [m for m in ("predict", "predict_proba", "transform", "predict_route",
                           "predict_gate") if hasattr(composite, m)]
    for method in methods + ["score"]:
        args = (given, Y[:5]) if method == "score" else (given,)
        record = caught(lambda m=method: getattr(composite, m)(*args))
        assert _named_in_names_warnings(record) == [owner], method
        # At the user's line: transform's pointed inside set_output's or available_if's
        # wrapper, score's inside scikit-learn's ClassifierMixin.
        assert [w.filename for w in record if "feature names, but" in str(w.message)] \
            == [__file__], method
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        composite.predict(fitted_on[:5])  # names as at fit: no warning
        with pytest.raises(UserWarning, match=f"but {owner} was fitted with"):
            composite.predict(given)


def test_members_predicting_in_threads_do_not_repeat_the_names_warning():
    # Members predict in threads for 10,000 rows or more, where a nested fusion's own
    # check (the same class as its owner's) warned again.
    frame = pd.DataFrame(np.tile(X, (40, 1)), columns=list("abcde"))
    y = np.tile(Y, 40)
    fusion = FusionClassifier([("inner", FusionClassifier(_members(), n_jobs=2)),
                               ("nb", GaussianNB())], n_jobs=2).fit(frame, y)
    record = caught(lambda: fusion.predict_proba(frame.to_numpy()))
    assert _named_in_names_warnings(record) == ["FusionClassifier"]
    assert record[0].filename == __file__  # the user's call


def repeated():
    for _ in range(3):
        warnings.warn("a", UserWarning)
        warnings.warn("b", RuntimeWarning)


def _once(call):
    with warnings_once():
        call()


def test_warnings_once_shows_each_distinct_warning_once():
    record = caught(lambda: _once(repeated))
    assert [str(w.message) for w in record] == ["a", "b"]
    assert all(w.filename == __file__ for w in record)  # where it was first raised


def test_warnings_once_leaves_other_threads_warnings_alone():
    def in_a_thread_then_here():
        worker = threading.Thread(target=_once, args=(repeated,))
        worker.start()
        worker.join()
        warnings.warn("c", UserWarning)  # the display still works afterwards

    record = caught(in_a_thread_then_here)
    assert [str(w.message) for w in record] == ["a", "b"] * 3 + ["c"]


def test_warnings_once_shows_what_came_before_an_error():
    def a_then_an_error():
        warnings.warn("a", UserWarning)
        warnings.warn("b", RuntimeWarning)

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warnings.filterwarnings("error", category=RuntimeWarning)
        with pytest.raises(RuntimeWarning):
            _once(a_then_an_error)
    assert [str(w.message) for w in record] == ["a"]


def test_forward_chaining_folds_without_a_class_are_not_told_to_shuffle():
    X, y = _sorted_iris()
    # Two classes interleaved, then the third: early training windows lack it.
    order = np.r_[np.column_stack([np.arange(50), np.arange(50, 100)]).ravel(),
                  np.arange(100, 150)]
    X, y = X[order], y[order]
    fusion = COMPOSITES_WITH_FOLDS["fusion"](TimeSeriesSplit(3))
    record = caught(lambda: fusion.fit(X, y))
    lacking = [str(w.message) for w in record if "lacks a class" in str(w.message)]
    assert len(lacking) == 1
    assert "forward-chaining" in lacking[0] and "Shuffle" not in lacking[0]


def test_test_folds_that_leave_rows_out_are_not_called_forward_chaining():
    # Test folds that cover some rows only (PredefinedSplit's -1) were taken for a
    # forward-chaining cv, whose early splits lack the later classes.
    X, y = make_classification(120, 6, random_state=0)
    y[::4][:3] = 2  # a rare class, its 3 rows all in test fold 0
    fold = np.tile([0, 1, 2, -1], 30)
    fusion = COMPOSITES_WITH_FOLDS["fusion"](PredefinedSplit(fold))
    record = caught(lambda: fusion.fit(X, y))
    lacking = [str(w.message) for w in record if "lacks a class" in str(w.message)]
    assert len(lacking) == 1
    assert "forward-chaining" not in lacking[0]
    assert "Stratified folds (StratifiedKFold(shuffle=True))" in lacking[0]


UNCONVERGED = {
    "fusion": lambda lr: FusionClassifier([("lr", lr), ("nb", GaussianNB())],
                                          weights="optimize"),
    "stack": lambda lr: SerialStack([("lr", lr), ("nb", GaussianNB())]),
    "distiller teacher": lambda lr: DistilledClassifier(
        lr, DecisionTreeClassifier(max_depth=3), random_state=0),
    "distiller student": lambda lr: DistilledClassifier(GaussianNB(), lr, random_state=0),
    "mixture": lambda lr: MixtureOfExpertsClassifier(lr, n_experts=2, random_state=0),
    "stack of fusions": lambda lr: SerialStack(
        [("level", FusionClassifier([("lr", lr), ("nb", GaussianNB())], weights="optimize")),
         ("final", LogisticRegression())]),
}


@pytest.mark.parametrize("kind", UNCONVERGED)
def test_a_members_own_warning_shows_once_per_fit(kind):
    # A member that does not converge warned once per fit of it: 5 times in a fusion
    # with learned weights, 26 in a distiller whose student it is (every label weight
    # on every fold), 36 in a stack of such fusions.
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    record = caught(lambda: UNCONVERGED[kind](LogisticRegression(max_iter=5)).fit(50 * X, y))
    converging = [w for w in record if issubclass(w.category, ConvergenceWarning)
                  and "lbfgs failed to converge" in str(w.message)]
    assert len(converging) == 1


def test_a_one_row_class_beside_unshuffled_folds_gets_both_advices():
    # With a one-row class and classes the folds left out by their order, the advice
    # named the one-row class alone, though stratified folds mend the others.
    X, y = _sorted_iris()
    y = y.astype(object)
    y[0] = "single"
    record = caught(lambda: COMPOSITES_WITH_FOLDS["stack"](KFold(3)).fit(X, y))
    lacking = [str(w.message) for w in record if "lacks a class" in str(w.message)]
    assert len(lacking) == 1
    assert "A class of one row ('single')" in lacking[0]
    assert "Stratified folds (StratifiedKFold(shuffle=True))" in lacking[0]


@pytest.mark.parametrize("owner", ["stack", "distiller"])
def test_warnings_of_worker_processes_are_shown_once_at_the_users_fit(owner):
    """With n_jobs=2 the nested fusion warns in worker processes: each of its fits
    printed it there, at joblib's line, and the user's record stayed empty."""
    frozen = FrozenEstimator(LogisticRegression().fit(X, Y))
    inner = FusionClassifier([("pre", frozen), ("nb", GaussianNB())], weights="optimize",
                             cv=3)
    composite = (SerialStack([("inner", inner), ("final", LogisticRegression())], cv=3,
                             n_jobs=2) if owner == "stack"
                 else DistilledClassifier(inner, DecisionTreeClassifier(max_depth=2), cv=3,
                                          n_jobs=2))
    record = [w for w in caught(lambda: composite.fit(X, Y))
              if w.category is FrozenMemberWarning]
    assert len(record) == 1
    assert record[0].filename == __file__


class _CodedWarning(UserWarning):
    """A warning built from two arguments, with an attribute of its own."""

    def __init__(self, text, code):
        super().__init__(text, code)
        self.code = code


class _CodedWarner(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        warnings.warn(_CodedWarning("coded", 7))
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_relayed_warnings_keep_their_instance(n_jobs):
    """A member's warning reaches the user as the object raised, from this process and
    from worker processes (relayed as text, a two-argument one came back a str)."""
    warner = _CodedWarner() if n_jobs == 1 else LogisticRegression(max_iter=2)
    fusion = FusionClassifier([("w", warner), ("nb", GaussianNB())], cv=3, n_jobs=n_jobs)
    record = caught(lambda: fusion.fit(X, Y))
    if n_jobs == 1:
        coded = [w for w in record if w.category is _CodedWarning]
        assert len(coded) == 1 and coded[0].message.code == 7
    else:
        converged = [w for w in record if w.category is ConvergenceWarning]
        assert len(converged) == 1 and isinstance(converged[0].message, ConvergenceWarning)


class _Overlap:
    """Another thread that enters ``catch_warnings`` (as scikit-learn's ``Parallel``
    runs each task) during a composite's call, at its member's first ``fit`` or
    ``predict_proba`` in the ``with`` block, and leaves it at the block's end: its exit
    puts back the warning filters and display it found."""

    armed = False

    @classmethod
    @contextlib.contextmanager
    def around(cls):
        cls.inside, cls.entered, cls.release = (threading.Event() for _ in range(3))
        thread = threading.Thread(target=cls._hold, daemon=True)
        thread.start()
        cls.armed = True
        try:
            yield
        finally:
            cls.armed = False
            cls.inside.set()
            cls.release.set()
            thread.join(timeout=60)

    @classmethod
    def _hold(cls):
        cls.inside.wait(timeout=60)
        with warnings.catch_warnings():
            cls.entered.set()
            cls.release.wait(timeout=60)

    @classmethod
    def meet(cls):
        if cls.armed:
            cls.armed = False
            cls.inside.set()
            assert cls.entered.wait(timeout=60)


class _Overlapped(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        _Overlap.meet()
        return self

    def predict_proba(self, X):
        _Overlap.meet()
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))


def _displayed(call):
    """What the user's own display shows of the warnings raised in ``call``."""
    shown = []
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *args, **kwargs: shown.append(str(message))
        call()
    return shown


def test_a_thread_overlapping_a_fit_leaves_the_warning_display_working():
    # The thread's exit used to put back the fit's recorder: every later warning lost.
    fusion = FusionClassifier([("lr", LogisticRegression()), ("o", _Overlapped())], cv=3)

    def overlapped_fit_then_a_warning():
        with _Overlap.around():
            fusion.fit(X, Y)
        warnings.warn("after the fit", UserWarning)

    assert _displayed(overlapped_fit_then_a_warning) == ["after the fit"]


def test_a_thread_overlapping_a_predict_leaves_no_names_filter():
    # The thread's exit used to put back the filter that ignores scikit-learn's
    # feature-names warning, for every estimator afterwards.
    frame = pd.DataFrame(X, columns=list("abcde"))
    fusion = FusionClassifier([("lr", LogisticRegression()), ("o", _Overlapped())],
                              cv=3).fit(frame, Y)
    alone = LogisticRegression().fit(frame, Y)

    def overlapped_predict_then_another():
        with _Overlap.around():
            fusion.predict_proba(X)
        alone.predict(X)

    shown = _displayed(overlapped_predict_then_another)
    assert [message.split(",")[1] for message in shown] == [
        " but FusionClassifier was fitted with feature names",
        " but LogisticRegression was fitted with feature names"]


def test_a_thread_overlapping_a_silenced_probe_leaves_no_ignore_filter():
    # A probe's "ignore" (a trial fit, a k-means start) used to stand after it.
    def overlapped_probe_then_a_warning():
        with _Overlap.around(), silenced():
            _Overlap.meet()
            warnings.warn("in the probe", UserWarning)
        warnings.warn("after the probe", UserWarning)

    assert _displayed(overlapped_probe_then_a_warning) == ["after the probe"]


class _HooksTheDisplay(RegressorMixin, BaseEstimator):
    """A member whose first fit (the trial a regressor gets before a 2-D ``y``)
    installs a display that logs each warning, then passes it on to the display it
    replaced (as a library may on its import)."""

    logged = None

    def fit(self, X, y):
        if _HooksTheDisplay.logged is None:
            _HooksTheDisplay.logged, passed_on = [], warnings.showwarning

            def logs(message, *args, **kwargs):
                _HooksTheDisplay.logged.append(str(message))
                passed_on(message, *args, **kwargs)

            warnings.showwarning = logs
        self.n_outputs_ = np.shape(y)[1]
        return self

    def predict(self, X):
        return np.zeros((len(X), self.n_outputs_))


def test_a_display_installed_during_a_fit_shows_every_later_warning_once(capsys):
    # It passed warnings on to skfuse's recorder, which the next fit saved as the
    # display to pass on to: the two passed each warning to each other without end.
    Y2 = np.c_[Y, 1 - Y].astype(float)
    fusion = FusionRegressor([("lin", LinearRegression()), ("h", _HooksTheDisplay())])
    _HooksTheDisplay.logged = None

    def fits_each_followed_by_a_warning():
        for fit in range(2):
            fusion.fit(X, Y2)
            warnings.warn(f"after fit {fit}", UserWarning)

    shown = _displayed(fits_each_followed_by_a_warning)
    assert _HooksTheDisplay.logged == ["after fit 0", "after fit 1"]
    printed = capsys.readouterr().err
    for fit in range(2):  # shown once, by the user's display or on stderr
        assert shown.count(f"after fit {fit}") + printed.count(f"after fit {fit}") == 1


def test_worker_processes_started_in_a_silenced_block_ignore_its_warnings():
    # Its filter went to scikit-learn's worker processes matching nothing there: a
    # probe's warning (a nested composite fitting with n_jobs=2) was shown, or raised
    # under an "error" filter.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with silenced(UserWarning):
            Parallel(n_jobs=2)(delayed(warnings.warn)("probe", UserWarning)
                               for _ in range(2))
        with silenced(RuntimeWarning), pytest.raises(UserWarning, match="probe"):
            Parallel(n_jobs=2)(delayed(warnings.warn)("probe", UserWarning)
                               for _ in range(2))


class _Abort(BaseException):
    """Raised as an interrupt is (not an ``Exception``)."""


class _Aborts(ClassifierMixin, BaseEstimator):
    def __init__(self, delay=0.0, abort=False):
        self.delay, self.abort = delay, abort

    def fit(self, X, y):
        time.sleep(self.delay)
        if self.abort:
            raise _Abort
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))


def test_a_fit_in_threads_that_is_interrupted_waits_for_its_running_tasks():
    # An interrupt escaped the thread task: joblib returned at once, and a task still
    # running ended its catch_warnings after the fit had, putting skfuse's recorder
    # back as the process's display.
    fusion = FusionClassifier([("abort", _Aborts(0.1, abort=True)), ("slow", _Aborts(0.5)),
                               ("lr", LogisticRegression())], n_jobs=2)
    display = warnings.showwarning
    with parallel_backend("threading"), pytest.raises(_Abort):
        fusion.fit(X, Y)
    time.sleep(0.8)  # (the slow member's task, had it been left running, has ended)
    assert warnings.showwarning is display
