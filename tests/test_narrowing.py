"""Tests for `tunekit.narrowing`."""

from __future__ import annotations

import dataclasses
import json
import math
import random

import keras_tuner as kt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine.trial import Trial, TrialStatus

from tunekit.narrowed_space import describe
from tunekit.narrowing import Change, NarrowedSpace, narrow_space

# ----------------------------------------------------------------- helpers --


def record(trial, score, metric=("val_accuracy", "max")):
    """Records `score` as the best value of `metric` (name, direction), as KerasTuner does."""
    trial.score = score
    if metric is not None and isinstance(score, float) and math.isfinite(score):
        trial.metrics.register(metric[0], direction=metric[1])
        trial.metrics.update(metric[0], score, step=0)
    return trial


def make_trial(
    space, values, score, trial_id, status=TrialStatus.COMPLETED, metric=("val_accuracy", "max")
):
    """A `Trial` over `space` whose active values are `values` (else defaults).

    It holds every name of `space`, as a plain KerasTuner trial does, and
    records its score as `metric` (`None`: records no metric).
    """
    hps = space.copy()
    hps.values = {}
    for hp in hps.space:
        if hps.is_active(hp):
            hps.values[hp.name] = values.get(hp.name, hp.default)
    for name, value in values.items():  # e.g. Hyperband's "tuner/..." values.
        hps.values.setdefault(name, value)
    trial = Trial(hyperparameters=hps, trial_id=trial_id, status=status)
    return record(trial, score, metric)


def make_trials(space, name, values, scores=None):
    scores = scores or [10.0 - i for i in range(len(values))]  # Best first.
    return [
        make_trial(space, {name: v}, s, f"{i:02d}") for i, (v, s) in enumerate(zip(values, scores))
    ]


def losing(space, values, name="x"):
    """`values` (best first), then two worse trials at the range's bounds: the range
    narrows on both sides only when some usable trial beyond the top trials lost there."""
    hp = space.space[0]
    bounds = list(hp.values) if isinstance(hp, hp_module.Choice) else [hp.min_value, hp.max_value]
    return make_trials(space, name, list(values) + [bounds[0], bounds[-1]])


def one(kind, *args, **kwargs):
    space = kt.HyperParameters()
    getattr(space, kind)("x", *args, **kwargs)
    return space


def narrowed_hp(result, name="x"):
    (hp,) = [hp for hp in result.hyperparameters.space if hp.name == name]
    return hp


def change(result, name="x"):
    (c,) = [c for c in result.changes if c.name == name]
    return c


def allowed(hp, v, tol=1e-9):
    """Whether `hp` can produce `v` (floats up to a relative tolerance)."""
    if isinstance(hp, hp_module.Fixed):
        return v == hp.value or (isinstance(v, float) and math.isclose(v, hp.value, rel_tol=tol))
    if isinstance(hp, hp_module.Boolean):
        return v in (True, False)
    if isinstance(hp, hp_module.Choice):
        return v in hp.values
    slack = tol * max(1.0, abs(hp.min_value), abs(hp.max_value))
    if not hp.min_value - slack <= v <= hp.max_value + slack:
        return False
    if isinstance(hp, hp_module.Int) and (not isinstance(v, int) or isinstance(v, bool)):
        return False
    if hp.step is None:
        return True
    if hp.sampling == "linear":
        k = (v - hp.min_value) / hp.step
    elif hp.sampling == "log":
        k = math.log(v / hp.min_value) / math.log(hp.step)
    else:
        return any(math.isclose(v, x, rel_tol=tol, abs_tol=slack) for x in hp.values)
    return abs(k - round(k)) < 1e-6


# ------------------------------------------------------------ validation --


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"top": 0}, "top=0"),
        ({"top": -2}, "top=-2"),
        ({"top": 0.0}, "top=0.0"),
        ({"top": 1.5}, "top=1.5"),
        ({"top": True}, "top=True"),
        ({"top": "3"}, "top='3'"),
        ({"margin": -0.1}, "margin=-0.1"),
        ({"margin": float("nan")}, "margin=nan"),
        ({"margin": True}, "margin=True"),
        ({"margin": "0.1"}, "margin='0.1'"),
        ({"min_trials": 0}, "min_trials=0"),
        ({"min_trials": 2.0}, "min_trials=2.0"),
        ({"min_trials": False}, "min_trials=False"),
        ({"direction": "up"}, "direction='up'"),
        ({"direction": "val_loss"}, "direction='val_loss'"),
        ({"direction": ""}, "direction=''"),
    ],
)
def test_invalid_arguments(kwargs, message):
    space = one("Int", 0, 10)
    trials = make_trials(space, "x", [1, 2, 3, 4])
    with pytest.raises(ValueError, match="Received: " + message.replace(".", r"\.")):
        narrow_space(space, trials, **kwargs)


def test_too_few_usable_trials_says_how_many_and_what_to_do():
    space = one("Int", 0, 10)
    trials = make_trials(space, "x", [1, 2])
    trials.append(make_trial(space, {"x": 3}, 1.0, "09", status=TrialStatus.FAILED))
    with pytest.raises(ValueError, match=r"Only 2 of the 3 trials.*min_trials=3.*lower"):
        narrow_space(space, trials)


