"""Composites render as nested diagrams in scikit-learn's HTML representation."""

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.utils import estimator_html_repr

from skfuse import FusionClassifier, MixtureOfExpertsRegressor, SerialStack


def test_nested_composites_render_every_member():
    level = FusionClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())])
    stack = SerialStack([("fusion", level), ("final", LogisticRegression())])
    html = estimator_html_repr(stack)
    for text in ("SerialStack", "FusionClassifier", "GaussianNB", "LogisticRegression",
                 ">lr<", ">nb<"):  # a parallel block labels its members by name
        assert text in html, text
    assert html.count("sk-serial") >= 1  # the stack's steps one after another
    assert html.count("sk-parallel") >= 1  # the fusion's members side by side


def test_mixtures_render_the_gate_and_the_experts():
    html = estimator_html_repr(MixtureOfExpertsRegressor(n_experts=3))
    assert "SoftmaxGate" in html and "Ridge" in html and "3 x experts" in html
    listed = MixtureOfExpertsRegressor([("a", Ridge()), ("b", Ridge(alpha=2.0))],
                                       gate=LogisticRegression())
    html = estimator_html_repr(listed)
    assert ">a<" in html and ">b<" in html and ">gate<" in html
