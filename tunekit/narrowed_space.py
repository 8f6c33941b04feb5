"""The record of a narrowing: `NarrowedSpace` and its `Change`s, their JSON and their text.

`tunekit.narrowing.narrow_space` computes the narrowed space; this module
holds what it returns, how that is written to and read back from
`narrowed_space.json`, and how a hyperparameter is described in words
(`Int [32, 512] step 32`). Import both names from `tunekit.narrowing` or
`tunekit`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

import keras_tuner
from keras_tuner.engine import hyperparameters as hp_module

from tunekit.errors import TunekitError

__all__ = ["Change", "NarrowedSpace"]

_FORMAT = "tunekit.narrowed_space"
_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Change:
    """What `narrow_space` did to one hyperparameter.

    `rule` is one of: `"range"` (numeric range narrowed), `"subset"` (unordered
    `Choice` reduced to the top trials' values and those no usable trial
    tried), `"span"` (ordered `Choice` reduced to the span seen),
    `"unanimous"` (every top trial agreed, every other value was tried by
    some usable trial, and so many top trials agreeing is unlikely by chance:
    now `Fixed`), `"common"` (every top trial agreed on a value most usable
    trials tried anyway, hypergeometric p >= 0.05, e.g. trials at 16, 16, 16
    and 32: kept whole, the agreed value as default; `note` gives p),
    `"untried"` (an unordered `Choice` or a `Boolean` kept whole: the values
    the top trials did not use were never tried by a usable trial; `note`
    names them),
    `"collapsed"` (the narrowed range holds one value: now `Fixed`), `"fixed"`
    (already `Fixed`), `"inactive"` (never active among the top trials: kept),
    `"sparse"` (a value active in only one top trial, because it is
    conditional or only some builds declare it: too little evidence, kept),
    `"unknown"` (plain KerasTuner trials hold a value for every name, used
    or not: a name outside any `conditional_scope` of a space that grew
    during the search, or a loop's later member, e.g. `units_2`, is kept),
    `"kept"` (`Boolean` without consensus, a stepped `reverse_log` grid,
    which cannot be narrowed and stay on the original grid, or a range or
    `Choice` whose top trials spread over all of it: nothing removed),
    `"chance"` (too few coarse trials scored above chance, so nothing is
    narrowed and no trial was used: set by the workflow's narrow step, not by
    `narrow_space`).

    Args:
        name: Name of the hyperparameter.
        kind: Class name of the original hyperparameter, e.g. `"Int"`.
        before: Human-readable original definition, e.g. `Int [8, 64] step 8`.
        after: Human-readable narrowed definition.
        rule: The rule applied (see above).
        active: In how many of the top trials the hyperparameter was active.
        note: Values kept because no usable trial tried them, in words, e.g.
            `"'tanh', 'selu' never tried (6 usable trials): kept"`, or
            `"'gelu' never tried; 'tanh' tried only by failed trials (5 usable
            trials): kept"` (values only FAILED or non-finite trials drew); `""` when
            none (and in records written before tunekit said it).
        before_config: `{"class_name", "config"}` of the original.
        after_config: `{"class_name", "config"}` of the narrowed one.
    """

    name: str
    kind: str
    before: str
    after: str
    rule: str
    active: int
    note: str = ""
    before_config: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, hash=False)
    after_config: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, hash=False)

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
        top: Number of top trials used (0 when the whole space was kept).
        usable: Number of usable (completed, finite-score) trials.
        top_trial_ids: Trial ids of the top trials, best first (empty when
            none was used).
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
        return copy.deepcopy(
            {
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
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NarrowedSpace:
        """Rebuilds a `NarrowedSpace` from the output of `to_dict`.

        Raises:
            ValueError: If `data` is not a valid `to_dict()` output of this version.
        """
        if not isinstance(data, Mapping) or (data.get("format"), data.get("version")) != (
            _FORMAT,
            _VERSION,
        ):
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
        return self.describe()

    def describe(self, said: Callable[[BaseException], str] = str) -> str:
        """The narrowing as text (`str` of it): a header, then a table of one row per
        hyperparameter. The header names the settings as the run does (`said`, see
        `tunekit.trial_refusals.Said`): `direction='max', margin=0.1` in Python, and
        `--direction max, --margin 0.1` under the command line's `cli_message`; the
        rows (names, ranges, conditions) are left as they are."""
        noted = any(c.note for c in self.changes)  # a `note` column only when one says something
        head: tuple[str, ...] = ("name", "before", "", "after", "rule", "active")
        rows = [head + (("note",) if noted else ())]
        for c in self.changes:
            cond = _describe_conditions(c.before_config)
            active = f"{c.active}/{self.top}" if self.top else "-"
            row: tuple[str, ...] = (c.name + cond, c.before, "->", c.after, c.rule, active)
            rows.append(row + ((c.note,) if noted else ()))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        note = f"; {self.top_note}" if self.top_note else ""
        used = f"top {self.top}" if self.top else "none"
        header = (
            f"NarrowedSpace: {used} of {self.usable} usable trials "
            f"(direction={self.direction!r}, margin={self.margin}{note})"
        )
        lines = [header if said is str else said(TunekitError(header))]
        for i, row in enumerate(rows):
            lines.append("  ".join(s.ljust(w) for s, w in zip(row, widths)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)


def serialize(hp: hp_module.HyperParameter) -> dict[str, Any]:
    """`{"class_name", "config"}` of a hyperparameter, as `Change` records it."""
    return {"class_name": type(hp).__name__, "config": copy.deepcopy(hp.get_config())}


def _num(x: float, sci: bool = False) -> str:
    if isinstance(x, int):
        return str(x)
    if sci and x != 0:
        mantissa, exponent = f"{x:.4e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"
    return f"{x:.6g}"


def describe(hp: hp_module.HyperParameter) -> str:
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
        x != 0 and not 1e-2 <= abs(x) < 1e5 for x in bounds
    )
    text = f"{type(hp).__name__} [{_num(bounds[0], sci)}, {_num(bounds[1], sci)}]"
    if hp.step is not None and not (
        isinstance(hp, hp_module.Int) and hp.step == 1 and hp.sampling == "linear"
    ):
        text += f" step {_num(hp.step)}"
    return text if hp.sampling == "linear" else f"{text} {hp.sampling}"


def _describe_conditions(serialized: Mapping[str, Any]) -> str:
    conditions = serialized.get("config", {}).get("conditions", [])
    parts = [f"{c['config']['name']} in {c['config']['values']!r}" for c in conditions]
    return f" (if {' and '.join(parts)})" if parts else ""
