"""Parallel fusion: every member sees the sample, and their outputs are combined."""

import os
import time
import warnings
from abc import abstractmethod
from functools import partial
from numbers import Integral, Real

import numpy as np
from joblib import Memory
from sklearn import get_config
from sklearn.base import ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.utils import Bunch, check_random_state, get_tags
from sklearn.utils.metadata_routing import process_routing
from sklearn.utils.validation import (
    check_is_fitted,
)

from . import _partitions
from ._base import (
    Composite,
    atomic_fit,
    check_known_classes,
    check_members,
    check_prediction_shape,
    check_sample_weight,
    check_sample_weight_support,
    default_score,
    is_drop,
    member_prediction,
    member_proba,
    member_votes,
    non_finite_rows,
    numeric_target,
    proper_probabilities,
    refuse_kernel_members,
    refuse_several_targets,
    seed_estimator,
    seeds_by_name,
    takes_multi_output,
    vote_counts,
)
from ._cache import MemberCache, StoredMember, loaded
from ._compat import Interval, InvalidParameterError, StrOptions, _fit_context
from ._docstring import Substitution
from ._jobs import FoldMean, MemberJobs, predict_members
from ._partitions import (
    PARTITION_SAMPLE,
    blockwise,
    is_collection,
    transform_collection,
)
from ._tasks import is_frozen, report, report_fit_time
from ._views import (
    check_views,
    presence,
    refuse_rows_without_any,
    resolve_view,
    take_rows,
    take_view,
    takes_nan,
)
from ._warnings import one_names_warning
from ._weights import (
    classifier_objective,
    combine_classifier,
    combine_regressor,
    fit_temperature,
    greedy_weights,
    guard_gain,
    largest_magnitude,
    near_lowest,
    optimize_weights,
    regressor_objective,
    row_losses,
    row_shares,
    tempered,
)
from .exceptions import FrozenMemberWarning


def fitted_members(fusion):
    """A fitted fusion's members by name (stored ones unpickled), for skfuse's own
    reading: unlike ``named_estimators_``, this does not hand them out, so ``predict``
    keeps taking their outputs from ``memory`` (see ``_handed_out``)."""
    return fusion._loaded_members()


