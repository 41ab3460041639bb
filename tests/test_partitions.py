"""Partitions: one member copy per data partition, on Dask collections and in memory."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context, get_config
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification, make_regression
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfuse import FusionClassifier, FusionRegressor, _partitions

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

X_CLF, Y_CLF = make_classification(n_samples=1200, n_features=6, n_informative=4,
                                   n_classes=3, random_state=0)
X_REG, Y_REG = make_regression(n_samples=900, n_features=5, noise=3.0, random_state=0)
SIZES = (300, 300, 300, 300)  # np.array_split of 1200 rows into 4


def members():
    return [("lr", LogisticRegression(max_iter=300)),
            ("tree", DecisionTreeClassifier(max_depth=4))]


def fusion(**params):
    return FusionClassifier(members(), weights="optimize", partition_sample=50,
                            random_state=0, **params)


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler="sync"):
        yield


def test_each_copy_is_the_member_fitted_on_its_partition():
    fitted = fusion(partitions=4).fit(X_CLF, Y_CLF)
    assert fitted.n_partitions_ == 4
    for (name, member), copies in zip(members(), fitted.estimators_):
        for rows, copy in zip(np.array_split(np.arange(1200), 4), copies.estimators):
            alone = clone(member).set_params(random_state=copy.random_state) \
                if "random_state" in member.get_params() else clone(member)
            alone.fit(X_CLF[rows], Y_CLF[rows])
            assert_allclose(copy.predict_proba(X_CLF), alone.predict_proba(X_CLF))


def test_out_of_partition_output_leaves_each_rows_own_partition_out():
    outputs = np.arange(3 * 4, dtype=float).reshape(3, 4)  # 3 fits, 4 sample rows
    groups = np.array([0, 1, 2, 2])
    assert_allclose(_partitions.out_of_partition(outputs, groups),
                    [(4 + 8) / 2, (1 + 9) / 2, (2 + 6) / 2, (3 + 7) / 2])
    votes = np.array([[0, 1, 2], [1, 1, 2], [1, 0, 0]])
    assert_array_equal(_partitions.out_of_partition(votes, np.array([0, 1, 2]), 3),
                       [1, 0, 2])


@pytest.mark.parametrize("frame", [False, True])
def test_a_dask_fit_equals_the_in_memory_fit_on_the_same_partitions(frame):
    want, X_here = fusion(partitions=4).fit(X_CLF, Y_CLF), X_CLF
    if frame:
        dd = pytest.importorskip("dask.dataframe")
        pd = pytest.importorskip("pandas")
        columns = [f"f{i}" for i in range(6)]
        X = dd.from_pandas(pd.DataFrame(X_CLF, columns=columns), npartitions=4)
        y = dd.from_pandas(pd.Series(Y_CLF), npartitions=4)
        X_here = pd.DataFrame(X_CLF, columns=columns)
        want = fusion(partitions=4).fit(X_here, Y_CLF)
    else:
        X = da.from_array(X_CLF, chunks=(SIZES, 3))
        y = da.from_array(Y_CLF, chunks=(SIZES,))
    got = fusion(partitions="blocks").fit(X, y)
    assert_allclose(got.weights_, want.weights_, atol=1e-10)
    proba = got.predict_proba(X)
    assert isinstance(proba, da.Array)
    assert_allclose(proba.compute(), want.predict_proba(X_here), atol=1e-10)
    assert_array_equal(got.predict(X).compute(), want.predict(X_here))
    assert_allclose(got.transform(X).compute(), want.transform(X_here), atol=1e-10)
    assert_allclose(got.predict_log_proba(X).compute(), want.predict_log_proba(X_here),
                    atol=1e-10)


def test_predict_on_a_dask_frame_reads_one_partition_and_takes_empty_ones():
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X_CLF, columns=[f"f{i}" for i in range(6)])
    fitted = fusion(partitions=4).fit(frame, Y_CLF)
    X = dd.from_pandas(frame, npartitions=4)
    X = X[X["f0"] > X["f0"].quantile(0.3)]  # rows left out; perhaps whole partitions
    X = dd.concat([X.partitions[0].head(0, npartitions=1, compute=False), X])  # empty first
    read = []

    def counted(part, partition_info=None):
        read.append(partition_info["number"])
        return part

    lazy = X.map_partitions(counted, meta=X._meta)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the frame's names, as at fit: no names warning
        proba = fitted.predict_proba(lazy)
    assert len(set(read)) <= 2  # the empty first partition and the one with a row
    here = lazy.compute()
    assert_allclose(proba.compute(), fitted.predict_proba(here))
    assert_array_equal(fitted.predict(lazy).compute(), fitted.predict(here))
    assert fitted.transform(lazy).compute().shape == (len(here), 6)


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
@pytest.mark.parametrize("fit_names", [False, True], ids=["fit_array", "fit_frame"])
def test_a_names_mismatch_on_a_collection_warns_once(fit_names, scheduler):
    # Each block warned again, in the composite's name and in each member's.
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X_CLF, columns=[f"f{i}" for i in range(6)])
    fitted = fusion().fit(frame if fit_names else X_CLF, Y_CLF)
    X = da.from_array(X_CLF, chunks=300) if fit_names else dd.from_pandas(frame,
                                                                          npartitions=4)
    with dask.config.set(scheduler=scheduler):
        for method in ("predict", "predict_proba", "transform"):
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                out = getattr(fitted, method)(X).compute()
            names = [str(w.message) for w in record if "feature names" in str(w.message)]
            assert len(names) == 1 and "FusionClassifier" in names[0], names
            assert_allclose(out, getattr(fitted, method)(X_CLF if not fit_names else frame))


@pytest.mark.parametrize("odd", [None, 1, np.nan], ids=["None", "int", "NaN"])
def test_partitioned_labels_that_do_not_sort_are_named_as_in_memory(odd):
    # Each partition sorted its labels first, and failed in NumPy's words.
    y = np.array(["a", "b", "c"], dtype=object)[Y_CLF]
    y[500] = odd
    match = ("Input y contains NaN" if odd is not None and odd != 1
             else "y mixes labels of types")
    with pytest.raises((TypeError, ValueError), match=f"^FusionClassifier: {match}"):
        fusion(partitions=3).fit(X_CLF, y)


def test_weights_on_a_collection_are_checked_as_in_memory():
    X = da.from_array(X_CLF, chunks=(SIZES, 6))
    y = da.from_array(Y_CLF, chunks=(SIZES,))
    negative = np.ones(len(Y_CLF))
    negative[:5] = -1.0
    with pytest.raises(ValueError, match="partition 0 .*finite and non-negative"):
        fusion(partitions="blocks").fit(X, y, sample_weight=da.from_array(negative,
                                                                          chunks=(SIZES,)))
    with pytest.raises(ValueError, match="finite and non-negative"):
        fusion(partitions="blocks").fit(X, y, sample_weight=negative)
    with pytest.raises(ValueError, match=r"sample_weight has shape \(1200, 1\)"):
        fusion(partitions="blocks").fit(X, y, sample_weight=np.ones((len(Y_CLF), 1)))
    scalar = fusion(partitions="blocks").fit(X, y, sample_weight=2.0)
    here = fusion(partitions=4).fit(X_CLF, Y_CLF, sample_weight=2.0)
    assert_allclose(scalar.weights_, here.weights_, atol=1e-10)


def test_a_classifier_refuses_several_targets_on_a_collection_as_in_memory():
    X = da.from_array(X_CLF, chunks=(SIZES, 6))
    two = np.column_stack([Y_CLF, Y_CLF])
    message = r"y has shape \(1200, 2\), and it takes one target"
    with pytest.raises(ValueError, match=message):
        fusion(partitions=4).fit(X_CLF, two)
    for y in (two, da.from_array(two, chunks=(SIZES, 2))):
        with pytest.raises(ValueError, match=message):
            fusion(partitions="blocks").fit(X, y)


def test_under_routing_partitions_need_every_member_to_request_weights():
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(Y_CLF))
    with config_context(enable_metadata_routing=True):
        unset = fusion(partitions=4)
        with pytest.raises(UnsetMetadataPassedError):
            unset.fit(X_CLF, Y_CLF, sample_weight=w)
        mixed = FusionClassifier(
            [("lr", LogisticRegression(max_iter=300).set_fit_request(sample_weight=False)),
             ("tree", DecisionTreeClassifier(max_depth=4).set_fit_request(sample_weight=True))],
            partitions=4, partition_sample=50, random_state=0)
        with pytest.raises(ValueError, match=r"\['lr'\] do not request it"):
            mixed.fit(X_CLF, Y_CLF, sample_weight=w)
        every = FusionClassifier(
            [("lr", LogisticRegression(max_iter=300).set_fit_request(sample_weight=True)),
             ("tree", DecisionTreeClassifier(max_depth=4).set_fit_request(sample_weight=True))],
            partitions=4, partition_sample=50, random_state=0).fit(X_CLF, Y_CLF,
                                                                  sample_weight=w)
    plain = FusionClassifier(members(), partitions=4, partition_sample=50,
                             random_state=0).fit(X_CLF, Y_CLF, sample_weight=w)
    assert_allclose(every.predict_proba(X_CLF), plain.predict_proba(X_CLF))


def test_a_sample_of_rows_that_all_weigh_zero_is_refused(monkeypatch):
    # The sample: the first 20 rows of each partition of 300.
    monkeypatch.setattr(_partitions, "sample_positions",
                        lambda lengths, per, rng: [np.arange(20) for _ in lengths])
    w = np.ones(len(Y_CLF))
    w[np.arange(len(Y_CLF)) % 300 < 20] = 0.0
    fused = FusionClassifier(members(), weights="optimize", partitions=4, random_state=0)
    with pytest.raises(ValueError, match="sampled rows .* has sample_weight 0"):
        fused.fit(X_CLF, Y_CLF, sample_weight=w)
    fixed = clone(fused).set_params(weights=[1, 2]).fit(X_CLF, Y_CLF, sample_weight=w)
    assert_allclose(fixed.weights_, [1 / 3, 2 / 3])  # nothing learned on the sample


def test_fixed_weights_fit_whatever_the_sample_weighs(monkeypatch):
    # Fixed weights learn nothing on the sample, but the fit took the prior of rows
    # without a member (which views give, and partitions refuse) from it: the
    # regressor's weighted mean of rows all weighing 0 raised ZeroDivisionError, the
    # classifier's class shares warned of 0 / 0.
    monkeypatch.setattr(_partitions, "sample_positions",
                        lambda lengths, per, rng: [np.arange(20) for _ in lengths])
    w = np.ones(len(Y_CLF))
    w[np.arange(len(Y_CLF)) % 300 < 20] = 0.0
    regressor = FusionRegressor([("a", Ridge()), ("b", Ridge(alpha=10.0))], weights=[1, 2],
                                partitions=4, random_state=0)
    classifier = FusionClassifier(members(), weights=[1, 2], partitions=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fusion, y in ((regressor, Y_CLF * 1.0), (classifier, Y_CLF)):
            fitted = fusion.fit(X_CLF, y, sample_weight=w)
            assert np.isfinite(fitted.predict(X_CLF)).all()


def test_predict_refuses_a_one_dimensional_dask_array():
    X = da.from_array(X_CLF, chunks=(SIZES, 6))
    fitted = fusion(partitions="blocks").fit(X, da.from_array(Y_CLF, chunks=(SIZES,)))
    with pytest.raises(ValueError, match="X must be 2-D .*got 1-D"):
        fitted.predict(X[:, 0])


def test_grouped_blocks_and_hard_votes_and_greedy_budget():
    X = da.from_array(X_CLF, chunks=150)  # 8 blocks, grouped into 4 partitions
    y = da.from_array(Y_CLF, chunks=150)
    got = fusion(partitions=4, voting="hard").set_params(weights="greedy",
                                                         budget=1e9).fit(X, y)
    want = fusion(partitions=4, voting="hard").set_params(weights="greedy",
                                                          budget=1e9).fit(X_CLF, Y_CLF)
    assert got.n_partitions_ == 4
    assert_allclose(got.weights_, want.weights_)
    assert got.selection_path_ == want.selection_path_
    assert_array_equal(got.predict(X).compute(), want.predict(X_CLF))


def test_regressor_with_sample_weight_on_collections():
    w = np.random.default_rng(0).uniform(0.5, 2.0, 900)
    regs = [("r", Ridge()), ("r100", Ridge(alpha=100.0))]
    want = FusionRegressor(regs, weights="optimize", partitions=3,
                           random_state=0).fit(X_REG, Y_REG, sample_weight=w)
    X = da.from_array(X_REG, chunks=300)
    got = FusionRegressor(regs, weights="optimize", partitions="blocks",
                          random_state=0).fit(X, da.from_array(Y_REG, chunks=300),
                                              sample_weight=da.from_array(w, chunks=300))
    assert_allclose(got.weights_, want.weights_, atol=1e-10)
    assert_allclose(got.predict(X).compute(), want.predict(X_REG), atol=1e-10)
    # in-memory y and sample_weight are split like X
    again = FusionRegressor(regs, weights="optimize", partitions="blocks",
                            random_state=0).fit(X, Y_REG, sample_weight=w)
    assert_allclose(again.predict(X_REG), want.predict(X_REG), atol=1e-10)


def test_fixed_weights_learn_nothing():
    X, y = da.from_array(X_CLF, chunks=400), da.from_array(Y_CLF, chunks=400)
    got = FusionClassifier(members(), weights=[1, 3], partitions="blocks").fit(X, y)
    assert_allclose(got.weights_, [0.25, 0.75])
    assert not hasattr(got, "oof_score_")


# -- bad input: each error names the partition ---------------------------------------


def test_unknown_chunk_sizes_name_the_partitions():
    X = da.from_array(X_CLF, chunks=300)
    X = X[X[:, 0] > -100]  # every row, but Dask does not know the sizes
    with pytest.raises(ValueError, match=r"unknown chunk sizes \(partition\(s\) \[0, 1, "
                                         r"2, 3\]\).*compute_chunk_sizes"):
        fusion(partitions="blocks").fit(X, Y_CLF)


def test_a_partition_with_one_class():
    order = np.argsort(Y_CLF, kind="stable")  # sorted labels: the first block is all 0
    X = da.from_array(X_CLF[order], chunks=300)
    y = da.from_array(Y_CLF[order], chunks=300)
    # a member that cannot fit on one class is named with the partition ...
    with pytest.raises(ValueError, match=r"member 'lr' could not be fitted on partition [03] "
                                         r"\(300 rows\).*one class"):
        fusion(partitions="blocks").fit(X, y)
    # ... and one that can predicts that class there
    trees = FusionClassifier([("tree", DecisionTreeClassifier(max_depth=3))],
                             partitions="blocks", random_state=0).fit(X, y)
    copies = trees.estimators_[0].estimators
    assert_array_equal(copies[0].classes_, [0])
    assert_allclose(trees.predict_proba(X).compute().sum(axis=1), 1.0)


def test_a_partition_missing_a_class_is_handled():
    order = np.argsort(Y_CLF, kind="stable")  # 400 rows a class; two blocks of 600
    X = da.from_array(X_CLF[order], chunks=600)
    y = da.from_array(Y_CLF[order], chunks=600)
    got = fusion(partitions="blocks").fit(X, y)
    proba = got.predict_proba(X).compute()
    assert proba.shape == (1200, 3)
    assert_allclose(proba.sum(axis=1), 1.0)


def test_a_partition_too_small_for_a_member_is_named():
    X = da.from_array(X_CLF, chunks=((590, 590, 20), 6))
    y = da.from_array(Y_CLF, chunks=((590, 590, 20),))
    with pytest.raises(ValueError, match=r"member 'knn' could not be fitted on partition 2 "
                                         r"\(20 rows\).*n_neighbors"):
        _knn_and_nb_by_blocks().fit(X, y)


def _knn_and_nb_by_blocks():
    """A fusion whose 25-nearest-neighbours member cannot fit on a block of 20 rows."""
    return FusionClassifier([("knn", KNeighborsClassifier(n_neighbors=25)),
                             ("nb", GaussianNB())], weights="optimize",
                            partitions="blocks", random_state=0)


def test_blocks_inside_a_composite_says_the_collection_was_computed():
    """A composite around a partitioned fusion computes a Dask X before its steps see
    it: the fusion's refusal must not tell the user, who gave a Dask collection, that
    it needs one without saying why it got none."""
    from skfuse import SerialStack

    X, y = da.from_array(X_CLF, chunks=300), da.from_array(Y_CLF, chunks=300)
    stack = SerialStack([("fusion", fusion(partitions="blocks")),
                         ("final", LogisticRegression())], cv=3)
    with dask.config.set(scheduler="sync"), pytest.raises(
            ValueError, match=r"in memory \(numpy\.ndarray\).*composite around"):
        stack.fit(X, y)


def test_collections_and_partitions_that_do_not_fit():
    X, y = da.from_array(X_CLF, chunks=300), da.from_array(Y_CLF, chunks=300)
    with pytest.raises(TypeError, match="X is a Dask collection; pass partitions="):
        FusionClassifier(members()).fit(X, y)
    with pytest.raises(ValueError, match="partitions='blocks' needs X to be a Dask"):
        fusion(partitions="blocks").fit(X_CLF, Y_CLF)
    with pytest.raises(ValueError, match="partitions=5 is more than the 4 blocks"):
        fusion(partitions=5).fit(X, y)
    with pytest.raises(ValueError, match="y is not partitioned like X .* persist the frame"):
        fusion(partitions="blocks").fit(X, da.from_array(Y_CLF, chunks=400))
    with pytest.raises(ValueError, match=r"member views \(views\) cannot be used with partitions"):
        fusion(partitions=2, views={"lr": [0, 1]}).fit(X, y)
    with pytest.raises(ValueError, match="partitions"):
        fusion(partitions=1).fit(X_CLF, Y_CLF)  # declared: an int of at least 2


def test_a_memory_that_caches_nothing_is_as_none_with_partitions(tmp_path):
    # joblib.Memory(None) caches nothing (scikit-learn's check_memory(None) gives one):
    # partitions take it as memory=None; a Memory with a folder would cache, and is refused.
    from joblib import Memory

    plain = fusion(partitions=2).fit(X_CLF, Y_CLF)
    empty = fusion(partitions=2, memory=Memory(None)).fit(X_CLF, Y_CLF)
    assert_array_equal(empty.predict_proba(X_CLF), plain.predict_proba(X_CLF))
    for memory in (Memory(tmp_path), str(tmp_path), ""):  # "": in ./joblib
        with pytest.raises(ValueError, match=r"member cache \(memory\) cannot be used"):
            fusion(partitions=2, memory=memory).fit(X_CLF, Y_CLF)


# -- a real cluster whose workers cannot hold X ------------------------------------------

N_ROWS, N_COLS, BLOCK = 1_500_000, 50, 25_000  # X: 600 MB, 60 blocks of 10 MB
MEMORY_LIMIT = 550e6  # per worker: below the size of X


def _lazy_data():
    """X and y made on the workers, block by block: never in this process."""
    X = da.random.default_rng(0).standard_normal((N_ROWS, N_COLS), chunks=(BLOCK, N_COLS))
    coef = np.linspace(1.0, -1.0, N_COLS)
    y = (X @ coef + X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return X, y


@pytest.fixture(scope="module")
def small_workers():
    distributed = pytest.importorskip("distributed")
    # Process memory is what the limit bounds, and each worker starts at about 330 MB
    # with scikit-learn imported: the nanny kills a worker at 95% of its limit, and a
    # worker neither pauses (which would wait forever) nor spills to disk before that.
    config = {"distributed.worker.memory.target": False,
              "distributed.worker.memory.spill": False,
              "distributed.worker.memory.pause": False,
              "distributed.worker.memory.terminate": 0.95,
              "distributed.scheduler.allowed-failures": 0}  # a killed worker fails the fit
    with dask.config.set(config):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                           processes=True, memory_limit=MEMORY_LIMIT,
                                           host="127.0.0.1", dashboard_address=None)
        client = distributed.Client(cluster, set_as_default=False)
        yield client
        client.close()
        cluster.close()


def test_fit_and_predict_on_workers_that_cannot_hold_x(small_workers, monkeypatch):
    from dask.sizeof import sizeof

    X, y = _lazy_data()
    assert X.nbytes > MEMORY_LIMIT  # gathering X on one worker cannot fit
    returned = []
    compute = _partitions.compute

    def measured(*tasks):
        results = compute(*tasks)
        returned.append(sizeof(results))
        return results

    monkeypatch.setattr(_partitions, "compute", measured)
    lda = [("nb", GaussianNB()), ("lda", LinearDiscriminantAnalysis())]
    with dask.config.set(scheduler=small_workers.get):
        fitted = FusionClassifier(lda, weights="optimize", partitions="blocks",
                                  partition_sample=100, random_state=0).fit(X, y)
        proba = fitted.predict_proba(X)
        assert isinstance(proba, da.Array) and proba.shape == (N_ROWS, 2)
        # Each of the 120 copies predicts every row: check the first 5 blocks.
        proba = small_workers.compute(proba[:5 * BLOCK]).result()
    # what reached this process: 120 fitted copies and their outputs on the 60 x 100
    # sample rows (each copy predicts all of them: 11.5 MB here)
    assert max(returned) < X.nbytes / 50
    # each worker's peak resident memory since it started (VmHWM, in kB; unlike
    # ru_maxrss, not inherited from the process that started it)
    status = small_workers.run(Path("/proc/self/status").read_text)
    peaks = [int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1)) * 1024
             for text in status.values()]
    assert max(peaks) < 0.95 * MEMORY_LIMIT, peaks
    # the same members on the same partitions, fitted in memory (X made here, by the
    # same seeded blocks)
    X_here, y_here = dask.compute(X, y, scheduler="sync")
    want = FusionClassifier(lda, weights="optimize", partitions=N_ROWS // BLOCK,
                            partition_sample=100, random_state=0).fit(X_here, y_here)
    assert_allclose(fitted.weights_, want.weights_, atol=1e-10)
    assert_allclose(proba, want.predict_proba(X_here[:5 * BLOCK]), atol=1e-10)
    # and what the fit avoided: one worker asked to hold all of X is killed
    distributed = pytest.importorskip("distributed")
    gather = dask.delayed(np.concatenate)(X.to_delayed().ravel().tolist())
    with pytest.raises(distributed.scheduler.KilledWorker):
        small_workers.compute(dask.delayed(np.sum)(gather)).result(timeout=300)


# -- scikit-learn's checks, on in-memory partitions -------------------------------------


def _partitioned():
    from sklearn.tree import DecisionTreeRegressor

    # The checks' labels come sorted, so a partition may hold one class: members that
    # fit on one class (not a logistic regression).
    return [
        FusionClassifier([("nb", GaussianNB()),
                          ("tree", DecisionTreeClassifier(max_depth=4, random_state=0))],
                         weights="optimize", partitions=2, partition_sample=20,
                         random_state=0),
        FusionRegressor([("ridge", Ridge()),
                         ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))],
                        weights="greedy", partitions=2, selection_rounds=5,
                        random_state=0),
    ]


# Partitions are consecutive rows: repeating a row moves the boundaries, so repeated
# rows and integer weights fit different copies.
MOVED_BOUNDARIES = "repeated rows move the partitions' boundaries; weights do not"


@parametrize_with_checks(_partitioned(), expected_failed_checks=lambda est: {
    "check_sample_weight_equivalence_on_dense_data": MOVED_BOUNDARIES,
    "check_sample_weight_equivalence_on_sparse_data": MOVED_BOUNDARIES})
def test_partitioned_fusion_passes_the_estimator_checks(estimator, check):
    with dask.config.set(scheduler="sync"):
        check(estimator)


def test_a_member_that_takes_collections_gets_the_collection(monkeypatch):
    xgboost_dask = pytest.importorskip("xgboost.dask")
    distributed = pytest.importorskip("distributed")
    fitted_on = []
    original = _partitions.fit_on_collection

    def spy(estimator, X, *args):
        fitted_on.append(X)
        return original(estimator, X, *args)

    monkeypatch.setattr(_partitions, "fit_on_collection", spy)
    X = da.from_array(X_CLF, chunks=300)
    y = da.from_array(Y_CLF, chunks=300)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=":0") as client, \
            dask.config.set(scheduler=client.get):
        booster = xgboost_dask.DaskXGBClassifier(n_estimators=10, random_state=0)
        mixed = FusionClassifier([("xgb", booster), ("lr", LogisticRegression(max_iter=300))],
                                 weights="optimize", partitions="blocks",
                                 partition_sample=50, random_state=0).fit(X, y)
        proba = mixed.predict_proba(X).compute()
    assert fitted_on == [X]
    local = mixed.named_estimators_["xgb"]  # in memory: it predicts blockwise
    assert type(local).__name__ == "XGBClassifier"
    # fitted on every row but the 4 x 50 sample rows, which its weights were learned on
    assert mixed.n_oof_samples_ == 200
    assert local.get_booster().num_boosted_rounds() == 10
    assert_allclose(proba, mixed.predict_proba(X_CLF), atol=1e-10)
    with pytest.raises(TypeError, match="member 'xgb' takes Dask collections, and X is in"):
        clone(mixed).set_params(partitions=4).fit(X_CLF, Y_CLF)


def test_rows_of_nan_go_to_members_that_take_nan():
    # No member has a view, so a row whose every value is NaN is data for each, as
    # without partitions: kept by one that takes NaN, refused by name by one that does not.
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = X_CLF.copy()
    X[::10] = np.nan
    hgb = [("hgb", HistGradientBoostingClassifier(max_iter=10, random_state=0))]
    fitted = FusionClassifier(hgb, partitions=3, random_state=0).fit(X, Y_CLF)
    assert np.isfinite(fitted.predict_proba(X[:20])).all()
    with pytest.raises(ValueError, match="member 'lr' \\(LogisticRegression\\) does not "
                                         "accept NaN"):
        FusionClassifier([("lr", LogisticRegression())], partitions=3).fit(X, Y_CLF)


# -- a sweep's findings: one block, a column y, counting passes, score, weights ----------


@pytest.mark.parametrize("voting", ["soft", "hard"])
def test_one_block_with_learned_weights_is_refused_before_any_fit(voting):
    # One partition leaves no other partition's fits to give out-of-partition outputs:
    # hard voting learned weights from votes of no fit at all.
    from composites import CountingTree

    X, y = da.from_array(X_CLF, chunks=(1200, 6)), da.from_array(Y_CLF, chunks=1200)
    CountingTree.fits = 0
    counted = FusionClassifier([("lr", LogisticRegression()), ("tree", CountingTree())],
                               weights="optimize", partitions="blocks", voting=voting)
    with pytest.raises(ValueError, match="X has one block, so partitions='blocks' makes "
                                         "one partition"):
        counted.fit(X, y)
    assert CountingTree.fits == 0
    fixed = FusionClassifier(members(), partitions="blocks").fit(X, y)  # nothing learned
    assert fixed.n_partitions_ == 1


@pytest.mark.parametrize("kind", ["array", "frame"])
def test_a_column_y_on_a_collection_is_read_as_1d_with_a_warning(kind):
    from sklearn.exceptions import DataConversionWarning

    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    if kind == "array":
        X = da.from_array(X_CLF, chunks=(300, 6))
        column, flat = da.from_array(Y_CLF[:, None], chunks=(300, 1)), da.from_array(
            Y_CLF, chunks=300)
    else:
        frame = dd.from_pandas(pd.DataFrame(X_CLF).assign(label=Y_CLF), npartitions=4)
        X, column, flat = frame[list(range(6))], frame[["label"]], frame["label"]
    with pytest.warns(DataConversionWarning, match="y is a column") as record:
        got = fusion(partitions="blocks").fit(X, column)
    assert record[0].filename == __file__
    want = fusion(partitions="blocks").fit(X, flat)
    assert_array_equal(got.weights_, want.weights_)
    assert_allclose(got.predict_proba(X).compute(), want.predict_proba(X).compute())


def test_a_frame_is_counted_in_one_pass_after_partitions_is_checked(monkeypatch):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    frame = dd.from_pandas(pd.DataFrame(X_CLF).assign(label=Y_CLF), npartitions=4)
    X, y = frame[list(range(6))], frame["label"]
    computes = []
    real = dask.compute

    def counted(*args, **kwargs):
        computes.append(len(args))
        return real(*args, **kwargs)

    monkeypatch.setattr(dask, "compute", counted)
    with pytest.raises(ValueError, match="partitions=10 is more than the 4 blocks"):
        fusion(partitions=10).fit(X, y)
    assert computes == []  # refused before reading a block
    parts = _partitions.split(X, y, None, "blocks", "FusionClassifier")
    assert computes == [2]  # X's and y's rows counted together
    assert_array_equal(parts.lengths, [300, 300, 300, 300])


def test_score_takes_the_collections_the_fusion_was_fitted_on():
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    frame = dd.from_pandas(pd.DataFrame(X_CLF, columns=list("abcdef")).assign(label=Y_CLF),
                           npartitions=4)
    X, y = frame[list("abcdef")], frame["label"]
    fitted = fusion(partitions="blocks").fit(X, y)
    weight = np.arange(1200) % 3 + 1.0
    in_memory = pd.DataFrame(X_CLF, columns=list("abcdef"))
    assert_allclose(fitted.score(X, y), fitted.score(in_memory, Y_CLF))
    assert_allclose(fitted.score(X, y, sample_weight=da.from_array(weight, chunks=300)),
                    fitted.score(in_memory, Y_CLF, sample_weight=weight))
    X_reg = da.from_array(X_REG, chunks=(300, 5))
    regressor = FusionRegressor([("ridge", Ridge()), ("stiff", Ridge(alpha=10.0))],
                                partitions="blocks").fit(X_reg, da.from_array(Y_REG, chunks=300))
    assert_allclose(regressor.score(X_reg, da.from_array(Y_REG, chunks=300)),
                    regressor.score(X_REG, Y_REG))


def test_a_member_without_sample_weight_is_told_partitions_repeat_no_rows():
    knn = FusionClassifier([("knn", KNeighborsClassifier()), ("nb", GaussianNB())],
                           partitions=3)
    with pytest.raises(TypeError, match=r"member 'knn' \(KNeighborsClassifier\) does not "
                                        r"accept sample_weight in fit, which partitions give "
                                        r"every member \(they fit none on repeated rows"):
        knn.fit(X_CLF, Y_CLF, sample_weight=np.ones(1200))


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_transform_of_a_collection_refuses_a_set_output_container(kind):
    """A Dask array stays a Dask array; a pandas or polars container would gather it into
    this process (as an object frame): refused by name, while in-memory X still gets it."""
    if kind == "classifier":
        X, y, fusion = X_CLF, Y_CLF, FusionClassifier([("lr", LogisticRegression())])
    else:
        X, y, fusion = X_REG, Y_REG, FusionRegressor([("ridge", Ridge())])
    fitted = fusion.fit(X, y)
    chunks = da.from_array(X, chunks=50)
    assert isinstance(fitted.transform(chunks), da.Array)
    fitted.set_output(transform="pandas")
    with pytest.raises(ValueError, match="set_output\\(transform='pandas'\\) would gather"):
        fitted.transform(chunks)
    assert list(fitted.transform(X).columns) == list(fitted.get_feature_names_out())
    with config_context(transform_output="pandas"):
        fitted.set_output(transform="default")
        assert isinstance(fitted.transform(chunks), da.Array)


class _SlowPredict(LogisticRegression):
    """Takes 20 ms per predict_proba call, whatever the rows."""

    def predict_proba(self, X):
        import time

        time.sleep(0.02)
        return super().predict_proba(X)


def test_a_member_kept_as_partition_copies_costs_them_all_and_a_frozen_one_once():
    from sklearn.frozen import FrozenEstimator

    members = [("slow", _SlowPredict()), ("nb", GaussianNB()),
               ("frozen", FrozenEstimator(_SlowPredict().fit(X_CLF, Y_CLF)))]
    fusion = FusionClassifier(members, weights="greedy", partitions=4).fit(X_CLF, Y_CLF)
    costs = fusion.member_costs_
    assert 3.0 < costs["slow"] / costs["frozen"] < 5.0  # four copies against one model
    assert not hasattr(fusion.named_estimators_["frozen"], "estimators")  # not 4 copies


class _CollectionClassifier(ClassifierMixin, BaseEstimator):
    """Takes Dask collections as the estimators of ``xgboost.dask`` do (skfuse knows
    them by their module), keeping the rows it was given."""

    def fit(self, X, y, sample_weight=None):
        self.rows_ = np.asarray(X.compute())
        self.model_ = LogisticRegression(max_iter=300).fit(self.rows_, np.asarray(y.compute()))
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


_CollectionClassifier.__module__ = "xgboost.dask"


def test_a_member_that_takes_collections_is_fitted_without_the_sample_rows(monkeypatch,
                                                                          synchronous):
    # The test above needs xgboost, which no extra installs: this one runs everywhere.
    fitted = []

    def in_memory_copy(member):
        fitted.append(member)
        return member.model_

    monkeypatch.setattr(_partitions, "in_memory_copy", in_memory_copy)
    X = da.from_array(X_CLF, chunks=300)
    y = da.from_array(Y_CLF, chunks=300)
    mixed = FusionClassifier([("dask", _CollectionClassifier()),
                              ("lr", LogisticRegression(max_iter=300))],
                             weights="optimize", partitions="blocks", partition_sample=50,
                             random_state=0).fit(X, y)
    assert len(fitted) == 1
    assert mixed.named_estimators_["dask"] is fitted[0].model_
    # Every row but the 4 x 50 sample rows, which the weights were learned on, once each.
    assert mixed.n_oof_samples_ == 200
    kept = [tuple(row) for row in fitted[0].rows_]
    assert len(kept) == len(set(kept)) == 1000
    assert set(kept) <= {tuple(row) for row in X_CLF}
    with pytest.raises(TypeError, match="member 'dask' takes Dask collections, and X is "
                                        "in memory"):
        clone(mixed).set_params(partitions=4).fit(X_CLF, Y_CLF)


def test_empty_blocks_are_left_out():
    # A filter can empty a partition: it holds nothing to fit, and predict passes it by.
    import dask
    import dask.array as da

    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = (X[:, 0] > 0).astype(int)
    chunks = ((20, 0, 40, 0),)
    Xd, yd = da.from_array(X, chunks=chunks + ((3,),)), da.from_array(y, chunks=chunks)
    with dask.config.set(scheduler="synchronous"):
        fusion = FusionClassifier(
            [("tree", DecisionTreeClassifier(max_depth=2, random_state=0))],
            partitions="blocks", weights="optimize", random_state=0,
        ).fit(Xd, yd)
        assert fusion.n_partitions_ == 2
        np.testing.assert_array_equal(fusion.predict(Xd).compute(), fusion.predict(X))
        with pytest.raises(ValueError, match="non-empty blocks"):
            FusionClassifier([("tree", DecisionTreeClassifier())], partitions=3).fit(Xd, yd)


class _ConfigSeen(ClassifierMixin, BaseEstimator):
    """A logistic regression that records scikit-learn's configuration at fit and
    predict (the predicts' in a class-level list: a Dask task's copy is not returned)."""

    predicted_under = []

    def fit(self, X, y, sample_weight=None):
        self.fitted_under_ = dict(get_config())
        self.lr_ = LogisticRegression(max_iter=300).fit(np.asarray(X), y, sample_weight)
        self.classes_ = self.lr_.classes_
        return self

    def predict_proba(self, X):
        type(self).predicted_under.append(dict(get_config()))
        return self.lr_.predict_proba(np.asarray(X))


def test_dask_tasks_run_under_the_callers_sklearn_config():
    # Dask's scheduler threads (and workers) start from scikit-learn's default
    # configuration: the fit's tasks and the blockwise predicts carry the caller's, as
    # scikit-learn's delayed does for joblib. The test suite's synchronous scheduler
    # runs tasks in the calling thread, where the configuration is seen anyway.
    X = X_CLF.copy()
    X[:, 0] = 5 * X[:, 0] + 3  # a weighted mean differs from the plain one
    w = np.random.default_rng(0).uniform(0.05, 5.0, len(Y_CLF))

    def weighted_last_step_only():
        return FusionClassifier(
            [("p", make_pipeline(StandardScaler().set_fit_request(sample_weight=False),
                                 LogisticRegression(max_iter=300)
                                 .set_fit_request(sample_weight=True)))],
            partitions=4, weights=[1], partition_sample=50, random_state=0)

    with dask.config.set(scheduler="threads"):
        with config_context(enable_metadata_routing=True):
            in_memory = weighted_last_step_only().fit(X, Y_CLF, sample_weight=w)
            lazy = weighted_last_step_only().fit(
                da.from_array(X, chunks=(SIZES, 6)), da.from_array(Y_CLF, chunks=SIZES),
                sample_weight=da.from_array(w, chunks=SIZES))
        for memory_copy, lazy_copy in zip(in_memory.estimators_[0].estimators,
                                          lazy.estimators_[0].estimators):
            assert_allclose(lazy_copy[0].mean_, memory_copy[0].mean_)  # unweighted
        assert_allclose(lazy.predict_proba(X), in_memory.predict_proba(X), atol=1e-10)

        _ConfigSeen.predicted_under.clear()
        with config_context(assume_finite=True, working_memory=77):
            seen = FusionClassifier([("c", _ConfigSeen())], partitions="blocks",
                                    weights=[1], partition_sample=50, random_state=0)
            seen.fit(da.from_array(X_CLF, chunks=(SIZES, 6)),
                     da.from_array(Y_CLF, chunks=SIZES))
            proba = seen.predict_proba(da.from_array(X_CLF, chunks=(SIZES, 6)))
        _ConfigSeen.predicted_under.clear()
        proba.compute()  # outside the context: the predict call's configuration holds
    for copy in seen.estimators_[0].estimators:
        assert copy.fitted_under_["assume_finite"] is True
        assert copy.fitted_under_["working_memory"] == 77
    assert len(_ConfigSeen.predicted_under) == 4 * len(SIZES)  # 4 blocks x 4 copies
    assert all(c["assume_finite"] is True and c["working_memory"] == 77
               for c in _ConfigSeen.predicted_under)


def test_an_in_memory_column_y_beside_a_collection_is_read_as_1d_with_a_warning():
    # y may be in memory beside a Dask X; a column y is then read as 1-D too, not
    # taken as (n, 1) into the weights' loss (where it failed to broadcast).
    from sklearn.exceptions import DataConversionWarning

    X = da.from_array(X_CLF, chunks=(300, 6))
    with pytest.warns(DataConversionWarning, match="y is a column") as record:
        got = fusion(partitions="blocks").fit(X, Y_CLF[:, None])
    assert record[0].filename == __file__
    want = fusion(partitions="blocks").fit(X, Y_CLF)
    assert_array_equal(got.weights_, want.weights_)
    assert_allclose(got.predict_proba(X_CLF), want.predict_proba(X_CLF))


def test_a_failing_partition_is_named_by_its_block_after_empty_ones():
    # Empty blocks are left out; the partition named must still be X's own block (the
    # one X.partitions[i] or X.blocks[i] gives), not its place among the non-empty ones.
    X = da.from_array(X_CLF[:620], chunks=((0, 20, 300, 300), 6))
    y = da.from_array(Y_CLF[:620], chunks=((0, 20, 300, 300),))
    with pytest.raises(ValueError, match=r"member 'knn' could not be fitted on partition 1 "
                                         r"\(20 rows\).*n_neighbors"):
        _knn_and_nb_by_blocks().fit(X, y)


class _FailsOnFewRows(ClassifierMixin, BaseEstimator):
    """Fails to fit on fewer than 140 rows (one of three groups of 400 rows)."""

    def fit(self, X, y):
        if len(X) < 140:
            raise ValueError("too few rows")
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1.0 / len(self.classes_))


def test_a_failing_partition_in_memory_is_numbered_as_in_progress_lines():
    # In memory a partition has no block to name: the message numbered it from 0 while
    # the note beside it (and verbose lines) say "partition 1 of 3".
    X, y = make_classification(400, 5, random_state=0)
    fused = FusionClassifier([("lr", LogisticRegression()), ("few", _FailsOnFewRows())],
                             partitions=3, random_state=0)
    with pytest.raises(ValueError, match=r"member 'few' could not be fitted on partition "
                                         r"1 of 3 \(134 rows\).*too few rows"):
        fused.fit(X, y)

