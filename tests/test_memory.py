"""What a fit or a predict holds beside X: no copy of X that the work does not need.

Peaks are traced allocations (``tracemalloc``), which do not depend on the machine's
load; X itself is allocated before tracing starts.
"""

import gc
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeRegressor

from skfuse import (
    DistilledRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
)
from skfuse._mixture import _Rows
from skfuse._views import take_rows

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
