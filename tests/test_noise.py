import pandas as pd
import pytest
import torch

from memlib import noise
from memlib.train import History


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.2, 0.4, 0.8])
def test_symmetric_flips_exactly_round_rate_n_labels_to_other_classes(rate):
    labels = torch.arange(1000) % 10
    result = noise.symmetric(labels, rate, 10, seed=3)
    assert int(result.is_noisy.sum()) == round(rate * 1000)
    assert torch.equal(result.true, labels)
    assert torch.equal(result.is_noisy, result.labels != labels)
    assert abs(result.rate - round(rate * 1000) / 1000) < 1e-9


def test_symmetric_draws_the_new_class_uniformly_among_the_others():
    labels = torch.zeros(20000, dtype=torch.long)
    result = noise.symmetric(labels, 0.5, 5, seed=0)
    counts = torch.bincount(result.labels[result.is_noisy], minlength=5)
    assert counts[0] == 0
    assert torch.allclose(counts[1:] / counts[1:].sum(), torch.full((4,), 0.25), atol=0.02)


def test_symmetric_is_seeded():
    labels = torch.arange(500) % 7
    a, b = noise.symmetric(labels, 0.3, 7, seed=1), noise.symmetric(labels, 0.3, 7, seed=1)
    assert torch.equal(a.labels, b.labels)
    assert not torch.equal(a.labels, noise.symmetric(labels, 0.3, 7, seed=2).labels)


@pytest.mark.parametrize("labels, rate, num_classes, match", [
    (torch.arange(10) % 3, 1.0, 3, r"\[0, 1\)"),
    (torch.arange(10) % 3, -0.1, 3, r"\[0, 1\)"),
    (torch.zeros(2, 5, dtype=torch.long), 0.1, 3, "1-D"),
    (torch.zeros(5), 0.1, 3, "integer class indices"),
    (torch.arange(10) % 3, 0.1, 1, "at least 2"),
    (torch.arange(10) % 5, 0.1, 3, r"\[0, 3\)"),
    (torch.tensor([0, -1, 2]), 0.1, 3, r"\[0, 3\)"),
])
def test_symmetric_rejects_bad_input(labels, rate, num_classes, match):
    with pytest.raises(ValueError, match=match):
        noise.symmetric(labels, rate, num_classes)


def test_asymmetric_relabels_exact_counts_along_the_cifar10_map():
    labels = torch.arange(1000) % 10  # 100 per class
    result = noise.asymmetric(labels, 0.4, seed=0)
    for src, dst in noise.CIFAR10_ASYMMETRIC.items():
        members = labels == src
        assert int(result.is_noisy[members].sum()) == 40
        assert set(result.labels[members & result.is_noisy].tolist()) == {dst}
    untouched = ~torch.isin(labels, torch.tensor(list(noise.CIFAR10_ASYMMETRIC)))
    assert not result.is_noisy[untouched].any()
    assert torch.equal(result.labels, noise.asymmetric(labels, 0.4, seed=0).labels)


def test_asymmetric_rejects_bad_input():
    with pytest.raises(ValueError, match="different class"):
        noise.asymmetric(torch.arange(10) % 3, 0.2, {1: 1})
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        noise.asymmetric(torch.arange(10) % 3, 1.2, {1: 2})
    with pytest.raises(ValueError, match="do not occur"):
        noise.asymmetric(torch.arange(10) % 3, 0.2, {1: 99})
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        noise.asymmetric(torch.arange(10) % 3, 0.2, {1: -1}, num_classes=3)


def test_asymmetric_may_target_a_class_without_examples_when_num_classes_is_given():
    result = noise.asymmetric(torch.zeros(10, dtype=torch.long), 0.3, {0: 4}, num_classes=5)
    assert result.labels.tolist().count(4) == 3 and int(result.is_noisy.sum()) == 3


def _history(predictions, test_accuracy, labels):
    predictions = torch.tensor(predictions)
    return History(torch.as_tensor(labels), predictions, torch.zeros(predictions.shape), torch.zeros(len(predictions)),
                   torch.tensor(test_accuracy))


def test_timeline_and_milestones_read_memorization_from_the_records():
    # Examples 2 and 3 are mislabeled (true 0 and 1, given 1 and 0).
    noisy = noise.NoisyLabels(torch.tensor([0, 1, 1, 0]), torch.tensor([False, False, True, True]),
                              torch.tensor([0, 1, 0, 1]))
    history = _history([[0, 1, 0, 1], [0, 1, 1, 1], [0, 1, 1, 0]], [0.9, 0.8, 0.7], noisy.labels)
    frame = noise.timeline(history, noisy)
    assert frame["memorized"].tolist() == [0.0, 0.5, 1.0]
    assert frame["true_label"].tolist() == [1.0, 0.5, 0.0]
    assert frame["clean"].tolist() == [1.0, 1.0, 1.0]
    marks = noise.milestones(frame)
    assert marks["peak_epoch"] == 1 and marks["memorized_epoch"] == 3 and marks["true_label_at_peak"] == 1.0
    assert marks["final_memorized"] == 1.0 and abs(marks["final_test"] - 0.7) < 1e-6
    assert noise.milestones(frame.assign(memorized=0.1))["memorized_epoch"] is None
    assert isinstance(frame, pd.DataFrame)
