"""Sliders that work wherever the book is read.

In a live Jupyter or Colab kernel, :func:`figure_slider` is an ipywidgets slider (ipywidgets 7.7 or 8) that redraws
its figure on every move. A move to a value whose results are not cached trains in a background thread, behind a
progress bar and a "training …" line, so the kernel stays responsive; one render runs at a time in a kernel, and a
move made meanwhile waits for it (the latest move per slider). On the static site no kernel answers callbacks, so
there (and under tests) it draws the figure for every value once and emits a kernel-free HTML/JavaScript slider that
switches between the precomputed images. ``MEMLIB_WIDGETS`` ("live" or "static") chooses; by default a running
IPython kernel gets "live". The book build sets "static". See ARCHITECTURE.md, "Sliders".
"""
import base64
import hashlib
import html
import io
import itertools
import json
import os
import sys
import threading
import time
import traceback

from memlib import checks

MODES = ("live", "static")
_counter = itertools.count()
# One render at a time in a kernel, whichever slider asked: two trainings never share the machine.
_RENDERING = threading.Lock()


def mode() -> str:
    """"live" or "static": ``MEMLIB_WIDGETS`` if set, else "live" inside an IPython kernel and "static" elsewhere."""
    setting = os.environ.get("MEMLIB_WIDGETS", "").strip().lower()
    if setting:
        if setting not in MODES:
            raise ValueError(f"MEMLIB_WIDGETS={setting!r} is not a mode; use one of {', '.join(MODES)}")
        return setting
    return "live" if "ipykernel" in sys.modules else "static"


def figure_slider(render, values, *, label, value=None, caption=str, ready=None):
    """A slider over ``values`` showing ``render(value)``, a matplotlib Figure, for the selected value.

    ``caption`` turns a value into the text shown beside the slider. ``ready(value)``, if given, says whether
    ``render(value)`` is quick (its results are cached); live, a move to a value that is not ready (or any move,
    without ``ready``) renders in the background behind a progress bar. Returns an ipywidgets box (live) or an
    ``IPython.display.HTML`` object (static); leave it as a cell's last expression to display it.
    """
    values = list(values)
    if not values:
        raise ValueError("values must hold at least one value")
    value = values[0] if value is None else checks.one_of("value", value, values)
    if ready is not None and not callable(ready):
        raise ValueError(f"ready must be a callable value -> bool or None; got {ready!r}")
    if mode() == "live":
        return LiveSlider(render, values, label=label, value=value, caption=caption, ready=ready).box
    return static_slider([figure_png(render(v)) for v in values], [caption(v) for v in values], label=label,
                         start=values.index(value))


def figure_png(figure) -> bytes:
    """The figure as PNG bytes; the figure is closed so that it is not displayed a second time."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def script_json(value) -> str:
    """``value`` as JSON that is safe inside an HTML ``<script>`` element: every "<" is written as \\u003c, so no
    string can close the element (``</script>``) or open a comment."""
    return json.dumps(value).replace("<", "\\u003c")


def static_slider(images, captions, *, label, start=0):
    """A kernel-free slider: an HTML range input that shows one of ``images`` (PNG bytes) at a time."""
    if len(images) != len(captions) or not images:
        raise ValueError(f"need one caption per image and at least one image; got {len(images)} and {len(captions)}")
    from IPython.display import HTML

    digest = hashlib.sha1(json.dumps([label, list(captions)]).encode()).hexdigest()[:8]
    uid = f"memlib-slider-{next(_counter)}-{digest}"
    frames = "\n".join(
        f'<img class="memlib-frame" data-index="{i}" alt="{html.escape(label)} = {html.escape(caption)}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode()}"{"" if i == start else " hidden"}>'
        for i, (png, caption) in enumerate(zip(images, captions)))
    return HTML(f"""<div class="memlib-slider" id="{uid}">
