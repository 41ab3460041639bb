"""The registry of small seeded composites that the tests share, and counting and
misbehaving members.

Every composite the cross-cutting tests run over is defined here once, under a stable
name: scikit-learn's estimator checks (``test_common.py``), the bad-input table
(``test_bad_input.py``), the persistence round trips (``test_persistence.py``), the
scale-out tests (``test_scale.py``) and the pinned outputs (``test_pinned.py``). Each
test module picks its composites by name or by :func:`names`; :func:`make` builds a
fresh, unfitted instance.

Each entry says what data it needs:

- ``"array"``: any numeric ``X``;
- ``"views"``: six numeric columns, where a view (columns 0-1, 2-3 or 4-5) may be
  missing (all NaN) on some rows;
- ``"frame"``: a DataFrame with columns ``f0`` to ``f5``, views as for ``"views"``.

scikit-learn's checks run every entry that takes ``"array"`` data unless it is marked
``checked=False`` (a quicker variant of a composite that the checks already run).

This is a plain module, not a test module: pytest finds it through
``pythonpath = ["tests"]`` in ``pyproject.toml``.
"""

import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifier
from sklearn.model_selection import TimeSeriesSplit
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skfuse import (
    DistilledClassifier,
    DistilledRegressor,
    FusionClassifier,
    FusionRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SerialStack,
)

try:  # the neural mixtures and member nets need the optional torch extra
    import torch

    from skfuse.torch import (
        NetClassifier,
        NetRegressor,
        NeuralMixtureOfExpertsClassifier,
        NeuralMixtureOfExpertsRegressor,
    )
except ImportError:
    torch = NetClassifier = NetRegressor = None
    NeuralMixtureOfExpertsClassifier = NeuralMixtureOfExpertsRegressor = None

__all__ = [
    "REGISTRY",
    "CountingLR",
    "CountingNB",
    "CountingTree",
    "Entry",
    "is_classifier",
    "make",
    "member_nets",
    "names",
    "reset_counts",
]

CACHE_DIR = tempfile.mkdtemp(prefix="skfuse-checks-")

# Which columns each member of the "views"/"frame" composites sees.
VIEWS = {"lr": [0, 1], "nb": [2, 3], "tree": [4, 5]}
VIEW_NAMES = {member: [f"f{c}" for c in cols] for member, cols in VIEWS.items()}


@dataclass(frozen=True)
class Entry:
    """One composite: how to build it, what it is and what data it needs."""

    make: Callable
    kind: str  # "classifier" or "regressor"
    family: str  # "fusion", "stack", "cascade", "mixture", "neural" or "distill"
    data: str = "array"  # "array", "views" or "frame"; see the module docstring
    checked: bool = True  # run by scikit-learn's estimator checks (test_common.py)


def classifiers():
    return [
        ("lr", LogisticRegression(max_iter=200)),
        ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
        ("nb", GaussianNB()),
    ]


def regressors():
    return [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))]


