"""Crash-safe file writes, and KerasTuner's JSON state written the same way.

Every file tunekit writes goes to a temporary file in the same folder, is
flushed to disk, then renamed over the target. A kill at any moment leaves
either the previous complete version or the new one, never half a file; a
full disk fails the write and leaves the previous version in place. The file
gets the mode a plain `open()` would give it (`0o666` minus the umask), not
the private `0o600` of a temporary file, so a team can share a run folder.
"""

from __future__ import annotations

import fnmatch
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunekit import _faults
from tunekit.errors import StateFileError


def file_mode() -> int:
    """The mode `open()` gives a new file in this process: `0o666` minus the umask."""
    try:  # Linux >= 4.7: read without changing it (os.umask would, for a moment)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Calls `write(tmp_path)`, then atomically renames `tmp_path` to `path`.

    The file ends with the mode of a plain `open()` (see `file_mode`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        _faults.checkpoint("write.mid")
        with open(tmp, "rb+") as f:
            os.fchmod(f.fileno(), file_mode())  # mkstemp made it 0o600
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and not e.filename:  # e.g. a full disk: name the file
            raise OSError(
                e.errno, f"{e.strerror or e}; the previous {path.name} is intact", os.fspath(path)
            ) from e
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Writes `text` to `path` atomically."""

    def _write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    atomic_write(path, _write)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Writes `obj` as indented JSON to `path` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: str | os.PathLike, *, what: str = "state file") -> Any:
    """Reads JSON from `path`, raising `StateFileError` naming the file if it is bad."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StateFileError(
            f"The {what} {os.fspath(path)} is corrupt or truncated ({e}). "
            "Nothing was changed on disk."
        ) from None


def _atomic_kerastuner_save_json(path: str, obj: Any) -> str:
    obj_str = json.dumps(obj)
    if "://" in str(path) and _original_save_json is not None:  # remote: KerasTuner's writer
        return _original_save_json(path, obj)
    write_text(path, obj_str)
    return obj_str


_original_save_json: Callable[[str, Any], str] | None = None


def protect_kerastuner_state() -> None:
    """Makes KerasTuner write its `oracle.json`, `trial.json` and tuner state atomically.

    KerasTuner truncates and rewrites these files in place, so a kill mid-write
    leaves an empty file that it cannot reload. Idempotent.
    """
    global _original_save_json
    from tunekit._kerastuner import utils as kt_utils

    if _original_save_json is None:
        _original_save_json = kt_utils.save_json
        kt_utils.save_json = _atomic_kerastuner_save_json


def scan(folder: str | os.PathLike, pattern: str) -> list[Path]:
    """The paths under `folder` that match `pattern` (`"*/trial_*/trial.json"`), sorted.

    As `Path.glob` with `/`-separated `fnmatch` parts, for folders other
    processes change while they are listed (a search that writes trials, a
    run started over, a folder probed by `manifest.check_writable`): an entry
    that vanishes between being listed and being looked into is skipped, never
    an `OSError`. Hidden names (`.name`) match only a part that starts with
    `.`. A path returned may still vanish before it is read: its reader skips
    a `FileNotFoundError` the same way.
    """
    paths = [Path(folder)]
    for part in pattern.split("/"):
        found = []
        for parent in paths:
            try:
                with os.scandir(parent) as entries:
                    names = [e.name for e in entries]
            except (FileNotFoundError, NotADirectoryError):  # gone, or a file where a folder was
                continue
            found += [
                parent / name
                for name in fnmatch.filter(names, part)
                if part.startswith(".") or not name.startswith(".")
            ]
        paths = found
    return sorted(paths)