def test_wrong_types_raise_type_error():
    space = one("Int", 0, 10)
    with pytest.raises(TypeError, match="HyperParameters"):
        narrow_space({"x": 1}, make_trials(space, "x", [1, 2, 3]))
    with pytest.raises(TypeError, match="Trial"):
        narrow_space(space, [1, 2, 3])


# ------------------------------------------------------ trial selection --


def test_unusable_trials_are_ignored():
    space = one("Int", 0, 100)
    good = make_trials(space, "x", [40, 50, 60], scores=[0.5, 0.6, 0.7])
    bad = [
        make_trial(space, {"x": 0}, 9.0, "b0", status=TrialStatus.FAILED),
        make_trial(space, {"x": 0}, 9.0, "b1", status=TrialStatus.INVALID),
        make_trial(space, {"x": 0}, 9.0, "b2", status=TrialStatus.RUNNING),
        make_trial(space, {"x": 0}, 9.0, "b3", status=TrialStatus.IDLE),
        make_trial(space, {"x": 100}, float("nan"), "b4"),
        make_trial(space, {"x": 100}, float("inf"), "b5"),
        make_trial(space, {"x": 100}, None, "b6"),
    ]
    result = narrow_space(space, bad + good, top=1.0)
    assert result.usable == 3
    assert result.top_trial_ids == ("02", "01", "00")
    assert change(result).active == 3


def test_accepts_a_dict_of_trials_like_oracle_trials():
    space = one("Int", 0, 100)
    trials = make_trials(space, "x", [40, 50, 60])
    result = narrow_space(space, {t.trial_id: t for t in trials})
    assert result.usable == 3


@pytest.mark.parametrize(
    "top, min_trials, n, expected",
    [
        (0.25, 3, 20, 5),
        (0.25, 3, 8, 3),
        (0.1, 1, 30, 3),  # 0.1 * 30 is 3.0000000000000004.
        (1.0, 3, 10, 10),
        (1, 3, 10, 3),
        (5, 1, 10, 5),
        (50, 3, 10, 10),
    ],
)
def test_top_count(top, min_trials, n, expected):
    space = one("Int", 0, 100)
    trials = make_trials(space, "x", list(range(n)))
    assert narrow_space(space, trials, top=top, min_trials=min_trials).top == expected


@pytest.mark.parametrize(
    "top, min_trials, n, used, note",
    [
        (10, 3, 4, 4, "asked for top=10, only 4 usable: using all 4"),
        (1.0, 3, 4, 4, ""),
        (0.25, 3, 8, 3, "asked for top=0.25 (2 trials), raised to the minimum of 3 trials"),
        (1, 3, 10, 3, "asked for top=1 (1 trial), raised to the minimum of 3 trials"),
        (5, 1, 10, 5, ""),
    ],
)
def test_top_clipped_or_raised_is_said_in_the_table_and_the_json(top, min_trials, n, used, note):
    space = one("Int", 0, 100)
    result = narrow_space(
        space, make_trials(space, "x", list(range(n))), top=top, min_trials=min_trials
    )
    assert (result.top, result.requested_top, result.top_note) == (used, top, note)
    header = str(result).splitlines()[0]
    assert header.startswith(f"NarrowedSpace: top {used} of {n} usable trials")
    assert (note in header) if note else header.endswith("margin=0.1)")
    saved = json.loads(result.to_json())
    assert (saved["requested_top"], saved["top_note"]) == (top, note)
    assert NarrowedSpace.from_json(result.to_json()) == result


def test_a_saved_narrowing_without_the_top_fields_still_loads():
    space = one("Int", 0, 100)
    data = narrow_space(space, make_trials(space, "x", [1, 2, 3])).to_dict()
    del data["requested_top"], data["top_note"]
    again = NarrowedSpace.from_dict(data)
    assert (again.requested_top, again.top_note) == (None, "")


@pytest.mark.parametrize(
    "direction, expected",
    [
        ("max", ("03", "01", "02")),
        ("min", ("00", "01", "02")),
        (kt.Objective("val_loss", "min"), ("00", "01", "02")),
        (kt.Objective("val_accuracy", "max"), ("03", "01", "02")),
    ],
)
def test_ranking_direction_and_ties_by_trial_id(direction, expected):
    space = one("Int", 0, 100)
    scores = [0.1, 0.5, 0.5, 0.9]
    # Trials that recorded no metric: the direction given is all there is to go by.
    trials = [make_trial(space, {"x": i}, s, f"{i:02d}", metric=None) for i, s in enumerate(scores)]
    result = narrow_space(space, trials[::-1], top=3, direction=direction)
    assert result.top_trial_ids == expected
    assert result.direction == ("max" if expected[0] == "03" else "min")


# ------------------------------------------------------- numeric rules --


def test_int_linear_pads_by_at_least_one_step():
    space = one("Int", 32, 512, step=32)
    result = narrow_space(space, losing(space, [160, 128, 192]))
    hp = narrowed_hp(result)
    assert (hp.min_value, hp.max_value, hp.step, hp.default) == (96, 224, 32, 160)
    assert change(result).before == "Int [32, 512] step 32"
    assert change(result).after == "Int [96, 224] step 32"
    assert change(result).rule == "range"