def _registry():
    out = {}

    def add(name, make, kind, family, data="array", checked=True):
        assert name not in out, name
        out[name] = Entry(make, kind, family, data, checked)

    # Every voting mode with every kind of weights.
    for voting in ("soft", "geometric", "hard"):
        for label, weights in (("equal", None), ("fixed", [2.0, 1.0, 1.0]),
                               ("optimize", "optimize"), ("greedy", "greedy")):
            add(f"fusion-{voting}-{label}",
                lambda voting=voting, weights=weights: FusionClassifier(
                    classifiers(), voting=voting, weights=weights, cv=3,
                    selection_rounds=5, random_state=0),
                "classifier", "fusion")
    # A member cache must not change any behaviour the checks look at.
    add("fusion-cached", lambda: FusionClassifier(
        classifiers(), weights="optimize", cv=3, memory=CACHE_DIR, random_state=0),
        "classifier", "fusion")
    for label, weights in (("equal", None), ("fixed", [2.0, 1.0]), ("optimize", "optimize"),
                           ("greedy", "greedy")):
        add(f"fusion-regressor-{label}",
            lambda weights=weights: FusionRegressor(
                regressors(), weights=weights, cv=3, selection_rounds=5, random_state=0),
            "regressor", "fusion")
    # Several outputs (the checks give 2-D y to every regressor above whose members all
    # take it): one weight vector per output.
    add("fusion-regressor-per-output", lambda: FusionRegressor(
        regressors(), weights="optimize", output_weights="per_output", cv=3,
        random_state=0), "regressor", "fusion")
    add("stack-of-fusion", lambda: SerialStack(
        [("fusion", FusionClassifier(classifiers())), ("final", LogisticRegression())],
        cv=3, random_state=0), "classifier", "stack")
    add("stack-regressor-passthrough", lambda: SerialStack(
        [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3)), ("final", Ridge())],
        cv=3, passthrough=True, random_state=0), "regressor", "stack")
    # stack_method="auto" per member: RidgeClassifier passes decision values, the others
    # probabilities (the level votes hard, as its member without predict_proba needs).
    # (LinearSVC's iterative solver misses the sample-weight checks' 1e-9 by a hair.)
    add("stack-auto-ridge", lambda: SerialStack(
        [("fusion", FusionClassifier([("lr", LogisticRegression()),
                                      ("ridge", RidgeClassifier()), ("nb", GaussianNB())],
                                     voting="hard")),
         ("final", LogisticRegression())], cv=3, random_state=0), "classifier", "stack")
    # Forward-chaining folds: rows no fold tests are left out of the weights and the
    # next level (test_common.py lists the check that cannot hold). Regressors only:
    # several of scikit-learn's classifier checks order their rows by class, so a
    # forward-chaining first training fold holds a single class, which no member fits.
    add("fusion-regressor-timeseries", lambda: FusionRegressor(
        regressors(), weights="optimize", cv=TimeSeriesSplit(3), random_state=0),
        "regressor", "fusion")
    add("stack-timeseries", lambda: SerialStack(
        [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3)), ("final", Ridge())],
        cv=TimeSeriesSplit(3), passthrough=True, random_state=0), "regressor", "stack")
    add("cascade-auto", lambda: SerialStack(
        [("nb", GaussianNB()), ("lr", LogisticRegression(max_iter=200))],
        exit_threshold="auto", cv=3, random_state=0), "classifier", "cascade")
    add("cascade-three-all", lambda: SerialStack(
        [("nb", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=3)),
         ("lr", LogisticRegression(max_iter=200))],
        exit_threshold=0.9, cascade_fit="all", cv=3, random_state=0), "classifier", "cascade")
    # The classifier runs EM to tol=1e-7: the sample-weight equivalence checks compare
    # probabilities to 1e-7, and EM stopped at the default tol=1e-4 leaves the weighted
    # and the repeated fit about 1e-7 apart on their sparse data.
    for suffix, top_k in (("", None), ("-top1", 1)):
        add(f"mixture-regressor{suffix}", lambda top_k=top_k: MixtureOfExpertsRegressor(
            n_experts=3, top_k=top_k, random_state=0), "regressor", "mixture")
        add(f"mixture-classifier{suffix}", lambda top_k=top_k: MixtureOfExpertsClassifier(
            n_experts=3, top_k=top_k, tol=1e-7, random_state=0), "classifier", "mixture")
    if NeuralMixtureOfExpertsRegressor is not None:
        small = dict(n_experts=3, hidden_units=8, max_epochs=30, lr=0.01, device="cpu",
                     random_state=0)
        for suffix, top_k in (("", None), ("-top1", 1), ("-top2", 2)):
            add(f"neural-regressor{suffix}", lambda top_k=top_k: (
                NeuralMixtureOfExpertsRegressor(top_k=top_k, **small)), "regressor", "neural")
            add(f"neural-classifier{suffix}", lambda top_k=top_k: (
                NeuralMixtureOfExpertsClassifier(top_k=top_k, **small)), "classifier",
                "neural")
    # A plain two-level stack of single members (the bad-input table names its steps).
    add("stack", lambda: SerialStack(
        [("lr", LogisticRegression()), ("final", DecisionTreeClassifier(max_depth=3))],
        cv=3, random_state=0), "classifier", "stack")
    # Composites inside composites: fusions as the experts of a mixture.
    add("mixture-of-fusions", lambda: MixtureOfExpertsRegressor(
        FusionRegressor([("ridge", Ridge()), ("ridge2", Ridge(alpha=10.0))]),
        n_experts=2, max_iter=5, random_state=0), "regressor", "mixture")
    # Short EM runs, for tests that need any fitted mixture: the ones above run EM to
    # convergence (seconds per fit) and are what the estimator checks use.
    add("mixture-regressor-short", lambda: MixtureOfExpertsRegressor(
        n_experts=2, top_k=1, max_iter=10, random_state=0), "regressor", "mixture",
        checked=False)
    add("mixture-classifier-short", lambda: MixtureOfExpertsClassifier(
        LogisticRegression(), n_experts=2, max_iter=5, random_state=0), "classifier",
        "mixture", checked=False)
    # Three members, each fitted on the default five folds: 18 member fits to report.
    add("fusion-five-folds", lambda: FusionClassifier(
        [("lr", LogisticRegression(max_iter=500)), ("nb", GaussianNB()),
         ("tree", DecisionTreeClassifier(max_depth=4))],
        weights="optimize", random_state=0), "classifier", "fusion")
    # Views, with rows where a whole view (a modality) is missing.
    add("fusion-views", lambda: FusionClassifier(
        [("lr", LogisticRegression()), ("nb", GaussianNB()),
         ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))],
        weights="optimize", views=VIEWS, missing="prior", cv=3, random_state=0),
        "classifier", "fusion", "views")
    add("cascade-views", lambda: SerialStack(
        [("nb", GaussianNB()), ("lr", LogisticRegression()),
         ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))],
        views=VIEW_NAMES, exit_threshold=[0.8, 0.7], missing="prior", cv=3, random_state=0),
        "classifier", "cascade", "frame")
    # Distillation: a fusion (or a linear model) teaching a small tree (with the synthetic
    # rows augment="auto" grows), a regressor on its logits (none), and students that
    # learn other synthetic rows.
    add("distilled-classifier", lambda: DistilledClassifier(
        FusionClassifier(classifiers()), DecisionTreeClassifier(max_depth=3), cv=3,
        random_state=0), "classifier", "distill")
    add("distilled-classifier-logits", lambda: DistilledClassifier(
        LogisticRegression(), Ridge(), temperature=2.0, augment=None, cv=3, random_state=0),
        "classifier", "distill")
    add("distilled-classifier-munge", lambda: DistilledClassifier(
        FusionClassifier(classifiers()), DecisionTreeClassifier(max_depth=3),
        augment="munge", n_augment=0.5, cv=3, random_state=0), "classifier", "distill")
    add("distilled-regressor", lambda: DistilledRegressor(
        FusionRegressor(regressors()), DecisionTreeRegressor(max_depth=3), cv=3,
        random_state=0), "regressor", "distill")
    add("distilled-regressor-resample", lambda: DistilledRegressor(
        FusionRegressor(regressors()), DecisionTreeRegressor(max_depth=3),
        targets="fit", augment="resample", cv=3, random_state=0), "regressor", "distill")
    # The label weight chosen by the out-of-fold check.
    add("distilled-classifier-auto", lambda: DistilledClassifier(
        LogisticRegression(), DecisionTreeClassifier(max_depth=3), label_weight="auto",
        augment=None, cv=3, random_state=0), "classifier", "distill")
    add("distilled-regressor-auto", lambda: DistilledRegressor(
        Ridge(), DecisionTreeRegressor(max_depth=3), label_weight="auto", augment="munge",
        n_augment=0.5, cv=3, random_state=0), "regressor", "distill")
    return out


