"""The one place where skfuse touches scikit-learn's private API.

A scikit-learn refactor that moves one of these names should only need a change here.
Parameter declarations (``_parameter_constraints``) and ``_fit_context`` come from here
as well, as imbalanced-learn takes them.
"""

import weakref

from sklearn.base import BaseEstimator, _fit_context
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    RealNotInt,
    StrOptions,
)
from sklearn.utils._repr_html.estimator import _VisualBlock
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import _get_feature_names

# Where scikit-learn's own code runs between a user's call and a composite's fit
# (_fit_context's wrapper, TransformerMixin.fit_transform, the wrappers of set_output
# and available_if): modules, and the name of _fit_context's inner function. Warnings
# are pointed past them at the user's line.
SKLEARN_WRAPPER_MODULES = ("sklearn.base", "sklearn.utils._set_output",
                           "sklearn.utils._available_if")
FIT_CONTEXT_WRAPPER = ("sklearn.base", "wrapper")



_NAMES = weakref.WeakKeyDictionary()  # class -> (its __init__, its parameter names)


def param_names(cls):
    """The names of ``cls``'s parameters (its ``get_params`` keys), sorted: scikit-learn's
    listing, which inspects the constructor's signature at every call, read once per
    class (again if its ``__init__`` is replaced)."""
    init, names = _NAMES.get(cls, (None, None))
    if init is not cls.__init__:
        names = tuple(cls._get_param_names())
        _NAMES[cls] = (cls.__init__, names)
    return names


def lists_params_as_sklearn(cls):
    """Whether ``cls`` lists its parameters with scikit-learn's own ``get_params`` and
    ``_get_param_names``, which :func:`shallow_params` may then read by name."""
    names = getattr(getattr(cls, "_get_param_names", None), "__func__", None)
    return (getattr(cls, "get_params", None) is BaseEstimator.get_params
            and names is BaseEstimator._get_param_names.__func__)


def shallow_params(estimator):
    """``estimator.get_params(deep=False)``, with the names read once per class
    (:func:`param_names`) where it lists them as scikit-learn does."""
    if lists_params_as_sklearn(type(estimator)):
        return {name: getattr(estimator, name) for name in param_names(type(estimator))}
    return estimator.get_params(deep=False)


__all__ = [
    "FIT_CONTEXT_WRAPPER",
    "SKLEARN_WRAPPER_MODULES",
    "BaseSearchCV",
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "RealNotInt",
    "StrOptions",
    "_BaseComposition",
    "_VisualBlock",
    "_fit_context",
    "_get_feature_names",
    "_get_output_config",
    "lists_params_as_sklearn",
    "param_names",
    "shallow_params",
]
