"""scikit-learn's estimator checks over every public estimator, from one registry."""

import pytest
from composites import CACHE_DIR, make, member_nets, names
from sklearn.model_selection import TimeSeriesSplit
from sklearn.utils.estimator_checks import (
    check_param_validation,
    parametrize_with_checks,
)


def composites():
    """The shared registry's composites that take any numeric X (tests/composites.py)."""
    return [make(name) for name in names(data="array", checked=True)]


def instances():
    """The composites, and the member nets (tests/composites.py)."""
    return composites() + member_nets()


# Minibatch training cannot give identical fits for a row of weight 2 and two copies of
# it: the copies land in different batches and add steps to each epoch. Weights act on
# the loss exactly (tests/test_torch_mixture.py checks the weighted mean it learns).
# And float32 matrix products round differently with the number of rows in the batch
# (relative differences near 1e-6, over the checks' 1e-7).
_NEURAL = {
    "check_sample_weight_equivalence_on_dense_data":
        "minibatch training agrees with repeated rows in expectation only",
    "check_methods_subset_invariance": "float32 products round with the batch size",
    "check_methods_sample_order_invariance": "float32 products round with the batch size",
}

# skorch's own design, which the member nets inherit, and float32, which they train in.
_NET = {
    "check_no_attributes_set_in_init":
        "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_",
    "check_sample_weight_equivalence_on_dense_data":
        "float32: a weighted row and its copies sum in another order (differences "
        "near 1e-7, the check's tolerance); test_torch_members checks it to float32's",
}

# Expected failures, by estimator, each with the reason it cannot pass. The other
# estimators have none: even learned weights pass the sample-weight equivalence checks
# (with a forward-chaining cv too, on the checks' data).
EXPECTED_FAILURES = {
    "NeuralMixtureOfExpertsRegressor": _NEURAL,
    "NeuralMixtureOfExpertsClassifier": _NEURAL,
    "NetClassifier": _NET,
    "NetRegressor": {
        **_NET,
        "check_regressor_multioutput":
            "predicts in float32, the dtype its module computes in; the check asks "
            "float64",
    },
}


# A composite with a forward-chaining cv, whatever its class.
FORWARD_CHAINING = {
    "check_fit2d_1sample":
        "TimeSeriesSplit refuses one row in its own words ('the number of samples=1'), "
        "which are not among the phrasings the check accepts",
}


# A distiller that grows synthetic rows, whatever its class.
AUGMENTED = {
    "check_sample_weight_equivalence_on_dense_data":
        "synthetic rows are grown from random parents: repeated rows and integer "
        "weights draw the same parents with the same chances, but not the same draws",
}


def expected_failed_checks(estimator):
    failures = dict(EXPECTED_FAILURES.get(type(estimator).__name__, {}))
    if isinstance(getattr(estimator, "cv", None), TimeSeriesSplit):
        failures.update(FORWARD_CHAINING)
    if getattr(estimator, "augment", None) is not None:
        failures.update(AUGMENTED)
    return failures


CHECKS = parametrize_with_checks(instances(), expected_failed_checks=expected_failed_checks)


def check_id(obj):
    """scikit-learn's id of a check or estimator, without this process's cache folder
    (so that pytest-xdist's workers, each with its own, collect the same tests)."""
    return CHECKS.kwargs["ids"](obj).replace(CACHE_DIR, "<cache>")


@pytest.mark.parametrize(*CHECKS.args, ids=check_id)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# parametrize_with_checks does not run check_param_validation (scikit-learn runs it in
# its own test suite only), so it runs here: every declared constraint refuses a value of
# a wrong type, and a value of the right type out of range, with InvalidParameterError
# from fit. (The member nets declare none: their parameters are skorch's, which skorch
# checks at initialisation.)
@pytest.mark.parametrize("estimator", composites(), ids=lambda est: type(est).__name__)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)
