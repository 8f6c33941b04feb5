"""Where a run's time goes: each trial's and each step's split, and the run's sum.

Every trial of a search phase, and every fit of the finalists, retrain,
baseline and final-seeds steps, appends one row to a `timing.csv` (the
phase's KerasTuner project folder for trials, the run folder for the other
steps; both survive a resume). `time_split` sums them per step into
`report.json["time_split"]`. The parts (seconds):

- `build`: `hypermodel.build(hp)` (with Hyperband's reload of a continued
  trial's weights).
- `first_step`: the one-time trace/compile: the first training batch's time
  minus the median of the next three (batch begin to batch begin), plus the
  same for the first validation pass's first batch.
- `train`: the fits' time less every other part measured inside them. A
  partial last batch's compile or trace falls here; the searches' trials have
  none (`tunekit.data.batches.full_batches`), the other steps' fits one each.
- `validation`: the validation passes inside the fits (`on_test_begin` to
  `on_test_end`), less their first-batch excess.
- `checkpoint`: the checkpoint callbacks (KerasTuner's best-epoch weights,
  `BackupAndRestore`, `ModelCheckpoint`).
- `tensorboard`: the `TensorBoard` callbacks' train and epoch begin/end work
  (their per-batch calls stay in `train`, their test begin/end in
  `validation`).
- `oracle`: `create_trial`, `update_trial`, `end_trial` and saving
  `trial.json`, `oracle.json` and the tuner.
- `gc`: `keras.backend.clear_session()` and `gc.collect()` before each
  trial's build.
- `other`: the rest (listeners and progress lines, the steps' own work
  outside fits, between trials, steps without fits).

Batch times are read in `on_train_batch_begin` / `on_test_batch_begin` of
the first four batches only: those hooks are not the ones that make Keras
wait for each batch's result (`on_*_batch_end`), so the clock costs nothing
after them. Callbacks are timed by bracketing them in the callback list with
two markers (Keras calls callbacks in order), not by wrapping or patching.
"""

from __future__ import annotations

import csv
import io
import os
import statistics
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keras

from tunekit import _kerastuner

__all__ = [
    "PARTS",
    "TIMING_FILE",
    "FitClock",
    "TrialClock",
    "append_row",
    "process_seconds",
    "read_rows",
    "session",
    "time_split",
    "timed_fit",
]

#: The parts of a trial's or a step's time, in report order.
PARTS = (
    "build",
    "first_step",
    "train",
    "validation",
    "checkpoint",
    "tensorboard",
    "oracle",
    "gc",
    "other",
)
TIMING_FILE = "timing.csv"
_COLUMNS = ("step", "trial_id", "status", "seconds", *PARTS)
_FIRST_BATCHES = 4  # the first batch and three steady ones
_CHECKPOINTS = (
    _kerastuner.SaveBestEpoch,
    keras.callbacks.BackupAndRestore,
    keras.callbacks.ModelCheckpoint,
)


def _excess(stamps: Sequence[float]) -> float:
    """The first interval of `stamps` over the median of the next ones (0 without a next one)."""
    durations = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    if len(durations) < 2:
        return 0.0
    return max(0.0, durations[0] - statistics.median(durations[1:]))


class _Bracket(keras.callbacks.Callback):
    """One side of a timed callback: the opening marker starts, the closing one adds."""

    def __init__(self, clock: FitClock, part: str, *, opening: bool) -> None:
        super().__init__()
        self._clock, self._part, self._opening = clock, part, opening

    def _mark(self) -> None:
        if self._opening:
            self._clock._opened = time.perf_counter()
        else:
            self._clock.parts[self._part] += time.perf_counter() - self._clock._opened

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._mark()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._mark()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._mark()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._mark()

    # Not on_test_begin / on_test_end: inside the validation pass, counted there.


