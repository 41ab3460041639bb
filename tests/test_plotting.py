"""skfuse.plotting: each Display computes the right numbers and draws them (Agg)."""

import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skfuse import FusionClassifier, MixtureOfExpertsRegressor, SerialStack
from skfuse.plotting import CascadeDisplay, ExpertRoutingDisplay, FusionWeightsDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

X, Y = make_classification(n_samples=300, n_features=4, n_informative=3, n_redundant=0,
                           random_state=0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_fusion_weights_display():
    fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB()),
                               ("tree", DecisionTreeClassifier(max_depth=2, random_state=0))],
                              weights="optimize", cv=3).fit(X, Y)
    display = FusionWeightsDisplay.from_estimator(fusion)
    assert_allclose([bar.get_width() for bar in display.bars_], fusion.weights_)
    assert [t.get_text() for t in display.ax_.get_yticklabels()] == ["lr", "nb", "tree"]
    assert display.figure_ is display.ax_.figure
    _, ax = plt.subplots()
    assert FusionWeightsDisplay([0.5, 0.5], ["a", "b"]).plot(ax=ax).ax_ is ax


def test_fusion_weights_display_draws_the_greedy_path():
    fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB()),
                               ("tree", DecisionTreeClassifier(max_depth=2, random_state=0))],
                              weights="greedy", selection_rounds=6, cv=3).fit(X, Y)
    assert len(fusion.selection_scores_) == len(fusion.selection_path_) == 6
    # The best round's score is the fused out-of-fold score of the final weights (the
    # selection of the best prefix, Caruana's step 4).
    assert_allclose(max(fusion.selection_scores_), fusion.oof_score_)
    # The first round picks the best member alone.
    assert_allclose(fusion.selection_scores_[0], max(fusion.member_scores_.values()))
    display = FusionWeightsDisplay.from_estimator(fusion, kind="path")
    assert_allclose(display.line_.get_ydata(), fusion.selection_scores_)
    assert_array_equal(display.line_.get_xdata(), np.arange(1, 7))
    assert [t.get_text() for t in display.ax_.texts] == fusion.selection_path_
    with pytest.raises(ValueError, match='weights="greedy"'):
        FusionWeightsDisplay.from_estimator(fusion.set_params(weights="optimize").fit(X, Y),
                                            kind="path")
    with pytest.raises(ValueError, match="kind must be"):
        FusionWeightsDisplay([1.0], ["a"]).plot(kind="bars")


def test_fusion_weights_display_redraws_the_kind_drawn_last():
    fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                              weights="greedy", selection_rounds=4, cv=3).fit(X, Y)
    display = FusionWeightsDisplay.from_estimator(fusion, kind="path")
    _, ax = plt.subplots()
    display.plot(ax=ax)  # the path again, as PartialDependenceDisplay keeps its kind
    assert display.kind_ == "path" and display.line_.axes is ax
    assert_allclose(display.line_.get_ydata(), fusion.selection_scores_)
    display.plot(kind="weights")
    assert display.kind_ == "weights" and not hasattr(display, "line_")
    assert_allclose([bar.get_width() for bar in display.bars_], fusion.weights_)
    display.plot(kind="path")
    assert not hasattr(display, "bars_") and display.line_.axes is display.ax_
    assert FusionWeightsDisplay([0.5, 0.5], ["a", "b"]).plot().kind_ == "weights"


def test_fusion_weights_display_draws_one_output_of_per_output_weights():
    from sklearn.datasets import make_regression

    from skfuse import FusionRegressor

    Xr, yr = make_regression(n_samples=200, n_features=4, n_targets=2, noise=20,
                             random_state=0)
    yr[:, 1] = 50 * np.sin(Xr[:, 0])
    members = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))]
    fusion = FusionRegressor(members, weights="greedy", output_weights="per_output",
                             cv=3).fit(Xr, yr)
    for k in range(2):
        display = FusionWeightsDisplay.from_estimator(fusion, output=k)
        assert_allclose([bar.get_width() for bar in display.bars_], fusion.weights_[k])
        path = FusionWeightsDisplay.from_estimator(fusion, kind="path", output=k)
        assert_allclose(path.line_.get_ydata(), fusion.selection_scores_[k])
    for output in (None, True, 1.0, "1", 2, -1):
        with pytest.raises(ValueError, match="one weight vector per output \\(2\\): pass "
                                             "output="):
            FusionWeightsDisplay.from_estimator(fusion, output=output)
    shared = FusionRegressor(members, weights="optimize", cv=3).fit(Xr, yr)
    with pytest.raises(ValueError, match="output= is for a fusion with one weight vector"):
        FusionWeightsDisplay.from_estimator(shared, output=0)


