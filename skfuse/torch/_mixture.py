"""Neural mixtures of experts: a gate and MLP experts trained end to end in torch."""

import copy
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._base import check_sample_weight
from .._compat import Interval, _fit_context
from .._docstring import Substitution
from ._network import MixtureNet

# Rows per forward pass at predict time.
_PREDICT_ROWS = 65_536


def resolve_device(device, fitting=True):
    """The torch device for ``device``: "auto" picks CUDA when there is one.

    Asking for CUDA without one is an error when fitting; when predicting with a model
    fitted on a GPU, it falls back to the CPU with a warning.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {device!r}.") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        if fitting:
            raise ValueError(f"device={device!r} but CUDA is not available; use 'cpu' or 'auto'.")
        warnings.warn(
            f"This model asks for device={device!r} but CUDA is not available; predicting "
            "on the CPU. set_params(device='cpu') silences this.",
            UserWarning,
        )
        return torch.device("cpu")
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {device!r}.")
    return resolved


class _BaseNeuralMixture(BaseEstimator):
    """Parameters, training loop, device handling and pickling shared by both mixtures."""

    _classify = False

    _parameter_constraints: dict = {
        "n_experts": [Interval(Integral, 1, None, closed="left")],
        "top_k": [None, Interval(Integral, 1, None, closed="left")],
        "hidden_units": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "balance_weight": [Interval(Real, 0, None, closed="left")],
        "gate_noise": ["boolean"],
        "device": [str, torch.device],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_experts=8,
        *,
        top_k=2,
        hidden_units=64,
        max_epochs=50,
        lr=1e-3,
        batch_size=128,
        weight_decay=0.0,
        balance_weight=1e-2,
        gate_noise=True,
        device="auto",
        verbose=0,
        random_state=None,
    ):
        self.n_experts = n_experts
        self.top_k = top_k
        self.hidden_units = hidden_units
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.balance_weight = balance_weight
        self.gate_noise = gate_noise
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _check_params(self):
        """Check what ``_parameter_constraints`` cannot say; return the hidden sizes.

        ``top_k`` is at most ``n_experts``, and a sequence of ``hidden_units`` holds
        positive ints (the device's name is checked by :func:`resolve_device`).
        """
        if self.top_k is not None and self.top_k > self.n_experts:
            raise ValueError(f"top_k={self.top_k} is more than n_experts={self.n_experts}.")
        if isinstance(self.hidden_units, Integral):
            return (self.hidden_units,)
        hidden = tuple(self.hidden_units)
        if not all(isinstance(units, Integral) and not isinstance(units, bool) and units >= 1
                   for units in hidden):
            raise ValueError(
                f"hidden_units must be a positive int or a sequence of them, got "
                f"{self.hidden_units!r}."
            )
        return hidden

    def _fit(self, X, target, sample_weight, n_outputs):
        """Train the network; ``target`` is float outputs or int class codes."""
        hidden = self._check_params()
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        generator = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        weight = check_sample_weight(sample_weight, len(X))
        weight = np.ones(len(X), np.float32) if weight is None else weight.astype(np.float32)
        weight *= len(weight) / weight.sum()  # mean 1: weights shift balance, not step size
        self.x_mean_ = np.average(X, axis=0, weights=weight).astype(np.float32)
        scale = np.sqrt(np.average((X - self.x_mean_) ** 2, axis=0, weights=weight))
        self.x_scale_ = np.where(scale > 0, scale, 1.0).astype(np.float32)

        net = MixtureNet(X.shape[1], n_outputs, self.n_experts, hidden, self.top_k,
                         self._classify, generator).to(device)
        data = torch.from_numpy(self._scaled(X)).to(device)
        target = torch.from_numpy(target).to(device)
        weight = torch.from_numpy(weight).to(device)
        device_generator = torch.Generator(device=device).manual_seed(
            int(rng.randint(np.iinfo(np.int32).max))
        )
        noise = device_generator if self.gate_noise else None
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr,
                                     weight_decay=self.weight_decay)
        n = len(data)
        self.loss_curve_ = []
        net.train()
        for epoch in range(self.max_epochs):
            start = time.perf_counter()
            total = torch.zeros((), device=device)
            order = torch.randperm(n, generator=device_generator, device=device)
            for first in range(0, n, self.batch_size):
                rows = order[first : first + self.batch_size]
                out, balance = net(data[rows], noise)
                loss = (self._row_loss(out, target[rows]) * weight[rows]).mean()
                optimizer.zero_grad(set_to_none=True)
                (loss + self.balance_weight * balance).backward()
                optimizer.step()
                total += loss.detach() * len(rows)
            self.loss_curve_.append(float(total) / n)  # one host transfer per epoch
            if self.verbose:
                print(f"[{type(self).__name__}] epoch {epoch + 1} of {self.max_epochs}: "
                      f"loss {self.loss_curve_[-1]:.5f}, {time.perf_counter() - start:.2f} s "
                      "elapsed", flush=True)
        net.eval()
        self.module_ = net
        self.device_ = device
        self.n_iter_ = self.max_epochs
        return self

    def _scaled(self, X):
        return np.ascontiguousarray((X - self.x_mean_) / self.x_scale_, dtype=np.float32)

    def _module_device(self):
        """Move the fitted network to the device asked for now, and return that device."""
        check_is_fitted(self, "module_")
        device = resolve_device(self.device, fitting=False)
        if device != self.device_:
            self.module_.to(device)
            self.device_ = device
        return device

    def _forward(self, X):
        """The network's output on ``X`` (already validated), as a NumPy array."""
        device = self._module_device()
        data = torch.from_numpy(self._scaled(X))
        with torch.inference_mode():
            parts = [self.module_(data[i : i + _PREDICT_ROWS].to(device))[0].cpu()
                     for i in range(0, len(data), _PREDICT_ROWS)]
        return torch.cat(parts).numpy()

    def predict_gate(self, X):
        """Each row's routing weights: the gate's top-k probabilities renormalised, 0 elsewhere.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        weights : ndarray of shape (n_samples, n_experts)
        """
        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        data = torch.from_numpy(self._scaled(X)).to(self._module_device())
        with torch.inference_mode():
            experts, weight, _ = self.module_.routing(data)
            out = torch.zeros(len(data), self.n_experts, device=data.device)
            out.scatter_(1, experts, weight)
        return out.cpu().numpy()

    def __getstate__(self):
        # Parameters are pickled as CPU tensors, so a model fitted on a GPU loads anywhere.
        state = self.__dict__.copy()
        if "module_" in state:
            state["module_"] = copy.deepcopy(self.module_).to("cpu")
            state["device_"] = torch.device("cpu")
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = resolve_device_name(self.device) == "cuda"
        return tags


def resolve_device_name(device):
    """"cuda" or "cpu": where ``device`` would run now (no error, no warning)."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if str(device).startswith("cuda") else "cpu"


# Docstring entries both neural mixtures share, filled in by Substitution.
_NEURAL_MIXTURE_DOCS = {
    "n_experts": """n_experts : int, default=8
        Number of experts.""",
    "top_k": """top_k : int or None, default=2
        Experts per row. Only the chosen experts run (sparse routing); None, or
        ``n_experts``, runs every expert on every row (dense).""",
    "hidden_units": """hidden_units : int or tuple of int, default=64
        Hidden layer sizes of each expert's MLP (ReLU between layers).""",
    "max_epochs": """max_epochs : int, default=50
        Passes over the training rows.""",
    "lr": """lr : float, default=1e-3
        Adam's learning rate.""",
    "batch_size": """batch_size : int, default=128
        Rows per training step.""",
    "weight_decay": """weight_decay : float, default=0.0
        Adam's L2 penalty on all weights.""",
    "balance_weight": """balance_weight : float, default=1e-2
        Weight of the load-balancing loss (Switch Transformer style) that keeps sparse
        routing from sending every row to a few experts. Ignored when dense.""",
    "gate_noise": """gate_noise : bool, default=True
        Noisy top-k gating: during training, add learned, input-dependent Gaussian noise
        to the gate's logits before choosing the top k, so that experts near the cut
        get rows and gradients. Ignored when dense.""",
    "device": """device : {"auto", "cpu", "cuda"}, str or torch.device, default="auto"
        Where to train and predict; "auto" uses CUDA when available. A model fitted on a
        GPU predicts on the CPU where CUDA is missing (with a warning unless
        ``device`` is "auto" or "cpu").""",
    "verbose": """verbose : int, default=0
        Print the training loss after each epoch.""",
    "random_state": """random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the order of rows and the gate noise.""",
    "loss_curve_": """loss_curve_ : list of float
        Mean training loss (without the balance loss) of each epoch.""",
    "n_iter_": """n_iter_ : int
        Epochs run.""",
    "module_": """module_ : torch.nn.Module
        The trained network (gate and stacked expert weights).""",
    "n_features_in_": """n_features_in_ : int
        Number of features seen during fit.""",
    "feature_names_in_": """feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during fit, when ``X`` has string column names.""",
}


