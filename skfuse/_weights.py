"""Fusion weights learned from out-of-fold member predictions.

Everything here works on stacked member outputs ``P``: shape (n_members, n_samples,
n_classes) of aligned probabilities (or one-hot votes; the default loss of hard voting
reads the votes as class codes, shape (n_members, n_samples)) for classifiers, shape
(n_members, n_samples) for regressors, (n_members, n_samples, n_outputs) for several
outputs. An *objective* maps a weight vector on the simplex
to a loss (lower is better); :func:`optimize_weights` minimises it, :func:`greedy_weights`
runs ensemble selection with replacement (Caruana et al., 2004).
"""

import decimal
import numbers

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

# Probabilities are clipped to [_EPS, 1] before a logarithm (as sklearn.metrics.log_loss
# does), so 0 and 1 never give NaN.
_EPS = np.finfo(np.float64).eps
# A learned weight below this is the optimiser's rounding, not a share: it is set to 0,
# so the member is not asked to predict (its output would move the fused one by less
# than a billionth of its distance from the others; with views, on the rows where it is
# the only weighted member present, it would be the fused output).
NEGLIGIBLE_WEIGHT = 1e-9


def minimize_letting_go(fun, x0, jac=None, **options):
    """scipy's ``minimize``, which reaches ``fun`` (and a callable ``jac``) only through
    a list emptied when it returns: scipy older than 1.14 leaves what ``minimize`` is
    given in a reference cycle until the next garbage collection, and with it the data
    ``fun`` reads (members' out-of-fold outputs, a standardised copy of X)."""
    held = [fun, jac]
    try:
        return minimize(lambda x: held[0](x), x0,
                        jac=(lambda x: held[1](x)) if callable(jac) else jac, **options)
    finally:
        held.clear()


def row_shares(weights, present):
    """Each row's member weights renormalised over the members present, shape (M, n).

    ``present`` (M, n) says which members have their view on each row. Where every
    member present has weight 0, those members share the row equally; a row with no
    member present gets no weight at all (a column of zeros).
    """
    shares = weights[:, None] * present
    total = shares.sum(axis=0)
    unweighted = (total == 0) & present.any(axis=0)
    shares[:, unweighted] = present[:, unweighted]
    total = shares.sum(axis=0)
    return shares / np.where(total > 0, total, 1.0)


def combine_classifier(P, weights, voting, log=False, present=None):
    """Fuse aligned member probabilities (or one-hot votes) into class scores.

    ``soft`` and ``hard`` return the weighted mean; ``geometric`` returns the
    renormalised weighted geometric mean, computed in the log domain. Members with
    weight 0 are skipped, so they behave exactly as if dropped. With ``log=True`` the
    logarithm is returned (``-inf`` where a soft probability is 0). With ``present``
    (M, n), each row's weights are renormalised over the members present there
    (:func:`row_shares`); a row with none gets zeros (soft, hard) or a uniform
    distribution (geometric), for the caller to replace.
    """
    if present is not None:
        shares = row_shares(weights, present)
        if voting == "geometric":
            log_p = np.einsum("mn,mnc->nc", shares, np.log(np.clip(P, _EPS, 1.0)))
            log_p -= logsumexp(log_p, axis=1, keepdims=True)
            return log_p if log else np.exp(log_p)
        fused = np.clip(np.einsum("mn,mnc->nc", shares, P), 0.0, 1.0)
        if log:
            with np.errstate(divide="ignore"):
                return np.log(fused)
        return fused
    used = np.flatnonzero(weights)
    w = weights[used] / weights[used].sum()
    if voting == "geometric":
        log_p = np.tensordot(w, np.log(np.clip(P[used], _EPS, 1.0)), axes=1)
        log_p -= logsumexp(log_p, axis=1, keepdims=True)
        return log_p if log else np.exp(log_p)
    # Summing before dividing (np.average) keeps a unanimous 1 exactly 1; the clip
    # guards against any rounding above it.
    fused = np.clip(np.average(P[used], axis=0, weights=weights[used]), 0.0, 1.0)
    if log:
        with np.errstate(divide="ignore"):
            return np.log(fused)
    return fused


