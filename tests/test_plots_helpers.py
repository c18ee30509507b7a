"""memlib.plots.trajectories and measured_vs_predicted."""
import matplotlib

matplotlib.use("Agg")
import numpy as np

from memlib import plots


def test_trajectories_draws_each_path_and_its_last_point_inside_the_frame():
    paths = {"out": np.array([[0.0, 0.0], [1.0, 1.0], [10.0, 10.0]]), "in": np.array([[0.0, 0.0], [0.5, -0.5]])}
    ax = plots.trajectories(paths, limit=2, colors={"in": "k"}, styles={"out": dict(linewidth=0.5)})
    lines = ax.get_lines()
    assert [line.get_label() for line in lines[::2]] == ["out", "in"]
    assert list(lines[1].get_xdata()) == [1.0] and list(lines[3].get_xdata()) == [0.5]  # last points inside
    assert lines[0].get_linewidth() == 0.5 and lines[2].get_color() == "k" and ax.get_xlim() == (-2, 2)


def test_measured_vs_predicted_labels_every_point_beside_the_identity_line():
    ax = plots.measured_vs_predicted([1.0, 2.0], [1.1, 1.9], ["a", "b"], xlabel="p", ylabel="m")
    assert list(ax.get_lines()[0].get_ydata()) == [1.1, 1.9] and [t.get_text() for t in ax.texts] == ["a", "b"]
    assert ax.get_xlabel() == "p" and ax.get_ylabel() == "m"
