"""The one place where skfuse touches scikit-learn's private API.

A scikit-learn refactor that moves one of these names should only need a change here.
"""

from sklearn.utils._repr_html.estimator import _VisualBlock
from sklearn.utils.metaestimators import _BaseComposition

__all__ = ["_BaseComposition", "_VisualBlock"]