def combine_regressor(P, weights, present=None):
    """Weighted mean of member predictions, skipping members of weight 0.

    ``P`` has shape (M, n), or (M, n, n_outputs) for several outputs; ``weights`` has
    shape (M,), or (n_outputs, M) for one weight vector per output. With ``present``
    (M, n), each row's weights are renormalised over the members present there; a row
    with none gets 0.
    """
    if weights.ndim == 2:
        return np.stack([combine_regressor(P[..., k], w, present)
                         for k, w in enumerate(weights)], axis=-1)
    if present is not None:
        return np.einsum("mn,mn...->n...", row_shares(weights, present), P)
    used = np.flatnonzero(weights)
    return np.average(P[used], axis=0, weights=weights[used])


def _mean(values, sample_weight):
    return np.average(values, weights=sample_weight)


def _support(w):
    """The members of nonzero weight when they are fewer than half of them (greedy
    selection tries weights of a few members among many), else None. A loss summed
    over them alone costs O(n k) rather than O(n M) per evaluation: a member of weight
    0 adds nothing to it."""
    used = np.flatnonzero(w)
    return used if 2 * used.size < w.size else None


def _row_logsumexp(log_p):
    """``logsumexp(log_p, axis=1)`` for finite ``log_p`` (n, C), without scipy's
    overhead, which dominates a greedy trial's loss. The maxima's terms are kept out of
    the sum (``log1p``, as ``numpy.logaddexp`` and scipy 1.15's ``logsumexp`` do), so a
    confident row's loss (``1e-12``) keeps the digits ``log(1 + 1e-12)`` rounds away."""
    top = log_p.max(axis=1, keepdims=True)
    at_top = log_p == top
    ties = np.maximum(at_top.sum(axis=1), 1)  # 0 only on a NaN row, NaN either way
    rest = np.where(at_top, 0.0, np.exp(log_p - top)).sum(axis=1) / ties
    return np.log1p(rest) + np.log(ties) + top[:, 0]


def classifier_objective(P, y, voting, sample_weight=None, scorer=None, classes=None,
                         present=None):
    """Return ``(loss, grad)`` for fusing classifier outputs ``P`` on encoded ``y``.

    The default loss is the log-loss for ``soft`` and ``geometric`` voting, and the
    Brier score of the vote shares for ``hard`` voting (smooth and convex in the
    weights, unlike the error rate). With a ``scorer``, the loss is minus its score on
    the fused output, and ``grad`` is None. With ``present`` (M, n; every row has a
    member), the fused output renormalises weights over the members present on each
    row; ``grad`` is then None (the optimiser uses finite differences), except for
    ``soft`` and ``geometric`` voting (:func:`_soft_objective_with_presence`,
    :func:`_geometric_objective_with_presence`). For ``hard`` voting
    without a scorer or ``present``, ``P`` holds the votes: class codes, shape (M, n).
    """
    n = P.shape[1]
    rows = np.arange(n)
    if scorer is not None:
        holder = _FusedClassifierOutput(classes)

        def loss(w):
            holder.proba_ = combine_classifier(P, w, voting, present=present)
            return -_score(scorer, holder, classes[y], sample_weight)

        return loss, None

    if present is not None and voting == "soft":
        return _soft_objective_with_presence(P[:, rows, y], present, sample_weight)
    if present is not None and voting == "geometric":
        return _geometric_objective_with_presence(P, y, present, sample_weight)

    if present is not None:
        onehot = np.eye(P.shape[2])[y]

        def loss(w):
            fused = combine_classifier(P, w, voting, present=present)
            if voting == "hard":
                return _mean(((fused - onehot) ** 2).sum(axis=1), sample_weight)
            return _mean(-np.log(np.clip(fused[rows, y], _EPS, None)), sample_weight)

        return loss, None

    if voting == "soft":
        Q = P[:, rows, y].T  # (n, M): each member's probability of the true class

        def loss(w):
            used = _support(w)
            fused = Q @ w if used is None else Q[:, used] @ w[used]
            return _mean(-np.log(np.clip(fused, _EPS, None)), sample_weight)

        def grad(w):
            p = np.clip(Q @ w, _EPS, None)
            return -np.average(Q / p[:, None], axis=0, weights=sample_weight)

    elif voting == "geometric":
        L = np.log(np.clip(P, _EPS, 1.0))  # (M, n, C)
        L_true = L[:, rows, y].T  # (n, M)

        def loss(w):
            used = _support(w)
            log_p = (np.tensordot(w, L, axes=1) if used is None
                     else np.tensordot(w[used], L[used], axes=1))
            return _mean(_row_logsumexp(log_p) - log_p[rows, y], sample_weight)

        def grad(w):
            log_p = np.tensordot(w, L, axes=1)
            p = np.exp(log_p - logsumexp(log_p, axis=1, keepdims=True))
            expected = np.einsum("nc,mnc->nm", p, L)
            return np.average(expected - L_true, axis=0, weights=sample_weight)

    elif voting == "hard":
        return _hard_objective(P, y, sample_weight)

    else:  # pragma: no cover - voting is validated by the estimator
        raise ValueError(voting)
    return loss, grad


