"""Pinned outputs: every composite predicts bit for bit what it predicted when pinned.

What it is for: the safety net of a refactor that must not change any output (the
member plan, the fit loop, the kernels). Every composite of the shared registry
(``tests/composites.py``) but the neural ones is fitted on small seeded data, and every
prediction method it has (``predict``, ``predict_proba``, ``predict_log_proba``,
``decision_function``, ``transform``, ``predict_route``, ``predict_gate``,
``predict(return_std=True)``), with the fitted attributes that define its behaviour
(``weights_``, ``exit_thresholds_``, ``exit_rates_``, ...), must equal what
``tests/data/pinned_outputs.npz`` holds, with ``assert_array_equal``: no tolerance. The
data include a DataFrame and rows where a whole view (a modality) is missing.

The file was first made from commit 654467c (its history: ``tests/data/make_pinned.py``).
When a change is MEANT to change outputs, regenerate it with ``python
tests/data/make_pinned.py`` in that commit and say why in its message; a composite added to the registry fails here until then. The neural
composites are left out: torch's results vary with the CPU.

Bit-identical results also depend on NumPy, SciPy, scikit-learn and the BLAS (its
threads too: outputs are recorded with one thread per native pool), and on the CPU:
NumPy's SIMD code and the BLAS kernels are chosen for it, and AVX2 and AVX-512 round
differently. The file records the versions, NumPy's SIMD level and the BLAS kernels it
was made with, and the test skips, saying so, when they differ from the running ones
(then the pins say nothing about skfuse; regenerate them from the pinned commit there).
A CPU with AVX-512 reproduces the recorded AVX2 ones when told to use the same code
paths (``NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"``,
``OPENBLAS_CORETYPE=Haswell``; see ``tests/data/make_pinned.py``): there, where the
pins skip in this process, one more test checks them in a new process run so.
"""

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy
import sklearn
from sklearn.datasets import make_classification, make_regression
from threadpoolctl import threadpool_limits

from composites import REGISTRY, make, names

PINNED = Path(__file__).parent / "data" / "pinned_outputs.npz"
# The recorded CPU (AVX2 code, OpenBLAS's Haswell kernels), and how a CPU with AVX-512
# runs as it did: NumPy and OpenBLAS read these when they load, so in a new process.
RECORDED_CPU = ["numpy simd X86_V3", "blas openblas Haswell"]
AS_RECORDED_CPU = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
                   "OPENBLAS_CORETYPE": "Haswell"}

METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function",
           "transform", "predict_route", "predict_gate")
# Fitted attributes that decide (or report) what a composite does. Timings
# (member_costs_) are left out.
ATTRIBUTES = ("classes_", "weights_", "oof_score_", "member_scores_", "selection_path_",
              "selection_scores_", "exit_thresholds_", "exit_rates_", "cascade_fit_",
              "n_iter_", "converged_", "lower_bound_", "expert_usage_", "noise_variance_")

N_TRAIN, N_TEST = 160, 40


def _views_missing(X, seed):
    """Copy of X with each view (columns 0-1, 2-3, 4-5) missing on about a quarter of
    the rows; every training row keeps one view, two test rows keep none."""
    X = X.copy()
    present = np.random.RandomState(seed).uniform(size=(len(X), 3)) > 0.25
    present[~present.any(axis=1), 0] = True
    present[[N_TRAIN, N_TRAIN + 1]] = False
    for view in range(3):
        X[~present[:, view], 2 * view : 2 * view + 2] = np.nan
    return X


def data(name):
    """``(X_train, y_train, X_test)`` for a registry entry: 160 rows to fit, 40 new ones."""
    entry = REGISTRY[name]
    if entry.kind == "classifier":
        X, y = make_classification(n_samples=N_TRAIN + N_TEST, n_features=6,
                                   n_informative=4, n_classes=3, random_state=0)
    else:
        X, y = make_regression(n_samples=N_TRAIN + N_TEST, n_features=6, noise=5.0,
                               random_state=0)
    if entry.data in ("views", "frame"):
        X = _views_missing(X, seed=1)
    if entry.data == "frame":
        pd = pytest.importorskip("pandas")
        X = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
        return X.iloc[:N_TRAIN], y[:N_TRAIN], X.iloc[N_TRAIN:]
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:]


