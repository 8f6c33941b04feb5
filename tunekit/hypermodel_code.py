"""The hypermodel's code, hashed, so a run resumes only with the code that made its trials.

A run folder is resumed when the rerun's configuration matches the recorded
one. The hypermodel's name alone does not say the code is the same: a
`build(hp)` edited between two runs of one command would resume the old
trials and the old winner as if the new code had made them. So the run
records `code_record(hypermodel)`, `{"python": "3.11", "sha256": ...}`, and
`tunekit.manifest` refuses a resume whose hash differs (`describe_change`,
`resume_hint`).

What is hashed, starting from the hypermodel:

- a function: its code; a bound method: its function and its instance's
  class; a `functools.partial` (wherever it is met): its function and its
  arguments; a decorated function: the function under `__wrapped__` too;
- a `keras_tuner.HyperModel` (or any callable object): the functions,
  static and class methods, properties, cached properties and attributes
  (constants, tables of functions, Keras objects, enum members) defined on
  the classes of its MRO that are not KerasTuner's, Keras's, a framework's
  or Python's own (so `build`, `fit` and their helpers), and the code its
  instance keeps (a function given to `__init__`);
- from each function: its default arguments and closure cells (simple
  values, NumPy scalars, Keras objects by their `get_config()`, and the
  functions and classes in them), and the names its code reads from its
  module's globals: functions and classes defined in the same module
  (followed, recursively), module-level constants, and other modules'
  functions and classes (by name only);
- the code a value holds: the functions in a list or dict (a table of layer
  builders, with the keys that name them; the keys of a dict holding no code,
  such as a held object's cache of built models, are data, not code), the
  class of an instance of the user's (`BUILDER.make(x)`), the function under a
  cache (`functools.lru_cache`) or a class-based decorator.

A module's or class's constants are hashed as written in its source
(`ast.dump` of the assigned expression, also under `if`, `try`, `with` and
`for` at the top), with the names that expression reads followed the same way
(`UNITS = BASE * 2` follows `BASE`; `LOSS = make_loss()` follows `make_loss`),
not as they are now: a list a build appends to, a flag a notebook flips or a
counter a class keeps is state, and must not refuse a resume of unchanged
code. Without source (a REPL), simple values are hashed by value.

Of each code object: its instructions with their arguments resolved
(constants by value, nested code objects hashed the same way, names by
name), so neither line numbers nor a docstring count. Simple values are
`int`, `float`, `str`, `bytes`, `bool` and `None`, NumPy scalars, and tuples,
lists, sets and dicts of them; a memory address in any text (`<function f at
0x...>`) is dropped, and a Keras object's automatic `name` too.

What is not hashed, and why: comments, blank lines, layout and line numbers,
and docstrings (none changes what is trained); the data (the run's data
fingerprint covers it); the values of objects that are not simple (a NumPy
array) and of anything not reachable by name from the hypermodel's code (an
attribute of another module, a file read at build time, code of another
module that a same-module function calls); a function inside a Keras
object's config (a `Lambda` layer's, a schedule of one's own without
`get_config`) beyond its name; module state set only inside a function
(`global N`), hashed by its value now; the hypermodel instance's own simple
attributes (`tunekit.workflow` records them beside the name; its other values,
private ones too, are `tunekit.hypermodel_state`'s); what the class's build
writes on the instance (`tunekit.build_state`: `self._cache[key] = model`). Bytecode
differs between Python versions, so a run resumed under another minor
version cannot compare its code: it resumes with a warning.

The module is about 600 lines, over 400 lines because following code through values
(containers, instances, caches, source assignments) is one walk, best read in
one place.
"""

from __future__ import annotations

import ast
import dis
import functools
import hashlib
import json
import linecache
import logging
import re
import sys
import types
from collections.abc import Callable
from typing import Any

from tunekit.build_state import kept_by_build
from tunekit.build_state import library as _library
from tunekit.errors import TunekitError

__all__ = ["KEY", "as_recorded", "code_hash", "code_record", "describe_change", "resume_hint"]

