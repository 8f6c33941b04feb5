"""A narrowing removes a `Choice`'s or `Boolean`'s value only when some usable trial tried it.

KerasTuner's seeded random draws can cluster: six coarse trials that all drew
"relu" of ["relu", "tanh", "selu"] made `act` Fixed 'relu' (rule
"unanimous"), so the fine phase could never try tanh or selu, which no trial
had tried. A value no usable trial (where the name was active) tried is kept.
"""

from __future__ import annotations

import json

import keras_tuner as kt
import pytest
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine.trial import TrialStatus
from test_narrowing import change, make_trial, make_trials, narrowed_hp, one

from tunekit.narrowing import NarrowedSpace, narrow_space

ACTS = ["relu", "tanh", "selu"]


def test_six_trials_all_relu_keep_the_values_never_tried():
    # The probe's case: every one of 6 coarse trials drew 'relu'.
    space = one("Choice", ACTS)
    result = narrow_space(space, make_trials(space, "x", ["relu"] * 6))
    hp = narrowed_hp(result)
    assert (type(hp), hp.values, hp.default) == (hp_module.Choice, ACTS, "relu")
    c = change(result)
    assert (c.rule, c.after) == ("untried", "Choice ['relu', 'tanh', 'selu']")
    assert c.note == "'tanh', 'selu' never tried (6 usable trials): kept"
    text = str(result)  # the table of report.md and of the run's log
    assert "untried" in text and "'tanh', 'selu' never tried (6 usable trials): kept" in text
    assert json.loads(result.to_json())["changes"][0]["note"] == c.note
    assert NarrowedSpace.from_json(result.to_json()) == result


def test_a_value_tried_and_lost_is_removed_one_never_tried_is_kept():
    # 'relu' tops, 'tanh' was tried by the worse trials, 'selu' by none.
    space = one("Choice", ACTS)
    trials = make_trials(space, "x", ["relu"] * 3 + ["tanh"] * 4)
    result = narrow_space(space, trials, top=3)
    hp = narrowed_hp(result)
    assert (hp.values, hp.default) == (["relu", "selu"], "relu")
    c = change(result)
    assert (c.rule, c.note) == ("subset", "'selu' never tried (7 usable trials): kept")
    # The top trials split: their values, and the untried one, so nothing is removed.
    trials = make_trials(space, "x", ["tanh", "relu", "tanh", "relu"])
    result = narrow_space(space, trials, top=3)
    assert (narrowed_hp(result).values, narrowed_hp(result).default) == (ACTS, "tanh")
    assert change(result).rule == "untried"


def test_every_other_value_tried_and_lost_is_fixed_as_before():
    space = one("Choice", ACTS)
    trials = make_trials(space, "x", ["relu"] * 3 + ["tanh", "selu", "tanh", "selu"])
    result = narrow_space(space, trials, top=3)
    assert (narrowed_hp(result).value, change(result).rule) == ("relu", "unanimous")
    assert change(result).note == ""
    space = one("Boolean")
    result = narrow_space(space, make_trials(space, "x", [True] * 3 + [False] * 4), top=3)
    assert (narrowed_hp(result).value, change(result).rule) == (True, "unanimous")


def test_a_boolean_tried_only_as_true_keeps_both():
    space = one("Boolean")
    result = narrow_space(space, make_trials(space, "x", [True] * 5))
    hp = narrowed_hp(result)
    assert (type(hp), hp.default) == (hp_module.Boolean, True)
    c = change(result)
    assert (c.rule, c.note) == ("untried", "False never tried (5 usable trials): kept")


def test_only_trials_where_the_name_was_active_count_as_tried():
    # 'act' is active only under model == "mlp": the cnn trials' default 'selu' is
    # never a try of it.
    space = kt.HyperParameters()
    space.Choice("model", ["mlp", "cnn"])
    with space.conditional_scope("model", ["mlp"]):
        space.Choice("act", ACTS, default="selu")
    runs = [("mlp", "relu")] * 3 + [("mlp", "tanh")] * 4 + [("cnn", None), ("cnn", None)]
    trials = [
        make_trial(space, {"model": m, **({"act": a} if a else {})}, 10.0 - i, f"{i:02d}")
        for i, (m, a) in enumerate(runs)
    ]
    result = narrow_space(space, trials, top=3)
    assert narrowed_hp(result, "act").values == ["relu", "selu"]
    assert change(result, "act").note == "'selu' never tried (7 usable trials): kept"


def test_failed_trials_do_not_count_as_tried():
    space = one("Choice", ACTS)
    trials = make_trials(space, "x", ["relu"] * 4)
    trials.append(make_trial(space, {"x": "tanh"}, float("nan"), "nan"))
    result = narrow_space(space, trials)
    assert narrowed_hp(result).values == ACTS  # 'tanh' only in a trial without a score


