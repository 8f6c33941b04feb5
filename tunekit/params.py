"""`CoarseToFine`'s arguments: one table of their rules, read by the Python API and the CLI.

Each argument's type, range or choices, default, help text and command-line
flag is written once, in `PARAMETERS` (learnt from scikit-learn's
`_parameter_constraints` / `validate_params`). `CoarseToFine(...)` and
`narrow_space(...)` check their arguments with `validate_params`; the
command line (`tunekit.coarse_to_fine.build_parser`) builds each option's
`type=`, `choices=`, `default=` and "Default: ..." help from the same rows,
so a rule never exists in two places.

A value is valid if it satisfies ANY of its parameter's constraints (e.g.
`top` is an int >= 1, a count, or a float in (0, 1], a fraction). Bad values
raise `tunekit.errors.InvalidParameterError` (a `ValueError` and a
`TypeError`), whose message names the keyword: "`top` must be an int >= 1 (a
count) or a float in (0, 1] (a fraction). Received: top=0."

Rarely changed arguments are grouped in small frozen config objects,
`NarrowingConfig(top, margin)` and `RetrainConfig(final_epochs,
final_schedule)`, accepted by `CoarseToFine` as `narrowing=` / `retrain=`
next to the flat keywords (giving one setting both ways is an error).

This module imports nothing from Keras or KerasTuner. It is over 400 lines because
it is a table: one row per argument, and the table is the point (splitting the
rows from their rule types would scatter one rule's parts).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from tunekit.errors import InvalidParameterError
from tunekit.option_pairs import check_finalist_seeds, check_progress

__all__ = [
    "CLASS_WEIGHT_MODES",
    "CV_REFUSED",
    "DATA_PARAMETERS",
    "DEFAULT_OBJECTIVES",
    "FINE_TUNERS",
    "HYPERMODEL_PARAMETERS",
    "FINAL_SCHEDULES",
    "MIN_COARSE_TRIALS",
    "PARAMETERS",
    "POSITIVE_INT",
    "PROGRESS_MODES",
    "FinalSchedule",
    "FineTuner",
    "GIVEN_ONLY",
    "NarrowingConfig",
    "Param",
    "ProgressMode",
    "RetrainConfig",
    "TASKS",
    "Text",
    "check_cv",
    "check_param",
    "resolve_workflow_params",
    "document",
    "validate_params",
]

FineTuner = Literal["hyperband", "bayesian"]
ProgressMode = Literal["auto", "bar", "plain"]
FinalSchedule = Literal["cosine", "constant"]
FINE_TUNERS: tuple[str, ...] = get_args(FineTuner)
FINAL_SCHEDULES: tuple[str, ...] = get_args(FinalSchedule)
PROGRESS_MODES: tuple[str, ...] = get_args(ProgressMode)
# Seeds reach NumPy and KerasTuner as `seed + 1` (and `seed + i` for finalists and final
# seeds, at most MAX_EXTRA_SEEDS of them): NumPy takes seeds below 2**32. (Extra seeds had
# no bound: `seed=MAX_SEED, final_seeds=2000` failed in keras.utils.set_random_seed after
# the searches and 1,023 retrains.)
MAX_SEED = 2**32 - 1024
MAX_EXTRA_SEEDS = 1000
MAX_PORT = 65535
MIN_COARSE_TRIALS = 3  # `narrow_space`'s default `min_trials`
# `tunekit.data.TASKS` and `tunekit.data.CLASS_WEIGHT_MODES`, repeated so this module
# imports no data code (a test keeps them equal).
TASKS: tuple[str, ...] = ("classification", "regression")
CLASS_WEIGHT_MODES: tuple[str, ...] = ("balanced",)
# `CoarseToFine`'s objective when none is given: what the task's bundled hypermodels report.
DEFAULT_OBJECTIVES: dict[str, str] = {"classification": "val_accuracy", "regression": "val_loss"}


# -- constraints -------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """Numbers of one kind within bounds (`None`: unbounded on that side).

    Attributes:
        kind: `"int"` (an integral number, not a bool), `"float"` (a real
            number that is not integral: a fraction, as opposed to a count)
            or `"real"` (any real number, not a bool). Floats must be finite.
        low: Lower bound, or `None`.
        high: Upper bound, or `None`.
        closed: Which bounds belong to the interval: `"both"`, `"left"`,
            `"right"` or `"neither"`.
        meaning: What such a value means for its parameter (`"a count"`),
            shown after the range when a parameter takes several kinds.
    """

    kind: Literal["int", "float", "real"]
    low: float | None = None
    high: float | None = None
    closed: Literal["both", "left", "right", "neither"] = "both"
    meaning: str = ""

    def accepts(self, value: object) -> bool:
        """Whether `value` is a number of this kind within the bounds."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.kind == "int" and not isinstance(value, numbers.Integral):
            return False
        if self.kind == "float" and isinstance(value, numbers.Integral):
            return False
        number = float(value)
        if not math.isfinite(number):
            return False
        if self.low is not None and not (
            number >= self.low if self.closed in ("both", "left") else number > self.low
        ):
            return False
        return self.high is None or (
            number <= self.high if self.closed in ("both", "right") else number < self.high
        )

    def normalize(self, value: Any) -> int | float:
        """`value` as a plain Python `int` / `float` (e.g. from a NumPy scalar)."""
        return int(value) if self.kind == "int" else float(value)

    def from_text(self, text: str) -> int | float:
        """`text` parsed as this kind of number; raises `ValueError` if it is not one."""
        return int(text) if self.kind == "int" else float(text)

    def __str__(self) -> str:
        noun = {"int": "an int", "float": "a float", "real": "a finite number"}[self.kind]
        if self.low is not None and self.high is not None:
            left = "[" if self.closed in ("both", "left") else "("
            right = "]" if self.closed in ("both", "right") else ")"
            text = f"{noun} in {left}{_number(self.low)}, {_number(self.high)}{right}"
        elif self.low is not None:
            sign = ">=" if self.closed in ("both", "left") else ">"
            text = f"{noun} {sign} {_number(self.low)}"
        elif self.high is not None:
            sign = "<=" if self.closed in ("both", "right") else "<"
            text = f"{noun} {sign} {_number(self.high)}"
        else:
            text = noun
        return f"{text} ({self.meaning})" if self.meaning else text


