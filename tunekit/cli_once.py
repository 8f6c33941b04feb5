"""Single-value command-line options that refuse to be given twice.

argparse keeps the last of a repeated option silently: `--target target
--target t2` trained on `t2` with `target` as an input feature, `--data a.csv
--data b.csv` ran on `b.csv`. `OnceParser` makes every plain `store` option
(argparse's default action) a `StoreOnce`, which exits 2 (argparse's own
error) naming the option and both values. Options that take a list or repeat
on purpose (`nargs="+"`, `append`) and flags without a value are left as
they are. Imports nothing from Keras.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

__all__ = ["OnceParser", "StoreOnce", "single_value_options"]

# What to do instead, for options a user may mean to give several times.
_INSTEAD = {
    "--target": (
        "The command line takes one target column. For several target columns (a "
        "regression of k targets), load the file in Python, "
        "tunekit.data.load_csv(path, target=['a', 'b']), and pass the Dataset to "
        "CoarseToFine."
    ),
    "--data": "The command line tunes on one data file or folder; start one run per file.",
}


def _shown(values: Any) -> str:
    if isinstance(values, (list, tuple)):
        return " ".join(map(str, values))
    return repr(values) if isinstance(values, str) else str(values)


class StoreOnce(argparse._StoreAction):
    """argparse's `store`, refusing a second occurrence of the option (exit 2)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given: dict[str, Any] = getattr(parser, "given_once", {})  # this parse's options
        flag = self.option_strings[0] if self.option_strings else self.dest
        if self.option_strings and flag in given:
            raise argparse.ArgumentError(
                self,
                f"given twice ({_shown(given[flag])}, then {_shown(values)}); it "
                "takes one value and argparse would keep only the last. Give it once."
                + (f" {_INSTEAD[flag]}" if flag in _INSTEAD else ""),
            )
        given[flag] = values
        super().__call__(parser, namespace, values, option_string)


class OnceParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose `store` options (the default action) are `StoreOnce`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, StoreOnce)
        self.register("action", "store", StoreOnce)
        self.given_once: dict[str, Any] = {}

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """argparse's, counting each option's occurrences afresh."""
        self.given_once = {}
        return super().parse_known_args(args, namespace)


def single_value_options(parser: argparse.ArgumentParser) -> Sequence[argparse.Action]:
    """The options of `parser` (not of its subcommands) that take one value: `StoreOnce`'s."""
    return [a for a in parser._actions if isinstance(a, StoreOnce) and a.option_strings]
