"""A HyperModel's own values that can change what it builds, as a run records them.

`tunekit.object_settings` records a hypermodel's public simple attributes and
those named after an `__init__` argument; `tunekit.model_description` records
the model it builds with every hyperparameter at its default. Both miss a value
kept under another name and used only in other configurations:

    def __init__(self, wide=False):
        self._w = 512 if wide else 64          # not named after `wide`
    def build(self, hp):
        if hp.Boolean("big"):                  # default False: not in the default model
            x = keras.layers.Dense(self._w)(x)

so `MyHM(wide=True)` resumed a run of `MyHM(wide=False)`, mixing the trials of
two spaces. So `CoarseToFine.config()` also records `describe_state(hypermodel)`
under `KEY` (`"hypermodel_state"`): every other attribute of the instance,
private ones too, by value:

- numbers, text, `None`, booleans; tuples, lists, sets and dicts of them
  (NumPy scalars as the number they hold);
- a NumPy array, and anything NumPy reads as one (a tensor, a `keras.Variable`),
  by its shape, dtype and a SHA-256 of its bytes (normalisation statistics the
  hypermodel holds); an object array by its values described as here, without
  memory addresses; a pandas DataFrame, Series or Index by its shape and a
  SHA-256 of `pandas.util.hash_pandas_object` (labels and dtypes too): alike in
  every process;
- a function or class by its qualified name (the code of yours is hashed by
  `tunekit.hypermodel_code`); a Keras layer, model, optimizer, loss,
  initializer or regularizer by its class and `get_config()`, and, when it
  holds variables, by a SHA-256 of their values (`weights_sha256`: an adapted
  `Normalization`'s mean and variance, which its config leaves out; a built
  layer's weights) and an adapted lookup layer's vocabulary
  (`vocabulary_sha256`): alike in every process for the same adaptation;
- another object by its class and its own values, three levels deep; one
  without `__dict__` (a `__slots__` class, `@dataclass(slots=True)`, a NumPy
  `Generator` or `RandomState`), or whose class says what pickling keeps (a
  `random.Random`, scikit-learn's estimators), by that (`__reduce_ex__(4)`:
  the arguments that make it and its state; a state longer than `_LONG`
  characters, such as a random generator's, by its hash). One that cannot be
  pickled and has no `__dict__` by its `repr` when its class writes one
  without a memory address (a value); else (a lock, a C handle) by its class
  only, and a warning names the attribute: two of them cannot be told apart.

Left out: KerasTuner's own attributes (`name`, `tunable`, `build`, `_build`);
those `tunekit.object_settings` records already; those naming where to write or
how much to print (`object_settings.OUTPUT_ARGUMENTS`: `verbose`, `log_dir`,
...); modules; and what the class's own build and fit write
(`tunekit.build_state.kept_by_build`: `self.n += 1`, `self.cache[k] = ...`;
only what is written: `self.cfg.last = ...` leaves out `cfg.last`, not `cfg`;
read from the source, so a model you built before tunekit first saw the object,
`hm.build(hp)` to try it, is not taken for a setting in the next process).

What tunekit's own use of the object changes on it (its builds and fits by any
means: `self.rng.integers()`, a scaler's `partial_fit`, a helper function
outside the class, a held layer's trained weights) is state, not a setting:
`tunekit.hypermodel_use` learns it as it happens and records those values as
tunekit first saw them. A value changed by hand between runs (`hm._w = 512`)
is compared like any other.

A run recorded before this key existed resumes (`object_settings.ADDED_KEYS`):
its values are unknown there, not a change, and a warning says so when this
hypermodel has some.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import re
import types
from typing import Any

from tunekit.build_state import kept_by_build
from tunekit.build_state import library as _library
from tunekit.object_settings import (
    HYPERMODEL_STATE,
    OUTPUT_ARGUMENTS,
    describe_hypermodel,
    hypermodel_settings,
)

__all__ = ["KEY", "describe_state", "kept_by_build"]

#: The key of `CoarseToFine.config()` that holds `describe_state(hypermodel)`.
KEY = HYPERMODEL_STATE
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")  # `<function f at 0x7f...>`: another in each process
# Methods by which a class says what pickling it keeps, beyond its `__dict__`.
_PICKLING = ("__reduce_ex__", "__reduce__", "__getstate__")
_LONG = 300  # characters of a pickled state written out; a longer one by its hash
_DEPTH = 3  # how deep the values of an object held are described
# The classes of the objects `_unread` could not read in the attribute being described.
_UNREAD: list[str] = []
_WARNED: set[tuple[type, str, str]] = set()  # (hypermodel class, attribute, class) warned of
_logger = logging.getLogger(__name__)


def describe_state(hypermodel: Any) -> dict[str, Any]:
    """A `keras_tuner.HyperModel`'s own values that its other records leave out.

    See the module docstring for what is described and what is left out.

    Args:
        hypermodel: Anything given as `hypermodel=` (a build function has none).

    Returns:
        `{attribute: value}` sorted by name, JSON as it reads back; `{}` for
        anything that is not a `keras_tuner.HyperModel`.
    """
    import keras_tuner as kt

    if not isinstance(hypermodel, kt.HyperModel):
        return {}
    recorded = set(describe_hypermodel(hypermodel)) | set(hypermodel_settings(hypermodel))
    kept = kept_by_build(hypermodel.__class__)  # "n", "cfg.last": what a build writes
    skipped = recorded | _kerastuner_attributes() | kept
    found = {}
    for name, value in sorted(vars(hypermodel).items()):
        if name in skipped or name.lstrip("_") in OUTPUT_ARGUMENTS:
            continue
        if isinstance(value, types.ModuleType):
            continue
        _UNREAD.clear()
        try:
            written = frozenset(p.partition(".")[2] for p in kept if p.startswith(f"{name}."))
            found[name] = _described(value, 0, written)
        except Exception:  # noqa: BLE001 (an object whose attributes raise: its class)
            found[name] = f"<{type(value).__module__}.{type(value).__qualname__}>"
        for kind in sorted(set(_UNREAD)):
            said = (type(hypermodel), name, kind)
            if said not in _WARNED:
                _WARNED.add(said)
                _logger.warning(
                    "The hypermodel's attribute %s holds a %s, which tunekit can neither "
                    "pickle nor read: a rerun compares it by its class alone, so another "
                    "one with other values resumes this run. If it changes what build() "
                    "makes, keep its settings in plain attributes too (numbers, text).",
                    name,
                    kind,
                )
        _UNREAD.clear()
    return json.loads(json.dumps(found))


@functools.lru_cache(maxsize=1)
def _kerastuner_attributes() -> frozenset[str]:
    """What `keras_tuner.HyperModel.__init__` sets: `name`, `tunable`, `build`, `_build`."""
    import keras_tuner as kt

    return frozenset(vars(kt.HyperModel()))


def _described(value: Any, depth: int, written: frozenset[str] = frozenset()) -> Any:
    """`value` as recorded (see the module docstring): JSON a rerun writes alike, without
    the attributes of an object at the dotted paths `written` (what a build writes)."""
    import numpy as np

    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # NaN never equals itself
    if isinstance(value, np.generic) and not isinstance(value, np.void):
        return _described(value.item(), depth)
    if isinstance(value, np.ndarray):
        return _array(value)
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if isinstance(value, type):
        return f"<class {value.__module__}.{value.__qualname__}>"
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        function = getattr(value, "__func__", value)
        name = getattr(function, "__qualname__", None) or kind
        return f"<function {getattr(function, '__module__', None) or ''}.{name}>"
    if isinstance(value, functools.partial):
        return {
            "partial": _described(value.func, depth),
            "args": [_described(v, depth + 1) for v in value.args],
            "keywords": {k: _described(v, depth + 1) for k, v in value.keywords.items()},
        }
    if isinstance(value, (list, tuple)):
        return [_described(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [_described(v, depth + 1) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dict):
        return {_ADDRESS.sub("0x", str(k)): _described(v, depth + 1) for k, v in value.items()}
    if (config := _keras_config(value)) is not None:
        return {"class": kind, "config": config, **_keras_values(value)}
    if (frame := _pandas(value)) is not None:
        return frame
    if hasattr(value, "__array__"):  # a tensor, a variable, a pandas frame
        try:
            return _array(np.asarray(value))
        except Exception:  # noqa: BLE001 (not an array after all: described as an object)
            pass
    if depth >= _DEPTH:
        return f"<{kind}>"
    # `__slots__`, a generator's seed, a `random.Random`'s: what pickling it keeps.
    pickled = any(getattr(type(value), m, None) is not getattr(object, m) for m in _PICKLING)
    if pickled or not hasattr(value, "__dict__"):
        if (found := _reduced(value, kind, depth, written)) is not None:
            return found
    if not hasattr(value, "__dict__"):
        return _unread(value, kind)
    held = _attributes(vars(value), depth, written)
    return {"class": kind, **{k: v for k, v in held.items() if k != "class"}}


def _attributes(values: dict[Any, Any], depth: int, written: frozenset[str]) -> dict[str, Any]:
    """An object's attributes as described, but those at the dotted paths `written`."""
    held = {}
    for key, value in sorted(values.items(), key=lambda item: str(item[0])):
        name = str(key)
        if name in written:
            continue
        inner = frozenset(p.partition(".")[2] for p in written if p.startswith(f"{name}."))
        held[name] = _described(value, depth + 1, inner)
    return held


