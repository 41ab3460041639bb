"""One object per row: a 1-D list, tuple, array or Series of texts (or dicts) reaches the
members as a 1-D object array, as scikit-learn's voting and stacking hand raw text on."""

import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skfuse import (
    DistilledClassifier,
    FusionClassifier,
    FusionRegressor,
    MixtureOfExpertsClassifier,
    SerialStack,
)

WORDS = np.array(["good", "great", "fine", "bad", "awful", "poor", "film", "plot", "cast"])


def _texts(n=80, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    texts = [" ".join(rng.choice(WORDS[:3] if label else WORDS[3:6], 2).tolist()
                      + rng.choice(WORDS[6:], 2).tolist()) for label in y]
    return texts, y


def _members():
    return [("lr", make_pipeline(TfidfVectorizer(), LogisticRegression())),
            ("nb", make_pipeline(TfidfVectorizer(), MultinomialNB()))]


class _Recorder(ClassifierMixin, BaseEstimator):
    """Records the type, dtype and shape of the X it is fitted on and asked about."""

    def fit(self, X, y):
        self.seen_ = [(type(X), X.dtype, X.shape)]
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        self.seen_.append((type(X), X.dtype, X.shape))
        return np.full((len(X), len(self.classes_)), 1.0 / len(self.classes_))


@pytest.mark.parametrize("kind", ["list", "tuple", "array", "series"])
def test_fusion_of_text_pipelines_matches_voting(kind):
    texts, y = _texts()
    X = {"list": texts, "tuple": tuple(texts), "array": np.array(texts),
         "series": pd.Series(texts)}[kind]
    fusion = FusionClassifier(_members(), weights=[2, 1]).fit(X, y)
    voting = VotingClassifier(_members(), voting="soft", weights=[2, 1]).fit(X, y)
    new = ["good film", "awful cast", "fine plot"]
    assert_allclose(fusion.predict_proba(new), voting.predict_proba(new))
    assert not hasattr(fusion, "n_features_in_")
    assert not hasattr(fusion, "feature_names_in_")


def test_members_get_a_1d_object_array():
    texts, y = _texts(30)
    fusion = FusionClassifier([("rec", _Recorder())]).fit(texts, y)
    fusion.predict_proba(texts[:5])
    seen = fusion.named_estimators_["rec"].seen_
    assert seen == [(np.ndarray, np.dtype(object), (30,)),
                    (np.ndarray, np.dtype(object), (5,))]


def test_learned_weights_cascades_stacks_and_regression_take_texts():
    texts, y = _texts(120)
    new = ["good plot", "poor cast"]
    learned = FusionClassifier(_members(), weights="optimize", random_state=0).fit(texts, y)
    assert learned.predict_proba(new).shape == (2, 2)
    cascade = SerialStack(_members(), exit_threshold="auto", random_state=0).fit(texts, y)
    assert cascade.predict_route(new).shape == (2,)
    stack = SerialStack([("fusion", FusionClassifier(_members())),
                         ("final", LogisticRegression())])
    assert cross_val_score(stack, texts, y, cv=3).mean() > 0.9
    target = y + np.random.RandomState(0).normal(scale=0.1, size=y.size)
    ridges = [("a", make_pipeline(TfidfVectorizer(), Ridge())),
              ("b", make_pipeline(TfidfVectorizer(), Ridge(alpha=5.0)))]
    fused = FusionRegressor(ridges).fit(texts, target)
    assert_allclose(fused.predict(new), VotingRegressor(ridges).fit(texts, target).predict(new))


def test_dicts_are_rows_too():
    rows = [{"colour": c, "size": s} for c, s in zip("rgbrgbrgbr" * 4, range(40))]
    y = np.array([int(r["colour"] == "r") for r in rows])
    members = [("lr", make_pipeline(DictVectorizer(), LogisticRegression()))]
    fusion = FusionClassifier(members).fit(rows, y)
    assert_array_equal(fusion.predict(rows[:3]), [1, 0, 0])


def test_cached_search_over_texts_equals_the_uncached_one(tmp_path):
    texts, y = _texts(90)
    grid = {"weights": [[1, 1], [1, 3], [3, 1]]}
    plain = GridSearchCV(FusionClassifier(_members()), grid, cv=3).fit(texts, y)
    cached = GridSearchCV(FusionClassifier(_members(), memory=tmp_path), grid, cv=3)
    cached.fit(texts, y)
    assert_allclose(cached.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"])


def test_a_pickled_text_fusion_predicts_the_same():
    texts, y = _texts()
    fusion = FusionClassifier(_members(), weights="optimize", random_state=0).fit(texts, y)
    again = pickle.loads(pickle.dumps(fusion))
    assert_allclose(again.predict_proba(texts), fusion.predict_proba(texts))


def test_1d_numbers_are_still_refused_as_scikit_learn_refuses_them():
    with pytest.raises(ValueError, match="Expected 2D array"):
        FusionClassifier([("lr", LogisticRegression())]).fit(np.arange(10.0), [0, 1] * 5)


def test_the_kind_of_x_at_predict_must_match_fit():
    texts, y = _texts(30)
    on_texts = FusionClassifier(_members()).fit(texts, y)
    with pytest.raises(ValueError, match=r"fitted on one object per row .* given columns"):
        on_texts.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="given a single str; give a list of them"):
        on_texts.predict("good film")
    on_columns = FusionClassifier([("lr", LogisticRegression())]).fit(np.eye(30)[:, :3], y)
    with pytest.raises(ValueError, match=r"fitted on columns \(2-D X\), and is given one"):
        on_columns.predict(["good film"])


@pytest.mark.parametrize("make", [
    lambda: DistilledClassifier(FusionClassifier(_members()),
                                make_pipeline(TfidfVectorizer(), LogisticRegression())),
    lambda: SerialStack(_members(), exit_threshold=0.9),
])
def test_every_composite_fitted_on_texts_refuses_columns(make):
    texts, y = _texts(60)
    fitted = make().fit(texts, y)
    with pytest.raises(ValueError, match="fitted on one object per row"):
        fitted.predict(np.zeros((2, 3)))


def test_a_refit_on_texts_forgets_the_column_count():
    texts, y = _texts(40)
    fusion = FusionClassifier([("m", LogisticRegression())]).fit(np.c_[y, -y], y)
    assert fusion.n_features_in_ == 2
    fusion.set_params(m=make_pipeline(TfidfVectorizer(), LogisticRegression())).fit(texts, y)
    assert not hasattr(fusion, "n_features_in_")
    assert_array_equal(fusion.predict(texts[:5]), y[:5])


def test_missing_texts_reach_members_that_handle_them():
    texts, y = _texts(40)
    texts[3] = None
    fill = make_pipeline(FunctionTransformer(lambda rows: ["" if t is None else t for t in rows]),
                         TfidfVectorizer(), LogisticRegression())
    fusion = FusionClassifier([("lr", fill)]).fit(texts, y)
    voting = VotingClassifier([("lr", fill)], voting="soft").fit(texts, y)
    assert_allclose(fusion.predict_proba(texts[:6]), voting.predict_proba(texts[:6]))


def _fill_missing(rows):
    return ["" if t is None or t is pd.NA or (isinstance(t, float) and t != t) else t
            for t in rows]


@pytest.mark.parametrize("make", [
    lambda member: FusionClassifier([("lr", member)]),
    lambda member: SerialStack([("lr", member), ("nb", member)], exit_threshold=0.9, cv=3),
])
def test_rows_that_all_miss_their_text_are_asked_about_as_rows(make):
    # One row served at a time: a missing text alone was refused as no text at all.
    texts, y = _texts(40)
    fill = make_pipeline(FunctionTransformer(_fill_missing), TfidfVectorizer(),
                         LogisticRegression())
    composite = make(fill).fit(texts, y)
    alone = clone(fill).fit(texts, y)
    for missing in ([None], [np.nan, None], np.array([np.nan]), pd.Series([np.nan])):
        assert_allclose(composite.predict_proba(missing),
                        alone.predict_proba(np.array(missing, dtype=object)))
    with pytest.raises(ValueError, match="fitted on one object per row"):
        composite.predict([1.5])  # a number is no missing text


def test_pandas_text_with_na_is_one_object_per_row():
    texts, y = _texts(40)
    texts[3] = None
    fill = make_pipeline(FunctionTransformer(_fill_missing), TfidfVectorizer(),
                         LogisticRegression())
    as_strings = pd.Series(texts, dtype="string")  # None becomes pd.NA
    fusion = FusionClassifier([("lr", fill)]).fit(as_strings, y)
    plain = FusionClassifier([("lr", fill)]).fit(texts, y)
    assert_allclose(fusion.predict_proba(as_strings), plain.predict_proba(texts))


def test_names_out_need_no_column_count():
    texts, y = _texts(40)
    def stack(members):
        return SerialStack([("fusion", FusionClassifier(members)),
                            ("final", LogisticRegression())])

    on_columns = stack([("lr", LogisticRegression()), ("nb", LogisticRegression(C=0.1))])
    on_columns.fit(np.c_[y, -y], y)
    assert_array_equal(stack(_members()).fit(texts, y).get_feature_names_out(),
                       on_columns.get_feature_names_out())
    fusion = FusionClassifier(_members()).fit(texts, y)
    with pytest.raises(ValueError, match="no columns for input_features to name"):
        fusion.get_feature_names_out(["text", "other"])
    # One name: the column a ColumnTransformer takes the texts from.
    assert_array_equal(fusion.get_feature_names_out(["text"]),
                       fusion.get_feature_names_out())


def test_a_composite_on_a_text_column_of_a_column_transformer_names_its_outputs():
    # The ColumnTransformer hands each part the names of its columns: ["text"] here,
    # which a composite fitted on 1-D X refused, so no names and no pandas output.
    from sklearn.compose import ColumnTransformer

    texts, y = _texts(40)
    frame = pd.DataFrame({"text": texts, "num": np.arange(40.0)})
    for composite in (FusionClassifier(_members()),
                      SerialStack([("fusion", FusionClassifier(_members())),
                                   ("final", LogisticRegression())])):
        columns = ColumnTransformer([("m", composite, "text"), ("n", "passthrough", ["num"])])
        out = columns.set_output(transform="pandas").fit_transform(frame, y)
        names = [f"m__{name}" for name in columns.named_transformers_["m"]
                 .get_feature_names_out()] + ["n__num"]
        assert list(out.columns) == names == list(columns.get_feature_names_out())
        assert_allclose(out.iloc[:, :-1].to_numpy(),
                        columns.named_transformers_["m"].transform(texts))


def test_a_refused_fit_on_texts_leaves_the_last_fit_usable():
    texts, y = _texts(40)
    X = np.c_[y, 1.0 - y] + np.random.RandomState(0).normal(scale=0.1, size=(40, 2))
    mixture = MixtureOfExpertsClassifier(LogisticRegression(), n_experts=2, random_state=0)
    before = mixture.fit(X, y).predict_proba(X)
    with pytest.raises(ValueError, match="no columns for the gate"):
        mixture.fit(texts, y)
    assert_allclose(mixture.predict_proba(X), before)


@pytest.mark.parametrize("make, message", [
    (lambda: FusionClassifier(_members(), views={"lr": [0]}), "FusionClassifier: views"),
    (lambda: SerialStack([("f", FusionClassifier(_members())), ("final", LogisticRegression())],
                         passthrough=True), "SerialStack: passthrough"),
    (lambda: SerialStack(_members(), exit_threshold=0.9, views={"lr": [0]}),
     "SerialStack: views"),
    (lambda: MixtureOfExpertsClassifier(make_pipeline(TfidfVectorizer(), LogisticRegression())),
     "MixtureOfExpertsClassifier: the gate"),
    (lambda: DistilledClassifier(FusionClassifier(_members()),
                                 make_pipeline(TfidfVectorizer(), LogisticRegression()),
                                 augment="munge"), "DistilledClassifier: augment='munge'"),
])
def test_what_needs_columns_refuses_texts(make, message):
    texts, y = _texts(40)
    owner, what = message.split(": ")
    with pytest.raises(ValueError, match=f"^{owner}: X is 1-D .* no columns for {what}.$"):
        make().fit(texts, y)


def test_a_distilled_text_student():
    texts, y = _texts(120)
    student = make_pipeline(TfidfVectorizer(), LogisticRegression())
    distilled = DistilledClassifier(FusionClassifier(_members()), student, random_state=0)
    distilled.fit(texts, y)
    assert distilled.score(texts, y) > 0.9


@pytest.mark.parametrize("make", [
    lambda: FusionClassifier(_members()),
    lambda: SerialStack(_members(), cv=3),
    lambda: DistilledClassifier(FusionClassifier(_members()[:1]), _members()[0][1], cv=3),
])
@pytest.mark.parametrize("container", ["list", "string"])
def test_a_member_that_refuses_missing_texts_is_told_how_to_map_them(make, container):
    # pandas' string dtype marks a missing text NA, on which a vectorizer fails with
    # "'NAType' object has no attribute 'lower'": that went unrecognised, and the user
    # read the vectorizer's AttributeError.
    pd = pytest.importorskip("pandas")
    texts, y = _texts(40)
    texts[3] = None
    if container == "string":
        texts = pd.Series(texts, dtype="string")
    refusal = (r"its text is missing \(None or NaN\) on 1 row.* Map the missing entries "
               r".*FunctionTransformer")
    with pytest.raises(ValueError, match=refusal) as refused:
        make().fit(texts, y)
    assert "SimpleImputer" not in str(refused.value)  # it takes no 1-D texts
    # At predict too, where a batch of missing texts alone is a float column. (A stack
    # of these members is a stack of text readers: its final step reads no texts.)
    model = make()
    if isinstance(model, SerialStack):
        return
    fitted = model.fit(texts[4:], y[4:])
    for missing in (pd.Series([np.nan]), pd.Series(["good", None], dtype="string")):
        with pytest.raises(ValueError, match=r"its text is missing \(None or NaN\) on 1 row"):
            fitted.predict(missing)


def test_one_step_stack_on_texts_has_no_columns_to_transform_or_name():
    """A one-step stack hands its step X as it is: texts have no columns to return or
    name, which both methods say (names came back empty beside a 1-D transform, and a
    pandas container failed on the mismatch)."""
    texts, y = _texts()
    stack = SerialStack([("lr", _members()[0][1])], cv=2).fit(texts, y)
    assert not hasattr(stack, "transform")
    for call in (lambda: stack.transform(texts), lambda: stack.get_feature_names_out(),
                 lambda: clone(stack).set_output(transform="pandas").fit(texts, y)
                 .transform(texts)):
        with pytest.raises(AttributeError) as raised:
            call()
        # (behind set_output's wrapper, scikit-learn's own words, caused by ours)
        assert "one-step stack fitted on one object per row (1-D X)" in (
            f"{raised.value} {raised.value.__cause__}")
    assert_array_equal(stack.predict(texts), stack.steps_[0][1].predict(texts))


def test_one_step_stack_on_texts_keeps_its_final_steps_methods():
    # The one-step refusal (texts have no columns) is for transform and feature names:
    # the final step's predict_proba and decision_function were refused with it.
    texts, y = _texts()
    stack = SerialStack([("lr", _members()[0][1])], cv=2).fit(texts, y)
    step = stack.steps_[0][1]
    assert hasattr(stack, "predict_proba") and hasattr(stack, "decision_function")
    assert_allclose(stack.predict_proba(texts), step.predict_proba(texts))
    assert_allclose(stack.decision_function(texts), step.decision_function(texts))
    assert not hasattr(stack, "transform")
