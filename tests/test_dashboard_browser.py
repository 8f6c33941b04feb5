"""The TensorBoard dashboard of a finished run, as a user sees it in a real (headless) Chromium.

`tensorboard --logdir <run>/tensorboard` serves the run; Debian's `chromium`
with its `chromedriver` (selenium drives them; nothing is downloaded) opens
the HParams plugin's table view and parallel-coordinates view. The assertions
are on what the browser renders (the HParams UI is Polymer inside shadow DOM:
the page's elements are read by walking the shadow roots), not on
TensorBoard's JSON. Screenshots are kept in `tests/artifacts/dashboard/`
(git-ignored) as the test's artifacts.

Marked `browser`: deselected by default (`pytest -m browser` runs it; `.ci/run`
does). Without Chromium it skips on a contributor's machine and fails under
`CI=true` (see `skip_guard.missing_data`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from skip_guard import missing_data

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "dashboard"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1100",
)
WAIT = 120  # seconds; the machine may be busy

# Helpers run in the page: every element under `root`, shadow roots included.
JS = """
function all(root, out) {
  for (const el of root.querySelectorAll('*')) {
    out.push(el);
    if (el.shadowRoot) all(el.shadowRoot, out);
  }
  return out;
}
function find(sel) { return all(document, []).filter(e => e.matches(sel)); }
function gridRows() {  // the HParams table as rendered: [[cell text, ...], ...], header first
  const grid = find('tf-hparams-table-view vaadin-grid, vaadin-grid')[0];
  if (!grid) return [];
  const rows = [];
  for (const tr of grid.shadowRoot.querySelectorAll('tr')) {
    if (tr.hidden) continue;
    const cells = [];
    for (const td of tr.querySelectorAll('th,td')) {
      const slot = td.querySelector('slot');
      const nodes = slot ? slot.assignedNodes({flatten: true}) : [];
      cells.push(nodes.map(n => n.textContent.trim()).join(' ').trim());
    }
    if (cells.some(c => c)) rows.push(cells);
  }
  return rows;
}
function queryCheckboxes() {  // the query pane's filter checkboxes: [[label, checked], ...]
  const pane = find('tf-hparams-query-pane')[0];
  if (!pane) return [];
  return all(pane.shadowRoot, []).filter(e => e.tagName === 'PAPER-CHECKBOX')
    .map(c => [c.textContent.trim(), !!c.checked]);
}
function clickCheckbox(index) {
  const pane = find('tf-hparams-query-pane')[0];
  all(pane.shadowRoot, []).filter(e => e.tagName === 'PAPER-CHECKBOX')[index].click();
}
function showTab(label) {
  const tab = find('paper-tab').filter(t => t.textContent.trim().toUpperCase() === label)[0];
  tab.click();
  return !!tab;
}
function parallelCoords() {  // axis titles, tick labels per axis, and the drawn trial lines
  const plot = find('tf-hparams-parallel-coords-plot')[0];
  if (!plot || !plot.shadowRoot) return null;
  const axes = {};
  for (const axis of plot.shadowRoot.querySelectorAll('g.axis-parent')) {
    const title = axis.querySelector('text.axis-title');
    if (!title) continue;
    axes[title.textContent.trim()] = Array.from(axis.querySelectorAll('g.tick text'))
      .map(t => t.textContent.trim());
  }
  const lines = plot.shadowRoot.querySelectorAll('g.foreground path');
  return {axes: axes, lines: lines.length};
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _active(hp: Any) -> dict[str, Any]:
    return {k: v for k, v in hp.values.items() if not k.startswith("tuner/") and hp.is_active(k)}


def _wait_for(what: str, probe: Callable[[], Any], timeout: float = WAIT) -> Any:
    """`probe()`'s first truthy value, polled; fails naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except Exception:  # noqa: BLE001 (the page or server is still starting)
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.5)


@pytest.fixture
def tensorboard(finished_run: Any) -> Iterator[str]:
    """`tensorboard --logdir <run>/tensorboard` on 127.0.0.1 (a free port): its URL."""
    run, _ = finished_run
    script = Path(sys.executable).with_name("tensorboard")  # the command a user types
    command = [str(script)] if script.exists() else [sys.executable, "-m", "tensorboard.main"]
    port = _free_port()
    server = subprocess.Popen(
        [
            *command,
            "--logdir",
            str(run.run_dir / "tensorboard"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def listing() -> bool:
        with urllib.request.urlopen(f"{url}/data/plugins_listing", timeout=5) as response:
            return b'"hparams"' in response.read()

    try:
        _wait_for("tensorboard to serve the hparams plugin", listing)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by selenium through Debian's chromedriver."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        missing_data(
            f"{', '.join(missing)} not found: install Debian's browser with `apt-get install "
            "-y chromium chromium-driver` (.ci/run does when it is missing)."
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing_data("selenium is not installed: pip install -e '.[test]'.")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="tunekit-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(
            service=Service(executable_path=str(CHROMEDRIVER)), options=options
        )
        try:
            yield driver
        finally:
            driver.quit()


def _matches(text: str, value: Any) -> bool:
    """Whether a table cell shows `value` (numbers are shown to 5 significant digits)."""
    if isinstance(value, bool):
        return text.lower() == str(value).lower()
    if isinstance(value, (int, float)):
        try:
            return float(text) == pytest.approx(value, rel=1e-4, abs=1e-12)
        except ValueError:
            return False
    return text == str(value)


def test_hparams_table_and_parallel_coordinates_show_every_trial_of_both_phases(
    finished_run, tensorboard, browser
):
    from tunekit.results import trials_dataframe

    run, _ = finished_run
    trials = {
        f"{phase}/{trial_id}": _active(trial.hyperparameters)
        for phase in ("coarse", "fine")
        for trial_id, trial in run._tuner(phase).oracle.trials.items()
    }
    names = sorted({name for values in trials.values() for name in values})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = []

    def screenshot(name: str) -> None:
        path = ARTIFACTS / f"{name}.png"
        assert browser.save_screenshot(str(path)), path
        shots.append(path)

    def script(code: str) -> Any:
        return browser.execute_script(JS + code)

    def table() -> list[list[str]]:
        return script("return gridRows();")

    browser.get(f"{tensorboard}/#hparams")
    _wait_for("the HParams table to list every trial", lambda: len(table()) == len(trials) + 1)
    screenshot("hparams_table_default_columns")

    # The phase filter offers both phases (the query pane's checkboxes under `phase`).
    boxes = [label for label, _ in script("return queryCheckboxes();")]
    assert "phase" in boxes, boxes
    at = boxes.index("phase")
    assert boxes[at + 1 : at + 3] == ["coarse", "fine"], boxes

    # Parallel coordinates: an axis per shown column, the phase axis ticked coarse and fine,
    # and one line per trial that has a value on every shown axis.
    assert script("return showTab('PARALLEL COORDINATES VIEW');")
    plot = _wait_for(
        "the parallel coordinates plot",
        lambda: (p := script("return parallelCoords();")) and p["lines"] and p,
    )
    time.sleep(1)  # let the plot finish its transition before the screenshot
    plot = script("return parallelCoords();")
    screenshot("hparams_parallel_coordinates")
    assert sorted(plot["axes"]["phase"]) == ["coarse", "fine"], plot["axes"]
    shown = [a for a in plot["axes"] if a in names]
    drawn = [t for t, values in trials.items() if all(a in values for a in shown)]
    assert {t.split("/")[0] for t in drawn} == {"coarse", "fine"}, (shown, drawn)
    assert plot["lines"] == len(drawn), (plot, shown)

    # The table with every hyperparameter's column ticked: each trial with its values.
    assert script("return showTab('TABLE VIEW');")
    for index, (label, checked) in enumerate(script("return queryCheckboxes();")):
        if label in names and not checked:
            script(f"clickCheckbox({index});")
    header = _wait_for(
        "a column for every hyperparameter",
        lambda: (rows := table()) and set(names) <= set(rows[0]) and rows[0],
    )
    rows = {row[0]: dict(zip(header, row)) for row in table()[1:]}
    screenshot("hparams_table_all_hyperparameters")
    assert set(rows) == set(trials)
    # Each trial's score as trials.csv has it (not its last epoch's value), in the first
    # metric column, which the parallel coordinates are coloured by.
    assert "score" in plot["axes"] and header.index("score") > header.index("phase"), header
    scores = trials_dataframe(run.run_dir).set_index("trial")["score"]
    for trial, values in trials.items():
        row = rows[trial]
        assert float(row["score"]) == pytest.approx(scores[trial], rel=1e-3), (trial, row)
        assert row["phase"] == trial.split("/")[0]
        for name in names:
            if name in values:
                assert _matches(row[name], values[name]), (trial, name, row[name], values[name])
            else:  # inactive in this trial (a conditional hyperparameter): an empty cell
                assert row[name] == "", (trial, name, row[name])

    # Unticking `coarse` under `phase` leaves the fine trials only.
    script(f"clickCheckbox({at + 1});")
    fine = {t for t in trials if t.startswith("fine/")}
    _wait_for("the phase filter", lambda: {r[0] for r in table()[1:]} == fine)
    screenshot("hparams_table_fine_phase_only")
    print(f"\nscreenshots: {', '.join(str(p) for p in shots)}")