def test_int_linear_snaps_outward_to_grid_anchored_at_min_value():
    space = one("Int", 10, 100, step=7)  # Grid 10, 17, ..., 94.
    result = narrow_space(space, losing(space, [31, 45, 38]), margin=0.8)
    hp = narrowed_hp(result)
    # Values span [31, 45]; pad 0.8 * 14 = 11.2 -> [19.8, 56.2] -> [17, 59].
    assert (hp.min_value, hp.max_value, hp.step) == (17, 59, 7)
    assert set(hp.values) <= set(space.space[0].values)


def test_float_linear_margin_and_minimum_window():
    space = one("Float", 0.0, 1.0)
    hp = narrowed_hp(narrow_space(space, losing(space, [0.45, 0.4, 0.5])))
    assert (hp.min_value, hp.max_value, hp.default) == (0.39, 0.51, 0.45)
    # A tight cluster is padded by margin * 10% of the original width.
    hp = narrowed_hp(narrow_space(space, losing(space, [0.5, 0.5001, 0.5002])))
    assert (hp.min_value, hp.max_value) == (0.49, 0.5102)


def test_float_step_grid_keeps_every_grid_point():
    space = one("Float", 0.05, 1.0, step=0.1)  # Grid 0.05, 0.15, ..., 0.95.
    hp = narrowed_hp(narrow_space(space, losing(space, [0.35, 0.45, 0.35])))
    assert (hp.min_value, hp.max_value, hp.step) == (0.25, 0.55, 0.1)
    assert len(list(hp.values)) == 4  # KerasTuner's own count includes 0.55.
    assert all(allowed(space.space[0], v) for v in hp.values)


def test_float_step_grid_ending_short_of_max_value_narrows_that_side():
    # KerasTuner counts Float(0, 0.5, step=0.1) as 0.5 // 0.1 + 1 = 5 values, 0.0..0.4:
    # a narrowed upper side ends on the grid, not at max_value (which added 0.5 back).
    for step, top, expected in [
        (0.1, [0.2, 0.3, 0.2], (0.1, 0.4)),
        (0.05, [0.3, 0.35, 0.3], (0.25, 0.4)),  # the dense hypermodel's dropout grid
    ]:
        space = one("Float", 0.0, 0.5, step=step)
        hp = narrowed_hp(narrow_space(space, losing(space, top)))
        assert (hp.min_value, hp.max_value) == pytest.approx(expected)
        original = set(round(v, 9) for v in space.space[0].values)
        assert {round(v, 9) for v in hp.values} <= original
        assert max(hp.values) == pytest.approx(expected[1])


def test_best_trial_on_a_bound_keeps_that_side():
    space = one("Int", 32, 512, step=32)
    hp = narrowed_hp(narrow_space(space, losing(space, [512, 384, 448])))
    assert (hp.min_value, hp.max_value) == (352, 512)
    space = one("Float", 0.0, 1.0)
    hp = narrowed_hp(narrow_space(space, losing(space, [0.0, 0.2, 0.3])))
    assert (hp.min_value, hp.max_value) == (0.0, 0.33)
    # The last grid point counts as the upper bound when max_value is off-grid.
    space = one("Int", 10, 100, step=7)
    hp = narrowed_hp(narrow_space(space, losing(space, [94, 80, 87])))
    assert (hp.min_value, hp.max_value) == (73, 100)


def test_float_log_is_narrowed_in_log_space():
    space = one("Float", 1e-4, 1e-2, sampling="log")
    result = narrow_space(space, losing(space, [1.5e-3, 1e-3, 2e-3]))
    hp = narrowed_hp(result)
    pad = 0.1 * math.log(2)
    assert hp.min_value == pytest.approx(1e-3 * math.exp(-pad), rel=1e-10)
    assert hp.max_value == pytest.approx(2e-3 * math.exp(pad), rel=1e-10)
    assert (hp.sampling, hp.default) == ("log", 1.5e-3)
    assert change(result).before == "Float [1e-04, 1e-02] log"


def test_int_log_step_is_a_multiplicative_grid():
    space = one("Int", 2, 1024, step=2, sampling="log")  # 2, 4, ..., 1024.
    hp = narrowed_hp(narrow_space(space, losing(space, [32, 16, 64])))
    assert (hp.min_value, hp.max_value, hp.step, hp.sampling) == (8, 128, 2, "log")
    assert list(hp.values) == [8, 16, 32, 64, 128]


def test_reverse_log_is_narrowed_in_its_own_space():
    space = one("Float", 0.5, 0.999, sampling="reverse_log")
    hp = narrowed_hp(narrow_space(space, losing(space, [0.95, 0.9, 0.99])))

    def t(v):
        return -math.log(0.5 + 0.999 - v)

    pad = 0.1 * (t(0.99) - t(0.9))
    assert t(hp.min_value) == pytest.approx(t(0.9) - pad, rel=1e-9)
    assert t(hp.max_value) == pytest.approx(t(0.99) + pad, rel=1e-9)
    assert hp.sampling == "reverse_log"


def test_reverse_log_with_step_is_kept():
    space = one("Int", 1, 100, step=2, sampling="reverse_log")
    trials = make_trials(space, "x", list(space.space[0].values)[1:4])
    result = narrow_space(space, trials)
    hp = narrowed_hp(result)
    assert change(result).rule == "kept"
    assert (hp.min_value, hp.max_value, hp.default) == (1, 100, trials[0].hyperparameters["x"])


# -------------------------------------------- choice, boolean and fixed --


