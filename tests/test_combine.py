"""Property tests of the fusion combine: random shapes and extreme probabilities give no
NaN and agree with a row-by-row reference written in plain Python."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skfuse._weights import combine_classifier, combine_regressor

# Probabilities drawn from extreme values, so that exact 0 and 1 and tiny ones are common.
EXTREME = st.sampled_from([0.0, 5e-324, 1e-300, 1e-12, 0.25, 0.5, 1.0 - 1e-12, 1.0])
EPS = np.finfo(np.float64).eps


@st.composite
def fusions(draw):
    n_members = draw(st.integers(1, 4))
    n = draw(st.integers(0, 12))
    n_classes = draw(st.integers(2, 4))
    raw = draw(arrays(np.float64, (n_members, n, n_classes), elements=EXTREME))
    raw[..., 0] += (raw.sum(axis=2) == 0)  # a row of zeros is no distribution
    P = raw / raw.sum(axis=2, keepdims=True)
    weights = draw(arrays(np.float64, n_members,
                          elements=st.sampled_from([0.0, 1e-9, 0.3, 1.0, 7.0])))
    weights[draw(st.integers(0, n_members - 1))] += 1.0  # at least one member counts
    present = draw(arrays(np.bool_, (n_members, n)))
    present[draw(st.integers(0, n_members - 1)), :] = True  # every row has a member
    return P, weights, present


def reference(P, weights, present, voting):
    """Row by row: renormalise the weights over the members present, then fuse."""
    n_members, n, n_classes = P.shape
    out = np.zeros((n, n_classes))
    for i in range(n):
        members = [m for m in range(n_members) if present[m, i]]
        w = [weights[m] for m in members]
        if sum(w) == 0:
            w = [1.0] * len(members)
        w = [x / sum(w) for x in w]
        if voting == "soft":
            out[i] = [min(1.0, sum(wm * P[m, i, c] for wm, m in zip(w, members)))
                      for c in range(n_classes)]
        else:
            logs = [sum(wm * math.log(min(max(P[m, i, c], EPS), 1.0))
                        for wm, m in zip(w, members)) for c in range(n_classes)]
            top = max(logs)
            total = sum(math.exp(v - top) for v in logs)
            out[i] = [math.exp(v - top) / total for v in logs]
    return out


@settings(max_examples=300, deadline=None)
@given(fusions(), st.sampled_from(["soft", "geometric"]))
def test_classifier_combine_has_no_nan_and_matches_the_reference(case, voting):
    P, weights, present = case
    for mask in (present, np.ones_like(present)):
        fused = combine_classifier(P, weights, voting, present=mask)
        assert not np.isnan(fused).any()
        assert ((fused >= 0) & (fused <= 1)).all()
        np.testing.assert_allclose(fused.sum(axis=1), 1.0, rtol=1e-9)
        np.testing.assert_allclose(fused, reference(P, weights, mask, voting),
                                   rtol=1e-9, atol=1e-300)
        log_fused = combine_classifier(P, weights, voting, log=True, present=mask)
        assert not np.isnan(log_fused).any()  # -inf where a soft probability is 0
    if weights.any():  # without a mask: the same as every member present
        np.testing.assert_allclose(combine_classifier(P, weights, voting),
                                   combine_classifier(P, weights, voting,
                                                      present=np.ones_like(present)),
                                   rtol=1e-9, atol=1e-300)


@settings(max_examples=300, deadline=None)
@given(fusions(), st.sampled_from([-1e300, -1.0, 0.0, 1e-300, 2.5, 1e300]))
def test_regressor_combine_has_no_nan_and_matches_the_reference(case, scale):
    P, weights, present = case
    predictions = P[..., 0] * scale
    fused = combine_regressor(predictions, weights, present=present)
    assert not np.isnan(fused).any()
    for i in range(predictions.shape[1]):
        members = [m for m in range(len(weights)) if present[m, i]]
        w = np.array([weights[m] for m in members])
        w = w / w.sum() if w.sum() else np.full(len(members), 1 / len(members))
        expected = sum(wm * predictions[m, i] for wm, m in zip(w, members))
        np.testing.assert_allclose(fused[i], expected, rtol=1e-9, atol=1e-300)
