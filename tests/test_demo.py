"""``python -m skfuse.demo``: the README's main job prints a full, sane table."""

import subprocess
import sys

import pytest

from skfuse import demo


@pytest.fixture(scope="module")
def table():
    printed = []
    rows = demo.run(n_splits=2, datasets=["breast", "diabetes"], out=printed.append)
    return rows, printed


def test_every_model_gets_a_row_per_dataset(table):
    rows, printed = table
    names = {dataset: [model for d, model, *_ in rows if d == dataset]
             for dataset in ("breast_cancer (binary)", "diabetes (regression)")}
    assert len(names["breast_cancer (binary)"]) == 11
    assert len(names["diabetes (regression)"]) == 10  # no cascade
    for models in names.values():
        assert {"sklearn Stacking", "skfuse Fusion (optimize)",
                "skfuse Mixture (3 linear experts, top-1)"} <= set(models)
    (text,) = printed
    assert all(model in text for models in names.values() for model in models)
    assert "skfuse Cascade (logreg > forest): its first step answered " in text
    headers = [line.split() for line in text.splitlines() if line.endswith("predict s")]
    assert [h[-6:] for h in headers] == [["accuracy", "log-loss", "fit", "s", "predict", "s"],
                                          ["R²", "RMSE", "fit", "s", "predict", "s"]]


def test_scores_are_those_of_working_models(table):
    rows, _ = table
    for dataset, model, score, spread, loss, fit, predict, first_step in rows:
        if dataset.startswith("breast"):
            assert 0.9 < score <= 1.0 and 0.0 < loss < 0.5, model
        else:
            assert 0.2 < score < 0.7 and 45 < loss < 70, model  # diabetes: noisy
        assert fit > 0 and predict > 0 and 0 <= spread < 0.1
        assert (first_step is not None) == ("Cascade" in model)
        if first_step is not None:
            assert 0 <= first_step <= 1


def test_an_unknown_dataset_is_an_error_that_lists_the_names():
    with pytest.raises(ValueError, match="breast_cancer"):
        demo.run(datasets=["iris"])
    done = subprocess.run([sys.executable, "-m", "skfuse.demo", "--dataset", "iris"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "the datasets are" in done.stderr
