"""The settings Python objects hold, as a run records them: `callbacks=`, a HyperModel's values.

A run resumes only with the settings that made its trials (`tunekit.manifest`).
Two arguments are objects whose settings live in their attributes, so
`CoarseToFine.config()` records a description of them, compared on resume like
any other setting (`RunConfigError` naming old -> new):

- `callbacks=` (`describe_callbacks`, key `"callbacks"`): per callback, in
  order, its class (`keras.callbacks.EarlyStopping`; a class of yours by
  `module.qualname`) and its settings: the attributes named after an
  `__init__` argument of its class or a base (`monitor`, `patience`,
  `min_delta`, `factor`, ...; `self._x = x` too), with plain values (numbers,
  strings, `None`, lists and dicts of them). The attributes a fit changes
  (`wait`, `best`, `stopped_epoch`) are not arguments, so a callback reused
  after a run describes the same. A function among those arguments (a
  `LearningRateScheduler`'s schedule, a `LambdaCallback`'s hooks) and the code
  of a callback class of yours are recorded by `tunekit.hypermodel_code`'s
  hash, so an edit of them is a change like an edit of the hypermodel.
  Left out, as they change no trial: `verbose` and the arguments naming where
  a callback writes (`OUTPUT_ARGUMENTS`: `log_dir`, `filepath`, ...), so a
  `TensorBoard(log_dir=f"logs/{time}")` resumes; and Keras's callbacks that
  only observe or save (`OBSERVERS`: `TensorBoard`, `CSVLogger`,
  `ModelCheckpoint`, ...), which a rerun may add or drop. Their subclasses are
  described like any class.
- a `keras_tuner.HyperModel`'s own values that `CoarseToFine`'s
  `"hypermodel"` entry leaves out (`hypermodel_settings`, key
  `"hypermodel_settings"`): lists and dicts given to its `__init__`
  (`MyHyperModel(activations=["relu"])`), and private attributes named after
  an argument.

What the hypermodel builds (`tunekit.model_description`, key
`"default_model"`) is recorded too: the attributes above miss an argument
kept under another name, a function or a numpy scalar, and the model does
not. So are the hypermodel's other values, private ones and arrays too
(`tunekit.hypermodel_state`, key `"hypermodel_state"`): the default model
misses those used only by other configurations.

A run recorded before these keys existed does not say what it ran with: a
resume takes them as unknown, not as a change (`as_recorded`), and warns when
this run has callbacks or hypermodel values that would count.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import math
import types
from collections.abc import Iterable
from typing import Any

from tunekit import hypermodel_code, model_description

__all__ = [
    "CALLBACKS",
    "HYPERMODEL_SETTINGS",
    "HYPERMODEL_STATE",
    "OBSERVERS",
    "OUTPUT_ARGUMENTS",
    "as_recorded",
    "describe_callbacks",
    "describe_hypermodel",
    "differences",
    "hypermodel_settings",
    "setting_text",
]

#: The key of `CoarseToFine.config()` that holds `describe_callbacks(callbacks)`.
CALLBACKS = "callbacks"
#: The key of `CoarseToFine.config()` that holds `hypermodel_settings(hypermodel)`.
HYPERMODEL_SETTINGS = "hypermodel_settings"
#: The key of `CoarseToFine.config()` that holds `tunekit.hypermodel_state.describe_state`.
HYPERMODEL_STATE = "hypermodel_state"
#: Keys a run recorded before them lacks: unknown there, not a change.
ADDED_KEYS = (CALLBACKS, HYPERMODEL_SETTINGS, model_description.KEY, HYPERMODEL_STATE)
# What a resume of a run recorded before them says it cannot compare.
_UNKNOWN = {
    CALLBACKS: "callbacks were part of a run's settings, so its callbacks",
    HYPERMODEL_STATE: "a hypermodel's own values were part of a run's settings, so its values",
}
#: `__init__` arguments that say where a callback writes or how much it prints.
OUTPUT_ARGUMENTS = frozenset(
    {"verbose", "log_dir", "filepath", "filename", "backup_dir", "directory", "root", "path"}
)
#: Keras's callbacks that only observe or save a fit (by class name in `keras.callbacks`).
OBSERVERS = (
    "TensorBoard",
    "CSVLogger",
    "ModelCheckpoint",
    "ProgbarLogger",
    "History",
    "RemoteMonitor",
    "OrbaxCheckpoint",
)
_CODE = "sha256"  # the key of a code hash in a description (not comparable across Pythons)

_logger = logging.getLogger(__name__)
_WARNED: set[str] = set()  # the runs and callbacks `as_recorded` warned of


def describe_callbacks(callbacks: Iterable[Any]) -> list[dict[str, Any]]:
    """What a run records of its `callbacks=`, in order (see the module docstring).

    Args:
        callbacks: `keras.callbacks.Callback` objects.

    Returns:
        One dict per callback that can change a trial: `{"class": path,
        **settings}` (and `"sha256"` for code of yours); JSON as it reads back.
    """
    import keras

    described = []
    for callback in callbacks:
        kind = type(callback)
        if any(kind is getattr(keras.callbacks, name, None) for name in OBSERVERS):
            continue
        public = getattr(keras.callbacks, kind.__name__, None) is kind
        entry: dict[str, Any] = {
            "class": f"keras.callbacks.{kind.__name__}" if public else _path(kind)
        }
        if not hypermodel_code._library(kind.__module__):
            entry[_CODE] = hypermodel_code.code_hash(kind)[:16]
        for name, value in _arguments(callback, skip=OUTPUT_ARGUMENTS).items():
            entry[name] = _value(value)
        described.append(entry)
    return json.loads(json.dumps(described))


def hypermodel_settings(hypermodel: Any) -> dict[str, Any]:
    """The values of a `keras_tuner.HyperModel` that its `"hypermodel"` entry leaves out.

    That entry keeps its public int, float, str, bool and tuple attributes;
    here are the other attributes named after an `__init__` argument whose
    values are plain (lists, dicts), and private ones named after an argument
    (`self._units = units`). A function (not a HyperModel) has none.

    Returns:
        `{attribute: value}`, JSON as it reads back.
    """
    import keras_tuner as kt

    if not isinstance(hypermodel, kt.HyperModel):
        return {}
    found = {}
    for name, value in _arguments(hypermodel).items():
        recorded = not name.startswith("_") and isinstance(value, (int, float, str, bool, tuple))
        if recorded or value is None or not _plain(value):
            continue
        found[name] = _value(value)
    return json.loads(json.dumps(found))


def as_recorded(recorded: Any, config: dict[str, Any], run: object = None) -> dict[str, Any]:
    """`config` as a resume compares it with the `recorded` configuration.

    A key of `ADDED_KEYS` that `recorded` lacks (a run from before it) is
    dropped from `config`: unknown, not a change (a warning says so when
    this run's callbacks would count). Under another Python minor version than
    the recorded hypermodel code's, the code hashes in the callbacks are not
    compared (`tunekit.hypermodel_code.as_recorded` warns of that): callbacks
    that agree but for them are taken as recorded.

    Args:
        recorded: The recorded configuration (a dict, or anything a damaged
            manifest holds).
        config: This run's configuration.
        run: The run folder, for the warning (said once per folder and
            callbacks in a process: every step opens the run).
    """
    if not isinstance(recorded, dict):
        return config
    config = dict(config)
    for key in ADDED_KEYS:
        if key in config and key not in recorded:
            said = f"{run}: {setting_text(key, config[key])}"
            if key in _UNKNOWN and config[key] and said not in _WARNED:
                _WARNED.add(said)
                _logger.warning(
                    "The run in %s was recorded before %s cannot be compared: it resumes "
                    "with these (%s). If it started with others, its trials mix both: pass "
                    "overwrite=True to start over.",
                    run,
                    _UNKNOWN[key],
                    setting_text(key, config[key]),
                )
            del config[key]
    if model_description.KEY in config:  # recorded before its layers' settings were kept
        config[model_description.KEY] = model_description.as_recorded(
            recorded.get(model_description.KEY), config[model_description.KEY]
        )
    old_state, new_state = recorded.get(HYPERMODEL_STATE), config.get(HYPERMODEL_STATE)
    if old_state is not None and new_state is not None and _alike(old_state, new_state):
        config[HYPERMODEL_STATE] = old_state  # a class of `__main__` imported from its script
    old, new = recorded.get(CALLBACKS), config.get(CALLBACKS)
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        # A class of yours defined in the script run (`__main__.MyCallback`) is the same
        # class imported from it in a notebook (`my_script.MyCallback`): its code says so.
        config[CALLBACKS] = [o if _alike(o, n) else n for o, n in zip(old, new)]
    old_code = recorded.get(hypermodel_code.KEY)
    old_python = old_code.get("python") if isinstance(old_code, dict) else None
    other_python = old_python not in (None, hypermodel_code.python_version())
    if other_python and CALLBACKS in config and CALLBACKS in recorded:
        if _without_code(recorded[CALLBACKS]) == _without_code(config[CALLBACKS]):
            config[CALLBACKS] = recorded[CALLBACKS]  # the same but for the code: as recorded
    return config


def setting_text(key: str, value: Any) -> str:
    """A recorded setting in a refusal's words: callbacks as calls, a hypermodel's values as
    `name=value` (an array by its shape and hash), anything else as `repr`."""
    if key == HYPERMODEL_STATE and isinstance(value, dict):
        return ", ".join(f"{name}={_text(v)}" for name, v in value.items())
    if key != CALLBACKS or not isinstance(value, list):
        return repr(value)
    calls = []
    for entry in value:
        if not isinstance(entry, dict):
            calls.append(repr(entry))
            continue
        name = str(entry.get("class", "?")).rpartition(".")[2]
        arguments = [f"{k}={_text(v)}" for k, v in entry.items() if k not in ("class", _CODE)]
        if _CODE in entry:
            arguments.append(f"code sha256 {str(entry[_CODE])[:8]}")
        calls.append(f"{name}({', '.join(arguments)})")
    return f"[{', '.join(calls)}]"


def _set_text(value: Any) -> str:
    """A recorded value in a refusal's words; `not set` for `model_description.ABSENT`."""
    return "not set" if value is model_description.ABSENT else _text(value)


def differences(key: str, old: Any, new: Any) -> list[str]:
    """A changed setting in a refusal's words: `key: old -> new` (see `setting_text`).

    The same hypermodel class with other values is named by each value that changed,
    `hypermodel augment: True -> False`, not by two whole descriptions to compare by eye;
    so are its values recorded under `HYPERMODEL_SETTINGS`, whose key is no argument
    (`hypermodel activations: ['relu'] -> ['tanh']`); another default model by its
    layers that differ (`tunekit.model_description.model_differences`); other
    hypermodel values (`tunekit.hypermodel_state`) each by name,
    `hypermodel attribute _w: 64 -> 512`, a held object by its settings that differ
    (`hypermodel attribute _reg.config.l2: 0.01 -> 0.02`).
    """
    if key == model_description.KEY:
        return model_description.model_differences(old, new)
    hypermodels = isinstance(old, dict) and isinstance(new, dict)
    if key == HYPERMODEL_STATE and hypermodels:
        return [  # a held object by its settings that differ, not two whole descriptions
            f"hypermodel attribute {name}: {_set_text(a)} -> {_set_text(b)}"
            for name, (a, b) in model_description.changed_paths(old, new).items()
        ]
    if hypermodels and (
        key == HYPERMODEL_SETTINGS or (key == "hypermodel" and old.get("class") == new.get("class"))
    ):
        return [
            f"hypermodel {name}: {_set_text(old.get(name, model_description.ABSENT))} -> "
            f"{_set_text(new.get(name, model_description.ABSENT))}"
            for name in sorted(set(old) | set(new))
            if old.get(name) != new.get(name)
        ]
    if key == HYPERMODEL_SETTINGS:  # a damaged record
        return [f"hypermodel values: {old!r} -> {new!r}"]
    return [f"{key}: {setting_text(key, old)} -> {setting_text(key, new)}"]


def _text(value: Any) -> str:
    """A recorded argument as written: a function as `<function name, code sha256 ...>`,
    an array as `<array float32 (3,), sha256 ...>`."""
    if isinstance(value, dict) and set(value) == {"function", _CODE}:
        return f"<function {value['function']}, code sha256 {str(value[_CODE])[:8]}>"
    if isinstance(value, dict) and set(value) == {"array", "dtype", "sha256"}:
        shape = tuple(value["array"]) if isinstance(value["array"], list) else value["array"]
        return f"<array {value['dtype']} {shape}, sha256 {str(value['sha256'])[:8]}>"
    return repr(value)


def _path(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


@functools.lru_cache(maxsize=64)
def _init_arguments(kind: Any) -> tuple[str, ...]:
    """The named `__init__` arguments of `kind` and its bases, sorted."""
    names: set[str] = set()
    for base in kind.__mro__:
        if base is object or "__init__" not in vars(base):
            continue
        try:
            parameters = inspect.signature(vars(base)["__init__"]).parameters.values()
        except (TypeError, ValueError):
            continue
        names |= {
            p.name
            for p in parameters
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }
    return tuple(sorted(names))


def _arguments(thing: Any, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """`thing`'s attributes named after an `__init__` argument (`x`, else `_x`)."""
    held = getattr(thing, "__dict__", {})
    found = {}
    for name in _init_arguments(thing.__class__):
        if name in skip:
            continue
        for attribute in (name, f"_{name}"):
            if attribute in held:
                found[attribute] = held[attribute]
                break
    return found


def _plain(value: Any) -> bool:
    """Whether `value` is data JSON keeps as it is (numbers, strings, lists, dicts)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False)) == value or isinstance(value, tuple)
    except (TypeError, ValueError):
        return isinstance(value, float)  # NaN, inf: `_value` writes them as text


def _value(value: Any) -> Any:
    """A setting as recorded: plain data as it is, a function by its code, else its type."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN never equals itself
    if _plain(value):
        return value
    if isinstance(value, (types.FunctionType, types.MethodType, functools.partial)):
        name = getattr(value, "__qualname__", None) or type(value).__qualname__
        module = getattr(value, "__module__", None) or ""
        if hypermodel_code._library(module):
            return f"<function {module}.{name}>"
        return {"function": f"{module}.{name}", _CODE: hypermodel_code.code_hash(value)[:16]}
    return f"<{_path(type(value))}>"


def _alike(old: Any, new: Any) -> bool:
    """Whether two descriptions are equal but for names of `__main__` and of a module."""
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(_alike(old[k], new[k]) for k in old)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_alike(o, n) for o, n in zip(old, new))
    if isinstance(old, str) and isinstance(new, str) and old != new:
        main, other = (old, new) if old.startswith("__main__.") else (new, old)
        name = main.removeprefix("__main__.")
        return main != name and "." in other and other.endswith(f".{name}")
    return bool(old == new)


def _without_code(entries: Any) -> Any:
    """Descriptions with their code hashes dropped (at any depth)."""
    if isinstance(entries, list):
        return [_without_code(e) for e in entries]
    if isinstance(entries, dict):
        return {k: _without_code(v) for k, v in entries.items() if k != _CODE}
    return entries


def describe_hypermodel(hypermodel: Any) -> dict[str, Any]:
    """A JSON description identifying a hypermodel, for the run fingerprint.

    Its qualified name and simple attributes; a `functools.partial` is its
    function's description with the partial's arguments (simple ones by value,
    others by type). The code is `hypermodel_code.code_record`'s.
    """
    import keras_tuner as kt

    if isinstance(hypermodel, functools.partial):
        return {
            **describe_hypermodel(hypermodel.func),
            "partial_args": [_as_json(value) for value in hypermodel.args],
            "partial_keywords": {k: _as_json(v) for k, v in hypermodel.keywords.items()},
        }
    target = (
        hypermodel
        if callable(hypermodel) and not isinstance(hypermodel, kt.HyperModel)
        else type(hypermodel)
    )
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    module = getattr(target, "__module__", None) or type(target).__module__
    described: dict[str, Any] = {"class": f"{module}.{qualname}"}
    if isinstance(hypermodel, kt.HyperModel):
        for key, value in sorted(vars(hypermodel).items()):
            if not key.startswith("_") and isinstance(value, (int, float, str, bool, tuple)):
                described[key] = list(value) if isinstance(value, tuple) else value
    return described


def _as_json(value: Any) -> Any:
    """`value` as JSON reads it back if it is simple (int, str, lists...), else its type's name."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return f"<{type(value).__module__}.{type(value).__qualname__}>"