def _reduced(value: Any, kind: str, depth: int, written: frozenset[str]) -> Any | None:
    """An object without `__dict__` by what pickling it keeps (`__reduce_ex__(4)`: the
    arguments that make it and its state, such as a `__slots__` class's values or a NumPy
    generator's bit generator state); None when it cannot be pickled. A state
    over `_LONG` characters as written (a `random.Random`'s 625 numbers) by its hash."""
    try:
        reduced = value.__reduce_ex__(4)
    except Exception:  # noqa: BLE001 (a lock, a handle: described otherwise)
        return None
    if not isinstance(reduced, tuple):  # a module-level singleton, named
        return f"<{kind} {reduced}>"
    arguments = list(reduced[1]) if len(reduced) > 1 and reduced[1] else []
    if arguments and arguments[0] is type(value):  # `copyreg.__newobj__(cls, *args)`
        arguments = arguments[1:]
    found: dict[str, Any] = {"class": kind}
    if arguments:
        found["args"] = _described(arguments, depth)
    state = reduced[2] if len(reduced) > 2 else None
    if isinstance(state, dict) and not arguments:  # its attributes (scikit-learn's): by name
        held = _attributes(state, depth, written)
        return {"class": kind, **{k: v for k, v in held.items() if k != "class"}}
    if state is not None:
        found["state"] = _described(state, depth)
    text = json.dumps(found, sort_keys=True)
    if len(text) > _LONG:
        return {"class": kind, "state_sha256": hashlib.sha256(text.encode()).hexdigest()[:16]}
    return found