class _BaseFusion(TransformerMixin, Composite):
    """Members, views, out-of-fold fits and weights shared by the fusion estimators."""

    _kind = None
    _members = "estimators"

    _parameter_constraints: dict = {
        "estimators": [list, tuple],
        "weights": [None, "array-like", StrOptions({"optimize", "greedy"})],
        "cv": ["cv_object"],
        "scoring": [None, StrOptions(set(get_scorer_names())), callable],
        "selection_rounds": [Interval(Integral, 1, None, closed="left")],
        "guard": ["boolean"],
        "refit": ["boolean"],
        "budget": [None, Interval(Real, 0, None, closed="neither")],
        "costs": [None, dict],
        "views": [None, dict],
        "missing": [StrOptions({"error", "prior"})],
        "memory": [None, str, os.PathLike, Memory],
        "partitions": [None, StrOptions({"blocks"}), Interval(Integral, 2, None,
                                                                closed="left")],
        "partition_sample": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    @abstractmethod
    def __init__(self):
        pass

    @property
    def named_estimators(self):
        """Dict-like access to the (unfitted) members by name."""
        return Bunch(**dict(self.estimators))

    @property
    def estimators_(self):
        """The fitted members (see the class's Attributes)."""
        return list(self._handed_out().values())

    @property
    def named_estimators_(self):
        """The fitted members by name (see the class's Attributes)."""
        return Bunch(**self._handed_out())

    def _handed_out(self):
        """The fitted members, for a caller who may change them in place: from then on
        ``predict`` neither reads nor writes their outputs in ``memory``, where they are
        keyed by the members as fitted."""
        members = self._loaded_members()
        keys = self.__dict__.get("_member_keys_")
        if keys is not None:  # in place: a shallow copy (copy.copy) shares the list
            keys[:] = [None] * len(keys)
        self._member_keys_ = None
        return members

    def _loaded_members(self):
        """The fitted members by name, unpickled where the cache left them stored."""
        try:
            members = self.__dict__["_fitted_members_"]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no fitted members before fit") from None
        for name, est in members.items():
            if isinstance(est, StoredMember):
                members[name] = loaded(est)
        return members

    def __getstate__(self):
        if "_fitted_members_" in self.__dict__:
            self._loaded_members()  # a pickle holds the members themselves
        return super().__getstate__()

    def __setstate__(self, state):
        if "estimators_" in state:  # pickled before members could stay stored
            state["_fitted_members_"] = dict(zip(state.pop("named_estimators_"),
                                                 state.pop("estimators_")))
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            members = [est for _, est in self.estimators if not is_drop(est)]
            tags.input_tags.allow_nan = all(takes_nan(est) for est in members)
            # Each member's tags read once: a search asks for these at every fold.
            member_tags = [get_tags(est) for est in members]
            tags.input_tags.sparse = all(t.input_tags.sparse for t in member_tags)
            tags.non_deterministic = any(t.non_deterministic for t in member_tags)
            # With fixed weights a fusion takes a kernel as its members do: a search
            # then cuts the kernel's columns with its rows.
            tags.input_tags.pairwise = any(t.input_tags.pairwise for t in member_tags)
        except (TypeError, ValueError, AttributeError):
            pass  # invalid estimators: fit reports them
        # transform returns member outputs (probabilities, class indices or
        # predictions), whatever the dtype of X.
        tags.transformer_tags.preserves_dtype = []
        return tags

    # -- validation --------------------------------------------------------------

    def _needs_columns(self):
        return "views" if self.views else None

    def _check_fit_params(self):
        """Check what ``_parameter_constraints`` cannot say, and return what ``_fit`` takes.

        That is the rules that link parameters: views, costs and fixed weights against
        the members (by name, by count, the kept ones), and a budget only with greedy
        weights; and the entries of ``estimators``, ``weights`` and ``costs``, which a
        declared constraint does not look into. Returns the kept ``(names, members,
        views, weights)``.
        """
        owner = type(self).__name__
        names, members = check_members(self.estimators, self._kind, owner)
        self._validate_names([name for name, _ in self.estimators])
        views = check_views(self.views, [name for name, _ in self.estimators], owner)
        weights = self.weights
        if weights is not None and not isinstance(weights, str):
            try:
                weights = np.asarray(weights, dtype=np.float64)
            except (TypeError, ValueError, OverflowError):  # (an int beyond float64)
                weights = None
            if weights is None or weights.ndim != 1:
                raise InvalidParameterError(
                    f"{owner}: weights must be a 1-D list of numbers, one per estimator "
                    f"in the order of estimators; got {self.weights!r}."
                )
            if weights.shape != (len(self.estimators),):
                raise ValueError(
                    f"{owner}: weights has {weights.size} entries for "
                    f"{len(self.estimators)} estimators."
                )
            if not np.all(np.isfinite(weights)) or np.any(weights < 0):
                raise ValueError(f"{owner}: weights must be finite and non-negative.")
            kept = [w for (_, est), w in zip(self.estimators, weights) if not is_drop(est)]
            weights = np.asarray(kept)
            with np.errstate(over="ignore"):
                if not np.isfinite(weights.sum()):  # each finite, their sum too large
                    weights = weights / weights.max()
            if weights.sum() <= 0:
                raise ValueError(f"{owner}: the weights of the kept members sum to 0.")
        if self.budget is not None and not (isinstance(weights, str) and weights == "greedy"):
            raise ValueError(f"{owner}: budget applies only to weights='greedy'.")
        self._check_calibration(weights)
        if self.costs is not None:
            missing = [name for name in names if name not in self.costs]
            # A dropped member may keep its cost (a search that drops it), as in views.
            listed = [name for name, _ in self.estimators]
            unknown = [name for name in self.costs if name not in listed]
            if missing:  # a key that names no member may be the typo behind it
                hint = (f"; it names {unknown!r}, which are not among the members "
                        f"{listed!r}" if unknown else "")
                raise ValueError(
                    f"{owner}: costs gives no cost for member(s) {missing!r}{hint}.")
            not_numbers = [name for name in names if isinstance(self.costs[name], bool)
                           or not isinstance(self.costs[name], Real)]
            if not_numbers:
                raise InvalidParameterError(
                    f"{owner}: costs must map each member to a number; got "
                    f"{ {name: self.costs[name] for name in not_numbers}!r}.")
            bad = [name for name in names
                   if not (np.isfinite(self.costs[name]) and self.costs[name] >= 0)]
            if bad:
                raise ValueError(f"{owner}: costs of {bad!r} must be finite and >= 0.")
        cut = isinstance(weights, str) or self.partitions is not None
        refuse_kernel_members(
            [(name, est) for name, est in zip(names, members)
             if (cut and not is_frozen(est)) or name in views],
            owner, "member", "the fusion fits it on subsets of rows (cv folds for learned "
            "weights, partitions) or columns (a view)")
        return names, members, views, weights

    def _get_scorer(self):
        """The scorer that learned weights maximise; None for the default loss."""
        return None if self.scoring is None else get_scorer(self.scoring)

    def _routed_scorer(self):
        # Only learned weights use the scorer.
        return self._get_scorer() if isinstance(self.weights, str) else None

    def _scoring_weight(self, sample_weight, fit_params):
        """The weights ``scoring`` scores the out-of-fold outputs with: ``sample_weight``;
        under metadata routing, what the scorer requests (none where it declines them or
        is a plain function; an unset request with weights given is refused before,
        as scikit-learn's searches refuse it from version 1.9)."""
        if (self._routed_scorer() is None
                or not get_config().get("enable_metadata_routing", False)):
            return sample_weight
        if sample_weight is not None:
            fit_params = {"sample_weight": sample_weight, **fit_params}
        if not fit_params:
            return None
        routed = process_routing(self, "fit", **fit_params)["scoring"].score
        others = sorted(set(routed) - {"sample_weight"})
        if others:
            owner = type(self).__name__
            raise TypeError(
                f"{owner}: scoring requests {others} at score, which {owner} does not "
                "pass to it: it scores the fused out-of-fold outputs with sample_weight "
                "alone. Unset the request (set_score_request(<name>=None)).")
        return routed.get("sample_weight")

    # -- fitting -----------------------------------------------------------------

    def _fit(self, params, X, y, y_target, sample_weight, fit_params, began):
        """Fit members (and, for learned weights, their out-of-fold outputs).

        ``params`` comes from ``_check_fit_params``; ``y`` is what members are fitted
        on; ``y_target`` is what the weights are learned against (encoded labels for
        classifiers); ``began`` is when ``fit`` was called (for ``verbose``).
        """
        names, members, views, weights = params
        owner = type(self).__name__
        self._refuse_budget_per_output(y_target)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        split_params, routed = self._fit_metadata(sample_weight, fit_params)
        if sample_weight is not None and routed is None:
            check_sample_weight_support(names, members, owner, sample_weight)
        self._warn_unrouted_weights(sample_weight, routed, stacklevel=5)  # _fit, fit,
        # atomic_fit, _fit_context, the caller
        score_weight = self._scoring_weight(sample_weight, fit_params)
        if score_weight is not None:  # an alias's array, as sample_weight is checked
            score_weight = check_sample_weight(score_weight, X.shape[0])
        self._check_members_can_output(names, members)
        frozen = [is_frozen(est) for est in members]
        self._warn_frozen(names, frozen, weights)
        learn = isinstance(weights, str)
        # A frozen member's classes are checked before its output is asked for.
        self._check_member_classes([(n, est) for n, est, f in zip(names, members, frozen) if f])
        rng = check_random_state(self.random_state)
        # A member's seed depends on its name alone, and the folds' on no member: a
        # member of weight 0 fits as dropping it would, and a search over members
        # compares them on the same folds with the others seeded alike.
        seeds = seeds_by_name(None if self.random_state is None else rng, names)
        folds = (self._folds(X, y, rng, self._kind == "classifier", split_params) if learn
                 else [])
        if learn and not self.refit and not all(frozen):  # a frozen one is used as it is
            self._warn_rows_never_trained(folds, X.shape[0])
        members = [seed_estimator(est, seeds[name]) for name, est in zip(names, members)]
        feature_names = getattr(self, "feature_names_in_", None)
        self._views_ = {
            name: resolve_view(views[name], X, name, feature_names)
            for name in names
            if name in views
        }
        present = self._presence(X, names, members, fitted=False)
        self._refuse_rows_without_members(present)
        self._fallback_ = self._fallback(y_target, sample_weight)
        # Each member is refitted on all rows (where its view is present), then (for
        # learned weights) fitted on every training fold and asked for its test fold. A
        # frozen member is never fitted: its output on all rows stands for its
        # out-of-fold output.
        plan = MemberJobs(owner, X.shape[0], n_jobs=self.n_jobs, verbose=self.verbose,
                          memory=self.memory, store_members=True)
        for m, (name, est) in enumerate(zip(names, members)):
            plan.add(name, est, label=f"member {name!r}", view=self._views_.get(name),
                     rows=None if present is None else present[m],
                     folds=folds,
                     params=routed and routed[name], refit=self.refit or not learn,
                     keep_folds=learn and not self.refit)
        fits = plan.run(X, y, sample_weight, self._output())
        # Without a refit, a member predicts by the mean of its fold fits (a frozen
        # member is used as it is).
        # Members from the cache's memory stay pickled until asked for (estimators_).
        self._fitted_members_ = {
            name: fits[name].estimator if fits[name].estimator is not None
            else FoldMean(fits[name].fold_estimators, getattr(self, "classes_", None))
            for name in names}
        keys = [fits[name].key for name in names]
        self._member_keys_ = None if all(key is None for key in keys) else keys
        self._check_member_classes([(n, est) for (n, est), f
                                    in zip(self._fitted_members_.items(), frozen) if not f])
        if learn:
            # A member kept as its fold fits (refit=False) runs each of them to predict.
            self.member_costs_ = (
                {name: fits[name].predict_seconds * (
                    1 if fits[name].estimator is not None else len(fits[name].fold_estimators))
                 for name in names} if self.costs is None
                else {name: float(self.costs[name]) for name in names}
            )
            oof = np.stack([fits[name].oof for name in names])
            # Rows where some member that should have an out-of-fold output has none
            # (a forward-chaining cv never tests its first rows) are left out.
            tested = np.stack([fits[name].tested for name in names])
            kept = (tested | ~present if present is not None else tested).all(axis=0)
            self._learn_weights(names, weights, oof, y_target, sample_weight, score_weight,
                                present, kept)
        else:
            self.weights_ = (
                np.full(len(names), 1.0 / len(names)) if weights is None
                else weights / weights.sum()
            )
        if self.verbose:
            if learn:
                self._report_weights(owner, names, weights)
            report_fit_time(owner, began)
        return self

    def _check_partition_weights(self, names, members, sample_weight):
        """Partitions fit every member with ``sample_weight``: under metadata routing,
        each must request it (an unset request raises, as without partitions). Nor do
        they repeat rows for a member that takes no weights."""
        owner = type(self).__name__
        _, routed = self._fit_metadata(sample_weight, {})
        if routed is None:
            check_sample_weight_support(
                names, members, owner,
                need="which partitions give every member (they fit none on repeated "
                     "rows, as a fusion in memory does for whole-number weights)")
            return
        unweighted = [name for name in names if "sample_weight" not in routed[name]]
        if unweighted:
            raise ValueError(
                f"{owner}: with partitions every member is fitted with sample_weight, "
                f"and under metadata routing {unweighted!r} do not request it; request "
                "it on every member (set_fit_request(sample_weight=True)) or fit without "
                "partitions."
            )

    def _warn_frozen(self, names, frozen, weights):
        """Warn when learned weights meet frozen members (``frozen``: which are), which
        may have been trained on the rows the weights are fitted on. Called by
        ``_fit`` and ``_fit_partitioned``, so the warning points at the user's
        ``fit``."""
        if isinstance(weights, str) and any(frozen):
            warnings.warn(
                f"{type(self).__name__}: weights={weights!r} are fitted on the data given "
                f"to fit, and the frozen member(s) "
                f"{[n for n, f in zip(names, frozen) if f]!r} may have been trained on it, "
                "which favours them. Fit on rows they never saw (a blending set).",
                FrozenMemberWarning,
                # here, _fit(_partitioned), fit, atomic_fit, _fit_context, the caller
                stacklevel=6,
            )

    def _warn_rows_never_trained(self, folds, n_samples):
        """Warn when, without a refit, rows are in no training part of ``cv`` (the
        last test fold of a forward-chaining splitter, the test rows of one
        ``ShuffleSplit``): no fit that predicts has seen them. Called by ``_fit``."""
        trained = np.zeros(n_samples, dtype=bool)
        for train, _ in folds:
            trained[train] = True
        if not trained.all():
            warnings.warn(
                f"{type(self).__name__}: {int(np.sum(~trained))} of {n_samples} rows are "
                "in no training part of cv, and with refit=False the members predict "
                "with their fold fits, none of which has seen them. Set refit=True to "
                "fit each member on every row as well.",
                UserWarning,
                stacklevel=6,  # here, _fit, fit, atomic_fit, _fit_context, the caller
            )

    def _refuse_budget_per_output(self, y_target):
        if self.budget is not None and self._weights_per_output(y_target):
            # predict calls every member some output weighs: per-output selections, each
            # within the budget, could together pass it.
            raise ValueError(
                f"{type(self).__name__}: budget caps what the members chosen cost "
                "together at predict, and output_weights='per_output' chooses members "
                "for each output apart; use output_weights='shared' with a budget.")

    def _fit_partitioned(self, params, X, y, sample_weight, fit_params, began):
        """Fit one copy of each member per partition and learn the weights from their
        out-of-partition outputs on a sample of rows (:mod:`skfuse._partitions`)."""
        names, members, _, weights = params
        owner = type(self).__name__
        classifier = self._kind == "classifier"
        if self.partitions is None:
            raise TypeError(
                f"{owner}: X is a Dask collection; pass partitions='blocks' (one copy of "
                "each member per block, fitted where the block lives) or an int, or "
                "compute X into memory."
            )
        # A Memory without a location caches nothing; "" caches in ./joblib.
        for name, value, why in (("views", self.views, "member views"),
                                 ("memory", MemberCache(self.memory).enabled,
                                  "the member cache"),
                                 ("fit_params", fit_params, "routed metadata")):
            if value:
                raise ValueError(f"{owner}: {why} ({name}) cannot be used with "
                                 "partitions.")
        if is_collection(X):
            _set_collection_features(self, X)
            if classifier:  # only y's shape is read here; its values block by block
                refuse_several_targets(self, np.shape(y))
                y = _partitions.one_column_as_1d(y)
        else:
            X = self._check_X(X, reset=True)
            y = self._check_y(X, y, None if classifier else list(zip(names, members)))
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
        if sample_weight is not None:
            self._check_partition_weights(names, members, sample_weight)
        self._check_members_can_output(names, members)
        self._warn_frozen(names, [is_frozen(est) for est in members], weights)
        whole = [_partitions.takes_collections(est) for est in members]
        if any(whole) and not is_collection(X):
            raise TypeError(f"{owner}: member {names[whole.index(True)]!r} takes Dask "
                            "collections, and X is in memory.")
        self._views_, self._member_keys_ = {}, None
        if not is_collection(X):  # refuses NaN a member cannot take
            self._refuse_rows_without_members(self._presence(X, names, members, False))
        rng = check_random_state(self.random_state)
        seeds = seeds_by_name(None if self.random_state is None else rng, names)
        members = [seed_estimator(est, seeds[name]) for name, est in zip(names, members)]
        parts = _partitions.split(X, y, sample_weight, self.partitions, owner)
        if isinstance(weights, str) and len(parts.lengths) < 2 and not all(whole):
            raise ValueError(
                f"{owner}: X has one block, so partitions={self.partitions!r} makes one "
                f"partition, and weights={weights!r} are learned from each partition's "
                "outputs by the fits of the others; rechunk (repartition) X into more "
                "blocks, or give fixed weights."
            )
        positions = _partitions.sample_positions(parts.lengths, self.partition_sample, rng)
        summary = _partitions.summarise(parts, positions, classifier, owner)
        sample = _partitions.stack_rows([s[0] for s in summary])
        y_sample = np.concatenate([s[1] for s in summary])
        w_sample = None if sample_weight is None else np.concatenate(
            [s[2] for s in summary]).astype(np.float64)
        # Learned weights need sampled rows of positive weight (weights that are not
        # finite and non-negative are refused where each group reads them).
        if (isinstance(weights, str) and w_sample is not None
                and np.all(np.isfinite(w_sample)) and np.all(w_sample >= 0)
                and not w_sample.sum() > 0):
            raise ValueError(
                f"{owner}: every one of the {len(w_sample)} sampled rows (partition_sample="
                f"{self.partition_sample} per partition) has sample_weight 0, so the weights "
                "cannot be learned on them; sample more rows per partition, or give more "
                "rows a positive weight."
            )
        groups = np.repeat(np.arange(len(positions)), [len(p) for p in positions])
        if classifier:
            self._set_classes(np.concatenate([s[3] for s in summary]))
            y_target = np.searchsorted(self.classes_, y_sample)
        else:
            y_target = self._check_partitioned_y(y_sample)
        self._refuse_budget_per_output(y_target)
        self.n_partitions_ = len(parts.lengths)
        # No prior: views, and so rows without a member, are refused with partitions
        # (and the sample's weights may all be 0 where fixed weights learn nothing).
        self._fallback_ = None
        split = _partitions.fit_groups(
            [(f"member {name!r}", est) for name, est, w in zip(names, members, whole)
             if not w], parts, sample, self._output(), owner, n_jobs=self.n_jobs,
            verbose=self.verbose)[::-1]
        # A member that takes the collection is fitted once on all of it but the
        # sample, whose rows it then predicts out of sample.
        fits = [[_partitions.fit_on_collection(est, X, parts, positions, sample,
                                               self._output(), f"member {name!r}", owner)]
                if w else split.pop() for name, est, w in zip(names, members, whole)]
        classes = getattr(self, "classes_", None)
        # One fit predicts for a member fitted on the whole collection or frozen (its
        # copies are one model); else the mean of its partition copies, each of which
        # predicts, so they all count toward its cost.
        once = [w or is_frozen(est) for est, w in zip(members, whole)]
        self._fitted_members_ = {
            name: fit[0][0] if one else FoldMean([fitted for fitted, _, _ in fit], classes)
            for name, fit, one in zip(names, fits, once)}
        learn = isinstance(weights, str)
        if learn:
            self.member_costs_ = (
                {name: float(np.median([s for *_, s in fit])) * (1 if one else len(fit))
                 for name, fit, one in zip(names, fits, once)} if self.costs is None
                else {name: float(self.costs[name]) for name in names})
            vote = classifier and self.voting == "hard"
            oop = np.stack([np.asarray(fit[0][1]) if w else
                            _partitions.out_of_partition(
                                [out for _, out, _ in fit], groups,
                                n_classes=len(self.classes_) if vote else None)
                            for fit, w in zip(fits, whole)])
            # The scorer weighs the sampled rows if it takes fit's sample_weight.
            scored = sample_weight is not None and self._scoring_weight(
                sample_weight, {}) is not None
            self._learn_weights(names, weights, oop, y_target, w_sample,
                                w_sample if scored else None, None,
                                np.ones(len(y_target), dtype=bool))
        else:
            self.weights_ = (np.full(len(names), 1.0 / len(names)) if weights is None
                             else weights / weights.sum())
        if self.verbose:
            if learn:
                self._report_weights(owner, names, weights)
            report_fit_time(owner, began)
        return self

    def _member_input(self, views, members):
        """For :meth:`_check_y`: the ``(X, y)`` a member is fitted on, its view of the
        rows where that view is present."""
        feature_names = getattr(self, "feature_names_in_", None)

        def member_input(name, X, y):
            if name not in views:
                return X, y
            view = resolve_view(views[name], X, name, feature_names)
            present = presence(X, [view], [members[name]], [f"member {name!r}"],
                               type(self).__name__)
            rows = np.arange(X.shape[0]) if present is None else np.flatnonzero(present[0])
            if rows.size == 0:  # refused at fit, in those words
                return None
            return take_rows(take_view(X, view), rows), np.asarray(y)[rows]

        return member_input

    def _check_partitioned_y(self, y_sample):
        """The sample's targets, checked as the members' fits do not check them."""
        return y_sample

    def _report_weights(self, owner, names, method):
        """Say the learned weights, the out-of-fold scores they were judged by, and
        whether the guard fell back to one member."""
        if getattr(self, "temperatures_", None) is not None:
            report(owner, "temperatures: " + ", ".join(
                f"{name} {t:.3f}" for name, t in zip(names, self.temperatures_)))
        per_output = np.ndim(self.weights_) == 2  # output_weights="per_output"
        for k in range(len(self.weights_)) if per_output else [None]:
            def pick(value, k=k):
                return value if k is None else value[k]

            where = "" if k is None else f"output {k}: "
            fallback = pick(self.fallback_)
            fell_back = isinstance(fallback, str)
            # After a fallback, weights_ is the member's one-hot; say what was learned.
            learned = pick(self._guard_)[2] if fell_back else pick(self.weights_)
            report(owner, f"{where}learned weights ({method}): " + ", ".join(
                f"{name} {w:.3f}" for name, w in zip(names, learned)))
            if fell_back:
                gain, error, _ = pick(self._guard_)
                report(owner, f"{where}guard: fell back to member {fallback!r} alone (the "
                       f"learned weights' out-of-fold gain over it, {gain:.4g}, is not "
                       f"above its standard error, {error:.4g})")
            used = f"member {fallback!r} alone" if fell_back else "the learned weights"
            report(owner, f"{where}out-of-fold score of {used} "
                   f"{pick(self.oof_score_):.4f}; members: " + ", ".join(
                       f"{name} {pick(score):.4f}"
                       for name, score in self.member_scores_.items()))

    def _check_calibration(self, weights):
        pass

    def _presence(self, X, names, estimators, fitted):
        """Which members have their view on each row: (M, n) bool, or None if all do;
        ``fitted``: the estimators are the fitted members."""
        return presence(X, [self._views_.get(name) for name in names], estimators,
                        [f"member {name!r}" for name in names], type(self).__name__, fitted)

    def _learn_weights(self, names, method, oof, y_target, sample_weight, score_weight,
                       present, kept):
        """Set ``weights_``, ``n_oof_samples_`` and the out-of-fold scores from stacked
        member outputs, on the ``kept`` rows.

        ``sample_weight`` weighs the default loss and the calibration, ``score_weight``
        (:meth:`_scoring_weight`) a ``scoring``'s scores. With ``present``, rows with no
        member are left out too, each row's weights are renormalised over its members,
        and a member's own score is taken on its rows.
        """
        keep = kept if present is None else kept & present.any(axis=0)
        self.n_oof_samples_ = int(keep.sum())
        if self.n_oof_samples_ == 0:
            raise ValueError(
                f"{type(self).__name__}: no row has an out-of-fold output of every "
                "member, so the weights cannot be learned."
            )
        if not keep.all():
            oof, y_target = oof[:, keep], y_target[keep]
            present = None if present is None else present[:, keep]
            sample_weight = None if sample_weight is None else sample_weight[keep]
            score_weight = None if score_weight is None else score_weight[keep]
        _refuse_non_finite(type(self).__name__, names, oof, present)
        self._refuse_improper_outputs(names, oof, present)
        oof = self._calibrate(names, oof, y_target, present, sample_weight)
        objective_weight = sample_weight if self.scoring is None else score_weight
        if objective_weight is not None and not objective_weight.sum() > 0:
            rows = ("the row" if self.n_oof_samples_ == 1
                    else f"all {self.n_oof_samples_} rows")
            raise ValueError(
                f"{type(self).__name__}: the sample weights of {rows} the weights are "
                "learned from (those the cv tests) are 0, so the weights cannot be "
                "learned; use a cv whose test folds hold rows of positive weight."
            )
        per_output = self._weights_per_output(y_target)
        # The scorer's warnings come once per fit, not once per step (atomic_fit).
        if per_output:
            # One weight vector per output, each learned on that output alone.
            fits = [self._weights_from(names, method, oof[..., k], y_target[:, k],
                                       objective_weight, present)
                    for k in range(y_target.shape[1])]
        else:
            fits = [self._weights_from(names, method, oof, y_target, objective_weight,
                                       present)]
        if per_output:
            for attribute in fits[0]:
                values = [fit[attribute] for fit in fits]
                if attribute in ("weights_", "oof_score_"):
                    values = np.array(values)
                elif attribute == "member_scores_":
                    values = {name: np.array([v[name] for v in values]) for name in names}
                setattr(self, attribute, values)
            return
        for attribute, value in fits[0].items():
            setattr(self, attribute, value)

    def _weights_per_output(self, y_target):
        return False

    def _calibrate(self, names, oof, y_target, present, sample_weight):
        return oof

    def _weights_from(self, names, method, oof, y_target, sample_weight, present):
        """Learned weights and out-of-fold scores, by attribute name."""
        learned = self._fit_weights(names, method, oof, y_target, sample_weight, present)
        loss, _ = self._objective(oof, y_target, sample_weight, present)
        learned["fallback_"] = learned["_guard_"] = None
        if present is None:
            learned["member_scores_"] = {
                name: -float(loss(onehot)) for name, onehot in zip(names, np.eye(len(names)))
            }
            if self.guard and self.scoring is None:
                self._guard(learned, names, oof, y_target, sample_weight)
            learned["oof_score_"] = -float(loss(learned["weights_"]))
            return learned
        learned["oof_score_"] = -float(loss(learned["weights_"]))
        learned["member_scores_"] = {}
        for m, name in enumerate(names):
            rows = present[m]
            sw = None if sample_weight is None else sample_weight[rows]
            alone, _ = self._objective(oof[m : m + 1, rows], y_target[rows], sw, None)
            learned["member_scores_"][name] = -float(alone(np.ones(1)))
        return learned

    def _fit_weights(self, names, method, oof, y_target, sample_weight, present):
        """``weights_`` (and greedy's path) learned on the given out-of-fold rows."""
        loss, grad = self._objective(oof, y_target, sample_weight, present)
        try:  # the loss's and the scorer's refusals, named as the estimator's
            if method == "optimize":
                return {"weights_": optimize_weights(loss, grad, len(names), names)}
            weights, path, losses = greedy_weights(
                loss, len(names), self.selection_rounds,
                [self.member_costs_[name] for name in names], self.budget, names
            )
        except ValueError as exc:
            raise ValueError(f"{type(self).__name__}: {exc}") from exc
        return {"weights_": weights, "selection_path_": [names[m] for m in path],
                "selection_scores_": [-value for value in losses]}

    def _guard(self, learned, names, oof, y_target, sample_weight):
        """Fall back to the member with the best out-of-fold score when the learned
        weights beat it by no more than the standard error of their gain."""
        scores = learned["member_scores_"]
        within = range(len(names))
        if self.weights == "greedy" and self.budget is not None:  # the fallback too
            # (greedy has chosen a member, so one fits the budget alone)
            within = [m for m in within if self.member_costs_[names[m]] <= self.budget]
        within = list(within)  # of equal scores (to rounding), the one listed first
        best = within[int(np.argmax(near_lowest([-scores[names[m]] for m in within])))]
        onehot = np.eye(len(names))[best]
        fused = row_losses(oof, y_target, learned["weights_"], self._kind,
                           getattr(self, "voting", None))
        alone = row_losses(oof, y_target, onehot, self._kind, getattr(self, "voting", None))
        gain, error = guard_gain(fused, alone, sample_weight)
        # A gain within rounding of the losses (copies of one member fused) is no gain,
        # as near_lowest treats equal losses: otherwise the ulps decide the fallback.
        # (of the mean loss, as near_lowest's are means: one huge row's loss must not
        # swallow a real gain on the others)
        rounding = 1e-12 * largest_magnitude([np.average(alone, weights=sample_weight)])
        if gain <= error + rounding and not np.array_equal(learned["weights_"], onehot):
            learned["_guard_"] = (gain, error, learned["weights_"])
            learned["weights_"] = onehot
            learned["fallback_"] = names[best]

    def _check_member_classes(self, named_members):
        pass

    def _refuse_improper_outputs(self, names, oof, present):
        pass

    def _refuse_improper_at_predict(self, names, outs):
        pass

    def _member_outputs(self, X, weighted=False):
        """Stacked member outputs and the presence mask (None when every view is there).

        A member is asked only about the rows where its view is present; elsewhere its
        output is 0. With ``weighted``, a member of weight 0 is asked only about the
        rows where no member of positive weight is present (elsewhere it plays no part
        in the fused output). Rows with no member present raise, unless
        ``missing="prior"``, and so do outputs that hold NaN or an infinite value (soft
        voting would clip an infinite probability to 1, a temperature make NaN 0).
        """
        outs, present, asked = self._outputs_by_member(X, self._output(), weighted)
        _refuse_non_finite_at_predict(type(self).__name__, list(self._fitted_members_),
                                      outs)
        self._refuse_improper_at_predict(list(self._fitted_members_), outs)
        if all(rows is None for rows in asked):
            return np.stack(outs), present
        given = [out for out in outs if out is not None]
        # a member of positive weight is asked about every row when no view is missing
        n_rows = (len(next(o for o, rows in zip(outs, asked) if rows is None))
                  if present is None else present.shape[1])
        shape = (len(outs), n_rows) + self._output_shape()
        stacked = np.zeros(shape, dtype=np.result_type(*[o.dtype for o in given]) if given
                           else np.float64)
        for m, (out, rows) in enumerate(zip(outs, asked)):
            if out is not None:
                stacked[m, slice(None) if rows is None else rows] = out
        return stacked, present

    def _outputs_by_member(self, X, output, weighted=False):
        """Each member's ``output(fitted, X_rows)`` on the rows it is asked about (None
        for a member asked about none), the presence mask (None when every view is
        there) and, per member, those rows (None: all). A member is asked about the rows
        where its view is present; with ``weighted``, a member of weight 0 only about
        those where no member of positive weight is present. Rows with no member
        present raise, unless ``missing="prior"``."""
        X = self._check_X(X, reset=False)
        names = list(self._fitted_members_)
        present = self._presence(X, names, lambda: list(self._loaded_members().values()),
                                fitted=True)
        self._refuse_rows_without_members(present)
        asked = _rows_asked(len(names), present, self.weights_ if weighted else None)
        live = self._member_keys_  # set to None in place when the members are handed out
        keys = list(live or [None] * len(names))
        outs = predict_members(
            [(name, est, self._views_.get(name), rows, key)
             for (name, est), rows, key in zip(self._fitted_members_.items(), asked, keys)],
            X, output, owner=type(self).__name__, n_jobs=self.n_jobs, memory=self.memory,
            # a member handed out while this call ran may have been changed: its output
            # is not written under the key of the member as fitted
            still_keyed=None if live is None else lambda: live == keys)
        return outs, present, asked

    def _output_shape(self):
        return ()

    def _refuse_rows_without_members(self, present):
        """With ``missing="error"``, refuse rows where every member's view is missing
        (at fit too: a model that fits on ``X`` predicts on it)."""
        if self.missing == "error":
            refuse_rows_without_any(present, type(self).__name__, "member",
                                    "the training prior (classes) or mean (regression)")

    def _check_members_can_output(self, names, members):
        pass

    def _splits(self):
        # Fixed weights need no out-of-fold outputs, nor partitions: cv is unused.
        return isinstance(self.weights, str) and self.partitions is None

    def _unused_weights(self):
        # Learned weights weigh the out-of-fold loss; missing="prior" the prior.
        # Partitions fit every member with the weights, and say so when one declines.
        if (isinstance(self.weights, str) or self.missing == "prior"
                or self.partitions is not None):
            return None
        return (f"{type(self).__name__} with fixed weights (and missing='error') does not "
                "use it itself")

    def get_feature_names_out(self, input_features=None):
        """Names of the columns :meth:`transform` returns.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Checked against ``feature_names_in_`` (and the number of features) when
            given; the output names depend only on the members.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        if input_features is not None:
            self._input_feature_names(input_features)
        prefix = type(self).__name__.lower()
        return np.asarray(
            [f"{prefix}_{name}{suffix}" for name in self._fitted_members_
             for suffix in self._output_suffixes()],
            dtype=object,
        )


def _rows_asked(n_members, present, weights):
    """Per member, the rows to ask it about: None for all, else their positions.

    ``present`` (M, n) or None: where each member's view is. ``weights`` (M,), or
    (n_outputs, M), or None (every member needed): a member of weight 0 on every
    output counts only on rows where no member of positive weight is present, since
    the fused output renormalises over the members present (:func:`row_shares`).
    """
    idle = (np.zeros(n_members, dtype=bool) if weights is None
            else ~np.any(np.reshape(weights, (-1, n_members)) != 0, axis=0))
    if present is None:
        return [np.empty(0, dtype=np.intp) if i else None for i in idle]
    alone = ~present[~idle].any(axis=0)
    asked = []
    for m in range(n_members):
        rows = present[m] & alone if idle[m] else present[m]
        asked.append(None if rows.all() else np.flatnonzero(rows))
    return asked


def _refuse_non_finite(owner, names, oof, present):
    """Raise, naming the members, when an out-of-fold output a member should have given
    (on the rows where it is present) holds NaN or an infinite value."""
    finite = np.isfinite(oof.reshape(oof.shape[0], oof.shape[1], -1)).all(axis=2)
    refuse_outputs(owner, names, finite, present, "hold NaN or infinite values",
                   "a member fitted on too few rows (GaussianNB on one row of a class) can "
                   "give NaN")


def _refuse_non_finite_at_predict(owner, names, outs):
    """Raise, naming the members and their rows, where a member's output (None: asked
    about no row) holds NaN or an infinite value."""
    _refuse_at_predict(owner, names, outs, non_finite_rows,
                       "hold NaN or infinite values, which fusing would hide (an infinite "
                       "probability clipped to 1, a tempered NaN made 0) or spread.")


def _refuse_at_predict(owner, names, outs, wrong_rows, what):
    """Raise, naming the members and their rows, where ``wrong_rows(out)`` (a boolean
    per row, or None: none) marks rows of a member's output (None: asked about no row);
    ``what`` says what is wrong with them."""
    bad = []
    for name, out in zip(names, outs):
        rows = None if out is None else wrong_rows(out)
        if rows is not None and rows.any():
            bad.append(f"{name!r} ({int(rows.sum())} rows)")
    if bad:
        raise ValueError(f"{owner}: the outputs of {', '.join(bad)} {what}")


def refuse_outputs(owner, names, proper, present, what, advice):
    """Raise, naming the members and their rows, where ``proper`` (members, rows) is
    False on a row the member is present on (``present``, None: all)."""
    if present is not None:
        proper = proper | ~present
    bad = [f"{name!r} ({int((~ok).sum())} rows)" for name, ok in zip(names, proper)
           if not ok.all()]
    if bad:
        raise ValueError(
            f"{owner}: the out-of-fold (or out-of-partition) outputs of {', '.join(bad)} "
            f"{what}, so the weights cannot be learned from them; {advice}."
        )


def _set_collection_features(estimator, X):
    """``n_features_in_`` and ``feature_names_in_`` from a Dask collection's columns."""
    if X.ndim != 2:
        raise ValueError(f"{type(estimator).__name__}: X must be 2-D, got {X.ndim}-D.")
    columns = getattr(X, "columns", None)
    estimator.n_features_in_ = int(X.shape[1] if columns is None else len(columns))
    estimator.__dict__.pop("feature_names_in_", None)
    if columns is not None and all(isinstance(c, str) for c in columns):
        estimator.feature_names_in_ = np.asarray(list(columns), dtype=object)


