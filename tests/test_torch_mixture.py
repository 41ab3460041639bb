"""Neural mixtures of experts: the routed network against a hand computation, and the estimators."""

import copy
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

torch = pytest.importorskip("torch")
Callback = pytest.importorskip("skorch.callbacks").Callback

from skfuse._compat import InvalidParameterError  # noqa: E402
from skfuse.torch import (  # noqa: E402
    NeuralMixtureOfExpertsClassifier,
    NeuralMixtureOfExpertsRegressor,
)
from skfuse.torch._network import MixtureNet  # noqa: E402

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def network(top_k, n_experts=5, hidden=(6, 4), n_out=3, classify=False, seed=0):
    return MixtureNet(4, n_out, n_experts, hidden, top_k, classify,
                      torch.Generator().manual_seed(seed))


def by_hand(net, x):
    """Each row through each of its experts one at a time, weighted and summed."""
    experts, weight, _ = net.routing(x)
    out = torch.zeros(len(x), net.weights[-1].shape[2], dtype=torch.float64)
    for i in range(len(x)):
        for e, w in zip(experts[i].tolist(), weight[i].double()):
            h = x[i].double()
            for layer, (W, b) in enumerate(zip(net.weights, net.biases)):
                h = h @ W[e].double() + b[e].double()
                if layer < len(net.weights) - 1:
                    h = torch.relu(h)
            out[i] += w * (torch.softmax(h, 0) if net.classify else h)
    return torch.log(out) if net.classify else out


@pytest.mark.parametrize("classify", [False, True])
@pytest.mark.parametrize("top_k", [None, 1, 2, 4, 5])
@pytest.mark.parametrize("n_rows", [1, 7, 300])
def test_routed_output_matches_a_hand_computation(top_k, classify, n_rows):
    net = network(top_k, classify=classify)
    x = torch.randn(n_rows, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, _ = net(x)
        assert_allclose(out.double().numpy(), by_hand(net, x).numpy(), rtol=1e-5, atol=1e-5)


def test_an_expert_without_rows_and_skewed_routing():
    net = network(top_k=1)
    with torch.no_grad():
        net.gate_bias.copy_(torch.tensor([5.0, 0.0, 0.0, 0.0, 5.0]))  # experts 1-3 starve
        x = torch.randn(50, 4, generator=torch.Generator().manual_seed(2)) * 0.01
        experts, _, _ = net.routing(x)
        assert set(experts.ravel().tolist()) <= {0, 4}
        out, _ = net(x)
        assert_allclose(out.double().numpy(), by_hand(net, x).numpy(), rtol=1e-5, atol=1e-5)


def test_balance_loss_is_switch_transformer_formula():
    net = network(top_k=2, n_experts=4)
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        _, balance = net(x)
        experts, _, proba = net.routing(x)
        share = torch.bincount(experts.ravel(), minlength=4).double() / experts.numel()
        assert_allclose(float(balance), 4 * float((share * proba.double().mean(0)).sum()),
                        rtol=1e-6)
        dense, _ = network(top_k=None)(x)
        assert float(network(top_k=None)(x)[1]) == 0.0


def test_balance_loss_pushes_rows_away_from_an_overloaded_expert():
    net = network(top_k=1, n_experts=4)
    with torch.no_grad():
        net.gate_bias.copy_(torch.tensor([3.0, 0.0, 0.0, 0.0]))
    x = torch.randn(200, 4, generator=torch.Generator().manual_seed(5))
    _, balance = net(x)
    assert balance.item() > 1.5  # far above 1, its value under uniform routing
    balance.backward()
    grad = net.gate_bias.grad
    assert grad[0] > 0 and torch.all(grad[1:] < 0)  # descent lowers expert 0's logit


def test_gate_noise_only_in_training():
    net = network(top_k=1)
    x = torch.randn(20, 4, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        net.noise.fill_(1.0)
        clean = net.gate_logits(x)
        noisy = net.gate_logits(x, torch.Generator().manual_seed(0))
    assert_array_equal(net.gate_logits(x).detach().numpy(), clean.numpy())
    assert not torch.allclose(noisy, clean)


def piecewise(n, seed):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, 3))
    y = np.where(X[:, 0] > 0, 2 * X[:, 1] + X[:, 2], -X[:, 1] + 0.5) + rng.normal(0, 0.05, n)
    return X, y


def small(**params):
    defaults = dict(n_experts=4, top_k=2, hidden_units=16, max_epochs=40, lr=0.01,
                    device="cpu", random_state=0)
    return {**defaults, **params}


