"""memlib.memorization: the Feldman-Zhang estimator on cases with a known answer, the suspects frame's contract,
the detection metrics and the argument checks."""
import math
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from memlib import data, memorization, noise

FIT = dict(epochs=40, lr=0.1, weight_decay=0.0, batch_size=16, schedule="constant")
TINY_FIT = dict(epochs=3, lr=0.1, weight_decay=0.0, batch_size=16)


def clusters():
    """Four tight classes of 1×4×4 images (24 each), then: example 96, a point off class 0's cluster labelled 1
    (its label can be predicted only by memorizing it); examples 97-102, six copies of a typical class-2 point."""
    g = torch.Generator().manual_seed(0)
    prototypes = torch.rand(4, 1, 4, 4, generator=g)
    y = torch.arange(96) % 4
    x = prototypes[y] + 0.03 * torch.randn(96, 1, 4, 4, generator=g)
    odd = prototypes[0] + 0.25 * torch.sign(torch.randn(1, 4, 4, generator=g))
    copies = prototypes[2].expand(6, 1, 4, 4)
    x = torch.cat([x, odd[None], copies]).clamp(0, 1)
    y = torch.cat([y, torch.tensor([1]), torch.full((6,), 2)])
    return data.Dataset(x, y, normalization=data.Normalization.from_images(x))


def test_estimator_on_records_with_a_known_answer():
    """Example 0 is predicted right exactly when its run trained on it (mem 1, no variance); example 1 always
    (mem 0); example 2 half the time in each group (mem 0, standard error from the binomial variances)."""
    included = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 1, 0], [0, 0, 0]], dtype=torch.bool)
    correct = torch.stack([included[:, 0], torch.ones(4, dtype=torch.bool), torch.tensor([1, 0, 1, 0]).bool()], 1)
    frame = memorization.estimate(included, correct, torch.tensor([0, 1, 2])).frame()
    assert frame.memorization.tolist()[:2] == [1.0, 0.0]
    assert frame.se.tolist()[:2] == [0.0, 0.0]
    # example 2: in runs 0 and 1 → correct 1 and 0 (p = 1/2); out runs 2 and 3 → 1 and 0 (p = 1/2)
    assert frame.memorization[2] == 0.0 and frame.se[2] == pytest.approx(math.sqrt(0.25 / 2 + 0.25 / 2))
    assert frame.runs_in.tolist() == [2, 2, 2] and frame.runs_out.tolist() == [2, 2, 2]


def test_an_example_never_held_out_has_no_estimate():
    included = torch.tensor([[1, 1], [1, 0]], dtype=torch.bool)
    frame = memorization.estimate(included, included, torch.tensor([0, 1])).frame()
    assert math.isnan(frame.memorization[0]) and frame.memorization[1] == 1.0


def test_feldman_zhang_finds_the_memorized_and_the_duplicated_example():
    """A label learnable only when seen has mem ≈ 1; a duplicated typical example has mem ≈ 0 (Feldman & Zhang
    2020, Sec. 2); a test copy of the odd example is influenced by it alone (infl ≈ 1)."""
    train = clusters()
    test = data.Dataset(train.x[[96, 0]], train.y[[96, 0]], normalization=train.normalization)
    est = memorization.feldman_zhang(train, runs=24, model_options=dict(hidden=(64,)), test=test, seed=0, **FIT)
    frame = est.frame()
    assert frame.runs_in[96] > 0 and frame.runs_out[96] > 0
    assert frame.memorization[96] >= 0.8
    assert abs(frame.memorization[97]) <= 0.1
    infl, se = est.influence()
    assert infl.shape == (len(train), 2) and se.shape == (len(train), 2)
    assert float(infl[96, 0]) >= 0.8
    assert float(infl[:96, 0].abs().max()) < float(infl[96, 0])


def test_estimate_round_trips_through_a_dict():
    included = torch.tensor([[1, 0], [0, 1]], dtype=torch.bool)
    est = memorization.estimate(included, included, torch.tensor([0, 1]), test_correct=included)
    again = memorization.Estimate.from_dict(est.to_dict())
    pd.testing.assert_frame_equal(est.frame(), again.frame())


def test_influence_needs_a_test_set():
    est = memorization.estimate(torch.ones(2, 3, dtype=torch.bool), torch.ones(2, 3, dtype=torch.bool),
                                torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="test"):
        est.influence()


@pytest.mark.parametrize("bad, match", [(dict(runs=1), "runs"), (dict(runs=4, fraction=1.0), "fraction"),
                                        (dict(runs=4, labels=torch.zeros(3, dtype=torch.long)), "labels")])
