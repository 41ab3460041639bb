"""skorch nets that behave as scikit-learn members: seeds, weights, 1-D targets, fast predict."""

import inspect
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import EpochScoring
from skorch.dataset import Dataset
from skorch.exceptions import NotInitializedError

from .._available import available_if
from .._base import check_sample_weight, numeric_target, refuse_non_finite_labels
from ._training import mean_one, mean_one_within, seeded

# Keys of the dict that carries the rows and their weights through skorch's data loading.
_ROWS = "X"
_WEIGHT = "sample_weight"


class _MemberNet:
    """Behaviour shared by :class:`NetClassifier` and :class:`NetRegressor`.

    skorch treats every attribute without a trailing underscore as a parameter, so the
    state kept here ends in one.
    """

    def _check_input(self, X, reset):
        # (scipy's DOK sparse formats are dicts: refused below, as every sparse X is)
        if isinstance(X, (Mapping, torch.utils.data.Dataset)) and not sp.issparse(X):
            if reset:  # it has no columns to count or name: forget an earlier fit's
                self.__dict__.pop("n_features_in_", None)
                self.__dict__.pop("feature_names_in_", None)
            return X  # skorch's own structured input: passed on untouched
        if reset and self._keeps_module() and hasattr(self, "n_features_in_"):
            reset = False  # the module kept was built for those columns: X as at predict
        return validate_data(self, X, dtype=np.float32, allow_nd=True, reset=reset)

    def _keeps_module(self):
        """Whether ``fit`` trains on the module the net has (``warm_start=True``, once
        initialised), rather than on a new one."""
        return bool(self.warm_start) and getattr(self, "initialized_", False)

    def __sklearn_is_fitted__(self):
        # Trained, and its records set: a fit that diverged takes them away. skorch's
        # own check, as its __sklearn_is_fitted__ does from 1.3 on (1.2 has none).
        try:
            self.check_is_fitted()
        except NotInitializedError:
            return False
        return hasattr(self, self._FITTED_RECORD) or self._initialized_without_fit()

    def _initialized_without_fit(self):
        """Whether the net holds a module no fit of it trained: ``initialize()`` before
        any fit, as when restoring saved parameters (``load_params``). It predicts, as
        skorch's does, from what its parameters give (see ``predict``)."""
        return bool(getattr(self, "initialized_", False)) and not hasattr(
            self, self._FITTED_RECORD)

    def get_params(self, deep=True, **kwargs):
        """skorch's parameters, without its private ``_params_to_validate`` (a record of
        the names set, which skorch lists as one and a ``set_params`` of it breaks).

        Parameters
        ----------
        deep : bool, default=True
            Also the parameters of the module, criterion, callbacks, ... as skorch
            gives them.
        **kwargs : dict
            Passed on to skorch's ``get_params``.

        Returns
        -------
        params : dict
        """
        params = super().get_params(deep=deep, **kwargs)
        params.pop("_params_to_validate", None)
        return params

    def initialize_module(self):
        """skorch's, with the sizes the data gave passed to a module class that names
        them: ``n_features_in``, and ``n_classes`` or ``n_outputs`` (see the class). A
        size the module requires that neither ``module__*`` nor the data gives is
        refused in words.

        Returns
        -------
        self : net
        """
        given = self.get_params_for("module")
        known = self._data_sizes()
        unknown = [name for name, size in known.items() if size is None and name not in given
                   and _names_parameter(self.module, name, required=True)]
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: the module requires {', '.join(unknown)}, which "
                "a fit takes from an array X and its y; there is none here (X is a dict or "
                "a Dataset, or initialize() came before any fit). Pass "
                + ", ".join(f"module__{name}=<size>" for name in unknown) + ".")
        sizes = {name: size for name, size in known.items() if size is not None
                 and name not in given and _names_parameter(self.module, name)}
        self.module_ = self.initialized_instance(self.module, {**given, **sizes})
        return self

    def _data_sizes(self):
        """The sizes a module may name, each as the data gave it (None: not known): the
        columns of ``X`` (an array or a frame, not skorch's dicts or datasets)."""
        return {"n_features_in": getattr(self, "n_features_in_", None)}

    def _loss_weights(self, X, n_rows, sample_weight):
        """The rows' loss weights (None: unweighted), with what else a fit refuses
        before training. Checked before a fit sets any record (``n_features_in_``, the
        labels), so that a refused refit leaves them describing the module it kept."""
        if (self.device is not None and str(self.device).startswith("cuda")
                and not torch.cuda.is_available()):
            raise ValueError(f"{type(self).__name__}: device={self.device!r} but CUDA is "
                             "not available; use 'cpu'.")
        if sample_weight is None:
            return None
        if isinstance(X, Mapping) and _WEIGHT in X:
            raise ValueError(f"{type(self).__name__}: X must not have a {_WEIGHT!r} key when "
                             "sample_weight is given.")
        if isinstance(X, torch.utils.data.Dataset):
            raise ValueError(f"{type(self).__name__}: sample_weight cannot weigh the rows of "
                             "a torch Dataset X; pass X as an array or a dict of arrays.")
        return mean_one(check_sample_weight(sample_weight, n_rows, headroom=False), n_rows)

    def _fit_net(self, X, y, weight, fit_params, partial=False):
        """Train on ``X`` and the encoded ``y``, rows weighted by ``weight`` (from
        :meth:`_loss_weights`): from the start (``fit``), or on from where the net is
        (``partial``: initialised, and seeded, at the first call)."""
        if weight is not None:
            X = {**X, _WEIGHT: weight} if isinstance(X, Mapping) else {_ROWS: X, _WEIGHT: weight}
        train = super().partial_fit if partial else self._fit_from_the_start
        if self.random_state is None or (partial and self.initialized_):
            train(X, y, **fit_params)
        else:
            # Seeds torch, and NumPy's generator, which a shuffled ValidSplit without a
            # seed of its own draws from.
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            with seeded(seed):
                train(X, y, **fit_params)
        self._refuse_diverged()
        return self

    def _refuse_diverged(self):
        """Raise where training left a parameter NaN or infinite: every output would be
        NaN, which a classifier's labels (the first class) would hide."""
        broken = [name for name, value in self.module_.named_parameters()
                  if not bool(torch.isfinite(value).all())]
        if broken:
            # Not fitted (predict refuses), nor initialised: the next fit or partial_fit,
            # warm_start or not, starts from a new module (and seed), not from NaN.
            delattr(self, self._FITTED_RECORD)
            self.initialized_ = False
            losses = [epoch.get("train_loss") for epoch in self.history_]
            last = next((loss for loss in reversed(losses) if loss is not None), None)
            instance_note = "" if not isinstance(self.module, torch.nn.Module) else (
                " The module was given as an instance, which training changes in place: "
                "it holds these values now, and skorch starts the next fit from it; pass "
                "its class (module__* for its arguments) or a new instance.")
            raise ValueError(
                f"{type(self).__name__}: training diverged: {len(broken)} parameter(s) "
                f"({', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''}) hold NaN "
                f"or infinite values (last train loss {last}). Lower lr, or scale X and "
                f"y.{instance_note}")

    def get_split_datasets(self, X, y=None, **fit_params):
        """skorch's split; with row weights, scaled to mean 1 within each part, so that
        ``train_loss`` and ``valid_loss`` are weighted means and compare.

        Parameters
        ----------
        X : data
            As skorch's ``get_split_datasets`` takes it.
        y : data, default=None
            As skorch's ``get_split_datasets`` takes it.
        **fit_params : dict
            Passed on to ``train_split``.

        Returns
        -------
        dataset_train, dataset_valid : datasets
        """
        train, valid = super().get_split_datasets(X, y, **fit_params)
        dataset = getattr(train, "dataset", None)
        rows = getattr(dataset, "X", None)
        if valid is not None and isinstance(rows, Mapping) and _WEIGHT in rows:
            mean_one_within(rows[_WEIGHT], dataset, (train, valid))
        return train, valid

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_in_fit_", None)  # a copy made during fit (a checkpoint) is not in it
        return state

    def _fit_from_the_start(self, X, y, **fit_params):
        # skorch's fit trains through self.partial_fit, which must then take the rows
        # and codes prepared here as they are.
        self._in_fit_ = True
        try:
            return super().fit(X, y, **fit_params)
        finally:
            del self._in_fit_

    def infer(self, x, **fit_params):
        """Run the module on a batch, leaving out the rows' weights.

        Parameters
        ----------
        x : torch.Tensor or dict
            A batch, as skorch passes it (a dict when ``sample_weight`` was given).
        **fit_params : dict
            Passed on to the module's ``forward``.

        Returns
        -------
        y_infer : torch.Tensor
        """
        if isinstance(x, Mapping) and _WEIGHT in x:
            x = {key: value for key, value in x.items() if key != _WEIGHT}
            if set(x) == {_ROWS}:
                x = x[_ROWS]
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion's loss, as a weighted mean over rows when weights were given.

        Parameters
        ----------
        y_pred : torch.Tensor
            The module's output on the batch.
        y_true : torch.Tensor
            The batch's targets.
        X : torch.Tensor, dict or None, default=None
            The batch's input; a dict holds the rows' weights.
        training : bool, default=False
            Whether the net is training.

        Returns
        -------
        loss : torch.Tensor
        """
        self._check_output(y_pred)
        if not (isinstance(X, Mapping) and _WEIGHT in X):
            return super().get_loss(y_pred, y_true, X=X, training=training)
        criterion = self.criterion_
        if not hasattr(criterion, "reduction"):
            raise TypeError(
                f"{type(self).__name__}: sample_weight needs a criterion with a 'reduction' "
                f"attribute; {type(criterion).__name__} has none."
            )
        reduction, criterion.reduction = criterion.reduction, "none"
        try:
            loss = super().get_loss(y_pred, y_true, X=X, training=training)
        finally:
            criterion.reduction = reduction
        weight = torch.as_tensor(X[_WEIGHT], device=loss.device)
        rows = loss.reshape(len(weight), -1)
        if reduction == "sum":
            return (rows.sum(dim=1) * weight).sum()
        weighted = rows.mean(dim=1) * weight
        # NLLLoss and CrossEntropyLoss on class indices average over the rows' class
        # weights (1 without), leaving out the rows of ignore_index (torch's "mean"):
        # so here, or unit sample weights would change the loss and its gradients'
        # scale. Without either, that is the mean over the rows.
        if (isinstance(criterion, (torch.nn.NLLLoss, torch.nn.CrossEntropyLoss))
                and y_true.ndim == 1 and not y_true.is_floating_point()):
            class_weight = criterion.weight
            ignored = y_true == criterion.ignore_index
            if class_weight is not None or ignored.any():
                # y_true is the batch as the loader gave it (on the CPU), the class
                # weights are on the net's device: the rows' weights are taken there.
                per_row = (~ignored).to(weighted.dtype) if class_weight is None else (
                    class_weight[torch.where(ignored, 0, y_true).to(class_weight.device)]
                    * (~ignored).to(class_weight.device))
                return weighted.sum() / per_row.sum()
        return weighted.mean()

    def _check_output(self, y_pred):
        """Refuse a module output this net cannot learn from (none, here)."""

    def get_iterator(self, dataset, training=False):
        """For inference on an array, slices of one tensor instead of rows fetched one by one
        (unless a loader of the user's own, or loader settings beyond the batch size, are
        given: those may change the batches, so skorch's loader serves them).

        Parameters
        ----------
        dataset : torch Dataset
            The data, as skorch wraps it.
        training : bool, default=False
            Whether the iterator serves training (then skorch's own is used).

        Returns
        -------
        iterator : iterable of batches
        """
        loader = self.get_params_for("iterator_valid")
        plain = (
            not training
            and type(dataset) is Dataset
            and isinstance(dataset.X, np.ndarray)
            and dataset.y is None
            and self.iterator_valid is torch.utils.data.DataLoader
            and set(loader) <= _LOADER_SETTINGS_KEPT
        )
        if not plain:
            return super().get_iterator(dataset, training=training)
        size = loader.get("batch_size", self.batch_size)
        rows = torch.from_numpy(np.ascontiguousarray(dataset.X))
        size = len(rows) if size == -1 else max(int(size), 1)
        return ((rows[start : start + size], None) for start in range(0, len(rows), size))


# DataLoader settings that leave the rows and their order as they are: the fast predict
# path may ignore them.
_LOADER_SETTINGS_KEPT = {"batch_size", "num_workers", "pin_memory", "persistent_workers",
                         "prefetch_factor", "timeout"}


def _names_parameter(module, name, required=False):
    """Whether ``module`` is a module class (or factory) whose signature names ``name``
    (``required``: without a default)."""
    if isinstance(module, torch.nn.Module) or not callable(module):
        return False
    try:
        parameter = inspect.signature(module).parameters.get(name)
    except (TypeError, ValueError):  # a callable without a signature to read
        return False
    return parameter is not None and parameter.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY) and not (
        required and parameter.default is not inspect.Parameter.empty)


def _code_accuracy(net, X, codes):
    """Accuracy against the label codes skorch trains on (not the labels ``predict`` returns)."""
    return float(np.mean(net.predict_proba(X).argmax(axis=1) == np.asarray(codes)))


def _checked_targets(y, owner):
    """A regressor's targets as float32, 1-D or 2-D and finite."""
    if y is None:
        raise ValueError(f"{owner} requires y to be passed, but the target y is None.")
    y = numeric_target(y, owner, np.float32)
    if y.ndim not in (1, 2):
        raise ValueError(f"{owner}: y must be 1-D or 2-D, got shape {y.shape}.")
    return y


# The attribute of a trained module that holds the labels of its output columns.
_LABELS = "skfuse_labels"


def _label_codes(labels, y):
    """Each label of ``y`` as its position in ``labels`` (in any order, each once)."""
    order = np.argsort(labels, kind="stable")
    ordered = labels[order]
    if np.any(ordered[1:] == ordered[:-1]):
        raise ValueError(f"NetClassifier: classes={labels.tolist()} names a label more "
                         "than once.")
    at = np.minimum(np.searchsorted(ordered, y), len(labels) - 1)
    if np.any(ordered[at] != y):
        raise ValueError(f"NetClassifier: y has labels that are not in "
                         f"classes={labels.tolist()}.")
    return order[at].astype(np.int64)


class NetClassifier(_MemberNet, NeuralNetClassifier):
    """A skorch ``NeuralNetClassifier`` that behaves as a scikit-learn member.

    Takes every argument of :class:`skorch.NeuralNetClassifier` (``module``,
    ``max_epochs``, ``lr``, ``module__*``, ...), plus ``random_state``. Unlike a plain
    skorch net it takes labels of any type, casts ``X`` to float32, records
    ``n_features_in_``, accepts ``sample_weight`` (a weighted mean of the
    per-row loss, so it can be an EM expert), seeds torch in ``fit``, and predicts on
    slices of one tensor rather than on rows fetched one at a time.

    The module returns one column per class: probabilities with the default
    ``criterion=torch.nn.NLLLoss``, or logits with ``torch.nn.CrossEntropyLoss``.
    A module class whose signature names ``n_features_in`` or ``n_classes`` is given
    them when a fit builds the module (``n_features_in_``, ``X.shape[1]``, and the
    number of ``classes_``), unless ``module__n_features_in`` or ``module__n_classes``
    sets them: the same net then fits data of any width, a member's view or a
    pipeline's selected columns.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network.
    *args
        Passed on to :class:`skorch.NeuralNetClassifier`.
    random_state : int, RandomState instance or None, default=None
        Seeds torch's global generator at the start of ``fit`` (initial weights,
        shuffling), and NumPy's for the fit's length (what a shuffled ``ValidSplit``
        without a seed of its own draws; its state is restored after). None leaves
        both as they are. The generators are one per process, so seeded fits in threads
        of one process (joblib's threading backend) train one at a time; processes train
        side by side.
    **kwargs
        Passed on to :class:`skorch.NeuralNetClassifier`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, in the order of the module's output columns: sorted, unless
        ``classes`` gives another order (which scikit-learn's probability scorers,
        reading the columns as the sorted labels, then misread).
    labels_ : ndarray of shape (n_classes,)
        The same labels, as fit stored them (``classes_`` reads them).
    n_features_in_ : int
        Number of columns of ``X`` (an array or a frame; not skorch's dicts or datasets).
    feature_names_in_ : ndarray of str
        Names of the columns of ``X``, when it is a DataFrame with string column names.
    module_ : torch.nn.Module
        The fitted network. skorch's own fitted attributes (``history_``,
        ``optimizer_``, ``criterion_``, ``callbacks_``, ...) are set as well.

    See Also
    --------
    NetRegressor : The regression counterpart.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skfuse.torch import NetClassifier
    >>> class Net(torch.nn.Module):
    ...     def __init__(self, n_in=4, n_out=2):
    ...         super().__init__()
    ...         self.layer = torch.nn.Linear(n_in, n_out)
    ...     def forward(self, X):
    ...         return self.layer(X)
    >>> X = np.random.RandomState(0).normal(size=(40, 4))
    >>> y = np.where(X[:, 0] > 0, "yes", "no")
    >>> net = NetClassifier(Net, criterion=torch.nn.CrossEntropyLoss, max_epochs=5,
    ...                     train_split=None, verbose=0, random_state=0).fit(X, y)
    >>> net.predict(X[:3]).tolist()
    ['yes', 'no', 'yes']
    """

    _FITTED_RECORD = "labels_"  # set by fit and partial_fit

    def __init__(self, module, *args, random_state=None, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.random_state = random_state

    @property
    def classes_(self):
        if self._initialized_without_fit():  # (restored parameters)
            if self.classes is None:
                raise AttributeError(
                    f"{type(self).__name__}: classes_ is not known for a net initialised "
                    "without a fit (restored parameters): pass classes=[...] to name the "
                    "module's columns.")
            return np.asarray(self.classes)
        return self.labels_

    def _data_sizes(self):
        labels = getattr(self, "labels_", None)
        return {**super()._data_sizes(), "n_classes": None if labels is None else len(labels)}

    def get_default_callbacks(self):
        """skorch's defaults, with the validation accuracy scored on the encoded labels."""
        return [
            (name, EpochScoring(_code_accuracy, name=name, lower_is_better=False))
            if name == "valid_acc" else (name, callback)
            for name, callback in super().get_default_callbacks()
        ]

    def _check_output(self, y_pred):
        """One column per class, which torch's own error does not say (it names only a
        target out of bounds)."""
        if y_pred.ndim == 2 and y_pred.shape[1] != len(self.labels_):
            raise ValueError(
                f"NetClassifier: the module returned {y_pred.shape[1]} column(s) for "
                f"{len(self.labels_)} classes {self.labels_.tolist()}; it needs one "
                "output per class, in the order of classes_."
            )

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Initialise and train the net.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or skorch-compatible input
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights of the loss.
        **fit_params : dict
            Passed to the module's ``forward``, as in skorch.

        Returns
        -------
        self : NetClassifier
        """
        y = column_or_1d(y, warn=True)
        refuse_non_finite_labels(y, type(self).__name__)
        check_classification_targets(y)
        trained = getattr(getattr(self, "module_", None), _LABELS, None)
        if self._keeps_module() and trained is not None:
            labels = self._warm_labels(y, trained)  # the kept module's columns keep theirs
        else:
            labels = np.unique(y) if self.classes is None else np.asarray(self.classes)
        weight = self._loss_weights(X, len(y), sample_weight)
        X = self._check_input(X, reset=True)  # once y is taken: a refused fit keeps X's record
        self.labels_ = labels
        return self._labelled(self._fit_net(X, _label_codes(labels, y), weight, fit_params))

    def _labelled(self, net):
        """``net``, its module marked with the labels its columns were trained for (a
        module skorch builds anew, at ``initialize`` or a changed ``module__*``, has none:
        a warm start then takes the labels of its ``y``)."""
        setattr(net.module_, _LABELS, net.labels_)
        return net

    def _warm_labels(self, y, labels):
        """The labels of a warm start: those of the kept module, which ``y`` must keep to."""
        given = None if self.classes is None else np.asarray(self.classes)
        present = np.unique(y)
        unknown = present[~np.isin(present, labels)].tolist()
        changed = given is not None and not np.array_equal(given, labels)
        if changed or unknown:
            what = f"classes={given.tolist()!r}" if changed else f"y's labels {unknown!r}"
            raise ValueError(
                f"NetClassifier: warm_start=True keeps the module, whose columns are the "
                f"labels {labels.tolist()!r} of the earlier fit; {what} are not those. "
                "Refit with warm_start=False for new labels.")
        return labels

    def partial_fit(self, X, y, classes=None, sample_weight=None, **fit_params):
        """Train the net for ``max_epochs`` more epochs, initialising it at the first call.

        The first call (on a net not fitted) fixes the labels: ``classes``, else the
        ``classes`` parameter, else those in ``y``; later calls take those labels only.
        ``random_state`` seeds torch at that first call.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or skorch-compatible input
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every label the net will see, at the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights of the loss.
        **fit_params : dict
            Passed to the module's ``forward``, as in skorch.

        Returns
        -------
        self : NetClassifier
        """
        if getattr(self, "_in_fit_", False):  # skorch's fit, on the codes fit made
            return super().partial_fit(X, y, classes, **fit_params)
        first = not hasattr(self, "labels_")
        if not first and classes is not None and not np.array_equal(classes, self.labels_):
            raise ValueError(f"NetClassifier: classes={list(classes)!r} differs from the "
                             f"labels of the first call, {self.labels_.tolist()!r}.")
        y = column_or_1d(y, warn=True)
        refuse_non_finite_labels(y, type(self).__name__)
        weight = self._loss_weights(X, len(y), sample_weight)
        X = self._check_input(X, reset=first)
        if first:
            check_classification_targets(y)
            given = self.classes if classes is None else classes
            self.labels_ = np.unique(y) if given is None else np.asarray(given)
        return self._labelled(self._fit_net(X, _label_codes(self.labels_, y), weight,
                                            fit_params, partial=True))

    def predict_proba(self, X):
        """Class probabilities, one column per label in ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or skorch-compatible input

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        proba = super().predict_proba(self._check_input(X, reset=False))
        n_classes = len(self._predicted_labels(proba))
        if proba.ndim != 2 or proba.shape[1] != n_classes:
            raise ValueError(
                f"The module returned shape {proba.shape} for {n_classes} classes; "
                "it must return one column per class (pass classes=... when a training "
                "set may lack some)."
            )
        return proba

    def predict(self, X):
        """The most probable label of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or skorch-compatible input

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)  # first: it says so when the net is not fitted
        return self._predicted_labels(proba)[proba.argmax(axis=1)]

    def _predicted_labels(self, proba):
        """The labels of ``proba``'s columns: ``classes_``; for restored parameters
        without ``classes``, the class codes 0 to k-1 (what skorch's predict returns)."""
        if self._initialized_without_fit() and self.classes is None:
            return np.arange(proba.shape[1] if proba.ndim == 2 else 0)
        return self.classes_


def _regressors_have_no_proba(net):
    raise AttributeError(
        f"predict_proba is not available on {type(net).__name__}: a regressor has none "
        "(skorch's would give the module's raw outputs); use predict."
    )


class NetRegressor(_MemberNet, NeuralNetRegressor):
    """A skorch ``NeuralNetRegressor`` that behaves as a scikit-learn member.

    Takes every argument of :class:`skorch.NeuralNetRegressor`, plus ``random_state``.
    Unlike a plain skorch net, a 1-D ``y`` is trained as one output column (not
    broadcast against it) and predicted as a 1-D array; ``X`` and ``y`` are cast to
    float32, ``n_features_in_`` is recorded, ``sample_weight`` weights the per-row
    loss, torch is seeded in ``fit``, and prediction runs on slices of one tensor. It
    has no ``predict_proba`` (skorch's regressor inherits one), as a scikit-learn
    regressor has none. A module class whose signature names ``n_features_in`` or
    ``n_outputs`` is given them when a fit builds the module (``n_features_in_``,
    ``n_outputs_``), unless ``module__n_features_in`` or ``module__n_outputs`` sets
    them.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network; it returns one column per target.
    *args
        Passed on to :class:`skorch.NeuralNetRegressor`.
    random_state : int, RandomState instance or None, default=None
        Seeds torch's global generator at the start of ``fit``, and NumPy's for the
        fit's length (what a shuffled ``ValidSplit`` without a seed of its own draws;
        its state is restored after). None leaves both as they are. Seeded fits in
        threads of one process train one at a time, as in :class:`NetClassifier`.
    **kwargs
        Passed on to :class:`skorch.NeuralNetRegressor`.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns of ``X`` (an array or a frame; not skorch's dicts or datasets).
    feature_names_in_ : ndarray of str
        Names of the columns of ``X``, when it is a DataFrame with string column names.
    module_ : torch.nn.Module
        The fitted network. skorch's own fitted attributes (``history_``,
        ``optimizer_``, ``criterion_``, ``callbacks_``, ...) are set as well.
    y_ndim_ : int
        1 or 2: the dimensions of ``y`` at fit, which ``predict``'s output takes.
    n_outputs_ : int
        Number of targets: the columns of a 2-D ``y``, 1 for a 1-D one.

    See Also
    --------
    NetClassifier : The classification counterpart.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skfuse.torch import NetRegressor
    >>> X = np.random.RandomState(0).normal(size=(40, 3))
    >>> y = X @ [1.0, -2.0, 0.5]
    >>> net = NetRegressor(torch.nn.Linear, module__in_features=3, module__out_features=1,
    ...                    max_epochs=5, train_split=None, verbose=0, random_state=0)
    >>> net.fit(X, y).predict(X[:2]).shape
    (2,)
    """

    _FITTED_RECORD = "y_ndim_"  # set by fit and partial_fit

    def __init__(self, module, *args, random_state=None, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # one column per output of its module
        return tags

    def _data_sizes(self):
        return {**super()._data_sizes(), "n_outputs": getattr(self, "n_outputs_", None)}

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Initialise and train the net.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or skorch-compatible input
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights of the loss.
        **fit_params : dict
            Passed to the module's ``forward``, as in skorch.

        Returns
        -------
        self : NetRegressor
        """
        y = _checked_targets(y, type(self).__name__)
        weight = self._loss_weights(X, len(y), sample_weight)
        y_ndim, y = y.ndim, y.reshape(len(y), -1)
        kept = getattr(self, "n_outputs_", None) if self._keeps_module() else None
        if kept is not None and y.shape[1] != kept:  # before any record changes
            raise ValueError(
                f"NetRegressor: warm_start=True keeps the module, whose {kept} output(s) "
                f"are the targets of the earlier fit; y has {y.shape[1]}. Refit with "
                "warm_start=False for other targets.")
        X = self._check_input(X, reset=True)
        self.y_ndim_, self.n_outputs_ = y_ndim, y.shape[1]
        return self._fit_net(X, y, weight, fit_params)

    def partial_fit(self, X, y, sample_weight=None, **fit_params):
        """Train the net for ``max_epochs`` more epochs, initialising it at the first call.

        ``random_state`` seeds torch at the first call (on a net not fitted); later
        calls take ``y`` of the same number of dimensions.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or skorch-compatible input
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights of the loss.
        **fit_params : dict
            Passed to the module's ``forward``, as in skorch.

        Returns
        -------
        self : NetRegressor
        """
        if getattr(self, "_in_fit_", False):  # skorch's fit, on the targets fit made
            return super().partial_fit(X, y, **fit_params)
        first = not hasattr(self, "y_ndim_")
        y = _checked_targets(y, type(self).__name__)
        if not first and y.ndim != self.y_ndim_:
            raise ValueError(f"NetRegressor: y has {y.ndim} dimension(s); the net was "
                             f"trained on {self.y_ndim_}-D targets.")
        weight = self._loss_weights(X, len(y), sample_weight)
        X = self._check_input(X, reset=first)
        self.y_ndim_ = y.ndim
        y = y.reshape(len(y), -1)
        if first:
            self.n_outputs_ = y.shape[1]
        return self._fit_net(X, y, weight, fit_params, partial=True)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The loss; outputs that do not match the targets' shape are refused, not broadcast.

        Parameters
        ----------
        y_pred : torch.Tensor
            The module's output on the batch.
        y_true : torch.Tensor
            The batch's targets.
        X : torch.Tensor, dict or None, default=None
            The batch's input.
        training : bool, default=False
            Whether the net is training.

        Returns
        -------
        loss : torch.Tensor
        """
        if isinstance(y_pred, torch.Tensor) and y_pred.shape != y_true.shape:
            raise ValueError(
                f"The module returned shape {tuple(y_pred.shape)} for targets of shape "
                f"{tuple(y_true.shape)}; it must return one column per target."
            )
        return super().get_loss(y_pred, y_true, X=X, training=training)

    def predict(self, X):
        """Predicted targets: 1-D when ``y`` was 1-D.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or skorch-compatible input

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        check_is_fitted(self)
        # skorch's predict calls predict_proba, which this class hides.
        out = NeuralNetRegressor.predict_proba(self, self._check_input(X, reset=False))
        if hasattr(self, "y_ndim_"):
            return out.reshape(-1) if self.y_ndim_ == 1 else out
        # Restored parameters (no fit here): 1-D for a module of one output, as scikit-learn
        # predicts one target.
        return out.reshape(-1) if out.ndim == 1 or out.shape[1] == 1 else out

    @available_if(_regressors_have_no_proba)
    def predict_proba(self, X):
        """Hidden: skorch's regressor inherits ``predict_proba`` (its raw outputs), which
        a scikit-learn regressor has not; ``stack_method="auto"`` would take it.

        Parameters
        ----------
        X : array-like
            Never read: ``hasattr(net, "predict_proba")`` is False.
        """
