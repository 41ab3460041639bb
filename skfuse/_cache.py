"""The member cache: member fits and outputs stored in a ``joblib.Memory``.

Every entry is keyed by content: a fit by the member (class, parameters and seeds, or the
fitted state of a frozen member), the data it is fitted on (``X``, ``y``,
``sample_weight``), the rows, the view and the output asked for; an output at predict time
by the key of the fit that made the member and the rows it is asked about. Changing any
of them misses the cache, and ``GridSearchCV`` over fusion-level parameters fits each
member once per split and predicts each split once. As with ``Pipeline(memory=...)``, a
function inside a member is known by its name, not its code: redefining it under the same
name (in a notebook) is not seen, so clear the cache then.

Data are hashed once per call of ``fit`` or ``predict``, not once per member. Fitted
members are stored as pickled bytes, which load several times faster than joblib's own
array-by-array storage of an estimator with many arrays (a forest).
"""

import os
import pickle

import joblib
from sklearn.utils.validation import check_memory

from ._tasks import fit_task
from ._views import take_view


def _fit_and_pickle(key, estimator, X, y, sample_weight, train, test, view, output,
                    params=None):
    fitted, out, seconds = fit_task(estimator, X, y, sample_weight, train, test, view, output,
                                    params)
    blob = None if fitted is None else pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL)
    return blob, out, seconds


def _load_fit(cached_fit, key, *args):
    blob, out, seconds = cached_fit(key, *args)
    return (None if blob is None else pickle.loads(blob)), out, seconds


def _output(key, X_digest, estimator, X, output):
    return output(estimator, X)


class MemberCache:
    """Fit and output tasks for members, through ``memory`` when one is given.

    Parameters
    ----------
    memory : None, str, path-like or joblib.Memory
        Where to cache; None caches nothing.
    """

    def __init__(self, memory):
        if isinstance(memory, os.PathLike):
            memory = os.fspath(memory)
        self.memory = check_memory(memory)
        self.enabled = getattr(self.memory, "location", None) is not None
        if self.enabled:
            data_args = ["estimator", "X", "y", "sample_weight", "train", "test", "view",
                         "output", "params"]
            self._fit = self.memory.cache(_fit_and_pickle, ignore=data_args)
            self._out = self.memory.cache(_output, ignore=["estimator", "X", "output"])

    def fit_tasks(self, jobs, X, y, sample_weight, output):
        """Fit tasks, as ``(function, args)``, and their cache keys, for ``jobs`` of
        (estimator, view, train, test) or (estimator, view, train, test, params),
        ``params`` a member's routed metadata (see :func:`fit_task`).

        A refit (``test`` None) is keyed without ``output``, which it does not use.
        """
        digest = joblib.hash((X, y, sample_weight)) if self.enabled else None
        params_digests = {}  # the jobs of one member share one params dict
        tasks, keys = [], []
        for estimator, view, train, test, *rest in jobs:
            params = rest[0] if rest else None
            out = None if test is None else output
            args = (estimator, X, y, sample_weight, train, test, view, out, params)
            if not self.enabled:
                tasks.append((fit_task, args))
                keys.append(None)
                continue
            if id(params) not in params_digests:
                params_digests[id(params)] = joblib.hash(params)
            key = joblib.hash((joblib.hash(estimator), digest, params_digests[id(params)],
                               train, test, view, out))
            tasks.append((_load_fit, (self._fit, key, *args)))
            keys.append(key)
        return tasks, keys

    def output_tasks(self, estimators, keys, views, X, output):
        """``(function, args)`` per member: its ``output`` on its view of ``X``.

        Cached when the members were fitted through the cache (``keys`` not None).
        """
        cached = self.enabled and keys is not None
        if cached:
            X_digest, output_digest = joblib.hash(X), joblib.hash(output)
        tasks = []
        for est, key, view in zip(estimators, keys or [None] * len(estimators), views):
            X_view = take_view(X, view)
            if not cached:
                tasks.append((output, (est, X_view)))
                continue
            view_id = None if view is None else tuple(int(v) for v in view)
            digest = joblib.hash((X_digest, view_id, output_digest))
            tasks.append((self._out, (key, digest, est, X_view, output)))
        return tasks