def test_feldman_zhang_checks_its_arguments(tiny, bad, match):
    with pytest.raises(ValueError, match=match):
        memorization.feldman_zhang(tiny, **bad, **TINY_FIT)


@pytest.mark.parametrize("method", memorization.METHODS)
def test_suspects_frame_contract(tiny, method):
    noisy = noise.symmetric(tiny.y, 0.25, tiny.num_classes, seed=0)
    frame = memorization.suspects(tiny, noisy, method=method, test=tiny, runs=4, folds=2, adv_steps=3,
                                  model_options=dict(hidden=(16,)), **TINY_FIT)
    columns = ["example", "score", "rank", "label", "flagged"]
    assert list(frame.columns[:5]) == columns
    assert sorted(frame.example) == list(range(len(tiny)))
    assert frame["rank"].tolist() == list(range(1, len(tiny) + 1))
    assert (np.diff(frame.score.to_numpy()) <= 0).all()  # ranked from the most suspicious
    assert np.isfinite(frame.score.to_numpy()).all()
    assert (frame.label.to_numpy() == noisy.labels.numpy()[frame.example.to_numpy()]).all()
    assert frame.flagged.dtype == bool
    has_threshold = method in ("forgetting", "memorization", "adv")
    assert ("threshold" in frame.columns) == (has_threshold and bool(frame.flagged.any()))
    if "threshold" in frame.columns:
        assert (frame.score[frame.flagged] >= frame.threshold.iloc[0]).all()
    assert frame.attrs["seconds"] > 0
    metrics = memorization.detection(frame, noisy)
    assert set(metrics) == {"precision", "recall", "f1", "auroc"}
    assert all(0 <= v <= 1 for v in metrics.values())


def test_suspects_checks_its_arguments(tiny):
    with pytest.raises(ValueError, match="method"):
        memorization.suspects(tiny, tiny.y, method="loss", **TINY_FIT)
    with pytest.raises(ValueError, match="epoch"):
        memorization.suspects(tiny, tiny.y, method="early-loss", **TINY_FIT)
    with pytest.raises(ValueError, match="labels"):
        memorization.suspects(tiny, tiny.y[:-1], method="elr", **TINY_FIT)
    with pytest.raises(ValueError, match="folds"):
        memorization.suspects(tiny, tiny.y, method="confident-learning", folds=1, **TINY_FIT)


def test_confident_learning_says_how_to_install_cleanlab(tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "cleanlab", None)
    with pytest.raises(ImportError, match=r"pip install cleanlab"):
        memorization.suspects(tiny, tiny.y, method="confident-learning", **TINY_FIT)


def test_detection_metrics_on_a_known_frame():
    frame = pd.DataFrame({"example": [3, 0, 1, 2], "score": [0.9, 0.8, 0.3, 0.1],
                          "flagged": [True, True, False, False]})
    is_noisy = torch.tensor([False, True, False, True])  # 3 and 1 are mislabeled
    metrics = memorization.detection(frame, is_noisy)
    assert metrics["precision"] == 0.5 and metrics["recall"] == 0.5 and metrics["f1"] == 0.5
    # pairs (mislabeled, clean): (3, 0) ✓, (3, 2) ✓, (1, 0) ✗, (1, 2) ✓ → 3/4
    assert metrics["auroc"] == 0.75
    with pytest.raises(ValueError, match="both groups"):
        memorization.detection(frame, torch.zeros(4, dtype=torch.bool))


def test_split_flags_the_high_group():
    score = torch.cat([torch.linspace(0, 0.1, 50), torch.linspace(0.9, 1.0, 10)])
    flagged, threshold = memorization.split(score)
    assert flagged.tolist() == [False] * 50 + [True] * 10
    assert threshold == pytest.approx(0.9)
    flagged, threshold = memorization.split(torch.ones(5))  # one value: nothing to split
    assert not flagged.any() and threshold is None


def test_removal_test_contract():
    train = clusters()
    test = data.Dataset(train.x[:20], train.y[:20], normalization=train.normalization)
    scores = torch.zeros(len(train))
    scores[96] = 1.0
    infl = torch.zeros(len(train), len(test))
    infl[96, 3] = 1.0
    frame, target = memorization.removal_test(train, test, scores, infl, count=1, seeds=2, targets=1,
                                              model_options=dict(hidden=(16,)), **TINY_FIT)
    assert target.tolist() == [3]
    assert sorted(frame.removed.unique()) == ["none", "random", "top memorized"]
    assert (frame.groupby("removed").size() == 2).all()
    assert frame[["test_accuracy", "target_accuracy"]].apply(lambda c: c.between(0, 1).all()).all()
    with pytest.raises(ValueError, match="count"):
        memorization.removal_test(train, test, scores, infl, count=len(train), seeds=1, **TINY_FIT)
