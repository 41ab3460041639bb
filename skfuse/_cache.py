"""The member cache: member fits and outputs stored in a ``joblib.Memory``.

Every entry is keyed by content: a fit by the member (class, parameters and seeds, or the
fitted state of a frozen member), the data it is fitted on (``X``, ``y``,
``sample_weight``), the rows, the view and the output asked for; an output at predict time
by the key of the fit that made the member and the rows it is asked about. Changing any
of them misses the cache, and ``GridSearchCV`` over fusion-level parameters fits each
member once per split and predicts each split once. As with ``Pipeline(memory=...)``, a
function inside a member is known by its name, not its code: redefining it under the same
name (in a notebook) is not seen, so clear the cache then.

A :class:`MemberCache` serves one call of ``fit`` or ``predict``: it hashes each data
array and each member once, however many members and folds use them (the caller must not
change them in place in between). Fitted members are stored as pickled bytes, which load
several times faster than joblib's own array-by-array storage of an estimator with many
arrays (a forest).

Entries read from or written to the disk are also kept in memory, in this process, most
recently used first, up to ``MEMO_BYTES`` in all (an entry larger than that is not kept),
so that the candidates of a search after the first do not read the disk or call joblib.
Each use still checks that the entry is on disk, so clearing the ``Memory`` (or deleting
its folder) is seen. A fitted member is unpickled afresh for every fit that uses it, and
outputs are copied: no two fits share a member or an array. A plan may take a member
from the memo as a :class:`StoredMember` (its pickle), unpickled only when something
asks for the member itself: a fusion whose outputs all come from the cache (a search
over its weights) then never unpickles its members.
"""

import hashlib
import os
import pickle
import threading
from collections import OrderedDict

import joblib
import numpy as np
from sklearn.utils.validation import check_memory

from ._tasks import fit_task
from ._views import take_view

MEMO_BYTES = 256 * 2**20
# SHA-1 hashes several times faster than joblib's default MD5 on CPUs with SHA extensions.
_HASH = "sha1"


def _digest(value):
    """A digest of data (arrays, frames, sparse matrices), no copy made.

    A tuple of contiguous numeric arrays (and None) is hashed from its raw bytes, each
    array after its dtype and shape; anything else goes to joblib's hash.
    """
    parts = value if isinstance(value, tuple) else (value,)
    if not all(part is None or _plain_array(part) for part in parts):
        return joblib.hash(value, hash_name=_HASH)
    digest = hashlib.new(_HASH)
    for part in parts:
        digest.update(b"None" if part is None else f"{part.dtype.str}{part.shape}".encode())
        if part is not None:
            digest.update(part.data)
    return digest.hexdigest()


def _plain_array(value):
    return (type(value) is np.ndarray and value.dtype.kind in "biufc"
            and value.flags.c_contiguous)


def _pickled_digest(value):
    """A digest of a small object (a member, a key's parts) from its C pickle.

    20 to 40 times faster than joblib's pure-Python hasher on an estimator. Equal bytes
    mean equal state, so a digest is never shared by objects that differ; an object whose
    pickle differs from process to process (a set of strings) is only missed by another
    process. Objects the pickler refuses (a lambda) go to joblib's hash.
    """
    try:
        blob = pickle.dumps(value, protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError):
        return _digest(value)
    return hashlib.sha1(blob).hexdigest()


class _Memo:
    """Bounded in-process store of disk-cache entries, least recently used evicted first.

    Each entry keeps a reference to its result on disk (a ``MemorizedResult``) and is
    served only while that result is still there.
    """

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self._entries = OrderedDict()  # memo key -> (value, nbytes, disk reference)
        self._bytes = 0
        self._lock = threading.Lock()  # fits may run in threads

    def __len__(self):
        return len(self._entries)

    @property
    def nbytes(self):
        return self._bytes

    def get(self, key):
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            return None
        value, _, ref = entry
        if not ref.store_backend.contains_item([ref.func_id, ref.args_id]):
            self._discard(key)  # cleared on disk: recompute, as the disk cache would
            return None
        return value

    def put(self, key, value, nbytes, ref):
        with self._lock:
            if key in self._entries:
                self._bytes -= self._entries.pop(key)[1]
            if nbytes > self.max_bytes:
                return
            self._entries[key] = (value, nbytes, ref)
            self._bytes += nbytes
            while self._bytes > self.max_bytes:
                self._bytes -= self._entries.popitem(last=False)[1][1]

    def _discard(self, key):
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._bytes -= entry[1]

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._bytes = 0


_MEMO = _Memo(MEMO_BYTES)


def _nbytes(value):
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, tuple):
        return sum(_nbytes(item) for item in value)
    return 64


def _copied(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _through_disk(cached, memo_key, *args):
    """``cached(*args)``, then kept in the memo if the result is on disk."""
    value = cached(*args)
    if _MEMO.max_bytes > 0 and cached.check_call_in_cache(*args):
        _MEMO.put(memo_key, value, _nbytes(value), cached.call_and_shelve(*args))
    return value


class StoredMember:
    """A fitted member kept as its pickle until it is needed (:func:`loaded`).

    ``classes_`` is the member's own (None when it has none), read without unpickling,
    so a composite can check a member's classes at ``fit`` from its cache entry. Each
    fit gets its own, so the member it unpickles (once) is that fit's alone.
    """

    __slots__ = ("_member", "blob", "classes_")

    def __init__(self, blob, classes):
        self.blob = blob
        self.classes_ = classes
        self._member = None

    def load(self):
        if self._member is None:
            self._member = pickle.loads(self.blob)
        return self._member


def loaded(member):
    """The fitted estimator ``member`` stands for: unpickled if it is stored."""
    return member.load() if isinstance(member, StoredMember) else member


def _fit_and_pickle(key, estimator, X, y, sample_weight, train, test, view, output,
                    params=None, keep=False):
    fitted, out, seconds = fit_task(estimator, X, y, sample_weight, train, test, view, output,
                                    params, keep)
    if fitted is None:
        return None, out, seconds, None
    blob = pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL)
    return blob, out, seconds, getattr(fitted, "classes_", None)