def test_regressor_learns_a_piecewise_target_and_uses_its_experts():
    X, y = piecewise(2000, 0)
    X_test, y_test = piecewise(500, 1)
    moe = NeuralMixtureOfExpertsRegressor(**small(top_k=1)).fit(X, y)
    assert 1 - np.mean((moe.predict(X_test) - y_test) ** 2) / np.var(y_test) > 0.95
    gate = moe.predict_gate(X_test)
    assert_allclose(gate.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all((gate > 0).sum(axis=1) == 1)
    assert len(moe.loss_curve_) == moe.n_iter_ == 40
    assert moe.loss_curve_[-1] < moe.loss_curve_[0]
    # The fitted network's experts, whatever n_experts says now (a search sets it).
    assert_array_equal(moe.set_params(n_experts=2).predict_gate(X_test), gate)


def test_classifier_labels_probabilities_and_multioutput_regression():
    X, y = piecewise(600, 0)
    labels = np.where(y > 0.5, "high", "low")
    clf = NeuralMixtureOfExpertsClassifier(**small()).fit(X, labels)
    assert_array_equal(clf.classes_, ["high", "low"])
    proba = clf.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.score(X, labels) > 0.9
    assert_allclose(np.exp(clf.predict_log_proba(X[:5])), proba[:5], rtol=1e-5)
    reg = NeuralMixtureOfExpertsRegressor(**small(max_epochs=5)).fit(X, np.c_[y, -y])
    assert reg.predict(X[:4]).shape == (4, 2)
    # One class is refused, as by every classifier of the package.
    with pytest.raises(ValueError, match="needs samples of at least 2 classes; y has only "
                                         "one class, 'low'"):
        NeuralMixtureOfExpertsClassifier(**small()).fit(X, np.full(len(X), "low"))


def test_sample_weight_gives_the_weighted_mean():
    X = np.zeros((100, 2))
    y = np.r_[np.ones(50), -np.ones(50)]
    weight = np.r_[np.full(50, 3.0), np.ones(50)]
    moe = NeuralMixtureOfExpertsRegressor(**small(max_epochs=300, batch_size=100))
    # The target is standardised (mean 0, sd 1), so the weighted mean is 0.5 there too.
    assert_allclose(moe.fit(X, y, sample_weight=weight).predict(X[:1]), [0.5], atol=0.03)
    assert_allclose(moe.fit(X, y).predict(X[:1]), [0.0], atol=0.03)


def test_unit_weights_equal_no_weights_and_seeds_repeat():
    X, y = piecewise(300, 0)
    params = small(max_epochs=5)
    plain = NeuralMixtureOfExpertsRegressor(**params).fit(X, y).predict(X)
    unit = NeuralMixtureOfExpertsRegressor(**params).fit(X, y, np.ones(len(y))).predict(X)
    other = NeuralMixtureOfExpertsRegressor(**{**params, "random_state": 1}).fit(X, y)
    assert_array_equal(unit, plain)
    assert not np.allclose(other.predict(X), plain)


@pytest.mark.parametrize("make", [NeuralMixtureOfExpertsRegressor,
                                  NeuralMixtureOfExpertsClassifier])
@pytest.mark.parametrize("size", [1e-300, 1e-46, 1e37, 8e305])
def test_equal_weights_of_any_size_equal_no_weights(make, size):
    # Cast to float32 before they were scaled to mean 1, they rounded to 0 or summed to
    # infinity: "X holds values too large to standardise", for ordinary X; and the
    # regressor's target, standardised with them in float64, got an infinite scale
    # (8e305: their sum is within float64, their weighted squares are not).
    X, y = piecewise(200, 0)
    if make is NeuralMixtureOfExpertsClassifier:
        y = (y > np.median(y)).astype(int)
    model = make(**small(max_epochs=3))
    outputs = "predict" if make is NeuralMixtureOfExpertsRegressor else "predict_proba"
    # (The regressor's target mean is a weighted average then: equal up to rounding.)
    assert_allclose(getattr(clone(model).fit(X, y, np.full(len(y), size)), outputs)(X),
                    getattr(clone(model).fit(X, y), outputs)(X), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_standardising_does_not_depend_on_the_units_of_the_target(scale):
    # The target's squares underflowed to 0 (a constant prediction) or overflowed to
    # infinity (predictions of inf and -inf), without a word.
    X, y = piecewise(200, 0)
    model = NeuralMixtureOfExpertsRegressor(**small(max_epochs=3))
    plain = clone(model).fit(X, y)
    scaled = clone(model).fit(X, y * scale)
    assert_allclose(scaled.y_scale_, plain.y_scale_ * scale, rtol=1e-12)
    assert_allclose(scaled.predict(X) / scale, plain.predict(X), rtol=1e-5, atol=1e-6)


def test_verbose_prints_each_epoch(capsys):
    X, y = piecewise(100, 0)
    moe = NeuralMixtureOfExpertsRegressor(**small(max_epochs=3, verbose=1)).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"[NeuralMixtureOfExpertsRegressor] epoch {i} of 3" for i in (1, 2, 3)]
    assert f"loss {moe.loss_curve_[-1]:.5f}" in lines[-1]


@pytest.mark.parametrize("params, error, match", [
    ({"n_experts": 0}, InvalidParameterError, "The 'n_experts' parameter"),
    ({"top_k": 0}, InvalidParameterError, "The 'top_k' parameter"),
    ({"hidden_units": (8, 0)}, ValueError, "hidden_units"),
    ({"lr": 0.0}, InvalidParameterError, r"The 'lr' parameter .* range \(0.0, inf\)"),
    ({"balance_weight": -1.0}, InvalidParameterError, "The 'balance_weight' parameter"),
    ({"max_epochs": 2.5}, InvalidParameterError, "The 'max_epochs' parameter .* Got 2.5"),
    ({"device": "tpu"}, ValueError, "device"),
    # A bool passes the declared int constraints: it failed inside torch, or trained
    # one hidden unit.
    ({"n_experts": True}, TypeError, "n_experts must be an int, not a bool"),
    ({"hidden_units": True}, TypeError, "hidden_units must be an int, not a bool"),
    # A callback that is none failed inside skorch; one under a built-in's name was a
    # "duplicate" the user had not set.
    ({"callbacks": [1]}, TypeError, "callbacks must be skorch callbacks"),
    ({"callbacks": [("early_stopping", Callback())]}, ValueError,
     "'early_stopping' is taken by a built-in callback"),
    ({"callbacks": [("lr_schedule", Callback())], "lr_schedule": "cosine"}, ValueError,
     "'lr_schedule' is taken by a built-in callback"),
])
def test_bad_parameters_are_refused(params, error, match):
    X, y = piecewise(50, 0)
    with pytest.raises(error, match=match):
        NeuralMixtureOfExpertsRegressor(**small(**params)).fit(X, y)


def test_bad_targets_are_refused_in_the_mixtures_own_words():
    # scikit-learn's bare "Input y contains NaN." and "y should be a 1d array" named
    # nobody; with an int label first, mixed labels read "Unknown label type".
    X, y = piecewise(50, 0)
    y_nan = y.copy()
    y_nan[5] = np.nan
    with pytest.raises(ValueError, match="^NeuralMixtureOfExpertsRegressor: Input y contains NaN"):
        NeuralMixtureOfExpertsRegressor(**small()).fit(X, y_nan)
    with warnings.catch_warnings():  # (NumPy's cast warned, and dropped the imaginary part)
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="^NeuralMixtureOfExpertsRegressor: Complex data "
                                             "not supported"):
            NeuralMixtureOfExpertsRegressor(**small()).fit(X, y + 1j)
    with pytest.raises(ValueError, match="^NeuralMixtureOfExpertsRegressor: y must be numeric"):
        NeuralMixtureOfExpertsRegressor(**small()).fit(X, [[1.0, 2.0], [3.0]] * 25)
    labels = np.c_[y > 0, X[:, 0] > 0].astype(int)
    with pytest.raises(ValueError, match=r"^NeuralMixtureOfExpertsClassifier: y has shape "
                                         r"\(50, 2\), and it takes one target"):
        NeuralMixtureOfExpertsClassifier(**small()).fit(X, labels)
    labels = (y > 0).astype(float)
    labels[5] = np.inf
    with pytest.raises(ValueError, match=r"^NeuralMixtureOfExpertsClassifier: Input y "
                                         r"contains infinity"):
        NeuralMixtureOfExpertsClassifier(**small()).fit(X, labels)
    labels[5] = np.nan
    with pytest.raises(ValueError, match=r"^NeuralMixtureOfExpertsClassifier: Input y "
                                         r"contains NaN \(missing labels\)"):
        NeuralMixtureOfExpertsClassifier(**small()).fit(X, labels)
    mixed = np.array([1, "a"] * 25, dtype=object)
    with pytest.raises(TypeError, match="^NeuralMixtureOfExpertsClassifier: y mixes labels "
                                        r"of types \['int', 'str'\], which do not sort;"):
        NeuralMixtureOfExpertsClassifier(**small()).fit(X, mixed)


