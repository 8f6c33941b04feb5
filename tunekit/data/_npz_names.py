"""The arrays of an `.npz` that tunekit does not read: one under another common name of
an array it reads is refused, others are left out with a warning.

Split from `tunekit.data.arrays`, which reads the file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tunekit.errors import DataError

__all__ = ["check_unknown_keys"]

_logger = logging.getLogger(__name__)

# Other names an array tunekit reads goes by (lower case, without "_"): a validation
# split saved as `x_valid` or `val_x` was left out with exit 0.
_NEAR_NAMES = {
    "x_val": {
        "xval",
        "xvalid",
        "xvalidation",
        "valx",
        "validx",
        "validationx",
        "xdev",
        "devx",
        "xv",
    },
    "y_val": {
        "yval",
        "yvalid",
        "yvalidation",
        "valy",
        "validy",
        "validationy",
        "ydev",
        "devy",
        "yv",
    },
    "class_names": {"classnames", "classname", "targetnames", "labelnames", "labelsnames"},
}


def check_unknown_keys(shown: str, found: Sequence[str], known: Sequence[str]) -> None:
    """An array under another name of one tunekit reads (`x_valid` or `val_x` for `x_val`,
    `target_names` for `class_names`: `_NEAR_NAMES`, any case) would be left out with exit
    0 (a validation split the user gave, unused): refused, naming the name to use. Other
    arrays (a description, `x_all`, metadata) are left out with a warning."""
    unknown = [k for k in found if k not in known]
    close = {
        k: name
        for k in unknown
        for name, others in _NEAR_NAMES.items()
        if name in known
        and name not in found
        and (k.lower().replace("_", "") in others or k.lower() == name)
    }
    if close:
        renames = ", ".join(f"{k!r} -> {v!r}" for k, v in close.items())
        raise DataError(
            f"{shown!r} holds array(s) named like ones tunekit reads, under other names "
            f"({renames}); tunekit reads only {list(known)} and would leave them out. "
            "Save them under those names (numpy.savez(path, x_val=..., ...)), or drop them."
        )
    if unknown:
        _logger.warning(
            "%r: the array(s) %s are not among those tunekit reads (%s) and are left out.",
            shown,
            unknown,
            ", ".join(known),
        )
