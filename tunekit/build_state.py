"""What a hypermodel's build and fit change on it: state, not settings.

`kept_by_build(cls)` reads, from the source of a `keras_tuner.HyperModel`
class (`ast`; without source, its bytecode), the attributes that its `build`,
`fit`, `declare_hyperparameters` or `__call__`, and the methods of the class
they call through `self`, assign, delete or change in place (`self.n += 1`,
`self.built.append(...)`, `self.cache[key] = ...`). A hypermodel reused in a
notebook holds other values there after a run, so `tunekit.hypermodel_state`
and `tunekit.hypermodel_code` leave them out. Only what is written is left
out: `self.cfg.last = ...` leaves out `cfg.last`, not `cfg`.

State changed elsewhere (a helper function outside the class, a method of a
held object such as `self.rng.integers()`) is not read here:
`tunekit.hypermodel_use` learns it while tunekit uses the object. This reading
stays for what that cannot see: a model you built before tunekit first saw the
object (`hm.build(hp)` to try it), which would otherwise count as a setting
against a fresh object in the next process; and the code hash's walk of the
instance (`tunekit.hypermodel_code`), which is recorded without that learning.
"""

from __future__ import annotations

import ast
import dis
import functools
import inspect
import sys
import textwrap
import types
from typing import Any

__all__ = ["ENTRY_METHODS", "kept_by_build", "library"]

#: Methods a build or fit runs, whose assignments are state, not settings.
ENTRY_METHODS = ("build", "fit", "declare_hyperparameters", "__call__")
# Packages whose classes and functions are not the user's code.
_LIBRARIES = frozenset(
    {"keras_tuner", "keras", "tf_keras", "tensorflow", "jax", "jaxlib", "torch", "numpy"}
)
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


def library(module: object) -> bool:
    """Whether `module` (a module name) is a framework's or Python's own."""
    if not isinstance(module, str) or not module:
        return True
    top = module.partition(".")[0]
    return top in _LIBRARIES or top in getattr(sys, "stdlib_module_names", ()) or top == "builtins"


@functools.lru_cache(maxsize=64)
def kept_by_build(kind: Any) -> frozenset[str]:
    """The attributes `kind`'s build and fit change: state, not settings.

    Those that `ENTRY_METHODS`, and the methods of `kind` they call through
    `self` (followed), assign, delete, or change in place (an item assigned, a
    method such as `append` or `update` called on it). Classes of KerasTuner,
    Keras and Python are not read.

    Returns:
        Dotted attribute paths: `"n"` for `self.n += 1`, `"cfg.last"` for
        `self.cfg.last = ...`, `"cache"` for `self.cache[k] = ...` (from the
        bytecode, without source: the attribute assigned, by its last name).
    """
    methods: dict[str, Any] = {}
    for klass in reversed(kind.__mro__):
        if library(klass.__module__):
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
    """The attribute paths of `self` that `function` changes, and the names it reads on `self`."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return _changes_in_bytecode(function.__code__)
    arguments = function.__code__.co_varnames[: function.__code__.co_argcount]
    own = arguments[0] if arguments else "self"
    changed: set[str] = set()
    read: set[str] = set()

    def path(node: ast.AST) -> str | None:  # `self.x[k]` -> "x", `self.x.y` -> "x.y"
        chain: list[ast.AST] = []
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            chain.append(node)
            node = node.value
        if not (isinstance(node, ast.Name) and node.id == own) or not chain:
            return None
        names: list[str] = []
        for part in reversed(chain):  # from `self` outwards, up to an item
            if not isinstance(part, ast.Attribute):
                break
            names.append(part.attr)
        return ".".join(names) or None

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
                if (name := path(part)) is not None:
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
