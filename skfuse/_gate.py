"""Gates: who answers which row in a mixture of experts."""

import numpy as np
import scipy.sparse as sp
from scipy.special import log_softmax
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._base import _class_positions
from ._tasks import weight_params
from ._views import take_rows
from ._weights import minimize_letting_go


class SoftmaxGate(BaseEstimator):
    """Multinomial logistic regression fitted to soft targets.

    Minimises the sample-weighted cross-entropy between ``targets`` (one row of
    non-negative expert shares per sample) and the softmax of a linear function of
    standardised features, plus ``alpha / 2`` times the squared coefficients (not the
    intercepts). Refits start from the previous solution, which makes EM cheap.

    Parameters
    ----------
    alpha : float, default=1.0
        L2 penalty on the coefficients.
    max_iter : int, default=200
        L-BFGS iterations per fit.
    tol : float, default=1e-6
        L-BFGS stops when no gradient entry of the loss per unit of sample weight
        exceeds ``tol``, or when an iteration lowers it by less than ``tol**2``
        (relative).
    warm_start : bool, default=False
        Start each fit from the previous fit's solution.
    """

    def __init__(self, alpha=1.0, max_iter=200, tol=1e-6, warm_start=False):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start

    def fit(self, X, targets, sample_weight=None):
        """Fit to ``targets`` of shape (n_samples, n_experts); returns self."""
        n, n_experts = targets.shape
        weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
        total = weight.sum()
        if not sp.issparse(X):
            X = np.asarray(X, dtype=np.float64)
        self.mean_, self.scale_ = column_mean_scale(X, weight)
        Z = self._standardise(X)
        # Sparse Z is scaled only (centring would densify it); the loss centres it on
        # the fly, so sparse and dense X solve one problem, equally well conditioned.
        shift = self.mean_ / self.scale_ if sp.issparse(Z) else np.zeros(Z.shape[1])
        d = Z.shape[1]
        start = np.zeros((d + 1) * n_experts)
        previous = getattr(self, "_solution", None)
        if self.warm_start and previous is not None and previous.size == start.size:
            start = previous
        weighted_targets = targets * weight[:, None]
        row_mass = weighted_targets.sum(axis=1)

        def loss(theta):  # per unit of sample weight, so the tolerances mean the same at any n
            W = theta[: d * n_experts].reshape(d, n_experts)
            b = theta[d * n_experts:]
            log_p = log_softmax(np.asarray(Z @ W) + (b - shift @ W), axis=1)
            value = -np.sum(weighted_targets * log_p) + 0.5 * self.alpha * np.sum(W * W)
            residual = np.exp(log_p) * row_mass[:, None] - weighted_targets
            grad_W = (np.asarray(Z.T @ residual) - np.outer(shift, residual.sum(axis=0))
                      + self.alpha * W)
            return value / total, np.r_[grad_W.ravel(), residual.sum(axis=0)] / total

        result = minimize_letting_go(loss, start, jac=True, method="L-BFGS-B",
                                     options={"maxiter": self.max_iter, "gtol": self.tol,
                                              "ftol": self.tol**2})
        self._solution = result.x
        self.coef_ = result.x[: d * n_experts].reshape(d, n_experts)
        self.intercept_ = result.x[d * n_experts:]
        self.n_experts_ = n_experts
        self.n_iter_ = result.nit
        return self

    def _standardise(self, X):
        """``X`` centred and scaled as at fit; sparse ``X`` is only scaled (centring
        would densify it): :meth:`predict_log_proba` moves the centring into the
        intercept."""
        if sp.issparse(X):
            return divided_columns(X, self.scale_)
        scaled = np.asarray(X, dtype=np.float64) - self.mean_
        scaled /= self.scale_  # in place: one temporary the size of X, not two
        return scaled

    def predict_log_proba(self, X):
        """Log expert shares, shape (n_samples, n_experts)."""
        check_is_fitted(self, "coef_")
        intercept = self.intercept_
        if sp.issparse(X):  # X is scaled only: the intercept takes the centring
            intercept = intercept - (self.mean_ / self.scale_) @ self.coef_
        return log_softmax(np.asarray(self._standardise(X) @ self.coef_) + intercept, axis=1)

    def predict_proba(self, X):
        """Expert shares, shape (n_samples, n_experts)."""
        return np.exp(self.predict_log_proba(X))