@dataclass(frozen=True)
class Options:
    """One of a fixed set of strings (a `Literal` type's values)."""

    values: tuple[str, ...]

    def accepts(self, value: object) -> bool:
        """Whether `value` is one of the strings."""
        return isinstance(value, str) and value in self.values

    def normalize(self, value: Any) -> str:
        """`value` itself (a `str`)."""
        return str(value)

    def from_text(self, text: str) -> str:
        """`text` itself if it is one of the strings; raises `ValueError` otherwise."""
        if text not in self.values:
            raise ValueError(text)
        return text

    def __str__(self) -> str:
        if len(self.values) == 1:
            return repr(self.values[0])
        return f"one of {list(self.values)}"


@dataclass(frozen=True)
class Boolean:
    """`True` or `False` (a NumPy bool too)."""

    def accepts(self, value: object) -> bool:
        """Whether `value` is a bool."""
        if isinstance(value, bool):
            return True
        dtype = getattr(value, "dtype", None)  # a NumPy bool scalar, without importing NumPy
        return getattr(dtype, "kind", None) == "b" and getattr(value, "ndim", None) == 0

    def normalize(self, value: Any) -> bool:
        """`value` as a plain Python `bool`."""
        return bool(value)

    def from_text(self, text: str) -> bool:
        """Booleans are flags on the command line, not values; always raises `ValueError`."""
        raise ValueError(text)

    def __str__(self) -> str:
        return "True or False"


@dataclass(frozen=True)
class Text:
    """Any non-empty string (e.g. a column name)."""

    def accepts(self, value: object) -> bool:
        """Whether `value` is a non-empty `str`."""
        return isinstance(value, str) and bool(value)

    def normalize(self, value: Any) -> str:
        """`value` itself (a `str`)."""
        return str(value)

    def from_text(self, text: str) -> str:
        """`text` itself; raises `ValueError` if it is empty."""
        if not text:
            raise ValueError(text)
        return text

    def __str__(self) -> str:
        return "a non-empty string"


