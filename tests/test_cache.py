"""The member cache: GridSearchCV over fusion parameters fits each member once per split."""

import copy

import numpy as np
import pytest
from joblib import Memory
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification
from sklearn.ensemble import (
    BaggingClassifier,
    HistGradientBoostingClassifier,
    VotingClassifier,
)
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.tree import DecisionTreeRegressor

from skfuse import FusionClassifier, FusionRegressor, SerialStack

from composites import CountingLR, CountingNB, CountingTree, reset_counts

X, y = load_iris(return_X_y=True)


@pytest.fixture(autouse=True)
def reset_counters():
    reset_counts()


def members():
    return [("lr", CountingLR(max_iter=500)), ("tree", CountingTree(max_depth=3, random_state=0))]


def fits():
    return CountingLR.fits, CountingTree.fits


@pytest.mark.parametrize("memory", ["path", "Memory"])
def test_second_fit_is_served_from_the_cache(tmp_path, memory):
    memory = str(tmp_path) if memory == "path" else Memory(tmp_path, verbose=0)
    fusion = FusionClassifier(members(), weights="optimize", refit=True, cv=3, memory=memory)
    fusion.fit(X, y)
    assert fits() == (4, 4)  # three folds and one refit each
    first = fusion.predict_proba(X)
    fusion.fit(X, y)
    assert fits() == (4, 4)
    assert_allclose(fusion.predict_proba(X), first)
    # Fusion-level parameters do not refit members: fixed weights reuse the refits.
    fusion.set_params(weights=[1, 3], voting="soft").fit(X, y)
    assert fits() == (4, 4)


def test_bagged_fold_fits_are_served_from_the_cache(tmp_path):
    fusion = FusionClassifier(members(), weights="optimize", cv=3, memory=tmp_path)
    fusion.fit(X, y)
    assert fits() == (3, 3)  # three folds each, no refit
    first = fusion.predict_proba(X)
    fusion.fit(X, y)
    assert fits() == (3, 3)
    assert_allclose(fusion.predict_proba(X), first)
    uncached = FusionClassifier(members(), weights="optimize", cv=3).fit(X, y)
    assert_allclose(uncached.predict_proba(X), first)
    assert fits() == (6, 6)
    # A kept fold fit is keyed apart from a fold's output alone: a refitting fusion
    # fits its folds and its refit.
    fusion.set_params(refit=True).fit(X, y)
    assert fits() == (10, 10)


def test_changing_a_member_parameter_refits_only_that_member(tmp_path):
    fusion = FusionClassifier(members(), weights="optimize", refit=True, cv=3, memory=tmp_path)
    fusion.fit(X, y)
    fusion.set_params(tree__max_depth=2).fit(X, y)
    assert fits() == (4, 8)
    uncached = FusionClassifier(members(), weights="optimize", refit=True, cv=3)
    uncached.set_params(tree__max_depth=2).fit(X, y)
    assert_allclose(fusion.predict_proba(X), uncached.predict_proba(X))
    assert_allclose(fusion.weights_, uncached.weights_)


@pytest.mark.parametrize("change", ["X", "y", "sample_weight", "view", "voting"])
def test_cache_never_goes_stale(tmp_path, change):
    fusion = FusionClassifier(members(), weights="greedy", refit=True, cv=3, memory=tmp_path)
    sample_weight = np.ones(len(y))
    fusion.fit(X, y, sample_weight=sample_weight)
    assert fits() == (4, 4)
    X2, y2, sw2 = X.copy(), y.copy(), sample_weight.copy()
    if change == "X":
        X2[0, 0] += 1e-9
    elif change == "y":
        y2[[0, 50]] = y2[[50, 0]]
    elif change == "sample_weight":
        sw2[0] = 2.0
    elif change == "view":
        fusion.set_params(views={"tree": [0, 1, 2]})
    else:  # hard voting needs the members' predicted classes, not probabilities
        fusion.set_params(voting="hard")
    fusion.fit(X2, y2, sample_weight=sw2)
    expected_lr = 4 if change in ("view",) else 8
    if change == "voting":
        # The refits are reused; the out-of-fold outputs differ, so the folds refit.
        assert fits() == (7, 7)
    else:
        assert fits() == (expected_lr, 8)
    fresh = FusionClassifier(members(), weights="greedy", refit=True, cv=3).set_params(
        views=fusion.views, voting=fusion.voting
    )
    fresh.fit(X2, y2, sample_weight=sw2)
    assert_allclose(fusion.weights_, fresh.weights_)
    assert_allclose(fusion.transform(X), fresh.transform(X))


def test_grid_search_over_weights_fits_each_member_once_per_split(tmp_path):
    Xc, yc = make_classification(n_samples=300, random_state=0)
    grid = {"weights": [[a, b] for a in (1, 2, 3) for b in (1, 2, 3)]}
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    search = GridSearchCV(FusionClassifier(members(), memory=tmp_path), grid, cv=cv)
    search.fit(Xc, yc)
    assert fits() == (5 + 1, 5 + 1)  # once per split, plus the final refit
    reference = GridSearchCV(VotingClassifier(members(), voting="soft"), grid, cv=cv)
    reference.fit(Xc, yc)
    assert search.best_params_ == reference.best_params_
    assert_allclose(
        search.cv_results_["mean_test_score"],
        reference.cv_results_["mean_test_score"],
        rtol=0,
        atol=1e-12,
    )


