"""Serial fusion: the public :class:`SerialStack`, over two engines.

Stacking lives in :mod:`skfuse._stack`, the cascade in :mod:`skfuse._cascade`; this
module holds what they share: the steps, their parameters, validation, tags, the folds
and the dispatch of ``fit`` and the predict methods to the engine in use.
"""

import dataclasses
import os
import time
import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Memory
from sklearn import get_config
from sklearn.base import TransformerMixin, is_classifier, is_regressor
from sklearn.utils import Bunch, TransformerTags, check_random_state, get_tags
from sklearn.utils.metadata_routing import process_routing
from sklearn.utils.validation import check_is_fitted

from . import _cascade, _stack
from ._available import available_if
from ._base import (
    Composite,
    any_non_deterministic,
    atomic_fit,
    check_sample_weight,
    check_sample_weight_support,
    default_score,
    is_pair,
    member_proba,
    numeric_target,
    one_per_row,
    refuse_estimator_class,
    refuse_kernel_members,
    refuse_non_finite_step,
    seed_estimator,
    seeds_by_name,
    takes_multi_output,
)
from ._compat import (
    Interval,
    InvalidParameterError,
    StrOptions,
    _fit_context,
    _VisualBlock,
)
from ._tasks import is_frozen, report, report_fit_time
from ._views import check_views, resolve_view, take_view, takes_nan
from ._warnings import one_names_warning
from .exceptions import FrozenMemberWarning


def _skipped(step):
    """Whether a step is skipped: ``"drop"`` or ``"passthrough"``, as a ``Pipeline``
    skips a step and ``StackingClassifier`` drops a member."""
    return isinstance(step, str) and step in ("drop", "passthrough")


def _cascade_only(method):
    """An ``available_if`` check: ``method`` exists only for a cascade, and says so."""

    def check(stack):
        if not stack._is_cascade():
            raise AttributeError(
                f"{method} is not available when exit_threshold=None (a stack, not a "
                "cascade)"
            )
        return True

    return check


def _stack_only(method, refits=False, columns=True):
    """An ``available_if`` check: ``method`` exists only for a stack, and says so. A
    method that ``refits`` (``fit_transform``) follows the parameters; the others the
    fitted estimator once fitted (:meth:`SerialStack._is_cascade`). A method that gives
    ``columns`` (``transform``, feature names) does not exist for a one-step stack on
    one object per row; the final step's own methods do."""

    def check(stack):
        if (stack.exit_threshold is not None) if refits else stack._is_cascade():
            raise AttributeError(
                f"{method} is not available when exit_threshold is set (a cascade, not "
                "a stack)"
            )
        if (columns and not refits and len(getattr(stack, "steps_", ())) == 1
                and getattr(stack, "_row_objects_", False)):
            # A one-step stack hands its step X as it is: texts have no columns.
            raise AttributeError(
                f"{method} is not available for a one-step stack fitted on one object "
                "per row (1-D X): it passes X on as it is, which has no columns"
            )
        return True

    return check


def _final_has(method):
    """An ``available_if`` check: a stack whose final step (the fitted one, once
    fitted) has ``method``."""

    def check(stack):
        _stack_only(method, columns=False)(stack)
        name, final = stack._final_step()
        _require_step_method(final, method, f"the final step {name!r}")
        return True

    return check


def _require_step_method(step, method, which):
    """Raise an ``AttributeError`` saying that ``which`` step lacks ``method``, chained to
    the step's own, whose cause may say why (``SVC(probability=False)``)."""
    try:
        getattr(step, method)
    except AttributeError as inner:
        raise AttributeError(
            f"{method} is not available when {which} ({type(step).__name__}) has no "
            f"{method}"
        ) from inner


