"""The one place where skfuse touches scikit-learn's private API.

A scikit-learn refactor that moves one of these names should only need a change here.
Parameter declarations (``_parameter_constraints``) and ``_fit_context`` come from here
as well, as imbalanced-learn takes them.
"""

from sklearn.base import _fit_context
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
]
