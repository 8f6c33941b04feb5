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
- a NumPy array, and anything NumPy reads as one (a tensor, a `keras.Variable`,
  a pandas frame), by its shape, dtype and a SHA-256 of its bytes
  (normalisation statistics the hypermodel holds);
- a function or class by its qualified name (the code of yours is hashed by
  `tunekit.hypermodel_code`); a Keras layer, optimizer, loss, initializer or
  regularizer by its class and `get_config()` (not a layer's weights, which
  training changes);
- another object by its class and its own values, three levels deep.

Left out: KerasTuner's own attributes (`name`, `tunable`, `build`, `_build`);
those `tunekit.object_settings` records already; those naming where to write or
how much to print (`object_settings.OUTPUT_ARGUMENTS`: `verbose`, `log_dir`,
...); modules; and state (`kept_by_build`): an attribute that `build`, `fit`,
`declare_hyperparameters` or `__call__`, or a method of the class they call
through `self`, assigns, deletes or changes in place (`self.n += 1`,
`self.built.append(...)`, `self.cache[key] = ...`), as a hypermodel reused in a
notebook holds other values after a run. State a function outside the class
changes is not seen: a rerun of the same object after a run may then be
refused, naming the attribute (a new object of the same class resumes).

A run recorded before this key existed resumes (`object_settings.ADDED_KEYS`):
its values are unknown there, not a change, and a warning says so when this
hypermodel has some.
"""

from __future__ import annotations

import ast
import dis
import functools
import hashlib
import inspect
import json
import math
import textwrap
import types
from typing import Any

from tunekit.object_settings import (
    HYPERMODEL_STATE,
    OUTPUT_ARGUMENTS,
    describe_hypermodel,
    hypermodel_settings,
)

__all__ = ["KEY", "describe_state", "kept_by_build"]

#: The key of `CoarseToFine.config()` that holds `describe_state(hypermodel)`.
KEY = HYPERMODEL_STATE
#: Methods a build or fit runs, whose assignments are state, not settings.
ENTRY_METHODS = ("build", "fit", "declare_hyperparameters", "__call__")
# Methods that change a list, dict, set or deque in place.
_MUTATORS = frozenset(
    {
        "append",
        "appendleft",
        "extend",
        "extendleft",
        "insert",
        "pop",
        "popleft",
        "popitem",
        "remove",
        "clear",
        "update",
        "setdefault",
        "add",
        "discard",
        "sort",
        "reverse",
        "rotate",
    }
)
_DEPTH = 3  # how deep the values of an object held are described


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
    skipped = recorded | _kerastuner_attributes() | kept_by_build(hypermodel.__class__)
    found = {}
    for name, value in sorted(vars(hypermodel).items()):
        if name in skipped or name.lstrip("_") in OUTPUT_ARGUMENTS:
            continue
        if isinstance(value, types.ModuleType):
            continue
        try:
            found[name] = _described(value, 0)
        except Exception:  # noqa: BLE001 (an object whose attributes raise: its class)
            found[name] = f"<{type(value).__module__}.{type(value).__qualname__}>"
    return json.loads(json.dumps(found))


@functools.lru_cache(maxsize=1)
def _kerastuner_attributes() -> frozenset[str]:
    """What `keras_tuner.HyperModel.__init__` sets: `name`, `tunable`, `build`, `_build`."""
    import keras_tuner as kt

    return frozenset(vars(kt.HyperModel()))


@functools.lru_cache(maxsize=64)
def kept_by_build(kind: Any) -> frozenset[str]:
    """The attributes `kind`'s build and fit change: state, not settings.

    Those that `ENTRY_METHODS`, and the methods of `kind` they call through
    `self` (followed), assign, delete, or change in place (an item assigned, a
    method such as `append` or `update` called on it). Read from the source
    (`ast`); without source, from the bytecode (assignments and such calls).
    Classes of KerasTuner, Keras and Python are not read.

    Returns:
        Attribute names.
    """
    from tunekit.hypermodel_code import _library

    methods: dict[str, Any] = {}
    for klass in reversed(kind.__mro__):
        if _library(klass.__module__):
            continue
        for name, member in vars(klass).items():
            member = getattr(member, "__func__", member)  # a static or class method
            if isinstance(member, property):
                member = member.fget
            if isinstance(member, types.FunctionType):
                methods[name] = member
    kept: set[str] = set()
    todo, seen = [n for n in ENTRY_METHODS if n in methods], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        changed, called = _changes(methods[name])
        kept |= changed
        todo += [n for n in called if n in methods]
    return frozenset(kept)


def _changes(function: types.FunctionType) -> tuple[set[str], set[str]]:
    """The attributes of `self` that `function` changes, and the names it reads on `self`."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return _changes_in_bytecode(function.__code__)
    arguments = function.__code__.co_varnames[: function.__code__.co_argcount]
    own = arguments[0] if arguments else "self"
    changed: set[str] = set()
    read: set[str] = set()

    def root(node: ast.AST) -> str | None:  # `self.x`, `self.x[k]`, `self.x.y` -> "x"
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            value = node.value
            if isinstance(node, ast.Attribute) and isinstance(value, ast.Name):
                return node.attr if value.id == own else None
            node = value
        return None

    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = list(node.targets)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in _MUTATORS:
                targets = [node.func.value]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("setattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == own
            and isinstance(node.args[1], ast.Constant)
        ):
            changed.add(str(node.args[1].value))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == own:
                read.add(node.attr)
        for target in targets:
            for part in ast.walk(target) if isinstance(target, (ast.Tuple, ast.List)) else [target]:
                if (name := root(part)) is not None:
                    changed.add(name)
    return changed, read


