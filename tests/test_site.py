"""The rendered book, tested as a reader uses it: served on localhost and opened in headless Chromium."""
import functools
import http.server
import os
import re
import subprocess
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
import yaml

from browser import chromium

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SOURCES = ["_config.yml", "_toc.yml", "book", "notebooks", "memlib"]


def _toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]


CHAPTERS = [f for f in _toc_files() if f.startswith("notebooks/")]


def _newest_source():
    paths = [p for s in SOURCES for p in ([ROOT / s] if (ROOT / s).is_file() else (ROOT / s).rglob("*"))]
    return max(p.stat().st_mtime for p in paths if p.is_file())


@pytest.fixture(scope="module")
def site():
    """The built book (rebuilt with `make book` when older than its sources), served on a free localhost port."""
    index = HTML / "index.html"
    if not index.exists() or index.stat().st_mtime < _newest_source():
        subprocess.run(["make", "book"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium(tmp_path_factory.mktemp("chrome"))
    yield driver
    driver.quit()


def _open(browser, url):
    """Load a page and wait until it is painted: loaded, fonts ready, and its title visible."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 30, poll_frequency=0.2).until(lambda b: b.execute_script(
        "return document.readyState === 'complete' && document.fonts.status === 'loaded'")
        and any(h.text.strip() for h in b.find_elements(By.TAG_NAME, "h1")))


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_page_loads_with_figures_and_no_error_output(site, browser, page):
    from selenium.webdriver.common.by import By

    _open(browser, urljoin(site, f"{page}.html"))  # fails if no title becomes visible
    assert browser.find_elements(By.CSS_SELECTOR, "div.cell_output img"), f"{page} shows no figure"
    assert "Traceback" not in browser.find_element(By.TAG_NAME, "main").text
    assert not browser.find_elements(By.CSS_SELECTOR, ".output.stderr, .output.traceback, .output.error")
    assert "application/vnd.jupyter.widget-view+json" not in browser.page_source, f"{page} has a kernel widget"
    loaded = browser.execute_script(
        "return Array.from(document.querySelectorAll('div.cell_output img')).every(i => i.complete && i.naturalWidth > 0)")
    assert loaded, f"an image on {page} failed to load"


def test_static_sliders_switch_figures_when_moved(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    moved = 0
    for page in CHAPTERS:
        _open(browser, urljoin(site, f"{page}.html"))
        for slider in browser.find_elements(By.CSS_SELECTOR, ".memlib-slider"):
            range_input = slider.find_element(By.CSS_SELECTOR, "input[type=range]")
            shown = lambda: [f.get_attribute("data-index") for f in slider.find_elements(By.CSS_SELECTOR, "img")
                             if f.is_displayed()]
            before, caption = shown(), slider.find_element(By.TAG_NAME, "output").text
            assert len(before) == 1
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", range_input)
            key = Keys.ARROW_LEFT if range_input.get_attribute("value") == range_input.get_attribute("max") \
                else Keys.ARROW_RIGHT
            range_input.send_keys(key)
            after = shown()
            assert len(after) == 1 and after != before, f"the slider on {page} did not change its figure"
            assert slider.find_element(By.TAG_NAME, "output").text != caption
            moved += 1
    assert moved, "no static slider found in the book"


def test_screenshot_of_a_chapter_is_saved(site, browser):
    import matplotlib.image
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, urljoin(site, f"{CHAPTERS[0]}.html"))
    path = ROOT / "_build" / "screenshots" / f"{Path(CHAPTERS[0]).name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Painting can lag behind the load events: retake until the page is no longer blank.
    WebDriverWait(browser, 20, poll_frequency=0.5).until(
        lambda b: b.save_screenshot(str(path)) and matplotlib.image.imread(path).std() > 0.05)


def test_bibliography_page_lists_every_reference(site, browser):
    from selenium.webdriver.common.by import By

    keys = re.findall(r"^@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text(), re.MULTILINE)
    _open(browser, urljoin(site, "book/references.html"))
    entries = browser.find_elements(By.CSS_SELECTOR, "main [role=doc-biblioentry], main .citation")
    assert len(entries) == len(keys) == len(set(keys))


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


def _parse(path):
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_internal_links_resolve(site):
    pages = [HTML / f"{f}.html" for f in _toc_files()] + [HTML / "genindex.html", HTML / "search.html"]
    parsed = {}
    broken = []
    for page in pages:
        for href in _parse(page).hrefs:
            if urlparse(href).scheme or href.startswith(("mailto:", "javascript:")):
                continue
            target, fragment = urldefrag(href)
            target_path = (page.parent / target).resolve() if target else page
            if target_path.is_dir():
                target_path = target_path / "index.html"
            if not target_path.exists():
                broken.append(f"{page.relative_to(HTML)} → {href}")
            elif fragment and target_path.suffix == ".html":
                ids = parsed.setdefault(target_path, _parse(target_path)).ids
                if fragment not in ids:
                    broken.append(f"{page.relative_to(HTML)} → {href} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


# What a reader must never meet on a page: a table printed by pandas, a NaN, an element wider than the text column.
DESIGN_CHECK = """
const article = document.querySelector("article.bd-article") || document.querySelector("main");
const right = article.getBoundingClientRect().right + 2;
const name = e => e.tagName.toLowerCase() + (e.className ? "." + String(e.className).split(" ")[0] : "");
return {
  frames: document.querySelectorAll("table.dataframe").length + Array.from(
      document.querySelectorAll("div.cell_output pre")).filter(p => /dtype: \w+\s*$/.test(p.textContent)).length,
  nan: Array.from(article.querySelectorAll("td, th")).filter(
      c => /^(nan|NaN|<NA>|None|NaT|inf|-inf)$/.test(c.textContent.trim())).map(c => c.textContent.trim()),
  wide: Array.from(article.querySelectorAll("table, img, pre, .memlib-slider, div.cell_output > *")).filter(
      e => e.getBoundingClientRect().width > 0 && e.getBoundingClientRect().right > right).map(name),
  remote: Array.from(article.querySelectorAll("img")).filter(i => /^https?:/.test(i.getAttribute("src") || "")
      || !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src").slice(0, 80)),
};
"""


@pytest.mark.parametrize("page", CHAPTERS)
def test_every_table_is_designed_and_fits_the_page(site, browser, page):
    _open(browser, urljoin(site, f"{page}.html"))
    found = browser.execute_script(DESIGN_CHECK)
    assert found["frames"] == 0, f"{page} shows a raw DataFrame dump"
    assert not found["nan"], f"{page} shows {found['nan']} in a table"
    assert not found["wide"], f"{page} has elements wider than the content column at 1280 px: {found['wide']}"
    assert not found["remote"], f"{page} shows images that are remote or not loaded: {found['remote']}"


def test_the_design_check_catches_dumps_nan_and_overflow(site, browser):
    """The check above can fail: a page with a pandas table, a NaN cell and an overwide table is caught."""
    import pandas as pd

    _open(browser, urljoin(site, f"{CHAPTERS[0]}.html"))
    frame = pd.DataFrame({"a": [1.0, float("nan")]})
    wide = '<table class="too-wide" style="min-width: 3000px"><tr><td>x</td></tr></table>'
    browser.execute_script("document.querySelector('article.bd-article').insertAdjacentHTML('beforeend', "
                           "arguments[0])", frame.to_html() + wide)
    found = browser.execute_script(DESIGN_CHECK)
    assert found["frames"] == 1 and "NaN" in found["nan"] and "table.too-wide" in found["wide"]
