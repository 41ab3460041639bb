"""Neural mixtures of experts: a gate and MLP experts trained end to end in torch.

Training runs through skorch's loop (:class:`_Trainer`, a ``skorch.NeuralNet`` holding
the :class:`~skfuse.torch._network.MixtureNet`): its callbacks, history, validation split,
early stopping and learning-rate schedule. The estimators stay plain scikit-learn
estimators with their own parameters; after ``fit`` they keep the trained network and
skorch's history, not the skorch net (its optimizer and callbacks hold device tensors).
"""

import copy
import math
import threading
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, LRScheduler
from skorch.dataset import unpack_data

from .._base import (
    atomic_fit,
    check_sample_weight,
    classes_of,
    is_int,
    keep_a_row_of_each_class,
    numeric_target,
    refuse_non_finite_labels,
    refuse_several_targets,
    sums_finite,
)
from .._compat import Interval, StrOptions, _fit_context
from .._docstring import Substitution
from .._gate import column_mean_scale, extreme_unit
from .._tasks import report
from ._network import MixtureNet
from ._training import mean_one, mean_one_within, relative, seeded

# Rows per forward pass at predict time.
_PREDICT_ROWS = 65_536
# Held while a predict finds (or moves) the fitted network on the device asked for.
_MOVING = threading.Lock()
# Keys of the dict that carries a batch's rows and their weights through skorch.
_ROWS = "X"
_WEIGHT = "sample_weight"
# A float train_split holds out that share of the rows, but at least this many (up to a
# quarter of the rows); with under half of it to hold out, there is no validation.
_MIN_VALIDATION = 50
# Relative improvement of the monitored loss that early stopping and the plateau
# schedule count as one (skorch's EarlyStopping default).
_TOL = 1e-4


def _callback_entry(entry):
    """``(name, callback)`` of an entry of ``callbacks``: a ``(name, callback)`` pair,
    or a callback alone (name None)."""
    if isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], str):
        return entry[0], entry[1]
    return None, entry


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


class _Rows(torch.utils.data.Dataset):
    """The training rows as tensors on the device: inputs, targets and row weights.

    A batch is a dict ``{"X": rows, "sample_weight": weights}`` and the targets, as
    skorch passes them to ``infer`` and ``get_loss``; :class:`_Batches` slices whole
    batches out of the tensors rather than fetching rows one by one.
    """

    def __init__(self, X, y, weight):
        self.X, self.y, self.weight = X, y, weight

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return {_ROWS: self.X[i], _WEIGHT: self.weight[i]}, self.y[i]


class _Batches:
    """Batches of a :class:`_Rows` (or of a ``Subset`` of one, as a split returns).

    Each pass over it is one epoch: a fresh order drawn from ``generator`` (training),
    or the rows in order (validation). Rows are gathered on the device, so nothing
    waits on the host between steps.
    """

    def __init__(self, dataset, batch_size, generator=None):
        index = None
        if isinstance(dataset, torch.utils.data.Subset):
            dataset, index = dataset.dataset, dataset.indices
        if not isinstance(dataset, _Rows):
            raise TypeError(
                "train_split must return subsets of the dataset it is given, as skorch's "
                f"ValidSplit does; got {type(dataset).__name__}."
            )
        self.rows = dataset
        device = dataset.X.device
        self.index = None if index is None else torch.as_tensor(
            np.asarray(index, dtype=np.int64), device=device)
        self.batch_size = batch_size
        self.generator = generator

    def __len__(self):
        return (self._n_rows() + self.batch_size - 1) // self.batch_size

    def _n_rows(self):
        return len(self.rows) if self.index is None else len(self.index)

    def __iter__(self):
        n, rows = self._n_rows(), self.rows
        order = self.index
        if self.generator is not None:
            shuffled = torch.randperm(n, generator=self.generator, device=rows.X.device)
            order = shuffled if order is None else order[shuffled]
        for first in range(0, n, self.batch_size):
            if order is None:
                take = slice(first, first + self.batch_size)
            else:
                take = order[first : first + self.batch_size]
            yield {_ROWS: rows.X[take], _WEIGHT: rows.weight[take]}, rows.y[take]