def test_unordered_choice_keeps_seen_values_in_original_order():
    # gelu and selu were tried, by the worse trials, and lost (a value no trial tried
    # is kept: tests/test_narrowing_untried.py).
    seen = ["tanh", "relu", "tanh", "gelu", "selu"]
    space = one("Choice", ["relu", "tanh", "gelu", "selu"])
    hp = narrowed_hp(narrow_space(space, make_trials(space, "x", seen), top=3))
    # The best trial's value, like a numeric default (the old default 'relu' was kept
    # while still among the values: the defaults mixed the best trial and the old space)
    assert (hp.values, hp.default) == (["relu", "tanh"], "tanh")
    space = one("Choice", ["relu", "tanh", "gelu", "selu"], default="selu")
    result = narrow_space(space, make_trials(space, "x", seen), top=3)
    assert narrowed_hp(result).default == "tanh"  # Best trial's value.
    assert (change(result).rule, change(result).after) == ("subset", "Choice ['relu', 'tanh']")


@pytest.mark.parametrize(
    "kind, args, seen",
    [
        ("Choice", (["relu", "tanh"],), ["tanh", "relu", "tanh"]),  # unordered: all seen
        ("Choice", ([3, 5],), [5, 3, 3]),  # ordered: the whole span
        ("Int", (1, 2), [2, 1, 1]),  # a range the top trials cover end to end
    ],
    ids=["subset", "span", "range"],
)
def test_a_hyperparameter_the_top_trials_cover_whole_is_reported_kept(kind, args, seen):
    # Was reported "subset" / "span" / "range" with before == after: read as narrowed.
    space = one(kind, *args)
    result = narrow_space(space, make_trials(space, "x", seen))
    assert change(result).before == change(result).after and change(result).rule == "kept"


def test_ordered_choice_keeps_contiguous_span():
    space = one("Choice", [16, 32, 64, 128, 256])
    result = narrow_space(space, losing(space, [128, 32, 128]))
    assert (narrowed_hp(result).values, change(result).rule) == ([32, 64, 128], "span")
    space = one("Choice", [16, 32, 64, 128, 256], ordered=False)
    seen = [128, 32, 128, 16, 64, 256]  # the worse trials tried the rest, and lost
    result = narrow_space(space, make_trials(space, "x", seen), top=3)
    assert narrowed_hp(result).values == [32, 128]


def test_boolean_kept_or_fixed_when_unanimous():
    space = one("Boolean")
    result = narrow_space(space, make_trials(space, "x", [True, False, True]))
    assert (type(narrowed_hp(result)), change(result).rule) == (hp_module.Boolean, "kept")
    assert narrowed_hp(result).default is True  # the best trial's (the old default: False)
    # False was tried, by worse trials, and lost (never tried: kept, test_narrowing_untried).
    result = narrow_space(space, make_trials(space, "x", [True] * 3 + [False] * 4), top=3)
    assert (narrowed_hp(result).value, change(result).rule) == (True, "unanimous")
    result = narrow_space(space, make_trials(space, "x", [True] * 3), fix_unanimous=False)
    assert type(narrowed_hp(result)) is hp_module.Boolean


def test_unanimous_becomes_fixed_unless_disabled():
    space = one("Int", 1, 10)
    trials = make_trials(space, "x", [5, 5, 5, 8, 2, 9, 1])  # the others were tried, and lost
    result = narrow_space(space, trials, top=3)
    assert (narrowed_hp(result).value, change(result).after) == (5, "Fixed 5")
    hp = narrowed_hp(narrow_space(space, trials, top=3, fix_unanimous=False))
    assert (hp.min_value, hp.max_value, hp.default) == (4, 6, 5)


@pytest.mark.parametrize("fix_unanimous", [True, False])
def test_a_range_of_which_every_trial_tried_one_value_is_kept_whole(fix_unanimous):
    """Probe A: seeded draws at an `Int`'s minimum beside the default configuration's
    trial gave 3 coarse trials of `u=16` of `Int(16, 64, step=16)`, and the narrowing made
    it `Fixed 16` ("unanimous", which the README says means every other value was tried):
    the fine phase never tried 32..64. Now kept whole, with the best value as default."""
    for space, value in (
        (one("Int", 16, 64, step=16), 16),
        (one("Float", 1e-4, 1e-1, sampling="log"), 1e-3),
        (one("Choice", [16, 32, 64]), 32),  # ordered: narrowed like a range
    ):
        result = narrow_space(
            space, make_trials(space, "x", [value] * 3), fix_unanimous=fix_unanimous
        )
        hp = narrowed_hp(result)
        assert type(hp) is type(space.space[0]) and hp.default == value
        assert describe(hp) == describe(space.space[0])  # nothing removed
        assert (change(result).rule, change(result).note) == (
            "untried",
            f"only {value!r} tried (3 usable trials): kept",
        )


