"""Methods that exist only in some configurations, and say why when they do not."""

from functools import update_wrapper, wraps
from types import MethodType


def available_if(check):
    """Like scikit-learn's ``available_if``: the decorated method exists (``hasattr``
    is True) only when ``check(estimator)`` passes; ``check`` raises an
    ``AttributeError`` saying why not. The error a user reads says it too ("This
    'SerialStack' has no attribute 'transform': transform is not available when
    ..."), where scikit-learn's keeps the reason in its ``__cause__``."""
    return lambda fn: _Conditional(fn, check)


class _Conditional:
    """The descriptor behind :func:`available_if`."""

    def __init__(self, fn, check):
        self.fn, self.check = fn, check
        update_wrapper(self, fn)

    def _check(self, obj, owner):
        missing = f"This {owner.__name__!r} has no attribute {self.fn.__name__!r}"
        try:
            passed = self.check(obj)
        except Exception as reason:
            raise AttributeError(f"{missing}: {reason}") from reason
        if not passed:
            raise AttributeError(missing)

    def __get__(self, obj, owner=None):
        owner = type(obj) if owner is None else owner
        if obj is not None:
            self._check(obj, owner)
            return MethodType(self.fn, obj)

        @wraps(self.fn)
        def checked(*args, **kwargs):  # looked up on the class: checks when called
            self._check(args[0], owner)
            return self.fn(*args, **kwargs)

        return checked
