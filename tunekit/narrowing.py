"""Narrow a KerasTuner search space around the best trials of a coarse search."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import keras_tuner
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine.trial import TrialStatus

from tunekit.errors import TooFewTrialsError
from tunekit.params import POSITIVE_INT, check_param, validate_params

__all__ = ["Change", "NarrowedSpace", "is_usable", "narrow_space"]

_FORMAT = "tunekit.narrowed_space"
_VERSION = 1
_MIN_WINDOW = 0.1  # Minimum window, as a fraction of the original width.
_EPS = 1e-9


@dataclasses.dataclass(frozen=True)
class Change:
    """What `narrow_space` did to one hyperparameter.

    `rule` is one of: `"range"` (numeric range narrowed), `"subset"` (unordered
    `Choice` reduced to the values seen), `"span"` (ordered `Choice` reduced to
    the span seen), `"unanimous"` (every top trial agreed: now `Fixed`),
    `"collapsed"` (the narrowed range holds one value: now `Fixed`), `"fixed"`
    (already `Fixed`), `"inactive"` (never active among the top trials: kept),
    `"sparse"` (a value active in only one top trial, because it is
    conditional or only some builds declare it: too little evidence, kept),
    `"kept"` (`Boolean` without consensus, or a stepped `reverse_log` grid,
    which cannot be narrowed and stay on the original grid).

    Args:
        name: Name of the hyperparameter.
        kind: Class name of the original hyperparameter, e.g. `"Int"`.
        before: Human-readable original definition, e.g. `Int [8, 64] step 8`.
        after: Human-readable narrowed definition.
        rule: The rule applied (see above).
        active: In how many of the top trials the hyperparameter was active.
        before_config: `{"class_name", "config"}` of the original.
        after_config: `{"class_name", "config"}` of the narrowed one.
    """

    name: str
    kind: str
    before: str
    after: str
    rule: str
    active: int
    before_config: dict = dataclasses.field(default_factory=dict, repr=False, hash=False)
    after_config: dict = dataclasses.field(default_factory=dict, repr=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-serializable dict of all fields."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, eq=False)
class NarrowedSpace:
    """A narrowed search space and the record of how it was derived.

    Example:

    ```python
    narrowed = narrow_space(tuner.oracle.hyperparameters, tuner.oracle.trials)
    print(narrowed)  # One row per hyperparameter: before -> after.
    Path("narrowed.json").write_text(narrowed.to_json())
    again = NarrowedSpace.from_json(Path("narrowed.json").read_text())
    ```

    Attributes:
        hyperparameters: The narrowed `keras_tuner.HyperParameters`; pass it to
            the next tuner as `hyperparameters=`.
        changes: One `Change` per hyperparameter of the original space.
        direction: `"max"` or `"min"`.
        top: Number of top trials used.
        usable: Number of usable (completed, finite-score) trials.
        top_trial_ids: Trial ids of the top trials, best first.
        margin: The margin used to widen numeric ranges.
        requested_top: The `top` asked for (a count or a fraction); `top`
            differs from it when too few trials are usable or `min_trials`
            raised it (`top_note` says which).
        top_note: Why `top` is not what was asked for, e.g. `"asked for 10;
            only 4 usable"`; empty when it is.
    """

    hyperparameters: keras_tuner.HyperParameters
    changes: tuple[Change, ...]
    direction: str
    top: int
    usable: int
    top_trial_ids: tuple[str, ...]
    margin: float
    requested_top: int | float | None = None
    top_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-serializable dict that `from_dict` rebuilds exactly."""
        return copy.deepcopy({
            "format": _FORMAT,
            "version": _VERSION,
            "direction": self.direction,
            "top": self.top,
            "usable": self.usable,
            "top_trial_ids": list(self.top_trial_ids),
            "margin": self.margin,
            "requested_top": self.requested_top,
            "top_note": self.top_note,
            "hyperparameters": self.hyperparameters.get_config(),
            "changes": [c.to_dict() for c in self.changes],
        })

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NarrowedSpace:
        """Rebuilds a `NarrowedSpace` from the output of `to_dict`.

        Raises:
            ValueError: If `data` is not a valid `to_dict()` output of this version.
        """
        if not isinstance(data, Mapping) or (data.get("format"), data.get("version")) != (
                _FORMAT, _VERSION):
            raise ValueError(
                "Expected the output of `NarrowedSpace.to_dict()` (format="
                f"{_FORMAT!r}, version={_VERSION}). Received: {str(data)[:80]}"
            )
        data = copy.deepcopy(dict(data))
        try:
            return cls(
                hyperparameters=keras_tuner.HyperParameters.from_config(data["hyperparameters"]),
                changes=tuple(Change(**c) for c in data["changes"]),
                top_trial_ids=tuple(data["top_trial_ids"]),
                requested_top=data.get("requested_top"),
                top_note=data.get("top_note", ""),
                **{k: data[k] for k in ("direction", "top", "usable", "margin")},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(
                f"Malformed `NarrowedSpace.to_dict()` output: {type(e).__name__}: {e}"
            ) from None

    def to_json(self, indent: int | None = 2) -> str:
        """Returns `to_dict()` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> NarrowedSpace:
        """Rebuilds a `NarrowedSpace` from the output of `to_json`.

        Raises:
            ValueError: If `text` is not valid `to_json()` output.
        """
        return cls.from_dict(json.loads(text))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NarrowedSpace):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return (
            f"NarrowedSpace(direction={self.direction!r}, top={self.top}, "
            f"usable={self.usable}, margin={self.margin}, "
            f"hyperparameters={len(self.changes)})"
        )

    def __str__(self) -> str:
        rows = [("name", "before", "", "after", "rule", "active")]
        for c in self.changes:
            cond = _describe_conditions(c.before_config)
            rows.append((c.name + cond, c.before, "->", c.after, c.rule, f"{c.active}/{self.top}"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        note = f"; {self.top_note}" if self.top_note else ""
        lines = [
            f"NarrowedSpace: top {self.top} of {self.usable} usable trials "
            f"(direction={self.direction!r}, margin={self.margin}{note})"
        ]
        for i, row in enumerate(rows):
            lines.append("  ".join(s.ljust(w) for s, w in zip(row, widths)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)


def narrow_space(
    space: keras_tuner.HyperParameters,
    trials: Iterable[Any],
    *,
    direction: str | keras_tuner.Objective = "max",
    top: int | float = 0.25,
    margin: float = 0.1,
    min_trials: int = 3,
    fix_unanimous: bool = True,
) -> NarrowedSpace:
    """Narrows a search space around the best trials of a coarse search.

    Only `COMPLETED` trials with a finite score are used, and of each trial
    only the values it holds and that are active: tunekit's tuners keep in a
    trial only the names its build declared, so the units of a layer a trial
    did not build (declared in a loop) never count. Numeric ranges
    shrink to the top trials' values plus a margin (in the sampling's own
    scale, snapped to the original step grid), `Choice`s keep the values the
    top trials used, and hyperparameters the top trials agree on become
    `Fixed`. The result is always a subset of `space`; names, conditions and
    sampling are preserved, and every default lies inside its new range.

    Args:
        space: The `keras_tuner.HyperParameters` of the coarse search, e.g.
            `tuner.oracle.hyperparameters`.
        trials: KerasTuner `Trial`s, e.g. `tuner.oracle.trials.values()` (a
            dict of trials is accepted too).
        direction: `"max"` (e.g. accuracy), `"min"` (e.g. loss), or a
            `keras_tuner.Objective`.
        top: How many of the usable trials to keep: an int >= 1 is a count, a
            float in (0, 1] a fraction. Never fewer than `min_trials` nor more
            than the usable trials; the result's `top_note` says when it differs.
        margin: Each side of a numeric range is widened by `margin` times the
            larger of its width and 10% of the original width (and by at least
            one step when the hyperparameter has a step and `margin > 0`).
        min_trials: Minimum number of usable trials, and of top trials.
        fix_unanimous: Whether hyperparameters with one value across all the
            top trials become `Fixed`.

    Returns:
        A `NarrowedSpace`.

    Raises:
        InvalidParameterError (a `ValueError`): If `top`, `margin` or
            `min_trials` is invalid (the rules of `tunekit.params`).
        ValueError: If `direction` is invalid.
        TooFewTrialsError (a `ValueError`): If fewer than `min_trials` trials
            are usable.
        TypeError: If `space` is not a `HyperParameters` or a trial is not a
            `Trial`.

    Example:

    ```python
    narrowed = narrow_space(tuner.oracle.hyperparameters,
                            tuner.oracle.trials.values(), top=0.25)
    print(narrowed)
    fine = keras_tuner.RandomSearch(build_model, objective="val_accuracy",
                                    hyperparameters=narrowed.hyperparameters,
                                    tune_new_entries=False, max_trials=20)
    ```
    """
    direction, top, margin, min_trials = _check_args(direction, top, margin, min_trials)
    if not isinstance(space, keras_tuner.HyperParameters):
        raise TypeError(
            "`space` must be a `keras_tuner.HyperParameters`, e.g. "
            f"`tuner.oracle.hyperparameters`. Received: {type(space).__name__}."
        )
    if isinstance(trials, Mapping):
        trials = trials.values()
    trials = list(trials)
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
        top_note = (f"asked for top={top} ({asked} trial{'s' if asked != 1 else ''}), "
                    f"raised to min_trials={min_trials}")
    sign = -1.0 if direction == "max" else 1.0
    ranked = sorted(usable, key=lambda t: (sign * float(t.score), str(t.trial_id)))[:count]

    new_hps, changes = [], []
    for hp in space.space:
        if hp.name.startswith("tuner/"):
            continue  # KerasTuner-internal (Hyperband) entries.
        values = [v for v in (_active_value(t, hp) for t in ranked) if v is not _MISSING]
        new_hp, rule = _narrow_one(hp, values, float(margin), fix_unanimous, count)
        new_hps.append(new_hp)
        changes.append(Change(
            name=hp.name, kind=type(hp).__name__, before=_describe(hp),
            after=_describe(new_hp), rule=rule, active=len(values),
            before_config=_serialize(hp), after_config=_serialize(new_hp),
        ))
    narrowed = keras_tuner.HyperParameters()
    narrowed.merge(new_hps)
    return NarrowedSpace(
        hyperparameters=narrowed, changes=tuple(changes), direction=direction,
        top=count, usable=n, top_trial_ids=tuple(str(t.trial_id) for t in ranked),
        margin=float(margin), requested_top=top, top_note=top_note,
    )


_MISSING = object()


def _check_args(direction: Any, top: Any, margin: Any,
                min_trials: Any) -> tuple[str, int | float, float, int]:
    """The arguments checked (`tunekit.params`'s rules) and normalised; raises if invalid."""
    if isinstance(direction, keras_tuner.Objective):
        direction = direction.direction
    if direction not in ("max", "min"):
        raise ValueError(
            "`direction` must be 'max', 'min' or a `keras_tuner.Objective` "
            f"('max' for accuracy, 'min' for loss). Received: direction={direction!r}."
        )
    checked = validate_params({"top": top, "margin": margin})
    min_trials = check_param("min_trials", min_trials, POSITIVE_INT)
    return direction, checked["top"], checked["margin"], min_trials


def is_usable(trial) -> bool:
    """Whether a trial counts: COMPLETED with a finite score (failed, running and NaN do not)."""
    if not all(hasattr(trial, a) for a in ("status", "score", "hyperparameters")):
        raise TypeError(
            "`trials` must contain KerasTuner `Trial` objects, e.g. "
            f"`tuner.oracle.trials.values()`. Received an item of type {type(trial).__name__}."
        )
    score = trial.score
    return (
        trial.status == TrialStatus.COMPLETED
        and trial.hyperparameters is not None
        and isinstance(score, numbers.Real) and not isinstance(score, bool)
        and math.isfinite(score)
    )


def _active_value(trial, hp):
    """The trial's value for `hp` if active and valid for `hp`, else `_MISSING`."""
    thp = trial.hyperparameters
    if hp.name not in thp.values or not thp.is_active(hp):
        return _MISSING
    v = thp.values[hp.name]
    if isinstance(hp, hp_module.Fixed):
        return v
    if isinstance(hp, hp_module.Boolean):
        return v if isinstance(v, bool) else _MISSING
    if isinstance(hp, hp_module.Choice):
        return v if v in hp.values else _MISSING
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        return _MISSING
    v = min(max(v, hp.min_value), hp.max_value)
    return int(round(v)) if isinstance(hp, hp_module.Int) else float(v)


def _narrow_one(hp, values, margin, fix_unanimous, count):
    if isinstance(hp, hp_module.Fixed):
        return _rebuild(hp), "fixed"
    if not values:
        return _rebuild(hp), "inactive"
    if (hp.conditions or len(values) < count) and len(values) < 2:
        # A value seen in a single top trial, among several, because it is
        # conditional or only some builds declare it (e.g. the units of a
        # layer built in a loop), is too thin evidence to fix or shrink it
        # on: keep it as it was.
        return _rebuild(hp), "sparse"
    best = values[0]
    if fix_unanimous and all(v == best for v in values):
        return _fixed(hp, best), "unanimous"
    if isinstance(hp, hp_module.Boolean):
        return _rebuild(hp), "kept"
    if isinstance(hp, hp_module.Choice):
        if hp.ordered:
            low, high = min(values), max(values)
            kept, rule = [v for v in hp.values if low <= v <= high], "span"
        else:
            kept, rule = [v for v in hp.values if v in values], "subset"
        if len(kept) == 1:
            return _fixed(hp, kept[0]), "collapsed"
        default = hp.default if hp.default in kept else best
        return _rebuild(hp, values=kept, default=default), rule
    return _narrow_numeric(hp, values, margin)


def _narrow_numeric(hp, values, margin):
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
    lo_t = t0 if best <= lo0 else max(t0, a - pad)
    hi_t = t1 if best >= hi0 else min(t1, b + pad)
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


def _transform(sampling, lo0, hi0):
    """Monotone maps to and from the space where `sampling` is uniform."""
    if sampling == "log":
        return math.log, math.exp
    if sampling == "reverse_log":
        return (lambda v: -math.log(lo0 + hi0 - v)), (lambda t: lo0 + hi0 - math.exp(-t))
    return (lambda v: v), (lambda t: t)


def _snap_to_grid(hp, lo, hi, values):
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
    new_lo = lo0 if k_lo == 0 else max(lo0, cast(point(k_lo)))
    new_hi = hi0 if k_hi == n - 1 else min(hi0, cast(point(k_hi)))
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


def _grid_size(sampling, lo, hi, step) -> int:
    """Number of grid values, computed as KerasTuner's `_get_n_values` does."""
    if sampling == "linear":
        return int((hi - lo) // step + 1)
    return int(math.log(hi / lo, step) + 1e-8) + 1


def _round12(x: float) -> float:
    return float(f"{x:.12g}")


def _rebuild(hp, **overrides):
    config = copy.deepcopy(hp.get_config())
    config.update(overrides)
    return type(hp).from_config(config)


def _fixed(hp, value):
    conditions = copy.deepcopy(hp.get_config()["conditions"])
    if isinstance(hp, hp_module.Float):
        value = float(value)
    elif isinstance(hp, hp_module.Int):
        value = int(value)
    return hp_module.Fixed.from_config({"name": hp.name, "value": value, "conditions": conditions})


def _serialize(hp) -> dict:
    return {"class_name": type(hp).__name__, "config": copy.deepcopy(hp.get_config())}


def _num(x, sci: bool = False) -> str:
    if isinstance(x, int):
        return str(x)
    if sci and x != 0:
        mantissa, exponent = f"{x:.4e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"
    return f"{x:.6g}"


def _describe(hp) -> str:
    """Human-readable definition, e.g. `Int [32, 512] step 32`."""
    if isinstance(hp, hp_module.Fixed):
        value = hp.value
        return f"Fixed {_num(value) if isinstance(value, float) else repr(value)}"
    if isinstance(hp, hp_module.Boolean):
        return "Boolean"
    if isinstance(hp, hp_module.Choice):
        return f"Choice {hp.values!r}"
    bounds = (hp.min_value, hp.max_value)
    sci = isinstance(hp, hp_module.Float) and any(
        x != 0 and not 1e-2 <= abs(x) < 1e5 for x in bounds)
    text = f"{type(hp).__name__} [{_num(bounds[0], sci)}, {_num(bounds[1], sci)}]"
    if hp.step is not None and not (isinstance(hp, hp_module.Int) and hp.step == 1
                                    and hp.sampling == "linear"):
        text += f" step {_num(hp.step)}"
    return text if hp.sampling == "linear" else f"{text} {hp.sampling}"


def _describe_conditions(serialized: Mapping[str, Any]) -> str:
    conditions = serialized.get("config", {}).get("conditions", [])
    parts = [f"{c['config']['name']} in {c['config']['values']!r}" for c in conditions]
    return f" (if {' and '.join(parts)})" if parts else ""
