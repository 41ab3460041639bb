"""What a fit or a predict holds beside X: no copy of X that the work does not need.

Peaks are traced allocations (``tracemalloc``), which do not depend on the machine's
load; X itself is allocated before tracing starts.
"""

import gc
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeRegressor

from skfuse import (
    DistilledRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SerialStack,
)
from skfuse._mixture import _Rows
from skfuse._views import take_rows, take_view

rng = np.random.default_rng(0)
X = rng.normal(size=(20_000, 20))
Y = X[:, 0] + np.sin(3 * X[:, 1])


def traced_peak(call):
    # Earlier tests' garbage, collected inside the traced call, once counted 4x X here.
    gc.collect()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("data", [X, pd.DataFrame(X)], ids=["array", "frame"])
def test_take_rows_without_copy_returns_x_itself_only_for_all_rows_in_order(data):
    every = np.arange(len(X))
    assert take_rows(data, every, copy=False) is data
    assert take_rows(data, every) is not data  # a copy unless asked otherwise
    for rows in (every[::-1], every[:-1], np.r_[every[:-1], 0]):
        taken = take_rows(data, rows, copy=False)
        assert taken is not data
        assert_allclose(np.asarray(taken), X[rows])


@pytest.mark.parametrize("mixture, method", [
    (MixtureOfExpertsRegressor(Ridge(), n_experts=4, random_state=0), "predict"),
    (MixtureOfExpertsClassifier(LogisticRegression(), n_experts=4, random_state=0),
     "predict_proba"),
])
def test_a_dense_mixture_predicts_with_about_one_copy_of_x(mixture, method):
    # Each expert used to get its own copy of X, all made before the first ran (4.9x
    # X here), and the gate standardised X through two temporaries.
    mixture.fit(X, Y if method == "predict" else (Y > 0).astype(int))
    assert mixture.n_experts_ == 4 and mixture.top_k is None  # every expert, every row
    getattr(mixture, method)(X)  # a cold Numba cache compiles kernels in the first call
    peak = traced_peak(lambda: getattr(mixture, method)(X))
    # One standardised copy for the gate, then each expert's output (n x classes).
    assert peak < 2 * X.nbytes, peak / X.nbytes


def test_em_rows_share_one_copy_when_the_gate_sees_every_column():
    rows = _Rows(X, X, Y, Y, np.ones(len(X)), [None])
    train = rows._take(np.arange(0, len(X), 2), None)
    assert train.X_gate is train.X
    assert_allclose(train.X, X[::2])
    other = _Rows(X, X[:, :3], Y, Y, np.ones(len(X)), [None])._take(np.arange(5), None)
    assert_allclose(other.X_gate, X[:5, :3])


def test_a_student_learning_every_real_row_is_fitted_on_x_itself():
    shares = []

    class Student(DecisionTreeRegressor):
        def fit(self, X_student, y, sample_weight=None):
            shares.append(np.shares_memory(X_student, X))
            return super().fit(X_student, y, sample_weight=sample_weight)

    DistilledRegressor(Ridge(), Student(max_depth=3), label_weight=0.5, cv=3,
                       random_state=0).fit(X, Y)
    # Its fit on every row first, then its fits on training folds (for fidelity_).
    assert shares[0] and not any(shares[1:])


def test_the_label_weight_check_builds_one_student_s_rows_at_a_time():
    # A classifier student learns each row once per class; the check of label_weight=
    # "auto" built every fold's and weight's rows before fitting any (7x the peak of a
    # fixed label weight with 10 classes, 27x with 40).
    from sklearn.datasets import make_classification
    from sklearn.naive_bayes import GaussianNB
    from sklearn.tree import DecisionTreeClassifier

    from skfuse import DistilledClassifier

    X_c, y_c = make_classification(1500, 20, n_informative=10, n_classes=10,
                                   n_clusters_per_class=1, random_state=0)
    distiller = DistilledClassifier(GaussianNB(), DecisionTreeClassifier(max_depth=4),
                                    random_state=0)
    fixed = traced_peak(lambda: clone(distiller).set_params(label_weight=0.0).fit(X_c, y_c))
    checked = traced_peak(lambda: clone(distiller).fit(X_c, y_c))
    assert checked < 2 * fixed


def test_the_label_weight_check_takes_one_folds_rows_of_x_at_a_time():
    # Every fold's copy of X (and of its test rows) was taken before any task ran:
    # 10.8 times X at its peak with cv=5, 20 times with cv=10.
    rng = np.random.RandomState(0)
    X_r = rng.randn(20_000, 10)
    y_r = X_r[:, 0] + 0.3 * rng.randn(20_000)
    model = DistilledRegressor(Ridge(), DecisionTreeRegressor(max_depth=3, random_state=0),
                               cv=5, augment=None, random_state=0)
    peak = traced_peak(lambda: model.fit(X_r, y_r))
    assert len(model.label_weight_losses_) == 5  # the check ran
    assert peak < 7 * X_r.nbytes, peak / X_r.nbytes