def test_collapsed_range_becomes_fixed():
    space = one("Float", 0.0, 1.0)
    kwargs = {"margin": 0.0, "fix_unanimous": False}
    trials = make_trials(space, "x", [0.25] * 3 + [0.75, 0.1, 0.9, 0.05])  # lost both sides
    result = narrow_space(space, trials, top=3, **kwargs)
    assert (narrowed_hp(result).value, change(result).rule) == (0.25, "collapsed")
    # A Choice has no margin: fix_unanimous=False keeps its values (it was Fixed "b",
    # "collapsed", whatever fix_unanimous said).
    for choices in (["a", "b"], [1, 3, 5, 7]):
        space = one("Choice", choices)
        result = narrow_space(space, make_trials(space, "x", [choices[1]] * 3), **kwargs)
        hp = narrowed_hp(result)
        assert (type(hp), hp.values, hp.default) == (hp_module.Choice, choices, choices[1])
        assert change(result).rule == ("kept" if choices[0] == "a" else "untried")
        result = narrow_space(
            space, make_trials(space, "x", [choices[1]] * 3 + (choices[::2] * 4)[:4]), top=3
        )  # the others, on both sides, lost
        assert (narrowed_hp(result).value, change(result).rule) == (choices[1], "unanimous")


def test_a_stepped_float_range_keeps_the_grid_point_of_the_best_trial():
    """`Float(0, 1, step=1/3)`, margin 0, top values 1/3 and 0: the top bound was rounded
    to 0.333333333333 (12 digits), below the grid point 1/3, so KerasTuner could draw only
    0.0, and the best trial's value was out of the narrowed range, reported as `range`."""
    space = one("Float", 0.0, 1.0, step=1 / 3)
    trials = make_trials(space, "x", [1 / 3, 0.0, 0.0, 1.0])
    hp = narrowed_hp(narrow_space(space, trials, top=3, margin=0.0))
    assert hp.max_value >= 1 / 3 and hp.min_value == 0.0 and hp.default == 1 / 3
    assert {hp.random_sample(seed) for seed in range(200)} == {0.0, 1 / 3}
    for lo, step in ((1 / 3, 2.0), (2.82e-06, 2.0)):  # many-digit bounds, log grid
        space = one("Float", lo, lo * step**10, step=step, sampling="log")
        grid = [lo * step**k for k in range(11)]
        trials = make_trials(space, "x", [grid[6], grid[4], grid[5], grid[9], grid[0]])
        hp = narrowed_hp(narrow_space(space, trials, top=3, margin=0.0))
        assert hp.min_value <= grid[4] and hp.max_value >= grid[6]
        drawn = {hp.random_sample(seed) for seed in range(300)}
        assert all(any(math.isclose(d, g, rel_tol=1e-9) for g in grid[4:7]) for d in drawn)
        assert len(drawn) == 3


def test_fixed_stays_fixed():
    space = one("Fixed", "adam")
    result = narrow_space(space, make_trials(space, "x", ["adam"] * 3))
    assert (narrowed_hp(result).value, change(result).rule) == ("adam", "fixed")


# -------------------------------------------------------- conditionals --


def conditional_space():
    space = kt.HyperParameters()
    space.Choice("model", ["mlp", "cnn", "rnn"])
    with space.conditional_scope("model", ["mlp"]):
        space.Int("units", 8, 256, step=8)
    with space.conditional_scope("model", ["cnn"]):
        space.Int("units", 1, 64)  # Same name, other condition.
        space.Choice("kernel", [3, 5, 7])
    with space.conditional_scope("model", ["rnn"]):
        space.Float("dropout", 0.0, 0.5)
    return space


def test_conditionals_use_only_trials_where_active():
    space = conditional_space()
    trials = [
        make_trial(space, {"model": "mlp", "units": 64}, 0.9, "00"),
        make_trial(space, {"model": "cnn", "units": 10, "kernel": 5}, 0.8, "01"),
        make_trial(space, {"model": "mlp", "units": 128}, 0.7, "02"),
        make_trial(space, {"model": "rnn", "dropout": 0.3}, 0.1, "03"),
        make_trial(space, {"model": "mlp", "units": 8}, 0.05, "04"),  # lost, below
        make_trial(space, {"model": "mlp", "units": 256}, 0.04, "05"),  # lost, above
    ]
    result = narrow_space(space, trials, top=3)
    before, after = space.space, result.hyperparameters.space
    assert [(h.name, h.conditions) for h in after] == [(h.name, h.conditions) for h in before]
    assert [c.active for c in result.changes] == [3, 2, 1, 1, 0]
    assert (after[1].min_value, after[1].max_value, after[1].default) == (56, 136, 64)
    # Active in a single top trial: too little evidence to fix or shrink ("sparse"); the
    # default is that trial's value, as every other rule's (before: the old default).
    assert [c.rule for c in result.changes][2:4] == ["sparse", "sparse"]
    for i, value in ((2, 10), (3, 5)):
        assert after[i].default == value
        assert {**after[i].get_config(), "default": 0} == {**before[i].get_config(), "default": 0}
    assert after[4].get_config() == before[4].get_config()  # Never active: kept.
    assert [c.rule for c in result.changes][-1] == "inactive"
    assert "units (if model in ['cnn'])" in str(result)