def test_top_k_at_or_above_n_experts_runs_every_expert():
    # Dense; one expert works with the default top_k=2 (it was refused).
    X, y = piecewise(100, 0)
    dense = NeuralMixtureOfExpertsRegressor(**small(max_epochs=2, top_k=None)).fit(X, y)
    above = NeuralMixtureOfExpertsRegressor(**small(max_epochs=2, top_k=5)).fit(X, y)
    assert dense.module_.top_k == above.module_.top_k
    assert_allclose(above.predict(X), dense.predict(X), rtol=1e-6)
    one = NeuralMixtureOfExpertsRegressor(**small(max_epochs=2, n_experts=1)).fit(X, y)
    assert np.isfinite(one.predict(X)).all()


def test_pickle_holds_cpu_tensors_and_predicts_the_same():
    X, y = piecewise(200, 0)
    moe = NeuralMixtureOfExpertsClassifier(**small(max_epochs=3, device="auto")).fit(X, y > 0)
    restored = pickle.loads(pickle.dumps(moe))
    assert all(p.device.type == "cpu" for p in restored.module_.parameters())
    assert_allclose(restored.predict_proba(X), moe.predict_proba(X), rtol=1e-5, atol=1e-7)


def test_skops_round_trip_stores_the_network_as_arrays():
    sio = pytest.importorskip("skops.io")
    X, y = piecewise(150, 0)
    for moe in (NeuralMixtureOfExpertsRegressor(**small(max_epochs=3)).fit(X, y),
                NeuralMixtureOfExpertsClassifier(**small(max_epochs=3)).fit(X, y > 0)):
        data = sio.dumps(moe)
        types = sio.get_untrusted_types(data=data)
        assert set(types) == {f"skfuse.torch._mixture.{type(moe).__name__}",
                              "skorch.history.History"}
        loaded = sio.loads(data, trusted=types)
        assert_array_equal(loaded.predict(X), moe.predict(X))
        assert isinstance(moe.module_, torch.nn.Module)  # dumping left the live one alone
    # A pickle from before holds the network itself: it loads, and saves again.
    state = moe.__dict__.copy()
    state["module_"] = copy.deepcopy(moe.module_)
    old = NeuralMixtureOfExpertsClassifier.__new__(NeuralMixtureOfExpertsClassifier)
    old.__setstate__(state)
    assert_array_equal(old.predict(X), moe.predict(X))
    again = pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(old))))
    assert_array_equal(again.predict(X), moe.predict(X))


def test_a_memory_mapped_joblib_load_is_silent(tmp_path):
    # torch.from_numpy warned of the read-only arrays (once a process: a fresh one here).
    joblib = pytest.importorskip("joblib")
    X, y = piecewise(150, 0)
    moe = NeuralMixtureOfExpertsClassifier(**small(max_epochs=3)).fit(X, y > 0)
    joblib.dump(moe, tmp_path / "moe.joblib")
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(f"""
        import joblib, numpy as np
        moe = joblib.load({str(tmp_path / "moe.joblib")!r}, mmap_mode="r")
        np.save({str(tmp_path / "p.npy")!r}, moe.predict_proba(np.load({str(tmp_path / "X.npy")!r})))
    """)
    subprocess.run([sys.executable, "-W", "error", "-c", script], check=True)
    assert_array_equal(np.load(tmp_path / "p.npy"), moe.predict_proba(X))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only fallback")
def test_cuda_without_cuda_refuses_to_fit_and_predicts_on_the_cpu():
    X, y = piecewise(100, 0)
    with pytest.raises(ValueError, match="CUDA is not available"):
        NeuralMixtureOfExpertsRegressor(**small(device="cuda")).fit(X, y)
    moe = NeuralMixtureOfExpertsRegressor(**small(max_epochs=2)).fit(X, y)
    expected = moe.predict(X)
    moe.set_params(device="cuda")  # as a model fitted on a GPU, loaded here
    with pytest.warns(UserWarning, match="predicting on the CPU"):
        assert_allclose(moe.predict(X), expected)