# The last step may have no predict_proba (SVC): no row exits from it early. One with
# a tuned decision threshold answers with its predict, which the display reads too.
@pytest.mark.parametrize("last", [
    DecisionTreeClassifier(max_depth=4), SVC(),
    FixedThresholdClassifier(LogisticRegression(), threshold=0.3)],
    ids=["tree", "svc", "tuned"])
def test_cascade_display(last):
    cascade = SerialStack([("nb", GaussianNB()), ("last", last)],
                          exit_threshold=0.8, cv=3, random_state=0).fit(X, Y)
    display = CascadeDisplay.from_estimator(cascade, X, Y, thresholds=[0.0, 0.8, 1.0])
    steps = cascade.named_steps_
    # Threshold 0: every row leaves at the first step; 1: none does.
    assert_allclose(display.exit_rates[[0, 2]], [1.0, 0.0])
    assert_allclose(display.accuracies[0], steps["nb"].score(X, Y))
    assert_allclose(display.accuracies[2], steps["last"].score(X, Y))
    # At the fitted threshold it agrees with the cascade itself.
    assert_allclose(display.exit_rates[1], np.mean(cascade.predict_route(X) == 0))
    assert_allclose(display.accuracies[1], cascade.score(X, Y))
    assert_array_equal(display.line_.get_xdata(), display.exit_rates)
    with pytest.raises(Exception, match="exit_thresholds_|not fitted"):
        CascadeDisplay.from_estimator(SerialStack([("nb", GaussianNB()),
                                                   ("lr", LogisticRegression())]), X, Y)


def test_cascade_display_checks_what_it_is_given():
    labels = np.array(["no", "yes"])[Y]
    cascade = SerialStack([("nb", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=4))],
                          exit_threshold=0.8, cv=3, random_state=0).fit(X, labels)
    weight = np.where(Y == 1, 3.0, 1.0)
    display = CascadeDisplay.from_estimator(cascade, X, labels, sample_weight=weight,
                                            thresholds=[0.8])
    assert_allclose(display.accuracies, [cascade.score(X, labels, sample_weight=weight)])
    with pytest.raises(ValueError, match="y holds labels of another type than the "
                                         "cascade's classes_ \\['[^']+', '[^']+'\\]; "
                                         ".*Mix of label input types"):
        CascadeDisplay.from_estimator(cascade, X, Y)  # codes for a cascade of strings
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        CascadeDisplay.from_estimator(cascade, X, labels[:-1])
    stack = SerialStack([("nb", GaussianNB()), ("lr", LogisticRegression())], cv=3).fit(X, Y)
    with pytest.raises(ValueError, match="fitted as a stack"):
        CascadeDisplay.from_estimator(stack, X, Y)
    with pytest.raises(ValueError, match="needs a SerialStack cascade.*FusionClassifier"):
        CascadeDisplay.from_estimator(FusionClassifier([("nb", GaussianNB())]).fit(X, Y), X, Y)


