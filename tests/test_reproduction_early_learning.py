"""Reproduction checks for Part III, from real training runs on the embedded digits (quick profile settings of
chapters 6 and 7)."""
import pytest

from memlib import early_phase, models, noise, settings
from memlib.elr import ELRLoss
from memlib.train import Checkpoints, fit


@pytest.mark.slow
def test_elr_prevents_memorization_of_noisy_labels(digits_train, digits_test):
    """Liu et al. 2020: with 40% symmetric noise, CE ends up memorizing the mislabeled examples and losing test
    accuracy; ELR (the reference's beta = 0.7, lambda = 3) keeps predicting their true class. Chapter 6's quick
    settings: an MLP, 40% noise, 60 epochs."""
    config = settings.chapter(6).config("quick")
    noisy = noise.symmetric(digits_train.y, config["noise_rate"], 10, seed=0)
    marks = {}
    for method in ("CE", "ELR"):
        model = models.build(config["model"], 10, digits_train.shape, seed=0)
        loss = ELRLoss(len(digits_train), 10, **config["elr_options"]) if method == "ELR" else None
        history = fit(model, digits_train, labels=noisy, test=digits_test, loss=loss, seed=0, **config["fit"])
        marks[method] = noise.milestones(noise.timeline(history, noisy))
    assert marks["ELR"]["final_test"] >= marks["CE"]["final_test"] + 0.05
    assert marks["ELR"]["final_memorized"] <= marks["CE"]["final_memorized"] - 0.30


@pytest.mark.slow
def test_training_becomes_stable_to_sgd_noise_early(digits_train, digits_test):
    """Frankle et al. 2020 (LMC): two copies trained from the initialization with different data orders end in
    different basins (an error barrier between them); from weights a little way into training, they end in one
    linearly connected region. Chapter 7's quick settings: a small BatchNorm CNN, 20% noise, 30 epochs."""
    config = settings.chapter(7).config("quick")
    noisy = noise.symmetric(digits_train.y, config["noise_rate"], 10, seed=0)
    model = models.build(config["model"], 10, digits_train.shape, seed=0, **config["model_options"])
    keep = Checkpoints([0, 200])  # two of the chapter's rewinding points; 23 iterations per epoch, 690 in all
    assert {0, 200} <= set(config["rewind"])
    fit(model, digits_train, labels=noisy, seed=0, callbacks=[keep], **config["fit"])
    frame = early_phase.stability(model, keep.states, digits_train, digits_test, labels=noisy, seeds=(100, 101),
                                  points=config["path_points"], **config["fit"]).set_index("step")
    assert frame.loc[0, "train_barrier"] >= 0.05
    assert frame.loc[200, "train_barrier"] <= frame.loc[0, "train_barrier"] / 4
