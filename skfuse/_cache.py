"""The member cache: member fits and outputs stored in a ``joblib.Memory``.

Every entry is keyed by content: a fit by the member (class, parameters and seeds, or the
fitted state of a frozen member), the data it is fitted on (``X``, ``y``,
``sample_weight``), the rows, the view and the output asked for; an output at predict time
by the fitted member itself (the digest of its pickle, kept in its fit's entry) and the
rows it is asked about, so a fitted composite never reads the outputs of another fit of
the same key (an unseeded member fitted again after the cache was cleared). Changing any
of them misses the cache, and ``GridSearchCV`` over fusion-level parameters fits each
member once per split and predicts each split once. As with ``Pipeline(memory=...)``, code
is known by its module and name: a function inside a member or an estimator's class
redefined under the same name (in a notebook), or a library upgraded, is not seen, so
clear the cache then.

A :class:`MemberCache` serves one call of ``fit`` or ``predict``: it hashes each data
array and each member once, however many members and folds use them (the caller must not
change them in place in between). Fitted members are stored as pickled bytes, which load
several times faster than joblib's own array-by-array storage of an estimator with many
arrays (a forest).

Entries are files under ``skfuse/`` in the ``Memory``'s store, written and read through
its store backend under the digest itself: no second hash of the call's arguments, no
record of them, and nothing to do on a miss but fit and write. ``Memory.clear()`` and
``Memory.reduce_size()`` see them; a ``Memory`` without a location caches nothing. Each
entry is sealed by a SHA-1 of its pickle and its place; an entry that cannot be read, or
whose seal does not match (damaged, or copied over another), is computed and written
again, with a warning.

Entries read from or written to the disk are also kept in memory, in this process, most
recently used first, up to ``MEMO_BYTES`` in all, each counted with ``_ENTRY_BYTES``
beside its value (an entry larger than that is not kept),
so that the candidates of a search after the first do not read the disk. Each use still
checks that the entry is on disk, so clearing the ``Memory`` (or deleting its folder) is
seen. A fitted member is unpickled afresh for every fit that uses it, and outputs are
copied: no two fits share a member or an array. A plan may take a member from the memo
as a :class:`StoredMember` (its pickle), unpickled only when something asks for the
member itself: a fusion whose outputs all come from the cache (a search over its
weights) then never unpickles its members.
"""

import hashlib
import os
import pickle
import threading
import warnings
from collections import OrderedDict

import joblib
import numpy as np

from ._tasks import fit_task, read_from_cache
from ._views import take_view
from ._warnings import user_stacklevel

MEMO_BYTES = 256 * 2**20
# Bumped when what an entry holds, or how a fit is made, changes: entries of another
# format are not read (4: a Pipeline's earlier steps take sample_weight too).
_FORMAT = 4  # fit entries: (blob, out, seconds, classes, digest of blob), sealed
# SHA-1 hashes several times faster than joblib's default MD5 on CPUs with SHA extensions.
_HASH = "sha1"


def _digest(value):
    """A digest of data (arrays, frames, sparse matrices).

    A tuple of contiguous numeric arrays (and None) is hashed from its raw bytes, each
    array after its dtype and shape, or found among the recent ones when it holds the
    same bytes (:class:`_RecentDigests`); anything else goes to joblib's hash.
    """
    parts = value if isinstance(value, tuple) else (value,)
    if not all(part is None or _plain_array(part) for part in parts):
        return joblib.hash(value, hash_name=_HASH)
    remember = sum(part.nbytes for part in parts if part is not None) >= _RECENT.min_bytes
    if remember:
        signature = tuple(None if part is None else (part.dtype.str, part.shape)
                          for part in parts)
        words = tuple(None if part is None else _words(part) for part in parts)
        found = _RECENT.find(signature, words)
        if found is not None:
            return found
    digest = hashlib.new(_HASH)
    for part in parts:
        digest.update(b"None" if part is None else f"{part.dtype.str}{part.shape}".encode())
        if part is not None:
            digest.update(part.data)
    digest = digest.hexdigest()
    if remember:
        _RECENT.add(signature, words, digest)
    return digest


def _words(array):
    """The bytes of a contiguous array as unsigned integers (no copy), for comparing
    bytes exactly: equal values with other bytes (-0.0 and 0.0, NaNs) differ."""
    flat = array.reshape(-1).view(np.uint8)
    return flat.view(np.uint64) if flat.size % 8 == 0 else flat


