"""The README's quick start and every docstring example run as written."""

import ast
import doctest
import importlib
import inspect
import pkgutil
import re
import warnings
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

import skfuse

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_quick_start_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 2
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["search"].best_score_ > 0.9


# The modules whose docstrings hold examples (a module without any passed vacuously).
MODULES = sorted(
    info.name for info in pkgutil.walk_packages(skfuse.__path__, prefix="skfuse.")
    if ">>>" in Path(find_spec(info.name).origin).read_text()
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name.startswith("skfuse.torch"):  # the optional extra
        pytest.importorskip("torch")
        pytest.importorskip("skorch")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
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


def _tested_blocks(guide):
    """The guide's Python blocks marked ``<!-- runs in tests/test_docs.py -->``."""
    text = (README.parent / "docs" / guide).read_text()
    return re.findall(r"<!-- runs in tests/test_docs.py -->\n```python\n(.*?)```", text,
                      flags=re.DOTALL)


def test_fusion_guide_nan_advice_works():
    block = _tested_blocks("fusion.md")[0]
    namespace = {}
    exec(compile(block, "docs/fusion.md", "exec"), namespace)
    assert namespace["scores"].mean() > 0.93
    assert namespace["message"].startswith(
        "FusionClassifier: member 'linear' (Pipeline) does not accept NaN")
    assert "a Pipeline with SimpleImputer first" in namespace["message"]


def test_fusion_guide_routing_blocks_run():
    import sklearn

    fit, search = _tested_blocks("fusion.md")[1:]
    namespace = {}
    with sklearn.config_context(), warnings.catch_warnings():  # the blocks switch routing on
        warnings.simplefilter("error")  # as written they fit without a warning
        exec(compile(fit, "docs/fusion.md", "exec"), namespace)
        exec(compile(search, "docs/fusion.md", "exec"), namespace)
    assert not sklearn.get_config()["enable_metadata_routing"]
    assert namespace["fusion"].score(namespace["X"], namespace["y"]) > 0.95
    assert namespace["search"].best_score_ > 0.9


def test_mixture_guide_nan_advice_works():
    (block,) = _tested_blocks("mixture.md")
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        exec(compile(block, "docs/mixture.md", "exec"), namespace)
    X, y = namespace["X"], namespace["y"]
    assert np.isnan(X).any() and namespace["moe"].score(X, y) > 0.25
    assert_allclose(namespace["gate_proba"].sum(axis=1), 1.0)
    message = namespace["message"]
    assert "gate_view at columns present on every row" in message
    assert "make_pipeline(SimpleImputer(), LogisticRegression())" in message


def test_distill_guide_cascade_runs():
    (block,) = _tested_blocks("distill.md")
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        exec(compile(block, "docs/distill.md", "exec"), namespace)
    assert namespace["accuracy"] > 0.93
    assert 0 < namespace["answered"] <= 1


# -- every public parameter documented, with the default the signature has ------------

PUBLIC_MODULES = ["skfuse", "skfuse.routing", "skfuse.plotting", "skfuse.datasets",
                  "skfuse.exceptions", "skfuse.torch"]


def public_objects():
    for name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # skfuse.torch without the extra
            continue
        for attr in module.__all__:
            obj = getattr(module, attr)
            if isinstance(obj, type) and not issubclass(obj, Warning):
                yield f"{name}.{attr}", obj
                for method in dir(obj):  # the methods skfuse defines, inherited too
                    function = getattr(obj, method)
                    if (not method.startswith("_") and callable(function)
                            and getattr(function, "__module__", "").startswith("skfuse")):
                        yield f"{name}.{attr}.{method}", function
            elif callable(obj) and not isinstance(obj, type):
                yield f"{name}.{attr}", obj


def documented_defaults(obj):
    """{parameter: the docstring's type line} from the numpydoc Parameters section."""
    docscrape = pytest.importorskip("numpydoc.docscrape")
    doc = docscrape.NumpyDocString(inspect.getdoc(obj) or "")
    return {name.strip().lstrip("*"): entry.type
            for entry in doc["Parameters"] for name in entry.name.split(",")}


def same_default(stated, default):
    """Whether a docstring's ``default=`` text names the signature's default."""
    try:
        value = ast.literal_eval(stated)
        return value == default and type(value) is type(default)  # 0 is not False
    except (ValueError, SyntaxError):  # not a literal: a name or an expression
        return stated.replace("'", '"') == repr(default).replace("'", '"')


def signature_of(obj):
    return inspect.signature(obj.__init__ if isinstance(obj, type) else obj)


@pytest.mark.parametrize("qualname, obj", list(public_objects()), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_every_parameter_is_documented_with_its_default(qualname, obj):
    documented = documented_defaults(obj)
    problems = []
    for name, parameter in signature_of(obj).parameters.items():
        if name in ("self", "cls"):
            continue
        if name not in documented:
            problems.append(f"{name}: not documented")
            continue
        stated = re.search(r"default=(.+)$", documented[name])
        if parameter.default is inspect.Parameter.empty:
            if stated:
                problems.append(f"{name}: documented default={stated[1]}, but required")
        elif parameter.kind is not parameter.VAR_KEYWORD:
            if not stated:
                problems.append(f"{name}: no default= in its type line")
            elif not same_default(stated[1], parameter.default):
                problems.append(f"{name}: documented default={stated[1]}, signature "
                                f"{parameter.default!r}")
    for name in set(documented) - set(signature_of(obj).parameters):
        problems.append(f"{name}: documented but not a parameter")
    assert not problems, f"{qualname}: " + "; ".join(problems)


@pytest.mark.parametrize("qualname, obj", list(public_objects()), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_docstrings_show_single_braces(qualname, obj):
    # A shared entry (_docstring.Substitution) is inserted as it is: a brace doubled for
    # str.format there would be shown doubled.
    doc = inspect.getdoc(obj) or ""
    assert "{{" not in doc and "}}" not in doc, qualname


def test_the_api_reference_lists_every_public_name():
    api = (README.parent / "docs" / "api.rst").read_text()
    listed = set(re.findall(r"^   (\w+)$", api, flags=re.MULTILINE))
    wanted = set()
    for name in PUBLIC_MODULES:
        if name == "skfuse.torch" and not (find_spec("torch") and find_spec("skorch")):
            continue  # the optional extra; the core names are still checked
        module = importlib.import_module(name)
        wanted |= {attr for attr in module.__all__ if not attr.isupper()
                   and not attr.startswith("__")}  # constants are in the module text
    assert wanted <= listed, sorted(wanted - listed)
