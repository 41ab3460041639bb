"""The member-job plan: fits and out-of-fold outputs by member name."""

from functools import partial

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold
from sklearn.tree import DecisionTreeClassifier

from skfuse._base import member_proba
from skfuse._jobs import MemberJobs, predict_members

X, y = make_classification(120, 5, random_state=0)
CLASSES = np.unique(y)
OUTPUT = partial(member_proba, classes=CLASSES)
FOLDS = list(KFold(3).split(X))


def test_each_member_gets_its_refit_and_out_of_fold_outputs_by_name():
    plan = MemberJobs("Owner", len(y))
    plan.add("lr", LogisticRegression(), label="member 'lr'", folds=FOLDS)
    plan.add("tree", DecisionTreeClassifier(max_depth=2, random_state=0),
             label="member 'tree'", view=np.array([0, 1]), folds=FOLDS)
    fits = plan.run(X, y, output=OUTPUT)
    assert list(fits) == ["lr", "tree"]
    expected = LogisticRegression().fit(X, y)
    np.testing.assert_allclose(fits["lr"].estimator.coef_, expected.coef_)
    assert fits["tree"].estimator.n_features_in_ == 2
    for train, test in FOLDS:  # each fold's rows hold the fit on the other folds
        fold_fit = LogisticRegression().fit(X[train], y[train])
        np.testing.assert_allclose(fits["lr"].oof[test], fold_fit.predict_proba(X[test]))
    assert fits["lr"].tested.all()
    assert fits["lr"].predict_seconds >= 0


@pytest.mark.parametrize("memory", [None, "cache"])
def test_a_member_planned_with_its_own_output_gives_it(memory, tmp_path):
    # Two members of one estimator and folds, one with its own output: the member cache
    # keys each by its output, so neither is handed the other's.
    def plan_and_run():
        plan = MemberJobs("Owner", len(y), memory=memory and str(tmp_path))
        plan.add("proba", LogisticRegression(), label="member 'proba'", folds=FOLDS)
        plan.add("labels", LogisticRegression(), label="member 'labels'", folds=FOLDS,
                 output=_labels_of)
        return plan.run(X, y, output=OUTPUT)

    for fits in (plan_and_run(), plan_and_run()):  # (with memory, the second reads it)
        for train, test in FOLDS:
            fold_fit = LogisticRegression().fit(X[train], y[train])
            np.testing.assert_allclose(fits["proba"].oof[test],
                                       fold_fit.predict_proba(X[test]))
            np.testing.assert_array_equal(fits["labels"].oof[test], fold_fit.predict(X[test]))


def _labels_of(estimator, X):
    return estimator.predict(X)


def test_rows_restrict_fits_and_folds_and_untested_rows_stay_zero():
    present = np.arange(len(y)) % 4 != 0
    plan = MemberJobs("Owner", len(y))
    plan.add("lr", LogisticRegression(), label="member 'lr'", rows=present, folds=FOLDS)
    fit = plan.run(X, y, output=OUTPUT)["lr"]
    np.testing.assert_allclose(fit.estimator.coef_,
                               LogisticRegression().fit(X[present], y[present]).coef_)
    np.testing.assert_array_equal(fit.tested, present)
    assert np.all(fit.oof[~present] == 0)


def test_a_member_without_rows_is_refused_by_its_label():
    plan = MemberJobs("Owner", len(y))
    with pytest.raises(ValueError, match="Owner: member 'a' has no row where its view"):
        plan.add("a", LogisticRegression(), label="member 'a'",
                 rows=np.zeros(len(y), dtype=bool), folds=FOLDS)


def test_a_frozen_member_is_returned_as_given_and_not_refitted():
    frozen = FrozenEstimator(LogisticRegression().fit(X, y))
    plan = MemberJobs("Owner", len(y))
    plan.add("f", frozen, label="member 'f'", folds=[(None, np.arange(len(y)))])
    fit = plan.run(X, y, output=OUTPUT)["f"]
    assert fit.estimator is frozen
    np.testing.assert_allclose(fit.oof, frozen.predict_proba(X))


