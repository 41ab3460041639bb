import os
import threading

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


@pytest.fixture
def concurrently():
    """``run(call, n_threads=8)``: call ``call`` from that many threads at once.

    Returns what each call returned; re-raises the first error; fails if a thread hangs.
    """

    def run(call, n_threads=8, timeout=300):
        results, errors = [None] * n_threads, []

        def work(i):
            try:
                results[i] = call()
            except Exception as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout)
        assert not any(thread.is_alive() for thread in threads), "a thread hung"
        if errors:
            raise errors[0]
        return results

    return run
