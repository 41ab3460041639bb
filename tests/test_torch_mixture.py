"""Neural mixtures of experts: the routed network against a hand computation, and the estimators."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

torch = pytest.importorskip("torch")

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


def test_verbose_prints_each_epoch(capsys):
    X, y = piecewise(100, 0)
    moe = NeuralMixtureOfExpertsRegressor(**small(max_epochs=3, verbose=1)).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"[NeuralMixtureOfExpertsRegressor] epoch {i} of 3" for i in (1, 2, 3)]
    assert f"loss {moe.loss_curve_[-1]:.5f}" in lines[-1]


@pytest.mark.parametrize("params, error, match", [
    ({"n_experts": 0}, InvalidParameterError, "The 'n_experts' parameter"),
    ({"top_k": 5}, ValueError, "top_k=5 is more than n_experts=4"),
    ({"top_k": 0}, InvalidParameterError, "The 'top_k' parameter"),
    ({"hidden_units": (8, 0)}, ValueError, "hidden_units"),
    ({"lr": 0.0}, InvalidParameterError, r"The 'lr' parameter .* range \(0.0, inf\)"),
    ({"balance_weight": -1.0}, InvalidParameterError, "The 'balance_weight' parameter"),
    ({"max_epochs": 2.5}, InvalidParameterError, "The 'max_epochs' parameter .* Got 2.5"),
    ({"device": "tpu"}, ValueError, "device"),
])
def test_bad_parameters_are_refused(params, error, match):
    X, y = piecewise(50, 0)
    with pytest.raises(error, match=match):
        NeuralMixtureOfExpertsRegressor(**small(**params)).fit(X, y)


def test_pickle_holds_cpu_tensors_and_predicts_the_same():
    X, y = piecewise(200, 0)
    moe = NeuralMixtureOfExpertsClassifier(**small(max_epochs=3, device="auto")).fit(X, y > 0)
    restored = pickle.loads(pickle.dumps(moe))
    assert all(p.device.type == "cpu" for p in restored.module_.parameters())
    assert_allclose(restored.predict_proba(X), moe.predict_proba(X), rtol=1e-5, atol=1e-7)


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