def _hard_objective(votes, y, sample_weight):
    """The Brier score of the weighted vote shares as a quadratic form in the weights.

    A row's term, the sum over classes of ``(sum_m w_m ([v_m = c] - [y = c]))**2``
    (the vote shares' squared error where the weights sum to 1), is
    ``sum_{m, m'} w_m w_m' K_mm'`` with ``K_mm' = [v_m = v_m'] - [v_m = y] - [v_m' = y]
    + 1``; ``K`` averaged over the rows once, each call costs O(M^2) whatever the
    number of classes (one-hot votes cost O(M n C) per call).
    """
    row_weight = (np.ones(votes.shape[1]) if sample_weight is None
                  else np.asarray(sample_weight, dtype=np.float64))
    total = row_weight.sum()
    right = (votes == y) @ row_weight
    agree = np.stack([(votes == vote) @ row_weight for vote in votes])
    K = (agree - right[:, None] - right[None, :] + total) / total

    def loss(w):
        return float(w @ K @ w)

    def grad(w):
        return 2.0 * (K @ w)

    return loss, grad


def _ratio_terms(values, present):
    """For a weighted mean renormalised over the members present on each row:
    ``(numerator, denominator)`` terms ``present * values`` and ``present`` as floats
    (M, n), and each row's plain mean over its members present (where every member
    present has weight 0, :func:`row_shares` shares the row equally among them)."""
    on = present.astype(np.float64)
    terms = on * values
    count = on.sum(axis=0)
    equal = np.divide(terms.sum(axis=0), count, out=np.zeros(len(count)), where=count > 0)
    return terms, on, equal


def _renormalised(w, terms, on, equal):
    """Each row's weighted mean over its members present (``equal`` where they all
    weigh 0), and the denominator ``w @ on`` (1 there). Only the members of nonzero
    weight are read where they are few (:func:`_support`)."""
    used = _support(w)
    if used is not None:
        w, terms, on = w[used], terms[used], on[used]
    total = w @ on
    zero = total == 0
    total = np.where(zero, 1.0, total)
    return np.where(zero, equal, (w @ terms) / total), total, zero


