"""The run manifest: what a run is, where it got to, and who may write it.

A run folder holds `manifest.json` with the run's configuration, a
fingerprint of it, the versions that wrote it, and the state of each step.
Resume is decided here, not by KerasTuner: a rerun with the same
configuration (the hypermodel's code included: `tunekit.hypermodel_code`)
continues; a different configuration or version is refused with the key
named (exceptions: `tunekit.replacing`); nothing is deleted without
`overwrite`. A lock file keeps a second process off the same run while one
works on it (`CoarseToFine` holds it only during a step or a read: a step
exclusive, a read shared, beside other reads; `tunekit.run_lock`); the
operating system releases it when its holder dies. Over 400 lines because
the resume decision is one piece of code, kept whole to be read at once.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tunekit import (
    _io,
    _log,
    budgets,
    hypermodel_code,
    model_description,
    object_settings,
    replacing,
)
from tunekit.errors import RunConfigError, RunLockedError, TunekitError, UsageError, said_as
from tunekit.params import PARAMETERS
from tunekit.run_lock import HELD, LOCK, READ, STEP, take
from tunekit.state_files import (
    MANIFEST,
    check_kerastuner_project,
    failed_trials,
    holds_results,
    read_run_file,
)

__all__ = [
    "RunManifest",
    "RunConfigError",
    "RunLockedError",
    "STEPS",
    "check_kerastuner_project",
    "versions",
]

STEPS = ("coarse", "narrow", "fine", "finalists", "retrain", "final_seeds", "baseline", "evaluate")


def versions() -> dict[str, str]:
    """Versions of the packages whose files a run folder depends on."""
    from importlib.metadata import version

    return {name: version(name) for name in ("tunekit", "keras-tuner", "keras")}


def fingerprint(config: dict[str, Any]) -> str:
    """A short, stable hash of a JSON-serialisable configuration."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Settings added after runs were written. `CoarseToFine.config()` records each only when it
# differs from its value here, so a run folder without one resumes with that value; read a
# recorded config through `with_omitted_settings` to see every setting (finalists 0 and 1 both
# mean off, and finalist_seeds matters only with finalists on).
OMITTED_SETTINGS: dict[str, Any] = {
    # 3: the default when the step came, so a run of that version that did not record it ran 3.
    "finalists": 3,
    "finalist_seeds": PARAMETERS["finalist_seeds"].default,
    "baseline": PARAMETERS["baseline"].default,
    "final_seeds": PARAMETERS["final_seeds"].default,
    "max_model_size": PARAMETERS["max_model_size"].default,
    "max_retries_per_trial": PARAMETERS["max_retries_per_trial"].default,
    "max_consecutive_failed_trials": PARAMETERS["max_consecutive_failed_trials"].default,
    "class_weight": None,
    "cv": 1,
}


def with_omitted_settings(config: dict[str, Any]) -> dict[str, Any]:
    """A recorded run configuration with the settings it leaves out at their values."""
    return {**OMITTED_SETTINGS, **config}


# How `model_description.model_differences` says a default model differing only by its hash.
_UNNAMED_MODEL = "the hypermodel builds another default model ("


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    code = hypermodel_code.describe_change(old, new)  # in words, or None: not told
    keys = sorted((set(old) | set(new)) - {hypermodel_code.KEY})
    changed = [  # callbacks as calls, a hypermodel's values one by one
        d
        for k in keys
        if old.get(k) != new.get(k)
        for d in object_settings.differences(k, old.get(k), new.get(k))
    ]
    # A value both an argument and an attribute of the hypermodel is named once.
    named = {d.partition(":")[0] for d in changed if d.startswith("hypermodel ")}
    changed = [
        d
        for d in changed
        if d.partition(":")[0].replace(" attribute", "") not in named
        or " attribute " not in d.partition(":")[0]
    ]
    if code or any(d.startswith("hypermodel ") for d in changed):
        # Another default model told only by its hash follows from a hypermodel value or
        # code named: said once, by its cause (as for another backend).
        changed = [d for d in changed if not d.startswith(_UNNAMED_MODEL)]
    return [code, *changed] if code else changed


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """The `_differences` that name one setting whole, `(text, key, old, new)`:
    `("coarse_trials: 3 -> 4", "coarse_trials", 3, 4)`, which the command line says by
    its option (`tunekit.errors.said_as`)."""
    found = []
    for key in sorted((set(old) | set(new)) - {hypermodel_code.KEY}):
        if old.get(key) != new.get(key):
            said = object_settings.differences(key, old.get(key), new.get(key))
            if len(said) == 1 and said[0].startswith(f"{key}: "):
                found.append((said[0], key, old.get(key), new.get(key)))
    return found


