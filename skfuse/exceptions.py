"""Warnings and errors that skfuse raises, for filtering with :mod:`warnings`."""

__all__ = ["FrozenMemberWarning"]


class FrozenMemberWarning(UserWarning):
    """Something is learned from the outputs of frozen (prefit) members on data they
    may have seen: a fusion's learned weights, the next level of a ``SerialStack``, a
    cascade's ``"auto"`` thresholds, or the rows a deferred cascade step
    (``cascade_fit="deferred"``) is trained on.

    skfuse cannot tell which rows a prefit member was trained on. Fit the composite on
    a held-out blending set, then silence this warning with
    ``warnings.filterwarnings("ignore", category=FrozenMemberWarning)``.
    """
