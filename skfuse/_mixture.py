"""Mixtures of experts fitted by EM, with sparse top-k routing."""

import copy
import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh
from scipy.special import logsumexp
from sklearn import get_config
from sklearn.base import ClassifierMixin, RegressorMixin, clone
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch, check_random_state, get_tags
from sklearn.utils.metadata_routing import MetadataRequest, get_routing_for_object
from sklearn.utils.validation import check_is_fitted

from . import routing
from ._base import (
    Composite,
    any_non_deterministic,
    atomic_fit,
    check_members,
    check_sample_weight,
    is_drop,
    keep_a_row_of_each_class,
    member_prediction,
    member_proba,
    numeric_target,
    refuse_improper_proba,
    refuse_kernel_members,
    refuse_non_finite_output,
    refuse_weightless_inside,
    seed_estimator,
    seeds_by_name,
    takes_no_weights,
)
from ._compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    _VisualBlock,
)
from ._docstring import Substitution
from ._gate import (
    SoftmaxGate,
    column_mean_scale,
    divided_columns,
    fit_classifier_gate,
    gate_log_proba,
)
from ._jobs import MemberJobs
from ._tasks import (
    is_frozen,
    noted,
    report,
    rows_of_params,
    run_in_threads,
    weight_key,
    weight_params,
)
from ._views import (
    _is_dataframe,
    check_views,
    nan_error,
    nan_rows,
    nan_sample,
    presence,
    refuse_rows_without_any,
    resolve_view,
    take_rows,
    take_view,
    takes_nan,
)
from ._warnings import one_names_warning, silenced
from ._weights import largest_magnitude

_VARIANCE_FLOOR = 1e-6  # times the variance of y
_MIN_PROBA = 1e-300
_STARVED = 0.01  # of an even share of the weight
# Held-out squared errors within (this many ulps of the target's magnitude)^2 are
# float rounding: no count of experts is clearly better by less.
_ROUNDING_ULPS = 64
_EM_NEEDS = "which EM weights it with"
_LIGHT = 1e-6  # weight, relative to sample_weight, of rows of a class an expert lacks
_MIN_VALIDATION = 50  # held-out rows wanted, up to a quarter of the rows; under half
# of this, EM runs on every row and stops on its training objective
_AUTO_COUNTS = (1, 2, 4)  # the numbers of experts n_experts="auto" tries, in order
_GATE_ALPHAS = (0.1, 1.0, 0.01)  # gate_alpha="auto": EM uses the first, then the best
_RACE_MARGIN = 0.25  # "auto" drops a count whose held-out loss is still this much (and
# clearly) above one expert's after n_iter_no_change iterations; EM's early iterations
# often sit a few percent above it before finding the regimes
_RACE_ROWS = 10_000  # training rows "auto" races the counts on; with more, the chosen
# count's EM goes on from there on every training row
_EM_GATE_ITER = 10  # L-BFGS iterations of the built-in gate per EM iteration (from
# the previous solution: a partial M-step, as generalised EM allows)


