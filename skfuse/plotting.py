"""Pictures of fitted composites, as Display objects in scikit-learn's style.

Each Display computes what it shows in ``from_estimator`` and draws it with ``plot``
(``ax=`` to draw into an existing axes); the artists are kept as attributes.
matplotlib is optional: ``pip install matplotlib`` (skfuse's ``plot`` extra).
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._augment import _floats
from ._base import is_int
from ._views import pandas_frame, take_rows

__all__ = ["CascadeDisplay", "ExpertRoutingDisplay", "FusionWeightsDisplay"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skfuse.plotting needs matplotlib: pip install matplotlib (skfuse's "
            '"plot" extra: pip install -e ".[plot]" from a clone).'
        ) from exc
    return plt


def _axes(ax):
    if ax is None:
        _, ax = _pyplot().subplots()
    return ax


def _first_step(estimator):
    """The estimator that first sees ``X``: through a fitted search's best estimator,
    a ``FrozenEstimator``'s estimator and a Pipeline's first step that is not
    ``"passthrough"``."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import Pipeline

    from ._compat import BaseSearchCV

    while True:
        if isinstance(estimator, BaseSearchCV):
            estimator = estimator.best_estimator_
        elif isinstance(estimator, FrozenEstimator):
            estimator = estimator.estimator
        elif isinstance(estimator, Pipeline):
            estimator = next(step for _, step in estimator.steps
                             if step not in (None, "passthrough"))
        else:
            return estimator


def _ending_in(estimator, kinds, needs):
    """The fitted composite of ``kinds`` that ``estimator`` ends in, and a function
    that takes ``X`` to its input.

    ``estimator`` is the composite, a ``Pipeline`` whose last step ends in it (``X``
    then goes through the earlier steps' ``transform``), a fitted search whose
    ``best_estimator_`` does, or a ``FrozenEstimator`` of one of these. ``needs`` names
    the kinds in the error for any other.
    """
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import Pipeline

    from ._compat import BaseSearchCV

    given, heads = estimator, []
    while not isinstance(estimator, kinds):
        if isinstance(estimator, Pipeline) and estimator.steps:
            # Each earlier step in turn (the sliced Pipeline would ask whether its last
            # step is fitted, which a stateless transformer cannot tell).
            heads += [step for _, step in estimator.steps[:-1]
                      if step not in (None, "passthrough")]
            estimator = estimator.steps[-1][1]
        elif isinstance(estimator, BaseSearchCV):
            check_is_fitted(estimator, "best_estimator_")  # refit=False keeps none
            estimator = estimator.best_estimator_
        elif isinstance(estimator, FrozenEstimator):
            estimator = estimator.estimator
        else:
            what = type(given).__name__ if estimator is given else (
                f"{type(given).__name__} ending in {type(estimator).__name__}")
            raise ValueError(f"{needs} (or a Pipeline, a fitted search or a "
                             f"FrozenEstimator ending in one); got {what}.")

    def to_input(X):
        for step in heads:
            X = step.transform(X)
        return X

    return estimator, to_input


