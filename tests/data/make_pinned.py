"""Regenerate ``tests/data/pinned_outputs.npz``, the outputs ``tests/test_pinned.py`` pins.

Run this ONLY when a change is MEANT to change outputs (a new default, a fixed bug),
in the commit that makes that change, and say in its message which outputs change and
why. Never run it to make a failing ``test_pinned.py`` pass after a refactor that was
meant to change nothing: that failure is what the pins are for.

Usage, from the repository root, with this checkout's skfuse the one imported
(``PYTHONPATH=.`` if an installed skfuse points elsewhere)::

    PYTHONPATH=. python tests/data/make_pinned.py

It fits every non-neural composite of ``tests/composites.py`` with ``record`` from
``tests/test_pinned.py`` (the test's own code, so the two cannot drift apart) and writes
their outputs, keyed ``"<registry name>/<output>"``, with the library versions under
``"_environment"``. The stored file was made at commit 654467c and regenerated when
issue 21 made ``refit=False`` the default of ``FusionClassifier`` (and greedy keeps
its best prefix), when issue 23 made ``label_weight="auto"`` the distillers' default,
and when issue 21 raised ``SerialStack``'s ``cascade_confidence`` default to 0.99. On
2026-12-03 it was remade from commit 8fbd02f on a CPU without AVX-512 (NumPy's SIMD level
and the BLAS kernels now recorded): the earlier file's CPU rounded differently, so every
pin failed there with the same code and versions. On 2026-12-04 it was remade when
``weights="optimize"`` came to run SLSQP from equal weights and from the best of its
simple candidates (equal weights, each single member), with the loss in units of that
candidate's (the classifiers' learned weights and probabilities moved by at most 1.4e-5
relative), on a CPU with AVX-512 told to run as the recorded one did::

    NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR" OPENBLAS_CORETYPE=Haswell \
        PYTHONPATH=. python tests/data/make_pinned.py

(with these two variables, the file made on the CPU without AVX-512 passed there bit
for bit before the change). Later on 2026-12-04 the same way, when
``MixtureOfExpertsClassifier`` gained ``predict_log_proba``: its three pins were added,
and no other array changed. On 2026-12-05 the same way, when a composite came to seed
each member by its name (``seeds_by_name``): the fixtures with an unseeded member
(trees) or drawn folds changed, nine of them; and again that day when each unset seed
inside a member came to depend on its parameter's name alone (eight of them), and when
the whole name, not a 32-bit checksum of it, came to enter the seed. On 2026-12-06 the
same way, when ``MixtureOfExpertsClassifier``'s default expert came to standardise its
columns: the two default-expert classifier mixtures changed, nothing else; and again
that day when hard voting's default loss came to be computed from the votes as a
quadratic form in the weights, without a class axis: the two hard-voting fusions with
learned weights changed in the last bits (at most 4e-16), nothing else. On 2026-12-07
the same way, when a distiller's ``predict_log_proba`` came to be computed in the log
domain: ``distilled-classifier-logits/predict_log_proba`` moved by at most 9e-16,
nothing else; and again that day when a stack passing columns through came to hand its
final step a row-major array (it was column-major, which the step copied): the
predictions of ``stack-regressor-passthrough`` and ``stack-timeseries`` moved by at most
4e-14 relative (the final Ridge's rounding), nothing else; and again that day when issue
23 made ``augment="auto"`` (MUNGE rows for dense X) the distillers' default: the outputs
of ``distilled-classifier`` and ``distilled-regressor``, which use the default, changed,
nothing else; and again that day when ``label_weight="auto"``'s check came to grow its
synthetic rows from each fold's training rows alone (they were the final fit's, whose
neighbours and donors could be scored rows): ``distilled-classifier``,
``distilled-regressor-auto`` and ``distilled-regressor-resample``, whose checks chose
another label weight, changed, nothing else.
"""

import sys
import warnings
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from test_pinned import PINNED, environment, pinned_names, record  # noqa: E402


def main():
    arrays = {"_environment": environment()}
    for name in pinned_names():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning and the like
            outputs = record(name)
        for key, value in outputs.items():
            arrays[f"{name}/{key}"] = value
        print(f"{name}: {', '.join(outputs)}")
    np.savez_compressed(PINNED, **arrays)
    print(f"wrote {PINNED} ({PINNED.stat().st_size / 1024:.0f} KiB, {len(arrays)} arrays)")


if __name__ == "__main__":
    main()
