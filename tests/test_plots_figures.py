import math

import matplotlib

matplotlib.use("Agg")
import pandas as pd
import pytest

from memlib import plots


def probe_record():
    return pd.DataFrame([dict(epoch=e, group=g, seed=s, cosine=c, noisy_share=0.4)
                         for s in (0, 1) for e in (1, 2, 3) for g, c in (("conv1", -0.5 - 0.1 * s), ("output", -0.2))])


def test_heatmap_draws_groups_bottom_up_averaged_over_seeds_with_marks():
    fig, ax = plots.plt.subplots()
    image = plots.heatmap(probe_record(), "epoch", "group", "cosine", ax=ax, marks=[2])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["conv1", "output"]
    assert image.get_array()[0].tolist() == pytest.approx([-0.55] * 3)
    assert len(ax.get_lines()) == 1 and len(fig.axes) == 2  # the mark; the colorbar


def test_heatmap_of_nothing_says_so():
    record = probe_record().assign(cosine=math.nan)
    fig, ax = plots.plt.subplots()
    assert plots.heatmap(record, "epoch", "group", "cosine", ax=ax, empty="nothing here") is None
    assert [t.get_text() for t in ax.texts] == ["nothing here"]


def test_curves_by_draws_one_curve_per_group_and_opposition_two_per_record():
    ax = plots.curves_by(probe_record(), "epoch", "noisy_share", "group", labels=str)
    assert [line.get_label() for line in ax.get_lines()] == ["conv1", "output"]
    ax = plots.opposition({"a": probe_record(), "b": probe_record()})
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:4] == ["a: hidden layers (mean)", "a: output layer", "b: hidden layers (mean)", "b: output layer"]
    assert ax.get_lines()[0].get_ydata().tolist() == pytest.approx([-0.55] * 3)


def test_timeline_and_grouped_bars():
    frame = pd.DataFrame({"epoch": [1, 2], "clean": [0.5, 0.9], "memorized": [0.1, 0.8], "true_label": [0.6, 0.1],
                          "test": [0.5, 0.7]})
    ax = plots.timeline(frame, marks=[1], legend="below")
    assert [line.get_label() for line in ax.get_lines()][:4] == list(plots.TIMELINE.values())
    means = pd.DataFrame({"clean": [1.0, 0.9], "noisy": [1.0, 0.1]}, index=["a", "b"])
    ax = plots.grouped_bars(means, labels={"noisy": "noisy label"})
    assert len(ax.patches) == 4 and [t.get_text() for t in ax.get_legend().get_texts()] == ["clean", "noisy label"]
