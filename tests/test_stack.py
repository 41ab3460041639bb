"""Stacking (``SerialStack`` with ``exit_threshold=None``) against scikit-learn's own
``StackingClassifier`` and ``StackingRegressor`` on the same folds."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler

from skfuse import FusionClassifier, SerialStack

CANCER_X, CANCER_Y = load_breast_cancer(return_X_y=True)
CANCER_X = StandardScaler().fit_transform(CANCER_X)
FOLDS = StratifiedKFold(3, shuffle=True, random_state=0)


def members():
    return [("lr", LogisticRegression()), ("nb", GaussianNB())]


def labels(kind):
    return CANCER_Y if kind == "int" else np.array(["malignant", "benign"])[CANCER_Y]


def weights(kind):
    if kind is None:
        return None
    return np.random.RandomState(0).uniform(0.2, 3.0, size=len(CANCER_Y))


@pytest.mark.parametrize("label_kind", ["int", "str"])
@pytest.mark.parametrize("passthrough", [False, True])
@pytest.mark.parametrize("sample_weight", [None, "skewed"])
def test_binary_fusion_level_agrees_with_stacking_classifier(label_kind, passthrough,
                                                               sample_weight):
    y, sw = labels(label_kind), weights(sample_weight)
    ours = SerialStack([("fusion", FusionClassifier(members())),
                        ("final", LogisticRegression())], cv=FOLDS, passthrough=passthrough)
    ours.fit(CANCER_X, y, sample_weight=sw)
    ref = StackingClassifier(members(), final_estimator=LogisticRegression(), cv=FOLDS,
                             stack_method="predict_proba", passthrough=passthrough)
    ref.fit(CANCER_X, y, sample_weight=sw)
    # scikit-learn drops the first probability column of each member (two classes).
    assert ours.named_steps_["final"].n_features_in_ == ref.final_estimator_.n_features_in_
    assert_allclose(ours.named_steps_["final"].coef_, ref.final_estimator_.coef_,
                    rtol=1e-7, atol=1e-10)
    assert_allclose(ours.predict_proba(CANCER_X), ref.predict_proba(CANCER_X), rtol=0,
                    atol=1e-10)
    assert_array_equal(ours.predict(CANCER_X), ref.predict(CANCER_X))
    assert_array_equal(ours.classes_, ref.classes_)


@pytest.mark.parametrize("label_kind", ["int", "str"])
def test_binary_classifier_step_agrees_with_stacking_classifier(label_kind):
    y = labels(label_kind)
    ours = SerialStack([("nb", GaussianNB()), ("final", LogisticRegression())],
                       cv=FOLDS, stack_method="predict_proba").fit(CANCER_X, y)
    ref = StackingClassifier([("nb", GaussianNB())], final_estimator=LogisticRegression(),
                             cv=FOLDS, stack_method="predict_proba").fit(CANCER_X, y)
    assert ours.named_steps_["final"].n_features_in_ == 1
    assert_allclose(ours.predict_proba(CANCER_X), ref.predict_proba(CANCER_X), rtol=0,
                    atol=1e-10)
    assert_array_equal(ours.predict(CANCER_X), ref.predict(CANCER_X))
