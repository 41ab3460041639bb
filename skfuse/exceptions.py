"""Warnings and errors that skfuse raises, for filtering with :mod:`warnings`."""

__all__ = ["FrozenMemberWarning"]


class FrozenMemberWarning(UserWarning):
    """Learned weights are fitted on data that frozen (prefit) members may have seen.

    skfuse cannot tell which rows a prefit member was trained on. Fit the composite on
    a held-out blending set, then silence this warning with
    ``warnings.filterwarnings("ignore", category=FrozenMemberWarning)``.
    """
