"""A trial keeps only the hyperparameters its `build` and `fit` declared: `declared_only`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras_tuner as kt
from keras_tuner.engine.trial import Trial

__all__ = ["DeclaringHyperParameters", "declared_only"]


class DeclaringHyperParameters(kt.HyperParameters):
    """`HyperParameters` that records each name a trial's `build` and `fit` ask for.

    Through KerasTuner's public methods only (`Boolean`, `Choice`, `Fixed`,
    `Float`, `Int`, `get`, and `name in hp`, which calls `get`). The names are
    in `declared`, as KerasTuner spells them: inside `hp.name_scope("block0")`,
    `hp.Int("units", ...)` is `"block0/units"`. See `declared_only`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.declared: set[str] = set()
        self._scopes: list[str] = []

    @contextlib.contextmanager
    def name_scope(self, name: str) -> Iterator[None]:
        """KerasTuner's `name_scope`, followed to record the names it qualifies."""
        self._scopes.append(str(name))
        try:
            with super().name_scope(name):
                yield
        finally:
            self._scopes.pop()

    def _ask(self, name: str) -> None:
        self.declared.add("/".join([*self._scopes, str(name)]))

    def get(self, name: str) -> Any:
        self._ask(name)
        return super().get(name)

    def Boolean(self, name: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 (KerasTuner's name)
        self._ask(name)
        return super().Boolean(name, *args, **kwargs)

    def Choice(self, name: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        self._ask(name)
        return super().Choice(name, *args, **kwargs)

    def Fixed(self, name: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        self._ask(name)
        return super().Fixed(name, *args, **kwargs)

    def Float(self, name: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        self._ask(name)
        return super().Float(name, *args, **kwargs)

    def Int(self, name: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        self._ask(name)
        return super().Int(name, *args, **kwargs)


@contextlib.contextmanager
def declared_only(trial: Trial) -> Iterator[set[str]]:
    """Keeps in `trial.hyperparameters` only the names its `build` and `fit` asked for.

    An oracle gives a trial a value for every name in its space, also for names
    that only some builds declare (e.g. `units_2` of a layer built in a loop
    `for i in range(hp.Int("num_layers", 1, 3))`): a trial that built one layer
    still records a random `units_2`, and KerasTuner refills it when the trial
    ends. Such values never shaped the model, so they must not reach
    `trial.json`, the narrowing or the chosen configuration: once the trial
    ran, its hyperparameters are replaced by the ones it declared (space and
    values), plus KerasTuner's internal `tuner/...` values.

    While the block runs, `trial.hyperparameters` is a copy that records the
    names asked for (a `kt.HyperParameters` subclass); the block receives that
    set, which grows as `build` and `fit` declare. If the block raises, the
    trial keeps all its hyperparameters (as a plain `kt.HyperParameters`).

    Yields:
        The set of names declared so far.
    """
    tracking = DeclaringHyperParameters.from_config(trial.hyperparameters.get_config())
    trial.hyperparameters = tracking
    try:
        yield tracking.declared
    except BaseException:
        trial.hyperparameters = tracking.copy()
        raise
    asked = tracking.declared
    keep = lambda name: name in asked or name.startswith("tuner/")
    declared = kt.HyperParameters()
    declared.merge([one for one in tracking.space if keep(one.name)])
    declared.values = {name: value for name, value in tracking.values.items() if keep(name)}
    trial.hyperparameters = declared
