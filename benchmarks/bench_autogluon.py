"""Against AutoGluon: skfuse's default fusion and ``TabularPredictor`` side by side.

AutoGluon needs pandas < 3 and is kept out of the project's environment (and out of its
extras): it runs in a separate virtual environment, made once with::

    python3.11 -m venv /work/venv-ag
    /work/venv-ag/bin/pip install "autogluon.tabular[lightgbm,catboost]" "pandas<3"

(no torch: AutoGluon then skips its neural networks and trains its tree, boosting and
neighbour models). Then run from the repository root, with the project's environment::

    python benchmarks/bench_autogluon.py --autogluon-python /work/venv-ag/bin/python
    python benchmarks/bench_autogluon.py --autogluon-python ... --write   # docs/benchmarks.md

On the tuning classification sets of ``bench_quality.py`` (same row cap, same 70/30
stratified splits), each split fits, for real and timed by the wall clock:

- skfuse: ``FusionClassifier(weights="optimize")`` at its defaults over
  ``bench_quality``'s four members (scaled logistic regression, random forest, histogram
  gradient boosting, scaled 25-nearest-neighbours), on the same 5 shuffled stratified
  folds as there, member fits on ``--n-jobs`` processes with one native thread each;
- AutoGluon: ``TabularPredictor(eval_metric="log_loss").fit(presets="best_quality",
  time_limit=T, num_cpus=--n-jobs)`` for each T of ``--time-limits``, in a subprocess of
  ``--autogluon-python`` (``_autogluon_worker.py``), the split passed through a
  temporary ``.npz`` file and the held-out probabilities read back as JSON.

Both are scored by held-out log-loss (scikit-learn's ``log_loss``, classes in the same
order). ``--results`` keeps finished splits in a JSON file, so that an interrupted run
resumes where it stopped.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sklearn
from _common import DOC, versions, write_section
from _datasets import classification_sets
from bench_quality import TEST_SIZE, members
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, train_test_split
from threadpoolctl import threadpool_limits

import skfuse
from skfuse import FusionClassifier

SECTION = "## Against AutoGluon (bench_autogluon.py)"
WORKER = Path(__file__).resolve().parent / "_autogluon_worker.py"


def fit_skfuse(X_tr, y_tr, X_te, seed, trees, n_jobs):
    """Held-out probabilities of the default fusion, and its fit's wall-clock seconds."""
    model = FusionClassifier(list(members("classifier", seed, trees).items()),
                             weights="optimize",
                             cv=StratifiedKFold(5, shuffle=True, random_state=seed),
                             n_jobs=n_jobs, random_state=seed)
    with threadpool_limits(1):
        began = time.perf_counter()
        model.fit(X_tr, y_tr)
        seconds = time.perf_counter() - began
        return model.predict_proba(X_te), seconds


def fit_autogluon(python, X_tr, y_tr, X_te, classes, time_limit, n_jobs):
    """AutoGluon's held-out probabilities (columns in the order of ``classes``), its
    fit's wall-clock seconds and the models it trained, from a subprocess."""
    with tempfile.TemporaryDirectory() as folder:
        split, result = Path(folder, "split.npz"), Path(folder, "result.json")
        np.savez(split, X_train=X_tr, y_train=y_tr, X_test=X_te, classes=classes,
                 time_limit=float(time_limit), num_cpus=n_jobs)
        done = subprocess.run([python, str(WORKER), str(split), str(result)],
                              check=False, capture_output=True, text=True,
                              timeout=3 * time_limit + 300,
                              env={**os.environ, "OMP_NUM_THREADS": str(n_jobs)})
        if done.returncode != 0:
            raise RuntimeError(f"AutoGluon worker failed:\n{done.stderr[-4000:]}")
        found = json.loads(result.read_text())
    found["proba"] = np.asarray(found["proba"], dtype=float)
    return found


def normalized(proba):
    return proba / proba.sum(axis=1, keepdims=True)


def split_rows(data, seed):
    train, test = train_test_split(np.arange(len(data.y)), test_size=TEST_SIZE,
                                   stratify=data.y, random_state=seed)
    return data.X[train], data.X[test], data.y[train], data.y[test]


def evaluate_skfuse(data, seed, args):
    X_tr, X_te, y_tr, y_te = split_rows(data, seed)
    load = os.getloadavg()[0]
    proba, seconds = fit_skfuse(X_tr, y_tr, X_te, seed, args.trees, args.n_jobs)
    return {"loss": log_loss(y_te, proba, labels=np.unique(y_tr)), "seconds": seconds,
            "load": load}


