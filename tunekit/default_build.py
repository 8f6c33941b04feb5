"""The builds tunekit's checks make before any training, and their one refusal.

Before any trial tunekit builds the hypermodel with its default hyperparameters
several times: the model check (`tunekit.steps.check.check_model`), the
default model a run records (`tunekit.model_description`), the space it
declares (`declared_space`), the check of `hyperparameters=`
(`tunekit.steps.space_checks`) and of `max_model_size` (`tunekit.tuners.size_check`).
A build that raises in any of them (also one that raises only from its second
call: a layer held by the hypermodel and called again in each build) is the
same fault, so each of those builds goes through `build_with_defaults`: the
same `ModelCheckError` naming the error and the user's line, whichever
build met it first.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

from tunekit.errors import ModelCheckError, error_line

__all__ = ["build_error", "build_with_defaults"]


def build_with_defaults(hypermodel: Any, hp: Any) -> Any:
    """`hypermodel.build(hp)`, with a build that raises refused as `build_error` says.

    Args:
        hypermodel: A `keras_tuner.HyperModel`.
        hp: The `keras_tuner.HyperParameters` to build with (the defaults, the
            run's `hyperparameters=` first).

    Returns:
        What the build returns (a model; the hyperparameters it declares are in `hp`).

    Raises:
        ModelCheckError (a `ValueError`): The build raised any `Exception`.
    """
    try:
        return hypermodel.build(hp)
    except Exception as e:  # noqa: BLE001 - any error: KerasTuner's tuner would stop on it
        raise build_error(e) from e


def build_error(error: Exception) -> ModelCheckError:
    """The refusal of a hypermodel whose build raises with its default hyperparameters
    (`error` caught one frame above the build: that frame is not the user's)."""
    frames = traceback.extract_tb(error.__traceback__)[1:]  # [0]: the call above
    own = [f for f in frames if "site-packages" not in f.filename]  # the user's line first
    last = (own or frames)[-1:]
    where = "".join(f" (at {os.path.basename(f.filename)}:{f.lineno})" for f in last)
    return ModelCheckError(
        f"`hypermodel`'s build raised {error_line(error)}{where} when built "
        "with its default hyperparameters (each hyperparameter's default, or its first "
        "value). KerasTuner builds it that way to declare the search space before any "
        "trial, so no search can start: fix that line, or, if a hyperparameter's value "
        "causes the error, give that hyperparameter a default= that builds."
    )
