"""The model checks before any training (`check_trainable`), range clipping, `show | head`.

Each case is a fault found by trying tunekit with one's own model: before, an
uncompiled model or a mismatched `Input` failed every trial with a traceback
(exit 1), a one-logit classifier compiled with `metrics=["accuracy"]` ran to
exit 0 with a test accuracy that disagreed with its own confusion matrix, and
a Bayesian trial trained `units=41` in a range narrowed to [9, 40].
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pytest
from conftest import three_splits

from tunekit._kerastuner import get_hypermodel
from tunekit.data import Dataset
from tunekit.errors import DataError, ModelCheckError, OutputShapeError
from tunekit.outputs import predict_classes
from tunekit.steps.check import check_model
from tunekit.steps.output_checks import check_logit_accuracy
from tunekit.tuners.oracles import FixedSpaceBayesianOracle, RandomSearchOracle


def _binary_data(shape=(13,)) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, *shape)).astype("float32")
    return Dataset.from_arrays(x, (x.reshape(120, -1)[:, 0] > 0).astype(int), seed=0)


def _one_unit(activation=None, loss=None, metrics=("accuracy",), shape=(13,)):
    def build(hp):
        model = keras.Sequential([keras.Input(shape), keras.layers.Dense(1, activation=activation)])
        model.compile(
            optimizer=hp.Choice("optimizer", ["adam", "sgd"]),
            loss=loss or keras.losses.BinaryCrossentropy(from_logits=activation is None),
            metrics=list(metrics),
        )
        return model

    return get_hypermodel(build)


def _check(hypermodel, refused: str | None) -> None:
    """The check before training passes `hypermodel`, or refuses it with `refused`."""
    if refused is None:
        check_model(hypermodel, _binary_data())
        return
    with pytest.raises(ModelCheckError, match=refused):
        check_model(hypermodel, _binary_data())


@pytest.mark.parametrize(
    "metrics",
    [
        ["accuracy"],
        ["acc"],
        [keras.metrics.BinaryAccuracy()],
        [keras.metrics.AUC(from_logits=True), "binary_accuracy"],
    ],
    ids=["accuracy", "acc", "BinaryAccuracy()", "auc+binary_accuracy"],
)
def test_a_logit_with_a_half_threshold_accuracy_is_refused(metrics):
    with pytest.raises(ModelCheckError, match=r"thresholds the output at 0\.5.*threshold=0\.0"):
        check_model(_one_unit(metrics=metrics), _binary_data())


@pytest.mark.parametrize(
    "hypermodel",
    [
        _one_unit(metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")]),
        _one_unit(metrics=[keras.metrics.AUC(from_logits=True)]),
        _one_unit(activation="sigmoid", loss="binary_crossentropy"),  # a probability
    ],
    ids=["logit-threshold-0", "logit-auc-only", "sigmoid-accuracy"],
)
def test_binary_models_whose_metrics_read_their_output_right_pass(hypermodel):
    check_model(hypermodel, _binary_data())


@pytest.mark.parametrize(
    "metric, refused",
    [
        # Before, only accuracies were checked: an AUC over [0, 1] on logits ranked the
        # trials and was reported as the test AUC (0.787 where the logits' AUC was 0.983).
        ("auc", r"'auc' reads the output as a probability.*AUC\(from_logits=True\)"),
        (keras.metrics.AUC(name="auc"), r"'AUC' reads the output as a probability"),
        ("precision", r"'precision' thresholds the output at 0\.5.*Precision\(thresholds=0\.0\)"),
        (keras.metrics.Recall(thresholds=[0.3, 0.5]), r"'Recall' thresholds the output at \[0\.3"),
        (keras.metrics.TruePositives(), r"'TruePositives' thresholds the output at 0\.5"),
        (keras.metrics.BinaryIoU(), r"'BinaryIoU' thresholds the output at 0\.5"),
        (keras.metrics.PrecisionAtRecall(0.5), r"'PrecisionAtRecall' reads it on \[0, 1\]"),
        # Keras's F1Score needs 2-D labels: every trial failed on class ids (n,).
        (keras.metrics.F1Score(threshold=0.5), r"'F1Score' needs 2-D labels.*class ids"),
        # IoU casts each logit to a class id and drops the negative ones; the one-hot IoUs
        # take the argmax over one unit: class 0 for every sample.
        (keras.metrics.IoU(2, [0, 1]), r"'IoU' reads it as class ids.*BinaryIoU\("),
        (keras.metrics.MeanIoU(2), r"'MeanIoU' reads it as class ids"),
        (keras.metrics.OneHotIoU(2, [1]), r"'OneHotIoU' reads it as class ids"),
        (keras.metrics.OneHotMeanIoU(2), r"'OneHotMeanIoU' reads it as class ids"),
        # What reads a logit right passes.
        (keras.metrics.AUC(from_logits=True), None),
        (keras.metrics.Precision(thresholds=0.0), None),
        (keras.metrics.Recall(thresholds=[0.0]), None),
        (keras.metrics.BinaryIoU(threshold=0.0), None),
        ("mse", None),  # no reading of classes: not tunekit's to judge
    ],
)
def test_every_metric_that_reads_one_logit_as_a_probability_is_refused(metric, refused):
    _check(_one_unit(metrics=[metric]), refused)
    if refused is None:
        return
    sigmoid = _one_unit(activation="sigmoid", metrics=[metric])
    if "class ids" in refused:  # wrong for one unit, logit or probability
        with pytest.raises(ModelCheckError, match=r"outputs one probability.*class ids"):
            check_model(sigmoid, _binary_data())
        return
    # the same metric on a sigmoid output passes: it reads a probability right
    check_model(sigmoid, _binary_data())


class _MyAccuracy(keras.metrics.BinaryAccuracy):
    pass


def _my_metric(y_true, y_pred):
    return keras.ops.mean(keras.ops.abs(y_true - y_pred))


@pytest.mark.parametrize(
    "activation, metric, refused",
    [
        # Before: a sigmoid trial scored by threshold=0.0 counted every sample as class 1
        # and won a search at the majority share; the report said 0.7222 where it was 0.3556.
        ("sigmoid", keras.metrics.BinaryAccuracy(threshold=0.0), r"at 0\.0, outside \(0, 1\)"),
        ("sigmoid", keras.metrics.Precision(thresholds=0.0), r"Precision\(thresholds=0\.5\)"),
        # Before: accepted on one unit; every trial scored 0.0 (exact equality) or the
        # share of class 0 (an argmax over one unit), and the report printed it.
        (None, keras.metrics.Accuracy(), r"'Accuracy' compares the output with the label"),
        ("sigmoid", keras.metrics.Accuracy(), r"outputs one probability.*exact equality"),
        (None, keras.metrics.SparseCategoricalAccuracy(), r"argmax over one unit"),
        ("sigmoid", "sparse_categorical_accuracy", r"argmax over one unit.*threshold=0\.5"),
        (None, keras.metrics.CategoricalAccuracy(), r"argmax over one unit.*threshold=0\.0"),
        ("sigmoid", keras.metrics.MeanIoU(2), r"class ids"),
        # Before: the report's accuracy read at 0.85, its confusion matrix at 0.5.
        ("sigmoid", keras.metrics.BinaryAccuracy(threshold=0.85), r"above 0\.85, where"),
        ("sigmoid", keras.metrics.Precision(thresholds=1.0), r"outside \(0, 1\)"),
        # A subclass reads the unit as its Keras base does; a function by its name.
        (None, _MyAccuracy(), r"'_MyAccuracy' thresholds the output at 0\.5"),
        (None, keras.metrics.binary_accuracy, r"'binary_accuracy' thresholds the output at 0\.5"),
        ("sigmoid", keras.metrics.binary_accuracy, None),
        ("sigmoid", _my_metric, None),  # Keras stored it as a string: this crashed the check
        # What reads a probability right passes.
        ("sigmoid", keras.metrics.BinaryAccuracy(threshold=0.5), None),
        ("sigmoid", keras.metrics.AUC(), None),
        ("sigmoid", keras.metrics.BinaryIoU(), None),
    ],
)
def test_metrics_that_read_one_unit_wrong_are_refused_whatever_it_holds(
    activation, metric, refused
):
    hypermodel = _one_unit(activation=activation, metrics=[metric])
    _check(hypermodel, refused)


@pytest.mark.parametrize(
    "activation, loss, metric, refused",
    [
        # Before: accepted with the advice threshold=0.0; every sample was class 1 (0.6279
        # reported where the model's probabilities gave 0.8953).
        ("sigmoid", keras.losses.BinaryCrossentropy(from_logits=True), "accuracy", "never below 0"),
        ("relu", keras.losses.BinaryCrossentropy(from_logits=True), "auc", "never below 0"),
        ("sigmoid", "hinge", keras.metrics.BinaryAccuracy(threshold=0.0), "never below 0"),
        # A hinge loss trains a margin, class by its sign. Before: read as a probability,
        # "accuracy" was accepted (0.6512 where the sign gave 0.8953), threshold 0.0 refused.
        (None, "hinge", "accuracy", r"outputs one logit.*threshold=0\.0"),
        (None, keras.losses.SquaredHinge(), "accuracy", r"outputs one logit.*threshold=0\.0"),
        (None, "hinge", keras.metrics.BinaryAccuracy(threshold=0.0), None),
        ("tanh", keras.losses.Hinge(), keras.metrics.BinaryAccuracy(threshold=0.0), None),
        # Keras's BinaryCrossentropy metric needs labels of the output's rank: every trial
        # failed on class ids (n,) against (n, 1), after training.
        ("sigmoid", "binary_crossentropy", "binary_crossentropy", r"same rank.*Reshape"),
        (None, None, keras.metrics.BinaryCrossentropy(from_logits=True), r"same rank"),
    ],
)
def test_a_loss_that_reads_one_unit_against_its_activation_is_refused(
    activation, loss, metric, refused
):
    hypermodel = _one_unit(activation, loss, metrics=[metric])
    _check(hypermodel, refused)


@pytest.mark.parametrize(
    "activation, metric, refused",
    [
        (None, "binary_crossentropy", r"BinaryCrossentropy\(from_logits=True\)"),
        (None, keras.metrics.BinaryCrossentropy(from_logits=True), None),
        ("sigmoid", keras.metrics.BinaryCrossentropy(from_logits=True), r"from_logits=False"),
        ("sigmoid", "binary_crossentropy", None),
    ],
)
def test_a_cross_entropy_metric_on_an_n_output_reads_the_unit_as_the_loss_does(
    activation, metric, refused
):
    """On an `(n,)` output Keras's cross-entropy metric runs on class ids; it must read the
    unit as the loss does (a logit with from_logits=True, a probability without)."""

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((13,)),
                keras.layers.Dense(1, activation=activation),
                keras.layers.Reshape(()),
            ]
        )
        model.compile(
            optimizer=hp.Choice("optimizer", ["adam", "sgd"]),
            loss=keras.losses.BinaryCrossentropy(from_logits=activation is None),
            metrics=[metric],
        )
        return model

    _check(get_hypermodel(build), refused)


def test_metrics_and_losses_of_a_script_are_read_as_keras_reads_them():
    """A metric class defined in a script (Keras serializes its module as None) went
    unchecked: a BinaryAccuracy subclass on logits reported 0.489 where the logits gave
    0.556. A function of the user's named `accuracy` was refused as Keras's accuracy."""

    class ProbAcc(keras.metrics.BinaryAccuracy):
        pass

    class MyAUC(keras.metrics.AUC):
        pass

    def accuracy(y_true, y_pred):  # the user's own: class 1 above 0
        return keras.ops.mean(keras.ops.cast((y_pred[:, 0] > 0) == (y_true > 0), "float32"))

    for metric, refused in [
        (ProbAcc(name="accuracy"), r"'ProbAcc' thresholds the output at 0\.5"),
        (MyAUC(), r"'MyAUC' reads the output as a probability"),
        (accuracy, None),
    ]:
        _check(_one_unit(metrics=[metric]), refused)


@pytest.mark.parametrize("activation", [None, "tanh"])
def test_a_unit_that_can_be_negative_under_a_probability_cross_entropy_is_refused(activation):
    """Keras clips it to [0, 1]; the report read it at 0.5 (outputs from -7 to 4)."""
    with pytest.raises(ModelCheckError, match=r"can be below 0.*from_logits=True"):
        check_model(_one_unit(activation, "binary_crossentropy"), _binary_data())


@pytest.mark.parametrize("activation", [None, "sigmoid"])
def test_accuracy_on_an_n_output_is_refused(activation):
    """Keras resolves "accuracy" for an (n,) output to categorical accuracy, an argmax over
    the batch: every trial scored 0.0 or 1.0, and the report said 0.0000 for a model that
    got 42 of 45 right."""

    def build(hp):
        model = keras.Sequential(
            [keras.Input((13,)), keras.layers.Dense(1, activation), keras.layers.Reshape(())]
        )
        model.compile(
            optimizer=hp.Choice("optimizer", ["adam", "sgd"]),
            loss=keras.losses.BinaryCrossentropy(from_logits=activation is None),
            metrics=["accuracy"],
        )
        return model

    threshold = "0.0" if activation is None else "0.5"
    with pytest.raises(ModelCheckError, match=rf"argmax over the batch.*threshold={threshold}"):
        check_model(get_hypermodel(build), _binary_data())


def test_the_hinge_losss_classes_are_its_signs():
    from tunekit.outputs import predicted_classes, uses_logits

    for loss in ("hinge", "squared_hinge", keras.losses.Hinge(), keras.losses.squared_hinge):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(loss=loss)
        assert uses_logits(model) is True
    outputs = np.array([[-0.4], [0.3], [0.7], [-2.0]])
    np.testing.assert_array_equal(
        predicted_classes(outputs, from_logits=uses_logits(model)), [0, 1, 1, 0]
    )


def test_a_subclassed_model_whose_call_applies_the_sigmoid_is_read_by_its_outputs():
    """Before, its last layer (linear) made it a logit: the confusion matrix put every test
    sample in class 1 and the report called a 0.98 model no better than chance (0.63)."""
    from tunekit.outputs import predicted_classes, uses_logits

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = keras.layers.Dense(4), keras.layers.Dense(1)

        def call(self, x):
            return keras.activations.sigmoid(self.out(self.hidden(x)))

    def my_loss(y_true, y_pred):
        return keras.losses.binary_crossentropy(y_true, y_pred)

    def raw_log(y_true, y_pred):  # an unclipped cross-entropy: not finite at 0 and 1
        return -(y_true * keras.ops.log(y_pred) + (1 - y_true) * keras.ops.log(1 - y_pred))

    net = Net()
    net.compile(loss=raw_log)
    outputs = np.array([[0.2], [0.7], [0.9]])  # what it predicts: probabilities
    assert uses_logits(net) is None  # its layers cannot say, nor its values; its range does
    assert predicted_classes(outputs, from_logits=uses_logits(net)).tolist() == [0, 1, 1]
    # A metric that needs to know (a threshold) is refused until the loss says which.
    for metric in (keras.metrics.BinaryAccuracy(), keras.metrics.BinaryAccuracy(threshold=0.0)):
        net.compile(loss=raw_log, metrics=[metric])
        with pytest.raises(ModelCheckError, match=r"nothing says whether.*raw_log.from_logits"):
            check_logit_accuracy(net, (None, 1))
    raw_log.from_logits = False  # what the message says to do
    net.compile(loss=raw_log, metrics=[keras.metrics.BinaryAccuracy()])
    assert uses_logits(net) is False
    check_logit_accuracy(net, (None, 1))
    # A loss whose values say which (Keras's clipped cross-entropy on probabilities: least
    # at the label, no lower beyond it) is read by them: its threshold metric must agree.
    net.compile(loss=my_loss, metrics=[keras.metrics.BinaryAccuracy()])
    assert uses_logits(net) is False
    check_logit_accuracy(net, (None, 1))
    net.compile(loss=my_loss, metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)])
    with pytest.raises(ModelCheckError, match=r"threshold"):
        check_logit_accuracy(net, (None, 1))
    # The same for an op after the last layer of a functional model.
    del raw_log.from_logits
    inputs = keras.Input((3,))
    functional = keras.Model(inputs, keras.ops.sigmoid(keras.layers.Dense(1)(inputs)))
    functional.compile(loss=raw_log)
    assert uses_logits(functional) is None
    functional.compile(loss=my_loss)
    assert uses_logits(functional) is False
    # A linear layer that makes the output holds either: the loss's values decide, and a
    # loss whose values do not say is refused until it says which.
    linear = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    linear.compile(loss=raw_log)
    assert uses_logits(linear) is None
    with pytest.raises(ModelCheckError, match=r"its last layer's activation is 'linear'"):
        check_logit_accuracy(linear, (None, 1))


def test_the_logit_auc_the_check_refuses_is_really_wrong():
    """Keras's default AUC on logits disagrees with the logits' own AUC (scikit-learn)."""
    from sklearn.metrics import roc_auc_score

    data = _binary_data()
    model = _one_unit(metrics=[keras.metrics.AUC(name="auc")]).build(kt.HyperParameters())
    model.layers[-1].set_weights([np.full((13, 1), 3.0, "float32"), np.zeros(1, "float32")])
    logits = model.predict(data.x_train, verbose=0)[:, 0]
    keras_auc = model.evaluate(data.x_train, data.y_train, verbose=0, return_dict=True)["auc"]
    assert keras_auc < roc_auc_score(data.y_train, logits) - 0.05


def test_the_logit_iou_the_check_refuses_is_really_wrong():
    """Keras's IoU over class ids on logits disagrees with the logits' own classes' IoU."""
    from sklearn.metrics import jaccard_score

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 200)
    logits = rng.normal(size=200) * 3.0
    iou = keras.metrics.IoU(num_classes=2, target_class_ids=[1])
    iou.update_state(y_true, logits)
    right = jaccard_score(y_true, (logits > 0).astype(int))  # class 1's IoU
    fixed = keras.metrics.BinaryIoU(target_class_ids=[1], threshold=0.0)
    fixed.update_state(y_true, logits)
    assert float(fixed.result()) == pytest.approx(right, abs=1e-6)
    assert abs(float(iou.result()) - right) > 0.05


