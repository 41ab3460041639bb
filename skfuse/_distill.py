"""Distillation: a composite (the teacher) labels rows for one fast model (the student).

The teacher's outputs on the training rows, out of fold by default, and on synthetic
rows near them (:mod:`skfuse._augment`), become the student's targets; the student then
does all the predicting. The teacher's fits and the student's (a refit and one per fold,
for ``fidelity_``) each run as one :class:`~skfuse._jobs.MemberJobs` plan.
"""

import time
import warnings
from functools import partial
from numbers import Integral, Real

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn import config_context, get_config
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    clone,
    is_classifier,
    is_regressor,
)
from sklearn.metrics import r2_score
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.validation import check_is_fitted, has_fit_parameter, validate_data

from . import _augment, _label_check
from ._base import (
    Composite,
    any_non_deterministic,
    atomic_fit,
    check_known_classes,
    check_sample_weight,
    check_sample_weight_support,
    deciding_estimator,
    member_prediction,
    member_proba,
    member_votes,
    numeric_target,
    proper_probabilities,
    refuse_estimator_class,
    refuse_kernel_members,
    refuse_non_finite_student,
    refuse_weightless_inside,
    seed_estimator,
    seeds_by_name,
    sums_finite,
    takes_multi_output,
    takes_no_weights,
)
from ._compat import (
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
    _fit_context,
    _VisualBlock,
)
from ._docstring import Substitution
from ._jobs import MemberJobs
from ._tasks import (
    is_frozen,
    report,
    report_fit_time,
    routes_weights,
    weight_key,
    weight_params,
)
from ._views import (
    _is_dataframe,
    class_name,
    concat_rows,
    missing_rows,
    missing_text_refusal,
    nan_error,
    nan_refusal,
    nan_sample,
    pandas_frame,
    take_rows,
    takes_nan,
)
from ._warnings import one_names_warning
from ._weights import near_lowest

# Logits are taken of probabilities clipped to [LOGIT_EPS, 1 - LOGIT_EPS].
LOGIT_EPS = 1e-3
# Probabilities are clipped to [PROBA_EPS, 1] in the label weight check's log-loss.
PROBA_EPS = 1e-15


def duplicated_targets(proba, classes, sample_weight=None):
    """Soft labels as weighted rows: each row once per class, weighted by its probability.

    Parameters
    ----------
    proba : ndarray of shape (n_rows, n_classes)
    classes : ndarray of shape (n_classes,)
    sample_weight : ndarray of shape (n_rows,) or None
        Multiplies each row's weights.

    Returns
    -------
    rows : ndarray of int of shape (n_rows * n_classes,)
        The source row of each duplicate (row ``i``'s copies at ``i * n_classes`` on).
    labels : ndarray of shape (n_rows * n_classes,)
        ``classes`` in turn.
    weights : ndarray of shape (n_rows * n_classes,)
        ``sample_weight[i] * proba[i, k]``.
    """
    n_rows, n_classes = proba.shape
    rows = np.repeat(np.arange(n_rows), n_classes)
    labels = np.tile(classes, n_rows)
    if sample_weight is not None:
        proba = proba * sample_weight[:, None]
    return rows, labels, proba.ravel()


def balanced_class_weights(codes, weights, n_classes, counted=None):
    """Each row's ``"balanced"`` class weight, from the weighted counts of its class
    (``codes``): the total weight over ``n_classes`` times the class's weight, as
    scikit-learn's ``compute_class_weight`` computes it with ``sample_weight``; the
    counts of the rows ``counted`` alone (a mask; None: all)."""
    counts = (np.bincount(codes, weights=weights, minlength=n_classes) if counted is None
              else np.bincount(codes[counted], weights=weights[counted], minlength=n_classes))
    with np.errstate(divide="ignore"):
        factors = np.where(counts > 0, counts.sum() / (n_classes * counts), 1.0)
    return factors[codes]


def _balanced_class_weight(student):
    """The parameter key of ``student``'s ``"balanced"`` (or ``"balanced_subsample"``)
    ``class_weight``, its own or its ``Pipeline``'s last step's; None without one."""
    key, inner = "", student
    while isinstance(inner, Pipeline):
        name, inner = inner.steps[-1]
        key += f"{name}__"
    value = inner.get_params(deep=False).get("class_weight") if hasattr(
        inner, "get_params") else None
    return (key + "class_weight" if isinstance(value, str)
            and value in ("balanced", "balanced_subsample") else None)


def teacher_proba(teacher, X, classes):
    """The teacher's probabilities, aligned to ``classes``: rounding outside [0, 1]
    clipped (a log of -1e-17 is NaN); rows that are no probabilities refused."""
    proba = member_proba(teacher, X, classes)
    proper = proper_probabilities(proba)
    if not proper.all():
        raise ValueError(
            f"DistilledClassifier: the teacher ({type(teacher).__name__}) gave "
            f"{int((~proper).sum())} row(s) of probabilities outside [0, 1] or not "
            "summing to 1 over the classes; check its predict_proba.")
    return np.clip(proba, 0.0, 1.0)


def teacher_prediction(teacher, X):
    """The teacher's predictions; NaN or infinite ones refused (the student's fit
    would refuse them as its own ``y``)."""
    prediction = member_prediction(teacher, X)
    finite = np.isfinite(np.asarray(prediction, float).reshape(len(prediction), -1))
    if not finite.all():
        raise ValueError(
            f"DistilledRegressor: the teacher ({type(teacher).__name__}) predicted NaN "
            f"or infinite values on {int((~finite.all(axis=1)).sum())} row(s); check its "
            "predict.")
    return prediction


def soften(proba, temperature):
    """``proba ** (1 / temperature)``, renormalised (softmax of the logits over T)."""
    if temperature == 1.0:
        return proba
    with np.errstate(divide="ignore"):
        return softmax(np.log(proba) / temperature, axis=1)


def logits(proba, temperature):
    """The teacher's logits over ``temperature``: one column (log-odds) for two classes,
    otherwise one per class, centred; of probabilities clipped at ``LOGIT_EPS``."""
    log_p = np.log(np.clip(proba, LOGIT_EPS, 1.0 - LOGIT_EPS))
    if proba.shape[1] == 2:
        return (log_p[:, 1] - log_p[:, 0]) / temperature
    return (log_p - log_p.mean(axis=1, keepdims=True)) / temperature


def _predictions(estimator, X):
    return np.asarray(estimator.predict(X), dtype=np.float64)


def _logit_predictions(estimator, X, n_outputs):
    """A regressor student's logits: one per row (two classes, as a vector) or
    ``n_outputs`` per row. A column vector (a skorch ``NeuralNetRegressor`` predicts
    ``(n, 1)``) is taken as the vector; any other shape is refused by name."""
    out = _predictions(estimator, X)
    n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
    if out.shape not in ([(n_rows,), (n_rows, 1)] if n_outputs == 1
                         else [(n_rows, n_outputs)]):
        raise ValueError(
            f"DistilledClassifier: the regressor student {class_name(estimator)} "
            f"predicted an array of shape {out.shape} for {n_rows} rows; it learns the "
            f"teacher's logits and must predict {n_outputs} per row (shape "
            f"{(n_rows,) if n_outputs == 1 else (n_rows, n_outputs)}).")
    return out.reshape(n_rows) if n_outputs == 1 else out.reshape(n_rows, n_outputs)


