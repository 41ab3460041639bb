"""Neural mixture of experts: throughput of sparse routing, and held-out accuracy.

Run from the repository root (needs the torch extra)::

    python benchmarks/bench_neural_moe.py --device cpu            # print the tables
    python benchmarks/bench_neural_moe.py --device cuda --write   # ... and write docs/benchmarks.md

Three networks, side by side in one run: the sparse mixture (``top_k=2`` of 16 experts),
the dense mixture (all 16 experts on every row) and a single MLP with the sparse
mixture's active parameters (one expert of twice the hidden width). Throughput is rows
per second of ``predict`` on one large batch and of ``fit`` (training epochs), the
median of ``--repeats`` interleaved timings. Accuracy is held-out, on a piecewise
problem (regression) and on real data sets bundled with installed packages. A last
table times a skorch net as a member: plain skorch's ``predict`` against
``skfuse.torch.NetClassifier``'s, with the module called directly as the bound.
"""

import argparse
import platform
import statistics
import sys
import time

import numpy as np
import sklearn
import torch
from _common import DOC, from_sklearn, load_churn, versions, write_section
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier

import skfuse
from skfuse.torch import (
    NetClassifier,
    NeuralMixtureOfExpertsClassifier,
    NeuralMixtureOfExpertsRegressor,
)

N_EXPERTS, TOP_K = 16, 2


def networks(kind, hidden, device, seed, **params):
    """The three networks compared, with the same training settings."""
    common = dict(device=device, random_state=seed, **params)
    return {
        f"sparse mixture ({TOP_K} of {N_EXPERTS} experts)":
            kind(n_experts=N_EXPERTS, top_k=TOP_K, hidden_units=hidden, **common),
        f"dense mixture ({N_EXPERTS} experts)":
            kind(n_experts=N_EXPERTS, top_k=None, hidden_units=hidden, **common),
        "single MLP (same active parameters)":
            kind(n_experts=1, top_k=None, hidden_units=TOP_K * hidden, **common),
    }


def synchronised(device):
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def piecewise(n, n_features, seed):
    """Eight regimes by the signs of x0, x1, x2; each linear in every feature."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, n_features))
    regime = (X[:, 0] > 0) * 4 + (X[:, 1] > 0) * 2 + (X[:, 2] > 0)
    coef = np.random.RandomState(99).normal(size=(8, n_features))
    y = np.einsum("ij,ij->i", X, coef[regime]) + rng.normal(0, 0.1, n)
    return X, y


def throughput(args):
    X, y = piecewise(args.rows, args.features, 0)
    X_fit, y_fit = X[: args.fit_rows], y[: args.fit_rows]
    models = networks(NeuralMixtureOfExpertsRegressor, args.hidden, args.device, 0,
                      max_epochs=1, batch_size=args.batch_size)
    fit_s = {name: [] for name in models}
    predict_s = {name: [] for name in models}
    for model in models.values():  # warm up: first CUDA/BLAS calls
        model.fit(X_fit[:2048], y_fit[:2048]).predict(X[:2048])
    for _ in range(args.repeats):
        for name, model in models.items():
            start = synchronised(args.device)
            model.fit(X_fit, y_fit)
            fit_s[name].append(synchronised(args.device) - start)
            start = synchronised(args.device)
            model.predict(X)
            predict_s[name].append(synchronised(args.device) - start)
    lines = ["| network | predict rows/s | fit rows/s | predict speed / dense's |",
             "|---|---|---|---|"]
    dense = statistics.median(predict_s[f"dense mixture ({N_EXPERTS} experts)"])
    for name in models:
        pred, fit = statistics.median(predict_s[name]), statistics.median(fit_s[name])
        lines.append(f"| {name} | {len(X) / pred:,.0f} | {len(X_fit) / fit:,.0f} "
                     f"| {dense / pred:.2f}x |")
    return "\n".join(lines)


def accuracy_piecewise(args):
    X, y = piecewise(args.train_rows + 5000, args.features, 1)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=5000, random_state=0)
    models = networks(NeuralMixtureOfExpertsRegressor, args.hidden, args.device, 0,
                      max_epochs=args.epochs, lr=args.lr)
    models["gradient boosting (reference)"] = HistGradientBoostingRegressor(random_state=0)
    lines = ["| model | held-out RMSE | R^2 |", "|---|---|---|"]
    for name, model in models.items():
        print(f"  piecewise: {name}", file=sys.stderr, flush=True)
        err = model.fit(X_tr, y_tr).predict(X_te) - y_te
        rmse = float(np.sqrt(np.mean(err**2)))
        lines.append(f"| {name} | {rmse:.3f} | {1 - rmse**2 / np.var(y_te):.4f} |")
    return "\n".join(lines)


def accuracy_real(data, args):
    accs = {}
    for seed in range(args.seeds):
        X_tr, X_te, y_tr, y_te = train_test_split(
            data.X, data.y, test_size=0.25, stratify=data.y, random_state=seed
        )
        models = networks(NeuralMixtureOfExpertsClassifier, args.hidden, args.device, seed,
                          max_epochs=args.epochs, lr=args.lr)
        models["gradient boosting (reference)"] = HistGradientBoostingClassifier(
            random_state=seed)
        for name, model in models.items():
            print(f"  {data.name} seed {seed}: {name}", file=sys.stderr, flush=True)
            accs.setdefault(name, []).append(np.mean(model.fit(X_tr, y_tr).predict(X_te) == y_te))
    lines = [f"#### {data.name} ({data.shape_note}; {data.source})", "",
             "| model | held-out accuracy |", "|---|---|"]
    lines += [f"| {name} | {np.mean(a):.4f} ± {np.std(a):.4f} |" for name, a in accs.items()]
    return "\n".join(lines)


class _MLP(torch.nn.Module):
    def __init__(self, n_in, n_out, hidden=64):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(),
                                          torch.nn.Linear(hidden, n_out))

    def forward(self, X):
        return self.layers(X)


def member_predict(args):
    """Plain skorch predict against the adapter's, and the module called directly."""
    data = from_sklearn(load_digits, "digits")
    X = np.tile(data.X, (20, 1)).astype(np.float32)  # 35,940 rows
    params = dict(module__n_in=X.shape[1], module__n_out=10, criterion=torch.nn.CrossEntropyLoss,
                  max_epochs=2, train_split=None, verbose=0, device=args.device)
    plain = NeuralNetClassifier(_MLP, **params).fit(X, np.tile(data.y, 20))
    adapted = NetClassifier(_MLP, random_state=0, **params).fit(X, np.tile(data.y, 20))

    def direct():
        with torch.inference_mode():
            return adapted.module_(torch.from_numpy(X).to(args.device)).softmax(1).cpu().numpy()

    calls = {"skorch NeuralNetClassifier.predict_proba": lambda: plain.predict_proba(X),
             "skfuse.torch.NetClassifier.predict_proba": lambda: adapted.predict_proba(X),
             "module called directly (bound)": direct}
    seconds = {name: [] for name in calls}
    for _ in range(args.repeats):
        for name, call in calls.items():
            start = synchronised(args.device)
            call()
            seconds[name].append(synchronised(args.device) - start)
    bound = statistics.median(seconds["module called directly (bound)"])
    lines = [f"{len(X):,} rows (digits tiled), a 64-unit MLP, batch_size=128.", "",
             "| predict path | time / module called directly |", "|---|---|"]
    lines += [f"| {name} | {statistics.median(s) / bound:.1f}x |" for name, s in seconds.items()]
    return "\n".join(lines)