def test_cascade_displays_on_one_axes_are_told_apart_by_name():
    cascade = SerialStack([("nb", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=4))],
                          exit_threshold=0.8, cv=3, random_state=0).fit(X, Y)
    looser = clone(cascade).set_params(exit_threshold=0.6).fit(X, Y)
    _, ax = plt.subplots()
    first = CascadeDisplay.from_estimator(cascade, X, Y, ax=ax, name="strict",
                                          color="tab:blue", linestyle="--")
    second = CascadeDisplay.from_estimator(looser, X, Y, ax=ax, name="loose")
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["strict", "strict: fitted threshold 0.8", "loose",
                      "loose: fitted threshold 0.6"]
    assert first.line_.get_color() == first.marker_.get_color() == "tab:blue"
    assert first.line_.get_linestyle() == "--"
    assert second.marker_.get_color() == "tab:red"
    # matplotlib's alias of color too (the marker stayed red).
    aliased = CascadeDisplay.from_estimator(cascade, X, Y, c="green")
    assert aliased.line_.get_color() == aliased.marker_.get_color() == "green"
    unnamed = CascadeDisplay.from_estimator(cascade, X, Y)
    assert [t.get_text() for t in unnamed.ax_.get_legend().get_texts()] == [
        "fitted threshold 0.8"]
    assert unnamed.plot(name="again").line_.get_label() == "again"


def test_cascade_display_marks_the_fitted_threshold_itself():
    # 0.911 lies between the grid's 0.90 and 0.92, and a different share of rows
    # exits at each of the three.
    cascade = SerialStack([("nb", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=4))],
                          exit_threshold=0.911, cv=3, random_state=0).fit(X, Y)
    display = CascadeDisplay.from_estimator(cascade, X, Y)
    assert 0.911 in display.thresholds and len(display.thresholds) == 52
    exit_rate = np.mean(cascade.predict_route(X) == 0)
    grid = display.exit_rates[np.isin(display.thresholds, [0.90, 0.92])]
    assert exit_rate not in grid  # the nearest grid point would misplace the marker
    assert_allclose(display.marker_.get_xdata(), [exit_rate])
    assert_allclose(display.marker_.get_ydata(), [cascade.score(X, Y)])
    assert display.ax_.get_legend().get_texts()[0].get_text() == "fitted threshold 0.911"


@pytest.mark.parametrize("style", [{"ms": 6}, {"markersize": 6}, {"c": "k", "ms": 6}])
def test_cascade_display_takes_matplotlibs_short_names_and_lists(style):
    # ms= clashed with the default markersize ("Got both 'markersize' and 'ms'"), and a
    # display built from lists failed in plot (list minus float).
    display = CascadeDisplay([0.0, 0.5, 1.0], [1.0, 0.5, 0.0], [0.8, 0.85, 0.9], 0.5)
    display.plot(**style)
    assert display.line_.get_markersize() == 6
    assert_allclose(display.marker_.get_xdata(), [0.5])
    if "c" in style:
        assert display.marker_.get_color() == display.line_.get_color() == "k"
    plt.close("all")


def test_expert_routing_display():
    rng = np.random.RandomState(0)
    X2 = rng.uniform(-2, 2, size=(400, 2))
    y2 = np.where(X2[:, 0] > 0, 3 * X2[:, 1], -3 * X2[:, 1])
    moe = MixtureOfExpertsRegressor(Ridge(), n_experts=2, top_k=1, random_state=0).fit(X2, y2)
    display = ExpertRoutingDisplay.from_estimator(moe, X2, grid_resolution=20)
    assert display.expert.shape == (20, 20)
    point = np.array([[display.xx0[3, 5], display.xx1[3, 5]]])
    assert display.expert[3, 5] == moe.predict_gate(point).argmax()
    assert len(set(display.expert.ravel())) == 2  # the two regimes get their own expert
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend[0].startswith("expert0: ") and len(legend) == 2


@pytest.mark.parametrize("grid_resolution", [0, 1, 5.5, -3, True])
def test_expert_routing_display_checks_the_grid_resolution(grid_resolution):
    X = np.random.RandomState(0).uniform(-2, 2, size=(60, 2))
    moe = MixtureOfExpertsRegressor(Ridge(), n_experts=2, max_iter=3,
                                    random_state=0).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="grid_resolution must be an int of at least 2"):
        ExpertRoutingDisplay.from_estimator(moe, X, grid_resolution=grid_resolution)


