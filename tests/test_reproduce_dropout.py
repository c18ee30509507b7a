"""Maini et al. 2023, Table 3, on the embedded digits with 10% symmetric label noise (quick profile), from real
training runs: standard dropout and a fixed sparse network fit the mislabeled examples; so does example-tied
dropout, but dropping its memorization units forgets them while the clean examples stay learned. Seen through
another example's units, the mislabeled examples lose their memorized labels too (chapter 2's control).

One hidden layer of 1024 units, trained to convergence (150 epochs, no weight decay): with dropout at p = 0.4 the
network needs that long to fit the mislabeled digits at all.
"""
import pytest
import torch

from memlib import dropout, models, noise, settings
from memlib.train import evaluate, fit

QUICK = settings.chapter(2).config("quick")  # the chapter's quick-profile runs
SETTINGS = dict(**QUICK["fit"], seed=0)


@pytest.fixture(scope="module")
def noisy(digits_train):
    return noise.symmetric(digits_train.y, QUICK["noise_rate"], digits_train.num_classes, seed=0)


def train(digits_train, noisy, method, **rates):
    model = models.build(QUICK["model"], 10, digits_train.shape, seed=0, dropout=method, **QUICK["model_options"], **rates)
    fit(model, digits_train, labels=noisy, **SETTINGS)
    return model


def clean_and_noisy_accuracy(predictions, noisy):
    """Accuracy w.r.t. the training (noisy) labels on the correctly and on the wrongly labeled examples."""
    hits = (predictions.cpu() == noisy.labels).float()
    return float(hits[~noisy.is_noisy].mean()), float(hits[noisy.is_noisy].mean())


@pytest.mark.parametrize("method", ["standard", "sparse"])
def test_standard_dropout_and_a_sparse_network_fit_the_mislabeled_examples(digits_train, noisy, method):
    model = train(digits_train, noisy, method, **QUICK["methods"][method])
    clean, mislabeled = clean_and_noisy_accuracy(evaluate(model, digits_train)[0], noisy)
    assert clean > 0.95 and mislabeled > 0.9


@pytest.fixture(scope="module")
def tied(digits_train, noisy):
    return train(digits_train, noisy, "example_tied", **QUICK["methods"]["example_tied"],
                 num_examples=len(digits_train))


def test_dropping_the_memorization_units_forgets_the_mislabeled_examples_only(digits_train, noisy, tied):
    predictions = dropout.predictions_by_mode(tied, digits_train, ("train", "drop"))
    clean, mislabeled = clean_and_noisy_accuracy(predictions["train"], noisy)
    assert clean > 0.95 and mislabeled > 0.9  # memorized, through each example's own units
    clean, mislabeled = clean_and_noisy_accuracy(predictions["drop"], noisy)
    assert mislabeled < 0.2 and clean > 0.85


def test_the_memorized_labels_are_tied_to_each_examples_own_units(digits_train, noisy, tied):
    """Chapter 2's control: each training example through the units of the one before it (train mode, inputs
    shifted by one) loses its memorized label, while the clean examples stay learned. What the network memorized
    is held by the pairing of an example with its own mask, which test mode, the same mask for every example,
    cannot single out (the chapter's explanation of why test mode forgets here)."""
    shifted = digits_train.subset(torch.roll(torch.arange(len(digits_train)), -1))
    with dropout.using_mode(tied, "train"):
        other = evaluate(tied, shifted)[0].cpu().roll(1)  # example j through the mask of example j - 1
    clean, mislabeled = clean_and_noisy_accuracy(other, noisy)
    assert mislabeled < 0.2 and clean > 0.85