class _RecentDigests:
    """Digests of the data hashed last, found again by comparing bytes.

    A search hands each candidate a new copy of the same fold's rows: comparing them with
    a copy kept here costs about a tenth of hashing them again. Data of at least
    ``min_bytes`` is kept, most recent first, up to ``max_entries`` entries and
    ``max_bytes`` in all (larger data is hashed every time).
    """

    def __init__(self, max_bytes, max_entries=16, min_bytes=2**16):
        self.max_bytes, self.max_entries, self.min_bytes = max_bytes, max_entries, min_bytes
        self._entries = []  # (signature, copies of the words, digest)
        self._lock = threading.Lock()

    def find(self, signature, words):
        """The digest of data with these bytes, or None; a hit becomes the most recent."""
        with self._lock:
            entries = list(self._entries)
        for entry in entries:
            kept_signature, kept, digest = entry
            if kept_signature == signature and all(
                    a is None or (_alike(a, b) and np.array_equal(a, b))
                    for a, b in zip(kept, words)):
                with self._lock:  # by identity: entries hold arrays, which == compares
                    kept_now = [e for e in self._entries if e is not entry]
                    if len(kept_now) < len(self._entries):
                        self._entries = [entry, *kept_now]
                return digest
        return None

    def add(self, signature, words, digest):
        size = sum(w.nbytes for w in words if w is not None)
        if size > self.max_bytes:
            return
        kept = tuple(None if w is None else w.copy() for w in words)
        with self._lock:
            self._entries.insert(0, (signature, kept, digest))
            del self._entries[self.max_entries:]
            while sum(w.nbytes for _, ws, _ in self._entries
                      for w in ws if w is not None) > self.max_bytes:
                self._entries.pop()

    def clear(self):
        with self._lock:
            self._entries.clear()


