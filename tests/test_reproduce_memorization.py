"""Reproduction check for Part V, from real training runs on the embedded digits (chapter 10's quick detection
settings): the memorization score and ELR's targets both find planted label noise."""
import pytest

from memlib import memorization, noise, settings


@pytest.mark.slow
@pytest.mark.parametrize("method", ["memorization", "elr"])
def test_memorization_and_elr_find_planted_label_noise(method, digits_train, digits_test):
    """20% symmetric noise on digits: the Feldman & Zhang (2020) score (models on 70% subsets) and ELR's targets
    (Liu et al. 2020) each rank the mislabeled examples above the clean ones with AUROC ≥ 0.9."""
    detect = settings.chapter(10).config("quick")["detection"]
    noisy = noise.symmetric(digits_train.y, 0.2, digits_train.num_classes, seed=0)
    frame = memorization.suspects(digits_train, noisy, method=method, model=detect["model"],
                                  model_options=detect["model_options"], runs=detect["runs"],
                                  fraction=detect["fraction"], elr=detect["elr"], test=digits_test, seed=0,
                                  **detect["fit"])
    metrics = memorization.detection(frame, noisy)
    assert metrics["auroc"] >= 0.9, metrics
