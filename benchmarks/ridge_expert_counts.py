"""Can a mixture of ridge experts beat one ridge on the regression sets at all?

For each set of ``_datasets.regression_sets()`` (the 5 shuffled folds of
``bench_moe.py``'s real-data tables, X standardised on each training fold), the mean
RMSE over the folds, as a ratio to one ``Ridge()``'s, of: the default mixture
(``n_experts="auto"``), mixtures with 2 and with 4 experts fixed, and the default with
a stricter choice of the count (the fewest experts whose held-out loss the best count
does not beat by more than ``--z`` standard errors; the default rule takes one), set
on ``skfuse._mixture``'s rule for that column only.

Run from the repository root::

    python benchmarks/ridge_expert_counts.py --z 2
"""
import argparse
import warnings
from functools import partial

import numpy as np
from _datasets import regression_sets
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

import skfuse._mixture as mixture_module
from skfuse import MixtureOfExpertsRegressor


def fold_rmse(data, make):
    """RMSE on each of the 5 folds, and the mixtures' chosen counts."""
    rmse, counts = [], []
    for train, test in KFold(5, shuffle=True, random_state=0).split(data.X, data.y):
        scaler = StandardScaler().fit(data.X[train])
        X_train, X_test = scaler.transform(data.X[train]), scaler.transform(data.X[test])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = clone(make()).fit(X_train, data.y[train])
        rmse.append(root_mean_squared_error(data.y[test], model.predict(X_test)))
        counts.append(getattr(model, "n_experts_", 1))
    return np.mean(rmse), counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--z", type=float, default=2.0,
                        help="standard errors of the stricter count rule (default 2)")
    args = parser.parse_args(argv)
    default_rule = mixture_module._fewest_experts
    columns = ["default", "2 experts", "4 experts", f"default, {args.z:g} SE rule"]
    print("| data | " + " | ".join(f"{c} / ridge" for c in columns)
          + f" | counts, default | counts, {args.z:g} SE rule |")
    print("|---|" + "---|" * (len(columns) + 2))
    better = dict.fromkeys(columns, 0)
    for data in regression_sets():
        ridge, _ = fold_rmse(data, Ridge)
        ratios, counts = {}, {}
        for column, make in zip(columns[:3], [
                lambda: MixtureOfExpertsRegressor(Ridge(), random_state=0),
                lambda: MixtureOfExpertsRegressor(Ridge(), n_experts=2, random_state=0),
                lambda: MixtureOfExpertsRegressor(Ridge(), n_experts=4, random_state=0)]):
            score, counts[column] = fold_rmse(data, make)
            ratios[column] = score / ridge
        mixture_module._fewest_experts = partial(default_rule, z=args.z)
        try:
            score, counts[columns[3]] = fold_rmse(
                data, lambda: MixtureOfExpertsRegressor(Ridge(), random_state=0))
        finally:
            mixture_module._fewest_experts = default_rule
        ratios[columns[3]] = score / ridge
        for column in columns:
            better[column] += ratios[column] < 1
        print(f"| {data.name} | " + " | ".join(f"{ratios[c]:.3f}" for c in columns)
              + f" | {', '.join(map(str, counts['default']))} | "
              f"{', '.join(map(str, counts[columns[3]]))} |", flush=True)
    print("\nBetter than one ridge: " + "; ".join(f"{c} {n} of 13" for c, n in better.items()))


if __name__ == "__main__":
    main()