@dataclass(frozen=True)
class ClassWeights:
    """Keras's `class_weight`: `{class: weight}`, weights finite >= 0, one above 0.

    A class is keyed by an int (a class id, or the label itself when integer
    labels were renumbered by value), a whole-number float (as an int), a bool
    (bool labels) or a class name (str); `tunekit.data.class_weights` refuses
    keys the data's classes do not match, naming them. Digit strings are ints
    (a dict read back from JSON). Python only: the command line has no text
    form for it (`from_text` always refuses).
    """

    def accepts(self, value: object) -> bool:
        """Whether `value` is a non-empty dict of classes to weights, one above 0."""
        if not isinstance(value, Mapping) or not value:
            return False
        for key, weight in value.items():
            if not _class_key(key):
                return False
            if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
                return False
            if not math.isfinite(float(weight)) or float(weight) < 0:
                return False
        if len({_key(k) for k in value}) < len(value):
            return False  # one class twice: {2: 1.0, "2": 3.0}
        return any(float(w) > 0 for w in value.values())

    def normalize(self, value: Any) -> dict[int | str, float]:
        """`{key: float weight}`: ints (whole floats, digit strings) first, by value,
        then names (bools as `"False"` / `"True"`, the names of bool labels)."""
        keys = {_key(k): float(w) for k, w in value.items()}
        return dict(sorted(keys.items(), key=lambda kw: (isinstance(kw[0], str), kw[0])))

    def from_text(self, text: str) -> dict[int, float]:
        """No text form on the command line; always raises `ValueError`."""
        raise ValueError(text)

    def __str__(self) -> str:
        return (
            "a dict {class: weight >= 0, one at least > 0}, keyed by class id, by the labels "
            "themselves when integer labels were renumbered (labels 1/2), or by class name"
        )


def _class_key(key: object) -> bool:
    """Whether `key` can name a class in `class_weight` (see `ClassWeights`)."""
    if isinstance(key, (bool, np.bool_, str, numbers.Integral)):
        return bool(key) or not isinstance(key, str)
    return isinstance(key, numbers.Real) and math.isfinite(key) and float(key).is_integer()


def _key(key: Any) -> int | str:
    """A `class_weight` key normalised: an int, or a class name."""
    if isinstance(key, (bool, np.bool_)):
        return str(bool(key))
    if isinstance(key, str):
        return int(key) if re.fullmatch(r"-?[0-9]+", key) else str(key)
    return int(key)


Constraint = Interval | Options | Boolean | Text | ClassWeights


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# -- the table ---------------------------------------------------------------------

#: What a `cv` that is no int >= 1 is told (`Param.refused`; also `tunekit.tuners`' own check):
#: what cv=K does (`tunekit.cv.fold_indices`), and that splitter objects are not taken.
CV_REFUSED = (
    "cv=K is the number of folds: tunekit splits train+validation itself, with "
    "scikit-learn's StratifiedKFold(n_splits=K, shuffle=True, random_state=seed) for class "
    "labels (and one-hot rows), KFold(n_splits=K, shuffle=True, random_state=seed) otherwise "
    "(regression targets, a dict of targets), seed being the run's seed. A scikit-learn "
    "splitter object (StratifiedKFold(3), ShuffleSplit(3), GroupKFold(3), ...) and groups are "
    "not supported: pass the number of folds, e.g. cv=3; with groups, rows of one group may "
    "then fall in both a fold's training and its validation part. cv=1, the default, runs no "
    "cross-validation (scikit-learn's cv=None means 5 folds there: say cv=5 here)."
)