@Substitution(**_NEURAL_MIXTURE_DOCS)
class NeuralMixtureOfExpertsRegressor(RegressorMixin, _BaseNeuralMixture):
    """A gate and MLP experts trained jointly in torch, for regression.

    The output is the gate-weighted sum of the chosen experts' outputs; the network is
    trained by Adam on the (sample-weighted) squared error. Inputs and targets are
    standardised internally.

    Parameters
    ----------
    {n_experts}
    {top_k}
    {hidden_units}
    {max_epochs}
    {lr}
    {batch_size}
    {weight_decay}
    {balance_weight}
    {gate_noise}
    {device}
    {verbose}
    {random_state}

    Attributes
    ----------
    {loss_curve_}
    {n_iter_}
    {module_}
    {n_features_in_}
    {feature_names_in_}

    See Also
    --------
    NeuralMixtureOfExpertsClassifier : The classification counterpart.
    skfuse.MixtureOfExpertsRegressor : Any scikit-learn estimators as experts, fitted by EM.

    Examples
    --------
    >>> import numpy as np
    >>> from skfuse.torch import NeuralMixtureOfExpertsRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-2, 2, size=(500, 2))
    >>> y = np.where(X[:, 0] > 0, 2 * X[:, 1], -X[:, 1])
    >>> moe = NeuralMixtureOfExpertsRegressor(n_experts=4, top_k=1, hidden_units=16,
    ...                                       max_epochs=30, lr=0.01, device="cpu",
    ...                                       random_state=0).fit(X, y)
    >>> moe.predict(X[:3]).shape
    (3,)
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the gate and the experts.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights of the loss.

        Returns
        -------
        self : NeuralMixtureOfExpertsRegressor
        """
        X, y = validate_data(self, X, y, dtype=np.float32, multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        self.y_ndim_ = y.ndim
        Y = y.reshape(len(y), -1)
        self.y_mean_ = Y.mean(axis=0)
        scale = Y.std(axis=0)
        self.y_scale_ = np.where(scale > 0, scale, 1.0)
        target = ((Y - self.y_mean_) / self.y_scale_).astype(np.float32)
        return self._fit(X, target, sample_weight, Y.shape[1])

    @staticmethod
    def _row_loss(out, target):
        return ((out - target) ** 2).mean(dim=1)

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        out = self._forward(X).astype(np.float64).reshape(len(X), -1)
        out = out * self.y_scale_ + self.y_mean_
        return out.ravel() if self.y_ndim_ == 1 else out


@Substitution(**_NEURAL_MIXTURE_DOCS)
class NeuralMixtureOfExpertsClassifier(ClassifierMixin, _BaseNeuralMixture):
    """A gate and MLP experts trained jointly in torch, for classification.

    Each expert outputs class probabilities; the mixture's probabilities are their
    gate-weighted sum over the chosen experts, trained by Adam on the
    (sample-weighted) log-loss. Inputs are standardised internally.

    Parameters
    ----------
    {n_experts}
    {top_k}
    {hidden_units}
    {max_epochs}
    {lr}
    {batch_size}
    {weight_decay}
    {balance_weight}
    {gate_noise}
    {device}
    {verbose}
    {random_state}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels.
    {loss_curve_}
    {n_iter_}
    {module_}
    {n_features_in_}
    {feature_names_in_}

    See Also
    --------
    NeuralMixtureOfExpertsRegressor : The regression counterpart.
    skfuse.MixtureOfExpertsClassifier : Any scikit-learn classifiers as experts, fitted by EM.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skfuse.torch import NeuralMixtureOfExpertsClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> moe = NeuralMixtureOfExpertsClassifier(n_experts=4, hidden_units=16, max_epochs=40,
    ...                                        lr=0.01, device="cpu", random_state=0)
    >>> bool(moe.fit(X, y).score(X, y) > 0.9)
    True
    """

    _classify = True

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the gate and the experts.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights of the loss.

        Returns
        -------
        self : NeuralMixtureOfExpertsClassifier
        """
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        return self._fit(X, codes.astype(np.int64), sample_weight, len(self.classes_))

    @staticmethod
    def _row_loss(out, codes):
        return -out.gather(1, codes.unsqueeze(1)).squeeze(1)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        proba = np.exp(self._forward(X).astype(np.float64)).reshape(len(X), -1)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable label of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "module_")
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