class _WeightedLoss(torch.nn.Module):
    """The mixture's loss: the weighted mean over rows of the squared error (mean over
    outputs) or, for a classifier, of the log-loss of the mixed probabilities."""

    def __init__(self, classify=False):
        super().__init__()
        self.classify = classify

    def forward(self, out, target, weight):
        if self.classify:
            row_loss = -out.gather(1, target.unsqueeze(1)).squeeze(1)
        else:
            row_loss = ((out - target) ** 2).mean(dim=1)
        return (row_loss * weight).mean()


class _EpochLine(Callback):
    """``verbose``: a line as each epoch ends, in the house format of progress lines."""

    def __init__(self, owner, max_epochs):
        self.owner = owner
        self.max_epochs = max_epochs

    def on_epoch_end(self, net, **kwargs):
        epoch = net.history[-1]
        valid = f", valid loss {epoch['valid_loss']:.5f}" if "valid_loss" in epoch else ""
        report(self.owner, f"epoch {epoch['epoch']} of {self.max_epochs}: loss "
                           f"{epoch['train_loss']:.5f}{valid}, {epoch['dur']:.2f} s")


def _named_callbacks(callbacks):
    """The user's callbacks by the names skorch gives them: a pair's name, or the class's
    name for one given alone, with ``_1``, ``_2``... on each of several that share it."""
    entries = [_callback_entry(entry) for entry in callbacks]
    names = [name if name is not None
             else (callback.__name__ if isinstance(callback, type) else type(callback).__name__)
             for name, callback in entries]
    counts = {name: names.count(name) for name in names}
    seen = dict.fromkeys(counts, 0)
    named = {}
    for name, (_, callback) in zip(names, entries):
        seen[name] += 1
        named[f"{name}_{seen[name]}" if counts[name] > 1 else name] = callback
    return named


class _BestEpochKept(EarlyStopping):
    """skorch's early stopping that also judges a finished epoch it did not see before
    training ended: a callback that runs before it (the user's) may stop training at an
    epoch's end, and the stopper would then restore an earlier epoch's weights though
    the last one was better."""

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.seen_ = 0

    def on_epoch_end(self, net, **kwargs):
        self.seen_ = len(net.history)
        super().on_epoch_end(net, **kwargs)

    def on_train_end(self, net, **kwargs):
        history = net.history
        if len(history) > self.seen_ and self.monitor in history[-1]:
            try:
                self.on_epoch_end(net)
            except KeyboardInterrupt:  # its patience ran out there: training has ended
                pass
        super().on_train_end(net, **kwargs)


class _Trainer(NeuralNet):
    """skorch's training loop around a :class:`MixtureNet`.

    The module returns the mixture's output and its load-balancing loss; the step
    minimises the weighted data loss plus ``balance_weight_`` times the balance loss,
    and records the data loss alone (``train_loss``, ``valid_loss``), so that the two
    curves compare. Gate noise is drawn from ``noise_`` while training only. Batches are
    slices of tensors already on the device (:class:`_Batches`), shuffled by
    ``shuffle_``.
    """

    def infer(self, x, **fit_params):
        noise = self.noise_ if self.module_.training else None
        return self.module_(x[_ROWS], noise, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred[0], y_true, X[_WEIGHT])

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        (loss + self.balance_weight_ * y_pred[1]).backward()
        return {"loss": loss, "y_pred": y_pred}

    def get_iterator(self, dataset, training=False):
        return _Batches(dataset, self.batch_size, self.shuffle_ if training else None)