def test_fit_output_is_the_refit_output_on_its_own_rows_with_its_weights():
    rows = np.arange(0, len(y), 2)
    weight = np.zeros(len(y))
    weight[rows] = np.linspace(0.5, 2.0, rows.size)
    plan = MemberJobs("Owner", len(y))
    plan.add("lr", LogisticRegression(), label="expert 0", rows=rows,
             params={"sample_weight": weight}, fit_output=True)
    fit = plan.run(X, y, output=OUTPUT)["lr"]
    expected = LogisticRegression().fit(X[rows], y[rows], sample_weight=weight[rows])
    np.testing.assert_allclose(fit.estimator.coef_, expected.coef_)
    np.testing.assert_allclose(fit.fit_output, expected.predict_proba(X[rows]))
    assert fit.oof is None


def test_progress_labels_name_each_members_fit_and_folds(capsys):
    plan = MemberJobs("Owner", len(y), verbose=1)
    plan.add("lr", LogisticRegression(), label="member 'lr'", folds=FOLDS[:2])
    plan.run(X, y, output=OUTPUT)
    labels = [line.split(") ", 1)[1].rsplit(":", 1)[0]
              for line in capsys.readouterr().out.splitlines()]
    assert labels == ["member 'lr', fit", "member 'lr', fold 1 of 2",
                      "member 'lr', fold 2 of 2"]


def test_predict_members_asks_each_member_about_its_rows_only():
    lr = LogisticRegression().fit(X, y)
    rows = np.array([3, 7, 11])
    outs = predict_members([("a", lr, None, None, None), ("b", lr, None, rows, None),
                            ("c", lr, None, np.array([], dtype=int), None)], X, OUTPUT,
                           owner="Owner")
    np.testing.assert_allclose(outs[0], lr.predict_proba(X))
    np.testing.assert_allclose(outs[1], lr.predict_proba(X[rows]))
    assert outs[2] is None


def test_fit_output_without_rows_is_on_every_row():
    plan = MemberJobs("Owner", len(y))
    plan.add("lr", LogisticRegression(), label="expert 'lr'", fit_output=True)
    fit = plan.run(X, y, output=OUTPUT)["lr"]
    np.testing.assert_allclose(fit.fit_output, fit.estimator.predict_proba(X))


def test_a_frozen_member_gives_its_output_once_whatever_the_folds(capsys):
    frozen = FrozenEstimator(LogisticRegression().fit(X, y))
    plan = MemberJobs("Owner", len(y), verbose=1)
    plan.add("f", frozen, label="step 'f'", folds=FOLDS)
    fit = plan.run(X, y, output=OUTPUT)["f"]
    np.testing.assert_allclose(fit.oof, frozen.predict_proba(X))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(") ", 1)[1].rsplit(":", 1)[0] for line in lines] == [
        "step 'f' (frozen), used as it is", "step 'f' (frozen), output on all rows"]


def test_a_frozen_step_that_knows_a_class_outside_y_is_named():
    from skfuse import SerialStack

    known = FrozenEstimator(LogisticRegression().fit(X, np.where(y == 1, 2, y)))
    cascade = SerialStack([("cheap", known), ("lr", LogisticRegression())],
                          exit_threshold=0.9, cv=3)
    with pytest.raises(ValueError, match=r"SerialStack: step 'cheap' knows class\(es\) \[2\]"):
        cascade.fit(X, y)


# -- members' own threads under skfuse's workers -------------------------------------


