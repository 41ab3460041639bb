"""skfuse: compose several scikit-learn models into one.

Parallel fusion with learned weights (:class:`FusionClassifier`,
:class:`FusionRegressor`); serial fusion, as multi-level stacking or a confidence
cascade (:class:`SerialStack`).
"""

from ._fusion import FusionClassifier, FusionRegressor
from ._serial import SerialStack

__version__ = "0.1.0.dev0"

__all__ = ["FusionClassifier", "FusionRegressor", "SerialStack", "__version__"]
