"""skorch nets as members: the adapters, and nets inside fusion and mixtures."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from skorch import NeuralNetClassifier  # noqa: E402
from skorch.dataset import ValidSplit  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

from skfuse import (  # noqa: E402
    FusionClassifier,
    FusionRegressor,
    MixtureOfExpertsRegressor,
    SerialStack,
)
from skfuse.torch import NetClassifier, NetRegressor  # noqa: E402


class MLP(torch.nn.Module):
    def __init__(self, n_in=4, n_out=2, hidden=16):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_out)
        )

    def forward(self, X):
        return self.layers(X)


def classifier(**params):
    defaults = dict(criterion=torch.nn.CrossEntropyLoss, max_epochs=20, lr=0.05,
                    optimizer=torch.optim.Adam, train_split=None, verbose=0, random_state=0)
    return NetClassifier(MLP, **{**defaults, **params})


def regressor(n_in=3, **params):
    defaults = dict(module__n_in=n_in, module__n_out=1, max_epochs=30, lr=0.02,
                    optimizer=torch.optim.Adam, train_split=None, verbose=0, random_state=0)
    return NetRegressor(MLP, **{**defaults, **params})


@pytest.fixture
def blobs():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    y = np.where(X[:, 0] + X[:, 1] > 0, "up", "down")
    return X, y


def test_classifier_takes_string_labels_and_records_features(blobs):
    X, y = blobs
    net = classifier().fit(X, y)
    assert_array_equal(net.classes_, ["down", "up"])
    assert net.n_features_in_ == 4
    assert np.mean(net.predict(X) == y) > 0.9
    with pytest.raises(ValueError, match="features"):
        net.predict(X[:, :3])


def test_classes_in_any_order_name_the_output_columns(blobs):
    X, y = blobs
    given = classifier(classes=["up", "down", "side"], module__n_out=3).fit(X, y)
    assert_array_equal(given.classes_, ["up", "down", "side"])
    # Column j is the label classes_[j]: "up" rows train on code 0.
    proba = given.predict_proba(X)
    assert np.mean(proba[y == "up"].argmax(axis=1) == 0) > 0.9
    assert_array_equal(given.predict(X), given.classes_[proba.argmax(axis=1)])
    with pytest.raises(ValueError, match="not in classes"):
        classifier(classes=["up", "side"]).fit(X, y)
    with pytest.raises(ValueError, match="more than once"):
        classifier(classes=["up", "down", "up"], module__n_out=3).fit(X, y)


@pytest.mark.parametrize("n_out", [2, 4])
def test_a_module_without_one_output_per_class_is_refused_in_words(blobs, n_out):
    X, y = blobs
    y = np.where(X[:, 2] > 0.5, "flat", y)  # three classes
    with pytest.raises(ValueError, match=f"module returned {n_out} column.*3 classes"):
        classifier(module__n_out=n_out, max_epochs=1).fit(X.astype(np.float32), y)


def test_column_y_is_raveled_with_a_warning(blobs):
    from sklearn.exceptions import DataConversionWarning

    X, y = blobs
    with pytest.warns(DataConversionWarning):
        column = classifier().fit(X, y[:, None])
    assert_array_equal(column.predict(X), classifier().fit(X, y).predict(X))


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_unfitted_net_says_it_is_not_fitted(blobs, method):
    X, _ = blobs
    with pytest.raises(NotFittedError):
        getattr(classifier(), method)(X)
    with pytest.raises(NotFittedError):
        regressor(n_in=4).predict(X)


def test_validation_accuracy_is_scored_on_the_label_codes(blobs):
    X, y = blobs
    net = classifier(train_split=ValidSplit(4, stratified=True)).fit(X, y)
    # With labels "down"/"up", comparing predicted labels with codes would score 0.
    assert net.history[-1, "valid_acc"] > 0.8


def test_predict_proba_matches_the_module_on_whole_batches(blobs):
    X, y = blobs
    net = classifier(batch_size=32).fit(X, y)
    with torch.no_grad():
        logits = net.module_(torch.as_tensor(X, dtype=torch.float32))
    assert_allclose(net.predict_proba(X), torch.softmax(logits, dim=1).numpy(), rtol=1e-6)


def _doubled(batch):
    """A collate_fn that stacks the rows and doubles them (a module at module level, so
    that the net pickles)."""
    return torch.utils.data.default_collate(batch)[0] * 2, None


def test_predict_goes_through_a_loader_of_the_users_own(blobs):
    # The fast predict path slices one tensor; a collate_fn (or a loader class) of the
    # user's own shapes the batches, so it must serve predict, as in plain skorch.
    X, y = blobs
    net = classifier(batch_size=32, iterator_valid__collate_fn=_doubled).fit(X, y)
    with torch.no_grad():
        logits = net.module_(torch.as_tensor(2 * X, dtype=torch.float32))
    assert_allclose(net.predict_proba(X), torch.softmax(logits, dim=1).numpy(), rtol=1e-6)


def test_random_state_makes_fits_repeatable(blobs):
    X, y = blobs
    first = classifier(random_state=3).fit(X, y).predict_proba(X)
    again = classifier(random_state=3).fit(X, y).predict_proba(X)
    other = classifier(random_state=4).fit(X, y).predict_proba(X)
    assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_random_state_seeds_a_shuffled_skorch_split(blobs):
    # A ValidSplit with a float and no seed of its own shuffles with NumPy's global
    # generator, which random_state did not seed; NumPy's state is left as it was.
    X, y = blobs
    fits = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        before = np.random.get_state()[1].copy()
        fits.append(classifier(max_epochs=2, train_split=ValidSplit(0.2)).fit(X, y))
        assert_array_equal(np.random.get_state()[1], before)
    assert_array_equal(fits[0].predict_proba(X), fits[1].predict_proba(X))
    assert_array_equal(fits[0].history_[:, "valid_loss"], fits[1].history_[:, "valid_loss"])


def test_weighted_losses_are_weighted_means_on_each_side_of_the_split():
    # Weights were scaled to mean 1 over every row, so valid_loss was the held-out rows'
    # weighted mean squared error times their mean weight.
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(200, 3)), rng.normal(size=200)
    weight = np.r_[rng.uniform(0.1, 1.0, 40), np.full(160, 2.0)]
    net = regressor(max_epochs=3, train_split=ValidSplit(5)).fit(X, y, sample_weight=weight)
    valid = np.arange(40)  # ValidSplit(5) holds out the first fifth, unshuffled
    errors = (net.predict(X[valid]) - y[valid]) ** 2
    assert_allclose(net.history_[-1, "valid_loss"], np.average(errors, weights=weight[valid]),
                    rtol=1e-5)


def test_partial_fit_prepares_its_data_as_fit_does(blobs):
    # float64 rows and string labels, as fit takes them (skorch's own partial_fit
    # refused both); the first call is a seeded fit, later ones train on.
    X, y = blobs
    net = classifier(max_epochs=5).partial_fit(X, y)
    assert_array_equal(net.classes_, ["down", "up"])
    assert_allclose(net.predict_proba(X),
                    classifier(max_epochs=5).fit(X, y).predict_proba(X), rtol=1e-6)
    net.partial_fit(X[:40], y[:40], sample_weight=np.full(40, 2.0))
    assert len(net.history) == 10
    assert_array_equal(net.classes_, ["down", "up"])
    assert np.mean(net.predict(X) == y) > 0.9
    with pytest.raises(ValueError, match="not in classes"):
        net.partial_fit(X, np.where(y == "up", "side", y))
    with pytest.raises(ValueError, match="features"):
        net.partial_fit(X[:, :3], y)
    # The first call's classes name labels a later call brings.
    first = classifier(module__n_out=3, max_epochs=2).partial_fit(
        X[y == "up"], y[y == "up"], classes=["down", "up", "side"])
    first.partial_fit(X[y == "down"], y[y == "down"])
    assert_array_equal(first.classes_, ["down", "up", "side"])
    with pytest.raises(ValueError, match="differs from the labels of the first call"):
        first.partial_fit(X, y, classes=["down", "up"])
    # A copy taken during fit (a checkpoint) does not carry fit's hand-over flag.
    first._in_fit_ = True
    copy = pickle.loads(pickle.dumps(first))
    del first._in_fit_
    assert not hasattr(copy, "_in_fit_")


def test_a_warm_started_fit_keeps_the_labels_of_the_module_it_keeps(blobs):
    # A warm start keeps the module, whose column j was trained for label j of the
    # earlier fit: a y without one of them trains on, and a y with another is refused,
    # where the labels were read again from y and the columns silently took new meanings.
    X, y = blobs
    net = classifier(max_epochs=5, warm_start=True).fit(X, y)
    before = net.predict_proba(X)
    net.set_params(max_epochs=1, lr=1e-9).fit(X[y == "up"], y[y == "up"])
    assert_array_equal(net.classes_, ["down", "up"])
    assert_allclose(net.predict_proba(X), before, atol=1e-5)
    with pytest.raises(ValueError, match=r"labels \['down', 'up'\] of the earlier fit; "
                                         r"y's labels \['side'\] are not those"):
        net.fit(X, np.where(y == "down", "side", y))
    with pytest.raises(ValueError, match=r"classes=\['up', 'down'\] are not those"):
        net.set_params(classes=["up", "down"]).fit(X, y)
    assert_array_equal(net.classes_, ["down", "up"])
    # A refused fit leaves the record of the columns as it was.
    with pytest.raises(ValueError, match="are not those"):
        net.set_params(classes=None).fit(X[:, :3], np.where(y == "down", "side", y))
    assert net.n_features_in_ == 4
    assert_allclose(pickle.loads(pickle.dumps(net)).predict_proba(X), net.predict_proba(X))
    # A module built anew (initialize, or a changed module__*) takes the labels of y.
    three = np.where(X[:, 2] > 1, "side", y)
    net.set_params(module__n_out=3).fit(X, three)
    assert_array_equal(net.classes_, ["down", "side", "up"])
    net.set_params(module__n_out=2).initialize()
    assert_array_equal(net.fit(X, np.where(y == "down", "side", y)).classes_, ["side", "up"])
    # Without warm_start a fit starts over, with the labels of its y.
    cold = net.set_params(warm_start=False, classes=None).fit(X, y)
    assert_array_equal(cold.classes_, ["down", "up"])


def test_parameters_restored_with_load_params_predict(blobs, tmp_path):
    # skorch's save_params / initialize() / load_params round trip: the restored net
    # raised NotFittedError, as only fit recorded its labels.
    X, y = blobs
    fitted = classifier(module__n_in=4, classes=["down", "up"]).fit(X, y)
    fitted.save_params(f_params=tmp_path / "clf.pt")
    restored = classifier(module__n_in=4, classes=["down", "up"]).initialize()
    restored.load_params(f_params=tmp_path / "clf.pt")
    check_is_fitted(restored)
    assert_allclose(restored.predict_proba(X), fitted.predict_proba(X))
    assert_array_equal(restored.predict(X), fitted.predict(X))
    # Without classes=, the column codes, as skorch's own classifier predicts.
    codes = classifier(module__n_in=4).initialize()
    codes.load_params(f_params=tmp_path / "clf.pt")
    assert_array_equal(codes.predict(X), (fitted.predict(X) == "up").astype(int))

    rng = np.random.RandomState(0)
    Xr = rng.normal(size=(60, 3))
    reg = regressor(max_epochs=3).fit(Xr, Xr @ np.array([1.0, -2.0, 0.5]))
    reg.save_params(f_params=tmp_path / "reg.pt")
    again = regressor().initialize()
    again.load_params(f_params=tmp_path / "reg.pt")
    assert again.predict(Xr).shape == (60,)
    assert_allclose(again.predict(Xr), reg.predict(Xr))
    # A net never initialised is still not fitted.
    with pytest.raises(NotFittedError):
        regressor().predict(Xr)


def test_restored_parameters_keep_the_modules_shape(blobs, tmp_path):
    # classes= of another length than the module's columns is refused, as after a fit;
    # without classes=, classes_ says what to pass; a module of two outputs predicts both.
    X, y = blobs
    fitted = classifier(module__n_in=4, classes=["down", "up"]).fit(X, y)
    fitted.save_params(f_params=tmp_path / "clf.pt")
    wrong = classifier(module__n_in=4, classes=["a", "b", "c"]).initialize()
    wrong.load_params(f_params=tmp_path / "clf.pt")
    with pytest.raises(ValueError, match=r"returned shape \(120, 2\) for 3 classes"):
        wrong.predict(X)
    codes = classifier(module__n_in=4).initialize()
    with pytest.raises(AttributeError, match=r"NetClassifier: classes_ is not known .*"
                                             r"pass classes="):
        codes.classes_  # noqa: B018
    rng = np.random.RandomState(0)
    Xr = rng.normal(size=(60, 3))
    reg = regressor(module__n_out=2, max_epochs=3).fit(Xr, Xr[:, :2])
    reg.save_params(f_params=tmp_path / "reg.pt")
    again = regressor(module__n_out=2).initialize()
    again.load_params(f_params=tmp_path / "reg.pt")
    assert again.predict(Xr).shape == (60, 2)
    assert_allclose(again.predict(Xr), reg.predict(Xr))


def test_regressor_partial_fit_trains_on_1d_targets():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    net = regressor(max_epochs=5).partial_fit(X, y)
    assert_allclose(net.predict(X), regressor(max_epochs=5).fit(X, y).predict(X), rtol=1e-6)
    before = np.mean((net.predict(X) - y) ** 2)
    for _ in range(5):
        net.partial_fit(X, y)
    assert len(net.history) == 30 and net.predict(X).shape == (200,)
    assert np.mean((net.predict(X) - y) ** 2) < before
    with pytest.raises(ValueError, match="trained on 1-D targets"):
        net.partial_fit(X, y[:, None])


def test_regressor_trains_a_1d_target_as_one_column():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = X @ np.array([1.0, -2.0, 0.5])
    net = regressor(max_epochs=60).fit(X, y)
    pred = net.predict(X)
    assert pred.shape == (200,)
    # A target broadcast against (n, 1) outputs would learn the mean only.
    assert 1 - np.mean((pred - y) ** 2) / np.var(y) > 0.95
    two = regressor(module__n_out=2).fit(X, np.c_[y, -y]).predict(X)
    assert two.shape == (200, 2)
    with pytest.raises(ValueError, match="one column per target"):
        regressor(module__n_out=2).fit(X, y)
    # Its tags say it takes several outputs, so a fusion of such members does too.
    fusion = FusionRegressor([("net", regressor(module__n_out=2, max_epochs=5)),
                              ("ridge", Ridge())]).fit(X, np.c_[y, -y])
    assert fusion.predict(X[:3]).shape == (3, 2)


def test_seeded_fits_in_threads_take_turns_and_repeat(blobs):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from skfuse.torch import _training

    held = []

    def locked():
        """Whether another thread holds the seeding lock (an RLock has no locked())."""
        free = []

        def probe():
            free.append(_training.SEEDED_FIT.acquire(blocking=False))
            if free[0]:
                _training.SEEDED_FIT.release()

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
        return not free[0]

    class Watching(MLP):
        def forward(self, X):
            held.append(locked())
            return super().forward(X)

    X, y = blobs
    classifier(max_epochs=1).set_params(module=Watching).fit(X, y)
    classifier(max_epochs=1, random_state=None).set_params(module=Watching).fit(X, y)
    n_first = len(held) // 2
    # torch's generator is the process's: a seeded fit holds the lock while it trains.
    assert all(held[:n_first]) and not any(held[n_first:])

    def fit(seed):
        return classifier(random_state=seed).fit(X, y).predict_proba(X)

    alone = [fit(seed) for seed in range(4)]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(fit, range(4)))
    for got, want in zip(threaded, alone):
        assert_array_equal(got, want)


def test_unit_weights_equal_no_weights(blobs):
    X, y = blobs
    plain = classifier().fit(X, y).predict_proba(X)
    weighted = classifier().fit(X, y, sample_weight=np.ones(len(y))).predict_proba(X)
    assert_allclose(weighted, plain, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size", [1e-46, 1e37])
def test_equal_weights_of_any_size_equal_no_weights(blobs, size):
    # Cast to float32 before they were scaled to mean 1, they summed to infinity (every
    # weight 0: a loss of 0, nothing learned, silently) or rounded to 0 ("diverged").
    X, y = blobs
    plain = classifier().fit(X, y).predict_proba(X)
    weighted = classifier().fit(X, y, sample_weight=np.full(len(y), size)).predict_proba(X)
    assert_allclose(weighted, plain, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_unit_weights_equal_no_weights_under_class_weights_and_sums(blobs, reduction):
    # Torch's "mean" with class weights divides by the rows' class weights, and "sum"
    # does not divide: a weighted loss divided by the rows instead changed the objective
    # (and an SGD step's size) wherever a composite passed weights, even all ones.
    X, y = blobs
    X = X.astype(np.float32)

    def net():
        return NetClassifier(torch.nn.Linear, module__in_features=X.shape[1],
                             module__out_features=len(np.unique(y)),
                             criterion=torch.nn.CrossEntropyLoss,
                             criterion__weight=torch.linspace(1.0, 5.0, len(np.unique(y))),
                             criterion__reduction=reduction, optimizer=torch.optim.SGD,
                             lr=0.01, max_epochs=5, train_split=None, verbose=0,
                             random_state=0)

    plain = net().fit(X, y)
    weighted = net().fit(X, y, sample_weight=np.ones(len(y)))
    assert_allclose(weighted.history[:, "train_loss"], plain.history[:, "train_loss"],
                    rtol=1e-5)
    assert_allclose(weighted.predict_proba(X), plain.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_weights_reduce_as_other_criteria_and_shapes_do():
    # MultiMarginLoss averages over rows whatever its class weights; a sum over two
    # outputs sums them; a batch of weight 0 under class weights adds nothing (0 / 0
    # made the loss NaN).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(61, 3)).astype(np.float32)
    y = np.arange(61) % 3

    def net(criterion, **params):
        return NetClassifier(torch.nn.Linear, module__in_features=3, module__out_features=3,
                             criterion=criterion, criterion__weight=torch.tensor([1., 2., 3.]),
                             optimizer=torch.optim.SGD, lr=0.05, max_epochs=3,
                             train_split=None, verbose=0, random_state=0, **params)

    # Rows of ignore_index count for nothing, with class weights or without.
    def ignoring(**params):
        return NetClassifier(torch.nn.Linear, module__in_features=3, module__out_features=3,
                             criterion=torch.nn.CrossEntropyLoss, criterion__ignore_index=0,
                             optimizer=torch.optim.SGD, lr=0.05, max_epochs=3,
                             train_split=None, verbose=0, random_state=0, **params)

    plain = ignoring().fit(X, y)
    weighted = ignoring().fit(X, y, sample_weight=np.ones(61))
    assert_allclose(weighted.history[:, "train_loss"], plain.history[:, "train_loss"],
                    rtol=1e-5)
    plain = net(torch.nn.MultiMarginLoss).fit(X, y)
    weighted = net(torch.nn.MultiMarginLoss).fit(X, y, sample_weight=np.ones(61))
    assert_allclose(weighted.history[:, "train_loss"], plain.history[:, "train_loss"],
                    rtol=1e-5)
    dropped = np.ones(61)
    dropped[-1] = 0.0  # the last batch of 10 is this row alone
    losses = net(torch.nn.CrossEntropyLoss, batch_size=10).fit(
        X, y, sample_weight=dropped).history[:, "train_loss"]
    assert np.isfinite(losses).all()

    Y = np.c_[X[:, 0], X[:, 1] - X[:, 2]]
    summed = dict(module__in_features=3, module__out_features=2, criterion__reduction="sum",
                  optimizer=torch.optim.SGD, lr=0.001, max_epochs=3, train_split=None,
                  verbose=0, random_state=0)
    plain = NetRegressor(torch.nn.Linear, **summed).fit(X, Y)
    weighted = NetRegressor(torch.nn.Linear, **summed).fit(X, Y, sample_weight=np.ones(61))
    assert_allclose(weighted.history[:, "train_loss"], plain.history[:, "train_loss"],
                    rtol=1e-5)


def test_sample_weight_gives_the_weighted_mean():
    # A bias-only fit of a constant target learns the weighted mean of y.
    X = np.zeros((100, 1))
    y = np.r_[np.ones(50), -np.ones(50)]
    weight = np.r_[np.full(50, 3.0), np.ones(50)]
    net = NetRegressor(torch.nn.Linear, module__in_features=1, module__out_features=1,
                       optimizer=torch.optim.Adam, lr=0.05, max_epochs=200, batch_size=100,
                       train_split=None, verbose=0, random_state=0)
    assert_allclose(net.fit(X, y, sample_weight=weight).predict(X[:1]), [0.5], atol=0.02)
    assert_allclose(net.fit(X, y).predict(X[:1]), [0.0], atol=0.02)


def test_sample_weight_needs_a_criterion_with_reduction():
    class Loss(torch.nn.Module):
        def forward(self, y_pred, y_true):
            return ((y_pred - y_true) ** 2).mean()

    net = regressor(n_in=1, criterion=Loss, max_epochs=1)
    with pytest.raises(TypeError, match="reduction"):
        net.fit(np.zeros((10, 1)), np.zeros(10), sample_weight=np.ones(10))


def test_fusion_with_a_net_in_grid_search_with_weights_and_pickle(blobs):
    X, y = blobs
    fusion = FusionClassifier(
        [("net", classifier(max_epochs=10)), ("lr", LogisticRegression()),
         ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))],
        cv=3, random_state=0,
    )
    search = GridSearchCV(
        fusion, {"net__lr": [0.01, 0.05], "weights": [[1, 1, 1], [2, 1, 0]]}, cv=3
    )
    weight = np.random.RandomState(1).uniform(0.5, 2.0, size=len(y))
    search.fit(X, y, sample_weight=weight)
    assert set(search.cv_results_["param_net__lr"]) == {0.01, 0.05}
    best = search.best_estimator_
    assert isinstance(best.named_estimators_["net"], NetClassifier)
    assert search.best_score_ > 0.8
    restored = pickle.loads(pickle.dumps(best))
    assert_allclose(restored.predict_proba(X), best.predict_proba(X))


def test_plain_skorch_net_without_sample_weight_is_refused(blobs):
    X, y = blobs
    plain = NeuralNetClassifier(MLP, criterion=torch.nn.CrossEntropyLoss, max_epochs=1,
                                train_split=None, verbose=0)
    fusion = FusionClassifier([("net", plain), ("lr", LogisticRegression())], cv=3)
    # Fractional weights: whole numbers it would take as repeated rows.
    with pytest.raises(TypeError, match="sample_weight"):
        fusion.fit(X, (y == "up").astype(int), sample_weight=np.full(len(y), 0.5))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mixture_with_net_experts_fits_by_em():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(400, 2))
    y = np.where(X[:, 0] > 0, 3 * X[:, 1], -3 * X[:, 1]) + rng.normal(scale=0.1, size=400)
    expert = NetRegressor(torch.nn.Linear, module__in_features=2, module__out_features=1,
                          optimizer=torch.optim.Adam, lr=0.05, max_epochs=40,
                          train_split=None, verbose=0)
    moe = MixtureOfExpertsRegressor(expert, n_experts=2, max_iter=8, random_state=0).fit(X, y)
    assert all(isinstance(e, NetRegressor) for e in moe.experts_)
    assert moe.n_iter_ >= 2
    # One linear net cannot fit the two regimes (R^2 about 0); the mixture separates them.
    r2 = 1 - np.mean((moe.predict(X) - y) ** 2) / np.var(y)
    assert r2 > 0.8


def test_a_split_into_other_datasets_leaves_the_weights_alone():
    # A split whose validation part is the whole dataset (not a Subset of it): the
    # weights were scaled on its indices, which it has none of.
    from torch.utils.data import Subset

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(60, 3)), rng.normal(size=60)

    def split(dataset, y=None, **kwargs):
        return Subset(dataset, np.arange(40)), dataset

    weight = rng.randint(1, 4, 60).astype(float)
    net = regressor(max_epochs=2, train_split=split).fit(X, y, sample_weight=weight)
    assert len(net.history_) == 2


def test_a_split_part_of_weight_zero_is_refused():
    # Its weighted loss is undefined: valid_loss read 0 and stopped early stopping.
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(200, 3)), rng.normal(size=200)
    weight = np.r_[np.zeros(40), np.ones(160)]  # ValidSplit(5) holds out the first 40
    with pytest.raises(ValueError, match=r"validation part of the split \(40 rows\) has "
                                         "no sample_weight in all"):
        regressor(max_epochs=2, train_split=ValidSplit(5)).fit(X, y, sample_weight=weight)


def test_a_regressor_has_no_predict_proba_and_stacks_its_predictions():
    # skorch's regressor inherits predict_proba: "auto" took it, past the float32 cast.
    from skfuse import SerialStack

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(120, 3)), rng.normal(size=120)
    assert not hasattr(regressor(), "predict_proba")
    with pytest.raises(AttributeError) as missing:  # the reason, as the cause
        regressor().predict_proba(X)
    assert "a regressor has none" in str(missing.value.__cause__)
    stack = SerialStack([("net", regressor(max_epochs=3)), ("final", Ridge())], cv=3,
                        random_state=0).fit(X, y)
    named = SerialStack([("net", regressor(max_epochs=3)), ("final", Ridge())], cv=3,
                        stack_method="predict", random_state=0).fit(X, y)
    assert_allclose(stack.predict(X), named.predict(X))
    assert stack.transform(X).shape == (120, 1)


def test_a_net_whose_training_diverged_is_refused(blobs):
    # Its probabilities were all NaN, and its predict gave the first class on every
    # row, which a composite using labels (hard voting, stack_method="predict") took.
    X, y = blobs
    diverging = dict(optimizer=torch.optim.SGD, lr=1e6, max_epochs=5)
    with pytest.raises(ValueError, match="NetClassifier: training diverged: 4 parameter"):
        classifier(**diverging).fit(X * 1e3, y)
    with pytest.raises(ValueError, match="NetRegressor: training diverged"):
        regressor(n_in=4, **diverging).fit(X * 1e3, X[:, 0] * 2e3)
    with pytest.raises(ValueError, match="NetClassifier: training diverged"):
        SerialStack([("net", classifier(**diverging)), ("lr", LogisticRegression())],
                    stack_method="predict", cv=3).fit(X * 1e3, y)
    assert np.isfinite(classifier().fit(X, y).predict_proba(X)).all()


def test_a_net_regressor_refuses_a_target_of_nan_or_infinity_in_scikit_learns_words(blobs):
    X, _ = blobs
    y = X[:, 0].copy()
    y[3] = np.nan
    with pytest.raises(ValueError, match=r"^NetRegressor: Input y contains NaN\.$"):
        regressor(n_in=4).fit(X, y)
    y[3] = np.inf  # named as given (float64), not as the net's float32
    with pytest.raises(ValueError, match=r"^NetRegressor: Input y contains infinity or a "
                                         r"value too large for dtype\('float64'\)"):
        regressor(n_in=4).partial_fit(X, y)


def test_nets_refuse_complex_targets_and_non_finite_labels_without_a_warning(blobs):
    # A complex y was cast to float32 without its imaginary part (NumPy only warned),
    # and a NaN or infinite label first warned in scikit-learn's label check (as it
    # casts it to int): under -W error the warning took the place of the refusal.
    X, labels = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for y in (X[:, 0] + 1j, list(X[:, 0] + 1j)):  # (a list has no dtype to ask)
            with pytest.raises(ValueError, match="^NetRegressor: Complex data not supported"):
                regressor(n_in=4).fit(X, y)
        # An object array's complex numbers or text failed in NumPy's bare words.
        for y in (np.full(len(X), 1 + 1j, dtype=object), np.full(len(X), "a", dtype=object)):
            with pytest.raises(ValueError, match=r"^NetRegressor: y must be numeric \("):
                regressor(n_in=4).fit(X, y)
        y = (labels == "up").astype(float)
        for fit in ("fit", "partial_fit"):
            y[3] = np.inf
            with pytest.raises(ValueError, match="^NetClassifier: Input y contains infinity"):
                getattr(classifier(), fit)(X, y)
            y[3] = np.nan
            with pytest.raises(ValueError, match=r"^NetClassifier: Input y contains NaN \(mi"):
                getattr(classifier(), fit)(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a CPU-only machine")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_cuda_is_refused_in_words(blobs, device):
    X, y = blobs
    for net, target in ((classifier(device=device), y),
                        (regressor(n_in=4, device=device), X[:, 0])):
        with pytest.raises(ValueError, match="CUDA is not available"):
            net.fit(X, target)
        with pytest.raises(ValueError, match="CUDA is not available"):
            net.partial_fit(X, target)


@pytest.mark.parametrize("criterion_params", [
    {"criterion__weight": torch.tensor([1.0, 2.0, 3.0])},
    {"criterion__weight": torch.tensor([1.0, 2.0, 3.0]), "criterion__ignore_index": 0},
    {"criterion__ignore_index": 0},
])
def test_class_weights_with_sample_weight_on_another_device_than_the_batch(criterion_params):
    # skorch hands get_loss the batch's targets as the loader made them (on the CPU),
    # while the criterion's class weights live on the net's device: on CUDA the weighted
    # loss multiplied the two ("Expected all tensors to be on the same device"). The
    # "meta" device mixes with the CPU by CUDA's rules, so it stands in for it here.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(24, 3)).astype(np.float32)
    y = np.arange(24) % 3
    net = NetClassifier(torch.nn.Linear, module__in_features=3, module__out_features=3,
                        criterion=torch.nn.CrossEntropyLoss, max_epochs=1, train_split=None,
                        verbose=0, random_state=0, **criterion_params).fit(X, y)
    net.device = "meta"
    net.module_.to("meta")
    net.criterion_.to("meta")
    batch = {"X": torch.from_numpy(X[:8]), "sample_weight": torch.ones(8)}
    loss = net.get_loss(net.infer(batch), torch.from_numpy(y[:8]), X=batch, training=True)
    assert loss.device.type == "meta" and loss.shape == ()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_class_weights_with_sample_weight_train_on_cuda():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3)).astype(np.float32)
    y = np.arange(60) % 3

    def net(device):
        return NetClassifier(torch.nn.Linear, module__in_features=3, module__out_features=3,
                             criterion=torch.nn.CrossEntropyLoss,
                             criterion__weight=torch.tensor([1.0, 2.0, 3.0]),
                             optimizer=torch.optim.SGD, lr=0.05, max_epochs=3,
                             train_split=None, verbose=0, random_state=0, device=device)

    weight = rng.uniform(0.5, 2.0, size=60)
    on_cpu = net("cpu").fit(X, y, sample_weight=weight)
    on_gpu = net("cuda").fit(X, y, sample_weight=weight)
    assert_allclose(on_gpu.history[:, "train_loss"], on_cpu.history[:, "train_loss"],
                    rtol=1e-4)


class _Linear(torch.nn.Module):
    def __init__(self, n_in=4, n_out=2):
        super().__init__()
        self.layer = torch.nn.Linear(n_in, n_out)

    def forward(self, X):
        return self.layer(X)


def test_a_net_refit_refused_before_training_keeps_the_records_of_its_module():
    # The refused weights were checked once fit had set the new labels and column
    # count: the net kept its module under them, and predict answered "no"/"yes" from
    # columns trained for 0/1, silently (the regressor: 3 columns, 2-D targets).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    net = NetClassifier(_Linear, criterion=torch.nn.CrossEntropyLoss, max_epochs=5,
                        train_split=None, verbose=0, random_state=0).fit(X, y)
    before = net.predict_proba(X)
    with pytest.raises(ValueError, match="sample_weight"):
        net.fit(X[:, :3], np.where(y == 1, "no", "yes"), sample_weight=np.ones(59))
    assert_array_equal(net.classes_, [0, 1])
    assert net.n_features_in_ == 4
    assert_allclose(net.predict_proba(X), before)
    reg = NetRegressor(_Linear, module__n_out=1, max_epochs=5, train_split=None,
                       verbose=0, random_state=0).fit(X, X[:, 0])
    before = reg.predict(X)
    with pytest.raises(ValueError, match="sample_weight"):
        reg.fit(X[:, :3], X[:, :2], sample_weight=np.ones(59))
    assert (reg.n_features_in_, reg.y_ndim_) == (4, 1)
    assert_allclose(reg.predict(X), before)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_a_net_fit_that_diverges_leaves_it_unfitted(kind):
    # It still said it was fitted, and the classifier predicted its first class for
    # every row (NaN outputs).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    if kind == "classifier":
        net, y = NetClassifier(_Linear, criterion=torch.nn.CrossEntropyLoss), X[:, 0] > 0
    else:
        net, y = NetRegressor(_Linear, module__n_out=1), X[:, 0]
    net.set_params(max_epochs=5, train_split=None, verbose=0, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="diverged"):
        net.set_params(lr=1e30).fit(X * 1e10, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(net)
    with pytest.raises(NotFittedError):
        net.predict(X)


@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_a_diverged_net_trains_again_from_a_new_module(how):
    # Not fitted after it diverged, yet partial_fit (and a warm_start fit) went on
    # from the NaN parameters and diverged again, whatever the new lr.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)

    def make():
        return NetClassifier(_Linear, criterion=torch.nn.CrossEntropyLoss, max_epochs=3,
                             train_split=None, verbose=0, random_state=0, warm_start=True)

    net = make().fit(X, y)
    with pytest.raises(ValueError, match="diverged"):
        net.set_params(lr=1e30).fit(X * 1e10, y)
    getattr(net.set_params(lr=0.01), how)(X, y)
    assert_allclose(net.predict_proba(X), getattr(make().set_params(lr=0.01), how)(X, y)
                    .predict_proba(X), rtol=1e-6)


def test_a_diverged_module_instance_is_named_as_what_the_next_fit_starts_from():
    # skorch reuses a module instance as it is: after a diverged fit, it holds the NaN
    # values, and every later fit would diverge again, whatever its lr.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    net = NetClassifier(_Linear(), criterion=torch.nn.CrossEntropyLoss, max_epochs=3,
                        lr=1e30, train_split=None, verbose=0, random_state=0)
    with pytest.raises(ValueError, match="diverged.*given as an instance.*new instance"):
        net.fit(X * 1e10, y)
    with pytest.raises(ValueError, match="diverged") as refusal:
        net.set_params(module=_Linear).fit(X * 1e10, y)
    assert "instance" not in str(refusal.value)


def test_a_dict_x_with_its_own_weights_and_a_3d_target_are_refused_in_words():
    X = np.random.RandomState(0).normal(size=(20, 4)).astype(np.float32)
    net = _sized("classifier", module__n_features_in=4)
    with pytest.raises(ValueError, match="^NetClassifier: X must not have a 'sample_weight' "
                                         "key"):
        net.fit({"X": X, "sample_weight": np.ones(20)}, np.arange(20) % 2,
                sample_weight=np.ones(20))
    with pytest.raises(ValueError, match=r"^NetRegressor: y must be 1-D or 2-D, got shape "
                                         r"\(20, 2, 2\)"):
        _sized("regressor").fit(X, np.zeros((20, 2, 2)))
    net = _sized("regressor").partial_fit(X, X[:, 0])
    with pytest.raises(ValueError, match="^NetRegressor: y has 2 dimension.*1-D targets"):
        net.partial_fit(X, X[:, :1])


def test_sample_weight_with_a_dataset_x_is_refused_in_words():
    from skorch.dataset import Dataset

    X = np.zeros((10, 4), dtype=np.float32)
    y = np.arange(10) % 2
    net = NetClassifier(_Linear, criterion=torch.nn.CrossEntropyLoss, max_epochs=1,
                        train_split=None, verbose=0)
    with pytest.raises(ValueError, match="torch Dataset"):
        net.fit(Dataset(X, y), y, sample_weight=np.ones(10))


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_a_net_refuses_dok_sparse_x_and_a_missing_y_in_words(kind):
    # scipy's DOK formats are dicts, which went to skorch as a dict of inputs (an
    # IndexError inside it); the regressor took y=None as a 0-D target.
    import scipy.sparse as sp

    X = np.random.RandomState(0).normal(size=(20, 4)).astype(np.float32)
    if kind == "classifier":
        net, y = NetClassifier(_Linear, criterion=torch.nn.CrossEntropyLoss), X[:, 0] > 0
    else:
        net, y = NetRegressor(_Linear, module__n_out=1), X[:, 0]
    net.set_params(max_epochs=1, train_split=None, verbose=0)
    for dok in (sp.dok_array(X), sp.dok_matrix(X)):
        with pytest.raises(TypeError, match="Sparse data was passed"):
            net.fit(dok, y)
    refusal = ("y should be a 1d array" if kind == "classifier"  # (scikit-learn's own)
               else "requires y to be passed, but the target y is None")
    with pytest.raises(ValueError, match=refusal):
        net.fit(X, None)


class _Sized(torch.nn.Module):
    """Two layers, sized by the data: the nets pass the sizes its signature names."""

    def __init__(self, n_features_in, n_classes=None, n_outputs=None, hidden=8):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_features_in, hidden), torch.nn.ReLU(),
            torch.nn.Linear(hidden, n_classes or n_outputs))

    def forward(self, X):
        return self.layers(X)


def _sizes(net):
    first, last = net.module_.layers[0], net.module_.layers[-1]
    return first.in_features, last.out_features


def _sized(kind, module=_Sized, **params):
    common = dict(max_epochs=2, train_split=None, verbose=0, random_state=0)
    if kind == "classifier":
        return NetClassifier(module, criterion=torch.nn.CrossEntropyLoss,
                             **{**common, **params})
    return NetRegressor(module, **{**common, **params})


def test_a_module_class_that_names_its_sizes_is_given_them_by_each_fit():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 5))
    net = _sized("classifier").fit(X, np.arange(40) % 3)
    assert _sizes(net) == (5, 3)
    net.fit(X[:, :2], np.arange(40) % 2)  # a refit takes the new data's sizes
    assert _sizes(net) == (2, 2)
    net = _sized("classifier").partial_fit(X, np.arange(40) % 2, classes=[0, 1, 2, 3])
    assert _sizes(net) == (5, 4)  # the first partial_fit: every class it will see
    reg = _sized("regressor").fit(X, X[:, :3])
    assert _sizes(reg) == (5, 3) and reg.n_outputs_ == 3
    assert reg.predict(X).shape == (40, 3)
    reg = _sized("regressor").partial_fit(X[:, :4], X[:, 0])
    assert _sizes(reg) == (4, 1) and reg.n_outputs_ == 1
    assert reg.predict(X[:, :4]).shape == (40,)
    reg = _sized("regressor").partial_fit(X, X[:, :2])
    with pytest.raises(ValueError, match="one column per target"):
        reg.partial_fit(X, X[:, :3])  # a later call keeps the module, and its record
    assert _sizes(reg) == (5, 2) and reg.n_outputs_ == 2


def test_sizes_the_user_gives_are_kept_and_a_module_instance_is_left_alone():
    X = np.random.RandomState(0).normal(size=(30, 4))
    net = _sized("regressor", module__n_features_in=4, module__n_outputs=2,
                 module__hidden=3)
    with pytest.raises(ValueError, match="one column per target"):
        net.fit(X, X[:, 0])  # the user's two outputs, not the data's one
    net = _sized("regressor", module__n_outputs=2)  # one size given, the other not
    with pytest.raises(ValueError, match="one column per target"):
        net.fit(X, X[:, 0])
    assert _sizes(net) == (4, 2)
    module = _Sized(4, n_classes=2)
    net = _sized("classifier", module=module).fit(X, np.arange(30) % 2)
    assert net.module_ is module  # an instance is used as given
    # A module that names neither size is built from its own parameters.
    plain = regressor(n_in=4).fit(X, X[:, 0])
    assert plain.module_.layers[0].in_features == 4


def test_a_fitted_sized_net_keeps_its_sizes_through_set_params():
    # skorch builds the module again when a module__ parameter is set on a fitted net.
    X = np.random.RandomState(0).normal(size=(30, 6))
    net = _sized("classifier").fit(X, np.arange(30) % 3)
    net.set_params(module__hidden=5)
    assert _sizes(net) == (6, 3) and net.module_.layers[0].out_features == 5
    assert net.fit(X, np.arange(30) % 3).predict_proba(X).shape == (30, 3)


def test_a_member_net_is_sized_by_the_columns_of_its_view():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 5))
    y = (X[:, 0] + X[:, 3] > 0).astype(int)
    fusion = FusionClassifier(
        [("net", _sized("classifier")), ("lr", LogisticRegression())],
        views={"net": [0, 1], "lr": [2, 3, 4]}, cv=3, random_state=0).fit(X, y)
    assert _sizes(fusion.named_estimators_["net"]) == (2, 2)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_integer_weights_equal_repeated_rows_to_float32s_precision(kind):
    # scikit-learn's check of the same (test_common.py) asks 1e-7, under float32's
    # rounding of sums taken in another order: so here, at float32's precision. One
    # batch per epoch, as minibatches of copies would differ.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int) if kind == "classifier" else X @ [1.0, -1.0, 0.5]
    weight = rng.randint(0, 4, size=30)
    net = _sized(kind, max_epochs=20, batch_size=-1, optimizer=torch.optim.Adam, lr=0.05)
    method = "predict_proba" if kind == "classifier" else "predict"
    weighted = getattr(net.fit(X, y, sample_weight=weight), method)(X)
    repeated = getattr(net.fit(np.repeat(X, weight, axis=0), np.repeat(y, weight)),
                       method)(X)
    assert_allclose(weighted, repeated, rtol=1e-5, atol=1e-6)
    unweighted = getattr(net.fit(X, y), method)(X)
    assert not np.allclose(weighted, unweighted, rtol=1e-3)


def test_a_size_no_fit_gives_is_asked_for_in_words():
    # A dict X has no columns to count, and initialize() comes before any data.
    X = np.random.RandomState(0).normal(size=(30, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="Pass module__n_features_in=<size>"):
        _sized("classifier").fit({"X": X}, np.arange(30) % 2)
    with pytest.raises(ValueError, match="module requires n_features_in, which"):
        _sized("regressor").initialize()
    net = _sized("classifier", module__n_features_in=4).fit({"X": X}, np.arange(30) % 2)
    assert _sizes(net) == (4, 2)
    with pytest.raises(ValueError, match="Pass module__n_features_in=<size>"):
        _sized("classifier").fit(X, np.arange(30) % 2).fit({"X": X}, np.arange(30) % 2)


def test_a_warm_refit_on_other_targets_is_refused_before_its_records_change():
    X = np.random.RandomState(0).normal(size=(30, 4))
    reg = _sized("regressor", warm_start=True).fit(X, X[:, :2])
    with pytest.raises(ValueError, match="keeps the module, whose 2 output"):
        reg.fit(X, X[:, :3])
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (30, 2)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_a_warm_refit_on_other_columns_is_refused_as_predict_refuses_them(kind):
    # It set n_features_in_ to the new width and then failed inside torch, leaving a
    # record that no longer described the module (which a rebuild would then follow).
    X = np.random.RandomState(0).normal(size=(30, 5))
    y = np.arange(30) % 2 if kind == "classifier" else X[:, 0]
    net = _sized(kind, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 5"):
        net.fit(X[:, :3], y)
    assert net.n_features_in_ == 5 and len(net.predict(X)) == 30
    assert _sizes(net.set_params(warm_start=False).fit(X[:, :3], y))[0] == 3
