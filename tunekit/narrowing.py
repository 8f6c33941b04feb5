"""Narrow a KerasTuner search space around the best trials of a coarse search.

The space arithmetic: which trials count, each hyperparameter's new range or
values, snapped to its original grid. What it returns (`NarrowedSpace`, one
`Change` per hyperparameter) and its JSON live in `tunekit.narrowed_space`
and are importable from here too. It is over 400 lines because
`narrow_space`'s docstring is the reference for which values count.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import keras_tuner
from keras_tuner.engine import hyperparameters as hp_module

from tunekit import _log
from tunekit.errors import TooFewTrialsError
from tunekit.narrowed_space import Change, NarrowedSpace, describe, serialize
from tunekit.narrowing_untried import (
    AGREEMENT_ALPHA,
    agreement_p,
    common_note,
    failed_values,
    is_range,
    one_value_tried,
    untried_note,
    untried_values,
)
from tunekit.params import POSITIVE_INT, check_param, validate_params
from tunekit.trial_records import (
    MISSING,
    active_value,
    holds_declared_names,
    is_usable,
    read_direction,
    replay_builds,
    unknown_use,
)

if TYPE_CHECKING:
    from keras_tuner.engine.hyperparameters import HyperParameter

__all__ = ["Change", "NarrowedSpace", "is_usable", "narrow_declared", "narrow_space"]

_MIN_WINDOW = 0.1  # Minimum window, as a fraction of the original width.
_EPS = 1e-9


def narrow_space(
    space: keras_tuner.HyperParameters,
    trials: Iterable[Any],
    *,
    direction: str | keras_tuner.Objective | None = None,
    top: int | float = 0.25,
    margin: float = 0.1,
    min_trials: int = 3,
    fix_unanimous: bool = True,
    hypermodel: Any = None,
) -> NarrowedSpace:
    """Narrows a search space around the best trials of a coarse search.

    Only `COMPLETED` trials with a finite score are used, ranked by `direction`
    (by default read from the trials), and of each trial only the values its
    build used. Numeric ranges shrink to the top trials' values plus a margin
    (in the sampling's own scale, snapped to the original step grid), an
    ordered (numeric) `Choice` keeps the span of the top trials' values (each
    only on a side beyond which some usable trial ran, and lost; so when the
    top trials are all the usable ones, no range shrinks), and
    hyperparameters the top trials agree on become `Fixed`. An unordered
    `Choice` or a `Boolean` loses a value only on evidence: some usable trial
    in which it was active tried that value, and no top trial used it. A
    value no usable trial tried is kept (KerasTuner's random draws can
    cluster: six trials that all drew `"relu"` say nothing of `"tanh"`), so
    it keeps the top trials' values and the untried ones (rule `"untried"`
    when nothing is removed, `"subset"` when some value is; `Change.note`
    names the untried values), and becomes `Fixed` (`"unanimous"`) only when
    the top trials agree and every other value was tried. Any hyperparameter
    the top trials agree on is `Fixed` only when their agreement is unlikely
    by chance: `m` of `n` usable trials at the value, the `k` top trials all
    among them with hypergeometric probability `C(m, k) / C(n, k)` below 0.05;
    else it is kept whole (`"common"`: trials at 16, 16, 16 and 32 put 16 in
    the top three whatever it does, p = 0.25). A numeric range (or ordered
    `Choice`) of which every usable trial tried the same value is kept whole (`"untried"`,
    its note `only 16 tried (3 usable trials): kept`): seeded draws can land on one value
    (its minimum, beside the default configuration's trial), which says nothing of the
    others. The result is always a subset of
    `space`; names, conditions and sampling are preserved, and every default
    is the best trial's value (a numeric one, a `Choice`'s, a `Boolean`'s),
    so the narrowed space's defaults build the best coarse configuration.

    Which values a build used: a name under a `conditional_scope` counts only
    where active, exactly. tunekit's tuners keep in a trial only the names its
    build declared, so the units of a layer a trial did not build (declared in
    a loop) never count. Plain KerasTuner gives every trial a value for every
    name it has seen, built or not, so a value cannot be told used or unused,
    and `narrow_space` keeps whole (rule `"unknown"`) what may hold unused
    values: when some trials lack a name others hold (the space grew: names
    declared in a loop or a branch outside any `conditional_scope`), every
    hyperparameter outside a `conditional_scope`; when every trial held every
    name from the first one on (as in a loop whose defaults build the deepest
    layer), the names that look like a loop's members (defined alike and
    told apart by a number: `units_1`, `dense2_units`), all of them. The rest
    count as used (a branch `if hp.Choice(...) == "sgd":` whose defaults take
    it cannot be seen: pass `hypermodel=`). Declare such names under
    `hp.conditional_scope`, or search with tunekit's tuners, to have them
    narrowed: their trials are recognised when a later one lacks a name an
    earlier one held, and `narrow_declared` takes them as such in any case;
    so does `hypermodel=`, learning them.

    Args:
        space: The `keras_tuner.HyperParameters` of the coarse search, e.g.
            `tuner.oracle.hyperparameters`.
        trials: KerasTuner `Trial`s, e.g. `tuner.oracle.trials.values()` (a
            dict of trials is accepted too).
        direction: `"max"` (e.g. accuracy), `"min"` (e.g. loss), a
            `keras_tuner.Objective` (e.g. `tuner.oracle.objective`), or `None`
            to read it from the trials: each records its objective's metric
            with its direction (the metric whose best value is the trial's
            score). Defaults to `None`.
        top: How many of the usable trials to keep: an int >= 1 is a count, a
            float in (0, 1] a fraction. Never fewer than `min_trials` nor more
            than the usable trials; the result's `top_note` says when it differs.
        margin: Each side of a numeric range is widened by `margin` times the
            larger of its width and 10% of the original width (and by at least
            one step when the hyperparameter has a step and `margin > 0`).
        min_trials: Minimum number of usable trials, and of top trials.
        fix_unanimous: Whether hyperparameters with one value across all the
            top trials become `Fixed` (an unordered `Choice` or a `Boolean`
            only when its other values were tried by some usable trial, else
            rule `untried`; any one only when the agreement is unlikely by
            chance, else rule `common`). False: a numeric one keeps a range
            widened by `margin` (with `margin=0`, one value is left: `Fixed`,
            rule `collapsed`), a `Choice` keeps all its values (rule `kept`).
        hypermodel: The `keras_tuner.HyperModel` or build function the trials
            ran: plain trials are then built again (no training) and narrowed
            exactly (`tunekit.trial_records.replay_builds`). Defaults to `None`.

    Returns:
        A `NarrowedSpace`.

    Raises:
        InvalidParameterError (a `ValueError`): If `top`, `margin` or
            `min_trials` is invalid (the rules of `tunekit.params`).
        ValueError: If `direction` is invalid, or contradicts the direction
            the trials recorded (e.g. `"max"` for a search that minimised
            `val_loss`), or is `None` and the trials' direction cannot be read
            (trials without recorded metrics) or they disagree.
        TooFewTrialsError (a `ValueError`): If fewer than `min_trials` trials
            are usable.
        TypeError: If `space` is not a `HyperParameters` or a trial is not a
            `Trial`.

    Example:

    ```python
    narrowed = narrow_space(tuner.oracle.hyperparameters, tuner.oracle.trials,
                            top=0.25, hypermodel=build_model)
    print(narrowed)
    # Keep KerasTuner's tune_new_entries=True: a hyperparameter no top
    # trial built (e.g. a deeper layer's units) is tuned over its own range.
    fine = keras_tuner.RandomSearch(build_model, objective="val_accuracy",
                                    hyperparameters=narrowed.hyperparameters,
                                    max_trials=20)
    ```
    """
    if hypermodel is not None:
        listed = _listed(trials)
        trials = listed if holds_declared_names(listed) else replay_builds(listed, hypermodel)
    known = True if hypermodel is not None else None
    return _narrow(space, trials, direction, top, margin, min_trials, fix_unanimous, known)


def narrow_declared(
    space: keras_tuner.HyperParameters,
    trials: Iterable[Any],
    *,
    direction: str | keras_tuner.Objective | None = None,
    top: int | float = 0.25,
    margin: float = 0.1,
    min_trials: int = 3,
    fix_unanimous: bool = True,
) -> NarrowedSpace:
    """`narrow_space` for trials that hold only the names their builds declared.

    Trials of tunekit's tuners (`tunekit.tuners`) do: each value a trial holds
    shaped its model. `narrow_space` recognises them only when a later trial
    lacks a name an earlier one held; the workflow's narrow step, and a user of
    tunekit's tuners, say so with this function. Same arguments and errors.
    """
    return _narrow(space, trials, direction, top, margin, min_trials, fix_unanimous, True)


def _listed(trials: Iterable[Any]) -> list[Any]:
    return list(trials.values() if isinstance(trials, Mapping) else trials)


def _narrow(
    space: keras_tuner.HyperParameters,
    trials: Iterable[Any],
    direction: str | keras_tuner.Objective | None,
    top: int | float,
    margin: float,
    min_trials: int,
    fix_unanimous: bool,
    declared: bool | None,
) -> NarrowedSpace:
    direction, top, margin, min_trials = _check_args(direction, top, margin, min_trials)
    if not isinstance(space, keras_tuner.HyperParameters):
        raise TypeError(
            "`space` must be a `keras_tuner.HyperParameters`, e.g. "
            f"`tuner.oracle.hyperparameters`. Received: {type(space).__name__}."
        )
    trials = _listed(trials)
    usable = [t for t in trials if is_usable(t)]
    n = len(usable)
    if n < min_trials:
        raise TooFewTrialsError(
            f"Only {n} of the {len(trials)} trials given are usable (COMPLETED "
            f"with a finite score); narrowing needs at least min_trials="
            f"{min_trials}. Run more trials in the coarse search, or lower "
            "`min_trials`."
        )
    asked = int(top) if isinstance(top, numbers.Integral) else math.ceil(top * n - _EPS)
    count = min(max(min_trials, asked), n)
    top_note = ""
    if count < asked:
        top_note = f"asked for top={top}, only {n} usable: using all {n}"
    elif count > asked:
        top_note = (
            f"asked for top={top} ({_log.count(asked, 'trial')}), raised to the minimum of "
            f"{_log.count(min_trials, 'trial')}"
        )
    ranked_by = read_direction(direction, usable)
    if declared is None:
        declared = holds_declared_names(trials)
    unknown = frozenset() if declared else unknown_use(space, trials)
    sign = -1.0 if ranked_by == "max" else 1.0
    ordered = sorted(usable, key=lambda t: (sign * float(t.score), str(t.trial_id)))
    ranked = ordered[:count]
    tied = [t for t in ordered[count:] if float(t.score) == float(ranked[-1].score)]
    if tied:  # the trial id broke the tie: the tied trials are as good (probe H)
        ranked, count = ranked + tied, count + len(tied)
        top_note = "; ".join(
            [
                *([top_note] if top_note else []),
                f"{_log.count(len(tied), 'more trial')} tied with the last top trial's "
                f"score ({float(tied[0].score):.6g}): counted among the top",
            ]
        )

    new_hps, changes = [], []
    for hp in space.space:
        if hp.name.startswith("tuner/"):
            continue  # KerasTuner-internal (Hyperband) entries.
        values = [v for v in (active_value(t, hp) for t in ranked) if v is not MISSING]
        tried = [v for v in (active_value(t, hp) for t in usable) if v is not MISSING]
        failed = failed_values(hp, trials)
        if hp.name in unknown and not isinstance(hp, hp_module.Fixed):
            new_hp, rule = _rebuild(hp), "unknown"
        else:
            new_hp, rule = _narrow_one(hp, values, float(margin), fix_unanimous, count, tried)
        if rule in ("range", "span", "subset") and describe(new_hp) == describe(hp):
            rule = "kept"  # the top trials spread over all of it: nothing removed
        new_hps.append(new_hp)
        changes.append(
            Change(
                name=hp.name,
                kind=type(hp).__name__,
                before=describe(hp),
                after=describe(new_hp),
                rule=rule,
                active=len(values),
                note=common_note(values, tried)
                if rule == "common"
                else untried_note(hp, tried, rule, failed),
                before_config=serialize(hp),
                after_config=serialize(new_hp),
            )
        )
    narrowed = keras_tuner.HyperParameters()
    narrowed.merge(new_hps)
    return NarrowedSpace(
        hyperparameters=narrowed,
        changes=tuple(changes),
        direction=ranked_by,
        top=count,
        usable=n,
        top_trial_ids=tuple(str(t.trial_id) for t in ranked),
        margin=float(margin),
        requested_top=top,
        top_note=top_note,
    )


def _check_args(
    direction: Any, top: Any, margin: Any, min_trials: Any
) -> tuple[str | keras_tuner.Objective | None, int | float, float, int]:
    """The arguments checked (`tunekit.params`'s rules) and normalised; raises if invalid."""
    given = direction.direction if isinstance(direction, keras_tuner.Objective) else direction
    if given is not None and given not in ("max", "min"):
        raise ValueError(
            "`direction` must be 'max', 'min', a `keras_tuner.Objective` or None (read from "
            f"the trials) ('max' for accuracy, 'min' for loss). Received: direction={direction!r}."
        )
    checked = validate_params({"top": top, "margin": margin})
    min_trials = check_param("min_trials", min_trials, POSITIVE_INT)
    return direction, checked["top"], checked["margin"], min_trials


def _narrow_one(
    hp: HyperParameter,
    values: Sequence[Any],
    margin: float,
    fix_unanimous: bool,
    count: int,
    tried: Sequence[Any] = (),
) -> tuple[HyperParameter, str]:
    """`hp` narrowed: `values` are the top trials' (best first), `tried` every usable
    trial's, where `hp` was active; a `Choice`'s or `Boolean`'s value no usable trial
    tried is never removed, nor is a range of which they all tried one value (`untried`)."""
    if isinstance(hp, hp_module.Fixed):
        return _rebuild(hp), "fixed"
    if not values:
        return _rebuild(hp), "inactive"
    if (hp.conditions or len(values) < count) and len(values) < 2:
        # A value seen in a single top trial, among several, because it is
        # conditional or only some builds declare it (e.g. the units of a
        # layer built in a loop), is too thin evidence to fix or shrink it
        # on: keep its range, with the default of the trial that has it (as every rule).
        if isinstance(hp, hp_module.Choice) and values[0] not in hp.values:
            return _rebuild(hp), "sparse"
        return _rebuild(hp, default=values[0]), "sparse"
    best = values[0]
    untried = untried_values(hp, tried)
    if one_value_tried(hp, tried):  # a range of which no usable trial tried another value
        return _rebuild(hp, default=best), "untried"
    agreed = len(values) >= 2 and all(v == best for v in values)  # one trial agrees with itself
    if agreed and any(v != best for v in tried) and agreement_p(values, tried) >= AGREEMENT_ALPHA:
        return _rebuild(hp, default=best), "common"  # most trials tried it: no evidence
    if agreed and is_range(hp) and not _lost_on_both_sides(hp, best, tried):
        agreed = False  # nothing beyond it on one side was tried: narrowed as a range
    if fix_unanimous and agreed and not untried:
        return _fixed(hp, best), "unanimous"  # every other value (if any) was tried, and lost
    if isinstance(hp, hp_module.Boolean):
        if fix_unanimous and untried:  # the top trials agree; the other value was never tried
            return _rebuild(hp, default=bool(best)), "untried"
        return _rebuild(hp, default=bool(best)), "kept"
    if isinstance(hp, hp_module.Choice):
        if hp.ordered:  # the top trials' span; a side no usable trial went beyond is kept
            low, high = min(values), max(values)
            below, above = _lost_beyond(low, high, tried)
            low, high = (low if below else min(hp.values)), (high if above else max(hp.values))
            kept, rule = [v for v in hp.values if low <= v <= high], "span"
        elif not fix_unanimous and all(v == best for v in values):
            return _kept(hp, best)  # as documented: fix_unanimous=False keeps every value
        else:  # the top trials' values, and those no usable trial tried
            kept, rule = [v for v in hp.values if v in values or v in untried], "subset"
            if untried and len(kept) == len(hp.values):
                rule = "untried"  # nothing removed: the others were never tried
        if len(kept) == 1:  # one value left: Fixed, unless fix_unanimous=False says keep
            return (_fixed(hp, kept[0]), "collapsed") if fix_unanimous else _kept(hp, best)
        return _rebuild(hp, values=kept, default=best), rule
    return _narrow_numeric(hp, values, margin, tried)


def _lost_on_both_sides(hp: HyperParameter, best: Any, tried: Sequence[Any]) -> bool:
    """Whether some usable trial tried a value below `best` (or it is the lowest) and one
    above (or it is the highest): else fixing `best` removes values nobody tried."""
    choice = isinstance(hp, hp_module.Choice)
    low, high = (min(hp.values), max(hp.values)) if choice else (hp.min_value, hp.max_value)
    below, above = _lost_beyond(best, best, tried)
    return (best <= low or below) and (best >= high or above)


def _lost_beyond(low: Any, high: Any, tried: Sequence[Any]) -> tuple[bool, bool]:
    """Whether some usable trial (`tried`: their values; none given counts as yes) ran
    below `low`, and above `high`: only there did a value lose to the top trials'."""
    if not tried:
        return True, True
    return any(v < low for v in tried), any(v > high for v in tried)


def _kept(hp: HyperParameter, best: Any) -> tuple[HyperParameter, str]:
    return _rebuild(hp, default=best), "kept"


def _narrow_numeric(
    hp: HyperParameter, values: Sequence[float], margin: float, tried: Sequence[float] = ()
) -> tuple[HyperParameter, str]:
    """A range (or ordered `Choice`) narrowed around the top trials' `values`; a side
    beyond which no usable trial (`tried`) ran is kept: nothing there lost."""
    lo0, hi0, step, sampling = hp.min_value, hp.max_value, hp.step, hp.sampling
    is_int = isinstance(hp, hp_module.Int)
    best = values[0]
    if step is not None and sampling == "reverse_log":
        # Its grid is anchored at max_value; no narrower range stays on it.
        return _rebuild(hp, default=best), "kept"
    fwd, inv = _transform(sampling, lo0, hi0)
    t0, t1 = fwd(lo0), fwd(hi0)
    a, b = fwd(min(values)), fwd(max(values))
    pad = margin * max(b - a, _MIN_WINDOW * (t1 - t0))
    if step is not None and margin > 0:
        pad = max(pad, step if sampling == "linear" else math.log(step))
    lost_below, lost_above = _lost_beyond(min(values), max(values), tried)
    lo_t = t0 if best <= lo0 or not lost_below else max(t0, a - pad)
    hi_t = t1 if best >= hi0 or not lost_above else min(t1, b + pad)
    lo = min(max(inv(lo_t), lo0), min(values))
    hi = max(min(inv(hi_t), hi0), max(values))
    if step is not None:
        lo, hi, collapsed = _snap_to_grid(hp, lo, hi, values)
    elif is_int:
        lo = max(lo0, math.floor(lo + _EPS * max(1.0, abs(lo))))
        hi = min(hi0, math.ceil(hi - _EPS * max(1.0, abs(hi))))
        collapsed = lo == hi
    else:
        lo = min(max(lo0, _round12(lo)), min(values))
        hi = max(min(hi0, _round12(hi)), max(values))
        collapsed = lo == hi
    if collapsed:
        return _fixed(hp, best), "collapsed"
    return _rebuild(hp, min_value=lo, max_value=hi, default=min(max(best, lo), hi)), "range"


def _transform(
    sampling: str, lo0: float, hi0: float
) -> tuple[Callable[[float], float], Callable[[float], float]]:
    """Monotone maps to and from the space where `sampling` is uniform."""
    if sampling == "log":
        return math.log, math.exp
    if sampling == "reverse_log":
        return (lambda v: -math.log(lo0 + hi0 - v)), (lambda t: lo0 + hi0 - math.exp(-t))
    return (lambda v: v), (lambda t: t)


def _snap_to_grid(
    hp: HyperParameter, lo: float, hi: float, values: Sequence[float]
) -> tuple[float, float, bool]:
    """Snaps `[lo, hi]` outward to the original step grid anchored at min_value."""
    lo0, hi0, step = hp.min_value, hp.max_value, hp.step
    is_int = isinstance(hp, hp_module.Int)
    if hp.sampling == "linear":
        n = _grid_size("linear", lo0, hi0, step)
        index, point = (lambda v: (v - lo0) / step), (lambda k: lo0 + k * step)
    else:
        n = _grid_size("log", lo0, hi0, step)
        index, point = (lambda v: math.log(v / lo0) / math.log(step)), (lambda k: lo0 * step**k)
    ks = [min(n - 1, max(0, round(index(v)))) for v in values]
    k_lo = max(0, min(math.floor(index(lo) + _EPS), *ks))
    k_hi = min(n - 1, max(math.ceil(index(hi) - _EPS), *ks))
    k_lo, k_hi = (0 if ks[0] == 0 else k_lo), (n - 1 if ks[0] == n - 1 else k_hi)
    if k_lo == k_hi:
        return lo, hi, True
    cast = int if is_int else _round12
    # Rounded outward, never inward: 1/3 rounded to 0.333333333333 dropped the grid point
    # 1/3, the best trial's value (KerasTuner could then draw only 0.0).
    new_lo = lo0 if k_lo == 0 else max(lo0, min(cast(point(k_lo)), point(k_lo), *values))
    # max_value only for a side kept: KerasTuner's grid can end short of it (Float(0, 0.5,
    # step=0.1) counts 0.5 // 0.1 + 1 = 5 values, 0.0..0.4), and a narrowed side ending at
    # max_value would add the values that lost there.
    kept_hi = k_hi == n - 1 and (ks[0] == n - 1 or hi >= hi0)
    new_hi = hi0 if kept_hi else min(hi0, max(cast(point(k_hi)), point(k_hi), *values))
    # Float error can make KerasTuner's own count drop the top grid point.
    for _ in range(16):
        if is_int or _grid_size(hp.sampling, new_lo, new_hi, step) >= k_hi - k_lo + 1:
            break
        if new_hi < hi0:
            new_hi = min(hi0, math.nextafter(new_hi, math.inf))
        elif new_lo > lo0:
            new_lo = max(lo0, math.nextafter(new_lo, -math.inf))
        else:
            break
    return new_lo, new_hi, False


def _grid_size(sampling: str, lo: float, hi: float, step: float) -> int:
    """Number of grid values, computed as KerasTuner's `_get_n_values` does."""
    if sampling == "linear":
        return int((hi - lo) // step + 1)
    return int(math.log(hi / lo, step) + 1e-8) + 1


def _round12(x: float) -> float:
    return float(f"{x:.12g}")


def _rebuild(hp: HyperParameter, **overrides: Any) -> HyperParameter:
    config = copy.deepcopy(hp.get_config())
    config.update(overrides)
    return type(hp).from_config(config)


def _fixed(hp: HyperParameter, value: Any) -> HyperParameter:
    conditions = copy.deepcopy(hp.get_config()["conditions"])
    if isinstance(hp, hp_module.Float):
        value = float(value)
    elif isinstance(hp, hp_module.Int):
        value = int(value)
    return hp_module.Fixed.from_config({"name": hp.name, "value": value, "conditions": conditions})