def _array(array: Any) -> dict[str, Any]:
    """An array as its shape, dtype and a hash of its values (an object array: each value
    as `_described` writes it, without memory addresses, alike in every process)."""
    if array.dtype.hasobject:
        data = json.dumps(array.tolist(), sort_keys=True, default=_item).encode()
    else:
        data = array.tobytes(order="C")
    digest = hashlib.sha256(data).hexdigest()[:16]
    return {"array": list(array.shape), "dtype": str(array.dtype), "sha256": digest}


def _item(value: Any) -> Any:
    """A value inside an object array or column, as JSON alike in every process."""
    return _ADDRESS.sub("0x", json.dumps(_described(value, _DEPTH - 1), sort_keys=True))


def _pandas(value: Any) -> dict[str, Any] | None:
    """A pandas DataFrame, Series or Index by its shape, dtypes and a hash of its labels and
    values (`pandas.util.hash_pandas_object`; text and objects in a column by `_item`); else
    None."""
    import sys

    pd = sys.modules.get("pandas")
    if pd is None or not isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
        return None
    frame = value.to_frame() if isinstance(value, (pd.Series, pd.Index)) else value
    frame = frame.copy(deep=False)
    for column in range(frame.shape[1]):
        values = frame.iloc[:, column]
        kind = pd.api.types.infer_dtype(values, skipna=True)
        if values.dtype == object and kind not in ("string", "empty"):
            frame.isetitem(column, values.map(_item))  # a function's text holds its address
    hashed = hashlib.sha256()
    hashed.update(json.dumps([_item(c) for c in frame.columns]).encode())
    hashed.update(json.dumps([str(t) for t in frame.dtypes]).encode())
    hashed.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest = hashed.hexdigest()[:16]
    return {"array": list(value.shape), "dtype": type(value).__name__, "sha256": digest}


