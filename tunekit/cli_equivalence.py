"""Whether a command line runs what a Python run ran: its "same settings on the command line".

`tunekit.reproduce.cli_equivalent` writes the command from a Python run's
settings; `command_differences` reads it back as the command line would, so
that a command is given only when it reproduces the run (else the report says
there is none, naming what the command line cannot say):

- the options: parsed by the command line's own parser
  (`tunekit.cli_parser.build_parser`: a value a flag refuses, such as a
  `class_weight` dict for `--class-weight`, is named), made `CoarseToFine`'s
  arguments as the command line makes them (`tunekit.cli_settings`,
  `resolve_workflow_params`) and compared with every setting of
  `tunekit.params.PARAMETERS` the run uses, the run folder and the objective;
- the data (`data_options`): `--data DATA` stands for the run's `Dataset`
  saved with `tunekit.data.save_npz`, with `--task`. Its labels are saved so
  (with placeholder inputs: the inputs are saved as they are) and read back by
  the command line's own loader with the command's options, and the task,
  classes, class names, label form, target widths and labels compared. MNIST,
  the command line's default data, is left out only when it is the MNIST the
  command line loads (same fingerprint). An image folder streamed from disk is
  `--data FOLDER` with its image size and batch size, when split and coloured
  as the command line does it. Other streams have no command line;
- the hypermodel: built as `--hypermodel` builds it, from this data, and
  described as `CoarseToFine.config()` describes the run's
  (`tunekit.hypermodel_use.recorded_values`: without what its build and
  fit write), and its default
  configuration's model built and compared with the run's
  (`tunekit.model_description`): an argument these descriptions miss (kept
  under another name, a function, a numpy scalar) changes that model.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tunekit.errors import TunekitError
from tunekit.params import DEFAULT_OBJECTIVES, PARAMETERS

__all__ = [
    "DATA_PLACEHOLDER",
    "command_differences",
    "data_options",
    "unused_settings",
]

# What `--data` says for a `Dataset`: the run's data saved with `tunekit.data.save_npz`.
DATA_PLACEHOLDER = "DATA"
_FOLDER_FACTORY = "tunekit.image_streams:image_folder_data"
# Loggers whose lines a read-back of the data would repeat (the run said them already).
_DATA_LOGGERS = ("tunekit.data", "tunekit.image_streams")


class _NoEquivalent(TunekitError):
    """The command line cannot say a setting of the run; the message names it and why."""


def unused_settings(run: Any) -> set[str]:
    """The table settings the run ignores, so that neither command needs them.

    `fine_trials` with Hyperband, `factor` with a Bayesian search, `finalists`
    with `cv` > 1 (off), `finalist_seeds` without finalists, `batch_size` with a
    stream (fitted in its own batches); `verbose` and `overwrite` do not change
    the run.
    """
    from tunekit.data import StreamData

    ignored = {"verbose", "overwrite"}
    if isinstance(run.data, StreamData):
        ignored.add("batch_size")
    ignored.add("fine_trials" if run.fine_tuner == "hyperband" else "factor")
    if run.cv > 1:
        ignored.add("finalists")
    if run.finalists <= 1:
        ignored.add("finalist_seeds")
    return ignored


def _folder_config(data: Any) -> dict[str, Any] | None:
    """The `image_folder_stream` settings of an image folder `StreamData`, else None."""
    definition = getattr(data, "definition", None) or {}
    if definition.get("factory") != _FOLDER_FACTORY:
        return None
    return dict((definition.get("kwargs") or {}).get("config") or {})


def data_options(run: Any) -> list[str]:
    """The options naming the run's data, or raises `_NoEquivalent`.

    A `Dataset`: `--data DATA --task TASK` (`DATA_PLACEHOLDER`: the data saved
    with `tunekit.data.save_npz`), or nothing for the MNIST the command line
    loads by default. An image folder streamed from disk: `--data FOLDER
    --image-size H W --batch-size B` (its batches are the stream's, whatever
    the run's `batch_size`).
    """
    from tunekit.data import Dataset, StreamData
    from tunekit.data.saving import npz_arrays

    data = run.data
    if isinstance(data, StreamData):
        config = _folder_config(data)
        if config is None:
            raise _NoEquivalent(
                "data= is a stream (tf.data or a PyDataset): the command line has no "
                "option for it (--data reads an .npz, a .csv or an image folder)"
            )
        height, width = config["image_size"]
        return [
            *("--data", str(config["root"]), "--image-size", str(height), str(width)),
            *("--batch-size", str(config["batch_size"])),
        ]
    if isinstance(data, Dataset) and _is_cli_mnist(data):
        return []
    try:
        npz_arrays(data)
    except TunekitError as e:
        raise _NoEquivalent(f"data=: {e}") from None
    return ["--data", DATA_PLACEHOLDER, "--task", str(data.task)]


def _local_mnist() -> str | None:
    """The file the command line's default data (MNIST) is read from here, if it is here.

    `$TUNEKIT_MNIST_PATH`, else Keras's download cache (never downloaded for this).
    """
    from tunekit.data import MNIST_ENV_VAR

    if os.environ.get(MNIST_ENV_VAR):
        return os.environ[MNIST_ENV_VAR]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    cached = os.path.join(home, "datasets", "mnist.npz")
    return cached if os.path.isfile(cached) else None


_MNIST_FINGERPRINTS: dict[tuple[str, int, int], str] = {}


def _is_cli_mnist(data: Any) -> bool:
    """Whether `data` is the MNIST the command line loads without `--data` (its fingerprint).

    Read once per file and process (seconds); `False` when that file is not here.
    """
    from tunekit.data import load_mnist

    wanted = inspect.signature(load_mnist).parameters["validation_size"].default
    if data.name != "mnist" or len(data.y_val) != wanted:  # a subset or another split
        return False
    path = _local_mnist()
    if path is None or not os.path.isfile(path):
        return False
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _MNIST_FINGERPRINTS:
        try:
            _MNIST_FINGERPRINTS[key] = load_mnist(path).fingerprint()
        except (TunekitError, OSError):
            return False
    return _MNIST_FINGERPRINTS[key] == data.fingerprint()


def _parse(argv: list[str], run: Any) -> argparse.Namespace:
    """`argv` parsed by the command line's parser; a refusal raises `_NoEquivalent`
    naming the run's setting whose flag was refused."""
    from tunekit.cli_parser import build_parser

    parser = build_parser()
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            return parser.parse_args(argv)
    except SystemExit:
        message = said.getvalue().strip().removeprefix("error: ")
        flag = re.search(r"argument (--[\w-]+)", message)
        dests = {o: a.dest for a in parser._actions for o in a.option_strings}
        name = dests.get(flag.group(1)) if flag else None
        setting = f"{name}={getattr(run, name)!r}: " if name in PARAMETERS else ""
        raise _NoEquivalent(f"{setting}the command line refuses it ({message})") from None


def command_differences(run: Any, argv: list[str]) -> list[str]:
    """What the command line given `argv` would run otherwise than `run`, in words.

    Empty when it runs the same settings, objective, data and hypermodel (see
    the module docstring). Raises `_NoEquivalent` when the parser refuses `argv`.
    """
    from tunekit.cli_settings import workflow_kwargs
    from tunekit.data import StreamData
    from tunekit.params import resolve_workflow_params

    args = _parse(argv, run)
    kwargs = workflow_kwargs(args)
    try:
        given = {k: v for k, v in kwargs.items() if k in PARAMETERS}
        settings = resolve_workflow_params(given)
    except TunekitError as e:
        return [f"the command line refuses its options ({e})"]
    settings["workers"] = args.workers
    ignored = unused_settings(run) | ({"batch_size"} if isinstance(run.data, StreamData) else set())
    found = []
    for name, param in PARAMETERS.items():
        ours, theirs = getattr(run, name, param.default), settings.get(name, param.default)
        if name not in ignored and ours != theirs:
            found.append(f"{name}={ours!r} (the command line would use {theirs!r})")
    folder = Path(kwargs["directory"]) / kwargs["project_name"]
    if folder != run.run_dir:
        found.append(f"the run folder {str(run.run_dir)!r} (the command line's: {str(folder)!r})")
    found += _objective_differences(run, args)
    data = _data_differences(run, args)
    return found + (data or _hypermodel_differences(run, args))


def _objective_differences(run: Any, args: argparse.Namespace) -> list[str]:
    from tunekit.objectives import parse_objective

    try:
        if args.objective is None:  # the task's default, as the command line takes it
            theirs = parse_objective(DEFAULT_OBJECTIVES[run.data.task])
        else:
            theirs = parse_objective(args.objective, args.direction, argument="--objective")
    except ValueError as e:
        return [f"the command line refuses its objective ({e})"]
    ours = (run.objective.name, run.objective.direction)
    if ours == theirs:
        return []
    return [f"objective={':'.join(ours)!r} (the command line would use {':'.join(theirs)!r})"]


@contextlib.contextmanager
def _quiet_data_logs() -> Iterator[None]:
    """Within the block, the data loaders' log lines are not shown (their levels restored)."""
    loggers = [logging.getLogger(name) for name in _DATA_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _data_differences(run: Any, args: argparse.Namespace) -> list[str]:
    """How the data the command line loads with `args` differs from the run's."""
    from tunekit.data import Dataset

    data = run.data
    if not isinstance(data, Dataset):
        return _folder_differences(run, args)
    if args.data is None:  # MNIST, when `data_options` found it the command line's
        return [] if _is_cli_mnist(data) else ["data= (the command line would load MNIST)"]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "DATA.npz")
        np.savez(path, **_labels_only(data))  # type: ignore[arg-type]
        try:
            with _quiet_data_logs():
                loaded = _load(args, path)
        except (TunekitError, ValueError) as e:
            said = str(e).replace(repr(path), "DATA").replace(path, "DATA")
            return [f"data= saved as an .npz (save_npz), which the command line refuses ({said})"]
    found = []
    for name in ("task", "num_classes", "class_names", "label_mode", "num_outputs"):
        ours, theirs = _plain(getattr(data, name)), _plain(getattr(loaded, name))
        if ours != theirs:
            found.append(
                f"data.{name}={ours!r} (the command line, reading this data from an .npz, "
                f"would take {theirs!r})"
            )
    for split in ("train", "val", "test") if not found else ():
        if not np.array_equal(getattr(data, f"y_{split}"), getattr(loaded, f"y_{split}")):
            found.append(f"data.y_{split} (the command line would read other labels)")
    return found


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (tuple, list)) else value