def test_only_every_column_in_order_takes_x_itself():
    # A view of every column in order is X itself; a boolean mask that happens to
    # compare equal to 0 .. p - 1 ([False, True]) is still a selection.
    two = X[:, :2]
    assert take_view(two, np.arange(2)) is two
    assert_allclose(take_view(two, [False, True]), two[:, 1:])
    assert take_view(two, [1, 0]) is not two


class _LayoutSeen(LogisticRegression):
    """A final step that records whether each input it is given is row-major."""

    row_major = []

    def fit(self, X_final, y, sample_weight=None):
        type(self).row_major.append(X_final.flags.c_contiguous)
        return super().fit(X_final, y, sample_weight=sample_weight)

    def predict_proba(self, X_final):
        type(self).row_major.append(X_final.flags.c_contiguous)
        return super().predict_proba(X_final)


def test_a_stack_passing_every_column_through_builds_its_next_input_once():
    # passthrough=True used to take X[:, arange(p)] (a full, column-major copy) before
    # stacking it beside the level's output, and the final LogisticRegression copied
    # the column-major result once more (2.3x X at fit, scikit-learn's 1.3x). Newton's
    # solver, not L-BFGS: with scipy < 1.14, L-BFGS leaves each fit's copy of X in a
    # reference cycle, and the garbage collector's timing, not the stack, sets the peak.
    assert take_view(X, np.arange(X.shape[1])) is X
    y = (Y > 0).astype(int)
    _LayoutSeen.row_major.clear()
    newton = dict(max_iter=50, solver="newton-cholesky")
    stack = SerialStack([("lr", LogisticRegression(**newton)),
                         ("final", _LayoutSeen(**newton))], passthrough=True,
                        random_state=0)
    ours = traced_peak(lambda: stack.fit(X, y))
    theirs = traced_peak(lambda: StackingClassifier(
        [("lr", LogisticRegression(**newton))],
        final_estimator=LogisticRegression(**newton), passthrough=True).fit(X, y))
    assert _LayoutSeen.row_major == [True]
    assert ours < theirs + 0.5 * X.nbytes, (ours / X.nbytes, theirs / X.nbytes)
    stack.predict_proba(X[:5])
    assert traced_peak(lambda: stack.predict_proba(X)) < 1.5 * X.nbytes


def test_a_stack_passing_some_columns_through_hands_on_a_row_major_array():
    # Columns taken by fancy indexing are column-major; np.hstack beside a level's
    # output kept that, and the final step's own check copied it again.
    y = (Y > 0).astype(int)
    _LayoutSeen.row_major.clear()
    stack = SerialStack([("lr", LogisticRegression(max_iter=50)),
                         ("final", _LayoutSeen(max_iter=50))], passthrough=[5, 0, 2],
                        random_state=0).fit(X[:500], y[:500])
    stack.predict_proba(X[:500])
    assert _LayoutSeen.row_major == [True, True]


def test_a_mixture_s_gate_takes_a_float64_sparse_x_as_it_is():
    # The gate's input was X.astype(np.float64), a copy of a float64 CSR matrix, kept
    # beside X through the fit and made again at every predict.
    S = X.copy()
    S[np.abs(S) < 1] = 0
    S = sp.csr_matrix(S)
    mixture = MixtureOfExpertsRegressor(Ridge(), n_experts=3, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # EM stopped at max_iter
        mixture.fit(S, Y)
    assert mixture._gate_input(S, fitted=False) is S
    size = S.data.nbytes + S.indices.nbytes + S.indptr.nbytes
    mixture.predict(S)  # (compiles the parallel kernels, 20,000 rows, outside the trace)
    # The gate scales one copy of S (and each expert outputs n values): 1.7x, not 2.7x.
    assert traced_peak(lambda: mixture.predict(S)) < 2.2 * size


def test_the_k_means_start_clusters_x_itself_when_every_row_weighs_something():
    # Z[weight > 0] copied the standardised rows at the start even when every row
    # weighs > 0, at the fit's peak: 5.1x X, now 4.1x.
    mixture = MixtureOfExpertsRegressor(Ridge(), n_experts=3, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # EM stopped at max_iter
        clone(mixture).fit(X, Y)  # (compiles the kernels, outside the trace)
        peak = traced_peak(lambda: mixture.fit(X, Y))
    assert peak < 4.6 * X.nbytes, peak / X.nbytes