def test_expert_routing_display_takes_names_and_leaves_nan_out():
    import warnings

    import pandas as pd

    rng = np.random.RandomState(0)
    frame = pd.DataFrame(rng.uniform(-2, 2, size=(400, 3)), columns=["g", "u", "v"])
    y2 = np.where(frame["g"] > 0, 3 * frame["u"], -3 * frame["u"])
    moe = MixtureOfExpertsRegressor(Ridge(), n_experts=2, top_k=1, random_state=0).fit(
        frame, y2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names"
        display = ExpertRoutingDisplay.from_estimator(moe, frame, features=("g", "u"),
                                                      grid_resolution=10)
    assert display.feature_names == ("g", "u")
    by_position = ExpertRoutingDisplay.from_estimator(moe, frame, features=(0, 1),
                                                      grid_resolution=10)
    assert_array_equal(display.expert, by_position.expert)
    reordered = ExpertRoutingDisplay.from_estimator(moe, frame[["v", "u", "g"]],
                                                    features=("g", "u"), grid_resolution=10)
    assert_allclose(reordered.xx0, display.xx0)
    assert_array_equal(reordered.expert, display.expert)
    holed = frame.copy()
    holed.iloc[::7, 0] = np.nan
    holed.iloc[::5, 2] = np.nan
    display = ExpertRoutingDisplay.from_estimator(moe, holed, features=("g", "u"),
                                                  grid_resolution=10)
    assert_allclose(display.xx0[0, [0, -1]], [np.nanmin(holed["g"]), np.nanmax(holed["g"])])
    with pytest.raises(ValueError, match="feature 'w' is not a column"):
        ExpertRoutingDisplay.from_estimator(moe, frame, features=("g", "w"))


def test_displays_refuse_other_estimators_and_bad_arguments():
    fitted = LogisticRegression().fit(X, Y)  # fitted, but not what the display draws
    with pytest.raises(ValueError, match=r"needs a FusionClassifier or FusionRegressor \(or "
                                         r"a Pipeline, a fitted search or a FrozenEstimator "
                                         r"ending in one\); "
                                         "got LogisticRegression"):
        FusionWeightsDisplay.from_estimator(fitted)
    with pytest.raises(ValueError, match=r"needs a MixtureOfExpertsRegressor or "
                                         r"MixtureOfExpertsClassifier \(.*\); got "
                                         "LogisticRegression"):
        ExpertRoutingDisplay.from_estimator(fitted, X)
    moe = MixtureOfExpertsRegressor(Ridge(), n_experts=2, max_iter=3, random_state=0)
    moe.fit(X, X[:, 0])
    for features, message in [((0, 0), "two different columns"),
                              ((0, 4), "feature 4 is not a column position from 0 to 3"),
                              ((True, 1), "feature True is not a column position"),
                              ((0.5, 1), "feature 0.5 is not a column position"),
                              ((0,), "must be two columns"), (0, "must be two columns")]:
        with pytest.raises(ValueError, match=message):
            ExpertRoutingDisplay.from_estimator(moe, X, features=features)
    # A frame for a mixture fitted on an array: its nullable columns are read as floats;
    # a feature without a value cannot span a grid.
    import pandas as pd

    frame = pd.DataFrame(X).astype({0: "Float64"})
    frame.iloc[:5, 0] = pd.NA
    display = ExpertRoutingDisplay.from_estimator(moe, frame, grid_resolution=4)
    assert_allclose(display.xx0[0, [0, -1]], [np.nanmin(X[5:, 0]), np.nanmax(X[5:, 0])])
    frame.iloc[:, 0] = pd.NA
    with pytest.raises(ValueError, match="feature 0 has no values in X"):
        ExpertRoutingDisplay.from_estimator(moe, frame)
    cascade = SerialStack([("nb", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=4))],
                          exit_threshold=0.8, cv=3, random_state=0).fit(X, Y)
    for thresholds in ([0.5, np.nan], [-3, 7], ["a"]):
        with pytest.raises(ValueError, match="thresholds must be numbers in \\[0, 1\\]"):
            CascadeDisplay.from_estimator(cascade, X, Y, thresholds=thresholds)


