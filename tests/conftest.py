import os

import pytest


def _seeds():
    """Seeds for ``global_random_seed``: SKFUSE_TEST_SEEDS="0-9" or "1,5"; default 42."""
    spec = os.environ.get("SKFUSE_TEST_SEEDS", "42")
    if "-" in spec:
        low, high = (int(part) for part in spec.split("-"))
        return list(range(low, high + 1))
    return [int(part) for part in spec.split(",")]


@pytest.fixture(params=_seeds())
def global_random_seed(request):
    """A seed for tests whose result must not depend on one lucky seed."""
    return request.param