@needs_cuda
def test_cuda_fit_matches_the_cpu_network_and_loads_without_cuda(tmp_path):
    X, y = piecewise(500, 0)
    moe = NeuralMixtureOfExpertsRegressor(**small(device="cuda", max_epochs=5)).fit(X, y)
    assert next(moe.module_.parameters()).is_cuda
    on_gpu = moe.predict(X)
    path = tmp_path / "moe.pkl"
    path.write_bytes(pickle.dumps(moe))
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(f"""
        import pickle, warnings
        import numpy as np, torch
        assert not torch.cuda.is_available()
        moe = pickle.loads(open({str(path)!r}, "rb").read())
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            np.save({str(tmp_path / "cpu.npy")!r}, moe.predict(np.load({str(tmp_path / "X.npy")!r})))
    """)
    env = {"CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env)
    assert_allclose(np.load(tmp_path / "cpu.npy"), on_gpu, rtol=1e-4, atol=1e-5)


@needs_cuda
def test_cuda_training_step_does_not_synchronise_with_the_host():
    net = network(top_k=2, n_experts=8).cuda()
    x = torch.randn(256, 4, device="cuda")
    generator = torch.Generator(device="cuda").manual_seed(0)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        out, balance = net(x, generator)
        (out.square().mean() + 0.01 * balance).backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(p.grad is not None for p in net.parameters())


# -- skorch's training loop: history, validation split, early stopping, schedule --------


def fixed_split(valid):
    """A train_split callable that holds out the rows ``valid`` (as skorch's would)."""
    def split(dataset, y=None):
        train = np.setdiff1d(np.arange(len(dataset)), valid)
        return torch.utils.data.Subset(dataset, train), torch.utils.data.Subset(dataset, valid)
    return split


def held_out_loss(moe, X, y):
    """The squared error on standardised targets, as the history records it."""
    return float(np.mean(((moe.predict(X) - y) / moe.y_scale_) ** 2))


def test_history_records_train_and_valid_loss_of_every_epoch():
    X, y = piecewise(400, 0)
    valid = np.arange(300, 400)
    moe = NeuralMixtureOfExpertsRegressor(**small(
        max_epochs=6, early_stopping=False, train_split=fixed_split(valid))).fit(X, y)
    history = moe.history_
    assert len(history) == moe.n_iter_ == moe.best_epoch_ == 6
    assert history[:, "epoch"] == [1, 2, 3, 4, 5, 6]
    assert moe.loss_curve_ == history[:, "train_loss"]
    assert moe.validation_loss_curve_ == history[:, "valid_loss"]
    assert all(sum(history[i, "batches", :, "valid_batch_size"]) == 100 for i in range(6))
    assert all(sum(history[i, "batches", :, "train_batch_size"]) == 300 for i in range(6))
    # The recorded validation loss is the model's loss on the held-out rows, without the
    # gate noise (the last epoch's weights are kept when early stopping is off).
    assert_allclose(held_out_loss(moe, X[valid], y[valid]), history[-1, "valid_loss"],
                    rtol=1e-4)
    assert history[-1, "train_loss"] < history[0, "train_loss"]
    assert history[-1, "valid_loss"] < history[0, "valid_loss"]


def test_early_stopping_stops_on_a_plateau_and_keeps_the_best_epoch():
    # A target of pure noise: the validation loss stops improving after a few epochs.
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(600, 3)), rng.normal(size=600)
    valid = np.arange(450, 600)
    moe = NeuralMixtureOfExpertsRegressor(**small(
        max_epochs=200, patience=4, train_split=fixed_split(valid))).fit(X, y)
    curve = moe.validation_loss_curve_
    assert moe.n_iter_ == len(curve) == moe.best_epoch_ + 4 < 200
    best = curve[moe.best_epoch_ - 1]
    # No epoch beat the kept one by more than the tolerance (1e-4 of it), and the model
    # holds the kept epoch's weights, not the last epoch's.
    assert min(curve) >= best * (1 - 1e-4)
    assert_allclose(held_out_loss(moe, X[valid], y[valid]), best, rtol=1e-4)
    assert not np.isclose(curve[-1], best, rtol=1e-4)
    without = NeuralMixtureOfExpertsRegressor(**small(
        max_epochs=moe.n_iter_, early_stopping=False, train_split=fixed_split(valid)))
    without.fit(X, y)
    assert without.n_iter_ == without.best_epoch_ == moe.n_iter_
    assert_allclose(without.validation_loss_curve_, curve, rtol=1e-5)  # same training
    assert_allclose(held_out_loss(without, X[valid], y[valid]), curve[-1], rtol=1e-4)


def test_a_float_split_holds_out_a_share_of_at_least_50_rows_and_none_under_100():
    X, y = piecewise(1000, 0)
    moe = NeuralMixtureOfExpertsRegressor(**small(max_epochs=1, train_split=0.2)).fit(X, y)
    assert sum(moe.history_[0, "batches", :, "valid_batch_size"]) == 200
    moe.set_params(train_split=0.01).fit(X, y)  # 10 rows: raised to 50
    assert sum(moe.history_[0, "batches", :, "valid_batch_size"]) == 50
    moe.fit(X[:120], y[:120])  # 50 rows would be over a quarter: 30
    assert sum(moe.history_[0, "batches", :, "valid_batch_size"]) == 30
    moe.fit(X[:99], y[:99])  # 24 rows would be too few: none, every row trains
    assert "valid_loss" not in moe.history_[0] and moe.validation_loss_curve_ is None
    assert sum(moe.history_[0, "batches", :, "train_batch_size"]) == 99
    moe.set_params(train_split=None).fit(X, y)
    assert "valid_loss" not in moe.history_[0]
    assert sum(moe.history_[0, "batches", :, "train_batch_size"]) == 1000
    # Rows of weight 0 are never held out: the share is of the others.
    weight = np.r_[np.zeros(500), np.ones(500)]
    moe.set_params(train_split=0.2).fit(X, y, sample_weight=weight)
    assert sum(moe.history_[0, "batches", :, "valid_batch_size"]) == 100