def test_a_lazy_or_weighted_logit_accuracy_is_refused_too():
    def lazy(hp):  # no Input: the output shape is known once called on samples
        model = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
        model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), metrics=["acc"])
        return model

    def weighted(hp):
        model = _one_unit(metrics=()).build(hp)
        model.compile(
            loss=keras.losses.BinaryCrossentropy(from_logits=True), weighted_metrics=["accuracy"]
        )
        return model

    for build in (lazy, weighted):
        with pytest.raises(ModelCheckError, match=r"outputs one logit \(.*\), but its metric"):
            check_model(get_hypermodel(build), _binary_data())


@pytest.mark.parametrize("activation", [None, "tanh"])
def test_a_signed_unit_under_a_loss_of_ones_own_is_read_by_what_the_loss_computes(activation):
    """Probe: a linear unit trained toward 0/1 by the user's own MSE (no from_logits) was
    read as a logit because its layer is linear, and its outputs below 0 agreed: test
    accuracy 0.56, where the same model compiled with 'mse' scored 0.76 (exit 0). The
    loss's values say which (an MSE is least at the label: a probability; a logistic loss
    or a hinge keeps falling below 0: a logit); a loss whose values do not say (an
    unclipped log, not finite at 0) is refused before training until it says which."""
    from tunekit.outputs import predicted_classes, uses_logits

    def my_loss(y_true, y_pred):
        y_true = keras.ops.cast(keras.ops.reshape(y_true, (-1, 1)), y_pred.dtype)
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)

    def my_logistic(y_true, y_pred):
        return keras.ops.mean(keras.ops.softplus(y_pred) - y_true * y_pred, axis=-1)

    def my_hinge(y_true, y_pred):
        return keras.ops.mean(keras.ops.relu(1.0 - (2.0 * y_true - 1.0) * y_pred), axis=-1)

    def raw_log(y_true, y_pred):
        return -(y_true * keras.ops.log(y_pred) + (1 - y_true) * keras.ops.log(1 - y_pred))

    def build(hp, last=activation, metrics=(), loss=my_loss):
        inputs = keras.Input((13,))
        model = keras.Model(inputs, keras.layers.Dense(1, activation=last)(inputs))
        model.compile(loss=loss, metrics=list(metrics))
        return model

    outputs = np.array([[-0.2], [0.3], [0.7]])
    for loss, logit, classes in ((my_loss, False, [0, 0, 1]), (my_logistic, True, [0, 1, 1])):
        assert uses_logits(build(None, loss=loss)) is logit
        assert predicted_classes(outputs, from_logits=logit).tolist() == classes
        check_model(get_hypermodel(lambda hp, loss=loss: build(hp, loss=loss)), _binary_data())
    assert uses_logits(build(None, loss=my_hinge)) is True
    assert uses_logits(build(None, "sigmoid", loss=my_logistic)) is False  # the layer decides
    for metrics in ((), ("accuracy",)):
        with pytest.raises(
            ModelCheckError,
            match=r"nothing says whether that unit is a logit .*its loss 'raw_log' is your own "
            r"and names no from_logits; called on labels 0 and 1 at outputs from -1 to 2, it "
            r"fails, is not finite.*its last layer's activation is '(linear|tanh)'.*"
            r"\(raw_log\.from_logits = True",
        ):
            check_model(
                get_hypermodel(lambda hp, m=metrics: build(hp, metrics=m, loss=raw_log)),
                _binary_data(),
            )
    check_model(get_hypermodel(lambda hp: build(hp, "sigmoid", loss=raw_log)), _binary_data())

    def partial_loss(hp):  # not serializable: its compile config cannot be read
        model = build(hp)
        model.compile(loss=functools.partial(raw_log))
        return model

    with pytest.raises(ModelCheckError, match=r"its loss 'partial' is your own"):
        check_model(get_hypermodel(partial_loss), _binary_data())
    raw_log.from_logits = False
    assert uses_logits(build(None, loss=raw_log)) is False
    check_model(get_hypermodel(lambda hp: build(hp, loss=raw_log)), _binary_data())


