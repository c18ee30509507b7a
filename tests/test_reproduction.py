"""The foundation's reproduction checks, from real training runs on the embedded digits (quick profile)."""
from memlib import models, noise, settings
from memlib.train import fit

SETTINGS = settings.chapter(1).config("quick")["timeline"]["fit"]  # chapter 1's digits recipe


def test_mlp_reaches_95_percent_on_clean_digits(digits_train, digits_test):
    model = models.build("mlp", 10, digits_train.shape, seed=0)
    history = fit(model, digits_train, test=digits_test, seed=0, **{**SETTINGS, "epochs": 30})
    assert float(history.test_accuracy[-1]) >= 0.95


def test_noisy_labels_are_memorized_after_test_accuracy_peaks(digits_train, digits_test):
    """Arpit et al. 2017; Maini et al. 2023, Fig. 2: learn first, memorize later."""
    noisy = noise.symmetric(digits_train.y, 0.2, 10, seed=0)
    model = models.build("mlp", 10, digits_train.shape, seed=0)
    history = fit(model, digits_train, labels=noisy, test=digits_test, seed=0, **SETTINGS)
    marks = noise.milestones(noise.timeline(history, noisy))
    assert marks["final_memorized"] >= 0.9
    assert marks["memorized_epoch"] is not None and marks["memorized_epoch"] > marks["peak_epoch"]
    assert marks["memorized_at_peak"] < 0.2 and marks["true_label_at_peak"] > 0.7
    assert marks["final_test"] < marks["peak_test"] - 0.03