# Docstring entries both fusion estimators share, filled in by Substitution.
_FUSION_DOCS = {
    "weights": """weights : None, array-like of shape (n_estimators,), "optimize" or "greedy", \
            default=None
        ``None``: equal weights. An array: fixed weights, one per entry of
        ``estimators`` (``"drop"`` entries included), normalised to sum to 1.
        ``"optimize"``: weights on the simplex minimising the out-of-fold loss (or
        maximising ``scoring``); a weight below 1e-9 is set to 0. A member of weight 0
        is not asked to predict. ``"greedy"``: ensemble selection with replacement over
        ``selection_rounds`` rounds; a member's weight is its share of the selections
        up to the round with the best out-of-fold score. Read at fit, into
        ``weights_`` (``VotingClassifier`` reads fixed weights at predict time): set
        after fit, weights take effect at the next fit.""",
    "selection_rounds": """selection_rounds : int, default=25
        Rounds of greedy ensemble selection.""",
    "guard": """guard : bool, default=False
        With learned weights, fall back to the member with the best out-of-fold score
        when the fused out-of-fold loss beats it by no more than the standard error of
        the gain (the paired per-row differences of the default loss): the weights
        learned are then not trusted over a single member. With ``budget``, only a
        member that fits it alone may be fallen back to. Recorded in ``fallback_``
        and said at ``verbose``. Not applied with ``scoring`` (no per-row loss) or with
        ``views`` that leave a member's view missing on some rows.""",
    "budget": """budget : float, default=None
        With ``"greedy"``, the most that the distinct members chosen may cost together
        (a regressor's ``output_weights="per_output"``, which chooses members for each
        output apart, is refused with a budget).""",
    "costs": """costs : dict of str to float, default=None
        Cost of each member for ``budget``. ``None`` measures each member's predict
        seconds per 1000 rows on the out-of-fold predictions: those timings move with
        the machine's load, so which members fit the budget can change from one fit to
        the next whatever ``random_state``; give ``costs`` for a repeatable fit.""",
    "views": """views : dict of str to columns, default=None
        The columns each member sees: names, integer positions, a slice (of positions,
        or of names with both ends included), a boolean mask, or a callable such as
        :func:`~sklearn.compose.make_column_selector`.
        Members without a view see every column, on every row. A row whose whole view
        is missing (every entry NaN, or None in object columns) is a missing modality
        for a member given a view: the member is fitted without that row, is not asked
        about it, and the row's weights are renormalised over the members present
        (members present with weight 0 share equally when no weighted one is); learned
        weights are fitted the same way.""",
    "memory": """memory : str, path-like, joblib.Memory or None, default=None
        Caches each member fit, its out-of-fold output and its predictions, keyed by
        the member's parameters, the data, ``sample_weight``, the rows and the view (as
        ``Pipeline(memory=...)`` caches transformers). ``GridSearchCV`` over fusion-level
        parameters (``weights``; a classifier's ``voting`` with fixed weights) fits each
        member once per split; changing a member's parameter, the data or
        ``sample_weight`` misses the cache. Members are identified by their pickled
        state: a function they hold, and their class, are known by name, so
        redefining one under the same name, or upgrading the library that defines it,
        is not seen (clear the cache). A member left unseeded (its ``random_state`` and
        the fusion's None) is fitted once and then read back, whatever NumPy's global
        seed, as ``Pipeline(memory=...)`` does. Once ``estimators_`` or ``named_estimators_``
        has handed out the fitted members, which may then be changed in place (any
        read of them, the HTML representation's list of fitted attributes included),
        ``predict`` computes their outputs afresh, without the cache, until the next
        fit.""",
    "partitions": """partitions : {"blocks"}, int or None, default=None
        Data-parallel fusion: one copy of each member per partition of the rows,
        fused with one weight per member. ``"blocks"``: one partition per block of a
        Dask array (row chunk) or Dask DataFrame (partition), each copy fitted on the
        worker that holds its block, without gathering ``X``. An int ``n >= 2``: ``n``
        partitions of consecutive blocks (Dask) or of consecutive rows (in memory).
        A member predicts with the mean of its copies (a hard vote among them under
        ``voting="hard"``). Learned weights are fitted on out-of-partition outputs:
        each copy predicts ``partition_sample`` rows drawn from every partition, and
        a row's output is that of the copies that did not see its partition; ``cv``
        and ``refit`` are not used. ``predict``, ``predict_proba`` and ``transform``
        on a Dask collection return a Dask array computed block by block. A member
        from ``xgboost.dask`` (``DaskXGBClassifier``, ``DaskXGBRegressor``) is not
        copied: it is fitted once on the Dask array, less the sample rows, which it
        then predicts; it predicts as its in-memory twin (``XGBClassifier``). Not
        with ``views``, ``memory`` or routed metadata. See :doc:`/scaling`. ``None``:
        members are fitted on all rows in memory.""",
    "partition_sample": """partition_sample : int, default=1000
        With ``partitions``, the rows drawn (without replacement, seeded by
        ``random_state``) from each partition for the out-of-partition outputs. They
        are the only rows of ``X`` that reach this process.""",
    "n_partitions_": """n_partitions_ : int
        The partitions each member was fitted on; only with ``partitions``.""",
    "n_jobs": """n_jobs : int, default=None
        Jobs for fitting members and folds (one flat joblib task list, run by the
        active joblib backend, Dask included), and threads for the members'
        predictions on 10,000 rows or more.""",
    "verbose": """verbose : int, default=0
        With 1 or more, ``fit`` prints a line for each member fit and each fold, in
        task order as the results arrive, with the seconds it took (not on a Dask
        collection, whose partition fits run as one Dask computation); learned weights
        are then printed by member name, with the out-of-fold scores; last, the whole
        fit's time.""",
    "random_state": """random_state : int, RandomState instance or None, default=None
        Seeds the members' unset ``random_state`` parameters (not those inside a
        skfuse composite with its own seed, which seeds them) and a ``cv`` that
        shuffles. A member's seeds depend on ``random_state`` and its name alone, not
        on the other members.""",
    "estimators_": """estimators_ : list of estimators
        The kept members, fitted on all the data; with learned weights and
        ``refit=False``, each holds the member's fold fits instead (see ``refit``).""",
    "named_estimators_": """named_estimators_ : :class:`~sklearn.utils.Bunch`
        The fitted members by name. Dropped members are left out
        (``VotingClassifier`` lists them as ``"drop"``), so it lines up with
        ``weights_``.""",
    "weights_": """weights_ : ndarray of shape (n_kept_members,)
        One weight per kept (not dropped) member, summing to 1.""",
    "member_scores_": """member_scores_ : dict of str to float
        Out-of-fold score of each member alone. Only with learned weights.""",
    "fallback_": """fallback_ : str or None
        The member used alone because the ``guard`` fell back to it; None when the
        learned weights stand, those already of that member alone included (or
        ``guard=False``). Only with learned weights.""",
    "member_costs_": """member_costs_ : dict of str to float
        The costs used for ``budget`` (given or measured: predict seconds per 1000
        rows, those of all its fold fits with ``refit=False``). Only with learned
        weights.""",
    "selection_path_": """selection_path_ : list of str
        The member chosen in each greedy round. Only with ``weights="greedy"``.""",
    "selection_scores_": """selection_scores_ : list of float
        Out-of-fold score of the fused output after each greedy round (as
        ``oof_score_``). Only with ``weights="greedy"``.""",
    "n_oof_samples_": """n_oof_samples_ : int
        Rows the learned weights were fitted on: those with an out-of-fold output of
        every member present (rows of ``sample_weight`` 0 counted, though they weigh
        nothing). A forward-chaining ``cv`` (``TimeSeriesSplit``) never tests its
        first rows, which are left out (with ``refit=True`` the members' final fit
        uses every row; with ``refit=False`` their fold fits never train on its last
        test fold, and ``fit`` warns), as are the test rows of a split whose training
        part has no row of a member's view. Only with learned weights.""",
    "n_features_in_": """n_features_in_ : int
        Number of features seen during fit.""",
    "feature_names_in_": """feature_names_in_ : ndarray of str
        Names of the features seen during fit, when ``X`` has string column names.""",
}


