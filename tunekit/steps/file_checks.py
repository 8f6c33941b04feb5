"""Each trial's `.keras` file, and the chosen configuration's before the retrain trains it.

The check before training (`tunekit.steps.check.check_model`) saves the model built
with the default hyperparameters and loads it back (`check_round_trip`): the retrain
saves the final model the same way (`tunekit.model_files.save_keras`) and the report
tests the file it saved. A configuration the search picks can build another model than
the default's: a layer of the user's that only `hp.Boolean("extra")` adds. Before, such
a model trained in its trials and won; a save that raised then (a `get_config` of the
user's that raises `AttributeError`) failed the run with Keras's raw error after the
retrain had trained it, and again on every rerun. Now:

- each trial's model, before it trains (`check_trial_file`, from
  `tunekit.steps.trial_checks.check_trial_model`): saved as the retrain saves it (whole,
  or its weights only) and the file's weights loaded back into it. No other model is
  built, so the trial's random draws are those it had without the check; the weights
  loaded are its own, unchanged. It is done once for each set of the classes and
  functions a model is made of (`file_kinds`: its layers', their initializers',
  regularizers', constraints' and activations', its compiled loss's, metrics' and
  optimizer's), since those decide what a save can do: a search whose models differ in
  their widths, rates and depths pays it once per phase (about 0.1 s for a small model,
  2.4 s for one of 23 million parameters; 0.3 ms for a model of classes met before). A
  model that fails is refused (`ModelCheckError`): its trial fails, naming its values
  and the fix, and the search goes on (`tunekit.trial_refusals`);
- the chosen configuration's model, before the retrain seeds and trains it
  (`check_chosen_file`): built afresh and made to take the whole trip the default's made
  (`check_round_trip`: loaded alone, or rebuilt with the file's weights); a refusal
  (`ModelSaveError`) names the trial and its values, and nothing is retrained. It
  catches what the once-per-classes check of the trials missed (an object whose save
  depends on its values, not its class) and the trials of a run an older tunekit made.
"""

from __future__ import annotations

import logging
import os
import tempfile
import types
from collections.abc import Iterator, Mapping
from typing import Any

import keras

from tunekit.errors import ModelCheckError, ModelSaveError
from tunekit.model_files import check_round_trip, restore_weights, save_advice, save_keras
from tunekit.outputs import build_on_samples
from tunekit.trial_refusals import trial_values

_logger = logging.getLogger(__name__)

__all__ = ["check_chosen_file", "check_retrain_file", "check_trial_file", "file_kinds"]

# What a layer holds that its file saves by class: the objects of its config.
_PARTS = (
    keras.initializers.Initializer,
    keras.regularizers.Regularizer,
    keras.constraints.Constraint,
)


def file_kinds(model: Any) -> frozenset[Any] | None:
    """The classes and functions a model's `.keras` file is made of, by module and name:
    its layers' (the model's own, nested ones too) and their initializers', regularizers',
    constraints' and functions' (an activation, a `Lambda`'s), then its compile
    settings' (`get_compile_config`: loss, metrics, optimizer). `None` when they cannot
    be read (a compile setting Keras cannot serialise): check the model whatever it is."""
    kinds: set[Any] = set()
    for layer in model._flatten_layers(include_self=True):
        kinds.add(_name(type(layer)))
        for value in vars(layer).values():
            if isinstance(value, _PARTS):
                kinds.add(_name(type(value)))
            elif isinstance(value, types.FunctionType):
                kinds.add(_name(value))
    try:
        compiled = model.get_compile_config() if getattr(model, "compiled", False) else {}
    except Exception:  # noqa: BLE001 - a setting Keras cannot serialise: checked each time
        return None
    kinds.update(_configs(compiled))
    return frozenset(kinds)


def _name(kind: Any) -> tuple[str, str]:
    """A class or function by its module and qualified name (a class a build defines anew
    each time is the same kind)."""
    return (str(getattr(kind, "__module__", "")), str(getattr(kind, "__qualname__", kind)))


def _configs(config: Any) -> Iterator[tuple[str, ...]]:
    """Each serialised object of a compile config: module, class and registered name (and a
    function's name)."""
    if isinstance(config, Mapping):
        if "class_name" in config:
            named = config.get("config") if config.get("class_name") == "function" else ""
            yield tuple(
                str(config.get(key) or "") for key in ("module", "class_name", "registered_name")
            ) + (str(named) if isinstance(named, str) else "",)
        for value in config.values():
            yield from _configs(value)
    elif isinstance(config, (list, tuple)):
        for value in config:
            yield from _configs(value)