class FusionWeightsDisplay:
    """The weights of a ``FusionClassifier`` or ``FusionRegressor``, or its greedy path.

    ``kind="weights"`` draws one bar per member; ``kind="path"`` draws the out-of-fold
    score after each round of greedy selection, each point labelled with the member
    added, beside the best member's score alone.

    Parameters
    ----------
    weights : ndarray of shape (n_members,)
        The fusion weights, summing to 1.
    names : list of str
        The members' names.
    member_scores : dict of str to float, default=None
        Each member's out-of-fold score alone (learned weights), shown beside its bar.
    selection_path : list of str, default=None
        The member added in each greedy round (``selection_path_``).
    selection_scores : list of float, default=None
        The out-of-fold score after each greedy round (``selection_scores_``).

    Attributes
    ----------
    kind_ : {"weights", "path"}
        What the last call to ``plot`` drew.
    bars_ : matplotlib BarContainer
        The weights' bars (set when ``kind_`` is ``"weights"``).
    line_ : matplotlib Line2D
        The score after each round (set when ``kind_`` is ``"path"``).
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from skfuse import FusionClassifier
    >>> from skfuse.plotting import FusionWeightsDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> fusion = FusionClassifier([("lr", LogisticRegression(max_iter=500)),
    ...                            ("nb", GaussianNB())], weights="greedy").fit(X, y)
    >>> display = FusionWeightsDisplay.from_estimator(fusion)  # doctest: +SKIP
    >>> path = FusionWeightsDisplay.from_estimator(fusion, kind="path")  # doctest: +SKIP
    """

    def __init__(self, weights, names, member_scores=None, selection_path=None,
                 selection_scores=None):
        self.weights = weights
        self.names = names
        self.member_scores = member_scores
        self.selection_path = selection_path
        self.selection_scores = selection_scores

    @classmethod
    def from_estimator(cls, estimator, *, kind="weights", output=None, ax=None, **kwargs):
        """Plot the weights, or the greedy selection path, of a fitted fusion.

        Parameters
        ----------
        estimator : FusionClassifier or FusionRegressor
            Fitted; or a ``Pipeline``, a fitted search or a ``FrozenEstimator``
            ending in one.
        kind : {"weights", "path"}, default="weights"
            The weights as bars, or the greedy selection path (``weights="greedy"``).
        output : int, default=None
            Which output's weights to draw, for a ``FusionRegressor`` with
            ``output_weights="per_output"`` fitted on several outputs (required there);
            None otherwise.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
        **kwargs : dict
            Passed to :meth:`plot` (matplotlib's ``barh`` or ``plot``).

        Returns
        -------
        display : FusionWeightsDisplay
        """
        from ._fusion import FusionClassifier, FusionRegressor

        _pyplot()  # before any work, as scikit-learn's displays check
        estimator, _ = _ending_in(estimator, (FusionClassifier, FusionRegressor),
                                  "FusionWeightsDisplay needs a FusionClassifier or "
                                  "FusionRegressor")
        check_is_fitted(estimator, "weights_")
        weights = np.asarray(estimator.weights_)
        scores = getattr(estimator, "member_scores_", None)
        path = getattr(estimator, "selection_path_", None)
        path_scores = getattr(estimator, "selection_scores_", None)
        if weights.ndim == 2:
            if not (is_int(output) and 0 <= output < len(weights)):
                raise ValueError(
                    f"This fusion has one weight vector per output ({len(weights)}): pass "
                    f"output= an int from 0 to {len(weights) - 1}; got {output!r}.")
            weights = weights[output]
            scores = None if scores is None else {
                name: value[output] for name, value in scores.items()}
            path = None if path is None else path[output]
            path_scores = None if path_scores is None else path_scores[output]
        elif output is not None:
            raise ValueError("output= is for a fusion with one weight vector per output; "
                             "this one has one for all.")
        display = cls(weights, list(estimator.named_estimators_), scores, path, path_scores)
        return display.plot(ax=ax, kind=kind, **kwargs)

    def plot(self, ax=None, *, kind=None, **kwargs):
        """Draw the weights as horizontal bars, or the greedy selection path.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
        kind : {"weights", "path"}, default=None
            What to draw; ``"path"`` needs ``selection_path`` and ``selection_scores``.
            None draws what was drawn last (``kind_``), the weights the first time.
        **kwargs : dict
            Passed to matplotlib's ``barh`` for the bars (``color``, ``alpha``...) or
            ``plot`` for the path's line (``color``, ``linestyle``...).

        Returns
        -------
        display : FusionWeightsDisplay
        """
        if kind is None:
            kind = getattr(self, "kind_", "weights")
        if kind not in ("weights", "path"):
            raise ValueError(f'kind must be "weights" or "path"; got {kind!r}.')
        if kind == "path" and (self.selection_path is None or self.selection_scores is None):
            raise ValueError(
                'kind="path" needs the greedy selection path: fit the fusion with '
                'weights="greedy".'
            )
        self._check_lengths()
        ax = _axes(ax)
        if kind == "weights":
            self._plot_weights(ax, kwargs)
        else:
            self._plot_path(ax, kwargs)
        # The other kind's artist would point at what this call no longer draws.
        other = "line_" if kind == "weights" else "bars_"
        if hasattr(self, other):
            delattr(self, other)
        self.kind_, self.ax_, self.figure_ = kind, ax, ax.figure
        return self

    def _check_lengths(self):
        owner = type(self).__name__
        if len(self.names) != len(self.weights):
            raise ValueError(f"{owner}: {len(self.weights)} weights but {len(self.names)} "
                             "names; give one name per weight.")
        unscored = [] if self.member_scores is None else [
            name for name in self.names if name not in self.member_scores]
        if unscored:
            raise ValueError(f"{owner}: member_scores has no score for {unscored!r}.")
        if (self.selection_path is not None and self.selection_scores is not None
                and len(self.selection_path) != len(self.selection_scores)):
            raise ValueError(f"{owner}: selection_path has {len(self.selection_path)} "
                             f"rounds but selection_scores {len(self.selection_scores)}; "
                             "give one score per round.")

    def _plot_weights(self, ax, kwargs):
        from matplotlib.cbook import normalize_kwargs
        from matplotlib.patches import Rectangle

        bars = {"color": "tab:blue", **normalize_kwargs(kwargs, Rectangle)}
        self.bars_ = ax.barh(self.names, self.weights, **bars)
        if self.member_scores is not None:
            labels = [f"alone: {self.member_scores[name]:.3g}" for name in self.names]
            ax.bar_label(self.bars_, labels=labels, padding=3, fontsize="small")
        ax.set_xlim(0, max(1.0, float(np.max(self.weights)) * 1.4))
        if not ax.yaxis_inverted():  # the first member on top, however often drawn
            ax.invert_yaxis()
        ax.set_xlabel("weight")
        ax.set_title("fusion weights")

    def _plot_path(self, ax, kwargs):
        from matplotlib.cbook import normalize_kwargs
        from matplotlib.lines import Line2D

        rounds = np.arange(1, len(self.selection_scores) + 1)
        line = {"marker": "o", "color": "tab:blue", "label": "fused, out of fold",
                **normalize_kwargs(kwargs, Line2D)}
        (self.line_,) = ax.plot(rounds, self.selection_scores, **line)
        for x, score, name in zip(rounds, self.selection_scores, self.selection_path):
            ax.annotate(name, (x, score), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize="x-small", rotation=90)
        if self.member_scores is not None:
            best = max(self.member_scores, key=self.member_scores.get)
            ax.axhline(self.member_scores[best], color="tab:gray", linestyle="--",
                       label=f"best member alone ({best})")
            ax.legend(loc="lower right")
        ax.set_xlabel("greedy round (member added)")
        ax.set_ylabel("out-of-fold score")
        ax.set_title("greedy selection path")