def test_a_skorch_split_callable_is_used_as_given_stratified_for_a_classifier():
    from skorch.dataset import ValidSplit

    X, y = piecewise(500, 0)
    labels = np.where(y > 2.5, "high", "low")  # about one row in six is "high"
    seen = []

    def split(dataset, y=None):
        seen.append(np.asarray(y))
        return ValidSplit(0.2, stratified=True, random_state=0)(dataset, y)

    clf = NeuralMixtureOfExpertsClassifier(**small(max_epochs=2, train_split=split))
    clf.fit(X, labels)
    assert_array_equal(seen[0], np.searchsorted(clf.classes_, labels))  # the class codes
    assert sum(clf.history_[0, "batches", :, "valid_batch_size"]) == 100
    assert len(clf.validation_loss_curve_) == 2

    def bad_split(dataset, y=None):
        return list(range(len(dataset))), None

    with pytest.raises(TypeError, match="train_split must return subsets"):
        NeuralMixtureOfExpertsRegressor(**small(train_split=bad_split)).fit(X, y)


def test_a_class_with_one_row_keeps_it_for_training_and_the_split_stays():
    # The split once dropped itself when it drew the row; now the row goes back to
    # training, and the split keeps its other 49 rows.
    X, _ = piecewise(200, 0)
    labels = np.r_[np.zeros(199), 1]  # one row of class 1, which a split could hold out
    clf = NeuralMixtureOfExpertsClassifier(**small(max_epochs=2, train_split=0.25))
    trained = set()
    for seed in range(30):
        clf.set_params(random_state=seed).fit(X, labels)
        assert clf.validation_loss_curve_ is not None, seed
        trained.add(sum(clf.history_[0, "batches", :, "train_batch_size"]))
    assert trained == {150, 151}  # 151: a seed drew the row, which went back


class Recorder(Callback):
    """Records the learning rate each epoch ran with, and counts its epochs."""

    def __init__(self):
        self.epochs = 0

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1
        net.history.record("lr_seen", net.optimizer_.param_groups[0]["lr"])


def test_callbacks_run_each_epoch_on_a_copy_before_early_stopping():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(400, 3)), rng.normal(size=400)
    recorder = Recorder()
    moe = NeuralMixtureOfExpertsRegressor(**small(
        max_epochs=100, patience=3, lr=0.02, callbacks=[("recorder", recorder)])).fit(X, y)
    assert moe.n_iter_ < 100  # stopped early, and the recorder saw the last epoch too
    assert moe.history_[:, "lr_seen"] == [0.02] * moe.n_iter_
    assert recorder.epochs == 0  # the object given is left as it was
    assert moe.get_params()["callbacks"][0][1] is recorder
    as_tuple = NeuralMixtureOfExpertsRegressor(**small(
        max_epochs=3, early_stopping=False, lr=0.02, callbacks=(Recorder(),))).fit(X, y)
    assert as_tuple.history_[:, "lr_seen"] == [0.02] * 3


def test_learning_rate_schedules():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(400, 3)), rng.normal(size=400)
    params = small(max_epochs=8, lr=0.02, early_stopping=False)
    cosine = NeuralMixtureOfExpertsRegressor(**params, lr_schedule="cosine").fit(X, y)
    expected = [0.01 * (1 + np.cos(np.pi * e / 8)) for e in range(8)]
    assert_allclose(cosine.history_[:, "event_lr"], expected, rtol=1e-6)
    # Noise as a target: the validation loss stalls, and the rate is halved after
    # max(patience // 2, 1) epochs without improvement.
    plateau = NeuralMixtureOfExpertsRegressor(**{**params, "max_epochs": 40},
                                              patience=4, lr_schedule="plateau").fit(X, y)
    rates = np.array(plateau.history_[:, "event_lr"])
    assert rates[0] == 0.02 and np.all(np.diff(rates) <= 0) and rates[-1] < 0.02
    assert set(np.round(np.log2(0.02 / rates), 6)) <= set(map(float, range(41)))
    curve = plateau.validation_loss_curve_
    first_cut = int(np.argmax(rates < 0.02))  # the first epoch run at the lower rate
    best_before = int(np.argmin(curve[:first_cut]))
    assert first_cut - 1 - best_before >= 2  # cut after two stalled epochs, not sooner
    constant = NeuralMixtureOfExpertsRegressor(**params).fit(X, y)
    assert "event_lr" not in constant.history_[0]


def test_verbose_says_why_training_stopped_and_which_weights_it_kept(capsys):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(300, 3)), rng.normal(size=300)
    moe = NeuralMixtureOfExpertsRegressor(**small(max_epochs=100, patience=3, verbose=1))
    moe.fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == moe.n_iter_ + 1
    assert f"valid loss {moe.validation_loss_curve_[-1]:.5f}" in lines[-2]
    assert lines[-1] == (
        f"[NeuralMixtureOfExpertsRegressor] stopped after epoch {moe.n_iter_} of 100: "
        f"valid loss has not improved by 0.0001 (relative) for 3 epochs; kept the "
        f"weights of epoch {moe.best_epoch_}")


def test_the_fitted_model_keeps_the_network_and_history_not_the_skorch_net():
    from skorch import NeuralNet

    X, y = piecewise(300, 0)
    moe = NeuralMixtureOfExpertsRegressor(**small(max_epochs=3)).fit(X, y)
    assert not any(isinstance(value, NeuralNet) for value in vars(moe).values())
    restored = pickle.loads(pickle.dumps(moe))
    assert restored.history_[:, "valid_loss"] == moe.history_[:, "valid_loss"]
    assert restored.best_epoch_ == moe.best_epoch_ and restored.n_iter_ == 3
    assert_allclose(restored.predict(X), moe.predict(X), rtol=1e-6)


