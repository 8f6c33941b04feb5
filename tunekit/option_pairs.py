"""Options that apply only together with another option, or with one kind of data.

Given without it, such an option would be dropped silently (the run going on
with exit 0 and a record claiming a setting that did nothing), so it is
refused before any training, saying what to leave out or add. Each check
takes the value as given, `None` meaning "not given" (the signature's
default, resolved to the table's later: `tunekit.params.GIVEN_ONLY`):

- `finalist_seeds` only with `finalists` > 1 (`check_finalist_seeds`);
- `progress` only with `verbose` on (`check_progress`);
- `batch_size` only with arrays, or an image folder stream batched by it
  (`check_stream_batch_size`): a stream is fitted in the batches it yields.

The others live beside their rules: `fine_trials` / `factor` with their fine
tuner (`tunekit.params.check_fine_budget`), `cv` with a Bayesian fine search
(`tunekit.params.check_cv`), `--target`, `--image-size` and `--augment` on the
command line (`tunekit.coarse_to_fine`, `tunekit.hypermodel_options`), the
distributed run's flags (`tunekit.distribute.cluster`), `class_weight` with
classification data (`tunekit.data.class_weights`).

Imports nothing from Keras or tunekit's data code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunekit.errors import InvalidParameterError

__all__ = [
    "check_finalist_seeds",
    "check_progress",
    "check_stream_batch_size",
    "recorded_batch_size",
    "reported_config",
    "stream_batch_size",
]


def check_finalist_seeds(finalists: int, finalist_seeds: Any) -> None:
    """Refuses `finalist_seeds` given while the finalists step is off (`finalists` <= 1).

    Args:
        finalists: The run's `finalists` (0 or 1: off).
        finalist_seeds: As given; `None` if not given.

    Raises:
        InvalidParameterError: `finalist_seeds` given with `finalists` 0 or 1.
    """
    if finalist_seeds is not None and finalists <= 1:
        raise InvalidParameterError(
            f"finalist_seeds={finalist_seeds} only applies with finalists= 2 or more (the "
            f"finalists step, which retrains the top configurations with extra seeds); "
            f"finalists={finalists} turns that step off, so no finalist would be trained. "
            f"Pass finalists=3 to re-check the top configurations over seeds, or leave out "
            f"finalist_seeds={finalist_seeds}."
        )


def check_progress(verbose: Any, progress: Any, *, flags: bool = False) -> None:
    """Refuses `progress` given with `verbose=0` (the command line's `--quiet`), which shows none.

    Args:
        verbose: The run's `verbose` (0 / False: no progress).
        progress: As given; `None` if not given.
        flags: Name the command line's flags (`--progress`, `--quiet`).

    Raises:
        InvalidParameterError: `progress` given with `verbose` off.
    """
    if progress is None or verbose:
        return
    if flags:
        raise InvalidParameterError(
            f"--progress {progress} only applies without --quiet, which shows no progress. "
            f"Leave out --progress {progress}, or --quiet to see the progress."
        )
    raise InvalidParameterError(
        f"progress={progress!r} only applies with verbose=1: verbose={verbose!r} shows no "
        f"progress. Leave out progress=, or pass verbose=1 to see the progress."
    )


def stream_batch_size(data: Any) -> int | None:
    """The batch size an image folder stream (`tunekit.image_streams`) was made with, else None.

    Other streams (tf.data, a `PyDataset`) batch themselves in ways tunekit
    does not read: `None`.
    """
    definition = getattr(data, "definition", None) or {}
    config = (definition.get("kwargs") or {}).get("config") or {}
    size = config.get("batch_size") if config.get("root") else None
    return int(size) if size is not None else None


def check_stream_batch_size(batch_size: Any, data: Any) -> None:
    """Refuses `batch_size` given for a stream, whose own batches are what Keras fits.

    Keras's `fit` ignores `batch_size=` for a `tf.data.Dataset` or a
    `PyDataset`: the run would train on the stream's batches while its report
    and reproduce line said `batch_size`. An image folder stream made with
    that same batch size is accepted (the command line passes its
    `--batch-size` to both).

    Args:
        batch_size: As given; `None` if not given.
        data: The run's `StreamData`.

    Raises:
        InvalidParameterError: `batch_size` given, unless it is the image
            folder stream's own.
    """
    if batch_size is None:
        return
    own = stream_batch_size(data)
    if own == batch_size:
        return
    if own is not None:
        raise InvalidParameterError(
            f"batch_size={batch_size} does not apply to this image folder stream, which "
            f"yields batches of {own} images (image_folder_stream(..., batch_size={own})): "
            f"the run would train on batches of {own}. Make the stream with "
            f"image_folder_stream(..., batch_size={batch_size}) and leave out batch_size= here."
        )
    raise InvalidParameterError(
        f"batch_size={batch_size} does not apply to a stream (tf.data or a PyDataset): Keras "
        "fits a stream in the batches it yields and ignores batch_size=, so the run would "
        f"train on the stream's batches, not on batches of {batch_size}. Batch the stream "
        f"yourself (dataset.batch({batch_size}), or your PyDataset's batch size) and leave "
        "out batch_size=."
    )


def reported_config(config: Mapping[str, Any], data: Any, *, stream: bool) -> dict[str, Any]:
    """A run's recorded settings as report.json's `config` says them.

    The run folder's record (`manifest.json`) is kept as it was for resumes;
    for a stream the report's `batch_size` is the batches the stream yields
    (an image folder's), or `None` when tunekit does not know them, never the
    unused `batch_size` setting.
    """
    if not stream:
        return dict(config)
    return {**config, "batch_size": stream_batch_size(data)}


def recorded_batch_size(run_dir: Path, default: int) -> int:
    """The `batch_size` a stream run's folder recorded, else `default`.

    A stream is fitted in its own batches, so a stream run recorded with a
    `batch_size` given before that was refused resumes with it (its record
    is kept, never claimed: see `reported_config`); a folder without a
    readable record gives `default`.
    """
    try:
        config = json.loads((Path(run_dir) / "manifest.json").read_text()).get("config")
    except (OSError, ValueError, AttributeError):
        return default
    size = config.get("batch_size") if isinstance(config, dict) else None
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else default