class FitClock(keras.callbacks.Callback):
    """Splits the fits it times: first step, validation, checkpoints, TensorBoard, train.

    Give the fit `instrument(callbacks)`, time the fit call and pass its
    seconds to `add_fit`; `split()` then gives the parts. One clock may time
    several fits (folds, executions). See the module docstring for the parts.
    """

    def __init__(self) -> None:
        super().__init__()
        self.parts: dict[str, float] = dict.fromkeys(PARTS, 0.0)
        self.fit_seconds = 0.0
        self._opened = 0.0
        self._train_begins: list[float] = []
        self._train_done = False
        self._test_begins: list[float] = []
        self._test_start: float | None = None
        self._first_test_done = False

    def instrument(self, callbacks: Sequence[keras.callbacks.Callback]) -> list[Any]:
        """`callbacks` with this clock first and timing markers around the ones it times."""
        out: list[Any] = [self]
        for callback in callbacks:
            if isinstance(callback, _CHECKPOINTS):
                part: str | None = "checkpoint"
            elif isinstance(callback, keras.callbacks.TensorBoard):
                part = "tensorboard"
            else:
                part = None
            if part is None:
                out.append(callback)
            else:
                opening = _Bracket(self, part, opening=True)
                out += [opening, callback, _Bracket(self, part, opening=False)]
        return out

    def add_fit(self, seconds: float) -> None:
        """Adds the wall time of one fit call."""
        self.fit_seconds += seconds

    def split(self) -> dict[str, float]:
        """The parts of the fits so far: `train` is what the others leave of their time."""
        parts = dict(self.parts)
        inside = sum(parts[k] for k in ("first_step", "validation", "checkpoint", "tensorboard"))
        parts["train"] = max(0.0, self.fit_seconds - inside)
        return parts

    def _end_first_epoch(self) -> None:
        if not self._train_done:
            self._train_done = True
            stamps = self._train_begins
            end = [time.perf_counter()] if len(stamps) <= _FIRST_BATCHES else []
            self.parts["first_step"] += _excess([*stamps, *end])

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._train_begins, self._train_done = [], False
        self._test_begins, self._first_test_done = [], False

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if not self._train_done and len(self._train_begins) <= _FIRST_BATCHES:
            self._train_begins.append(time.perf_counter())

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if not self._first_test_done and len(self._test_begins) <= _FIRST_BATCHES:
            self._test_begins.append(time.perf_counter())

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._end_first_epoch()
        self._test_start = time.perf_counter()

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._test_start is None:
            return
        now = time.perf_counter()
        self.parts["validation"] += now - self._test_start
        self._test_start = None
        if not self._first_test_done:
            self._first_test_done = True
            stamps = self._test_begins
            excess = _excess([*stamps, now] if len(stamps) <= _FIRST_BATCHES else stamps)
            self.parts["validation"] -= excess
            self.parts["first_step"] += excess

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._end_first_epoch()


class TrialClock:
    """One trial's parts, added to as the tuner's hooks pass (see `TunekitTuner`)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.parts: dict[str, float] = dict.fromkeys(PARTS, 0.0)
        self.fit = FitClock()
        self.mark = self.start

    def lap(self) -> float:
        """Seconds since the last lap (or the start)."""
        now = time.perf_counter()
        seconds, self.mark = now - self.mark, now
        return seconds

    @contextmanager
    def measure(self, part: str) -> Iterator[None]:
        """Adds the time of the `with` block to `part`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.parts[part] += time.perf_counter() - start

    def row(self) -> dict[str, float]:
        """The trial's parts, the fits' included; `other` is the rest of its wall time."""
        fit = self.fit.split()
        parts = {k: self.parts[k] + fit[k] for k in PARTS}
        wall = time.perf_counter() - self.start
        parts["other"] = max(0.0, wall - sum(v for k, v in parts.items() if k != "other"))
        return {"seconds": wall, **parts}


def append_row(
    path: Path, step: str, parts: Mapping[str, float], *, trial_id: str = "", status: str = ""
) -> None:
    """Appends one row (one trial or one fit) to the `timing.csv` at `path`.

    One `write` per row in append mode, so processes sharing the file (a
    phase's workers) do not interleave rows; the header is written by
    whichever creates the file.
    """
    seconds = float(parts.get("seconds", sum(parts.get(k, 0.0) for k in PARTS)))
    values = {"step": step, "trial_id": trial_id, "status": status, "seconds": seconds}
    values.update({k: float(parts.get(k, 0.0)) for k in PARTS})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_COLUMNS, lineterminator="\n")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(",".join(_COLUMNS) + "\n")
    writer.writerow({k: (round(v, 4) if isinstance(v, float) else v) for k, v in values.items()})
    with open(path, "a") as f:
        f.write(buffer.getvalue())