def validation_rows(fraction, weight, codes, rng):
    """The held-out rows of a float ``train_split`` (sorted positions), or None.

    ``fraction`` of the rows of positive weight, but at least ``_MIN_VALIDATION`` and
    then at most a quarter of them; None when that leaves under half of
    ``_MIN_VALIDATION`` (under 100 rows). Given a classifier's ``codes``, a class whose
    every row was drawn keeps one for training; None when that leaves under half of
    ``_MIN_VALIDATION`` (rare classes).
    """
    candidates = np.flatnonzero(weight > 0)
    size = math.ceil(fraction * len(candidates))
    if size < _MIN_VALIDATION:
        size = min(_MIN_VALIDATION, len(candidates) // 4)
    if size < _MIN_VALIDATION // 2:
        return None
    valid = np.sort(rng.permutation(candidates)[:size])
    if codes is not None:
        drawn = np.zeros(len(codes), dtype=bool)
        drawn[valid] = True
        valid = np.flatnonzero(keep_a_row_of_each_class(drawn, codes, weight))
        if len(valid) < _MIN_VALIDATION // 2:
            return None
    return valid


class _BaseNeuralMixture(BaseEstimator):
    """Parameters, training, device handling and pickling shared by both mixtures."""

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
        "train_split": [None, Interval(Real, 0, 1, closed="neither"), callable],
        "early_stopping": ["boolean"],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "lr_schedule": [StrOptions({"constant", "plateau", "cosine"})],
        "callbacks": [None, list, tuple],
        "device": [str, torch.device],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_experts=8,
        *,
        top_k=2,
        hidden_units=16,
        max_epochs=200,
        lr=1e-2,
        batch_size=64,
        weight_decay=0.0,
        balance_weight=1e-2,
        gate_noise=True,
        train_split=0.1,
        early_stopping=True,
        patience=20,
        lr_schedule="constant",
        callbacks=None,
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
        self.train_split = train_split
        self.early_stopping = early_stopping
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.callbacks = callbacks
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def set_params(self, **params):
        """Set parameters; ``callbacks__<name>__<param>`` sets a parameter of the callback
        of that name, as skorch's nets take it.

        A callback's name is the first of its ``(name, callback)`` pair, or, for one
        given alone, its class's name, with ``_1``, ``_2``... on each of several that share
        a name (as skorch names them).

        Parameters
        ----------
        **params : dict
            Parameter names mapped to their values.

        Returns
        -------
        self : estimator
        """
        nested = {key: params.pop(key) for key in list(params)
                  if key.startswith("callbacks__")}
        super().set_params(**params)  # a new callbacks list first
        if not nested:
            return self
        named = _named_callbacks(self.callbacks if isinstance(self.callbacks, (list, tuple))
                                 else [])
        for key, value in nested.items():
            name, _, param = key[len("callbacks__"):].partition("__")
            if (not param or isinstance(named.get(name), type)
                    or not hasattr(named.get(name), "set_params")):
                raise ValueError(
                    f"{type(self).__name__}: {key!r} names no parameter of a callback "
                    f"instance; the callbacks by name: {sorted(named)}. Use "
                    "callbacks__<name>__<param>, or pass a new callbacks list.")
            named[name].set_params(**{param: value})
        return self

    def _check_params(self):
        """Check what ``_parameter_constraints`` cannot say; return the hidden sizes.

        A sequence of ``hidden_units`` holds positive ints; ``callbacks`` holds skorch
        callbacks or ``(name, callback)`` pairs, none under a name of the built-in ones
        (the device's name is checked by :func:`resolve_device`).
        """
        owner = type(self).__name__
        active = {"progress": bool(self.verbose),
                  "lr_schedule": self.lr_schedule != "constant",
                  "early_stopping": bool(self.early_stopping)}
        for entry in self.callbacks or []:
            # What skorch takes: a callback, its class, or a (name, either or None) pair.
            name, callback = _callback_entry(entry)
            if not (isinstance(callback, Callback) or (name is not None and callback is None) or (
                    isinstance(callback, type) and issubclass(callback, Callback))):
                raise TypeError(f"{owner}: callbacks must be skorch callbacks (or their "
                                f"classes), or (name, callback) pairs; got {entry!r}.")
            if name is not None and active.get(name, False):
                raise ValueError(f"{owner}: the callback name {name!r} is taken by a "
                                 "built-in callback with these settings; give yours another.")
        for name in ("n_experts", "top_k", "max_epochs", "batch_size", "patience"):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)):  # an int to the declared constraint
                raise TypeError(f"{type(self).__name__}: {name} must be an int, not a bool; "
                                f"got {value!r}.")
        if is_int(self.hidden_units):
            return (self.hidden_units,)
        if isinstance(self.hidden_units, (bool, np.bool_)):
            raise TypeError(f"{owner}: hidden_units must be an int, not a bool; got "
                            f"{self.hidden_units!r}.")
        hidden = tuple(self.hidden_units)
        if not all(is_int(units) and units >= 1 for units in hidden):
            raise ValueError(
                f"hidden_units must be a positive int or a sequence of them, got "
                f"{self.hidden_units!r}."
            )
        return hidden

    def _split(self, target, weight, rng):
        """skorch's ``train_split`` for the trainer: ours for a float, the user's callable
        (called with the dataset and the targets, or class codes). Either way the rows'
        weights are scaled to mean 1 within each part, so that ``train_loss`` and
        ``valid_loss`` are weighted means and compare."""
        if self.train_split is None:
            return None
        if callable(self.train_split):
            given = self.train_split
        else:
            codes = target if self._classify else None
            valid = validation_rows(self.train_split, weight, codes, rng)
            if valid is None:
                return None
            train = np.setdiff1d(np.arange(len(target)), valid)

            def given(dataset, y=None, **kwargs):
                return (torch.utils.data.Subset(dataset, train),
                        torch.utils.data.Subset(dataset, valid))

        def split(dataset, y=None, **kwargs):
            parts = given(dataset, y, **kwargs)
            if isinstance(dataset, _Rows):
                mean_one_within(dataset.weight, dataset, parts)
            return parts

        return split

    def _training_callbacks(self, monitor):
        """The callbacks the trainer adds to skorch's defaults, in the order they run
        after those: the epoch line, the schedule, the user's (copied), early stopping
        (last, since it ends the epoch loop by raising)."""
        owner = type(self).__name__
        callbacks = []
        if self.verbose:
            callbacks.append(("progress", _EpochLine(owner, self.max_epochs)))
        if self.lr_schedule == "plateau":
            callbacks.append(("lr_schedule", LRScheduler(
                "ReduceLROnPlateau", monitor=monitor, factor=0.5,
                patience=max(self.patience // 2 - 1, 0), threshold=_TOL)))
        elif self.lr_schedule == "cosine":
            callbacks.append(("lr_schedule", LRScheduler(
                "CosineAnnealingLR", T_max=self.max_epochs)))
        callbacks += copy.deepcopy(list(self.callbacks or []))
        if self.early_stopping:
            callbacks.append(("early_stopping", _BestEpochKept(
                monitor=monitor, patience=self.patience, threshold=_TOL,
                threshold_mode="rel", load_best=True, sink=lambda text: None)))
        return callbacks

    def _fit(self, X, target, sample_weight, n_outputs):
        """Train the network; ``target`` is float outputs or int class codes."""
        hidden = self._check_params()
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        generator = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        weight = mean_one(check_sample_weight(sample_weight, len(X), headroom=False), len(X))
        # In float64 (X keeps it): float32 would leave a constant column a scale of
        # rounding residue (1e-7, so its changes at predict blow up) and a column far
        # from 0 (1e7 + small changes) a handful of distinct values.
        # Scaled as the built-in gate scales: a column is constant relative to its mean,
        # so features in small units are scaled too.
        self.x_mean_, self.x_scale_ = column_mean_scale(
            np.asarray(X, dtype=np.float64), weight.astype(np.float64))
        if not (np.isfinite(self.x_mean_).all() and np.isfinite(self.x_scale_).all()):
            raise ValueError(f"{type(self).__name__}: X holds values too large to "
                             "standardise in float64; rescale them.")

        # top_k at or above n_experts runs every expert (the network makes it dense):
        # one expert works with the default top_k=2.
        module = MixtureNet(X.shape[1], n_outputs, int(self.n_experts), hidden,
                            None if self.top_k is None else int(self.top_k), self._classify,
                            generator)  # Python ints: a NumPy one (a grid's) has no bit_length
        device_generator = torch.Generator(device=device).manual_seed(
            int(rng.randint(np.iinfo(np.int32).max))
        )
        split = self._split(target, weight, rng)
        monitor = "train_loss" if split is None else "valid_loss"
        trainer = _Trainer(
            module,
            criterion=_WeightedLoss,
            criterion__classify=self._classify,
            optimizer=torch.optim.Adam,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=split,
            callbacks=self._training_callbacks(monitor),
            verbose=0,
            device=device,
        )
        trainer.balance_weight_ = self.balance_weight
        trainer.shuffle_ = device_generator
        trainer.noise_ = device_generator if self.gate_noise else None
        rows = _Rows(torch.from_numpy(self._scaled(X)).to(device),
                     torch.from_numpy(target).to(device), torch.from_numpy(weight).to(device))
        if self.random_state is None or not callable(self.train_split):
            trainer.fit(rows, target)
        else:  # a shuffled ValidSplit without a seed of its own draws from NumPy's generator
            with seeded(int(rng.randint(np.iinfo(np.int32).max)), torch_too=False):
                trainer.fit(rows, target)

        history = trainer.history
        # The built-in stopper only where it is on (else the name is the user's), and
        # the callback whose restored weights the model holds: the last to restore its
        # best epoch at the end of training (the built-in one runs last; else a user's
        # EarlyStopping with load_best).
        stopper = dict(trainer.callbacks_).get("early_stopping") if self.early_stopping \
            else None
        keeper = next((callback for _, callback in reversed(trainer.callbacks_)
                       if isinstance(callback, EarlyStopping) and callback.load_best), None)
        if len(history) and "train_loss" not in history[-1]:
            # An epoch that a callback or an interrupt stopped before its end counts as
            # none: its loss was never recorded (early stopping restored the best
            # finished epoch's weights; without it the weights are those at the stop,
            # which no loss vouches for: they must at least be finite).
            history.pop()
            if keeper is None and not all(torch.isfinite(p).all()
                                           for p in trainer.module_.parameters()):
                raise ValueError(f"{type(self).__name__}: training diverged in the epoch "
                                 "stopped before its end: a parameter is NaN or infinite. "
                                 "Lower lr, or scale X and y.")
        if not len(history):
            raise ValueError(f"{type(self).__name__}: training stopped (a callback or an "
                             "interrupt) before its first epoch ended.")
        self.module_ = trainer.module_.eval()
        self.device_ = device
        self.history_ = history
        self.n_iter_ = len(history)
        self.loss_curve_ = list(history[:, "train_loss"])
        self.validation_loss_curve_ = (
            None if split is None else list(history[:, "valid_loss"]))
        self.best_epoch_ = self.n_iter_ if keeper is None else int(keeper.best_epoch_)
        curve = self.loss_curve_ if split is None else self.validation_loss_curve_
        loss = monitor.replace("_", " ")
        if self.best_epoch_ == 0:  # early stopping found no finite loss to keep
            raise ValueError(
                f"{type(self).__name__}: training diverged: no epoch reached a finite "
                f"{loss} (last {float(curve[-1])}). Lower lr, or scale X and y.")
        if not np.isfinite(curve[self.best_epoch_ - 1]):  # the last epoch, kept as it is
            raise ValueError(
                f"{type(self).__name__}: training diverged: the {loss} of epoch "
                f"{self.best_epoch_}, whose weights it would keep, is "
                f"{float(curve[self.best_epoch_ - 1])}. Lower lr, scale X and y, or set "
                "early_stopping=True to keep the best epoch.")
        if self.verbose:
            # Early stopping's own stop, or another's: a callback's, or an interrupt.
            by_patience = stopper is not None and stopper.misses_ >= stopper.patience
            self._report(monitor, by_patience)
        return self

    def _report(self, monitor, by_patience):
        owner = type(self).__name__
        loss = monitor.replace("_", " ")
        if by_patience:
            report(owner, f"stopped after epoch {self.n_iter_} of {self.max_epochs}: "
                          f"{loss} has not improved by {_TOL:g} (relative) for "
                          f"{self.patience} epochs; kept the weights of epoch "
                          f"{self.best_epoch_}")
            return
        if self.n_iter_ < self.max_epochs:
            report(owner, f"stopped after epoch {self.n_iter_} of {self.max_epochs} "
                          "by a callback or an interrupt")
        if self.best_epoch_ != self.n_iter_:
            report(owner, f"kept the weights of epoch {self.best_epoch_} of "
                          f"{self.n_iter_} (lowest {loss})")

    def _scaled(self, X):
        """``X`` standardised, then as the float32 the network takes."""
        scaled = np.ascontiguousarray((X - self.x_mean_) / self.x_scale_, dtype=np.float32)
        if not sums_finite(scaled):
            raise ValueError(f"{type(self).__name__}: X holds values that, standardised, "
                             "overflow float32 (the network's type); rescale them.")
        return scaled

    def _placed_module(self):
        """The fitted network on the device asked for now, and that device.

        A move swaps in a moved copy, so a predict already running in another thread
        keeps the network, and the device, it began with.
        """
        check_is_fitted(self, "module_")
        device = resolve_device(self.device, fitting=False)
        with _MOVING:
            if device != self.device_:
                self.module_, self.device_ = copy.deepcopy(self.module_).to(device), device
            return self.module_, device

    def _forward(self, X):
        """The network's output on ``X`` (already validated), as a NumPy array."""
        module, device = self._placed_module()
        data = torch.from_numpy(self._scaled(X))
        with torch.inference_mode():
            parts = [module(data[i : i + _PREDICT_ROWS].to(device))[0].cpu()
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
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        module, device = self._placed_module()
        data = torch.from_numpy(self._scaled(X)).to(device)
        with torch.inference_mode():
            experts, weight, _ = module.routing(data)
            out = torch.zeros(len(data), module.n_experts, device=data.device, dtype=weight.dtype)
            out.scatter_(1, experts, weight)
        return out.cpu().numpy()

    def __getstate__(self):
        # The network is stored as plain types (its constructor's arguments and NumPy
        # arrays of its parameters), so a model fitted on a GPU loads anywhere, and
        # skops.io can store it without trusting torch's own pickles.
        state = dict(super().__getstate__())  # a copy: it can be the live __dict__
        if "module_" in state:
            state["module_"] = self.module_.to_state()
            state["device_"] = "cpu"
        return state

    def __setstate__(self, state):
        if isinstance(state.get("module_"), dict):
            state["module_"] = MixtureNet.from_state(state["module_"])
            state["device_"] = torch.device(state["device_"])
        super().__setstate__(state)

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
        ``n_experts`` or more, runs every expert on every row (dense).""",
    "hidden_units": """hidden_units : int or tuple of int, default=16
        Hidden layer sizes of each expert's MLP (ReLU between layers); ``()`` gives
        linear experts, with no hidden layer.""",
    "max_epochs": """max_epochs : int, default=200
        Most passes over the training rows (early stopping may end training sooner).""",
    "lr": """lr : float, default=1e-2
        Adam's learning rate.""",
    "batch_size": """batch_size : int, default=64
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
    "train_split": """train_split : float, callable or None, default=0.1
        The validation split, as skorch's ``train_split``: a float holds out that share
        of the rows of positive weight (at least 50 rows, then at most a quarter of
        them; none under 100 rows; a class whose every row was drawn keeps one);
        a callable such as ``skorch.dataset.ValidSplit(5, stratified=True)`` is called
        with the training dataset and the targets (the class codes for a classifier)
        and returns subsets of that dataset; None trains on every row. The validation
        loss is recorded each epoch (``history_``) and drives early stopping and the
        "plateau" schedule; without a split, the training loss does.""",
    "early_stopping": """early_stopping : bool, default=True
        Stop when the validation loss (the training loss without a split) has not
        improved by 1e-4 of itself for ``patience`` epochs, and keep the weights of the
        last epoch that improved it (skorch's ``EarlyStopping`` with ``load_best``).""",
    "patience": """patience : int, default=20
        Epochs without improvement before early stopping; the "plateau" schedule halves
        the learning rate after ``max(patience // 2, 1)`` of them.""",
    "lr_schedule": """lr_schedule : {"constant", "plateau", "cosine"}, default="constant"
        The learning rate over epochs: constant; halved when the monitored loss stalls
        (``ReduceLROnPlateau``); or cosine-annealed from ``lr`` to 0 over
        ``max_epochs`` (``CosineAnnealingLR``). The rate of each epoch is in
        ``history_`` ("event_lr") under a schedule.""",
    "callbacks": """callbacks : list, tuple or None, default=None
        skorch callbacks (instances, or ``(name, callback)`` pairs) added to the
        training loop after the built-in ones and before early stopping. They are
        copied at ``fit`` (the objects given are left untouched) and see the internal
        skorch net, whose ``module_`` is the mixture's network; what they record in
        ``net.history`` stays in ``history_``. The built-in callbacks' names are
        refused for yours where they are in use: ``"progress"`` (``verbose``),
        ``"lr_schedule"`` (a schedule other than ``"constant"``) and
        ``"early_stopping"``.""",
    "device": """device : {"auto", "cpu", "cuda"}, str or torch.device, default="auto"
        Where to train and predict; "auto" uses CUDA when available. A model fitted on a
        GPU predicts on the CPU where CUDA is missing (with a warning unless
        ``device`` is "auto" or "cpu").""",
    "verbose": """verbose : int, default=0
        Print the training and validation loss after each epoch, and why training
        stopped early or which epoch's weights it kept.""",
    "random_state": """random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the validation split, the order of rows and the
        gate noise; with a ``train_split`` callable, NumPy's global generator for the
        fit's length (a shuffled ``ValidSplit`` without a seed of its own draws from
        it; its state is restored after).""",
    "history_": """history_ : skorch.history.History
        skorch's record of training: one dict per epoch with "train_loss",
        "valid_loss" (with a validation split), "dur" (seconds), the callbacks'
        entries, and the losses of each batch. ``history_[:, "valid_loss"]`` is the
        validation curve.""",
    "loss_curve_": """loss_curve_ : list of float
        Mean training loss (without the balance loss) of each epoch.""",
    "validation_loss_curve_": """validation_loss_curve_ : list of float or None
        Validation loss of each epoch; None without a validation split.""",
    "n_iter_": """n_iter_ : int
        Epochs run.""",
    "best_epoch_": """best_epoch_ : int
        The epoch whose weights the model holds (1-based): with early stopping (or a
        skorch ``EarlyStopping(load_best=True)`` among ``callbacks``), the last epoch
        that improved the monitored loss; otherwise ``n_iter_``.""",
    "module_": """module_ : torch.nn.Module
        The trained network (gate and stacked expert weights).""",
    "device_": """device_ : torch.device
        Where ``module_`` lives now (it moves when ``device`` asks for another at
        predict; a pickle holds it on the CPU).""",
    "x_mean_": """x_mean_ : ndarray of shape (n_features,)
        The (sample-weighted) mean of each input column, subtracted before training
        and prediction.""",
    "x_scale_": """x_scale_ : ndarray of shape (n_features,)
        The (sample-weighted) standard deviation of each input column (where the
        column is constant, up to rounding, the larger of 1 and its magnitude), by
        which inputs are divided.""",
    "n_features_in_": """n_features_in_ : int
        Number of features seen during fit.""",
    "feature_names_in_": """feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during fit, when ``X`` has string column names.""",
}


@Substitution(**_NEURAL_MIXTURE_DOCS)
class NeuralMixtureOfExpertsRegressor(RegressorMixin, _BaseNeuralMixture):
    """A gate and MLP experts trained jointly in torch, for regression.

    The output is the gate-weighted sum of the chosen experts' outputs; the network is
    trained by Adam on the (sample-weighted) squared error, in skorch's training loop
    (callbacks, history, validation split, early stopping). Inputs and targets are
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
    {train_split}
    {early_stopping}
    {patience}
    {lr_schedule}
    {callbacks}
    {device}
    {verbose}
    {random_state}

    Attributes
    ----------
    {history_}
    {loss_curve_}
    {validation_loss_curve_}
    {n_iter_}
    {best_epoch_}
    {module_}
    {device_}
    {x_mean_}
    {x_scale_}
    y_mean_ : ndarray of shape (n_outputs,)
        The (sample-weighted) mean of each target, added back to the network's output.
    y_scale_ : ndarray of shape (n_outputs,)
        The (sample-weighted) standard deviation of each target (0 for a constant
        target, which the model then predicts), by which the output is multiplied.
    y_ndim_ : int
        1 or 2: the dimensions of ``y`` at fit, which ``predict``'s output takes.
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
    @atomic_fit
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
        if y is not None:  # (None: scikit-learn's "requires y to be passed")
            y = numeric_target(y, type(self).__name__)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], multi_output=True,
                             y_numeric=True)
        self.y_ndim_ = y.ndim
        Y = y.reshape(len(y), -1)
        weight = relative(check_sample_weight(sample_weight, len(Y), headroom=False))
        # Targets in units far from 1 (beyond 1e100, below 1e-100) are divided by their
        # peak first, as X's columns are: their squares would overflow or vanish.
        unit = extreme_unit(np.max(np.abs(Y), axis=0, initial=0.0))
        Z = Y / unit
        if weight is None:
            mean, scale = Z.mean(axis=0), Z.std(axis=0)
        else:  # weighted, as X is: rows of weight 0 play no part
            mean = np.average(Z, axis=0, weights=weight)
            scale = np.sqrt(np.average((Z - mean) ** 2, axis=0, weights=weight))
        # A constant output (every row of positive weight the same value) keeps scale 0
        # and that value as its mean, so that predict returns it exactly: the mean and
        # spread of rounding residue (1/3 gives a scale of 6e-17) would have the network
        # fit noise, and predict the value off by ulps.
        kept = Y if weight is None else Y[weight > 0]
        constant = kept.min(axis=0) == kept.max(axis=0)
        self.y_mean_ = np.where(constant, kept[0], mean * unit)
        scale = np.where(constant, 0.0, scale) * unit
        self.y_scale_ = np.where(scale > 0, scale, 0.0)
        target = ((Y - self.y_mean_) / np.where(scale > 0, scale, 1.0)).astype(np.float32)
        return self._fit(X, target, sample_weight, Y.shape[1])

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
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        out = self._forward(X).astype(np.float64).reshape(len(X), -1)
        out = out * self.y_scale_ + self.y_mean_
        return out.ravel() if self.y_ndim_ == 1 else out


@Substitution(**_NEURAL_MIXTURE_DOCS)
class NeuralMixtureOfExpertsClassifier(ClassifierMixin, _BaseNeuralMixture):
    """A gate and MLP experts trained jointly in torch, for classification.

    Each expert outputs class probabilities; the mixture's probabilities are their
    gate-weighted sum over the chosen experts, trained by Adam on the
    (sample-weighted) log-loss in skorch's training loop (callbacks, history,
    validation split, early stopping). Inputs are standardised internally.

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
    {train_split}
    {early_stopping}
    {patience}
    {lr_schedule}
    {callbacks}
    {device}
    {verbose}
    {random_state}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels.
    {history_}
    {loss_curve_}
    {validation_loss_curve_}
    {n_iter_}
    {best_epoch_}
    {module_}
    {device_}
    {x_mean_}
    {x_scale_}
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
    >>> moe = NeuralMixtureOfExpertsClassifier(n_experts=4, device="cpu", random_state=0)
    >>> bool(moe.fit(X, y).score(X, y) > 0.9)
    True
    >>> moe.n_iter_ == len(moe.history_), moe.best_epoch_ <= moe.n_iter_
    (True, True)
    """

    _classify = True

    @_fit_context(prefer_skip_nested_validation=True)
    @atomic_fit
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
        if y is not None:
            labels = np.asarray(y)
            refuse_several_targets(self, labels.shape)
            refuse_non_finite_labels(labels, type(self).__name__)  # not validate_data's words
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        self.classes_ = classes_of(y, type(self).__name__)
        codes = np.searchsorted(self.classes_, y)
        return self._fit(X, codes.astype(np.int64), sample_weight, len(self.classes_))

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
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
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