class SerialStack(TransformerMixin, Composite):
    """Serial fusion: multi-level stacking, or a cascade with early exit.

    **Stacking** (``exit_threshold=None``): each non-final step is fitted out-of-fold,
    its out-of-fold output is the next step's input, and it is then refitted on all
    rows; the last step is fitted on the previous step's out-of-fold output. Each member
    is fitted ``cv + 1`` times, whatever the number of levels. The stack is a classifier
    or a regressor as its last step is.

    **Cascade** (``exit_threshold`` set; classification): every step sees ``X``. At
    predict time a row leaves at the first step whose top class probability exceeds
    that step's threshold, with that class; the last step answers the rows still left
    with its ``predict`` (a tuned decision threshold holds there). Later steps only run
    on the rows that reach them. The steps need ``predict_proba``, but the last, which
    may answer with ``predict`` alone (an ``SVC``); the cascade then has no
    ``predict_proba``.

    Parameters
    ----------
    steps : list of (str, estimator)
        The levels in order, as in :class:`~sklearn.pipeline.Pipeline`; the last is the
        final estimator. A level may be any composite, such as a ``FusionClassifier``.
        A step other than the last may be ``"drop"`` or ``"passthrough"``: it is
        skipped, as if it were not listed (a search can compare depths).
    cv : int, cross-validation generator, iterable or None, default=5
        Splits for the out-of-fold outputs, fixed once so that every level sees the same
        folds. An int (None: 5) gives ``StratifiedKFold`` for a classifier, ``KFold`` otherwise.
        Test folds must be disjoint; rows that none tests (a forward-chaining
        ``TimeSeriesSplit``) are left out of what is fitted on out-of-fold outputs
        (see ``n_oof_samples_``).
    passthrough : bool or columns, default=False
        Stacking: also feed these raw columns of ``X`` (``True``: all) to every level
        after the first. Columns are given as for a view (names, positions, a slice, a
        mask or a callable). They follow the level's outputs as an array: floats, or
        objects when a frame's columns hold strings or categories. Not used by a
        cascade.
    views : dict of str to columns, default=None
        The columns of ``X`` a step sees, by step name (names, positions, a slice, a
        mask or a callable such as :func:`~sklearn.compose.make_column_selector`);
        a step without one sees all of ``X``. In a cascade any step may have a view;
        in a stack only the first step sees ``X``, so only it may.

        Missing modalities (cascade): a row whose whole view is missing (every entry
        NaN, or None in object columns) is missing for a step given a view. The step is
        trained only on rows that have its view and is not asked about rows that lack it;
        such a row goes on to the next step, and the last step that has the row's
        view answers it. A view missing on part of a row's entries is refused for a
        step that does not take NaN. In a stack, a first level that is a
        ``FusionClassifier`` with views fuses modalities that may be missing; pass
        ``stack_method="predict_proba"`` for its renormalised probabilities (its
        ``transform`` is NaN for a member that is missing).
    missing : {"error", "prior"}, default="error"
        Cascade: what to predict for a row where no step has its view. ``"error"``
        raises, in ``fit`` as in ``predict``; ``"prior"`` predicts the training class
        frequencies (weighted by ``sample_weight``), with route -1, and ``fit`` leaves
        such rows out of the thresholds and exit rates.
    stack_method : {"auto", "transform", "predict_proba", "decision_function", \
            "predict"} or dict, default="auto"
        Stacking: which output of a non-final step the next level sees. ``"auto"``
        takes the first the step has, in that order, but a ``SerialStack`` step
        passes its probabilities (else its decision values, else its
        predictions), not its ``transform``; a ``FusionClassifier`` level
        passes on each member's own first of ``predict_proba``,
        ``decision_function`` and ``predict``, as ``StackingClassifier``'s
        ``"auto"`` does (its ``"transform"`` passes the level's vote: every member's
        probabilities, tempered as the level's ``transform`` gives them, or class
        positions under hard voting). With two classes a set
        of probabilities loses its first column. A dict maps step names to methods.
    exit_threshold : float, list of float, "auto" or None, default=None
        None: stacking. Otherwise a cascade: one threshold for every non-final step, a
        list with one per non-final step (a skipped step's entry, a number in [0, 1]
        like the others, unused), or ``"auto"``:
        the lowest thresholds (most
        early exits) at and above which the cascade's out-of-fold accuracy stays within
        ``cascade_tolerance`` of the last step's, with confidence
        ``cascade_confidence``. A threshold of 1.0 lets no row exit.
    cascade_fit : {"deferred", "all"}, default="deferred"
        ``"deferred"``: each step after the first is trained on the rows that the
        steps before it defer (by their out-of-fold confidence) when at least
        ``max(20, 2 * n_splits)`` rows and two classes are deferred (in every training
        fold) and its out-of-fold accuracy on those rows, trained on them alone, is at
        least that of its fit on all rows, with confidence ``cascade_confidence``;
        otherwise it is trained on all rows. ``"all"``: every step is trained on every
        row.
    cascade_tolerance : float, default=0.005
        For ``exit_threshold="auto"``: the out-of-fold accuracy the cascade may lose
        against its last step.
    cascade_confidence : float in [0.5, 1), default=0.99
        For ``exit_threshold="auto"``: a threshold is accepted only when the one-sided
        lower confidence bound, at this level, on the paired per-row difference between
        the cascade's out-of-fold correctness and the last step's is at least
        ``-cascade_tolerance``; for ``cascade_fit="deferred"``, a step keeps its
        deferred fit only when the bound on its paired gain over the all-rows fit, on
        the deferred rows, is at least 0. 0.5 compares the out-of-fold means alone.
        The bound counts ``sample_weight`` as rows (a weight of 2 is the row twice):
        give relative weights a mean of 1.
        The default, 0.99, puts the bound sqrt(2) x 1.645 standard errors below the
        mean: at 95% it also covers the noise of a new sample as large as the
        out-of-fold one (measured in the user guide's section on confidence cascades).
    n_jobs : int, default=None
        Jobs for the fits of a level (its folds and refit: one flat joblib task list).
    verbose : int, default=0
        With 1 or more, ``fit`` prints a line for each step fit and each fold, in
        task order as the results arrive, with the seconds it took; a cascade then
        prints the thresholds it chose, the out-of-fold exit rates and (with
        ``cascade_fit="deferred"``) what each step was trained on; last, the whole
        fit's time.
    memory : str, path-like, joblib.Memory or None, default=None
        Caches each step fit and out-of-fold output (see ``FusionClassifier``).
    random_state : int, RandomState instance or None, default=None
        Seeds the steps' unset ``random_state`` parameters (not those inside a skfuse
        composite with its own seed, which seeds them) and a ``cv`` that shuffles. A
        step's seeds depend on ``random_state`` and its name alone, not on the other
        steps.

    Attributes
    ----------
    steps_ : list of (str, estimator)
        The fitted steps (skipped steps left out; the per-step attributes below count
        only these).
    named_steps_ : :class:`~sklearn.utils.Bunch`
        The fitted steps by name.
    classes_ : ndarray of shape (n_classes,)
        The class labels (classifier stacks).
    exit_thresholds_ : ndarray of shape (n_steps - 1,)
        The thresholds used (cascade only).
    exit_rates_ : ndarray of shape (n_steps,)
        Out-of-fold share of the rows that each step answers (cascade only), among
        the rows where some step has its view, weighted by ``sample_weight``; a step
        trained on its deferred rows answers by its own out-of-fold outputs there.
    cascade_fit_ : list of str
        For ``cascade_fit="deferred"``: how each step was trained, ``"deferred"`` or
        ``"all"`` (cascade only).
    n_oof_samples_ : int
        Rows the out-of-fold outputs cover (rows of ``sample_weight`` 0 counted,
        though they weigh nothing). Stacking: the rows the final step was
        fitted on (every level predicted them out of fold). Cascade: the rows the
        thresholds (``"auto"``), exit rates and deferred training were judged on.
        A forward-chaining ``cv`` (``TimeSeriesSplit``) never tests its first rows,
        and each further level loses its first test fold; the first level (every
        cascade step) is still fitted on every row.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Names of the features seen during fit, when ``X`` has string column names.

    See Also
    --------
    FusionClassifier : Parallel fusion, usable as a level.
    sklearn.ensemble.StackingClassifier : One level of stacking.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skfuse import FusionClassifier, SerialStack
    >>> X, y = load_iris(return_X_y=True)
    >>> level = FusionClassifier([("nb", GaussianNB()),
    ...                           ("tree", DecisionTreeClassifier(random_state=0))])
    >>> stack = SerialStack([("fusion", level), ("final", LogisticRegression())], cv=3)
    >>> stack.fit(X, y).predict(X[:2])
    array([0, 0])
    >>> cascade = SerialStack([("cheap", GaussianNB()),
    ...                        ("costly", LogisticRegression(max_iter=1000))],
    ...                       exit_threshold=0.99, cv=3).fit(X, y)
    >>> cascade.predict_route(X[:3])
    array([0, 0, 0])
    """

    _members = "steps"
    _parameter_constraints: dict = {
        "steps": [list, tuple],
        "cv": ["cv_object"],
        "passthrough": ["boolean", "array-like", slice, str, Integral, callable],
        "views": [None, dict],
        "missing": [StrOptions({"error", "prior"})],
        "stack_method": [StrOptions({"auto", *_stack.METHODS}), dict],
        "exit_threshold": [None, Interval(Real, 0, 1, closed="both"), "array-like",
                           StrOptions({"auto"})],
        "cascade_fit": [StrOptions({"deferred", "all"})],
        "cascade_tolerance": [Interval(Real, 0, None, closed="left")],
        "cascade_confidence": [Interval(Real, 0.5, 1, closed="left")],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
        "memory": [None, str, os.PathLike, Memory],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        steps,
        *,
        cv=5,
        passthrough=False,
        views=None,
        missing="error",
        stack_method="auto",
        exit_threshold=None,
        cascade_fit="deferred",
        cascade_tolerance=0.005,
        cascade_confidence=0.99,
        n_jobs=None,
        verbose=0,
        memory=None,
        random_state=None,
    ):
        self.steps = steps
        self.cv = cv
        self.passthrough = passthrough
        self.views = views
        self.missing = missing
        self.stack_method = stack_method
        self.exit_threshold = exit_threshold
        self.cascade_fit = cascade_fit
        self.cascade_tolerance = cascade_tolerance
        self.cascade_confidence = cascade_confidence
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.memory = memory
        self.random_state = random_state

    def _sk_visual_block_(self):
        """Steps one after another in the HTML representation, as a Pipeline's."""
        estimators = [est for _, est in self.steps]
        names = [f"{name}: {est if _skipped(est) else type(est).__name__}"
                 for name, est in self.steps]
        return _VisualBlock("serial", estimators, names=names,
                            name_details=[str(est) for est in estimators], dash_wrapped=False)

    @property
    def named_steps(self):
        """Dict-like access to the (unfitted) steps by name."""
        return Bunch(**dict(self.steps))

    @property
    def _final(self):
        """The final step of the parameters (what a fit will use)."""
        return self.steps[-1][1]

    def _final_step(self):
        """The final ``(name, step)``: the fitted one once fitted, as the methods that
        call it use it, else the parameter's."""
        return (self.steps_ if hasattr(self, "steps_") else self.steps)[-1]

    def _kept_steps(self):
        """The ``(name, estimator)`` steps that are not skipped, in order."""
        return [(name, est) for name, est in self.steps if not _skipped(est)]

    def _routed_members(self):
        return self._kept_steps()

    def _splits(self):
        return len(self._kept_steps()) > 1  # one step is fitted on every row, unsplit

    def _unused_weights(self):
        # A cascade weighs its thresholds, exit rates and prior; a stack only passes
        # the weights on to its steps.
        if self.exit_threshold is not None:
            return None
        return "a SerialStack in stack mode (exit_threshold=None) does not use it itself"

    def _needs_columns(self):
        if self.views:
            return "views"
        return "passthrough" if self._passes_columns() else None

    def _passes_columns(self):
        """Whether ``passthrough`` hands raw columns on: any value but None and False
        (NumPy's too); an array of columns is not read for its truth."""
        return self.passthrough is not None and not (
            isinstance(self.passthrough, (bool, np.bool_)) and not self.passthrough)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            final = get_tags(self._final)
            kept = [est for _, est in self._kept_steps()]
            kept_tags = [get_tags(est) for est in kept]
        except (TypeError, ValueError, AttributeError, IndexError, KeyError):
            return tags  # invalid steps (a dict of them, say): fit reports them
        tags.estimator_type = final.estimator_type
        if final.classifier_tags is not None:
            # The stack takes 1-d y only, whatever its final step takes.
            tags.classifier_tags = dataclasses.replace(final.classifier_tags,
                                                       multi_label=False)
        tags.regressor_tags = final.regressor_tags
        # 2-D y (several outputs) when every step is a regressor that takes it.
        tags.target_tags.multi_output = all(
            is_regressor(est) and takes_multi_output(est) for est in kept)
        tags.target_tags.required = True
        # A stack's later levels see the outputs of the one before, not X, unless
        # raw columns are passed through to them.
        n_seeing_x = (len(kept) if self.exit_threshold is not None or self._passes_columns()
                      else 1)
        tags.input_tags.allow_nan = all(takes_nan(est) for est in kept[:n_seeing_x])
        tags.input_tags.sparse = all(t.input_tags.sparse for t in kept_tags[:n_seeing_x])
        tags.non_deterministic = any_non_deterministic(kept)
        # A stack transforms X into its final step's input; a cascade does not.
        tags.transformer_tags = None if self._is_cascade() else TransformerTags()
        return tags

    def _method_mapping(self, name):
        """``fit`` to each step's ``fit``; and, for a stack, ``predict`` to the final
        step's (a cascade's ``predict`` takes no parameters)."""
        mapping = super()._method_mapping(name)
        if name == self.steps[-1][0] and not self._is_cascade():
            mapping.add(caller="predict", callee="predict")
        return mapping

    def _is_cascade(self):
        """Cascade or stack: as fitted once fitted, else as the parameters say."""
        if hasattr(self, "steps_"):
            return hasattr(self, "exit_thresholds_")
        return self.exit_threshold is not None

    # -- validation ----------------------------------------------------------------

    def _check_steps(self):
        steps = self.steps
        if not isinstance(steps, (list, tuple)) or not steps or not all(
            is_pair(s) for s in steps
        ):
            raise ValueError(
                "SerialStack: steps must be a non-empty list of (name, estimator) pairs; "
                f"got {steps!r}."
            )
        self._validate_names([name for name, _ in steps])
        for name, est in steps:
            refuse_estimator_class(est, "SerialStack", f"step {name!r}")
            if not (_skipped(est) or hasattr(est, "fit")):
                raise TypeError(f"SerialStack: step {name!r} is not an estimator, nor "
                                f"\"drop\" or \"passthrough\" to skip it: {est!r}.")
        if _skipped(steps[-1][1]):
            raise ValueError(f"SerialStack: the last step {steps[-1][0]!r} is the final "
                             f"estimator and cannot be {steps[-1][1]!r}.")
        # A frozen step predicts on any rows of a kernel; but a stack's later steps
        # see the outputs of the steps before them, not the kernel.
        refuse_kernel_members(
            [(name, est) for i, (name, est) in enumerate(self._kept_steps())
             if not is_frozen(est) or (i and self.exit_threshold is None)], "SerialStack",
            "step", "the stack fits its steps on cv folds, and its later steps on the "
            "outputs of the steps before (a cascade on the rows it defers)")
        if isinstance(self.stack_method, dict):
            unknown = sorted(set(self.stack_method) - {name for name, _ in steps[:-1]})
            if unknown:
                raise ValueError(
                    f"SerialStack: stack_method names {unknown!r}, which are not non-final "
                    "steps."
                )
            options = ["auto", *_stack.METHODS]
            invalid = {name: method for name, method in self.stack_method.items()
                       if not (isinstance(method, str) and method in options)}
            if invalid:
                raise InvalidParameterError(
                    f"SerialStack: stack_method must map steps to one of {options}; got "
                    f"{invalid!r}.")
        if self.exit_threshold is None:
            return
        if not is_classifier(self._final):
            raise TypeError(
                "SerialStack: a cascade (exit_threshold set) exits on the steps' "
                "probabilities, so it needs a classifier as the last step; got "
                f"{type(self._final).__name__}. Leave exit_threshold=None to stack "
                "regressors.")
        if len(self._kept_steps()) < 2:
            raise TypeError(
                "SerialStack: a cascade (exit_threshold set) needs at least two steps "
                f"that are not skipped; got {len(self._kept_steps())}.")
        for name, est in self._kept_steps()[:-1]:
            if not hasattr(est, "predict_proba"):
                raise TypeError(
                    f"SerialStack: cascade step {name!r} has no predict_proba, which the "
                    "exit rule needs (only the last step, which no row exits from "
                    "early, may lack it)."
                )

    def _thresholds_given(self):
        """The given thresholds of the kept non-final steps (a list has one entry per
        non-final step as written, a skipped step's unused), or None for "auto"."""
        n = len(self.steps) - 1
        t = self.exit_threshold
        if isinstance(t, str):  # "auto", as declared
            return None
        if np.ndim(t) == 0 and not isinstance(t, Real):  # a 0-d array: one number
            t = t.item() if hasattr(t, "item") else t
        entries = [t] if isinstance(t, Real) else np.asarray(t, dtype=object).ravel()
        numbers = all(isinstance(v, Real) for v in entries)  # not "auto" or "0.9" in a list
        values = (np.full(n, t, dtype=float) if isinstance(t, Real)
                  else np.asarray(t, dtype=float) if numbers else None)
        if values is None or values.shape != (n,) or not np.all((values >= 0) & (values <= 1)):
            raise ValueError(
                f"SerialStack: exit_threshold must be in [0, 1], one for each of the {n} "
                f"non-final steps (or \"auto\" for all of them); got {t!r}."
            )
        return values[[not _skipped(est) for _, est in self.steps[:-1]]]

    # -- fit -----------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=False)
    @atomic_fit
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit every level (stacking) or every step of the cascade.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training input; or one text (or dict) per row, for a first step (every step,
            in a cascade) that reads them.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target; 2-D (several outputs) for a stack of regressors that all take it.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to every step's ``fit`` (a ``Pipeline`` to its final step and
            each earlier step whose ``fit`` takes it); a step whose ``fit`` takes none
            is fitted on each row repeated as many times as its weight, which must then
            be a whole number. With metadata
            routing, only to the steps that request it. Weights the cascade's
            thresholds.
        **fit_params : dict
            With ``sklearn.set_config(enable_metadata_routing=True)`` only: metadata
            for the steps that request them, and ``groups`` for a ``cv`` splitter that
            uses groups (``GroupKFold``). See :meth:`get_metadata_routing`.

        Returns
        -------
        self : SerialStack
        """
        began = time.perf_counter()
        self._check_steps()
        X = self._check_X(X, reset=True)
        steps = self._kept_steps()
        regressors = all(is_regressor(est) for _, est in steps)
        y = self._check_y(X, y, steps if regressors else None, self._step_input(steps))
        classifier = is_classifier(self._final)
        if classifier:
            self._set_classes(y)
        else:
            y = numeric_target(y, "SerialStack")
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        names = [name for name, _ in steps]
        split_params, routed = self._fit_metadata(sample_weight, fit_params)
        if sample_weight is not None and routed is None:
            check_sample_weight_support(names, [est for _, est in steps], "SerialStack",
                                        sample_weight, kind="step")
        self._warn_unrouted_weights(sample_weight, routed, stacklevel=4)  # fit, atomic_fit,
        # _fit_context, the caller
        step_params = [routed[name] for name in names] if routed else [None] * len(names)
        self._views_ = self._resolve_views(X, names)
        rng = check_random_state(self.random_state)
        # A step's seed depends on its name alone, and the folds' on no step.
        seeds = seeds_by_name(None if self.random_state is None else rng, names)
        folds = (self._folds(X, y, rng, classifier, split_params, stacklevel=4)
                 if len(steps) > 1 else [])
        estimators = [seed_estimator(est, seeds[name]) for name, est in steps]
        self._warn_frozen(names, estimators)
        if self.exit_threshold is None:
            fitted = _stack.fit_stack(self, estimators, step_params, X, y, sample_weight,
                                      folds)
        else:
            thresholds = self._thresholds_given()
            fitted = _cascade.fit_cascade(self, estimators, step_params, X, y,
                                          sample_weight, folds, thresholds)
        self.steps_ = list(zip(names, fitted))
        self.named_steps_ = Bunch(**dict(self.steps_))
        if self.verbose:
            if self.exit_threshold is not None:
                for line in _cascade.cascade_decisions(self):
                    report("SerialStack", line)
            report_fit_time("SerialStack", began)
        return self

    def _warn_frozen(self, names, estimators):
        """Warn when the stack learns from a frozen step's outputs on the rows given to
        ``fit``, which it may have been trained on: a later level is fitted on a
        non-final step's outputs; ``"auto"`` thresholds are set from every step's; a
        deferred step is trained on the rows the steps before it defer. Called by
        ``fit``, so the warning points at the user's ``fit``."""
        if self.exit_threshold is None:
            used, what = estimators[:-1], "the next level is fitted on the outputs"
        elif isinstance(self.exit_threshold, str):
            used, what = estimators, "the exit thresholds are set from the outputs"
        elif self.cascade_fit == "deferred":
            used, what = estimators[:-1], ("the rows each later step is trained on are "
                                           "chosen by the outputs")
        else:
            return
        frozen = [name for name, est in zip(names, used) if is_frozen(est)]
        if frozen:
            warnings.warn(
                f"SerialStack: {what} of the steps on the data given to fit, and the "
                f"frozen step(s) {frozen!r} may have been trained on it, which makes "
                "them look better than they are. Fit on rows they never saw (a blending "
                "set).",
                FrozenMemberWarning,
                stacklevel=5,  # here, fit, atomic_fit, _fit_context, the caller
            )

    def _step_input(self, steps):
        """For :meth:`_check_y`: the first step's view of ``X``; a later step is
        asked on its own input, once the level before it is fitted."""
        first = steps[0][0]

        def step_input(name, X, y):
            if name != first:
                return None
            return take_view(X, self._resolve_views(X, [first])[0]), y

        return step_input

    def _resolve_views(self, X, names):
        """The view of each kept step ``names``; a skipped step's view is unused."""
        views = check_views(self.views, [name for name, _ in self.steps], "SerialStack",
                            role="step")
        views = {name: view for name, view in views.items() if name in names}
        if self.exit_threshold is None and set(views) - {names[0]}:
            raise ValueError(
                f"SerialStack: views given for step(s) {sorted(set(views) - {names[0]})!r}; "
                "in a stack only the first step sees X (use passthrough to feed raw "
                "columns to later levels)."
            )
        feature_names = getattr(self, "feature_names_in_", None)
        return [resolve_view(views[name], X, name, feature_names, role="step")
                if name in views else None for name in names]

    # -- predict -------------------------------------------------------------------

    @one_names_warning
    def predict(self, X, **predict_params):
        """Predict with the last level (stacking) or the cascade.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
        **predict_params : dict
            Stacking: passed to the final step's ``predict`` (``return_std=True`` for a
            ``BayesianRidge``); with metadata routing, only those it requests.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Or what the final step's ``predict`` returns with ``predict_params``.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        if self._is_cascade():
            if predict_params:
                raise TypeError(
                    f"SerialStack: a cascade's predict takes no parameters; got "
                    f"{sorted(predict_params)}."
                )
            return self.classes_[_cascade.predict_cascade(self, X, labels=True)[0]]
        final_name, final = self.steps_[-1]
        if get_config().get("enable_metadata_routing", False):
            predict_params = process_routing(self, "predict", **predict_params)[
                final_name].predict
        predicted = final.predict(_stack.final_input(self, X), **predict_params)
        if not is_classifier(self) or predict_params:
            return predicted
        # A classifier stack takes 1-D y: a final step's column of labels is a vector,
        # of the type of classes_ (a step may give strings where y held objects).
        predicted = one_per_row(predicted)
        if getattr(self.classes_, "dtype", None) == object and np.ndim(predicted) == 1:
            return np.asarray(predicted, dtype=object)
        return predicted

    @available_if(_final_has("decision_function"))
    @one_names_warning
    def decision_function(self, X):
        """The final step's decision function on its input (stacking).

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        decision : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        final = self.steps_[-1][1]
        final_classes = self._final_classes()
        if final_classes is None:
            return final.decision_function(_stack.final_input(self, X))
        if not np.isin(self.classes_, final_classes).all():
            # No decision value stands for a class the final step never saw.
            raise ValueError(
                f"SerialStack: the final step {self.steps_[-1][0]!r} saw only the classes "
                f"{final_classes.tolist()} of {self.classes_.tolist()} (the rows that no "
                "fold tests are left out of its fit), so its decision values do not cover "
                "every class; use predict_proba."
            )
        decision = final.decision_function(_stack.final_input(self, X))
        if np.ndim(decision) == 1:  # binary: the score of the final step's second class
            return decision if final_classes[1] == self.classes_[1] else -decision
        # Columns in the stack's class order, as predict_proba's.
        return decision[:, np.searchsorted(self.classes_, final_classes).argsort()]

    def _final_classes(self):
        """A classifier stack's final step's ``classes_`` where they are not the stack's
        ``classes_`` (a class may occur only in the first rows, which forward-chaining
        folds never test and which are left out of the final step's fit; or the step
        orders its classes otherwise), else None."""
        final_classes = getattr(self.steps_[-1][1], "classes_", None)
        if (not is_classifier(self) or final_classes is None
                or np.array_equal(np.asarray(final_classes), self.classes_)):
            return None
        return np.asarray(final_classes)

    @available_if(_stack_only("transform"))
    @one_names_warning
    def transform(self, X):
        """The final step's input (stacking): the last level's output for ``X``, then
        the passed-through columns.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray or sparse matrix of shape (n_samples, n_features_out)
            Named by :meth:`get_feature_names_out`.
        """
        check_is_fitted(self)
        checked = self._check_X(X, reset=False)
        return _stack.typed_output(self, _stack.final_input(self, checked), checked, X)

    @available_if(_stack_only("fit_transform", refits=True))
    def fit_transform(self, X, y, sample_weight=None, **fit_params):
        """Fit, then :meth:`transform` ``X`` (with the refitted levels, as
        ``StackingClassifier.fit_transform`` does).

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
        **fit_params : dict
            As in :meth:`fit`.

        Returns
        -------
        Z : ndarray or sparse matrix of shape (n_samples, n_features_out)
        """
        return self.fit(X, y, sample_weight, **fit_params).transform(X)

    @available_if(_stack_only("get_feature_names_out"))
    def get_feature_names_out(self, input_features=None):
        """Names of the columns :meth:`transform` returns, as ``StackingClassifier``
        names its own: ``serialstack_<name><k>`` for each column a member of the last
        level (or the level itself) passes on, ``serialstack_<name>`` when it passes
        one, then the passed-through columns' names.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Names of the columns of ``X``, for the passed-through ones: checked against
            ``feature_names_in_``; None: ``feature_names_in_``, else ``x0``, ``x1``...

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        names = np.asarray(self._input_feature_names(input_features), dtype=object)
        if len(self.steps_) == 1:
            view = self._views_[0]
            return names if view is None else names[view]
        passed = [] if self._passthrough_ is None else list(names[self._passthrough_])
        return np.asarray(_stack.output_names(self) + passed, dtype=object)

    def _check_proba(self):
        if not self._is_cascade():
            return _final_has("predict_proba")(self)
        name, final = self._final_step()
        _require_step_method(final, "predict_proba", f"the cascade's last step {name!r}")
        return True

    @available_if(_check_proba)
    @one_names_warning
    def predict_proba(self, X):
        """Class probabilities of the last level, or of the step that answered each row.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``. With forward-chaining folds a class
            seen only in the rows no fold tests never reaches the final step's fit; its
            column is then 0. Not available when the last step has no
            ``predict_proba``.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        if self._is_cascade():
            return _cascade.predict_cascade(self, X)[0]
        final_name, final = self.steps_[-1]
        Z = _stack.final_input(self, X)
        proba = (member_proba(final, Z, self.classes_) if self._final_classes() is not None
                 else final.predict_proba(Z))
        refuse_non_finite_step("SerialStack", final_name, proba, "at predict")
        return proba

    @available_if(_cascade_only("predict_route"))
    @one_names_warning
    def predict_route(self, X):
        """Index of the cascade step that answers each row.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        route : ndarray of int of shape (n_samples,)
            -1 for a row where no step has its view (with ``missing="prior"``).
        """
        check_is_fitted(self)
        return _cascade.predict_cascade(self, self._check_X(X, reset=False))[1]

    @available_if(_cascade_only("predict_step_proba"))
    @one_names_warning
    def predict_step_proba(self, X):
        """Every step's class probabilities on every row, as if no row left early.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_steps, n_samples, n_classes)
            NaN where a step's view of the row is missing. The cascade's
            probabilities for a row are the row of the step that :meth:`predict_route`
            names, and its answer that step's top class where the row left it by its
            confidence, else what that step predicts (its last step with the row's view:
            a tuned decision threshold may answer otherwise). A last step without
            ``predict_proba`` gives 1 for the class it predicts.
        """
        check_is_fitted(self)
        return _cascade.predict_all_steps(self, self._check_X(X, reset=False))

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifier stack) or R² (regressor stack) on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return default_score(is_classifier(self), y, self.predict(X), sample_weight)


# TransformerMixin gives a stack ``set_output``: it wraps ``transform`` and
# ``fit_transform`` to return the configured container, and the wrappers it puts in place
# of the ``available_if`` methods check only when called. Wrapped once more, a cascade
# again has neither (``hasattr`` is False), as before.
for _method, _refits in (("transform", False), ("fit_transform", True)):
    setattr(SerialStack, _method,
            available_if(_stack_only(_method, _refits))(getattr(SerialStack, _method)))
del _method, _refits
