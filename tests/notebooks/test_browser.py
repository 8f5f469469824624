"""The interactive half of the project in a real browser (headless Chromium driven by Selenium):

- JupyterLab started as ``make lab`` starts it (``jupyter lab notebooks/`` from the project folder, so the kernel
  runs in notebooks/, with ``--allow-root`` only as root) with the project's kernel: explore.ipynb runs all its cells on a finished run without an error,
  its grids are large, and moving a slider redraws the images;
- report/report.html opened from disk with the network blocked: every figure loaded, every formula rendered
  as math (nothing left as raw LaTeX), and nothing requested from the network.

Both skip, with the reason, where Chromium, chromedriver or Selenium is missing (`make setup` installs them).
Set ``GENMODELS_SCREENSHOTS=docs`` to write the screenshots the README shows.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from genmodels.core import store
from genmodels.core.config import RunConfig
from genmodels.runs.run import run_config

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401
    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HAVE_SELENIUM, reason="needs selenium (pip install -e '.[test]'; make setup does)"),
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="needs Chromium and chromedriver (Debian: apt-get install chromium chromium-driver; "
                              "make setup does)"),
]


def screenshot_folder(tmp_path: Path) -> Path:
    """Where screenshots go: $GENMODELS_SCREENSHOTS (e.g. docs/, for the README), else the test's tmp folder."""
    folder = Path(os.environ.get("GENMODELS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """A factory of headless Chromium sessions (`offline=True`: every http/https/ws request fails), all closed
    at the end of the test."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers = []

    def start(offline: bool = False) -> Any:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--window-size=1400,1000", f"--user-data-dir={tmp_path / f'chromium-{len(drivers)}'}"):
            options.add_argument(arg)
        if offline:  # no name resolves, and the URLs are blocked too (an address needs no name)
            options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND")
        driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        drivers.append(driver)
        if offline:
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})
        driver.set_script_timeout(120)
        return driver

    yield start
    for driver in drivers:
        driver.quit()


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll until `condition()` is truthy and return it; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


# ------------------------------------------------------------------ JupyterLab and the explore notebook
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def project(tmp_path: Path, single_thread: None) -> Path:
    """A copy of the repository layout, notebooks/explore.ipynb and results/ with one finished run, so the
    notebook must find the run on its own. The run is a VAE with a 2-D latent (the notebook then draws every
    figure, the manifold too), trained just long enough to draw blurry digits (about 10 s)."""
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / "explore.ipynb", project / "notebooks")
    config = RunConfig(model="vae", dataset="mnist-5k", depth=2, z_dim=2, width=8, steps=200, sample_every=100,
                       checkpoint_every=0, metric_samples=0, progress=False)
    run_config(config, store.run_folder(project / "results", "mnist-5k", "vae", "tiny"))
    return project


@pytest.fixture
def jupyterlab(project: Path, tmp_path: Path) -> Iterator[str]:
    """JupyterLab on a free localhost port with a token, started as `make lab` does: `jupyter lab notebooks/`
    from the project folder, `--allow-root` only as root (JupyterLab refuses root without it). Yields the notebook's URL. `expose_app_in_browser` lets the test drive JupyterLab's
    own commands (run all cells) and read the notebook model."""
    from jupyter_client.kernelspec import KernelSpecManager

    if "genmodels" not in KernelSpecManager().find_kernel_specs():
        pytest.skip("the project's Jupyter kernel 'genmodels' is not registered (make setup registers it)")
    port, token = free_port(), uuid.uuid4().hex
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "lib"), os.environ.get("PYTHONPATH")]))}
    # no "official Jupyter news?" notification over the page (a user setting, in this server's own config dir)
    settings = tmp_path / "jupyter-config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "notebooks/", "--no-browser", "--ip=127.0.0.1",
                               f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
                               "--LabApp.expose_app_in_browser=True", *(["--allow-root"] if os.geteuid() == 0 else [])],
                              cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT)

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                return r.status == 200
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(tmp_path / 'jupyterlab.log').read_text()[-3000:]}")
            return False

    try:
        wait_for(up, 60, "JupyterLab to start")
        yield f"http://127.0.0.1:{port}/lab/tree/explore.ipynb?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


# the notebook's panel, found by path (the shell's current widget follows the keyboard focus, which a headless
# window may not have), made the active one so that notebook commands act on it
PANEL = """
const app = window.jupyterapp;
const panel = app && Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === 'explore.ipynb');
if (panel && app.shell.currentWidget !== panel) app.shell.activateById(panel.id);
"""
NOTEBOOK_READY = PANEL + """
const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
return kernel && panel.context.isReady && kernel.status === 'idle' ? kernel.name : null;
"""
RUN_ALL = PANEL + """
const done = arguments[arguments.length - 1];
app.commands.execute('notebook:run-all-cells').then(ok => done({ok}), err => done({error: String(err)}));
"""
CELL_ERRORS = PANEL + """
const cells = panel.content.model.cells, problems = [];
for (let i = 0; i < cells.length; i++) {
  const cell = cells.get(i);
  if (cell.type !== 'code') continue;
  if (cell.executionCount === null) problems.push(`cell ${i} did not run`);
  for (const out of cell.toJSON().outputs)
    if (out.output_type === 'error') problems.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
}
return problems;
"""
# the images the slider cell's interactive output shows, and the slider handles by label
INTERACTIVE_IMAGES = ("return Array.from(document.querySelectorAll('.widget-output img, .jupyter-widgets-output-area img'))"
                      ".map(i => i.src);")
