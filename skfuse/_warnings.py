"""Silencing skfuse's own probes' warnings without touching other threads' filters."""

import contextlib
import threading
import warnings


@contextlib.contextmanager
def silenced(category=Warning):
    """Ignore warnings of ``category`` raised in the block: those of skfuse's own
    probes (a trial fit, a k-means start), which are not the user's.

    Only in the main thread. ``warnings.catch_warnings`` saves and restores the
    process-wide filters, so blocks that overlap in two threads can leave one's
    "ignore" in place for the rest of the process; elsewhere the warnings show.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category)
        yield
