"""Warnings under threads: skfuse silences and records warnings in the main thread
only, through filters and a display that stay harmless when another thread puts them
back after skfuse is done with them."""

# Not through ``warnings.catch_warnings``: it saves and restores the process-wide
# filters and display, so another thread's block that overlaps skfuse's (scikit-learn's
# ``Parallel`` runs every task in one) would put back, after skfuse's block, an
# "ignore" that then stands or a recorder that swallows every later warning.

import contextlib
import contextvars
import copyreg
import functools
import os
import sys
import threading
import types
import warnings

import numpy as np
from scipy import sparse

from ._compat import SKLEARN_WRAPPER_MODULES, _get_feature_names

_LOCK = threading.Lock()  # guards the blocks' bookkeeping below


class _Marker(type):
    """The category of a standing "ignore" filter: a warning's category counts as its
    subclass only while a block silences that category (``active``), so the filter
    matches nothing once every block has ended, whoever puts it back."""

    def __init__(cls, *args):
        super().__init__(*args)
        cls.active = []

    def __subclasscheck__(cls, category):
        return any(issubclass(category, silenced) for silenced in tuple(cls.active))


class _SilencedMarker(Warning, metaclass=_Marker):
    """The categories :func:`silenced` ignores now."""


class _NamesMarker(UserWarning, metaclass=_Marker):
    """scikit-learn's feature-names warning while :func:`one_names_warning` has given it."""


def _same(category):
    return category


def _pickled_marker(marker):
    """A marker goes to a worker process (in the filters scikit-learn's ``Parallel``
    sends with each task) as the category it silences now, the broadest where blocks
    silence several, else as itself, which matches nothing there."""
    active = tuple(marker.active)
    if not active:
        return marker.__qualname__
    return _same, (next((c for c in active if all(issubclass(o, c) for o in active)),
                        Warning),)


copyreg.pickle(_Marker, _pickled_marker)


@contextlib.contextmanager
def _ignoring(marker, category, message=""):
    """Ignore warnings of ``category`` (and ``message``) in the block, in every thread:
    ``marker``'s filter goes first, overriding an "error", as ``simplefilter`` would."""
    with _LOCK:
        marker.active.append(category)
        warnings.filterwarnings("ignore", message, marker)  # moved first, never doubled
    try:
        yield
    finally:
        with _LOCK:
            marker.active.remove(category)
            if not marker.active:  # the user's filters as they were, where it still is
                entry = next((f for f in warnings.filters if f[2] is marker), None)
                with contextlib.suppress(ValueError):
                    warnings.filters.remove(entry)


@contextlib.contextmanager
def silenced(category=Warning):
    """Ignore warnings of ``category`` raised in the block: those of skfuse's own
    probes (a trial fit, a k-means start), which are not the user's.

    Only in the main thread; elsewhere the warnings show. In the main thread the
    filters are process-wide: for the block's duration, other threads' warnings of
    ``category`` are ignored too, and worker processes started in it ignore them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _ignoring(_SilencedMarker, category):
        yield


class _Recordings(threading.local):
    """This thread's open recordings (innermost last), and whether it is passing a
    warning on to the display :func:`_recording_showwarning` replaced."""

    def __init__(self):
        self.open, self.passing_on = [], False


_RECORDINGS = _Recordings()
_REPLACED = types.SimpleNamespace(showwarning=None, blocks=0)  # while blocks record


def _recording_showwarning(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` while a block records: the recording thread's warnings
    are kept, others passed on to the display it replaced."""
    if _RECORDINGS.open:
        _RECORDINGS.open[-1].append(warnings.WarningMessage(message, category, filename,
                                                            lineno, file, line))
    elif _RECORDINGS.passing_on or warnings.showwarning is _REPLACED.showwarning:
        # A display installed over this one has passed the warning on to it: shown here.
        text = warnings.formatwarning(message, category, filename, lineno, line)
        with contextlib.suppress(OSError, AttributeError):  # no stderr, as Python's own
            (sys.stderr if file is None else file).write(text)
    else:
        _RECORDINGS.passing_on = True
        try:
            _REPLACED.showwarning(message, category, filename, lineno, file, line)
        finally:
            _RECORDINGS.passing_on = False


@contextlib.contextmanager
def _recorded():
    """The warnings this thread raises in the block, after the filters (an ignored one
    is dropped, an "error" one raises); other threads' are shown as they come."""
    caught = []
    with _LOCK:
        if warnings.showwarning is not _recording_showwarning:  # also where replaced since
            _REPLACED.showwarning = warnings.showwarning
            warnings.showwarning = _recording_showwarning
        _REPLACED.blocks += 1
    _RECORDINGS.open.append(caught)
    try:
        yield caught
    finally:
        _RECORDINGS.open.pop()
        with _LOCK:
            _REPLACED.blocks -= 1
            if not _REPLACED.blocks and warnings.showwarning is _recording_showwarning:
                warnings.showwarning = _REPLACED.showwarning


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


@contextlib.contextmanager
def warnings_once(own=None, site=None):
    """Show each distinct warning raised in the block once, as it was first raised:
    a step repeated many times (an objective's scorer, the fold fits of a bagged
    member) would repeat its warning at every call. With ``site``, a warning raised at
    ``own`` or in skfuse's code (each a ``(filename, lineno)``) is shown there instead.

    The warnings are recorded after the active filters (an ignored one is dropped, an
    "error" one raises) and shown when the block ends; other threads' warnings show
    as they come. Outside the main thread nothing is recorded and every warning shows
    as it comes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    try:
        with _recorded() as caught:
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


# The user's call of the outermost composite fit running in this context, where the
# fit's warnings point (set by ``_base.atomic_fit``; carried into worker tasks).
OUTER_SITE = contextvars.ContextVar("skfuse_outer_fit_site", default=None)


def internal(frame):
    """Whether ``frame`` runs skfuse's code or one of scikit-learn's wrappers around a
    method (``set_output``, ``available_if``...)."""
    module = frame.f_globals.get("__name__", "")
    return module.startswith("skfuse.") or module in SKLEARN_WRAPPER_MODULES


def user_stacklevel():
    """The ``stacklevel`` that points a warning raised by this function's caller at the
    user's line: the first frame above it, in this thread, that is not
    :func:`internal` (in predict's worker threads, where the user's frame is not on the
    stack, the frame that started the thread, as for the members' own warnings there);
    within a composite's ``fit`` (perhaps in a worker), 2, a line of skfuse's that the
    fit's :func:`warnings_once` shows at the user's call."""
    if OUTER_SITE.get() is not None:
        return 2
    frame, level = sys._getframe(2), 2
    while frame is not None and internal(frame):
        frame, level = frame.f_back, level + 1
    return level


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
    members warn as they would alone. In the main thread the warning is ignored in
    every thread until the call returns (members predicting in threads).
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
            warnings.warn(message, UserWarning, stacklevel=user_stacklevel())
            _CALL.entry = self
        try:
            with names_warning_given():
                return method(self, X, *args, **kwargs)
        finally:
            if entry is None:
                _CALL.entry = None

    return wrapped


def names_warning_given():
    """Ignore scikit-learn's feature-names warning in the block, in every thread: for
    work whose caller has given it already."""
    return _ignoring(_NamesMarker, UserWarning, _NAMES_WARNING)


def names_mismatch(estimator, X):
    """Whether ``X`` has feature names and ``estimator``'s fit had none, or the other
    way round."""
    return _names_warning(estimator, X) is not None


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
