import matplotlib

matplotlib.use("Agg")
import pandas as pd

from memlib import plots

TIMELINE = pd.DataFrame({"epoch": [1, 2, 1, 2], "method": ["CE", "CE", "ELR", "ELR"], "test": [0.5, 0.6, 0.7, 0.8],
                         "memorized": [0.1, 0.9, 0.1, 0.2]})


def test_panels_draw_one_panel_per_group_with_one_legend():
    fig = plots.panels(TIMELINE, "method", "epoch", ["test", "memorized"], title="40% noise")
    assert [ax.get_title() for ax in fig.axes] == ["CE: 40% noise", "ELR: 40% noise"]
    assert fig.axes[0].get_legend() is None
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == [plots.TIMELINE["test"],
                                                                            plots.TIMELINE["memorized"]]
    assert fig.axes[1].get_lines()[0].get_ydata().tolist() == [0.7, 0.8]


def test_compare_runs_draws_one_panel_per_column_and_one_line_per_run():
    runs = {"a": TIMELINE[TIMELINE.method == "CE"], "b": TIMELINE[TIMELINE.method == "ELR"]}
    fig = plots.compare_runs(runs, "epoch", {"test": "test accuracy", "memorized": "memorized"})
    assert [ax.get_ylabel() for ax in fig.axes] == ["test accuracy", "memorized"]
    assert [line.get_label() for line in fig.axes[1].get_lines()] == ["a", "b"]


def test_landmark_axes_mark_every_present_landmark_in_every_panel():
    fig, axes = plots.landmark_axes({"late": 40, "early": 5, "never": None, "missing": float("nan")}, 2, xmax=100)
    strip = fig.axes[0]
    assert [t.get_text() for t in strip.texts] == ["iteration 5: early", "iteration 40: late"]
    assert len(axes) == 2 and all(len(ax.get_lines()) == 2 for ax in axes)
    assert axes[-1].get_xscale() == "symlog" and axes[-1].get_xlim() == (0, 100)


def test_curves_take_an_axis_label_and_markers_and_the_sparsity_axis_runs_to_the_right():
    ax = plots.curves(TIMELINE, "epoch", ["test"], xlabel="", marker="o")
    assert ax.get_xlabel() == "" and ax.get_lines()[0].get_marker() == "o"
    ax = plots.sparsity_axis(plots.curves(TIMELINE.assign(remaining=[1.0, 0.5] * 2), "remaining", ["test"]))
    assert ax.get_xscale() == "log" and ax.xaxis_inverted()