def _keras_config(value: Any) -> Any:
    """A Keras object's `get_config()` without its automatic name, as JSON; else None."""
    get_config = getattr(value, "get_config", None)
    if not callable(get_config) or not _library(type(value).__module__):
        return None
    try:
        config = get_config()
    except Exception:  # noqa: BLE001 (a config that cannot be read: described otherwise)
        return None
    if isinstance(config, dict):
        config = {k: v for k, v in config.items() if k != "name"}
    from tunekit.model_description import numbered_names_dropped

    return numbered_names_dropped(config)


def _keras_values(value: Any) -> dict[str, Any]:
    """What a Keras object holds beyond its config: a hash of its variables' values (an
    adapted `Normalization`'s mean and variance, a built layer's or model's weights, an
    optimizer's slots), `{}` for none; an adapted lookup layer's vocabulary by its hash."""
    import numpy as np

    found: dict[str, Any] = {}
    variables = getattr(value, "weights", None)
    if not isinstance(variables, (list, tuple)):
        variables = getattr(value, "variables", None)
    if isinstance(variables, (list, tuple)) and variables:
        hashed = hashlib.sha256()
        try:
            for variable in variables:
                array = np.ascontiguousarray(np.asarray(variable))
                hashed.update(f"{array.shape}{array.dtype}".encode())
                hashed.update(array.tobytes() if not array.dtype.hasobject else b"")
            found["weights_sha256"] = hashed.hexdigest()[:16]
        except Exception:  # noqa: BLE001 (a variable that cannot be read: said as unread)
            found["weights_sha256"] = "not readable"
    vocabulary = getattr(value, "get_vocabulary", None)
    if callable(vocabulary):  # `StringLookup`, `TextVectorization`: adapted, not configured
        try:
            words = json.dumps([_item(w) for w in vocabulary()])
            found["vocabulary_sha256"] = hashlib.sha256(words.encode()).hexdigest()[:16]
        except Exception:  # noqa: BLE001 (no vocabulary yet)
            pass
    return found


def _unread(value: Any, kind: str) -> Any:
    """An object neither pickled nor holding a `__dict__` (a C extension's, a lock): by its
    `repr` when its class writes one without a memory address (a value, `Width(64)`), else
    by its class alone, noted in `_UNREAD` so that `describe_state` warns of it."""
    if type(value).__repr__ is not object.__repr__:
        try:
            text = repr(value)
        except Exception:  # noqa: BLE001 (a repr that raises: the class alone)
            text = ""
        if text and not _ADDRESS.search(text) and " object at " not in text:
            return {"class": kind, "repr": text}
    _UNREAD.append(kind)
    return f"<{kind}>"
