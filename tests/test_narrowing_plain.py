"""`narrow_space` on plain KerasTuner trials: the direction they recorded, and values never built.

The searches here are real KerasTuner `RandomSearch`es whose `run_trial`
declares the hyperparameters and scores them by a formula instead of training
(KerasTuner's own pattern for a loop of one's own), so every trial, metric and
space is KerasTuner's, in milliseconds.
"""

from __future__ import annotations

import keras_tuner as kt
import pytest
from keras_tuner.engine.trial import Trial, TrialStatus

from tunekit.narrowing import narrow_declared, narrow_space
from tunekit.trial_records import holds_declared_names, unknown_use
from tunekit.tuners import declared_only

# ----------------------------------------------------------------- helpers --


def scored_trial(x, history, metric, trial_id, direction=None):
    """A trial of `Int("x", 0, 100)` whose `metric` went through `history` (one value a step).

    Its score is the metric's best value, as KerasTuner's oracle sets it.
    """
    space = kt.HyperParameters()
    space.Int("x", 0, 100)
    space.values["x"] = x
    trial = Trial(hyperparameters=space, trial_id=trial_id, status=TrialStatus.COMPLETED)
    trial.metrics.register(metric, direction=direction)  # None: KerasTuner infers it
    for step, value in enumerate(history):
        trial.metrics.update(metric, value, step=step)
    trial.score = trial.metrics.get_best_value(metric)
    return trial


def loss_trials():
    """Six `val_loss` trials: the lowest losses are at x = 40, 50 and 60."""
    xs_and_best = [(40, 0.10), (50, 0.20), (60, 0.30), (5, 0.90), (95, 0.95), (90, 0.99)]
    return [
        scored_trial(x, [best + 0.5, best, best + 0.1], "val_loss", f"{i:02d}")
        for i, (x, best) in enumerate(xs_and_best)
    ]


def space_of(trials):
    return trials[0].hyperparameters.copy()


def changes(result):
    return {c.name: c for c in result.changes}


def narrowed(result, name):
    (hp,) = [hp for hp in result.hyperparameters.space if hp.name == name]
    return hp


# --------------------------------------------------------------- direction --


def test_a_min_objective_is_read_from_the_trials():
    trials = loss_trials()
    result = narrow_space(space_of(trials), trials, top=3)
    assert result.direction == "min"
    assert result.top_trial_ids == ("00", "01", "02")  # the lowest val_loss, not the highest
    x = narrowed(result, "x")
    assert (x.min_value, x.max_value, x.default) == (38, 62, 40)  # [40, 60] +- 0.1 * 20
    assert '"direction": "min"' in result.to_json()  # what was read is saved


def test_a_max_objective_is_read_from_the_trials():
    trials = [
        scored_trial(x, [acc - 0.2, acc], "val_accuracy", f"{i:02d}")
        for i, (x, acc) in enumerate([(10, 0.95), (20, 0.9), (30, 0.85), (90, 0.2), (80, 0.1)])
    ]
    result = narrow_space(space_of(trials), trials, top=3)
    assert (result.direction, result.top_trial_ids) == ("max", ("00", "01", "02"))
    x = narrowed(result, "x")
    # No trial ran below the top trials' 10..30: that side is kept (nothing there lost).
    assert (x.min_value, x.max_value) == (0, 32)


def test_the_objectives_of_a_multi_objective_and_of_a_loop_of_ones_own_are_read():
    # MultiObjective: KerasTuner records "multi_objective" (min) and scores by it.
    trials = []
    for i, (x, loss, acc) in enumerate([(40, 0.1, 0.9), (50, 0.2, 0.8), (90, 0.9, 0.1)]):
        trial = scored_trial(x, [loss], "val_loss", f"{i:02d}")
        trial.metrics.update("val_accuracy", acc)
        trial.metrics.register("multi_objective", direction="min")
        trial.metrics.update("multi_objective", loss - acc)
        trial.score = trial.metrics.get_best_value("multi_objective")
        trials.append(trial)
    assert narrow_space(space_of(trials), trials, top=2, min_trials=2).direction == "min"
    # A run_trial returning a number: KerasTuner's "default_objective", min.
    trials = [
        scored_trial(x, [s], "default_objective", f"{i:02d}", direction="min")
        for i, (x, s) in enumerate([(40, 1.0), (60, 2.0), (5, 9.0)])
    ]
    result = narrow_space(space_of(trials), trials, top=2, min_trials=2)
    assert (result.direction, result.top_trial_ids) == ("min", ("00", "01"))


