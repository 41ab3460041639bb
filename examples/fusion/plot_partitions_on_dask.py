"""
One member copy per partition, on a Dask cluster
================================================

When the rows do not fit in one machine, ``FusionClassifier(partitions="blocks")``
takes a Dask collection: each member is fitted once per block, on the worker that holds
the block, and the copies of a member predict with their mean. The fusion weights are
learned from *out-of-partition* outputs: every copy predicts a few rows drawn from each
block, and a row's output is that of the copies that never saw its block. ``predict``
on a collection returns a Dask array computed block by block; ``X`` is never gathered.

Here the handwritten digits bundled with scikit-learn stand in for a large set: four
blocks on a two-worker ``LocalCluster``, a partitioned gradient-boosting model beside a
partitioned linear model, against each member fitted on one block alone.
"""

# %%
# The data as a Dask array of four blocks
# ---------------------------------------
import dask
import dask.array as da
import matplotlib.pyplot as plt
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfuse import FusionClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
X_blocks = da.from_array(X_train, chunks=(len(X_train) // 4 + 1, -1))
y_blocks = da.from_array(y_train, chunks=(len(X_train) // 4 + 1,))
members = [
    ("boosting", HistGradientBoostingClassifier(max_iter=30, random_state=0)),
    ("linear", make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300))),
]

# %%
# Fit where the blocks live, predict block by block
# -------------------------------------------------
# Processes, not threads: each worker holds its own blocks. The ``with`` blocks shut the
# cluster down at the end.
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        fusion = FusionClassifier(members, weights="optimize", partitions="blocks",
                                  partition_sample=100, random_state=0)
        fusion.fit(X_blocks, y_blocks)
        predicted = fusion.predict(da.from_array(X_test, chunks=150))  # lazy
        fused = float((predicted.compute() == y_test).mean())

    # One copy alone: each member fitted on the first block only.
    first = X_blocks.blocks[0].compute(), y_blocks.blocks[0].compute()
    with dask.config.set(scheduler="sync"):
        alone = {name: float(est.fit(*first).score(X_test, y_test))
                 for name, est in members}
    weights = {name: round(float(w), 3) for name, w in zip(fusion.named_estimators_,
                                                           fusion.weights_)}
    print(f"weights: {weights}")
    print(f"held-out accuracy: fused over 4 blocks {fused:.3f}; on one block: {alone}")

    # The fused copies against each member fitted on one block.
    labels = [f"{name}, one block" for name in alone] + ["fusion, four blocks"]
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.barh(labels, list(alone.values()) + [fused], color=["C0", "C0", "C2"])
    ax.set_xlim(0.8, 1.0)
    ax.set_xlabel("held-out accuracy")
    fig.tight_layout()
    plt.show()
