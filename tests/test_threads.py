"""One fitted composite predicting from several threads at once (as a web service does),
or composites fitted in several threads, leave the process as they found it: its
warning filters, its BLAS pools' width, and one copy of each stored member; a network
moved to another device is swapped in whole."""

import pickle
import threading
import time
import warnings

import numpy as np
import pytest
from joblib import Memory
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_info

import skfuse._cache
import skfuse._tasks
from skfuse import FusionClassifier, FusionRegressor, MixtureOfExpertsClassifier

X, Y = make_classification(2000, 8, n_informative=5, random_state=0)


def predicting_together(estimator, X, calls=10, n_threads=8, concurrently=None):
    """Every thread's predictions, started together."""
    start = threading.Barrier(n_threads)

    def work():
        start.wait()
        return [estimator.predict_proba(X) for _ in range(calls)]

    return [p for thread in concurrently(work, n_threads) for p in thread]


def test_predicting_with_nan_probes_leaves_the_warning_filters_as_they_were(concurrently):
    # A member without the allow_nan tag is asked about a few rows with NaN at every
    # predict; silencing its warnings there changed the process's filters, and
    # overlapping predicts put them back out of order (a blanket "ignore" left behind).
    Xn = X.copy()
    Xn[np.random.default_rng(0).random(X.shape) < 0.05] = np.nan
    fusion = FusionClassifier(
        [("lr", make_pipeline(SimpleImputer(), LogisticRegression())),
         ("hgb", HistGradientBoostingClassifier(max_iter=10, random_state=0))],
        random_state=0).fit(Xn, Y)
    expected = fusion.predict_proba(Xn)
    filters, show = list(warnings.filters), warnings.showwarning
    for _ in range(3):
        for proba in predicting_together(fusion, Xn, concurrently=concurrently):
            assert_array_equal(proba, expected)
    assert warnings.filters == filters
    assert warnings.showwarning is show


def blas_widths():
    return sorted((p["filepath"], p["num_threads"]) for p in threadpool_info()
                  if p["user_api"] == "blas")


def test_predicting_in_parallel_from_threads_gives_the_blas_pools_their_width_back(
        concurrently):
    # Each predict capped the pools while its experts ran in threads; overlapping caps
    # restored out of order left them capped for good.
    X_big, y_big = make_classification(12_000, 6, random_state=0)
    mixture = MixtureOfExpertsClassifier(LogisticRegression(), n_experts=3, max_iter=3,
                                         n_jobs=2, random_state=0).fit(X_big[:3000],
                                                                       y_big[:3000])
    widths = blas_widths()
    predicting_together(mixture, X_big, calls=5, concurrently=concurrently)
    assert blas_widths() == widths


class _BlasWidths(RegressorMixin, BaseEstimator):
    """Records the BLAS pools' widths its fit runs under."""

    def fit(self, X, y):
        self.widths_ = [width for _, width in blas_widths()]
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_threaded_workers_cap_blas_whichever_thread_fits(monkeypatch):
    # threadpoolctl 3.8 lets only the thread that took control of OpenBLAS set its
    # width: the cap, set outside a `with`, kept the main thread in control, and a fit
    # from another thread ran its members at full width, silently.
    import joblib
    from threadpoolctl import threadpool_limits

    monkeypatch.setattr(skfuse._tasks, "cpu_count", lambda: 2)  # 2 workers: a cap of 1
    X_small, y_small = make_regression(60, 3, random_state=0)

    def fit():
        with joblib.parallel_backend("threading"):
            fusion = FusionRegressor([("a", _BlasWidths()), ("b", _BlasWidths())],
                                     n_jobs=2).fit(X_small, y_small)
        return {width for member in fusion.estimators_ for width in member.widths_}

    with threadpool_limits(limits=2, user_api="blas"):
        if not blas_widths() or min(width for _, width in blas_widths()) < 2:
            pytest.skip("no BLAS pool that can be 2 threads wide")
        before = blas_widths()
        assert fit() == {1}  # the main thread
        seen = []
        thread = threading.Thread(target=lambda: seen.append(fit()))
        thread.start()
        thread.join()
        assert seen == [{1}]  # another thread
        assert fit() == {1}
        assert blas_widths() == before


