"""The Keras metric and loss names whose direction is certain, and close names.

`KNOWN_DIRECTIONS` lists the names (without `val_`) that Keras logs for its
own metrics and losses and for which higher or lower is certainly better;
`tunekit.objectives` reads a bare objective's direction from it.
`close_known_name` finds a known name close to a bare one of unknown direction,
for a likely typo (`val_aucc`), so the refusal says the name instead of only
asking for a direction that would let the typo train a first trial.
"""

from __future__ import annotations

import difflib
import re

__all__ = ["KNOWN_DIRECTIONS", "close_known_name"]

_LOWER_IS_BETTER = (
    "loss",
    # The names KerasTuner's `infer_metric_direction` special-cases (after Keras's
    # `loss="crossentropy"` / `"ce"`, which pick the binary/categorical/sparse one).
    "crossentropy",
    "ce",
    "mean_squared_error",
    "mse",
    "root_mean_squared_error",
    "rmse",
    "mean_absolute_error",
    "mae",
    "mean_absolute_percentage_error",
    "mape",
    "mean_squared_logarithmic_error",
    "msle",
    "logcosh",
    "log_cosh",
    "log_cosh_error",
    "kl_divergence",
    "kld",
    "kullback_leibler_divergence",
    "poisson",
    "huber",
    "huber_loss",  # `keras.losses.Huber().name`
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "binary_crossentropy",
    "bce",  # `metrics=["bce"]` logs `bce`
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
    "ctc",
    "circle",
    # Keras's upper-case aliases: `metrics=["MSE"]` logs `MSE` (KerasTuner: 'min')
    "MSE",
    "MAE",
    "MAPE",
    "MSLE",
    "BCE",
    "KLD",
    # Not `dice` or `tversky`: Keras's losses of those names are lower-is-better, but a
    # model's own metric of that name is most often the coefficient (higher is better),
    # and a bare name must never rank the trials the wrong way round; `cosine_similarity`
    # is both a Keras metric (max) and a Keras loss (min).
)
_HIGHER_IS_BETTER = (
    "accuracy",
    "acc",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "auc",
    "precision",
    "recall",
    "precision_at_recall",
    "recall_at_precision",
    "sensitivity_at_specificity",
    "specificity_at_sensitivity",
    "f1_score",
    "fbeta_score",
    "r2_score",
    "iou",
    "mean_iou",
    "binary_iou",
    "one_hot_iou",
    "one_hot_mean_iou",
    # what Keras names them (`keras.metrics.MeanIoU(2).name == "mean_io_u"`)
    "io_u",
    "mean_io_u",
    "binary_io_u",
    "one_hot_io_u",
    "one_hot_mean_io_u",
    "pearson_correlation",
    "concordance_correlation",
)
#: Keras metric names (without `val_`) whose direction is certain.
KNOWN_DIRECTIONS: dict[str, str] = {
    **{name: "min" for name in _LOWER_IS_BETTER},
    **{name: "max" for name in _HIGHER_IS_BETTER},
}
_PARTS = re.compile(r"^(val_)?(weighted_)?(.*?)(_\d+)?$")


def keras_spelling(name: str) -> str:
    """`name` as Keras writes a metric's name: lower case, words joined by `_`, validation
    as `val_`. `VAL_ACCURACY`, `Val-accuracy`, `val.accuracy`, `validation_accuracy` and
    `valaccuracy` (`val` before a known name) are all `val_accuracy`."""
    spelled = re.sub(r"^validation_?", "val_", re.sub(r"[-. ]+", "_", name.casefold()))
    if re.match(r"val(?!_)", spelled) and spelled[3:] in KNOWN_DIRECTIONS:
        spelled = f"val_{spelled[3:]}"
    return spelled


def misspelt(name: str) -> bool:
    """Whether `name` writes a validation metric's name otherwise than Keras does in its
    prefix or separators (`VAL_`, `Val_`, `validation_`, `valaccuracy`, `val-`, `val.`):
    a metric of the user's own named in capitals after `val_` (`val_AUC`) is not."""
    spelled = keras_spelling(name)
    return spelled.startswith("val_") and (
        not name.startswith("val_") or re.search(r"[-. ]", name) is not None
    )


def close_known_name(name: str) -> str | None:
    """A known metric name close to `name` (a likely typo of it), or `None`.

    Compares `name` without its `val_` / `weighted_` prefix and Keras's `_1`
    numbering with the keys of `KNOWN_DIRECTIONS` (`difflib`, similarity at
    least 0.8), and puts the prefix and numbering back: `"val_aucc"` gives
    `"val_auc"`, `"val_precison_1"` `"val_precision_1"`. A name that ends in a
    known one after a `_` (`val_not_accuracy`, `val_digit_loss`) is a metric
    of the model's own or of one of its outputs, not a typo: `None`.

    Args:
        name: A bare metric name of unknown direction, e.g. `"val_aucc"`.

    Returns:
        The close known name, prefix and numbering kept, or `None`.
    """
    spelled = keras_spelling(name)  # VAL_ACCURACY, val-accuracy: not `accuracy`
    match = _PARTS.match(spelled)
    if misspelt(name) and match is not None and match.group(3) in KNOWN_DIRECTIONS:
        return spelled
    match = _PARTS.match(name)
    if match is None:  # pragma: no cover (the pattern matches any string)
        return None
    val, weighted, base, number = match.groups()
    if not base or any(base.endswith(f"_{known}") for known in KNOWN_DIRECTIONS):
        return None
    close = difflib.get_close_matches(base, KNOWN_DIRECTIONS, n=1, cutoff=0.8)
    if not close or close[0] == base:
        return None
    return f"{val or ''}{weighted or ''}{close[0]}{number or ''}"
