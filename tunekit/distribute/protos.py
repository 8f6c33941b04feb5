"""A fix to KerasTuner's gRPC protos, applied on the chief and on every worker.

Checked against KerasTuner 1.4 (`keras_tuner.src.engine.conditions`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["quiet_condition_protos"]


def quiet_condition_protos() -> None:
    """Removes a stray debug `print` from KerasTuner 1.4's `Parent.to_proto`.

    Every conditional hyperparameter sent over gRPC printed its first parent
    value on stdout, on the chief and on every worker. Same proto, no print.
    """
    from tunekit._kerastuner import conditions, protos

    if getattr(conditions.Parent.to_proto, "tunekit_quiet", False):
        return

    def to_proto(self: Any) -> Any:
        proto = protos.get_proto()
        first = self.values[0]
        field = (
            "string_value"
            if isinstance(first, str)
            else "boolean_value"
            if isinstance(first, bool)
            else "int_value"
            if isinstance(first, int)
            else "float_value"
        )
        values = [proto.Value(**{field: v}) for v in self.values]
        return proto.Condition(parent=proto.Condition.Parent(name=self.name, values=values))

    to_proto.tunekit_quiet = True  # type: ignore[attr-defined]
    conditions.Parent.to_proto = to_proto
