"""What local workers of `CoarseToFine(..., workers=N)` need to rebuild the chief's run.

The chief writes, once, into `<run>/workers/`:

- `data.npz`: the `Dataset`'s arrays (a dict's arrays by name: `x_train::image`)
  and metadata (task, classes, label mode; no pickle), loaded back by
  each worker; the chief refuses a worker whose data fingerprint differs
  (it is part of the run's settings, checked when a worker says hello);
- or `data.json`, for a `StreamData`: its `definition` (a factory by module
  and name plus JSON-able keyword arguments, e.g. an image folder's path and
  loader settings), which each worker calls to build the same stream; a
  stream without one (a pipeline made in a notebook) is refused before any
  trial (`check_data_reaches_workers`);
- `spec.pkl`: the hypermodel, the extra callbacks and the constructor's
  settings, pickled *by reference*: a class or function is stored as its
  module and name, and each worker imports it.

An object a worker cannot import (a build function or class defined in
`__main__`, a notebook cell or a function body, a lambda) or cannot pickle is
refused with a `UsageError` naming `workers=` before any trial
(`check_reaches_workers`).

This module imports no Keras and no gRPC.
"""

from __future__ import annotations

import json
import os
import pickle
import pickletools
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tunekit import _io
from tunekit.data import Dataset, StreamData
from tunekit.errors import UsageError

__all__ = [
    "DATA_FILE",
    "SPEC_FILE",
    "STREAM_FILE",
    "check_data_reaches_workers",
    "check_reaches_workers",
    "load_spec",
    "worker_env",
    "write_spec",
]

DATA_FILE = "data.npz"
STREAM_FILE = "data.json"
SPEC_FILE = "spec.pkl"
_ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
# `x_train::image` is the "image" array of a dict `x_train` (a model with several inputs).
_DICT_KEY = "::"
_PROTOCOL = 4


def _unimportable_globals(value: Any) -> list[str]:
    """`module.name` of each class or function in `value`'s pickle that a worker cannot import.

    Scanned in pickle protocol 2, which names every global inline (`GLOBAL`).
    """
    found = [
        tuple(str(arg).split(" ", 1))
        for opcode, arg, _ in pickletools.genops(pickle.dumps(value, protocol=2))
        if opcode.name == "GLOBAL"
    ]
    return [
        f"{module}.{name}"
        for module, name in found
        if module == "__main__" or "<locals>" in name or "<lambda>" in name
    ]


def check_reaches_workers(**objects: Any) -> bytes:
    """Pickles `objects` by reference; raises unless a worker process can load them.

    Args:
        **objects: The keyword arguments that must reach workers, by name
            (e.g. `hypermodel=...`, `callbacks=[...]`).

    Returns:
        The pickle of `objects` (a dict).

    Raises:
        UsageError: Naming the argument and `workers=`, when an object cannot
            be pickled or refers to something only this process can see.
    """
    for name, value in objects.items():
        try:
            local = _unimportable_globals(value)
        except Exception as e:  # noqa: BLE001 - any pickling failure gets the same advice
            raise UsageError(
                f"workers=: `{name}` cannot be sent to worker processes: it cannot be pickled "
                f"({type(e).__name__}: {e}). Define it at the top level of an importable "
                "module (e.g. mypackage/models.py) and pass that, or use workers=1."
            ) from None
        if local:
            raise UsageError(
                f"workers=: `{name}` refers to {', '.join(sorted(set(local)))}, which worker "
                "processes cannot import (defined in __main__, a notebook, a function body or "
                "a lambda). Move it to an importable module (e.g. mypackage/models.py) and "
                "import it from there, or use workers=1."
            )
    return pickle.dumps(objects, protocol=_PROTOCOL)


def check_data_reaches_workers(data: Dataset | StreamData) -> None:
    """Raises `UsageError` unless worker processes can rebuild `data`.

    A `Dataset` always can (its arrays are written to `data.npz`); a
    `StreamData` only with a `definition` whose keyword arguments are JSON.
    """
    if not isinstance(data, StreamData):
        return
    if data.definition is None:
        raise UsageError(
            f"workers=: `data` is a {data.kind} stream that exists only in this Python process "
            "(e.g. a pipeline made in a notebook), so worker processes cannot rebuild it. Use "
            "workers=1, or give StreamData a definition= (an importable factory and JSON "
            "keyword arguments that build the same streams), as "
            "StreamData.from_image_folder does."
        )
    try:
        json.dumps(data.definition)
    except (TypeError, ValueError) as e:
        raise UsageError(
            f"workers=: the data's definition is not JSON ({e}); give plain keyword arguments."
        ) from None