@contextmanager
def timed_fit(
    path: Path, step: str, callbacks: Sequence[keras.callbacks.Callback]
) -> Iterator[list[Any]]:
    """Times the fit in the `with` block, given the yielded callbacks; appends its row to `path`.

    A fit that raises leaves no row.
    """
    clock = FitClock()
    start = time.perf_counter()
    yield clock.instrument(callbacks)
    clock.add_fit(time.perf_counter() - start)
    append_row(path, step, {"seconds": clock.fit_seconds, **clock.split()})


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a `timing.csv` (none when it is missing); numbers as floats."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    numeric = ("seconds", *PARTS)
    return [{k: (float(v) if k in numeric else v) for k, v in row.items()} for row in rows]


def _split(wall: float, rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    parts = {k: sum(float(r[k]) for r in rows) for k in PARTS if k != "other"}
    measured = sum(parts.values())
    # Trials on parallel workers may add up to more than the wall time: scaled to it.
    scale = wall / measured if measured > wall > 0 else 1.0
    parts = {k: v * scale for k, v in parts.items()}
    parts["other"] = max(0.0, wall - sum(parts.values()))
    return {"wall": wall, **{k: round(v, 3) for k, v in parts.items()}}


def process_seconds() -> float | None:
    """This process's age in seconds (Linux's `/proc`); `None` where that cannot be read."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time
    except (OSError, ValueError, IndexError):
        return None


#: This process's age when this module was imported (in the command line, just after Keras
#: was loaded), on the same clock as `process_seconds`: the wall clock (`time.time`) may be
#: stepped meanwhile (a 14 s step made the age at import negative).
_AGE_AT_IMPORT = process_seconds()


def session(backend_choice: Mapping[str, Any] | None) -> dict[str, float | None]:
    """`time_split`'s `probe_seconds`, `session_seconds` and `loaded_seconds` for a run.

    A run started by the command line (which sets `backend_choice`) gets
    its probe's wall time (0 unless `--backend auto` probed), the process's
    age, and its age when Keras was loaded; a run of the Python API gets
    none (the process is the caller's).
    """
    if backend_choice is None:
        return {}
    probe = float(backend_choice.get("wall_seconds", 0.0))
    return {
        "probe_seconds": probe,
        "session_seconds": process_seconds(),
        "loaded_seconds": _AGE_AT_IMPORT,
    }


def time_split(
    run_dir: Path,
    steps: Mapping[str, Mapping[str, Any]],
    *,
    probe_seconds: float | None = None,
    session_seconds: float | None = None,
    loaded_seconds: float | None = None,
) -> dict[str, Any]:
    """The run's time split for `report.json["time_split"]`.

    Args:
        run_dir: The run folder (its `timing.csv`, and each phase's).
        steps: The manifest's steps (their `seconds`: wall time summed over sessions).
        probe_seconds: The backend probe's wall time in this session (the
            CLI's `--backend auto`; 0 when its verdict was cached). `None`:
            no probe step.
        session_seconds: This process's wall time so far (from its start);
            with it, a `"setup"` step holds what the steps, the probe and the
            start leave (building the run, checking the model, building the
            tuners, narrowing, between steps). `None`: neither.
        loaded_seconds: The process's age when Keras was loaded: with
            `session_seconds`, a `"start"` step holds it less the probe
            (interpreter start, imports, data loading).

    Returns:
        `{"steps": {step: {"wall": s, <part>: s, ...}}, "wall": s, "training": s,
        "outside_training": share}`: every step's parts add up to its wall time
        (`other` being the rest), `training` is the `train` part of all steps, and
        `outside_training` is `1 - training / wall`.
    """
    rows = read_rows(run_dir / TIMING_FILE)
    for phase in ("coarse", "fine"):
        rows += read_rows(run_dir / phase / TIMING_FILE)
    out: dict[str, dict[str, float]] = {}
    if probe_seconds is not None:
        out["probe"] = _split(round(probe_seconds, 3), [])
    for name, step in steps.items():
        if "seconds" in step:
            out[name] = _split(float(step["seconds"]), [r for r in rows if r["step"] == name])
    if session_seconds is not None:
        first: dict[str, dict[str, float]] = {}
        if loaded_seconds is not None:
            start = max(0.0, loaded_seconds - (probe_seconds or 0.0))
            first["start"] = _split(round(start, 3), [])
        rest = session_seconds - sum(v["wall"] for v in [*out.values(), *first.values()])
        first["setup"] = _split(round(max(0.0, rest), 3), [])
        out = {**first, **out}
    wall = sum(v["wall"] for v in out.values())
    training = sum(v["train"] for v in out.values())
    return {
        "steps": out,
        "wall": round(wall, 3),
        "training": round(training, 3),
        "outside_training": round(1 - training / wall, 4) if wall > 0 else None,
    }
