"""Sliders that work wherever the book is read.

In a live Jupyter or Colab kernel, :func:`figure_slider` is an ipywidgets slider that redraws its figure on every
move. On the static site no kernel answers callbacks, so there (and under tests) it draws the figure for every value
once and emits a kernel-free HTML/JavaScript slider that switches between the precomputed images. ``MEMLIB_WIDGETS``
("live" or "static") chooses; by default a running IPython kernel gets "live". The book build sets "static".
"""
import base64
import hashlib
import html
import io
import itertools
import json
import os
import sys

MODES = ("live", "static")
_counter = itertools.count()


def mode() -> str:
    """"live" or "static": ``MEMLIB_WIDGETS`` if set, else "live" inside an IPython kernel and "static" elsewhere."""
    setting = os.environ.get("MEMLIB_WIDGETS", "").strip().lower()
    if setting:
        if setting not in MODES:
            raise ValueError(f"MEMLIB_WIDGETS={setting!r} is not a mode; use one of {', '.join(MODES)}")
        return setting
    return "live" if "ipykernel" in sys.modules else "static"


def figure_slider(render, values, *, label, value=None, caption=str):
    """A slider over ``values`` showing ``render(value)``, a matplotlib Figure, for the selected value.

    ``caption`` turns a value into the text shown beside the slider. Returns an ipywidgets box (live) or an
    ``IPython.display.HTML`` object (static); leave it as a cell's last expression to display it.
    """
    values = list(values)
    if not values:
        raise ValueError("values must hold at least one value")
    value = values[0] if value is None else value
    if value not in values:
        raise ValueError(f"value {value!r} is not one of the slider's values {values}")
    if mode() == "live":
        return _live_slider(render, values, label, value, caption)
    return static_slider([figure_png(render(v)) for v in values], [caption(v) for v in values], label=label,
                         start=values.index(value))


def figure_png(figure) -> bytes:
    """The figure as PNG bytes; the figure is closed so that it is not displayed a second time."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


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
  const frames = root.querySelectorAll("img.memlib-frame"), captions = {json.dumps(list(captions))};
  input.addEventListener("input", function () {{
    frames.forEach(function (frame, i) {{ frame.hidden = i !== Number(input.value); }});
    output.textContent = captions[Number(input.value)];
  }});
}})();
</script>""")


def _live_slider(render, values, label, value, caption):
    import ipywidgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    slider = ipywidgets.SelectionSlider(
        options=[(caption(v), v) for v in values], value=value, description=label, continuous_update=False,
        style={"description_width": "initial"}, layout=ipywidgets.Layout(width="28em"))
    output = ipywidgets.Output()

    def draw(change=None):
        with output:
            output.clear_output(wait=True)
            figure = render(slider.value)
            display(figure)
            plt.close(figure)

    slider.observe(draw, names="value")
    draw()
    return ipywidgets.VBox([slider, output])