def test_threads_predicting_first_unpickle_each_stored_member_once(
        tmp_path, monkeypatch, concurrently):
    def make():
        return FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                                memory=Memory(tmp_path, verbose=0))

    make().fit(X, Y)
    fusion = make().fit(X, Y)  # its members stay stored until a predict needs them
    blobs = {id(member.blob) for member in fusion._fitted_members_.values()
             if isinstance(member, skfuse._cache.StoredMember)}
    assert len(blobs) == 2
    unpickled, loads = [], pickle.loads

    def counting_loads(data, *args, **kwargs):
        if id(data) in blobs:
            unpickled.append(id(data))
            time.sleep(0.05)  # a large member: the others arrive while it loads
        return loads(data, *args, **kwargs)

    monkeypatch.setattr(skfuse._cache.pickle, "loads", counting_loads)
    predicting_together(fusion, X + 1e-3, calls=1, concurrently=concurrently)
    assert sorted(unpickled) == sorted(blobs)


def test_a_neural_mixture_moving_its_network_swaps_in_a_moved_copy(concurrently):
    # Threads predicting while the network moved to another device ran it half moved;
    # the move now makes a moved copy, so a predict keeps the network it began with.
    torch = pytest.importorskip("torch")
    from skfuse.torch import NeuralMixtureOfExpertsRegressor

    mixture = NeuralMixtureOfExpertsRegressor(n_experts=2, max_epochs=2, device="cpu",
                                              random_state=0).fit(X, Y.astype(float))
    expected, fitted = mixture.predict(X), mixture.module_
    weights = [p.detach().clone() for p in fitted.parameters()]
    mixture.device_ = torch.device("cpu", 0)  # as if fitted on another device
    start = threading.Barrier(8)

    def work():
        start.wait()
        return mixture.predict(X)

    for prediction in concurrently(work):
        assert_array_equal(prediction, expected)
    assert mixture.module_ is not fitted  # swapped once, the fitted network untouched
    assert all(torch.equal(p, w) for p, w in zip(fitted.parameters(), weights))


class _Rendezvous(RegressorMixin, BaseEstimator):
    """A ridge regression whose first fit in each role meets the other role's: "first"
    waits until "second" is fitting too, then returns at once; "second" returns a
    moment later. Its tags do not say it takes a 2-D y, so a fusion trial-fits it."""

    started = {}

    def __init__(self, role="first"):
        self.role = role

    def fit(self, X, y):
        events = type(self).started
        if not events[self.role].is_set():
            events[self.role].set()
            if self.role == "first":
                assert events["second"].wait(10)
            else:
                time.sleep(0.2)
        self.model_ = Ridge().fit(X, y)
        return self

    def predict(self, X):
        return self.model_.predict(X)


def test_fits_in_two_threads_leave_the_warning_filters_as_they_were():
    # The trial fits of two fusions overlap: the first enters, then the second, and the
    # first leaves first. Silencing by saving and restoring the process-wide filters
    # left the first's "ignore" in place for good (every later warning hidden).
    _Rendezvous.started = {"first": threading.Event(), "second": threading.Event()}
    X, y = make_regression(n_samples=60, n_features=3, n_targets=2, random_state=0)
    before, failed = list(warnings.filters), []

    def fit(role):
        try:
            FusionRegressor([("m", _Rendezvous(role))], cv=KFold(2)).fit(X, y)
        except BaseException as exc:  # noqa: BLE001 - reported below, not lost in a thread
            failed.append(exc)

    first = threading.Thread(target=fit, args=("first",))
    first.start()
    assert _Rendezvous.started["first"].wait(10)
    second = threading.Thread(target=fit, args=("second",))
    second.start()
    first.join()
    second.join()
    assert failed == []
    assert warnings.filters == before