def _unpickled(blob, out, seconds, classes):
    return (None if blob is None else pickle.loads(blob)), _copied(out), seconds


def _stored(blob, out, seconds, classes):
    return (None if blob is None else StoredMember(blob, classes)), _copied(out), seconds


def _load_fit(cached_fit, memo_key, key, *args):
    return _unpickled(*_through_disk(cached_fit, memo_key, key, *args))


def _output(key, X_digest, estimator, X, output):
    return output(estimator, X)


def _load_output(cached_output, memo_key, key, digest, *args):
    return _copied(_through_disk(cached_output, memo_key, key, digest, *args))


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
        if memory is None or isinstance(memory, str):
            self._memory, location, backend = memory, memory, "local"
        else:
            self._memory = check_memory(memory)
            location = getattr(self._memory, "location", None)
            backend = getattr(self._memory, "backend", None)
        self.enabled = location is not None
        self._store = (backend, location)
        self._cached = None  # joblib's cached functions, made at the first memo miss
        self._digests = {}  # id of hashed objects -> (the objects, their digest)

    @property
    def memory(self):
        if isinstance(self._memory, str) or self._memory is None:
            self._memory = check_memory(self._memory)
        return self._memory

    def _functions(self):
        if self._cached is None:
            data_args = ["estimator", "X", "y", "sample_weight", "train", "test", "view",
                         "output", "params", "keep"]
            self._cached = (self.memory.cache(_fit_and_pickle, ignore=data_args),
                            self.memory.cache(_output, ignore=["estimator", "X", "output"]))
        return self._cached

    def _digest_of(self, *objects, pickled=False):
        """The digest of ``objects``, hashed once for the life of this cache."""
        ident = (pickled, *map(id, objects))
        if ident not in self._digests:
            digest = (_pickled_digest if pickled else _digest)(objects)
            self._digests[ident] = (objects, digest)  # holding them keeps their ids
        return self._digests[ident][1]

    def fit_tasks(self, jobs, X, y, sample_weight, output, store=False):
        """Fit tasks, as ``(function, args)``, their cache keys, and which of them only
        read this process's memo (``local``), for ``jobs`` of (estimator, view, train,
        test), (estimator, view, train, test, params) or (..., params, keep),
        ``params`` a member's routed metadata and ``keep`` whether a fold's fit is kept
        (see :func:`fit_task`).

        A refit (``test`` None) is keyed without ``output``, which it does not use. With
        ``store``, a refit found in the memo comes back as a :class:`StoredMember`.
        """
        if self.enabled:
            data = self._digest_of(X, y, sample_weight)
            output_digest = self._digest_of(output, pickled=True)
        tasks, keys, local = [], [], []
        for estimator, view, train, test, *rest in jobs:
            params = rest[0] if rest else None
            keep = len(rest) > 1 and bool(rest[1])
            out = None if test is None else output
            args = (estimator, X, y, sample_weight, train, test, view, out, params, keep)
            if not self.enabled:
                tasks.append((fit_task, args))
                keys.append(None)
                local.append(False)
                continue
            # The jobs of one member share its estimator and its params dict.
            # A kept fold fit is keyed apart from the same fold's output alone.
            key = _pickled_digest((self._digest_of(estimator, pickled=True), data,
                                   None if params is None else self._digest_of(params),
                                   train, test, view,
                                   None if out is None else output_digest)
                                  + (("kept",) if keep else ()))
            memo_key = ("fit", self._store, key)
            hit = _MEMO.get(memo_key)
            if hit is not None:
                tasks.append((_stored if store and test is None else _unpickled, hit))
            else:
                tasks.append((_load_fit, (self._functions()[0], memo_key, key, *args)))
            keys.append(key)
            local.append(hit is not None)
        return tasks, keys, local

    def output_tasks(self, estimators, keys, views, X, output):
        """``(function, args)`` per member: its ``output`` on its view of ``X``.

        Cached when the members were fitted through the cache (``keys`` not None); a
        :class:`StoredMember` is unpickled only when its output is not cached.
        """
        cached = self.enabled and keys is not None
        if cached:
            X_digest = self._digest_of(X)
            output_digest = self._digest_of(output, pickled=True)
        tasks = []
        for est, key, view in zip(estimators, keys or [None] * len(estimators), views):
            if not cached:
                tasks.append((output, (loaded(est), take_view(X, view))))
                continue
            view_id = None if view is None else tuple(int(v) for v in view)
            digest = _pickled_digest((X_digest, view_id, output_digest))
            memo_key = ("output", self._store, key, digest)
            hit = _MEMO.get(memo_key)
            if hit is not None:
                tasks.append((_copied, (hit,)))
            else:
                tasks.append((_load_output, (self._functions()[1], memo_key, key, digest,
                                             loaded(est), take_view(X, view), output)))
        return tasks