def _labels_only(data: Any) -> dict[str, np.ndarray]:
    """`save_npz`'s arrays of `data` with each `x` replaced by distinct placeholder rows.

    The inputs are saved as they are (float32, never divided again) and shape
    nothing the loader decides but the input shape; the labels decide the task,
    classes and label form. Two columns, so every row stays distinct in float32.
    """
    from tunekit.data.saving import npz_arrays

    arrays = npz_arrays(data)
    start = 0
    for split in ("train", "val", "test"):
        index = np.arange(start, start + len(arrays[f"y_{split}"]))
        arrays[f"x_{split}"] = np.stack([index >> 12, index & 4095], axis=1).astype(np.float32)
        start += len(index)
    return arrays


def _load(args: argparse.Namespace, path: str) -> Any:
    from tunekit.cli_data import load_data

    return load_data(argparse.Namespace(**{**vars(args), "data": path}))


def _folder_differences(run: Any, args: argparse.Namespace) -> list[str]:
    """How the image folder stream the command line makes with `args` differs from the run's.

    The command line splits with seed 0 and the default fractions, shuffles
    with `--seed`, and takes the folder's own colour mode, scaled to [0, 1]
    (`tunekit.cli_data.folder_stream`).
    """
    from tunekit.image_streams import folder_format, image_folder_stream

    config = _folder_config(run.data) or {}
    defaults = {
        name: p.default
        for name, p in inspect.signature(image_folder_stream).parameters.items()
        if name in ("validation_fraction", "test_fraction", "scale")
    }
    theirs = {
        **defaults,
        "root": str(Path(args.data).resolve()),
        "image_size": list(args.image_size or ()),
        "batch_size": args.batch_size,
        "seed": 0,
        "shuffle_seed": args.seed,
    }
    found = [
        f"the image folder stream's {name}={config.get(name)!r} (the command line's: {value!r})"
        for name, value in theirs.items()
        if config.get(name) != value
    ]
    try:
        with _quiet_data_logs():
            _, mode = folder_format(config["root"], getattr(run.data, "files", None))
    except (TunekitError, OSError) as e:
        return [*found, f"the image folder {config.get('root')!r} cannot be read ({e})"]
    if config.get("color_mode") != mode:
        found.append(
            f"the image folder stream's color_mode={config.get('color_mode')!r} (the command "
            f"line takes the folder's own, {mode!r})"
        )
    return found