@dataclass(frozen=True)
class Param:
    """One argument of `CoarseToFine`: its rules, default, help and flag.

    Attributes:
        name: The keyword argument.
        constraints: A value is valid if it satisfies any of them.
        default: The value used when the argument is not given.
        help: One or two sentences for `--help` and the docstring, without
            the default (appended from `default`).
        flag: The command-line option (`None`: the CLI has no such option,
            or spells it differently, e.g. `verbose` is `--quiet`).
        group: The config object holding it (`"narrowing"`, `"retrain"`),
            or `None` for a top-level argument.
        why: Why the range is what it is, added to error messages.
        refused: What an invalid value's error adds before the value received (what
            the argument does, what it does not take), not said in the help.
    """

    name: str
    constraints: tuple[Constraint, ...]
    default: Any
    help: str
    flag: str | None = None
    group: str | None = None
    why: str = ""
    refused: str = ""

    @property
    def expected(self) -> str:
        """What a valid value is, in words (`"an int >= 1"`)."""
        text = " or ".join(str(c) for c in self.constraints)
        return f"{text}: {self.why}" if self.why else text

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The allowed strings, if the parameter is a string enum only (on the command
        line: `class_weight`'s dict has no text form)."""
        options = [c for c in self.constraints if isinstance(c, Options)]
        text = [c for c in self.constraints if not isinstance(c, ClassWeights)]
        if len(options) == 1 and text == options:
            return options[0].values
        return None

    def check(self, value: Any) -> Any:
        """`value`, normalised (plain `int`/`float`/`bool`), if valid.

        Raises:
            InvalidParameterError: `value` satisfies none of the constraints;
                the message names the keyword and the value received.
        """
        for constraint in self.constraints:
            if constraint.accepts(value):
                return constraint.normalize(value)
        refused = f" {self.refused}" if self.refused else ""
        raise InvalidParameterError(
            f"`{self.name}` must be {self.expected}.{refused} Received: {self.name}={value!r}."
        )

    def from_text(self, text: str) -> Any:
        """A command-line value parsed and checked by the same constraints as `check`.

        Raises:
            ValueError: `text` is no valid value; the message says what is
                expected (`"must be an int >= 1, got '0'"`).
        """
        for constraint in self.constraints:
            try:
                value = constraint.from_text(text)
            except ValueError:
                continue
            if constraint.accepts(value):
                return constraint.normalize(value)
        refused = f". {self.refused}" if self.refused else ""
        raise ValueError(f"must be {self.expected}, got {text!r}{refused}")

    @property
    def default_text(self) -> str:
        """The default as `--help` shows it (`0.25`, `auto`, `none`)."""
        return "none" if self.default is None else str(self.default)


POSITIVE_INT: tuple[Constraint, ...] = (Interval("int", 1),)
SEED_COUNT: tuple[Constraint, ...] = (Interval("int", 1, MAX_EXTRA_SEEDS),)

PARAMETERS: dict[str, Param] = {
    p.name: p
    for p in [
        Param(
            "coarse_trials",
            (Interval("int", MIN_COARSE_TRIALS),),
            20,
            "Trials of the coarse RandomSearch.",
            "--coarse-trials",
            why=f"the narrowing needs {MIN_COARSE_TRIALS} completed coarse trials",
        ),
        Param("coarse_epochs", POSITIVE_INT, 2, "Epochs per coarse trial.", "--coarse-epochs"),
        Param(
            "defaults_first",
            (Boolean(),),
            True,
            "The first coarse trial is the hypermodel's default configuration (the rest "
            "are random).",
            "--no-defaults-first",
        ),
        Param(
            "fine_tuner",
            (Options(FINE_TUNERS),),
            "hyperband",
            "Search in the narrowed space.",
            "--fine-tuner",
        ),
        Param(
            "fine_trials",
            POSITIVE_INT,
            10,
            "Trials of a bayesian fine search (refused with hyperband, which would drop it).",
            "--fine-trials",
        ),
        Param(
            "max_epochs",
            POSITIVE_INT,
            20,
            "Hyperband max_epochs, or epochs per bayesian trial.",
            "--max-epochs",
        ),
        Param(
            "factor",
            (Interval("int", 2),),
            3,
            "Hyperband reduction factor (refused with bayesian, which would drop it).",
            "--factor",
        ),
        Param(
            "top",
            (
                Interval("int", 1, meaning="a count"),
                Interval("float", 0, 1, closed="right", meaning="a fraction"),
            ),
            0.25,
            "Coarse trials the narrowing keeps: a count, or a fraction of the usable ones.",
            "--top",
            group="narrowing",
        ),
        Param(
            "margin",
            (Interval("real", 0),),
            0.1,
            "Narrowing margin: each side of a numeric range is widened by margin times the "
            "larger of its width and 10% of the original width (at least one step when the "
            "hyperparameter has a step and margin > 0).",
            "--margin",
            group="narrowing",
        ),
        Param(
            "final_epochs",
            (Options(("auto",)), Interval("int", 1)),
            "auto",
            "Epochs of the final retrain: 'auto' (counted from epoch 0 and unscaled: the "
            "length the chosen trial trained under the cosine schedule, its best epoch "
            "under constant, or max_epochs if it was still improving at its last epoch; "
            "see tunekit.retraining.final_epochs) or an int.",
            "--final-epochs",
            group="retrain",
        ),
        Param(
            "final_schedule",
            (Options(FINAL_SCHEDULES),),
            "cosine",
            "Learning rate of the final retrain: cosine anneals the tuned rate to about 0 "
            "over the final epochs (tunekit.retraining.CosineDecayCallback); constant keeps "
            "it.",
            "--final-schedule",
            group="retrain",
        ),
        Param(
            "batch_size",
            POSITIVE_INT,
            128,
            "Batch size, unless your hypermodel's own fit sets one; on the command line also "
            "an image folder's batches. Arrays only from Python: refused with a stream "
            "(tf.data, PyDataset), which is fitted in the batches it yields (batch it "
            "yourself).",
            "--batch-size",
        ),
        Param(
            "executions_per_trial",
            POSITIVE_INT,
            1,
            "Fits per trial. The score is the mean of each fit's best score (KerasTuner's); "
            "with cv=K, each fold's fits too, and the score is the mean curve over the folds "
            "and fits at its best epoch.",
            "--executions-per-trial",
        ),
        Param(
            "max_model_size",
            POSITIVE_INT,
            None,
            "KerasTuner's limit on a model's size, in parameters (as reported: trainable and "
            "not). Both searches reject a configuration whose model is larger when it is "
            "proposed, by building it without training (a fraction of a second): it is not a "
            "trial, "
            "never trains and cannot win, and another is proposed (Bayesian and Hyperband "
            "included); report.json counts the rejected ones per phase. The retrain and "
            "baseline rebuild chosen configurations and are not limited. Unset (Python: "
            "None): no limit.",
            "--max-model-size",
        ),
        Param(
            "max_retries_per_trial",
            (Interval("int", 0),),
            0,
            "KerasTuner's retries of a trial whose fit raised an error, before it is FAILED. "
            "A retry has the trial's own seed: an error drawn from the seeded random "
            "generators (Python's random, NumPy, Keras) recurs in it.",
            "--max-retries-per-trial",
        ),
        Param(
            "max_consecutive_failed_trials",
            POSITIVE_INT,
            3,
            "KerasTuner's stop: a search ends with an error after this many FAILED trials in "
            "a row (a NaN loss fails a trial).",
            "--max-consecutive-failed-trials",
        ),
        Param(
            "cv",
            POSITIVE_INT,
            1,
            "Cross-validation folds per trial: each trial trains cv models on folds of "
            "train+validation (stratified by class; KFold for regression) and scores their "
            "mean, at cv times the cost. 1 scores trials on the validation split. Needs "
            "fine_tuner 'bayesian' (Hyperband cannot continue K fold models).",
            "--cv",
            refused=CV_REFUSED,
        ),
        Param(
            "seed",
            (Interval("int", 0, MAX_SEED),),
            0,
            "Seed of the whole run (sampling, initialisation, shuffling); 0 is a seed like "
            "any other.",
            "--seed",
        ),
        Param(
            "overwrite",
            (Boolean(),),
            False,
            "Delete the run folder's contents and start over (otherwise a rerun resumes).",
            "--overwrite",
        ),
        Param(
            "verbose",
            (Interval("int", 0), Boolean()),
            1,
            "1 reports progress per trial (see progress), the narrowing and the retrain; 0 "
            "none (the command line's --quiet). Progress lines go to the 'tunekit' logger at "
            "INFO level (a handler printing plain lines on stdout is added unless you gave "
            "that logger one): logging.getLogger('tunekit').setLevel(logging.WARNING) "
            "silences them.",
        ),
        Param(
            "progress",
            (Options(PROGRESS_MODES),),
            "auto",
            "How the search phases show their progress (unless verbose=0 / --quiet): bar draws a "
            "progress "
            "bar per phase (trials done / planned, best score so far, elapsed and remaining "
            "time); plain writes one line per trial; auto draws bars when standard output is "
            "an interactive terminal (TERM not dumb, CI unset), else plain lines. Refused "
            "with verbose=0 (--quiet), which would drop it.",
            "--progress",
        ),
        Param(
            "finalists",
            (Interval("int", 0),),
            0,
            "Top configurations (by score, both phases) retrained with other seeds before "
            "the pick, which is by mean validation score; 0 or 1: off (the default: measured "
            "over 10 runs it never moved the pick, README Benchmarks), 3 is a good choice.",
            "--finalists",
        ),
        Param(
            "finalist_seeds",
            SEED_COUNT,
            2,
            "Extra seeds per finalist (the trial's own score counts as one more); refused "
            "with finalists 0 or 1, which would drop it.",
            "--finalist-seeds",
        ),
        Param(
            "baseline",
            (Boolean(),),
            True,
            "Retrain the hypermodel's default configuration by the same rule as the winner "
            "and compare it with the tuned model on the test set.",
            "--no-baseline",
        ),
        Param(
            "final_seeds",
            SEED_COUNT,
            1,
            "Retrains of the winner (seeds seed, seed+1, ...) whose test metric is reported "
            "as mean and standard deviation; the saved model is the first seed's.",
            "--final-seeds",
        ),
        Param(
            "workers",
            POSITIVE_INT,
            1,
            "Processes that run the trials: 1 this one; N > 1 makes this process a chief on "
            "127.0.0.1 serving KerasTuner's oracle to N local worker processes (the CLI's "
            "--workers N). Workers rebuild the run from <run>/workers/ (the data as "
            "data.npz, the hypermodel and callbacks pickled by reference), so those must "
            "be importable: defined in a module, not in __main__ or a notebook.",
        ),
        Param(
            "trials_per_process",
            POSITIVE_INT,
            None,
            "Trials each local worker process runs before a fresh process replaces it, "
            "so the memory Keras, TensorFlow and JAX gather trial after trial is given "
            "back (a search of hundreds of trials). With workers=1 this process becomes "
            "the chief of one local worker. Unset (Python: None): every trial in one "
            "process.",
            "--trials-per-process",
        ),
        Param(
            "class_weight",
            (Options(CLASS_WEIGHT_MODES), ClassWeights()),
            None,
            "Weigh each class in the loss of every trial and of the retrain: balanced is "
            "scikit-learn's n_samples / (n_classes * count), from the training split; from "
            "Python also Keras's own {class: weight}, keyed as Keras keys it by your labels "
            "(class ids, or labels 1/2 renumbered by value, False/True) or by class name "
            "(classes not named weigh 1) "
            "(classification only; None: every class weighs 1).",
            "--class-weight",
        ),
    ]
}

# How the command line loads its data (`--data`): arguments of the loaders
# (`tunekit.data.load_csv`, `load_npz`), not of `CoarseToFine`, so a table of their own.
DATA_PARAMETERS: dict[str, Param] = {
    p.name: p
    for p in [
        Param(
            "target",
            (Text(),),
            None,
            "The column to predict when --data is a CSV file (every other column is a "
            "numeric feature). Required for a CSV.",
            "--target",
        ),
        Param(
            "task",
            (Options(TASKS),),
            None,
            "classification or regression, instead of inferring it from the targets "
            "(integer class ids: classification; real values: regression).",
            "--task",
        ),
    ]
}

# Settings of the command line's bundled hypermodels (`--hypermodel toonvision-cnn`): arguments
# of the hypermodel, not of `CoarseToFine`, each chosen by the user, never from the data's name
# (`tunekit.hypermodel_specs.resolve_hypermodel`). A flag here is a `--x` / `--no-x` switch.
HYPERMODEL_PARAMETERS: dict[str, Param] = {
    p.name: p
    for p in [
        Param(
            "augment",
            (Boolean(),),
            False,
            "toonvision-cnn only: add a RandomFlip('horizontal') layer, which flips each "
            "training image left-right at random (not validation or test images). Turn it on "
            "only when a mirrored image keeps its label: not for digits or text. Refused with "
            "a hypermodel that has no augmentation (dense, mnist-dense, your own).",
            "--augment",
        ),
    ]
}


def document(names: Iterable[str], indent: int = 8, width: int = 80) -> str:
    """Google-style `Args:` entries for `names`, written from the table.

    Each entry is the row's help text, its rule and its default, so a
    docstring built with it (`CoarseToFine`'s) never disagrees with the
    validation or the command line.

    Args:
        names: Keys of `PARAMETERS`, in the order to document them.
        indent: Spaces before each entry's name. Defaults to 8.
        width: Line width to wrap at. Defaults to 80.

    Returns:
        The entries, one per name, newline-separated.
    """
    entries = []
    for name in names:
        param = PARAMETERS[name]
        default = "`None`: from its config object, else " if param.group else ""
        text = (
            f"{name}: {param.help} Must be {param.expected}. "
            f"Defaults to {default}`{param.default!r}`."
        )
        entries.append(
            textwrap.fill(
                text,
                width=width,
                initial_indent=" " * indent,
                subsequent_indent=" " * (indent + 4),
            )
        )
    return "\n".join(entries)


def check_param(name: str, value: Any, constraints: tuple[Constraint, ...]) -> Any:
    """Checks one argument outside the table (e.g. `narrow_space`'s `min_trials`).

    Returns:
        `value`, normalised.

    Raises:
        InvalidParameterError: `value` satisfies none of `constraints`.
    """
    return Param(name, constraints, None, "").check(value)


def check_cv(cv: int, fine_tuner: str, finalists: int = 0, *, tuner_given: bool = True) -> None:
    """Refuses cross-validation with what it cannot be combined with, saying why.

    Hyperband continues a trial from its parent trial's checkpoint (one
    model); a cross-validated trial trains one model per fold. The finalists'
    extra seeds are scored on the validation split, not comparable with a
    cross-validated score (which already averages `cv` fresh models).

    Args:
        cv: Folds per trial.
        fine_tuner: The fine tuner in effect.
        finalists: The run's `finalists`.
        tuner_given: Whether `fine_tuner` was given (else the message says it
            is the default fine tuner).

    Raises:
        InvalidParameterError: `cv` > 1 and `fine_tuner` is `"hyperband"`, or
            `cv` > 1 and `finalists` > 1 (the step would not run).
    """
    if cv > 1 and fine_tuner == "hyperband":
        raise InvalidParameterError(
            f"cv={cv} cannot be used with fine_tuner='hyperband'"
            f"{'' if tuner_given else ' (the default fine tuner)'}: "
            "Hyperband continues each trial from its parent trial's checkpoint, and a "
            "cross-validated trial trains one model per fold, which Hyperband cannot "
            "continue. Pass fine_tuner='bayesian' (its budget is fine_trials= and "
            "max_epochs=) to cross-validate both searches, or cv=1."
        )
    if cv > 1 and finalists > 1:
        raise InvalidParameterError(
            f"finalists={finalists} cannot be used with cv={cv}: a cross-validated score "
            f"already averages {cv} models trained on other folds, and the finalists' extra "
            "seeds would be scored on the plain validation split, not comparable with it. "
            "Pass finalists=0 (the default) to cross-validate, or cv=1 to re-check the "
            "finalists over seeds."
        )


# Each fine tuner's own budget: `None` (the signature's default) means "not given", and
# the other tuner's is refused (`check_fine_budget`).
TUNER_BUDGETS = ("fine_trials", "factor")
# Settings whose `None` in `CoarseToFine`'s signature means "not given" (the table's default
# applies), so that one given where it does not apply is refused, not dropped silently
# (`tunekit.option_pairs`), and a message can say "the default" only of what was not given.
GIVEN_ONLY = ("fine_tuner", *TUNER_BUDGETS, "batch_size", "finalist_seeds", "progress")


def check_fine_budget(
    fine_tuner: str, *, fine_trials: Any, factor: Any, flags: bool = False
) -> None:
    """Refuses a budget the chosen fine tuner does not use (it would be dropped silently).

    Args:
        fine_tuner: `"hyperband"` or `"bayesian"`.
        fine_trials: The Bayesian search's trial count as given, `None` if not given.
        factor: Hyperband's reduction factor as given, `None` if not given.
        flags: Name the command line's flags (`--fine-trials`) instead of keywords.

    Raises:
        InvalidParameterError: `fine_trials` with Hyperband, or `factor` with Bayesian.
    """
    name = (lambda key: f"--{key.replace('_', '-')}") if flags else (lambda key: f"{key}=")
    tuner = (lambda value: f"--fine-tuner {value}") if flags else (lambda v: f"fine_tuner={v!r}")
    if fine_tuner == "hyperband" and fine_trials is not None:
        raise InvalidParameterError(
            f"{name('fine_trials')} only applies to {tuner('bayesian')}; Hyperband's budget "
            f"is {name('max_epochs')} and {name('factor')}. Drop {name('fine_trials')}, or "
            f"pass {tuner('bayesian')}."
        )
    if fine_tuner == "bayesian" and factor is not None:
        raise InvalidParameterError(
            f"{name('factor')} only applies to {tuner('hyperband')}; the Bayesian search's "
            f"budget is {name('fine_trials')} and {name('max_epochs')}. Drop {name('factor')}, "
            f"or pass {tuner('hyperband')}."
        )


def validate_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """Checks arguments against `PARAMETERS`.

    Args:
        values: Keyword argument -> value, each name a key of `PARAMETERS`.

    Returns:
        The values, normalised (plain `int`, `float`, `bool`, `str`).

    Raises:
        InvalidParameterError: The first invalid value, by keyword.
    """
    return {name: PARAMETERS[name].check(value) for name, value in values.items()}


# -- grouped settings --------------------------------------------------------------


@dataclass(frozen=True)
class NarrowingConfig:
    """How the space is narrowed between the phases (see `tunekit.narrow_space`).

    Attributes:
        top: Top coarse trials kept: an int >= 1 (a count) or a float in
            (0, 1] (a fraction of the usable trials). Defaults to 0.25.
        margin: Each side of a numeric range is widened by `margin` times
            the top trials' span. Defaults to 0.1.

    Raises:
        InvalidParameterError: A value is invalid (named by its keyword).
    """

    top: float | int = PARAMETERS["top"].default
    margin: float = PARAMETERS["margin"].default

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass(frozen=True)
class RetrainConfig:
    """How the chosen configuration is retrained on train+validation.

    Attributes:
        final_epochs: `"auto"` (the length the chosen trial trained under
            the cosine schedule, its best epoch under constant; see
            `tunekit.retraining.final_epochs`) or an int >= 1. Defaults to
            `"auto"`.
        final_schedule: `"cosine"` anneals the tuned learning rate to about
            0; `"constant"` keeps it. Defaults to `"cosine"`.

    Raises:
        InvalidParameterError: A value is invalid (named by its keyword).
    """

    final_epochs: int | Literal["auto"] = PARAMETERS["final_epochs"].default
    final_schedule: FinalSchedule = PARAMETERS["final_schedule"].default

    def __post_init__(self) -> None:
        _check_fields(self)


def _check_fields(config: NarrowingConfig | RetrainConfig) -> None:
    for field in dataclasses.fields(config):
        value = PARAMETERS[field.name].check(getattr(config, field.name))
        object.__setattr__(config, field.name, value)


_GROUPS: dict[str, type[NarrowingConfig] | type[RetrainConfig]] = {
    "narrowing": NarrowingConfig,
    "retrain": RetrainConfig,
}


def resolve_workflow_params(values: Mapping[str, Any], **groups: Any) -> dict[str, Any]:
    """`CoarseToFine`'s settings: flat keywords and config objects merged, checked, defaulted.

    Args:
        values: Keyword -> value for keys of `PARAMETERS`; `None` for a
            grouped setting (`top`, `margin`, `final_epochs`,
            `final_schedule`) and for `GIVEN_ONLY` (`fine_tuner`,
            `fine_trials`, `factor`, `batch_size`, `finalist_seeds`,
            `progress`) means "not given".
        **groups: `narrowing=` a `NarrowingConfig` or `None`, `retrain=` a
            `RetrainConfig` or `None`.

    Returns:
        Every checked value by keyword, grouped ones taken from their
        keyword, else from their config object, else the default.

    Raises:
        InvalidParameterError: A value is invalid, a config object has the
            wrong type, one setting is given both ways, `cv` > 1 with
            `fine_tuner="hyperband"` (see `check_cv`), a budget the fine
            tuner does not use (see `check_fine_budget`), `finalist_seeds`
            given with `finalists` <= 1 or `progress` given with `verbose=0`
            (see `tunekit.option_pairs`).
    """
    merged = dict(values)
    given = {name: merged.get(name) for name in GIVEN_ONLY}
    for name in GIVEN_ONLY:  # None: "not given", the table's default
        if name in merged and merged[name] is None:
            merged[name] = PARAMETERS[name].default
    for group, config in groups.items():
        cls = _GROUPS[group]
        if config is None:
            continue
        if not isinstance(config, cls):
            raise InvalidParameterError(
                f"`{group}` must be a tunekit.{cls.__name__} or None. Received: {group}={config!r}."
            )
        for field in dataclasses.fields(config):
            if merged.get(field.name) is not None:
                raise InvalidParameterError(
                    f"`{field.name}` is given twice: {field.name}={merged[field.name]!r} and "
                    f"{group}={config!r}. Pass it once (either keyword)."
                )
            merged[field.name] = getattr(config, field.name)
    for name, param in PARAMETERS.items():
        if param.group is not None and merged.get(name) is None:
            merged[name] = param.default
    settings = validate_params(merged)
    check_fine_budget(
        settings.get("fine_tuner", PARAMETERS["fine_tuner"].default),
        fine_trials=given["fine_trials"],
        factor=given["factor"],
    )
    if "cv" in settings:
        check_cv(
            settings["cv"],
            settings.get("fine_tuner", PARAMETERS["fine_tuner"].default),
            settings.get("finalists", 0),
            tuner_given=given["fine_tuner"] is not None,
        )
    if "finalists" in settings:
        check_finalist_seeds(settings["finalists"], given["finalist_seeds"])
    if "verbose" in settings:
        check_progress(settings["verbose"], given["progress"])
    return settings
