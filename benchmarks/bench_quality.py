"""Quality out of the box: skfuse's defaults against what a careful user builds instead.

Run from the repository root::

    python benchmarks/bench_quality.py                  # tuning sets, print the tables
    python benchmarks/bench_quality.py --write          # ... and write docs/benchmarks.md
    python benchmarks/bench_quality.py --aside          # the sets kept aside
    python benchmarks/bench_quality.py --fresh          # the one-time final check

``--write`` replaces the subsections of the parts run (``--parts``) and keeps the others.

On real data sets that ship with installed packages (``_datasets.py`` lists each with its
source and cleaning), each split (70/30, stratified for classification, ``--seeds``
seeds) fits four members once: a scaled logistic regression (ridge), a random forest, a
histogram gradient boosting and a scaled 25-nearest-neighbours, on every training fold
(5 stratified folds, shuffled with the split's seed) and on the whole training part. Their
outputs (out of fold, and on the held-out part from every fit) are recorded, and every
contender is then fitted on *replays* of those fits (``ReplayClassifier``): estimators
whose ``fit`` looks up the recorded fit on the same rows and whose outputs are the
recorded ones. So scikit-learn's ``StackingClassifier``, skfuse's fusions and the simple
alternatives run their own code on exactly the same member fits, at the cost of one set
of member fits per split. Cascades (logistic regression, then gradient boosting) are fitted
for real, since they retrain their last step and are timed.
"""

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import sklearn
from _common import DOC, versions, write_subsections
from _datasets import classification_sets, regression_sets
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    StackingClassifier,
    StackingRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import skfuse
from skfuse import FusionClassifier, FusionRegressor, SerialStack

SECTION = "## Quality out of the box (bench_quality.py)"
N_FOLDS = 5
TEST_SIZE = 0.3


def members(kind, seed, trees):
    if kind == "classifier":
        return {
            "lr": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
            "rf": RandomForestClassifier(n_estimators=trees, random_state=seed),
            "hgb": HistGradientBoostingClassifier(random_state=seed),
            "knn": make_pipeline(StandardScaler(), KNeighborsClassifier(25)),
        }
    return {
        "ridge": make_pipeline(StandardScaler(), Ridge()),
        "rf": RandomForestRegressor(n_estimators=trees, random_state=seed),
        "hgb": HistGradientBoostingRegressor(random_state=seed),
        "knn": make_pipeline(StandardScaler(), KNeighborsRegressor(25)),
    }


# -- member fits, recorded once per split and replayed to every contender -------------

def _rows_key(rows):
    return hashlib.sha1(np.sort(np.asarray(rows, dtype=np.int64)).tobytes()).hexdigest()


def _fit_one(estimator, X, y, train, asked, kind):
    """Fit on ``train``; return the output on ``asked`` rows (positions in ``X``)."""
    fitted = clone(estimator).fit(X[train], y[train])
    if kind == "classifier":
        return fitted.predict_proba(X[asked])
    return fitted.predict(X[asked])


def record_member(estimator, X, y, folds, n_train, kind):
    """One member's fits: the whole training part, then each fold.

    ``X`` holds the training rows then the held-out rows. Returns ``{rows key: output}``,
    each output an array over every row of ``X`` (NaN where that fit was not asked).
    """
    held_out = np.arange(n_train, len(y))
    jobs = [(np.arange(n_train), held_out)] + [
        (train, np.r_[test, held_out]) for train, test in folds]
    fits = {}
    for train, asked in jobs:
        out = _fit_one(estimator, X, y, train, asked, kind)
        full = np.full((len(y),) + out.shape[1:], np.nan)
        full[asked] = out
        fits[_rows_key(train)] = full
    return fits


STORE = {}  # table name -> {rows key: output over every row}


class _Replay(BaseEstimator):
    """A recorded member: ``fit`` finds the recorded fit on the same rows; its outputs
    are that fit's recorded outputs. ``X`` is one column of row positions."""

    def __init__(self, table=None):
        self.table = table

    def fit(self, X, y):
        rows = np.asarray(X)[:, 0].astype(np.int64)
        self.output_ = STORE[self.table][_rows_key(rows)]
        self.n_features_in_ = 1
        if isinstance(self, ClassifierMixin):
            self.classes_ = np.unique(y)
        return self

    def _recorded(self, X):
        out = self.output_[np.asarray(X)[:, 0].astype(np.int64)]
        if np.isnan(out).any():
            raise RuntimeError(f"{self.table}: asked for rows that fit was not asked for.")
        return out


