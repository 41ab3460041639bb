"""One AutoGluon fit for ``bench_autogluon.py``, run in AutoGluon's own environment.

Usage: ``python _autogluon_worker.py SPLIT.npz RESULT.json``. ``SPLIT.npz`` holds
``X_train``, ``y_train``, ``X_test``, ``classes``, ``time_limit`` and ``num_cpus``;
``RESULT.json`` receives the held-out probabilities (columns in the order of
``classes``), the wall-clock seconds of ``fit`` and of ``predict_proba``, and the models
AutoGluon trained. Should the ``best_quality`` fit fail (its dynamic-stacking check can
fit no model in its share of a short limit, and AutoGluon then stops with "Learner is
already fit"), it is fitted again with ``dynamic_stacking=False``, and the failure
(message and seconds) is recorded under ``failed``. Needs only numpy, pandas and
``autogluon.tabular``; it imports nothing from skfuse or the benchmarks.
"""

import json
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from autogluon.tabular import TabularPredictor

LABEL = "target"


def frame(X):
    return pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])


def fit(train, test, classes, time_limit, num_cpus, **options):
    """Fit and predict in a fresh predictor; return the probabilities and the record."""
    with tempfile.TemporaryDirectory() as path:
        predictor = TabularPredictor(
            label=LABEL, eval_metric="log_loss", path=path,
            problem_type="binary" if len(classes) == 2 else "multiclass", verbosity=0)
        began = time.perf_counter()
        predictor.fit(train, presets="best_quality", time_limit=time_limit,
                      num_cpus=num_cpus, num_gpus=0, verbosity=0, **options)
        fit_seconds = time.perf_counter() - began
        began = time.perf_counter()
        proba = predictor.predict_proba(test, as_multiclass=True)
        record = {"fit_seconds": fit_seconds,
                  "predict_seconds": time.perf_counter() - began,
                  "models": predictor.model_names(), "best": predictor.model_best}
    return proba[list(classes)].to_numpy(dtype=float), record


def main(split_path, result_path):
    split = np.load(split_path)
    classes = split["classes"]
    train = frame(split["X_train"])
    train[LABEL] = split["y_train"]
    test = frame(split["X_test"])
    args = (train, test, classes, float(split["time_limit"]), int(split["num_cpus"]))
    began = time.perf_counter()
    try:
        proba, record = fit(*args)
        record["failed"] = None
    except Exception as error:  # noqa: BLE001 - any failure of the preset's fit
        # best_quality's dynamic-stacking check can fit no model in its share of a short
        # limit, and AutoGluon then fails; fit again without that check.
        failed = {"error": f"{type(error).__name__}: {error}"[:300],
                  "seconds": time.perf_counter() - began}
        proba, record = fit(*args, dynamic_stacking=False)
        record["failed"] = failed
    record["proba"] = proba.tolist()
    with open(result_path, "w") as out:
        json.dump(record, out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
