"""The objective of a search: one metric name and one stated direction.

KerasTuner guesses an objective's direction from its name and guesses wrong
for metrics it does not know (e.g. it minimises `val_f1_score`). tunekit never
guesses: `resolve_objective` accepts a `keras_tuner.Objective` as is, a name
with its direction stated (`"val_f1_score:max"`), or the name of a Keras
metric whose direction is certain (`"val_accuracy"`, `"val_loss"`, ...), and
refuses anything else before any training.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from tunekit.errors import InvalidParameterError, UnknownDirectionError
from tunekit.metric_directions import KNOWN_DIRECTIONS, close_known_name, keras_spelling, misspelt

if TYPE_CHECKING:
    import keras_tuner

__all__ = [
    "DIRECTIONS",
    "KNOWN_DIRECTIONS",
    "known_direction",
    "describe_objective",
    "objective_formula",
    "objective_names",
    "objective_parts",
    "parse_objective",
    "resolve_objective",
    "training_metric_note",
]

DIRECTIONS = ("max", "min")

_NAME = re.compile(r"^[A-Za-z0-9_./\-]+$")


# Words that turn a metric around (`neg_mse`, `one_minus_auc`, `inverse_accuracy`): a
# name holding one is a metric of the user's own, whatever it ends with.
_TURNED = {"neg", "negative", "negated", "minus", "inv", "inverse", "reciprocal", "complement"}


def known_direction(name: str, outputs: Collection[str] | None = ()) -> str | None:
    """The certain direction of a Keras metric name, or `None`.

    Args:
        name: A metric name as Keras logs it, e.g. `"val_accuracy"`, `"auc_1"`.
        outputs: The names of the model's outputs (the keys of its targets'
            dict). Keras names one output's metric `<output>_<metric>`
            (`digit_accuracy`, `val_digit_loss`); a name of that form is known
            only when `<output>` is one of `outputs`, so a metric of the user's
            own such as `not_accuracy` or `delta_loss` is not read as
            accuracy or a loss. Defaults to none. `None` takes any prefix as
            an output (for bookkeeping of names a model reported, never for
            an objective).
    """
    base = name[len("val_") :] if name.startswith("val_") else name
    base = base[len("weighted_") :] if base.startswith("weighted_") else base
    # An output's own name (`neg`, `inverse`) is not a word that turns its metric around.
    output = max((o for o in outputs or () if base.startswith(f"{o}_")), key=len, default="")
    if _TURNED & set(base[len(output) + 1 if output else 0 :].lower().split("_")):
        return None
    # Keras numbers repeated metric instances: `auc_1`, `precision_2`.
    for candidate in (base, re.sub(r"_\d+$", "", base)):
        if candidate in KNOWN_DIRECTIONS:
            return KNOWN_DIRECTIONS[candidate]
        # One output's metric: the longest known metric (or `loss`) after an output's name.
        ends = [
            known
            for known in (*KNOWN_DIRECTIONS, "loss")
            if candidate.endswith(f"_{known}")
            and (outputs is None or candidate[: -len(known) - 1] in outputs)
        ]
        if ends:
            return KNOWN_DIRECTIONS.get(max(ends, key=len), "min")
    return None


def parse_objective(
    text: str,
    direction: str | None = None,
    *,
    argument: str = "objective",
    outputs: Collection[str] = (),
) -> tuple[str, str]:
    """Parses a metric name and its direction, without importing Keras.

    Args:
        text: A metric name as Keras logs it: `"name:max"` / `"name:min"`
            states the direction; a bare name is accepted only when it is a
            Keras metric whose direction is certain (see `KNOWN_DIRECTIONS`;
            `val_` prefix and Keras' `_1` numbering allowed), e.g.
            `"val_accuracy"` (max), `"val_loss"` (min).
        direction: `"max"` or `"min"`, for a bare name. Defaults to `None`.
        argument: How the error messages name the input, e.g. `"--objective"`.
        outputs: The model's output names, for `<output>_<metric>` names
            (see `known_direction`). Defaults to none: such a name needs its
            direction stated.

    Returns:
        `(name, direction)`, e.g. `("val_f1_score", "max")`.

    Raises:
        InvalidParameterError: (a `ValueError`) If the direction is unknown,
            missing after a ':', stated twice differently, or contradicts the
            certain direction of a Keras metric (e.g. `"val_accuracy:min"`), or
            `text` is not a metric name. Its `UnknownDirectionError` for a bare
            name of unknown direction leads with the known name it is close to
            (`"val_aucc"`: "Did you mean 'val_auc'?", see `close_known_name`).
        TypeError: If `text` is not a string.
    """
    if direction is not None and direction not in DIRECTIONS:
        raise InvalidParameterError(
            f"The direction of `{argument}` must be 'max' or 'min'. "
            f"Received: direction={direction!r}."
        )
    if not isinstance(text, str):
        raise TypeError(
            f"`{argument}` must be a metric name (e.g. 'val_accuracy' or 'val_f1_score:max') "
            f"or a keras_tuner.Objective. Received: {text!r} of type {type(text).__name__}."
        )
    name, colon, stated = text.strip().partition(":")
    if colon and not stated:
        raise InvalidParameterError(
            f"`{argument}` {text!r}: the direction after ':' is missing; write "
            f"'{name}:max' or '{name}:min'."
        )
    if stated:
        if stated not in DIRECTIONS:
            raise InvalidParameterError(
                f"`{argument}` {text!r}: the direction after ':' must be 'max' or 'min', "
                f"e.g. '{name}:max'."
            )
        if direction is not None and direction != stated:
            raise InvalidParameterError(
                f"`{argument}` {text!r} says {stated!r} but direction={direction!r} "
                "was also given: state it once."
            )
        direction = stated
    if not name or not _NAME.match(name):
        raise InvalidParameterError(
            f"`{argument}` must be a metric name as Keras logs it, e.g. 'val_accuracy'. "
            f"Received: {text!r}."
        )
    if direction is not None:
        _check_direction(name, direction, argument, outputs)
    else:
        direction = known_direction(name, outputs)
        if direction is None:
            cli = argument.startswith("--")
            also = "--direction max" if cli else f"keras_tuner.Objective({name!r}, 'max')"
            spelled = keras_spelling(name)
            if misspelt(name) and known_direction(spelled, outputs) is not None:
                raise UnknownDirectionError(
                    f"Did you mean {spelled!r}? `{argument}`={name!r} is not written as Keras "
                    "writes a validation metric's name (`val_`, lower case, words joined by "
                    f"`_`): write {spelled!r}. If {name!r} is a metric of your own, state its "
                    f"direction: '{name}:max' or '{name}:min'."
                )
            close = close_known_name(name)  # a typo: the name, not a direction for it
            raise UnknownDirectionError(
                (f"Did you mean {close!r}? " if close else "")
                + f"`{argument}`={name!r}: tunekit does not know whether {name!r} is better "
                f"higher or lower, and does not guess. State it: '{name}:max' or "
                f"'{name}:min' (or {also})." + _outputs_hint(name, outputs)
            )
    return name, direction


def _outputs_hint(name: str, outputs: Collection[str]) -> str:
    """For an `<output>_<metric>` name whose `<output>` is not one of y's keys: say so."""
    parts = name.removeprefix("val_").split("_")
    ends = ("_".join(parts[i:]) for i in range(1, len(parts)))  # after an output's name
    if not outputs or not any(known_direction(f"o_{end}", ("o",)) for end in ends):
        return ""
    keys = sorted(map(str, outputs))
    return (
        f" If {name!r} is a metric of one of the model's outputs: Keras names those "
        f"`<output>_<metric>` after the model's outputs, which must be the keys of y, {keys}; "
        "key y by the names of the model's outputs."
    )


def _check_direction(
    name: str, direction: str, argument: str, outputs: Collection[str] = ()
) -> None:
    """Raises `InvalidParameterError` for a direction that would pick the worst trials."""
    known = known_direction(name, outputs)
    if known is not None and direction != known:
        better = "higher" if known == "max" else "lower"
        raise InvalidParameterError(
            f"`{argument}` {name!r} with direction {direction!r} would pick the worst trials: "
            f"{name!r} is a Keras metric for which {better} is better ({known!r}). Drop the "
            f"direction, or write '{name}:{known}'."
        )


def resolve_objective(
    objective: Any,
    direction: str | None = None,
    *,
    argument: str = "objective",
    outputs: Collection[str] = (),
) -> keras_tuner.Objective:
    """Turns what a user wrote into a `keras_tuner.Objective` with a certain direction.

    Args:
        objective: A `keras_tuner.Objective` (used as is), or a metric name
            as `parse_objective` reads it (`"val_f1_score:max"`,
            `"val_accuracy"`), or a list of these: KerasTuner's
            `MultiObjective`, the sum of the parts (one part: that part).
        direction: `"max"` or `"min"`, for a bare name. Defaults to `None`.
        argument: How the error messages name the input.
        outputs: The model's output names (the keys of its targets' dict), for
            `<output>_<metric>` names; see `known_direction`. Defaults to none.

    Returns:
        A `keras_tuner.Objective`.

    Raises:
        InvalidParameterError: (a `ValueError`) If the direction is unknown
            or contradicts the one stated, for a `keras_tuner.Objective` too
            (e.g. `Objective("val_loss", "max")`, which would pick the worst
            trials, or a direction neither `"max"` nor `"min"`).
        InvalidParameterError: For a list: if it is empty, names a metric once
            to maximise and once to minimise, or comes with `direction`.
        TypeError: If `objective` (or a list's part) is neither a string nor a
            `keras_tuner.Objective`, or a list's part is itself a list.
    """
    import keras_tuner as kt  # noqa: PLC0415 (the CLI parses before Keras loads)

    if isinstance(objective, (list, tuple)):
        return _resolve_list(objective, direction, argument, outputs)
    if isinstance(objective, kt.Objective):
        if direction is not None and direction != objective.direction:
            raise InvalidParameterError(
                f"`{argument}` is keras_tuner.Objective({objective.name!r}, "
                f"{objective.direction!r}), but direction={direction!r} was also given: "
                "state it once."
            )
        # The same rules as the string form, for each part of KerasTuner's MultiObjective
        # too: KerasTuner takes any direction here (it fails each trial on one not 'max' or
        # 'min', and a contradicting one silently picks the worst trials).
        for part in getattr(objective, "objectives", None) or [objective]:
            if part.direction not in DIRECTIONS:
                raise InvalidParameterError(
                    f"The direction of `{argument}` {part.name!r} must be 'max' or 'min'. "
                    f"Received: keras_tuner.Objective({part.name!r}, {part.direction!r})."
                )
            _check_direction(part.name, part.direction, argument, outputs)
        return objective
    return kt.Objective(*parse_objective(objective, direction, argument=argument, outputs=outputs))


def _resolve_list(
    objectives: list[Any] | tuple[Any, ...],
    direction: str | None,
    argument: str,
    outputs: Collection[str],
) -> keras_tuner.Objective:
    """KerasTuner's list form: the sum of the parts, each signed by its direction."""
    from tunekit._kerastuner import MultiObjective  # noqa: PLC0415

    if direction is not None:
        raise InvalidParameterError(
            f"`{argument}` is a list of objectives, so each part states its own direction "
            f"(e.g. 'val_f1_score:max'); direction={direction!r} applies to none of them."
        )
    if not objectives:
        raise InvalidParameterError(
            f"`{argument}` is an empty list: name at least one metric, e.g. 'val_accuracy'."
        )
    parts = []
    for index, part in enumerate(objectives):
        if isinstance(part, (list, tuple, MultiObjective)):
            raise TypeError(
                f"`{argument}[{index}]` is itself a list of objectives: write one flat list "
                f"of metric names or keras_tuner.Objective. Received: {part!r}."
            )
        parts.append(resolve_objective(part, argument=f"{argument}[{index}]", outputs=outputs))
    names = [part.name for part in parts]
    directions: dict[str, str] = {}
    for part in parts:  # KerasTuner counts a metric named twice once
        if directions.setdefault(part.name, part.direction) != part.direction:
            raise InvalidParameterError(
                f"`{argument}` names {part.name!r} twice, once to maximise and once to "
                "minimise: keep the one you mean."
            )
    parts = [part for index, part in enumerate(parts) if part.name not in names[:index]]
    # One part ranks the trials as that objective alone: keep its own name and direction.
    return parts[0] if len(parts) == 1 else MultiObjective(parts)


def objective_parts(objective: keras_tuner.Objective) -> list[list[str]]:
    """`[[name, direction], ...]`: the parts of a KerasTuner `MultiObjective`, else `[]`."""
    return [[part.name, part.direction] for part in getattr(objective, "objectives", None) or []]


def objective_names(objective: keras_tuner.Objective) -> list[str]:
    """The metric names an objective ranks by: each part of a `MultiObjective`, or its one."""
    return [name for name, _ in objective_parts(objective)] or [objective.name]


def training_metric_note(name: str, outputs: Collection[str] = ()) -> str | None:
    """A warning when `name` is a Keras metric measured on the training data, else `None`.

    Keras logs each metric twice: `accuracy` on the batches the model trains
    on, `val_accuracy` on the validation data. A search on the first rewards
    the models that fit their training data best, overfitting included.
    KerasTuner accepts either, and so does tunekit; this says what was chosen.

    Args:
        name: The objective's metric name, e.g. `"accuracy"`.
        outputs: The model's output names, as in `known_direction`.

    Returns:
        One sentence naming the validation metric to use instead, or `None`
        for a `val_` name or a metric tunekit does not know (e.g. one a
        hypermodel's own `fit` returns, which may well be a validation score).
    """
    if name.startswith("val_") or known_direction(name, outputs) is None:
        return None
    return (
        f"The objective {name!r} is measured on the training data: the search will prefer "
        f"the models that fit it best, overfitting included. To rank trials on held-out "
        f"data, use 'val_{name}'."
    )


def objective_formula(name: str, parts: list[list[str]] | None = None) -> str:
    """`name`, or for a KerasTuner `MultiObjective` (`parts` from `objective_parts`)
    the sum KerasTuner minimises, e.g. `multi_objective = val_loss - val_auc`."""
    if not parts:
        return name
    terms = " ".join(("- " if way == "max" else "+ ") + part for part, way in parts)
    return f"{name} = {terms.removeprefix('+ ').replace('- ', '-', terms.startswith('- '))}"


def describe_objective(name: str, direction: str, parts: list[list[str]] | None = None) -> str:
    """E.g. `val_f1_score (max: higher is better)`; `parts` as in `objective_formula`."""
    better = "higher" if direction == "max" else "lower"
    return f"{objective_formula(name, parts)} ({direction}: {better} is better)"