class ReplayClassifier(ClassifierMixin, _Replay):
    def predict_proba(self, X):
        return self._recorded(X)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class ReplayRegressor(RegressorMixin, _Replay):
    def predict(self, X):
        return self._recorded(X)


# -- contenders -----------------------------------------------------------------------

def contenders(kind, replays, cv, explore=False):
    """Contenders fitted on the replayed members: name -> estimator. ``explore`` adds
    skfuse.s options one at a time."""
    fusion = FusionClassifier if kind == "classifier" else FusionRegressor
    found = {
        "uniform voting" if kind == "classifier" else "uniform mean": fusion(replays),
        "sklearn stacking": (StackingClassifier if kind == "classifier"
                             else StackingRegressor)(replays, cv=cv),
        MAIN: fusion(replays, weights="optimize", cv=cv),
        "skfuse greedy (defaults)": fusion(replays, weights="greedy", cv=cv),
    }
    if explore:
        flipped = not fusion(replays).refit
        options = {f"refit={flipped}": {"refit": flipped}, "guard": {"guard": True}}
        if kind == "classifier":
            options["temperature"] = {"calibration": "temperature"}
        for label, params in options.items():
            for weights in ("optimize", "greedy"):
                found[f"skfuse {weights} + {label}"] = fusion(
                    replays, weights=weights, cv=cv, **params)
    return found


MAIN = "skfuse optimize (defaults)"


def loss(kind, y, out, classes=None):
    if kind == "classifier":
        return log_loss(y, out, labels=classes)
    return float(np.sqrt(np.mean((y - out) ** 2)))


def evaluate_split(data, kind, seed, trees, memory, n_jobs, explore=False):
    """Held-out losses of every contender on one split, and the seconds of member fits."""
    stratify = data.y if kind == "classifier" else None
    train, test = train_test_split(np.arange(len(data.y)), test_size=TEST_SIZE,
                                   stratify=stratify, random_state=seed)
    X = np.vstack([data.X[train], data.X[test]])
    y = np.r_[data.y[train], data.y[test]]
    n_train = len(train)
    splitter = (StratifiedKFold if kind == "classifier" else KFold)(
        N_FOLDS, shuffle=True, random_state=seed)
    folds = list(splitter.split(X[:n_train], y[:n_train]))
    began = time.perf_counter()
    record = memory.cache(record_member)
    recorded = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(record)(est, X, y, folds, n_train, kind)
        for est in members(kind, seed, trees).values())
    fit_seconds = time.perf_counter() - began
    names = list(members(kind, seed, trees))
    replay = ReplayClassifier if kind == "classifier" else ReplayRegressor
    replays = []
    for name, fits in zip(names, recorded):
        table = f"{data.name}/{seed}/{name}"
        STORE[table] = fits
        replays.append((name, replay(table)))
    ids = np.arange(len(y), dtype=float)[:, None]
    y_tr, y_te = y[:n_train], y[n_train:]
    classes = np.unique(y_tr) if kind == "classifier" else None
    losses = {}
    # Each member alone (its fit on the whole training part), and by out-of-fold loss.
    oof_losses = {}
    for name, fits in zip(names, recorded):
        whole = fits[_rows_key(np.arange(n_train))][n_train:]
        losses[name] = loss(kind, y_te, whole, classes)
        oof = np.full((n_train,) + whole.shape[1:], np.nan)
        for f_train, f_test in folds:
            oof[f_test] = fits[_rows_key(f_train)][f_test]
        oof_losses[name] = loss(kind, y_tr, oof, classes)
    losses["best out-of-fold member"] = losses[min(oof_losses, key=oof_losses.get)]
    details = {}
    for name, model in contenders(kind, replays, splitter, explore).items():
        model.fit(ids[:n_train], y_tr)
        out = (model.predict_proba(ids[n_train:]) if kind == "classifier"
               else model.predict(ids[n_train:]))
        losses[name] = loss(kind, y_te, out, classes)
        details[name] = {key: getattr(model, key) for key in ("weights_", "fallback_")
                         if hasattr(model, key)}
    for table in [f"{data.name}/{seed}/{name}" for name in names]:
        del STORE[table]
    return losses, fit_seconds, details


# -- cascades -------------------------------------------------------------------------