class CascadeDisplay:
    """A cascade's exit rate at its first step against its accuracy, as the threshold moves.

    Parameters
    ----------
    thresholds : ndarray of shape (n_thresholds,)
        Thresholds of the first step.
    exit_rates : ndarray of shape (n_thresholds,)
        Share of the rows that leave at the first step, at each threshold.
    accuracies : ndarray of shape (n_thresholds,)
        The cascade's accuracy at each threshold (later thresholds as fitted).
    fitted_threshold : float
        The first step's threshold in the fitted cascade, marked on the curve.
    name : str, default=None
        The curve's label in the legend, to tell cascades drawn on one axes apart.

    Attributes
    ----------
    line_ : matplotlib Line2D
    marker_ : matplotlib Line2D
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, thresholds, exit_rates, accuracies, fitted_threshold, *, name=None):
        self.thresholds = thresholds
        self.exit_rates = exit_rates
        self.accuracies = accuracies
        self.fitted_threshold = fitted_threshold
        self.name = name

    @classmethod
    def from_estimator(cls, estimator, X, y, *, sample_weight=None, thresholds=None,
                       ax=None, name=None, **kwargs):
        """Sweep the first step's threshold of a fitted cascade on ``(X, y)``.

        Each step's probabilities on ``X`` are computed once
        (:meth:`~skfuse.SerialStack.predict_step_proba`); the route of every row is then
        found for each threshold by the cascade's own exit rule (later steps keep their
        fitted thresholds). A row where no step has its view (``missing="prior"``)
        counts in the accuracy with the cascade's answer there, the most frequent
        training class, and not in the exit rates, as in ``exit_rates_``.

        Parameters
        ----------
        estimator : SerialStack
            A fitted cascade (``exit_threshold`` set); or a ``Pipeline``, a fitted
            search or a ``FrozenEstimator`` ending in one (``X`` then goes through the
            Pipeline's earlier steps).
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the accuracies (exit rates stay shares of the rows).
        thresholds : array-like, default=None
            Thresholds to try, numbers in [0, 1]; 51 from 0 to 1 when None. The fitted
            threshold is always added, so the marker shows the cascade as fitted.
        ax : matplotlib Axes, default=None
        name : str, default=None
            The curve's label in the legend.
        **kwargs : dict
            Passed to matplotlib's ``plot`` for the curve (``color``, ``linestyle``...).

        Returns
        -------
        display : CascadeDisplay
        """
        from sklearn.metrics import accuracy_score
        from sklearn.utils.multiclass import unique_labels
        from sklearn.utils.validation import check_consistent_length

        from ._cascade import answers_without_exits, last_present_step, route_of_proba
        from ._serial import SerialStack

        _pyplot()
        estimator, to_input = _ending_in(estimator, SerialStack, "CascadeDisplay needs a "
                                         "SerialStack cascade (exit_threshold set)")
        check_is_fitted(estimator)
        if not hasattr(estimator, "exit_thresholds_"):
            raise ValueError("CascadeDisplay needs a cascade; this SerialStack was fitted "
                             "as a stack (exit_threshold=None).")
        check_consistent_length(X, y, sample_weight)
        try:  # codes for a cascade of strings, say
            unique_labels(y, estimator.classes_)
        except ValueError as exc:
            raise ValueError(
                f"CascadeDisplay: y holds labels of another type than the cascade's "
                f"classes_ {estimator.classes_.tolist()!r}; pass y as given to fit "
                f"({exc})."
            ) from None
        X = to_input(X)
        proba = estimator.predict_step_proba(X)
        present = ~np.isnan(proba[:, :, 0])
        answerable = present.any(axis=0)
        if not answerable.any():
            raise ValueError("CascadeDisplay: no row of X has the view of any step.")
        # The cascade's own answer where no step can answer (its missing="error" raises).
        unanswered = None if answerable.all() else estimator.predict(
            _rows(X, np.flatnonzero(~answerable)))
        present = None if present.all() else present
        # A row that leaves a step by its confidence takes the class the step ranks
        # first; one that reaches its last present step what that step predicts, which
        # the cascade answers with where no row leaves early.
        top_class = estimator.classes_[np.nan_to_num(proba, nan=0.0).argmax(axis=2)]
        at_last = answers_without_exits(estimator, X)
        last = last_present_step(present, proba.shape[0], proba.shape[1])
        thresholds = np.linspace(0, 1, 51) if thresholds is None else _thresholds(thresholds)
        thresholds = np.union1d(thresholds, estimator.exit_thresholds_[:1])
        rows = np.arange(proba.shape[1])
        exit_rates, accuracies = [], []
        for t in thresholds:
            chosen = np.r_[t, estimator.exit_thresholds_[1:]]
            route = route_of_proba(proba, chosen, present)
            predicted = np.where(route == last, at_last, top_class[route, rows])
            if unanswered is not None:
                predicted[~answerable] = unanswered
            exit_rates.append(np.mean(route[answerable] == 0))
            accuracies.append(accuracy_score(y, predicted, sample_weight=sample_weight))
        display = cls(thresholds, np.array(exit_rates), np.array(accuracies),
                      float(estimator.exit_thresholds_[0]), name=name)
        return display.plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw accuracy against the first step's exit rate.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        name : str, default=None
            The curve's label in the legend; None keeps the display's ``name``.
        **kwargs : dict
            Passed to matplotlib's ``plot`` for the curve (``color``, ``linestyle``...);
            the fitted threshold's marker takes the curve's colour when one is given.

        Returns
        -------
        display : CascadeDisplay
        """
        ax = _axes(ax)
        from matplotlib.cbook import normalize_kwargs
        from matplotlib.lines import Line2D

        name = self.name if name is None else name
        # matplotlib's aliases (ms, c, ls...) as their full names, so that a user's
        # ms= replaces the default markersize rather than clash with it.
        kwargs = normalize_kwargs(kwargs, Line2D)
        line = {"marker": "o", "markersize": 3, **kwargs}
        if name is not None:
            line.setdefault("label", name)
        (self.line_,) = ax.plot(self.exit_rates, self.accuracies, **line)
        at = int(np.argmin(np.abs(np.asarray(self.thresholds, dtype=float)
                                  - self.fitted_threshold)))
        fitted = f"fitted threshold {self.fitted_threshold:.4g}"
        (self.marker_,) = ax.plot(self.exit_rates[at], self.accuracies[at], "*",
                                  markersize=14, color=self.line_.get_color()
                                  if "color" in kwargs else "tab:red",
                                  label=fitted if name is None else f"{name}: {fitted}")
        ax.set_xlabel("rows answered by the first step")
        ax.set_ylabel("accuracy")
        ax.legend(loc="lower left")
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _rows(X, rows):
    """The rows ``rows`` of ``X``: an array, a (pandas or polars) frame, or a list."""
    X = pandas_frame(X)
    return take_rows(X, rows) if hasattr(X, "shape") else [X[i] for i in rows]


def _thresholds(thresholds):
    """Thresholds to sweep, as numbers in [0, 1] (as ``exit_threshold`` takes)."""
    try:
        values = np.asarray(thresholds, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        values = None
    if values is None or not np.all((values >= 0) & (values <= 1)):  # NaN fails too
        raise ValueError(f"thresholds must be numbers in [0, 1]; got {thresholds!r}.")
    return values


def _feature_position(feature, names, n_features):
    """The column position of ``feature``: an int below ``n_features``, or a name in
    ``names``."""
    if isinstance(feature, str):
        if names is None or feature not in list(names):
            raise ValueError(f"feature {feature!r} is not a column the estimator was "
                             "fitted on (a name needs a model fitted on a DataFrame).")
        return list(names).index(feature)
    if not (is_int(feature) and 0 <= feature < n_features):
        raise ValueError(f"feature {feature!r} is not a column position from 0 to "
                         f"{n_features - 1}, or a column name.")
    return int(feature)


def _two_features(features, names, n_features):
    """The positions of two different features (:func:`_feature_position`)."""
    if isinstance(features, str) or not hasattr(features, "__len__") or len(features) != 2:
        raise ValueError(f"features must be two columns (positions or names); got "
                         f"{features!r}.")
    f0, f1 = (_feature_position(f, names, n_features) for f in features)
    if f0 == f1:
        raise ValueError(f"features must be two different columns; got {features!r}.")
    return f0, f1


def _held_value(column, values):
    """A numeric column's value on the grid: its median (NaN left out), or for a column
    of whole numbers (counts, integer-coded categories) its lower median, a value it
    holds, so that an encoder later in a Pipeline knows it. ``values`` is the column as
    floats; an integer column's own values are sorted (floats round beyond 2**53)."""
    dtype = getattr(column, "dtype", None)
    if dtype is not None and dtype.kind in "iub":
        held = np.sort(np.asarray(column.dropna() if hasattr(column, "dropna") else column))
        return held[(held.size - 1) // 2] if held.size else np.nan
    finite = values[np.isfinite(values)]
    if finite.size and np.all(finite == np.round(finite)):
        return np.quantile(finite, 0.5, method="lower")
    return np.nanmedian(values)


def _routing_grid(X, f0, f1, resolution, names):
    """The grid of features ``f0`` and ``f1`` over their range in ``X`` (NaN left out):
    ``(xx0, xx1, rows)``, the other columns held at :func:`_held_value`, or at their
    most frequent value for a DataFrame's string or categorical columns (in their dtype).
    The rows are a frame of the fitted columns when ``names`` (a frame ``X`` then in
    that order)."""
    if hasattr(X, "columns"):
        from pandas.api.types import is_numeric_dtype

        columns = [X.iloc[:, j] for j in range(X.shape[1])]
        numeric = [is_numeric_dtype(column.dtype) for column in columns]
    else:
        try:
            columns = list(np.asarray(X, dtype=np.float64).T)
        except (TypeError, ValueError) as exc:
            raise ValueError("ExpertRoutingDisplay needs numeric X, or a DataFrame with "
                             f"the fitted columns ({exc}).") from None
        numeric = [True] * len(columns)
    labels = list(X.columns) if hasattr(X, "columns") else list(range(len(columns)))
    for f in (f0, f1):
        if not numeric[f]:
            raise ValueError(f"feature {labels[f]!r} is not numeric; the grid needs two "
                             "numeric features.")
    floats = [_floats(column) if kind else None for column, kind in zip(columns, numeric)]
    if len(floats[f0]) == 0:
        raise ValueError("X has no rows: the grid spans the values of X's rows.")
    for f in (f0, f1):
        if np.isnan(floats[f]).all():
            raise ValueError(f"feature {labels[f]!r} has no values in X (all NaN).")
    xx0, xx1 = np.meshgrid(*(np.linspace(np.nanmin(floats[f]), np.nanmax(floats[f]),
                                         resolution) for f in (f0, f1)))
    held = []
    for j, (column, values) in enumerate(zip(columns, floats)):
        if j in (f0, f1):
            held.append((xx0 if j == f0 else xx1).ravel())
        elif values is not None:
            value = _held_value(column, values)
            held.append(np.full(xx0.size, value, dtype=np.asarray(value).dtype))
        else:
            common = column.mode(dropna=True)
            value = common.iloc[0] if len(common) else column.iloc[0]
            held.append(np.array([value] * xx0.size, dtype=object))
    if names is None:
        return xx0, xx1, np.column_stack(held)
    import pandas as pd

    rows = pd.DataFrame(dict(zip(names, held)))
    for j, (column, kind, name) in enumerate(zip(columns, numeric, names)):
        if not hasattr(column, "dtype") or j in (f0, f1):
            continue
        if not kind or column.dtype.kind in "iub":  # categories and integers as fitted
            rows[name] = rows[name].astype(column.dtype)
    return xx0, xx1, rows


class ExpertRoutingDisplay:
    """How a mixture's gate partitions two features among its experts.

    Parameters
    ----------
    xx0, xx1 : ndarray of shape (grid_resolution, grid_resolution)
        The grid of the two features.
    expert : ndarray of shape (grid_resolution, grid_resolution)
        The gate's top expert at each grid point.
    usage : ndarray of shape (n_experts,)
        Each expert's share of the routed gate weight on the training rows
        (``expert_usage_``), shown in the legend.
    names : list of str
        The experts' names.
    feature_names : tuple of str
        Names of the two features.

    Attributes
    ----------
    surface_ : matplotlib QuadMesh
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, xx0, xx1, expert, usage, names, feature_names):
        self.xx0, self.xx1, self.expert = xx0, xx1, expert
        self.usage = usage
        self.names = names
        self.feature_names = feature_names

    @classmethod
    def from_estimator(cls, estimator, X, *, features=(0, 1), grid_resolution=100, ax=None,
                       **kwargs):
        """Colour a grid of two features by the gate's top expert.

        The other features are held at their medians in ``X`` (the lower median, a
        value the column holds, for a column of whole numbers such as integer-coded
        categories; the most frequent value of a DataFrame's string or categorical
        column).

        Parameters
        ----------
        estimator : MixtureOfExpertsRegressor or MixtureOfExpertsClassifier
            Fitted; or a ``Pipeline``, a fitted search or a ``FrozenEstimator`` ending
            in one: the grid is then in the units of the Pipeline's input, and goes
            through its earlier steps to the gate.
        X : array-like or DataFrame of shape (n_samples, n_features)
            Data that set the grid's range and the other columns' values: numeric, or a
            DataFrame with the fitted columns.
        features : tuple of two int or str, default=(0, 1)
            Two different numeric columns of ``X``: positions, or names for an
            estimator fitted on a DataFrame. NaN in ``X`` are left out of the grid's
            range and medians.
        grid_resolution : int, default=100
            Points along each axis of the grid, at least 2.
        ax : matplotlib Axes, default=None
        **kwargs : dict
            Passed to :meth:`plot` (matplotlib's ``pcolormesh``).

        Returns
        -------
        display : ExpertRoutingDisplay
        """
        from ._mixture import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor

        _pyplot()
        given = estimator
        estimator, to_input = _ending_in(
            estimator, (MixtureOfExpertsClassifier, MixtureOfExpertsRegressor),
            "ExpertRoutingDisplay needs a MixtureOfExpertsRegressor or "
            "MixtureOfExpertsClassifier")
        check_is_fitted(estimator, "experts_")
        if not (is_int(grid_resolution) and grid_resolution >= 2):
            raise ValueError("ExpertRoutingDisplay: grid_resolution must be an int of at "
                             f"least 2; got {grid_resolution!r}.")
        # The columns are those X is given in: a Pipeline's input, if any. A first
        # step that records no input (a stateless transformer) takes X as given.
        first = _first_step(given)
        X = pandas_frame(X)  # as the estimator takes it
        names = getattr(first, "feature_names_in_", None)
        n_features = getattr(first, "n_features_in_", None)
        if n_features is None:
            names = None if names is None and not hasattr(X, "columns") else (
                np.asarray(X.columns, dtype=object) if names is None else names)
            n_features = len(names) if names is not None else np.shape(X)[-1]
        f0, f1 = _two_features(features, names, n_features)
        if names is not None and hasattr(X, "columns"):
            absent = [name for name in names if name not in set(X.columns)]
            if absent:
                raise ValueError("ExpertRoutingDisplay: X lacks the column(s) "
                                 f"{absent!r} the estimator was fitted on.")
            X = X[list(names)]  # the fitted order, whatever the frame's
        else:
            shape = np.shape(X)
            if len(shape) != 2 or shape[1] != n_features:
                raise ValueError(f"ExpertRoutingDisplay: X has shape {shape}; the "
                                 f"estimator was fitted on {n_features} columns.")
        xx0, xx1, grid = _routing_grid(X, f0, f1, grid_resolution, names)
        gate = estimator.predict_gate(to_input(grid))
        expert = gate.argmax(axis=1).reshape(xx0.shape)
        feature_names = (f"feature {f0}", f"feature {f1}") if names is None else (
            names[f0], names[f1])
        display = cls(xx0, xx1, expert, np.asarray(estimator.expert_usage_),
                      list(estimator.named_experts_), feature_names)
        return display.plot(ax=ax, **kwargs)

    def plot(self, ax=None, **kwargs):
        """Draw the partition, with each expert's share of the gate's weight on the
        training rows (``usage``) in the legend.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        **kwargs : dict
            Passed to matplotlib's ``pcolormesh`` (``alpha``, ``cmap``...); the legend
            takes its colours from ``cmap`` (a name or a colormap) when one is given.

        Returns
        -------
        display : ExpertRoutingDisplay
        """
        plt = _pyplot()
        n = len(self.names)
        if len(self.usage) != n:
            raise ValueError(f"ExpertRoutingDisplay: {len(self.usage)} usage shares but "
                             f"{n} names; give one name per expert.")
        experts = np.asarray(self.expert)
        if experts.size and not (np.all(experts == np.round(experts))
                                 and 0 <= experts.min() and experts.max() < n):
            raise ValueError("ExpertRoutingDisplay: expert must hold expert positions "
                             f"from 0 to {n - 1}, one per name.")
        ax = _axes(ax)
        # A colour for each expert: the qualitative maps up to 20, a spectrum beyond.
        cmap = kwargs.pop("cmap", None) or (
            "tab10" if n <= 10 else "tab20" if n <= 20 else "turbo")
        cmap = plt.get_cmap(cmap).resampled(n)  # one colour per expert, as in the legend
        mesh = {"vmin": -0.5, "vmax": n - 0.5, "shading": "auto", **kwargs}
        self.surface_ = ax.pcolormesh(self.xx0, self.xx1, self.expert, cmap=cmap, **mesh)
        handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(e)) for e in range(n)]
        ax.legend(handles, [f"{name}: {share:.0%} of the gate's weight (training)"
                            for name, share in zip(self.names, self.usage)],
                  loc="upper right", fontsize="small")
        ax.set_xlabel(self.feature_names[0])
        ax.set_ylabel(self.feature_names[1])
        ax.set_title("top expert of the gate")
        self.ax_, self.figure_ = ax, ax.figure
        return self
