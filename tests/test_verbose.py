"""``verbose`` reports each member fit and fold as it finishes, and changes nothing else."""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_wine, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from skfuse import FusionClassifier, MixtureOfExpertsRegressor, SerialStack

X, y = load_wine(return_X_y=True)
X = StandardScaler().fit_transform(X)
LINE = re.compile(r"^\[(\w+)\] \((\d+) of (\d+)\) (.+): \d+\.\d\d s$")
LAST = re.compile(r"^\[(\w+)\] fitted in \d+\.\d\d s$")


def read(capsys):
    """A verbose fit's task lines, then the lines that say what it decided, after
    checking that its last line gives the total and that no task line follows a
    decision."""
    *lines, last = capsys.readouterr().out.splitlines()
    matches = [LINE.match(line) for line in lines]
    tasks = next((i for i, m in enumerate(matches) if not m), len(matches))
    assert not any(matches[tasks:]), lines
    assert LAST.match(last), last
    owner = last[1:last.index("]")]
    decisions = lines[tasks:]
    assert all(line.startswith(f"[{owner}] ") for line in decisions), decisions
    return ([(m[1], int(m[2]), int(m[3]), m[4]) for m in matches[:tasks]],
            [line[len(owner) + 3:] for line in decisions])


def progress(capsys):
    """The task lines of a verbose fit (see ``read``)."""
    return read(capsys)[0]


def fusion():
    return FusionClassifier(
        [("lr", LogisticRegression(C=0.1)), ("tree", DecisionTreeClassifier(max_depth=2)),
         ("nb", FrozenEstimator(GaussianNB().fit(X, y)))],
        weights="optimize", refit=True, cv=3, random_state=0)


def stack():
    return SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())], cv=3,
                       random_state=0)


def cascade():
    return SerialStack([("lr", LogisticRegression(C=0.05)),
                        ("tree", DecisionTreeClassifier(max_depth=3))],
                       exit_threshold=0.9, cascade_fit="deferred", cv=3, random_state=0)


def test_fusion_reports_each_member_fit_and_fold(capsys):
    fusion().set_params(verbose=1).fit(X, y)
    lines = progress(capsys)
    assert {owner for owner, *_ in lines} == {"FusionClassifier"}
    assert [(done, total) for _, done, total, _ in lines] == [(i, 10) for i in range(1, 11)]
    assert [label for *_, label in lines] == [
        "member 'lr', fit", "member 'lr', fold 1 of 3", "member 'lr', fold 2 of 3",
        "member 'lr', fold 3 of 3",
        "member 'tree', fit", "member 'tree', fold 1 of 3", "member 'tree', fold 2 of 3",
        "member 'tree', fold 3 of 3",
        "member 'nb' (frozen), used as it is", "member 'nb' (frozen), output on all rows",
    ]


@pytest.mark.parametrize("method", ["optimize", "greedy"])
def test_fusion_says_its_learned_weights_by_member_name(method, capsys):
    fitted = fusion().set_params(weights=method, verbose=1).fit(X, y)
    tasks, decided = read(capsys)
    assert len(tasks) == 10
    w = fitted.weights_
    s = fitted.member_scores_
    assert decided == [
        f"learned weights ({method}): lr {w[0]:.3f}, tree {w[1]:.3f}, nb {w[2]:.3f}",
        (f"out-of-fold score of the learned weights {fitted.oof_score_:.4f}; members: "
         f"lr {s['lr']:.4f}, "
         f"tree {s['tree']:.4f}, nb {s['nb']:.4f}"),
    ]
    if method == "optimize":
        assert w.max() < 1  # the weights printed are not a foregone conclusion
    # Given weights decide nothing: no such line.
    fusion().set_params(weights=[1, 2, 1], verbose=1).fit(X, y)
    assert read(capsys)[1] == []


