"""memlib.outliers' chapter recipes (score_examples, train_on_slices) and the analyses of their frames (extremes,
metric_summary, slice_summary), Carlini et al. 2019."""
import math

import pandas as pd
import pytest
import torch

from memlib import data, outliers

FIT = dict(epochs=2, lr=0.1, weight_decay=5e-4, batch_size=64)
MLP = dict(model="mlp", model_options=dict(hidden=[16]))


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    return tmp_path


def test_score_examples_scores_every_training_example_once_per_setting(cache_dir):
    scores = outliers.score_examples("synthetic", **MLP, scorers=2, adv_steps=5, fit=FIT)
    train_set = data.load("synthetic", "train")
    assert len(scores) == len(train_set) and scores.label.tolist() == train_set.y.tolist()
    assert scores.rare.tolist() == train_set.meta["rare"].tolist()
    assert scores.conf.between(0, 1).all() and scores.agr.between(0, 1).all() and (scores.adv >= 0).all()
    expected = outliers.percentile_within_class(torch.tensor(scores.adv.values), train_set.y)
    assert torch.allclose(torch.tensor(scores.percentile.values), expected)
    again = outliers.score_examples("synthetic", **MLP, scorers=2, adv_steps=5, fit=FIT)
    assert again.equals(scores) and len(list(cache_dir.glob("*.pt"))) == 1


def test_train_on_slices_trains_a_slice_and_a_random_subset_per_seed(cache_dir):
    runs = outliers.train_on_slices("synthetic", **MLP, slices=2, slice_size=None, seeds=2, fit=FIT, scorers=2,
                                    adv_steps=5)
    assert sorted(zip(runs.seed, runs.slice)) == [(0, 25), (0, 75), (1, 25), (1, 75)]
    assert runs.groupby("seed")["size"].sum().tolist() == [len(data.load("synthetic", "train"))] * 2
    assert runs[["adv", "random", "adv_rare", "random_rare"]].stack().between(0, 1).all()
    digits = outliers.train_on_slices("digits", **MLP, slices=2, slice_size=None, seeds=1, fit=FIT, scorers=2,
                                      adv_steps=5)
    assert digits.adv_rare.isna().all() and digits.adv.notna().all()  # the digits mark no rare examples


def test_extremes_lists_each_class_lowest_then_highest_ranks():
    y = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])
    percentile = torch.tensor([0.9, 0.1, 0.1, 0.9, 0.4, 0.4, 0.6, 0.6])
    assert outliers.extremes(percentile, y, per_class=1) == [2, 1, 0, 3]
    assert outliers.extremes(percentile, y, per_class=2) == [2, 1, 4, 5, 6, 7, 0, 3]


def test_metric_summary_correlates_the_metrics_and_counts_flagged_low_ranks():
    n = 50
    adv = torch.arange(n, dtype=torch.float64)
    frame = pd.DataFrame({"label": [0] * n, "adv": adv.tolist(), "conf": (adv ** 2).tolist(),
                          "agr": (-adv).tolist(), "rare": [i < 5 or i == 40 for i in range(n)]})
    rows = {row["metric"]: row for row in outliers.metric_summary({"toy": frame}, fraction=0.2)}
    assert rows["adv"]["rho_conf"] == pytest.approx(1) and rows["adv"]["rho_agr"] == pytest.approx(-1)
    assert rows["adv"]["median"] == pytest.approx(float(adv.median().item() + 0.5))
    assert rows["adv"]["flagged"] == 6 and rows["adv"]["flagged_low"] == 5  # the five lowest, not example 40
    assert rows["agr"]["flagged_low"] == 1  # agr reverses the ranking: of the flagged, only example 40 ranks low
    plain = outliers.metric_summary({"toy": frame.assign(rare=False)})
    assert all(row["flagged"] is None and row["flagged_low"] is None for row in plain)


def test_slice_summary_finds_the_best_slice_and_names_the_shape():
    def runs(accuracy):
        return pd.DataFrame([dict(seed=seed, slice=s, adv=a + 0.01 * seed, random=0.5, adv_rare=math.nan,
                                  random_rare=math.nan) for seed in (0, 1) for s, a in zip((10, 50, 90), accuracy)])

    middle = outliers.slice_summary(runs([0.6, 0.9, 0.7]))
    assert middle["shape"] == "middle best" and middle["best_slice"] == 50
    assert middle["best"] == pytest.approx([0.9, 0.91]) and middle["typical"] == pytest.approx([0.7, 0.71])
    assert outliers.slice_summary(runs([0.9, 0.6, 0.7]))["shape"] == "outliers best"
    assert outliers.slice_summary(runs([0.5, 0.6, 0.7]))["shape"] == "typical best"