def evaluate_cascade(data, seed, repeats, confidences=(None,)):
    """Held-out accuracy of ``"auto"`` cascades (logistic regression, then gradient
    boosting) against their last step alone, and their predict time as a ratio; one
    cascade per ``cascade_confidence`` (None: the default), sharing step fits through a
    member cache."""
    X_tr, X_te, y_tr, y_te = train_test_split(data.X, data.y, test_size=TEST_SIZE,
                                              stratify=data.y, random_state=seed)
    pieces = members("classifier", seed, 1)
    last = clone(pieces["hgb"]).fit(X_tr, y_tr)
    with tempfile.TemporaryDirectory() as cache:
        cascades = {}
        for level in confidences:
            cascade = SerialStack([("lr", pieces["lr"]), ("hgb", pieces["hgb"])],
                                  exit_threshold="auto", random_state=seed,
                                  memory=cache if len(confidences) > 1 else None)
            if level is not None:
                cascade.set_params(cascade_confidence=level)
            cascades[level] = cascade.fit(X_tr, y_tr).set_params(memory=None)
    times = {key: [] for key in ["last", *cascades]}
    for _ in range(repeats):  # interleaved
        for key, model in (("last", last), *cascades.items()):
            start = time.perf_counter()
            model.predict(X_te)
            times[key].append(time.perf_counter() - start)
    base = np.mean(last.predict(X_te) == y_te)
    return {level: {"diff": float(np.mean(cascade.predict(X_te) == y_te) - base),
                    "speedup": statistics.median(times["last"])
                    / statistics.median(times[level]),
                    "exits": float(np.mean(cascade.predict_route(X_te) == 0)),
                    "tolerance": cascade.cascade_tolerance,
                    "confidence": cascade.cascade_confidence}
            for level, cascade in cascades.items()}


# -- summaries ------------------------------------------------------------------------

def summary(kind, results):
    """Mean rank, ratio to the best simple alternative, and win shares; per data set,
    losses are averaged over its splits."""
    names = list(next(iter(results.values()))[0])
    table = np.array([[np.mean([split[name] for split in splits]) for name in names]
                      for splits in results.values()])  # (sets, contenders)
    ranks = np.vstack([rankdata(row) for row in table])
    best, uniform = "best out-of-fold member", ("uniform voting" if kind == "classifier"
                                                else "uniform mean")
    best_member = table[:, names.index(best)]
    simple = np.minimum(best_member, table[:, names.index(uniform)])
    main = table[:, names.index(MAIN)]
    metric = "log-loss" if kind == "classifier" else "RMSE"
    lines = [f"| contender | mean rank | geometric mean of {metric} / best simple "
             "alternative's | worst ratio | sets no worse than the best simple alternative "
             f"| `{MAIN}` better / tied / worse |", "|---|---|---|---|---|---|"]
    for j, name in enumerate(names):
        ratio = table[:, j] / simple
        versus = "" if name == MAIN else (
            f"{np.sum(main < table[:, j])} / {np.sum(main == table[:, j])} / "
            f"{np.sum(main > table[:, j])}")
        lines.append(f"| {name} | {ranks[:, j].mean():.2f} | "
                     f"{np.exp(np.mean(np.log(ratio))):.4f} | {ratio.max():.3f} | "
                     f"{np.mean(ratio <= 1 + 1e-12):.0%} | {versus} |")
    per_set = [f"| data set | best simple alternative | {MAIN} | ratio | t over splits | "
               "sklearn stacking |", "|---|---|---|---|---|---|"]
    stack = table[:, names.index("sklearn stacking")]
    scores = []
    for (name, splits), s, m, st, b in zip(results.items(), simple, main, stack, best_member):
        rival = best if s == b else uniform
        scores.append(paired_t([split[MAIN] / split[rival] - 1 for split in splits]))
        t = f"{scores[-1]:+.2f}" if not np.isnan(scores[-1]) else ""  # one split: no t
        per_set.append(f"| {name} | {s:.4f} | {m:.4f} | {m / s:.4f} | {t} | {st:.4f} |")
    scores = np.array(scores)
    noise = (f"*t over splits*: the mean over the set's splits of `{MAIN}`'s loss over the "
             "best simple alternative's, minus 1, in standard errors of that mean (the "
             "alternative being the one of the *best simple alternative* column). Worse by "
             f"more than two standard errors on {np.sum(scores > 2)} of {len(scores)} sets, "
             f"better by more than two on {np.sum(scores < -2)}; on the other "
             f"{np.sum(np.abs(scores) <= 2)} the splits do not tell the two apart"
             + (f"; on {np.sum(np.isnan(scores))} (one split each) there is no standard "
                "error."
                if np.isnan(scores).any() else "."))
    return "\n".join(lines), "\n".join(per_set) + "\n\n" + noise


