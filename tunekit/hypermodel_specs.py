"""Hypermodels named on the command line: built-in names or `package.module:attribute`."""

from __future__ import annotations

import ast
import difflib
import functools
import importlib
import importlib.machinery
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterable
from importlib.machinery import ModuleSpec
from typing import TYPE_CHECKING, Any

from tunekit.errors import UsageError
from tunekit.hypermodel_kinds import refuse_not_a_build
from tunekit.hypermodel_options import (
    AUGMENTING,
    BUILTIN_HYPERMODELS,
    augmentation_text,
    builtin_name,
    check_augment,
)

if TYPE_CHECKING:
    from tunekit.data import Dataset

__all__ = [
    "AUGMENTING",
    "BUILTIN_HYPERMODELS",
    "UsageError",
    "augmentation_text",
    "build_object_spec",
    "check_augment",
    "check_data_shape",
    "check_spec",
    "module_file",
    "resolve_hypermodel",
]


def _split(spec: str) -> tuple[str, str]:
    """`package.module:attribute` -> (module, attribute), or raises `UsageError`."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        close = difflib.get_close_matches(spec.replace("_", "-").lower(), BUILTIN_HYPERMODELS, n=1)
        raise UsageError(
            f"--hypermodel {spec!r} is not one of {list(BUILTIN_HYPERMODELS)} nor of the form "
            "package.module:attribute." + (f" Did you mean {close[0]!r}?" if close else "")
        )
    return module_name, attribute


def check_spec(spec: str, augment: bool | None = None) -> None:
    """Checks `spec` names a built-in, or a module and attribute that exist, importing nothing,
    and that `augment` (`--augment`: `True`, `--no-augment`: `False`, neither: `None`) applies
    to it (`check_augment`).

    Runs before the Keras backend is chosen, so it must not execute user code
    (which may import Keras): the module and its parent packages are located
    on the Python path (the current folder first) without being imported, the
    module's source is parsed, and the attribute is looked up among the names
    it defines at top level (functions, classes, assignments, imports) or, for
    a package, among its submodules. When the source cannot tell for sure
    (`from x import *`, a module `__getattr__`, `globals()`, a compiled
    module) the attribute is checked when the module is imported instead.

    Raises:
        UsageError: If the module cannot be found, does not parse, or
            certainly has no such attribute, or `augment` is given with a
            hypermodel that has no augmentation.
    """
    if builtin_name(spec) in BUILTIN_HYPERMODELS:  # also a path to a bundled class
        return check_augment(spec, augment)
    module_name, attribute = _split(spec)
    check_augment(spec, augment)
    sys.path.insert(0, os.getcwd())
    try:
        found = _find_module(module_name)
        if found is None:
            raise UsageError(
                f"--hypermodel {spec!r}: cannot import {module_name!r} (no such module on the "
                "Python path or in the current folder)."
            )
        names, modules = None, set[str]()  # imported names (`np`, `layers`): not suggested
        if module_name in sys.modules:  # already imported: ask it
            names = set(dir(sys.modules[module_name]))
            modules = {n for n in names if inspect.ismodule(vars(sys.modules[module_name]).get(n))}
        else:
            names = _defined_names(spec, found, modules)
        if names is None or attribute in names:
            return
        if (
            found.submodule_search_locations is not None
            and importlib.machinery.PathFinder.find_spec(
                f"{module_name}.{attribute}", found.submodule_search_locations
            )
        ):
            return
    finally:
        sys.path.pop(0)
    close = difflib.get_close_matches(attribute, sorted(names - modules), n=1)
    where = f" ({found.origin})" if found.has_location else ""
    raise UsageError(
        f"--hypermodel {spec!r}: module {module_name!r}{where} has no {attribute!r}"
        + (f"; did you mean {module_name}:{close[0]}?" if close else ".")
    )


def module_file(spec: str) -> str | None:
    """The source file of a `package.module:attribute` spec's module, found without importing
    it; `None` for a built-in name, an unknown module or one without a file."""
    if spec in BUILTIN_HYPERMODELS or ":" not in spec:
        return None
    sys.path.insert(0, os.getcwd())
    try:
        found = _find_module(spec.partition(":")[0])
    finally:
        sys.path.pop(0)
    return found.origin if found is not None and found.has_location else None


def _find_module(module_name: str) -> ModuleSpec | None:
    """The module's `ModuleSpec`, found without executing it or its parent packages."""
    parts = module_name.split(".")
    found, path = None, None
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        if name in sys.modules:
            module = sys.modules[name]
            found = getattr(module, "__spec__", None) or importlib.machinery.ModuleSpec(name, None)
            path = getattr(module, "__path__", None)
        else:
            try:
                found = (
                    importlib.util.find_spec(name)
                    if i == 0
                    else importlib.machinery.PathFinder.find_spec(name, path)
                )
            except (ImportError, ValueError):
                found = None
            if found is None:
                return None
            path = found.submodule_search_locations
        if i < len(parts) - 1 and path is None:
            return None  # a parent that is not a package
    return found


