"""Every single-value option of every tunekit command refuses to be given twice (exit 2).

argparse kept the last of a repeated option: `--target target --target t2`
trained on t2 with `target` as a feature, exit 0. The options are read from
the parsers themselves, so a new option is covered as it is added.
"""

from __future__ import annotations

import argparse

import pytest

from tunekit import cli_main, cli_parser
from tunekit.cli_once import single_value_options

# Texts tried as values of each option (its choices first): every option accepts one.
_CANDIDATES = ["1", "2", "3", "0.5", "0.25", "auto", "x", "y", "none", "10", "20"]


def _parsers() -> dict[str, tuple[argparse.ArgumentParser, list[str]]]:
    """Every command's parser, with the arguments it needs besides the option."""
    main = cli_main.build_parser()
    commands = next(a for a in main._actions if isinstance(a, argparse._SubParsersAction))
    parsers = {"coarse_to_fine": (cli_parser.build_parser(), [])}
    needs = {"ls": ["runs"], "show": ["runs/a"], "compare": ["runs/a", "runs/b"]}
    for name, parser in commands.choices.items():
        if name != "run":  # `tunekit run` is coarse_to_fine's parser
            parsers[f"tunekit {name}"] = (parser, needs.get(name, []))
    return parsers


def _cases() -> list:
    cases = []
    for command, (parser, _) in _parsers().items():
        for action in single_value_options(parser):
            cases.append(
                pytest.param(
                    command, action.option_strings[0], id=f"{command} {action.option_strings[0]}"
                )
            )
    return cases


def _parses(parser: argparse.ArgumentParser, argv: list[str]) -> bool:
    try:
        parser.parse_args(argv)
    except SystemExit:
        return False
    return True


def _two_values(parser, action, extra) -> tuple[list[str], list[str]]:
    width = action.nargs if isinstance(action.nargs, int) else 1
    texts = [str(c) for c in action.choices] if action.choices else _CANDIDATES
    good = [
        [t] * width
        for t in texts
        if _parses(parser, [*extra, action.option_strings[0], *[t] * width])
    ]
    assert good, f"no value of {action.option_strings[0]} parse: extend _CANDIDATES"
    return good[0], good[-1]  # the same value twice is refused too


def test_every_command_has_single_value_options_covered():
    covered = {case.values[1] for case in _cases()}
    assert {"--target", "--data", "--seed", "--workers", "--image-size", "--format"} <= covered
    assert "--quiet" not in covered  # a flag without a value: giving it twice changes nothing


@pytest.mark.parametrize(("command", "flag"), _cases())
def test_a_single_value_option_given_twice_exits_2_naming_it_and_both_values(command, flag, capsys):
    parser, extra = _parsers()[command]
    action = next(a for a in parser._actions if flag in a.option_strings)
    first, second = _two_values(parser, action, extra)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([*extra, flag, *first, flag, *second])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and "given twice" in err and "takes one value" in err
    for values in (first, second):
        assert " ".join(values) in err


def test_a_repeated_target_exits_2_before_any_work_saying_one_target_column(tmp_path, capsys):
    from tunekit.coarse_to_fine import main

    code = main(["--data", str(tmp_path / "d.csv"), "--target", "target", "--target", "t2"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--target" in err and "'target', then 't2'" in err
    assert "one target column" in err and "load_csv(path, target=[" in err
    assert not list(tmp_path.iterdir())  # nothing loaded, nothing written


def test_a_repeated_data_exits_2_naming_both_files(capsys):
    from tunekit.coarse_to_fine import main

    assert main(["--data", "a.csv", "--data", "b.csv", "--target", "y"]) == 2
    assert "'a.csv', then 'b.csv'" in capsys.readouterr().err


def test_options_that_take_lists_still_take_them():
    parser = cli_main.build_parser()
    assert parser.parse_args(["compare", "r1", "r2", "r3"]).runs == ["r1", "r2", "r3"]
    args = cli_parser.build_parser().parse_args(["--quiet", "--quiet", "--seed", "3"])
    assert args.quiet and args.seed == 3
