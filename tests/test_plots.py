import matplotlib

matplotlib.use("Agg")
import pandas as pd
import torch

from memlib import plots


def test_mean_sd_aggregates_over_seeds():
    frame = pd.DataFrame({"epoch": [1, 1, 2, 2], "seed": [0, 1, 0, 1], "acc": [0.5, 0.7, 0.8, 0.8]})
    stats = plots.mean_sd(frame, "epoch", ["acc"])
    assert stats["acc_mean"].tolist() == [0.6, 0.8]
    assert abs(stats["acc_sd"].iloc[0] - 0.1414) < 1e-3 and stats["acc_sd"].iloc[1] == 0


def test_curves_draws_one_line_per_column_with_bands():
    frame = pd.DataFrame({"epoch": [1, 2, 1, 2], "seed": [0, 0, 1, 1], "a": [0, 1, 0, 1], "b": [1, 0, 1, 0]})
    ax = plots.curves(frame, "epoch", ["a", "b"], labels={"a": "first"})
    assert [line.get_label() for line in ax.get_lines()] == ["first", "b"]
    assert len(ax.collections) == 2


def test_image_grid_lays_out_images_with_titles():
    fig = plots.image_grid(torch.rand(5, 1, 8, 8), titles=list("abcde"), columns=3)
    assert len(fig.axes) == 6 and fig.axes[4].get_title() == "e"
