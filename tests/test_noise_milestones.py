import math

import pandas as pd
import pytest

from memlib import noise


def _timeline(test, memorized, true_label):
    return pd.DataFrame({"epoch": range(1, len(test) + 1), "clean": test, "memorized": memorized,
                         "true_label": true_label, "test": test})


def test_milestones_by_reads_each_run_apart():
    first = _timeline([0.5, 0.9, 0.7], [0.0, 0.5, 0.95], [0.6, 0.8, 0.1]).assign(method="CE", seed=0)
    second = _timeline([0.6, 0.8, 0.85], [0.0, 0.1, 0.2], [0.5, 0.7, 0.75]).assign(method="ELR", seed=0)
    marks = noise.milestones_by(pd.concat([second, first]), ["method", "seed"])
    assert marks[["method", "seed"]].values.tolist() == [["ELR", 0], ["CE", 0]]  # in order of appearance
    ce, elr = marks.set_index("method").loc["CE"], marks.set_index("method").loc["ELR"]
    assert ce.peak_epoch == 2 and ce.memorized_epoch == 3 and ce.final_true_label == 0.1
    assert elr.peak_epoch == 3 and math.isnan(elr.memorized_epoch) and elr.final_true_label == 0.75
    assert ce.final_test == noise.milestones(first)["final_test"]


def test_milestones_by_names_a_missing_column():
    with pytest.raises(ValueError, match="no column"):
        noise.milestones_by(_timeline([0.5], [0.0], [0.5]), ["method"])


def test_every_milestone_has_a_name():
    marks = noise.milestones_by(_timeline([0.5, 0.6], [0.0, 0.1], [0.5, 0.4]).assign(seed=0), "seed")
    assert set(noise.MILESTONES) <= set(marks.columns)
