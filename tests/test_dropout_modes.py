import math

import pytest
import torch

from memlib import dropout, models, noise
from memlib.train import evaluate


def test_other_mask_predictions_see_each_example_through_the_previous_examples_mask(tiny):
    model = models.build("mlp", 4, tiny.shape, seed=0, dropout="example_tied", p_gen=0.4, p_mem=0.2,
                         num_examples=len(tiny))
    predictions = dropout.other_mask_predictions(model, tiny)
    layer = dropout.example_tied_layers(model)[0]
    expected = []
    for j in range(len(tiny)):  # example j, forwarded with the index (and so the mask) of example j - 1
        with torch.no_grad():
            expected.append(int(model(tiny.x[j:j + 1], torch.tensor([(j - 1) % len(tiny)])).argmax()))
    assert predictions.tolist() == expected
    assert layer.mode == "train"
    with dropout.using_mode(model, "drop"):
        dropout.other_mask_predictions(model, tiny)
        assert layer.mode == "drop"  # the mode is restored


def test_other_mask_predictions_reject_a_shift_of_zero(tiny):
    model = models.build("mlp", 4, tiny.shape, dropout="example_tied", p_gen=0.4, p_mem=0.2, num_examples=len(tiny))
    with pytest.raises(ValueError, match="shift"):
        dropout.other_mask_predictions(model, tiny, shift=0)


def test_mode_accuracies_score_clean_and_mislabeled_examples_against_the_noisy_labels():
    noisy = noise.NoisyLabels(torch.tensor([0, 1, 2, 0]), torch.tensor([False, False, True, True]),
                              torch.tensor([0, 1, 1, 1]))
    predictions = {"train": {"train": torch.tensor([0, 1, 2, 1]), "drop": torch.tensor([0, 0, 1, 1])},
                   "test": {"drop": torch.tensor([3, 3])}}
    frame = dropout.mode_accuracies(predictions, noisy, torch.tensor([3, 2])).set_index("mode")
    assert frame.loc["train", "clean"] == 1.0 and frame.loc["train", "noisy"] == 0.5
    assert frame.loc["drop", "clean"] == 0.5 and frame.loc["drop", "noisy"] == 0.0
    assert frame.loc["drop", "test"] == 0.5 and math.isnan(frame.loc["train", "test"])


def test_forgotten_splits_the_fitted_clean_examples_by_drop_mode():
    noisy = noise.NoisyLabels(torch.tensor([0, 1, 2, 0, 1]), torch.tensor([False, False, False, True, False]),
                              torch.tensor([0, 1, 2, 1, 1]))
    predictions = {"train": torch.tensor([0, 1, 2, 0, 0]), "drop": torch.tensor([0, 2, 2, 1, 1])}
    forgotten, kept = dropout.forgotten(predictions, noisy)
    assert forgotten.tolist() == [False, True, False, False, False]  # example 3 is mislabeled, 4 never fitted
    assert kept.tolist() == [True, False, True, False, False]
    with pytest.raises(ValueError, match="one class per training example"):
        dropout.forgotten({"train": torch.zeros(4), "drop": torch.zeros(5)}, noisy)