def test_fixed_weights_report_one_fit_per_member(capsys):
    # Without learned weights there are no folds; a frozen member has one job too.
    fusion().set_params(weights=None, verbose=1).fit(X, y)
    assert [(done, total, label) for _, done, total, label in progress(capsys)] == [
        (1, 3, "member 'lr', fit"), (2, 3, "member 'tree', fit"),
        (3, 3, "member 'nb' (frozen), used as it is")]


def test_progress_keeps_the_data_a_top_level_task_argument(monkeypatch):
    # joblib's Dask backend scatters only top-level task arguments: X must stay one.
    from skfuse import _tasks

    seen = []

    class Recording:
        def __init__(self, **kwargs):
            pass

        def __call__(self, tasks):
            tasks = list(tasks)
            seen.extend(tasks)
            return iter([function(*args, **kwargs) for function, args, kwargs in tasks])

    monkeypatch.setattr(_tasks, "Parallel", Recording)
    data = np.arange(10.0)
    assert _tasks.run_fit_tasks([(np.sum, (data,))], None, 1, "Owner", ["sum"]) == [45.0]
    (_, args, _), = seen
    assert any(arg is data for arg in args)


def test_labels_must_match_the_tasks():
    from skfuse._tasks import run_fit_tasks

    with pytest.raises(ValueError, match="2 progress labels for 1 tasks"):
        run_fit_tasks([(abs, (1,))], None, 1, "Owner", ["a", "b"])


def test_stack_reports_each_level_then_the_final_step(capsys):
    stack().set_params(verbose=1).fit(X, y)
    assert [label for *_, label in progress(capsys)] == [
        "step 'nb', fit", "step 'nb', fold 1 of 3", "step 'nb', fold 2 of 3",
        "step 'nb', fold 3 of 3", "step 'lr' (final), fit",
    ]


def test_cascade_reports_its_steps_and_the_deferred_refit(capsys):
    fitted = cascade().set_params(verbose=1).fit(X, y)
    tasks, decided = read(capsys)
    labels = [label for *_, label in tasks]
    assert labels[:8] == [f"step '{name}', {job}" for name in ("lr", "tree")
                          for job in ("fit", "fold 1 of 3", "fold 2 of 3", "fold 3 of 3")]
    deferred = labels[8:]
    assert deferred and all(lb.startswith("step 'tree' on its deferred rows, ")
                            for lb in deferred)
    assert deferred[0].endswith(", fit")
    assert fitted.exit_rates_[1] > 0  # rows were deferred, so the refit was tried
    rates = fitted.exit_rates_
    trained = {"all": "all rows", "deferred": "its deferred rows"}
    assert decided == [
        "exit thresholds (given): lr 0.900",
        f"out-of-fold exit rates: lr {rates[0]:.1%}, tree {rates[1]:.1%}",
        f"trained on: lr all rows, tree {trained[fitted.cascade_fit_[1]]}",
    ]


def test_a_threshold_just_below_one_is_not_shown_as_one():
    # "1.000" read as the threshold that lets no row exit, where rows at 1.0 still do.
    from skfuse._cascade import _shown_threshold

    assert _shown_threshold(1 - 3.7e-9) == "1 - 3.7e-09"
    assert [_shown_threshold(t) for t in (1.0, 0.9, 0.99949, 0.0)] == [
        "1.000", "0.900", "0.999", "0.000"]


def test_cascade_says_the_thresholds_it_chose(capsys):
    fitted = SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())],
                         exit_threshold="auto", cascade_fit="all", cv=3, random_state=0,
                         verbose=1).fit(X, y)
    _, decided = read(capsys)
    (threshold,), rates = fitted.exit_thresholds_, fitted.exit_rates_
    from skfuse._cascade import _shown_threshold

    assert decided == [f"exit thresholds (auto): nb {_shown_threshold(threshold)}",
                       f"out-of-fold exit rates: nb {rates[0]:.1%}, lr {rates[1]:.1%}"]
    assert 0 < rates[0] < 1  # a real split of the rows between the steps
    # A stack decides no threshold: no such line.
    stack().set_params(verbose=1).fit(X, y)
    assert read(capsys)[1] == []


