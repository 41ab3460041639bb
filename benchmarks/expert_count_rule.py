"""How many standard errors should ``n_experts="auto"`` ask of more experts?

The mixture keeps the fewest experts whose held-out loss the best count does not beat by
more than ``tol`` and ``z`` standard errors of the paired row differences. This script
fits each default mixture once, records the held-out losses of the counts it tried, and
reads off the count each ``z`` of ``--z`` would keep; where that count differs from the
default's, it fits the mixture again under that ``z``. Three parts (``--part``):

- ``synthetic``: ``MixtureOfExpertsRegressor(random_state=seed)`` (ridge experts) on 108
  linear targets (rows 100 to 3,000, 1 to 20 features, noise 0.01 to 2, three seeds),
  where one expert is right, and on 140 piecewise ones (2 to 4 regimes along the first
  feature: linear, steps, linear beside a sine, an oblique boundary; 300 to 3,000 rows),
  where more than one is: how often each ``z`` keeps more than one, and one.
- ``regression``: the real sets of ``_datasets.regression_sets()`` as in
  ``bench_moe.py``'s real-data tables (5 shuffled folds, X standardised per fold), ridge
  and gradient boosting experts: mean RMSE over the folds over the expert alone's.
- ``classification``: the classification sets (at most 2,000 rows, 70/30 stratified
  splits with seeds 0 and 1), ``MixtureOfExpertsClassifier(random_state=seed)``
  against its expert alone (standardised logistic regression): held-out log-loss.

Run from the repository root (``--aside`` for the sets kept aside)::

    python benchmarks/expert_count_rule.py --part synthetic
    python benchmarks/expert_count_rule.py --part regression --expert ridge
"""
import argparse
import itertools
import warnings

import numpy as np
from _datasets import classification_sets, regression_sets
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss, root_mean_squared_error
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skfuse._mixture as mixture_module
from skfuse import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor

RULE = mixture_module._fewest_experts
STATE = {"z": None, "runs": None}


def recording_rule(runs, tol, weight, z=None):
    """The mixture's rule, at ``STATE["z"]`` (None: its default), recording its input."""
    STATE["runs"] = (runs, tol, weight)
    return RULE(runs, tol, weight) if STATE["z"] is None else RULE(runs, tol, weight,
                                                                   STATE["z"])


def counts_and_scores(make, fit, score, zs):
    """``{z: (count, score)}``: one default fit, then one more per ``z`` whose count
    differs from the default's."""
    STATE["z"], STATE["runs"] = None, None
    model = fit(make())
    default = model.n_experts_, score(model)
    recorded, out = STATE["runs"], {}
    for z in zs:
        count = default[0] if recorded is None else len(RULE(*recorded, z)["experts"])
        if count == default[0]:
            out[z] = default
            continue
        STATE["z"] = z
        model = fit(make())
        STATE["z"] = None
        out[z] = model.n_experts_, score(model)
    return out


def linear(n, d, noise, seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    return X, X @ rng.normal(size=d) + rng.normal(0, noise, n)


def piecewise(n, d, regimes, shape, noise, seed):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, (n, d))
    regime = np.digitize(X[:, 0], np.linspace(-3, 3, regimes + 1)[1:-1])
    W, b = rng.normal(0, 2, (regimes, d)), rng.normal(0, 3, regimes)
    if shape == "linear":
        y = (X * W[regime]).sum(1) + b[regime]
    elif shape == "steps":
        y = 3 * b[regime]
    elif shape == "sine":
        y = np.where(regime % 2 == 0, (X * W[regime]).sum(1),
                     3 * np.sin(2 * X[:, -1]) + b[regime])
    else:  # "oblique": two regimes on either side of x0 + x1 = 0
        side = X[:, 0] + X[:, 1] if d > 1 else X[:, 0]
        y = np.where(side > 0, 3 * X[:, -1], 1 - 2 * X[:, -1])
    return X, y + rng.normal(0, noise, n)