def paired_t(differences):
    """The mean of ``differences`` in standard errors of it: 0 when they are all 0,
    infinite (signed) when they are all the same other value, NaN for one split."""
    differences = np.asarray(differences, dtype=float)
    if len(differences) < 2:
        return np.nan
    spread = differences.std(ddof=1) / np.sqrt(len(differences))
    mean = float(differences.mean())
    if spread == 0:
        return 0.0 if mean == 0 else float(np.copysign(np.inf, mean))
    return mean / spread


def wilson(successes, trials, z=1.96):
    """Wilson's 95% interval for a share of ``successes`` in ``trials``."""
    share = successes / trials
    centre = (share + z**2 / (2 * trials)) / (1 + z**2 / trials)
    half = z * np.sqrt(share * (1 - share) / trials + z**2 / (4 * trials**2)) / (
        1 + z**2 / trials)
    return centre - half, centre + half


def cascade_summary(results):
    """``results``: data set -> list over splits of {level: result}."""
    levels = list(next(iter(results.values()))[0])
    lines = []
    for level in levels:
        pairs = [split[level] for splits in results.values() for split in splits]
        within = [r["diff"] >= -r["tolerance"] - 1e-12 for r in pairs]
        low, high = wilson(sum(within), len(pairs))
        lines.append(
            f"`cascade_confidence={pairs[0]['confidence']}`: within `cascade_tolerance` "
            f"({pairs[0]['tolerance']:.3f}) of the last step on held-out data on "
            f"{sum(within)} of {len(pairs)} (data set, split) pairs ({np.mean(within):.0%}; "
            f"95% interval {low:.0%} to {high:.0%}); "
            f"median predict speed-up {statistics.median(r['speedup'] for r in pairs):.2f}x; "
            f"median first-step exits {statistics.median(r['exits'] for r in pairs):.0%}.")
    level = levels[0]
    table = ["| data set | accuracy - last step's (points, per split) | predict speed-up "
             "(per split) | first-step exits |", "|---|---|---|---|"]
    for name, splits in results.items():
        diffs = ", ".join(f"{100 * split[level]['diff']:+.2f}" for split in splits)
        speedups = ", ".join(f"{split[level]['speedup']:.1f}x" for split in splits)
        exits = np.mean([split[level]["exits"] for split in splits])
        table.append(f"| {name} | {diffs} | {speedups} | {exits:.0%} |")
    return "\n\n".join(lines) + "\n\nPer data set, " + (
        f"`cascade_confidence={results[name][0][level]['confidence']}`:\n\n"
        + "\n".join(table))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--max-rows", type=int, default=2500)
    parser.add_argument("--trees", type=int, default=150)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--aside", action="store_true", help="the sets kept aside only")
    group.add_argument("--fresh", action="store_true",
                       help="the sets of the one-time final check only")
    parser.add_argument("--parts", default="classifier,regressor,cascade")
    parser.add_argument("--only", default=None, help="comma-separated data set names")
    parser.add_argument("--explore", action="store_true",
                        help="add skfuse's options as contenders, one at a time, and "
                        "cascades at each of --confidences")
    parser.add_argument("--confidences", default="0.5,0.8,0.9,0.95,0.999")
    parser.add_argument("--dump", default=None, help="write the cascades' results (JSON)")
    parser.add_argument("--cache", default=None,
                        help="folder that keeps member fits between runs (default: none)")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    memory = joblib.Memory(args.cache, verbose=0)
    began = time.perf_counter()
    sections, fit_seconds = [], 0.0
    args.group = "aside" if args.aside else "fresh" if args.fresh else "tuning"
    sets = {"classifier": classification_sets(args.max_rows, group=args.group),
            "regressor": regression_sets(args.max_rows, group=args.group)}
    if args.only:
        sets = {kind: [d for d in found if d.name in args.only.split(",")]
                for kind, found in sets.items()}
    listing = []
    for kind in ("classifier", "regressor"):
        if kind not in parts and not (kind == "classifier" and "cascade" in parts):
            continue
        listing += [f"| {d.name} | {kind} | {d.shape_note} | {d.source} |" for d in sets[kind]]
        if kind not in parts:
            continue
        results, details = {}, {}
        for data in sets[kind]:
            print(f"{kind} {data.name}...", file=sys.stderr, flush=True)
            results[data.name], details[data.name] = [], []
            for seed in range(args.seeds):
                with threadpool_limits(1):
                    losses, secs, detail = evaluate_split(data, kind, seed, args.trees,
                                                          memory, args.n_jobs, args.explore)
                results[data.name].append(losses)
                details[data.name].append(detail)
                fit_seconds += secs
        overall, per_set = summary(kind, results)
        title = "Classification (held-out log-loss)" if kind == "classifier" else (
            "Regression (held-out RMSE)")
        sections.append("\n\n".join([f"### {title}", overall,
                                        "Per data set (mean over splits):", per_set]))
        print(overall + "\n\n" + per_set, flush=True)
    if "cascade" in parts:
        levels = (None,) + (tuple(float(c) for c in args.confidences.split(","))
                            if args.explore else ())
        results = {}
        for data in sets["classifier"]:
            print(f"cascade {data.name}...", file=sys.stderr, flush=True)
            with threadpool_limits(1):
                results[data.name] = [evaluate_cascade(data, seed, args.repeats, levels)
                                      for seed in range(args.seeds)]
        if args.dump:
            Path(args.dump).write_text(json.dumps(
                {name: [{str(k): v for k, v in split.items()} for split in splits]
                 for name, splits in results.items()}, indent=1))
        text = cascade_summary(results)
        sections.append("### Cascades (`exit_threshold=\"auto\"`, logistic regression "
                        "then gradient boosting)\n\n" + text)
        print(text, flush=True)
    total = time.perf_counter() - began
    which = {"tuning": "tuning", "aside": "kept-aside", "fresh": "final-check"}[args.group]
    heading = SECTION + {"tuning": "", "aside": " — sets kept aside",
                         "fresh": " — the one-time final check"}[args.group]
    intro = "\n\n".join([
        heading,
        f"Run on {time.strftime('%Y-%m-%d')}, {versions(skfuse, sklearn, np)}. "
        f"{which.capitalize()} sets; {args.seeds} splits each (70/30, seeds 0 to "
        f"{args.seeds - 1}), at most {args.max_rows} rows per set (a stratified seeded "
        f"sample); members: scaled logistic regression (ridge for regression), random "
        f"forest ({args.trees} trees), histogram gradient boosting, scaled 25-nearest-"
        "neighbours, all at their defaults; 5 shuffled folds shared by every contender. "
        "Native threads limited to 1, member fits on "
        f"{args.n_jobs} processes. Total runtime {total:.0f} s ({fit_seconds:.0f} s of "
        "member fits" + ("; member fits already in the `--cache` folder are read from it, "
                         "not refitted" if args.cache else "") + ").",
        "Each split fits every member once, on each training fold and on the whole "
        "training part; every contender (scikit-learn's stacking included) is then fitted "
        "on replays of those fits, so all combine exactly the same member outputs. "
        "Cleaning: rows with a missing value dropped, identifier columns and those that "
        "restate the target dropped (listed), non-numeric features one-hot encoded (first "
        "level dropped), labels encoded; sets above the cap are subsampled. Per data set, "
        "losses are averaged over its splits. *Best simple alternative*: the better of "
        "the best out-of-fold member and equal weights. *Mean rank*: among all the "
        "contenders of the table (1 is best). A tie counts as no worse. Rows `skfuse "
        "<weights> + <option>` (`--explore`) are the defaults with that one option "
        "changed. Cascades are "
        "fitted for real and timed (predict on the held-out part, interleaved medians). "
        "AutoGluon, which needs pandas < 3, is run in its own environment by "
        "`bench_autogluon.py` against skfuse's default fusion fitted for real: see the "
        "section *Against AutoGluon (bench_autogluon.py)*.",
        "| data set | task | size | source |\n|---|---|---|---|\n" + "\n".join(listing)])
    print(f"total {total:.0f} s", file=sys.stderr)
    if args.write:  # the parts not run this time keep their subsections
        write_subsections(DOC, heading, intro, sections)


if __name__ == "__main__":
    main()