def test_values_tried_only_by_failed_trials_are_said_so():
    # The probe's case: FAILED trials tried tanh and elu (trials.csv shows them);
    # the note said all three were "never tried". Kept, in the right words.
    acts = ["relu", "tanh", "elu", "gelu"]
    space = one("Choice", acts)
    trials = make_trials(space, "x", ["relu"] * 5)
    trials.append(make_trial(space, {"x": "tanh"}, None, "f1", status=TrialStatus.FAILED))
    trials.append(make_trial(space, {"x": "elu"}, None, "f2", status=TrialStatus.FAILED))
    trials.append(make_trial(space, {"x": "elu"}, float("nan"), "nan"))
    trials.append(make_trial(space, {"x": "gelu"}, None, "run", status=TrialStatus.RUNNING))
    result = narrow_space(space, trials)
    assert narrowed_hp(result).values == acts
    c = change(result)
    assert (c.rule, c.note) == (
        "untried",
        "'gelu' never tried; 'tanh', 'elu' tried only by failed trials (5 usable trials): kept",
    )
    assert c.note in str(result)
    # Only failed trials tried any of them: no "never tried" part.
    space = one("Boolean")
    trials = make_trials(space, "x", [True] * 4)
    trials.append(make_trial(space, {"x": False}, None, "f", status=TrialStatus.FAILED))
    result = narrow_space(space, trials)
    assert change(result).note == "False tried only by failed trials (4 usable trials): kept"


def test_ordered_choices_and_ranges_keep_their_rules():
    # An ordered Choice behaves like a range: the span of the top values.
    space = one("Choice", [16, 32, 64, 128])
    trials = make_trials(space, "x", [32] * 4 + [64, 128, 16, 64, 128])
    result = narrow_space(space, trials, top=4)
    assert (narrowed_hp(result).value, change(result).rule) == (32, "unanimous")
    result = narrow_space(space, make_trials(space, "x", [32, 64, 32, 64, 16, 128]), top=4)
    assert (narrowed_hp(result).values, change(result).rule) == ([32, 64], "span")


def test_fix_unanimous_false_keeps_every_value():
    space = one("Choice", ACTS)
    trials = make_trials(space, "x", ["relu"] * 3 + ["tanh"] * 4)
    result = narrow_space(space, trials, top=3, fix_unanimous=False)
    assert (narrowed_hp(result).values, change(result).rule) == (ACTS, "kept")
    space = one("Boolean")
    result = narrow_space(space, make_trials(space, "x", [True] * 4), fix_unanimous=False)
    assert (type(narrowed_hp(result)), change(result).rule) == (hp_module.Boolean, "kept")


def test_agreement_most_trials_would_show_anyway_fixes_nothing():
    """Note 70's gap: trials at 16, 16, 16 and 32 of `Int(16, 64, step=16)` fixed 16
    ("unanimous"), so the fine phase never tried 48 or 64, on one trial at 32: any three
    of those four trials hold 16 at least twice, all three with p = 1/4. The whole kind: a
    value the top trials share is fixed only when their agreement is unlikely by chance
    (hypergeometric p < 0.05), for a range, an ordered or unordered `Choice`, a `Boolean`."""
    cases = [
        (one("Int", 16, 64, step=16), [16, 16, 16, 32], "Int [16, 64] step 16", 0.25),
        (one("Float", 1e-4, 1e-1, sampling="log"), [1e-3] * 3 + [1e-2], None, 0.25),
        (one("Choice", [16, 32, 64]), [32, 32, 32, 64], "Choice [16, 32, 64]", 0.25),
        (one("Choice", ACTS), ["relu"] * 3 + ["tanh", "selu"], "Choice " + str(ACTS), 0.1),
        (one("Boolean"), [True] * 3 + [False], "Boolean", 0.25),
        (one("Int", 1, 3), [2] * 6 + [1, 3], "Int [1, 3]", 0.357),  # C(6,3)/C(8,3)
    ]
    for space, values, after, p in cases:
        result = narrow_space(space, make_trials(space, "x", values), top=3)
        c, hp = change(result), narrowed_hp(result)
        assert c.rule == "common", (values, c)
        assert c.after == (after or c.before) and hp.default == values[0]
        m = values.count(values[0])
        assert c.note == (
            f"{values[0]!r} in {m} of {len(values)} usable trials: the top 3 hold it by "
            f"chance with p = {p:.2g} (hypergeometric): kept"
        )
        assert f"{p:.2g} (hypergeometric)" in str(result)  # the table of report.md and the log
    # Evidence: 3 of 7 trials at 16, the top three among them (p = 1/35): fixed.
    space = one("Int", 16, 64, step=16)
    result = narrow_space(space, make_trials(space, "x", [16] * 3 + [32, 48, 64, 32]), top=3)
    assert (change(result).rule, narrowed_hp(result).value) == ("unanimous", 16)


