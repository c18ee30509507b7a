import math

import pandas as pd
import pytest

from memlib import gradients


def record(cosines, shares, seed=0):
    """A made-up probe record: ``cosines`` maps each group to its cosine per epoch."""
    rows = [dict(epoch=epoch + 1, group=group, cosine=values[epoch], noisy_share=shares[epoch], seed=seed)
            for epoch in range(len(shares)) for group, values in cosines.items()]
    return pd.DataFrame(rows)


def test_epoch_summary_averages_the_hidden_groups_and_keeps_the_first_and_output_groups():
    frame = gradients.epoch_summary(record({"conv1": [-0.8, -0.6], "conv2": [-0.4, 0.2], "output": [-0.5, -0.1]},
                                           [0.4, 0.5]))
    assert frame.hidden.tolist() == pytest.approx([-0.6, -0.2])
    assert frame["first"].tolist() == [-0.8, -0.6] and frame.output.tolist() == [-0.5, -0.1]


def test_seed_summary_has_one_row_per_seed():
    runs = pd.concat([record({"linear1": [-0.9, -0.7], "output": [-0.3, -0.5]}, [0.5, 0.3], seed=0),
                      record({"linear1": [-0.2, 0.4], "output": [-0.1, -0.1]}, [0.2, 0.2], seed=1)])
    summary = gradients.seed_summary(runs).set_index("seed")
    assert summary.hidden_mean.tolist() == pytest.approx([-0.8, 0.1])
    assert summary.hidden_max.tolist() == pytest.approx([-0.7, 0.4])
    assert summary.hidden_negative.tolist() == [1.0, 0.5]
    assert summary.output_mean.tolist() == pytest.approx([-0.4, -0.1])
    assert summary.share.tolist() == pytest.approx([0.4, 0.2])


def test_non_negative_cells_name_the_hidden_exceptions_including_missing_cosines():
    frame = record({"linear1": [-0.9, 0.1, math.nan], "linear2": [-0.5, -0.5, -0.5], "output": [0.3, 0.3, 0.3]},
                   [0.5] * 3)
    cells = gradients.non_negative_cells(frame)
    assert list(zip(cells.group, cells.epoch)) == [("linear1", 2), ("linear1", 3)]  # never the output layer