def test_the_target_is_standardised_with_the_sample_weights():
    # As X is: rows of weight 0, however far off their y, play no part.
    X, y = piecewise(300, 0)
    weight = np.r_[np.ones(150), np.zeros(150)]
    far = y.copy()
    far[150:] = 1e9
    moe = NeuralMixtureOfExpertsRegressor(**small(max_epochs=2)).fit(X, far,
                                                                       sample_weight=weight)
    assert_allclose(moe.y_mean_, [y[:150].mean()])
    assert_allclose(moe.y_scale_, [y[:150].std()])
    plain = NeuralMixtureOfExpertsRegressor(**small(max_epochs=2)).fit(X, y)
    assert_allclose(plain.y_mean_, [y.mean()])
    assert_allclose(plain.y_scale_, [y.std()])


def test_a_class_with_one_row_keeps_it_out_of_the_validation_split():
    from skfuse.torch._mixture import validation_rows

    codes = np.r_[np.zeros(60, int), np.ones(59, int), 2]  # class 2: one row
    weight = np.ones(len(codes))
    for seed in range(20):
        valid = validation_rows(0.25, weight, codes, np.random.RandomState(seed))
        assert valid is not None and 119 not in valid, seed
        assert np.all(np.diff(valid) > 0) and len(valid) >= 29


def test_rare_classes_that_take_back_the_validation_split_leave_none():
    from skfuse.torch._mixture import validation_rows

    codes = np.r_[np.arange(118), 118, 118]  # every class of one row but the last
    for seed in range(5):
        assert validation_rows(0.25, np.ones(len(codes)), codes,
                               np.random.RandomState(seed)) is None


def test_a_constant_output_is_predicted_exactly():
    X, y = piecewise(300, 0)
    Y = np.column_stack([y, np.full(len(y), 3.0)])
    moe = NeuralMixtureOfExpertsRegressor(**small(max_epochs=2)).fit(X, Y)
    assert_array_equal(moe.predict(X)[:, 1], 3.0)


@pytest.mark.parametrize("value", [1 / 3, 1e9 + 0.1, 123456.789])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_constant_output_of_any_value_is_predicted_exactly(value, weighted):
    # Its mean and spread were rounding residue (1/3: a scale of 6e-17), so the network
    # fit noise and predict missed the value by ulps.
    X, _ = piecewise(200, 0)
    weight = np.r_[np.zeros(50), np.ones(150)] if weighted else None
    y = np.full(len(X), value)
    if weighted:
        y[:50] = 7.0  # rows of weight 0 play no part
    moe = NeuralMixtureOfExpertsRegressor(**small(max_epochs=2)).fit(
        X, y, sample_weight=weight)
    assert_array_equal(moe.y_scale_, 0.0)
    assert_array_equal(moe.predict(X), value)


@pytest.mark.parametrize("classify", [False, True])
def test_fit_predict_and_load_under_a_float64_default_dtype(classify):
    # Parameters took torch's default dtype: under set_default_dtype(torch.float64) fit
    # failed in the gate's matmul (float != double), as did predict after unpickling,
    # and predict_gate's scatter.
    X, y = piecewise(200, 0)
    cls = NeuralMixtureOfExpertsClassifier if classify else NeuralMixtureOfExpertsRegressor
    y = y > 0 if classify else y
    reference = cls(**small(max_epochs=2)).fit(X, y)
    saved = pickle.dumps(reference)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        moe = cls(**small(max_epochs=2)).fit(X, y)
        loaded = pickle.loads(saved)
        for model in (moe, loaded, reference):
            assert_array_equal(model.predict(X), reference.predict(X))
            assert_array_equal(model.predict_gate(X), reference.predict_gate(X))
    finally:
        torch.set_default_dtype(before)


def test_weighted_losses_are_weighted_means_on_each_side_of_the_split():
    # Weights were scaled to mean 1 over every row, so a part's recorded loss was its
    # weighted mean times the part's mean weight: with 100 training rows of weight 0,
    # valid_loss read 1.5x the weighted mean squared error of the held-out rows.
    X, y = piecewise(300, 0)
    valid = np.arange(200, 300)
    weight = np.r_[np.zeros(100), np.full(100, 3.0), np.ones(100)]
    moe = NeuralMixtureOfExpertsRegressor(**small(
        max_epochs=3, early_stopping=False, train_split=fixed_split(valid))).fit(
        X, y, sample_weight=weight)
    assert_allclose(moe.validation_loss_curve_[-1], held_out_loss(moe, X[valid], y[valid]),
                    rtol=1e-5)


def test_a_seeded_fit_repeats_with_a_shuffled_skorch_split():
    # A ValidSplit with a float and no seed of its own shuffles with NumPy's global
    # generator, which the mixture's random_state did not seed.
    from skorch.dataset import ValidSplit

    X, y = piecewise(200, 0)
    fits = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        fits.append(NeuralMixtureOfExpertsRegressor(**small(
            max_epochs=3, train_split=ValidSplit(0.2))).fit(X, y))
    assert_array_equal(fits[0].predict(X), fits[1].predict(X))
    assert fits[0].validation_loss_curve_ == fits[1].validation_loss_curve_


