"""The course as students see it: JupyterLab in headless Chromium, every lesson with an explorer run.

    python scripts/browser_test.py            # lessons 00 01 05 06 (`make browser-test`, CI)
    python scripts/browser_test.py 05         # only the notebooks whose names start with these

Starts its own JupyterLab on 127.0.0.1 (a random port and token, a throw-away copy of the notebooks
and settings, fast mode), opens each notebook at 1024x768 with the file browser open, runs all cells
and checks: the notebook is not marked modified on opening, no cell raised, every explorer rendered
(no "Error displaying widget", no "interactive(children=" text), its controls are wide enough and
their labels whole, its static copy is saved but hidden, moving a slider changes its picture, every
epoch bar is wider than 0 px and no batches bar is left. Screenshots go to build/screenshots/; each
page's load and run seconds are printed. The server, its kernels and the browser are stopped also on
failure. Needs Debian's chromium and chromium-driver and selenium; without them it says so and skips.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "screenshots"
# notebook prefix -> number of explorers it shows; add each new lesson's explorer here
EXPLORERS = {"00": 0, "01": 2, "05": 2, "06": 1}
TRAINS = {"00", "06"}  # notebooks whose `fit` must show an epochs bar
SETTINGS = {  # JupyterLab user settings for the throw-away server
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},  # every cell in the page
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}
RUN_TIMEOUT, LOAD_TIMEOUT = 300, 120  # seconds per notebook

STATE_JS = """
const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
if (!panel || !panel.context || !panel.sessionContext) return null;
const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
const cells = panel.content.widgets.filter(c => c.model.type === 'code').map(c => ({
    count: c.model.executionCount, running: c.model.executionState === 'running',
    outputs: c.model.outputs.toJSON().map(o => ({type: o.output_type, name: o.ename || o.name || '',
        text: String(o.evalue || o.text || ''), mimes: Object.keys(o.data || {})}))}));
return {path: panel.context.path, dirty: panel.model.dirty,
        ready: panel.context.isReady && panel.content.widgets.length > 0,
        kernel: kernel ? kernel.status : 'none', cells: cells};
"""
CLOSE_JS = """
const done = arguments[arguments.length - 1], panel = window.jupyterapp.shell.currentWidget;
panel.sessionContext.shutdown().then(() => { panel.dispose(); done(); }, done);
"""  # stop the kernel and close the tab without a dialog: one kernel at a time
SAVE_JS = """
const done = arguments[arguments.length - 1];
window.jupyterapp.commands.execute('docmanager:save').then(() => done(true), e => done(String(e)));
"""
COPIES_JS = """
const nb = window.jupyterapp.shell.currentWidget.content.node;
const views = [...nb.querySelectorAll('.jp-OutputArea-output')].filter(  // the widget renderer's
    o => !o.dataset.mimeType || o.dataset.mimeType.includes('widget'));  // panel has no mime type
const copies = views.map(v => v.closest('.jp-OutputArea-child').nextElementSibling)
    .map(c => c && c.querySelector('img')).filter(img => img);
if (copies.length) copies[0].closest('.jp-OutputArea').scrollIntoView({block: 'center'});
return {copies: copies.length, shown: copies.filter(img => img.offsetParent !== null
    && img.naturalWidth > 0).length};
"""
PAGE_JS = """
const nb = window.jupyterapp.shell.currentWidget.content.node, visible = e => e.offsetParent !== null;
const rect = e => e.getBoundingClientRect();
const bars = [...nb.querySelectorAll('.widget-hprogress')].filter(visible).map(b => ({
    width: rect(b).width, label: b.parentElement.innerText.trim().slice(0, 80)}));
const explorers = [...nb.querySelectorAll('.dlcourse-explorer')].map(x => {
    const right = rect(x).right, area = x.closest('.jp-OutputArea-child');
    const copy = area && area.nextElementSibling;
    const controls = [...x.querySelectorAll('.widget-inline-hbox')].filter(visible)
        .filter(c => c.querySelector('input, select, textarea, .noUi-target')).map(c => ({
        width: rect(c).width, overflow: rect(c).right - right, text: c.innerText.trim().slice(0, 30)}));
    const cut = [...x.querySelectorAll('.widget-label, .widget-label-basic')].filter(visible)
        .filter(l => l.scrollWidth > l.clientWidth + 1).map(l => l.innerText);
    return {controls: controls, cut: cut, copy_hidden: !!copy && !visible(copy)};
});
return {text: nb.innerText, bars: bars, explorers: explorers};
"""


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_browser() -> tuple[str, str] | str:
    """(chromium, chromedriver) paths, or a sentence saying what is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    chromium = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        return "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
    return chromium, driver