def _changes_in_bytecode(code: types.CodeType) -> tuple[set[str], set[str]]:
    """`_changes` without source: attributes assigned or deleted, and `x.append(...)`."""
    changed: set[str] = set()
    read: set[str] = set()
    previous = None
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("STORE_ATTR", "DELETE_ATTR"):
            changed.add(str(instruction.argval))
        elif instruction.opname in ("LOAD_ATTR", "LOAD_METHOD"):
            read.add(str(instruction.argval))
            if previous is not None and instruction.argval in _MUTATORS:
                changed.add(previous)
        previous = str(instruction.argval) if instruction.opname == "LOAD_ATTR" else None
        if isinstance(instruction.argval, types.CodeType):
            inner_changed, inner_read = _changes_in_bytecode(instruction.argval)
            changed |= inner_changed
            read |= inner_read
    return changed, read


def _described(value: Any, depth: int) -> Any:
    """`value` as recorded (see the module docstring): JSON a rerun writes alike."""
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
        return {str(k): _described(v, depth + 1) for k, v in value.items()}
    if (config := _keras_config(value)) is not None:
        return {"class": kind, "config": config}
    if hasattr(value, "__array__"):  # a tensor, a variable, a pandas frame
        try:
            return _array(np.asarray(value))
        except Exception:  # noqa: BLE001 (not an array after all: described as an object)
            pass
    if depth >= _DEPTH or not hasattr(value, "__dict__"):
        return f"<{kind}>"
    held = {k: _described(v, depth + 1) for k, v in sorted(vars(value).items())}
    return {"class": kind, **{k: v for k, v in held.items() if k != "class"}}


def _array(array: Any) -> dict[str, Any]:
    """An array as its shape, dtype and a hash of its values (an object array: their text)."""
    if array.dtype.hasobject:
        data = json.dumps(array.tolist(), sort_keys=True, default=repr).encode()
    else:
        data = array.tobytes(order="C")
    digest = hashlib.sha256(data).hexdigest()[:16]
    return {"array": list(array.shape), "dtype": str(array.dtype), "sha256": digest}


def _keras_config(value: Any) -> Any:
    """A Keras object's `get_config()` without its automatic name, as JSON; else None."""
    from tunekit.hypermodel_code import _library

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