def _unscored(trials):
    for trial in trials:
        trial.metrics = type(trial.metrics)()
    return trials


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: _unscored(loss_trials()),
            r"Cannot read the objective's direction from the trials: none of the 6 usable "
            r"trials recorded a metric whose best value is its score.*pass direction='max' or "
            r"'min', or the tuner's `oracle.objective`",
        ),
        (
            lambda: (
                loss_trials()[:3]
                + [
                    scored_trial(70, [0.5], "val_accuracy", "09"),
                    scored_trial(7, [0.4], "acc", "10"),
                ]
            ),
            r"The trials disagree on the objective's direction: trial 09 recorded 'val_accuracy' "
            r"as 'max', trial 00 recorded 'val_loss' as 'min' \(trials of different searches\?\): "
            r"narrow the trials of one search, or pass direction='max' or 'min'",
        ),
    ],
    ids=["unknown", "conflict"],
)
def test_a_direction_that_cannot_be_read_says_so_and_what_to_pass(make, message):
    trials = make()
    with pytest.raises(ValueError, match=message):
        narrow_space(space_of(trials), trials)
    # A direction given decides: ranked by it, lowest loss first.
    result = narrow_space(space_of(trials), trials, direction="min", top=3)
    assert result.top_trial_ids == ("00", "01", "02")


@pytest.mark.parametrize(
    "direction", ["max", kt.Objective("val_loss", "max"), kt.Objective("val_accuracy", "max")]
)
def test_a_direction_that_contradicts_the_trials_is_refused(direction):
    trials = loss_trials()
    with pytest.raises(
        ValueError,
        match=r"`direction` contradicts the trials: 6 of the 6 usable trials recorded their "
        r"objective 'val_loss' as 'min' \(e\.g\. trial 00\), so ranking them by 'max' would "
        r"narrow around the worst\. Pass direction='min'",
    ):
        narrow_space(space_of(trials), trials, direction=direction)
    agreeing = narrow_space(space_of(trials), trials, direction=kt.Objective("val_loss", "min"))
    assert agreeing.direction == "min" and agreeing.top_trial_ids[0] == "00"


# ------------------------------------------------ a real plain KerasTuner search --


def declare(hp):
    """keras.io's pattern: the units of each layer declared in a loop, no conditional_scope."""
    units = [hp.Int(f"units_{i}", 32, 512, step=32) for i in range(hp.Int("layers", 1, 3))]
    return units, hp.Float("lr", 1e-4, 1e-2, sampling="log")


def declare_deepest_first(hp):
    """The same loop, whose defaults build the deepest layer: every name from the start."""
    units = [
        hp.Int(f"units_{i}", 32, 512, step=32) for i in range(hp.Int("layers", 1, 3, default=3))
    ]
    return units, hp.Float("lr", 1e-4, 1e-2, sampling="log")


class Scripted(kt.RandomSearch):
    """A `RandomSearch` whose trials are scored by a formula of the layers they built."""

    def run_trial(self, trial, *args, **kwargs):
        units, lr = self.hypermodel.build(trial.hyperparameters)
        loss = sum(abs(u - 128) for u in units) / 512 + len(units) / 10 + abs(lr - 1e-3)
        return {"val_loss": loss}


class Declaring(Scripted):
    """As tunekit's tuners do: a trial keeps only the names its build declared."""

    def run_trial(self, trial, *args, **kwargs):
        with declared_only(trial):
            return super().run_trial(trial, *args, **kwargs)