def test_regressor_takes_memory_too(tmp_path):
    members = [("a", DecisionTreeRegressor(max_depth=2)), ("b", DecisionTreeRegressor())]
    target = X[:, 0]
    fusion = FusionRegressor(members, weights="optimize", refit=True, cv=3, memory=tmp_path)
    fusion.fit(X[:, 1:], target)
    cached = FusionRegressor(members, weights="optimize", refit=True, cv=3, memory=tmp_path)
    cached.fit(X[:, 1:], target)
    assert_allclose(cached.predict(X[:, 1:]), fusion.predict(X[:, 1:]))


def test_members_handed_out_and_changed_are_not_answered_from_the_cache(tmp_path):
    # predict kept serving the outputs cached for a member as fitted after the user
    # changed it in place through named_estimators_ (without memory, the change shows).
    members = [("lr", LogisticRegression(max_iter=500)), ("nb", CountingNB())]
    plain, cached = (FusionClassifier(members, memory=memory).fit(X, y)
                     for memory in (None, tmp_path))
    stack = SerialStack([("fusion", FusionClassifier(members, memory=tmp_path)),
                         ("final", LogisticRegression())]).fit(X, y)
    CountingNB.calls = 0
    for model in (plain, cached, stack):
        model.predict_proba(X)
    assert CountingNB.calls == 3
    # Read by skfuse itself (names, a stack's fusion level), the members stay cached.
    cached.get_feature_names_out()
    stack.get_feature_names_out()
    cached.predict_proba(X)
    stack.predict_proba(X)
    assert CountingNB.calls == 3
    fitted = plain.predict_proba(X)
    twin = copy.copy(cached)  # shares the fitted members, and what keys them
    for fusion in (plain, twin):
        fusion.named_estimators_["nb"].theta_[:] *= 0.5
    changed = plain.predict_proba(X)
    assert not np.allclose(changed, fitted)
    assert_allclose(cached.predict_proba(X), changed)
    cached.estimators_[1].theta_[:] *= 2.0  # as fitted again
    assert_allclose(cached.predict_proba(X), fitted)


class _HandedOutWhilePredicting(Ridge):
    """Ridge whose next predict first runs ``during_predict`` (what another thread does
    while the call runs)."""

    during_predict = None

    def predict(self, X):
        hook, type(self).during_predict = type(self).during_predict, None
        if hook is not None:
            hook()
        return super().predict(X)


def test_a_member_handed_out_and_changed_during_a_predict_writes_no_output(tmp_path):
    # A predict under way when another thread took the members (estimators_) and changed
    # one wrote that member's changed output under the key of the member as fitted: the
    # same fusion fitted again from the cache then read it for an X never predicted.
    Xr, target = X[:, 1:], X[:, 0]

    def make(memory):
        return FusionRegressor([("changed", _HandedOutWhilePredicting()), ("ridge", Ridge())],
                               cv=3, memory=memory)

    fusion = make(tmp_path).fit(Xr, target)

    def hand_out_and_change():
        fusion.estimators_[0].coef_[:] = 0.0

    _HandedOutWhilePredicting.during_predict = hand_out_and_change
    fusion.predict(Xr + 1.0)
    assert _HandedOutWhilePredicting.during_predict is None  # it ran
    assert_allclose(make(tmp_path).fit(Xr, target).predict(Xr + 1.0),
                    make(None).fit(Xr, target).predict(Xr + 1.0))


class _CountingRidge(Ridge):
    calls = 0

    def predict(self, X):
        type(self).calls += 1
        return super().predict(X)


def test_a_stack_reading_its_fusion_levels_members_keeps_their_cache(tmp_path):
    # A regressor level passing its members' outputs (feature names read the members),
    # and a classifier level with views a row may lack (outputs placed per member).
    level = FusionRegressor([("ridge", _CountingRidge()),
                             ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))],
                            memory=tmp_path)
    regression = SerialStack([("level", level), ("final", Ridge())],
                             stack_method="transform").fit(X, X[:, 0])
    X_missing = X.copy()
    X_missing[:30, :2] = np.nan
    level = FusionClassifier([("nb", CountingNB()), ("lr", LogisticRegression(max_iter=500))],
                             views={"nb": [0, 1], "lr": [2, 3]}, memory=tmp_path)
    final = HistGradientBoostingClassifier(max_iter=5, random_state=0)  # (takes NaN)
    classification = SerialStack([("level", level), ("final", final)]).fit(X_missing, y)
    _CountingRidge.calls = CountingNB.calls = 0
    for _ in range(2):
        regression.get_feature_names_out()
        regression.predict(X)
        classification.predict_proba(X_missing)
    assert (_CountingRidge.calls, CountingNB.calls) == (1, 1)


def test_results_are_the_same_with_and_without_memory(tmp_path):
    members = [("lr", LogisticRegression(max_iter=500)), ("nb", GaussianNB())]
    plain = FusionClassifier(members, weights="optimize", refit=True, cv=3).fit(X, y)
    cached = FusionClassifier(members, weights="optimize", refit=True, cv=3, memory=tmp_path)
    cached.fit(X, y)
    again = FusionClassifier(members, weights="optimize", refit=True, cv=3, memory=tmp_path).fit(X, y)
    for fusion in (cached, again):
        assert_allclose(fusion.weights_, plain.weights_)
        assert_allclose(fusion.predict_proba(X), plain.predict_proba(X))


