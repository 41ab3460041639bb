"""The README's quick start and every docstring example run as written."""

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import skfuse

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_quick_start_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 2
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["search"].best_score_ > 0.9


MODULES = sorted(
    info.name for info in pkgutil.walk_packages(skfuse.__path__, prefix="skfuse.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name.startswith("skfuse.torch"):  # the optional extra
        pytest.importorskip("torch")
        pytest.importorskip("skorch")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_neural_guide_runs():
    pytest.importorskip("torch")
    pytest.importorskip("skorch")
    guide = README.parent / "docs" / "neural.md"
    blocks = re.findall(r"```python\n(.*?)```", guide.read_text(), flags=re.DOTALL)
    assert len(blocks) == 3
    namespace = {}
    for block in blocks:
        exec(compile(block, str(guide), "exec"), namespace)
    assert namespace["search"].best_score_ > 0.9
    assert namespace["moe"].score(namespace["X_test"], namespace["y_test"]) > 0.9
