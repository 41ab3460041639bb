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
    assert len(names["breast_cancer (binary)"]) == 12
    assert len(names["diabetes (regression)"]) == 11  # no cascade
    for models in names.values():
        assert {"sklearn Stacking", "skfuse Fusion (optimize)",
                demo.MIXTURE, demo.DISTILLED} <= set(models)
    (text,) = printed
    assert all(model in text for models in names.values() for model in models)
    assert "skfuse Cascade (logreg > forest): its first step answered " in text
    for metric in ("accuracy", "R²"):  # the distilled tree beside its teacher
        assert (f"{demo.DISTILLED}: {metric} " in text
                and "against its teacher's" in text and "x faster." in text)
    headers = [line.split() for line in text.splitlines() if line.endswith("predict s")]
    assert [h[-6:] for h in headers] == [["accuracy", "log-loss", "fit", "s", "predict", "s"],
                                          ["R²", "RMSE", "fit", "s", "predict", "s"]]


def test_scores_are_those_of_working_models(table):
    rows, _ = table
    for dataset, model, score, spread, loss, fit, predict, first_step, experts in rows:
        if dataset.startswith("breast"):
            assert 0.9 < score <= 1.0 and 0.0 < loss < 0.5, model
        else:
            assert 0.2 < score < 0.7 and 45 < loss < 70, model  # diabetes: noisy
        assert fit > 0 and predict > 0 and 0 <= spread < 0.1
        assert (first_step is not None) == ("Cascade" in model)
        if first_step is not None:
            assert 0 <= first_step <= 1
        assert (experts is not None) == ("Mixture" in model)
        if experts is not None:
            assert all(isinstance(n, int) and n >= 1 for n in experts)


def _row(dataset, model, score, spread):
    return (dataset, model, score, spread, 0.1, 1.0, 0.01, None, None)


def test_the_verdict_is_honest_about_wins_ties_and_losses():
    rows = [
        # A clear win: beyond both spreads.
        _row("win (binary)", "logreg", 0.90, 0.01),
        _row("win (binary)", "forest", 0.91, 0.01),
        _row("win (binary)", "sklearn Stacking", 0.92, 0.01),
        _row("win (binary)", "skfuse Fusion (equal)", 0.93, 0.01),
        _row("win (binary)", "skfuse Fusion (optimize)", 0.96, 0.005),
        # A tie: the composite leads by less than the fold spread.
        _row("tie (regression)", "ridge", 0.450, 0.03),
        _row("tie (regression)", "sklearn Voting", 0.470, 0.02),
        _row("tie (regression)", "skfuse Fusion (greedy)", 0.455, 0.02),
        # A loss: a member and scikit-learn's ensemble beat every composite.
        _row("loss (binary)", "knn", 0.95, 0.01),
        _row("loss (binary)", "sklearn Voting (soft)", 0.94, 0.005),
        _row("loss (binary)", "skfuse Mixture", 0.90, 0.01),
        # An exact tie with a member listed first: no other model is best overall.
        _row("same (binary)", "logreg", 0.98, 0.0),
        _row("same (binary)", "sklearn Stacking", 0.97, 0.0),
        _row("same (binary)", "skfuse Fusion (equal)", 0.98, 0.0),
    ]
    lines = demo.verdict(rows)
    assert lines[0].startswith("Verdict")
    win, tie, loss, same = lines[1:5]
    assert win == ("- win (binary): the best composite is skfuse Fusion (optimize), accuracy "
                   "0.9600; against the best member, forest (0.9100), +0.0500: ahead, beyond "
                   "the fold spread (±0.0100); against scikit-learn's best ensemble, sklearn "
                   "Stacking (0.9200), +0.0400: ahead, beyond the fold spread (±0.0100).")
    assert tie == ("- tie (regression): the best composite is skfuse Fusion (greedy), R² "
                   "0.4550; against the best member, ridge (0.4500), +0.0050: a tie, within "
                   "the fold spread (±0.0300); against scikit-learn's best ensemble, sklearn "
                   "Voting (0.4700), -0.0150: a tie, within the fold spread (±0.0200). The "
                   "best model overall is sklearn Voting (0.4700).")
    assert loss.startswith("- loss (binary): the best composite is skfuse Mixture, accuracy "
                           "0.9000; against the best member, knn (0.9500), -0.0500: behind")
    assert "sklearn Voting (soft) (0.9400), -0.0400: behind" in loss
    assert loss.endswith("The best model overall is knn (0.9500).")
    assert same == ("- same (binary): the best composite is skfuse Fusion (equal), accuracy "
                    "0.9800; against the best member, logreg (0.9800), +0.0000: a tie, within "
                    "the fold spread (±0.0000); against scikit-learn's best ensemble, sklearn "
                    "Stacking (0.9700), +0.0100: ahead, beyond the fold spread (±0.0000).")
    closing = lines[-1]
    assert closing.startswith(
        "Over 4 dataset(s), skfuse's best composite was ahead of the best single member "
        "beyond the spread over folds on 1, tied on 2 and behind on 1; against "
        "scikit-learn's best ensemble it was ahead on 2, tied on 1 and behind on 1.")
    assert "flatters it" in closing


def test_the_verdict_names_composites_tied_with_the_best():
    rows = [_row("twin (binary)", "logreg", 0.90, 0.01),
            _row("twin (binary)", "sklearn Stacking", 0.91, 0.01),
            _row("twin (binary)", "skfuse Fusion (optimize)", 0.95, 0.01),
            _row("twin (binary)", "skfuse SerialStack", 0.95, 0.02),
            _row("twin (binary)", "skfuse Mixture", 0.94, 0.01)]
    line = demo.verdict(rows)[1]
    assert line.startswith("- twin (binary): the best composite is skfuse Fusion (optimize), "
                           "accuracy 0.9500 (as is skfuse SerialStack); against")


def test_the_demo_prints_the_verdict_of_its_own_table(table):
    rows, (text,) = table
    assert text.endswith("\n".join(demo.verdict(rows)))
    for dataset in ("breast_cancer (binary)", "diabetes (regression)"):
        block = [row for row in rows if row[0] == dataset and row[1].startswith("skfuse ")]
        best = max(block, key=lambda row: row[2])
        assert f"- {dataset}: the best composite is {best[1]}, " in text
    assert "Over 2 dataset(s), skfuse's best composite" in text


def test_an_unknown_dataset_is_an_error_that_lists_the_names():
    with pytest.raises(ValueError, match="breast_cancer"):
        demo.run(datasets=["iris"])
    done = subprocess.run([sys.executable, "-m", "skfuse.demo", "--dataset", "iris"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "the datasets are" in done.stderr


def test_splits_below_two_are_a_usage_error_and_names_match_in_any_case():
    done = subprocess.run([sys.executable, "-m", "skfuse.demo", "--splits", "1"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "--splits: must be an integer of at least 2, got '1'" in done.stderr
    assert demo._chosen(["BREAST"]) == demo._chosen(["breast"]) == ["breast_cancer (binary)"]


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "--seed: must be an integer from 0 to 2**32 - 1, got '-1'"),
    (["--splits", "300", "--dataset", "breast"],
     "--splits: breast_cancer (binary) allows at most 212 folds"),
])
def test_out_of_range_seed_or_splits_are_usage_errors(args, message, capsys):
    """Before any model is fitted (they failed with a traceback after the warm-up)."""
    with pytest.raises(SystemExit) as stopped:
        demo.main(args)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