class _BaseDistilled(Composite):
    """Teacher, student, soft targets, augmentation and fidelity, shared by both kinds."""

    _kind = None

    _parameter_constraints: dict = {
        "teacher": [HasMethods(["fit", "predict"])],
        "student": [HasMethods(["fit", "predict"])],
        "targets": [StrOptions({"oof", "fit"})],
        "label_weight": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "augment": [None, StrOptions({"auto", *_augment.METHODS})],
        "n_augment": [Interval(Integral, 1, None, closed="left"),
                      Interval(RealNotInt, 0, None, closed="neither")],
        "cv": ["cv_object"],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    # Two estimator parameters, not a list of members: scikit-learn's own nesting.
    def get_params(self, deep=True):
        """Get parameters, with ``teacher__<param>`` and ``student__<param>`` when ``deep``.

        Parameters
        ----------
        deep : bool, default=True
            Also return the teacher's and the student's parameters.

        Returns
        -------
        params : dict
        """
        return BaseEstimator.get_params(self, deep=deep)

    def set_params(self, **params):
        """Set parameters, ``teacher__<param>`` and ``student__<param>`` included.

        Parameters
        ----------
        **params : dict

        Returns
        -------
        self : estimator
        """
        return BaseEstimator.set_params(self, **params)

    def _routed_members(self):
        return [("teacher", self.teacher)]  # the student's weights are the distiller's

    def _sk_visual_block_(self):
        """The teacher, then the student, as a Pipeline's steps."""
        estimators = [self.teacher, self.student]
        names = [f"teacher: {type(self.teacher).__name__}",
                 f"student: {type(self.student).__name__}"]
        return _VisualBlock("serial", estimators, names=names,
                            name_details=[str(est) for est in estimators], dash_wrapped=False)

    def _needs_columns(self):
        # "auto" grows no rows from one object per row.
        return None if self.augment in (None, "auto") else f"augment={self.augment!r}"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # From the parameters, fitted or not: what a fit with them takes (predict
        # checks against what the fit it follows took, ``_input_tags_``).
        input_tags = self._input_tags()
        if input_tags is not None:
            tags.input_tags.allow_nan, tags.input_tags.sparse = input_tags
        try:
            tags.non_deterministic = any_non_deterministic([self.teacher, self.student])
        except (TypeError, ValueError, AttributeError):
            pass  # invalid teacher or student: fit reports them
        return tags

    def _input_tags(self):
        """``(allow_nan, sparse)``: what both the teacher and the student take (and
        sparse input only where no method of synthetic rows is fixed); None for an
        invalid pair."""
        try:
            both = [self.teacher, self.student]
            return (all(takes_nan(est) for est in both),
                    self.augment in (None, "auto")
                    and all(get_tags(est).input_tags.sparse for est in both))
        except (TypeError, ValueError, AttributeError):
            return None  # invalid teacher or student: fit reports them

    # -- fit -------------------------------------------------------------------------

    def _fit(self, X, y, sample_weight, fit_params, began):
        """Fit the teacher, label the rows, fit the student and judge its fidelity."""
        owner = type(self).__name__
        if self.augment not in (None, "auto") and hasattr(X, "tocsr"):
            raise TypeError(f"{owner}: augment={self.augment!r} needs dense X; got a sparse "
                            "matrix.")
        self._refuse_nan_the_student_cannot_take(X)  # before any teacher fit
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        self._refuse_unrouted_requests(self.student, "the student", fit_params)
        split_params, routed = self._fit_metadata(sample_weight, fit_params)
        if sample_weight is not None and routed is None:
            check_sample_weight_support(["the teacher"], [self.teacher], owner, sample_weight,
                                        kind=None)
        self._warn_unrouted_weights(sample_weight, routed, stacklevel=5)  # _fit, fit,
        # atomic_fit, _fit_context, the caller
        rng = check_random_state(self.random_state)
        # The teacher's seed does not depend on the student's, nor either on the folds;
        # the synthetic rows draw from what is left.
        seeds = seeds_by_name(None if self.random_state is None else rng,
                              ["teacher", "student"])
        folds = self._folds(X, y, rng, self._kind == "classifier", split_params)
        teacher = seed_estimator(self.teacher, seeds["teacher"])
        student = seed_estimator(self.student, seeds["student"])
        auto = self.label_weight == "auto"
        self.augment_, why_none = self._augment_method(X, y, sample_weight, folds)
        if self.verbose and why_none:
            report(owner, f"augment='auto' grows no synthetic rows: {why_none}")
        self._check_student_takes_weights(y, sample_weight, folds, self.augment_)
        real, targets, checks = self._teach(teacher, X, y, sample_weight, folds,
                                            routed and routed["teacher"], auto)
        rows, owners, targets, weights = self._with_synthetic_rows(
            X, real, targets, sample_weight, rng)
        n_real = self.n_oof_samples_ = len(real)
        grown = self._grow_per_fold(X, folds, owners[n_real:], sample_weight, rng)
        self.label_weight_, self.label_weight_losses_ = 0.0, None
        if auto:
            self.label_weight_losses_ = _label_check.losses(
                self, student, X, y, sample_weight, grown, checks)
            if self.label_weight_losses_:
                # Of the least losses (up to rounding), the smallest weight: ties go
                # to the teacher.
                candidates, losses = zip(*self.label_weight_losses_.items())
                self.label_weight_ = float(min(np.array(candidates)[near_lowest(losses)]))
            else:
                warnings.warn(
                    f"{owner}: label_weight='auto' could not check any label weight out "
                    "of fold: no fold left rows of positive weight (of two classes or "
                    "more, for a classifier) to fit the student on and to score it on "
                    "(with out-of-fold targets it fits the teacher "
                    "without two folds at a time, so it needs at least 3 folds); the "
                    "student learns the teacher's targets alone (label_weight_=0). Use "
                    "cv >= 3, shuffled folds, or set label_weight.", UserWarning,
                    stacklevel=5)  # here (_fit), fit, atomic_fit, _fit_context, the caller
        else:
            self.label_weight_ = float(self.label_weight)
        # At label weight 1 the student learns no synthetic row.
        rows, owners, targets, weights, fold_of = self._with_fold_rows(
            rows, owners, targets, weights, grown if self.label_weight_ < 1.0 else [],
            sample_weight)
        del grown  # (in rows now: not held twice while the student fits)
        keep, mixed, weights = self._mixed(y[real], targets, weights, n_real,
                                           self.label_weight_)
        self.n_augmented_ = int((fold_of[keep] < 0).sum()) - n_real
        self._learn(student, take_rows(rows, keep, copy=False), owners[keep], fold_of[keep],
                    mixed, weights, targets[keep], folds, n_real,
                    None if sample_weight is None else sample_weight[real])
        self._input_tags_ = self._input_tags()
        # NaN in X reached the student, which alone predicts, and took them (fit
        # refuses a student that does not, tried where its tags say no: an imputer
        # inside a ColumnTransformer); the teacher may take NaN its tags refuse (a
        # fusion whose views mark missing modalities).
        self._learned_nan_ = _has_nan(X)
        if self.verbose:
            report(owner, f"{n_real} real and {self.n_augmented_} synthetic rows; "
                          f"label weight {self.label_weight_:g}; "
                          f"fidelity {self.fidelity_:.4f} on held-out folds")
            report_fit_time(owner, began)
        return self

    def _refuse_nan_the_student_cannot_take(self, X):
        """NaN in ``X`` need a student that takes them: its tags, or else a clone tried
        on a few rows (:func:`~skfuse._views.nan_error`), as for a fusion's members."""
        missing = missing_rows(X, None)
        if missing is None or not missing.some.any():
            return
        holds = missing.some
        reason = nan_error(self.student, nan_sample(X, None, holds))
        if reason is not None and np.ndim(X) == 1:  # one object per row
            raise ValueError(missing_text_refusal(type(self).__name__, "the student",
                                                  self.student, int(holds.sum()), reason))
        if reason is not None:
            raise ValueError(nan_refusal(type(self).__name__, "the student", self.student,
                                         int(holds.sum()), "holds NaN", reason, subject="X"))

    def _pair_labels(self, y):
        """The labels that rule out a pair of folds leaving a single class (classifier)."""
        return y if self._kind == "classifier" else None

    def _refuse_a_frozen_student(self):
        """Refuse a frozen student: fitting leaves it as it is, so it learns nothing (and
        a teacher or student given as a class)."""
        for role in ("teacher", "student"):
            refuse_estimator_class(getattr(self, role), type(self).__name__, f"the {role}")
        if is_frozen(self.student):
            raise TypeError(
                f"{type(self).__name__}: the student ({type(self.student).__name__}) is "
                "frozen, so it cannot learn from the teacher, and predict calls only the "
                "student. Pass an unfitted student (a frozen estimator can be the "
                "teacher)."
            )

    def _refuse_kernel_estimators(self):
        """Refuse a teacher or student that takes a precomputed kernel (and is fitted)."""
        for role, est in (("teacher", self.teacher), ("student", self.student)):
            if not is_frozen(est):  # a frozen student is refused apart
                refuse_kernel_members([(type(est).__name__, est)], type(self).__name__,
                                      role, "the distiller fits on cv folds and on the "
                                      "rows it grows")

    def _augment_method(self, X, y, sample_weight, folds):
        """The method of synthetic rows (``augment_``) and, where ``"auto"`` grows
        none, why: ``(method, reason)``. ``"auto"`` is ``"munge"`` where ``X`` is a
        dense table of at most :data:`~skfuse._augment.AUTO_MAX_ROWS` rows,
        ``label_weight`` is not 1 and the student takes the weights the synthetic rows
        would carry."""
        if self.augment != "auto":
            return self.augment, None
        if hasattr(X, "tocsr"):
            return None, "X is a sparse matrix"
        if np.ndim(X) != 2:
            return None, "X holds one object per row"
        if X.shape[0] > _augment.AUTO_MAX_ROWS:
            return None, f"X has more than {_augment.AUTO_MAX_ROWS} rows"
        if self.label_weight == 1.0:
            return None, "label_weight=1 leaves synthetic rows out"
        try:
            self._check_student_takes_weights(y, sample_weight, folds, "munge")
        except TypeError:
            return None, "the student cannot take the synthetic rows' weights"
        if (self.label_weight != 0 or sample_weight is not None) and not routes_weights(
                self.student):
            return None, ("metadata routing would refuse the synthetic rows' weights to "
                          "the student (a step in it that takes sample_weight leaves its "
                          "request unset)")
        return "munge", None

    def _check_student_takes_weights(self, y, sample_weight, folds, augment):
        """Refuse, before the teacher's fits, a student that cannot take the weights it
        will get (with synthetic rows grown by ``augment``, a method or None):
        ``sample_weight``, or synthetic rows weighted by a label weight
        strictly between 0 and 1, fixed or tried by ``"auto"``'s check (when it can run:
        with out-of-fold targets it needs a pair of folds to fit the teacher without).
        """
        key = weight_key(self.student)
        # Several logits for a single-output regressor: a MultiOutputRegressor fits one
        # per class, and without metadata routing hands weights only to a fit that
        # takes sample_weight itself.
        per_class = (getattr(self, "soft_labels_", None) == "logits"
                     and len(self.classes_) > 2 and not takes_multi_output(self.student)
                     and not get_config().get("enable_metadata_routing", False))
        takes = key is not None and not (
            per_class and not has_fit_parameter(self.student, "sample_weight"))
        if takes and not isinstance(self.student, Composite):  # (whose members may not)
            return
        if self.label_weight == "auto":  # weighted if its check runs
            weighted = (self.targets != "oof" or is_frozen(self.teacher)
                        or bool(_label_check.fold_pairs(folds, sample_weight,
                                                        self._pair_labels(y))))
        else:
            weighted = 0 < self.label_weight < 1
        if augment is not None and weighted:
            refuse_weightless_inside(self.student, type(self).__name__, "the student",
                                     "which the synthetic rows carry (the label "
                                     "weight)")
        if takes or not (sample_weight is not None or (augment is not None and weighted)):
            return
        if key is None:
            raise TypeError(self._no_weights_message(self.student))
        raise TypeError(
            f"{type(self).__name__}: the student ({type(self.student).__name__}) learns "
            f"the teacher's {len(self.classes_)} logits, one model per class in a "
            "MultiOutputRegressor, which hands the weights it needs here only to a fit "
            "that takes sample_weight itself (or, with metadata routing, requests it): "
            "give a student whose fit does, or one that takes several outputs (Ridge).")

    def _teach(self, teacher, X, y, sample_weight, folds, params, auto):
        """Set ``teacher_``; return the rows that have a target, their targets, and
        (``auto``) each fold's :class:`~skfuse._label_check.CheckFold`.

        The teacher is refitted on all rows (a frozen one used as it is) and, for
        ``targets="oof"``, fitted on each training fold and asked about its test fold.
        For the label weight's check (``auto``) its fold fits are kept and, with
        ``targets="oof"``, it is also fitted without each pair of folds.
        """
        output = self._teacher_output()
        oof = self.targets == "oof"
        plan = MemberJobs(type(self).__name__, X.shape[0], n_jobs=self.n_jobs,
                          verbose=self.verbose)
        plan.add("teacher", teacher, label="teacher",
                 folds=folds if oof or auto else [], params=params, keep_folds=auto)
        checked = auto and oof and not is_frozen(teacher)
        pairs = (_label_check.fold_pairs(folds, sample_weight, self._pair_labels(y))
                 if checked else {})
        for (j, k), fold in pairs.items():
            plan.add(f"pair {j} {k}", teacher, label=f"teacher without folds {j + 1} and {k + 1}",
                     folds=[fold], params=params, refit=False, compact_oof=True)
        fits = plan.run(X, y, sample_weight, output)
        fit = fits["teacher"]
        self.teacher_ = fit.estimator
        if oof:
            real = np.flatnonzero(fit.tested)  # a forward-chaining cv leaves rows out
            targets = fit.oof[real]
        else:
            real, targets = np.arange(X.shape[0]), output(self.teacher_, X)
        checks = None
        if auto:
            pair_oof = {pair: (np.flatnonzero(fits[f"pair {pair[0]} {pair[1]}"].tested),
                               fits[f"pair {pair[0]} {pair[1]}"].oof) for pair in pairs}
            checks = _label_check.check_folds(X, folds, real, targets, self.teacher_,
                                              fit.fold_estimators, pair_oof, oof, output)
        return real, targets, checks

    def _with_synthetic_rows(self, X, real, targets, sample_weight, rng):
        """Return the student's rows (the real ones, then the synthetic ones, labelled
        by ``teacher_``), the real row each comes from, their targets and their weights
        (None without ``sample_weight``)."""
        rows = take_rows(X, real, copy=False)
        weights = None if sample_weight is None else sample_weight[real]
        if self.augment_ is None:
            return rows, real, targets, weights
        n_rows = (int(self.n_augment) if isinstance(self.n_augment, Integral)
                  else max(round(self.n_augment * _n_weighed(sample_weight, X.shape[0])), 1))
        synthetic, parents = self._grow(X, np.arange(X.shape[0]), sample_weight, n_rows, rng)
        if weights is not None:
            weights = np.concatenate(
                [weights, np.full(n_rows, _augment.synthetic_row_weight(sample_weight))])
        return (concat_rows(rows, synthetic), np.concatenate([real, parents]),
                np.concatenate([targets, self._teacher_output()(self.teacher_, synthetic)]),
                weights)

    def _grow_per_fold(self, X, folds, synthetic_owners, sample_weight, rng):
        """Per fold, synthetic rows grown from its training rows alone, as many as the
        final fit grows from them, and their parents (None where it grows none): what a
        fit without the fold learns from, in the label weight's check and for
        ``fidelity_``. Grown from all rows, a MUNGE row may move toward a row of the fold
        (its parent's nearest neighbour) and a resampled one take its values, which
        would put the teacher's targets beside the rows those fits are scored on."""
        grown = []
        for train, _ in folds:
            train = np.asarray(train)
            n_rows = int(np.isin(synthetic_owners, train).sum())
            grown.append(self._grow(X, train, sample_weight, n_rows, rng) if n_rows else None)
        return grown

    def _with_fold_rows(self, rows, owners, targets, weights, grown, sample_weight):
        """The final fit's rows followed by each fold's synthetic rows (``grown``),
        labelled by ``teacher_`` as the final fit's are: ``(rows, owners, targets,
        weights, fold_of)``, ``fold_of`` giving the fold a row belongs to (-1: the final
        fit's rows, which the folds' fits take their real rows from)."""
        fold_of = np.full(len(owners), -1)
        parts = [(k, *part) for k, part in enumerate(grown) if part is not None]
        if not parts:
            return rows, owners, targets, weights, fold_of
        output = self._teacher_output()
        n_grown = [len(parents) for _, _, parents in parts]
        if weights is not None:
            weights = np.concatenate(
                [weights, np.full(sum(n_grown), _augment.synthetic_row_weight(sample_weight))])
        return (concat_rows(rows, *(synthetic for _, synthetic, _ in parts)),
                np.concatenate([owners, *(parents for *_, parents in parts)]),
                np.concatenate([targets, *(output(self.teacher_, synthetic)
                                           for _, synthetic, _ in parts)]),
                weights,
                np.concatenate([fold_of, np.repeat([k for k, *_ in parts], n_grown)]))

    def _grow(self, X, rows, sample_weight, n_rows, rng):
        """``n_rows`` synthetic rows grown by ``augment_`` from ``rows`` of ``X`` alone
        (parents, neighbours and donors), and the row of ``X`` each was grown from.

        Rows of weight 0 are as absent: none is a parent, a neighbour or a donor, none
        widens a column's observed range or counts toward ``n_augment``'s multiple.
        """
        if sample_weight is not None:
            rows = rows[sample_weight[rows] > 0]
        # Every row in order: X itself, not a copy.
        everything = len(rows) == X.shape[0] and bool((rows == np.arange(len(rows))).all())
        source = X if everything else take_rows(X, rows)
        synthetic, parents = _augment.augment(
            source, n_rows, self.augment_, rng,
            None if sample_weight is None else sample_weight[rows])
        return synthetic, rows[parents]

    def _mixed(self, labels, targets, weights, n_real, label_weight):
        """The student's rows, targets and weights at ``label_weight``: ``(keep,
        targets, weights)``.

        The first ``n_real`` rows (whose ``labels`` are known) get ``label_weight *
        label + (1 - label_weight) * target``; the synthetic rows keep the teacher's
        target and weigh ``1 - label_weight`` (left out at 1). ``weights`` None stays
        None where every row would weigh the same.
        """
        n_rows = len(targets)
        keep = np.arange(n_real if label_weight == 1.0 else n_rows)
        if label_weight == 0.0:
            return keep, targets, weights
        mixed = targets[keep].copy()
        mixed[:n_real] = (label_weight * self._label_targets(labels)
                          + (1.0 - label_weight) * targets[:n_real])
        if n_rows > n_real and label_weight < 1.0:
            weights = np.ones(n_rows) if weights is None else weights.copy()
            weights[n_real:] *= 1.0 - label_weight
        return keep, mixed, None if weights is None else weights[keep]

    def _student_fit_params(self, student, weights):
        """``(student, fit params)`` for the student's data at ``weights``, refused
        clearly when it cannot take them."""
        if weights is None:
            return {}
        if weight_key(student) is None:
            raise TypeError(self._no_weights_message(student))
        return weight_params(student, weights)

    def _learn(self, student, rows, owners, fold_of, targets, weights, teacher_targets,
               folds, n_real, real_weight=None):
        """Set ``student_`` (fitted on the final fit's rows: ``fold_of`` -1) and
        ``fidelity_`` (from its fits on each fold's real training rows and the synthetic
        rows grown for that fold, compared with the teacher's targets on the fold's real
        test rows, weighted by ``real_weight``, the real rows' ``sample_weight``)."""
        X_s, y_s, w_s, source, student = self._student_data(rows, targets, weights, student,
                                                            self.label_weight_, fold_of < 0)
        row_fold = fold_of[source]
        final = np.flatnonzero(row_fold < 0)
        owner = type(self).__name__
        if self._one_class(y_s[final], None if w_s is None else w_s[final]):
            fell_back = (" (label_weight='auto' could check no weight out of fold: see "
                         "its warning)" if self.label_weight == "auto" else "")
            raise ValueError(
                f"{owner}: at label_weight_={self.label_weight_:g}{fell_back} the "
                "student's targets give weight to one class only (the teacher gives the "
                "others probability 0 on every row, and the labels of weight > 0 name "
                "none of them), so no classifier can learn from them; give the labels "
                "more weight (label_weight), or the other classes' rows a positive "
                "sample_weight.")
        params = self._student_fit_params(student, w_s)
        # A fold left without test rows keeps its place, so the others keep their
        # numbers in cv (in progress lines).
        student_folds, one_class = [], 0
        real = source < n_real
        for k, (train, test) in enumerate(folds):
            train = np.flatnonzero(np.isin(owners[source], train) & (real | (row_fold == k)))
            test = np.flatnonzero(np.isin(owners[source], test) & real & _first_copies(source))
            if train.size and self._one_class(
                    y_s[train], None if w_s is None else w_s[train]):
                one_class += 1  # no classifier can be fitted on that fold's rows
                test = test[:0]
            elif not train.size:
                test = test[:0]
            student_folds.append((train, test))
        if not any(test.size for _, test in student_folds):
            student_folds = []
        if one_class:
            warnings.warn(
                f"{owner}: fidelity_ leaves out the test rows of {one_class} of "
                f"{len(folds)} fold(s), where the student's targets on the other rows give "
                "weight to one class only (the teacher's targets there name one class); "
                "it may overstate the agreement on the rows of the rarer classes.",
                UserWarning, stacklevel=6)  # _learn, _fit, fit, atomic_fit, _fit_context
        plan = MemberJobs(type(self).__name__, len(y_s), n_jobs=self.n_jobs,
                          verbose=self.verbose)
        plan.add("student", student, label="student",
                 rows=None if final.size == len(y_s) else final, params=params or None)
        # Only the first copies of the real rows are tested: an out-of-fold output for
        # every copy would take (rows x classes) x classes.
        # (One fold alone would be labelled "student", as the final fit.)
        plan.add("student folds", student,
                 label="student, fold 1 of 1" if len(folds) == 1 else "student",
                 folds=student_folds,
                 params=params or None, refit=False, compact_oof=True)
        fits = plan.run(X_s, y_s, None, self._student_output())
        self.student_ = fits["student"].estimator
        fit = fits["student folds"]
        self.fidelity_ = np.nan
        held_out = np.flatnonzero(fit.tested) if student_folds else []
        held_weight = (None if real_weight is None or not len(held_out)
                       else real_weight[source[held_out]])
        # fit.oof holds the held-out rows alone, in this order. (Rows tested only where
        # they all weigh 0, the folds left for one class aside: no weight to measure the
        # agreement on.)
        if len(held_out) and (held_weight is None or held_weight.sum() > 0):
            refuse_non_finite_student(type(self).__name__, fit.oof, "out of fold")
            self.fidelity_ = self._fidelity(
                fit.oof, teacher_targets[source[held_out]], held_weight)

    def _check_predict_X(self, X):
        """``X`` checked as in fit; NaN refused unless the teacher and the student both
        take it, or fit was given some (the student, which alone predicts, took them).

        An array is checked in one pass (a finite sum, or scikit-learn's check), the
        slower checks with their messages naming the columns run only once it fails.
        """
        if self._is_array_as_fitted(X) and sums_finite(X):
            return X
        allow_nan = self._input_tags_[0] or getattr(self, "_learned_nan_", False)
        X = pandas_frame(X)
        if not (_is_dataframe(X) or getattr(self, "_row_objects_", False)
                or hasattr(self, "feature_names_in_")):  # (would warn about names twice)
            try:
                # Checked whatever assume_finite says, as refuse_infinite checks
                # (and this distiller's fit, and every other composite).
                with config_context(assume_finite=False):
                    return validate_data(self, X, reset=False, accept_sparse=["csr", "csc"],
                                         dtype=None,
                                         ensure_all_finite="allow-nan" if allow_nan else True)
            except ValueError:
                pass  # the checks below say why
        X = self._check_X(X, reset=False)
        if getattr(self, "_row_objects_", False):  # texts: a missing one, as at fit
            missing = missing_rows(X, None)
            if missing is not None and missing.some.any():
                reason = nan_error(self.student_, nan_sample(X, None, missing.some), True)
                if reason is not None:
                    raise ValueError(missing_text_refusal(
                        type(self).__name__, "the student", self.student_,
                        int(missing.some.sum()), reason))
            return X
        if not allow_nan and _has_nan(X):
            why = ("the student does not take NaN" if not takes_nan(self.student) else
                   "the student never learned from a row with NaN (the teacher does not "
                   "take NaN, and fit was given none)")
            raise ValueError(f"{type(self).__name__}: X holds NaN, and {why}; impute them "
                             "(a Pipeline with SimpleImputer first).")
        return X

    def _one_class(self, y_s, w_s):
        """Whether the student's data ``(y_s, w_s)`` gives weight to fewer than two
        classes, which a classifier student cannot be fitted on (never, for a student
        of numbers)."""
        return False

    def _no_weights_message(self, student):
        return takes_no_weights(f"{type(self).__name__}: the student", student,
                                "which it needs here")


def _n_weighed(sample_weight, n_rows):
    """The rows of positive weight: all ``n_rows`` without ``sample_weight``."""
    return n_rows if sample_weight is None else int(np.count_nonzero(sample_weight > 0))


def _has_nan(X):
    if _is_dataframe(X):
        values = X.select_dtypes("number").to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = X.data if hasattr(X, "tocsr") else np.asarray(X)
    return values.dtype.kind in "fc" and bool(np.isnan(values).any())


def _first_copies(source):
    """True at the first of each run of copies of a row (every row when not duplicated)."""
    first = np.ones(len(source), dtype=bool)
    first[1:] = source[1:] != source[:-1]
    return first


# Docstring entries both distillers share, filled in by Substitution.
_DISTILL_DOCS = {
    "targets": """targets : {"oof", "fit"}, default="oof"
        ``"oof"``: the teacher is cross-fitted on ``cv``, so no row's soft target comes
        from a fit that saw it (the student does not learn the teacher's overfit); then
        it is refitted on all rows (a frozen teacher is used as it is, its output on
        every row standing for the out-of-fold one). Rows that no fold tests (a
        forward-chaining ``cv``) are left out of the student's fit. ``"fit"``: the
        teacher is fitted once and labels its own training rows.""",
    "label_weight": """label_weight : float in [0, 1] or "auto", default="auto"
        How much the student learns the labels rather than the teacher: each real
        row's target is ``label_weight * label + (1 - label_weight) * teacher's
        target`` (for a classifier, the label as one-hot probabilities, mixed before
        ``temperature``), which is the same as mixing the two losses; synthetic rows
        have no label and weigh ``1 - label_weight`` (1 leaves them out, and the
        student learns the labels alone). ``"auto"`` tries 0, 0.25, 0.5, 0.75 and 1 and
        keeps the one whose student, fitted on each ``cv`` training fold, scores best
        on the held-out labels (log-loss, squared error); the targets it learns there
        come from teacher fits that never saw the held-out fold, and its synthetic rows
        are grown from the training fold alone. That costs
        ``cv * (cv - 1) / 2`` more teacher fits with ``targets="oof"`` (one without
        each pair of folds), ``cv`` with ``"fit"`` (the fold fits, which ``"oof"``
        makes anyway), none with a frozen teacher; and ``5 * cv`` more student fits.""",
    "augment": """augment : {"auto", "munge", "resample"} or None, default="auto"
        Synthetic rows, labelled by the teacher fitted on all rows, so that the student
        sees the teacher's function between real rows. ``"munge"``: each column of a
        random row moves, with chance 1/2, toward its nearest neighbour's (a normal
        around the neighbour's value, spread by their distance; a categorical column
        takes the neighbour's). ``"resample"``: each column of a random row takes, with
        chance 1/4, that column's value in another random row. Rows are drawn in
        proportion to ``sample_weight``, and rows of weight 0 play no part (nor
        do their values in a column's observed range). Columns keep their kind: a
        DataFrame column of category, object or bool dtype takes only its observed
        values (and keeps its dtype and categories); an integer column, or a float one
        whose values are all whole numbers (codes, counts, one-hot indicators), only
        values seen in it (the nearest); a float column stays within its observed
        range. Both need dense ``X``. ``"auto"``: ``"munge"`` where ``X`` is a dense
        table (an array or a DataFrame) of at most 10,000 rows and the student takes
        ``sample_weight`` (synthetic rows weigh ``1 - label_weight``); none for a sparse
        matrix, one object per row, more rows (the neighbour search grows about as
        the square of the rows), a student without weights (under metadata routing,
        also one that holds a step taking weights without a request set) or
        ``label_weight=1`` (the labels alone). ``augment_`` says which ran.""",
    "n_augment": """n_augment : int or float, default=1.0
        Where synthetic rows are grown: an int is their number, a float that many
        times the number of training rows (of positive weight, with
        ``sample_weight``).""",
    "n_jobs": """n_jobs : int, default=None
        Jobs for the teacher's fits over the folds (one flat joblib task list), then
        the student's.""",
    "verbose": """verbose : int, default=0
        With 1 or more, ``fit`` prints a line per teacher and student fit, the rows
        the student learned from, its fidelity and the fit's time.""",
    "random_state": """random_state : int, RandomState instance or None, default=None
        Seeds the teacher's and the student's unset ``random_state`` parameters (not
        those inside a skfuse composite with its own seed, which seeds them), a ``cv``
        that shuffles and the synthetic rows. The student's seeds do not depend on the
        teacher's, nor the teacher's on the student's.""",
    "teacher_": """teacher_ : estimator
        The teacher fitted on all rows; the teacher itself when it is frozen.""",
    "student_": """student_ : estimator
        The fitted student: all that ``predict`` calls.""",
    "n_augmented_": """n_augmented_ : int
        Synthetic rows the student learned from.""",
    "augment_": """augment_ : {"munge", "resample"} or None
        The method that grew the synthetic rows: ``augment``, or what ``"auto"``
        chose; None where none were grown.""",
    "n_oof_samples_": """n_oof_samples_ : int
        Training rows whose teacher targets the student learned from: with
        ``targets="oof"`` those a test fold of ``cv`` holds (a forward-chaining ``cv``
        leaves its first rows out; synthetic rows are still grown from every row),
        with ``targets="fit"`` or a frozen teacher every row.""",
    "label_weight_": """label_weight_ : float
        The label weight the student learned at: ``label_weight``, or the one
        ``"auto"`` chose.""",
    "label_weight_losses_": """label_weight_losses_ : dict of float to float or None
        With ``label_weight="auto"``: each label weight tried, and its student's
        out-of-fold loss against the labels (mean log-loss or squared error, weighted
        by ``sample_weight``; infinite for a weight at which the student's targets
        give weight to one class only, which no classifier learns from); empty, with a
        warning, when no fold could be checked (``cv=2`` with out-of-fold targets, or
        pairs of folds that leave the teacher one class): then 0 is used.
        None otherwise.""",
    "n_features_in_": """n_features_in_ : int
        Number of features seen during fit.""",
    "feature_names_in_": """feature_names_in_ : ndarray of str
        Names of the features seen during fit, when ``X`` has string column names.""",
}


@Substitution(**_DISTILL_DOCS)
class DistilledClassifier(ClassifierMixin, _BaseDistilled):
    """A classifier (the student) trained on the probabilities of another (the teacher).

    The teacher, any classifier with ``predict_proba`` (a fusion, a stack, a mixture,
    a Pipeline, or a prefit model in :class:`~sklearn.frozen.FrozenEstimator`), labels
    the training rows, out of fold by default, and optionally synthetic rows near them.
    The student learns those soft targets and does all the predicting, at its own cost.

    A classifier student learns them by weighted duplication: each row once per class,
    weighted by the teacher's probability, through ``sample_weight`` (which the student
    must accept; a Pipeline passes it to its last step). A regressor student learns
    the teacher's logits instead (log-odds for two classes, otherwise one centred logit
    per class, in a :class:`~sklearn.multioutput.MultiOutputRegressor` unless it takes
    several outputs), and probabilities are the softmax of its predictions.

    Parameters
    ----------
    teacher : classifier
        Has ``predict_proba``. Fitted on clones; a frozen teacher is never refitted.
    student : classifier or regressor
        Fitted on clones; see above for how each kind learns.
    {targets}
    {label_weight}
    {augment}
    {n_augment}
    temperature : float, default=1.0
        Softens the soft targets: each row's target probabilities (the teacher's, the
        label mixed in first at ``label_weight``) raised to ``1 / temperature`` and
        renormalised (their logits divided by it). Probabilities are sharpened back at
        predict time by the temperature ``fit`` used. A one-hot label is the same at any
        temperature, so at ``label_weight=1`` a classifier student's output is sharper
        (above 1; flatter below 1) than that of the student on the labels alone (a
        regressor student learns the clipped one-hot logits divided by the temperature,
        multiplied back at predict time: for a linear student, the same output).
        ``"auto"`` judges each label weight on the sharpened output.
    cv : int, cross-validation generator, iterable or None, default=5
        Folds for the out-of-fold targets and for ``fidelity_`` (the student is fitted
        on each training fold, with the synthetic rows grown from it, and compared with
        the teacher on the test fold), and for ``label_weight="auto"``'s check. An int
        (None: 5) gives ``StratifiedKFold``.
    {n_jobs}
    {verbose}
    {random_state}

    Attributes
    ----------
    {teacher_}
    {student_}
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    soft_labels_ : {{"duplication", "logits"}}
        How the student learned the soft targets.
    fidelity_ : float
        Share of rows (weighted by ``sample_weight``) on which the class the student's
        probabilities rank first, fitted without the row's fold, is the one the
        teacher's target ranks first (what :meth:`predict` gives, but for a student
        whose ``predict`` is not its top class, a tuned threshold's; NaN without a
        usable fold, or where the folds left test only rows of weight
        0; a fold whose other rows give the student one class is left out, with a
        warning).
    {n_oof_samples_}
    {n_augmented_}
    {augment_}
    {label_weight_}
    {label_weight_losses_}
    {n_features_in_}
    {feature_names_in_}

    See Also
    --------
    DistilledRegressor : The same for regression.
    SerialStack : A cascade, whose cheap first step may be a distilled student.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skfuse import DistilledClassifier, FusionClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> teacher = FusionClassifier([("rf", RandomForestClassifier(50, random_state=0)),
    ...                             ("nb", GaussianNB())], cv=3)
    >>> distilled = DistilledClassifier(teacher, DecisionTreeClassifier(max_depth=4),
    ...                                 cv=3, random_state=0).fit(X, y)
    >>> distilled.soft_labels_, bool(distilled.fidelity_ > 0.9)
    ('duplication', True)
    """

    _kind = "classifier"

    _parameter_constraints: dict = {
        **_BaseDistilled._parameter_constraints,
        "temperature": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, teacher, student, *, targets="oof", label_weight="auto", augment="auto",
                 n_augment=1.0, temperature=1.0, cv=5, n_jobs=None, verbose=0,
                 random_state=None):
        self.teacher = teacher
        self.student = student
        self.targets = targets
        self.label_weight = label_weight
        self.augment = augment
        self.n_augment = n_augment
        self.temperature = temperature
        self.cv = cv
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state

    # The teacher and the student are estimators, whose parameters their fit validates.
    @_fit_context(prefer_skip_nested_validation=False)
    @atomic_fit
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the teacher, then the student on its soft targets.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training input (dense with ``augment="munge"`` or ``"resample"``); or, with
            ``"auto"`` or None, one text (or dict) per row, for a teacher and a student
            that read them.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the teacher's ``fit`` (a ``Pipeline`` to its final step and each
            earlier step whose ``fit`` takes it; with metadata routing, only if it
            requests it; a teacher whose ``fit`` takes
            none is fitted on each row repeated as many times as its weight, a whole
            number) and multiplies the student's weights.
        **fit_params : dict
            With ``sklearn.set_config(enable_metadata_routing=True)`` only: metadata
            for the teacher, and ``groups`` for a ``cv`` splitter that uses them.

        Returns
        -------
        self : DistilledClassifier
        """
        began = time.perf_counter()
        X = self._check_X(X, reset=True)
        y = self._check_y(X, y)
        self._set_classes(y)
        self._refuse_a_frozen_student()
        self._refuse_kernel_estimators()
        if not (is_classifier(self.teacher) and hasattr(self.teacher, "predict_proba")):
            raise TypeError(
                "DistilledClassifier: the teacher should be a classifier with "
                f"predict_proba; got {self.teacher!r}."
            )
        if not (is_classifier(self.student) or is_regressor(self.student)):
            raise TypeError(
                "DistilledClassifier: the student should be a classifier (it learns by "
                "weighted duplication) or a regressor (it learns the teacher's logits); "
                f"got {self.student!r}."
            )
        if is_classifier(self.student) and weight_key(self.student) is None:
            raise TypeError(self._no_weights_message(self.student) + (
                " Or pass a regressor student, which learns the teacher's logits."))
        if is_classifier(self.student):
            refuse_weightless_inside(self.student, "DistilledClassifier", "the student",
                                     "by which the student learns the teacher's "
                                     "probabilities (as weights of duplicated rows)")
        if is_classifier(self.student) and not hasattr(self.student, "predict_proba"):
            raise TypeError(
                f"DistilledClassifier: the student {type(self.student).__name__} has no "
                "predict_proba, which a classifier student needs (its probabilities are "
                "checked against the teacher's). Pass one that has it, or a regressor "
                "student, which learns the teacher's logits."
            )
        if is_frozen(self.teacher):
            check_known_classes([("teacher", self.teacher)], self.classes_,
                                "DistilledClassifier", "frozen teacher")
        self.soft_labels_ = "duplication" if is_classifier(self.student) else "logits"
        # What predict sharpens back by: the temperature the student learned at, not one
        # set since.
        self._temperature_ = self.temperature
        return self._fit(X, y, sample_weight, fit_params, began)

    def _teacher_output(self):
        return partial(teacher_proba, classes=self.classes_)

    def _student_data(self, rows, proba, weights, student, label_weight, counted=None):
        """What the student is fitted on at ``label_weight``: ``(X, y, sample_weight,
        source, student)``, ``source`` giving the row of ``rows`` each of its rows
        comes from. A ``"balanced"`` ``class_weight`` is taken from the class weights of
        the rows ``counted`` (a mask over ``rows``; None: all), the final fit's rows.

        Duplicates of weight 0 are left out (a row keeps its first if all are 0): they
        would count toward a student's row-count settings (``min_samples_leaf``), so
        that at ``label_weight=1`` the student is the one fitted on the labels alone.
        """
        if self.soft_labels_ == "duplication":
            source, labels, w = duplicated_targets(soften(proba, self.temperature),
                                                   self.classes_, weights)
            kept = (w > 0).reshape(-1, len(self.classes_))
            kept[~kept.any(axis=1), 0] = True
            kept = kept.ravel()
            source, labels, w = source[kept], labels[kept], w[kept]
            key = _balanced_class_weight(student)
            # At label_weight=1 (the labels alone) the student balances them itself.
            if key is not None and label_weight < 1:
                w = w * balanced_class_weights(np.searchsorted(self.classes_, labels), w,
                                               len(self.classes_),
                                               None if counted is None else counted[source])
                student = clone(student).set_params(**{key: None})
            return take_rows(rows, source), labels, w, source, student
        z = logits(proba, self.temperature)
        if z.ndim == 2 and not takes_multi_output(student):
            if (get_config().get("enable_metadata_routing", False)
                    and has_fit_parameter(student, "sample_weight")):
                # Each per-class model takes the weights as a student fitted directly
                # does: under routing, MultiOutputRegressor hands them only on request.
                student = clone(student).set_fit_request(sample_weight=True)
            student = MultiOutputRegressor(student)
        elif z.ndim == 1 and not get_tags(
                deciding_estimator(student)).target_tags.single_output:
            z = z[:, None]  # two classes, one logit: a column for a multi-output-only student
            # (or a Pipeline ending in one, whose own tags do not say so)
        return rows, z, weights, np.arange(len(z)), student

    def _student_output(self):
        if self.soft_labels_ == "duplication":
            return partial(member_proba, classes=self.classes_)
        n_classes = len(self.classes_)
        return partial(_logit_predictions, n_outputs=1 if n_classes == 2 else n_classes)

    def _fidelity(self, student_out, teacher_proba, sample_weight=None):
        if self.soft_labels_ == "logits":
            student_out = self._as_proba(student_out)
        return float(np.average(student_out.argmax(axis=1) == teacher_proba.argmax(axis=1),
                                weights=sample_weight))

    def _one_class(self, y_s, w_s):
        if self.soft_labels_ != "duplication":
            return False
        weight = np.bincount(np.searchsorted(self.classes_, y_s), weights=w_s,
                             minlength=len(self.classes_))
        return np.count_nonzero(weight > 0) < 2

    def _label_targets(self, y):
        """The labels as probabilities (one-hot over ``classes_``)."""
        return (np.asarray(y)[:, None] == self.classes_[None, :]).astype(np.float64)

    def _as_proba(self, student_out, log=False):
        """The student's output as the probabilities :meth:`predict_proba` gives; with
        ``log``, their logarithm taken in the log domain (finite where a probability
        underflows to 0 but the student's output does not)."""
        temperature = self._fitted_temperature()
        normalised = log_softmax if log else softmax
        if self.soft_labels_ == "logits":
            z = temperature * student_out
            if z.ndim == 1:  # expit(-z), not 1 - expit(z): a confident row keeps its 1e-300
                sigmoid = log_expit if log else expit
                return np.column_stack([sigmoid(-z), sigmoid(z)])
            return normalised(z, axis=1)
        if temperature == 1.0 and not log:
            return student_out
        with np.errstate(divide="ignore"):
            log_p = np.log(student_out)
            return log_p if temperature == 1.0 else normalised(temperature * log_p, axis=1)

    def _fitted_temperature(self):
        # A distiller pickled before the temperature was kept at fit has none.
        return getattr(self, "_temperature_", self.temperature)

    def _row_losses(self, student_out, y):
        """Each row's log-loss against its label (probabilities clipped at
        ``PROBA_EPS``)."""
        proba = self._as_proba(student_out)
        true = proba[np.arange(len(y)), np.searchsorted(self.classes_, y)]
        return -np.log(np.clip(true, PROBA_EPS, 1.0))

    @one_names_warning
    def predict_proba(self, X):
        """Class probabilities from the student alone.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = self._check_predict_X(X)
        return self._as_proba(self._student_output()(self.student_, X))

    @one_names_warning
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed in the log domain (finite where
        a probability underflows to 0; ``-inf`` where the student gives 0).

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = self._check_predict_X(X)
        return self._as_proba(self._student_output()(self.student_, X), log=True)

    @one_names_warning
    def predict(self, X):
        """What the student predicts (a tuned decision threshold of its own included,
        where :meth:`predict_proba`'s top class may differ); a regressor student of the
        teacher's logits: the class they rank first.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        if self.soft_labels_ == "logits":
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        X = self._check_predict_X(X)
        return self.classes_[member_votes(self.student_, X, self.classes_)]


@Substitution(**_DISTILL_DOCS)
class DistilledRegressor(RegressorMixin, _BaseDistilled):
    """A regressor (the student) trained on the predictions of another (the teacher).

    The teacher, any regressor (a fusion, a stack, a mixture, a Pipeline, or a prefit
    model in :class:`~sklearn.frozen.FrozenEstimator`), predicts the training rows, out
    of fold by default, and optionally synthetic rows near them. The student learns
    those predictions and does all the predicting, at its own cost.

    Parameters
    ----------
    teacher : regressor
        Fitted on clones; a frozen teacher is never refitted.
    student : regressor
        Fitted on clones, on the teacher's predictions.
    {targets}
    {label_weight}
    {augment}
    {n_augment}
    cv : int, cross-validation generator, iterable or None, default=5
        Folds for the out-of-fold targets and for ``fidelity_`` (the student is fitted
        on each training fold, with the synthetic rows grown from it, and compared with
        the teacher on the test fold), and for ``label_weight="auto"``'s check. An int
        (None: 5) gives ``KFold``.
    {n_jobs}
    {verbose}
    {random_state}

    Attributes
    ----------
    {teacher_}
    {student_}
    fidelity_ : float
        R² of the student's predictions, fitted without the row's fold, against the
        teacher's targets, weighted by ``sample_weight`` (NaN without a usable
        fold).
    {n_oof_samples_}
    {n_augmented_}
    {augment_}
    {label_weight_}
    {label_weight_losses_}
    {n_features_in_}
    {feature_names_in_}

    See Also
    --------
    DistilledClassifier : The same for classification.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from skfuse import DistilledRegressor, FusionRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> teacher = FusionRegressor([("rf", RandomForestRegressor(50, random_state=0)),
    ...                            ("ridge", Ridge())], cv=3)
    >>> distilled = DistilledRegressor(teacher, DecisionTreeRegressor(max_depth=4),
    ...                                cv=3, random_state=0).fit(X, y)
    >>> distilled.augment_, distilled.n_augmented_
    ('munge', 442)
    """

    _kind = "regressor"

    def __init__(self, teacher, student, *, targets="oof", label_weight="auto", augment="auto",
                 n_augment=1.0, cv=5, n_jobs=None, verbose=0, random_state=None):
        self.teacher = teacher
        self.student = student
        self.targets = targets
        self.label_weight = label_weight
        self.augment = augment
        self.n_augment = n_augment
        self.cv = cv
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    @atomic_fit
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the teacher, then the student on its predictions.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training input (dense with ``augment="munge"`` or ``"resample"``); or, with
            ``"auto"`` or None, one text (or dict) per row, for a teacher and a student
            that read them.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the teacher's ``fit`` (with metadata routing, if it requests it;
            a teacher whose ``fit`` takes none is fitted on each row repeated as many
            times as its weight, a whole number) and to the student's.
        **fit_params : dict
            With ``sklearn.set_config(enable_metadata_routing=True)`` only: metadata
            for the teacher, and ``groups`` for a ``cv`` splitter that uses them.

        Returns
        -------
        self : DistilledRegressor
        """
        began = time.perf_counter()
        X = self._check_X(X, reset=True)
        y = numeric_target(self._check_y(X, y), "DistilledRegressor")
        self._refuse_a_frozen_student()
        self._refuse_kernel_estimators()
        for role, est in (("teacher", self.teacher), ("student", self.student)):
            if not is_regressor(est):
                raise TypeError(
                    f"DistilledRegressor: the {role} should be a regressor; got {est!r}."
                )
        return self._fit(X, y, sample_weight, fit_params, began)

    def _teacher_output(self):
        return teacher_prediction

    def _student_data(self, rows, targets, weights, student, label_weight, counted=None):
        return rows, targets, weights, np.arange(len(targets)), student

    def _student_output(self):
        return member_prediction

    def _fidelity(self, student_out, teacher_out, sample_weight=None):
        return float(r2_score(teacher_out, student_out, sample_weight=sample_weight))

    def _label_targets(self, y):
        return y

    def _row_losses(self, student_out, y):
        """Each row's squared error (summed over outputs)."""
        return ((np.asarray(student_out) - y) ** 2).reshape(len(y), -1).sum(axis=1)

    @one_names_warning
    def predict(self, X):
        """The student's predictions.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return member_prediction(self.student_, self._check_predict_X(X))