def evaluate_autogluon(data, seed, time_limit, args):
    X_tr, X_te, y_tr, y_te = split_rows(data, seed)
    classes = np.unique(y_tr)
    load = os.getloadavg()[0]
    found = fit_autogluon(args.autogluon_python, X_tr, y_tr, X_te, classes, time_limit,
                          args.n_jobs)
    return {"loss": log_loss(y_te, normalized(found["proba"]), labels=classes),
            "seconds": found["fit_seconds"], "load": load, "models": found["models"],
            "best": found["best"], "failed": found["failed"]}


def autogluon_version(python):
    """AutoGluon's version in the interpreter ``python``; exits saying what is missing."""
    try:
        done = subprocess.run(
            [python, "-c", "import autogluon.tabular as t; print(t.__version__)"],
            capture_output=True, text=True, check=False)
    except FileNotFoundError:
        sys.exit(f"error: --autogluon-python {python} does not exist; make AutoGluon's "
                 "environment first (see this script's docstring).")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        sys.exit(f"error: {python} cannot import autogluon.tabular ({last}); install "
                 "AutoGluon in that environment (see this script's docstring).")
    return done.stdout.strip()


def report(results, limits):
    """The per-set table and the summary lines; per set, figures are means over splits.

    ``results``: data set -> list over splits of ``{"skfuse": ..., limit: ...}``."""
    def mean(splits, who, key):
        return float(np.mean([split[who][key] for split in splits]))

    at = [f" ({limit:g} s)" if len(limits) > 1 else "" for limit in limits]
    rows = ["| data set | skfuse log-loss | "
            + " | ".join(f"AutoGluon log-loss{a}" for a in at)
            + " | skfuse fit (s) | " + " | ".join(f"AutoGluon fit (s){a}" for a in at)
            + " | ahead" + (f" ({', '.join(f'{t:g} s' for t in limits)})"
                            if len(limits) > 1 else "") + " |",
            "|---" * (4 + 2 * len(limits)) + "|"]
    ratios = {limit: [] for limit in limits}
    time_ratios = {limit: [] for limit in limits}
    ahead = {limit: [] for limit in limits}
    for name, splits in results.items():
        ours, our_s = mean(splits, "skfuse", "loss"), mean(splits, "skfuse", "seconds")
        theirs = [mean(splits, limit, "loss") for limit in limits]
        their_s = [mean(splits, limit, "seconds") for limit in limits]
        for limit, loss, seconds in zip(limits, theirs, their_s):
            ratios[limit].append(ours / loss)
            time_ratios[limit].append(our_s / seconds)
            ahead[limit].append("skfuse" if ours < loss else
                                "AutoGluon" if ours > loss else "tie")
        rows.append(f"| {name} | {ours:.4f} | "
                    + " | ".join(f"{loss:.4f}" for loss in theirs)
                    + f" | {our_s:.1f} | " + " | ".join(f"{s:.1f}" for s in their_s)
                    + " | " + ", ".join(ahead[limit][-1] for limit in limits) + " |")
    n = len(results)
    lines = []
    for limit in limits:
        who = ahead[limit]
        fits = [split[limit] for splits in results.values() for split in splits]
        families = sorted({model.split("_")[0] for fit in fits for model in fit["models"]})
        lines += [
            (f"`time_limit={limit:g}`: skfuse ahead in held-out log-loss on "
             f"{who.count('skfuse')} of {n} sets, AutoGluon on {who.count('AutoGluon')}"
             + (f", tied on {who.count('tie')}" if "tie" in who else "")
             + f" (within 1% of each other on "
             f"{sum(abs(np.log(r)) < np.log(1.01) for r in ratios[limit])})"
             + "; geometric mean of the log-loss ratio skfuse / AutoGluon "
             f"{np.exp(np.mean(np.log(ratios[limit]))):.4f} (best "
             f"{min(ratios[limit]):.3f}, worst {max(ratios[limit]):.3f}); median fit-time "
             f"ratio skfuse / AutoGluon {np.median(time_ratios[limit]):.3f} (range "
             f"{min(time_ratios[limit]):.3f} to {max(time_ratios[limit]):.3f})."),
            (f"`time_limit={limit:g}`: the `best_quality` fit failed on "
             f"{sum(fit['failed'] is not None for fit in fits)} of {len(fits)} splits"
             + ("" if not any(fit["failed"] for fit in fits) else
                " (AutoGluon raised "
                + " or ".join(sorted({f"`{fit['failed']['error'].split('.')[0]}`"
                                      for fit in fits if fit["failed"]}))
                + f", after {np.median([f['failed']['seconds'] for f in fits if f['failed']]):.0f}"
                " s in median) and was fitted again with `dynamic_stacking=False`; the "
                "table gives that second fit's seconds")
             + "."),
            (f"`time_limit={limit:g}`: AutoGluon trained a median of "
             f"{np.median([len(fit['models']) for fit in fits]):g} models per fit (stack "
             "levels and weighted ensembles counted), of the families "
             + ", ".join(f"`{f}`" for f in families) + "."),
        ]
    return "\n".join(f"- {line}" for line in lines), "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--autogluon-python", required=True,
                        help="the python of the environment that has autogluon.tabular")
    parser.add_argument("--time-limits", default="60",
                        help="AutoGluon's time_limit, seconds per split (comma-separated "
                        "for several)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--max-rows", type=int, default=2500)
    parser.add_argument("--trees", type=int, default=150)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--only", default=None, help="comma-separated data set names")
    parser.add_argument("--results", default=None,
                        help="JSON file of finished splits, read and extended (resume)")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    ag_version = autogluon_version(args.autogluon_python)
    sets = classification_sets(args.max_rows)
    if args.only:
        sets = [d for d in sets if d.name in args.only.split(",")]
    store = Path(args.results) if args.results else None
    done = json.loads(store.read_text()) if store and store.exists() else {}
    limits = [float(t) for t in args.time_limits.split(",")]
    results = {}
    for data in sets:
        results[data.name] = []
        for seed in range(args.seeds):
            split = {}
            for limit in ["skfuse", *limits]:
                key = f"{data.name}/{seed}/" + (
                    limit if limit == "skfuse" else f"autogluon/{limit:g}")
                if key not in done:
                    print(f"{key}...", file=sys.stderr, flush=True)
                    done[key] = (evaluate_skfuse(data, seed, args) if limit == "skfuse"
                                 else evaluate_autogluon(data, seed, limit, args))
                    if store:
                        store.write_text(json.dumps(done, indent=1))
                split[limit] = done[key]
                print(f"  {key}: log-loss {done[key]['loss']:.4f}, fit "
                      f"{done[key]['seconds']:.1f} s", file=sys.stderr, flush=True)
            results[data.name].append(split)
    summary, table = report(results, limits)
    fits = [split[who] for splits in results.values() for split in splits
            for who in ["skfuse", *limits]]
    fit_sum = {who: sum(split[who]["seconds"] for splits in results.values()
                        for split in splits) for who in ["skfuse", *limits]}
    section = "\n\n".join([
        SECTION,
        (f"Run on {time.strftime('%Y-%m-%d')}, {versions(skfuse, sklearn, np)}, "
         f"autogluon.tabular {ag_version} (with LightGBM and CatBoost, without torch, in "
         f"its own environment with pandas < 3). The {len(sets)} tuning classification "
         f"sets of `bench_quality.py`, at most {args.max_rows} rows each; {args.seeds} "
         f"split{'s' if args.seeds > 1 else ''} per set (70/30 stratified, seed"
         f"{'s 0 to ' + str(args.seeds - 1) if args.seeds > 1 else ' 0'}). AutoGluon: "
         f"`presets=\"best_quality\"`, `time_limit` {args.time_limits} s, "
         f"`eval_metric=\"log_loss\"`, `num_cpus={args.n_jobs}`. skfuse: "
         "`FusionClassifier(weights=\"optimize\")` at its defaults over "
         f"`bench_quality.py`'s four members (random forest of {args.trees} trees), 5 "
         f"shuffled stratified folds, `n_jobs={args.n_jobs}`, one native thread per "
         "process. Both fitted for real; fit times are wall-clock seconds of `fit` "
         "alone (one run each, not medians), on a machine shared with other jobs: the "
         "median 1-minute load average when a fit began was "
         f"{np.median([fit['load'] for fit in fits]):.1f} (range "
         f"{min(fit['load'] for fit in fits):.1f} to {max(fit['load'] for fit in fits):.1f})"
         f" on {os.cpu_count()} cores. A busy machine costs AutoGluon more than skfuse: "
         "within its time limit it trains fewer models, while skfuse's fit only takes "
         "longer; an idle machine would likely give AutoGluon better scores than these "
         "(not measured)."),
        ("Per set, figures are means over its splits; lower held-out log-loss is ahead. "
         f"Fit seconds summed over all splits: skfuse {fit_sum['skfuse']:.0f} s, "
         + ", ".join(f"AutoGluon {fit_sum[t]:.0f} s at `time_limit={t:g}`" for t in limits) + "."),
        summary,
        table,
    ])
    print(section)
    if args.write:
        write_section(DOC, SECTION, section)


if __name__ == "__main__":
    main()