def test_conditional_unanimous_among_two_active_trials_becomes_fixed():
    space = conditional_space()
    trials = [
        make_trial(space, {"model": "cnn", "units": 10, "kernel": 5}, 0.9, "00"),
        make_trial(space, {"model": "cnn", "units": 10, "kernel": 5}, 0.8, "01"),
        make_trial(space, {"model": "mlp", "units": 64}, 0.7, "02"),
        make_trial(space, {"model": "cnn", "units": 20, "kernel": 3}, 0.1, "03"),  # lost
    ]
    # Two of the three cnn trials hold units=10 and kernel=5: the top two would hold them
    # with p = 1/3 whatever they did. Kept open (`common`), with the agreed defaults.
    result = narrow_space(space, trials, top=3)
    after = result.hyperparameters.space
    assert [c.rule for c in result.changes][2:4] == ["common", "common"]
    assert (after[2].default, after[3].default) == (10, 5)
    assert (after[2].max_value, after[3].values) == (64, [3, 5, 7])
    # Four more cnn trials that lost: p = 1/21 for each.
    trials += [
        make_trial(space, {"model": "cnn", "units": u, "kernel": k}, 0.05, f"0{i + 4}")
        for i, (u, k) in enumerate([(5, 3), (40, 7), (50, 3), (60, 7)])
    ]
    result = narrow_space(space, trials, top=3)
    after = result.hyperparameters.space
    assert (after[2].value, after[3].value) == (10, 5)  # Fixed, conditions kept.
    assert after[3].conditions == space.space[3].conditions
    assert [c.rule for c in result.changes][2:4] == ["unanimous", "unanimous"]


def loop_space():
    """The keras.io pattern: `for i in range(hp.Int("num_layers", 1, 3)): hp.Int(f"units_{i}")`."""
    space = kt.HyperParameters()
    space.Int("num_layers", 1, 3)
    for i in range(3):
        space.Int(f"units_{i}", 8, 64, step=8)
    return space


def loop_trial(units, score, trial_id):
    """A trial as tunekit's tuners record it: only the layers it built have values."""
    hps = kt.HyperParameters()
    hps.Int("num_layers", 1, 3, default=len(units))
    for i, u in enumerate(units):
        hps.Int(f"units_{i}", 8, 64, step=8, default=u)
    trial = Trial(hyperparameters=hps, trial_id=trial_id, status=TrialStatus.COMPLETED)
    return record(trial, score)


def test_values_of_layers_a_trial_did_not_build_do_not_drive_the_narrowing():
    trials = [
        loop_trial([32], 0.9, "00"),
        loop_trial([40, 16], 0.8, "01"),
        loop_trial([24], 0.7, "02"),
        loop_trial([24, 48], 0.6, "03"),
        loop_trial([64, 64, 64], 0.1, "04"),
    ]
    result = narrow_space(loop_space(), trials, top=4)
    rules = {c.name: (c.rule, c.active) for c in result.changes}
    assert rules == {
        "num_layers": ("kept", 4),  # 1 and 2 padded by the margin: all of [1, 3]
        "units_0": ("range", 4),
        "units_1": ("range", 2),
        "units_2": ("inactive", 0),
    }
    units_1 = narrowed_hp(result, "units_1")
    assert (units_1.min_value, units_1.max_value) == (8, 56)  # from 16 and 48 only
    assert narrowed_hp(result, "units_2").get_config() == loop_space().space[3].get_config()
    # Built by one top trial out of three: too thin to fix, kept as it was.
    sparse = narrow_space(loop_space(), trials[:3], top=3)
    assert change(sparse, "units_1").rule == "sparse"
    kept = narrowed_hp(sparse, "units_1").get_config()
    assert kept == {**loop_space().space[2].get_config(), "default": 16}  # trial 01's units_1


def test_hyperband_internal_values_are_ignored():
    space = one("Int", 0, 100)
    internal = {"tuner/epochs": 4, "tuner/initial_epoch": 2, "tuner/bracket": 1, "tuner/round": 1}
    trials = [
        make_trial(space, {"x": v, **internal}, 1.0 - v / 100, f"{v:03d}") for v in (40, 50, 60)
    ]
    result = narrow_space(space, trials)
    assert [c.name for c in result.changes] == ["x"]
    assert list(result.hyperparameters.values) == ["x"]


# ------------------------------------------------------ serialization --


def test_json_round_trip_and_table():
    space = conditional_space()
    space.Float("lr", 1e-4, 1e-2, sampling="log")
    rng = random.Random(3)
    trials = [
        make_trial(
            space,
            {"model": m, "units": 64, "kernel": 3, "lr": rng.uniform(1e-4, 1e-2)},
            rng.random(),
            f"{i:02d}",
        )
        for i, m in enumerate(["mlp", "cnn"] * 3)
    ]
    result = narrow_space(space, trials, top=0.5, min_trials=2)
    text = result.to_json()
    again = NarrowedSpace.from_json(text)
    assert again.to_json() == text
    assert again.to_dict() == result.to_dict() == json.loads(text)
    assert again == result
    assert again.hyperparameters.get_config() == result.hyperparameters.get_config()
    data = json.loads(text)
    assert set(data) == {
        "format",
        "version",
        "direction",
        "top",
        "usable",
        "top_trial_ids",
        "margin",
        "requested_top",
        "top_note",
        "hyperparameters",
        "changes",
    }
    assert set(data["changes"][0]) == {
        "name",
        "kind",
        "before",
        "after",
        "rule",
        "active",
        "note",
        "before_config",
        "after_config",
    }
    assert Change(**data["changes"][0]) == result.changes[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.changes[0].rule = "x"
    table = str(result).splitlines()
    assert table[0].startswith("NarrowedSpace: top 3 of 6 usable trials")
    (lr_line,) = [line for line in table if line.startswith("lr ")]
    assert "Float [1e-04, 1e-02] log" in lr_line and " -> " in lr_line


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"format": "other", "version": 1}',
        '{"format": "tunekit.narrowed_space", "version": 99}',
        '{"format": "tunekit.narrowed_space", "version": 1}',
        '{"format": "tunekit.narrowed_space", "version": 1, "direction": "max", "top": 3, '
        '"usable": 3, "margin": 0.1, "top_trial_ids": [], "changes": [{"name": "x"}], '
        '"hyperparameters": {"space": [], "values": {}}}',
    ],
)
def test_from_json_rejects_corrupt_input_with_value_error(text):
    with pytest.raises(ValueError):
        NarrowedSpace.from_json(text)


