"""A command-line rerun refused for other settings, said by the flags the user typed.

The run records the command line that started it (`manifest.json`'s
`command.argv`, `tunekit.reproduce.COMMAND_KEY`). A rerun refused for another
configuration (`tunekit.manifest`: a `RunConfigError` with its `differences`)
is said on the command line by comparing that command line with this one,
option by option, both parsed by the command line's own parser
(`tunekit.cli_parser.build_parser`):

- every option given otherwise leads the list, with the values as typed
  (`--target: target -> 'mean radius'`, `--hypermodel: dense -> mnist-dense`,
  `--no-baseline: not given -> given`); one left out on either side reads `not given`
  with the value in effect (`--fine-trials: 2 -> not given (default 10)`,
  `--max-epochs: 5 -> not given (3, from --quick)`), and the remedy says what to pass or
  leave out (`Pass --fine-trials 2 and leave out --factor to resume`); a changed
  `--data` file adds its fingerprints when its content differs;
- the settings that follow from those options and were not typed (the task's
  objective and direction, the hypermodel `auto` picks, a built-in hypermodel's
  own values and its default model) are left out: the option that set them is
  named. A hypermodel of one's own (`--hypermodel module:Class`) keeps its own
  values, which its code, not the options, may have changed.

When no option was typed otherwise, what differs is still said by the options,
with what to do: the data file's content changed (`--data: d.npz (its content
changed: fingerprint X -> Y)`, restore it; what follows from the data is left
out), an option typed neither time with another value (`--coarse-trials not
given: now 20, the run used 3`, pass it), `--backend auto` resolved otherwise
(`--backend auto: resolved to tensorflow, the run used jax (why)`). The trailing
"the data differs ..." sentence is left out when a named option says it. When
the recorded command line cannot be read, the refusal is said as before
(`tunekit.cli_parser.cli_message`). A distributed worker's refusal is said so
too, with the chief's command line as the run's (`tunekit.distribute.refusal`).
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
from typing import Any

from tunekit.cli_parser import _flag_value, build_parser, cli_message
from tunekit.cli_settings import QUICK
from tunekit.errors import TunekitError, said_as
from tunekit.manifest import DATA_DIFFERS

__all__ = ["restated"]

# Parsed values that are not settings of the run (the folder is the one refusing: a
# moved run folder, or another working folder, names it otherwise; the processes that run
# it: a chief's `--workers` beside a worker's command line).
_NOT_SETTINGS = {
    *("quiet", "progress", "overwrite", "help", "version", "directory", "project_name"),
    *("reprobe", "workers", "port", "chief_timeout", "worker_timeout", "trials_per_process"),
}
# Settings the run resolves on the machine, not from the other options (`--backend auto`):
# a change of theirs is said by the values in effect even when not typed otherwise.
_RESOLVED = {"backend"}
# The options that make the data (its fingerprint) other than the file's content (`--quick`
# takes a subset of it).
_DATA_OPTIONS = {"data", "target", "task", "image_size", "quick"}
# Settings that follow from the data when not typed: the task's objective, the hypermodel
# `auto` picks, a built-in hypermodel's values (its classes) and its default model.
_FROM_DATA = {
    "objective",
    "direction",
    "hypermodel",
    "hypermodel_settings",
    "hypermodel_state",
    "default_model",
}
# The refusal's remedy when the options typed differ (`tunekit.manifest`).
_ORIGINAL = "Rerun with the original settings to resume"


def _as_typed(action: argparse.Action, argv: list[str]) -> str | None:
    """The value `action`'s option was given in `argv` as typed (the last one given; the
    flag itself for `--augment` / `--no-augment`, `given` for a flag such as
    `--no-baseline`), None when it was left out."""
    found = None
    for i, token in enumerate(argv):
        option, equals, value = token.partition("=")
        if option not in action.option_strings:
            continue
        if action.nargs == 0:  # store_true, --augment / --no-augment: the flag itself
            found = option
        elif equals:
            found = shlex.quote(value)
        else:
            count = action.nargs if isinstance(action.nargs, int) else 1
            found = " ".join(shlex.quote(t) for t in argv[i + 1 : i + 1 + count])
    if found is not None and isinstance(action, argparse._StoreConstAction):
        return "given"
    return found


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _typed(action: argparse.Action, argv: list[str], parsed: Any, recorded: Any = None) -> str:
    """The value `action`'s option was given in `argv` as typed (`_as_typed`); when left
    out, `not given` with the value in effect: the one the run `recorded` for it, else the
    parser's default (`not given (default 10)`, `not given (3, from --quick)` for a value
    `--quick` sets, `not given` for a flag or an unset default). A `_RESOLVED` option left
    out is said by the value it resolved to (`jax` for `--backend auto`)."""
    found = _as_typed(action, argv)
    if found is not None:
        return found
    if action.dest in _RESOLVED and _scalar(recorded):
        return _flag_value(recorded)
    if parsed != action.default:  # e.g. an abbreviated option: its value as parsed
        if isinstance(action, argparse.BooleanOptionalAction):
            return action.option_strings[0 if parsed else 1]
        return "given" if action.nargs == 0 else _flag_value(parsed)
    value = recorded if _scalar(recorded) else parsed
    if action.nargs == 0 or not _scalar(value):
        return "not given"
    args = _parsed(argv)
    if getattr(args, "quick", False) and QUICK.get(action.dest) == value:
        return f"not given ({_flag_value(value)}, from --quick)"
    return f"not given (default {_flag_value(value)})"


def _parsed(argv: list[str]) -> argparse.Namespace | None:
    try:
        return build_parser().parse_known_args(argv)[0]
    except SystemExit:
        return None


def _remedy(action: argparse.Action, recorded: list[str], was: Any) -> str:
    """What to do about `action`'s option, typed otherwise, to resume: `pass --fine-trials
    2` (typed so in `recorded`, the run's command line, or resolved so), else `leave out
    --factor`."""
    flag, typed = action.option_strings[0], _as_typed(action, recorded)
    if typed is None and action.dest in _RESOLVED and _scalar(was):
        return f"pass {flag} {_flag_value(was)}"
    if typed is None:
        return f"leave out {flag}"
    if isinstance(action, argparse.BooleanOptionalAction):
        return f"pass {typed}"
    return f"pass {flag}" if action.nargs == 0 else f"pass {flag} {typed}"


def typed_changes(
    recorded: list[str],
    argv: list[str],
    values: dict[str, tuple[Any, Any]] | None = None,
    settings: tuple[frozenset[str], frozenset[str]] | None = None,
    why: str | None = None,
) -> dict[str, tuple[str, str | None]]:
    """The options `argv` gives otherwise than `recorded`, by their `dest`, each with what
    to do to resume (`_remedy`; None when typed alike): `{"target": ("--target: target ->
    'mean radius'", "pass --target target")}`. Empty when either is refused.

    `values` are the run's recorded changes, `{dest: (old, new)}`: an option left out
    is said by the value in effect (`_typed`: `--fine-trials: 2 -> not given (default
    10)`), and a `_RESOLVED` one is said even when typed alike. `settings`
    (`TunekitError.settings`: the run's configuration keys and those that differ) leaves
    out an option that is a setting of the run and typed otherwise to the same effect
    (`--hypermodel dense` for the default `mnist-dense`, or an option spelt otherwise by a
    resume since the run started). A `_RESOLVED` one typed alike is said by what it
    resolved to, and `why` when given: `--backend auto: resolved to tensorflow, the run
    used jax (why)`."""
    values = values or {}
    parser = build_parser()
    try:
        old, new = parser.parse_known_args(recorded)[0], parser.parse_known_args(argv)[0]
    except SystemExit:  # a command line of another version: not compared
        return {}
    found: dict[str, tuple[str, str | None]] = {}
    for action in parser._actions:
        dest = action.dest
        if not action.option_strings or dest in _NOT_SETTINGS or dest in found:
            continue
        before, after = getattr(old, dest, None), getattr(new, dest, None)
        if dest in _RESOLVED and dest not in values:  # the same in effect (auto, jax)
            continue
        if before == after and dest not in _RESOLVED:
            continue
        if settings is not None and not _effective(dest, *settings):
            continue
        was, now = values.get(dest, (None, None))
        if before == after:  # typed alike: resolved otherwise on this machine
            found[dest] = (
                f"{action.option_strings[0]} {_flag_value(after)}: resolved to "
                f"{_flag_value(now)}, the run used {_flag_value(was)}"
                + (f" ({why})" if why else ""),
                None,
            )
            continue
        said = (_typed(action, recorded, before, was), _typed(action, argv, after, now))
        remedy = _remedy(action, recorded, was)
        if isinstance(action, argparse.BooleanOptionalAction):
            found[dest] = (f"{said[0]} -> {said[1]}", remedy)
        else:
            found[dest] = (f"{action.option_strings[0]}: {said[0]} -> {said[1]}", remedy)
    return found


# The settings an option sets besides (or instead of) the one of its own name.
_SETS = {
    "hypermodel": {
        "hypermodel",
        "hypermodel_settings",
        "hypermodel_state",
        "default_model",
        "hypermodel_code",
    }
}


def _effective(dest: str, keys: frozenset[str], changed: frozenset[str]) -> bool:
    """Whether the option `dest`, typed otherwise, changed a setting of the run: an option
    that is no setting of its own (`--target`, `--data`: they make the data) is taken as
    changing what it sets."""
    own = _SETS.get(dest, {dest})
    if dest in _RESOLVED or not own & keys:
        return True
    return bool(own & changed)


def _recorded_argv(run_dir: Path) -> list[str] | None:
    try:
        state = json.loads((Path(run_dir) / "manifest.json").read_text())
        argv = state["command"]["argv"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return argv if isinstance(argv, list) and all(isinstance(a, str) for a in argv) else None


def restated(
    error: BaseException,
    argv: list[str],
    run_dir: Path | None = None,
    *,
    recorded: list[str] | None = None,
    why: str | None = None,
) -> BaseException:
    """`error`, when it refuses a rerun for other settings, with its list of changes
    said by the options typed (see the module docstring); else `error` itself.

    `recorded` is the command line the settings compared with came from (by default the
    one `run_dir`'s manifest records; a distributed worker gets its chief's); `why` says
    how this command's backend was chosen, when not as typed (`--backend auto`)."""
    differences = getattr(error, "differences", ())
    if recorded is None and run_dir is not None:
        recorded = _recorded_argv(run_dir)
    if not isinstance(error, TunekitError) or not differences or recorded is None:
        return error
    changes = {span: (name, old, new) for span, name, old, new in error.changes}
    values = {n: (o, v) for n, o, v in changes.values()}
    found = typed_changes(recorded, argv, values, error.settings, why)
    typed = {dest: text for dest, (text, _) in found.items()}
    parser = build_parser()
    try:
        was, now = parser.parse_known_args(recorded)[0], parser.parse_known_args(argv)[0]
    except SystemExit:  # a command line of another version: said as before
        return error
    own_hypermodel = ":" in str(was.hypermodel or "")
    data_changed = "data" in values
    # What the refusal's hint asks for: what to pass or leave out, restore the data; None
    # for a change no option undoes (the values of a hypermodel of one's own).
    remedies: list[str | None] = [remedy for _, remedy in found.values()]
    items = list(typed.values())
    for item in differences:
        name = changes[item][0] if item in changes else None
        action = parser._option_string_actions.get(f"--{name}".replace("_", "-"))
        if name == "data":  # the file typed otherwise, or the same file changed since
            _, old, new = changes[item]
            if "data" in typed:
                items[list(typed).index("data")] += (
                    f" (its content differs: fingerprint {old} -> {new})"
                )
            elif not typed.keys() & _DATA_OPTIONS:  # else it follows from the option typed
                path = _typed(parser._option_string_actions["--data"], argv, None)
                said = f"--data: {path} (its" if now.data else "--data not given (MNIST: its"
                items.append(f"{said} content changed: fingerprint {old} -> {new})")
                remedies.append("restore the data the run started with")
        elif name is None and own_hypermodel:  # its own values: its code may have set them
            items.append(cli_message(said_as(TunekitError(item), error.changes)))
            remedies.append(None)
        elif typed or (data_changed and name in _FROM_DATA | {None}):
            continue  # said by the option typed or the data, following from them
        elif action is not None and name not in _NOT_SETTINGS:
            # Not typed otherwise, yet another value: a default, or what `auto` resolved to.
            _, old, new = changes[item]
            given = "" if getattr(now, action.dest) is None else f" {_flag_value(new)}"
            if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction):
                items.append(cli_message(said_as(TunekitError(item), error.changes)))
                remedies.append(None)
                continue
            flag = action.option_strings[0]
            items.append(
                f"{flag}{given or ' not given'}: now {_flag_value(new)}, "
                f"the run used {_flag_value(old)}"
            )
            remedies.append(f"pass {flag} {_flag_value(old)}")
        else:  # no option of its own (the default model a tunekit version builds)
            items.append(cli_message(said_as(TunekitError(item), error.changes)))
            remedies.append(None)
    listed = "; ".join(differences)
    text = str(error).replace(f"({listed})", f"({'; '.join(items)})", 1)
    if typed.keys() & _DATA_OPTIONS or data_changed:  # the data's change is named
        text = text.replace(DATA_DIFFERS, "", 1)
    if remedies and None not in remedies:
        remedy = _joined([r for r in remedies if r is not None])
        text = text.replace(_ORIGINAL, remedy[0].upper() + remedy[1:] + " to resume", 1)
    new = "; ".join(items)
    return said_as(type(error)(text), error.changes, {new: new, **dict(error.cli_words)})


def _joined(remedies: list[str]) -> str:
    """`pass --coarse-epochs 1 and --fine-trials 2 and leave out --factor`: the remedies
    in their order, those of one verb together."""
    verbs = ("pass ", "leave out ")
    groups: dict[str, list[str]] = {}
    for remedy in remedies:
        verb = next((v for v in verbs if remedy.startswith(v)), remedy)
        groups.setdefault(verb, []).append(remedy[len(verb) :] if verb in verbs else "")
    parts = [verb + _and(words) if verb in verbs else verb for verb, words in groups.items()]
    return " and ".join(parts)


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
