import re

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


def test_live_slider_redraws_on_change(monkeypatch):
    monkeypatch.setenv("MEMLIB_WIDGETS", "live")
    calls = []
    box = widgets.figure_slider(_render(calls), [1, 2, 3], label="p")
    slider = box.children[0]
    assert calls == [1]
    slider.value = 3
    assert calls == [1, 3]


def test_bad_slider_arguments_are_rejected():
    with pytest.raises(ValueError, match="at least one"):
        widgets.figure_slider(lambda v: None, [], label="x")
    with pytest.raises(ValueError, match="not one of"):
        widgets.figure_slider(lambda v: None, [1, 2], label="x", value=5)
    with pytest.raises(ValueError, match="one caption per image"):
        widgets.static_slider([b"png"], ["a", "b"], label="x")