def test_fusion_weights_drawn_twice_on_one_axes_keep_their_order():
    _, ax = plt.subplots()
    display = FusionWeightsDisplay([0.2, 0.3, 0.5], ["first", "second", "third"])
    for _ in range(2):
        display.plot(ax=ax)
        bars = sorted(display.bars_, key=lambda bar: bar.get_y())
        top_down = [bar.get_width() for bar in bars]
        assert ax.yaxis_inverted() and top_down == [0.2, 0.3, 0.5]


def test_expert_routing_display_gives_each_of_many_experts_its_colour():
    names = [f"expert{e}" for e in range(12)]
    grid = np.arange(12.0).reshape(3, 4)
    display = ExpertRoutingDisplay(grid, grid, np.arange(12).reshape(3, 4), np.full(12, 1 / 12),
                                   names, ("a", "b")).plot()
    colours = {tuple(h.get_facecolor()) for h in display.ax_.get_legend().legend_handles}
    assert len(colours) == 12


def test_expert_routing_display_holds_string_columns_at_their_most_frequent_value():
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from skfuse import MixtureOfExpertsClassifier

    rng = np.random.RandomState(0)
    frame = pd.DataFrame(rng.uniform(-2, 2, size=(300, 2)), columns=["g", "u"])
    frame["cat"] = pd.Categorical(np.where(rng.rand(300) > 0.3, "p", "q"))
    labels = np.where(frame["g"] * frame["u"] > 0, "hi", "lo")
    expert = make_pipeline(make_column_transformer((OneHotEncoder(), ["cat"]),
                                                   remainder="passthrough"),
                           LogisticRegression())
    moe = MixtureOfExpertsClassifier(expert, n_experts=2, top_k=1, gate_view=["g", "u"],
                                     random_state=0).fit(frame, labels)
    grids = []
    predict_gate = moe.predict_gate
    moe.predict_gate = lambda grid: grids.append(grid) or predict_gate(grid)
    display = ExpertRoutingDisplay.from_estimator(moe, frame, features=("g", "u"),
                                                  grid_resolution=6)
    del moe.predict_gate
    (grid,) = grids
    assert (grid["cat"] == "p").all() and grid["cat"].dtype == frame["cat"].dtype
    assert_allclose(grid["g"], display.xx0.ravel())
    point = pd.DataFrame({"g": [display.xx0[2, 4]], "u": [display.xx1[2, 4]],
                          "cat": pd.Categorical(["p"], categories=["p", "q"])})
    assert display.expert[2, 4] == moe.predict_gate(point).argmax()
    with pytest.raises(ValueError, match="feature 'cat' is not numeric"):
        ExpertRoutingDisplay.from_estimator(moe, frame, features=("g", "cat"))


def test_expert_routing_display_holds_integer_columns_at_a_value_they_hold():
    # An integer-coded category was held at its median, 2.5, which the Pipeline's
    # encoder refused ("unknown categories [2.5]").
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.uniform(-3, 3, 200), "b": rng.uniform(-3, 3, 200),
                          "store": np.repeat([1, 2, 3, 4], 50)})
    y = np.where(frame.a > 0, 3 * frame.b, -3 * frame.b) + frame.store
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["store"]), remainder="passthrough"),
        MixtureOfExpertsRegressor(Ridge(), n_experts=2, max_iter=5, random_state=0),
    ).fit(frame, y)
    display = ExpertRoutingDisplay.from_estimator(model, frame, features=("a", "b"),
                                                  grid_resolution=5)
    grid = pd.DataFrame({"a": display.xx0.ravel(), "b": display.xx1.ravel(),
                         "store": 2})  # the lower median of 1, 2, 3, 4
    expected = model[-1].predict_gate(model[0].transform(grid)).argmax(axis=1)
    assert_array_equal(display.expert.ravel(), expected)
    # A column of fractions keeps its median.
    from skfuse.plotting import _held_value

    for values, held in (([1.0, 2.0, 3.0, 4.0], 2.0), ([0.5, 1.0, 2.0, np.nan], 1.0),
                         ([0.5, 1.0, 2.0, 3.0], 1.5)):
        assert _held_value(np.array(values), np.array(values)) == held
    # Integers beyond float64's 2**53 are held at one of their own, not a rounded float.
    huge = pd.Series(np.int64(2**63 - 1) - 5 - np.arange(10))
    assert _held_value(huge, huge.to_numpy(float)) == huge.iloc[5]
    counts = pd.Series([1, 2, None, 4, 3], dtype="Int64")
    assert _held_value(counts, counts.to_numpy(float, na_value=np.nan)) == 2


