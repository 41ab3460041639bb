"""
Learned fusion weights and the greedy selection path
=====================================================

``FusionClassifier`` learns its weights from out-of-fold predictions: each member is
fitted on every training fold and asked about the rows it did not see, and the weights
are chosen to score best on those predictions. ``weights="optimize"`` solves for them on
the simplex; ``weights="greedy"`` is ensemble selection (Caruana et al., 2004): each
round adds, with replacement, the member that helps most, and the weights are the
selection counts of the best-scoring prefix of that path. Each member then predicts
with the mean of its fold fits (``refit=False``, the classifier's default), the same
fits that made the out-of-fold predictions.

On the handwritten digits bundled with scikit-learn, five members of different kinds
are fused both ways. ``FusionWeightsDisplay`` draws the learned weights beside each
member's out-of-fold log loss alone, and the greedy path: the fused score after each
round, labelled with the member added.
"""

# %%
# Five members, fused two ways
# ----------------------------
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from skfuse import FusionClassifier
from skfuse.plotting import FusionWeightsDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
members = [
    ("logistic", make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=500))),
    ("knn", KNeighborsClassifier(n_neighbors=5)),
    ("extra trees", ExtraTreesClassifier(n_estimators=100, random_state=0)),
    ("naive bayes", GaussianNB()),
    ("tree", DecisionTreeClassifier(max_depth=8, random_state=0)),
]
optimized = FusionClassifier(members, weights="optimize", cv=5, random_state=0)
greedy = FusionClassifier(members, weights="greedy", selection_rounds=15, cv=5,
                          random_state=0)
for fusion in (optimized, greedy):
    fusion.fit(X_train, y_train)

# %%
# Held-out accuracy: each member alone and both fusions
# ------------------------------------------------------
# Each member as the fusion holds it: the mean of its five fold fits.
print(f"{'model':<22} held-out accuracy")
for name, member in optimized.named_estimators_.items():
    print(f"{name:<22} {member.score(X_test, y_test):.3f}")
for name, fusion in [("fusion (optimize)", optimized), ("fusion (greedy)", greedy)]:
    print(f"{name:<22} {fusion.score(X_test, y_test):.3f}")

# %%
# The weights, and how greedy selection got there
# ------------------------------------------------
# The scores are minus the out-of-fold log loss (higher is better). The nearest
# neighbours are the best member alone and carry most of the weight; but their
# probabilities are votes of five neighbours, often exactly 0 for the true class, and
# log loss punishes those hard. A little of the logistic regression's smoother
# probabilities removes most of that loss: it is the second member greedy selection
# adds, and the optimiser too puts nearly all the weight on the neighbours, with
# slivers of the other members.
fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.5),
                                          constrained_layout=True)
FusionWeightsDisplay.from_estimator(optimized, ax=left)
left.set_title('weights="optimize"')
FusionWeightsDisplay.from_estimator(greedy, ax=middle)
middle.set_title('weights="greedy"')
FusionWeightsDisplay.from_estimator(greedy, kind="path", ax=right)
plt.show()