def test_a_probability_made_by_an_op_is_not_taken_for_a_logit():
    """A linear last layer followed by `ops.sigmoid`: only the loss says logits."""

    def build(hp):
        inputs = keras.Input((13,))
        outputs = keras.ops.sigmoid(keras.layers.Dense(1)(inputs))
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=hp.Choice("optimizer", ["adam", "sgd"]),
            loss=keras.losses.binary_crossentropy,
            metrics=["accuracy"],
        )
        return model

    data = _binary_data()
    check_model(get_hypermodel(build), data)
    # and its classes are read as probabilities (> 0.5), not as logits (> 0)
    model = build(kt.HyperParameters())
    probabilities = model.predict(data.x_train, verbose=0)[:, 0]
    assert ((probabilities > 0) != (probabilities > 0.5)).any()
    expected = (probabilities > 0.5).astype(int)
    np.testing.assert_array_equal(predict_classes(model, data.x_train), expected)


def test_the_logit_accuracy_the_check_refuses_is_really_wrong():
    """What the refusal prevents: Keras's accuracy disagrees with the classes the logits mean."""
    model = _one_unit().build(kt.HyperParameters())
    data = _binary_data()
    logits = model.predict(data.x_train, verbose=0)[:, 0]
    keras_accuracy = model.evaluate(data.x_train, data.y_train, verbose=0, return_dict=True)
    half = float(np.mean((logits > 0.5).astype(int) == data.y_train))
    assert keras_accuracy["accuracy"] == pytest.approx(half, abs=1e-6)
    assert ((logits > 0) != (logits > 0.5)).any()  # samples whose class the two disagree on


def test_an_uncompiled_model_is_refused_unless_the_hypermodel_has_its_own_fit():
    def build(hp):
        return keras.Sequential([keras.Input((13,)), keras.layers.Dense(2, activation="softmax")])

    with pytest.raises(ModelCheckError, match=r"is not compiled\. Call model\.compile\("):
        check_model(get_hypermodel(build), _binary_data())

    class CompilesInFit(kt.HyperModel):
        def build(self, hp):
            return build(hp)

        def fit(self, hp, model, *args, **kwargs):
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            return model.fit(*args, **kwargs)

    check_model(CompilesInFit(), _binary_data())


class _OwnLoop(kt.HyperModel):
    """A hypermodel whose own fit trains the model it never compiles (keras.io's custom loop)."""

    def __init__(self, outputs, compile_loss=None):
        super().__init__()
        self.outputs, self.compile_loss = outputs, compile_loss

    def build(self, hp):
        hp.Float("learning_rate", 1e-3, 1e-1, sampling="log")
        inputs = keras.Input((13,))
        outputs = [keras.layers.Dense(units, activation=a)(inputs) for units, a in self.outputs]
        model = keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0])
        if self.compile_loss is not None:
            model.compile(optimizer="adam", loss=self.compile_loss)
        return model

    def fit(self, hp, model, x, y, **kwargs):
        return {"val_loss": 0.5}


@pytest.mark.parametrize(
    "outputs, compile_loss, refused",
    [
        # One unit, no loss: a logit (class 1 above 0) or a probability trained toward 0/1
        # (e.g. with MSE, class 1 above 0.5)? Before, read as a logit: a wrong test
        # accuracy at exit 0 when it was the other.
        ([(1, None)], None, r"activation is 'linear': without a loss, nothing says"),
        ([(1, "tanh")], None, r"activation is 'tanh'"),
        ([(1, "relu")], None, r"activation is 'relu'"),
        ([(1, "sigmoid")], None, None),  # a probability, whatever the loop's loss
        ([(2, None)], None, None),  # argmax: the same class for logits and probabilities
        ([(1, None)], keras.losses.BinaryCrossentropy(from_logits=True), None),  # compiled
        # Several outputs, no losses and metrics: nothing to score the test set by.
        # Before, refused only at the evaluation, after the whole search.
        ([(1, "sigmoid"), (1, "sigmoid")], None, r"several outputs and is not compiled"),
    ],
)
def test_a_model_never_compiled_must_be_scorable_from_its_predictions(
    outputs, compile_loss, refused
):
    hypermodel = _OwnLoop(outputs, compile_loss)
    if refused is None:
        check_model(hypermodel, _binary_data())
        return
    with pytest.raises(ModelCheckError, match=refused) as info:
        check_model(hypermodel, _binary_data())
    assert "compile the model in build()" in str(info.value).lower()


