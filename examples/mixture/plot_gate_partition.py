"""
Where a mixture's gate sends each row
=====================================

Four linear regimes on a square: in each quadrant the target is a different linear
function of the two features. A mixture of four ridge experts with ``top_k=1`` learns
both the regimes and a gate that routes every row to one expert. ``ExpertRoutingDisplay``
colours the plane by the gate's top expert and gives each expert's share of the gate's
weight on the training rows (with ``top_k=1``, its share of those rows). The gate's
penalty is light (``gate_alpha=0.001``): the default (``"auto"``, which picks among
0.1, 1 and 0.01 on a validation slice, 0.1 here) blends experts near the boundaries,
which costs accuracy when the regimes meet sharply. Gradient boosting is
printed beside the mixture for reference; the mixture's error here is the noise's.
"""

# %%
import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

from skfuse import MixtureOfExpertsRegressor
from skfuse.plotting import ExpertRoutingDisplay

rng = np.random.RandomState(0)
X = rng.uniform(-2, 2, size=(2000, 2))
quadrant = 2 * (X[:, 0] > 0) + (X[:, 1] > 0)
slopes = np.array([[3.0, -1.0], [-2.0, 2.0], [1.0, 3.0], [-3.0, -2.0]])
y = np.einsum("ij,ij->i", X, slopes[quadrant]) + 2.0 * quadrant + rng.normal(0, 0.1, 2000)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

moe = MixtureOfExpertsRegressor(Ridge(), n_experts=4, top_k=1, gate_alpha=0.001,
                                random_state=0).fit(X_train, y_train)
hgb = HistGradientBoostingRegressor(random_state=0).fit(X_train, y_train)
rmse = {name: float(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2)))
        for name, model in [("mixture", moe), ("gradient boosting", hgb)]}
print("held-out RMSE:", {k: round(v, 3) for k, v in rmse.items()})
print("expert usage:", moe.expert_usage_.round(2))

# %%
display = ExpertRoutingDisplay.from_estimator(moe, X_test)
