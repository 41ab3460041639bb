"""Predict time of a one-expert mixture (what ``n_experts="auto"`` picks on diabetes)
over its expert's own, for Ridge and gradient boosting experts: diabetes tiled to
5,304 rows, native threads limited to one, medians of 15 calls, the median ratio over 7
rounds that time both in turn.

Run from the repository root (with ``PYTHONPATH`` at another checkout to time it)::

    python benchmarks/one_expert_mixture.py
"""
import argparse
import time

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

from skfuse import MixtureOfExpertsRegressor


def median_seconds(predict, X, calls=15):
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        predict(X)
        times.append(time.perf_counter() - began)
    return np.median(times)


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    X, y = load_diabetes(return_X_y=True)
    X_big = np.tile(X, (12, 1))
    with threadpool_limits(1):
        for expert in (Ridge(), HistGradientBoostingRegressor(random_state=0)):
            mixture = MixtureOfExpertsRegressor(expert, random_state=0).fit(X, y)
            alone = mixture.experts_[0]
            ratios = [median_seconds(mixture.predict, X_big)
                      / median_seconds(alone.predict, X_big) for _ in range(7)]
            print(f"{type(expert).__name__}: n_experts_={mixture.n_experts_}, "
                  f"mixture / its expert {np.median(ratios):.2f}")


if __name__ == "__main__":
    main()