def test_a_regression_model_never_compiled_with_one_linear_unit_is_scored():
    """Regression's scores (mse, mae, r2) read the output as it is: nothing to guess."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 13)).astype("float32")
    data = Dataset.from_arrays(x, x[:, 0] * 2.5, seed=0)
    check_model(_OwnLoop([(1, None)]), data)


@pytest.mark.parametrize(
    "declared, samples, fits",
    [
        ((64,), (13,), False),
        ((28, 28, 1), (28, 28), True),  # Keras adds the channel axis of size 1
        ((28, 28), (28, 28, 1), True),  # and drops it
        ((None, 28), (28, 28), True),  # a free dimension
        ((28, 28, 3), (28, 28), False),
        ((8, 8), (64,), False),
    ],
)
def test_a_declared_input_must_take_the_samples(declared, samples, fits):
    def build(hp):
        flat = keras.layers.GlobalAveragePooling1D() if None in declared else keras.layers.Flatten()
        head = keras.layers.Dense(2, activation="softmax")
        model = keras.Sequential([keras.Input(declared), flat, head])
        optimizer = hp.Choice("optimizer", ["adam", "sgd"])
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        return model

    hypermodel = get_hypermodel(build)
    if fits:
        check_model(hypermodel, _binary_data(samples))
        return
    expected = f"takes inputs of shape {declared} (its Input), but each sample of x_train "
    with pytest.raises(ModelCheckError, match=r"keras\.Input shape=") as info:
        check_model(hypermodel, _binary_data(samples))
    assert expected + f"has shape {samples}" in str(info.value)


@pytest.mark.parametrize(
    "structure, keys, missing",
    [
        ("dict", ("a", "c"), "['b']"),  # the README's two-input model, a key misspelt
        ("list", ("a", "c"), "['b']"),  # Keras feeds a list of Inputs by their names
        ("dict", ("b",), "['a']"),
        ("dict", ("a", "b"), None),
        ("list", ("a", "b", "extra"), None),  # fed by name: an extra array is ignored
        ("list", ("b", "a"), None),
        ("dict", ("a", "b", "extra"), "extra"),
        ("dict", ("a", "b", "b2"), "extra"),
    ],
)
def test_a_dict_of_arrays_must_hold_every_input_of_the_model(structure, keys, missing):
    """Before, every trial failed on the missing key (on JAX, named only by JAX's note)."""

    def build(hp):
        a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
        units = hp.Int("units", 8, 16, step=8)
        joined = keras.layers.Concatenate()([keras.layers.Dense(units)(a), b])
        out = keras.layers.Dense(2, activation="softmax")(joined)
        model = keras.Model({"a": a, "b": b} if structure == "dict" else [a, b], out)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    rng = np.random.default_rng(0)
    width = {"a": 4, "b": 3, "c": 3, "extra": 1, "b2": 3}
    x = {key: rng.random((60, width[key]), dtype=np.float32) for key in keys}
    data = Dataset.from_arrays(x, np.arange(60) % 2)
    if missing is None:
        check_model(get_hypermodel(build), data)
        return
    if missing == "extra":  # Keras fed the dict by position and only warned: wrong input
        with pytest.raises(ModelCheckError, match=r"also has \['(extra|b2)'\]: Keras would feed"):
            check_model(get_hypermodel(build), data)
        return
    with pytest.raises(ModelCheckError, match="takes the inputs") as info:
        check_model(get_hypermodel(build), data)
    assert f"has no {missing} (its keys: {sorted(keys)})" in str(info.value)
    assert "keras.Input(name=...)" in str(info.value)


@pytest.mark.parametrize("sampling", ["linear", "log", "reverse_log"])
@pytest.mark.parametrize("oracle_class", [FixedSpaceBayesianOracle, RandomSearchOracle])
def test_a_proposal_at_the_edge_of_an_int_range_stays_inside_it(oracle_class, sampling):
    space = kt.HyperParameters()
    space.Int("units", 9, 40, sampling=sampling)
    space.Float("rate", 0.1, 0.5)
    oracle = oracle_class(objective="val_loss", max_trials=5, hyperparameters=space)
    # KerasTuner maps the top of the unit interval past the end of a range without a step
    # (a linear Int gets step=1, which it handles):
    assert space.space[0].prob_to_value(1.0) == (40 if sampling == "linear" else 41)
    edge = {"units": 41, "rate": 0.5}
    response = oracle._checked({"status": "RUNNING", "values": edge})
    assert response["values"] == {"units": 40, "rate": 0.5}
    low = oracle._checked({"status": "RUNNING", "values": {"units": 8, "rate": 0.05}})
    assert low["values"] == {"units": 9, "rate": 0.1}


def test_a_bayesian_proposal_is_python_numbers_as_a_random_draw_is(tmp_path):
    """Probe E: KerasTuner's Bayesian oracle proposes a linear `Float` as a `np.float64`;
    a build that put it in `loss_weights` failed every such trial ("AddV2 ... float64 does
    not match float32"), so the Bayesian fine phase ran only its random starting trials."""
    space = kt.HyperParameters()
    space.Float("w_odd", 0.1, 1.0)
    space.Int("units", 8, 64)
    space.Choice("rate", [0.1, 0.2, 0.3])
    oracle = FixedSpaceBayesianOracle(
        objective=kt.Objective("val_loss", "min"),
        max_trials=8,
        num_initial_points=2,
        hyperparameters=space,
        seed=1,
    )
    oracle._set_project_dir(str(tmp_path), "p")
    oracle._display.verbose = 0
    kinds = []
    for _ in range(5):
        trial = oracle.create_trial("tuner0")
        values = trial.hyperparameters.values
        kinds.append({name: type(value) for name, value in values.items()})
        oracle.update_trial(trial.trial_id, {"val_loss": (values["w_odd"] - 0.3) ** 2})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    assert kinds[2:] == [{"w_odd": float, "units": int, "rate": float}] * 3  # proposed ones


def test_a_build_that_raises_with_the_defaults_is_refused_naming_the_users_line():
    def build(hp):
        if hp.Boolean("wide"):  # the default is False
            return _one_unit(activation="sigmoid", loss="binary_crossentropy").build(hp)
        raise ValueError("narrow models are not supported")

    with pytest.raises(ModelCheckError) as info:
        check_model(get_hypermodel(build), _binary_data())
    message = str(info.value)
    assert (
        "build raised ValueError: narrow models are not supported (at test_model_checks.py:"
        in message
    )
    assert "KerasTuner builds it that way to declare the search space" in message

    def bare(hp):
        raise AssertionError

    with pytest.raises(ModelCheckError, match=r"build raised AssertionError \(at test_model"):
        check_model(get_hypermodel(bare), _binary_data())


def test_tunekit_piped_into_a_reader_that_leaves_exits_quietly(tmp_path):
    """`tunekit show RUN | head`: before, a BrokenPipeError (exit 120 or a traceback)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunekit", "ls", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "BrokenPipeError" not in err and "Traceback" not in err, err


def test_a_python_lambda_layer_is_refused_with_the_fix_for_a_lambda():
    """The advice was to register custom objects, which a Python lambda cannot be."""
    from tunekit.errors import ModelSaveError
    from tunekit.steps.check import check_round_trip

    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Lambda(lambda t: t * 2.0), keras.layers.Dense(2)]
    )
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ModelSaveError, match=r"replace the Lambda layer by a keras\.layers\.Layer"):
        check_round_trip(model)


def test_a_subclassed_model_without_get_config_is_told_to_write_one():
    """The reason said was the last line of Keras's example code ("return config"), and the
    advice (register it) does not make such a model saveable."""
    from tunekit.errors import ModelSaveError
    from tunekit.steps.check import check_round_trip

    class Net(keras.Model):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.hidden, self.out = keras.layers.Dense(units), keras.layers.Dense(1)

        def call(self, x):
            return self.out(self.hidden(x))

    model = Net(4)
    model(np.zeros((2, 3), "float32"))
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ModelSaveError) as error:
        check_round_trip(model)
    message = str(error.value)
    assert "must override `get_config()` in order to be serializable" in message
    assert "give the class a get_config() that returns its __init__ arguments" in message
    assert "return config)" not in message


def test_a_hypermodel_that_declares_no_hyperparameter_is_refused_unless_its_fit_may():
    """Before, the coarse phase trained its one configuration and the fine phase then
    failed with "No fine trial completed (0 ran)" (exit 1)."""

    def build(hp):
        model = keras.Sequential([keras.Input((13,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model

    from tunekit.steps.check import check_declares_hyperparameters

    with pytest.raises(ModelCheckError, match=r"declares no hyperparameters.*nothing to tune"):
        check_declares_hyperparameters(get_hypermodel(build))

    class TunesItsFit(kt.HyperModel):
        def build(self, hp):
            return build(hp)

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32]), **kwargs)

    check_declares_hyperparameters(TunesItsFit())  # its fit declares what is tuned


@pytest.mark.parametrize(
    "kind, name, key, refused",
    [
        ("sequential", None, "inp", "without a name"),
        ("functional", None, "inp", "without a name"),
        ("sequential", "pixels", "inp", r"has no \['pixels'\]"),
        ("functional", "pixels", "inp", r"has no \['pixels'\]"),
        ("sequential", "pixels", "pixels", None),  # Keras feeds it by the Input's name
        ("functional", "pixels", "pixels", None),
    ],
)
@pytest.mark.parametrize("form", ["arrays", "stream"])
def test_a_dict_x_for_a_one_input_model_must_be_keyed_by_the_inputs_name(
    kind, name, key, refused, form
):
    """Keras fails every trial ("doesn't match the expected structure") on a dict whose key
    is not the Input's name; a Sequential's inputs, and streams, were not checked at all."""
    import tensorflow as tf

    from tunekit.data import StreamData

    def build(hp):
        inputs = keras.Input((4,), name=name) if name else keras.Input((4,))
        units = hp.Int("units", 8, 16, step=8)
        if kind == "sequential":
            model = keras.Sequential([inputs, keras.layers.Dense(units), keras.layers.Dense(2)])
        else:
            model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(units)(inputs)))
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    x = {key: np.random.default_rng(0).random((60, 4), dtype=np.float32)}
    y = np.arange(60) % 2
    if form == "arrays":
        data = Dataset.from_arrays(x, y)
    else:
        splits = [  # three splits of other samples
            tf.data.Dataset.from_tensor_slices(({key: x[key] + i}, y)).batch(16) for i in range(3)
        ]
        data = StreamData(*splits, fingerprint="dict-x", num_classes=2)
    if refused is None:
        check_model(get_hypermodel(build), data)
        model = build(kt.HyperParameters())
        model.fit(x, y, epochs=1, verbose=0)  # what Keras takes, tunekit takes
        return
    with pytest.raises(ModelCheckError, match=refused):
        check_model(get_hypermodel(build), data)
    model = build(kt.HyperParameters())
    with pytest.raises((ValueError, TypeError)):  # what every trial would have done
        model.fit(x, y, epochs=1, verbose=0)


def test_the_final_model_never_compiled_is_checked_again_before_it_is_scored():
    """A trial's model may differ from the defaults' one the check saw (a tuned output
    activation): the test set is scored only when the predictions say what they mean."""
    from types import SimpleNamespace

    from tunekit.steps.base import test_metrics

    data = _binary_data()
    context = SimpleNamespace(data=data)
    linear = _OwnLoop([(1, None)]).build(kt.HyperParameters())
    with pytest.raises(ModelCheckError, match=r"The final model outputs one unit .* 'linear'"):
        test_metrics(context, linear, 32)
    sigmoid = _OwnLoop([(1, "sigmoid")]).build(kt.HyperParameters())
    probabilities = keras.ops.convert_to_numpy(sigmoid(data.x_test))[:, 0]
    expected = float(np.mean((probabilities > 0.5).astype(int) == data.y_test))
    assert test_metrics(context, sigmoid, 32) == {"accuracy": pytest.approx(expected)}


class _TunedOutput(kt.HyperModel):
    """A one-unit output whose activation is tuned: the defaults' model (a sigmoid) passes the
    check before training; a trial's (linear, a logit) is another model."""

    def __init__(self, compiled: bool, lazy: bool = False):
        super().__init__()
        self.compiled, self.lazy = compiled, lazy

    def build(self, hp):
        linear = hp.Choice("act", ["sigmoid", "linear"]) == "linear"
        inputs = [] if self.lazy else [keras.Input((13,))]  # lazy: shape known once called
        model = keras.Sequential(
            [*inputs, keras.layers.Dense(1, activation=None if linear else "sigmoid")]
        )
        if self.compiled:
            loss = keras.losses.BinaryCrossentropy(from_logits=linear)
            model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        return model

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        if self.compiled:
            return model.fit(x, y, validation_data=validation_data, **kwargs)
        return {"val_loss": float(hp["act"] == "linear")}  # an own loop's score


def _coarse_trials(hypermodel: Any, data: Any, directory: Any, trials: int) -> list[Any]:
    """The KerasTuner trials of a coarse search of `trials` trials of 1 epoch (val_loss)."""
    from tunekit import CoarseToFine

    run = CoarseToFine(
        hypermodel,
        data,
        directory=directory,
        project_name="coarse",
        objective="val_loss",
        coarse_trials=trials,
        coarse_epochs=1,
        max_epochs=2,
        seed=0,
        verbose=0,
    )
    run.coarse()
    found = list(run._tuner("coarse").oracle.trials.values())
    run.close()
    return found


@pytest.mark.parametrize(
    "compiled, lazy",
    [(True, False), (False, False), (True, True)],
    ids=["compiled", "own-loop", "no-Input"],
)
def test_a_trial_whose_tuned_output_reads_wrong_fails_before_it_trains(tmp_path, compiled, lazy):
    """Before: the compiled linear trial ranked by Keras's 0.5 threshold on logits won and
    was reported at 0.9328 where its own classes scored 0.9412 (exit 0); the uncompiled one
    was refused only at the evaluation, after the whole search; a model without `Input`
    (its output shape known once called) was checked on the defaults only. Then the
    linear trial stopped the whole search (`SearchInputError`); it fails now, before it
    trains, and the sigmoid trials are scored, as plain KerasTuner tunes them."""
    trials = _coarse_trials(_TunedOutput(compiled, lazy), _binary_data(), tmp_path, 6)
    reason = "thresholds the output at 0.5" if compiled else "activation is 'linear'"
    assert {t.hyperparameters["act"] for t in trials} == {"sigmoid", "linear"}
    for trial in trials:
        if trial.hyperparameters["act"] == "linear":
            assert trial.status == "FAILED"
            said = rf"values of trial id \d+, \{{'act': 'linear'\}}.*{reason}"
            assert re.search(rf"TrialRefusedError: .*{said}", trial.message), trial.message
            assert "epochs" not in trial.metrics.metrics  # before it trained
        else:
            assert trial.status == "COMPLETED", trial.message


def _two_outputs(metrics, bin_loss=None, activation=None):
    def build(hp):
        inputs = keras.Input((13,))
        hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4))(inputs)
        outputs = {
            "cls": keras.layers.Dense(3, activation="softmax", name="cls")(hidden),
            "bin": keras.layers.Dense(1, activation=activation, name="bin")(hidden),
        }
        model = keras.Model(inputs, outputs)
        losses = {"cls": "sparse_categorical_crossentropy", "bin": bin_loss}
        if bin_loss is None:
            losses["bin"] = keras.losses.BinaryCrossentropy(from_logits=activation is None)
        model.compile(optimizer="adam", loss=losses, metrics=metrics)
        return model

    return get_hypermodel(build)