def test_verbose_names_a_stop_that_early_stopping_did_not_make(capsys):
    # A user's callback that ends training was reported as the built-in early stopping,
    # with its patience: a reason that was false.
    class StopAtTwo(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 2:
                raise KeyboardInterrupt

    X, y = piecewise(200, 0)
    moe = NeuralMixtureOfExpertsRegressor(**small(max_epochs=10, verbose=1,
                                                  callbacks=[("stop", StopAtTwo())]))
    moe.fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert moe.n_iter_ == 2
    assert ("[NeuralMixtureOfExpertsRegressor] stopped after epoch 2 of 10 by a callback or "
            "an interrupt") in lines
    assert not any("has not improved" in line for line in lines)


def test_callbacks_are_taken_in_every_form_skorch_takes():
    # A class, a [name, callback] list, a (name, None) pair; and a built-in's name when
    # that built-in is off.
    X, y = piecewise(120, 0)
    for callbacks in ([Callback], [["mine", Callback()]], [("mine", None)],
                      [("lr_schedule", Callback())]):
        moe = NeuralMixtureOfExpertsRegressor(**small(max_epochs=1, callbacks=callbacks))
        assert moe.fit(X, y).n_iter_ == 1


def test_a_seeded_fit_inside_a_seeded_fit_does_not_wait_for_itself():
    # A mixture with a split callable holds the seeding lock while it trains; a callback
    # that fits a seeded net then waited for that lock forever.
    import threading

    from skorch.dataset import ValidSplit

    from skfuse.torch import NetRegressor

    X, y = piecewise(120, 0)

    class FitsAProbe(Callback):
        def on_epoch_end(self, net, **kwargs):
            NetRegressor(torch.nn.Linear, module__in_features=3, module__out_features=1,
                         max_epochs=1, train_split=None, verbose=0,
                         random_state=0).fit(X.astype(np.float32), y)

    moe = NeuralMixtureOfExpertsRegressor(**small(
        max_epochs=2, train_split=ValidSplit(0.2), callbacks=[("probe", FitsAProbe())]))
    worker = threading.Thread(target=moe.fit, args=(X, y), daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive()
    assert moe.n_iter_ == 2


@pytest.mark.parametrize("split", [0.2, None])
def test_a_diverging_fit_is_refused_not_kept(split):
    """Early stopping keeps no epoch when no loss is finite (its best epoch stays 0); the
    model then held the last, useless weights without a word."""
    X, y = piecewise(240, 0)
    moe = NeuralMixtureOfExpertsRegressor(**small(max_epochs=3, lr=1e9, train_split=split))
    with pytest.raises(ValueError, match="training diverged: no epoch reached a finite"):
        moe.fit(X, y)
    moe.set_params(early_stopping=False)  # it keeps the last epoch's weights
    with pytest.raises(ValueError, match="training diverged: the .* loss of epoch 3, whose "
                                         "weights it would keep, is (inf|nan)"):
        moe.fit(X, y)


def test_callback_parameters_are_set_by_name_as_in_skorch():
    from sklearn.base import clone
    from skorch.callbacks import GradientNormClipping

    moe = NeuralMixtureOfExpertsRegressor(
        callbacks=[("clip", GradientNormClipping(1.0)), GradientNormClipping(3.0)])
    searched = clone(moe).set_params(callbacks__clip__gradient_clip_value=2.0,
                                     callbacks__GradientNormClipping__gradient_clip_value=5.0,
                                     lr=0.1)
    assert [cb.gradient_clip_value for cb in (searched.callbacks[0][1],
                                              searched.callbacks[1])] == [2.0, 5.0]
    assert moe.callbacks[0][1].gradient_clip_value == 1.0  # the clone's, not these
    assert searched.lr == 0.1
    with pytest.raises(ValueError, match="'callbacks__nope__x' names no parameter .* "
                                         "\\['GradientNormClipping', 'clip'\\]"):
        searched.set_params(callbacks__nope__x=1)
    X, y = piecewise(200, 0)
    fitted = NeuralMixtureOfExpertsRegressor(**small(
        max_epochs=2, callbacks=[("clip", GradientNormClipping(1.0))])).set_params(
        callbacks__clip__gradient_clip_value=0.5).fit(X, y)
    assert dict(fitted.callbacks)["clip"].gradient_clip_value == 0.5


@pytest.mark.parametrize("make", [NeuralMixtureOfExpertsRegressor,
                                  NeuralMixtureOfExpertsClassifier])
@pytest.mark.parametrize("scale", [2.0**-60, 2.0**-540, 2.0**530])
def test_standardising_does_not_depend_on_the_units_of_x(make, scale):
    # A column of spread below about 2e-15 was taken for a constant one (an absolute
    # floor), and one of values near 1e160 got an infinite scale: either way the
    # network saw zeros and predicted a constant, without a word.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 2))
    y = X[:, 0] if make is NeuralMixtureOfExpertsRegressor else (X[:, 0] > 0).astype(int)
    model = make(n_experts=2, max_epochs=5, device="cpu", random_state=0)
    plain = clone(model).fit(X, y)
    scaled = clone(model).fit(X * scale, y)
    assert_allclose(scaled.x_scale_, plain.x_scale_ * scale, rtol=1e-12)
    outputs = "predict" if make is NeuralMixtureOfExpertsRegressor else "predict_proba"
    assert_allclose(getattr(scaled, outputs)(X * scale), getattr(plain, outputs)(X),
                    rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", [NeuralMixtureOfExpertsRegressor,
                                  NeuralMixtureOfExpertsClassifier])
def test_standardising_keeps_constant_and_offset_columns_sane(make):
    # Mean and scale came from X cast to float32: a constant column got a scale of its
    # rounding residue (2e-7), so a change of 0.1 at predict moved it by 5e5 standard
    # units (regressor predictions of -78,000 for targets within ±3), and a column of
    # 1e7 plus small changes kept a handful of distinct values.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = X[:, 0] + X[:, 1]
    if make is NeuralMixtureOfExpertsClassifier:
        y = (y > 0).astype(int)
    X[:, 2] = 0.1
    model = make(n_experts=3, max_epochs=5, device="cpu", random_state=0).fit(X, y)
    assert model.x_scale_[2] == 1.0
    moved = X[:20].copy()
    moved[:, 2] = 0.2
    if make is NeuralMixtureOfExpertsClassifier:
        assert_allclose(model.predict_proba(moved), model.predict_proba(X[:20]), atol=0.2)
    else:
        assert np.abs(model.predict(moved) - model.predict(X[:20])).max() < 1.0
    offset = X + [1e7, 0.0, 0.0]
    shifted = make(n_experts=3, max_epochs=5, device="cpu", random_state=0).fit(offset, y)
    assert_allclose(shifted._scaled(offset), model._scaled(X), atol=1e-5)


class _StopsMidEpoch(Callback):
    """Interrupts training during the third epoch's batches (Ctrl-C, a time budget)."""

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == 3:
            raise KeyboardInterrupt


class _StopsAtEpoch4(Callback):
    """Stops training as epoch 4 ends, before early stopping judges that epoch."""

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 4:
            raise KeyboardInterrupt


@pytest.mark.parametrize("early_stopping", [True, False])
def test_an_epoch_stopped_before_its_end_is_not_counted(early_stopping):
    # Its history entry holds no loss: n_iter_ counted it, and without early stopping
    # reading the best epoch's loss failed with an IndexError.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0]
    model = NeuralMixtureOfExpertsRegressor(n_experts=3, hidden_units=4, max_epochs=30,
                                            early_stopping=early_stopping, device="cpu",
                                            random_state=0, callbacks=[_StopsMidEpoch()])
    model.fit(X, y)
    assert model.n_iter_ == len(model.loss_curve_) == model.best_epoch_ == 2


def test_a_callback_that_stops_at_an_epochs_end_keeps_a_better_last_epoch():
    # The user's callbacks run before early stopping, which never judged the last epoch
    # and restored the one before, though the last had the lowest loss.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0]

    def model(**kwargs):
        return NeuralMixtureOfExpertsRegressor(n_experts=3, hidden_units=4, device="cpu",
                                               random_state=0, **kwargs)

    stopped = model(max_epochs=30, callbacks=[_StopsAtEpoch4()]).fit(X, y)
    curve = stopped.validation_loss_curve_
    assert len(curve) == 4 and np.argmin(curve) == 3
    assert stopped.best_epoch_ == 4
    assert_allclose(stopped.predict(X), model(max_epochs=4).fit(X, y).predict(X))


def test_a_users_callback_may_take_the_name_early_stopping_where_that_is_off():
    # fit read the user's callback as the built-in stopper, and failed on best_epoch_.
    from skorch.callbacks import GradientNormClipping

    X, y = _noisy_rows()
    model = NeuralMixtureOfExpertsRegressor(
        n_experts=2, max_epochs=4, device="cpu", random_state=0, early_stopping=False,
        callbacks=[("early_stopping", GradientNormClipping(1.0))]).fit(X, y)
    assert model.best_epoch_ == model.n_iter_ == 4


def test_best_epoch_is_the_one_a_users_early_stopping_restored():
    # Without the built-in stopper, best_epoch_ said the last epoch, while the user's
    # EarlyStopping(load_best=True) had restored an earlier one's weights.
    from skorch.callbacks import EarlyStopping
    from skorch.dataset import ValidSplit

    X, y = _noisy_rows()
    model = NeuralMixtureOfExpertsRegressor(
        n_experts=4, hidden_units=64, lr=0.05, max_epochs=60, device="cpu", random_state=0,
        early_stopping=False, train_split=ValidSplit(5),
        callbacks=[EarlyStopping(patience=3, load_best=True)]).fit(X, y)
    held = np.mean(((model.predict(X[:40]) - y[:40]) / model.y_scale_) ** 2)  # the split
    assert model.best_epoch_ < model.n_iter_
    assert held == pytest.approx(model.validation_loss_curve_[model.best_epoch_ - 1],
                                 rel=1e-5)


@pytest.mark.parametrize("kind", [NeuralMixtureOfExpertsRegressor,
                                  NeuralMixtureOfExpertsClassifier])
def test_numpy_integers_count_the_experts_as_python_ones(kind):
    # A grid over np.arange gives NumPy integers: sparse routing failed on one
    # ("'numpy.int64' object has no attribute 'bit_length'").
    X, y = _noisy_rows()
    y = y if kind is NeuralMixtureOfExpertsRegressor else (y > 0).astype(int)
    settings = dict(max_epochs=2, train_split=None, device="cpu", random_state=0)
    python = kind(n_experts=4, top_k=1, **settings).fit(X, y)
    numpy = kind(n_experts=np.int64(4), top_k=np.int64(1), **settings).fit(X, y)
    assert_array_equal(numpy.predict(X), python.predict(X))


def _noisy_rows():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 6))
    return X, X[:, 0] + rng.normal(size=200)