def _hypermodel_differences(run: Any, args: argparse.Namespace) -> list[str]:
    """How the hypermodel `--hypermodel` builds from the run's data differs from the run's."""
    from tunekit._kerastuner import get_hypermodel
    from tunekit.hypermodel_specs import resolve_hypermodel
    from tunekit.hypermodel_state import KEY as HYPERMODEL_STATE
    from tunekit.hypermodel_use import recorded_values
    from tunekit.model_description import KEY as DEFAULT_MODEL
    from tunekit.model_description import built_default, model_differences
    from tunekit.object_settings import HYPERMODEL_SETTINGS

    try:
        built = resolve_hypermodel(args.hypermodel, augment=args.augment)(run.data)
    except Exception as e:  # noqa: BLE001 (the user's constructor: said, not raised)
        return [f"the hypermodel (--hypermodel {args.hypermodel} cannot build it here: {e})"]
    config = run.config()
    ours = {
        **config["hypermodel"],
        **config.get(HYPERMODEL_SETTINGS, {}),
        **config.get(HYPERMODEL_STATE, {}),
    }
    theirs = {k: v for values in recorded_values(built).values() for k, v in values.items()}
    found = [
        f"the hypermodel's {name}={ours.get(name)!r} (--hypermodel {args.hypermodel} "
        f"builds it with {theirs.get(name)!r})"
        for name in sorted(ours.keys() | theirs.keys())
        if ours.get(name) != theirs.get(name)
    ]
    try:  # what it builds: attributes miss an argument kept otherwise, a function, ...
        their_model = built_default(get_hypermodel(built))
    except Exception as e:  # noqa: BLE001 (the user's build: said, not raised)
        return [*found, f"the hypermodel (--hypermodel {args.hypermodel} cannot build it: {e})"]
    return found + model_differences(
        config.get(DEFAULT_MODEL),
        their_model,
        what=f"the default model of the run's hypermodel {config['hypermodel'].get('class')} "
        f"(-> --hypermodel {args.hypermodel}'s)",
    )