def search(tmp_path, tuner=Scripted, build=declare, trials=12):
    tuner = tuner(
        build,
        objective=kt.Objective("val_loss", "min"),
        max_trials=trials,
        seed=7,
        directory=tmp_path,
        project_name=tuner.__name__,
    )
    tuner.search(verbose=0)
    return tuner.oracle


def test_plain_trials_of_a_grown_space_keep_every_unconditional_range(tmp_path):
    oracle = search(tmp_path)
    trials = list(oracle.trials.values())
    held = [{hp.name for hp in t.hyperparameters.space} for t in trials]
    # The space grew: the first trial had no units_2, later ones all hold one, built or not.
    assert "units_2" not in held[0] and all("units_2" in names for names in held[-3:])
    values = [t.hyperparameters.values for t in trials]
    assert any(v["layers"] < 3 and "units_2" in v for v in values)  # a units_2 never built
    assert not holds_declared_names(trials)
    result = narrow_space(oracle.hyperparameters, trials, top=4)
    assert result.direction == "min"
    assert result.top_trial_ids == tuple(t.trial_id for t in oracle.get_best_trials(4))
    for name in ("layers", "units_0", "units_1", "units_2", "lr"):
        change = changes(result)[name]
        assert (change.rule, change.after) == ("unknown", change.before), str(result)
    assert "unknown" in str(result)


def test_trials_that_keep_only_declared_names_are_narrowed_from_the_layers_they_built(tmp_path):
    oracle = search(tmp_path, tuner=Declaring)
    trials = list(oracle.trials.values())
    top = oracle.get_best_trials(4)
    built = [t.hyperparameters.values["units_1"] for t in top if t.hyperparameters["layers"] >= 2]
    result = narrow_declared(oracle.hyperparameters, trials, top=4)
    assert narrow_space(oracle.hyperparameters, trials, top=4) == result  # recognised
    units_1 = changes(result)["units_1"]
    assert units_1.active == len(built)  # the values of layers a trial built, no others
    assert all(c.rule != "unknown" for c in result.changes)
    lr = narrowed(result, "lr")
    assert lr.min_value > 1e-4 or lr.max_value < 1e-2  # narrowed around the best trials


def test_a_loop_whose_defaults_build_the_deepest_layer_keeps_its_later_members_whole(tmp_path):
    # Every trial holds every name from the first on: used and unused values look alike.
    oracle = search(tmp_path, build=declare_deepest_first)
    trials = list(oracle.trials.values())
    held = [{hp.name for hp in t.hyperparameters.space} for t in trials]
    assert all(names == held[0] for names in held)
    result = narrow_space(oracle.hyperparameters, trials, top=4)
    top = [oracle.trials[i].hyperparameters.values for i in result.top_trial_ids]
    # The top trials built at most 2 layers, yet each holds a units_2: noise that
    # narrowed units_2 to the range of values no build used.
    assert max(v["layers"] for v in top) == 2 and all("units_2" in v for v in top)
    rules = {name: (c.rule, c.after) for name, c in changes(result).items()}
    assert rules["units_1"] == ("unknown", "Int [32, 512] step 32")
    assert rules["units_2"] == ("unknown", "Int [32, 512] step 32")
    # units_0 too: a loop over range(hp.Int("layers", 0, 3)) may build none of them.
    assert rules["units_0"] == ("unknown", "Int [32, 512] step 32")
    assert rules["lr"][0] == "range" and rules["layers"][0] == "kept"


