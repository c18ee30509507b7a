"""Reproduction checks for Part III, from real training runs on the embedded digits (quick profile settings of
chapters 6 and 7)."""
import pytest

from memlib import early_phase, models, noise
from memlib.elr import ELRLoss
from memlib.train import Checkpoints, fit

ELR_SETTINGS = dict(epochs=60, lr=0.1, weight_decay=5e-4, batch_size=64, schedule="cosine")  # chapter 6, quick


@pytest.mark.slow
def test_elr_prevents_memorization_of_noisy_labels(digits_train, digits_test):
    """Liu et al. 2020: with 40% symmetric noise, CE ends up memorizing the mislabeled examples and losing test
    accuracy; ELR (the paper's beta = 0.7, lambda = 3) keeps predicting their true class."""
    noisy = noise.symmetric(digits_train.y, 0.4, 10, seed=0)
    marks = {}
    for method in ("CE", "ELR"):
        model = models.build("mlp", 10, digits_train.shape, seed=0)
        loss = ELRLoss(len(digits_train), 10, beta=0.7, lam=3.0) if method == "ELR" else None
        history = fit(model, digits_train, labels=noisy, test=digits_test, loss=loss, seed=0, **ELR_SETTINGS)
        marks[method] = noise.milestones(noise.timeline(history, noisy))
    assert marks["ELR"]["final_test"] >= marks["CE"]["final_test"] + 0.05
    assert marks["ELR"]["final_memorized"] <= marks["CE"]["final_memorized"] - 0.30


@pytest.mark.slow
def test_training_becomes_stable_to_sgd_noise_early(digits_train, digits_test):
    """Frankle et al. 2020 (LMC): two copies trained from the initialization with different data orders end in
    different basins (an error barrier between them); from weights a little way into training, they end in one
    linearly connected region. Chapter 7's quick settings: a small BatchNorm CNN, 20% noise, 30 epochs."""
    settings = dict(epochs=30, lr=0.2, weight_decay=5e-4, batch_size=64, schedule="cosine")
    noisy = noise.symmetric(digits_train.y, 0.2, 10, seed=0)
    model = models.build("cnn", 10, digits_train.shape, seed=0, width=8)
    keep = Checkpoints([0, 200])  # 23 iterations per epoch, 690 in all
    fit(model, digits_train, labels=noisy, seed=0, callbacks=[keep], **settings)
    frame = early_phase.stability(model, keep.states, digits_train, digits_test, labels=noisy, seeds=(100, 101),
                                  **settings).set_index("step")
    assert frame.loc[0, "train_barrier"] >= 0.05
    assert frame.loc[200, "train_barrier"] <= frame.loc[0, "train_barrier"] / 4
