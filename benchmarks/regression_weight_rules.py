"""Other rules for a regression fusion's weights, on the member fits that
``bench_quality.py`` records (the same splits, folds and members; its ``--cache`` folder
makes this quick), each scored as that benchmark scores ``weights="optimize"``: held-out
RMSE per set (mean over 10 splits) over the best simple alternative's, the better of
the best out-of-fold member and equal weights.

Rules, all from the members' out-of-fold predictions on the training part, applied to
their fits on the whole training part:

- ``optimize``: skfuse's (least squares on the simplex);
- ``shrunk to best``: ``lam * optimize + (1 - lam) * best member``, ``lam`` =
  gain / (gain + its standard error), 0 without a gain (a soft form of ``guard=True``);
- ``fold mean``: the mean of the weights learned with each fold's rows left out;
- ``bootstrap mean``: the mean of the weights learned on 20 bootstrap draws of the rows;
- ``nnls``: non-negative least squares without the sum-to-one constraint (Breiman's
  stacked regressions, 1996); ``nnls + intercept`` with a free intercept;
- ``optimize + affine``: ``optimize``'s fused output, then a scale and an intercept
  fitted to y on it by least squares.

Run from the repository root::

    python benchmarks/regression_weight_rules.py --cache /work/qcache [--aside]
"""

import argparse
import warnings

import joblib
import numpy as np
from _datasets import regression_sets
from bench_quality import N_FOLDS, TEST_SIZE, _rows_key, members, record_member
from scipy.optimize import nnls
from sklearn.model_selection import KFold, train_test_split

from skfuse._weights import optimize_weights, regressor_objective

SPLITS = 10
TREES = 150


def recorded(record, data, seed):
    """Out-of-fold and held-out outputs of each member, ``(M, n)``, and the targets."""
    train, test = train_test_split(np.arange(len(data.y)), test_size=TEST_SIZE,
                                   random_state=seed)
    X = np.vstack([data.X[train], data.X[test]])
    y = np.r_[data.y[train], data.y[test]]
    n = len(train)
    folds = list(KFold(N_FOLDS, shuffle=True, random_state=seed).split(X[:n], y[:n]))
    oof, held_out = [], []
    for estimator in members("regressor", seed, TREES).values():
        fits = record(estimator, X, y, folds, n, "regressor")
        held_out.append(fits[_rows_key(np.arange(n))][n:])
        out = np.full(n, np.nan)
        for fold_train, fold_test in folds:
            out[fold_test] = fits[_rows_key(fold_train)][fold_test]
        oof.append(out)
    return np.array(oof), y[:n], np.array(held_out), y[n:], folds


def optimized(P, y):
    loss, grad = regressor_objective(P, y)
    return optimize_weights(loss, grad, len(P))


def rules(P, y, folds):
    """``{rule: predict}``, ``predict(T)`` giving the rule's output from the members'
    held-out outputs ``T`` (M, n); the simple alternatives included."""
    n_members, rows = len(P), np.arange(len(y))
    weights = optimized(P, y)
    best = np.eye(n_members)[int(np.argmin(((P - y) ** 2).mean(axis=1)))]
    gains = (best @ P - y) ** 2 - (weights @ P - y) ** 2
    gain, error = gains.mean(), gains.std(ddof=1) / np.sqrt(len(y))
    share = gain / (gain + error) if gain > 0 else 0.0
    rng = np.random.RandomState(0)
    draws = [rng.randint(0, len(y), len(y)) for _ in range(20)]
    linear = {
        "best member": best,
        "equal": np.full(n_members, 1.0 / n_members),
        "optimize": weights,
        "shrunk to best": share * weights + (1 - share) * best,
        "fold mean": np.mean([optimized(P[:, np.setdiff1d(rows, test)],
                                        y[np.setdiff1d(rows, test)])
                              for _, test in folds], axis=0),
        "bootstrap mean": np.mean([optimized(P[:, d], y[d]) for d in draws], axis=0),
        "nnls": nnls(P.T, y)[0],
    }
    centred = P - P.mean(axis=1, keepdims=True)
    free = nnls(centred.T, y - y.mean())[0]
    scale, shift = np.polyfit(weights @ P, y, 1)
    return {
        **{rule: (lambda T, w=w: w @ T) for rule, w in linear.items()},
        "nnls + intercept": lambda T: free @ T + (y.mean() - free @ P.mean(axis=1)),
        "optimize + affine": lambda T: scale * (weights @ T) + shift,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default=None, help="bench_quality.py's --cache folder")
    parser.add_argument("--aside", action="store_true", help="the sets kept aside only")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    record = joblib.Memory(args.cache, verbose=0).cache(record_member)
    ratios = {}
    for data in regression_sets(max_rows=2500, group="aside" if args.aside else "tuning"):
        rmse = {}
        for seed in range(SPLITS):
            P, y, T, y_test, folds = recorded(record, data, seed)
            for rule, predict in rules(P, y, folds).items():
                error = np.sqrt(np.mean((predict(T) - y_test) ** 2))
                rmse.setdefault(rule, []).append(error)
        mean = {rule: np.mean(values) for rule, values in rmse.items()}
        simple = min(mean["best member"], mean["equal"])
        ratios[data.name] = {rule: value / simple for rule, value in mean.items()
                             if rule not in ("best member", "equal")}
        print(f"{data.name}: " + ", ".join(f"{rule} {r:.4f}"
                                           for rule, r in ratios[data.name].items()),
              flush=True)
    print("\n| rule | sets no worse than the best simple alternative | geometric mean "
          "of RMSE / its | worst ratio |\n|---|---|---|---|")
    for rule in next(iter(ratios.values())):
        values = np.array([per_set[rule] for per_set in ratios.values()])
        print(f"| {rule} | {int((values <= 1).sum())} of {len(values)} | "
              f"{np.exp(np.log(values).mean()):.4f} | {values.max():.4f} |")


if __name__ == "__main__":
    main()