def _soft_objective_with_presence(Q, present, sample_weight):
    """Log-loss of soft voting renormalised over the members present, and its
    gradient, from ``Q`` (M, n): each member's probability of the row's true class.

    The fused probability of the true class is ``a / b`` with ``a = sum_m w_m p_mn Q_mn``
    and ``b = sum_m w_m p_mn`` (``p`` the presence), so each evaluation costs O(M n)
    rather than the O(M n C) of fusing every class. Rows where every member present
    weighs 0 take the members' plain mean and add nothing to the gradient; so do rows
    whose fused probability is clipped.
    """
    terms, on, equal = _ratio_terms(Q, present)

    def loss(w):
        p = np.clip(_renormalised(w, terms, on, equal)[0], _EPS, 1.0)
        return _mean(-np.log(p), sample_weight)

    def grad(w):
        p, total, zero = _renormalised(w, terms, on, equal)
        live = ~zero & (p > _EPS) & (p <= 1.0)  # the clipped rows are flat
        # d(-log(a / b)) / dw_m = -(p_mn Q_mn / a_n - p_mn / b_n), with a_n = p_n * b_n
        a = np.where(live, p * total, 1.0)
        per_row = np.where(live, on / total - terms / a, 0.0)  # (M, n)
        return np.average(per_row, axis=1, weights=sample_weight)

    return loss, grad


def _geometric_objective_with_presence(P, y, present, sample_weight):
    """Log-loss of geometric voting renormalised over the members present, and its
    gradient; the members' log-probabilities ``L`` are taken once.

    With shares ``s_mn = w_m p_mn / b_n`` (``p`` the presence, ``b_n = sum_m w_m p_mn``)
    and ``z_n = sum_m s_mn L_mn``, a row's loss is ``logsumexp(z_n) - z_ny``, and its
    derivative in ``w_k`` is ``p_kn / b_n`` times ``E_q[L_kn - z_n] - (L_kny - z_ny)``,
    ``q`` the fused distribution. Rows where every member present weighs 0 take equal
    shares and add nothing to the gradient; so do rows whose loss is clipped (a fused
    probability of the true class below ``_EPS``, as :func:`classifier_objective`'s
    other losses clip it).
    """
    L = np.log(np.clip(P, _EPS, 1.0))  # (M, n, C)
    rows = np.arange(P.shape[1])
    on = present.astype(np.float64)
    ceiling = -np.log(_EPS)
    # A row that no member of nonzero weight has is shared equally among the members
    # present (none: zeros), whatever the weights: taken once.
    equal = np.einsum("mn,mnc->nc", row_shares(np.zeros(len(on)), present), L)

    def fused(w):
        used = _support(w)
        if used is None:
            z = np.einsum("mn,mnc->nc", row_shares(w, present), L)
        else:  # a greedy trial: the members it weighs, and the rows none of them has
            z = np.einsum("mn,mnc->nc", row_shares(w[used], present[used]), L[used])
            alone = ~present[used].any(axis=0)
            z[alone] = equal[alone]
        row_loss = _row_logsumexp(z) - z[rows, y]
        return z, row_loss

    def loss(w):
        return _mean(np.minimum(fused(w)[1], ceiling), sample_weight)

    def grad(w):
        z, row_loss = fused(w)
        total = w @ on
        live = (total > 0) & (row_loss < ceiling)
        q = np.exp(z - logsumexp(z, axis=1, keepdims=True))
        expected = np.einsum("nc,mnc->mn", q, L) - (q * z).sum(axis=1)  # E_q[L_k - z]
        true = L[:, rows, y] - z[rows, y]
        per_row = np.where(live, on / np.where(live, total, 1.0) * (expected - true), 0.0)
        return np.average(per_row, axis=1, weights=sample_weight)

    return loss, grad


