import json
import re
import threading
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from memlib import widgets


def _render(calls):
    def render(value):
        calls.append(value)
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, value])
        return fig
    return render


def _until(condition, timeout=10.0):
    """Wait for a background render: ``condition()`` true within ``timeout`` seconds, else fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the slider did not get there in time"
        time.sleep(0.01)


class Gate:
    """A render that blocks while the gate is closed, counting how many renders run at the same time."""

    def __init__(self):
        self.calls, self.running, self.most = [], 0, 0
        self.open, self.lock = threading.Event(), threading.Lock()
        self.open.set()

    def render(self, value):
        with self.lock:
            self.calls.append(value)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            assert self.open.wait(10), "the gate was never opened"
            return _render([])(value)
        finally:
            with self.lock:
                self.running -= 1


def test_mode_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MEMLIB_WIDGETS", "static")
    assert widgets.mode() == "static"
    monkeypatch.setenv("MEMLIB_WIDGETS", "Live")
    assert widgets.mode() == "live"
    monkeypatch.setenv("MEMLIB_WIDGETS", "3d")
    with pytest.raises(ValueError, match="live, static"):
        widgets.mode()


def test_static_slider_precomputes_every_value_into_a_kernel_free_page(monkeypatch):
    monkeypatch.setenv("MEMLIB_WIDGETS", "static")
    plt.close("all")
    calls = []
    page = widgets.figure_slider(_render(calls), [0.1, 0.2, 0.4], label="noise rate", value=0.2,
                                 caption=lambda v: f"{v:.0%}").data
    assert calls == [0.1, 0.2, 0.4]
    frames = re.findall(r'<img class="memlib-frame"[^>]*>', page)
    assert len(frames) == 3 and all("data:image/png;base64," in f for f in frames)
    assert ["hidden" in f for f in frames] == [True, False, True]  # the chosen value shows first
    assert 'type="range" min="0" max="2"' in page and 'value="1"' in page and "<output>20%</output>" in page
    assert "addEventListener" in page and "ipywidgets" not in page
    assert not plt.get_fignums()  # figures are closed, not displayed twice


def test_static_slider_captions_cannot_close_their_script():
    captions = ["</script><script>alert(1)</script>", "<!-- a", "p < 0.5 & \"q\""]
    page = widgets.static_slider([b"png"] * 3, captions, label="x").data
    scripts = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert len(scripts) == 1 and "<" not in scripts[0]
    listed = re.search(r"captions = (\[.*?\]);", scripts[0]).group(1)
    assert json.loads(listed) == captions  # the browser reads back the captions as written
    assert "&lt;/script&gt;" in page  # and the HTML around it shows them escaped


def test_live_slider_redraws_a_ready_value_at_once(monkeypatch):
    monkeypatch.setenv("MEMLIB_WIDGETS", "live")
    calls = []
    box = widgets.figure_slider(_render(calls), [1, 2, 3], label="p", ready=lambda v: True)
    slider, status, image, _ = box.children
    first = image.value
    assert calls == [1] and bytes(first).startswith(b"\x89PNG")
    slider.value = 3
    assert calls == [1, 3] and image.value != first and status.layout.display == "none"
    assert not plt.get_fignums()


def test_a_move_that_needs_training_runs_in_the_background_behind_a_progress_bar(monkeypatch):
    monkeypatch.setenv("MEMLIB_WIDGETS", "live")
    gate = Gate()
    live = widgets.LiveSlider(gate.render, [1, 2, 3], label="p", value=1, caption=lambda v: f"{v}%",
                              ready=lambda v: v == 1)
    first = live.image.value
    gate.open.clear()
    live.slider.value = 3  # returns at once: the render waits behind the gate
    _until(lambda: "training p = 3% …" in live.note.value)
    assert live.status.layout.display != "none" and live.image.value == first
    ticks = {live.bar.value}
    _until(lambda: ticks.add(live.bar.value) or len(ticks) > 2)  # the bar moves while it trains
    live.slider.value = 2  # a second move while training: queued, not started
    live.slider.value = 1  # ... and replaced by the latest one
    time.sleep(0.3)
    assert gate.calls == [1, 3] and "next: 1%" in live.note.value
    gate.open.set()
    _until(lambda: not live.busy)
    assert gate.calls == [1, 3, 1] and gate.most == 1  # never two renders at once
    assert live.shown == 1 and live.status.layout.display == "none"


def test_sliders_share_one_render_at_a_time(monkeypatch):
    monkeypatch.setenv("MEMLIB_WIDGETS", "live")
    gate = Gate()
    first = widgets.LiveSlider(gate.render, [1, 2], label="a", value=1)
    second = widgets.LiveSlider(gate.render, [1, 2], label="b", value=1, ready=lambda v: True)
    gate.open.clear()
    first.slider.value = 2
    _until(lambda: gate.running == 1 and "computing a = 2" in first.note.value)
    second.slider.value = 2  # ready, but another slider is rendering: it waits its turn
    _until(lambda: "waiting for another slider, then drawing b = 2" in second.note.value)
    gate.open.set()
    _until(lambda: not first.busy and not second.busy)
    assert gate.most == 1 and first.shown == second.shown == 2


def test_a_failed_background_render_shows_its_error_and_the_slider_still_works(monkeypatch):
    monkeypatch.setenv("MEMLIB_WIDGETS", "live")

    def render(value):
        if value == 2:
            raise RuntimeError("out of memory")
        return _render([])(value)

    live = widgets.LiveSlider(render, [1, 2, 3], label="p", value=1)
    live.slider.value = 2
    _until(lambda: not live.busy)
    assert "p = 2 failed" in str(live.errors.outputs) and "RuntimeError: out of memory" in str(live.errors.outputs)
    assert live.shown == 1 and live.status.layout.display == "none"
    live.slider.value = 3
    _until(lambda: live.shown == 3)
    assert live.errors.outputs == ()


def test_bad_slider_arguments_are_rejected():
    with pytest.raises(ValueError, match="at least one"):
        widgets.figure_slider(lambda v: None, [], label="x")
    with pytest.raises(ValueError, match="must be one of 1, 2; got 5"):
        widgets.figure_slider(lambda v: None, [1, 2], label="x", value=5)
    with pytest.raises(ValueError, match="ready must be a callable"):
        widgets.figure_slider(lambda v: None, [1, 2], label="x", ready=True)
    with pytest.raises(ValueError, match="one caption per image"):
        widgets.static_slider([b"png"], ["a", "b"], label="x")