#: The key of `CoarseToFine.config()` that holds `code_record(hypermodel)`.
KEY = "hypermodel_code"

_logger = logging.getLogger(__name__)

_SIMPLE = (int, float, str, bytes, bool, type(None))
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
# What a class's namespace holds that is not its code.
_CLASS_BOOKKEEPING = frozenset(
    {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__annotations__"}
)


def python_version() -> str:
    """This interpreter's minor version, e.g. `"3.11"`: bytecode is comparable within one."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def code_hash(hypermodel: Any) -> str:
    """The SHA-256 (hex) of the code that builds and trains `hypermodel`'s models.

    See the module docstring for what is hashed. Edits of comments, layout or
    docstrings keep the hash; edits of what runs change it.

    Args:
        hypermodel: A `keras_tuner.HyperModel`, a `build(hp)` function, a
            bound method, a `functools.partial` of one, or a callable object.

    Returns:
        64 hex digits.
    """
    walker = _Walker()
    walker.walk(hypermodel)
    # An address (`<function f at 0x7f...>`) differs in every process: not the code.
    text = _ADDRESS.sub("0x", "\n".join(walker.parts))
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()


def code_record(hypermodel: Any) -> dict[str, str]:
    """What a run records of `hypermodel`'s code: `{"python": "3.11", "sha256": ...}`.

    Args:
        hypermodel: As for `code_hash`.

    Returns:
        The Python minor version and `code_hash(hypermodel)`.
    """
    return {"python": python_version(), "sha256": code_hash(hypermodel)}


def as_recorded(
    recorded: Any, config: dict[str, Any], run: object, said: Callable[[BaseException], str] = str
) -> dict[str, Any]:
    """`config` with the code record a resume cannot compare taken as recorded.

    A run recorded before the code was (no `KEY` in `recorded`) resumes as
    before: `config` without `KEY`. A run recorded under another Python minor
    version resumes too (its bytecode is not comparable), with a warning on
    the `tunekit` logger: `config` with the recorded `KEY`. Otherwise, and
    when `recorded` is not a configuration, `config` itself.

    Args:
        recorded: The recorded configuration (a dict, or anything a damaged
            manifest holds).
        config: This run's configuration.
        run: The run folder, for the warning.
        said: How the run names its settings (`tunekit.trial_refusals.Said`): the
            warning's `overwrite=True` is `--overwrite` under the command line's.

    Returns:
        The configuration to compare with `recorded`.
    """
    if not isinstance(recorded, dict) or KEY not in config:
        return config
    if KEY not in recorded:
        return {k: v for k, v in config.items() if k != KEY}
    old, new = recorded[KEY], config[KEY]
    old_python = old.get("python") if isinstance(old, dict) else None
    if old_python == new.get("python") or old == new:
        return config
    text = (
        f"The run in {run} was started under Python {old_python} and this is Python "
        f"{new.get('python')}: the hypermodel's code cannot be compared across Python "
        "versions, so it resumes as if the code were the same. If you edited it since, pass "
        "overwrite=True to start over."
    )
    _logger.warning(text if said is str else said(TunekitError(text)))
    return {**config, KEY: old}


def describe_change(recorded: dict[str, Any], config: dict[str, Any]) -> str | None:
    """The refusal's words for a changed hypermodel code, or `None` if there is none to tell.

    `None` when either configuration has no code record, when the records
    agree, or when the hypermodel itself is another one (its name says so).

    Args:
        recorded: The recorded configuration.
        config: This run's configuration (after `as_recorded`).

    Returns:
        E.g. `"hypermodel code: the code of my_models.build changed since the
        run started (...)"`.
    """
    old, new = recorded.get(KEY), config.get(KEY)
    if old is None or new is None or old == new:
        return None
    old_model, new_model = recorded.get("hypermodel"), config.get("hypermodel")
    old_name = old_model.get("class") if isinstance(old_model, dict) else old_model
    name = new_model.get("class") if isinstance(new_model, dict) else new_model
    if old_name != name:
        return None

    def short(record: Any) -> str:
        digest = record.get("sha256") if isinstance(record, dict) else None
        return str(digest)[:8] if digest else repr(record)

    return (
        f"hypermodel code: the code of {name} changed since the run started (sha256 "
        f"{short(old)} -> {short(new)}; compared: its build and fit, and the functions, classes "
        "and constants of its module that they use), so the run's trials and winner are the "
        "old code's, not this code's"
    )


def resume_hint(recorded: dict[str, Any], config: dict[str, Any], changes: int) -> str | None:
    """What to do about a changed hypermodel code (`describe_change`), or `None` if unchanged.

    Args:
        recorded: The recorded configuration.
        config: This run's configuration (after `as_recorded`).
        changes: How many differences the refusal names, this one included.

    Returns:
        The refusal's last sentence: restore the code, start over, or keep both runs.
    """
    if describe_change(recorded, config) is None:
        return None
    return (
        "Restore the hypermodel's code"
        + (" and the original settings" if changes > 1 else "")
        + " to resume, pass overwrite=True to start over with this code, or choose a new "
        "project_name= to keep both runs."
    )


def _kept(kind: type) -> frozenset[str]:
    """The attributes `kind`'s build and fit change (`tunekit.build_state`); `{}` for a
    framework's class or when its code cannot be read."""
    if _library(getattr(kind, "__module__", None)):
        return frozenset()
    try:
        return kept_by_build(kind)
    except Exception:  # noqa: BLE001 (an odd class: nothing left out)
        return frozenset()


def _simple(value: Any, depth: int = 0) -> bool:
    """Whether `value` is hashed by its value (a container nested 10 deep, or in itself, is not)."""
    if isinstance(value, _SIMPLE):
        return True
    if depth > 10:
        return False
    if isinstance(value, (tuple, list, set, frozenset)):
        return all(_simple(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_simple(k, depth + 1) and _simple(v, depth + 1) for k, v in value.items())
    return False


def _short(value: Any) -> str:
    """A simple value's text, else a function's or class's qualified name, else its type's."""
    if _simple(value):
        return _const_text(value)
    qualname = _attr(value, "__qualname__")
    return qualname if isinstance(qualname, str) else type(value).__qualname__


def _name(value: Any) -> str:
    """`module.qualname` of a function or class; a simple value's text; else its type's name."""
    if _simple(value):
        return _const_text(value)
    module = _attr(value, "__module__")
    qualname = _attr(value, "__qualname__")
    if not isinstance(module, str) or not isinstance(qualname, str):
        module, qualname = type(value).__module__, type(value).__qualname__
    return f"{module}.{qualname}"


def _code_digest(code: types.CodeType) -> str:
    """A digest of what `code` runs: its instructions with their arguments resolved
    (constants by value, names by name), so neither line numbers nor a docstring (which
    moves the constants' indices) count."""
    digest = hashlib.sha256()
    for instruction in dis.get_instructions(code):
        argument = instruction.argval
        if isinstance(argument, types.CodeType):
            text = "code:" + _code_digest(argument)
        elif instruction.opcode in dis.hasconst:
            text = _const_text(argument)
        else:
            text = instruction.argrepr
        digest.update(f"{instruction.opname} {text};".encode("utf-8", "backslashreplace"))
    return digest.hexdigest()


def _const_text(const: Any) -> str:
    """A simple value as text that is the same in every process (a set's order is not)."""
    if isinstance(const, (set, frozenset)):
        return f"{type(const).__name__}:{sorted(_const_text(c) for c in const)}"
    if isinstance(const, (tuple, list)):
        return f"{type(const).__name__}:({', '.join(_const_text(c) for c in const)})"
    if isinstance(const, dict):
        items = sorted(f"{_const_text(k)}: {_const_text(v)}" for k, v in const.items())
        return f"dict:{{{', '.join(items)}}}"
    return f"{type(const).__name__}:{const!r}"


def _global_names(code: types.CodeType) -> list[str]:
    """The names `code` and the code nested in it use, in order, each once."""
    names = dict.fromkeys(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= dict.fromkeys(_global_names(const))
    return list(names)


class _Walker:
    """Collects, in a fixed order, the text of everything `code_hash` hashes."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._seen: set[int] = set()
        self._sources: dict[tuple[str, str], dict[str, tuple[str, tuple[str, ...]]]] = {}
        self._followed: set[tuple[int, str]] = set()

    def assigned(self, path: str, qualname: str = "") -> dict[str, tuple[str, tuple[str, ...]]]:
        """The names assigned at the top of the module in file `path` (or of its class
        `qualname`), each to its value's expression as written (`ast.dump`, without
        lines) and the names that expression reads; `{}` without source.

        A constant is hashed as written, not as it is now: a module-level list a
        build appends to, or a counter a class keeps, is state, not code.
        """
        if (path, qualname) not in self._sources:
            self._sources[path, qualname] = _assignments(path, qualname)
        return self._sources[path, qualname]

    def walk(self, value: Any) -> None:
        """Adds `value` (a function, class, method, partial or callable object)."""
        if id(value) in self._seen:
            self.parts.append(f"again {_short(value)}")
            return
        self._seen.add(id(value))
        if isinstance(value, functools.partial):
            self.parts.append("partial")
            self.walk(value.func)
            for arg in value.args:
                self.value("arg", arg)
            for key, arg in sorted(value.keywords.items()):
                self.value(f"keyword {key}", arg)
        elif isinstance(value, types.MethodType):
            self.parts.append(f"method {value.__func__.__qualname__}")
            self.walk(value.__func__)
            owner = value.__self__
            self.walk(owner if isinstance(owner, type) else type(owner))
        elif isinstance(value, types.FunctionType):
            self._function(value)
        elif isinstance(value, type):
            self._class(value)
        elif callable(_attr(value, "__wrapped__")):  # e.g. under functools.lru_cache
            self.parts.append(f"wrapper {_name(type(value))}")
            self.walk(_attr(value, "__wrapped__"))
        else:  # a HyperModel or another object: its class's code, and code it holds
            self.walk(type(value))
            held = _attr(value, "__dict__")
            # Code kept by `__init__`; values are state, and so is what a build puts there
            # (`self.cache[key] = model`: its keys are not code).
            kept = _kept(type(value))
            for key in sorted(held) if isinstance(held, dict) else ():
                if key not in kept:
                    self.code_in(held[key], None, 1)
        wrapped = _attr(value, "__wrapped__")  # under functools.wraps
        if wrapped is not None and isinstance(value, types.FunctionType):
            self.parts.append("wraps")
            self.walk(wrapped)

    def value(self, label: str, value: Any, module: str | None = None, source: Any = None) -> None:
        """Adds a value the code uses: simple ones by value, code by its code, others by type.

        With `module`, functions and classes of another module are named, not walked.
        With `source` (`Walker.source`: the value's expression as written), that stands for
        the value, and the names the expression reads are followed the same way: the
        value as it is now may be state a build changed.
        """
        try:
            self._value(label, value, module, source)
        except Exception as error:  # noqa: BLE001 - an odd object, or code nested too deep
            self.parts.append(f"{label} = unreadable {type(value).__qualname__}: {error!r}")

    def _value(self, label: str, value: Any, module: str | None, source: Any) -> None:
        if source is not None:  # (expression, names it reads, their scope, their file)
            expression, names, scope, path, qualname = source
            self.parts.append(f"{label} := {expression}")
            for name in names:  # `UNITS = BASE * 2`, `BLOCKS = {"dense": block}`
                if name in scope and (id(scope), name) not in self._followed:
                    self._followed.add((id(scope), name))
                    self.value(
                        f"{label} > {name}", scope[name], module, self.source(path, name, scope)
                    )
            return
        if _simple(value) or _scalar(value) is not None:
            value = _scalar(value) if _scalar(value) is not None else value
            self.parts.append(f"{label} = {_const_text(value)}")
        elif isinstance(value, types.ModuleType):
            self.parts.append(f"{label} = module {value.__name__}")
        elif isinstance(value, (functools.partial, types.MethodType)):
            self.parts.append(f"{label} =")
            self.walk(value)
        elif isinstance(value, (types.FunctionType, type)):
            home = getattr(value, "__module__", None)
            if (module is not None and home != module) or _library(home):
                self.parts.append(f"{label} = {_name(value)}")
            else:
                self.parts.append(f"{label} =")
                self.walk(value)
        elif isinstance(value, (list, tuple, dict, set, frozenset)):
            self.parts.append(f"{label} = {type(value).__name__} holding")
            self.code_in(value, module)
        elif (config := _keras_config(value)) is not None:  # a Keras loss, layer, optimizer
            self.parts.append(f"{label} = {_name(type(value))} {config}")
        else:
            self.parts.append(f"{label} = object {_short(type(value))}")
            self.code_in(value, module)

    def code_in(self, value: Any, module: str | None, depth: int = 0) -> None:
        """Walks the user's code that `value` holds: functions and classes, those in
        lists, tuples and dicts (a table of layer builders), an instance's class."""
        if depth > 10 or _simple(value):
            return
        if isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value, key=_short) if isinstance(value, (set, frozenset)) else value
            for item in items:
                self.code_in(item, module, depth + 1)
        elif isinstance(value, dict):
            for key in sorted(value, key=_short):
                mark = len(self.parts)
                self.code_in(value[key], module, depth + 1)
                if len(self.parts) > mark:  # a table of code, not a cache of models
                    self.parts.insert(mark, f"key {_short(key)}")
        elif isinstance(value, types.ModuleType):
            return
        elif isinstance(value, (functools.partial, types.MethodType)):
            self.walk(value)
        else:
            is_code = isinstance(value, (types.FunctionType, type))
            home = _attr(value if is_code else type(value), "__module__")
            wrapped = callable(_attr(value, "__wrapped__"))
            if not wrapped and (_library(home) or (module is not None and home != module)):
                return
            self.walk(value)

    def _function(self, function: types.FunctionType) -> None:
        module = function.__module__
        if _library(module):
            self.parts.append(f"function {_name(function)}")
            return
        code = function.__code__
        self.parts.append(f"function {function.__qualname__} {_code_digest(code)}")
        for i, default in enumerate(function.__defaults__ or ()):
            self.value(f"default {i}", default)
        for key, default in sorted((function.__kwdefaults__ or {}).items()):
            self.value(f"default {key}", default)
        for name, cell in zip(code.co_freevars, function.__closure__ or ()):
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell: a name not yet bound
                continue
            self.value(f"closure {name}", contents)
        scope = function.__globals__
        for name in _global_names(code):
            if name in scope:
                source = self.source(code.co_filename, name, scope)
                self.value(f"global {name}", scope[name], module=module, source=source)

    def source(
        self, path: str | None, name: str, scope: dict[str, Any], qualname: str = ""
    ) -> tuple[str, tuple[str, ...], dict[str, Any], str | None, str] | None:
        """How `name` is assigned in the source at `path` (module, or class `qualname`)
        with what `value` needs to follow the names it reads (in `scope`), or None."""
        found = self.assigned(path, qualname).get(name) if path else None
        return None if found is None else (*found, scope, path, "")

    def _class(self, cls: type) -> None:
        self.parts.append(f"class {cls.__qualname__}")
        for klass in cls.__mro__:
            if _library(klass.__module__):
                continue
            self.parts.append(f"defines {klass.__qualname__}")
            path = _class_file(klass)
            home = sys.modules.get(klass.__module__)
            scope = {**_module_scope(klass, home), **vars(klass)}
            for name, member in sorted(vars(klass).items()):
                if name in _CLASS_BOOKKEEPING or (
                    # Python's own bookkeeping, e.g. `__slotnames__` that pickling adds
                    name.startswith("__") and _simple(member)
                ):
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if isinstance(member, property):
                    for part in ("fget", "fset", "fdel"):
                        if (accessor := getattr(member, part)) is not None:
                            self.value(f"{name}.{part}", accessor)
                elif isinstance(member, functools.cached_property):
                    self.value(f"{name}.func", member.func)
                else:  # a constant as written; a table, a loss, an instance as the code it holds
                    written = (
                        None
                        if isinstance(member, (types.FunctionType, type)) or path is None
                        else self.source(path, name, scope, klass.__qualname__)
                    )
                    self.value(f"attribute {name}", member, source=written)


def _assignments(path: str, qualname: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """`_Walker.assigned`, read afresh (`linecache` also holds IPython's cells)."""
    linecache.checkcache(path)  # the file as it is now, not as first read
    try:
        tree = ast.parse("".join(linecache.getlines(path)))
    except (SyntaxError, ValueError):
        return {}
    body: list[ast.stmt] = tree.body
    for part in qualname.split(".") if qualname else ():
        classes = [n for n in body if isinstance(n, ast.ClassDef) and n.name == part]
        if len(classes) != 1:  # a class made in a function (`<locals>`), or defined twice
            return {}
        body = classes[0].body
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for node in _statements(body):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        reads = tuple(dict.fromkeys(n.id for n in ast.walk(value) if isinstance(n, ast.Name)))
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    before, read = found.get(name.id, ("", ()))
                    found[name.id] = (before + ast.dump(value), tuple(dict.fromkeys(read + reads)))
    return found


def _statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of `body` and of the `if`, `try`, `with` and `for` blocks in it (an
    assignment under `if not os.environ.get(...)` too), not of functions and classes."""
    found: list[ast.stmt] = []
    for node in body:
        found.append(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            found += _statements(getattr(node, field, None) or [])
        for handler in getattr(node, "handlers", None) or []:
            found += _statements(handler.body)
    return found


def _attr(value: Any, name: str) -> Any:
    """`getattr(value, name, None)`, also for objects whose `__getattr__` raises another error."""
    try:
        return getattr(value, name, None)
    except Exception:  # noqa: BLE001 - a config object's `__getattr__` raising KeyError
        return None


def _module_scope(cls: type, module: Any) -> dict[str, Any]:
    """The globals of the module that defines `cls` (from a method when not imported)."""
    scope = _attr(module, "__dict__")
    if isinstance(scope, dict):
        return scope
    for member in vars(cls).values():
        function = getattr(member, "__func__", member)
        if isinstance(function, types.FunctionType):
            return function.__globals__
    return {}


def _scalar(value: Any) -> Any:
    """A NumPy scalar (`np.float32(0.1)`) as the Python number it holds, else None."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        try:
            return value.item()
        except (AttributeError, ValueError):
            return None
    return None


def _keras_config(value: Any) -> str | None:
    """A Keras object's `get_config()` as JSON text (what it computes with), else None."""
    get_config = _attr(value, "get_config")
    if not callable(get_config) or not _library(type(value).__module__):
        return None
    try:
        config = get_config()
        if isinstance(config, dict):  # not an automatic name (`dense_3`): a rerun's differs
            config = {k: v for k, v in config.items() if k != "name"}
        if isinstance(_attr(value, "_fn_kwargs"), dict):  # `Huber(delta=...)`'s delta
            config = {"config": config, "fn_kwargs": value._fn_kwargs}
        return json.dumps(config, sort_keys=True, default=repr)
    except Exception:  # noqa: BLE001 - a config that cannot be read is named by its type
        return None


def _class_file(cls: type) -> str | None:
    """The file that defines `cls`: its module's, else that of a function defined in it."""
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if isinstance(path, str):
        return path
    for member in vars(cls).values():
        function = getattr(member, "__func__", member)
        if isinstance(function, types.FunctionType) and function.__qualname__.startswith(
            f"{cls.__qualname__}."
        ):  # defined in the class, not inherited (an Enum's `__new__`)
            return function.__code__.co_filename
    return None