def regressor_objective(P, y, sample_weight=None, scorer=None, present=None):
    """Return ``(loss, grad)`` for fusing regressor outputs ``P`` (mean squared error).

    With several outputs (``P`` of shape (M, n, n_outputs), ``y`` (n, n_outputs)), one
    weight vector serves every output, and the loss averages them (a scorer sees them
    all). With ``present`` (see :func:`classifier_objective`), each row's weights
    are renormalised over its members present (O(M n) per evaluation, with the
    gradient).
    """
    if P.ndim == 3 and scorer is None:
        # Each (row, output) pair as a row of its own, weighted as its row.
        n_outputs = P.shape[2]
        return regressor_objective(
            P.reshape(P.shape[0], -1), y.reshape(-1),
            None if sample_weight is None else np.repeat(sample_weight, n_outputs),
            None, None if present is None else np.repeat(present, n_outputs, axis=1))
    if scorer is not None:
        holder = _FusedRegressorOutput()

        def loss(w):
            holder.prediction_ = combine_regressor(P, w, present=present)
            return -_score(scorer, holder, y, sample_weight)

        return loss, None

    # On the simplex sum_m w_m P_mn - y_n = sum_m w_m (P_mn - y_n): the members'
    # residuals are taken once, before weighting, so a target far from 0 (y ~ 1e9)
    # loses no digits to cancellation in each evaluation, and the loss's Hessian lacks
    # the huge (y-offset)^2 component along the all-ones direction that misleads SLSQP.
    P = P - y

    if present is not None:
        terms, on, equal = _ratio_terms(P, present)

        def loss(w):
            return _mean(_renormalised(w, terms, on, equal)[0] ** 2, sample_weight)

        def grad(w):
            fused, total, zero = _renormalised(w, terms, on, equal)
            # d(fused_n) / dw_m = (p_mn P_mn - p_mn fused_n) / b_n
            slope = np.where(zero, 0.0, (terms - on * fused) / total)
            return np.average(2.0 * fused * slope, axis=1, weights=sample_weight)

        return loss, grad

    R = P.T  # (n, M)

    def loss(w):
        used = _support(w)
        fused = R @ w if used is None else R[:, used] @ w[used]
        return _mean(fused**2, sample_weight)

    def grad(w):
        return 2.0 * np.average(R * (R @ w)[:, None], axis=0, weights=sample_weight)

    return loss, grad


def optimize_weights(loss, grad, n_members, names=None):
    """Minimise ``loss`` over the simplex (non-negative weights summing to 1).

    SLSQP runs twice, from equal weights and from the best of the simple candidates
    (equal weights, each single member), and sees the loss in units of that candidate's,
    so that its tolerances are relative to the loss it has to beat whatever the units of
    ``y``. Each start alone can stop early: a vertex start with its bounds active, the
    equal start beside a member far off the others. The result is the best of both runs
    and the simple candidates, so never worse than any of those. Weights below
    ``NEGLIGIBLE_WEIGHT`` (SLSQP leaves ~1e-17 where a bound is active) become 0.
    ``names`` (optional) name the members in errors.
    """
    equal = np.full(n_members, 1.0 / n_members)
    if n_members == 1:
        return equal
    simple = [equal, *np.eye(n_members)]
    values = [loss(w) for w in simple]
    undefined = [("with equal weights" if j == 0 else f"with {_member(j - 1, names)} alone")
                 for j in np.flatnonzero(np.isnan(values))]
    _check_losses(values, ", ".join(undefined) or "with equal weights or a member alone")
    best = simple[int(np.argmin(values))]
    scale = largest_magnitude([min(values)])
    candidates = list(simple)
    for start in [equal] if best is equal else [equal, best]:
        result = minimize_letting_go(
            lambda w: loss(w) / scale,
            start,
            jac=None if grad is None else (lambda w: grad(w) / scale),
            method="SLSQP",
            bounds=[(0.0, 1.0)] * n_members,
            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
            options={"maxiter": 200, "ftol": 1e-10},
        )
        optimum = np.where(result.x < NEGLIGIBLE_WEIGHT, 0.0, result.x)
        if optimum.sum() > 0:
            candidates.insert(0, optimum / optimum.sum())
            values.insert(0, loss(candidates[0]))
    # An optimum whose loss is NaN (a scorer undefined there) is no candidate.
    return candidates[int(np.argmin(np.where(np.isnan(values), np.inf, values)))]


def _member(m, names):
    """Member ``m`` in a message: by its name where ``names`` are given."""
    return f"member {m}" if names is None else f"member {names[m]!r}"


def _check_losses(values, where):
    """Refuse out-of-fold losses that cannot rank weights: a NaN (the scorer), or
    every one +inf (squared errors beyond float64's range)."""
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError(f"The out-of-fold loss is NaN {where}; check the scorer.")
    if np.isposinf(values).all():
        raise ValueError(
            f"The out-of-fold loss is infinite {where}: squared errors of outputs "
            "beyond about 1e154 overflow (rescale y), or the scorer gives an infinite "
            "loss."
        )