class _BaseMixture(Composite):
    """EM for a gate and experts; the subclasses say what an expert's likelihood is."""

    _members = "experts"

    _parameter_constraints: dict = {
        "experts": [None, HasMethods(["fit"]), list, tuple],
        "n_experts": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "gate": [None, HasMethods(["fit", "predict_proba"])],
        "top_k": [None, Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [None, Interval(Real, 0, 1, closed="neither")],
        "min_responsibility": [Interval(Real, 0, 1, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"kmeans", "random"})],
        "gate_alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "views": [None, dict],
        "gate_view": [None, str, Integral, slice, "array-like", callable],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(self, experts=None, *, n_experts="auto", gate=None, top_k=None,
                 max_iter=30, tol=1e-3, n_iter_no_change=2, validation_fraction=0.1,
                 min_responsibility=0.01, n_init=1, init="kmeans", gate_alpha="auto",
                 views=None, gate_view=None, n_jobs=None, verbose=0, random_state=None):
        self.experts = experts
        self.n_experts = n_experts
        self.gate = gate
        self.top_k = top_k
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.min_responsibility = min_responsibility
        self.n_init = n_init
        self.init = init
        self.gate_alpha = gate_alpha
        self.views = views
        self.gate_view = gate_view
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state

    def _needs_columns(self):
        return "the gate"

    def _check_X(self, X, reset):
        """The composite's check; sparse ``X`` comes back dense to a mixture fitted on
        dense ``X``, as its experts and gate were fitted (the default classifier
        expert centres its columns, which sparse ``X`` cannot be)."""
        X = super()._check_X(X, reset)
        if reset:
            self._dense_fit_ = not _sparse_input(X)
        elif _sparse_input(X) and getattr(self, "_dense_fit_", False):
            X = X.toarray() if sp.issparse(X) else X.sparse.to_dense()
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        try:
            # (what the default expert is on sparse X: dense X is also taken)
            experts = self._default_expert(True) if self.experts is None else self.experts
            members = ([experts] if hasattr(experts, "fit")
                       else [est for _, est in experts])
            members = [est for est in members if hasattr(est, "fit")]
            # The built-in gate takes sparse X and no NaN; a gate given speaks for itself;
            # one expert (the expert alone) has no gate to ask.
            one = (self.n_experts == 1 if hasattr(experts, "fit") else len(members) == 1)
            gate = [] if self.gate is None or one else [self.gate]
            tags.input_tags.sparse = all(get_tags(est).input_tags.sparse
                                         for est in members + gate)
            tags.input_tags.allow_nan = (one or bool(gate)) and all(
                takes_nan(est) for est in members + gate)
            tags.non_deterministic = any_non_deterministic(members + gate)
        except (TypeError, ValueError, AttributeError):
            pass  # invalid experts or gate: fit reports them
        return tags

    @property
    def named_experts_(self):
        """Dict-like access to the fitted experts by name."""
        check_is_fitted(self, "experts_")
        return Bunch(**dict(zip(self._expert_names_, self.experts_)))

    # -- validation ----------------------------------------------------------------

    def _default_expert(self, sparse=False):
        """The expert that ``experts=None`` stands for: a ridge regression, or a logistic
        regression on standardised columns (only scaled, for ``sparse`` X), where lbfgs
        converges in tens of iterations, not thousands. EM weights both steps, as it
        would without metadata routing."""
        if self._kind != "classifier":
            return Ridge()
        steps = [_Standardiser(with_mean=not sparse), LogisticRegression(max_iter=1000)]
        if get_config().get("enable_metadata_routing", False):
            steps = [step.set_fit_request(sample_weight=True) for step in steps]
        return Pipeline(list(zip(["standardscaler", "logisticregression"], steps)))

    def _expert_templates(self, sparse=False):
        """The experts' ``(names, templates)``: ``n_experts`` copies of one estimator, or
        the kept entries of a list, each checked to take ``sample_weight`` (and, for a
        classifier, to have ``predict_proba``), which a declared constraint cannot say.
        ``sparse``: whether X is (the default expert then only scales it)."""
        owner = type(self).__name__
        if self.experts is None or hasattr(self.experts, "fit"):
            template = (self._default_expert(sparse) if self.experts is None
                        else self.experts)
            frozen = self._frozen_gate_classes(required=False)  # (also before fit)
            count = (self.n_experts if self.n_experts != "auto" else
                     max(_AUTO_COUNTS) if frozen is None else len(frozen))
            pairs = [(f"expert{e}", template) for e in range(count)]
        else:
            pairs = self.experts
        names, members = check_members(pairs, self._kind, owner, "experts", "expert")
        self._validate_names([name for name, _ in pairs])
        why = ("the mixture fits its experts and gate on subsets of rows (a validation "
               "slice, each expert's responsible rows)")
        refuse_kernel_members([(name, est) for name, est in zip(names, members)
                               if not is_frozen(est)], owner, "expert", why)
        if self.gate is not None and not is_frozen(self.gate):
            refuse_kernel_members([(type(self.gate).__name__, self.gate)], owner, "gate",
                                  why)
        for name, member in zip(names, members):
            if not is_frozen(member) and weight_key(member) is None:
                raise TypeError(takes_no_weights(f"{owner}: expert {name!r}", member, _EM_NEEDS))
            refuse_weightless_inside(member, owner, f"expert {name!r}", _EM_NEEDS)
        if self._kind == "classifier":
            for name, member in zip(names, members):
                if not hasattr(member, "predict_proba"):
                    raise TypeError(
                        f"{owner}: expert {name!r} ({type(member).__name__}) has no "
                        "predict_proba."
                    )
        return names, members

    def _frozen_gate_classes(self, required=True):
        """The classes of a gate given in ``FrozenEstimator`` (the experts it routes
        to), or None for any other gate (and, unless ``required``, an unfitted one)."""
        if self.gate is None or not is_frozen(self.gate):
            return None
        if not hasattr(self.gate, "classes_"):
            if not required:
                return None
            raise ValueError(
                f"{type(self).__name__}: a frozen gate must be fitted beforehand, with "
                "the experts' positions (0, 1, ...) as its classes.")
        return np.asarray(self.gate.classes_)

    def _check_params(self, n_experts):
        """Check the rules ``_parameter_constraints`` cannot say; return ``top_k``'s k.

        ``top_k`` is at most the number of experts (``n_experts``, or the length of a
        list of experts); a given gate is not skfuse's own (which ``gate=None`` means)
        and its ``fit`` takes ``sample_weight``.
        """
        owner = type(self).__name__
        frozen = self._frozen_gate_classes()
        # ("auto" with a frozen gate has one count: an expert per class.)
        auto = isinstance(self.n_experts, str) and self._templated() and frozen is None
        # A smaller count tried by "auto" routes each row to all its experts.
        limit = max(n_experts, *_AUTO_COUNTS) if auto else n_experts
        if self.top_k is not None and self.top_k > limit:
            count = (f"n_experts={limit}" if self._templated() else
                     f"the {limit} expert(s) kept in experts")
            raise ValueError(
                f"{owner}: top_k must be None or an int from 1 to {count}; "
                f"got {self.top_k!r}."
            )
        if isinstance(self.gate, SoftmaxGate):  # a mixture's gate_, passed back
            raise TypeError(
                f"{owner}: gate is skfuse's own gate (a fitted mixture's gate_), which EM "
                "fits to soft targets itself: leave gate=None and set gate_alpha "
                f"(this one's alpha is {self.gate.alpha!r})."
            )
        if (self.gate is not None and not is_frozen(self.gate)
                and weight_key(self.gate) is None):
            raise TypeError(takes_no_weights(f"{owner}: the gate", self.gate, _EM_NEEDS))
        refuse_weightless_inside(self.gate, owner, "the gate", _EM_NEEDS)
        if frozen is not None and not np.array_equal(frozen, np.arange(n_experts)):
            raise ValueError(
                f"{owner}: a frozen gate routes to its classes, which must be the "
                f"experts' positions 0 to {n_experts - 1} (n_experts={n_experts}); its "
                f"classes are {frozen.tolist()}.")
        return n_experts if self.top_k is None else min(int(self.top_k), n_experts)

    # -- fit ------------------------------------------------------------------------

    def _sk_visual_block_(self):
        """The gate beside the experts in the HTML representation."""
        if isinstance(self.experts, (list, tuple)):
            names, experts = [list(x) for x in zip(*self.experts)] or ([], [])
        else:
            names = [f"{self.n_experts} x experts"]
            experts = [self.experts if self.experts is not None else self._default_expert()]
        gate = SoftmaxGate(alpha=self.gate_alpha) if self.gate is None else self.gate
        return _VisualBlock("parallel", [gate, *experts], names=["gate", *names])

    def _routed_members(self):
        """The experts, as ``fit`` routes metadata to them (the gate gets none): their
        requests with ``sample_weight`` declined (:func:`_weights_not_routed`), as EM
        weights the experts itself, so that a search passes the weights on only when
        the mixture asks for them."""
        if self.experts is None or hasattr(self.experts, "fit"):
            experts = [("experts", self._expert_templates()[1][0])]
        else:
            experts = [(name, est) for name, est in self.experts if not is_drop(est)]
        return [(name, _weights_not_routed(est)) for name, est in experts]

    def _expert_params(self, names, fit_params):
        """Each expert's routed metadata, or None without metadata routing.

        ``sample_weight`` is the mixture's own: EM gives each expert the
        responsibilities times it, so it is not routed.
        """
        _, routed = self._fit_metadata(None, fit_params)
        if routed is None:
            return [None] * len(names)
        single = "experts" in routed and len(routed) == 1
        params = [dict(routed["experts" if single else name]) for name in names]
        # The mixture's own sample_weight is not in fit_params: this one came from an
        # alias (set_fit_request(sample_weight="w")), which EM cannot honour apart.
        aliased = [name for name, given in zip(names, params) if "sample_weight" in given]
        if aliased:
            raise TypeError(
                f"{type(self).__name__}: expert(s) {aliased} request sample_weight under "
                "another name, and were given it. A mixture weights its experts itself "
                "(each expert's responsibilities times the mixture's sample_weight), so "
                "pass the weights as fit(..., sample_weight=...) and leave the experts' "
                "sample_weight request unset."
            )
        return params

    def _fit(self, X, y, target, sample_weight, fit_params):
        """EM on the training rows for each candidate number of experts, stopped and
        judged on the validation slice; the chosen mixture is refitted on every row."""
        owner = type(self).__name__
        names, templates = self._expert_templates(_sparse_input(X))
        self._refuse_unrouted_requests(self.gate, "the gate", fit_params)
        for name, template in zip(names, templates):
            if not is_frozen(template):
                self._refuse_declined_weights(template, f"expert {name!r}")
        params = self._expert_params(names, fit_params)
        n = X.shape[0]
        weight = check_sample_weight(sample_weight, n)
        weight = np.ones(n) if weight is None else weight
        # A view may name an expert set to "drop" (a search that drops it), as in fusion.
        listed = names if self._templated() else [name for name, _ in self.experts]
        views = check_views(self.views, listed, owner, role="expert")
        feature_names = getattr(self, "feature_names_in_", None)
        all_views = [resolve_view(views[name], X, name, feature_names, role="expert")
                     if name in views else None for name in names]
        self._gate_view_ = (None if self.gate_view is None else
                            resolve_view(self.gate_view, X, "gate", feature_names,
                                         subject=f"{owner}: gate_view"))
        rng = check_random_state(self.random_state)
        valid = self._validation_rows(target, weight, len(names), rng)
        counts = self._candidate_counts(len(names), views, valid is not None)
        # X must suit a gate wherever the settings may fit more than one expert,
        # whatever the rows leave "auto" to try (one expert takes every row: its gate
        # is trivial, and X need not suit one).
        may_gate = self._candidate_counts(len(names), views,
                                          self.validation_fraction is not None) != [1]
        X_gate = self._gate_input(X, fitted=False) if may_gate else None
        X_gate = np.zeros((n, 1)) if counts == [1] else X_gate
        data = _Rows(X, X_gate, y, target, weight, params, valid)
        race_rows = self._race_rows(valid, weight, rng) if len(counts) > 1 else None
        held_out = None if valid is None else weight[valid]
        self._loss_floor = self._rounding_floor(target)
        began, runs = time.perf_counter(), []
        for count in counts:
            self._check_params(count)
            if np.sum(weight > 0) < count:
                raise ValueError(
                    f"{owner} needs at least one sample (of positive weight) per expert "
                    f"({count}); got {int(np.sum(weight > 0))} of n_samples={n}."
                )
            self._expert_names_, self._views_ = names[:count], all_views[:count]
            present = self._presence(X, names[:count], templates[:count])
            run, total = None, 0
            for start in range(self.n_init):
                # Racing: a count still far and clearly worse than the expert alone is
                # dropped (against a larger count it is not: more experts may need many
                # iterations to find their regimes).
                rival = runs[0] if runs and len(runs[0]["experts"]) == 1 else None
                candidate = self._em(data.train(present, race_rows), templates[:count],
                                     count, rng, start, rival)
                total += candidate["n_iter"]
                if run is None or candidate["score"] > run["score"]:
                    run = candidate
            run["present"], run["n_iter_total"] = present, total
            runs.append(run)
            best = min(runs, key=lambda r: r["loss"])
            if run is not best and _clearly_better(best, run, self.tol, held_out,
                                                   floor=self._loss_floor):
                break  # more experts did clearly worse on held-out rows: stop growing
        best = runs[0] if len(runs) == 1 else _fewest_experts(
            runs, self.tol, held_out, floor=self._loss_floor)
        count = len(best["experts"])
        self._expert_names_, self._views_ = names[:count], all_views[:count]
        raced = best
        if race_rows is not None and count > 1:  # EM goes on from there on every row
            best = self._em(data.train(best["present"]), templates[:count], count, rng,
                            0, warm=best)
            best["present"] = raced["present"]
            raced["n_iter_total"] += best["n_iter"]
        self.n_experts_ = count
        self.gate_alpha_ = best["gate_alpha"]
        if valid is not None:  # the chosen mixture, refitted on every row
            best = self._refit_every_row(best, data.every_row(best["present"]))
        if self.verbose and len(counts) > 1:
            tried = ", ".join(f"{len(run['experts'])}: {run['loss']:.6g} after "
                              f"{run['n_iter']} iteration(s)" for run in runs)
            lowest = len(min(runs, key=lambda run: run["loss"])["experts"])
            rule = ("" if lowest == count else
                    f"; {lowest} had the lowest, but not lower by more than tol and "
                    f"{_COUNT_Z:g} standard errors, so the fewer experts are kept")
            alpha = (", each at its chosen gate_alpha" if isinstance(self.gate_alpha, str)
                     else "")
            report(owner, f"n_experts={count} chosen (held-out loss by count{alpha}: "
                          f"{tried}{rule})")
        elif self.verbose and isinstance(self.n_experts, str):
            report(owner, f"n_experts={count} (\"auto\" had one count to try: "
                          f"{self._one_count_reason(views)})")
        self.experts_ = best["experts"]
        self.gate_ = best["gate"]
        self.lower_bound_ = best["lower_bound"]
        self.converged_ = best["converged"]
        self.n_iter_ = best["n_iter"]
        self.n_iter_total_ = sum(run["n_iter_total"] for run in runs)
        self.count_losses_ = ({len(run["experts"]): run["loss"] for run in runs}
                              if valid is not None else None)
        self.best_iteration_ = best["iteration"]
        self.objective_curve_ = np.array(best["objective"])
        self.validation_loss_curve_ = (None if valid is None
                                       else np.array(best["validation"]))
        self.validation_score_curve_ = (None if valid is None
                                        else np.array(best["validation_score"]))
        self.expert_usage_ = self._usage(X_gate, weight, best["gate"], count,
                                         self._check_params(count), best["present"])
        if best["noise"] is not None:
            self.noise_variance_ = best["noise"]
        self._k_ = self._check_params(count)
        if self.verbose:
            report(owner, f"fitted in {time.perf_counter() - began:.2f} s: "
                          f"{self.n_iter_} EM iteration(s), "
                          f"{'converged' if self.converged_ else 'not converged'} "
                          f"({best['why']}); expert usage "
                          f"{np.array2string(self.expert_usage_, precision=2)}"
                          + ("" if self.gate_alpha_ is None else
                             f"; gate_alpha {self.gate_alpha_:g}"))
        if not self.converged_:
            warnings.warn(
                f"{owner} did not converge in max_iter={self.max_iter} EM iterations "
                f"({best['why']}). Raise max_iter or tol; objective_curve_ shows how far "
                "EM got.",
                ConvergenceWarning,
                stacklevel=5,  # here, fit, atomic_fit, scikit-learn's _fit_context, the caller
            )
        return self

    def _validation_rows(self, target, weight, n_experts, rng):
        """The rows EM is stopped on (a bool mask), or None when there are too few.

        A random ``validation_fraction`` of the rows of positive weight, but at least
        ``_MIN_VALIDATION`` and at most a quarter of them; none when that is under half
        of ``_MIN_VALIDATION``, or leaves under two training rows per expert. For a
        classifier, a class whose every row was drawn keeps one of them for training;
        none when that leaves under half of ``_MIN_VALIDATION`` (rare classes).
        """
        if self.validation_fraction is None:
            return None
        n = int(np.sum(weight > 0))
        size = min(max(int(np.ceil(self.validation_fraction * n)), _MIN_VALIDATION), n // 4)
        if size < _MIN_VALIDATION // 2 or n - size < 2 * n_experts:
            return None
        # Drawn among the rows of positive weight, so a row of weight 0 is as absent.
        valid = np.zeros(len(weight), dtype=bool)
        valid[rng.permutation(np.flatnonzero(weight > 0))[:size]] = True
        if self._kind == "classifier":
            valid = keep_a_row_of_each_class(valid, target, weight)
            if valid.sum() < _MIN_VALIDATION // 2:
                return None
        return valid

    def _race_rows(self, valid, weight, rng):
        """The training rows "auto" races the counts on: a random ``_RACE_ROWS`` of
        them when there are more (None: all of them)."""
        train = np.flatnonzero((weight > 0) if valid is None else ~valid & (weight > 0))
        if len(train) <= _RACE_ROWS:
            return None
        return np.sort(rng.permutation(train)[:_RACE_ROWS])

    def _candidate_counts(self, n_listed, views, validated):
        """The numbers of experts EM fits: ``n_experts``, or for "auto" the counts
        of ``_AUTO_COUNTS`` that have every expert named in ``views`` (just the first
        of them without a validation slice to choose on); a list of experts gives its
        own count."""
        if not isinstance(self.n_experts, str) or not self._templated():
            return [n_listed]
        frozen = self._frozen_gate_classes()
        if frozen is not None:  # an expert per class it routes to (views name no other)
            return [len(frozen)]
        counts = self._counts_views_allow(views) or [n_listed]
        return counts if validated else counts[:1]

    @staticmethod
    def _counts_views_allow(views):
        """The counts of ``_AUTO_COUNTS`` with every expert that ``views`` names."""
        named = [int(name[len("expert"):]) + 1 for name in views]
        return [c for c in _AUTO_COUNTS if c >= max(named, default=1)]

    def _one_count_reason(self, views):
        """Why :meth:`_candidate_counts` gave "auto" one count to try."""
        if not self._templated():
            return "the experts are listed"
        if self._frozen_gate_classes() is not None:
            return "an expert per class of the frozen gate"
        if len(self._counts_views_allow(views)) <= 1:
            return "the views name an expert that fewer experts would lack"
        return "no validation slice to choose on"

    def _templated(self):
        return self.experts is None or hasattr(self.experts, "fit")

    def _em(self, rows, templates, n_experts, rng, start, rival=None, warm=None):
        """One EM run from one start on ``rows`` (a :class:`_Rows` view).

        The gate uses ``gate_alpha`` (for "auto", the first of ``_GATE_ALPHAS`` during
        EM, then the one with the best held-out loss). Each iteration records the
        penalised mean log-likelihood (``objective``) and, with a validation slice,
        the held-out loss of the mixture as ``predict`` would route it; EM keeps the
        iteration with the best held-out loss and stops when it has not improved by
        ``tol`` (a difference of mean log-likelihoods) for ``n_iter_no_change``
        iterations.
        """
        owner = type(self).__name__
        k = self._check_params(n_experts)
        # An expert's seed depends on its name, not on its place in the list.
        seeds = seeds_by_name(None if self.random_state is None else rng,
                              self._expert_names_)
        templates = [seed_estimator(t, seeds[name])
                     for name, t in zip(self._expert_names_, templates)]
        alphas = (_GATE_ALPHAS if self.gate is None and self.gate_alpha == "auto"
                  else (None if self.gate is not None else self.gate_alpha,))
        if warm is not None and len(alphas) > 1:  # the penalty chosen on fewer rows first
            alphas = (warm["gate_alpha"], *(a for a in alphas if a != warm["gate_alpha"]))
        # One expert takes every row: the built-in gate, whatever ``gate``, is trivial.
        gate_template = (None if self.gate is None or n_experts == 1
                         else seed_estimator(self.gate,
                                             None if self.random_state is None else rng))
        # None (a gate is given): one expert's trivial gate, at the default penalty.
        alpha = 1.0 if alphas[0] is None else alphas[0]
        gate = (SoftmaxGate(alpha=alpha, max_iter=_EM_GATE_ITER, warm_start=True)
                if gate_template is None else None)
        present = rows.present
        if warm is not None:  # from a mixture fitted on fewer rows: its E-step and gate
            resp, _ = self._e_step(rows.X, rows.X_gate, rows.target, warm["experts"],
                                   warm["noise"], warm["gate"], n_experts, present)
            if gate is not None:
                gate = copy.deepcopy(warm["gate"]).set_params(
                    alpha=alpha, max_iter=_EM_GATE_ITER, warm_start=True)
        elif gate_template is not None and is_frozen(gate_template):
            # Its routing is fixed: a k-means start, numbered at random, would pair the
            # experts with the other side of it, for good.
            resp = np.exp(_masked(self._log_gate(gate_template, rows.X_gate, n_experts),
                                  present))
        else:
            resp = self._initial_responsibilities(rows.X_gate, rows.target, rows.weight,
                                                  n_experts, rng, start)
            if self._distinct_experts() and n_experts > 1 and self.init != "random":
                resp = self._paired_clusters(rows, resp, templates, present)
        if present is not None:  # a row goes only to experts that have its view
            resp = resp * present.T
            lost = resp.sum(axis=1) == 0
            resp[lost] = present.T[lost] / present.T[lost].sum(axis=1, keepdims=True)
        row_fit = np.zeros(len(rows.weight))  # before any E-step, re-seed from the first rows
        # With top_k, EM first runs dense to a good optimum, then truncates: hard
        # assignments from the start get stuck in poor partitions. One expert needs
        # one M-step.
        phases = [(k, self.max_iter)]
        if k < n_experts and self.max_iter > 1:
            phases.insert(0, (n_experts, self.max_iter // 2))
        if n_experts == 1:
            phases = [(1, 1)]
        curve, held_out, scores, best, iteration = [], [], [], None, 0
        why = f"max_iter={self.max_iter} reached"
        converged = n_experts == 1
        abandoned = False
        for keep, last in phases:
            if abandoned:
                break
            stale, previous = 0, -np.inf
            if n_experts > 1:  # each phase's own stop decides: the last one's stands
                converged, why = False, f"max_iter={self.max_iter} reached"
            while iteration < last:
                iteration += 1
                tick = time.perf_counter()
                resp = self._reseed_starved(resp, rows.weight, row_fit, present)
                experts, noise = self._m_step(rows, resp, templates, present)
                if gate_template is None:
                    gate.fit(_gate_rows(rows, n_experts), resp, sample_weight=rows.weight)
                else:
                    gate = fit_classifier_gate(clone(gate_template), rows.X_gate, resp,
                                               rows.weight)
                fitted_resp = resp
                resp, row_fit = self._e_step(rows.X, rows.X_gate, rows.target, experts,
                                             noise, gate, keep, present)
                objective = (rows.weight @ row_fit - _gate_penalty(gate)) / rows.weight.sum()
                curve.append(objective)
                row_losses = score = None
                if rows.valid is not None:
                    row_losses = self._held_out_losses(experts, gate, k, rows.valid)
                    valid = rows.valid
                    _, valid_fit = self._e_step(valid.X, valid.X_gate, valid.target, experts,
                                                noise, gate, n_experts, valid.present)
                    score = _mean(valid_fit, valid.weight)
                loss = None if row_losses is None else _mean(row_losses, rows.valid.weight)
                held_out.append(loss)
                scores.append(score)
                state = {"experts": experts, "noise": noise, "gate": gate,
                         "resp": fitted_resp, "iteration": iteration,
                         "loss": -objective if loss is None else loss,
                         "row_losses": row_losses}
                # EM stops when its log-likelihood stops rising: on held-out rows when
                # there are some (on the training rows it keeps rising as flexible
                # experts overfit). The iteration kept has the lowest held-out loss as
                # predict routes, which can rise for a while before EM finds the regimes.
                watched = objective if score is None else score
                improved = watched - previous > self.tol
                previous = max(previous, watched)
                if best is None or state["loss"] < best["loss"]:
                    best = state  # the lowest held-out loss, or the highest objective
                if self.verbose:
                    routing_note = "dense" if keep == n_experts else f"top {keep}"
                    held = ("" if loss is None else f", held-out log-likelihood {score:.6g}"
                            f", held-out loss {loss:.6g}")
                    # The chosen count's EM goes on from its raced fit on every row.
                    where = ("on every row from the raced fit" if warm is not None
                             else f"start {start + 1} of {self.n_init}")
                    report(owner, f"{n_experts} expert(s), {where}, EM iteration "
                                  f"{iteration} ({routing_note}): objective "
                                  f"{objective:.6g}{held}, "
                                  f"{time.perf_counter() - tick:.2f} s")
                if n_experts > 1 and gate is not None and gate_template is None:
                    gate = copy.deepcopy(gate)  # the state kept above keeps its own gate
                stale = 0 if improved else stale + 1
                if (rival is not None and iteration >= self.n_iter_no_change
                        and best["loss"] > (1 + _RACE_MARGIN) * rival["loss"]
                        and _clearly_better(rival, best, self.tol, rows.valid.weight,
                                            floor=self._loss_floor)):
                    converged = True  # a smaller count tried before does clearly better
                    why = (f"after {iteration} iteration(s) its held-out loss is still "
                           "clearly above that of one expert")
                    abandoned = True
                    break
                if stale >= self.n_iter_no_change:
                    converged = True
                    what = ("objective" if score is None
                            else "held-out log-likelihood")
                    why = (f"the {what} rose by less than tol={self.tol} for {stale} "
                           f"iteration(s); kept iteration {best['iteration']}")
                    break
        if n_experts == 1:
            why = "one expert: one fit"
        alpha = alphas[0]
        if len(alphas) > 1 and rows.valid is not None and n_experts > 1:
            best, alpha = self._choose_gate_alpha(best, rows, alphas, k)
        lower_bound = float(curve[best["iteration"] - 1])
        return {**best, "lower_bound": lower_bound, "converged": converged, "why": why,
                "n_iter": iteration, "validation_score": scores,
                "objective": curve, "validation": held_out, "gate_alpha": alpha,
                "score": -best["loss"]}

    def _choose_gate_alpha(self, best, rows, alphas, k):
        """Refit the kept iteration's gate with each penalty in ``alphas``; keep the
        one with the lowest held-out loss."""
        chosen, alpha = best, alphas[0]
        for candidate in alphas[1:]:
            gate = copy.deepcopy(best["gate"]).set_params(alpha=candidate, max_iter=200)
            gate.fit(rows.X_gate, best["resp"], sample_weight=rows.weight)
            row_losses = self._held_out_losses(best["experts"], gate, k, rows.valid)
            loss = _mean(row_losses, rows.valid.weight)
            if loss < chosen["loss"]:
                chosen, alpha = ({**best, "gate": gate, "loss": loss,
                                  "row_losses": row_losses}, candidate)
        return chosen, alpha

    def _refit_every_row(self, best, rows):
        """One more EM iteration on every row, from the kept mixture's responsibilities."""
        n_experts = len(best["experts"])
        keep = self._check_params(n_experts) if n_experts > 1 else 1
        if n_experts == 1:
            resp = np.ones((len(rows.weight), 1))
        else:
            resp, row_fit = self._e_step(rows.X, rows.X_gate, rows.target, best["experts"],
                                         best["noise"], best["gate"], keep, rows.present)
            # A top-k E-step may leave an expert no row: re-seed that one only.
            resp = self._reseed_starved(resp, rows.weight, row_fit, rows.present,
                                        starved=0.0)
        templates = [clone(e) for e in best["experts"]]
        experts, noise = self._m_step(rows, resp, templates, rows.present)
        if isinstance(best["gate"], SoftmaxGate):
            gate = copy.deepcopy(best["gate"]).set_params(max_iter=200)
            gate.fit(_gate_rows(rows, n_experts), resp, sample_weight=rows.weight)
        else:
            gate = fit_classifier_gate(clone(best["gate"]), rows.X_gate, resp, rows.weight)
        _, row_fit = self._e_step(rows.X, rows.X_gate, rows.target, experts, noise, gate,
                                  keep, rows.present)
        objective = (rows.weight @ row_fit - _gate_penalty(gate)) / rows.weight.sum()
        return {**best, "experts": experts, "noise": noise, "gate": gate,
                "lower_bound": float(objective)}

    def _held_out_losses(self, experts, gate, k, rows):
        """The mixture's loss on each validation row, routed as ``predict`` routes:
        squared error (regression) or log-loss (classification)."""
        log_gate = _masked(self._log_gate(gate, rows.X_gate, len(experts)), rows.present)
        routed, share = routing.top_k(np.exp(log_gate), k)
        mixed = np.zeros(len(rows.weight))
        for e, expert in enumerate(experts):
            use = (share * (routed == e)).sum(axis=1)
            used = np.flatnonzero(use > 0)
            if used.size:
                X_e = take_rows(take_view(rows.X, self._views_[e]), used)
                out = self._expert_output(expert, X_e, e, "at fit")
                mixed[used] += use[used] * self._held_out_output(out, rows.target[used])
        return self._loss(mixed, rows.target)

    def _initial_responsibilities(self, X_gate, target, weight, n_experts, rng, start):
        n = X_gate.shape[0]
        if n_experts == 1:
            return np.ones((n, 1))
        if self.init == "random":
            return rng.dirichlet(np.ones(n_experts), size=n)
        Z = _standardise(_mean_filled(X_gate, weight), weight)
        if self._kind == "regressor":  # cluster in (x, y) so regimes of y separate too
            y_column = _standardise(target[:, None], weight)
            Z = (sp.hstack([Z, y_column], format="csr") if sp.issparse(Z)
                 else np.hstack([Z, y_column]))
        # k-means sees the rows of positive weight only: its tolerance scales with the
        # unweighted variance of its data, so rows of weight 0 far off would stop it early.
        kept = weight > 0
        Z_kept, weight_kept = (Z, weight) if kept.all() else (Z[kept], weight[kept])
        # The first start seeds k-means deterministically (so a row of weight 2 acts as
        # two rows); further starts use k-means++.
        init = _axis_seeds(Z_kept, weight_kept, n_experts) if start == 0 else "k-means++"
        with silenced(ConvergenceWarning):  # fewer distinct rows than experts
            kmeans = KMeans(n_experts, init=init, n_init=1,
                            random_state=rng.randint(2**31 - 1))
            labels = kmeans.fit(Z_kept, sample_weight=weight_kept).predict(Z)
        return np.eye(n_experts)[labels]

    def _distinct_experts(self):
        """Whether the experts differ (a list, or views), so which start goes to which
        one matters."""
        return not self._templated() or any(view is not None for view in self._views_)

    def _paired_clusters(self, rows, resp, templates, present):
        """The k-means start's clusters (columns of ``resp``) reordered so that each goes
        to the expert that fits it best: each expert is fitted on each cluster's rows
        with its view, and the pairing of the highest summed in-sample log-likelihood
        is kept (an assignment problem), so the experts' order in the list does not
        matter. An expert with too few such rows in a cluster is fitted on all its
        rows instead (``_m_step`` fits every expert) and paired with that cluster only
        where no pairing avoids it."""
        n_experts = resp.shape[1]
        log_lik_sums = np.empty((n_experts, n_experts))  # [e, c]: expert e on cluster c
        with_view = np.ones((n_experts, len(rows.weight))) if present is None else present
        starved = _STARVED * rows.weight.sum() / n_experts  # as EM would re-seed it
        for c in range(n_experts):
            trial = (resp[:, c] > 0) * with_view * (rows.weight > 0)  # (experts, rows)
            lacking = trial @ rows.weight < starved
            trial[lacking] = with_view[lacking]
            experts, noise = self._m_step(rows, trial.T, templates, present)
            scored = (trial > 0) & ~lacking[:, None]
            log_lik = self._log_likelihoods(rows.X, rows.target, experts, noise, scored)
            log_lik_sums[:, c] = np.where(scored.T, log_lik, 0.0).T @ rows.weight
            log_lik_sums[lacking, c] = -np.inf
        # A pair made without rows costs more than all the finite sums together could
        # differ by; the finite sums are left as they are.
        finite = np.isfinite(log_lik_sums)
        log_lik_sums[~finite] = -(3 * np.abs(log_lik_sums[finite]).sum() + 1.0)
        _, clusters = linear_sum_assignment(log_lik_sums, maximize=True)
        return resp[:, clusters]

    def _reseed_starved(self, resp, weight, row_fit, present=None, starved=_STARVED):
        """Hand an expert with under ``starved`` of an even share of the weight (or
        none at all) the rows the mixture fits worst (among those with its view), half
        an even share of weight (or all there is).

        The last row handed over goes in part: that part of its weight moves to the
        expert, the rest keeps its responsibilities, as its copies would if the row
        were repeated (a weight of 3: three rows), so integer weights and repeated rows
        are re-seeded alike. Weight handed out is not taken again, and an expert that
        the weight taken from it leaves starved is re-seeded in turn (each at most once;
        together they take at most half the weight), so an expert ends with nothing only
        when every row with its view was handed to another.
        """
        n_experts = resp.shape[1]
        even = weight.sum() / n_experts
        free_weight = np.where(weight > 0, weight, 0.0)
        before = resp
        reseeded = np.zeros(n_experts, dtype=bool)
        while True:
            mass = resp.T @ weight
            hungry = np.flatnonzero(~reseeded & ((mass < starved * even) | (mass <= 0)))
            if not hungry.size:
                return resp
            e = hungry[0]
            free = free_weight > 0 if present is None else (free_weight > 0) & present[e]
            candidates = np.flatnonzero(free)
            candidates = candidates[np.argsort(row_fit[candidates], kind="stable")]
            handed = np.minimum(free_weight[candidates],
                                np.maximum(even / 2 - np.cumsum(free_weight[candidates])
                                           + free_weight[candidates], 0.0))
            rows, handed = candidates[handed > 0], handed[handed > 0]
            share = handed / weight[rows]  # of the row's weight, moved from its start
            resp = resp.copy()
            # (clipped: a row's share handed over whole leaves rounding below 0)
            resp[rows] = np.maximum(resp[rows] - share[:, None] * before[rows], 0.0)
            resp[rows, e] += share
            free_weight[rows] -= handed
            reseeded[e] = True

    def _m_step(self, rows, resp, templates, present=None):
        """Refit each expert on its rows (a :class:`_Rows`), the responsibilities times
        the sample weights as its ``sample_weight``.

        The sparse M-step leaves out of an expert's fit the rows whose responsibility
        for it is below ``min_responsibility`` (0: every row with any, the dense M-step).
        """
        weight = rows.weight
        blocks = []
        for e in range(len(templates)):
            share = resp[:, e]
            # The fallback (no row reaches min_responsibility) keeps the expert's rows of
            # the largest share among those it can be fitted on: of positive weight,
            # with its view.
            usable = weight > 0 if present is None else (weight > 0) & (present[e] > 0)
            floor = min(self.min_responsibility,
                        share[usable].max() if usable.any() else share.max())
            share = np.where(share >= floor, share, 0.0)
            blocks.append(self._expert_rows(share * weight, rows.target,
                                            weight if present is None else weight * present[e]))
        # Each expert is fitted on its rows, the responsibilities as its sample weight,
        # and returns its output on them; X goes whole into every task, so that a
        # cluster gets it once (joblib's Dask backend scatters it).
        plan = MemberJobs(type(self).__name__, len(weight), n_jobs=self.n_jobs)
        names = self._expert_names_
        for e, (template, (kept, kept_weight)) in enumerate(zip(templates, blocks)):
            expert_weight = np.zeros(len(weight))
            expert_weight[kept] = kept_weight
            params = dict(rows.params[e] or {})
            key = weight_key(template)
            # Unit weights are no weights: fitted as given. Equal weights of another
            # value are passed on: they weigh the data against a penalty (Ridge's alpha).
            if key is not None and not np.all(kept_weight == 1.0):
                params.update(weight_params(template, expert_weight))
            plan.add(names[e], template, label=f"expert {names[e]!r}", view=self._views_[e],
                     rows=kept, params=params, fit_output=True)
        fits = plan.run(rows.X, rows.y, output=self._fit_output)
        fitted = [(fits[name].estimator, fits[name].fit_output) for name in names]
        experts = [est for est, _ in fitted]
        if self._kind == "classifier":
            return experts, None
        target = rows.target
        broken = [repr(name) for name, (_, prediction) in zip(names, fitted)
                  if not np.isfinite(prediction).all()]
        if broken:
            raise ValueError(
                f"{type(self).__name__}: expert(s) {', '.join(broken)} predicted NaN or "
                "infinite values on the rows they were fitted on.")
        noise = np.empty(len(templates))
        with np.errstate(over="ignore", invalid="ignore"):  # refused below
            mean = weight @ target / weight.sum()
            spread = weight @ (target - mean) ** 2 / weight.sum()
            floor = _VARIANCE_FLOOR * max(spread, np.finfo(float).tiny)
            for e, ((_, prediction), (kept, kept_weight)) in enumerate(zip(fitted, blocks)):
                residual = target[kept] - prediction
                noise[e] = max(kept_weight @ residual**2 / kept_weight.sum(), floor)
        if not np.isfinite(noise).all():
            raise ValueError(
                f"{type(self).__name__}: the squared errors of y overflow float64 (values "
                "beyond about 1e154, experts predicting such values, or sample weights "
                "near float64's limit); rescale y, or the weights.")
        return experts, noise

    def _expert_rows(self, expert_weight, target, weight):
        rows = np.flatnonzero(expert_weight > 0)
        return rows, expert_weight[rows]

    def _e_step(self, X, X_gate, target, experts, noise, gate, keep, present=None):
        """Responsibilities: the posterior of each expert, kept on each row's top ``keep``.

        Every expert is scored on every row that has its view, so a row can move to an
        expert the gate does not yet send it to; with ``keep`` below ``n_experts`` the
        posterior is truncated to its largest entries and renormalised (routing
        kernels). The gate is renormalised over the experts present on each row.
        """
        n, n_experts = X.shape[0], len(experts)
        log_gate = _masked(self._log_gate(gate, X_gate, n_experts), present)
        joint = log_gate + self._log_likelihoods(X, target, experts, noise, present)
        row_fit = logsumexp(joint, axis=1)
        resp = np.exp(joint - row_fit[:, None])
        if keep < n_experts:
            routed, share = routing.top_k(resp, keep)
            resp = np.zeros((n, n_experts))
            np.put_along_axis(resp, routed, share, axis=1)
        return resp, row_fit

    def _log_likelihoods(self, X, target, experts, noise, present=None):
        """Each expert's log-likelihood of each row, shape (n, n_experts): -inf where
        ``present`` (experts, n) says the expert is not asked."""
        log_lik = np.full((X.shape[0], len(experts)), -np.inf)
        for e, expert in enumerate(experts):
            rows = slice(None) if present is None else np.flatnonzero(present[e])
            if present is not None and not len(rows):
                continue  # a predictor may refuse no rows
            out = self._expert_output(expert, take_rows(take_view(X, self._views_[e]), rows),
                                      e, "at fit")
            log_lik[rows, e] = self._log_likelihood(out, target[rows],
                                                    None if noise is None else noise[e])
        return log_lik

    def _usage(self, X_gate, weight, gate, n_experts, k, present=None):
        """Each expert's share of the gate's routed weight, top ``k`` as at predict."""
        log_gate = _masked(self._log_gate(gate, X_gate, n_experts), present)
        routed, gate_weight = routing.top_k(np.exp(log_gate), k)
        usage = np.zeros(n_experts)
        np.add.at(usage, routed.ravel(), (gate_weight * weight[:, None]).ravel())
        return usage / weight.sum()

    # -- predict --------------------------------------------------------------------

    def _route(self, X):
        """The gate's top-k experts per row, their weights, and the rows grouped."""
        check_is_fitted(self, "experts_")
        X = self._check_X(X, reset=False)
        log_gate = self._gate_log_proba(X)
        routed, weight = routing.top_k(np.exp(log_gate), self._k_)
        # A slot left without weight (fewer experts present than top_k) goes to the
        # row's first expert, which has its view, at weight 0.
        routed = np.where(weight > 0, routed, routed[:, :1])
        order, offsets = routing.group_by_expert(routed, len(self.experts_))
        return X, routed, weight, order, offsets

    def _gate_log_proba(self, X):
        """The gate's log-probabilities, renormalised over the experts present per row."""
        present = self._presence(X, self._expert_names_, self.experts_, fitted=True)
        return _masked(self._log_gate(self.gate_, self._gate_input(X), len(self.experts_)),
                       present)

    def _log_gate(self, gate, X_gate, n_experts):
        """:func:`~skfuse._gate.gate_log_proba`, an error the gate raises noted as the gate's."""
        return noted(type(self).__name__, "the gate, predict", gate_log_proba, gate, X_gate,
                     n_experts)

    def _expert_output(self, expert, X, e, when="at predict"):
        """Expert ``e``'s output on ``X`` (:meth:`_predicted`), an error it raises noted
        with its name; NaN, infinite values and (a classifier's) rows that are not
        probabilities refused by its name: the mixture would weigh rows by them (EM) or
        pass them on."""
        owner, who = type(self).__name__, f"expert {self._expert_names_[e]!r}"
        out = noted(owner, f"{who}, predict", self._predicted, expert, X)
        effect = ("which EM would weigh the rows by" if when == "at fit"
                  else "which the mixture would pass on")
        refuse_non_finite_output(owner, who, out, when, effect)
        if self._kind == "classifier":
            refuse_improper_proba(owner, who, out, when, effect)
        return out

    def _lone_expert_input(self, X):
        """``X`` checked when one expert, without a view, has every row (its share is 1
        there, so routing would only multiply by it); else None."""
        experts = getattr(self, "experts_", None)  # unfitted: _route says so
        if experts is None or len(experts) != 1 or self._views_[0] is not None:
            return None
        X = self._check_X(X, reset=False)
        # The presence check refuses NaN for an expert that takes none, in our words.
        present = self._presence(X, self._expert_names_, experts, fitted=True)
        return X if present is None else None

    def _combined(self, X, expert_output):
        """Run each expert on its rows only and combine with the gate's weights."""
        lone = self._lone_expert_input(X)
        if lone is not None:
            # Adding 0.0 turns -0.0 into 0.0, as the routed sum from 0 does.
            return np.asarray(expert_output(self.experts_[0], lone, 0), dtype=np.float64) + 0.0
        return routing.combine(*self._routed_outputs(X, expert_output))

    def _routed_outputs(self, X, expert_output):
        """Each expert's output on the rows routed to it, stacked in expert order, and
        the routing: ``(stacked, order, offsets, routed, weight)``, what
        :func:`~skfuse.routing.combine` takes."""
        X, routed, weight, order, offsets = self._route(X)
        blocks = [(e, order[offsets[e]:offsets[e + 1]]) for e in range(len(self.experts_))]
        blocks = [(e, rows) for e, rows in blocks if rows.size]
        calls = [(_on_rows, (expert_output, self.experts_[e], X, self._views_[e], rows, e))
                 for e, rows in blocks]
        outputs = run_in_threads(calls, self.n_jobs, X.shape[0])
        stacked = np.concatenate(outputs) if outputs else np.empty((0, 1))
        return stacked, order, offsets, routed, weight

    @one_names_warning
    def predict_gate(self, X):
        """The gate's probability of each expert for each row.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_experts)
        """
        check_is_fitted(self, "experts_")
        return np.exp(self._gate_log_proba(self._check_X(X, reset=False)))

    def _gate_input(self, X, fitted=True):
        """The gate's columns of ``X`` (``gate_view``), as float numbers.

        NaN pass only to a given gate that takes them (``nan_error``, asked of the fitted
        gate when ``fitted``); the built-in gate takes none.
        """
        if fitted and len(self.experts_) == 1:  # its gate is not asked
            return np.zeros((X.shape[0], 1))
        X = take_view(X, self._gate_view_)
        try:
            values = _numeric(X)
        except (TypeError, ValueError) as exc:
            seen = ("every column of X (gate_view=None)" if self.gate_view is None
                    else "the columns of gate_view")
            raise type(exc)(
                f"{type(self).__name__}: the gate takes numbers, and it sees {seen}"
                f"{_not_numeric(X)} ({exc}). Point gate_view at numeric "
                "columns (make_column_selector(dtype_include='number') for a DataFrame); "
                "the experts still see every column their views give them."
            ) from exc
        holds = nan_rows(values)
        if holds.any():
            gate = self.gate_ if fitted else self.gate
            reason = ("the built-in gate (gate=None) takes none"
                      if gate is None or isinstance(gate, SoftmaxGate)
                      else nan_error(gate, nan_sample(values, None, holds), fitted))
            if reason is not None and gate is not None and not isinstance(gate, SoftmaxGate):
                reason = f"the gate ({type(gate).__name__}) raised: {reason}"
            if reason is not None:
                raise ValueError(
                    f"{type(self).__name__}: the gate's columns hold NaN on "
                    f"{int(holds.sum())} row(s), and {reason.rstrip('.')}. Point gate_view "
                    "at columns present on every row (with missing modalities, only the "
                    "experts' views need be missing), or give a gate that takes NaN: one "
                    "that imputes, such as make_pipeline(SimpleImputer(), "
                    "LogisticRegression()), or HistGradientBoostingClassifier()."
                )
        return values

    def _presence(self, X, names, experts, fitted=False):
        """Which experts have their view on each row: (E, n) bool, or None if all do.

        Every row needs an expert present; in ``fit`` (not ``fitted``), every expert
        needs a row too. At predict time an expert may have none: a batch may lack its
        modality on every row.
        """
        present = presence(X, self._views_, experts, [f"expert {name!r}" for name in names],
                           type(self).__name__, fitted)
        if present is None:
            return None
        refuse_rows_without_any(present, type(self).__name__, "expert")
        for name, row in zip(names, present):
            if not fitted and not row.any():
                raise ValueError(
                    f"{type(self).__name__}: expert {name!r} has no row where its view is "
                    "present."
                )
        return present


def _sparse_input(X):
    """Whether ``X`` reaches an estimator as a sparse matrix: it is one, or a DataFrame
    whose columns are all sparse (scikit-learn's checks make it one)."""
    return sp.issparse(X) or (getattr(X, "ndim", 0) == 2 and hasattr(X, "sparse"))


class _Standardiser(StandardScaler):
    """``StandardScaler`` whose weighted fit does not warn where a column constant on
    the weighted rows gets a variance rounded below 0 (about -1e-46): its square root is
    NaN, and scikit-learn then scales the column by 1, as any constant one. EM's
    responsibilities, as weights on an expert's rows, often leave a one-hot column
    constant there."""

    def partial_fit(self, X, y=None, sample_weight=None):
        with np.errstate(invalid="ignore"):
            return super().partial_fit(X, y, sample_weight)


class _Rows:
    """The arrays EM works on, for some rows: ``X``, the gate's columns, ``y``, the
    target (floats or class codes), sample weights, each expert's routed metadata and
    presence mask; ``valid`` holds the validation slice's (or None)."""

    def __init__(self, X, X_gate, y, target, weight, params, valid_mask=None,
                 present=None):
        self.X, self.X_gate, self.y, self.target = X, X_gate, y, target
        self.weight, self.params, self.present = weight, params, present
        self._valid_mask = valid_mask
        self.valid = None

    def _take(self, rows, present):
        n = len(self.weight)
        X = take_rows(self.X, rows)
        return _Rows(X, X if self.X_gate is self.X else take_rows(self.X_gate, rows),
                     take_rows(self.y, rows), self.target[rows], self.weight[rows],
                     [None if p is None else rows_of_params(p, rows, n)
                      for p in self.params],
                     present=None if present is None else present[:, rows])

    def train(self, present, rows=None):
        """The training rows (or ``rows``, some of them), with the validation slice as
        ``valid``."""
        if self._valid_mask is None:
            return self.every_row(present) if rows is None else self._take(rows, present)
        if rows is None:
            rows = np.flatnonzero(~self._valid_mask)
        train = self._take(rows, present)
        train.valid = self._take(np.flatnonzero(self._valid_mask), present)
        return train

    def every_row(self, present):
        return _Rows(self.X, self.X_gate, self.y, self.target, self.weight, self.params,
                     present=present)



# The methods whose requests an expert's fit may route to (a search's scorer: score).
_REQUESTING_METHODS = ("fit", "partial_fit", "predict", "predict_proba", "predict_log_proba",
                       "decision_function", "score", "split", "transform",
                       "inverse_transform")


def _weights_not_routed(expert):
    """``expert``'s metadata requests with ``sample_weight`` declined where it is unset
    or asked for, by the expert and every object inside it (a ``Pipeline``'s steps, a
    search's scorer), at fit and at any method its fit routes to: EM gives it weights of
    its own making. An alias on the expert's own ``fit`` stays, to be refused at fit
    (``_expert_params``); one on an inner step reaches that step under its name, as
    the user asked."""
    routing = get_routing_for_object(expert)  # a copy: the expert keeps its requests

    def decline(node):
        if isinstance(node, MetadataRequest):
            for method in _REQUESTING_METHODS:
                requests = getattr(node, method, None)
                if requests is None:
                    continue
                asked = requests.requests.get("sample_weight")
                if asked in (None, True) and (method == "fit"
                                              or "sample_weight" in requests.requests):
                    requests.add_request(param="sample_weight", alias=False)
        else:
            for _, pair in node:  # a router: its own requests and each inner one's
                decline(pair.router)

    decline(routing)
    return routing

def _on_rows(expert_output, expert, X, view, rows, e):
    """``expert_output`` of ``expert`` on its ``rows`` of ``X`` (its ``view``), taken
    here, in the task: one copy per running task, none for every row in order."""
    return expert_output(expert, take_rows(take_view(X, view), rows, copy=False), e)


def _mean(values, weight):
    return float(weight @ values / weight.sum())


# Standard errors by which the best count's held-out loss must beat fewer experts'.
# With one (the one-standard-error rule), "auto" kept 2 or 4 ridge experts on 8 of 108
# linear targets, each worse on new rows than the one it replaced: the same slice also
# picks the kept EM iteration and the gate penalty, which flatters the larger counts
# (benchmarks/expert_count_rule.py).
_COUNT_Z = 1.5


def _fewest_experts(runs, tol, weight, z=_COUNT_Z, floor=0.0):
    """The run with the fewest experts whose held-out loss the best run does not beat
    clearly (by more than ``tol``, ``z`` standard errors and ``floor``)."""
    best = min(runs, key=lambda run: run["loss"])
    return next(run for run in runs
                if not _clearly_better(best, run, tol, weight, z, floor))


def _clearly_better(run, best, tol, weight, z=1.0, floor=0.0):
    """Whether ``run``'s held-out loss is below ``best``'s by more than ``tol`` of it
    (relative), by more than ``z`` standard errors of the paired row differences, and
    by more than ``floor`` (the float rounding of the loss: a relative rule alone reads
    rounding as a gain where both losses are rounding, on an exact target)."""
    gain = best["row_losses"] - run["row_losses"]
    scale = largest_magnitude(gain)
    gain = gain / scale
    mean = _mean(gain, weight)
    n_eff = weight.sum() ** 2 / (weight @ weight)
    spread = np.sqrt(_mean((gain - mean) ** 2, weight) / n_eff)
    return mean > max(tol * abs(best["loss"]) / scale, z * spread, floor / scale)


def _gate_penalty(gate):
    """The built-in gate's L2 penalty term (``alpha / 2`` times its squared
    coefficients); 0 for other gates."""
    if not isinstance(gate, SoftmaxGate):
        return 0.0
    return 0.5 * gate.alpha * float(np.sum(gate.coef_**2))


def _masked(log_gate, present):
    """Log-probabilities renormalised over the experts ``present`` on each row
    (``present`` has shape (n_experts, n_samples)). A row whose gate gives every expert
    present probability 0 gives them equal probabilities, as a fusion shares a row whose
    members present all have weight 0."""
    if present is None:
        return log_gate
    log_gate = np.where(present.T, log_gate, -np.inf)
    total = logsumexp(log_gate, axis=1, keepdims=True)
    stranded = np.isneginf(total[:, 0]) & present.any(axis=0)
    if stranded.any():
        log_gate[stranded] = np.where(present.T[stranded], 0.0, -np.inf)
        total[stranded] = np.log(present[:, stranded].sum(axis=0))[:, None]
    return log_gate - total


def _not_numeric(X, shown=5):
    """Which columns of ``X`` are not numbers, as a phrase: "of which [...] are not"
    (named, or by position in an array), or "" where none alone fails."""
    if _is_dataframe(X):
        bad = [str(name) for name, dtype in X.dtypes.items()
               if getattr(dtype, "kind", "O") in "mM"
               or (dtype.kind not in "biuf" and not _converts(X[name]))]
    else:
        array = np.asarray(X, dtype=object)
        bad = [f"column {j}" for j in range(array.shape[1]) if not _converts(array[:, j])]
    if not bad:
        return ""
    more = f" and {len(bad) - shown} more" if len(bad) > shown else ""
    return f", of which {bad[:shown]!r}{more} are not"


def _converts(column):
    try:
        np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _numeric(X):
    """The gate's input: float numbers (a DataFrame is converted)."""
    if _is_dataframe(X):
        # Dates and durations are not numbers (as scikit-learn's check_array refuses
        # them): as floats they would be counts of the column's own unit (s, ms, us, ns),
        # so the same dates in another unit would route elsewhere.
        if any(getattr(dtype, "kind", "O") in "mM" for dtype in X.dtypes):
            raise ValueError("dates and durations are not numbers")
        return X.to_numpy(dtype=np.float64, na_value=np.nan)
    if hasattr(X, "toarray"):
        return X.astype(np.float64, copy=False)
    if np.asarray(X).dtype.kind in "mM":
        raise ValueError("dates and durations are not numbers")
    return np.asarray(X, dtype=np.float64)


def _axis_seeds(Z, weight, n_clusters):
    """Deterministic k-means seeds: the rows at the weighted quantiles
    (c + 1/2) / n_clusters of the data's projection on its principal axis.

    A row of weight 2 and two copies of it give the same seeds. The axis's sign, which
    ``eigh`` leaves arbitrary, is fixed by the row farthest along it, so negating y or
    reordering columns gives the same seeds where the principal axis is unique (on a
    balanced design it is not, and the axis ``eigh`` returns follows the columns).
    """
    mean = weight @ Z / weight.sum()
    if sp.issparse(Z):
        axis = _principal_axis(Z, weight, mean)
        projection = Z @ axis - mean @ axis
    else:
        centred = Z - mean
        if Z.shape[1] > max(Z.shape[0], _DENSE_COVARIANCE_COLUMNS):
            # Wider than long: the axis from the weighted rows' SVD, (n x n) work,
            # without the (d x d) covariance.
            rows = centred * np.sqrt(weight / weight.sum())[:, None]
            axis = np.linalg.svd(rows, full_matrices=False)[2][0]
        else:
            covariance = (centred * weight[:, None]).T @ centred / weight.sum()
            axis = np.linalg.eigh(covariance)[1][:, -1]
        projection = centred @ axis
    if projection[np.argmax(np.abs(projection))] < 0:
        projection = -projection
    order = np.argsort(projection, kind="stable")
    cumulative = np.cumsum(weight[order])
    quantiles = (np.arange(n_clusters) + 0.5) * cumulative[-1] / n_clusters
    picks = np.minimum(np.searchsorted(cumulative, quantiles), len(order) - 1)
    seeds = Z[order[picks]]
    return seeds.toarray() if sp.issparse(seeds) else seeds


def _principal_axis(Z, weight, mean):
    """The leading eigenvector of sparse ``Z``'s weighted covariance, without
    densifying ``Z``: formed (d x d) from dense blocks of rows up to a few hundred
    columns, else found by Lanczos from its products with vectors (wide data: text)."""
    total, (n, d) = weight.sum(), Z.shape
    if d <= _DENSE_COVARIANCE_COLUMNS:
        gram = np.zeros((d, d))
        rows = max(1, _BLOCK_VALUES // d)
        for first in range(0, n, rows):
            block = Z[first:first + rows].toarray()
            gram += block.T @ (block * weight[first:first + rows, None])
        return np.linalg.eigh(gram / total - np.outer(mean, mean))[1][:, -1]

    def covariance_times(v):
        return np.asarray(Z.T @ (weight * (Z @ v))).ravel() / total - mean * (mean @ v)

    # A generic start: a fixed one (all ones) can be orthogonal to the spread.
    start = np.random.RandomState(0).standard_normal(d)
    if not covariance_times(start).any():  # no spread: any axis will do
        return start
    operator = LinearOperator((d, d), matvec=covariance_times, dtype=np.float64)
    try:
        return eigsh(operator, k=1, which="LA", v0=start)[1][:, 0]
    except ArpackNoConvergence as exc:  # near-equal leading eigenvalues: any will do
        return exc.eigenvectors[:, 0] if exc.eigenvectors.size else start


# Up to this many columns (or rows, if more), the start's covariance is formed and
# decomposed whole; a sparse one from dense blocks of rows of at most this many values.
_DENSE_COVARIANCE_COLUMNS = 500
_BLOCK_VALUES = 2**20


def _gate_rows(rows, n_experts):
    """The gate's columns of ``rows`` to fit the built-in gate on: with one expert, a
    trivial gate, with any NaN (which a given gate may take) filled in."""
    return _mean_filled(rows.X_gate, rows.weight) if n_experts == 1 else rows.X_gate


def _mean_filled(X, weight):
    """``X`` with each NaN (a gate that takes NaN sees them) replaced by its column's
    weighted mean, for the k-means start."""
    if not nan_rows(X).any():
        return X
    if sp.issparse(X):  # only stored entries can be NaN: they are filled in place
        X = sp.csc_matrix(X, dtype=np.float64, copy=True)
        X.sum_duplicates()  # (a NaN and a number in one cell are a NaN, as dense)
        missing = np.isnan(X.data)
        columns = np.repeat(np.arange(X.shape[1]), np.diff(X.indptr))
        stored_weight = weight[X.indices]
        total = np.bincount(columns[~missing], (stored_weight * X.data)[~missing],
                            minlength=X.shape[1])
        count = weight.sum() - np.bincount(columns[missing], stored_weight[missing],
                                           minlength=X.shape[1])
        means = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        X.data[missing] = means[columns[missing]]
        return X.tocsr()
    seen = ~np.isnan(X)
    total = np.where(seen, X, 0.0).T @ weight
    count = seen.T.astype(float) @ weight
    return np.where(seen, X, np.divide(total, count, out=np.zeros_like(total),
                                       where=count > 0))


def _standardise(X, weight):
    """``X`` as float64 with each column centred and scaled by its weighted mean and
    standard deviation (a constant column is centred, and scaled only by a magnitude
    above 1): k-means in the units given would let the widest column decide the
    start. Sparse ``X`` stays sparse: only its columns stored in every row are
    centred (k-means and the principal axis do not depend on where the origin lies,
    but in float64 a column far from it drowns the others' distances)."""
    if not sp.issparse(X):
        X = np.asarray(X, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # (a target beyond 1e308: the
        mean, scale = column_mean_scale(X, weight)       # M-step refuses it by name)
        if not sp.issparse(X):
            return (X - mean) / scale
        Z = divided_columns(X, scale)
        full = np.bincount(Z.indices, minlength=Z.shape[1]) == Z.shape[0]
        Z.data -= np.where(full, mean / scale, 0.0)[Z.indices]
        return Z


# Docstring entries both mixtures share, filled in by Substitution.
_MIXTURE_DOCS = {
    "n_experts": f"""n_experts : int or "auto", default="auto"
        The number of experts when ``experts`` is None or one estimator. "auto" fits
        1, 2 and 4 experts on the training rows in turn, scores each on the
        validation slice, and keeps the fewest whose held-out loss the best count does
        not beat clearly: by more than ``tol`` (relative) and {_COUNT_Z:g} standard errors of
        the paired row differences. Above 10,000 training rows, the counts are fitted on
        a random 10,000 of them, and the chosen count's EM goes on from that mixture
        on every training row. A count whose held-out loss is still over 25% (and
        clearly) above one expert's after ``n_iter_no_change`` iterations is abandoned,
        and no larger count is tried. One expert is the expert fitted alone.
        With ``views``, only counts that have every named expert are tried. Without
        a validation slice (``validation_fraction=None``, or too few rows), "auto" is
        the first of them: one expert, or with ``views`` the fewest that have every
        named expert.""",
    "gate": """gate : classifier or None, default=None
        None for the built-in softmax gate (multinomial logistic regression on the
        responsibilities, L2 penalty ``gate_alpha``), or a classifier with
        ``predict_proba`` whose ``fit`` takes ``sample_weight``; it is fitted on one
        copy of X per expert, weighted by the responsibilities. A classifier fitted
        beforehand, in ``FrozenEstimator``, with the experts' positions (0, 1, ...) as
        its classes keeps its routing: EM starts from it (``init`` and ``n_init`` play
        no part) and fits the experts alone, one per class.""",
    "top_k": """top_k : int or None, default=None
        Experts per row. None uses every expert. With ``k`` set, EM first runs dense
        (up to ``max_iter // 2`` iterations, to a good optimum), then sparse: each
        row's responsibilities are truncated to its k most probable experts, so an
        expert is fitted only on the rows given to it. At predict time each row runs
        only its gate's top k experts.""",
    "max_iter": """max_iter : int, default=30
        EM iterations per start (dense and sparse phases together).""",
    "tol": """tol : float, default=1e-3
        EM stops when the mean log-likelihood per unit of sample weight of the
        validation slice (without one, EM's objective on the training rows) has risen
        by less than this for ``n_iter_no_change`` iterations. A difference of mean
        log-likelihoods does not depend on the scale of y. "auto" also uses it,
        relative to the held-out loss, to choose the number of experts.""",
    "n_iter_no_change": """n_iter_no_change : int, default=2
        EM iterations without a rise of ``tol`` before EM stops.""",
    "validation_fraction": """validation_fraction : float or None, default=0.1
        The share of rows (of positive weight) held out while EM runs: EM stops on
        their log-likelihood and keeps the iteration with their lowest loss (squared
        error for regression, log-loss for classification, routed as ``predict``
        routes), "auto" chooses
        ``n_experts`` and ``gate_alpha`` on it, and the chosen mixture then takes one
        more EM step on every row. At least 50 rows are held out, up to a quarter of
        them; a class whose every row was drawn keeps one for training. The rows are
        drawn one by one, not by groups: with ``groups`` routed to the experts, a
        held-out row's group may have trained them. None, under
        100 rows, or under 25 held out once rare classes have kept theirs: EM runs
        on every row and keeps the iteration with the highest objective.""",
    "min_responsibility": """min_responsibility : float, default=0.01
        The sparse M-step: an expert is refitted only on the rows whose
        responsibility for it is at least this (its rows with the largest one if
        none is). 0 refits every expert on every row it has any responsibility
        for (the dense M-step).""",
    "n_init": """n_init : int, default=1
        EM starts; the one with the lowest loss on the validation slice is kept
        (without a slice, the one with the highest penalised log-likelihood).""",
    "gate_alpha": """gate_alpha : float or "auto", default="auto"
        L2 penalty of the built-in gate. "auto": EM runs with 0.1, then the kept
        iteration's gate is refitted with 1.0 and 0.01 too, and the penalty with the
        lowest held-out loss is kept (0.1 without a validation slice).""",
    "views": """views : dict or None, default=None
        Expert name to the columns it sees (names, positions, slice, mask or callable).""",
    "gate_view": """gate_view : columns or None, default=None
        The columns the gate (and the k-means start) sees, given as for ``views``;
        None: every column. They must be numeric, and reach a given gate as a float
        array without names.""",
    "n_jobs": """n_jobs : int or None, default=None
        Experts fitted in parallel (joblib); prediction runs experts in threads for
        10,000 rows or more.""",
    "verbose": """verbose : int, default=0
        Above 0, print each EM iteration's objective, held-out log-likelihood
        (what EM stops on), held-out loss and seconds,
        the number of experts "auto" chose, and a closing summary (iterations,
        converged or not and why, expert usage).""",
    "random_state": """random_state : int, RandomState or None, default=None
        Seeds k-means, random starts, and the experts and gate whose own
        ``random_state`` is None.""",
    "experts_": """experts_ : list of estimators
        The fitted experts.""",
    "named_experts_": """named_experts_ : Bunch
        The fitted experts by name (``expert0``, ... for a cloned template).""",
    "gate_": """gate_ : estimator
        The fitted gate: the built-in softmax gate (multinomial logistic regression on
        soft targets, with ``predict_proba``) unless ``gate`` is given. With one expert
        (given, or chosen by "auto") there is nothing to route: it is the built-in
        gate, which sends every row to that expert.""",
    "n_experts_": """n_experts_ : int
        The number of experts fitted (chosen by "auto", or given).""",
    "gate_alpha_": """gate_alpha_ : float or None
        The built-in gate's L2 penalty (chosen by "auto", or given); None with a
        given ``gate``. With one expert the gate routes nothing, and the penalty
        (the first "auto" tries) plays no part.""",
    "n_iter_": """n_iter_ : int
        EM iterations of the kept start (the last step on every row not counted; above
        10,000 training rows under "auto", of the EM run on every training row).""",
    "n_iter_total_": """n_iter_total_ : int
        EM iterations of every start and count tried: what the fit cost.""",
    "count_losses_": """count_losses_ : dict of int to float or None
        The held-out loss of each number of experts tried; None without a validation
        slice.""",
    "best_iteration_": """best_iteration_ : int
        The EM iteration kept: the lowest held-out loss, or the highest objective.""",
    "converged_": """converged_ : bool
        Whether EM stopped on ``tol`` rather than ``max_iter`` (with one expert, one
        fit: True).""",
    "objective_curve_": """objective_curve_ : ndarray of shape (``n_iter_``,)
        EM's objective after each iteration: the penalised mean log-likelihood per
        unit of sample weight on the rows EM ran on (the built-in gate's L2 penalty
        subtracted).""",
    "validation_loss_curve_": """validation_loss_curve_ : ndarray of shape (``n_iter_``,) or None
        The held-out loss after each iteration; None without a validation slice.""",
    "validation_score_curve_": """validation_score_curve_ : ndarray of shape (``n_iter_``,) or None
        The held-out mean log-likelihood after each iteration (what EM stops on);
        None without a validation slice.""",
    "lower_bound_": """lower_bound_ : float
        EM's objective for the fitted mixture on every row (after the last step).""",
    "expert_usage_": """expert_usage_ : ndarray of shape (n_experts,)
        Each expert's share of the routed gate weight on the training rows (sums to 1).""",
    "n_features_in_": """n_features_in_ : int
        Number of features seen during fit.""",
    "feature_names_in_": """feature_names_in_ : ndarray of str
        Only when X has string column names.""",
}


@Substitution(**_MIXTURE_DOCS)
class MixtureOfExpertsRegressor(RegressorMixin, _BaseMixture):
    """A mixture of regression experts, routed by a gate, fitted by EM.

    Each row goes to its ``top_k`` experts by the gate (all when None), and the
    prediction is their outputs weighted by the gate's renormalised probabilities.
    EM (Jordan & Jacobs, 1994) alternates responsibilities computed from the gate and
    each expert's Gaussian likelihood (a per-expert variance, floored at 1e-6 times
    the variance of y) with refits of the experts (responsibilities as
    ``sample_weight``) and of the gate (responsibilities as soft targets). An expert
    left with under 1% of an even share of the weight is re-seeded with the rows the
    mixture fits worst before it is refitted.

    Parameters
    ----------
    experts : regressor, list of (str, regressor) or None, default=None
        None: ``n_experts`` ridge regressions. One regressor: ``n_experts`` clones.
        A list: one expert per entry (heterogeneous experts). Each must take
        ``sample_weight`` in ``fit``.
    {n_experts}
    {gate}
    {top_k}
    {max_iter}
    {tol}
    {n_iter_no_change}
    {validation_fraction}
    {min_responsibility}
    {n_init}
    init : {{"kmeans", "random"}}, default="kmeans"
        First responsibilities: k-means clusters (of standardised X and y), or random
        shares.
    {gate_alpha}
    {views}
    {gate_view}
    {n_jobs}
    {verbose}
    {random_state}

    Attributes
    ----------
    {experts_}
    {named_experts_}
    {gate_}
    {n_experts_}
    {gate_alpha_}
    {n_iter_}
    {best_iteration_}
    {n_iter_total_}
    {count_losses_}
    {converged_}
    {objective_curve_}
    {validation_loss_curve_}
    {validation_score_curve_}
    {lower_bound_}
    {expert_usage_}
    {n_features_in_}
    {feature_names_in_}
    noise_variance_ : ndarray of shape (n_experts,)
        Each expert's Gaussian variance.

    See Also
    --------
    MixtureOfExpertsClassifier : The same for classification.
    FusionRegressor : Every member on every row, with learned weights.

    Examples
    --------
    >>> import numpy as np
    >>> from skfuse import MixtureOfExpertsRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(400, 1))
    >>> y = np.where(X[:, 0] < 0, -2 * X[:, 0], 3 * X[:, 0]) + rng.normal(0, .1, 400)
    >>> moe = MixtureOfExpertsRegressor(n_experts=2, top_k=1, random_state=0).fit(X, y)
    >>> round(moe.score(X, y), 2)
    1.0
    """

    _kind = "regressor"

    # Experts and the gate are estimators, whose parameters their own fit validates.
    @_fit_context(prefer_skip_nested_validation=False)
    @atomic_fit
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the experts and the gate by EM.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights the rows in EM (each expert is fitted with the responsibilities
            times it).
        **fit_params : dict
            With ``sklearn.set_config(enable_metadata_routing=True)`` only: metadata
            for the experts that request them, each given the rows it is fitted on
            (``groups`` for an expert that is a composite with ``GroupKFold``, say).
            Not sample weights: EM weights the experts, from ``sample_weight``; an
            expert that requests them under another name is refused.

        Returns
        -------
        self : MixtureOfExpertsRegressor
        """
        X = self._check_X(X, reset=True)
        target = numeric_target(self._check_y(X, y), "MixtureOfExpertsRegressor")
        return self._fit(X, target, target, sample_weight, fit_params)

    @staticmethod
    def _fit_output(expert, X):
        return member_prediction(expert, X)

    @staticmethod
    def _predicted(expert, X):
        return member_prediction(expert, X)

    @staticmethod
    def _held_out_output(prediction, target):
        return prediction

    @staticmethod
    def _loss(mixed, target):
        return (mixed - target) ** 2

    @staticmethod
    def _rounding_floor(target):
        """Squared errors below this are float rounding of a target of this magnitude."""
        with np.errstate(over="ignore"):  # (an overflowing y is refused in the M-step)
            return float((_ROUNDING_ULPS * np.finfo(np.float64).eps
                          * np.max(np.abs(target), initial=0.0)) ** 2)

    @staticmethod
    def _log_likelihood(prediction, target, variance):
        residual = target - prediction
        return -0.5 * (np.log(2 * np.pi * variance) + residual**2 / variance)

    @one_names_warning
    def predict(self, X, return_std=False):
        """Gate-weighted mean of each row's routed experts.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the mixture's standard deviation per row: the spread of the
            routed experts' Gaussians around the mean.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        y_std : ndarray of shape (n_samples,)
            Only with ``return_std=True``.
        """
        predictions = self._expert_output
        if not return_std:
            return self._combined(X, predictions)
        lone = self._lone_expert_input(X)
        if lone is not None:  # the one expert's noise on every row
            mean = np.asarray(predictions(self.experts_[0], lone, 0), dtype=np.float64) + 0.0
            return mean, np.full(len(mean), np.sqrt(self.noise_variance_[0]))
        # The variance around each row's mean, sum_e w_e (noise_e + (mean_e - mean)^2):
        # the same as sum_e w_e (noise_e + mean_e^2) - mean^2, without losing it to
        # cancellation where the means are large against their spread.
        means, order, offsets, routed, weight = self._routed_outputs(X, predictions)
        mean = routing.combine(means, order, offsets, routed, weight)
        expert = np.repeat(np.arange(len(self.experts_)), np.diff(offsets))
        spread = self.noise_variance_[expert] + (means - mean[order]) ** 2
        variance = routing.combine(spread, order, offsets, routed, weight)
        return mean, np.sqrt(variance)


@Substitution(**_MIXTURE_DOCS)
class MixtureOfExpertsClassifier(ClassifierMixin, _BaseMixture):
    """A mixture of classification experts, routed by a gate, fitted by EM.

    Each row goes to its ``top_k`` experts by the gate (all when None), and the class
    probabilities are their ``predict_proba`` weighted by the gate's renormalised
    probabilities. EM alternates responsibilities, computed from the gate and the
    probability each expert gives the true class, with refits of the experts
    (responsibilities as ``sample_weight``) and of the gate (responsibilities as soft
    targets). Every expert is fitted on every class: the rows of a class it holds no
    responsibility for join its fit at 1e-6 of their sample weight, so no expert is
    fitted on one class. An expert left with under 1% of an even share of the weight
    is re-seeded with the rows the mixture fits worst.

    Parameters
    ----------
    experts : classifier, list of (str, classifier) or None, default=None
        None: ``n_experts`` logistic regressions (``max_iter=1000``) on standardised
        columns (a ``StandardScaler`` first, which does not centre sparse X). One
        classifier: ``n_experts`` clones. A list: one expert per entry (heterogeneous
        experts). Each must have ``predict_proba`` and take ``sample_weight`` in ``fit``.
    {n_experts}
    {gate}
    {top_k}
    {max_iter}
    {tol}
    {n_iter_no_change}
    {validation_fraction}
    {min_responsibility}
    {n_init}
    init : {{"kmeans", "random"}}, default="kmeans"
        First responsibilities: k-means clusters (of standardised X), or random
        shares.
    {gate_alpha}
    {views}
    {gate_view}
    {n_jobs}
    {verbose}
    {random_state}

    Attributes
    ----------
    {experts_}
    {named_experts_}
    {gate_}
    {n_experts_}
    {gate_alpha_}
    {n_iter_}
    {best_iteration_}
    {n_iter_total_}
    {count_losses_}
    {converged_}
    {objective_curve_}
    {validation_loss_curve_}
    {validation_score_curve_}
    {lower_bound_}
    {expert_usage_}
    {n_features_in_}
    {feature_names_in_}
    classes_ : ndarray of shape (n_classes,)
        The class labels.

    See Also
    --------
    MixtureOfExpertsRegressor : The same for regression.
    FusionClassifier : Every member on every row, with learned weights.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skfuse import MixtureOfExpertsClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> moe = MixtureOfExpertsClassifier(n_experts=2, random_state=0).fit(X, y)
    >>> moe.predict_proba(X[:1]).shape
    (1, 3)
    """

    _kind = "classifier"

    # Experts and the gate are estimators, whose parameters their own fit validates.
    @_fit_context(prefer_skip_nested_validation=False)
    @atomic_fit
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the experts and the gate by EM.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights the rows in EM (each expert is fitted with the responsibilities
            times it).
        **fit_params : dict
            With ``sklearn.set_config(enable_metadata_routing=True)`` only: metadata
            for the experts that request them, each given the rows it is fitted on
            (``groups`` for an expert that is a composite with ``GroupKFold``, say).
            Not sample weights: EM weights the experts, from ``sample_weight``; an
            expert that requests them under another name is refused.

        Returns
        -------
        self : MixtureOfExpertsClassifier
        """
        X = self._check_X(X, reset=True)
        y = self._check_y(X, y)
        self._set_classes(y)
        codes = np.searchsorted(self.classes_, y)
        return self._fit(X, y, codes, sample_weight, fit_params)

    @staticmethod
    def _fit_output(expert, X):
        return None

    def _predicted(self, expert, X):
        return member_proba(expert, X, self.classes_)

    @staticmethod
    def _held_out_output(proba, codes):
        return proba[np.arange(len(codes)), codes]

    @staticmethod
    def _loss(mixed, codes):
        return -np.log(np.maximum(mixed, _MIN_PROBA))

    @staticmethod
    def _rounding_floor(codes):
        return 0.0

    def _expert_rows(self, expert_weight, codes, weight):
        """The expert's rows, plus the rows of each class it lacks, lightly weighted."""
        present = expert_weight > 0
        missing = np.setdiff1d(np.arange(len(self.classes_)), codes[present])
        light = np.isin(codes, missing) & (weight > 0)
        rows = np.flatnonzero(present | light)
        return rows, np.where(present, expert_weight, _LIGHT * weight)[rows]

    @staticmethod
    def _log_likelihood(proba, codes, variance):
        proba = proba[np.arange(len(codes)), codes]
        return np.log(np.maximum(proba, _MIN_PROBA))

    @one_names_warning
    def predict_proba(self, X):
        """Gate-weighted class probabilities of each row's routed experts.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        proba = self._combined(X, self._expert_output)
        return np.clip(proba, 0.0, 1.0, out=proba)  # a weighted sum may overshoot by an ulp

    @one_names_warning
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba` (``-inf`` where a probability is 0).

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    @one_names_warning
    def predict(self, X):
        """The class with the highest mixture probability.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