@pytest.mark.parametrize(
    "metrics, activation, refused",
    [
        # Before, not checked: `bin_accuracy` 0.54 was reported where the logits gave 0.455.
        ({"cls": ["accuracy"], "bin": ["accuracy"]}, None, r"'bin' that outputs one logit.*'acc"),
        ({"bin": ["auc"]}, None, r"'bin' that outputs one logit.*'auc' reads the output as a prob"),
        ({"bin": [keras.metrics.Precision()]}, None, r"'Precision' thresholds the output"),
        ({"bin": [keras.metrics.BinaryAccuracy(threshold=0.0)]}, None, None),
        ({"cls": ["accuracy"]}, None, None),  # the softmax output's accuracy: argmax
        ({"cls": ["accuracy"], "bin": ["accuracy"]}, "sigmoid", None),  # a probability
    ],
)
def test_a_logit_output_among_several_is_checked_like_a_single_one(metrics, activation, refused):
    hypermodel = _two_outputs(metrics, activation=activation)
    _check(hypermodel, refused)


def test_a_metric_with_a_value_per_threshold_is_tuned_and_reported_per_threshold(tmp_path):
    """Plain KerasTuner tunes `Precision(thresholds=[0.3, 0.5, 0.7])`; in tunekit every
    trial failed in TensorBoard ("Expected scalar shape, saw shape: (3,)")."""
    from conftest import RUN_BUDGET
    from sklearn.metrics import precision_score
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tunekit import CoarseToFine

    thresholds = [0.3, 0.5, 0.7]
    data = _binary_data()
    hypermodel = _one_unit(
        "sigmoid",
        metrics=["accuracy", keras.metrics.Precision(thresholds=thresholds, name="precision")],
    )
    run = CoarseToFine(
        hypermodel, data, directory=tmp_path, project_name="p", **{**RUN_BUDGET, "top": 1.0}
    )
    tested = run.run().test_metrics
    model = keras.models.load_model(run.run_dir / "best_model.keras")
    scores = model.predict(data.x_test, verbose=0)[:, 0]
    for i, threshold in enumerate(thresholds):
        expected = precision_score(data.y_test, scores > threshold, zero_division=0)
        assert tested[f"precision/{i}"] == pytest.approx(expected, abs=1e-6)
    tags: set[str] = set()
    for events in (run.run_dir / "tensorboard" / "final").rglob("events.out.tfevents.*"):
        found = EventAccumulator(str(events)).Reload().Tags()
        tags |= set(found["scalars"]) | set(found.get("tensors", []))
    assert {"epoch_precision/0", "epoch_precision/2"} <= tags


def _unit_then(after, activation, loss, metric, functional):
    """One unit, then a layer that only moves its values (`after`), compiled with `loss`."""

    def build(hp):
        if functional:
            inputs = keras.Input((13,))
            model = keras.Model(
                inputs, after()(keras.layers.Dense(1, activation=activation)(inputs))
            )
        else:
            unit = keras.layers.Dense(1, activation=activation)
            model = keras.Sequential([keras.Input((13,)), unit, after()])
        model.compile(
            optimizer=hp.Choice("optimizer", ["adam", "sgd"]), loss=loss, metrics=[metric]
        )
        return model

    return get_hypermodel(build)


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
@pytest.mark.parametrize(
    "after",
    [
        lambda: keras.layers.Reshape((1,)),
        lambda: keras.layers.Flatten(),
        lambda: keras.layers.Dropout(0.1),
        lambda: keras.layers.Identity(),
        lambda: keras.layers.Activation("linear"),
    ],
    ids=["Reshape", "Flatten", "Dropout", "Identity", "Activation-linear"],
)
def test_the_unit_behind_a_layer_that_only_moves_values_is_judged(after, functional):
    # Before: the last layer (a Reshape) has no activation, so a sigmoid under a logit loss
    # was not refused, and 'accuracy' read at the logit threshold counted every sample class 1.
    logit_loss = keras.losses.BinaryCrossentropy(from_logits=True)
    _check(_unit_then(after, "sigmoid", logit_loss, "auc", functional), "never below 0")
    # A linear unit read as a probability by a probability cross-entropy.
    _check(_unit_then(after, None, "binary_crossentropy", "auc", functional), "can be below 0")
    _check(_unit_then(after, "sigmoid", "binary_crossentropy", "auc", functional), None)


def _three_classes(one_hot: bool) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 6)).astype("float32")
    y = np.argmax(x[:, :3], axis=1)
    return Dataset.from_arrays(x, keras.utils.to_categorical(y, 3) if one_hot else y, seed=0)


def _scores_per_class(metric, one_hot: bool):
    loss = "categorical_crossentropy" if one_hot else "sparse_categorical_crossentropy"

    def build(hp):
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax")])
        model.compile(
            optimizer=hp.Choice("optimizer", ["adam", "sgd"]), loss=loss, metrics=[metric()]
        )
        return model

    return get_hypermodel(build)


@pytest.mark.parametrize(
    "metric, one_hot, refused",
    [
        # Class ids: wrong numbers with exit 0 (on perfect predictions of 3 classes,
        # CategoricalAccuracy 0.30 and OneHotMeanIoU 0.10), or every trial failed.
        (lambda: keras.metrics.OneHotMeanIoU(num_classes=3), False, r"one-hot rows.*MeanIoU"),
        (lambda: keras.metrics.OneHotIoU(3, target_class_ids=[0]), False, r"one-hot rows.*IoU"),
        (keras.metrics.CategoricalAccuracy, False, r"SparseCategoricalAccuracy"),
        (lambda: "categorical_accuracy", False, r'"sparse_categorical_accuracy"'),
        (lambda: keras.metrics.TopKCategoricalAccuracy(k=2), False, r"SparseTopK"),
        (keras.metrics.CategoricalCrossentropy, False, r"SparseCategoricalCrossentropy"),
        (lambda: keras.metrics.F1Score(average="macro"), False, r"another metric.*to_categorical"),
        (keras.metrics.CategoricalHinge, False, r"one-hot rows"),
        (lambda: keras.metrics.MeanIoU(num_classes=3), False, r"sparse_y_pred=False"),
        # Per-element binary metrics against ids: Precision(class_id=3) scored 0.0 on a
        # model scikit-learn put at 1.0 (exit 0); AUC failed every trial after training.
        (lambda: keras.metrics.Precision(class_id=1), False, r"'Precision' takes one-hot"),
        (lambda: keras.metrics.Recall(class_id=1), False, r"'Recall' takes one-hot"),
        (keras.metrics.AUC, False, r"'AUC' takes one-hot"),
        (lambda: "auc", False, r"'auc' takes one-hot"),
        (lambda: keras.metrics.Precision(class_id=1), True, None),
        (lambda: keras.metrics.AUC(multi_label=True, num_labels=3), True, None),
        (lambda: keras.metrics.MeanIoU(3, sparse_y_pred=False), False, None),
        (keras.metrics.SparseCategoricalAccuracy, False, None),
        (lambda: keras.metrics.SparseTopKCategoricalAccuracy(k=2), False, None),
        (lambda: "accuracy", False, None),
        # One-hot rows: the sparse metrics failed every trial, MeanIoU scored 0.33.
        (keras.metrics.SparseCategoricalAccuracy, True, r"CategoricalAccuracy\(\)"),
        (lambda: "sparse_top_k_categorical_accuracy", True, r'"top_k_categorical_accuracy"'),
        (lambda: keras.metrics.MeanIoU(3, sparse_y_pred=False), True, r"sparse_y_true=False"),
        (lambda: keras.metrics.MeanIoU(3, sparse_y_true=False, sparse_y_pred=False), True, None),
        (lambda: keras.metrics.OneHotMeanIoU(num_classes=3), True, None),
        (lambda: keras.metrics.F1Score(average="macro"), True, None),
        (lambda: "accuracy", True, None),
    ],
)
def test_each_metric_of_a_score_per_class_output_takes_the_labels_form(metric, one_hot, refused):
    data = _three_classes(one_hot)
    hypermodel = _scores_per_class(metric, one_hot)
    if refused is None:
        check_model(hypermodel, data)
        return
    with pytest.raises(ModelCheckError, match=refused):
        check_model(hypermodel, data)


