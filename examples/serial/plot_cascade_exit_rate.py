"""
How many rows a cheap first step can answer
============================================

A confidence cascade lets a cheap model answer the rows it is sure of and passes the
rest to a costly one. ``exit_threshold="auto"`` picks the lowest threshold at which the
cascade's out-of-fold accuracy stays within ``cascade_tolerance`` (half a point) of the
costly step's, with confidence ``cascade_confidence`` (a one-sided 99% bound by
default). ``CascadeDisplay`` sweeps the first step's threshold on held-out rows and
draws the share of rows the cheap step answers against the cascade's accuracy, with the
fitted threshold marked.

On the breast cancer data, Gaussian naive Bayes, fitted in milliseconds, is very sure of
most rows, but wrong on a few of them. On the out-of-fold mean alone
(``cascade_confidence=0.5``) letting most rows exit looks within half a point, and
gradient boosting would answer the rest; with 99% confidence it is not, and no row
exits. (This is scikit-learn 1.9's gradient boosting; earlier releases bin its
features otherwise, its out-of-fold accuracy differs, and there most rows exit.) On the held-out rows the looser cascade indeed loses more than half a point. When
the cheap step is as accurate as the costly one (a scaled logistic regression is,
here), the cheap step answers all but about 1% of the rows (its least confident ones):
the cascade then says the costly step is hardly needed.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfuse import SerialStack
from skfuse.plotting import CascadeDisplay

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
cascade = SerialStack(
    [("cheap", GaussianNB()),
     ("costly", HistGradientBoostingClassifier(max_iter=200, random_state=0))],
    exit_threshold="auto", random_state=0,
).fit(X_train, y_train)
print("threshold:", cascade.exit_thresholds_.round(3),
      "out-of-fold exit rates:", cascade.exit_rates_.round(3))
print(f"held-out accuracy: cascade {cascade.score(X_test, y_test):.3f}, costly step "
      f"alone {cascade.named_steps_['costly'].score(X_test, y_test):.3f}, cheap step alone "
      f"{cascade.named_steps_['cheap'].score(X_test, y_test):.3f}")
print(f"held-out rows the cheap step answered: {(cascade.predict_route(X_test) == 0).mean():.2f}")

# %%
# On the out-of-fold mean alone, most rows would exit at the first step.
loose = clone(cascade).set_params(cascade_confidence=0.5).fit(X_train, y_train)
print("cascade_confidence=0.5: threshold", loose.exit_thresholds_.round(3),
      "out-of-fold exit rates", loose.exit_rates_.round(3),
      f"held-out accuracy {loose.score(X_test, y_test):.3f}")

# %%
# With a cheap step as accurate as the costly one, nearly every row exits at the first
# step.
linear = clone(cascade).set_params(
    cheap=make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
).fit(X_train, y_train)
print("logistic regression first: threshold", linear.exit_thresholds_.round(3),
      "out-of-fold exit rates", linear.exit_rates_.round(3))


# %%
display = CascadeDisplay.from_estimator(loose, X_test, y_test)
display.ax_.set_title("breast cancer, held-out rows (cascade_confidence=0.5)")
plt.show()
