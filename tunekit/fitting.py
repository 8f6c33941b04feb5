"""Calls a hypermodel's own `fit` with tunekit's fit arguments, whatever it sets itself.

KerasTuner hands everything `search()` received to `HyperModel.fit(hp, model, *args,
**kwargs)`, and its documented pattern sets some of those arguments again:

    def fit(self, hp, model, *args, **kwargs):  # in a kt.HyperModel
        return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32]), **kwargs)

tunekit always passes `batch_size` (and `epochs`, `callbacks`, `verbose`), so
Python refuses that call ("got multiple values for keyword argument
'batch_size'") before `model.fit` starts. `fit_hypermodel` is the one place
where tunekit calls a hypermodel's `fit`, for every trial (`tunekit.tuners`)
and for the final retrain (`tunekit.workflow`). Its contract:

- A keyword your `fit` passes to `model.fit` itself wins over tunekit's; the
  ones it does not pass come from tunekit. When Python reports a duplicate
  keyword, tunekit calls your `fit` again without that keyword in `kwargs`
  and adds it to your `model.fit` call if your call lacks it. So the code of
  your `fit` before `model.fit` may run once more per keyword it sets (nothing
  has trained yet; declaring hyperparameters again is harmless).
- `callbacks`: yours are added after tunekit's and KerasTuner's (checkpoints,
  TensorBoard, the NaN check, the retrain's schedule and backup). A
  `model.fit` call that leaves any of them out is refused before training.
- `epochs`: the count your `fit` sets is the count of every trial and of the
  retrain (`coarse_epochs`, a Bayesian `max_epochs` and `final_epochs` no
  longer apply). Hyperband allocates epochs itself, so with Hyperband a `fit`
  that sets `epochs` or `initial_epoch` is refused.
- `validation_split` is refused: tunekit passes the dataset's validation split
  as `validation_data` in the search, and retrains on train+validation.
- A `model.fit` call Keras refuses for its arguments (`sample_weight=` beside
  the run's `class_weight`, a misspelt keyword; `tunekit.fit_refusals`) fails
  its trial at once, before it trains, with the fix.
- Each refusal above is a `HyperModelFitError` that fails its trial only: the
  call may depend on the trial's hyperparameters (`validation_split` under an
  `hp.Boolean`), so the search goes on as KerasTuner's does, and stops only
  after `max_consecutive_failed_trials` failed trials in a row. A refusal of
  the default configuration's trial (a run's first coarse trial) stops the
  search at once (`SearchInputError`, exit 2; `tunekit.trial_refusals`).
- On a stream, a `batch_size=` (or, for a `tf.data.Dataset`, `shuffle=`) your
  fit passes, by keyword or position, is warned about (`tunekit.stream_fit_args`).
- A `fit` that never calls `model.fit` (its own training loop) receives
  tunekit's keywords and uses them as it likes.
- Each call gets its own copy of every dict, list and tuple in its arguments
  (`x` as a dict of inputs, `y`, `validation_data`), the arrays in them
  shared (and read-only): a `fit` that replaces an entry (`x["a"] = x["a"] *
  2.0`) changes its own copy, not the next trial's, the retrain's or your
  `Dataset`'s.
- On train+validation (`final=`: the retrain, the baseline, final seeds), an
  error your `fit` raises becomes a `HyperModelFitError` saying where; in a `cv`
  fold (`fold=`), one the data's lengths explain stops the search, saying so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import keras
import keras_tuner as kt
from keras_tuner import errors as kt_errors

from tunekit import fit_refusals as fr
from tunekit.errors import TunekitError, UsageError
from tunekit.fit_changes import X_CHANGED_NOTE, Y_CHANGED_NOTE, changes, held_out_refusal, inputs_of
from tunekit.fit_inputs import (
    FoldFit,
    TrainedBefore,
    final_fit_message,
    fold_fit_message,
    own_containers,
    read_only,
    takes_validation_data,
)
from tunekit.fit_results import plain_results
from tunekit.hypermodel_kinds import own_fit

__all__ = [
    "FitCall",
    "HyperModelFitError",
    "SearchInputError",
    "X_CHANGED_NOTE",
    "Y_CHANGED_NOTE",
    "fit_hypermodel",
    "takes_validation_data",
]

_DUPLICATE = re.compile(r"got multiple values for keyword argument '(\w+)'")


class SearchInputError(UsageError, kt_errors.FatalValueError):
    """A search's input that its first trial shows to be wrong, e.g. an objective the
    model never reports, or `cv`'s validation data.

    A `UsageError` (the CLI exits with code 2) and a KerasTuner `FatalError`:
    the search stops at once instead of failing every trial the same way.
    """


class HyperModelFitError(TunekitError, kt_errors.FailedTrialError, ValueError):
    """A hypermodel's `fit` breaks tunekit's contract (see `tunekit.fitting`).

    In a search, a KerasTuner `FailedTrialError`: its trial fails at once
    (before training, not retried) with this message, and the search goes on,
    as KerasTuner's does, since what a `fit` passes may depend on the trial's
    hyperparameters; it stops after `max_consecutive_failed_trials` in a row
    (`TrialsFailedError`, quoting it). On train+validation (the retrain, the
    baseline, final seeds) it stops the run. A `ValueError` too.
    """


@dataclass
class FitCall:
    """What a call of a hypermodel's `fit` did.

    Attributes:
        results: What the hypermodel's `fit` returned (a `History`, a dict or a float),
            each number a Python `float` (`fit_results.plain_results`: a 0-d array too).
        fit_kwargs: The keywords of its last `model.fit` call, merged (e.g. `{"batch_size":
            16, "epochs": 3, ...}`); empty when it never called `model.fit`.
        set_by_hypermodel: The tunekit keywords its `fit` set itself, e.g. `("batch_size",)`.
        callbacks: The callbacks of that `model.fit` call, tunekit's and its own.
        x_changed, y_changed: Whether a `model.fit` call got other inputs, or other targets
            for the same samples, than the hypermodel's `fit` (`fit_changes.changes`).
        stages: Each `model.fit` call's `(epochs=, epochs trained)`, in order (a `fit` that
            trains in stages: `tunekit.trial_length.fit_stages`).
    """

    results: Any
    fit_kwargs: dict[str, Any] = field(default_factory=dict)
    set_by_hypermodel: tuple[str, ...] = ()
    callbacks: list[Any] = field(default_factory=list)
    x_changed: bool = False
    y_changed: bool = False
    stages: tuple[tuple[Any, int], ...] = ()


def fit_hypermodel(
    hypermodel: kt.HyperModel,
    hp: kt.HyperParameters,
    model: keras.Model,
    *args: Any,
    refused: Mapping[str, str] | None = None,
    final: str | None = None,
    before: TrainedBefore | None = None,
    fold: FoldFit | None = None,
    held_out: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> FitCall:
    """Calls `hypermodel.fit(hp, model, *args, **kwargs)`; its own keywords win.

    Keywords the hypermodel's `fit` passes to `model.fit` itself override
    `kwargs`; `callbacks` are concatenated (`kwargs`' first). See the module
    docstring for the whole contract.

    Args:
        hypermodel: A `keras_tuner.HyperModel`.
        hp: The trial's (or the retrain's) `HyperParameters`.
        model: The model `hypermodel.build(hp)` returned.
        *args: Positional arguments of `model.fit`, usually `x, y`.
        refused: Keywords of `kwargs` the hypermodel's `fit` may not set,
            each with the reason, e.g. `{"epochs": "Hyperband allocates ..."}`.
            Defaults to none.
        final: The fit on train+validation this call is, e.g. `"the retrain"`;
            `None` (the default) for a search's fit.
        before: With `final`, what fits of the hypermodel trained before and how
            this one differs (`tunekit.fit_inputs.TrainedBefore`), for its error's
            message. Defaults to `None` (only that the search ran it on other data).
        fold: The cross-validation fold this search's fit is (`FoldFit`), or `None`.
        held_out: Inputs of splits the fit may not train on besides `validation_data`'s,
            e.g. `{"test": x_test}` (`fit_changes.held_out_refusal`). Defaults to none.
        **kwargs: tunekit's keyword arguments of `model.fit` (`epochs`,
            `batch_size`, `callbacks`, `validation_data`, `verbose`, ...).

    Returns:
        A `FitCall` with the results and the keywords `model.fit` received.

    Raises:
        HyperModelFitError: Before any training, if the hypermodel's `fit`
            sets a refused keyword, sets `validation_split`, or calls
            `model.fit` without the callbacks in `kwargs`; if Keras refuses the
            arguments of its `model.fit` call (`tunekit.fit_refusals`); or if it reads
            `kwargs["validation_data"]` where none is passed. With `final`, also
            for any other error the hypermodel's own `fit` raises (not a
            `TunekitError` or `OSError`), saying what is known of its cause
            (`tunekit.fit_inputs.final_fit_message`).
        HyperModelFitError: Also with `fold`, an error of the hypermodel's own `fit` that
            the data's lengths explain (`tunekit.fit_inputs.fold_fit_message`): its trial fails.
    """
    try:
        return _fit_hypermodel(
            hypermodel, hp, model, *args, refused=refused, held_out=held_out, **kwargs
        )
    except (TunekitError, OSError):
        raise
    except Exception as e:
        if not own_fit(hypermodel):
            raise
        if final is not None:
            said = final_fit_message(hypermodel, final, args, kwargs, e, before)
            raise HyperModelFitError(said) from e
        if fold is not None and (why := fold_fit_message(hypermodel, fold, args, kwargs, e)):
            raise HyperModelFitError(why) from e
        raise


def _fit_hypermodel(
    hypermodel: kt.HyperModel,
    hp: kt.HyperParameters,
    model: keras.Model,
    *args: Any,
    refused: Mapping[str, str] | None = None,
    held_out: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> FitCall:
    """`fit_hypermodel` without its `final` errors."""
    refused = dict(refused or {})
    for name in refused:  # marked, so that a fit that sets the same value is seen too
        if type(kwargs.get(name)) is int:
            kwargs[name] = fr.Passed(kwargs[name])
    pending = dict(kwargs)
    held: dict[str, Any] = {}
    set_fit = vars(model).get("fit")  # an instance attribute, if someone set one
    passed_x = args[0] if args else kwargs.get("x")
    passed_y = args[1] if len(args) > 1 else kwargs.get("y")
    while True:
        merged_fit = _MergedFit(
            model.fit,
            held,
            list(kwargs.get("callbacks") or []),
            expected={k: kwargs[k] for k in refused if k in kwargs},
            refused=refused,
            owner=_name(hypermodel),
            hp=hp,
            passed=(passed_x, passed_y, kwargs.get("validation_data")),
            held_out={"validation": inputs_of(kwargs.get("validation_data")), **(held_out or {})},
            class_weight=kwargs.get("class_weight"),
            own=own_fit(hypermodel),
        )
        object.__setattr__(model, "fit", merged_fit)  # no Keras tracking: a plain attribute
        own_args, own_kwargs = own_containers((list(args), pending))  # x["a"] = ... stays here
        try:
            results = hypermodel.fit(hp, model, *own_args, **own_kwargs)
        except KeyError as e:
            if e.args != ("validation_data",) or "validation_data" in pending:
                raise
            raise HyperModelFitError(fr.reads_validation_data(_name(hypermodel))) from None
        except ValueError as e:
            if "read-only" not in str(e) or not read_only(args, pending):
                raise
            raise HyperModelFitError(fr.changes_in_place(_name(hypermodel), e)) from None
        except TypeError as e:
            match = _DUPLICATE.search(str(e))
            key = match.group(1) if match else None
            if key not in pending or merged_fit.calls:  # not a clash at the call of model.fit
                raise
            if key in refused:
                raise HyperModelFitError(
                    f"{_name(hypermodel)}.fit sets `{key}` itself, which tunekit cannot let it "
                    f"do here: {refused[key]}"
                ) from None
            held[key] = pending.pop(key)
            continue
        finally:
            if set_fit is None:
                object.__delattr__(model, "fit")
            else:
                object.__setattr__(model, "fit", set_fit)
        return FitCall(
            plain_results(results),  # np.array(0.93), a 0-d tensor: one float
            merged_fit.last_kwargs,
            tuple(held),
            merged_fit.last_callbacks,
            merged_fit.x_changed,
            merged_fit.y_changed,
            tuple(merged_fit.stages),
        )


class _MergedFit:
    """Stands in for `model.fit` during one call of a hypermodel's `fit`."""

    def __init__(
        self,
        fit: Any,
        defaults: dict[str, Any],
        required: list[keras.callbacks.Callback],
        *,
        expected: dict[str, Any] | None = None,
        refused: Mapping[str, str] | None = None,
        owner: str = "The hypermodel",
        hp: kt.HyperParameters | None = None,
        passed: tuple[Any, Any, Any] = (None, None, None),
        held_out: Mapping[str, Any] | None = None,
        class_weight: Mapping[Any, float] | None = None,
        own: bool = False,
    ) -> None:
        self.fit = fit
        # The run's class weights (tunekit's), and whether the hypermodel's own fit calls.
        self.class_weight, self.own = class_weight, own
        # x, y and validation_data passed to the hypermodel's fit; splits it may not train on
        self.passed_x, self.passed_y, self.passed_validation = passed
        self.held_out = dict(held_out or {})
        self.x_changed = self.y_changed = False
        self.hp, self.defaults, self.required = hp, defaults, required
        # Refused keywords and tunekit's values: a fit that changes one through its
        # kwargs (a pop, an assignment) raises no "multiple values" TypeError.
        self.expected = dict(expected or {})
        self.refused = dict(refused or {})
        self.owner = owner
        self.calls = 0
        self.stages: list[tuple[Any, int]] = []  # (epochs=, epochs trained) per model.fit
        self.last_kwargs: dict[str, Any] = {}
        self.last_callbacks: list[Any] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = fr.by_name(self.fit, args, kwargs)  # model.fit(x, y, 16): batch_size=16
        for key, value in self.defaults.items():
            if key == "callbacks":
                kwargs["callbacks"] = [*value, *(kwargs.get("callbacks") or [])]
            else:
                kwargs.setdefault(key, value)
        for key, value in self.expected.items():
            # `epochs=hp.Int("epochs", ...)` is refused in any trial that has it, whatever it
            # drew (its value may equal tunekit's by chance): a hyperparameter of that name.
            if self.hp is not None and key in self.hp.values:
                tuned_value = self.hp.values[key]
                raise HyperModelFitError(
                    f"{self.owner}.fit tunes `{key}` (hp {key!r}, {tuned_value!r} in this "
                    f"trial) and passes it to model.fit, which tunekit cannot let it do "
                    f"here: {self.refused.get(key, '')}"
                )
            if key not in kwargs or fr.changed_from(kwargs[key], value):
                received = kwargs.get(key, "its default")
                change = (
                    f"{value!r} -> {received!r}"
                    if received != value
                    else f"to {received!r}, the value tunekit passed to this fit; other trials "
                    "and the retrain pass others"
                )
                raise HyperModelFitError(
                    f"{self.owner}.fit sets `{key}` itself before it reaches model.fit "
                    f"({change}), which tunekit cannot let it do here: "
                    f"{self.refused.get(key, '')}"
                )
        if refused := fr.set_unpassed(self.owner, self.refused, self.expected, kwargs):
            raise HyperModelFitError(refused)
        if kwargs.get("validation_split"):
            raise HyperModelFitError(
                f"{self.owner}.fit passes validation_split={kwargs['validation_split']!r} "
                "to model.fit. tunekit validates on the dataset's validation split (passed as "
                "`validation_data`) and retrains on train+validation: remove "
                "`validation_split` from your fit."
            )
        received = kwargs.get("callbacks") or []
        missing = [c for c in self.required if not any(c is r for r in received)]
        if missing:
            names = ", ".join(type(c).__name__ for c in missing)
            raise HyperModelFitError(
                f"The hypermodel's fit calls model.fit without the callbacks tunekit passes "
                f"it in `callbacks` ({names}): checkpoints, the NaN check, TensorBoard and the "
                "retrain's schedule would be lost. Pass yours as "
                "`model.fit(*args, callbacks=[my_callback], **kwargs)` (tunekit adds its own) "
                "or keep `kwargs['callbacks']` in the list you pass."
            )
        self.calls += 1
        received_x = args[0] if args else kwargs.get("x")
        received_y = args[1] if len(args) > 1 else kwargs.get("y")
        changed = changes(received_x, received_y, self.passed_x, self.passed_y)
        self.x_changed, self.y_changed = self.x_changed or changed[0], self.y_changed or changed[1]
        mine, ours = (
            (received_x, kwargs.get("validation_data")),
            (self.passed_x, self.passed_validation),
        )
        if self.own and (leak := held_out_refusal(self.owner, mine, ours, self.held_out)):
            raise HyperModelFitError(leak)
        self.last_kwargs = {
            k: v for k, v in kwargs.items() if k not in ("validation_data", "callbacks")
        }
        self.last_callbacks = list(kwargs.get("callbacks") or [])
        cw = self.class_weight
        if self.own and (conflict := fr.weights_refusal(self.owner, kwargs, cw, received_x)):
            raise HyperModelFitError(conflict)
        try:
            history = self.fit(*args, **kwargs)
        except (ValueError, TypeError) as e:  # Keras refusing the call's arguments
            refused = fr.refused_arguments(self.owner, e, kwargs, self.class_weight)
            if not self.own or refused is None or isinstance(e, _OURS):
                raise
            raise HyperModelFitError(refused) from e
        self.stages.append((kwargs.get("epochs"), len(getattr(history, "epoch", None) or ())))
        return history


_OURS = (TunekitError, kt_errors.FatalError)  # raised by callbacks: not Keras's refusal


def _name(hypermodel: Any) -> str:
    return type(hypermodel).__name__
