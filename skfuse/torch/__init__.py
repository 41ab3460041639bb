"""Neural members and experts: skorch nets as members, and neural mixtures of experts in torch.

Needs torch and skorch, the optional extra ``torch`` (``pip install -e ".[torch]"`` from
a clone). The rest of skfuse imports without it.
"""

try:
    import torch  # noqa: F401
    import skorch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "skfuse.torch needs torch and skorch: pip install torch skorch (skfuse's "
        '"torch" extra: pip install -e ".[torch]" from a clone).'
    ) from exc

from ._members import NetClassifier, NetRegressor
from ._mixture import NeuralMixtureOfExpertsClassifier, NeuralMixtureOfExpertsRegressor

__all__ = [
    "NetClassifier",
    "NetRegressor",
    "NeuralMixtureOfExpertsClassifier",
    "NeuralMixtureOfExpertsRegressor",
]