def greedy_weights(loss, n_members, rounds, costs=None, budget=None, names=None):
    """Ensemble selection with replacement (Caruana et al., 2004).

    Each round adds the member whose addition gives the lowest loss (of those within
    a relative ``1e-12`` of it, the lowest index). With ``budget``, a member not yet
    chosen may only be added while the summed ``costs`` of the distinct members chosen
    stays within it. The weights are those of the best-scoring prefix of the path (the
    earliest of those within a relative ``1e-12`` of the best, as rounding tells
    duplicates apart), as ensemble selection prescribes, not of the last round.
    ``names`` (optional) name the members in errors.

    Returns
    -------
    weights : ndarray of shape (n_members,)
        Selection counts of the best prefix divided by their sum.
    path : list of int
        The member added in each round.
    losses : list of float
        The loss after each round.
    """
    counts = np.zeros(n_members)
    spent = 0.0
    path, losses = [], []
    for _ in range(rounds):
        members, values = [], []
        for m in range(n_members):
            if budget is not None and counts[m] == 0 and spent + costs[m] > budget:
                continue
            trial = counts.copy()
            trial[m] += 1
            members.append(m)
            values.append(loss(trial / trial.sum()))
            if np.isnan(values[-1]):
                _check_losses(values[-1:], f"with {_member(m, names)} added")
        if not values:
            break
        _check_losses(values, "with any member added")  # refuses a round all +inf
        chosen = int(np.argmax(near_lowest(values)))
        best, best_value = members[chosen], values[chosen]
        if counts[best] == 0 and costs is not None:
            spent += costs[best]
        counts[best] += 1
        path.append(best)
        losses.append(float(best_value))
    if not path:
        raise ValueError(
            f"No member fits within budget={budget}: the cheapest costs {min(costs):.4g}."
        )
    best = 1 + int(np.argmax(near_lowest(losses)))
    counts = np.bincount(path[:best], minlength=n_members).astype(np.float64)
    return counts / counts.sum(), path, losses


def near_lowest(values):
    """Which of ``values`` (none NaN: callers check) are the lowest up to a relative
    ``1e-12`` (rounding tells equal losses apart: copies of one member, an offset of
    y); with a lowest that is not finite, those equal to it."""
    values = np.asarray(values, dtype=np.float64)
    lowest = values.min()
    if not np.isfinite(lowest):
        return values == lowest
    return values <= lowest + 1e-12 * max(abs(lowest), np.finfo(float).tiny)


def row_losses(P, y, weights, kind, voting=None):
    """Each row's loss under ``weights``: shape (n,).

    The default objectives' per-row terms: log-loss (``soft``, ``geometric``), Brier
    score of the vote shares (``hard``; ``P`` the votes, class codes of shape (M, n)),
    squared error for regressors (averaged over the outputs when there are several).
    """
    if kind == "regressor":
        residual = combine_regressor(P - y, weights)  # no cancellation, as above
        return residual**2 if residual.ndim == 1 else (residual**2).mean(axis=1)
    if voting == "hard":  # sum_c share_c**2 - 2 share_y + 1, without a class axis
        w = weights / weights.sum()
        squares = sum(w[m] * (w @ (P == P[m])) for m in np.flatnonzero(w))
        return squares - 2.0 * (w @ (P == y)) + 1.0
    fused = combine_classifier(P, weights, voting)
    return -np.log(np.clip(fused[np.arange(len(y)), y], _EPS, None))


def guard_gain(fused, best, sample_weight=None):
    """The fusion's mean gain over the best member, and its standard error.

    ``fused`` and ``best`` are per-row out-of-fold losses (:func:`row_losses`); the gain
    is their mean paired difference (``best - fused``), weighted by ``sample_weight``,
    and its standard error that of a mean over ``sum(sample_weight)`` rows (weights
    count rows, so a weight of 2 is the row repeated).
    """
    gain = best - fused
    scale = largest_magnitude(gain)
    gain = gain / scale
    w = np.ones_like(gain) if sample_weight is None else np.asarray(sample_weight, float)
    total = w.sum()
    mean = float(w @ gain / total)
    return scale * mean, scale * float(np.sqrt(w @ (gain - mean) ** 2) / total)


