"""Mixtures of experts fitted by EM, with sparse top-k routing."""

import time
import warnings
from numbers import Integral, Real

import numpy as np
from scipy.special import logsumexp
from sklearn.base import ClassifierMixin, RegressorMixin, clone
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils import Bunch, check_random_state, get_tags
from sklearn.utils.validation import check_is_fitted

from . import routing
from ._base import (
    Composite,
    check_members,
    check_sample_weight,
    check_sample_weight_support,
    is_drop,
    member_prediction,
    member_proba,
    seed_estimator,
)
from ._compat import HasMethods, Interval, StrOptions, _fit_context, _VisualBlock
from ._docstring import Substitution
from ._gate import SoftmaxGate, fit_classifier_gate, gate_log_proba, weight_param
from ._jobs import MemberJobs
from ._tasks import run_in_threads
from ._views import (
    _is_dataframe,
    check_views,
    nan_error,
    nan_rows,
    nan_sample,
    presence,
    resolve_view,
    take_rows,
    take_view,
)

_VARIANCE_FLOOR = 1e-6  # times the variance of y
_MIN_PROBA = 1e-300
_STARVED = 0.01  # of an even share of the weight
_LIGHT = 1e-6  # weight, relative to sample_weight, of rows of a class an expert lacks


class _BaseMixture(Composite):
    """EM for a gate and experts; the subclasses say what an expert's likelihood is."""

    _members = "experts"

    _parameter_constraints: dict = {
        "experts": [None, HasMethods(["fit"]), list, tuple],
        "n_experts": [Interval(Integral, 1, None, closed="left")],
        "gate": [None, HasMethods(["fit", "predict_proba"])],
        "top_k": [None, Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"kmeans", "random"})],
        "gate_alpha": [Interval(Real, 0, None, closed="left")],
        "views": [None, dict],
        "gate_view": [None, str, Integral, slice, "array-like", callable],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(self, experts=None, *, n_experts=4, gate=None, top_k=None, max_iter=100,
                 tol=1e-4, n_init=1, init="kmeans", gate_alpha=1.0, views=None,
                 gate_view=None, n_jobs=None, verbose=0, random_state=None):
        self.experts = experts
        self.n_experts = n_experts
        self.gate = gate
        self.top_k = top_k
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.init = init
        self.gate_alpha = gate_alpha
        self.views = views
        self.gate_view = gate_view
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        try:
            members = ([self.experts] if self.experts is None or hasattr(self.experts, "fit")
                       else [est for _, est in self.experts])
            members = [est for est in members if est is not None and hasattr(est, "fit")]
            tags.input_tags.sparse = all(get_tags(est).input_tags.sparse for est in members)
        except (TypeError, ValueError, AttributeError):
            pass  # invalid experts: fit reports them
        return tags

    @property
    def named_experts_(self):
        """Dict-like access to the fitted experts by name."""
        check_is_fitted(self, "experts_")
        return Bunch(**dict(zip(self._expert_names_, self.experts_)))

    # -- validation ----------------------------------------------------------------

    def _expert_templates(self):
        """The experts' ``(names, templates)``: ``n_experts`` copies of one estimator, or
        the kept entries of a list, each checked to take ``sample_weight`` (and, for a
        classifier, to have ``predict_proba``), which a declared constraint cannot say."""
        owner = type(self).__name__
        default = LogisticRegression(max_iter=1000) if self._kind == "classifier" else Ridge()
        if self.experts is None or hasattr(self.experts, "fit"):
            template = default if self.experts is None else self.experts
            pairs = [(f"expert{e}", template) for e in range(self.n_experts)]
        else:
            pairs = self.experts
        names, members = check_members(pairs, self._kind, owner)
        self._validate_names([name for name, _ in pairs])
        check_sample_weight_support(names, members, owner)
        if self._kind == "classifier":
            for name, member in zip(names, members):
                if not hasattr(member, "predict_proba"):
                    raise TypeError(
                        f"{owner}: expert {name!r} ({type(member).__name__}) has no "
                        "predict_proba."
                    )
        return names, members

    def _check_params(self, n_experts):
        """Check the rules ``_parameter_constraints`` cannot say; return ``top_k``'s k.

        ``top_k`` is at most the number of experts (``n_experts``, or the length of a
        list of experts), and a given gate's ``fit`` takes ``sample_weight``.
        """
        owner = type(self).__name__
        if self.top_k is not None and self.top_k > n_experts:
            raise ValueError(
                f"{owner}: top_k must be None or an int from 1 to n_experts={n_experts}; "
                f"got {self.top_k!r}."
            )
        if self.gate is not None and weight_param(self.gate) is None:
            raise TypeError(
                f"{owner}: the gate ({type(self.gate).__name__}) does not accept "
                "sample_weight in fit (a Pipeline's final step must), which EM weights "
                "it with."
            )
        return n_experts if self.top_k is None else int(self.top_k)

    # -- fit ------------------------------------------------------------------------

    def _sk_visual_block_(self):
        """The gate beside the experts in the HTML representation."""
        if isinstance(self.experts, (list, tuple)):
            names, experts = [list(x) for x in zip(*self.experts)] or ([], [])
        else:
            names = [f"{self.n_experts} x experts"]
            experts = [self.experts if self.experts is not None else (
                LogisticRegression(max_iter=1000) if self._kind == "classifier" else Ridge())]
        gate = SoftmaxGate(alpha=self.gate_alpha) if self.gate is None else self.gate
        return _VisualBlock("parallel", [gate, *experts], names=["gate", *names])

    def _routed_members(self):
        """The experts, as ``fit`` routes metadata to them (the gate gets none)."""
        if self.experts is None or hasattr(self.experts, "fit"):
            return [("experts", self._expert_templates()[1][0])]
        return [(name, est) for name, est in self.experts if not is_drop(est)]

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
        for expert_params in params:
            expert_params.pop("sample_weight", None)
        return params

    def _fit(self, X, y, target, sample_weight, fit_params):
        """EM from ``n_init`` starts; keep the best. ``target``: floats or class codes."""
        owner = type(self).__name__
        names, templates = self._expert_templates()
        params = self._expert_params(names, fit_params)
        n_experts = len(names)
        k = self._check_params(n_experts)
        n = X.shape[0]
        if n < n_experts:
            raise ValueError(
                f"{owner} needs at least one sample per expert ({n_experts}); got "
                f"n_samples={n}."
            )
        weight = check_sample_weight(sample_weight, n)
        weight = np.ones(n) if weight is None else weight
        views = check_views(self.views, names, type(self).__name__)
        feature_names = getattr(self, "feature_names_in_", None)
        self._views_ = [
            resolve_view(views[name], X, name, feature_names) if name in views else None
            for name in names
        ]
        self._gate_view_ = (None if self.gate_view is None else
                            resolve_view(self.gate_view, X, "gate", feature_names))
        X_gate = self._gate_input(X, fitted=False)
        present = self._presence(X, names, templates)
        self._expert_names_ = names  # EM's progress and errors name the experts
        rng = check_random_state(self.random_state)
        best = None
        for start in range(self.n_init):
            run = self._em(X, X_gate, y, target, weight, templates, params, k, rng, start,
                           present)
            if best is None or run["lower_bound"] > best["lower_bound"]:
                best = run
        self.experts_ = best["experts"]
        self.gate_ = best["gate"]
        self.lower_bound_ = best["lower_bound"]
        self.converged_ = best["converged"]
        self.n_iter_ = best["n_iter"]
        self.expert_usage_ = best["expert_usage"]
        if "noise_variance" in best:
            self.noise_variance_ = best["noise_variance"]
        self._k_ = k
        if not self.converged_:
            warnings.warn(
                f"{owner} did not converge in max_iter={self.max_iter} EM iterations "
                f"(last change of the lower bound above tol={self.tol}).",
                ConvergenceWarning,
            )
        return self

    def _em(self, X, X_gate, y, target, weight, templates, params, k, rng, start, present):
        n, n_experts = X.shape[0], len(templates)
        templates = [seed_estimator(t, rng) for t in templates]
        gate = (SoftmaxGate(alpha=self.gate_alpha, warm_start=True) if self.gate is None
                else None)
        gate_template = None if self.gate is None else seed_estimator(self.gate, rng)
        resp = self._initial_responsibilities(X_gate, target, weight, n_experts, rng, start)
        if present is not None:  # a row goes only to experts that have its view
            resp = resp * present.T
            lost = resp.sum(axis=1) == 0
            resp[lost] = present.T[lost] / present.T[lost].sum(axis=1, keepdims=True)
        row_fit = np.zeros(n)  # before any E-step, re-seed from the first rows
        # Sparse EM first runs dense (up to half the iterations) to a good optimum, then
        # truncates: hard assignments from the start get stuck in poor partitions.
        phases = [(k, self.max_iter)]
        if k < n_experts and self.max_iter // 2 > 0:
            phases.insert(0, (n_experts, self.max_iter // 2))
        iteration, began = 0, time.perf_counter()
        for keep, last in phases:
            lower_bound, converged = -np.inf, False
            while iteration < last and not converged:
                iteration += 1
                resp = self._reseed_starved(resp, weight, row_fit, present)
                experts, noise = self._m_step(X, y, target, weight, resp, templates, params,
                                              present)
                if gate_template is None:
                    gate.fit(X_gate, resp, sample_weight=weight)
                else:
                    gate = fit_classifier_gate(clone(gate_template), X_gate, resp, weight)
                resp, row_fit = self._e_step(X, X_gate, target, experts, noise, gate,
                                             keep, present)
                previous, lower_bound = lower_bound, weight @ row_fit / weight.sum()
                converged = abs(lower_bound - previous) < self.tol
                if self.verbose:
                    print(f"[{type(self).__name__}] start {start + 1} of {self.n_init}, EM "
                          f"iteration {iteration} (top {keep}): lower bound "
                          f"{lower_bound:.6g}, {time.perf_counter() - began:.2f} s",
                          flush=True)
        run = {"experts": experts, "gate": gate, "lower_bound": lower_bound,
               "converged": converged, "n_iter": iteration,
               "expert_usage": self._usage(X_gate, weight, gate, n_experts, k, present)}
        if noise is not None:
            run["noise_variance"] = noise
        return run

    def _initial_responsibilities(self, X_gate, target, weight, n_experts, rng, start):
        n = X_gate.shape[0]
        if self.init == "random":
            return rng.dirichlet(np.ones(n_experts), size=n)
        Z = _standardise(_mean_filled(X_gate, weight), weight)
        if hasattr(Z, "toarray"):
            Z = Z.toarray()
        if self._kind == "regressor":  # cluster in (x, y) so regimes of y separate too
            Z = np.hstack([Z, _standardise(target[:, None], weight)])
        # The first start seeds k-means deterministically (so a row of weight 2 acts as
        # two rows); further starts use k-means++.
        init = _axis_seeds(Z, weight, n_experts) if start == 0 else "k-means++"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # fewer distinct rows
            kmeans = KMeans(n_experts, init=init, n_init=1,
                            random_state=rng.randint(2**31 - 1))
            labels = kmeans.fit(Z, sample_weight=weight).labels_
        return np.eye(n_experts)[labels]

    def _reseed_starved(self, resp, weight, row_fit, present=None):
        """Hand an expert with under 1% of an even share of the weight the rows the
        mixture fits worst (among those with its view), up to half an even share."""
        n_experts = resp.shape[1]
        even = weight.sum() / n_experts
        taken = weight <= 0
        for e in range(n_experts):
            if resp[:, e] @ weight >= _STARVED * even:
                continue
            free = ~taken if present is None else ~taken & present[e]
            candidates = np.flatnonzero(free)
            candidates = candidates[np.argsort(row_fit[candidates], kind="stable")]
            count = np.searchsorted(np.cumsum(weight[candidates]), even / 2) + 1
            rows = candidates[:count]
            resp = resp.copy()
            resp[rows] = 0.0
            resp[rows, e] = 1.0
            taken[rows] = True
        return resp

    def _m_step(self, X, y, target, weight, resp, templates, params, present=None):
        blocks = [self._expert_rows(resp[:, e] * weight, target,
                                    weight if present is None else weight * present[e])
                  for e in range(len(templates))]
        # Each expert is fitted on its rows, the responsibilities as its sample weight,
        # and returns its output on them; X goes whole into every task, so that a
        # cluster gets it once (joblib's Dask backend scatters it).
        plan = MemberJobs(type(self).__name__, X.shape[0], n_jobs=self.n_jobs)
        names = self._expert_names_
        for e, (template, (rows, row_weight)) in enumerate(zip(templates, blocks)):
            expert_weight = np.zeros(len(weight))
            expert_weight[rows] = row_weight
            plan.add(names[e], template, label=f"expert {names[e]!r}", view=self._views_[e], rows=rows,
                     params={**(params[e] or {}), "sample_weight": expert_weight},
                     fit_output=True)
        fits = plan.run(X, y, output=self._fit_output)
        fitted = [(fits[name].estimator, fits[name].fit_output) for name in names]
        experts = [est for est, _ in fitted]
        if self._kind == "classifier":
            return experts, None
        noise = np.empty(len(templates))
        mean = weight @ target / weight.sum()
        spread = weight @ (target - mean) ** 2 / weight.sum()
        floor = _VARIANCE_FLOOR * max(spread, np.finfo(float).tiny)
        for e, ((_, prediction), (rows, row_weight)) in enumerate(zip(fitted, blocks)):
            residual = target[rows] - prediction
            noise[e] = max(row_weight @ residual**2 / row_weight.sum(), floor)
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
        log_gate = _masked(gate_log_proba(gate, X_gate, n_experts), present)
        log_lik = np.full((n, n_experts), -np.inf)
        for e, expert in enumerate(experts):
            rows = slice(None) if present is None else np.flatnonzero(present[e])
            log_lik[rows, e] = self._log_likelihood(
                expert, take_rows(take_view(X, self._views_[e]), rows), target[rows],
                None if noise is None else noise[e])
        joint = log_gate + log_lik
        row_fit = logsumexp(joint, axis=1)
        resp = np.exp(joint - row_fit[:, None])
        if keep < n_experts:
            routed, share = routing.top_k(resp, keep)
            resp = np.zeros((n, n_experts))
            np.put_along_axis(resp, routed, share, axis=1)
        return resp, row_fit

    @staticmethod
    def _usage(X_gate, weight, gate, n_experts, k, present=None):
        """Each expert's share of the gate's routed weight, top ``k`` as at predict."""
        log_gate = _masked(gate_log_proba(gate, X_gate, n_experts), present)
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
        present = self._presence(X, self._expert_names_, self.experts_)
        return _masked(gate_log_proba(self.gate_, self._gate_input(X), len(self.experts_)),
                       present)

    def _combined(self, X, expert_output):
        """Run each expert on its rows only and combine with the gate's weights."""
        X, routed, weight, order, offsets = self._route(X)
        blocks = [(e, order[offsets[e]:offsets[e + 1]]) for e in range(len(self.experts_))]
        blocks = [(e, rows) for e, rows in blocks if rows.size]
        calls = [(expert_output,
                  (self.experts_[e], take_rows(take_view(X, self._views_[e]), rows), e))
                 for e, rows in blocks]
        outputs = run_in_threads(calls, self.n_jobs, X.shape[0])
        stacked = np.concatenate(outputs) if outputs else np.empty((0, 1))
        return routing.combine(stacked, order, offsets, routed, weight)

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
        X = take_view(X, self._gate_view_)
        try:
            values = _numeric(X)
        except (TypeError, ValueError) as exc:
            raise type(exc)(
                f"{type(self).__name__}: the gate needs numeric columns ({exc}); give it "
                "numeric ones with gate_view=..."
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

    def _presence(self, X, names, experts):
        """Which experts have their view on each row: (E, n) bool, or None if all do."""
        present = presence(X, self._views_, experts, [f"expert {name!r}" for name in names],
                           type(self).__name__)
        if present is None:
            return None
        none = int((~present.any(axis=0)).sum())
        if none:
            raise ValueError(
                f"{type(self).__name__}: {none} row(s) of X have no expert present (every "
                "expert's view is missing there)."
            )
        for name, row in zip(names, present):
            if not row.any():
                raise ValueError(
                    f"{type(self).__name__}: expert {name!r} has no row where its view is "
                    "present."
                )
        return present


def _masked(log_gate, present):
    """Log-probabilities renormalised over the experts ``present`` on each row
    (``present`` has shape (n_experts, n_samples))."""
    if present is None:
        return log_gate
    log_gate = np.where(present.T, log_gate, -np.inf)
    return log_gate - logsumexp(log_gate, axis=1, keepdims=True)


def _numeric(X):
    """The gate's input: float numbers (a DataFrame is converted)."""
    if _is_dataframe(X):
        return X.to_numpy(dtype=np.float64)
    if hasattr(X, "toarray"):
        return X.astype(np.float64)
    return np.asarray(X, dtype=np.float64)


def _axis_seeds(Z, weight, n_clusters):
    """Deterministic k-means seeds: the rows at the weighted quantiles
    (c + 1/2) / n_clusters of the data's projection on its principal axis.

    A row of weight 2 and two copies of it give the same seeds.
    """
    mean = weight @ Z / weight.sum()
    centred = Z - mean
    covariance = (centred * weight[:, None]).T @ centred / weight.sum()
    axis = np.linalg.eigh(covariance)[1][:, -1]
    order = np.argsort(centred @ axis, kind="stable")
    cumulative = np.cumsum(weight[order])
    quantiles = (np.arange(n_clusters) + 0.5) * cumulative[-1] / n_clusters
    picks = np.minimum(np.searchsorted(cumulative, quantiles), len(order) - 1)
    return Z[order[picks]]


def _mean_filled(X, weight):
    """``X`` with each NaN (a gate that takes NaN sees them) replaced by its column's
    weighted mean, for the k-means start."""
    if not nan_rows(X).any():
        return X
    X = X.toarray() if hasattr(X, "toarray") else X
    seen = ~np.isnan(X)
    total = np.where(seen, X, 0.0).T @ weight
    count = seen.T.astype(float) @ weight
    return np.where(seen, X, np.divide(total, count, out=np.zeros_like(total),
                                       where=count > 0))


def _standardise(X, weight):
    if hasattr(X, "toarray"):
        return X
    mean = weight @ X / weight.sum()
    scale = np.sqrt(weight @ (X - mean) ** 2 / weight.sum())
    return (X - mean) / np.where(scale > 0, scale, 1.0)


# Docstring entries both mixtures share, filled in by Substitution.
_MIXTURE_DOCS = {
    "n_experts": """n_experts : int, default=4
        The number of experts when ``experts`` is None or one estimator.""",
    "gate": """gate : classifier or None, default=None
        None for the built-in softmax gate (multinomial logistic regression on the
        responsibilities, L2 penalty ``gate_alpha``), or a classifier with
        ``predict_proba`` whose ``fit`` takes ``sample_weight``; it is fitted on one
        copy of X per expert, weighted by the responsibilities.""",
    "top_k": """top_k : int or None, default=None
        Experts per row. None uses every expert. With ``k`` set, EM first runs dense
        (up to ``max_iter // 2`` iterations, to a good optimum), then sparse: each
        row's responsibilities are truncated to its k most probable experts, so an
        expert is fitted only on the rows given to it. At predict time each row runs
        only its gate's top k experts.""",
    "max_iter": """max_iter : int, default=100
        EM iterations per start (dense and sparse phases together).""",
    "tol": """tol : float, default=1e-4
        EM stops when the mean log-likelihood per unit of sample weight changes by
        less than this.""",
    "n_init": """n_init : int, default=1
        EM starts; the one with the highest final log-likelihood is kept.""",
    "gate_alpha": """gate_alpha : float, default=1.0
        L2 penalty of the built-in gate.""",
    "views": """views : dict or None, default=None
        Expert name to the columns it sees (names, positions, slice, mask or callable).""",
    "gate_view": """gate_view : columns or None, default=None
        The columns the gate (and the k-means start) sees, given as for ``views``;
        None: every column.""",
    "n_jobs": """n_jobs : int or None, default=None
        Experts fitted in parallel (joblib); prediction runs experts in threads for
        10,000 rows or more.""",
    "verbose": """verbose : int, default=0
        Above 0, print each EM iteration's lower bound and the time so far.""",
    "random_state": """random_state : int, RandomState or None, default=None
        Seeds k-means, random starts, and the experts and gate whose own
        ``random_state`` is None.""",
    "experts_": """experts_ : list of estimators
        The fitted experts.""",
    "named_experts_": """named_experts_ : Bunch
        The fitted experts by name (``expert0``, ... for a cloned template).""",
    "gate_": """gate_ : estimator
        The fitted gate: the built-in softmax gate (multinomial logistic regression on
        soft targets, with ``predict_proba``) unless ``gate`` is given.""",
    "n_iter_": """n_iter_ : int
        EM iterations of the kept start.""",
    "converged_": """converged_ : bool
        Whether the kept start's last phase converged within ``max_iter``.""",
    "lower_bound_": """lower_bound_ : float
        The mean log-likelihood (per unit of sample weight) of the mixture with every
        expert on the training rows, at the last E-step.""",
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
    {n_iter_}
    {converged_}
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

        Returns
        -------
        self : MixtureOfExpertsRegressor
        """
        X = self._check_X(X, reset=True)
        y = self._check_y(X, y)
        target = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(target)):
            raise ValueError("MixtureOfExpertsRegressor: y holds NaN or infinite values.")
        return self._fit(X, target, target, sample_weight, fit_params)

    @staticmethod
    def _fit_output(expert, X):
        return member_prediction(expert, X)

    def _log_likelihood(self, expert, X, target, variance):
        residual = target - member_prediction(expert, X)
        return -0.5 * (np.log(2 * np.pi * variance) + residual**2 / variance)

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
        if not return_std:
            return self._combined(X, lambda expert, X_e, e: member_prediction(expert, X_e))

        def moments(expert, X_e, e):
            mean = member_prediction(expert, X_e)
            return np.column_stack([mean, self.noise_variance_[e] + mean**2])

        first, second = self._combined(X, moments).T
        return first, np.sqrt(np.maximum(second - first**2, 0.0))


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
        None: ``n_experts`` logistic regressions (``max_iter=1000``). One classifier: ``n_experts``
        clones. A list: one expert per entry (heterogeneous experts). Each must have
        ``predict_proba`` and take ``sample_weight`` in ``fit``.
    {n_experts}
    {gate}
    {top_k}
    {max_iter}
    {tol}
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
    {n_iter_}
    {converged_}
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

    def _expert_rows(self, expert_weight, codes, weight):
        """The expert's rows, plus the rows of each class it lacks, lightly weighted."""
        present = expert_weight > 0
        missing = np.setdiff1d(np.arange(len(self.classes_)), codes[present])
        light = np.isin(codes, missing) & (weight > 0)
        rows = np.flatnonzero(present | light)
        return rows, np.where(present, expert_weight, _LIGHT * weight)[rows]

    def _log_likelihood(self, expert, X, codes, variance):
        proba = member_proba(expert, X, self.classes_)[np.arange(len(codes)), codes]
        return np.log(np.maximum(proba, _MIN_PROBA))

    def predict_proba(self, X):
        """Gate-weighted class probabilities of each row's routed experts.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        proba = self._combined(X, lambda expert, X_e, e: member_proba(expert, X_e,
                                                                       self.classes_))
        return np.clip(proba, 0.0, 1.0, out=proba)  # a weighted sum may overshoot by an ulp

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
