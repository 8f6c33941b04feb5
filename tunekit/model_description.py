"""What a hypermodel builds, as a run records it: its default configuration's model.

Two hypermodels are the same for a run when they build the same model, not
when some of their attributes agree: an argument kept under another name
(`self._w = units`), a function (`activation=keras.activations.tanh`), a
numpy scalar (`units=np.int64(32)`) or a callable object of your own all
change the model without changing `tunekit.object_settings`'s description.
So `CoarseToFine.config()` also records, under `KEY` (`"default_model"`),
`describe_model` of the model `hypermodel.build(hp)` returns with every
hyperparameter at its default (the model the check before any training
builds, `tunekit.steps.check.check_model`): a hash of its architecture
(`model.to_json()`) and compile settings (`model.get_compile_config()`: loss,
metrics, optimizer and its settings), with a short summary of its layers for
messages, and each layer's and the optimizer's settings (`get_config()`,
flattened: `kernel_initializer: 'HeNormal'`, `kernel_regularizer.l2: 0.01`,
`learning_rate: 0.001`) so that a refusal names the setting that differs, not
two hashes. A resume compares it like any setting (a run recorded before it
resumes: unknown, not a change; one recorded before the settings were kept
compares the hash, `as_recorded`); the command line read-back
(`tunekit.cli_equivalence`) compares the model `--hypermodel` builds.

Layer and model names Keras numbers by itself (`dense_3`, `sequential_2`)
depend on what the process built before, so their number is dropped.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

__all__ = [
    "KEY",
    "as_recorded",
    "built_default",
    "describe_model",
    "model_differences",
    "numbered_names_dropped",
    "changed_paths",
]

#: The key of `CoarseToFine.config()` that holds `describe_model` of the default model.
KEY = "default_model"
# The settings of a layer its summary names (the rest is in the hash).
_SHOWN = ("units", "filters", "kernel_size", "activation", "rate", "pool_size", "output_dim")
_NUMBERED = re.compile(r'"([A-Za-z][A-Za-z0-9_]*?)_\d+"')  # "dense_3" -> "dense"
# The same in values only, for the settings kept by name (`"beta_1": 0.9` stays a key).
_NUMBERED_VALUE = re.compile(_NUMBERED.pattern + r"(?!\s*:)")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")  # `<function f at 0x7f...>`: another in each process
# The settings fields of a record, added after runs were recorded without them.
_SETTINGS = ("layer_settings", "optimizer_settings")


def describe_model(model: Any) -> dict[str, Any] | None:
    """The record of a built model: `{"sha256": 16 hex digits, "layers": [...], "compile": ...}`.

    Args:
        model: A `keras.Model` (`None`: a hypermodel whose own `fit` builds it,
            recorded as `None`).

    Returns:
        `"sha256"`: a hash of its architecture and compile settings;
        `"layers"`: one line per layer, such as `"Dense(units=32, activation='tanh')"`;
        `"compile"`: its loss, metrics and optimizer class (`None` when not
        compiled); `"layer_settings"`: per layer, its flattened `get_config()`
        (`{"units": 32, "kernel_initializer": "GlorotUniform", ...}`);
        `"optimizer_settings"`: the optimizer's (`{"class": "Adam",
        "learning_rate": 0.001, ...}`, `None` when not compiled). Anything else a
        build returns: `{"sha256", "returned": its type}`.
        JSON as it reads back.
    """
    if model is None:
        return None
    try:
        return _described(model)
    except Exception:  # noqa: BLE001 (not a Keras model: its own checks say so)
        kind = f"{type(model).__module__}.{type(model).__qualname__}"
        return {"sha256": hashlib.sha256(kind.encode()).hexdigest()[:16], "returned": kind}


def _described(model: Any) -> dict[str, Any]:
    """`describe_model` of a `keras.Model` (raises for anything else)."""
    architecture = _json(  # a model Keras cannot serialize: its layers and its own values
        model.to_json,
        lambda: {"layers": [_layer_config(x) for x in _layers(model)], "own": _own(model)},
    )
    compiled = _json(model.get_compile_config, lambda: None) if _compiled(model) else "null"
    text = _NUMBERED.sub(r'"\1"', _unbatched(architecture) + compiled)
    compile_config = json.loads(_NUMBERED.sub(r'"\1"', compiled)) or {}  # "my_loss_1" too
    optimizer = compile_config.get("optimizer")
    settings = json.loads(_NUMBERED_VALUE.sub(r'"\1"', compiled)) or {}
    summary = {
        "loss": compile_config.get("loss"),
        "metrics": compile_config.get("metrics"),
        "optimizer": optimizer.get("class_name") if isinstance(optimizer, dict) else optimizer,
    }
    described = {
        "sha256": hashlib.sha256(text.encode()).hexdigest()[:16],
        "layers": [_layer_text(layer) for layer in _layers(model)],
        "compile": summary if compile_config else None,
        "layer_settings": [
            _flat(numbered_names_dropped(_layer_config(layer))) for layer in _layers(model)
        ],
        "optimizer_settings": (
            _flat(settings["optimizer"]) if isinstance(settings.get("optimizer"), dict) else None
        ),
    }
    return json.loads(json.dumps(described, default=repr))


def _unbatched(value: Any, shape: bool = False) -> Any:
    """`model.to_json()`'s text (or a value in it) with the batch size of each shape in a
    `build_config` as `null`: a layer built on data (an adapted `Normalization`, on all its
    rows) keeps that count there, how it was built, not a setting. Else unchanged."""
    if isinstance(value, str):
        unbatched = _unbatched(json.loads(value)) if '"build_config"' in value else None
        return value if unbatched is None else json.dumps(unbatched, sort_keys=True, default=repr)
    if (
        shape
        and isinstance(value, list)
        and value
        and all(type(v) in (int, type(None)) for v in value)
    ):
        return [None, *value[1:]]
    if isinstance(value, dict):
        return {k: _unbatched(v, shape or k == "build_config") for k, v in value.items()}
    return [_unbatched(v, shape) for v in value] if isinstance(value, list) else value


def built_default(hypermodel: Any, hyperparameters: Any = None) -> dict[str, Any] | None:
    """`describe_model` of `hypermodel.build(hp)` with every hyperparameter at its default.

    Args:
        hypermodel: A `keras_tuner.HyperModel` (a build function: wrap it first).
        hyperparameters: The run's `hyperparameters=` (copied; `None`: none).

    Raises:
        Whatever the build raises (`tunekit.steps.check.default_model` says it).
    """
    import keras
    import keras_tuner as kt

    hp = kt.HyperParameters() if hyperparameters is None else hyperparameters.copy()
    model = hypermodel.build(hp)
    try:
        return describe_model(model)
    finally:
        del model
        keras.backend.clear_session()


def model_differences(old: Any, new: Any, what: str = "the default model") -> list[str]:
    """How two `describe_model` records differ, in a refusal's words.

    `"the default model differs: Dense(units=32, ...) -> Dense(units=8, ...)"`,
    naming the first differing layers or compile settings; when only the hash
    differs (a setting the summary does not show), that the hypermodel builds
    another default model. Empty when they are equal.
    """
    if old == new:
        return []
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [f"{what} differs: {_whole(old)} -> {_whole(new)}"]
    found = []
    old_layers, new_layers = old.get("layers") or [], new.get("layers") or []
    old_settings, new_settings = old.get("layer_settings"), new.get("layer_settings")
    if len(old_layers) != len(new_layers):
        found.append(
            f"{what} differs: {len(old_layers)} layers ({', '.join(old_layers)}) -> "
            f"{len(new_layers)} layers ({', '.join(new_layers)})"
        )
    else:
        for i, (o, n) in enumerate(zip(old_layers, new_layers)):
            if o != n:
                found.append(f"{what} differs: {o} -> {n}")
            elif isinstance(old_settings, list) and isinstance(new_settings, list):
                pair = _item(old_settings, i), _item(new_settings, i)
                if changed := _changed(*pair):
                    found.append(f"{what} differs in layer {i + 1}, {o}: {changed}")
    old_compile, new_compile = old.get("compile") or {}, new.get("compile") or {}
    old_optimizer, new_optimizer = old.get("optimizer_settings"), new.get("optimizer_settings")
    if isinstance(old_optimizer, dict) and isinstance(new_optimizer, dict):
        if old_optimizer != new_optimizer:
            found.append(
                f"{what}'s optimizer differs: {_call(old_optimizer, new_optimizer)} -> "
                f"{_call(new_optimizer, old_optimizer)}"
            )
        old_compile = {k: v for k, v in old_compile.items() if k != "optimizer"}
        new_compile = {k: v for k, v in new_compile.items() if k != "optimizer"}
    for name in ("loss", "metrics", "optimizer"):
        if old_compile.get(name) != new_compile.get(name):
            found.append(
                f"{what}'s {name} differs: {old_compile.get(name)!r} -> {new_compile.get(name)!r}"
            )
    if not found:
        found.append(
            f"the hypermodel builds another default model (a setting of its layers or "
            f"compile differs: sha256 {old.get('sha256')} -> {new.get('sha256')})"
        )
    return found


def as_recorded(recorded: Any, record: Any) -> Any:
    """`record` as a resume compares it with a `recorded` one: without the settings fields
    a record written before them lacks (its hash still compares every setting)."""
    if not isinstance(recorded, dict) or not isinstance(record, dict):
        return record
    return {k: v for k, v in record.items() if k in recorded or k not in _SETTINGS}


def numbered_names_dropped(value: Any) -> Any:
    """`value` as JSON with the numbers Keras gives names (`"dense_3"` -> `"dense"`) and
    memory addresses dropped: what a rerun in another process records alike."""
    text = json.dumps(value, sort_keys=True, default=repr)
    return json.loads(_ADDRESS.sub("0x", _NUMBERED_VALUE.sub(r'"\1"', text)))


#: `changed_paths`'s value for a key one description lacks.
ABSENT = object()


def changed_paths(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Where two recorded descriptions differ, by dotted path: a held object's changed
    settings (`_init.class`, `_reg.config.l2`), not its two whole descriptions.

    Returns:
        `{path: (old, new)}` sorted by path; `ABSENT` for a key one of them lacks. An
        array's record (`{"array", "dtype", "sha256"}`) is one value.
    """
    found: dict[str, Any] = {}
    for name in sorted(set(old) | set(new), key=str):
        a, b = old.get(name, ABSENT), new.get(name, ABSENT)
        if name in old and name in new and a == b:
            continue
        path = f"{prefix}{name}"
        if isinstance(a, dict) and isinstance(b, dict) and "sha256" not in a:
            found.update(changed_paths(a, b, f"{path}."))
        else:
            found[path] = (a, b)
    return found


def _flat(config: Any, prefix: str = "") -> dict[str, Any]:
    """A serialized Keras config as `{"kernel_initializer": "HeNormal",
    "kernel_regularizer.l2": 0.01, ...}`: an object by its class, its settings beneath;
    without the layer's own name and the module paths."""
    flat: dict[str, Any] = {}
    if isinstance(config, dict) and "class_name" in config:
        flat[prefix or "class"] = config["class_name"]
        config = config.get("config")
    if not isinstance(config, dict):
        if prefix and prefix not in flat:
            flat[prefix] = config
        return flat
    for key, value in config.items():
        if key in ("module", "registered_name") or (not prefix and key == "name"):
            continue
        flat.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _item(items: list[Any], i: int) -> Any:
    return items[i] if i < len(items) else None


def _number(value: Any) -> str:
    """A setting as written: a float32 rate `0.009999999776` as `0.01`."""
    return f"{value:.7g}" if isinstance(value, float) else repr(value)


def _changed(old: Any, new: Any) -> str:
    """`"kernel_initializer: 'GlorotUniform' -> 'HeNormal'"`, for each setting that differs;
    an object replaced by one of another class by its class alone (not each of their
    settings; one added where there was `None` with its settings), a setting one side
    lacks as `not set`, and NaN alike on both sides as the same."""
    old, new = old if isinstance(old, dict) else {}, new if isinstance(new, dict) else {}
    differ = [
        key
        for key in sorted(set(old) | set(new), key=str)
        if not _same(old.get(key, ABSENT), new.get(key, ABSENT))
    ]
    swapped = [k for k in differ if old.get(k) is not None and new.get(k) is not None]
    return ", ".join(
        f"{key}: {_number(old[key]) if key in old else 'not set'} -> "
        f"{_number(new[key]) if key in new else 'not set'}"
        for key in differ
        if not any(key.startswith(f"{parent}.") for parent in swapped)
    )


def _same(a: Any, b: Any) -> bool:
    nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return nan or bool(a == b)


def _call(settings: dict[str, Any], other: dict[str, Any]) -> str:
    """An optimizer as a call with the settings that differ from `other`'s:
    `Adam(learning_rate=0.01)`."""
    shown = [
        f"{key}={_number(value)}"
        for key, value in settings.items()
        if key != "class" and other.get(key, ...) != value
    ]
    return f"{settings.get('class')}({', '.join(shown)})"


def _whole(record: Any) -> str:
    if isinstance(record, dict):
        return f"[{', '.join(record.get('layers') or [])}]"
    return "no model (its own fit builds it)" if record is None else repr(record)


def _json(read: Any, fallback: Any) -> str:
    """`read()` (a JSON text or a config), else `fallback()`'s, as sorted JSON text."""
    try:
        value = read()
    except Exception:  # noqa: BLE001 (a model Keras cannot serialize: its layers' settings)
        value = fallback()
    if isinstance(value, str):
        value = json.loads(value)
    return json.dumps(value, sort_keys=True, default=repr)


def _own(model: Any) -> dict[str, Any]:
    """The public values a subclassed model holds itself (`self.scale = 100.0`), beyond
    what every `keras.Model` holds and its layers (whose settings are recorded apart):
    what `to_json` would have said, had the model been serializable."""
    import keras

    common = set(vars(keras.Model()))
    return {
        name: _plain(value)
        for name, value in sorted(vars(model).items())
        if not name.startswith("_") and name not in common
    }


def _plain(value: Any, depth: int = 0) -> Any:
    """`value` as JSON a rerun reads back alike: numbers, text, containers, a function's
    name, an array's shape and bytes' hash, a plain object's public values (3 deep)."""
    import keras
    import numpy as np

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:16]
        return {"array": list(value.shape), "sha256": digest}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if isinstance(value, (keras.layers.Layer, keras.Variable)) or depth >= 3:
        return kind  # a layer's settings are recorded with the layers
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    public = (
        {k: v for k, v in vars(value).items() if not k.startswith("_")}
        if hasattr(value, "__dict__")
        else {}
    )
    return {"class": kind, **{k: _plain(v, depth + 1) for k, v in sorted(public.items())}}


def _compiled(model: Any) -> bool:
    return bool(getattr(model, "compiled", False) or getattr(model, "optimizer", None))


def _layers(model: Any) -> list[Any]:
    try:
        return list(model.layers)
    except Exception:  # noqa: BLE001
        return []


def _layer_config(layer: Any) -> Any:
    try:
        return {"class": type(layer).__name__, **layer.get_config()}
    except Exception:  # noqa: BLE001 (a layer without get_config: its class and weights)
        shapes = [list(w.shape) for w in getattr(layer, "weights", [])]
        return {"class": type(layer).__name__, "weights": shapes}


def _layer_text(layer: Any) -> str:
    """`Dense(units=32, activation='tanh')`: a layer's class and its main settings."""
    config = _layer_config(layer)
    shown = []
    for name in _SHOWN:
        if name in config:
            value = config[name]
            value = list(value) if isinstance(value, tuple) else value
            if isinstance(value, dict):  # a serialized object: its class
                value = value.get("class_name", value)
            shown.append(f"{name}={value!r}")
    return f"{config['class']}({', '.join(shown)})"