def plain_trial(values, score, trial_id, switch=None):
    """A plain KerasTuner trial of a fixed build: every name, each with a value (and a
    hyperparameter `layers` made by `switch`, e.g. `("Int", 0)`: `Int("layers", 0, 3)`)."""
    space = kt.HyperParameters()
    if switch is not None:
        kind, *args = switch
        getattr(space, kind)("layers", *args, *((3,) if kind == "Int" else ()))
    space.Int("conv1", 8, 64, step=8)
    space.Int("conv2", 16, 128, step=16)  # numbered, but not defined alike: not a loop
    space.Float("dropout_0", 0.0, 0.5)
    space.Float("dropout_1", 0.0, 0.5)  # a loop's member, as far as can be told
    space.values = dict(values)
    trial = Trial(hyperparameters=space, trial_id=trial_id, status=TrialStatus.COMPLETED)
    trial.metrics.register("val_loss", direction="min")
    trial.metrics.update("val_loss", score)
    trial.score = score
    return trial


@pytest.mark.parametrize(
    "switch",
    [None, ("Int", 0), ("Int", 1), ("Int", 2), ("Boolean",), ("Choice", ["deep", "shallow"]),
     ("Choice", [1, 2, 3]), ("Choice", [2, 3]), ("Choice", [0.1, 0.2])],
    ids=["none", "int_from_0", "int_from_1", "int_from_2", "boolean", "words", "ints_from_1",
         "ints_from_2", "floats"],
)  # fmt: skip
def test_numbered_names_defined_alike_are_kept_whole_when_something_could_count_them(switch):
    """`dropout_0`, `dropout_1`: a loop's members when something outside them could decide
    how many a build declares (an integer below 2, a Boolean, a Choice of words: `1 if
    hp.Boolean("shallow") else 3`); with only floats besides, a fixed build's: used."""
    rows = [(16, 32, 0.1, 0.2), (24, 48, 0.2, 0.3), (16, 48, 0.3, 0.25), (64, 128, 0.5, 0.5)]
    names = ("conv1", "conv2", "dropout_0", "dropout_1")
    trials = [
        plain_trial(dict(zip(names, row)), i / 10, f"{i}", switch) for i, row in enumerate(rows)
    ]
    fixed = (None, ("Int", 2), ("Choice", [2, 3]), ("Choice", [0.1, 0.2]))
    loop = switch not in fixed
    assert unknown_use(trials[0].hyperparameters, trials) == (
        {"dropout_0", "dropout_1"} if loop else frozenset()
    )
    result = narrow_space(trials[0].hyperparameters, trials, top=3)
    rules = {name: (c.rule, c.after) for name, c in changes(result).items() if name in names}
    assert rules["conv1"] == ("range", "Int [8, 32] step 8")
    assert rules["conv2"] == ("range", "Int [16, 64] step 16")
    if loop:
        assert rules["dropout_0"] == ("unknown", "Float [0, 0.5]")
        assert rules["dropout_1"] == ("unknown", "Float [0, 0.5]")
    else:
        assert rules["dropout_1"][0] == "range"
        assert narrowed(result, "dropout_1").max_value == pytest.approx(0.31)
    # The same trials, known to hold only declared names, narrow dropout_1 too.
    declared = narrow_declared(trials[0].hyperparameters, trials, top=3)
    assert narrowed(declared, "dropout_1").max_value == pytest.approx(0.31)


class _Switched(kt.HyperModel):
    """A loop of `units_i` whose depth a Boolean switches, the defaults building the deepest:
    every plain trial holds every name (a probe's case: narrowed from values no build used)."""

    def _space(self, hp):
        for i in range(1 if hp.Boolean("shallow") else 3):
            hp.Int(f"units_{i}", 8, 256, step=8)

    def build(self, hp):
        import keras

        self._space(hp)
        return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])

    def fit(self, hp, model, *args, **kwargs):
        self._space(hp)
        return {
            "val_loss": (0.1 if hp.get("shallow") else 1.0) + abs(hp.get("units_0") - 128) / 1e3
        }


