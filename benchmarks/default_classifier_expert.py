"""The classifier mixture's default expert: standardised logistic regression (the
default since 2026-12-06) against the raw one it replaced (``LogisticRegression(
max_iter=1000)`` on unscaled columns), both with every other parameter at its default.

Each real classification set (``_datasets.classification_sets``, at most 2,000 rows;
``--aside`` for the sets kept aside) is split 70/30 (stratified) with seeds 0 and 1.
Reported per set: held-out log-loss and accuracy (means over the splits), the median
fit time, and the ConvergenceWarnings raised; then the geometric mean of the log-loss
ratio (new / old), the sets where the new default is at least as good, and the median
fit-time ratio.

Run from the repository root::

    OMP_NUM_THREADS=1 python benchmarks/default_classifier_expert.py [--aside]
"""
import argparse
import time
import warnings

import numpy as np
from _datasets import classification_sets
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

from skfuse import MixtureOfExpertsClassifier

SEEDS = (0, 1)


def scores(data, expert):
    """Mean log-loss and accuracy, median fit seconds and the ConvergenceWarnings."""
    losses, accuracies, seconds, convergence = [], [], [], 0
    for seed in SEEDS:
        X_train, X_test, y_train, y_test = train_test_split(
            data.X, data.y, test_size=0.3, stratify=data.y, random_state=seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            began = time.perf_counter()
            model = MixtureOfExpertsClassifier(expert, random_state=seed).fit(X_train, y_train)
            seconds.append(time.perf_counter() - began)
        convergence += sum(issubclass(w.category, ConvergenceWarning)
                           and "lbfgs" in str(w.message) for w in caught)
        losses.append(log_loss(y_test, model.predict_proba(X_test), labels=model.classes_))
        accuracies.append(accuracy_score(y_test, model.predict(X_test)))
    return np.mean(losses), np.mean(accuracies), np.median(seconds), convergence


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aside", action="store_true", help="the sets kept aside")
    args = parser.parse_args()
    print("| data set | log-loss, raw | standardised | accuracy, raw | standardised "
          "| fit s, raw | standardised | lbfgs warnings, raw | standardised |")
    print("|---|---|---|---|---|---|---|---|---|")
    loss_ratios, time_ratios = [], []
    for data in classification_sets(max_rows=2000, group="aside" if args.aside else "tuning"):
        old = scores(data, LogisticRegression(max_iter=1000))
        new = scores(data, None)
        loss_ratios.append(new[0] / old[0])
        time_ratios.append(new[2] / old[2])
        print(f"| {data.name} | {old[0]:.4f} | {new[0]:.4f} | {old[1]:.3f} | {new[1]:.3f} "
              f"| {old[2]:.2f} | {new[2]:.2f} | {old[3]} | {new[3]} |", flush=True)
    print(f"\nlog-loss, standardised / raw: geometric mean "
          f"{np.exp(np.mean(np.log(loss_ratios))):.3f}, at least as good on "
          f"{sum(r <= 1 for r in loss_ratios)} of {len(loss_ratios)} sets, worst "
          f"{max(loss_ratios):.3f}; fit time, median ratio {np.median(time_ratios):.2f}")


if __name__ == "__main__":
    main()