def fit_classifier_gate(gate, X, targets, sample_weight):
    """Fit any classifier to soft ``targets`` by weighting one copy of X per expert.

    Row ``i`` appears once per expert ``e`` with a positive share, labelled ``e`` and
    weighted ``targets[i, e] * sample_weight[i]``.
    """
    rows, experts = np.nonzero(targets * sample_weight[:, None] > 0)
    weight = targets[rows, experts] * sample_weight[rows]
    try:
        gate.fit(take_rows(X, rows), experts, **weight_params(gate, weight))
    except ValueError as exc:
        if "using strings is only supported for dataframes" not in str(exc):
            raise
        raise ValueError(
            f"The gate ({type(gate).__name__}) picks columns by name, but it is given its "
            "columns (gate_view) as a float array, without names: choose them with "
            f"gate_view=[...] and let the gate take every column it gets ({exc})") from exc
    return gate


def gate_log_proba(gate, X, n_experts):
    """A fitted gate's log expert shares, with experts it never saw at -inf (with one
    expert, 0 on every row, whatever ``X`` holds)."""
    if n_experts == 1:
        return np.zeros((X.shape[0], 1))
    if isinstance(gate, SoftmaxGate):
        return gate.predict_log_proba(X)
    proba = gate.predict_proba(X)
    aligned = np.zeros((proba.shape[0], n_experts))
    columns = _class_positions(f"The gate ({type(gate).__name__})", np.asarray(gate.classes_),
                               np.arange(n_experts), known="the experts' positions")
    aligned[:, columns] = proba
    with np.errstate(divide="ignore"):
        return np.log(aligned)


def _constant(variance, mean, n):
    """Columns whose variance is within the rounding of their mean (as StandardScaler
    judges): relative, so features in small units are scaled too."""
    return variance <= (n * np.finfo(np.float64).eps * mean) ** 2


def column_mean_scale(X, weight):
    """Weighted column means and standard deviations of float64 ``X``, dense or sparse
    (:func:`_sparse_mean_variance`); a constant column's scale is the larger of 1 and
    its magnitude (:func:`_constant`).

    A column whose largest magnitude is beyond 1e100 or below 1e-100 is divided by it
    first, so that its squares neither overflow nor vanish (values near 1e160 would
    give an infinite scale, near 1e-160 a scale of 0: a column read as constant).
    """
    sparse = sp.issparse(X)
    peak = (abs(X).max(axis=0).toarray().ravel() if sparse
            else np.max(np.abs(X), axis=0, initial=0.0))
    unit = extreme_unit(peak)
    extreme = unit != 1.0
    total = weight.sum()
    if sparse:
        Z = divided_columns(X, unit) if extreme.any() else X
        mean, variance = _sparse_mean_variance(Z, weight, total)
    else:
        Z = X / unit if extreme.any() else X
        mean = weight @ Z / total
        variance = weight @ (Z - mean) ** 2 / total
    # A constant column's mean is its value up to rounding, which the scale of 1 would
    # leave standing far from 0 in a column of large values: its magnitude takes it.
    scale = np.where(_constant(variance, mean, X.shape[0]), np.maximum(np.abs(mean), 1.0),
                     np.sqrt(variance))
    return mean * unit, scale * unit


def extreme_unit(peak):
    """What to divide each column by before squaring it, given its largest magnitude
    ``peak``: that magnitude where it is beyond 1e100 or below 1e-100 (and not 0), so
    that the squares neither overflow nor vanish; 1 elsewhere."""
    extreme = np.isfinite(peak) & ((peak > 1e100) | ((peak > 0) & (peak < 1e-100)))
    return np.where(extreme, peak, 1.0)


def divided_columns(X, by):
    """Sparse ``X`` as canonical CSR, each column divided by ``by``: divided, as dense
    columns are, since multiplying by ``1 / by`` overflows where ``by`` is subnormal."""
    Z = sp.csr_matrix(X, dtype=np.float64, copy=True)
    Z.sum_duplicates()
    Z.data /= by[Z.indices]
    return Z


def _sparse_mean_variance(X, weight, total):
    """Weighted column means and variances of sparse ``X`` without densifying it: the
    deviations of the stored entries, plus the mean's own for the rest (zeros)."""
    X = X.tocsc(copy=True)  # summing duplicates leaves the caller's X as it is
    X.sum_duplicates()
    columns = np.repeat(np.arange(X.shape[1]), np.diff(X.indptr))
    stored_weight = weight[X.indices]
    mean = np.bincount(columns, stored_weight * X.data, minlength=X.shape[1]) / total
    squares = np.bincount(columns, stored_weight * (X.data - mean[columns]) ** 2,
                          minlength=X.shape[1])
    # The zeros' weight; exactly 0 in a column that stores every row (a rounding
    # remainder would make a constant column vary).
    zeros_weight = np.where(np.diff(X.indptr) == X.shape[0], 0.0, np.maximum(
        total - np.bincount(columns, stored_weight, minlength=X.shape[1]), 0.0))
    return mean, (squares + zeros_weight * mean**2) / total