def largest_magnitude(values):
    """The largest ``abs`` of ``values`` (1 if they are all 0), to divide them by before
    squaring: squared errors of a target ~ 1e80 are ~ 1e160, whose squares overflow."""
    scale = float(np.max(np.abs(values), initial=0.0))
    return scale if 0.0 < scale < np.inf else 1.0


def fit_temperature(P, y, sample_weight=None):
    """The temperature ``T`` minimising the log-loss of ``P ** (1 / T)`` (rows
    renormalised) on encoded ``y``, weighted by ``sample_weight``; ``P`` of shape
    (n, n_classes).

    Searched on ``log T`` in [-4, 4] (Brent's bounded method).
    """
    log_p = np.log(np.clip(P, _EPS, 1.0))
    top = log_p.max(axis=1, keepdims=True)
    shifted = log_p - top  # <= 0, so no exp below overflows at any temperature
    observed = shifted[np.arange(len(y)), y]

    def loss(log_t):  # the log-loss of the tempered rows, the shift cancelling out
        scale = np.exp(-log_t)
        return np.average(np.log(np.exp(shifted * scale).sum(axis=1)) - observed * scale,
                          weights=sample_weight)

    result = minimize_scalar(loss, bounds=(-4.0, 4.0), method="bounded",
                             options={"xatol": 1e-6})
    return float(np.exp(result.x)) if result.fun < loss(0.0) else 1.0


def tempered(P, temperature):
    """Probabilities ``P`` (..., n_classes) raised to ``1 / temperature`` and
    renormalised; rows of zeros (a missing view) stay zeros."""
    if temperature == 1.0:
        return P
    z = np.log(np.clip(P, _EPS, 1.0)) / temperature
    out = np.exp(z - logsumexp(z, axis=-1, keepdims=True))
    return np.where(P.sum(axis=-1, keepdims=True) > 0, out, 0.0)


def _score(scorer, holder, y, sample_weight):
    try:
        if sample_weight is None:
            value = scorer(holder, None, y)
        else:
            value = scorer(holder, None, y, sample_weight=sample_weight)
    except (AttributeError, TypeError) as exc:
        methods = ("predict and predict_proba" if hasattr(holder, "predict_proba")
                   else "predict")
        called = ("scorer(fused, None, y)" if sample_weight is None else
                  "scorer(fused, None, y, sample_weight=...), as the weights of fit "
                  "reach it")
        raise ValueError(
            f"scoring could not score the fused out-of-fold outputs ({exc}): it is "
            f"called as {called}, where fused has {methods} only and X is None (the "
            "outputs are scored without X).") from exc
    if np.ndim(value) == 0 and hasattr(value, "item"):  # a NumPy scalar or 0-d array
        value = value.item()
    if not isinstance(value, (numbers.Real, decimal.Decimal)):  # nor text, None, complex
        # As cross_validate asks; one score per output is a common slip.
        raise ValueError(
            f"scoring must return one number; got {value!r}. Give a scorer that does "
            "(over several outputs, one that averages them: multioutput="
            "'uniform_average').")
    return float(value)  # a Fraction or a Decimal too: the optimiser takes floats


class _FusedClassifierOutput(ClassifierMixin, BaseEstimator):
    """Stands in for a fitted classifier so that a scorer can read fused probabilities."""

    def __init__(self, classes=None):
        self.classes = classes

    @property
    def classes_(self):
        return self.classes

    def predict_proba(self, X):
        return self.proba_

    def predict(self, X):
        return self.classes[np.argmax(self.proba_, axis=1)]


class _FusedRegressorOutput(RegressorMixin, BaseEstimator):
    """Stands in for a fitted regressor so that a scorer can read fused predictions."""

    def predict(self, X):
        return self.prediction_