def test_expert_routing_display_takes_a_pipeline_whose_first_step_records_nothing():
    # A stateless transformer has no n_features_in_: the display raised AttributeError,
    # where scikit-learn's DecisionBoundaryDisplay draws the same Pipeline.
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.pipeline import make_pipeline

    class Shift(TransformerMixin, BaseEstimator):
        def fit(self, X, y=None):
            return self

        def transform(self, X):
            return np.asarray(X) + 1.0

    rng = np.random.RandomState(0)
    X_two = rng.uniform(-3, 3, (200, 2))
    y = np.where(X_two[:, 0] > 0, 3 * X_two[:, 1], -3 * X_two[:, 1])
    model = make_pipeline(Shift(), MixtureOfExpertsRegressor(
        Ridge(), n_experts=2, max_iter=5, random_state=0)).fit(X_two, y)
    display = ExpertRoutingDisplay.from_estimator(model, X_two, grid_resolution=5)
    grid = np.c_[display.xx0.ravel(), display.xx1.ravel()]
    assert_array_equal(display.expert.ravel(),
                       model[-1].predict_gate(grid + 1.0).argmax(axis=1))
    with pytest.raises(ValueError, match="features must be two different columns"):
        ExpertRoutingDisplay.from_estimator(model, X_two, features=(0, 0))


def test_a_display_without_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        FusionWeightsDisplay([1.0], ["a"]).plot()
    # from_estimator says so before its work (here, before it looks at the estimator).
    for draw in (lambda: FusionWeightsDisplay.from_estimator(None),
                 lambda: CascadeDisplay.from_estimator(None, X, Y),
                 lambda: ExpertRoutingDisplay.from_estimator(None, X)):
        with pytest.raises(ImportError, match="pip install matplotlib"):
            draw()


def test_expert_routing_legend_gives_each_experts_share_of_the_gate_weight():
    moe = MixtureOfExpertsRegressor(Ridge(), n_experts=2, random_state=0).fit(X, X[:, 0])
    display = ExpertRoutingDisplay.from_estimator(moe, X, grid_resolution=5)
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == [f"{name}: {share:.0%} of the gate's weight (training)"
                      for name, share in zip(moe.named_experts_, moe.expert_usage_)]


def test_expert_routing_display_refuses_x_without_the_fitted_columns():
    pd = pytest.importorskip("pandas")
    moe = MixtureOfExpertsRegressor(Ridge(), n_experts=2, random_state=0).fit(X, X[:, 0])
    with pytest.raises(ValueError, match=r"X has shape \(300, 3\); .* fitted on 4 columns"):
        ExpertRoutingDisplay.from_estimator(moe, X[:, :3], features=(0, 2))
    frame = pd.DataFrame(X, columns=list("abcd"))
    named = clone(moe).fit(frame, X[:, 0])
    with pytest.raises(ValueError, match=r"X lacks the column\(s\) \['c'\]"):
        ExpertRoutingDisplay.from_estimator(named, frame.drop(columns="c"), features=("a", "b"))


def test_cascade_display_counts_rows_no_step_answers_as_the_cascade_does():
    # The second step's view is the last two columns; the first step's the first two.
    # Rows missing both views are answered by the training class frequencies.
    X_nan = X.copy()
    X_nan[:30, :] = np.nan
    X_nan[30:60, :2] = np.nan
    cascade = SerialStack([("nb", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=3))],
                          views={"nb": [0, 1], "tree": [2, 3]}, exit_threshold=0.8,
                          missing="prior", cv=3, random_state=0).fit(X_nan, Y)
    display = CascadeDisplay.from_estimator(cascade, X_nan, Y, thresholds=[0.8])
    route = cascade.predict_route(X_nan)
    assert (route == -1).sum() == 30
    assert_allclose(display.accuracies, [cascade.score(X_nan, Y)])
    assert_allclose(display.exit_rates, [np.mean(route[route >= 0] == 0)])
    with pytest.raises(ValueError, match="no row of X has the view of any step"):
        CascadeDisplay.from_estimator(cascade, X_nan[:30], Y[:30])


