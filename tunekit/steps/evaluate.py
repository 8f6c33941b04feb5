"""The evaluate step: the saved model on the untouched test set, and the run's report."""

from __future__ import annotations

import logging
import time
from typing import Any

import keras
import numpy as np

from tunekit import interrupts
from tunekit.data._targets import several_outputs
from tunekit.data.batches import test_batch_size
from tunekit.data.streams import StreamData
from tunekit.errors import PredictionsNotFiniteError
from tunekit.model_files import file_alone_note, load_saved_model
from tunekit.outputs import predict_test_set
from tunekit.replacing import FINAL_LOGS, set_aside
from tunekit.report import write_report
from tunekit.steps.base import RunContext, chosen_hyperparameters, test_metrics
from tunekit.steps.reproduced import reproduced_note
from tunekit.steps.retrain import BEST_MODEL, select

_logger = logging.getLogger(__name__)

__all__ = ["REPORT_FILES", "EvaluateStep", "test_predictions"]

REPORT_FILES = ("report.json", "report.md", "trials.csv")


def test_predictions(ctx: RunContext, model: keras.Model, batch_size: int) -> np.ndarray | None:
    """What the report scores: predicted class ids (classification) or values (regression).

    A stream's labels, read from the same batches, are recorded as its
    `y_test` (`StreamData.record_test`).

    Returns:
        Class ids of shape `(n,)`; regression predictions of shape `(n, k)`
        (`(n,)` for targets of shape `(n,)`); `None` for a model with several
        outputs (a dict `y`), which the report scores by Keras's metrics only.
    """
    if several_outputs(ctx.data):
        return None
    y_true, y_pred = predict_test_set(model, ctx.data, batch_size=batch_size)
    if isinstance(ctx.data, StreamData):
        ctx.data.record_test(y_true, y_pred)
    return y_pred


class EvaluateStep:
    """Evaluates `best_model.keras`, loaded back, on the test set; writes the report.

    The model is loaded with `safe_mode=True`, so the reported test metrics
    are those of the file a user gets: Keras's `model.evaluate` metrics and,
    for regression, `mse`, `mae`, `rmse` and `r2` of `model.predict` by
    scikit-learn (`tunekit.regression.regression_metrics`; beside a metric of the
    model's own of the same name, under `sklearn_<name>`). Writes `trials.csv`, `report.json`,
    `report.md`, the plots and TensorBoard's final images. Its product is the
    test metrics (the manifest keeps them).
    """

    name = "evaluate"
    outputs: tuple[str, ...] = REPORT_FILES

    def __init__(self, requires: tuple[str, ...] = ("retrain",)) -> None:
        """`requires`: the steps run first, in order (the retrain, and the
        final seeds and baseline when the run has them, which the report
        compares with). Defaults to the retrain only."""
        self.requires = requires

    def ensure(self, ctx: RunContext) -> dict[str, float]:
        """Evaluates (unless done) and returns the test metrics.

        Raises:
            ValueError: Regression predictions hold NaN or infinite values.
        """
        manifest = ctx.manifest
        for name in self.requires:
            ctx.ensure(name)
        if not manifest.is_done(self.name):
            interrupts.check()
            start = time.perf_counter()
            drift: list[str] = []  # the file loads alone with other compiled numbers
            model = load_saved_model(
                ctx.run_dir / BEST_MODEL,
                ctx.hypermodel,
                lambda: chosen_hyperparameters(ctx),
                ctx.data,
                notes=drift,
            )
            batch_size = test_batch_size(ctx.data, ctx.batch_size)  # whole batches
            y_pred = test_predictions(ctx, model, batch_size)
            metrics: dict[str, Any] = test_metrics(ctx, model, batch_size, y_pred)
            retrain = manifest.step("retrain")  # its model on the validation split it trained on
            ctx.reproduced_note = None
            if not (retrain.get("x_note") or retrain.get("y_changed")):  # (noted otherwise)
                epochs = retrain.get("final_epochs")
                ctx.reproduced_note = reproduced_note(ctx, model, select(ctx).trial, epochs)
            if ctx.reproduced_note:
                _logger.warning("%s", ctx.reproduced_note)
            # seconds: the evaluation so far, for the report's time split
            seconds = round(time.perf_counter() - start, 2)
            manifest.mark(self.name, "running", test_metrics=metrics, seconds=seconds)
            # What loading the file alone needs, from the file: a rerun that only reports says it.
            ctx.model_file_note = (
                drift[0]
                if drift
                else file_alone_note(ctx.run_dir / BEST_MODEL, ctx.model_file_note)
            )
            images = ctx.run_dir / FINAL_LOGS / "test"
            if images.exists():  # an earlier report's images (this one was not finished)
                set_aside(
                    ctx.run_dir,
                    [f"{FINAL_LOGS}/test"],
                    {"why": "the report was written again", "steps": [self.name]},
                )
            write_report(
                ctx,
                model,
                y_pred,
                distributed=ctx.runner.facts(),
                started=start,
                score=lambda other: _baseline_metrics(ctx, other, batch_size),
            )
            interrupts.check()  # the report may be partial: a rerun writes it again
            manifest.mark(self.name, "done", seconds=round(time.perf_counter() - start, 2))
        return dict(manifest.step(self.name)["test_metrics"])


def _baseline_metrics(ctx: RunContext, model: keras.Model, batch_size: int) -> dict[str, float]:
    """`test_metrics` of the baseline's model, a refusal of its NaN said of it."""
    try:
        return test_metrics(ctx, model, batch_size)
    except PredictionsNotFiniteError as e:
        raise e.about(
            "The baseline model (baseline_model.keras: the default configuration, which the "
            "report compares best_model.keras with; --no-baseline / baseline=False leaves it "
            "out)"
        ) from None