def check_trial_file(model: Any, what: str, passed: set[frozenset[Any]]) -> None:
    """Refuses a trial's model whose `.keras` file the retrain could not write, or whose
    weights would not load back from it: saved as `save_keras` saves the final model, the
    file's weights loaded into `model` (its own, unchanged). Skipped for a model made of
    the classes of one that passed (`file_kinds` in `passed`, which this adds to) and for
    a file the disk would not take (the run's own writes name it).

    Args:
        model: The trial's built model (anything else is left alone).
        what: Names the trial's model (`tunekit.trial_refusals.trial_what`).
        passed: The `file_kinds` of the models that passed, kept between trials.

    Raises:
        ModelCheckError (a `ValueError`): Naming the trial's model, what Keras raised and
            the fix (`tunekit.model_files.save_advice`).
    """
    if not isinstance(model, keras.Model):
        return
    kinds = file_kinds(model)
    if kinds is not None and kinds in passed:
        return
    with tempfile.TemporaryDirectory(prefix="tunekit-trial-") as folder:
        path, saved = os.path.join(folder, "model.keras"), False
        try:
            save_keras(model, path)
            saved = True
            restore_weights(model, path)
        except OSError:
            return
        except Exception as e:  # noqa: BLE001 - any failure: the retrain's would be the same
            said = (
                f"cannot be saved as a .keras file ({save_advice(e, saved=False)}"
                if not saved
                else "is saved as a .keras file whose weights do not load back into it "
                f"({type(e).__name__}: {_line(e)}). tunekit saves the final model and tests "
                "the file it saved: give each layer of yours the same variables at every "
                "build, created in build() (and a save_own_variables()/load_own_variables() "
                "that read back what they write)."
            )
            raise ModelCheckError(
                f"{what} {said} Refused before it trains: the retrain of this configuration "
                "would fail after the search."
            ) from None
    if kinds is not None:
        passed.add(kinds)


def _line(error: BaseException) -> str:
    """An error's last line (or its type's name)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[-1]


def check_chosen_file(hypermodel: Any, hp: Any, data: Any, what: str) -> str | None:
    """The chosen configuration's model, built afresh from `hp` (on two samples of `data`
    if it is built lazily), through `check_round_trip`, before the retrain trains it; in a
    session of its own, cleared after, so the retrain's seeded build starts as before.

    Args:
        hypermodel: The run's hypermodel.
        hp: The chosen trial's `HyperParameters` (copied for each build).
        data: The run's data.
        what: Names the chosen model: "`hypermodel` (built with ...) builds a model that".

    Returns:
        What loading its `.keras` file alone needs (`check_round_trip`'s note), else
        `None`; `None` for a build that returns no `keras.Model`.

    Raises:
        ModelSaveError: As `check_round_trip`, naming the chosen model; nothing is
            retrained.
    """

    def build() -> Any:
        model = hypermodel.build(hp.copy())
        if isinstance(model, keras.Model):
            build_on_samples(model, data)
        return model

    keras.backend.clear_session()
    try:
        model = build()
        if not isinstance(model, keras.Model):
            return None
        try:
            return check_round_trip(model, build, what=what)
        except ModelSaveError as e:
            raise ModelSaveError(
                f"{e} Refused before the retrain trains it: the search's trials are kept, "
                "and a hypermodel fixed that way is a new run (overwrite=True, or another "
                "project_name=)."
            ) from None
    finally:
        keras.backend.clear_session()


def check_retrain_file(ctx: Any, phase: str, trial: Any) -> None:
    """`check_chosen_file` for the retrain of `phase`'s `trial` (the run `ctx`'s choice);
    what loading its file alone needs is logged now, before the retrain, unless the check
    before the search logged the same (`ctx.model_file_note`).

    Raises:
        ModelSaveError: See `check_chosen_file`.
    """
    hp = trial.hyperparameters
    what = (
        f"`hypermodel` (built with the values of {phase} trial {trial.trial_id}, "
        f"{trial_values(hp)}, the configuration chosen for the retrain) builds a model that"
    )
    note = check_chosen_file(ctx.hypermodel, hp, ctx.data, what)
    if note and note != getattr(ctx, "model_file_note", None):
        _logger.warning("%s", note)
