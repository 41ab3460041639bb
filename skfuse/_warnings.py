"""Warnings under threads: skfuse changes Python's process-wide warning filters in the
main thread only (``warnings.catch_warnings`` saves and restores them for the whole
process, so blocks that overlap in two threads can leave one's filter in place)."""

import contextlib
import functools
import os
import threading
import warnings

import numpy as np
from scipy import sparse

from ._compat import _get_feature_names


@contextlib.contextmanager
def silenced(category=Warning):
    """Ignore warnings of ``category`` raised in the block: those of skfuse's own
    probes (a trial fit, a k-means start), which are not the user's.

    Only in the main thread; elsewhere the warnings show. In the main thread the block
    still swaps the process-wide filters: for its duration, other threads' warnings of
    ``category`` are ignored too, and another thread's ``catch_warnings`` that overlaps
    it (scikit-learn's ``Parallel`` runs every task in one) can leave its "ignore" in
    place.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category)
        yield


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


@contextlib.contextmanager
def warnings_once(own=None, site=None):
    """Show each distinct warning raised in the block once, as it was first raised:
    a step repeated many times (an objective's scorer, the fold fits of a bagged
    member) would repeat its warning at every call. With ``site``, a warning raised at
    ``own`` or in skfuse's code (each a ``(filename, lineno)``) is shown there instead.

    The warnings are recorded after the active filters (an ignored one is dropped, an
    "error" one raises) and shown when the block ends. Outside the main thread, where
    recording (process-wide in Python) could lose another thread's warnings, nothing
    is recorded and every warning shows as it comes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            yield
    finally:  # the display restored: shown where the user's own display sends them
        seen = set()
        for w in caught:
            if (w.category, str(w.message)) not in seen:
                seen.add((w.category, str(w.message)))
                filename, lineno = w.filename, w.lineno
                if site is not None and ((filename, lineno) == own
                                         or filename.startswith(_PACKAGE)):
                    filename, lineno = site
                warnings.showwarning(w.message, w.category, filename, lineno, w.file,
                                     None if (filename, lineno) != (w.filename, w.lineno)
                                     else w.line)


_NAMES_WARNING = "X (does not have valid feature names|has feature names), but "


class _Call(threading.local):
    """This thread's composite whose method warned about names, during that call."""

    entry = None


_CALL = _Call()


def one_names_warning(method):
    """Wrap a composite's method that checks ``X`` and hands it to its members: where
    ``X`` has feature names and ``fit``'s had none, or the other way round, the
    composite warns once, in scikit-learn's words and its own name, and neither its own
    check nor its members (nested composites included, in threads too) repeat the
    warning, each in its own name.

    From the main thread only, as :func:`silenced`: called from another thread, the
    members warn as they would alone.
    """

    @functools.wraps(method)
    def wrapped(self, X, *args, **kwargs):
        entry = _CALL.entry
        if entry is self or threading.current_thread() is not threading.main_thread():
            return method(self, X, *args, **kwargs)
        if entry is None:
            message = _names_warning(self, X)
            if message is None:
                return method(self, X, *args, **kwargs)
            warnings.warn(message, UserWarning, stacklevel=2)
            _CALL.entry = self
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", _NAMES_WARNING, UserWarning)
                return method(self, X, *args, **kwargs)
        finally:
            if entry is None:
                _CALL.entry = None

    return wrapped


def _names_warning(estimator, X):
    """scikit-learn's warning when one of ``X`` and ``estimator``'s fit has feature
    names and the other not, or None."""
    fitted = hasattr(estimator, "feature_names_in_")
    if isinstance(X, np.ndarray) or sparse.issparse(X):
        given = False
    else:
        try:
            given = _get_feature_names(X) is not None
        except TypeError:  # names of mixed types, which the check refuses
            return None
        if not given and hasattr(X, "columns"):
            return None  # a frame scikit-learn does not read (Dask's): checked by part
    owner = type(estimator).__name__
    if fitted and not given:
        return (f"X does not have valid feature names, but {owner} was fitted with "
                "feature names")
    if given and not fitted:
        return f"X has feature names, but {owner} was fitted without feature names"
    return None