def test_keras_one_hot_iou_on_class_ids_is_really_wrong():
    """The refusal above is not about style: on perfect predictions of class ids, Keras's
    OneHotMeanIoU scores 0.10 and CategoricalAccuracy 0.30; the fixes score 1."""
    y = np.random.default_rng(0).integers(0, 3, 64)
    perfect = (np.eye(3)[y] * 0.8 + 0.2 / 3).astype("float32")
    scores = {}
    for name, metric in {
        "one_hot_mean_iou": keras.metrics.OneHotMeanIoU(num_classes=3),
        "categorical_accuracy": keras.metrics.CategoricalAccuracy(),
        "mean_iou_fix": keras.metrics.MeanIoU(num_classes=3, sparse_y_pred=False),
        "sparse_accuracy_fix": keras.metrics.SparseCategoricalAccuracy(),
    }.items():
        metric.update_state(y, perfect)
        scores[name] = float(metric.result())
    assert scores["one_hot_mean_iou"] < 0.5 and scores["categorical_accuracy"] < 0.5
    assert scores["mean_iou_fix"] == pytest.approx(1.0) and scores["sparse_accuracy_fix"] == 1.0


def test_each_output_s_metrics_take_its_labels_form():
    """A multi-output model's metrics given per output went unchecked: 'categorical_accuracy'
    on the class ids of one output reported 0.0 where scikit-learn gave 0.5733 (exit 0)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 6)).astype("float32")
    digit = np.argmax(x[:, :3], axis=1)
    data = Dataset.from_arrays(x, {"digit": digit, "even": (digit % 2 == 0).astype(int)}, seed=0)

    def hypermodel(digit_metrics):
        def build(hp):
            inputs = keras.Input((6,), name="x")
            hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(inputs)
            outputs = {
                "digit": keras.layers.Dense(3, activation="softmax", name="digit")(hidden),
                "even": keras.layers.Dense(1, activation="sigmoid", name="even")(hidden),
            }
            model = keras.Model(inputs, outputs)
            model.compile(
                optimizer="adam",
                loss={"digit": "sparse_categorical_crossentropy", "even": "binary_crossentropy"},
                metrics={"digit": digit_metrics, "even": ["accuracy"]},
            )
            return model

        return get_hypermodel(build)

    with pytest.raises(
        ModelCheckError,
        match=r"output 'digit' of one score per class.*"
        r"'categorical_accuracy' takes one-hot rows",
    ):
        check_model(hypermodel(["categorical_accuracy"]), data)
    with pytest.raises(ModelCheckError, match=r"'Precision' takes one-hot rows"):
        check_model(hypermodel([keras.metrics.Precision(class_id=2)]), data)
    check_model(hypermodel(["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=2)]), data)


def test_one_hot_rows_in_a_dict_y_are_named_as_such():
    """They were refused as "rows are not one-hot", which they were."""
    from tunekit.errors import DataError

    x = np.random.default_rng(0).normal(size=(60, 4)).astype("float32")
    ids = np.arange(60) % 3
    with pytest.raises(DataError, match=r"holds one-hot rows.*np\.argmax"):
        Dataset.from_arrays(x, {"digit": keras.utils.to_categorical(ids, 3), "b": ids % 2})


def _digit_and_even_data():
    """150 samples of 6 features: a 3-class `digit` and whether it is even, as a dict `y`."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 6)).astype("float32")
    digit = np.argmax(x[:, :3], axis=1)
    return Dataset.from_arrays(x, {"digit": digit, "even": (digit % 2 == 0).astype(int)}, seed=0)


def _digit_and_even(
    even_activation="sigmoid",
    even_loss="binary_crossentropy",
    even_metrics=(),
    after=None,
    losses_as_list=False,
    digit_loss="sparse_categorical_crossentropy",
    metrics=None,
):
    """A model of a 3-class `digit` output and a one-unit `even` one (`after` it: a layer).

    `metrics` (a dict of compile arguments) replaces `metrics={"digit": ["accuracy"],
    "even": even_metrics}`."""

    def build(hp):
        inputs = keras.Input((6,), name="x")
        hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(inputs)
        even = keras.layers.Dense(1, activation=even_activation, name="even_unit")(hidden)
        even = (after or keras.layers.Identity)(name="even")(even)
        digit = keras.layers.Dense(3, activation="softmax", name="digit")(hidden)
        model = keras.Model(inputs, {"digit": digit, "even": even})
        loss = {"digit": digit_loss, "even": even_loss}
        model.compile(
            optimizer="adam",
            loss=[loss[name] for name in model.output_names] if losses_as_list else loss,
            **(metrics or {"metrics": {"digit": ["accuracy"], "even": list(even_metrics)}}),
        )
        return model

    return get_hypermodel(build)


@pytest.mark.parametrize(
    "activation, loss, metrics, after, refused",
    [
        # Each of these was accepted for one output of several (or refused with a fix that
        # gave every sample class 1), where the same unit alone was refused.
        ("sigmoid", keras.losses.BinaryCrossentropy(from_logits=True), [], None, "never below"),
        ("relu", "hinge", ["accuracy"], None, "never below"),
        (None, "binary_crossentropy", [], None, "'even' that outputs one unit.*can be below 0"),
        ("tanh", "binary_crossentropy", ["auc"], None, "can be below 0"),
        ("softsign", "binary_crossentropy", [], None, "'softsign' activation, which can be"),
        (
            "sigmoid",
            "binary_crossentropy",
            [keras.metrics.BinaryAccuracy(threshold=0.0)],
            None,
            r"one probability.*threshold=0.5",
        ),
        (
            "sigmoid",
            "binary_crossentropy",
            ["accuracy"],
            lambda name: keras.layers.Reshape((), name=name),
            r"shape \(n,\).*categorical accuracy.*\{'even': \[keras\.metrics\.BinaryAccuracy",
        ),
        (None, "hinge", ["accuracy"], None, r"one logit.*threshold=0\.0"),
        (None, keras.losses.BinaryCrossentropy(from_logits=True), ["accuracy"], None, "0\\.0"),
        # What is right stays accepted.
        ("sigmoid", "binary_crossentropy", ["accuracy", "auc"], None, None),
        (
            None,
            keras.losses.BinaryCrossentropy(from_logits=True),
            [keras.metrics.BinaryAccuracy(threshold=0.0), keras.metrics.AUC(from_logits=True)],
            None,
            None,
        ),
        ("tanh", "hinge", [keras.metrics.BinaryAccuracy(threshold=0.0)], None, None),
    ],
)
@pytest.mark.parametrize("losses_as_list", [False, True], ids=["loss-dict", "loss-list"])
def test_each_one_unit_output_is_read_as_its_own_loss_and_layer_say(
    activation, loss, metrics, after, refused, losses_as_list
):
    data = _digit_and_even_data()
    hypermodel = _digit_and_even(activation, loss, metrics, after, losses_as_list)
    if refused is None:
        check_model(hypermodel, data)
        return
    with pytest.raises(ModelCheckError, match=refused):
        check_model(hypermodel, data)


@pytest.mark.parametrize("losses_as_list", [False, True], ids=["loss-dict", "loss-list"])
@pytest.mark.parametrize(
    "digit_loss, refused",
    [
        ("categorical_crossentropy", r"output 'digit'.*takes one-hot rows.*class ids"),
        (keras.losses.CategoricalCrossentropy(), r'\{.digit.: "sparse_categorical_crossentropy"\}'),
        (keras.losses.categorical_crossentropy, r"output 'digit'"),
        ("sparse_categorical_crossentropy", None),
        (keras.losses.SparseCategoricalCrossentropy(), None),
    ],
)
def test_each_output_s_loss_takes_its_labels_form(digit_loss, refused, losses_as_list):
    """A categorical cross-entropy on one output's class ids failed every trial, after
    training began, with Keras's shape error naming no output."""
    hypermodel = _digit_and_even(losses_as_list=losses_as_list, digit_loss=digit_loss)
    if refused is None:
        check_model(hypermodel, _digit_and_even_data())
        return
    with pytest.raises(ModelCheckError, match=refused):
        check_model(hypermodel, _digit_and_even_data())


def test_a_fix_names_the_compile_argument_the_metric_came_from():
    """The fix for a metric given in `weighted_metrics=` said `metrics=`."""

    def single(hp):
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(hp.Int("u", 1, 1))])
        model.compile(
            loss=keras.losses.BinaryCrossentropy(from_logits=True), weighted_metrics=["auc"]
        )
        return model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 6)).astype("float32")
    with pytest.raises(ModelCheckError, match=r"weighted_metrics=\[keras\.metrics\.AUC"):
        check_model(get_hypermodel(single), Dataset.from_arrays(x, (x[:, 0] > 0).astype(int)))

    def several(hp):
        inputs = keras.Input((6,), name="x")
        hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(inputs)
        big = keras.layers.Dense(1, name="big")(hidden)
        digit = keras.layers.Dense(3, activation="softmax", name="digit")(hidden)
        model = keras.Model(inputs, {"digit": digit, "big": big})
        model.compile(
            loss={
                "digit": "sparse_categorical_crossentropy",
                "big": keras.losses.BinaryCrossentropy(from_logits=True),
            },
            metrics={"big": [keras.metrics.BinaryAccuracy(threshold=0.0)]},
            weighted_metrics={"big": [keras.metrics.AUC()]},
        )
        return model

    digit = np.argmax(x[:, :3], axis=1)
    data = Dataset.from_arrays(x, {"digit": digit, "big": (digit == 2).astype(int)}, seed=0)
    with pytest.raises(ModelCheckError, match=r"weighted_metrics=\{'big': \[keras\.metrics\.AUC"):
        check_model(get_hypermodel(several), data)


def test_an_objective_a_model_of_several_outputs_never_reports_is_refused_before_training(
    tmp_path,
):
    """The default `val_accuracy` of a model whose metrics Keras names by output
    (`val_digit_accuracy`) was found missing only after the first trial had trained."""
    from tunekit import CoarseToFine

    data = _digit_and_even_data()
    hypermodel = _digit_and_even(even_metrics=["accuracy"])

    def run(**kwargs):
        return CoarseToFine(hypermodel, data, directory=str(tmp_path), project_name="p", **kwargs)

    with pytest.raises(  # each output's accuracy is as close: both are named
        ModelCheckError,
        match=r"'val_accuracy'.*Did you mean 'val_digit_accuracy' or 'val_even_accuracy'\?",
    ):
        run().check_model()
    assert not (tmp_path / "p" / "coarse").exists()  # no trial ran
    with pytest.raises(ModelCheckError, match=r"'val_digit_auc' is not among"):
        run(objective="val_digit_auc").check_model()
    run(objective="val_digit_accuracy").check_model()
    run(objective="val_loss").check_model()
    run(objective=["val_digit_accuracy", "val_even_accuracy"]).check_model()