@pytest.mark.parametrize("make", [fusion, stack, cascade], ids=["fusion", "stack", "cascade"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_verbose_changes_no_prediction(make, n_jobs, capsys):
    quiet = make().set_params(n_jobs=n_jobs).fit(X, y)
    loud = clone(quiet).set_params(verbose=1).fit(X, y)
    assert progress(capsys)
    assert_array_equal(loud.predict_proba(X), quiet.predict_proba(X))


def test_quiet_by_default(capsys):
    for make in (fusion, stack, cascade):
        make().fit(X, y)
    out, err = capsys.readouterr()
    assert out == "" and not re.search(r"^\[\w+\] ", err, flags=re.MULTILINE)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_progress_raises_no_warning(n_jobs, capsys):
    # A forest runs its own joblib tasks inside a member's task; timing the member's
    # task must keep scikit-learn's configuration reaching them.
    fusion = FusionClassifier([("rf", RandomForestClassifier(n_estimators=5, random_state=0)),
                               ("nb", GaussianNB())], weights="optimize", cv=3,
                              n_jobs=n_jobs, verbose=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fusion.fit(X, y)
    assert [str(w.message) for w in caught] == []
    assert len(progress(capsys)) == 6  # three folds each; no refit (refit=False)


def test_folds_keep_their_number_in_cv_where_a_member_lacks_one(capsys):
    # A member or level without rows in a fold numbered the others from 1 again, so
    # one fold went by two names ("fold 1 of 2" for cv's second fold).
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, TimeSeriesSplit

    from skfuse import FusionRegressor

    Xr, yr = X[:, :4].copy(), X[:, 4]
    Xr[:60, 2:] = np.nan  # member 'b' lacks every row of the first fold
    FusionRegressor([("a", Ridge()), ("b", Ridge())], views={"a": [0, 1], "b": [2, 3]},
                    weights="optimize", cv=KFold(3), refit=True, verbose=1).fit(Xr, yr)
    tasks, _ = read(capsys)
    assert [label for *_, label in tasks if "'b'" in label] == [
        "member 'b', fit", "member 'b', fold 2 of 3", "member 'b', fold 3 of 3"]
    SerialStack([("a", Ridge()), ("b", Ridge()), ("c", Ridge())], cv=TimeSeriesSplit(3),
                verbose=1).fit(X[:, :4], yr)
    labels = [line.split(") ", 1)[1] for line in capsys.readouterr().out.splitlines()
              if "step 'b'" in line]
    assert [label.split(":")[0] for label in labels] == [
        "step 'b', fit", "step 'b', fold 2 of 3", "step 'b', fold 3 of 3"]


def test_a_distillers_fold_pairs_are_numbered_from_one(capsys):
    from sklearn.linear_model import Ridge

    from skfuse import DistilledRegressor

    DistilledRegressor(Ridge(), Ridge(), cv=3, verbose=1).fit(X[:, :4], X[:, 4])
    pairs = [line.split(") ", 1)[1].split(":")[0]
             for line in capsys.readouterr().out.splitlines() if "without folds" in line]
    assert pairs == ["teacher without folds 1 and 2", "teacher without folds 1 and 3",
                     "teacher without folds 2 and 3"]


def test_a_distillers_student_folds_keep_their_number_in_cv(capsys):
    # A fold the student cannot be cross-fitted on (its training rows' targets name one
    # class) was dropped, and the others renumbered ("fold 2 of 2" for cv's third fold,
    # beside warnings naming split 2).
    from sklearn.model_selection import KFold

    from skfuse import DistilledClassifier

    rng = np.random.RandomState(0)
    Xd = rng.randn(150, 3)
    yd = np.r_[np.zeros(50, int), np.ones(50, int), np.zeros(50, int)]  # fold 2 left out
    Xd[yd == 1] += 2
    teacher = FrozenEstimator(DecisionTreeClassifier(random_state=0).fit(Xd, yd))
    with pytest.warns(UserWarning, match="leaves out the test rows of 1 of 3 fold"):
        DistilledClassifier(teacher, DecisionTreeClassifier(max_depth=2, random_state=0),
                            label_weight=0.0, augment=None, cv=KFold(3), verbose=1,
                            random_state=0).fit(Xd, yd)
    student = [line.split(") ", 1)[1].split(":")[0]
               for line in capsys.readouterr().out.splitlines() if ") student" in line]
    assert student == ["student, fit", "student, fold 1 of 3", "student, fold 3 of 3"]


def test_each_line_is_written_in_one_call(monkeypatch):
    # print() writes the text and its newline apart on an unbuffered stdout, so lines
    # of worker processes ran into each other ("...: 0.00 s[FusionClassifier] ...").
    import io
    import sys

    class Writes(io.StringIO):
        calls = []

        def write(self, text):
            type(self).calls.append(text)
            return super().write(text)

    monkeypatch.setattr(sys, "stdout", Writes())
    FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                     weights="optimize", cv=3, verbose=1).fit(X, y)
    assert len(Writes.calls) > 5
    assert all(call.startswith("[FusionClassifier] ") and call.endswith("\n")
               and call.count("\n") == 1 for call in Writes.calls)


def test_a_deferred_cascade_steps_folds_keep_their_number_in_cv(capsys):
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(0)
    Xc = rng.normal(size=(200, 2))
    yc = (rng.random(200) < 0.5).astype(int)
    Xc[:100, 0] = np.where(yc[:100] == 1, 8, -8) + rng.normal(size=100) * 0.1  # easy first
    cascade = SerialStack([("lr", LogisticRegression()),
                           ("dt", DecisionTreeClassifier(max_depth=3, random_state=0))],
                          exit_threshold=0.9, cv=KFold(4), cascade_confidence=0.5,
                          verbose=1).fit(Xc, yc)
    assert cascade.cascade_fit_[1] == "deferred"
    deferred = [line.split(") ", 1)[1].split(":")[0]
                for line in capsys.readouterr().out.splitlines() if "deferred rows," in line]
    assert deferred == ["step 'dt' on its deferred rows, fit",
                        "step 'dt' on its deferred rows, fold 3 of 4",
                        "step 'dt' on its deferred rows, fold 4 of 4"]


def test_a_name_holding_a_line_break_keeps_each_line_whole(capsys):
    # Summaries printed the name raw: "learned weights (optimize): a" then "b 0.496, ..."
    # on a line of its own, without the owner.
    FusionClassifier([("a\nb", LogisticRegression()), ("c", GaussianNB())],
                     weights="optimize", cv=3, verbose=1).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith("[FusionClassifier] ") for line in lines)
    assert any("learned weights (optimize): a\\nb " in line for line in lines)


def test_no_stdout_shows_nothing_and_fits(monkeypatch):
    # Under pythonw or a service sys.stdout is None: print() then does nothing, as
    # scikit-learn's own verbose output; skfuse's lines raised AttributeError mid-fit.
    import sys

    monkeypatch.setattr(sys, "stdout", None)
    quiet = fusion().fit(X, y)
    loud = fusion().set_params(verbose=1).fit(X, y)
    assert_array_equal(loud.predict_proba(X), quiet.predict_proba(X))


def test_the_mixtures_count_line_says_why_a_count_with_a_lower_loss_was_passed_over(
        capsys):
    # The count with the lowest held-out loss is not kept unless it is lower by more
    # than tol and 1.5 standard errors: the line listed the losses and left it unexplained.
    X, y = make_regression(200, 5, noise=5, random_state=0)
    mixture = MixtureOfExpertsRegressor(Ridge(), random_state=0, verbose=1).fit(X, y)
    line = next(line for line in capsys.readouterr().out.splitlines() if "chosen" in line)
    lowest = min(mixture.count_losses_, key=mixture.count_losses_.get)
    assert lowest > mixture.n_experts_  # the case at hand
    assert (f"{lowest} had the lowest, but not lower by more than tol and 1.5 standard "
            "errors, so the fewer experts are kept") in line
    assert "each at its chosen gate_alpha" in line
