"""skfuse: compose several scikit-learn models into one.

Parallel fusion with learned weights (:class:`FusionClassifier`,
:class:`FusionRegressor`).
"""

from ._fusion import FusionClassifier, FusionRegressor

__version__ = "0.1.0.dev0"

__all__ = ["FusionClassifier", "FusionRegressor", "__version__"]