REGISTRY = _registry()


def make(name):
    """A fresh, unfitted instance of the composite ``name``."""
    return REGISTRY[name].make()


def is_classifier(name):
    return REGISTRY[name].kind == "classifier"


def names(*, kind=None, family=None, data=None, checked=None, neural=True):
    """Registry names in order, filtered by the fields of :class:`Entry`.

    ``family`` may be a str or a tuple of them; ``neural=False`` leaves the torch
    composites out.
    """
    families = (family,) if isinstance(family, str) else family
    return [
        name for name, entry in REGISTRY.items()
        if (kind is None or entry.kind == kind)
        and (families is None or entry.family in families)
        and (data is None or entry.data == data)
        and (checked is None or entry.checked == checked)
        and (neural or entry.family != "neural")
    ]


# -- member nets ---------------------------------------------------------------------
# skfuse.torch's member nets, as scikit-learn's checks run them: one linear layer, sized
# by the data each fit gets (the nets pass n_features_in, and n_classes or n_outputs,
# to a module class that names them). Defined here, at the top level, so that pickles
# of the nets find them.

if torch is not None:
    class SizedLinear(torch.nn.Module):
        """One linear layer of ``n_outputs`` outputs."""

        def __init__(self, n_features_in=1, n_outputs=1):
            super().__init__()
            self.layer = torch.nn.Linear(n_features_in, n_outputs)

        def forward(self, X):
            return self.layer(X)

    class SizedSoftmax(SizedLinear):
        """One linear layer and a softmax: ``n_classes`` probabilities."""

        def __init__(self, n_features_in=1, n_classes=2):
            super().__init__(n_features_in, n_classes)

        def forward(self, X):
            return torch.softmax(super().forward(X), dim=-1)