def thread_counting():
    """A logistic regression that records the widest thread pool (OpenMP, BLAS) it sees
    in fit and in predict_proba, then computes on one thread (the pools the test widens
    crashed the OpenBLAS 0.3.28 of SciPy 1.15, the last for Python 3.10). The class is
    local, so that loky's workers get it by value (this test module cannot be imported
    there)."""

    class ThreadCounting(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            from threadpoolctl import threadpool_info, threadpool_limits

            self.threads_ = max(info["num_threads"] for info in threadpool_info())
            with threadpool_limits(1):
                return super().fit(X, y, sample_weight)

        def predict_proba(self, X):
            from threadpoolctl import threadpool_info, threadpool_limits

            self.predict_threads_ = max(info["num_threads"] for info in threadpool_info())
            with threadpool_limits(1):
                return super().predict_proba(X)

    return ThreadCounting()


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_two_workers_do_not_each_start_a_thread_per_core(backend):
    import joblib
    import sklearn.ensemble  # noqa: F401 - loads scikit-learn's OpenMP runtime
    from threadpoolctl import threadpool_limits

    from skfuse import FusionClassifier

    members = [(f"m{i}", thread_counting()) for i in range(3)]
    limit = max(joblib.cpu_count() // 2, 1)
    wide = 4 * joblib.cpu_count()  # a thread pool far wider than the machine
    with threadpool_limits(limits=wide), joblib.parallel_config(backend=backend):
        fusion = FusionClassifier(members, weights="optimize", refit=True, cv=3,
                                  n_jobs=2).fit(X, y)
        assert max(est.threads_ for est in fusion.estimators_) <= limit
        # One worker adds nothing to limit: the members see this process's pools.
        alone = FusionClassifier(members, n_jobs=1).fit(X, y)
        assert min(est.threads_ for est in alone.estimators_) == wide
        # Predict's threads (10,000 rows or more) are limited the same way. Fixed
        # weights, so that every member predicts: learned ones may give these three
        # equal members weights (1, 0, 0), and a member of weight 0 is never asked.
        fixed = FusionClassifier(members, n_jobs=2).fit(X, y)
        fixed.predict_proba(np.repeat(X, 100, axis=0))
        assert max(est.predict_threads_ for est in fixed.estimators_) <= limit


def test_the_cap_never_widens_a_pool(monkeypatch):
    import joblib
    from threadpoolctl import threadpool_limits

    from skfuse import FusionClassifier, _tasks

    monkeypatch.setattr(_tasks, "cpu_count", lambda: 16)  # a cap of 8 for 2 workers
    members = [(f"m{i}", thread_counting()) for i in range(2)]
    with threadpool_limits(limits=1), joblib.parallel_config(backend="threading"):
        fusion = FusionClassifier(members, n_jobs=2).fit(X, y)
    assert [est.threads_ for est in fusion.estimators_] == [1, 1]


def test_progress_lines_on_a_backend_that_cannot_yield_results_as_they_come(capsys):
    # joblib's multiprocessing backend refuses return_as="generator": verbose fits on it
    # raised ValueError, where verbose only adds progress lines.
    import joblib

    from skfuse import FusionClassifier

    members = [("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(
        max_depth=3, random_state=0))]
    quiet = FusionClassifier(members, weights="optimize", cv=3, random_state=0).fit(X, y)
    with joblib.parallel_config(backend="multiprocessing"):
        told = FusionClassifier(members, weights="optimize", cv=3, n_jobs=2, verbose=1,
                                random_state=0).fit(X, y)
    assert "member 'lr'" in capsys.readouterr().out
    np.testing.assert_array_equal(told.predict_proba(X), quiet.predict_proba(X))


def test_a_fit_failing_in_threads_leaves_the_warnings_working():
    # On a thread backend, a fit whose task raised returned while another task still
    # ran; that task's catch_warnings then restored the fit's warning recorder for good,
    # and every later warning in the process was lost.
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import time, warnings, joblib
        from sklearn.datasets import make_classification
        from sklearn.naive_bayes import GaussianNB
        from skfuse import FusionClassifier

        class Slow(GaussianNB):
            def fit(self, X, y):
                time.sleep(1.0)
                return super().fit(X, y)

        class Bad(GaussianNB):
            def fit(self, X, y):
                raise ValueError("a bad member")

        X, y = make_classification(100, random_state=0)
        fusion = FusionClassifier([("slow", Slow()), ("bad", Bad())], n_jobs=2)
        with joblib.parallel_config(backend="threading"):
            try:
                fusion.fit(X, y)
            except ValueError as error:
                print("raised:", error)
        time.sleep(1.5)  # any task still running has ended by now
        warnings.warn("a later warning")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert "raised: a bad member" in done.stdout, done.stderr
    assert "a later warning" in done.stderr


def _nested_estimators():
    from sklearn.ensemble import BaggingClassifier, RandomForestClassifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skfuse import FusionClassifier

    class OwnNames(LogisticRegression):  # lists its parameters as an instance method
        def __init__(self, C=1.0, inner=None):
            self.C, self.inner = C, inner

        def _get_param_names(self):
            return ["C", "inner"]

    frozen = FrozenEstimator(LogisticRegression().fit(X, y))
    pipe = make_pipeline(StandardScaler(), BaggingClassifier(frozen))
    return [LogisticRegression(), RandomForestClassifier(), pipe, OwnNames(inner=frozen),
            BaggingClassifier(BaggingClassifier(pipe)),
            GridSearchCV(pipe, {"baggingclassifier__n_estimators": [2]}),
            FusionClassifier([("p", pipe), ("b", BaggingClassifier(frozen))])]


@pytest.mark.parametrize("estimator", _nested_estimators(), ids=lambda e: type(e).__name__)
def test_estimators_held_are_those_of_get_params(estimator):
    # Read with the constructor's names once per class, not by get_params at each call.
    from skfuse._compat import shallow_params
    from skfuse._tasks import _held

    assert shallow_params(estimator) == estimator.get_params(deep=False)
    expected = [value for value in estimator.get_params(deep=True).values()
                if hasattr(value, "get_params") and not isinstance(value, type)]
    assert sorted(map(id, _held(estimator))) == sorted(map(id, expected))


def test_parameter_names_are_read_again_when_a_class_gets_another_init():
    from skfuse._compat import param_names, shallow_params

    class Member(LogisticRegression):
        def __init__(self, C=1.0):
            self.C = C

    assert param_names(Member) == ("C",)

    def __init__(self, C=1.0, inner=None):
        self.C, self.inner = C, inner

    Member.__init__ = __init__
    frozen = FrozenEstimator(LogisticRegression().fit(X, y))
    assert shallow_params(Member(inner=frozen)) == {"C": 1.0, "inner": frozen}


def test_compact_out_of_fold_outputs_are_the_tested_rows_of_the_full_ones():
    # A member tested on few of many rows (a distilled student's first copies) keeps
    # its out-of-fold outputs for those rows alone, in row order.
    rng = np.random.RandomState(0)
    Xr, yr = rng.randn(60, 3), rng.randn(60)
    tested = rng.permutation(60)[:20]
    folds = [(np.setdiff1d(np.arange(60), part), part)
             for part in np.array_split(rng.permutation(tested), 3)]
    fits = {}
    for compact in (False, True):
        plan = MemberJobs("Test", 60)
        plan.add("ridge", Ridge(), label="ridge", folds=folds, compact_oof=compact)
        fits[compact] = plan.run(Xr, yr, None, lambda est, rows: est.predict(rows))["ridge"]
    assert_array_equal(fits[True].tested, fits[False].tested)
    assert_array_equal(np.flatnonzero(fits[True].tested), np.sort(tested))
    assert_array_equal(fits[True].oof, fits[False].oof[fits[False].tested])


@pytest.mark.parametrize("wide_first", [True, False])
def test_out_of_fold_outputs_of_different_widths_are_refused(wide_first):
    # A training fold lacking a class gives an output one column narrower: refused by
    # name, not broadcast into the wider folds' columns ((n, 1) into (n, 3) would pass).
    rng = np.random.RandomState(0)
    y3 = np.r_[np.arange(40) % 2, np.arange(20) % 3]  # class 2 in the last fold alone
    X3 = rng.randn(60, 3) + y3[:, None]
    folds = list(KFold(3).split(X3))
    if not wide_first:
        folds = folds[::-1]
    plan = MemberJobs("Owner", 60)
    plan.add("lr", LogisticRegression(), label="member 'lr'", folds=folds, refit=False)
    with pytest.raises(ValueError, match="Owner: the output of member 'lr' has a different "
                                         "width on different folds"):
        plan.run(X3, y3, None, lambda est, rows: est.predict_proba(rows))


@pytest.mark.parametrize("dtypes", [(np.intp, np.intp), (np.int32, np.int64),
                                    (np.uint8, np.int16), (np.uint64, np.int64)])
def test_position_sets_match_numpy(dtypes):
    from skfuse._views import intersect_positions, union_positions

    rng = np.random.RandomState(0)
    for _ in range(50):
        a, b = (rng.randint(0, 100, rng.randint(0, 20)).astype(t) for t in dtypes)
        for ours, theirs in ((intersect_positions, np.intersect1d),
                             (union_positions, np.union1d)):
            got, want = ours(a, b), theirs(a, b)
            assert got.dtype == want.dtype
            assert_array_equal(got, want)
    for a, b in (([3, 1, 1], [1, 2]), ([], [1]), ([-1, 2], [2]), ([True], [True]),
                 (np.array([[1, 2], [3, 4]]), [4, 1]), (np.array([10**12]), [3, 10**12])):
        for ours, theirs in ((intersect_positions, np.intersect1d),
                             (union_positions, np.union1d)):
            got, want = ours(a, b), theirs(a, b)
            assert got.dtype == want.dtype
            assert_array_equal(got, want)