<label style="display:flex;gap:0.75em;align-items:center">{html.escape(label)}
<input type="range" min="0" max="{len(images) - 1}" step="1" value="{start}" aria-label="{html.escape(label)}">
<output>{html.escape(captions[start])}</output></label>
{frames}
</div>
<script>
(function () {{
  const root = document.getElementById("{uid}");
  const input = root.querySelector("input"), output = root.querySelector("output");
  const frames = root.querySelectorAll("img.memlib-frame"), captions = {script_json(list(captions))};
  input.addEventListener("input", function () {{
    frames.forEach(function (frame, i) {{ frame.hidden = i !== Number(input.value); }});
    output.textContent = captions[Number(input.value)];
  }});
}})();
</script>""")


class LiveSlider:
    """The live slider: ``box`` holds the ipywidgets SelectionSlider, a status line (a progress bar and
    "training …", shown only while a move renders in the background), the figure as a PNG Image widget, and an
    output area for a render's error. The first value renders at once, in the cell that creates the slider. The
    status says "training" for a value that is not ready, "drawing" for a ready one waiting its turn, and
    "computing" when no ``ready`` was given.

    A move to a ready value renders at once when no render is running; any other move starts the slider's
    background thread, which takes the kernel-wide render lock. A move made while the slider is busy is queued
    (only the latest one is kept) and rendered next; other sliders wait for the lock.
    """
    TICK_S = 0.2  # how often the progress bar advances while a render runs

    def __init__(self, render, values, *, label, value, caption=str, ready=None):
        import ipywidgets

        self.render, self.label, self.caption, self.ready = render, label, caption, ready
        self.slider = ipywidgets.SelectionSlider(
            options=[(caption(v), v) for v in values], value=value, description=label, continuous_update=False,
            style={"description_width": "initial"}, layout=ipywidgets.Layout(width="28em"))
        self.bar = ipywidgets.IntProgress(value=0, min=0, max=20, bar_style="info",
                                          layout=ipywidgets.Layout(width="12em"))
        self.note = ipywidgets.Label()
        self.status = ipywidgets.HBox([self.bar, self.note], layout=ipywidgets.Layout(display="none"))
        self.image = ipywidgets.Image(format="png")
        self.errors = ipywidgets.Output()
        self.box = ipywidgets.VBox([self.slider, self.status, self.image, self.errors])
        self._lock = threading.Lock()  # guards busy and queued
        self.busy, self.queued = False, None
        with _RENDERING:
            self._show(value)
        self.slider.observe(self._moved, names="value")

    def _moved(self, change):
        value = change["new"]
        with self._lock:
            if self.busy:
                self.queued = value
                return
            quick = self.ready is not None and self.ready(value)
            if quick and _RENDERING.acquire(blocking=False):
                try:
                    self._show(value)
                finally:
                    _RENDERING.release()
                return
            self.busy = True
        threading.Thread(target=self._work, args=(value,), name=f"memlib slider {self.label}", daemon=True).start()

    def _work(self, value):
        while value is not None:
            self._render_in_background(value)
            with self._lock:
                value, self.queued = self.queued, None
                if value == self.shown:
                    value = None
                self.busy = value is not None

    def _render_in_background(self, value):
        what = "computing" if self.ready is None else "drawing" if self.ready(value) else "training"
        self.doing = doing = f"{what} {self.label} = {self.caption(value)}"
        stop = threading.Event()
        ticker = threading.Thread(target=self._tick, args=(stop,), daemon=True)
        self.status.layout.display = "flex"
        ticker.start()
        try:
            if not _RENDERING.acquire(blocking=False):
                self.doing = f"waiting for another slider, then {doing}"
                _RENDERING.acquire()
                self.doing = doing
            try:
                self._show(value)
            finally:
                _RENDERING.release()
        except Exception:
            self.errors.append_stderr(f"{self.label} = {self.caption(value)} failed:\n{traceback.format_exc()}")
        finally:
            stop.set()
            ticker.join()
            self.status.layout.display = "none"

    def _tick(self, stop):
        start = time.monotonic()
        while True:
            seconds = time.monotonic() - start
            queued = self.queued
            then = f"; next: {self.caption(queued)}" if queued is not None else ""
            self.note.value = f"{self.doing} … {seconds:.0f} s{then}"
            self.bar.value = int(seconds / self.TICK_S) % (self.bar.max + 1)
            if stop.wait(self.TICK_S):
                return

    def _show(self, value):
        self.image.value = figure_png(self.render(value))
        self.shown = value
        self.errors.outputs = ()