def test_callbacks_given_alone_are_set_by_the_names_skorch_gives_them():
    # Two of one class were both named after it, so the second took every parameter
    # set by that name, and the names skorch gives them (GradientNormClipping_1) were
    # refused.
    from skorch.callbacks import GradientNormClipping

    model = NeuralMixtureOfExpertsRegressor(
        callbacks=[GradientNormClipping(1.0), GradientNormClipping(2.0)])
    model.set_params(callbacks__GradientNormClipping_2__gradient_clip_value=9.0)
    assert [cb.gradient_clip_value for cb in model.callbacks] == [1.0, 9.0]
    with pytest.raises(ValueError, match=r"the callbacks by name: \['GradientNormClipping_1', "
                                         r"'GradientNormClipping_2'\]"):
        model.set_params(callbacks__GradientNormClipping__gradient_clip_value=3.0)
    alone = NeuralMixtureOfExpertsRegressor(callbacks=[GradientNormClipping(1.0)])
    alone.set_params(callbacks__GradientNormClipping__gradient_clip_value=4.0)
    assert alone.callbacks[0].gradient_clip_value == 4.0


def test_weights_left_non_finite_by_an_interrupted_epoch_are_refused():
    # Without early stopping the model keeps the weights it had at the stop, which no
    # recorded loss vouches for.
    class Breaks(Callback):
        def on_batch_end(self, net, training=False, **kwargs):
            if training and len(net.history) == 2:
                with torch.no_grad():
                    next(net.module_.parameters()).fill_(float("nan"))
                raise KeyboardInterrupt

    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    model = NeuralMixtureOfExpertsRegressor(n_experts=2, hidden_units=4, max_epochs=10,
                                            early_stopping=False, device="cpu",
                                            random_state=0, callbacks=[Breaks()])
    with pytest.raises(ValueError, match="training diverged in the epoch stopped before "
                                         "its end"):
        model.fit(X, X[:, 0])
