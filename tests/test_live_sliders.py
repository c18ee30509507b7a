"""The live sliders as a reader uses them: a Jupyter server (Notebook 7) on 127.0.0.1 with a token, a chapter
opened in headless Chromium, every cell run from the Run menu with a live kernel (quick profile, the results cache
as it is), each slider moved with the keyboard, and the figure under it checked to change, with no cell showing an
error. The server and the browser are started and stopped here, offline.

JupyterLab and Notebook 7 bind the arrow keys in command mode to cell and heading navigation, also while an output
widget has the focus, so the keys a reader can use on a focused ipywidgets slider there are Home, End, Page Up and
Page Down (book/running.md says so); those are the keys pressed here."""
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from browser import chromium

ROOT = Path(__file__).resolve().parents[1]
RUN_S = 400  # the longest a chapter may take to run all its cells (the quick profile's are about a minute cold)
MOVE_S = 180  # the longest a move may take to show its figure (a cache miss trains one quick network)
PROBLEMS = """return Array.from(document.querySelectorAll(
  '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], .jupyter-widgets-error-widget'))
  .map(e => e.textContent.slice(0, 500))"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Notebook 7 server over a copy of the chapters (autosave never touches the repository), with sliders live
    in its kernels; yields ``(url, token)``."""
    home = tmp_path_factory.mktemp("jupyter")
    shutil.copytree(ROOT / "notebooks", home / "notebooks")
    # Every cell stays in the page (no windowing), so that the test can read every prompt and output.
    settings = home / "config" / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "MEMLIB_WIDGETS": "live", "MEMLIB_PROFILE": "quick", "PYTHONPATH": str(ROOT),
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "NO_PROXY": "127.0.0.1"}
    log = open(home / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "notebook", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={home / 'notebooks'}", "--ServerApp.terminals_enabled=False",
         "--LabApp.extension_manager=readonly"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 90
    while True:
        try:
            opener.open(f"{url}/api/status?token={token}", timeout=5)
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, \
                f"the Jupyter server did not start:\n{(home / 'server.log').read_text()[-3000:]}"
            time.sleep(0.5)
    yield url, token
    process.terminate()  # the server shuts its kernels down on SIGTERM
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium(tmp_path_factory.mktemp("chrome"))
    yield driver
    driver.quit()


def _wait(browser, seconds, condition, message):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(browser, seconds, poll_frequency=0.5).until(condition)
    except TimeoutException:
        pytest.fail(f"{message} (after {seconds} s)")


def _prompts(browser):
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')).map(e => e.textContent.trim())")


def _run_all_cells(browser, url, token, chapter):
    from selenium.webdriver.common.by import By

    browser.get(f"{url}/notebooks/{chapter}?token={token}")
    _wait(browser, 90, lambda b: b.execute_script(
        "const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        "return s !== null && s.getAttribute('data-status') === 'idle'"), f"{chapter}: no idle kernel")
    menu = next(item for item in browser.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item") if item.text == "Run")
    menu.click()
    browser.find_element(By.CSS_SELECTOR, '.lm-Menu-item[data-command="runmenu:run-all"]').click()
    _wait(browser, RUN_S, lambda b: (prompts := _prompts(b)) and all(re.fullmatch(r"\[\d+\]:?", p) for p in prompts),
          f"{chapter}: not every cell ran")


def _slider_box(browser, label):
    from selenium.webdriver.common.by import By

    boxes = browser.find_elements(
        By.XPATH, f"//div[contains(@class, 'widget-slider')][label[normalize-space() = '{label}']]"
                  "/ancestor::div[contains(@class, 'widget-vbox')][1]")
    assert len(boxes) == 1, f"expected one live slider labelled {label!r}, found {len(boxes)}"
    return boxes[0]


def _move(browser, box):
    """Press End on the slider's handle (Home when it is already at the end); returns (before, after) as
    (readout, image src)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def state():
        images = box.find_elements(By.TAG_NAME, "img")
        return box.find_element(By.CSS_SELECTOR, ".widget-readout").text, images[0].get_attribute("src") if images \
            else None

    handle = box.find_element(By.CSS_SELECTOR, ".noUi-handle")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", handle)
    before = state()
    assert before[1], "the live slider shows no figure"
    at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    handle.click()  # a click on the handle focuses it without moving it
    ActionChains(browser).send_keys(Keys.HOME if at_end else Keys.END).perform()
    status = box.find_element(By.CSS_SELECTOR, ".widget-hbox")  # the progress bar and "training …"
    _wait(browser, MOVE_S, lambda b: state()[0] != before[0] and state()[1] != before[1] and not status.is_displayed(),
          f"the figure under the slider did not change (still {before[0]})")
    return before, state()


@pytest.mark.parametrize("chapter, labels", [("01_memorization_and_label_noise.ipynb", ["label-noise rate"]),
                                             ("02_example_tied_dropout.ipynb", ["p_mem", "standard dropout p"])])
def test_live_sliders_redraw_when_moved_with_the_keyboard(server, browser, chapter, labels):
    url, token = server
    _run_all_cells(browser, url, token, chapter)
    assert not browser.execute_script(PROBLEMS), f"{chapter} shows an error or stderr output after Run All"
    for label in labels:
        (old, _), (new, _) = _move(browser, _slider_box(browser, label))
        assert old != new
    assert not browser.execute_script(PROBLEMS), f"{chapter} shows an error after the sliders moved"