def test_an_objective_a_model_of_one_output_never_reports_is_refused_before_training(
    tmp_path,
):
    """`objective="val_auc"` for a model compiled with `metrics=["accuracy"]`: refused by
    the first trial only, after it trained (on the command line, probes' `--objective
    val_auc`). Now refused before any trial, with the metrics the model reports. An
    objective the model reports, of the loss alone (no build), or that a callback of the
    user's may write into the logs (as KerasTuner allows), is not refused."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    from tunekit import CoarseToFine

    x, y = load_breast_cancer(return_X_y=True)
    data = Dataset.from_arrays(StandardScaler().fit_transform(x).astype("float32"), y, seed=0)
    builds = []

    def build(hp, metrics=("accuracy",)):
        builds.append(1)
        model = keras.Sequential(
            [
                keras.Input((30,)),
                keras.layers.Dense(hp.Int("units", 2, 4), activation="relu"),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=list(metrics))
        return model

    def run(hypermodel=build, **kwargs):
        return CoarseToFine(hypermodel, data, directory=str(tmp_path), project_name="p", **kwargs)

    with pytest.raises(ModelCheckError) as info:
        run(objective=kt.Objective("val_auc", "max")).check_model()
    message = str(info.value)
    assert message.startswith(
        "The objective 'val_auc' is not among the metrics the model "
        "reports, ['accuracy', 'loss', 'val_accuracy', 'val_loss']"
    )
    assert "compile the model with the metric you mean" in message
    assert not (tmp_path / "p" / "coarse").exists()  # no trial ran
    with pytest.raises(ModelCheckError, match=r"'val_auc_1' is not among"):  # exactly
        run(objective=kt.Objective("val_auc_1", "max")).check_model()
    with_auc = functools.partial(build, metrics=("accuracy", keras.metrics.AUC()))
    run(with_auc, objective=kt.Objective("val_auc", "max")).check_model()
    run(objective="val_accuracy").check_model()
    del builds[:]
    from tunekit.steps.check import check_objective_reported

    check_objective_reported(get_hypermodel(build), data, ["val_loss"])
    # a training name may be a key a train_step of the user's adds: the first trial's
    check_objective_reported(get_hypermodel(build), data, ["gnorm", "loss"])
    assert not builds  # the loss is always reported: nothing built
    upper = functools.partial(build, metrics=("AUC",))  # Keras names it 'AUC'
    with pytest.raises(ModelCheckError, match=r"Did you mean 'val_AUC'\?"):
        run(upper, objective=kt.Objective("val_auc", "max")).check_model()
    # The closest name of the objective's direction: `val_top3:max` was pointed to val_loss.
    for objective, said in [
        (kt.Objective("val_top3", "max"), "samples). Choose one of those"),  # none close
        (kt.Objective("val_lossy", "max"), "samples). Choose one of those"),
        (kt.Objective("val_lossy", "min"), "Did you mean 'val_loss'?"),
        (kt.Objective("val_acuracy", "max"), "Did you mean 'val_accuracy'?"),
    ]:
        with pytest.raises(ModelCheckError, match=rf"'{objective.name}' is not among") as info:
            run(objective=objective).check_model()
        assert said in str(info.value), (objective, str(info.value))

    class WritesAuc(keras.callbacks.Callback):  # the objective from a callback of one's own
        def on_epoch_end(self, epoch, logs=None):
            logs["val_auc"] = 0.5

    run(objective=kt.Objective("val_auc", "max"), callbacks=[WritesAuc()]).check_model()


@pytest.mark.parametrize("key", ["metrics", "weighted_metrics"])
def test_metrics_as_a_list_for_outputs_as_a_dict_are_refused_before_training(key):
    """Keras compiles it, then every trial failed: "Expected an instance of dict ... got
    ('accuracy',)", with no fix."""
    data = _digit_and_even_data()
    hypermodel = _digit_and_even(metrics={key: ["accuracy"]})
    with pytest.raises(ModelCheckError, match=rf"its {key} are a list.*{key}=\{{'digit'"):
        check_model(hypermodel, data)
    # Keras itself fails on it, as the message says.
    model = hypermodel.build(kt.HyperParameters())
    x, y = data.x_train[:8], {name: labels[:8] for name, labels in data.y_train.items()}
    with pytest.raises(ValueError, match="Expected an instance of dict"):
        model.fit(x, y, verbose=0)


def test_a_loss_keras_cannot_serialise_is_tuned_with_a_weights_only_file():
    """Found by a helper: a model compiled with a callable dataclass loss (or a
    functools.partial of a method) was refused before training, which plain KerasTuner
    tunes. Its file now holds its weights, restored by the build, and the note says why."""
    import dataclasses
    import functools

    from tunekit.errors import ModelSaveError
    from tunekit.steps.check import check_round_trip

    @dataclasses.dataclass(eq=False)
    class ScaledMSE:
        scale: float = 1.0

        def __call__(self, y_true, y_pred):
            return self.scale * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)

    class Scaler:
        def loss(self, y_true, y_pred, extra=1.0):
            return extra * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)

    for loss in (ScaledMSE(2.0), functools.partial(Scaler().loss, extra=2.0)):

        def build(loss=loss):
            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
            model.compile(optimizer="adam", loss=loss)
            return model

        note = check_round_trip(build(), build)
        assert note is not None and "holds its weights only: Keras cannot save the model" in note
        assert "Cannot serialize" in note and "model.load_weights(path)" in note
        with pytest.raises(ModelSaveError):  # without a build to restore it: refused
            check_round_trip(build())


# -- a dict y keyed otherwise than the model's outputs -----------------------------------


def _named_outputs(output_form):
    """A build whose two outputs are named `prog` and `high`: a dict of outputs, a list."""

    def build(hp):
        inputs = keras.Input((4,), name="features")
        hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(inputs)
        prog = keras.layers.Dense(1, name="prog")(hidden)
        high = keras.layers.Dense(1, activation="sigmoid", name="high")(hidden)
        outputs = {"prog": prog, "high": high} if output_form == "dict" else [prog, high]
        model = keras.Model(inputs, outputs)
        model.compile("adam", loss={"prog": "mse", "high": "binary_crossentropy"})
        return model

    return build


