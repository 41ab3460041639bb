"""The core imports without the optional extras; skfuse.torch says how to install them."""

import subprocess
import sys
import textwrap


BLOCKER = """
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Blocker())
"""


def run_without(modules, code):
    """Run ``code`` in a fresh interpreter where importing ``modules`` fails."""
    script = f"BLOCKED = {set(modules)!r}\n" + BLOCKER + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)


def test_core_imports_without_torch_and_skorch():
    result = run_without(["torch", "skorch"], """
        import pkgutil, importlib, skfuse
        names = [info.name for info in pkgutil.walk_packages(skfuse.__path__, "skfuse.")
                 if not info.name.startswith("skfuse.torch")]
        for name in names:
            importlib.import_module(name)
        assert "torch" not in sys.modules and "skorch" not in sys.modules
        print(len(names))
    """)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 5


def test_torch_subpackage_names_the_extra():
    result = run_without(["torch"], "import skfuse.torch")
    assert result.returncode != 0
    assert "pip install torch skorch" in result.stderr


def test_in_memory_partitions_need_no_dask():
    result = run_without(["dask", "distributed", "xgboost"], """
        from sklearn.datasets import make_classification
        from sklearn.naive_bayes import GaussianNB
        from skfuse import FusionClassifier
        X, y = make_classification(n_samples=200, random_state=0)
        fusion = FusionClassifier([("nb", GaussianNB())], weights="optimize",
                                  partitions=2, partition_sample=20).fit(X, y)
        fusion.predict(X)
        assert "dask" not in sys.modules
    """)
    assert result.returncode == 0, result.stderr