def test_a_loop_switched_by_a_boolean_keeps_its_members_whole(tmp_path):
    tuner = kt.RandomSearch(
        _Switched(),
        objective=kt.Objective("val_loss", "min"),
        max_trials=16,
        seed=1,
        directory=tmp_path,
        project_name="switched",
    )
    tuner.search(verbose=0)
    trials = list(tuner.oracle.trials.values())
    result = narrow_space(tuner.oracle.hyperparameters, trials, fix_unanimous=False)
    top = [tuner.oracle.trials[i].hyperparameters.values for i in result.top_trial_ids]
    assert all(v["shallow"] for v in top)  # none built units_1 or units_2
    rules = {c.name: (c.rule, c.after) for c in result.changes}
    assert rules["units_1"] == ("unknown", "Int [8, 256] step 8")
    assert rules["units_2"] == ("unknown", "Int [8, 256] step 8")


def declare_in_scopes(hp):
    """The README's fix: each layer's units under a `conditional_scope` of the layer count."""
    units = []
    for i in range(hp.Int("layers", 1, 3)):
        with hp.conditional_scope("layers", list(range(i + 1, 4))):
            units.append(hp.Int(f"units_{i}", 32, 512, step=32))
    return units, hp.Float("lr", 1e-4, 1e-2, sampling="log")


def test_a_loop_under_conditional_scopes_is_narrowed_exactly_from_plain_trials(tmp_path):
    oracle = search(tmp_path, build=declare_in_scopes)
    trials = list(oracle.trials.values())
    assert unknown_use(oracle.hyperparameters, trials) == frozenset()
    result = narrow_space(oracle.hyperparameters, trials, top=4)
    top = [oracle.trials[i].hyperparameters for i in result.top_trial_ids]
    built = [hp.values["units_1"] for hp in top if hp.values["layers"] >= 2]
    # Only the top trials that built a second layer hold a units_1, and only they count.
    assert (
        changes(result)["units_1"].active == len(built) == sum("units_1" in hp.values for hp in top)
    )
    assert all(c.rule != "unknown" for c in result.changes), str(result)
    assert changes(result)["units_0"].rule == "range"


def test_a_loop_numbered_inside_its_names_or_from_zero_layers_is_kept_whole():
    """`dense{i}_units` (the number inside the name) and a loop that may build no layer:
    before, `dense2_units` was narrowed from top trials that never built a third layer."""
    space = kt.HyperParameters()
    space.Int("num_layers", 0, 3, default=3)
    for i in range(3):
        space.Int(f"dense{i}_units", 8, 128, step=8)
        space.Float(f"dense{i}_dropout", 0.0, 0.5)
    space.Float("lr", 1e-4, 1e-2, sampling="log")
    rows = [(0, 40, 104), (1, 16, 24), (1, 24, 32), (3, 120, 120), (2, 64, 8)]
    trials = []
    for i, (layers, first, third) in enumerate(rows):
        hp = space.copy()
        hp.values.update(num_layers=layers, dense0_units=first, dense2_units=third, lr=1e-3)
        trial = Trial(hyperparameters=hp, trial_id=f"{i}", status=TrialStatus.COMPLETED)
        trial.metrics.register("val_accuracy", direction="max")
        trial.metrics.update("val_accuracy", 1.0 - i / 10)
        trial.score = 1.0 - i / 10
        trials.append(trial)
    loop = {f"dense{i}_{kind}" for i in range(3) for kind in ("units", "dropout")}
    assert unknown_use(space, trials) == loop
    result = narrow_space(space, trials, top=3)
    rules = {name: (c.rule, c.after) for name, c in changes(result).items()}
    # The best trial built no layer: its dense0_units=40 was never built.
    assert rules["dense0_units"] == ("unknown", "Int [8, 128] step 8")
    assert rules["dense2_units"] == ("unknown", "Int [8, 128] step 8")
    assert rules["num_layers"][0] == "range"


def _every_name_trials(space, rows):
    """Plain trials holding every name of `space`, `rows` their values (best first)."""
    trials = []
    for i, values in enumerate(rows):
        hp = space.copy()
        hp.values.update(values)
        trial = Trial(hyperparameters=hp, trial_id=f"{i}", status=TrialStatus.COMPLETED)
        trial.metrics.register("val_loss", direction="min")
        trial.metrics.update("val_loss", i / 10)
        trial.score = i / 10
        trials.append(trial)
    return trials