def test_predictions_are_cached_per_fitted_member_and_rows(tmp_path):
    CountingNB.calls = 0
    members = [("lr", LogisticRegression(max_iter=500)), ("nb", CountingNB())]
    fusion = FusionClassifier(members, memory=tmp_path).fit(X, y)
    first = fusion.predict_proba(X)
    assert CountingNB.calls == 1
    # A refitted clone (as GridSearchCV makes) finds the same member fit and rows.
    again = FusionClassifier(members, weights=[2, 1], memory=tmp_path).fit(X, y)
    again.predict_proba(X)
    assert CountingNB.calls == 1
    # Other rows, another member fit, or another output are computed afresh.
    fusion.predict_proba(X[:10])
    assert CountingNB.calls == 2
    fusion.set_params(nb__var_smoothing=1e-3).fit(X, y).predict_proba(X)
    assert CountingNB.calls == 3
    fusion.set_params(nb__var_smoothing=1e-9).fit(X[:, :3], y).predict_proba(X[:, :3])
    assert CountingNB.calls == 4
    uncached = FusionClassifier(members).fit(X, y)
    assert_allclose(uncached.predict_proba(X), first)


@pytest.mark.parametrize("refit", [True, False])
def test_a_fitted_fusion_never_reads_the_outputs_of_another_fit_of_its_key(tmp_path,
                                                                         refit):
    # Outputs were keyed by what a fit was given: an unseeded member fitted again after
    # the cache was cleared wrote its own outputs under the first fit's key, and the
    # first fusion (live or unpickled) then predicted with them.
    import pickle
    import shutil

    from sklearn.ensemble import ExtraTreesClassifier

    X_test = np.random.default_rng(1).normal(size=(40, 4))

    def fusion():
        return FusionClassifier([("et", ExtraTreesClassifier(n_estimators=5)),
                                 ("lr", LogisticRegression(max_iter=500))],
                                weights="optimize", refit=refit, cv=3,
                                memory=tmp_path / "cache").fit(X, y)

    first = fusion()
    expected = first.predict_proba(X_test)
    saved = pickle.dumps(first)
    shutil.rmtree(tmp_path / "cache")
    second = fusion()
    assert not np.array_equal(second.predict_proba(X_test), expected)  # another fit
    np.testing.assert_array_equal(first.predict_proba(X_test), expected)
    np.testing.assert_array_equal(pickle.loads(saved).predict_proba(X_test), expected)


def test_bagged_fold_fits_predict_once_for_every_candidate(tmp_path):
    # refit=False predicts by the mean of the fold fits: a search over fusion-level
    # parameters asks them about each test fold once, as it asks a refitted member.
    members = [("lr", LogisticRegression(max_iter=500)), ("nb", CountingNB())]
    fusion = FusionClassifier(members, weights="optimize", refit=False, cv=3,
                              memory=tmp_path, random_state=0).fit(X, y)
    CountingNB.calls = 0
    first = fusion.predict_proba(X)
    assert CountingNB.calls == 3  # one per fold fit
    for params in ({"guard": True}, {"scoring": "accuracy"}):
        clone(fusion).set_params(**params).fit(X, y).predict_proba(X)
    assert CountingNB.calls == 3
    fusion.predict_proba(X[:10])
    assert CountingNB.calls == 6
    uncached = FusionClassifier(members, weights="optimize", refit=False, cv=3,
                                random_state=0).fit(X, y)
    assert_allclose(uncached.predict_proba(X), first)


# -- the in-process memo in front of the disk ---------------------------------------------


@pytest.fixture
def memory_calls(monkeypatch):
    """Counts lookups on the disk (reads, or fits and outputs written there), by kind."""
    from skfuse import _cache

    calls = []
    through_disk = _cache._through_disk

    def counted(backend, memo_key, call_id, *args, **kwargs):
        calls.append(call_id[1])
        return through_disk(backend, memo_key, call_id, *args, **kwargs)

    monkeypatch.setattr(_cache, "_through_disk", counted)
    return calls


def test_memo_serves_a_second_fit_and_predict_without_the_disk(tmp_path, memory_calls):
    fusion = FusionClassifier(members(), weights="optimize", refit=True, cv=3, memory=tmp_path)
    first = fusion.fit(X, y).predict_proba(X)
    # four fits per member, then one output each
    assert [kind.split("-")[0] for kind in memory_calls] == ["fit"] * 8 + ["output"] * 2
    del memory_calls[:]
    again = FusionClassifier(members(), weights="optimize", refit=True, cv=3, memory=tmp_path)
    assert_allclose(again.fit(X, y).predict_proba(X), first)
    assert memory_calls == []
    assert fits() == (4, 4)


def test_memo_hits_run_here_and_only_misses_go_to_joblib(tmp_path, monkeypatch, capsys):
    from skfuse import _tasks

    sent = []
    parallel = _tasks.Parallel

    def counted(*args, **kwargs):
        runner = parallel(*args, **kwargs)
        call = runner.__call__

        class Counted:
            def __call__(self, tasks):
                tasks = list(tasks)
                sent.append(len(tasks))
                return call(tasks)

        return Counted()

    monkeypatch.setattr(_tasks, "Parallel", counted)
    fusion = FusionClassifier(members(), weights="optimize", refit=True, cv=3, memory=tmp_path)
    first = fusion.fit(X, y).predict_proba(X)
    assert sent == [8]  # four fits per member
    # Another member's parameter: its 4 jobs miss, the other member's 4 are memo hits.
    fusion.set_params(tree__max_depth=2).fit(X, y)
    assert sent == [8, 4] and fits() == (4, 8)
    fusion.set_params(tree__max_depth=3, verbose=1).fit(X, y)
    assert sent == [8, 4]  # everything from the memo: no joblib call at all
    out = capsys.readouterr().out
    assert out.count("from the cache") == 8
    assert "(8 of 8) member 'tree', fold 3 of 3: from the cache" in out
    assert_allclose(fusion.predict_proba(X), first)


