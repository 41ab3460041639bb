"""Pickle, joblib and skops round trips give identical predictions; skops files are safe."""

import io
import json
import pickle
import zipfile

import joblib
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression

from skfuse import FusionClassifier

from composites import is_classifier, make

X_CLF, Y_CLF = make_classification(n_samples=150, n_features=6, n_informative=4,
                                   n_classes=3, random_state=0)
X_REG, Y_REG = make_regression(n_samples=150, n_features=6, random_state=0)

# From the shared registry (tests/composites.py): learned weights under each voting,
# a stack, a cascade, both mixtures, a composite inside a composite, and distilled
# students (by duplication, on logits, and a regressor that learned synthetic rows).
COMPOSITES = ["fusion-soft-optimize", "fusion-geometric-greedy", "fusion-regressor-optimize",
              "stack-of-fusion", "cascade-auto", "mixture-regressor-short",
              "mixture-classifier-short", "mixture-of-fusions", "distilled-classifier",
              "distilled-classifier-logits", "distilled-regressor-resample"]


def fitted(name):
    X, y = (X_CLF, Y_CLF) if is_classifier(name) else (X_REG, Y_REG)
    return make(name).set_params(random_state=0).fit(X, y), X


def outputs(est, X):
    return [est.predict(X)] + ([est.predict_proba(X)] if hasattr(est, "predict_proba") else [])


def round_trip(est, fmt):
    if fmt == "pickle":
        return pickle.loads(pickle.dumps(est))
    if fmt == "joblib":
        buffer = io.BytesIO()
        joblib.dump(est, buffer)
        buffer.seek(0)
        return joblib.load(buffer)
    sio = pytest.importorskip("skops.io")
    data = sio.dumps(est)
    return sio.loads(data, trusted=trusted_types(data))


def trusted_types(data):
    """The recipe in the docs: trust a file's types only if all are skfuse's or sklearn's."""
    import skops.io as sio

    types = sio.get_untrusted_types(data=data)
    assert all(t.startswith(("skfuse.", "sklearn.")) for t in types), types
    return types


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("fmt", ["pickle", "joblib", "skops"])
@pytest.mark.parametrize("name", COMPOSITES)
def test_round_trip_gives_identical_predictions(name, fmt):
    est, X = fitted(name)
    loaded = round_trip(est, fmt)
    assert type(loaded) is type(est)
    for got, want in zip(outputs(loaded, X), outputs(est, X)):
        assert_array_equal(got, want)


def test_skorch_member_round_trips():
    pytest.importorskip("skorch")
    torch = pytest.importorskip("torch")
    from skfuse.torch import NetClassifier

    net = NetClassifier(torch.nn.Linear, module__in_features=6, module__out_features=3,
                        criterion=torch.nn.CrossEntropyLoss, max_epochs=3,
                        train_split=None, verbose=0)
    fusion = FusionClassifier([("net", net), ("lr", LogisticRegression())],
                              weights="optimize", cv=3, random_state=0).fit(X_CLF, Y_CLF)
    for fmt in ("pickle", "joblib"):
        loaded = round_trip(fusion, fmt)
        assert_array_equal(loaded.predict_proba(X_CLF), fusion.predict_proba(X_CLF))
    sio = pytest.importorskip("skops.io")
    data = sio.dumps(fusion)
    types = sio.get_untrusted_types(data=data)
    # skorch nets keep callbacks and partials: a file to review before trusting it.
    assert all(t.startswith(("skfuse.", "sklearn.", "skorch.", "torch."))
               or t in ("builtins.print", "functools.partial") for t in types), types
    loaded = sio.loads(data, trusted=types)
    assert_array_equal(loaded.predict_proba(X_CLF), fusion.predict_proba(X_CLF))


def _tamper(data, module, name):
    """Rewrite the first skfuse class in a skops file's schema as ``module.name``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if str(node.get("__module__", "")).startswith("skfuse"):
                node["__module__"], node["__class__"] = module, name
                break
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.namelist():
            payload = json.dumps(schema) if item == "schema.json" else source.read(item)
            target.writestr(item, payload)
    return out.getvalue()


def test_a_tampered_skops_file_is_refused():
    sio = pytest.importorskip("skops.io")
    est, _ = fitted("fusion-soft-optimize")
    data = sio.dumps(est)
    trusted = trusted_types(data)
    tampered = _tamper(data, "os", "system")
    assert "os.system" in sio.get_untrusted_types(data=tampered)
    with pytest.raises(Exception, match="(?i)untrusted"):
        sio.loads(tampered, trusted=trusted)