class _CollectionScoreMixin:
    """``score`` that also takes Dask collections, for the fusions (before scikit-learn's
    mixin in the bases, whose ``score`` it calls on data in memory)."""

    def score(self, X, y, sample_weight=None):
        """Accuracy (a classifier) or R² (a regressor) of ``predict(X)`` against ``y``.

        As scikit-learn's ``score``; a Dask ``X`` is predicted where its blocks live,
        and the predictions, ``y`` and ``sample_weight`` then come here, one after
        the other (one value per row: the row counts of a frame's blocks are unknown
        before).

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame, Dask collection} of shape (n_samples, n_features)
            Test samples.
        y : array-like or Dask collection of shape (n_samples,) or (n_samples, n_outputs)
            True labels or values.
        sample_weight : array-like or Dask collection of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
        """
        if not any(is_collection(v) for v in (X, y, sample_weight)):
            return super().score(X, y, sample_weight=sample_weight)
        # One compute each: Dask warns when one mixes a frame's graph with an array's.
        predicted, y, sample_weight = (_partitions.compute(v)[0] if is_collection(v) else v
                                       for v in (self.predict(X), y, sample_weight))
        return default_score(self._kind == "classifier", y, predicted, sample_weight)


@Substitution(**_FUSION_DOCS)
class FusionClassifier(_CollectionScoreMixin, ClassifierMixin, _BaseFusion):
    """Parallel fusion of classifiers, with fixed or learned weights.

    Every member sees each sample (or its own view of the columns); their outputs are
    combined by a weighted soft, geometric or hard vote. Weights can be fixed, or learned
    from out-of-fold predictions by a convex optimiser on the simplex or by greedy
    ensemble selection under an optional cost budget.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members. A member set to ``"drop"`` is left out. A member wrapped in
        :class:`sklearn.frozen.FrozenEstimator` is used as it is, never refitted; its
        classes may be a subset of the ensemble's, in any order.
    voting : {{"soft", "geometric", "hard"}}, default="soft"
        ``"soft"``: weighted mean of the members' probabilities. ``"geometric"``:
        weighted mean of their log-probabilities, renormalised (a product of experts).
        ``"hard"``: weighted majority of their predicted classes; ties go to the
        smallest class (up to floating-point rounding of the normalised weights), and
        :meth:`predict_proba` gives the weighted vote shares. As in
        ``VotingClassifier``, it is read at predict time: set after fit, it combines
        the fitted members (and learned weights) its way; temperatures apply to
        probabilities only.
    {weights}
    calibration : {{None, "temperature"}}, default=None
        With learned weights and soft or geometric voting, ``"temperature"`` fits each
        member a temperature ``T`` on its out-of-fold probabilities (minimising their
        log-loss, weighted by ``sample_weight``, for ``T`` from e^-4 to e^4;
        probabilities raised to ``1 / T`` and renormalised) before the
        weights are learned, and applies it to the member's outputs at predict time
        (:meth:`transform` included), so that a good but under- or over-confident
        member is not discarded for its calibration.
    cv : int, cross-validation generator, iterable or None, default=5
        Splits for the out-of-fold predictions that learned weights are fitted on. The
        same folds serve every member. An int (None: 5) gives ``StratifiedKFold``.
        Test folds must be disjoint; rows that none tests (a forward-chaining
        ``TimeSeriesSplit``) are left out of the weights' fit.
    scoring : str, callable or None, default=None
        Scorer for learned weights. ``None`` uses the log-loss for soft and geometric
        voting, and the Brier score of the vote shares for hard voting (summed over
        the classes: with two, twice scikit-learn's ``brier_score_loss``). A non-smooth
        scorer such as accuracy suits ``"greedy"`` better than ``"optimize"``. It
        scores the fused out-of-fold outputs: called as ``scorer(fused, None, y)``,
        where ``fused`` has ``predict`` and ``predict_proba`` and X is None, with
        ``sample_weight=`` when ``fit`` is given weights; with metadata routing on,
        as it requests them (``set_score_request``; an unset request with weights
        given is an error, as in scikit-learn's searches from version 1.9, before
        which a scorer requests nothing; a function gets none).
    {selection_rounds}
    refit : bool, default=False
        With learned weights: False keeps each member's fold fits and predicts with the
        mean of their probabilities (bagging, as AutoGluon does), made exactly as the
        out-of-fold outputs that the weights were learned on; True refits each member
        on all rows and predicts with that fit. On the 22 classification sets of the
        quality benchmark (10 splits each), False had the better mean rank (4.0 against
        5.3) and the lower log-loss on 15 of them. False skips the refits and
        costs ``n_splits`` predictions per member; each entry of ``estimators_`` then
        holds the member's fold fits (its ``estimators``; their ``coef_`` or
        ``feature_importances_`` are read there). With fixed or equal weights
        there are no folds: members are fitted on all rows.
    {guard}
    {budget}
    {costs}
    {views}
    missing : {{"error", "prior"}}, default="error"
        A row with no member present: ``"error"`` raises (at fit and at predict),
        naming the row count; ``"prior"`` predicts the (sample-weighted) class
        frequencies of the training labels.
    {memory}
    {partitions}
    {partition_sample}
    {n_jobs}
    {verbose}
    {random_state}

    Attributes
    ----------
    {estimators_}
    {named_estimators_}
    {weights_}
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    temperatures_ : ndarray of shape (n_kept_members,) or None
        Each member's temperature with ``calibration="temperature"``, else None. Only
        with learned weights.
    oof_score_ : float
        Out-of-fold score of the fused output (``scoring``, or minus the default
        loss). Only with learned weights.
    {member_scores_}
    {fallback_}
    {member_costs_}
    {selection_path_}
    {selection_scores_}
    {n_oof_samples_}
    {n_partitions_}
    {n_features_in_}
    {feature_names_in_}

    See Also
    --------
    FusionRegressor : The same for regression.
    sklearn.ensemble.VotingClassifier : Fixed-weight soft and hard voting.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from skfuse import FusionClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> fusion = FusionClassifier(
    ...     [("lr", LogisticRegression(max_iter=1000)), ("nb", GaussianNB())],
    ...     weights="optimize", cv=3,
    ... ).fit(X, y)
    >>> float(fusion.weights_.sum().round(6))
    1.0
    >>> fusion.predict(X[:3])
    array([0, 0, 0])
    """

    _kind = "classifier"

    _parameter_constraints: dict = {
        **_BaseFusion._parameter_constraints,
        "voting": [StrOptions({"soft", "geometric", "hard"})],
        "calibration": [None, StrOptions({"temperature"})],
    }

    def __init__(
        self,
        estimators,
        *,
        voting="soft",
        weights=None,
        calibration=None,
        cv=5,
        scoring=None,
        selection_rounds=25,
        refit=False,
        guard=False,
        budget=None,
        costs=None,
        views=None,
        missing="error",
        memory=None,
        partitions=None,
        partition_sample=PARTITION_SAMPLE,
        n_jobs=None,
        verbose=0,
        random_state=None,
    ):
        self.estimators = estimators
        self.voting = voting
        self.weights = weights
        self.calibration = calibration
        self.cv = cv
        self.scoring = scoring
        self.selection_rounds = selection_rounds
        self.refit = refit
        self.guard = guard
        self.budget = budget
        self.costs = costs
        self.views = views
        self.missing = missing
        self.memory = memory
        self.partitions = partitions
        self.partition_sample = partition_sample
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state

    # Members are estimators, whose parameters their own fit validates.
    @_fit_context(prefer_skip_nested_validation=False)
    @atomic_fit
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the members and the fusion weights.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training input; or one text (or dict) per row, for members that read them.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights the out-of-fold loss, and is passed to every member's ``fit``
            (a ``Pipeline`` to its final step and each earlier step whose ``fit``
            takes it); a member whose ``fit`` takes none is fitted on each row
            repeated as many times as its weight, which must then be a whole number
            (as ``BaggingClassifier``'s draws are), but not with ``partitions``, where
            every member must take them. With metadata routing, only to the members
            that request it.
        **fit_params : dict
            With ``sklearn.set_config(enable_metadata_routing=True)`` only: metadata
            for the members that request them, and ``groups`` for a ``cv`` splitter
            that uses groups (``GroupKFold``). See :meth:`get_metadata_routing`.

        Returns
        -------
        self : FusionClassifier
        """
        began = time.perf_counter()
        params = self._check_fit_params()
        if self.partitions is not None or is_collection(X):
            return self._fit_partitioned(params, X, y, sample_weight, fit_params, began)
        X = self._check_X(X, reset=True)
        y = self._check_y(X, y)
        self._set_classes(y)
        return self._fit(params, X, y, np.searchsorted(self.classes_, y), sample_weight,
                         fit_params, began)

    def _check_members_can_output(self, names, members):
        if self.voting == "hard":
            return
        for name, est in zip(names, members):
            if not hasattr(est, "predict_proba"):
                raise TypeError(
                    f"FusionClassifier: member {name!r} has no predict_proba, which "
                    f"voting={self.voting!r} needs; use voting='hard' or another member."
                )

    def _check_member_classes(self, named_members):
        check_known_classes(named_members, self.classes_, "FusionClassifier", "member")

    def _refuse_improper_outputs(self, names, oof, present):
        """Refuse out-of-fold probabilities (soft and geometric voting) outside [0, 1],
        or whose rows do not sum to 1, naming the members: a row summing to 2 scores
        as no probabilities can (half the log-loss), and its member would win the
        weights."""
        if self.voting == "hard":
            return
        refuse_outputs("FusionClassifier", names, proper_probabilities(oof), present,
                       "are probabilities outside [0, 1] or that do not sum to 1 over the "
                       "classes", "check the member's predict_proba")

    def _refuse_improper_at_predict(self, names, outs):
        """Refuse probabilities (soft and geometric voting) outside [0, 1], or whose rows
        do not sum to 1, naming the members: the fused output, clipped to [0, 1], would
        hide them."""
        if self.voting == "hard":
            return
        _refuse_at_predict(type(self).__name__, names, outs,
                           lambda out: ~proper_probabilities(out),
                           "are probabilities outside [0, 1] or that do not sum to 1 over "
                           "the classes, which fusing would hide (its output is clipped to "
                           "[0, 1]) or spread; check the member's predict_proba.")

    def _output(self):
        if self.voting == "hard":
            return partial(member_votes, classes=self.classes_)
        return partial(member_proba, classes=self.classes_)

    def _check_calibration(self, weights):
        if self.calibration is None:
            return
        if not isinstance(weights, str):
            raise ValueError("FusionClassifier: calibration applies only to learned weights "
                             "(weights='optimize' or 'greedy').")
        if self.voting == "hard":
            raise ValueError("FusionClassifier: calibration applies only to voting='soft' "
                             "or 'geometric'.")

    def _calibrate(self, names, oof, y_target, present, sample_weight):
        """With ``calibration="temperature"``, set ``temperatures_`` (each member's, on
        its out-of-fold rows, weighted by ``sample_weight``) and return the tempered
        out-of-fold outputs. A member whose rows all weigh 0 keeps ``T = 1``."""
        if self.calibration is None:
            self.temperatures_ = None
            return oof
        temperatures = []
        for m in range(len(names)):
            r = slice(None) if present is None else present[m]
            w = None if sample_weight is None else sample_weight[r]
            temperatures.append(1.0 if w is not None and not w.sum() > 0 else
                                fit_temperature(oof[m, r], y_target[r], w))
        self.temperatures_ = np.array(temperatures)
        return np.stack([tempered(P, t) for P, t in zip(oof, self.temperatures_)])

    def _member_outputs(self, X, weighted=False):
        P, present = super()._member_outputs(X, weighted)
        # (Not votes: voting="hard" set after a fit that learned temperatures.)
        if getattr(self, "temperatures_", None) is not None and self.voting != "hard":
            P = np.stack([tempered(p, t) for p, t in zip(P, self.temperatures_)])
        return P, present

    def _objective(self, P, y, sample_weight, present=None):
        scorer = self._get_scorer()
        if self.voting == "hard" and (scorer is not None or present is not None):
            P = np.eye(len(self.classes_))[P]  # one-hot votes (the default loss reads codes)
        return classifier_objective(P, y, self.voting, sample_weight, scorer, self.classes_,
                                    present)

    def _fallback(self, codes, sample_weight):
        """The class prior: what ``missing="prior"`` predicts for rows with no member."""
        counts = np.bincount(codes, weights=sample_weight, minlength=len(self.classes_))
        return counts / counts.sum()

    def _output_shape(self):
        return () if self.voting == "hard" else (len(self.classes_),)

    def _with_fallback(self, fused, present, log=False):
        """Put the class prior on rows with no member present."""
        if present is not None:
            none = ~present.any(axis=0)
            if none.any():
                with np.errstate(divide="ignore"):
                    fused[none] = np.log(self._fallback_) if log else self._fallback_
        return fused

    def _votes(self, X):
        """Weighted vote shares, shape (n_samples, n_classes), in one bincount."""
        # Positions are floats (zeros) when no member was asked about any row: every
        # row then takes the prior.
        positions, present = self._member_outputs(X, weighted=True)
        n_samples = positions.shape[1]
        weights = (np.repeat(self.weights_, n_samples) if present is None
                   else row_shares(self.weights_, present))
        # Learned weights sum to 1 up to rounding: a unanimous share may land one ulp
        # above 1 (and its log above 0), as the soft vote's clip guards against too.
        votes = np.clip(vote_counts(positions, len(self.classes_), weights), 0.0, 1.0)
        return self._with_fallback(votes, present)

    @one_names_warning
    def predict(self, X):
        """Predict class labels by the weighted vote.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        if is_collection(X):
            return blockwise(self, "predict", X)
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    @one_names_warning
    def predict_proba(self, X):
        """Fused class probabilities; under hard voting, the weighted vote shares.

        Soft and geometric voting fuse the members' probabilities. Hard voting gives
        each class's share of the weights of the members that predict it (renormalised
        over the members present on the row): each row sums to 1 and its largest share
        is the predicted class.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        if is_collection(X):
            return blockwise(self, "predict_proba", X)
        check_is_fitted(self)
        if self.voting == "hard":
            return self._votes(X)
        P, present = self._member_outputs(X, weighted=True)
        return self._with_fallback(
            combine_classifier(P, self.weights_, self.voting, present=present), present
        )

    @one_names_warning
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba` (``-inf`` where a probability is 0).

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        if is_collection(X):
            return blockwise(self, "predict_log_proba", X)
        check_is_fitted(self)
        if self.voting == "hard":
            with np.errstate(divide="ignore"):
                return np.log(self._votes(X))
        P, present = self._member_outputs(X, weighted=True)
        fused = combine_classifier(P, self.weights_, self.voting, log=True, present=present)
        return self._with_fallback(fused, present, log=True)

    @one_names_warning
    def transform(self, X):
        """Each member's output, side by side.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        outputs : ndarray
            Soft and geometric voting: shape (n_samples, n_members * n_classes), the
            aligned probabilities of each member in turn. Hard voting: shape
            (n_samples, n_members), each member's predicted class index. NaN where a
            member's view is missing.
        """
        if is_collection(X):
            return transform_collection(self, X)
        check_is_fitted(self)
        outputs, present = self._member_outputs(X)
        if present is not None:
            outputs = outputs.astype(np.float64)
            outputs[~present] = np.nan
        if self.voting == "hard":
            return outputs.T
        return np.hstack(list(outputs))

    def _output_suffixes(self):
        if self.voting == "hard":
            return [""]
        return range(len(self.classes_))


@Substitution(**_FUSION_DOCS)
class FusionRegressor(_CollectionScoreMixin, RegressorMixin, _BaseFusion):
    """Parallel fusion of regressors: a weighted mean with fixed or learned weights.

    Every member sees each sample (or its own view of the columns); their predictions
    are averaged with weights that can be fixed, or learned from out-of-fold
    predictions by a convex optimiser on the simplex or by greedy ensemble selection
    under an optional cost budget.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members. A member set to ``"drop"`` is left out. A member wrapped in
        :class:`sklearn.frozen.FrozenEstimator` is used as it is, never refitted.
    {weights}
    output_weights : {{"shared", "per_output"}}, default="shared"
        Learned weights with a 2-D ``y`` (several outputs, which every member must
        take): ``"shared"`` learns one weight vector for every output (the loss
        averages them, each in its own squared units, so an output in larger units
        decides the weights), ``"per_output"`` one per output, each on that output
        alone. Fixed and equal weights serve every output. A member that fits the
        outputs jointly (a tree) is led by the larger ones either way: standardise
        the outputs (``TransformedTargetRegressor``) to make them count alike.
    cv : int, cross-validation generator, iterable or None, default=5
        Splits for the out-of-fold predictions that learned weights are fitted on. The
        same folds serve every member. An int (None: 5) gives ``KFold``. Test folds
        must be disjoint; rows that none tests (a forward-chaining ``TimeSeriesSplit``) are
        left out of the weights' fit.
    scoring : str, callable or None, default=None
        Scorer for learned weights; ``None`` uses the mean squared error. It scores
        the fused out-of-fold predictions: called as ``scorer(fused, None, y)``, where
        ``fused`` has ``predict`` and X is None, with ``sample_weight=`` when ``fit``
        is given weights; with metadata routing on, as it requests them
        (``set_score_request``; an unset request with weights given is an error, as in
        scikit-learn's searches from version 1.9, before which a scorer requests
        nothing; a function gets none).
    {selection_rounds}
    refit : bool, default=True
        With learned weights: True refits each member on all rows and predicts with
        that fit; False keeps each member's fold fits and predicts with the mean of
        their predictions (bagging), made exactly as the out-of-fold predictions that
        the weights were learned on. On the 13 regression sets of the quality
        benchmark, False had the worse mean rank. False skips the refits and costs
        ``n_splits`` predictions per member; each entry of ``estimators_`` then holds
        the member's fold fits (its ``estimators``). With fixed or equal weights there
        are no folds: members are fitted on all rows.
    {guard}
    {budget}
    {costs}
    {views}
    missing : {{"error", "prior"}}, default="error"
        A row with no member present: ``"error"`` raises (at fit and at predict),
        naming the row count; ``"prior"`` predicts the (sample-weighted) training
        mean of ``y``.
    {memory}
    {partitions}
    {partition_sample}
    {n_jobs}
    {verbose}
    {random_state}

    Attributes
    ----------
    {estimators_}
    {named_estimators_}
    weights_ : ndarray of shape (n_kept_members,) or (n_outputs, n_kept_members)
        One weight per kept (not dropped) member, summing to 1; one row of them per
        output with ``output_weights="per_output"`` and a 2-D ``y``.
    oof_score_ : float or ndarray of shape (n_outputs,)
        Out-of-fold score of the fused prediction (``scoring``, or minus the mean
        squared error). Only with learned weights. With ``output_weights="per_output"``
        and a 2-D ``y``, this, each value of ``member_scores_``, ``fallback_``,
        ``selection_path_`` and ``selection_scores_`` hold one entry per output.
    {member_scores_}
    {fallback_}
    {member_costs_}
    {selection_path_}
    {selection_scores_}
    {n_oof_samples_}
    {n_partitions_}
    {n_features_in_}
    {feature_names_in_}

    See Also
    --------
    FusionClassifier : The same for classification.
    sklearn.ensemble.VotingRegressor : Fixed-weight averaging.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from skfuse import FusionRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> fusion = FusionRegressor(
    ...     [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3))],
    ...     weights="optimize", random_state=0,
    ... ).fit(X, y)
    >>> fusion.weights_.shape
    (2,)
    """

    _kind = "regressor"

    _parameter_constraints: dict = {
        **_BaseFusion._parameter_constraints,
        "output_weights": [StrOptions({"shared", "per_output"})],
    }

    def __init__(
        self,
        estimators,
        *,
        weights=None,
        output_weights="shared",
        cv=5,
        scoring=None,
        selection_rounds=25,
        refit=True,
        guard=False,
        budget=None,
        costs=None,
        views=None,
        missing="error",
        memory=None,
        partitions=None,
        partition_sample=PARTITION_SAMPLE,
        n_jobs=None,
        verbose=0,
        random_state=None,
    ):
        self.estimators = estimators
        self.weights = weights
        self.output_weights = output_weights
        self.cv = cv
        self.scoring = scoring
        self.selection_rounds = selection_rounds
        self.refit = refit
        self.guard = guard
        self.budget = budget
        self.costs = costs
        self.views = views
        self.missing = missing
        self.memory = memory
        self.partitions = partitions
        self.partition_sample = partition_sample
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            tags.target_tags.multi_output = all(
                takes_multi_output(est) for _, est in self.estimators if not is_drop(est))
        except (TypeError, ValueError):
            pass  # invalid estimators: fit reports them
        return tags

    # Members are estimators, whose parameters their own fit validates.
    @_fit_context(prefer_skip_nested_validation=False)
    @atomic_fit
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the members and the fusion weights.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training input; or one text (or dict) per row, for members that read them.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values; 2-D when every member takes several outputs.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights the out-of-fold loss, and is passed to every member's ``fit``
            (a ``Pipeline`` to its final step and each earlier step whose ``fit``
            takes it); a member whose ``fit`` takes none is fitted on each row
            repeated as many times as its weight, which must then be a whole number
            (as ``BaggingClassifier``'s draws are), but not with ``partitions``, where
            every member must take them. With metadata routing, only to the members
            that request it.
        **fit_params : dict
            Metadata routed as in :meth:`FusionClassifier.fit`.

        Returns
        -------
        self : FusionRegressor
        """
        began = time.perf_counter()
        params = self._check_fit_params()
        if self.partitions is not None or is_collection(X):
            self._n_outputs_ = None
            return self._fit_partitioned(params, X, y, sample_weight, fit_params, began)
        X = self._check_X(X, reset=True)
        names, members, views = params[:3]
        y = numeric_target(self._check_y(X, y, list(zip(names, members)),
                                         self._member_input(views, dict(zip(names, members)))),
                           "FusionRegressor")
        self._n_outputs_ = None if y.ndim == 1 else y.shape[1]
        return self._fit(params, X, y, y, sample_weight, fit_params, began)

    def _check_partitioned_y(self, y_sample):
        y_sample = numeric_target(y_sample, "FusionRegressor")
        self._n_outputs_ = None if y_sample.ndim == 1 else y_sample.shape[1]
        return y_sample

    def _output(self):
        if self._n_outputs_ is None:
            return member_prediction
        return partial(_member_predictions, n_outputs=self._n_outputs_)

    def _output_shape(self):
        return () if self._n_outputs_ is None else (self._n_outputs_,)

    def _objective(self, P, y, sample_weight, present=None):
        return regressor_objective(P, y, sample_weight, self._get_scorer(), present)

    def _weights_per_output(self, y_target):
        return self.output_weights == "per_output" and y_target.ndim == 2

    def _fallback(self, y, sample_weight):
        """The training mean: what ``missing="prior"`` predicts for rows with no member."""
        if y.ndim == 2:
            return np.average(y, axis=0, weights=sample_weight)
        return float(np.average(y, weights=sample_weight))

    @one_names_warning
    def predict(self, X):
        """Predict by the weighted mean of the members' predictions.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        if is_collection(X):
            return blockwise(self, "predict", X)
        check_is_fitted(self)
        P, present = self._member_outputs(X, weighted=True)
        prediction = combine_regressor(P, self.weights_, present=present)
        if present is not None:
            prediction[~present.any(axis=0)] = self._fallback_
        return prediction

    @one_names_warning
    def transform(self, X):
        """Each member's prediction, one column per member (and output).

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        predictions : ndarray of shape (n_samples, n_members * n_outputs)
            Each member's outputs in turn. NaN where a member's view is missing.
        """
        if is_collection(X):
            return transform_collection(self, X)
        check_is_fitted(self)
        outputs, present = self._member_outputs(X)
        if present is not None:
            outputs = outputs.astype(np.float64)
            outputs[~present] = np.nan
        return outputs.T if outputs.ndim == 2 else np.hstack(list(outputs))

    def _output_suffixes(self):
        return [""] if self._n_outputs_ is None else range(self._n_outputs_)


def _member_predictions(estimator, X, n_outputs):
    """A multi-output regressor member's predictions, shape (n_samples, n_outputs)."""
    out = np.asarray(estimator.predict(X), dtype=np.float64)
    check_prediction_shape(estimator, out, X.shape[0], n_outputs)
    return out.reshape(-1, n_outputs)