def test_displays_refuse_arguments_of_other_lengths():
    with pytest.raises(ValueError, match="3 weights but 2 names"):
        FusionWeightsDisplay([0.2, 0.3, 0.5], ["a", "b"]).plot()
    with pytest.raises(ValueError, match=r"no score for \['b'\]"):
        FusionWeightsDisplay([0.5, 0.5], ["a", "b"], member_scores={"a": 0.9}).plot()
    with pytest.raises(ValueError, match="selection_path has 2 rounds but selection_scores 3"):
        FusionWeightsDisplay([0.5, 0.5], ["a", "b"], selection_path=["a", "b"],
                             selection_scores=[0.1, 0.2, 0.3]).plot(kind="path")
    grid = np.zeros((2, 2))
    with pytest.raises(ValueError, match="2 usage shares but 1 names"):
        ExpertRoutingDisplay(grid, grid, grid, [0.5, 0.5], ["e0"], ("a", "b")).plot()
    with pytest.raises(ValueError, match="expert positions from 0 to 1"):
        ExpertRoutingDisplay(grid, grid, grid + 2, [0.5, 0.5], ["e0", "e1"], ("a", "b")).plot()


def test_expert_routing_display_says_when_x_has_no_rows():
    X = np.random.RandomState(0).uniform(-2, 2, size=(60, 2))
    moe = MixtureOfExpertsRegressor(Ridge(), n_experts=2, max_iter=3,
                                    random_state=0).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="X has no rows"):  # was "feature 0 ... all NaN"
        ExpertRoutingDisplay.from_estimator(moe, X[:0])


def test_displays_take_a_pipeline_or_a_search_ending_in_the_composite():
    # As scikit-learn's displays take a Pipeline: the composite is drawn, X going
    # through the earlier steps (the demo scales X before its mixture).
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_wide = X * [1.0, 100.0, 1.0, 0.01]
    fusion = make_pipeline(StandardScaler(), FusionClassifier(
        [("lr", LogisticRegression()), ("nb", GaussianNB())], weights="optimize", cv=3,
        random_state=0)).fit(X_wide, Y)
    drawn = FusionWeightsDisplay.from_estimator(fusion)
    assert_array_equal(drawn.weights, fusion[-1].weights_)
    # A FrozenEstimator (what a cascade or a distiller takes as fitted) is drawn through.
    frozen = FusionWeightsDisplay.from_estimator(FrozenEstimator(fusion))
    assert_array_equal(frozen.weights, fusion[-1].weights_)

    cascade = make_pipeline(StandardScaler(), SerialStack(
        [("nb", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=4))],
        exit_threshold=0.8, cv=3, random_state=0)).fit(X_wide, Y)
    piped = CascadeDisplay.from_estimator(cascade, X_wide, Y)
    alone = CascadeDisplay.from_estimator(cascade[-1], cascade[:-1].transform(X_wide), Y)
    assert_array_equal(piped.accuracies, alone.accuracies)
    assert_array_equal(piped.exit_rates, alone.exit_rates)
    frozen = CascadeDisplay.from_estimator(FrozenEstimator(cascade[-1]),
                                           cascade[:-1].transform(X_wide), Y)
    assert_array_equal(frozen.accuracies, alone.accuracies)

    mixture = make_pipeline(StandardScaler(), MixtureOfExpertsRegressor(
        Ridge(), n_experts=2, max_iter=3, random_state=0)).fit(X_wide, X[:, 0] * X[:, 1])
    search = GridSearchCV(mixture, {"mixtureofexpertsregressor__top_k": [1]}, cv=2)
    # A search over scaling or not leaves a "passthrough" first step.
    unscaled = GridSearchCV(mixture, {"standardscaler": ["passthrough"]}, cv=2)
    for given in (mixture, search.fit(X_wide, X[:, 0] * X[:, 1]),
                  unscaled.fit(X_wide, X[:, 0] * X[:, 1]), FrozenEstimator(mixture)):
        routed = ExpertRoutingDisplay.from_estimator(given, X_wide, features=(1, 3),
                                                     grid_resolution=5)
        # The grid spans the Pipeline's input, and the gate sees it scaled.
        assert_allclose(routed.xx0[0, [0, -1]], [X_wide[:, 1].min(), X_wide[:, 1].max()])
        grid = np.tile(np.median(X_wide, axis=0), (25, 1))
        grid[:, 1], grid[:, 3] = routed.xx0.ravel(), routed.xx1.ravel()
        fitted = getattr(given, "best_estimator_", getattr(given, "estimator", given))
        expected = fitted[-1].predict_gate(fitted[:-1].transform(grid)).argmax(axis=1)
        assert_array_equal(routed.expert.ravel(), expected)

    with pytest.raises(ValueError, match=r"\(or a Pipeline, a fitted search or a "
                                         r"FrozenEstimator ending in one\); got Pipeline "
                                         "ending in LogisticRegression"):
        FusionWeightsDisplay.from_estimator(make_pipeline(StandardScaler(),
                                                          LogisticRegression()).fit(X, Y))
    from sklearn.exceptions import NotFittedError

    for unfitted in (GridSearchCV(fusion, {"fusionclassifier__cv": [3]}),
                     GridSearchCV(fusion, {"fusionclassifier__cv": [3]}, refit=False).fit(X, Y),
                     make_pipeline(StandardScaler(), clone(fusion[-1]))):
        with pytest.raises(NotFittedError):
            FusionWeightsDisplay.from_estimator(unfitted)