def record(name):
    """Fit the composite ``name`` and return its outputs, as arrays keyed by name.

    Native thread pools (BLAS, OpenMP) run one thread each, here and when pinning: a
    sum split over more threads can change the last bits.
    """
    with threadpool_limits(limits=1):
        return _record(name)


def _record(name):
    X_train, y_train, X_test = data(name)
    est = make(name).fit(X_train, y_train)
    out = {}
    for method in METHODS:
        if hasattr(est, method):  # available_if hides what a configuration lacks
            out[method] = getattr(est, method)(X_test)
    if "return_std" in inspect.signature(est.predict).parameters:
        out["predict_mean"], out["predict_std"] = est.predict(X_test, return_std=True)
    for attribute in ATTRIBUTES:
        if hasattr(est, attribute):
            value = getattr(est, attribute)
            if isinstance(value, dict):
                out[f"{attribute}keys"] = np.array(list(value))
                value = list(value.values())
            out[attribute] = np.asarray(value)
    return out


def environment():
    """What decides the last bits, as the file records them: the library versions, the
    SIMD code NumPy runs (``exp`` on float64: AVX2 and AVX-512 round differently) and
    the kernels each BLAS picked for this CPU."""
    from threadpoolctl import threadpool_info

    try:
        from numpy.lib.introspect import opt_func_info

        simd = opt_func_info(func_name="exp", signature="float64")["exp"]["dd"]["current"]
    except (ImportError, KeyError):  # NumPy before 2.0
        simd = "unknown"
    blas = sorted({f"{pool['internal_api']} {pool.get('architecture')}"
                   for pool in threadpool_info() if pool["user_api"] == "blas"})
    return np.array([f"numpy {np.__version__}", f"scipy {scipy.__version__}",
                     f"scikit-learn {sklearn.__version__}", f"numpy simd {simd}",
                     *(f"blas {kernels}" for kernels in blas)])


def pinned_names():
    return names(neural=False)


@pytest.fixture(scope="module")
def pinned():
    with np.load(PINNED, allow_pickle=False) as stored:
        return {key: stored[key] for key in stored.files}


def test_every_composite_is_pinned(pinned):
    stored = {key.split("/")[0] for key in pinned if "/" in key}
    assert stored == set(pinned_names())


@pytest.mark.parametrize("name", pinned_names())
def test_outputs_are_bit_identical(pinned, name):
    if list(environment()) != list(pinned["_environment"]):
        # The last bits then move with NumPy, SciPy or scikit-learn, not with skfuse.
        pytest.skip(f"pinned with {list(pinned['_environment'])}, running "
                    f"{list(environment())}: regenerate the pins (make_pinned.py) from "
                    "the pinned commit with these versions")
    got = record(name)
    want = {key.split("/", 1)[1]: value for key, value in pinned.items()
            if key.startswith(f"{name}/")}
    assert sorted(got) == sorted(want), f"{name}: other outputs than pinned"
    for key, value in want.items():
        assert (got[key].dtype, got[key].shape) == (value.dtype, value.shape), (
            f"{name}: {key}")
        np.testing.assert_array_equal(got[key], value, err_msg=f"{name}: {key}")


def test_a_cpu_with_avx512_checks_the_pins_as_the_recorded_cpu(pinned):
    here, there = list(environment()), list(pinned["_environment"])
    if here == there:
        pytest.skip("this process checks the pins itself")
    avx512_openblas = (here[3] == "numpy simd X86_V4"
                       and all(entry.startswith("blas openblas ") for entry in here[4:]))
    if (here[:3] != there[:3] or there[3:] != RECORDED_CPU or not avx512_openblas
            or "NPY_DISABLE_CPU_FEATURES" in os.environ):
        pytest.skip(f"pinned with {there}, running {here}: no way to run as the "
                    "recorded CPU here")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
         "-k", "test_outputs_are_bit_identical"],
        env={**os.environ, **AS_RECORDED_CPU}, cwd=Path(__file__).parents[1], check=False,
        capture_output=True, text=True, timeout=600)
    output = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, output
    summary = result.stdout.strip().splitlines()[-1]
    assert re.match(rf"{len(pinned_names())} passed(, \d+ deselected)? in ", summary), output