def test_agreement_p_is_the_hypergeometric_chance_of_the_top_trials_all_holding_it():
    from tunekit.narrowing_untried import agreement_p

    assert agreement_p([16] * 3, [16, 16, 16, 32]) == pytest.approx(0.25)
    assert agreement_p([1] * 5, [1] * 5 + [0] * 15) == pytest.approx(1 / 15504)
    assert agreement_p([1] * 3, [1] * 3) == pytest.approx(1.0)


def test_trials_tied_with_the_last_top_trial_count_among_the_top():
    """Probe H: 'a' and 'b' tie at 0.5, three trials each; the trial ids put the three
    'a' trials in the top 3, and 'b' was removed (`Fixed 'a'`, p = 1/220)."""
    space = one("Choice", ["a", "b"])
    values = ["a"] * 3 + ["b"] * 3 + ["b"] * 6
    trials = make_trials(space, "x", values, scores=[0.5] * 6 + [0.1] * 6)
    result = narrow_space(space, trials, direction="max", top=3)
    assert narrowed_hp(result).values == ["a", "b"]
    assert result.top == 6 and len(result.top_trial_ids) == 6
    assert "3 more trials tied with the last top trial's score (0.5)" in result.top_note


def test_agreement_by_chance_keeps_a_choice_whole_even_beside_an_untried_value():
    """Probe H: the same trials narrowed `Choice ['a', 'b']` to `common` (p = 0.25) but
    `Choice ['a', 'b', 'c']` to `['a', 'c']`: the untried 'c' skipped the chance test."""
    for values in (["a", "b"], ["a", "b", "c"]):
        space = one("Choice", values)
        result = narrow_space(space, make_trials(space, "x", ["a", "a", "a", "b"]), top=3)
        assert (narrowed_hp(result).values, change(result).rule) == (values, "common")


def test_fix_unanimous_false_narrows_no_more_than_the_default():
    """Probe H: `fix_unanimous=False` narrowed `Int [16, 64]` to `[16, 32]` (and with
    `margin=0` fixed 16) on agreement the default judged chance (p = 0.25)."""
    space = one("Int", 16, 64, step=16)
    trials = make_trials(space, "x", [16, 16, 16, 32])
    for kwargs in ({}, {"fix_unanimous": False}, {"fix_unanimous": False, "margin": 0.0}):
        result = narrow_space(space, trials, top=3, **kwargs)
        assert (change(result).after, change(result).rule) == ("Int [16, 64] step 16", "common")


def test_a_value_is_not_fixed_when_nothing_beyond_it_on_one_side_was_tried():
    """Probe H: 5 top trials at 32 and 10 worse at 16 of `Int(16, 64, step=16)` fixed 32,
    though 48 and 64 were never tried; `Choice [1, 2, 4, 8]` with only 1 and 2 tried
    fixed 2. The side no trial went beyond is kept."""
    space = one("Int", 16, 64, step=16)
    result = narrow_space(space, make_trials(space, "x", [32] * 5 + [16] * 10), top=5)
    hp = narrowed_hp(result)
    assert (type(hp), hp.max_value, hp.default) == (hp_module.Int, 64, 32)
    space = one("Choice", [1, 2, 4, 8])
    result = narrow_space(space, make_trials(space, "x", [2] * 5 + [1] * 10), top=5)
    assert narrowed_hp(result).values == [2, 4, 8]
    # Lost on both sides: fixed.
    space = one("Int", 16, 64, step=16)
    result = narrow_space(space, make_trials(space, "x", [32] * 5 + [16, 48] * 5), top=5)
    assert (narrowed_hp(result).value, change(result).rule) == (32, "unanimous")


def test_a_single_top_trial_is_no_agreement():
    """Probe H: `top=1` of 21 trials fixed a log `Float` at the best trial's value as
    "unanimous" (p = 1/21); of 20 it kept it whole. One trial agrees with itself."""
    space = one("Float", 1e-4, 1e-1, sampling="log")
    values = [10 ** (-4 + 3 * i / 21) for i in range(21)]
    result = narrow_space(space, make_trials(space, "x", values[::-1]), top=1, min_trials=1)
    assert change(result).rule not in ("unanimous", "common")
    assert isinstance(narrowed_hp(result), hp_module.Float)