def test_fusion_weights_display_takes_matplotlibs_style_keywords():
    # As scikit-learn's displays and CascadeDisplay do: the bars' and the path's style.
    fusion = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())],
                              weights="greedy", selection_rounds=3, cv=3).fit(X, Y)
    bars = FusionWeightsDisplay.from_estimator(fusion, color="green", alpha=0.5)
    assert all(bar.get_facecolor() == matplotlib.colors.to_rgba("green", 0.5)
               for bar in bars.bars_)
    path = bars.plot(kind="path", c="k", ls="--", label="mine")  # aliases as full names
    assert path.line_.get_color() == "k" and path.line_.get_linestyle() == "--"
    assert path.line_.get_label() == "mine"


def test_expert_routing_display_takes_a_colormap_and_its_legend_follows():
    names = ["a", "b", "c"]
    grid = np.arange(6.0).reshape(2, 3)
    expert = np.array([[0, 1, 2], [2, 1, 0]])
    display = ExpertRoutingDisplay(grid, grid, expert, np.full(3, 1 / 3), names,
                                   ("x", "y")).plot(cmap=matplotlib.colormaps["viridis"],
                                                    alpha=0.4)
    assert display.surface_.get_alpha() == 0.4
    drawn = display.surface_.to_rgba(display.surface_.get_array()).reshape(-1, 4)
    legend = [h.get_facecolor() for h in display.ax_.get_legend().legend_handles]
    # Each expert's cells have its legend colour (alpha aside), for a continuous map too.
    for e in range(3):
        cell = drawn[np.flatnonzero(expert.ravel() == e)[0]]
        assert_allclose(cell[:3], legend[e][:3])
    # from_estimator passes them on.
    rng = np.random.RandomState(0)
    X2 = rng.uniform(-2, 2, size=(200, 2))
    moe = MixtureOfExpertsRegressor(Ridge(), n_experts=2, top_k=1, random_state=0).fit(
        X2, np.where(X2[:, 0] > 0, X2[:, 1], -X2[:, 1]))
    fitted = ExpertRoutingDisplay.from_estimator(moe, X2, grid_resolution=5, alpha=0.3)
    assert fitted.surface_.get_alpha() == 0.3