def write_spec(
    folder: Path,
    data: Dataset | StreamData,
    factory: Callable[..., Any],
    objects: dict[str, Any],
    settings: dict[str, Any],
) -> Path:
    """Writes `data.npz` (a `StreamData`: `data.json`) and `spec.pkl`; returns the spec's path.

    Args:
        folder: `<run>/workers`.
        data: The run's data.
        factory: What a worker calls as `factory(**objects, data=data, **settings)`
            to rebuild the run (the `CoarseToFine` class, by reference).
        objects: Arguments checked by `check_reaches_workers` (hypermodel,
            callbacks).
        settings: The other constructor arguments (plain values).
    """
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, StreamData):
        check_data_reaches_workers(data)
        _io.write_json(folder / STREAM_FILE, data.definition)
    else:
        _write_arrays(folder, data)
    payload = check_reaches_workers(**objects)
    spec = {
        "factory": factory,
        "objects": payload,
        "settings": settings,
        "fingerprint": data.fingerprint(),
        "stream": isinstance(data, StreamData),
    }
    _io.atomic_write(
        folder / SPEC_FILE, lambda tmp: _save_bytes(tmp, pickle.dumps(spec, protocol=_PROTOCOL))
    )
    return folder / SPEC_FILE


def _write_arrays(folder: Path, data: Dataset) -> None:
    meta = {
        # Regression has no classes: None, as the Dataset holds it.
        "class_names": None if data.class_names is None else list(data.class_names),
        "input_shape": (
            {name: list(shape) for name, shape in data.input_shape.items()}
            if isinstance(data.input_shape, Mapping)
            else list(data.input_shape)
        ),
        "num_classes": None if data.num_classes is None else int(data.num_classes),
        "name": data.name,
        "scaling": data.scaling,
        "task": data.task,
        "label_mode": data.label_mode,
    }
    arrays: dict[str, np.ndarray] = {}
    for key in _ARRAYS:  # a dict of arrays (several inputs or outputs): one entry per name
        value = getattr(data, key)
        if isinstance(value, Mapping):
            arrays.update({f"{key}{_DICT_KEY}{name}": array for name, array in value.items()})
        else:
            arrays[key] = value
    _io.atomic_write(folder / DATA_FILE, lambda tmp: _save_npz(tmp, arrays, meta))


def _save_npz(tmp: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    with open(tmp, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]


def _save_bytes(tmp: str, payload: bytes) -> None:
    Path(tmp).write_bytes(payload)


def load_spec(path: str | os.PathLike[str]) -> tuple[Callable[..., Any], dict[str, Any]]:
    """Reads a spec written by `write_spec`: `(factory, keyword arguments)`.

    Raises:
        UsageError: The data file's fingerprint differs from the chief's.
    """
    path = Path(path)
    spec = pickle.loads(path.read_bytes())
    data: Dataset | StreamData
    if spec.get("stream"):
        source = path.parent / STREAM_FILE
        data = StreamData.from_definition(_io.read_json(source, what="stream definition"))
    else:
        source = path.parent / DATA_FILE
        with np.load(source, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            arrays: dict[str, Any] = {}
            for entry in npz.files:
                key, _, name = entry.partition(_DICT_KEY)
                if key not in _ARRAYS:
                    continue
                if name:
                    arrays.setdefault(key, {})[name] = npz[entry]
                else:
                    arrays[key] = npz[entry]
            data = Dataset(**arrays, **meta)
    if data.fingerprint() != spec["fingerprint"]:
        raise UsageError(
            f"{source} defines other data than the chief's "
            f"(fingerprint {data.fingerprint()}, expected {spec['fingerprint']})."
        )
    kwargs = {**pickle.loads(spec["objects"]), **spec["settings"], "data": data}
    return spec["factory"], kwargs


def worker_env() -> dict[str, str]:
    """`PYTHONPATH` for workers: this process's import path, so they find the same modules."""
    paths = [os.getcwd() if p == "" else p for p in sys.path]
    return {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
