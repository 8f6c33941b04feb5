"""A search run again (its folder gone) runs the steps recorded in the manifest alone again.

Found by a new-user probe: after deleting `fine/` of a finished run with finalists (as the
corrupt-`trial.json` advice says), the rerun said "running fine, retrain, baseline,
evaluate again": the finalists' pick among the old fine trials was kept, and the
retrain would train it even when the new fine search picked another configuration.
"""

from __future__ import annotations

from tunekit.manifest import RunManifest
from tunekit.steps import coarse_to_fine_steps, outputs_missing


def _finished(tmp_path):
    steps = coarse_to_fine_steps(finalists=2, final_seeds=2, baseline=False)
    manifest = RunManifest.open(tmp_path / "r", {"seed": 0})
    for step in steps:
        manifest.mark(step.name, "done", seconds=1.0)
        for name in step.outputs:
            path = manifest.path.parent / name
            if "." in name:
                path.write_text('{"a": 1}' if name.endswith(".json") else "a,b\n1,2\n")
            else:
                path.mkdir(exist_ok=True)
    manifest.mark("finalists", "done", pick={"phase": "fine", "trial_id": "0"}, finalists=[1])
    manifest.mark("final_seeds", "done", seeds={"1": 0.9})
    return steps, manifest


def test_a_search_run_again_starts_the_finalists_and_final_seeds_afresh(tmp_path):
    steps, manifest = _finished(tmp_path)
    (manifest.path.parent / "fine").rmdir()
    missing, redo = outputs_missing(steps, manifest, manifest.path.parent)
    assert missing == ["fine"]
    assert redo[:3] == ["fine", "finalists", "retrain"] and "final_seeds" in redo
    assert manifest.step("finalists") == {"status": "running"}  # no stale pick, no fits
    assert manifest.step("final_seeds") == {"status": "running"}
    manifest.release()


def test_a_retrain_run_again_keeps_the_finalists_and_final_seeds(tmp_path):
    """The chosen configuration is the same: their fits stay valid (and cost time)."""
    steps, manifest = _finished(tmp_path)
    (manifest.path.parent / "best_model.keras").unlink()
    missing, redo = outputs_missing(steps, manifest, manifest.path.parent)
    assert "best_model.keras" in missing[0] and redo[0] == "retrain"
    assert "finalists" not in redo and "final_seeds" not in redo
    assert manifest.step("finalists")["pick"] == {"phase": "fine", "trial_id": "0"}
    assert manifest.step("final_seeds")["seeds"] == {"1": 0.9}
    manifest.release()