def _keyed_data(keys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    arrays = {"prog": x[:, 0], "high": (x[:, 1] > 0).astype("int64"), "extra": x[:, 2]}
    y = {key: arrays.get(key, x[:, 3]) for key in keys}
    return Dataset.from_arrays(x, y, task="regression", seed=0)


@pytest.mark.parametrize("output_form", ["dict", "list"])
@pytest.mark.parametrize(
    "keys, said",
    [
        (("progress", "high"), "no targets for ['prog']; no output named ['progress']"),
        (("prog",), "no targets for ['high']"),
        (("prog", "high", "extra"), "no output named ['extra']"),
    ],
)
def test_a_dict_y_keyed_otherwise_than_the_outputs_is_refused_before_training(
    output_form, keys, said
):
    """Before, every trial failed at its first batch with Keras's "Expected float32, but got
    progress of type 'str'", and the search stopped advising more failures in a row."""
    with pytest.raises(ModelCheckError, match="outputs \\['high', 'prog'\\]") as caught:
        check_model(get_hypermodel(_named_outputs(output_form)), _keyed_data(keys))
    assert said in str(caught.value)
    assert "key y by the names of the model's outputs" in str(caught.value)


@pytest.mark.parametrize("output_form", ["dict", "list"])
def test_a_dict_y_keyed_by_the_outputs_names_passes_and_trains(output_form):
    data = _keyed_data(("high", "prog"))
    hypermodel = get_hypermodel(_named_outputs(output_form))
    check_model(hypermodel, data)
    model = hypermodel.build(kt.HyperParameters())
    model.fit(data.x_train, data.y_train, epochs=1, verbose=0)  # Keras agrees


def test_a_dict_y_for_a_model_of_one_output_is_refused_with_both_fixes():
    def build(hp):
        inputs = keras.Input((4,))
        model = keras.Model(inputs, keras.layers.Dense(1, name="prog")(inputs))
        model.compile("adam", "mse")
        return model

    data = _keyed_data(("prog",))
    with pytest.raises(ModelCheckError, match="has one output, not a dict of outputs"):
        check_model(get_hypermodel(build), data)
    with pytest.raises(TypeError, match="Expected float32"):  # what Keras says in each trial
        build(None).fit(data.x_train, data.y_train, epochs=1, verbose=0)


def test_a_streams_dict_y_is_checked_by_the_same_rule():
    import tensorflow as tf

    from tunekit.data import StreamData

    x = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    y = {"progress": x[:, 0], "high": (x[:, 1] > 0).astype("float32")}
    stream = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    data = StreamData(*three_splits(stream), task="regression", fingerprint="keys-v1")
    with pytest.raises(ModelCheckError, match="no output named \\['progress'\\]"):
        check_model(get_hypermodel(_named_outputs("dict")), data)


def test_an_output_without_a_loss_needs_no_targets_in_a_dict_y():
    """Before, an extra output Keras trains without (an embedding, no loss) was refused as
    "no targets for ['embedding'] ... no trial could run", though Keras fits it."""

    def build(hp):
        inputs = keras.Input((4,))
        embedding = keras.layers.Dense(2, name="embedding")(inputs)
        model = keras.Model(
            inputs, {"prog": keras.layers.Dense(1)(embedding), "embedding": embedding}
        )
        model.compile("adam", loss={"prog": "mse"})
        return model

    data = _keyed_data(("prog",))
    check_model(get_hypermodel(build), data)
    build(None).fit(data.x_train, data.y_train, epochs=1, verbose=0)  # Keras agrees


def test_an_output_with_metrics_but_no_targets_is_refused():
    """An output without a loss but with metrics of its own needs its targets: Keras fails
    every trial with KeyError: 'embedding' (second retry)."""

    def build(hp):
        inputs = keras.Input((4,))
        embedding = keras.layers.Dense(2, name="embedding")(inputs)
        outputs = {"prog": keras.layers.Dense(1)(embedding), "embedding": embedding}
        model = keras.Model(inputs, outputs)
        model.compile("adam", loss={"prog": "mse"}, metrics={"embedding": ["mae"]})
        return model

    with pytest.raises(ModelCheckError, match=r"no targets for \['embedding'\]"):
        check_model(get_hypermodel(build), _keyed_data(("prog",)))


def _ids_model(dtype, named=False):
    """A model on IDs beyond 2**24: one `Input` of `dtype`, or a dict `{"ids", "v"}`."""

    def build(hp):
        ids = keras.Input((1,), dtype=dtype, name="ids")
        vocabulary = (2**40 if dtype == "int64" else 2**30) + np.arange(50)
        if dtype == "float32":
            h = keras.layers.Dense(hp.Int("units", 2, 4))(ids)
        else:
            lookup = keras.layers.IntegerLookup(vocabulary=vocabulary, output_mode="one_hot")
            h = lookup(keras.ops.reshape(ids, (-1,)))
        inputs = ids
        if named:
            v = keras.Input((2,), name="v")
            inputs, h = {"ids": ids, "v": v}, keras.layers.Concatenate()([h, v])
        model = keras.Model(inputs, keras.layers.Dense(1)(h))
        model.compile(optimizer="adam", loss="mse")
        return model

    return get_hypermodel(build)


@pytest.mark.parametrize("named, dtype", [(False, "int64"), (True, "int64"), (False, "int32")])
def test_ids_a_float32_input_merges_are_refused_and_an_integer_input_takes_them(named, dtype):
    """64-bit IDs beyond 2**24 are kept as given (`Dataset.from_arrays`), and Keras casts
    them to the `Input`'s dtype: a float32 input made the 50 IDs `2**40 + k` one value, and
    every trial trained on it with nothing said. An int64 input (an IntegerLookup) keeps
    them, and passes. int32 IDs beyond 2**24 are kept as given too."""
    rng = np.random.default_rng(0)
    start = 2**40 if dtype == "int64" else 2**30
    ids = (start + rng.integers(0, 50, 140)).reshape(-1, 1).astype(dtype)
    x = {"ids": ids, "v": rng.random((140, 2))} if named else ids
    data = Dataset.from_arrays(x, rng.random(140), task="regression", seed=0)
    where = r"x_train\['ids'\]" if named else "x_train"
    with pytest.raises(ModelCheckError) as caught:
        check_model(_ids_model("float32", named), data)
    message = str(caught.value)
    assert re.search(
        where + r"'s column 0 holds whole numbers beyond 2\*\*24 .* keras\.Input 'ids' of "
        r"dtype float32: Keras casts them to float32, where \d+ distinct values become 1,",
        message,
    ), message
    assert "dtype='int64'" in message
    check_model(_ids_model(dtype, named), data)
    # Whole float64 IDs: Keras casts a float64 array to float32 before any Input, an int64
    # one too (test accuracy 0.52 against 1.0 as int64, with exit 0): refused for it.
    floats = {"ids": ids.astype(float), "v": x["v"]} if named else ids.astype(float)
    floated = Dataset.from_arrays(floats, rng.random(140), task="regression", seed=0)
    with pytest.raises(ModelCheckError, match=r"as float64, and .* keras\.Input 'ids' of dtype "):
        check_model(_ids_model(dtype, named), floated)
    with pytest.raises(ModelCheckError, match=r"float32, where \d+ distinct .*ids\.astype\("):
        check_model(_ids_model("float32", named), floated)
    # Wide-ranging integers (cents up to 1e10) a float32 input rounds by a millionth of
    # their spread: taken, as Keras takes them.
    cents = rng.integers(10**9, 10**10, 140).reshape(-1, 1)
    x = {"ids": cents, "v": rng.random((140, 2))} if named else cents
    check_model(_ids_model("float32", named), Dataset.from_arrays(x, rng.random(140), seed=0))


def test_a_streams_whole_numbers_float32_merges_are_refused_before_training() -> None:
    """A tf.data stream's int64 IDs into a float32 `Input`, or its int64 timestamps as
    regression targets (the loss computes in float32, 128 s apart there), trained on other
    values than the stream's with exit 0. Its first batch is checked as arrays are."""
    import tensorflow as tf
    from conftest import three_splits

    from tunekit.data import StreamData

    rng = np.random.default_rng(0)
    ids = (2**40 + rng.integers(0, 50, 96)).reshape(-1, 1)
    stamps = 1_700_000_000 + np.sort(rng.choice(86400, 96, replace=False))
    for x, y, dtype, refused in [
        (ids, rng.random(96), "float32", r"the stream's first batch's column 0 holds whole "),
        (ids, rng.random(96), "int64", None),
        (rng.random((96, 1)), stamps, "float32", r"the stream's y holds whole numbers beyond"),
    ]:
        stream = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
        data = StreamData(*three_splits(stream), fingerprint=f"p-{dtype}", task="regression")
        if refused is None:
            check_model(_ids_model(dtype), data)
            continue
        with pytest.raises((ModelCheckError, DataError), match=refused) as caught:
            check_model(_ids_model(dtype), data)
        assert "ds.map(lambda x, y:" in str(caught.value)


def test_int32_targets_beyond_2_24_that_float32_merges_are_refused() -> None:
    """int32 holds whole numbers beyond 2**24 as int64 does; as regression targets they
    were converted to float32, 30 distinct values becoming fewer, with exit 0."""
    y = (2**30 + np.arange(30) * 7).astype("int32")
    with pytest.raises(DataError, match=r"y holds whole numbers beyond 2\*\*24 .* 30 distinct"):
        Dataset.from_arrays(np.arange(60.0).reshape(30, 2), y, task="regression")


def _dict_heads(digit_units, odd_units=1, task_loss="sparse_categorical_crossentropy"):
    """A model of the outputs `digit` (softmax of `digit_units`, or an `hp.Choice` of them)
    and `odd` (one sigmoid unit, or `odd_units` softmax units)."""

    def build(hp):
        inputs = keras.Input((64,), name="pix")
        hidden = keras.layers.Dense(8, activation="relu")(inputs)
        units = hp.Choice("units", digit_units) if isinstance(digit_units, list) else digit_units
        odd = "sigmoid" if odd_units == 1 else "softmax"
        model = keras.Model(
            inputs,
            {
                "digit": keras.layers.Dense(units, activation="softmax", name="digit")(hidden),
                "odd": keras.layers.Dense(odd_units, activation=odd, name="odd")(hidden),
            },
        )
        odd_loss = "binary_crossentropy" if odd_units == 1 else "sparse_categorical_crossentropy"
        model.compile("adam", loss={"digit": task_loss, "odd": odd_loss})
        return model

    return get_hypermodel(build)


@pytest.mark.parametrize(
    "digit_units, odd_units, task, refused",
    [
        # JAX: a test accuracy of 0.59 for 3 classes on 2 units, "3 classes" said (exit 0).
        (5, 1, "classification", r"y_train\['digit'\] holds class ids up to 9, but the model's "),
        (10, 1, "classification", None),
        (12, 2, "classification", None),  # wider than its ids: a class may have no samples
        (10, 1, "regression", None),  # mixed kinds under task='regression': ids as given
        (4, 1, "regression", r"output 'digit' tells 4 classes apart \(class ids 0\.\.3"),
    ],
)
def test_each_output_of_a_dict_y_must_tell_its_class_ids_apart(
    digit_units, odd_units, task, refused
):
    """A dict `y`'s output narrower than its class ids trained on JAX, one-hot encoding the
    ids beyond it to zeros: a model that can never predict those classes was chosen and
    its test accuracy reported with exit 0 (TensorFlow failed every trial instead). Each
    output compiled with a cross-entropy is checked against every split's ids."""
    from sklearn.datasets import load_digits

    x, digit = load_digits(return_X_y=True)
    y = {"digit": digit, "odd": digit % 2}
    data = Dataset.from_arrays(
        x[:600].astype("float32") / 16, {k: v[:600] for k, v in y.items()}, task=task, seed=0
    )
    hypermodel = _dict_heads(digit_units, odd_units)
    if refused is None:
        check_model(hypermodel, data)
        return
    with pytest.raises(OutputShapeError, match=refused) as caught:
        check_model(hypermodel, data)
    said = str(caught.value)
    assert "End output 'digit' in Dense(10) (one unit per class)" in said, said
    assert ("pass task='regression'" in said) == (task == "classification"), said


def test_a_trial_whose_dict_output_is_too_narrow_fails_before_it_trains(tmp_path):
    """Each trial's model goes through the same check: a tuned 5-unit `digit` head fails
    its trial before training; the 10-unit trials are scored."""
    from sklearn.datasets import load_digits

    x, digit = load_digits(return_X_y=True)
    data = Dataset.from_arrays(
        x[:400].astype("float32") / 16, {"digit": digit[:400], "odd": digit[:400] % 2}, seed=0
    )
    trials = _coarse_trials(_dict_heads([10, 5]), data, tmp_path, 4)
    assert {t.hyperparameters["units"] for t in trials} == {10, 5}
    for trial in trials:
        if trial.hyperparameters["units"] == 5:
            assert trial.status == "FAILED"
            assert "holds class ids up to 9" in trial.message, trial.message
            assert "epochs" not in trial.metrics.metrics  # before it trained
        else:
            assert trial.status == "COMPLETED", trial.message


def test_an_output_wider_than_the_classes_is_told_about_num_classes():
    """A softmax of 5 units on labels 0..2 is refused (plain KerasTuner trains it, with
    classes no sample has): the refusal says the way tunekit takes that too, num_classes."""
    from sklearn.datasets import load_wine

    x, y = load_wine(return_X_y=True)

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((13,)),
                keras.layers.Dense(hp.Int("units", 2, 4)),
                keras.layers.Dense(5, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy")
        return model

    with pytest.raises(
        OutputShapeError,
        match=r"outputs 5 units per sample but the data has 3 .*"
        r"If the data has 5 classes, some with no samples here, pass num_classes=5",
    ):
        check_model(get_hypermodel(build), Dataset.from_arrays(x.astype("float32"), y, seed=0))
    check_model(get_hypermodel(build), Dataset.from_arrays(x.astype("float32"), y, num_classes=5))