_UNSURE_CALLS = {"globals", "vars", "setattr", "exec", "eval", "__import__"}


def _defined_names(spec: str, found: ModuleSpec, modules: set[str]) -> set[str] | None:
    """Names the module's source defines at top level, or `None` if it cannot tell; those it
    imports (`import numpy as np`, `from keras import layers`) are added to `modules` too."""
    origin = found.origin if found.has_location else None
    if not origin or not origin.endswith(".py"):
        return None  # compiled, frozen, built-in or a namespace package
    try:
        with open(origin, "rb") as f:
            tree = ast.parse(f.read(), filename=origin)
    except SyntaxError as e:
        raise UsageError(
            f"--hypermodel {spec!r}: {origin} line {e.lineno}: {e.msg} "
            "(a syntax error: fix the file)."
        ) from None
    except OSError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return None
        if isinstance(node, ast.Global) or (
            isinstance(node, ast.Name) and node.id in _UNSURE_CALLS
        ):
            return None
    names: set[str] = set()

    def visit(statements: Iterable[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    modules.add(alias.asname or alias.name.split(".")[0])  # and a name
                continue
            for child in ast.walk(node):  # assignments, loop and with targets, walruses
                if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                    names.add(child.id)
                elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(child.name)  # defined in an if/try block (or nested: harmless)
                elif isinstance(child, ast.alias):  # imported in an if/try block
                    modules.add(child.asname or child.name.split(".")[0])
                elif isinstance(child, ast.ExceptHandler) and child.name:
                    names.add(child.name)

    visit(tree.body)
    names |= modules
    if "__getattr__" in names:
        return None
    return names


def _where(error: BaseException, spec: str) -> str:
    """` (path, line N)` of the innermost frame of `error` in the spec's module, or ``."""
    import traceback

    source = module_file(spec)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == source]
    return f" ({source}, line {frames[-1].lineno})" if frames else ""


def resolve_hypermodel(spec: str, *, augment: bool | None = None) -> Callable[[Dataset], Any]:
    """Returns a factory `f(data) -> hypermodel` for `spec`, or raises `UsageError`.

    `augment` is `--augment` (`True`) / `--no-augment` (`False`); `None`: not
    given, which for `toonvision-cnn` means off. It is the only thing that
    adds `toonvision-cnn`'s `RandomFlip("horizontal")` layer: nothing about the
    data (its name, its file's or folder's name) chooses it, since a flip keeps
    the label of some images and not others (a digit, text). Given with any
    other hypermodel it is refused (`check_augment`).

    The bundled hypermodels take `input_shape` and `num_classes` (regression:
    `num_outputs`) from the data, and never rescale it: the data's own scaling
    rule (`Dataset.scaling`: uint8 divided by 255, other dtypes as given) is
    the only one applied, so what
    `report.md` says is what the model sees. `toonvision-cnn` is built with
    `rescale=False` (its `Rescaling(1/255)` layer is for plain KerasTuner users
    who pass raw 0-255 pixels).

    `mnist-dense` and `dense` build the same network: `MnistDenseHyperModel`
    (classification, as before) and `DenseHyperModel`; on regression data
    both build `DenseHyperModel(input_shape, num_outputs=k, task="regression")`
    (a linear output of `k` units, MSE loss). A class of your own is built
    with `input_shape=` and `num_classes=` (regression: `num_outputs=` and
    `task="regression"`) if it takes them, else with no argument.
    """

    check_augment(spec, augment)
    factory = _resolve(spec, augment=bool(augment))

    def make(data: Dataset) -> Any:
        check_data_shape(spec, data)
        return factory(data)

    return make


def build_object_spec(hypermodel: object) -> str | None:
    """`module:NAME` that `--hypermodel` loads as the callable build object (not a
    function nor a HyperModel: `BUILDER = Builder(32)`, with `__call__(self, hp)`) that
    KerasTuner wrapped in `hypermodel`; `None` for any other hypermodel.

    Raises:
        UsageError: No module-level name holds that object (`--hypermodel module:Builder`
            would call the class as a build function).
    """
    target = vars(hypermodel).get("build")  # KerasTuner's wrapper keeps the callable
    if target is None or inspect.isroutine(target) or isinstance(target, functools.partial):
        return None
    module_name = type(target).__module__
    module = sys.modules.get(module_name)
    held = [n for n, v in vars(module).items() if v is target] if module else []
    if not held or module_name == "__main__":
        raise UsageError(
            f"the hypermodel is a {module_name}.{type(target).__qualname__} object (callable, "
            "not a HyperModel): --hypermodel loads one only by a module-level name holding "
            "it (module:NAME), and none does"
        )
    return f"{module_name}:{sorted(held)[0]}"


def check_data_shape(spec: str, data: Any) -> None:
    """Refuses data whose samples the hypermodel `spec` names cannot take, in the command
    line's words (the hypermodels' own errors name Python classes and arguments).

    Raises:
        UsageError: One number per sample (`x` of shape `(n,)`), or `toonvision-cnn` on
            samples that are not images.
    """
    shape = getattr(data, "input_shape", None)
    if shape == ():  # one number per sample: no bundled model takes it (nor Keras's Dense)
        raise UsageError(
            "--data gives one number per sample (x of shape (n,)): a model's input needs "
            "a feature axis. Save x as shape (n, 1) (x.reshape(-1, 1))."
        )
    cnn = builtin_name(spec) == "toonvision-cnn"
    if cnn and isinstance(shape, tuple) and len(shape) not in (2, 3):
        raise UsageError(
            f"--hypermodel toonvision-cnn needs images, and --data gives samples of shape "
            f"{shape}, not (height, width) or (height, width, channels): for feature "
            "vectors (a CSV's columns) use --hypermodel dense."
        )


def _resolve(spec: str, *, augment: bool = False) -> Callable[[Dataset], Any]:
    """`resolve_hypermodel`'s factory, before its checks of the data's shape."""
    from tunekit.data import REGRESSION

    spec = builtin_name(spec)  # a path to a bundled class: built as its built-in name

    if spec in ("mnist-dense", "dense"):
        from hypermodels import DenseHyperModel, MnistDenseHyperModel

        def make_dense(data: Dataset) -> Any:
            if data.task == REGRESSION:
                if not isinstance(data.num_outputs, int):
                    raise UsageError(
                        f"--hypermodel {spec} has one output, and --data has several "
                        f"({data.num_outputs}): use your own hypermodel "
                        "(package.module:attribute) with one output per target."
                    )
                return DenseHyperModel(
                    data.input_shape, num_outputs=data.num_outputs, task=REGRESSION
                )
            assert data.num_classes is not None  # a classification Dataset has classes
            label_mode = getattr(data, "label_mode", "int")  # one-hot rows: "categorical"
            if spec == "dense":
                return DenseHyperModel(data.input_shape, data.num_classes, label_mode=label_mode)
            return MnistDenseHyperModel(data.input_shape, data.num_classes, label_mode=label_mode)

        return make_dense
    if spec == "toonvision-cnn":
        from hypermodels import ToonVisionCNNHyperModel

        # tunekit's loaders divide uint8 pixels (and decoded images) by 255 and keep
        # other dtypes as given: a guess from the values (e.g. "max > 1") would also
        # fire on standardised features and contradict the recorded scaling rule.
        def make_cnn(data: Dataset) -> Any:
            if data.task == REGRESSION:
                raise UsageError(
                    "--hypermodel toonvision-cnn is an image classifier, and --data holds "
                    "regression targets: use --hypermodel dense, or your own hypermodel "
                    "(package.module:attribute) with a linear output."
                )
            assert data.num_classes is not None
            return ToonVisionCNNHyperModel(
                data.input_shape,
                data.num_classes,
                augment=augment,  # --augment only: never from the data or its name
                rescale=False,
                label_mode=getattr(data, "label_mode", "int"),
            )

        return make_cnn
    module_name, attribute = _split(spec)
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise UsageError(f"--hypermodel {spec!r}: cannot import {module_name!r} ({e}).") from None
    except Exception as e:  # noqa: BLE001 (the module's own code failed: said, exit 2)
        raise UsageError(
            f"--hypermodel {spec!r}: importing {module_name!r} raised "
            f"{type(e).__name__}: {e}{_where(e, spec)}. Fix the module (it runs when "
            "imported), then rerun."
        ) from None
    finally:
        sys.path.pop(0)
    if not hasattr(module, attribute):
        raise UsageError(f"--hypermodel {spec!r}: module {module_name!r} has no {attribute!r}.")
    target = getattr(module, attribute)
    import keras_tuner as kt

    if isinstance(target, type) and issubclass(target, kt.HyperModel):

        def make(data: Dataset) -> Any:
            sizes: dict[str, Any] = (
                dict(num_outputs=data.num_outputs, task=REGRESSION)
                if data.task == REGRESSION
                else dict(num_classes=data.num_classes)
            )
            calls = [dict(input_shape=data.input_shape, **sizes)]
            calls += [dict(input_shape=data.input_shape), {}]
            error: TypeError | None = None
            for kwargs in calls:
                try:
                    return target(**kwargs)
                except TypeError as e:
                    error = e
            given = " nor with ".join(
                ", ".join(f"{k}=" for k in kwargs) or "no argument" for kwargs in calls
            )
            raise UsageError(
                f"--hypermodel {spec!r}: cannot create {attribute} with {given} ({error}). "
                f"Create it in {module_name} with the arguments it needs (e.g. `hypermodel = "
                f"{attribute}(...)`) and pass --hypermodel {module_name}:hypermodel."
            ) from None

        return make
    refuse_not_a_build(target, f"--hypermodel {spec!r}")  # a Keras layer: called on tensors
    if isinstance(target, kt.HyperModel) or callable(target):
        return lambda data: target
    raise UsageError(
        f"--hypermodel {spec!r} is a {type(target).__name__}, not a keras_tuner.HyperModel "
        "class or instance nor a build(hp) function."
    )