def test_a_loop_counted_by_a_numbered_name_or_with_per_layer_defaults_is_kept_whole():
    """`convs_{b}` counting `filters_{b}_{j}` (a count numbered itself, one per block) and
    `units_{i}` with `default=256 // 2**i` were narrowed from values no build used."""
    space = kt.HyperParameters()
    for b in range(2):
        space.Int(f"convs_{b}", 1, 3, default=3)
        for j in range(3):
            space.Int(f"filters_{b}_{j}", 8, 64, step=8)
    for i in range(3):
        space.Int(f"units_{i}", 32, 512, step=32, default=256 // 2**i)
    space.Float("lr", 1e-4, 1e-2, sampling="log")
    filters = {f"filters_{b}_{j}" for b in range(2) for j in range(3)}
    assert filters | {f"units_{i}" for i in range(3)} <= unknown_use(space, [])
    rows = [{"convs_0": 1, "filters_0_2": 16 + 8 * k, "units_2": 32 * (k + 1)} for k in range(5)]
    rules = {c.name: c.rule for c in narrow_space(space, _every_name_trials(space, rows)).changes}
    assert rules["filters_0_2"] == rules["units_2"] == "unknown"


def branch_in_default(hp):
    """A branch outside any scope that the defaults take: `momentum` only for `sgd`."""
    optimizer = hp.Choice("optimizer", ["sgd", "adam"])
    momentum = hp.Float("momentum", 0.0, 0.99, step=0.01) if optimizer == "sgd" else None
    extra = hp.Int("extra_units", 8, 256, step=8) if hp.Boolean("use_extra", True) else None
    return optimizer, momentum, extra, hp.Float("lr", 1e-4, 1e-1, sampling="log")


class ScriptedBranch(kt.RandomSearch):
    """Scores adam and no extra layer best: the top trials never use momentum or extra_units."""

    def run_trial(self, trial, *args, **kwargs):
        optimizer, _, extra, lr = self.hypermodel.build(trial.hyperparameters)
        return {"val_loss": (optimizer == "sgd") + (extra is not None) + abs(lr - 1e-3)}


def test_given_the_hypermodel_plain_trials_of_a_branch_the_defaults_take_are_narrowed_exactly(
    tmp_path,
):
    """Found by a probe: every plain trial held `momentum` from the first one on (the
    default `sgd` declared it), so its values, never built by the top trials (all `adam`),
    were narrowed from as if used by each (`range 4/4`)."""
    tuner = ScriptedBranch(
        branch_in_default,
        objective=kt.Objective("val_loss", "min"),
        max_trials=16,
        seed=3,
        directory=tmp_path,
        project_name="branch",
    )
    tuner.search(verbose=0)
    oracle = tuner.oracle
    trials = list(oracle.trials.values())
    top = oracle.get_best_trials(4)
    assert all(t.hyperparameters["optimizer"] == "adam" for t in top)
    assert not any(t.hyperparameters["use_extra"] for t in top)
    assert all("momentum" in t.hyperparameters.values for t in top)  # held, never built
    blind = changes(narrow_space(oracle.hyperparameters, trials, top=4))
    assert blind["momentum"].rule == "range"  # what the trials alone cannot tell apart
    result = narrow_space(oracle.hyperparameters, trials, top=4, hypermodel=branch_in_default)
    for name in ("momentum", "extra_units"):
        change = changes(result)[name]
        assert (change.rule, change.active, change.after) == ("inactive", 0, change.before)
    assert changes(result)["optimizer"].after.startswith("Fixed")
    # The trials given are left as they were (copies are narrowed).
    assert all("momentum" in t.hyperparameters.values for t in top)
    with pytest.raises(ValueError, match=r"hypermodel's build raised for trial"):
        narrow_space(oracle.hyperparameters, trials, top=4, hypermodel=lambda hp: hp["nope"])