class Lab:
    """A JupyterLab server on 127.0.0.1 only, over a copy of the notebooks; a context manager."""

    def __init__(self, notebooks: list[Path], tmp: Path):
        self.tmp, self.port, self.token = tmp, free_port(), secrets.token_hex(16)
        self.root = tmp / "notebooks"
        self.root.mkdir()
        for nb in notebooks:
            shutil.copy(nb, self.root / nb.name)
        for plugin, values in SETTINGS.items():
            path = tmp / "settings" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        self.proc = None

    def __enter__(self) -> Lab:
        env = {k: v for k, v in os.environ.items() if k not in ("DLCOURSE_PROGRESS", "MPLBACKEND")}
        env.update(DLCOURSE_FAST="1", OMP_NUM_THREADS="1", DLCOURSE_LINT_FIGURES="1",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "lib"), env.get("PYTHONPATH")])),
                   JUPYTER_CONFIG_DIR=str(self.tmp / "config"), JUPYTER_RUNTIME_DIR=str(self.tmp / "run"),
                   JUPYTERLAB_SETTINGS_DIR=str(self.tmp / "settings"), IPYTHONDIR=str(self.tmp / "ipython"),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.tmp / "workspaces"))
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log = open(self.tmp / "lab.log", "w")  # noqa: SIM115  (closed in __exit__)
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)  # its own process group, kernels too
        try:
            self._wait_until_up(90)
        except BaseException:
            self.__exit__()  # `with` calls it only after __enter__ returned
            raise
        return self

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(self.url("api/status"), timeout=2)
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def kernels(self) -> list:
        """The server's running kernels (its REST API)."""
        with urllib.request.urlopen(self.url("api/kernels"), timeout=5) as answer:
            return json.load(answer)

    def log_tail(self) -> str:
        self.log.flush()
        return "\n".join((self.tmp / "lab.log").read_text().splitlines()[-20:])

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # whatever is left of the group
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.log.close()


def start_browser(chromium: str, driver: str, tmp: Path):
    """Headless Chromium at 1024x768 driven by selenium (no Selenium Manager download)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--window-size=1024,768", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", f"--user-data-dir={tmp / 'chromium'}", "--no-first-run"):
        options.add_argument(arg)
    browser = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    # the page itself 1024x768 (--window-size counts the window, not the page)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            dict(width=1024, height=768, deviceScaleFactor=1, mobile=False))
    return browser


def wait_for(browser, condition, timeout: float, what: str):
    """Poll `condition(browser)` until it is truthy; raise naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition(browser)
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}")


def run_notebook(browser, lab: Lab, nb: Path) -> tuple[list[str], dict]:
    """Open, run and check one notebook; returns (problems, timings)."""
    problems, stem = [], nb.stem
    start = time.monotonic()
    browser.get(lab.url(f"lab/tree/{nb.name}"))
    state = wait_for(browser, lambda b: (s := b.execute_script(STATE_JS)) and s["path"] == nb.name
                     and s["ready"] and s["kernel"] == "idle" and s, LOAD_TIMEOUT,
                     f"{nb.name} to open with an idle kernel")
    loaded = time.monotonic() - start
    if state["dirty"]:
        problems.append("marked modified as soon as it opened (kernelspec metadata?)")
    browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    wait_for(browser, lambda b: any(c["count"] or c["running"] for c in b.execute_script(STATE_JS)["cells"]),
             60, "the first cell to start")

    def finished(b):
        s = b.execute_script(STATE_JS)
        errors = [o for c in s["cells"] for o in c["outputs"] if o["type"] == "error"]
        done = s["kernel"] == "idle" and not any(c["running"] for c in s["cells"])
        return s if done and (errors or all(c["count"] for c in s["cells"])) else None

    state = wait_for(browser, finished, RUN_TIMEOUT, f"{nb.name} to run all its cells")
    ran = time.monotonic() - start - loaded
    time.sleep(1)  # let the last outputs render
    for cell in state["cells"]:
        problems += [f"cell raised {o['name']}: {o['text'][:200]}" for o in cell["outputs"]
                     if o["type"] == "error"]
    page = browser.execute_script(PAGE_JS)
    problems += check_page(page, EXPLORERS.get(stem[:2], 0), stem[:2] in TRAINS)
    browser.save_screenshot(str(SHOTS / f"{stem}_page.png"))
    problems += move_sliders(browser, stem)
    shoot_progress(browser, stem)
    expected = EXPLORERS.get(stem[:2], 0)
    if expected:
        problems += reopen(browser, lab, nb, expected)
    browser.execute_async_script(CLOSE_JS)
    for kernel in lab.kernels():  # a reopened tab can leave one behind: stop it from the server side
        urllib.request.urlopen(urllib.request.Request(lab.url(f"api/kernels/{kernel['id']}"),
                                                      method="DELETE"), timeout=20)
    try:
        wait_for(browser, lambda b: not lab.kernels(), 20, "the kernel to shut down")
    except TimeoutError as err:
        problems.append(f"{err}: {len(lab.kernels())} still running")
    return problems, dict(load=loaded, run=ran)


