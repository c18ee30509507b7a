import math

import pandas as pd
import pytest

from memlib import noise


def timeline(seed, rate, memorized, test):
    """A made-up memorization timeline: the given memorized fractions and test accuracies per epoch."""
    epochs = len(memorized)
    return pd.DataFrame({"epoch": range(1, epochs + 1), "clean": [1.0] * epochs, "memorized": memorized,
                         "true_label": [1 - m for m in memorized], "test": test, "seed": seed, "noise": rate})


def test_landmarks_give_each_run_its_milestones_and_threshold_epochs():
    runs = pd.concat([timeline(0, 0.1, [0.1, 0.6, 0.95], [0.5, 0.8, 0.7]),
                      timeline(1, 0.1, [0.0, 0.2, 0.55], [0.9, 0.6, 0.6])])
    frame = noise.landmarks(runs)
    assert frame.seed.tolist() == [0, 1]
    assert frame.memorized_50.tolist() == [2.0, 3.0]
    assert frame.memorized_90[0] == 3.0 and math.isnan(frame.memorized_90[1])  # seed 1 never reaches 90%
    assert frame.peak_epoch.tolist() == [2, 1]
    assert frame.fall.tolist() == pytest.approx([0.8 - 0.7, 0.9 - 0.6])
    assert frame.true_label_at_peak[0] == pytest.approx(0.4)


def test_memorized_epochs_mark_the_mean_run_and_leave_out_thresholds_never_reached():
    runs = pd.concat([timeline(0, 0.1, [0.2, 0.6, 0.8], [0.5] * 3), timeline(1, 0.1, [0.2, 0.2, 0.8], [0.5] * 3)])
    assert noise.memorized_epochs(runs) == [3]  # the mean is 0.2, 0.4, 0.8: half at epoch 3, 90% never
    assert noise.memorized_epochs(runs, (0.3, 0.4)) == [2, 2]
