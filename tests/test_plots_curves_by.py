"""memlib.plots.curves_by: one curve per value of a column, mean ± sd over the other rows."""
import matplotlib

matplotlib.use("Agg")
import pandas as pd
import pytest

from memlib import plots


def test_curves_by_draws_one_mean_curve_per_group_in_order_of_appearance():
    frame = pd.DataFrame({"epoch": [1, 2, 1, 2, 1, 2, 1, 2], "seed": [0, 0, 1, 1, 0, 0, 1, 1],
                          "size": [10, 10, 10, 10, 0, 0, 0, 0], "acc": [0.2, 0.4, 0.4, 0.6, 0.9, 0.1, 0.9, 0.1]})
    ax = plots.curves_by(frame, "epoch", "acc", "size", labels=lambda s: f"memory {s}" if s else "none")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["memory 10", "none"]
    assert list(lines[0].get_ydata()) == pytest.approx([0.3, 0.5]) and list(lines[1].get_ydata()) == [0.9, 0.1]
    assert len(ax.collections) == 2 and [t.get_text() for t in ax.get_legend().get_texts()] == ["memory 10", "none"]
    assert [line.get_label() for line in plots.curves_by(frame, "epoch", "acc", "size").get_lines()] == [
        "size 10", "size 0"]