def member_nets():
    """A ``NetClassifier`` and a ``NetRegressor`` of sized modules (none without torch)."""
    if torch is None:
        return []
    common = dict(optimizer=torch.optim.Adam, lr=0.05, max_epochs=10, train_split=None,
                  verbose=0, random_state=0)
    return [NetClassifier(SizedSoftmax, **common), NetRegressor(SizedLinear, **common)]


# -- counting members ----------------------------------------------------------------
# The counts are class attributes, shared by every instance and clone in this process
# (members fitted in other processes are not counted). Tests that read them reset them
# first, with reset_counts() or by assigning 0.


class CountingLR(LogisticRegression):
    """LogisticRegression that counts its fits (in this process)."""

    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight=sample_weight)


class CountingTree(DecisionTreeClassifier):
    """DecisionTreeClassifier that counts its fits (in this process)."""

    fits = 0

    def fit(self, X, y, sample_weight=None, check_input=True):
        type(self).fits += 1
        return super().fit(X, y, sample_weight=sample_weight, check_input=check_input)


class CountingNB(GaussianNB):
    """GaussianNB that counts its fits and its predict_proba calls (in this process)."""

    fits = 0
    calls = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight=sample_weight)

    def predict_proba(self, X):
        type(self).calls += 1
        return super().predict_proba(X)


def reset_counts():
    """Set every counting member's counts to 0."""
    CountingLR.fits = CountingTree.fits = CountingNB.fits = CountingNB.calls = 0


class NaNRidge(Ridge):
    """A ridge regression that predicts NaN where x0 > 1."""

    def predict(self, X):
        out = super().predict(X)
        out[np.asarray(X)[:, 0] > 1] = np.nan
        return out


class ColumnPredictLR(LogisticRegression):
    """A logistic regression whose predict gives a column of labels, shape (n, 1), as
    CatBoost's multiclass predict does."""

    def predict(self, X):
        return super().predict(X).reshape(-1, 1)


class ColumnScoreLR(LogisticRegression):
    """A binary logistic regression whose decision_function gives shape (n, 1); its
    predictions and probabilities are the plain model's (which reads its own
    decision_function)."""

    def _score(self, X):
        return LogisticRegression.decision_function(self, X)

    def decision_function(self, X):
        return self._score(X).reshape(-1, 1)

    def predict_proba(self, X):
        positive = 1.0 / (1.0 + np.exp(-self._score(X)))
        return np.c_[1.0 - positive, positive]

    def predict(self, X):
        return self.classes_[(self._score(X) > 0).astype(int)]
