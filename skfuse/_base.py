"""What every composite shares: nested parameters, input checks, members and seeds."""

import copy
import decimal
import functools
import hashlib
import inspect
import numbers
import warnings

import numpy as np
from sklearn import get_config
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    get_routing_for_object,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    column_or_1d,
    has_fit_parameter,
    validate_data,
)

from ._cache import _plain_array
from ._compat import (
    FIT_CONTEXT_WRAPPER,
    BaseSearchCV,
    HasMethods,
    _BaseComposition,
    _VisualBlock,
    param_names,
)
from ._tasks import (
    MAX_REPEATS,
    is_frozen,
    resampling_steps,
    weight_key,
    whole_numbers,
)
from ._views import (
    _is_dataframe,
    _is_missing_value,
    class_name,
    pandas_frame,
    take_rows,
)
from ._warnings import OUTER_SITE, internal, silenced, warnings_once


class Composite(_BaseComposition):
    """Nested parameters, input checks and out-of-fold splits shared by every composite.

    ``_members`` names the parameter that holds the ``(name, estimator)`` pairs.
    """

    _members = None

    def get_params(self, deep=True):
        """Get parameters, including ``<name>__<param>`` ones of each member when ``deep``.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of each member (or step).

        Returns
        -------
        params : dict
        """
        if not deep:  # what clone and parameter validation ask for, once per call
            return {name: getattr(self, name) for name in param_names(type(self))}
        members = getattr(self, self._members, None)
        if not isinstance(members, (list, tuple)) or not all(
                isinstance(item, (list, tuple)) and len(item) == 2 for item in members):
            # One estimator (a mixture's experts), None, or a list that is not all
            # pairs (fit refuses it): nested as any estimator parameter is.
            # scikit-learn's listing would iterate it, and an unfitted ensemble,
            # iterable over its fitted trees, raises AttributeError.
            return super(_BaseComposition, self).get_params(deep=True)
        return self._get_params(self._members, deep=deep)

    def set_params(self, **params):
        """Set parameters, including members by name and ``<name>__<param>``.

        Parameters
        ----------
        **params : dict
            Parameter names mapped to their values; a member's name replaces it.

        Returns
        -------
        self : estimator
        """
        own, names = param_names(type(self)), self._member_names()
        if all(key in own and key != self._members and key not in (names or ())
               for key in params):
            # Top-level parameters only (a search's candidates): no deep listing needed.
            for key, value in params.items():
                setattr(self, key, value)
            return self
        # A new list given beside names is set first, and the names are its own.
        members = params.get(self._members, getattr(self, self._members, None))
        if isinstance(members, tuple) and any(
                key in [item[0] for item in members if is_pair(item)] for key in params):
            # scikit-learn replaces a member by name in a list only: given a tuple, it
            # would set a stray attribute and leave the member as it was.
            members = list(members)
            if self._members in params:
                params[self._members] = members
            else:
                setattr(self, self._members, members)
        skipped = {item[0]: item[1] for item in members or ()
                   if is_pair(item) and isinstance(item[1], str)
                   } if isinstance(members, (list, tuple)) else {}
        for key in params:
            head, _, rest = key.partition("__")
            if not rest:
                continue
            given = head in params  # the slot is set in this very call
            value = params[head] if given else skipped.get(head, getattr(self, head, None))
            if isinstance(value, str) and (head in skipped or head in (names or ())):
                what = repr(value)  # a member skipped ("drop", "passthrough")
            elif value is None and any(
                    isinstance(rule, HasMethods)  # a slot for an estimator, left empty
                    for rule in self._parameter_constraints.get(head, ())):
                what = "None" if given else "None (the built-in default)"
            elif head == self._members and isinstance(value, (list, tuple)):
                # A list of members (a mixture's "experts__alpha" kept from its one
                # cloned expert): scikit-learn would call list.set_params.
                listed = [item[0] for item in value if is_pair(item)]
                raise ValueError(
                    f"{type(self).__name__}: {head!r} is {'set to ' if given else ''}a "
                    f"list of (name, estimator) pairs{' in this call' if given else ''}, "
                    f"which has no parameter {rest!r}; set a member's as "
                    f"'<name>__{rest}' (member names: {listed})."
                )
            else:
                continue
            raise ValueError(
                f"{type(self).__name__}: {head!r} is {'set to ' if given else ''}{what}"
                f"{' in this call' if given else ''}, which has no parameter {rest!r}; "
                f"set {head!r} to an estimator first."
            )
        try:
            self._set_params(self._members, **params)
        except ValueError as exc:
            names = self._member_names()
            # Only where the key is not a member's: "Invalid parameter 'foo' for
            # estimator LogisticRegression()" (a member's own) is refused as it is.
            if (not str(exc).startswith("Invalid parameter") or names is None
                    or "Member names" in str(exc)  # (a nested composite's, named)
                    or f"for estimator {type(self).__name__}(" not in str(exc)):
                raise
            raise ValueError(
                f"{exc} Member names (for '<name>' and '<name>__<param>'): {names}."
            ) from None
        return self

    def _validate_names(self, names):
        """scikit-learn's checks (unique, not a constructor parameter, no ``__``), and
        none of the names that scikit-learn's ``Bunch`` (``named_estimators_``) and
        metadata router take as their own arguments."""
        super()._validate_names(names)
        reserved = sorted(set(names) & {"self", "method_mapping"})
        if reserved:
            raise ValueError(
                f"{type(self).__name__}: member names {reserved!r} are reserved (scikit-"
                "learn's Bunch and metadata router take them as their own arguments); "
                "rename them.")

    def _member_names(self):
        """The names of the ``(name, estimator)`` pairs as given; None if not a list."""
        members = getattr(self, self._members, None)
        if not isinstance(members, (list, tuple)):
            return None
        return [item[0] for item in members if is_pair(item)]

    def _sk_visual_block_(self):
        """Members side by side in the HTML representation (a stack overrides it)."""
        names, estimators = zip(*getattr(self, self._members))
        return _VisualBlock("parallel", list(estimators), names=list(names))

    # -- metadata routing -------------------------------------------------------------

    def _routed_members(self):
        """The ``(name, estimator)`` pairs that ``fit`` routes metadata to."""
        return [(name, est) for name, est in getattr(self, self._members)
                if not is_drop(est)]

    def get_metadata_routing(self):
        """How ``fit`` routes metadata: to each member's ``fit`` and the splitter's ``split``.

        With ``sklearn.set_config(enable_metadata_routing=True)``, a member gets
        ``sample_weight`` (or any other metadata) only if it requests it
        (``member.set_fit_request(sample_weight=True)``), ``groups`` reaches the
        ``cv`` splitter (a ``GroupKFold`` requests it), so out-of-fold outputs never
        split a group, and a ``scoring`` that learned weights maximise gets what it
        requests (``set_score_request``), as a search's scorer does.

        Returns
        -------
        routing : :class:`~sklearn.utils.metadata_routing.MetadataRouter`
        """
        router = MetadataRouter(owner=self).add_self_request(self)
        for name, est in self._routed_members():
            router.add(**{name: est}, method_mapping=self._method_mapping(name))
        scorer = self._routed_scorer()
        if scorer is not None:
            # Keyed by the parameter's name, which no member may take.
            router.add(scoring=scorer,
                       method_mapping=MethodMapping().add(caller="fit", callee="score"))
        cv = getattr(self, "cv", None)
        if hasattr(cv, "split"):
            # Keyed by the parameter's name, which no member may take (a member named
            # "splitter" replaced the splitter's entry).
            router.add(cv=cv,
                       method_mapping=MethodMapping().add(caller="fit", callee="split"))
        return router

    def _routed_scorer(self):
        """The scorer ``fit`` routes metadata to (its ``score``); None (here) for none."""

    def _method_mapping(self, name):
        """Which of the composite's methods route metadata to member ``name``'s."""
        return MethodMapping().add(caller="fit", callee="fit")

    def _input_feature_names(self, input_features):
        """``input_features`` checked against the fitted input, or the names seen in
        fit, or ``x0``, ``x1``... (as scikit-learn names unnamed columns)."""
        names = getattr(self, "feature_names_in_", None)
        if getattr(self, "_row_objects_", False):  # 1-D X: no columns to name
            # One name is the column a ColumnTransformer handed over as 1-D X (its
            # vectorizers ignore it too).
            if input_features is not None and len(input_features) > 1:
                raise ValueError(
                    f"{type(self).__name__} was fitted on one object per row (1-D X), "
                    f"which has no columns for input_features to name (got "
                    f"{len(input_features)} names; one, the column it was taken from, "
                    "is accepted).")
            return np.asarray([], dtype=object)
        if input_features is None:
            return names if names is not None else [f"x{i}" for i in range(self.n_features_in_)]
        input_features = np.asarray(input_features, dtype=object)
        if names is not None and not np.array_equal(input_features, names):
            raise ValueError("input_features is not equal to feature_names_in_.")
        if len(input_features) != self.n_features_in_:
            raise ValueError(
                f"input_features should have length equal to number of features "
                f"({self.n_features_in_}), got {len(input_features)}"
            )
        return input_features

    def _check_takes_outputs(self, name, estimator, X, y):
        """Refuse member (step) ``name`` unless it takes ``y``'s several outputs: its
        tags say so, or a clone fitted on the first rows of ``X`` predicts one column
        per output (or fails on them with one output too, for a reason of its own)."""
        if takes_multi_output(estimator) or fits_multi_output(estimator, X, y):
            return
        if not fits_multi_output(estimator, X, np.asarray(y)[:, 0]):
            # It fails on these rows with one output too (a nested composite whose
            # member's view is missing on all of them): not for the outputs; its fit
            # on every row will say what it refuses, if anything.
            return
        self._refuse_for_nested_composite(estimator, name, X, y)
        raise ValueError(
            f"{type(self).__name__}: y has {np.shape(y)[1]} columns (outputs), and "
            f"{name!r} does not take several (neither its tags' multi_output nor a fit "
            "on a few rows says so); every member (step) must. Wrap it in scikit-learn's "
            "MultiOutputRegressor, which fits one per output."
        )

    def _refuse_for_nested_composite(self, estimator, name, X, y, n_rows=50):
        """When member ``name`` is a skfuse composite that does not take ``y``'s
        outputs, raise its own reason (which names its member), not advice to wrap it
        whole."""
        if not isinstance(estimator, Composite):
            return
        try:
            trial_fit(estimator, X, y, n_rows)
        except ValueError as exc:
            raise ValueError(f"{type(self).__name__}: y has {np.shape(y)[1]} columns "
                             f"(outputs), and {name!r} refuses them: {exc}") from None

    def _refuse_unrouted_requests(self, estimator, who, fit_params):
        """With metadata routing on, refuse ``estimator`` (``who``: "the gate", "the
        student"), which the composite fits on rows and weights of its own making, when it
        requests metadata given to ``fit`` (they would not reach it) or declines
        ``sample_weight`` (it gets the composite's weights whatever it asks)."""
        if estimator is None or not get_config().get("enable_metadata_routing", False):
            return
        owner = type(self).__name__
        routing = get_routing_for_object(estimator)
        asked = sorted(routing.consumes("fit", set(fit_params) - {"sample_weight"}))
        if asked:
            if isinstance(routing, MetadataRouter):
                # A search or composite: the request is one of what it holds (a cv
                # that splits by groups, a step), and it has no set_fit_request of
                # its own for it.
                advice = ("The request comes from inside it (a cv that splits by "
                          "groups, or a step): give it a cv that uses no groups "
                          "(KFold), or unset that estimator's request.")
            else:
                advice = "Unset the request (set_fit_request(<name>=None))."
            raise TypeError(
                f"{owner}: {who} ({type(estimator).__name__}) requests {asked} at fit, "
                f"which {owner} does not route to it: it fits {who} on rows and weights "
                f"of its own making. {advice}")
        self._refuse_declined_weights(estimator, who)

    def _refuse_declined_weights(self, estimator, who):
        """With metadata routing on, refuse ``estimator`` when it declines
        ``sample_weight``: the composite fits it with weights of its own making, which
        it would get whatever it asks."""
        if not get_config().get("enable_metadata_routing", False):
            return
        owner = type(self).__name__
        routing = get_routing_for_object(estimator)
        declines = getattr(getattr(routing, "fit", None), "requests", {}).get("sample_weight")
        if declines is False:
            raise TypeError(
                f"{owner}: {who} ({type(estimator).__name__}) declines sample_weight "
                f"(set_fit_request(sample_weight=False)), and {owner} fits it with "
                "weights of its own making. Leave its sample_weight request unset.")

    def _fit_metadata(self, sample_weight, fit_params):
        """Split ``fit``'s metadata: ``(split params, {member name: fit params})``, the
        first what the ``cv`` splitter's ``split`` requests (``groups``, or any other
        metadata it asks for; None without any), for :meth:`_folds`.

        Without metadata routing only ``sample_weight`` is accepted, and every member
        gets it (the second item is then None); other metadata are refused.
        """
        owner = type(self).__name__
        if not get_config().get("enable_metadata_routing", False):
            if fit_params:
                raise TypeError(
                    f"{owner}.fit got unexpected argument(s) {sorted(fit_params)}. Pass "
                    "metadata such as groups with "
                    "sklearn.set_config(enable_metadata_routing=True)."
                )
            return None, None
        if sample_weight is not None:
            fit_params = {"sample_weight": sample_weight, **fit_params}
        names = [name for name, _ in self._routed_members()]
        if not fit_params:
            return None, {name: {} for name in names}
        routed = process_routing(self, "fit", **fit_params)
        for name, est in self._routed_members():
            if "sample_weight" in routed[name].fit and resampling_steps(est):
                # Requested, but weights for the rows given cannot reach a model fitted
                # on resampled ones.
                raise TypeError(takes_no_weights(f"{owner}: {name!r}", est,
                                                 "which it requests"))
        has_splitter = hasattr(getattr(self, "cv", None), "split")
        split_params = dict(routed["cv"].split) if has_splitter else None
        if sample_weight is not None:
            # The splitter counts only where fit splits: weights routed to a cv that is
            # never called (a fusion of fixed weights) change nothing either.
            self._refuse_unused_weights(
                sample_weight, [routed[name].fit for name in names]
                + ([routed["cv"].split] if has_splitter and self._splits() else []))
        return split_params, {name: dict(routed[name].fit) for name in names}

    def _refuse_unused_weights(self, sample_weight, routed_params):
        """Refuse ``sample_weight`` that no member (nor the splitter) was routed, in
        ``routed_params``, where the composite does not use it itself either
        (:meth:`_unused_weights`): the self request makes ``process_routing`` take it
        whether or not anything uses it, and the weights would change nothing.
        scikit-learn's StackingClassifier and VotingClassifier refuse them too. (A member
        outside metadata routing is warned about instead.)"""
        unused = self._unused_weights()
        if (unused and not any(value is sample_weight for params in routed_params
                               for value in params.values())
                and not any(_unroutable(est) for _, est in self._routed_members())):
            raise TypeError(
                f"{type(self).__name__}.fit got unexpected argument(s) {{'sample_weight'}}, "
                f"which are not routed to any object: no member requests it, and {unused}, "
                "so the weights would change nothing. Request it on the members that "
                "should be weighted (set_fit_request(sample_weight=True)), or fit without "
                "it.")

    def _splits(self):
        """Whether ``fit`` calls the ``cv`` splitter (so metadata routed to its
        ``split`` is used)."""
        return True

    def _unused_weights(self):
        """None when ``fit`` uses ``sample_weight`` itself (a loss, thresholds, EM, a
        student's targets), beside passing it on; else why not, for the error that
        refuses weights no member requests under metadata routing."""
        return None

    def _warn_unrouted_weights(self, sample_weight, routed, stacklevel):
        """Under metadata routing, warn for each member that is or holds an estimator
        fitted without the ``sample_weight`` given because it does not implement
        routing (a CatBoost model), whatever the rest of the member requests: no request
        can be set on it, and scikit-learn's ensembles drop the weights silently.
        ``routed`` is :meth:`_fit_metadata`'s; ``stacklevel`` counts from the caller."""
        if sample_weight is None or routed is None:
            return
        owner = type(self).__name__
        for name, est in self._routed_members():
            unroutable = _unroutable(est)
            if not unroutable:
                continue
            held = ("" if unroutable == [type(est).__name__] else
                    f" holds {', '.join(unroutable)}, which")
            warnings.warn(
                f"{owner}: {name!r} ({type(est).__name__}){held} does not implement "
                "metadata routing, so routing cannot pass it the sample_weight given and "
                "it is fitted without them. Fit with metadata routing off (skfuse then "
                "gives sample_weight to every member whose fit takes it) to weight it.",
                UserWarning, stacklevel=stacklevel + 1)

    def _check_X(self, X, reset):
        """Validate ``X``, refusing infinite values (the error names their columns).

        NaN passes: the members that see ``X`` judge it. A row whose whole view is
        NaN is a missing modality for a member given a view, and NaN on a row a member
        is asked about is refused for a member that does not take NaN
        (``view_present``). One object per row (texts: :func:`row_objects`) comes back
        as a 1-D object array, and must be what ``fit`` was given too; a polars
        DataFrame or a pyarrow Table comes back as a pandas one.
        """
        owner = type(self).__name__
        if not reset and self._is_array_as_fitted(X):
            refuse_infinite(X, owner)
            return X
        X = pandas_frame(X)
        rows = row_objects(X, all_missing=not reset and getattr(self, "_row_objects_", False))
        needs = None if rows is None else self._needs_columns()
        if needs:
            raise ValueError(f"{owner}: X is 1-D (one object per row, such as a text), "
                             f"which has no columns for {needs}.")
        if reset:
            self._row_objects_ = rows is not None
        elif getattr(self, "_row_objects_", False) and rows is None:
            raise ValueError(f"{owner} was fitted on one object per row (1-D X: texts or "
                             f"dicts), and is given {_described(X)}.")
        elif rows is not None and not getattr(self, "_row_objects_", False):
            raise ValueError(f"{owner} was fitted on columns (2-D X), and is given one "
                             "object per row (1-D X).")
        if rows is not None:
            validate_data(self, rows, reset=reset, skip_check_array=True)
            return rows
        if _is_dataframe(X):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError(f"{owner}: X has 0 samples.")
        else:
            X = validate_data(self, X, reset=reset, accept_sparse=["csr", "csc"],
                              dtype=None, ensure_all_finite=False)
        refuse_infinite(X, owner, getattr(self, "feature_names_in_", None))
        return X

    def _is_array_as_fitted(self, X):
        """Whether ``X`` is a numeric 2-D NumPy array as wide as the unnamed array
        ``fit`` was given, which scikit-learn's ``validate_data`` would return as it is.

        Such ``X`` (what a model serving one row at a time is given) skips that check:
        about 0.1 ms a call, mostly spent looking for a DataFrame, which costs a
        composite of fast members more than its own work.
        """
        return (type(X) is np.ndarray and X.ndim == 2 and X.dtype.kind in "biuf"
                and X.shape[0] > 0 and X.shape[1] == getattr(self, "n_features_in_", -1)
                and getattr(self, "feature_names_in_", None) is None
                and not getattr(self, "_row_objects_", False))

    def _needs_columns(self):
        """What of this composite's settings selects columns of ``X`` (so refuses 1-D
        ``X``), or None: nothing, unless a subclass says otherwise."""

    def _check_y(self, X, y, named_members=None, member_input=None):
        """``y`` as a 1-D array; or, for a regressor composite (``named_members``, the
        ``(name, estimator)`` pairs fitted on ``y``), as given when 2-D and every
        member takes several outputs. A composite that takes one target
        (``named_members`` None) refuses a ``y`` of several columns in its own words.

        ``member_input(name, X, y)``: the ``(X, y)`` member ``name`` is fitted on (its
        view, the rows where it is present), for :meth:`_check_takes_outputs`; None for
        a member asked later, on its own input (a stack's later step). Without it,
        every member is asked on ``X``."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        refuse_complex_target(y, type(self).__name__)  # (column_or_1d's words name nobody)
        shape = np.shape(np.asarray(y))
        if named_members is None:
            refuse_several_targets(self, shape)
        if named_members is not None and len(shape) == 2 and (
                shape[1] > 1 or all(takes_multi_output(est) for _, est in named_members)):
            for name, est in named_members if shape[1] > 1 else ():
                given = (X, y) if member_input is None else member_input(name, X, y)
                if given is not None:
                    self._check_takes_outputs(name, est, *given)
            y = check_array(y, ensure_2d=True, dtype=None, ensure_all_finite=False,
                            input_name="y")
            check_consistent_length(X, y)
            return y
        if not (_plain_array(y) and y.ndim == 1 and y.dtype.kind != "c"):
            y = column_or_1d(y, warn=True)  # what it would return unchanged skips it
        check_consistent_length(X, y)
        return y

    def _set_classes(self, y):
        """Check classification targets and set ``classes_``; at least two are needed."""
        self.classes_ = classes_of(y, type(self).__name__)

    def _folds(self, X, y, rng, classifier, split_params=None, stacklevel=5):
        """The ``cv`` splits, fixed once (a shuffling splitter is seeded from ``rng``).

        Test folds must be disjoint, but need not cover every row: a forward-chaining
        splitter (``TimeSeriesSplit``) never tests its first rows, which then have no
        out-of-fold output and are left out of what is fitted on those outputs. A
        classifier's warning about classes missing from training folds points
        ``stacklevel`` calls above the caller (5: a ``_fit`` called by ``fit``, the
        user's call above ``atomic_fit`` and scikit-learn's ``_fit_context``).
        ``split_params``: the metadata routed to the splitter's ``split``
        (:meth:`_fit_metadata`), ``groups`` or any other it requests.
        """
        split_params = split_params or {}
        cv = given = check_cv(self.cv, y, classifier=classifier)
        # A splitter that draws (a shuffling KFold, ShuffleSplit) and has no seed.
        if _unseeded_splitter(cv):
            cv = copy.copy(cv)
            cv.random_state = int(rng.randint(np.iinfo(np.int32).max))
        try:
            folds = [tuple(_row_positions(part, X.shape[0], type(self).__name__)
                           for part in split)
                     for split in cv.split(X, y, **split_params)]
        except ValueError as exc:
            if "groups" in split_params or "groups" not in str(exc):
                raise
            raise ValueError(
                f"{type(self).__name__}: cv={given!r} splits by groups, and none reached it "
                f"({str(exc).rstrip('.')}). Pass fit(X, y, groups=groups) with "
                "sklearn.set_config(enable_metadata_routing=True); a search or "
                "cross_validate given groups then passes them on too."
            ) from exc
        if not folds:
            raise ValueError(
                f"{type(self).__name__}: cv gave no splits. A generator of splits can be "
                "used only once; pass a list of (train, test) pairs or a splitter."
            )
        in_test = np.zeros(X.shape[0], dtype=bool)  # (a mask: intersect1d sorts both)
        for train, test in folds:
            if test.size == 0:
                raise ValueError(f"{type(self).__name__}: a cv split tests no row.")
            in_test[:] = False
            in_test[test] = True
            if in_test[train].any():
                raise ValueError(
                    f"{type(self).__name__}: a cv split puts rows in both its train and "
                    "its test part, which would leak their labels into the out-of-fold "
                    "predictions."
                )
        tested = np.bincount(np.concatenate([test for _, test in folds]),
                             minlength=X.shape[0])
        if np.any(tested > 1):
            raise ValueError(
                f"{type(self).__name__}: a row may have one out-of-fold output only, so "
                "cv must split the rows into disjoint test folds (as KFold or "
                f"TimeSeriesSplit do); {given!r} tests {int(np.sum(tested > 1))} row(s) "
                "more than once."
            )
        if classifier and np.ndim(y) == 1:
            self._warn_classes_missing_from_folds(y, folds, stacklevel + 2)
        return folds

    def _warn_classes_missing_from_folds(self, y, folds, stacklevel):
        """Warn when some training fold lacks a class (unshuffled folds of sorted rows,
        a class rarer than the folds): what is fitted on that fold never predicts it."""
        classes, codes = np.unique(y, return_inverse=True)
        short = [(k, classes[np.bincount(codes[train], minlength=len(classes)) == 0])
                 for k, (train, _) in enumerate(folds)]
        short = [(k, missing) for k, missing in short if missing.size]
        if not short:
            return
        lacks = "; ".join(f"split {k + 1} lacks {_first_values(missing)}"
                          for k, missing in short[:5])
        more = "; ..." if len(short) > 5 else ""
        forward = all(train.size and test.size and train.max() < test.min()
                      for train, test in folds)
        missing = np.unique(np.concatenate([m for _, m in short]))
        counts = dict(zip(*np.unique(y, return_counts=True)))
        single = [c for c in missing if counts[c] == 1]
        if forward:
            advice = ("The early splits of a forward-chaining cv lack the classes that come "
                      "later: start the splits where every class has been seen.")
        else:
            advice = []
            if single:  # whatever the folds, the split that tests its one row lacks it
                advice.append(f"A class of one row ({_first_values(single)}) is missing "
                              "from the training part of the split that tests it, "
                              "whatever the folds: give it more rows or leave it out.")
            if len(single) < missing.size:
                advice.append("Stratified folds (StratifiedKFold(shuffle=True)) leave every "
                              "class of 2 rows or more in every training part.")
            advice = " ".join(advice)
        warnings.warn(
            f"{type(self).__name__}: the training part of {len(short)} of the "
            f"{len(folds)} cv splits lacks a class ({lacks}{more}): "
            "what is fitted there cannot predict it, so its out-of-fold outputs give "
            f"that class probability 0. {advice}",
            UserWarning,
            stacklevel=stacklevel,
        )


def atomic_fit(fit):
    """Wrap a composite's ``fit`` so that it is all or nothing: it replaces the earlier
    fit, or it raises and leaves the earlier fit as it was, never half of each.

    The fitted state is every attribute whose name ends in one underscore, private
    ones included. The new fit starts without the earlier one's, so no attribute that
    only other settings set survives it; parameters, ``set_output`` and metadata
    requests are not fitted state.

    Each distinct warning the fit raises in the main thread is shown once
    (:func:`warnings_once`): a member's own (a solver that does not converge) would come
    once per fold, label weight or EM iteration that fits it. Those that point at the
    code calling this ``fit``, or inside skfuse, are shown at the user's call
    (:func:`fit_sites`): a composite fitted inside another (directly, in a
    ``Pipeline``, by ``fit_transform``) points its warnings at its caller, which is not
    the user's code.
    """

    @functools.wraps(fit)
    def wrapped(self, *args, **kwargs):
        earlier = _take_fitted_state(self)
        own, site = fit_sites(inspect.currentframe())
        outer = OUTER_SITE.set(site)
        try:
            with warnings_once(own=own, site=site):
                return fit(self, *args, **kwargs)
        except BaseException:
            _take_fitted_state(self)
            self.__dict__.update(earlier)
            raise
        finally:
            OUTER_SITE.reset(outer)

    return wrapped


def _take_fitted_state(estimator):
    return {key: estimator.__dict__.pop(key) for key in list(vars(estimator))
            if key.endswith("_") and not key.endswith("__")}


def row_objects(X, all_missing=False):
    """``X`` as a 1-D object array when it holds one object per row (texts, dicts), as
    the members of a text pipeline take it; None for any other ``X`` (1-D numbers are
    left to the usual 2-D check, which refuses them).

    Missing entries (None, NaN, pandas' ``NA``) are kept, for members that handle them,
    when at least one entry is a text or a dict, or with ``all_missing`` (a composite
    fitted on objects, asked about rows that all miss theirs) when none is, a float
    array of NaN included.
    """
    if _is_dataframe(X) or hasattr(X, "tocoo") or isinstance(X, (str, bytes, dict)):
        return None
    if not hasattr(X, "__len__") or (hasattr(X, "ndim") and X.ndim != 1):
        return None
    kind = getattr(getattr(X, "dtype", None), "kind", "O")  # a list or tuple: "O"
    if all_missing and kind == "f" and len(X) and np.isnan(np.asarray(X, float)).all():
        kind = "O"  # a batch of missing texts that pandas or NumPy made floats
    if kind not in "OSU" or not len(X):
        return None
    if kind == "O":
        objects = [isinstance(v, (str, bytes, dict)) for v in X]
        if not (any(objects) or all_missing) or not all(
                found or _is_missing_value(v) for found, v in zip(objects, X)):
            return None
    rows = np.empty(len(X), dtype=object)
    rows[:] = list(X)
    return rows


def _described(X):
    """What ``X`` is, for an error about the kind of ``X`` given."""
    if isinstance(X, (str, bytes, dict)):
        return f"a single {type(X).__name__}; give a list of them"
    try:
        ndim = np.ndim(X)
    except (TypeError, ValueError):  # ragged
        ndim = None
    if ndim == 2:
        return "columns (2-D X)"
    if ndim == 1 and len(X) == 0:
        return "no rows"
    return "X that is neither 2-D nor a sequence of texts or dicts"


def any_non_deterministic(estimators):
    """Whether any of ``estimators`` says (in its tags) that its fits may differ from run
    to run, seeds alike; entries that are not estimators ("drop") say nothing."""
    return any(get_tags(est).non_deterministic for est in estimators if hasattr(est, "fit"))


def takes_multi_output(estimator):
    """Whether a regressor fits and predicts a 2-D ``y`` (its tags say so)."""
    try:
        return bool(get_tags(estimator).target_tags.multi_output)
    except (TypeError, ValueError, AttributeError):
        return False


def trial_fit(estimator, X, y, n_rows=50):
    """A clone of ``estimator`` fitted on the first ``n_rows`` rows, its warnings (not
    the user's) silenced; ``(fitted, X_rows, y_rows)``. Its errors propagate."""
    rows = np.arange(min(n_rows, X.shape[0]))
    X_rows, y_rows = take_rows(X, rows), np.asarray(y)[rows]
    with silenced():
        trial = clone(estimator)
        trial.fit(X_rows, y_rows)
    return trial, X_rows, y_rows


def fits_multi_output(estimator, X, y, n_rows=50):
    """Whether a regressor whose tags do not say it takes a 2-D ``y`` does: a clone
    fitted on the first ``n_rows`` rows predicts one column per output. Tags may be
    conservative (``MLPRegressor``, a ``GridSearchCV``), as for NaN."""
    try:
        trial, X_rows, y_rows = trial_fit(estimator, X, y, n_rows)
        with silenced():
            out = trial.predict(X_rows)
    except Exception:  # noqa: BLE001 - any refusal means it does not
        return False
    return np.shape(out) == y_rows.shape


def fit_sites(frame):
    """``(own, site)`` for the composite ``fit`` whose wrapper runs in ``frame``, each a
    ``(filename, lineno)`` or None.

    ``own`` is the code that called that ``fit`` (above scikit-learn's
    ``_fit_context``), where its warnings point. ``site`` is where they are shown: the
    outermost composite fit's ``site`` when this one runs inside it, else the first
    frame above that is neither skfuse's nor one of scikit-learn's wrappers (the user's
    call, or the scikit-learn tool fitting it: ``cross_validate``...).
    """
    above = frame.f_back
    while above is not None and (_module(above), above.f_code.co_name) == FIT_CONTEXT_WRAPPER:
        above = above.f_back
    own = None if above is None else (above.f_code.co_filename, above.f_lineno)
    site = OUTER_SITE.get()
    if site is None:
        while above is not None and internal(above):
            above = above.f_back
        site = None if above is None else (above.f_code.co_filename, above.f_lineno)
    return own, site


def _module(frame):
    return frame.f_globals.get("__name__", "")


def default_score(classifier, y, predicted, sample_weight=None):
    """scikit-learn's ``score`` of ``predicted`` against ``y``: the accuracy for a
    ``classifier``, else R²."""
    metric = accuracy_score if classifier else r2_score
    return float(metric(y, predicted, sample_weight=sample_weight))


def sums_finite(values):
    """Whether a NumPy array surely holds no NaN or infinite value: it is not float
    (or complex), is empty, or its sum is finite (one such value makes the sum inf or
    NaN). False may also be a sum that overflowed: look closer."""
    if values.dtype.kind not in "fc" or values.size == 0:
        return True
    with np.errstate(all="ignore"):
        return bool(np.isfinite(values.sum()))


def non_finite_rows(out):
    """Which rows of an output ``out`` (rows first, dense or sparse) hold NaN or an
    infinite value; None when none can."""
    out = out.toarray() if hasattr(out, "toarray") else np.asarray(out)
    if sums_finite(out):
        return None
    return ~np.isfinite(out.reshape(len(out), -1).astype(np.float64)).all(axis=1)


def refuse_non_finite_output(owner, who, out, when, effect):
    """Raise, naming ``who`` (``"step 'a'"``, ``"expert 'b'"``), where its output ``out``
    (rows first, dense or sparse) holds NaN or an infinite value; ``effect`` says what
    the composite would do with them."""
    rows = non_finite_rows(out)
    if rows is not None and rows.any():
        raise ValueError(f"{owner}: {who} gave NaN or infinite outputs {when} on "
                         f"{int(rows.sum())} of {len(out)} row(s), {effect}.")


def refuse_improper_proba(owner, who, proba, when, effect):
    """Raise, naming ``who``, where rows of its class probabilities ``proba`` (rows,
    classes) are not probabilities (:func:`proper_probabilities`); ``effect`` says what
    the composite would do with them."""
    improper = ~proper_probabilities(proba)
    if improper.any():
        raise ValueError(
            f"{owner}: {who} gave probabilities outside [0, 1] or that do not sum to 1 "
            f"over the classes {when} on {int(improper.sum())} of {len(proba)} row(s), "
            f"{effect}; check its predict_proba.")


def refuse_non_finite_step(owner, name, out, when):
    """Raise, naming the step, where a step's output holds NaN or an infinite value: the
    next step would fail on it without naming this one, or read a broken output as a
    missing value, or pass it on as an answer."""
    refuse_non_finite_output(
        owner, f"step {name!r}", out, when,
        "which the next step would fail on or read as missing values, or the composite "
        "would pass on. A step fitted on too few rows or a constant column (GaussianNB on "
        "one row of a class) can give NaN")


def refuse_non_finite_student(owner, out, when):
    """Raise where the student's outputs hold NaN or an infinite value: its fidelity and
    the label weight's losses would be made up of them."""
    rows = non_finite_rows(np.asarray(out, dtype=np.float64))
    if rows is not None and rows.any():
        raise ValueError(
            f"{owner}: the student gave NaN or infinite outputs {when} on "
            f"{int(rows.sum())} of {len(out)} row(s): its training diverged (lower its "
            "learning rate, or scale X), or it cannot fit these targets.")


def refuse_infinite(X, owner, feature_names=None):
    """Raise a ``ValueError`` naming the columns of ``X`` that hold an infinite value."""
    if _is_dataframe(X) and hasattr(X, "sparse"):  # every column sparse: read as stored
        # (values and fill value, column by column: to_coo refuses a fill value other
        # than 0, NaN by default for floats; to_numpy would hold n x p floats)
        names, values = list(X.columns), None
        columns, rows = _sparse_frame_infinite(X)
    elif _is_dataframe(X):
        # Only float columns can hold inf (by dtype kind: NumPy, nullable Float64 and
        # Arrow floats alike); select_dtypes("number") would take Arrow durations too,
        # whose DataFrame.to_numpy(na_value=...) raises IndexError in pandas.
        # Object columns by dtype: select_dtypes("object") takes pandas 3's strings too.
        numeric = X.iloc[:, [i for i, kind in enumerate(X.dtypes)
                             if getattr(kind, "kind", "O") in "fc"]]
        objects = X.iloc[:, [i for i, kind in enumerate(X.dtypes) if kind == object]]
        names, values = list(numeric.columns), numeric.to_numpy(dtype=np.float64,
                                                                na_value=np.nan)
        if objects.shape[1]:  # numbers held as objects count too
            more_names, more = _number_columns(objects.to_numpy(), list(objects.columns))
            names, values = names + more_names, np.hstack([values, more])
    elif hasattr(X, "tocoo"):
        names, values = feature_names, None
        coo = X.tocoo()
        bad = np.isinf(coo.data) if coo.dtype.kind in "fc" else np.zeros(0, bool)
        columns, rows = np.unique(coo.col[bad]), np.unique(coo.row[bad]).size
    else:
        names, values = feature_names, np.asarray(X)
    if values is not None and values.dtype.kind == "O":
        if values.ndim != 2:
            return  # one object per row (texts): the members read them
        names, values = _number_columns(values, names)
    if values is not None:
        if sums_finite(values):
            return
        bad = np.isinf(values)
        columns, rows = np.flatnonzero(bad.any(axis=0)), int(bad.any(axis=1).sum())
    if columns.size == 0:
        return
    shown = [names[c] if names is not None else int(c) for c in columns[:10]]
    more = f" and {columns.size - 10} more" if columns.size > 10 else ""
    raise ValueError(
        f"{owner}: X holds infinite values in column(s) {shown}{more}, on {rows} row(s). "
        "Replace them; NaN marks a missing value."
    )


def _sparse_frame_infinite(X):
    """The positions of a sparse DataFrame's columns that hold an infinite value, stored
    or as their fill value, and how many rows hold one."""
    columns, hit = [], np.zeros(X.shape[0], dtype=bool)
    for j, (_, column) in enumerate(X.items()):
        values = column.array
        if values.dtype.subtype.kind not in "fc":
            continue
        stored = values.sp_index.indices
        rows = stored[np.isinf(values.sp_values)]
        if np.isinf(values.fill_value) and stored.size < len(values):
            filled = np.ones(len(values), dtype=bool)
            filled[stored] = False
            rows = np.r_[rows, np.flatnonzero(filled)]
        if rows.size:
            columns.append(j)
            hit[rows] = True
    return np.array(columns, dtype=int), int(hit.sum())


def _number_columns(values, names):
    """The columns of a 2-D object array that hold numbers (and missing values: None,
    NaN, pandas' ``NA``), as float64, and their names (or indices): columns of other
    objects, strings of digits included, are the members' to read."""
    kept, columns = [], []
    for c in range(values.shape[1]):
        column = values[:, c]
        kinds = set(map(type, column))  # one pass in C; entries one by one if need be
        others = [kind for kind in kinds
                  if not issubclass(kind, (numbers.Real, decimal.Decimal))]
        if not all(_is_missing_value(next(v for v in column if type(v) is kind))
                   for kind in others):
            continue
        if not all(issubclass(kind, (float, int, np.floating, np.integer)) for kind in kinds):
            column = np.array([np.nan if _is_missing_value(v) else v for v in column],
                              dtype=object)
        try:
            columns.append(column.astype(np.float64))
        except OverflowError:  # an int beyond float64 (10**400): infinite
            columns.append(np.array([_as_float(v) for v in column]))
        kept.append(c)
    if names is None:
        names = list(range(values.shape[1]))
    return ([names[c] for c in kept],
            np.column_stack(columns) if columns else np.zeros((len(values), 0)))


def _as_float(value):
    """``float(value)``, infinite where it overflows."""
    try:
        return float(value)
    except OverflowError:
        return np.inf if value > 0 else -np.inf


def refuse_several_targets(estimator, shape):
    """Refuse a ``y`` of ``shape`` with several columns, for an estimator that takes one
    target."""
    if len(shape) == 2 and shape[1] > 1:
        # A lazy collection may not know its length: "?" stands for it.
        shown = ", ".join(str(n) if isinstance(n, numbers.Integral) else "?" for n in shape)
        wrapper = "MultiOutputClassifier" if is_classifier(estimator) else "MultiOutputRegressor"
        raise ValueError(
            f"{type(estimator).__name__}: y has shape ({shown}), and it takes one target "
            f"(a 1-D y); for several, wrap it in scikit-learn's {wrapper}.")


def numeric_target(y, owner, dtype=np.float64):
    """A regressor's ``y`` as ``dtype``, refusing what is not numeric or not finite."""
    refuse_complex_target(y, owner)
    given = getattr(y, "dtype", None)
    try:
        y = np.asarray(y, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{owner}: y must be numeric ({exc}).") from None
    refuse_non_finite_target(y, owner, given)
    return y


def refuse_complex_target(y, owner):
    """Refuse a complex ``y``, which a cast to float would take without its imaginary
    part (NumPy only warns). A ``y`` that is no array at all (ragged) is left to that
    cast to refuse."""
    try:
        kind = np.asarray(y).dtype.kind  # (np.iscomplexobj asks __array_function__)
    except (TypeError, ValueError):
        return
    if kind == "c":
        raise ValueError(f"{owner}: Complex data not supported: y holds complex numbers.")


def refuse_non_finite_target(y, owner, given=None):
    """Refuse a float ``y`` that holds NaN or infinity, in scikit-learn's words after
    ``owner``; ``given``, the dtype ``y`` came in, is named where it was a float one."""
    if np.all(np.isfinite(y)):
        return
    if np.isnan(y).any():
        raise ValueError(f"{owner}: Input y contains NaN.")
    dtype = given if isinstance(given, np.dtype) and given.kind == "f" else y.dtype
    raise ValueError(f"{owner}: Input y contains infinity or a value too large for "
                     f"dtype({dtype.name!r}).")


def check_members(estimators, kind, owner, param="estimators", role="member"):
    """Validate ``estimators=[(name, est), ...]`` and return the kept ``(names, members)``.

    ``"drop"`` members are left out. Each kept member must be a ``kind``
    ("classifier" or "regressor") estimator; errors name the member, and call the list
    ``param`` and its entries ``role`` (a mixture's are ``experts``, each an expert).

    As everywhere in skfuse: a member of the wrong kind (or without a method or fit
    argument the configuration needs) raises ``TypeError``; a wrong value, such as an
    empty list, a malformed entry or every member dropped, raises ``ValueError``. (The
    composites declare ``estimators`` a list, so a value of another type is refused
    before this, with ``InvalidParameterError``, which is both.)
    """
    if not isinstance(estimators, (list, tuple)):
        raise TypeError(
            f"{owner}: {param} must be a list of (name, estimator) pairs; "
            f"got {estimators!r}."
        )
    if len(estimators) == 0:
        raise ValueError(
            f"{owner}: {param} must be a non-empty list of (name, estimator) pairs; "
            "got an empty one."
        )
    for item in estimators:
        if not is_pair(item):
            raise ValueError(
                f"{owner}: each entry of {param} must be a (name, estimator) pair (a "
                f"tuple or a list) with a string name; got {item!r}."
            )
    names, members = [], []
    is_kind = is_classifier if kind == "classifier" else is_regressor
    for name, est in estimators:
        if is_drop(est):
            continue
        if not hasattr(est, "fit") or not is_kind(est):
            raise TypeError(
                f"{owner}: {role} {name!r} should be a {kind}; got {est!r}."
            )
        names.append(name)
        members.append(est)
    if not members:
        raise ValueError(f"{owner}: all {role}s are dropped; at least one is required.")
    return names, members


def takes_a_kernel(estimator):
    """Whether ``estimator`` takes a precomputed kernel as X (its ``pairwise`` tag)."""
    try:
        return bool(get_tags(estimator).input_tags.pairwise)
    except (TypeError, ValueError, AttributeError):
        return False  # not an estimator: its own check reports it


def refuse_estimator_class(estimator, owner, role):
    """Refuse a class given where an estimator is asked for (``role`` names the place),
    in scikit-learn's words: a class has a ``fit`` too, and failed later, in ``clone``,
    without a name."""
    if isinstance(estimator, type):
        name = estimator.__name__
        raise TypeError(f"{owner}: {role}: Expected an estimator instance ({name}()), got "
                        f"estimator class instead ({name}).")


def refuse_kernel_members(named, owner, role, why):
    """Refuse members that take a precomputed kernel (``(name, estimator)`` pairs)
    where the composite fits them on subsets of rows (``why``): cutting a kernel's rows
    would have to cut its columns too, which X's columns do not follow. (A frozen one,
    never fitted, predicts on any rows of a kernel: callers leave it out where it sees
    whole rows.)"""
    for name, est in named:
        if takes_a_kernel(est):
            raise TypeError(
                f"{owner}: {role} {name!r} takes a precomputed kernel as X (its pairwise "
                f"tag), and {why}: a subset of a kernel's rows needs the same subset of "
                "its columns. Pass the features and let the member compute its kernel "
                "(SVC(kernel='rbf')), or approximate it in a Pipeline (Nystroem)."
            )


def check_known_classes(named_members, classes, owner, kind):
    """Refuse a fitted member (``(name, estimator)``) that knows a class outside
    ``classes``; ``kind`` is what the composite calls it ("member", "step")."""
    for name, est in named_members:
        known = getattr(est, "classes_", None)
        if known is None or np.array_equal(known, classes):
            continue
        unknown = np.setdiff1d(np.asarray(known), classes)
        if unknown.size:
            raise ValueError(
                f"{owner}: {kind} {name!r} knows class(es) {unknown.tolist()!r} that are "
                f"not in y (classes {classes.tolist()!r}); fit on data that holds every "
                f"class each {kind} can predict."
            )


def keep_a_row_of_each_class(held_out, labels, weight):
    """The bool mask ``held_out`` (rows drawn for validation), with the first row of
    each class whose every row of positive weight it drew given back to training: a
    rare class would otherwise have none to learn from."""
    held_out = held_out.copy()
    positive = weight > 0
    for label in np.unique(labels[positive]):
        rows = np.flatnonzero(positive & (labels == label))
        if held_out[rows].all():
            held_out[rows[0]] = False
    return held_out


def is_int(value):
    """Whether ``value`` is an int (NumPy's included), and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def real_array(values, name):
    """``values`` as a float64 array, refused (``ValueError`` naming ``name``) unless
    they are real numbers: complex numbers, dates, durations and texts would be cast into
    something else (a real part, nanoseconds, a parsed number). Missing values (None,
    NaN, pandas' ``NA``) become NaN, for the caller to refuse or take."""
    if hasattr(values, "to_numpy"):  # pandas (and polars)
        dtypes = values.dtypes if hasattr(values, "columns") else [values.dtype]
        if all(getattr(dtype, "kind", "O") in "biuf" for dtype in dtypes):
            try:  # pandas' nullable numbers, NA as NaN
                return values.to_numpy(dtype=np.float64, na_value=np.nan)
            except TypeError:  # polars' to_numpy takes neither
                pass
        array = values.to_numpy()
    else:
        array = np.asarray(values)
    if array.dtype.kind == "O":
        flat = array.ravel()
        missing = np.array([_is_missing_value(v) for v in flat], dtype=bool)
        wrong = next((v for v, gone in zip(flat, missing)
                      if not gone and not isinstance(v, numbers.Real)), None)
        if wrong is not None:
            raise ValueError(f"{name} must hold real numbers; got {wrong!r}.")
        return np.where(missing, np.nan, flat).astype(np.float64).reshape(array.shape)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers; got dtype {array.dtype}.")
    return array.astype(np.float64, copy=False)


def check_sample_weight(sample_weight, n_samples, headroom=True):
    """Return ``sample_weight`` as a finite, non-negative float array of length n_samples,
    of a positive sum within float64's range (divided by n_samples, with ``headroom``,
    for the weighted sums of fitting)."""
    if sample_weight is None:
        return None
    sample_weight = real_array(sample_weight, "sample_weight")
    if sample_weight.ndim == 0:
        sample_weight = np.full(n_samples, float(sample_weight))
    if sample_weight.ndim != 1 or sample_weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has shape {sample_weight.shape}; expected ({n_samples},)."
        )
    if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
        raise ValueError("sample_weight must be finite and non-negative.")
    with np.errstate(over="ignore"):  # an overflowing sum is refused below
        total = sample_weight.sum()
    if total <= 0:
        raise ValueError("sample_weight must not sum to zero.")
    # Fitting sums weights times values of up to about the number of rows (weighted
    # squares of standardised columns): headroom for those, unless the caller divides
    # the weights by their largest first.
    limit = np.finfo(np.float64).max / (max(n_samples, 1) if headroom else 1)
    if not total <= limit:
        raise ValueError(
            f"sample_weight sums to {total:.3g}, beyond what fitting's weighted sums "
            f"keep within float64 (at most {limit:.3g} for {n_samples} rows); rescale "
            "it (a mean of 1 keeps the ratios between rows).")
    return sample_weight


def classes_of(y, owner):
    """The sorted classes of classification targets ``y``; at least two are needed."""
    integers = _plain_array(y) and y.ndim == 1 and y.dtype.kind in "biu"
    refuse_non_finite_labels(y, owner)
    try:
        classes = np.unique(y) if integers else None
        # 1-D integer labels are always valid targets; scikit-learn's check then only
        # warns (when more than half the labels are unique), so it runs only then.
        if classes is None or len(classes) > round(0.5 * len(y)):
            check_classification_targets(y)
        if classes is None:
            classes = np.unique(y)
    # Labels that do not sort (str beside int, or None) fail as a TypeError where the
    # first label is a str, else as scikit-learn's "Unknown label type" ValueError.
    except (TypeError, ValueError) as exc:
        labels = np.asarray(y, dtype=object).ravel()
        if any(_is_missing(label) for label in labels):
            raise _missing_labels(owner) from None
        kinds = sorted({type(label).__name__ for label in labels})
        if isinstance(exc, ValueError) and (len(kinds) < 2 or _sort_fine(labels)):
            # (ints beside floats sort: scikit-learn's words say what is wrong)
            raise ValueError(f"{owner}: {exc}") from None
        if len(kinds) < 2:  # one type that scikit-learn refuses (bytes, say): its words
            raise TypeError(f"{owner}: {exc}") from None
        why = f" ({exc})" if isinstance(exc, TypeError) else ""
        raise TypeError(f"{owner}: y mixes labels of types {kinds}, which do not sort"
                        f"{why}; give every label the same type.") from None
    if len(classes) < 2:
        raise ValueError(f"{owner} needs samples of at least 2 classes; y has only one "
                         f"class, {classes[:1].tolist()[0]!r}.")
    return classes


def refuse_non_finite_labels(y, owner):
    """Refuse float labels ``y`` (an array) that are NaN or infinite, before
    scikit-learn's label check, which would first warn as it casts them to int."""
    if isinstance(y, np.ndarray) and y.dtype.kind == "f" and not np.isfinite(y).all():
        if np.isnan(y).any():
            raise _missing_labels(owner)
        refuse_non_finite_target(y, owner)  # infinity, in scikit-learn's words


def _missing_labels(owner):
    return ValueError(f"{owner}: Input y contains NaN (missing labels); drop those rows, "
                      "or give them a label.")


def _is_missing(label):
    """Whether ``label`` is NaN or pandas' ``NA`` (None is a label of its own type)."""
    return (isinstance(label, float) and np.isnan(label)) or type(label).__name__ == "NAType"


def _sort_fine(labels):
    """Whether ``labels`` (of several types) sort, as ints beside floats do."""
    try:
        sorted(set(labels))
    except TypeError:
        return False
    return True


def check_sample_weight_support(names, members, owner, sample_weight=None, kind="member",
                                need=None):
    """Raise if a member's (``kind``: or a step's) ``fit`` cannot be given
    ``sample_weight`` (:func:`weight_key`; frozen members are not fitted), unless
    ``sample_weight`` is given and holds whole numbers, which such a member is fitted
    with as repeated rows (:func:`~skfuse._tasks.fit_task`). ``kind=None`` names each
    member by its name alone ("the teacher"); ``need`` replaces the error's "which it
    was given" (why it needs them)."""
    if whole_numbers(sample_weight):
        return
    if need is None:
        need = "which it was given" if sample_weight is None else (
            f"which it was given (whole-number weights summing to at most {MAX_REPEATS} "
            "times the rows it would take as repeated rows)")
    for name, est in zip(names, members):
        if not is_frozen(est) and weight_key(est) is None:
            who = name if kind is None else f"{kind} {name!r}"
            raise TypeError(takes_no_weights(f"{owner}: {who}", est, need))


def refuse_weightless_inside(estimator, owner, who, need):
    """Raise where ``estimator`` (``who``: "expert 'f'") is a skfuse composite that fits,
    at any depth, an estimator whose ``fit`` takes no ``sample_weight`` (frozen ones
    aside): it then takes whole-number weights only, as repeated rows, not the
    fractional ones that ``owner`` gives it (``need`` says what for)."""
    found = _weightless_inside(estimator)
    if found is not None:
        path, est = found
        raise TypeError(takes_no_weights(f"{owner}: {path!r} inside {who}", est, need)
                        + " A skfuse composite fits such an estimator with whole-number "
                        "weights only (as repeated rows).")


def _weightless_inside(estimator, path=""):
    """``(path, estimator)`` of the first estimator that the skfuse composite
    ``estimator`` fits, or one nested in it fits, without weights; None if none."""
    if isinstance(estimator, Pipeline) and estimator.steps:  # weights reach its last step
        name, last = estimator.steps[-1]
        return _weightless_inside(last, f"{path}{name}__")
    # Under metadata routing a composite passes weights to the members that request
    # them and fits the others unweighted: it repeats no rows.
    if (not isinstance(estimator, Composite) or is_frozen(estimator)
            or get_config().get("enable_metadata_routing", False)):
        return None
    for key, value in estimator.get_params(deep=False).items():
        named = value if isinstance(value, list) else [(key, value)]
        for item in named:
            name, est = item if isinstance(item, tuple) and len(item) == 2 else (key, item)
            if isinstance(est, str) or not hasattr(est, "fit") or is_frozen(est):
                continue
            if weight_key(est) is None:
                return f"{path}{name}", est
            found = _weightless_inside(est, f"{path}{name}__")
            if found is not None:
                return found
    return None


def _unroutable(estimator):
    """The class names of the estimators in ``estimator`` (itself, its steps, its
    nested parameters) whose ``fit`` takes ``sample_weight`` but that do not implement
    metadata routing, which then passes them none. Not those inside a frozen estimator
    (never fitted) or a skfuse composite (which warns about its own)."""
    if is_frozen(estimator) or isinstance(estimator, Composite):
        return []
    found = [] if hasattr(estimator, "get_metadata_routing") else [estimator]
    params = estimator.get_params(deep=True) if hasattr(estimator, "get_params") else {}
    inner = {key: value for key, value in params.items()
             if hasattr(value, "fit") and not isinstance(value, type)}

    def apart(value):  # frozen (asked only of what clone takes) or a skfuse composite
        return isinstance(value, Composite) or (hasattr(value, "get_params")
                                                and is_frozen(value))

    closed = tuple(f"{key}__" for key, value in inner.items() if apart(value))
    found += [value for key, value in inner.items()
              if not key.startswith(closed) and not hasattr(value, "get_metadata_routing")
              and not apart(value)]
    return sorted({type(est).__name__ for est in found
                   if has_fit_parameter(est, "sample_weight")})


def takes_no_weights(who, estimator, need):
    """The error for an estimator that :func:`weight_key` finds no way to give weights
    to: ``who`` names it, ``need`` says what the weights are for."""
    name = type(estimator).__name__
    pipeline = isinstance(estimator, Pipeline)
    samplers = resampling_steps(estimator)
    if samplers:
        return (f"{who} ({name}) cannot take sample_weight in fit, {need}: its step(s) "
                f"{samplers!r} may change the rows (fit_resample) before a model is "
                "fitted on them, so weights given for the rows given would not line up.")
    wraps = pipeline or any(key in estimator.get_params(deep=False)
                            for key in ("estimator", "estimators", "regressor"))
    if get_config().get("enable_metadata_routing", False):
        if not wraps:
            return f"{who} ({name}) does not accept sample_weight in fit, {need}."
        if pipeline and estimator.steps:
            step, last = estimator.steps[-1]
            return (f"{who} ({name}) does not pass sample_weight to its last step "
                    f"{step!r} ({type(last).__name__}), {need}: that step must take them "
                    "and request them (set_fit_request(sample_weight=True)); an earlier "
                    "step's request alone leaves the fit unweighted.")
        searched = (" (and every one its grid swaps in must take them)"
                    if hasattr(estimator, "param_grid")
                    or hasattr(estimator, "param_distributions") else "")
        return (f"{who} ({name}) does not request sample_weight in fit, {need}: call "
                "set_fit_request(sample_weight=True) on the estimator inside it that "
                f"takes them{searched}.")
    if pipeline:
        return (f"{who} ({name}) does not accept sample_weight in fit, {need}: a Pipeline "
                "passes them to its final step, which must take them.")
    if isinstance(estimator, CalibratedClassifierCV):
        inner = type(estimator.estimator).__name__
        return (f"{who} ({name}) cannot hand sample_weight on, {need}: its estimator's "
                f"fit ({inner}) has no sample_weight parameter, so CalibratedClassifierCV "
                "fits it unweighted (the weights reach the calibration alone).")
    if wraps:
        return (f"{who} ({name}) cannot hand sample_weight on here, {need}: every "
                "estimator it fits must take them (voting and stacking pass "
                "sample_weight= to each member and final estimator, which a Pipeline "
                "does not take), or, for one that passes fit's arguments on only under "
                "metadata routing (one-vs-rest), use "
                "sklearn.set_config(enable_metadata_routing=True) and "
                "set_fit_request(sample_weight=True).")
    return f"{who} ({name}) does not accept sample_weight in fit, {need}."


def seeds_by_name(random_state, names):
    """One seed per name in ``names`` (a member's, a parameter's): None for each when
    ``random_state`` is None.

    A name's seed depends on ``random_state`` and on that name alone, so a member's
    fits do not change when another member is dropped, added, or given a seed of its
    own. One number is drawn from ``random_state``, then spread over the names.
    """
    if random_state is None:
        return dict.fromkeys(names)
    base = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    # The whole name enters the seed (a 32-bit checksum of it let two names collide).
    return {name: int(np.random.SeedSequence([base, int.from_bytes(
                hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest(), "little")])
                      .generate_state(1)[0])
            for name in names}


def seed_estimator(estimator, random_state):
    """``estimator`` with an int seed in every unset ``random_state`` in it, but inside
    a skfuse composite, which gets a seed of its own if it has none and seeds what it
    holds by name when it is fitted (:func:`seeds_by_name`).

    Seeds the user set explicitly are kept. The estimator is cloned only when a seed is
    set, and returned as it is otherwise (with ``random_state=None``, when it is frozen or
    has no unset seed): callers clone before fitting, and never change it in place.
    """
    if random_state is None or is_frozen(estimator):
        return estimator
    params = estimator.get_params(deep=True)
    # A skfuse composite seeds what it holds from its own seed, member by member, as when
    # fitted alone; each other seed depends on its key alone, not on the keys beside it.
    inside = [prefix for prefix, est in [("", estimator)] + [
                  (f"{key}__", value) for key, value in params.items()]
              if isinstance(est, Composite)]
    unset = [key for key, value in params.items()
             if (key == "random_state" or key.endswith("__random_state")) and value is None
             and not any(key.startswith(prefix) and key != f"{prefix}random_state"
                         for prefix in inside)]
    # A splitter it holds (a search's or a calibrator's ``cv``) that shuffles without a
    # seed draws from NumPy's global generator: seeded as the composite's own ``cv`` is.
    splitters = [key for key, value in params.items()
                 if _unseeded_splitter(value)
                 and not any(key.startswith(prefix) for prefix in inside)]
    seeds = seeds_by_name(random_state, unset + splitters)
    if not seeds:
        return estimator
    for key in splitters:
        splitter = copy.copy(params[key])
        splitter.random_state = seeds[key]
        seeds[key] = splitter
    return clone(estimator).set_params(**seeds)


def _unseeded_splitter(value):
    """Whether ``value`` is a cv splitter that draws (shuffles) and has no seed."""
    return (not isinstance(value, type) and hasattr(value, "split")
            and hasattr(value, "get_n_splits") and not hasattr(value, "fit")
            and getattr(value, "random_state", 0) is None
            and getattr(value, "shuffle", True))


# -- member outputs, aligned to the composite's classes --------------------------


def is_pair(item):
    """Whether ``item`` is a ``(name, estimator)`` pair: a tuple, or a list as JSON and
    YAML give (scikit-learn's composites take both), with a string name."""
    return isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)


def is_drop(est):
    """Whether a member is the ``"drop"`` sentinel."""
    return isinstance(est, str) and est == "drop"


def _class_positions(who, labels, classes, known="the classes of y"):
    """The positions of ``labels`` in ``classes`` (``known``); ``who`` (an estimator's
    class name) outputs them. An error's note names the member where a composite runs
    it as a task."""
    positions = np.searchsorted(classes, labels)
    positions = np.clip(positions, 0, len(classes) - 1)
    unknown = classes[positions] != labels
    if np.any(unknown):
        raise ValueError(
            f"{who} outputs class(es) {np.unique(labels[unknown]).tolist()!r} that are "
            f"not among {known} {classes.tolist()!r}."
        )
    return positions


def member_proba(estimator, X, classes):
    """A member's ``predict_proba`` with columns aligned to the ensemble's ``classes``.

    Classes the member does not know get probability 0.
    """
    proba = np.asarray(estimator.predict_proba(X))  # (a list of rows too)
    check_output_rows(estimator, proba, X, "predict_proba")
    member_classes = np.asarray(estimator.classes_)
    if np.array_equal(member_classes, classes) and np.shape(proba)[1:] == classes.shape:
        return np.array(proba, dtype=np.float64)
    if proba.ndim == 2 and proba.shape[1] != len(member_classes):
        # (a HistGradientBoostingClassifier fitted on one class gives two columns)
        raise ValueError(
            f"{class_name(estimator)} gives {proba.shape[1]} probability column(s) for "
            f"its {len(member_classes)} class(es) {member_classes.tolist()!r}.")
    aligned = np.zeros((proba.shape[0], len(classes)))
    aligned[:, _class_positions(class_name(estimator), member_classes, classes)] = proba
    return aligned


def _row_positions(part, n_rows, owner):
    """A cv split's part as row positions (``intp``): a boolean mask of the rows (as
    ``cross_validate`` takes) or positions within them; anything else is refused."""
    part = np.asarray(part)
    wrong = None
    if part.ndim != 1:
        wrong = f"a part of shape {part.shape}"
    elif part.dtype == bool:
        if part.size == n_rows:
            return np.flatnonzero(part)
        wrong = f"a boolean mask of {part.size} entries"
    elif part.size == 0:
        return np.empty(0, dtype=np.intp)
    elif part.dtype.kind not in "iu":
        wrong = f"{part.dtype} values [{_first_values(part)}]"
    elif (outside := (part < 0) | (part >= n_rows)).any():
        wrong = f"positions [{_first_values(part[outside])}]"
    if wrong is not None:
        raise ValueError(f"{owner}: a cv split must give row positions from 0 to "
                         f"{n_rows - 1}, or boolean masks of {n_rows} entries; got "
                         f"{wrong}.")
    return part.astype(np.intp, copy=False)


def _first_values(values):
    """The first five of ``values`` (1-D) as plain Python values, for a message."""
    return ", ".join(repr(v.item() if isinstance(v, np.generic) else v)
                     for v in values[:5]) + (", ..." if len(values) > 5 else "")


def proper_probabilities(proba):
    """Which rows of ``proba`` (..., n_classes) are probabilities up to rounding: every
    entry within [0, 1] by 1e-6, summing to 1 within 1e-3."""
    # Reductions along a short last axis are slow (a tenth of a fast member's predict on
    # many rows): the row sums by a product, the range over all entries first.
    sums_to_1 = np.abs(proba @ np.ones(proba.shape[-1]) - 1.0) <= 1e-3
    if proba.size and proba.min() >= -1e-6 and proba.max() <= 1 + 1e-6:  # (NaN: no)
        return sums_to_1
    return ((proba >= -1e-6) & (proba <= 1 + 1e-6)).all(axis=-1) & sums_to_1


def deciding_estimator(estimator):
    """The estimator whose outputs a wrapper gives: a ``Pipeline``'s last step, a
    search's best estimator (before its fit, the one it searches over), a
    ``FrozenEstimator``'s, or a member's first fold fit, unwrapped in turn."""
    inner = estimator
    while True:
        if isinstance(inner, Pipeline):
            inner = inner.steps[-1][1]
        elif hasattr(inner, "best_estimator_"):
            inner = inner.best_estimator_
        elif isinstance(inner, BaseSearchCV) or is_frozen(inner):  # (an unfitted search)
            inner = inner.estimator
        elif hasattr(inner, "member_class_name"):  # fold fits (FoldMean)
            inner = inner.estimators[0]
        else:
            return inner


def pairwise_decision(estimator):
    """Whether a fitted classifier's ``decision_function`` gives one column per pair of
    its classes (a one-vs-one SVC: alone, or the estimator a ``Pipeline``, a search, a
    ``FrozenEstimator`` or a member's fold fits decide with), not one per class."""
    return (getattr(deciding_estimator(estimator), "decision_function_shape", None) == "ovo"
            and len(estimator.classes_) > 2)


def one_per_row(out):
    """A single column, shape (n, 1), as the vector it stands for (labels from
    CatBoost's multiclass ``predict``, a binary score); anything else as it is."""
    return np.asarray(out)[:, 0] if np.ndim(out) == 2 and np.shape(out)[1] == 1 else out


def member_decision(estimator, X, classes):
    """A member's ``decision_function``; when 2-D (more than two classes), its columns
    aligned to the ensemble's ``classes``, 0 for a class it does not know. One column
    per pair of classes (:func:`pairwise_decision`) is passed on as it is; one column
    in all (a binary score shaped (n, 1)) is read as the score it is."""
    out = one_per_row(estimator.decision_function(X))
    if np.ndim(out) != 2 or pairwise_decision(estimator):
        return out
    aligned = np.zeros((out.shape[0], len(classes)))
    member_classes = np.asarray(estimator.classes_)
    aligned[:, _class_positions(class_name(estimator), member_classes, classes)] = out
    return aligned


def vote_counts(positions, n_classes, weights=None):
    """Each row's (weighted) votes per class, shape (n, n_classes), in one ``bincount``.

    ``positions`` (n_voters, n) holds each voter's class position on each row;
    ``weights``, of the same shape (or None: 1 each), what each vote counts.
    """
    n = positions.shape[1]
    cells = positions.astype(np.intp, copy=False) + (np.arange(n) * n_classes)[None, :]
    counts = np.bincount(cells.ravel(), weights=None if weights is None else
                         np.ravel(weights), minlength=n * n_classes)
    return counts.reshape(n, n_classes)


def member_votes(estimator, X, classes):
    """A member's predictions as positions in the ensemble's ``classes``; a column of
    labels (CatBoost's multiclass ``predict`` gives shape (n, 1)) is read as a vector."""
    labels = np.asarray(one_per_row(estimator.predict(X)))
    check_output_rows(estimator, labels, X, "predict")
    return _class_positions(class_name(estimator), labels, classes)


def member_prediction(estimator, X):
    """A regressor member's predictions as a float vector: one per row of ``X``."""
    out = np.asarray(estimator.predict(X), dtype=np.float64)
    check_prediction_shape(estimator, out, X.shape[0], 1)
    return out.reshape(-1)


def check_output_rows(estimator, out, X, method):
    """Refuse ``estimator.method(X)``'s output ``out`` unless it has one row per row of
    ``X``: aligned or stacked, it would fail anonymously, or pair rows with other rows'
    outputs. An error's note names the member where a composite runs it as a task."""
    n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
    if np.ndim(out) == 0 or np.shape(out)[0] != n_rows:
        raise ValueError(
            f"{class_name(estimator)}'s {method} gave an array of shape {np.shape(out)} "
            f"for {n_rows} rows; a composite needs one output per row."
        )


def check_prediction_shape(estimator, out, n_rows, n_outputs):
    """Refuse a regressor's predictions ``out`` that are not ``n_outputs`` per row of its
    ``n_rows`` (a frozen member fitted on another number of targets): reshaped, they
    would pair rows with other rows' outputs."""
    if out.size != n_rows * n_outputs or (out.ndim > 1 and out.shape[0] != n_rows):
        raise ValueError(
            f"{class_name(estimator)} predicted an array of shape {out.shape} for "
            f"{n_rows} rows; the composite was fitted on {n_outputs} target(s) per row. "
            "A frozen estimator must have been fitted on as many targets as y has."
        )