def _alike(a, b, samples=64):
    """Whether ``a`` and ``b`` agree at a few evenly spaced places: a cheap first look."""
    step = max(1, a.size // samples)
    return np.array_equal(a[::step], b[::step])


_RECENT = _RecentDigests(64 * 2**20)


def _plain_array(value):
    return (type(value) is np.ndarray and value.dtype.kind in "biufc"
            and value.flags.c_contiguous)


class UncacheableMember(TypeError):
    """A member the cache cannot key or store: it, or the fit parameters routed to it
    (``params``, when given), do not pickle (they hold a lambda)."""

    def __init__(self, estimator, params=None):
        try:  # the plain pickler's reason reads better than joblib's hasher's
            pickle.dumps(estimator if params is None else params, protocol=5)
            reason = "joblib's hash refused it"
        except Exception as exc:  # noqa: BLE001 -- any reason it gives is the message
            reason = str(exc)
        super().__init__(reason)
        self.estimator = estimator
        self.routed = params is not None


def _pickled_digest(value):
    """A digest of a small object (a member, a key's parts) from its C pickle.

    20 to 40 times faster than joblib's pure-Python hasher on an estimator. Equal bytes
    mean equal state, so a digest is never shared by objects that differ; an object whose
    pickle differs from process to process (a set of strings) is only missed by another
    process. Objects the pickler refuses go to joblib's hash, which takes a few more (a
    function that only joblib finds by name); neither takes a lambda or a local function.
    """
    try:
        blob = pickle.dumps(value, protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError):
        return _digest(value)
    return hashlib.sha1(blob).hexdigest()


class _Memo:
    """Bounded in-process store of disk-cache entries, least recently used evicted first.

    Each entry keeps where it is on disk (the store backend and the entry's id) and is
    served only while it is still there.
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
        """The value of ``key`` if it is still on disk, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            return None
        value, _, (backend, call_id) = entry
        if not backend.contains_item(call_id):
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
# What an entry costs beside its value (its key, the dict's node, an array's header, the
# disk reference): about 0.9 KiB measured. Counted, so that a service predicting a row
# at a time (entries of a few bytes each) stays within the bound.
_ENTRY_BYTES = 1024


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


def _call_id(kind, digest):
    """Where an entry lies in the store: ``skfuse/<kind>-<format>/<digest>``."""
    return ["skfuse", f"{kind}-{_FORMAT}", digest]


def _seal(call_id, payload):
    """The digest that guards an entry: of its pickle and of where it lies."""
    check = hashlib.sha1("/".join(call_id).encode())
    check.update(payload)
    return check.digest()


def _sealed(call_id, value):
    """``value`` pickled (in C: joblib's own pickler is written in Python), behind its
    seal."""
    payload = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    return _seal(call_id, payload) + payload


def _unsealed(call_id, stored):
    """The value of an entry read from the disk; a ``ValueError`` if its seal does not
    match: bytes damaged on the disk (or an entry moved to another's place) would
    otherwise unpickle into a crash, a wrong member or wrong outputs."""
    view = memoryview(stored)
    size = hashlib.sha1().digest_size
    if len(view) < size or view[:size] != _seal(call_id, view[size:]):
        raise ValueError("its checksum does not match its contents")
    return pickle.loads(view[size:])


def _through_disk(backend, memo_key, call_id, compute, *args, still_keyed=None):
    """``(value, made, read)``: the entry at ``call_id`` read from the disk (``made``
    None, ``read`` True), or ``(value, made) = compute(*args)``, ``value`` written there;
    the value is kept in the memo once it is on disk. With ``still_keyed``, a computed
    value is written (and kept) only if ``still_keyed()`` is true once it is computed:
    a member handed out meanwhile may have been changed while it computed."""
    value = missing = object()
    if backend.contains_item(call_id):
        try:
            value = _unsealed(call_id, backend.load_item(call_id, verbose=0))
        # A damaged entry (whatever its check or unpickler raises) is computed again,
        # unless it was cleared in between.
        except Exception as exc:  # noqa: BLE001
            if backend.contains_item(call_id):
                where = os.path.join(str(getattr(backend, "location", "")), *call_id)
                warnings.warn(f"skfuse's member cache could not read its entry {where} "
                              f"(damaged or replaced: {exc!r}); computing it again and "
                              "writing it over.", UserWarning, stacklevel=user_stacklevel())
    made, read = None, value is not missing
    if not read:
        value, made = compute(*args)
        if still_keyed is not None and not still_keyed():
            return value, made, read
        # joblib warns (CacheWarning) if it cannot write.
        backend.dump_item(call_id, _sealed(call_id, value), verbose=0)
    if _MEMO.max_bytes > 0 and backend.contains_item(call_id):
        kept = _detached(value)
        _MEMO.put(memo_key, kept, _nbytes(kept) + _ENTRY_BYTES, (backend, call_id))
    return value, made, read


def _detached(value):
    """``value`` with each array that views a larger array copied: the memo counts an
    array's own bytes, and a view (a binary stack's second probability column) would
    keep its whole base alive, beyond ``MEMO_BYTES``."""
    if isinstance(value, tuple):
        return tuple(_detached(item) for item in value)
    if isinstance(value, np.ndarray) and isinstance(value.base, np.ndarray):
        base = value.base
        while isinstance(base.base, np.ndarray):
            base = base.base
        if base.nbytes > value.nbytes:
            return value.copy()
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
            with _LOADING:  # threads predicting at once unpickle it once
                if self._member is None:
                    self._member = pickle.loads(self.blob)
                    self.blob = None  # the member alone stays in memory, not twice
        return self._member


_LOADING = threading.Lock()


def loaded(member):
    """The fitted estimator ``member`` stands for: unpickled if it is stored."""
    return member.load() if isinstance(member, StoredMember) else member


def _unpickled(blob, out, seconds, classes, fitted):
    return (None if blob is None else pickle.loads(blob)), _copied(out), seconds, fitted


def _stored(blob, out, seconds, classes, fitted):
    return ((None if blob is None else StoredMember(blob, classes)), _copied(out), seconds,
            fitted)


def _fit_and_pickle(*args):
    """A fit task's entry ``(pickled member, out, seconds, classes, digest of the
    pickle)``, and the member."""
    member, out, seconds = fit_task(*args)
    blob = None if member is None else pickle.dumps(member, pickle.HIGHEST_PROTOCOL)
    fitted = None if blob is None else hashlib.sha1(blob).hexdigest()
    return (blob, out, seconds, getattr(member, "classes_", None), fitted), member


def _load_fit(backend, memo_key, call_id, *args):
    """A fit task through the disk: ``(fitted, out, seconds, digest)``, :func:`fit_task`'s
    result and the digest of the fitted member's pickle (which keys its outputs). A
    member fitted on a miss is handed back as it is, not unpickled from its entry."""
    entry, made, read = _through_disk(backend, memo_key, call_id, _fit_and_pickle, *args)
    if read:
        read_from_cache()
    if made is not None:  # fitted here (a fold's fit that is not kept is None)
        _, out, seconds, _, fitted = entry
        return made, _copied(out), seconds, fitted
    return _unpickled(*entry)


def _output(estimator, X, output):
    return output(estimator, X), None


def _load_output(backend, memo_key, call_id, estimator, X, output, still_keyed=None):
    return _copied(_through_disk(backend, memo_key, call_id, _output, estimator, X,
                                 output, still_keyed=still_keyed)[0])


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
            self._memory = memory
            location = getattr(self._memory, "location", None)
            backend = getattr(self._memory, "backend", None)
        self.enabled = location is not None
        self._store = (backend, location)
        self._digests = {}  # id of hashed objects -> (the objects, their digest)
        self._unopenable = False  # the store could not be opened at predict

    def _backend(self):
        """The store backend of the ``Memory``, made at the first memo miss."""
        if self._memory is None or isinstance(self._memory, str):
            self._memory = joblib.Memory(self._memory, verbose=0)
        return self._memory.store_backend

    def _digest_of(self, *objects, pickled=False):
        """The digest of ``objects``, hashed once for the life of this cache."""
        ident = (pickled, *map(id, objects))
        if ident not in self._digests:
            digest = (_pickled_digest if pickled else _digest)(objects)
            self._digests[ident] = (objects, digest)  # holding them keeps their ids
        return self._digests[ident][1]

    def fit_tasks(self, jobs, X, y, sample_weight, outputs, store=False):
        """Fit tasks through an enabled cache, as ``(function, args)``, and which of them
        only read this process's memo (``local``), for ``jobs`` of (estimator, view, train,
        test), (estimator, view, train, test, params) or (..., params, keep),
        ``params`` a member's routed metadata and ``keep`` whether a fold's fit is kept
        (see :func:`fit_task`), and ``outputs``, each job's output function.

        A refit (``test`` None) is keyed without its output, which it does not use. With
        ``store``, a refit found in the memo comes back as a :class:`StoredMember`. A
        task gives :func:`fit_task`'s result and the digest of the fitted member's pickle
        (None for a fold's fit that is not kept), which keys its outputs
        (:meth:`output_tasks`).
        """
        data = self._digest_of(X, y, sample_weight)
        tasks, local = [], []
        for (estimator, view, train, test, *rest), output in zip(jobs, outputs):
            params = rest[0] if rest else None
            keep = len(rest) > 1 and bool(rest[1])
            out = None if test is None else output
            args = (estimator, X, y, sample_weight, train, test, view, out, params, keep)
            # The jobs of one member share its estimator and its params dict, and
            # the members share the folds. A kept fold fit is keyed apart from the same
            # fold's output alone.
            try:
                member_digest = self._digest_of(estimator, pickled=True)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                raise UncacheableMember(estimator) from exc
            try:
                params_digest = None if params is None else self._digest_of(params)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                raise UncacheableMember(estimator, params) from exc
            key = _pickled_digest((member_digest, data, params_digest,
                                   self._digest_of(train), self._digest_of(test), view,
                                   None if out is None else self._digest_of(out,
                                                                            pickled=True))
                                  + (("kept",) if keep else ()))
            memo_key = ("fit", self._store, key)
            hit = _MEMO.get(memo_key)
            if hit is not None:
                tasks.append((_stored if store and test is None else _unpickled, hit))
            else:
                tasks.append((_load_fit, (self._backend(), memo_key, _call_id("fit", key),
                                          *args)))
            local.append(hit is not None)
        return tasks, local

    def output_tasks(self, estimators, keys, views, X, output, still_keyed=None):
        """``(function, args)`` per member: its ``output`` on its view of ``X``.

        Cached for each member fitted through the cache (its key, the digest of the
        fitted member, not None); a :class:`StoredMember` is unpickled only when its
        output is not cached. ``still_keyed`` (or None) says whether the keys still stand
        once an output is computed; where they no longer do (the members were handed
        out meanwhile), the output is not written.
        """
        cached = self.enabled and any(key is not None for key in keys)
        if cached:
            X_digest = self._digest_of(X)
            output_digest = self._digest_of(output, pickled=True)
        tasks = []
        for est, key, view in zip(estimators, keys, views):
            if not cached or key is None:
                tasks.append((output, (loaded(est), take_view(X, view))))
                continue
            view_id = None if view is None else tuple(int(v) for v in view)
            digest = _pickled_digest((X_digest, view_id, output_digest))
            memo_key = ("output", self._store, key, digest)
            hit = _MEMO.get(memo_key)
            if hit is not None:
                tasks.append((_copied, (hit,)))
            elif (backend := self._predict_backend()) is None:
                tasks.append((output, (loaded(est), take_view(X, view))))
            else:
                call_id = _call_id("output", _pickled_digest((key, digest)))
                tasks.append((_load_output, (backend, memo_key, call_id, loaded(est),
                                             take_view(X, view), output, still_keyed)))
        return tasks

    def _predict_backend(self):
        """The store for outputs at predict, or None (with a warning) when it cannot be
        opened: a model saved with ``memory`` predicts where its folder cannot be made
        (another machine), without the cache."""
        if self._unopenable:
            return None
        try:
            return self._backend()
        except OSError as exc:
            warnings.warn(
                f"skfuse's member cache cannot be opened ({exc}); the members predict "
                "without it. Set memory=None on a model saved for use elsewhere.",
                UserWarning, stacklevel=user_stacklevel())
            self._unopenable = True  # warned once per call
            return None
