"""Docstring text shared by a family of estimators.

A family keeps the entries its classes share (a parameter or a fitted attribute, in
numpydoc form) in one dict, and each class's docstring names them where they go, as
``{name}`` placeholders that :class:`Substitution` fills when the class is defined; an
entry that differs between the classes is written out in each. This is
imbalanced-learn's ``imblearn.utils._docstring.Substitution``: the docstring is a
``str.format`` template, so a brace meant literally in it is doubled
(``{{"soft", "hard"}}``), while the entries themselves are inserted as they are.

An entry's first line (``name : type, default=...``) has no indentation, since the
placeholder stands at the section's; its description is indented by eight spaces.
"""


class Substitution:
    """Fill the ``{name}`` placeholders of a class's (or function's) docstring.

    Parameters
    ----------
    **entries : dict of str to str
        The text that replaces each ``{name}``.
    """

    def __init__(self, **entries):
        self.entries = entries

    def __call__(self, obj):
        if obj.__doc__:  # None under python -OO
            obj.__doc__ = obj.__doc__.format(**self.entries)
        return obj
