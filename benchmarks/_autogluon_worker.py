"""One AutoGluon fit for ``bench_autogluon.py``, run in AutoGluon's own environment.

Usage: ``python _autogluon_worker.py SPLIT.npz RESULT.json``. ``SPLIT.npz`` holds
``X_train``, ``y_train``, ``X_test``, ``classes``, ``time_limit`` and ``num_cpus``; ``RESULT.json`` receives the held-out probabilities (columns in the order of
``classes``), the wall-clock seconds of ``fit`` and of ``predict_proba``, and the
models AutoGluon trained. Needs only numpy, pandas and ``autogluon.tabular``; it imports
nothing from skfuse or the benchmarks.
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


def main(split_path, result_path):
    split = np.load(split_path)
    classes = split["classes"]
    train = frame(split["X_train"])
    train[LABEL] = split["y_train"]
    test = frame(split["X_test"])
    with tempfile.TemporaryDirectory() as path:
        predictor = TabularPredictor(
            label=LABEL, eval_metric="log_loss", path=path,
            problem_type="binary" if len(classes) == 2 else "multiclass", verbosity=0)
        began = time.perf_counter()
        predictor.fit(train, presets="best_quality", time_limit=float(split["time_limit"]),
                      num_cpus=int(split["num_cpus"]), num_gpus=0, verbosity=0)
        fit_seconds = time.perf_counter() - began
        began = time.perf_counter()
        proba = predictor.predict_proba(test, as_multiclass=True)
        predict_seconds = time.perf_counter() - began
        models = predictor.model_names()
        best = predictor.model_best
    proba = proba[list(classes)].to_numpy(dtype=float)
    with open(result_path, "w") as out:
        json.dump({"proba": proba.tolist(), "fit_seconds": fit_seconds,
                   "predict_seconds": predict_seconds, "models": models, "best": best},
                  out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