# What a changed data fingerprint may mean, after a refusal's list of changes (the command
# line leaves it out when an option it names says so: `tunekit.cli_changes`).
DATA_DIFFERS = (
    ": the data differs from the data the run started with (its fingerprint changed: other "
    "values or task=, or an image folder's size or colours)"
)


def compared(
    old: dict[str, Any], new: dict[str, Any]
) -> tuple[list[str], list[tuple[str, str, Any, Any]], tuple[frozenset[str], frozenset[str]]]:
    """Two configurations compared as a refused rerun says them: `(differences, changes,
    settings)`, as `TunekitError.differences`, `.changes` and `.settings` hold them (a
    distributed chief refusing a worker says its settings so)."""
    old, new = with_omitted_settings(old), with_omitted_settings(new)
    keys = frozenset(old) | frozenset(new)
    changed = frozenset(replacing.changed_settings(old, new))
    return _differences(old, new), _changes(old, new), (keys, changed)


def _but_default_model(config: dict[str, Any]) -> dict[str, Any]:
    """`config` without its default model, which each backend builds and records its own
    way (a run refused for another backend names the backend, not that model)."""
    return {k: v for k, v in config.items() if k != model_description.KEY}


class RunManifest:
    """The state file of one run folder. Use `RunManifest.open(...)`."""

    def __init__(self, run_dir: Path, state: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.state = state
        self._lock_fd: int | None = None
        self.notices: list[str] = []  # for the opener to tell (`CoarseToFine.say`)
        self.replacement: replacing.Replacement | None = None  # other after-search settings
        self._adopted = False  # other failure tolerances taken into the recorded config
        self.reading: str | None = None  # the read it was opened for (shared lock), or None

    held = property(lambda self: self._lock_fd is not None)  # False once released (`_lock`)

    @property
    def path(self) -> Path:
        return self.run_dir / MANIFEST

    @classmethod
    def open(
        cls,
        run_dir: str | os.PathLike,
        config: dict[str, Any],
        *,
        overwrite: bool = False,
        data_changes: Callable[[], str | None] | None = None,
        backend: str | None = None,
        reading: str | None = None,
        refused_as: str | None = None,
        said: Callable[[BaseException], str] | None = None,
    ) -> RunManifest:
        """Opens (or starts) the run in `run_dir` for `config` and locks it.

        `reading` names a read of the run (e.g. `"result()"`): the run is then
        opened as it is, with a SHARED lock (other reads run beside it) and
        nothing created, compared or written (`config`, `overwrite` and
        `data_changes` are not used; the caller compared the settings:
        `tunekit.run_reads`). Otherwise the lock is exclusive; `refused_as`
        names the read that opens it so (`select()`, which may run the
        searches) for a refusal's message.

        `data_changes`, when given, is called only if the recorded `config`'s
        `data` differs from this one: what changed in the data, in words (e.g.
        an image folder's files, `"2 images added (cat/9.png, ...)"`), added to
        the refusal.

        `backend` is the Keras backend this process trains on (`"tensorflow"`,
        `"jax"`). It is recorded beside the configuration, not in its
        fingerprint: a run resumed on another backend is refused like another
        configuration (its trials would mix two backends' numbers), and a run
        recorded before backends were kept takes this one.

        `said` is how the run says its notices (`notices`, the replacement's
        changes): `str` for Python, the command line's `cli_message` (options,
        not keyword arguments). Defaults to the run being made's
        (`tunekit.trial_refusals.said_now`). A refusal's `RunConfigError`
        carries its changed settings (`TunekitError.changes`) for the command
        line to name by their options.

        Raises:
            RunConfigError: If `run_dir` holds another run or other files, and
                `overwrite` is False, or cannot be written.
            RunLockedError: If another live process holds the run (a read is
                refused only beside a step); the message names its pid and
                whether it reads or runs a step.
            tunekit._io.StateFileError: If the manifest is corrupt.
        """
        run_dir = Path(run_dir)
        if reading is not None:
            manifest = cls(run_dir, {})
            manifest.reading = reading
            manifest._lock()
            try:
                manifest.state = read_run_file(run_dir, MANIFEST, what="run manifest")
            except BaseException:
                manifest.release()
                raise
            return manifest
        check_writable(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        manifest = cls(run_dir, {})
        manifest._lock(refused_as)
        try:
            if overwrite:
                cleared = _clear_to_overwrite(run_dir)
                if cleared:
                    manifest.notices.append(cleared)
            state = manifest._load_or_start(config, data_changes, backend, said)
        except BaseException:
            manifest.release()
            raise
        manifest.state = state
        if not manifest.path.exists() or manifest._adopted:
            manifest.save()
        return manifest

    def _load_or_start(
        self,
        config: dict[str, Any],
        data_changes: Callable[[], str | None] | None = None,
        backend: str | None = None,
        said: Callable[[BaseException], str] | None = None,
    ) -> dict[str, Any]:
        from tunekit.trial_refusals import said_now  # loads KerasTuner: not at import

        said = said or said_now()
        new: dict[str, Any] = {
            "config": config,
            "fingerprint": fingerprint(config),
            "versions": versions(),
        }
        if backend is not None:
            new["backend"] = backend
        if not self.path.exists():
            # Hidden names are the lock and temporary files of interrupted writes.
            others = [p.name for p in self.run_dir.iterdir() if not p.name.startswith(".")]
            if others:
                raise RunConfigError(
                    f"{self.run_dir} already holds files ({', '.join(sorted(others)[:5])}) "
                    "but no tunekit manifest. Pass overwrite=True to delete them, or choose "
                    "another project_name= / directory=."
                )
            return {**new, "steps": {}, "created": time.time()}
        old = read_run_file(self.run_dir, MANIFEST, what="run manifest")
        recorded_config = old.get("config")
        config = replacing.as_recorded_main(recorded_config, config)
        config = object_settings.as_recorded(recorded_config, config, self.run_dir)
        # Runs recorded before the code was, or under another Python, do not compare it.
        new["config"] = config = hypermodel_code.as_recorded(
            recorded_config, config, self.run_dir, said
        )
        new["fingerprint"] = fingerprint(config)  # the same build, from another script
        if note := replacing.adopt_tolerances(old, config):  # they change no ended trial
            old["fingerprint"] = fingerprint(old["config"])
            self.notices.append(said(TunekitError(note)))
            self._adopted = True  # saved by `open`: a read after this step compares with it
        if _only_budgets(old, new, backend):  # a search goes on with another budget
            adopted, folder = budgets.adopt_budgets(old, config, STEPS, self.run_dir)
            if adopted:
                old["fingerprint"] = fingerprint(old["config"])
                note = budgets.budgets_note(adopted, folder)
                self.notices.append(said(said_as(TunekitError(note), adopted)))
                self._adopted = True
        hint = (
            "Rerun with the original settings to resume, pass overwrite=True to start "
            "over, or choose another project_name=."
        )
        problem = None
        differences: list[str] = []
        settings: tuple[frozenset[str], frozenset[str]] | None = None  # (all keys, changed)
        changes: list[tuple[str, str, Any, Any]] = []  # for the command line: its options
        cli_words: dict[str, str] = {}
        started_on = old.get("backend")
        other_backend = None not in (backend, started_on) and backend != started_on
        if old.get("versions") != new["versions"]:
            diff = "; ".join(_differences(old.get("versions", {}), new["versions"]))
            problem = f"was written by other versions ({diff})"
        elif old.get("fingerprint") != new["fingerprint"] or other_backend:
            recorded = old.get("config", {})
            if isinstance(recorded, dict):  # "finalists: 2 -> 3", not "2 -> None"
                recorded = with_omitted_settings(recorded)
            ours = with_omitted_settings(config)
            if other_backend and isinstance(recorded, dict):  # each backend builds its own
                recorded, ours = _but_default_model(recorded), _but_default_model(ours)
            differences = _differences(recorded, ours)
            if isinstance(recorded, dict):
                changes = _changes(recorded, ours)
                keys = frozenset(recorded) | frozenset(ours)
                settings = (keys, frozenset(replacing.changed_settings(recorded, ours)))
            if other_backend:
                differences.append(f"backend: {started_on!r} -> {backend!r}")
                changes.append((differences[-1], "backend", started_on, backend))
                how = f"(KERAS_BACKEND={started_on} before Keras is imported)"
                cli_words[how] = f"(--backend {started_on}, or auto)"
                hint = (
                    f"Resume it on {started_on} {how}"
                    + (" with the original settings" if len(differences) > 1 else "")
                    + ", pass overwrite=True to start over, or choose another project_name=."
                )
            diff = "; ".join(differences)
            if isinstance(recorded, dict) and not other_backend:
                hint = hypermodel_code.resume_hint(recorded, config, len(differences)) or hint
                changed_keys = replacing.changed_settings(recorded, with_omitted_settings(config))
                if changed_keys <= set(replacing.AFTER_SEARCH_SETTINGS):
                    self.state, self.replacement = replacing.redo_after_search(
                        self.run_dir,
                        old,
                        new,
                        changed_keys,
                        said(said_as(TunekitError(diff), changes)),
                        STEPS,
                        recorded,
                    )
                    self.save()  # at once: the files moved, the records must follow
                    return self.state
                hint += replacing.free_settings_note(changed_keys)
                pairs = {k: (recorded.get(k), ours.get(k)) for k in budgets.BUDGETS}
                hint += budgets.budget_refusal_note(changed_keys, pairs, old.get("steps"), STEPS)
            problem = f"was started with another configuration ({diff})"
            changed = (
                data_changes()
                if data_changes
                and isinstance(recorded, dict)
                and recorded.get("data") != config.get("data")
                else None
            )
            if changed:
                problem += f": since it started, {changed}"
                now = with_omitted_settings(config)
                others = [d for d in _differences(recorded, now) if not d.startswith("data:")]
                hint = (
                    "Restore those files to resume"
                    + (" (with the original settings)" if others else "")
                    + ", pass overwrite=True to start over with the data as it is now, or "
                    "choose another project_name=."
                )
            elif isinstance(recorded, dict) and recorded.get("data") != config.get("data"):
                problem += DATA_DIFFERS  # the digests alone did not say what they are
        if problem is None:
            failed = failed_trials(self.run_dir)
            if failed and not holds_results(self.run_dir, old):
                # Every trial so far failed (e.g. a loss that did not fit the labels) and the
                # code was fixed: resuming would end on those failures; starting over loses nothing.
                self.notices.append(
                    f"The run in {self.run_dir} has no finished step and no completed trial "
                    f"({_log.count(failed, 'failed trial')}): starting it over, so that "
                    "its configurations are tried again."
                )
                _clear(self.run_dir)
                return {**new, "steps": {}, "created": time.time()}
            if backend is not None and started_on is None:  # from before backends were kept
                old["backend"] = backend
            return old
        if holds_results(self.run_dir, old):
            refusal = said_as(
                RunConfigError(f"The run in {self.run_dir} {problem}. {hint}"), changes, cli_words
            )
            refusal.differences = tuple(differences)
            refusal.settings = settings
            raise refusal
        # E.g. refused at its first trial (an objective the model does not report): nothing
        # to keep, so the corrected settings start over instead of being refused.
        notice = (
            f"The run in {self.run_dir} {problem}, but has no finished step and no "
            "completed trial: starting it over with these settings."
        )
        self.notices.append(said(said_as(TunekitError(notice), changes)))
        _clear(self.run_dir)
        return {**new, "steps": {}, "created": time.time()}

    def _lock(self, refused_as: str | None = None) -> None:
        key = self.run_dir.resolve()
        if key in HELD:
            # The same process opened this run before (a rerun notebook cell, a
            # new CoarseToFine object): the newest opener takes over.
            HELD[key].release()
        record = True
        try:
            fd = os.open(self.run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            # A read of a folder this process cannot write (a read-only mount) writes
            # nothing: it holds the lock file read-only, without its record, or, with no
            # lock file there, no lock (no step ever ran there from a writable view).
            if self.reading is None or e.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            try:
                fd = os.open(self.run_dir / LOCK, os.O_RDONLY)
            except FileNotFoundError:
                return
            record = False
        try:
            kind = STEP if self.reading is None else READ
            take(fd, kind, self.run_dir, self.reading or refused_as, record=record)
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd
        HELD[key] = self

    def release(self) -> None:
        """Releases the lock (also released by the OS if the process dies)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
            if HELD.get(self.run_dir.resolve()) is self:
                del HELD[self.run_dir.resolve()]

    def save(self) -> None:
        if self.reading is not None:  # other reads share the lock: a read writes nothing
            raise UsageError(
                f"{self.path} was opened for {self.reading}, beside other reads: it is not "
                "written. Open it for a step (a step method, run() or `manifest`) to change it."
            )
        self.state["updated"] = time.time()
        _io.write_json(self.path, self.state)

    def step(self, name: str) -> dict[str, Any]:
        """The recorded state of step `name` (empty if it never started)."""
        return self.state.setdefault("steps", {}).setdefault(name, {})

    def is_done(self, name: str) -> bool:
        return self.step(name).get("status") == "done"

    def record_steps(self, steps: Sequence[Any]) -> None:
        """Records the run's plan: each step's `name`, `requires` and `outputs`, in order.

        Args:
            steps: `tunekit.steps.Step` objects.
        """
        plan = [
            {"name": s.name, "requires": list(s.requires), "outputs": list(s.outputs)}
            for s in steps
        ]
        if self.state.get("plan") != plan:
            self.state["plan"] = plan
            self.save()

    def mark(self, name: str, status: str, **info: Any) -> None:
        """Records that step `name` is `status` ("running" or "done"), with `info`.

        Any `error` recorded by an earlier attempt is dropped unless `info` gives one.
        """
        step = self.step(name)
        step.pop("error", None)
        step.update(status=status, **_plain(info))
        self.save()


def _only_budgets(old: dict[str, Any], new: dict[str, Any], backend: str | None) -> bool:
    """Whether a rerun's configuration (`new`) differs from the recorded one (`old`) in
    search budgets alone (`tunekit.budgets.BUDGETS`), on the same versions and backend:
    a budget raised beside another change is refused with it, named."""
    recorded = old.get("config")
    if not isinstance(recorded, dict) or old.get("versions") != new["versions"]:
        return False
    if None not in (backend, old.get("backend")) and backend != old.get("backend"):
        return False
    ours = with_omitted_settings(new["config"])
    changed = replacing.changed_settings(with_omitted_settings(recorded), ours)
    return bool(changed) and changed <= set(budgets.BUDGETS)


def _plain(value: Any) -> Any:
    """`value` with NumPy scalars (a KerasTuner score: `np.float64`, `np.float32`) as Python
    numbers, so what this process holds is what a new process reads back."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if getattr(value, "shape", None) == () and hasattr(value, "dtype") and hasattr(value, "item"):
        return value.item()
    return value


def check_run_location(
    directory: Any, project_name: Any, *, names: tuple[str, str] = ("directory", "project_name")
) -> None:
    """Raises `RunConfigError` unless `directory` / `project_name` name one run folder.

    `project_name` must be a single folder name (no path separator, not `.` or
    `..`), so the run stays inside `directory`; neither may be empty. `names`
    are how the messages call the two arguments (the CLI passes its flags).
    """
    directory_name, project_label = names
    if not isinstance(directory, (str, os.PathLike)) or not str(os.fspath(directory)).strip():
        raise RunConfigError(
            f"{directory_name} must be a folder path, e.g. 'runs'. Received: {directory!r}."
        )
    if not isinstance(project_name, str) or not project_name.strip():
        raise RunConfigError(
            f"{project_label} must be a non-empty folder name, e.g. 'demo'. "
            f"Received: {project_name!r}."
        )
    separators = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    if project_name in (".", "..") or any(sep in project_name for sep in separators):
        raise RunConfigError(
            f"{project_label} must be one folder name inside {directory_name} (no '/', not '.' "
            f"or '..'), so the run stays where you asked. Received: {project_name!r}; put the "
            f"path in {directory_name} instead."
        )


def check_writable(run_dir: str | os.PathLike) -> None:
    """Raises `RunConfigError` if `run_dir` cannot be created and written.

    Creates nothing that stays, and nothing a listing of the folder meets: the
    nearest existing folder on the way is tested by creating a temporary file
    in it (`tempfile.TemporaryFile`: nameless where the system allows, else
    removed at once; never a folder, which a scan of the run's
    `*/trial_*/trial.json` by another process would enter as it vanishes).
    That catches what permission bits alone do not (a read-only filesystem,
    `/proc`, a root user on a folder nobody may create files in).
    """
    run_dir = Path(run_dir)
    for parent in [run_dir, *run_dir.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise RunConfigError(
                    f"Cannot create the run folder {run_dir}: {parent} is a file, not a "
                    "folder. Choose another directory= / project_name=."
                )
            if not os.access(parent, os.W_OK | os.X_OK):
                raise RunConfigError(
                    f"Cannot write the run folder {run_dir}: {parent} is not writable. "
                    "Choose another directory=."
                )
            try:
                tempfile.TemporaryFile(prefix=".tunekit-check-", dir=parent).close()
            except OSError as e:
                raise RunConfigError(
                    f"Cannot create the run folder {run_dir}: creating a file in {parent} "
                    f"fails ({e.strerror or e}). Choose another directory=."
                ) from None
            break


def _clear_to_overwrite(run_dir: Path) -> str | None:
    """`overwrite=True`: empties `run_dir` if it is a run's folder (it holds a manifest) or
    empty, and says what was deleted. Probe A: a folder of the user's (a `thesis.txt`, no
    run) was deleted without a word, and so were a crashed run's finished trials.

    Raises:
        RunConfigError: `run_dir` holds files and no run manifest: nothing is deleted.
    """
    held = sorted(p.name for p in run_dir.iterdir() if p.name != LOCK)
    if not held:
        return None
    if not (run_dir / MANIFEST).is_file():
        entries = _log.count(len(held), "entry", plural="entries")
        raise RunConfigError(
            f"overwrite=True (--overwrite) would delete {run_dir}, which is not a tunekit run "
            f"folder (it has no {MANIFEST}) and holds {entries} (e.g. "
            f"{held[0]!r}): nothing was deleted. Choose another directory= / project_name= "
            "(--directory / --project-name), or empty that folder yourself."
        )
    trials = sum(1 for _ in run_dir.glob("*/trial_*/trial.json"))
    _clear(run_dir)
    return (
        f"Starting over (overwrite=True, --overwrite): deleted the run in {run_dir} "
        f"({_log.count(trials, 'trial')} and its outputs)."
    )


def _clear(run_dir: Path) -> None:
    for path in run_dir.iterdir():
        if path.name == LOCK:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