# ------------------------------------------------------ subset property --


@st.composite
def random_spaces(draw):
    space = kt.HyperParameters()
    kinds = draw(
        st.lists(
            st.sampled_from(
                [
                    "int",
                    "int_log",
                    "int_rlog",
                    "float",
                    "float_log",
                    "float_rlog",
                    "choice",
                    "choice_num",
                    "bool",
                    "fixed",
                ]
            ),
            min_size=1,
            max_size=5,
        )
    )
    fl = st.floats
    for i, kind in enumerate(kinds):
        name = f"h{i}"
        if kind == "int":
            lo = draw(st.integers(-50, 50))
            space.Int(name, lo, lo + draw(st.integers(1, 300)), step=draw(st.integers(1, 25)))
        elif kind == "int_log":
            lo = draw(st.integers(1, 40))
            space.Int(
                name,
                lo,
                lo * draw(st.integers(2, 200)),
                step=draw(st.sampled_from([None, 2, 3])),
                sampling="log",
            )
        elif kind == "int_rlog":
            lo = draw(st.integers(1, 20))
            space.Int(name, lo, lo + draw(st.integers(1, 300)), sampling="reverse_log")
        elif kind == "float":
            lo, width = draw(fl(-10, 10)), draw(fl(1e-3, 100))
            step = draw(st.sampled_from([None, width / draw(st.integers(1, 30))]))
            space.Float(name, lo, lo + width, step=step)
        elif kind == "float_log":
            lo = draw(fl(1e-6, 1))
            space.Float(
                name,
                lo,
                lo * draw(fl(1.5, 1e4)),
                step=draw(st.sampled_from([None, 2.0, 10.0])),
                sampling="log",
            )
        elif kind == "float_rlog":
            lo = draw(fl(0.01, 1))
            space.Float(
                name,
                lo,
                lo + draw(fl(0.1, 10)),
                step=draw(st.sampled_from([None, 2.0])),
                sampling="reverse_log",
            )
        elif kind == "choice":
            space.Choice(name, ["a", "b", "c", "d"][: draw(st.integers(1, 4))])
        elif kind == "choice_num":
            space.Choice(name, [1, 2, 4, 8, 16], ordered=draw(st.booleans()))
        elif kind == "bool":
            space.Boolean(name)
        else:
            space.Fixed(name, draw(st.sampled_from([1, "x", 0.5, True])))
    if kinds[0] == "choice":
        with space.conditional_scope("h0", ["a"]):
            space.Float("child", 0.0, 1.0, step=draw(st.sampled_from([None, 0.25])))
    return space


@st.composite
def spaces_and_trials(draw):
    space = draw(random_spaces())
    rng = random.Random(draw(st.integers(0, 2**32)))
    direction = draw(st.sampled_from(["max", "min"]))
    metric = ("val_accuracy", "max") if direction == "max" else ("val_loss", "min")
    trials = []
    for i in range(draw(st.integers(3, 12))):
        values = {}
        probe = space.copy()
        probe.values = values
        for hp in space.space:
            if probe.is_active(hp):
                prob = rng.choice([0.0, 0.999999, rng.random(), rng.random()])
                values[hp.name] = hp.prob_to_value(prob)
        score = rng.choice([rng.random(), rng.random(), rng.random(), float("nan")])
        status = rng.choice([TrialStatus.COMPLETED] * 4 + [TrialStatus.FAILED])
        trials.append(make_trial(space, values, score, f"{i:02d}", status=status, metric=metric))
    kwargs = dict(
        top=draw(st.sampled_from([1, 2, 5, 0.25, 0.5, 1.0])),
        margin=draw(st.sampled_from([0, 0.1, 0.5, 2.0])),
        min_trials=1,
        fix_unanimous=draw(st.booleans()),
        direction=draw(st.sampled_from([direction, None])),
    )
    return space, trials, kwargs


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(spaces_and_trials())
def test_narrowed_space_is_a_subset_holding_the_top_trials(case):
    space, trials, kwargs = case
    usable = [t for t in trials if t.status == "COMPLETED" and math.isfinite(t.score)]
    if not usable:
        with pytest.raises(ValueError, match="Only 0"):
            narrow_space(space, trials, **kwargs)
        return
    result = narrow_space(space, trials, **kwargs)
    top = [t for t in trials if t.trial_id in result.top_trial_ids]
    assert len(result.hyperparameters.space) == len(space.space)
    for old, new in zip(space.space, result.hyperparameters.space):
        assert (new.name, new.conditions) == (old.name, old.conditions)
        assert allowed(new, new.default), new
        if isinstance(new, (hp_module.Int, hp_module.Float)):
            assert (type(new), new.sampling, new.step) == (type(old), old.sampling, old.step)
            assert old.min_value <= new.min_value < new.max_value <= old.max_value
            # Bucket centres: KerasTuner maps prob 0 of a reverse_log Int to min_value - 1.
            samples = [new.prob_to_value((i + 0.5) / 64) for i in range(64)]
            if new.step is not None:  # Every grid point, as KerasTuner samples it.
                n = len(list(new.values))
                samples += [new.prob_to_value((i + 0.5) / n) for i in range(n)]
            assert all(allowed(old, v) for v in samples), (old, new)
        elif isinstance(new, hp_module.Choice):
            assert new.values == [v for v in old.values if v in new.values]
            assert new.ordered == old.ordered
        elif isinstance(new, hp_module.Fixed):
            assert allowed(old, new.value), (old, new)
        for t in top:
            value = t.hyperparameters.values.get(old.name, None)
            # (KerasTuner itself can sample 10 from Int(11, 24, sampling="reverse_log").)
            if t.hyperparameters.is_active(old) and value is not None and allowed(old, value):
                assert allowed(new, value), (old, new, value)


