"""The evaluate step: the saved model on the untouched test set, and the run's report."""

from __future__ import annotations

import time

import keras

from tunekit import interrupts
from tunekit.data.streams import StreamData, predict_stream
from tunekit.outputs import predict_classes, predicted_classes, uses_logits
from tunekit.report import write_report
from tunekit.steps.base import RunContext
from tunekit.steps.retrain import BEST_MODEL

__all__ = ["REPORT_FILES", "EvaluateStep"]

REPORT_FILES = ("report.json", "report.md", "trials.csv")


class EvaluateStep:
    """Evaluates `best_model.keras`, loaded back, on the test set; writes the report.

    The model is loaded with `safe_mode=True`, so the reported test metrics
    are those of the file a user gets. Writes `trials.csv`, `report.json`,
    `report.md`, the plots and TensorBoard's final images. Its product is the
    test metrics (the manifest keeps them).
    """

    name = "evaluate"
    requires: tuple[str, ...] = ("retrain",)
    outputs: tuple[str, ...] = REPORT_FILES

    def ensure(self, ctx: RunContext) -> dict[str, float]:
        """Evaluates (unless done) and returns the test metrics."""
        manifest = ctx.manifest
        ctx.ensure("retrain")
        if not manifest.is_done(self.name):
            interrupts.check()
            start = time.perf_counter()
            model = keras.models.load_model(ctx.run_dir / BEST_MODEL, safe_mode=True)
            batch_size = max(ctx.batch_size, 256)
            if isinstance(ctx.data, StreamData):
                metrics = model.evaluate(ctx.data.test, return_dict=True, verbose=0)
            else:
                metrics = model.evaluate(
                    ctx.data.x_test,
                    ctx.data.y_test,
                    batch_size=batch_size,
                    return_dict=True,
                    verbose=0,
                )
            manifest.mark(
                self.name, "running", test_metrics={k: float(v) for k, v in metrics.items()}
            )
            if isinstance(ctx.data, StreamData):  # batch by batch; y from the same batches
                y_true, outputs = predict_stream(model, ctx.data.test)
                y_pred = (
                    predicted_classes(outputs, from_logits=uses_logits(model))
                    if ctx.data.task == "classification"
                    else outputs
                )
                ctx.data.record_test(y_true, y_pred)
            else:
                y_pred = predict_classes(model, ctx.data.x_test, batch_size=batch_size)
            write_report(ctx, model, y_pred, distributed=ctx.runner.facts())
            interrupts.check()  # the report may be partial: a rerun writes it again
            manifest.mark(self.name, "done", seconds=round(time.perf_counter() - start, 2))
        return dict(manifest.step(self.name)["test_metrics"])