def device_name(device):
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} torch threads)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--rows", type=int, default=200_000, help="rows predicted")
    parser.add_argument("--fit-rows", type=int, default=50_000, help="rows of one fit epoch")
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128, help="hidden units per expert")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but CUDA is not available")
    begin = time.perf_counter()
    print("throughput...", file=sys.stderr, flush=True)
    speed = throughput(args)
    print("accuracy...", file=sys.stderr, flush=True)
    piece = accuracy_piecewise(args)
    real = [accuracy_real(data, args)
            for data in (from_sklearn(load_digits, "digits"), load_churn())]
    print("member predict...", file=sys.stderr, flush=True)
    member = member_predict(args)
    heading = f"## Neural mixture of experts on {args.device} (bench_neural_moe.py)"
    section = "\n\n".join([
        heading,
        f"Run on {time.strftime('%Y-%m-%d')} on {device_name(args.device)}; "
        f"{versions(skfuse, sklearn, np, torch)}. Total runtime "
        f"{time.perf_counter() - begin:.0f} s. Reproduce with "
        f"`python benchmarks/bench_neural_moe.py --device {args.device} --write`.",
        "### Throughput",
        f"{args.features} features, experts with {args.hidden} hidden units (the single MLP "
        f"{TOP_K * args.hidden}), float32. `predict` on {args.rows:,} rows in one call; "
        f"`fit` is one epoch over {args.fit_rows:,} rows with batch_size={args.batch_size}. "
        f"Medians of {args.repeats} interleaved timings in one run.",
        speed,
        "### Held-out accuracy",
        f"Piecewise regression: {args.features} uniform features on [-2, 2], eight regimes "
        f"by the signs of the first three, each linear in every feature, noise sd 0.1; "
        f"{args.train_rows:,} training and 5,000 held-out rows. Networks: {args.epochs} "
        f"epochs, lr={args.lr}, batch_size=128, experts of {args.hidden} hidden units.",
        piece,
        f"Real data: stratified 75/25 splits, mean ± sd over {args.seeds} seeds; same "
        "networks and settings.",
        *real,
        "### A skorch net as a member: predict time",
        member,
    ])
    print(section)
    if args.write:
        write_section(DOC, heading, section)


if __name__ == "__main__":
    main()