# ------------------------------------------------ real KerasTuner search --


def build_model(hp):
    import keras

    model = keras.Sequential([keras.Input((8,))])
    model.add(
        keras.layers.Dense(
            hp.Int("units", 8, 64, step=8), activation=hp.Choice("activation", ["relu", "tanh"])
        )
    )
    head = hp.Choice("head", ["plain", "dropout"])
    with hp.conditional_scope("head", ["dropout"]):
        if head == "dropout":
            model.add(keras.layers.Dropout(hp.Float("rate", 0.1, 0.5)))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    lr = hp.Float("lr", 1e-4, 1e-2, sampling="log")
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="binary_crossentropy")
    return model


@pytest.mark.long
def test_real_search_then_narrowed_search_stays_inside(tmp_path):
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("float32")
    fit = dict(x=x, y=y, validation_split=0.25, epochs=1, batch_size=50, verbose=0)

    coarse = kt.RandomSearch(
        build_model,
        objective="val_loss",
        max_trials=6,
        seed=1,
        directory=tmp_path,
        project_name="coarse",
    )
    coarse.search(**fit)
    narrowed = narrow_space(
        coarse.oracle.hyperparameters,
        coarse.oracle.trials.values(),
        direction=coarse.oracle.objective,
        top=0.5,
        min_trials=2,
    )
    assert narrowed.top == 3 and narrowed.direction == "min"
    assert any(c.before != c.after for c in narrowed.changes), str(narrowed)
    assert narrowed.top_trial_ids == tuple(t.trial_id for t in coarse.oracle.get_best_trials(3))

    fine = kt.RandomSearch(
        build_model,
        objective="val_loss",
        max_trials=3,
        seed=2,
        hyperparameters=narrowed.hyperparameters,
        tune_new_entries=False,
        allow_new_entries=False,
        directory=tmp_path,
        project_name="fine",
    )
    fine.search(**fit)
    trials = list(fine.oracle.trials.values())
    assert len(trials) == 3
    space = narrowed.hyperparameters.space
    for trial in trials:
        assert trial.status == TrialStatus.COMPLETED
        values = trial.hyperparameters.values
        assert set(values) <= {hp.name for hp in space}
        for hp in space:
            if trial.hyperparameters.is_active(hp):
                assert allowed(hp, values[hp.name]), (hp, values[hp.name])


def test_the_record_and_the_arithmetic_share_one_class_under_every_import_path():
    import tunekit
    import tunekit.narrowed_space
    import tunekit.narrowing

    assert (
        tunekit.NarrowedSpace
        is tunekit.narrowing.NarrowedSpace
        is tunekit.narrowed_space.NarrowedSpace
    )
    assert tunekit.narrowing.Change is tunekit.narrowed_space.Change is Change
    assert tunekit.narrow_space is tunekit.narrowing.narrow_space is narrow_space
    assert set(tunekit.narrowing.__all__) == {
        "Change",
        "NarrowedSpace",
        "is_usable",
        "narrow_declared",
        "narrow_space",
    }


def test_a_side_no_usable_trial_went_beyond_is_kept():
    """Probe G: with the top count raised to the 3 usable trials, `units` went from
    `Int [4, 32]` to `[4, 12]`: where three random draws landed, nothing having lost at
    16..32. A side shrinks only when some usable trial beyond the top trials lost there;
    so top == usable keeps every range whole ("kept")."""
    space = one("Int", 4, 32)
    result = narrow_space(space, make_trials(space, "x", [8, 4, 10]))  # all 3 are the top
    assert (narrowed_hp(result).min_value, narrowed_hp(result).max_value) == (4, 32)
    assert change(result).rule == "kept"
    # One worse trial above: only the upper side shrinks.
    result = narrow_space(space, make_trials(space, "x", [8, 6, 10, 30]), top=3)
    assert (narrowed_hp(result).min_value, narrowed_hp(result).max_value) == (4, 11)
    # ... and below as well: both.
    result = narrow_space(space, make_trials(space, "x", [8, 6, 10, 30, 4]), top=3)
    assert (narrowed_hp(result).min_value, narrowed_hp(result).max_value) == (5, 11)
    # An ordered Choice alike.
    space = one("Choice", [16, 32, 64, 128, 256])
    result = narrow_space(space, make_trials(space, "x", [64, 32, 64, 256]), top=3)
    assert narrowed_hp(result).values == [16, 32, 64]
