"""One table of argument rules (`tunekit.params`): the Python API and the CLI obey it alike."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import re
from pathlib import Path

import keras_tuner as kt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypermodels import MnistDenseHyperModel
from tunekit import InvalidParameterError, NarrowingConfig, RetrainConfig, TunekitError
from tunekit.coarse_to_fine import build_parser, cli_message, main
from tunekit.data import Dataset
from tunekit.narrowing import narrow_space
from tunekit.params import GIVEN_ONLY, PARAMETERS, Boolean
from tunekit.workflow import CoarseToFine

# Bad values of every parameter of the table, as Python values. (`None` of a grouped
# setting means "not given": it takes the config object's value or the default.)
BAD: dict[str, list[object]] = {
    "coarse_trials": [0, 1, 2, -3, 2.5, 20.0, True, "20", None, np.float64(5.0)],
    "coarse_epochs": [0, -1, 1.5, 2.0, False, "2", None],
    "defaults_first": [0, 1, "yes", None, 1.0],
    "fine_tuner": ["grid", "Hyperband", "", 1, ("hyperband",)],  # None: not given
    "fine_trials": [0, -10, 3.5, True, "10"],  # None: not given (the default)
    "max_epochs": [0, -1, 2.5, True, None, float("inf")],
    "factor": [1, 0, -2, 2.0, 3.5, True, "3"],  # None: not given (the default)
    "top": [0, -1, 0.0, 1.5, -0.25, float("nan"), float("inf"), True, False, "0.25", "3"],
    "margin": [-0.1, -1, float("nan"), float("inf"), True, "0.1", [0.1]],
    "final_epochs": [0, -1, 2.5, "best", "AUTO", True, 10.0],
    "final_schedule": ["linear", "Cosine", "", 0, ("cosine",)],
    "batch_size": [0, -32, 32.0, True, "128"],  # None: not given (the default)
    "executions_per_trial": [0, -1, 1.5, True, None],
    "max_model_size": [0, -1, 1.5, 2e4, True, "20000"],  # None: no limit
    "max_retries_per_trial": [-1, 0.5, True, "1", None],
    "max_consecutive_failed_trials": [0, -1, 2.5, False, "3", None],
    "cv": [0, -1, 1.5, True, "3", None],
    "seed": [-1, 0.5, 1.0, True, "0", None, float("nan"), 2**32, 2**32 - 1],
    "overwrite": [0, 1, "True", None],
    "verbose": [-1, 0.5, "1", None],
    "progress": ["Bar", "", "tty", 1, ("auto",)],  # None: not given (the default)
    "workers": [0, -2, 1.5, True, "2", None],
    "trials_per_process": [0, -1, 1.5, True, "2"],  # None: every trial in one process
    "class_weight": [  # None: no weighting
        *("Balanced", "", "auto", 1, True, ("balanced",)),
        *({}, {0: -1.0}, {"": 1.0}, {0: float("nan")}, {0: True}, {None: 1.0}, {0: 0, 1: 0.0}),
        *({1.5: 2.0}, {float("inf"): 1.0}, {2: 1.0, "2": 3.0}, {(1,): 1.0}),
    ],
    "finalists": [-1, 1.5, True, "3", None],
    # seed + 1001 could pass 2**32; None: not given (the default)
    "finalist_seeds": [0, -1, 2.5, True, 1001],
    "baseline": [0, 1, "yes", None],
    "final_seeds": [0, -2, 1.5, True, None, 2000],
}
# Good values, normalised as CoarseToFine stores them.
GOOD: dict[str, list[tuple[object, object]]] = {
    "coarse_trials": [(3, 3), (np.int64(7), 7)],
    "top": [(1, 1), (1.0, 1.0), (0.5, 0.5), (np.float32(0.5), 0.5), (12, 12)],
    "margin": [(0, 0.0), (0.3, 0.3), (2, 2.0)],
    "final_epochs": [("auto", "auto"), (3, 3)],
    "seed": [(0, 0), (123, 123)],
    "max_model_size": [(20_000, 20_000), (np.int64(5), 5), (None, None)],
    "max_retries_per_trial": [(0, 0), (np.int64(2), 2)],
    "cv": [(1, 1), (np.int64(1), 1)],  # cv > 1 needs fine_tuner="bayesian" (tests/test_cv.py)
    "defaults_first": [(False, False), (np.bool_(True), True)],
    "verbose": [(0, 0), (2, 2), (True, True)],
    # Keras's own form; ids as JSON writes them too (a manifest's config read back).
    "class_weight": [
        ("balanced", "balanced"),
        ({2: 3, 0: np.float32(0.5)}, {0: 0.5, 2: 3.0}),
        ({"1": 2.5}, {1: 2.5}),
        ({2.0: 3, "0": 1}, {0: 1.0, 2: 3.0}),  # whole floats are ints
    ],
}
CASES = [(name, value) for name, values in BAD.items() for value in values]
# Options that take a value (the bools are flags: --overwrite, --no-defaults-first).
FLAGGED = [p for p in PARAMETERS.values() if p.flag and not isinstance(p.constraints[0], Boolean)]


def test_the_table_covers_every_checked_argument_of_coarse_to_fine():
    assert set(BAD) == set(PARAMETERS)
    signature = inspect.signature(CoarseToFine.__init__).parameters
    assert set(PARAMETERS) <= set(signature)
    for name, param in PARAMETERS.items():
        # Grouped settings default to None in the signature ("not given"); the others
        # repeat the table's default there, for help() and IDEs: this keeps them equal.
        # So do the settings refused where they do not apply (`GIVEN_ONLY`: the fine
        # tuners' budgets, batch_size with a stream, ...), to tell given from not given.
        expected = None if param.group or name in GIVEN_ONLY else param.default
        assert signature[name].default == expected, name


@pytest.fixture(scope="module")
def data() -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset.from_arrays(rng.random((60, 28, 28), "float32"), np.arange(60) % 3)


@pytest.mark.parametrize("name, value", CASES, ids=[f"{n}={v!r}" for n, v in CASES])
def test_every_bad_value_is_refused_naming_the_keyword(tmp_path, data, name, value):
    with pytest.raises(InvalidParameterError) as info:
        CoarseToFine(MnistDenseHyperModel(), data, directory=tmp_path, **{name: value})
    message = str(info.value)
    assert message.startswith(f"`{name}` must be {PARAMETERS[name].expected}.")
    assert message.endswith(f"Received: {name}={value!r}.")
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    assert isinstance(info.value, TunekitError)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "name, value, stored", [(n, v, s) for n, pairs in GOOD.items() for v, s in pairs]
)
def test_good_values_are_stored_as_plain_python_values(tmp_path, data, name, value, stored):
    run = CoarseToFine(MnistDenseHyperModel(), data, directory=tmp_path, **{name: value})
    assert getattr(run, name) == stored and type(getattr(run, name)) is type(stored)


def test_defaults_and_the_manifest_config_are_unchanged(tmp_path, data):
    run = CoarseToFine(MnistDenseHyperModel(), data, directory=tmp_path)
    config = run.config()
    # What runs recorded before the table: resuming them must keep working.
    assert {k: config[k] for k in PARAMETERS if k in config} == {
        "coarse_trials": 20,
        "coarse_epochs": 2,
        "defaults_first": True,
        "fine_tuner": "hyperband",
        "fine_trials": None,
        "max_epochs": 20,
        "factor": 3,
        "top": 0.25,
        "margin": 0.1,
        "final_epochs": "auto",
        "final_schedule": "cosine",
        "batch_size": 128,
        "executions_per_trial": 1,
        "seed": 0,
        # Finalists became off by default after runs recorded 3 by leaving it out: now recorded.
        "finalists": 0,
    }
    # Recorded since a rerun with other callbacks or HyperModel arguments resumed silently;
    # runs recorded without them resume (tests/test_object_settings.py). Likewise the
    # default model (tests/test_default_model_settings.py).
    assert config["callbacks"] == []
    assert list(config) == [
        "hypermodel",
        "hypermodel_code",
        "hypermodel_settings",
        "hypermodel_state",
        "default_model",
        "callbacks",
        "data",
        "objective",
        "direction",
        "coarse_trials",
        "coarse_epochs",
        "defaults_first",
        "fine_tuner",
        "fine_trials",
        "max_epochs",
        "factor",
        "top",
        "margin",
        "final_epochs",
        "final_schedule",
        "batch_size",
        "executions_per_trial",
        "seed",
        "finalists",
    ]


# -- grouped settings ----------------------------------------------------------------


def test_config_objects_give_the_same_run_as_the_flat_keywords(tmp_path, data):
    flat = CoarseToFine(
        MnistDenseHyperModel(),
        data,
        directory=tmp_path,
        top=5,
        margin=0.2,
        final_epochs=4,
        final_schedule="constant",
    )
    grouped = CoarseToFine(
        MnistDenseHyperModel(),
        data,
        directory=tmp_path,
        narrowing=NarrowingConfig(top=5, margin=0.2),
        retrain=RetrainConfig(final_epochs=4, final_schedule="constant"),
    )
    assert grouped.config() == flat.config()
    assert (grouped.top, grouped.margin, grouped.final_epochs, grouped.final_schedule) == (
        5,
        0.2,
        4,
        "constant",
    )
    # A config object's unset fields are the table's defaults.
    partial = CoarseToFine(
        MnistDenseHyperModel(),
        data,
        directory=tmp_path,
        narrowing=NarrowingConfig(top=3),
        final_schedule="constant",
    )
    assert (partial.top, partial.margin, partial.final_epochs) == (3, 0.1, "auto")


def test_config_objects_are_frozen_and_checked_by_the_table():
    config = NarrowingConfig()
    assert (config.top, config.margin) == (PARAMETERS["top"].default, PARAMETERS["margin"].default)
    assert RetrainConfig() == RetrainConfig(final_epochs="auto", final_schedule="cosine")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.top = 3  # type: ignore[misc]
    with pytest.raises(InvalidParameterError, match=r"Received: top=0\.$"):
        NarrowingConfig(top=0)
    with pytest.raises(InvalidParameterError, match=r"Received: final_schedule='linear'\.$"):
        RetrainConfig(final_schedule="linear")  # type: ignore[arg-type]
    assert NarrowingConfig(top=np.int64(4)).top == 4 and type(NarrowingConfig(top=4).top) is int


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"top": 0.5, "narrowing": NarrowingConfig(top=0.3)},
            r"`top` is given twice: top=0\.5 and "
            r"narrowing=NarrowingConfig\(top=0\.3, margin=0\.1\)",
        ),
        ({"margin": 0.2, "narrowing": NarrowingConfig(top=0.3)}, r"`margin` is given twice"),
        ({"final_epochs": 3, "retrain": RetrainConfig()}, r"`final_epochs` is given twice"),
        (
            {"final_schedule": "constant", "retrain": RetrainConfig()},
            r"`final_schedule` is given twice",
        ),
        (
            {"narrowing": {"top": 0.3}},
            r"`narrowing` must be a tunekit.NarrowingConfig or None\. "
            r"Received: narrowing=\{'top': 0\.3\}\.",
        ),
        ({"retrain": NarrowingConfig()}, r"`retrain` must be a tunekit.RetrainConfig or None"),
    ],
)
def test_a_setting_given_both_ways_or_a_wrong_config_is_refused(tmp_path, data, kwargs, message):
    with pytest.raises(InvalidParameterError, match=message):
        CoarseToFine(MnistDenseHyperModel(), data, directory=tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())


def test_narrow_space_checks_top_and_margin_by_the_same_rules(data, tmp_path):
    for name, value in [("top", 0), ("top", 1.5), ("margin", float("nan"))]:
        with pytest.raises(InvalidParameterError) as from_narrowing:
            narrow_space(kt.HyperParameters(), [], **{name: value})
        with pytest.raises(InvalidParameterError) as from_workflow:
            CoarseToFine(MnistDenseHyperModel(), data, directory=tmp_path, **{name: value})
        assert str(from_narrowing.value) == str(from_workflow.value)


# -- the command line ----------------------------------------------------------------


def _cli_text(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _python(name: str, value: object) -> tuple[bool, object]:
    try:
        return True, PARAMETERS[name].check(value)
    except InvalidParameterError:
        return False, None


def _readings(text: str) -> list[object]:
    """What a Python user could mean by `text`: the string, or the number it spells."""
    readings: list[object] = [text]
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            readings.append(kind(text))
    return readings


def _bad_text(name: str, text: str) -> bool:
    return not any(_python(name, reading)[0] for reading in _readings(text))


# The bad Python values written out (`"128"` is a bad `batch_size=` but a good
# `--batch-size`, so it is left out), and texts no parameter accepts.
CLI_CASES = sorted(
    (p.flag, text)
    for p in FLAGGED
    for text in {
        _cli_text(v) for v in BAD[p.name] if v is not None and not isinstance(v, (list, tuple))
    }
    | {"", "abc", "1,5"}
    if _bad_text(p.name, text)
)


@pytest.mark.parametrize("flag, text", CLI_CASES)
def test_every_bad_value_exits_2_naming_the_flag_before_anything(tmp_path, capsys, flag, text):
    runs = tmp_path / "runs"
    # (A bad --hypermodel too: were the value accepted, the run would still stop at once.)
    assert main([f"{flag}={text}", "--directory", str(runs), "--hypermodel", "no_such:x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: argument {flag}:") and len(err.splitlines()) == 1, err
    assert not runs.exists()


def test_help_shows_each_default_and_rule_from_the_table():
    actions = {a.dest: a for a in build_parser()._actions}
    for param in FLAGGED:
        action = actions[param.name]
        assert action.option_strings == [param.flag]
        assert action.help.startswith(param.help.replace("%", "%%")), param.name  # argparse
        assert action.help.endswith(f"Default: {param.default_text}."), param.name
        if param.choices:
            assert tuple(action.choices) == param.choices
        else:
            assert f"Must be {param.expected}." in action.help
    # Flags whose absence keeps the table's default (a bool the flag flips).
    assert actions["defaults_first"].default is True and actions["overwrite"].default is False
    help_text = " ".join(build_parser().format_help().split())  # formats every help text
    assert "Default: 0.25." in help_text and "Default: auto." in help_text
    assert "10% of the original width" in help_text


def test_cli_message_turns_the_keyword_into_the_flag():
    error = InvalidParameterError("`top` must be an int >= 1. Received: top=0.")
    assert cli_message(error) == "`--top` must be an int >= 1. Received: --top 0."


# -- the CLI and Python accept and refuse the same values ----------------------------


_PARSER = build_parser()


def _cli(flag: str, text: str) -> tuple[bool, object]:
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            args = _PARSER.parse_args([f"{flag}={text}"])
        except SystemExit:
            return False, None
    name = next(p.name for p in FLAGGED if p.flag == flag)
    return True, getattr(args, name)


NUMBER_TEXT = st.one_of(
    st.integers(-5, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        [
            "auto",
            "hyperband",
            "bayesian",
            "cosine",
            "constant",
            "1e0",
            "0.",
            ".5",
            " 3",
            "+2",
            "1_000",
            "-0.0",
        ]
    ),
)
PYTHON_VALUES = st.one_of(
    st.integers(-5, 10**6), st.booleans(), st.floats(allow_nan=True, allow_infinity=True)
)


@settings(max_examples=150, deadline=None)
@given(param=st.sampled_from(FLAGGED), text=st.one_of(NUMBER_TEXT, st.text(max_size=8)))
def test_cli_accepts_a_text_iff_python_accepts_what_it_spells(param, text):
    accepted, value = _cli(param.flag, text)
    readings = [(ok, v) for ok, v in (_python(param.name, r) for r in _readings(text)) if ok]
    assert accepted == bool(readings), (param.name, text)
    if accepted:
        assert (value, type(value)) in [(v, type(v)) for _, v in readings]


@settings(max_examples=150, deadline=None)
@given(param=st.sampled_from(FLAGGED), value=PYTHON_VALUES)
def test_python_accepts_a_value_iff_the_cli_accepts_it_written_out(param, value):
    ok, normalized = _python(param.name, value)
    accepted, parsed = _cli(param.flag, _cli_text(value))
    assert ok == accepted, (param.name, value)
    if ok:
        assert parsed == normalized and type(parsed) is type(normalized)


def test_the_rules_read_like_an_error_message():
    assert PARAMETERS["top"].expected == "an int >= 1 (a count) or a float in (0, 1] (a fraction)"
    assert PARAMETERS["final_epochs"].expected == "'auto' or an int >= 1"
    assert re.fullmatch(
        r"an int >= 3: the narrowing needs 3 completed coarse trials",
        PARAMETERS["coarse_trials"].expected,
    )


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1"])
def test_a_port_outside_0_65535_exits_2_naming_the_flag(
    port: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tunekit.coarse_to_fine import main

    assert main(["--port", port, "--directory", str(tmp_path)]) == 2
    assert "argument --port: must be an int in [1, 65535]" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_callbacks_none_is_no_callbacks_and_other_values_are_refused(tmp_path: Path) -> None:
    import keras

    from hypermodels import MnistDenseHyperModel
    from tunekit.errors import InvalidParameterError

    data = Dataset.from_arrays(np.zeros((30, 4), np.float32), np.arange(30) % 2)
    hypermodel = MnistDenseHyperModel((4,), 2)
    assert CoarseToFine(hypermodel, data, directory=tmp_path, callbacks=None).callbacks == []
    stop = keras.callbacks.EarlyStopping()
    assert CoarseToFine(hypermodel, data, directory=tmp_path, callbacks=(stop,)).callbacks == [stop]
    for bad in (stop, [stop, "tensorboard"], 3, "callbacks"):
        with pytest.raises(InvalidParameterError, match="`callbacks` must be a list"):
            CoarseToFine(hypermodel, data, directory=tmp_path, callbacks=bad)


def test_class_weight_keys_may_be_labels_class_names_or_bools():
    """Keys a Dataset's classes decide (`tunekit.data.class_weights`): renumbered labels
    (-1 / 1), class names and bools were refused here before the data was seen."""
    check = PARAMETERS["class_weight"].check
    assert check({"cat": 1, -1: 2.0, 2.0: 3}) == {-1: 2.0, 2: 3.0, "cat": 1.0}
    assert check({True: 10, np.False_: 1}) == {"False": 1.0, "True": 10.0}
    assert check({"-1": 1}) == {-1: 1.0}
