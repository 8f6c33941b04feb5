"""The command line's data and backend: what `--data` names, and `--backend`'s choice.

`load_data` reads MNIST, an `.npz`, a `.csv` or an image folder (streamed
from disk, listed without importing Keras); `select_backend` sets
`KERAS_BACKEND` before Keras loads (probing both backends for `auto`);
`as_workflow_data` then turns an image folder stream into what
`CoarseToFine` takes.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tunekit import _native_logs, interrupts
from tunekit.errors import UsageError

__all__ = [
    "FOLDER_BATCH_SIZE",
    "QUICK_DATA",
    "as_workflow_data",
    "csv_columns",
    "folder_stream",
    "is_csv",
    "load_data",
    "select_backend",
]

QUICK_DATA = dict(num_train=5000, num_val=1000)


def is_csv(path: str) -> bool:
    """Whether `path` is an existing file named `*.csv` (any case)."""
    return os.path.isfile(path) and Path(path).suffix.lower() == ".csv"


def load_data(args: argparse.Namespace) -> Any:
    """The `Dataset` that `--data` (`--target`, `--task`, `--image-size`) names.

    Raises:
        UsageError: `--data` does not exist, or `--task regression` for
            labelled images (MNIST or a folder of class subfolders).
        DataError: The file's content is refused (messages name `target=` /
            `task=`, which `cli_message` turns into the flags).
    """
    from tunekit.data import REGRESSION, load_csv, load_mnist, load_npz
    from tunekit.data._split_sizes import made_by  # the remedies in the command line's words

    if args.task == REGRESSION and (args.data is None or os.path.isdir(args.data)):
        what = "MNIST" if args.data is None else f"the image folder {args.data!r}"
        raise UsageError(
            f"--task regression does not apply to {what}: its labels are classes (one per "
            "subfolder or digit). Leave out --task, or pass a .npz or .csv of real-valued "
            "targets as --data."
        )
    if args.data is None:
        data = load_mnist()
    elif os.path.isdir(args.data):
        return folder_stream(args)
    elif is_csv(args.data):
        with _data_warnings(), made_by("cli_csv"):
            data = load_csv(args.data, args.target, args.task)
    elif os.path.isfile(args.data):
        with _data_warnings(), made_by("cli_npz"):
            data = load_npz(args.data, task=args.task)
    else:
        raise UsageError(f"--data {args.data!r} does not exist: pass a .npz file or a folder.")
    # A stratified random sample, seeded with 0 whatever --seed (as a CSV's or a folder's
    # split): the same data for every run, so a rerun resumes on the same fingerprint.
    data = data.subset(**QUICK_DATA, seed=0) if args.quick else data
    if args.class_weight is not None:  # refused here, not after Keras and the hypermodel load
        from tunekit.data import class_weights

        class_weights(data, args.class_weight)
    return data


_logger = logging.getLogger("tunekit.data")
# Python's remedies in the data's warnings, as the command line gives them.
_CLI_REMEDIES = {
    'pass task="regression" to tune a regression': "pass --task regression to tune one",
    "give a test set (x_test= / y_test=) or validation_fraction=0 with cv=K": (
        "give a test set (an .npz with x_test / y_test)"
    ),
}


@contextlib.contextmanager
def _data_warnings() -> Iterator[None]:
    """The loaders' `UserWarning`s (a stratified split larger than asked...) said as one
    `[data]` line each, with the command line's remedies, not as Python's warning with its
    file, line and source line (shown twice when both splits warned)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        yield
    said = set()
    for warning in caught:
        text = str(warning.message)
        if not issubclass(warning.category, UserWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
            continue
        for python, cli in _CLI_REMEDIES.items():
            text = text.replace(python, cli)
        if text not in said:
            said.add(text)
            _logger.warning("[data] %s", text)


def csv_columns(path: str) -> list[str]:
    """The header row of a CSV file (empty if it cannot be read: the loader will say why)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as f:
            return next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


FOLDER_BATCH_SIZE = 32  # an image folder's batches unless --batch-size is given


def folder_stream(args: argparse.Namespace) -> Any:
    """An image folder streamed from disk (`tunekit.image_streams.ImageFolderStream`).

    At the folder's native size and colour mode (1 channel for grayscale
    images) unless `--image-size` is given; batches of `--batch-size`
    (default 32). Only files are listed: no Keras or TensorFlow is imported
    before the backend is chosen (`as_workflow_data` wraps it afterwards).
    Workers rerun the same command, so they build the same stream; the chief
    compares its fingerprint (files, sizes, contents). A split holding byte-identical
    copies of one class's images across splits is refused here (`DataError`), as
    arrays of the same samples are.
    """
    from tunekit.data.images import inside
    from tunekit.image_streams import image_folder_stream

    folder = Path(args.data).resolve()
    if inside(folder, Path(args.directory)):
        raise UsageError(
            f"--directory {args.directory} is inside the image folder --data {args.data}: "
            "the run's plots would be read as images of a class on the next run. Give "
            f"--directory a folder outside it (e.g. --directory {folder.parent / 'runs'})."
        )
    if args.batch_size is None:
        args.batch_size = FOLDER_BATCH_SIZE  # also recorded in the run's settings
    # The folder's own size and colour mode unless given (its headers are read once).
    stream = image_folder_stream(
        args.data,
        tuple(args.image_size) if args.image_size else None,
        batch_size=args.batch_size,
        seed=0,  # one split whatever --seed, as a CSV's: one test set for every run
        shuffle_seed=args.seed,
    )
    from tunekit.data._folder_leaks import check_folder_overlap

    with _data_warnings():  # copies in two classes: a [data] line
        check_folder_overlap(stream)  # copies across splits: refused before the backend probe
    return stream


def as_workflow_data(data: Any) -> Any:
    """What `CoarseToFine` takes: an image folder stream becomes a `StreamData` (loads Keras)."""
    from tunekit.image_streams import ImageFolderStream

    if isinstance(data, ImageFolderStream):
        from tunekit.data import StreamData

        return StreamData.from_image_folder(data)
    return data


def started_on(run_dir: str | os.PathLike[str]) -> str | None:
    """The Keras backend the run in `run_dir` was started on, if its manifest records one.

    None for a new run, a run recorded before backends were kept, or a
    manifest that cannot be read (opening the run says why).
    """
    import json

    try:
        with open(Path(run_dir) / "manifest.json", encoding="utf-8") as f:
            backend = json.load(f).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    return backend if isinstance(backend, str) else None


def select_backend(
    args: argparse.Namespace,
    data: Any,
    processes: int = 1,
    run_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Sets `KERAS_BACKEND` for this process (before Keras loads); returns the choice.

    `processes`: local workers that will train at once; `auto` measures each
    backend that way. `run_dir`: the run this command starts or resumes; a
    run already started on a backend resumes on it under `auto` (without
    `--overwrite`), without probing: one run's trials never mix two backends'
    numbers. An explicit `--backend` other than the run's is refused when the
    run opens (`tunekit.manifest`).
    """
    resumed = started_on(run_dir) if run_dir is not None and not args.overwrite else None
    if args.backend == "auto" and resumed is not None:
        choice: dict[str, Any] = {
            "backend": resumed,
            "requested": False,
            "reason": "the backend this run was started on; --backend auto resumes a run on it",
        }
        logging.getLogger("tunekit.backends").info(f"Backend: {resumed} ({choice['reason']})")
    elif args.backend == "auto" and (
        data.task != "classification" or not isinstance(data.input_shape, tuple)
    ):
        # The probe times a classifier of the data's input shape; it does not cover
        # regression (or several inputs) yet, so those run on TensorFlow, as a failed probe does.
        covered = "classification data with one input"
        what = f"{data.task} data" if data.task != "classification" else "several inputs"
        choice = {
            "backend": "tensorflow",
            "requested": False,
            "reason": f"--backend auto probes {covered} only; TensorFlow is used for {what} "
            "(pass --backend jax to use JAX)",
        }
        logging.getLogger("tunekit.backends").info(f"Backend: tensorflow ({choice['reason']})")
    elif args.backend == "auto":
        from tunekit.backends import choose_backend

        choice = choose_backend(
            args.hypermodel,
            data.input_shape,
            data.num_classes,
            args.batch_size or 128,
            processes=processes,
            refresh=getattr(args, "reprobe", False),
        )
    else:
        choice = {"backend": args.backend, "requested": True}
    interrupts.check()  # a signal during the probe
    if "keras" in sys.modules:  # e.g. main() called from a process that already uses Keras
        import keras

        if keras.backend.backend() != choice["backend"]:
            print(
                f"warning: Keras is already loaded with the {keras.backend.backend()} "
                f"backend in this process; using it instead of {choice['backend']}.",
                file=sys.stderr,
            )
            loaded = keras.backend.backend()
            why = f"Keras was already loaded with {loaded} in this process"
            choice = {**choice, "backend": loaded, "overridden": why}
    os.environ["KERAS_BACKEND"] = choice["backend"]
    # TensorFlow's start-up lines (see `tunekit._native_logs`). TensorFlow loads on either backend
    # (tunekit writes TensorBoard's logs with tf.summary), so it is imported here.
    with _native_logs.filtered_stderr():
        import keras  # noqa: F401

        if importlib.util.find_spec("tensorflow") is not None:
            import tensorflow  # noqa: F401
    return choice
