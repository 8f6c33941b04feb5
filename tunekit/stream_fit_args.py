"""`model.fit` arguments a hypermodel's own `fit` passes that Keras ignores for a stream.

Keras's `fit` takes the batches of a `tf.data.Dataset` or a `PyDataset` as
they come: it ignores `batch_size=` for either, and `shuffle=` for a
`tf.data.Dataset` (a `PyDataset` with a length is shuffled batch by batch).
A hypermodel's `fit` that passes `model.fit(..., batch_size=hp.Choice("bs",
[16, 32]))` on a `StreamData` trains the same batches whatever `bs` drew, so
ranking and narrowing `bs` are noise, whatever the hyperparameter's name.

`ignored_arguments` reads what one trial's `fit` passed to `model.fit` (the
keywords tunekit records for each trial, `tunekit.fitting.FitCall`): each
ignored keyword the hypermodel's `fit` set itself (not tunekit's
`batch_size`/`shuffle=False`), with its value and the trial's
hyperparameters whose value it equals. `StreamArgs` keeps them for a phase:
the tuner warns at the first trial that passes one (`StreamArgs.record`; once
per run: not again in the fine phase),
and the narrow step names the hyperparameters it found
(`StreamArgs.tuned`), read back from `stream_fit_args.json` in the phase's
directory after a rerun.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunekit import _io
from tunekit.data.streams import is_stream, is_tf_dataset

__all__ = ["FILE", "StreamArgs", "ignored_arguments", "matching_hyperparameters"]

_logger = logging.getLogger(__name__)

#: In a phase's directory: `{keyword: [hyperparameter names]}` seen so far.
FILE = "stream_fit_args.json"


def matching_hyperparameters(value: Any, values: Mapping[str, Any]) -> list[str]:
    """The names in `values` (a trial's hyperparameter values) whose value is `value`:
    a bool only matches a bool, a number a number of equal value (not a bool)."""
    if value is None:
        return []
    names = []
    for name, held in values.items():
        if name.startswith("tuner/"):
            continue
        if isinstance(value, bool) or isinstance(held, bool):
            same = isinstance(value, bool) and isinstance(held, bool) and value is held
        else:
            try:
                same = bool(held == value)
            except Exception:  # noqa: BLE001 - values that do not compare: not the same
                same = False
        if same:
            names.append(name)
    return sorted(names)


def ignored_arguments(
    x: Any,
    passed: Mapping[str, Any],
    received: Mapping[str, Any],
    set_by_hypermodel: tuple[str, ...],
    values: Mapping[str, Any],
    declared_in_fit: set[str] | frozenset[str] = frozenset(),
) -> dict[str, tuple[Any, list[str]]]:
    """The keywords of one `model.fit` call Keras ignores for the stream `x`, set by the
    hypermodel's own `fit`.

    Args:
        x: The training data tunekit passed to the hypermodel's `fit`.
        passed: tunekit's keywords to that `fit` (`batch_size`, `shuffle`, ...).
        received: The keywords its `model.fit` call got (`FitCall.fit_kwargs`).
        set_by_hypermodel: The tunekit keywords the hypermodel's `fit` passed again
            itself (`FitCall.set_by_hypermodel`).
        values: The trial's hyperparameter values.
        declared_in_fit: The hyperparameters the `fit` declared in this call (new in
            `values`): of the hyperparameters whose value equals a keyword's, these
            are the ones named when there are some (`units=4` beside `bs=4`).

    Returns:
        `{keyword: (value, [hyperparameter names whose value equals it])}`:
        `batch_size` (not None) for any stream, `shuffle` for a `tf.data.Dataset`
        when True or equal to a hyperparameter's value; empty for arrays, or a
        `fit` that passes tunekit's values on. `steps_per_epoch` and the like are
        not ignored by Keras and not listed.
    """
    if not is_stream(x):
        return {}
    keys = ["batch_size", *(["shuffle"] if is_tf_dataset(x) else [])]
    found: dict[str, tuple[Any, list[str]]] = {}
    for key in keys:
        if key not in received:
            continue
        value = received[key]
        own = key in set_by_hypermodel or key not in passed or not _same(passed[key], value)
        if not own or value is None:
            continue
        names = matching_hyperparameters(value, values)
        names = [n for n in names if n in declared_in_fit] or names
        if key == "shuffle" and value is not True and not names:
            continue  # shuffle=False, passed as such: what Keras does anyway
        found[key] = (value, names)
    return found


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001
        return False


class StreamArgs:
    """The ignored keywords a phase's trials passed (`ignored_arguments`), kept in
    `directory / FILE` so that a rerun's narrow step still knows them.

    Args:
        directory: The phase's project directory (created when needed).
    """

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / FILE
        self._seen: dict[str, list[str]] | None = None

    def tuned(self) -> dict[str, list[str]]:
        """`{keyword: [hyperparameter names]}` seen in the phase's trials so far: those
        whose value it equalled in every trial that passed it (an empty list: a
        constant, or a value no hyperparameter had)."""
        if self._seen is None:
            try:
                read = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                read = {}
            self._seen = {str(k): [str(n) for n in v] for k, v in dict(read).items()}
        return {k: list(v) for k, v in self._seen.items()}

    def _said_in_another_phase(self, key: str) -> bool:
        """Whether another phase of the run (a sibling directory) recorded `key`: said once."""
        for other in self.path.parent.parent.glob(f"*/{FILE}"):
            if other != self.path and key in StreamArgs(other.parent).tuned():
                return True
        return False

    def record(
        self, trial_id: str, owner: str, found: Mapping[str, tuple[Any, list[str]]], x: Any
    ) -> None:
        """Keeps `found` (from `ignored_arguments`) and warns for each keyword not seen
        before: the trial, the keyword, its value and the hyperparameters it equals.

        Args:
            trial_id: The trial's id.
            owner: The hypermodel's class name.
            found: What `ignored_arguments` returned for the trial.
            x: The stream (its kind is named).
        """
        if not found:
            return
        seen = self.tuned()
        changed = False
        for key, (value, names) in found.items():
            if key not in seen and not self._said_in_another_phase(key):
                _logger.warning(_message(trial_id, owner, key, value, names, x))
            # The hyperparameters equal to it in every trial that passed it: a value
            # another one shares by chance in one trial drops out in the next.
            kept = [n for n in seen[key] if n in names] if key in seen else list(names)
            if key not in seen or kept != seen[key]:
                seen[key] = kept
                changed = True
        self._seen = seen
        if changed:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _io.write_text(self.path, json.dumps(seen, sort_keys=True))


def _message(trial_id: str, owner: str, key: str, value: Any, names: list[str], x: Any) -> str:
    kind = "a tf.data.Dataset" if is_tf_dataset(x) else "a PyDataset"
    if names:
        source = f" (the value of hyperparameter {_names(names)} in this trial)"
        tuned = (
            f"every value of {_names(names)} trains the same "
            f"{'batches' if key == 'batch_size' else 'order'}, so its narrowing and ranking "
            "are noise (unless the fit uses it elsewhere too)"
        )
    else:
        source, tuned = "", "it does nothing"
    if key == "batch_size":
        why = (
            "Keras's fit ignores batch_size= for a stream, whose batches are made before "
            "fit (by the stream, or by your fit if it rebatches x itself: x.unbatch()."
            "batch(...))"
        )
        fix = "Give arrays (Dataset.from_arrays) to tune the batch size, or drop the entry"
    else:
        why = (
            "Keras's fit ignores shuffle= for a tf.data.Dataset, which is shuffled (or not) "
            "by its own pipeline (.shuffle(buffer_size))"
        )
        fix = "Shuffle in the dataset's pipeline, or drop the entry"
    return (
        f"Trial {trial_id}: {owner}.fit passes {key}={value!r} to model.fit{source}, but the "
        f"data is a stream ({kind}): {why}; {tuned}. {fix}."
    )


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)