def reopen(browser, lab: Lab, nb: Path, expected: int) -> list[str]:
    """Save, close (kernel and widgets gone), reopen: each explorer's saved static copy must show."""
    saved = browser.execute_async_script(SAVE_JS)
    if saved is not True:
        return [f"could not save the notebook: {saved}"]
    browser.execute_async_script(CLOSE_JS)
    browser.get(lab.url(f"lab/tree/{nb.name}"))
    wait_for(browser, lambda b: (s := b.execute_script(STATE_JS)) and s["path"] == nb.name
             and s["ready"] and s["kernel"] == "idle", LOAD_TIMEOUT, f"{nb.name} to reopen")
    time.sleep(3)  # the widget renderer says "Loading widget..." or "model not found"; copies render
    found = browser.execute_script(COPIES_JS)  # also scrolls the first explorer into view
    browser.save_screenshot(str(SHOTS / f"{nb.stem}_reopened.png"))
    if found["copies"] != expected or found["shown"] != expected:
        return [f"reopened: {found['shown']} of {found['copies']} saved explorer pictures show, "
                f"expected {expected}"]
    return []


def check_page(page: dict, expected: int, trains: bool) -> list[str]:
    """What is wrong with the rendered page (after Run All), in words."""
    epoch_bars = [bar for bar in page["bars"] if bar["label"].startswith("epochs")]
    problems = [f"page shows {text!r}" for text in ("Error displaying widget", "interactive(children=")
                if text in page["text"]]
    if len(page["explorers"]) != expected:
        problems.append(f"{len(page['explorers'])} explorers rendered, expected {expected}")
    for i, ex in enumerate(page["explorers"]):
        problems += [f"explorer {i}: control {c['text']!r} is {c['width']:.0f} px wide"
                     for c in ex["controls"] if c["width"] < 150]
        problems += [f"explorer {i}: control {c['text']!r} sticks out {c['overflow']:.0f} px"
                     for c in ex["controls"] if c["overflow"] > 1]
        problems += [f"explorer {i}: label {text!r} is cut off" for text in ex["cut"]]
        if not ex["copy_hidden"]:
            problems.append(f"explorer {i}: its static copy is missing or visible beside the live one")
    for bar in page["bars"]:
        if bar["label"].startswith("batches"):
            problems.append(f"a stale batches bar is left on screen: {bar['label']!r}")
        elif bar["width"] < 100:
            problems.append(f"progress bar {bar['label']!r} is {bar['width']:.0f} px wide")
    if trains and not epoch_bars:
        problems.append("no epochs progress bar on the page although the notebook trains")
    return problems


def move_sliders(browser, stem: str) -> list[str]:
    """In every explorer move its first slider (or click its checkbox): the picture must change."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    problems = []
    for i, ex in enumerate(browser.find_elements(By.CSS_SELECTOR, ".dlcourse-explorer")):
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", ex)
        picture = ex.find_element(By.CSS_SELECTOR, ".widget-output")
        before = picture.get_attribute("innerHTML")
        ex.screenshot(str(SHOTS / f"{stem}_explorer{i}_before.png"))
        handles = ex.find_elements(By.CSS_SELECTOR, ".noUi-handle")
        if handles:
            handles[0].send_keys(Keys.ARROW_RIGHT)
        else:
            ex.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
        try:
            wait_for(browser, lambda b, p=picture, old=before: p.get_attribute("innerHTML") != old, 30,
                     f"explorer {i}'s picture to change")
        except TimeoutError as err:
            problems.append(f"explorer {i}: {'slider' if handles else 'checkbox'} moved, {err}")
        time.sleep(0.5)
        ex.screenshot(str(SHOTS / f"{stem}_explorer{i}_after.png"))
    return problems


def shoot_progress(browser, stem: str) -> None:
    """A screenshot of the first training cell's output (epoch bar and metric lines), if any."""
    from selenium.webdriver.common.by import By

    bars = browser.find_elements(By.CSS_SELECTOR, ".widget-hprogress")
    if bars:
        area = bars[0].find_element(By.XPATH, "./ancestor::div[contains(@class, 'jp-OutputArea ')][1]")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", area)
        area.screenshot(str(SHOTS / f"{stem}_progress.png"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefixes", nargs="*", default=list(EXPLORERS), help="notebook name prefixes")
    args = parser.parse_args(argv)
    found = find_browser()
    if isinstance(found, str):
        print(f"SKIPPED the browser test: {found}")
        return 0
    notebooks = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb")
                       if any(p.name.startswith(prefix) for prefix in args.prefixes))
    if not notebooks:
        print(f"no notebook starts with {args.prefixes}", file=sys.stderr)
        return 2
    SHOTS.mkdir(parents=True, exist_ok=True)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="dlcourse-browser-") as tmp, Lab(notebooks, Path(tmp)) as lab:
        browser = start_browser(*found, Path(tmp))
        try:
            for nb in notebooks:
                try:
                    problems, seconds = run_notebook(browser, lab, nb)
                except Exception as err:  # one broken page must not hide the others' results
                    problems, seconds = [f"{type(err).__name__}: {err}"], dict(load=0, run=0)
                    browser.save_screenshot(str(SHOTS / f"{nb.stem}_failed.png"))
                status = "ok" if not problems else "FAILED"
                print(f"{nb.stem:40s} load {seconds['load']:5.1f} s  run {seconds['run']:6.1f} s  {status}",
                      flush=True)
                for problem in problems:
                    print(f"    - {problem}")
                failures += bool(problems)
        finally:
            browser.quit()
    print(f"screenshots in {SHOTS.relative_to(ROOT)}/")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