def test_memo_hands_out_fresh_members(tmp_path):
    first = FusionClassifier(members(), memory=tmp_path).fit(X, y)
    expected = first.predict_proba(X)
    second = FusionClassifier(members(), memory=tmp_path).fit(X, y)
    assert all(a is not b for a, b in zip(first.estimators_, second.estimators_))
    second.estimators_[0].coef_[:] = 0  # spoiling one fit's member spoils no other
    third = FusionClassifier(members(), weights=[1, 2], memory=tmp_path).fit(X, y)
    assert_allclose(third.estimators_[0].coef_, first.estimators_[0].coef_)
    assert_allclose(FusionClassifier(members(), memory=tmp_path).fit(X, y).predict_proba(X),
                    expected)
    assert fits() == (1, 1)


class KnowsAnExtraClass(LogisticRegression):
    """A member that claims a class its training labels never hold."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight)
        self.classes_ = np.append(self.classes_, 99)
        return self


def test_a_miss_writes_the_store_and_hands_back_the_member_it_fitted(tmp_path, monkeypatch):
    import pickle

    unpickled, real_loads = [], pickle.loads
    monkeypatch.setattr(pickle, "loads", lambda blob: unpickled.append(1) or real_loads(blob))
    memory = Memory(str(tmp_path), verbose=0)
    fusion = FusionClassifier(members(), weights="optimize", refit=True, cv=3, memory=memory)
    fusion.fit(X, y)
    assert unpickled == []  # fitted, pickled for the disk, and used as it was
    from skfuse._cache import _call_id

    entries = [path.relative_to(tmp_path).parts[:3] for path in tmp_path.rglob("output.pkl")]
    assert entries == [("joblib", *_call_id("fit", "")[:2])] * 8  # four fits per member
    fusion.predict_proba(X)
    assert len(list(tmp_path.rglob("output.pkl"))) == 8 + 2  # and one output each
    memory.reduce_size(items_limit=0)  # joblib's own housekeeping sees the entries
    assert not list(tmp_path.rglob("output.pkl"))


def test_memory_must_be_a_path_or_a_joblib_memory(tmp_path):
    from sklearn.utils._param_validation import InvalidParameterError

    class Caches:  # has joblib.Memory's cache method and a location, not its store
        location = str(tmp_path)

        def cache(self, func):
            return func

    with pytest.raises(InvalidParameterError, match="'memory' parameter"):
        FusionClassifier(members(), memory=Caches()).fit(X, y)


def test_members_from_the_memo_stay_pickled_until_asked_for(tmp_path, monkeypatch):
    import pickle

    FusionClassifier(members(), memory=tmp_path).fit(X, y).predict_proba(X)
    unpickled, real_loads = [], pickle.loads
    monkeypatch.setattr(pickle, "loads", lambda blob: unpickled.append(1) or real_loads(blob))
    # A search's next candidate: fit and predict served whole by the cache.
    warm = FusionClassifier(members(), weights=[1, 2], memory=tmp_path).fit(X, y)
    proba = warm.predict_proba(X)
    assert unpickled == []
    assert_allclose(proba, FusionClassifier(members(), weights=[1, 2]).fit(X, y).predict_proba(X))
    # An output the cache lacks unpickles the member that gives it, once.
    warm.predict_proba(X[:10])
    assert len(unpickled) == 2
    # Unpickled, a member is held once: its pickle is let go (it was kept beside it).
    assert all(stored.blob is None for stored in warm._fitted_members_.values())
    assert [type(est) for est in warm.estimators_] == [CountingLR, CountingTree]
    assert warm.named_estimators_["lr"] is warm.estimators_[0]
    assert len(unpickled) == 2
    assert fits() == (2, 2)  # the first fit and the one without memory; the warm one none
    # A pickle of a fusion holds its members themselves.
    stored = FusionClassifier(members(), memory=tmp_path).fit(X, y)
    blob = pickle.dumps(stored)
    assert b"StoredMember" not in blob
    assert_allclose(real_loads(blob).predict_proba(X[:10]),
                    FusionClassifier(members()).fit(X, y).predict_proba(X[:10]))


def test_members_from_the_memo_have_their_classes_checked(tmp_path):
    fusion = FusionClassifier([("odd", KnowsAnExtraClass(max_iter=500))], memory=tmp_path)
    for attempt in range(2):  # the second fit finds the member in the memo
        with pytest.raises(ValueError, match=r"member 'odd' knows class\(es\) \[99\]"):
            fusion.fit(X, y)


@pytest.mark.parametrize("how", ["Memory.clear", "rmtree"])
def test_clearing_the_disk_cache_is_seen_by_the_memo(tmp_path, how):
    import shutil

    memory = Memory(tmp_path / "cache", verbose=0)
    fusion = FusionClassifier(members(), weights="greedy", refit=True, cv=3, memory=memory)
    fusion.fit(X, y).predict_proba(X)
    if how == "rmtree":
        shutil.rmtree(tmp_path / "cache")
    else:
        memory.clear(warn=False)
    fusion.fit(X, y).predict_proba(X)
    assert fits() == (8, 8)  # refitted, as the disk cache alone would
    assert list((tmp_path / "cache").rglob("output.pkl"))  # and stored again


def test_a_cleared_entry_is_refitted_when_others_were_stored_again(tmp_path):
    memory = Memory(tmp_path / "cache", verbose=0)
    both = FusionClassifier(members(), memory=memory)
    both.fit(X, y)
    memory.clear(warn=False)
    FusionClassifier(members()[:1], memory=memory).fit(X, y)  # the first member again
    both.fit(X, y)  # the second was cleared: it is fitted again, not taken from memory
    assert fits() == (2, 2)


def test_each_memory_location_gets_its_own_entries(tmp_path):
    FusionClassifier(members(), memory=tmp_path / "a").fit(X, y).predict_proba(X)
    FusionClassifier(members(), memory=tmp_path / "b").fit(X, y).predict_proba(X)
    assert fits() == (2, 2)
    assert (len(list((tmp_path / "b").rglob("output.pkl")))
            == len(list((tmp_path / "a").rglob("output.pkl"))) == 4)


def test_memo_is_bounded_and_evicts_the_least_recently_used(tmp_path, monkeypatch):
    from skfuse import _cache

    # A logistic regression's entry takes 2.0 to 2.5 kB (by the versions of numpy and
    # scikit-learn): one fits, two do not.
    memo = _cache._Memo(max_bytes=3_000)
    monkeypatch.setattr(_cache, "_MEMO", memo)
    fusion = FusionClassifier(members(), weights="optimize", refit=True, cv=3, memory=tmp_path)
    fusion.fit(X, y)
    assert 0 < memo.nbytes <= 3_000
    for start in range(5):  # other data: new entries push the old ones out
        fusion.fit(X[start:], y[start:])
        assert memo.nbytes <= 3_000
    on_disk = len(list(tmp_path.rglob("output.pkl")))
    assert 0 < len(memo) < on_disk / 10  # every entry went to disk; the memo kept few
    fits_before = fits()
    fusion.fit(X, y)  # evicted from the memo, still on disk
    assert fits() == fits_before


def test_memo_keeps_nothing_larger_than_its_bound(tmp_path, monkeypatch):
    from skfuse import _cache

    monkeypatch.setattr(_cache, "_MEMO", _cache._Memo(max_bytes=10))
    fusion = FusionClassifier(members(), memory=tmp_path).fit(X, y)
    assert len(_cache._MEMO) == 0
    fusion.fit(X, y)
    assert fits() == (1, 1)


def test_memo_holds_no_more_than_it_counts(tmp_path, monkeypatch):
    # A binary stack's out-of-fold output is the second column of the probabilities:
    # a view whose base, twice its size, the memo must not keep alive uncounted.
    from skfuse import _cache

    def held(array):
        while isinstance(array.base, np.ndarray):
            array = array.base
        return array.nbytes

    memo = _cache._Memo(max_bytes=2**30)
    monkeypatch.setattr(_cache, "_MEMO", memo)
    Xb, yb = make_classification(n_samples=200, n_features=4, random_state=0)
    SerialStack([("nb", GaussianNB()), ("final", LogisticRegression())], cv=3,
                memory=tmp_path, random_state=0).fit(Xb, yb)
    arrays = [part for value, _, _ in memo._entries.values()
              for part in (value if isinstance(value, tuple) else (value,))
              if isinstance(part, np.ndarray)]
    assert arrays
    assert sum(held(a) for a in arrays) == sum(a.nbytes for a in arrays)


def test_memo_unit_lru_order_and_sizes(tmp_path):
    from skfuse._cache import _Memo

    class Backend:  # a store backend, as far as the memo's check that an entry is there
        present = True

        @classmethod
        def contains_item(cls, call_id):
            assert call_id == ["skfuse", "fit-1", "key"]
            return cls.present

    OnDisk = (Backend, ["skfuse", "fit-1", "key"])
    memo = _Memo(max_bytes=10)
    memo.put("a", "A", 4, OnDisk)
    memo.put("b", "B", 4, OnDisk)
    assert memo.get("a") == "A"  # now the most recently used
    memo.put("c", "C", 4, OnDisk)
    assert (memo.get("b"), memo.get("a"), memo.get("c")) == (None, "A", "C")
    assert memo.nbytes == 8
    memo.put("a", "A2", 7, OnDisk)  # replaces "a"; over the bound, "c" goes
    assert (memo.get("a"), memo.get("c"), memo.nbytes) == ("A2", None, 7)
    Backend.present = False
    assert memo.get("a") is None and len(memo) == 0 and memo.nbytes == 0


def test_data_and_members_are_hashed_once_per_call(tmp_path, monkeypatch):
    from skfuse import _cache

    three = members() + [("nb", GaussianNB())]
    fusion = FusionClassifier(three, weights="optimize", refit=True, cv=3, memory=tmp_path).fit(X, y)
    hashed = []
    for name in ("_digest", "_pickled_digest"):
        digest = getattr(_cache, name)
        monkeypatch.setattr(_cache, name, lambda value, digest=digest: (
            hashed.append(value), digest(value))[1])

    def count(test):
        return sum(isinstance(v, tuple) and test(v) for v in hashed)

    X_new = X[::2].copy()
    fusion.predict_proba(X_new)  # three members, one hash of X
    assert count(lambda v: any(o is X_new for o in v)) == 1
    hashed.clear()
    fusion.fit(X, y)  # twelve jobs: X, y and sample_weight once; each member once
    assert count(lambda v: len(v) == 3 and v[0] is X) == 1
    assert count(lambda v: len(v) == 1 and hasattr(v[0], "fit")) == 3


def test_a_fit_read_from_the_disk_says_so_at_verbose(tmp_path, capsys):
    # As in another process, the entries come from the disk, not this process's memo:
    # each line said how long the read took ("0.00 s"), as if the member were fitted.
    FusionClassifier(members(), weights="optimize", cv=3, memory=tmp_path).fit(X, y)
    from skfuse import _cache

    _cache._MEMO.clear()
    capsys.readouterr()
    FusionClassifier(members(), weights="optimize", cv=3, memory=tmp_path,
                     verbose=1).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if " of 6) " in line]
    assert len(lines) == 6 and all(line.endswith(": from the cache") for line in lines)
    _cache._MEMO.clear()
    FusionClassifier(members(), weights="optimize", cv=4, memory=tmp_path,
                     verbose=1).fit(X, y)  # other folds: fitted, and timed
    lines = [line for line in capsys.readouterr().out.splitlines() if " of 8) " in line]
    assert len(lines) == 8 and all(line.endswith(" s") for line in lines)


@pytest.mark.parametrize("weights", [None, "optimize"])
@pytest.mark.parametrize("outer_memory", [True, False])
def test_a_fit_computed_around_a_nested_composites_cache_reads_is_timed(tmp_path,
                                                                         outer_memory,
                                                                         weights, capsys):
    # A nested fusion's own read from its cache (of a fit, or at predict, of its output
    # on the test fold) marked the outer task as read too.
    def outer(depth, verbose=0):
        inner = FusionClassifier([("lr", LogisticRegression()),
                                  ("tree", CountingTree(max_depth=depth, random_state=0))],
                                 cv=2, memory=tmp_path / "inner")
        return FusionClassifier([("inner", inner), ("nb", GaussianNB())], cv=2,
                                weights=weights,
                                memory=tmp_path / "outer" if outer_memory else None,
                                verbose=verbose)

    from skfuse import _cache

    outer(2).fit(X, y)
    _cache._MEMO.clear()
    capsys.readouterr()
    outer(3, verbose=1).fit(X, y)  # the inner tree misses, the inner lr is read
    tasks = 2 if weights is None else 4  # fits on every row, or on each fold
    lines = [line for line in capsys.readouterr().out.splitlines()
             if f" of {tasks}) " in line]
    assert len(lines) == tasks
    for line in lines:
        read = outer_memory and "member 'nb'" in line
        assert line.endswith(": from the cache") == read, line


@pytest.mark.parametrize("weights", [[1, 1], "optimize"])
def test_a_frozen_member_changed_after_fit_predicts_as_it_is_now(tmp_path, weights):
    # The fused model holds the user's own frozen object, which the cache keyed by its
    # state at fit: rows asked about before its refit kept its old outputs, new rows got
    # the new ones, so the same rows changed with the batch they came in.
    def fused(memory):
        prefit = LogisticRegression().fit(X, y)
        members = [("prefit", FrozenEstimator(prefit)), ("nb", CountingNB())]
        return prefit, FusionClassifier(members, weights=weights, cv=3,
                                        memory=memory).fit(X, y)

    expected = []
    for memory in (None, tmp_path):
        prefit, fusion = fused(memory)
        before = fusion.predict_proba(X[:50])
        assert_allclose(fusion.predict_proba(X[:50]), before)
        prefit.fit(X, y[::-1])  # the user refits the model they froze
        expected.append(fusion.predict_proba(X[:50]))
        assert_allclose(fusion.predict_proba(X[:51])[:50], expected[-1])
        assert not np.allclose(expected[-1], before)
    assert_allclose(expected[1], expected[0])


@pytest.mark.parametrize("holder", ["pipeline", "fusion", "search", "bagging"])
def test_a_frozen_estimator_inside_a_member_predicts_as_it_is_now(tmp_path, holder):
    # Clones of a Pipeline, a composite, a search or a plain meta-estimator (found through
    # scikit-learn's own get_params) share the frozen object they hold.
    def fused(memory):
        prefit = LogisticRegression().fit(X, y)
        frozen = FrozenEstimator(prefit)
        member = {
            "pipeline": lambda: make_pipeline(FunctionTransformer(), frozen),
            "fusion": lambda: FusionClassifier([("prefit", frozen), ("nb", GaussianNB())]),
            "search": lambda: GridSearchCV(make_pipeline(FunctionTransformer(), GaussianNB()),
                                           {"gaussiannb": [frozen]}, cv=2),
            "bagging": lambda: BaggingClassifier(frozen, n_estimators=2, random_state=0),
        }[holder]()
        return prefit, FusionClassifier([("m", member), ("tree", CountingTree(random_state=0))],
                                        weights="optimize", cv=3, memory=memory).fit(X, y)

    expected = []
    for memory in (None, tmp_path):
        prefit, fusion = fused(memory)
        before = fusion.predict_proba(X[:50])
        prefit.fit(X, y[::-1])
        expected.append(fusion.predict_proba(X[:50]))
        assert_allclose(fusion.predict_proba(X[:51])[:50], expected[-1])
        assert not np.allclose(expected[-1], before)
    assert_allclose(expected[1], expected[0])


def test_a_damaged_entry_is_computed_again_with_a_warning(tmp_path):
    fusion = FusionClassifier(members(), memory=tmp_path)
    expected = fusion.fit(X, y).predict_proba(X)
    damage = [b"not a pickle", b"junk", b""]  # a bad opcode, a bad header, truncated
    for path, spoilt in zip(sorted(tmp_path.rglob("output.pkl")), damage * 2):
        path.write_bytes(spoilt)
    from skfuse import _cache

    _cache._MEMO.clear()  # as a new process would: the entries come from the disk
    with pytest.warns(UserWarning, match="could not read") as caught:
        again = FusionClassifier(members(), memory=tmp_path).fit(X, y).predict_proba(X)
    assert len([w for w in caught if "could not read" in str(w.message)]) == 4
    # The warning says where the entry lies, so the user can look at the folder.
    assert all(str(tmp_path) in str(w.message) for w in caught
               if "could not read" in str(w.message))
    # At fit and at predict, it points at the user's line (it pointed inside skfuse's
    # cache at predict).
    assert all(w.filename == __file__ for w in caught if "could not read" in str(w.message))
    assert_allclose(again, expected)
    assert fits() == (2, 2)  # fitted again
    _cache._MEMO.clear()
    FusionClassifier(members(), memory=tmp_path).fit(X, y).predict_proba(X)
    assert fits() == (2, 2)  # and written again


def test_an_entry_damaged_inside_or_moved_is_computed_again_with_a_warning(tmp_path):
    # Bytes flipped inside an entry left its outer pickle valid: the member's own pickle
    # then failed to unpickle (a UnicodeDecodeError from the task), unpickled into a tree
    # that crashed the process at predict, or outputs came back wrong, without a word.
    fusion = FusionClassifier(members(), memory=tmp_path)
    expected = fusion.fit(X, y).predict_proba(X)
    entries = sorted(tmp_path.rglob("output.pkl"))
    for path in entries:
        data = bytearray(path.read_bytes())
        middle = len(data) // 2
        data[middle:middle + 4] = bytes(b ^ 0xFF for b in data[middle:middle + 4])
        path.write_bytes(bytes(data))
    from skfuse import _cache

    _cache._MEMO.clear()  # as a new process would: the entries come from the disk
    with pytest.warns(UserWarning, match="checksum does not match") as caught:
        again = FusionClassifier(members(), memory=tmp_path).fit(X, y).predict_proba(X)
    assert len([w for w in caught if "could not read" in str(w.message)]) == len(entries)
    assert_allclose(again, expected)
    # A good entry copied over another one's is not taken for it.
    fit_entries = sorted(p for p in entries if "fit-" in str(p))
    fit_entries[1].write_bytes(fit_entries[0].read_bytes())
    _cache._MEMO.clear()
    with pytest.warns(UserWarning, match="could not read") as caught:
        again = FusionClassifier(members(), memory=tmp_path).fit(X, y).predict_proba(X)
    assert len([w for w in caught if "could not read" in str(w.message)]) == 1
    assert_allclose(again, expected)


def test_the_memo_counts_what_each_entry_costs_beside_its_value(tmp_path, monkeypatch):
    # A one-row prediction's output was counted as its 24 bytes, but an entry holds
    # about 0.9 KiB (key, node, array header, disk reference): a service predicting a
    # row at a time grew without bound, far under the memo's limit.
    from skfuse import _cache

    monkeypatch.setattr(_cache._MEMO, "max_bytes", 64 * 1024)
    _cache._MEMO.clear()
    fusion = FusionClassifier(members(), memory=tmp_path).fit(X, y)
    rng = np.random.RandomState(0)
    for _ in range(100):  # two members: 200 outputs
        fusion.predict_proba(rng.normal(size=(1, X.shape[1])))
    assert len(_cache._MEMO) < 100  # 200 entries kept before


def test_recent_digests_are_found_by_their_bytes_only(monkeypatch):
    from skfuse import _cache

    recent = _cache._RecentDigests(max_bytes=3 * 8 * 4000, min_bytes=1)
    monkeypatch.setattr(_cache, "_RECENT", recent)
    rng = np.random.default_rng(0)
    data = rng.random((200, 20))
    labels = rng.integers(0, 3, 200)
    first = _cache._digest((data, labels, None))
    assert len(recent._entries) == 1
    hashed, real_new = [], _cache.hashlib.new
    monkeypatch.setattr(_cache.hashlib, "new", lambda *a: hashed.append(1) or real_new(*a))
    assert _cache._digest((data.copy(), labels.copy(), None)) == first  # a new copy
    assert hashed == []  # found by comparing, not hashed again
    data[150, 7] += 1e-12  # changed in place: hashed again, and a new digest
    changed = _cache._digest((data, labels, None))
    assert changed != first and hashed == [1]
    zeros, signed = np.zeros((100, 10)), np.zeros((100, 10))
    signed[3, 4] = -0.0  # equal values, other bytes
    assert _cache._digest(zeros) != _cache._digest(signed)
    # The same bytes as another dtype, shape or place in the tuple: other data.
    same_bytes = [data, data.view(np.int64), data.reshape(400, 10), data.reshape(-1)]
    assert len({_cache._digest(part) for part in same_bytes}) == 4
    assert len({_cache._digest((data, None)), _cache._digest((None, data)),
                _cache._digest(data)}) == 3
    recent.clear()  # hashed afresh: the digest found is the digest hashed
    hashed.clear()
    assert _cache._digest((data, labels, None)) == changed and hashed == [1]
    assert len(recent._entries) == 1
    for seed in range(5):  # bounded: three arrays of 200 x 20 floats at most
        _cache._digest(np.random.default_rng(seed).random((200, 20)))
    assert len(recent._entries) == 3


def test_a_member_that_does_not_pickle_is_named_when_the_cache_cannot_take_it(tmp_path):
    # The cache keys and stores members by pickling them; a lambda failed deep inside
    # joblib's hasher, though its docstring said it fell back to that hasher.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from skfuse import SerialStack

    X, y = make_classification(n_samples=60, random_state=0)
    doubled = make_pipeline(FunctionTransformer(lambda Z: 2 * Z), LogisticRegression())
    for composite, label in [
        (FusionClassifier([("doubled", doubled), ("nb", GaussianNB())]), "member"),
        (SerialStack([("doubled", doubled), ("nb", GaussianNB())], cv=3), "step"),
    ]:
        # ("Can't get local object" from Python 3.13 on)
        with pytest.raises(TypeError, match=rf"memory= cannot cache {label} 'doubled': it "
                                            r"does not pickle \(Can't (pickle|get) .*lambda.*"
                                            r"module level.*memory=None"):
            composite.set_params(memory=str(tmp_path)).fit(X, y)
        composite.set_params(memory=None).fit(X, y)  # without the cache it fits


class CallsBack(LogisticRegression):
    """A logistic regression whose fit takes a routed callback and calls it."""

    def fit(self, X, y, callback=None):
        if callback is not None:
            callback()
        return super().fit(X, y)


def test_routed_fit_parameters_that_do_not_pickle_are_named(tmp_path):
    # They are part of a fit's key: a lambda failed deep inside joblib's hasher, with
    # a PicklingError that named neither the member nor the cure.
    import sklearn

    X, y = make_classification(n_samples=60, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        fusion = FusionClassifier([("calls", CallsBack().set_fit_request(callback=True)),
                                   ("nb", GaussianNB())], cv=3)
        with pytest.raises(TypeError, match=r"memory= cannot cache member 'calls': the fit "
                                            r"parameters routed to it do not pickle "
                                            r"\(Can't (pickle|get) .*lambda.*Define the "
                                            r"functions they hold at module level"):
            fusion.set_params(memory=str(tmp_path)).fit(X, y, callback=lambda: None)
        fusion.set_params(memory=None).fit(X, y, callback=lambda: None)  # uncached, it fits


def test_a_model_predicts_without_its_cache_where_the_folder_cannot_be_made(tmp_path,
                                                                          monkeypatch):
    # A model saved with memory= and loaded on another machine asked the training
    # machine's folder for its outputs, and failed where it could not be made.
    import os
    import pickle
    import shutil

    fusion = FusionClassifier(members(), memory=tmp_path / "cache").fit(X, y)
    expected = fusion.predict_proba(X)
    loaded = pickle.loads(pickle.dumps(fusion))
    shutil.rmtree(tmp_path / "cache")

    def read_only(path, *args, **kwargs):
        raise OSError(30, "Read-only file system", path)

    monkeypatch.setattr(os, "makedirs", read_only)
    monkeypatch.setattr(os, "mkdir", read_only)
    with pytest.warns(UserWarning, match="member cache cannot be opened .* Set "
                                         "memory=None on a model saved") as caught:
        np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    assert [w.filename for w in caught] == [__file__]  # the user's line, not the cache's


def test_a_member_asked_about_some_rows_handed_out_during_a_predict_writes_no_output(
        tmp_path):
    # As above, for a member asked about part of the rows (its view missing on the
    # others): its output on those rows is written through their own task.
    Xr, target = X[:, 1:], X[:, 0]
    views = {"changed": [0, 1], "ridge": [2]}

    def make(memory):
        return FusionRegressor([("changed", _HandedOutWhilePredicting()), ("ridge", Ridge())],
                               views=views, cv=3, memory=memory)

    fusion = make(tmp_path).fit(Xr, target)
    X_new = Xr + 1.0
    X_new[::2, :2] = np.nan  # "changed" is asked about the odd rows alone

    def hand_out_and_change():
        fusion.estimators_[0].coef_[:] = 0.0

    _HandedOutWhilePredicting.during_predict = hand_out_and_change
    fusion.predict(X_new)
    assert _HandedOutWhilePredicting.during_predict is None  # it ran
    assert_allclose(make(tmp_path).fit(Xr, target).predict(X_new),
                    make(None).fit(Xr, target).predict(X_new))


@pytest.mark.parametrize("through", ["copy", "original"])
def test_a_shallow_copy_shares_whether_its_members_were_handed_out(tmp_path, through):
    # copy.copy shares the members and the list of their keys: members handed out
    # through either one during the other's predict keep its output out of the cache.
    Xr, target = X[:, 1:], X[:, 0]

    def make(memory):
        return FusionRegressor([("changed", _HandedOutWhilePredicting()), ("ridge", Ridge())],
                               cv=3, memory=memory)

    fusion = make(tmp_path).fit(Xr, target)
    other = copy.copy(fusion)
    predicting, handing = (fusion, other) if through == "copy" else (other, fusion)

    def hand_out_and_change():
        handing.estimators_[0].coef_[:] = 0.0

    _HandedOutWhilePredicting.during_predict = hand_out_and_change
    predicting.predict(Xr + 1.0)
    assert _HandedOutWhilePredicting.during_predict is None
    assert_allclose(make(tmp_path).fit(Xr, target).predict(Xr + 1.0),
                    make(None).fit(Xr, target).predict(Xr + 1.0))
