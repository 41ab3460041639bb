"""skfuse: compose several scikit-learn models into one.

Parallel fusion with learned weights (:class:`FusionClassifier`,
:class:`FusionRegressor`); serial fusion, as multi-level stacking or a confidence
cascade (:class:`SerialStack`); mixtures of experts routed by a gate
(:class:`MixtureOfExpertsRegressor`, :class:`MixtureOfExpertsClassifier`) on the
compiled routing core :mod:`skfuse.routing`; distillation of any of them into one
fast model (:class:`DistilledClassifier`, :class:`DistilledRegressor`).
"""

from ._distill import DistilledClassifier, DistilledRegressor
from ._fusion import FusionClassifier, FusionRegressor
from ._mixture import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from ._serial import SerialStack

__version__ = "0.1.0.dev0"

__all__ = [
    "DistilledClassifier",
    "DistilledRegressor",
    "FusionClassifier",
    "FusionRegressor",
    "MixtureOfExpertsClassifier",
    "MixtureOfExpertsRegressor",
    "SerialStack",
    "__version__",
]