def synthetic(zs):
    cases = [("linear", args, linear(*args)) for args in itertools.product(
        [100, 300, 1000, 3000], [1, 5, 20], [0.01, 0.3, 2.0], [0, 1, 2])]
    for n, d, regimes, shape, noise in itertools.product(
            [300, 1000, 3000], [1, 3, 8], [2, 3, 4], ["linear", "steps", "sine", "oblique"],
            [0.1, 0.5]):
        if (shape == "oblique" and regimes > 2) or (n == 3000 and (d == 8 or noise == 0.5)):
            continue
        args = (n, d, regimes, shape, noise, 0)
        cases.append(("piecewise", args, piecewise(*args)))
    wrong = {(kind, z): [] for kind in ("linear", "piecewise") for z in zs}
    for kind, args, (X, y) in cases:
        found = counts_and_scores(
            lambda: MixtureOfExpertsRegressor(random_state=args[-1]),
            lambda model: model.fit(X, y), lambda model: None, zs)
        for z, (count, _) in found.items():
            if (count > 1) == (kind == "linear"):
                wrong[kind, z].append(args)
    totals = {kind: sum(case[0] == kind for case in cases) for kind in ("linear", "piecewise")}
    print("| z | linear targets: more than one expert kept | piecewise: one kept |")
    print("|---|---|---|")
    for z in zs:
        print(f"| {z:g} | {len(wrong['linear', z])} of {totals['linear']} | "
              f"{len(wrong['piecewise', z])} of {totals['piecewise']} |")
    for (kind, z), args in wrong.items():
        print(f"z={z:g}, {kind}, wrong on: {args}")


def ratio_rows(per_set, zs, what):
    print("| data | " + " | ".join(f"z={z:g}: {what} / alone (counts)" for z in zs) + " |")
    print("|---|" + "---|" * len(zs))
    for name, (alone, found) in per_set.items():
        print(f"| {name} | " + " | ".join(
            f"{np.mean([s for _, s in found[z]]) / alone:.4f} "
            f"({', '.join(str(c) for c, _ in found[z])})" for z in zs) + " |")
    for z in zs:
        ratios = np.array([np.mean([s for _, s in found[z]]) / alone
                           for alone, found in per_set.values()])
        print(f"z={z:g}: better than the expert alone on {np.sum(ratios < 1 - 1e-12)} of "
              f"{len(ratios)}, worse on {np.sum(ratios > 1 + 1e-12)}; geometric mean "
              f"{np.exp(np.log(ratios).mean()):.4f}, worst {ratios.max():.4f}")


def regression(zs, expert, aside):
    expert = {"ridge": Ridge(), "hgb": HistGradientBoostingRegressor(random_state=0)}[expert]
    per_set = {}
    for data in regression_sets(group="aside" if aside else "tuning"):
        alone, found = [], {z: [] for z in zs}
        for train, test in KFold(5, shuffle=True, random_state=0).split(data.X, data.y):
            scaler = StandardScaler().fit(data.X[train])
            X_train, X_test = scaler.transform(data.X[train]), scaler.transform(data.X[test])
            y_train, y_test = data.y[train], data.y[test]
            alone.append(root_mean_squared_error(
                y_test, clone(expert).fit(X_train, y_train).predict(X_test)))
            for z, result in counts_and_scores(
                    lambda: MixtureOfExpertsRegressor(expert, random_state=0),
                    lambda model: model.fit(X_train, y_train),
                    lambda model: root_mean_squared_error(y_test, model.predict(X_test)),
                    zs).items():
                found[z].append(result)
        per_set[data.name] = np.mean(alone), found
        print(f"{data.name} done", flush=True)
    ratio_rows(per_set, zs, "RMSE")


def classification(zs, aside):
    per_set = {}
    for data in classification_sets(max_rows=2000, group="aside" if aside else "tuning"):
        alone, found = [], {z: [] for z in zs}
        for seed in (0, 1):
            X_train, X_test, y_train, y_test = train_test_split(
                data.X, data.y, test_size=0.3, stratify=data.y, random_state=seed)
            lone = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
            lone.fit(X_train, y_train)
            alone.append(log_loss(y_test, lone.predict_proba(X_test), labels=lone.classes_))
            for z, result in counts_and_scores(
                    lambda: MixtureOfExpertsClassifier(random_state=seed),
                    lambda model: model.fit(X_train, y_train),
                    lambda model: log_loss(y_test, model.predict_proba(X_test),
                                           labels=model.classes_), zs).items():
                found[z].append(result)
        per_set[data.name] = np.mean(alone), found
        print(f"{data.name} done", flush=True)
    ratio_rows(per_set, zs, "log-loss")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["synthetic", "regression", "classification"],
                        required=True)
    parser.add_argument("--expert", choices=["ridge", "hgb"], default="ridge",
                        help="the regression part's expert")
    parser.add_argument("--z", default="1,1.5,2", help="the rules compared")
    parser.add_argument("--aside", action="store_true", help="the sets kept aside")
    args = parser.parse_args()
    zs = [float(z) for z in args.z.split(",")]
    warnings.simplefilter("ignore")
    mixture_module._fewest_experts = recording_rule
    if args.part == "synthetic":
        synthetic(zs)
    elif args.part == "regression":
        regression(zs, args.expert, args.aside)
    else:
        classification(zs, args.aside)


if __name__ == "__main__":
    main()