SLIDER_HANDLE = ("//div[contains(@class,'widget-slider')][.//label[normalize-space()='{label}']]"
                 "//div[contains(@class,'noUi-handle')]")


def test_explore_notebook_in_jupyterlab(chromium: Callable[..., Any], jupyterlab: str, project: Path,
                                        tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = chromium()
    driver.get(jupyterlab)
    kernel = wait_for(lambda: driver.execute_script(NOTEBOOK_READY), 60, "the notebook's kernel to be idle")
    assert kernel == "genmodels", f"the notebook runs on kernel {kernel!r}, not the project's"

    result = driver.execute_async_script(RUN_ALL)
    assert result.get("ok") is True, (result, driver.execute_script(CELL_ERRORS))
    assert driver.execute_script(CELL_ERRORS) == []
    text = driver.find_element(By.CSS_SELECTOR, ".jp-Notebook").text
    assert f"{project / 'results' / 'mnist-5k' / 'vae' / 'tiny'}: vae on mnist-5k" in text  # found from notebooks/

    # every grid is shown large enough to see a digit
    def grid_sizes() -> list[list[float]]:
        return driver.execute_script("return Array.from(document.querySelectorAll('.jp-OutputArea-output img'))"
                                     ".map(i => [i.naturalWidth, i.getBoundingClientRect().width]);")

    # widget views are built, and images decoded, after the cell has finished: wait for six drawn images
    # (samples, interpolation, latent walk, manifold, and the two interactive ones)
    sizes = wait_for(lambda: (s := grid_sizes()) and len(s) >= 6 and all(n > 0 for n, _ in s) and s, 30,
                     "six drawn images")
    assert all(natural >= 768 and shown >= 512 for natural, shown in sizes), sizes

    before = wait_for(lambda: (s := driver.execute_script(INTERACTIVE_IMAGES)) and len(s) == 2 and s, 30,
                      "the interactive cell's two images")
    for label, changes in (("coordinate", 1), ("seed", 0)):  # the walk moves along another coordinate; new samples
        handle = driver.find_element(By.XPATH, SLIDER_HANDLE.format(label=label))
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
        handle.click()
        handle.send_keys(Keys.ARROW_RIGHT)
        after = wait_for(lambda: (s := driver.execute_script(INTERACTIVE_IMAGES)) and len(s) == 2
                         and s[changes] != before[changes] and s, 30, f"the images to change after moving {label}")
        before = after
    driver.execute_script("window.jupyterapp.shell.collapseLeft();")  # the whole width for the screenshot
    time.sleep(0.5)
    driver.save_screenshot(str(screenshot_folder(tmp_path) / "explore-notebook.png"))


# ------------------------------------------------------------------ the HTML report, offline
MATH_RENDERED = """
const maths = Array.from(document.querySelectorAll('math'));
const fractions = Array.from(document.querySelectorAll('mfrac')).map(f => {
  const [top, bottom] = Array.from(f.children).map(c => c.getBoundingClientRect());
  return top.bottom <= bottom.top + 1;   // a typeset fraction: numerator above denominator
});
return {count: maths.length, laidOut: maths.every(m => m.getBoundingClientRect().width > 0),
        display: Array.from(new Set(maths.map(m => getComputedStyle(m).display))),
        fractions, unrendered: document.querySelectorAll('.latex-unrendered').length};
"""
FIGURES = ("return Array.from(document.images).map(i => [i.complete && i.naturalWidth > 0, "
           "i.getBoundingClientRect().width]);")
REQUESTS = ("return performance.getEntriesByType('resource').map(e => e.name)"
            ".filter(n => !n.startsWith('data:') && !n.startsWith('file:'));")


def test_report_html_offline(chromium: Callable[..., Any], built_report: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = chromium(offline=True)
    driver.get((built_report / "report.html").as_uri())
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 30, "the report to load")

    figures = driver.execute_script(FIGURES)
    assert len(figures) >= 10 and all(loaded and width > 0 for loaded, width in figures), figures

    math = driver.execute_script(MATH_RENDERED)
    assert math["count"] >= 9 and math["laidOut"] and math["unrendered"] == 0, math
    assert set(math["display"]) <= {"math", "inline math", "block math"}, math  # MathML layout, not plain text
    assert math["fractions"] and all(math["fractions"]), math
    text = driver.find_element(By.TAG_NAME, "body").text
    for raw in ("\\mathcal", "\\mathrm", "\\tfrac", "$\\", "\\beta"):
        assert raw not in text, f"raw LaTeX {raw!r} visible in the report"

    assert driver.execute_script(REQUESTS) == []  # nothing asked of the network
    driver.execute_script("document.getElementById('Designs').scrollIntoView();")
    driver.save_screenshot(str(screenshot_folder(tmp_path) / "report-html.png"))
