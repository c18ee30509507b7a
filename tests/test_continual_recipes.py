"""memlib.continual's chapter recipe (replay_experiment), joint_training and replay_summary (Chaudhry et al. 2019;
McClelland et al. 1995)."""
import math

import pandas as pd
import pytest

from memlib import continual

TASKS = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
FIT = dict(epochs=2, lr=0.05, weight_decay=0.0, batch_size=32, schedule="constant")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    return tmp_path


def test_replay_experiment_runs_every_setting_per_seed_and_is_cached(cache_dir):
    settings = dict(tasks=TASKS, memory_sizes=[0, 20], key_memory=20, key_sparsities=[0.01, 1.0], seeds=2, fit=FIT,
                    model_options=dict(hidden=[16]))
    run = continual.replay_experiment("digits", **settings)
    verbatim, keyed, joint, curves = (run[part] for part in ("verbatim", "keyed", "joint", "curves"))
    assert sorted(zip(verbatim.seed, verbatim.memory_size)) == [(0, 0), (0, 20), (1, 0), (1, 20)]
    assert sorted(zip(keyed.seed, keyed.key_sparsity)) == [(0, 0.01), (0, 1.0), (1, 0.01), (1, 1.0)]
    assert set(keyed.memory_size) == {20} and joint.seed.tolist() == [0, 1]
    assert verbatim[verbatim.memory_size == 0].replayed.isna().all()  # nothing replayed without a memory
    assert verbatim[verbatim.memory_size == 20].replayed.between(0, 1).all()
    assert (keyed.own[keyed.key_sparsity == 1.0] < keyed.own[keyed.key_sparsity == 0.01].values).all()
    assert len(curves) == 2 * 2 * 2 * FIT["epochs"]  # seeds × verbatim sizes × tasks × epochs
    switch = curves[(curves.memory_size == 0) & (curves.epoch == FIT["epochs"] + 1)].accuracy.tolist()
    assert switch == verbatim[verbatim.memory_size == 0].first_epoch_on.tolist()
    again = continual.replay_experiment("digits", **settings)
    assert again["verbatim"].equals(verbatim) and len(list(cache_dir.glob("*.pt"))) == 1


def test_joint_training_tests_each_seed_on_every_task(digits_train, digits_test):
    tasks = continual.split_classes(digits_train, digits_test, TASKS)
    accuracies = continual.joint_training(digits_train, tasks, seeds=[0, 1], model_options=dict(hidden=[16]),
                                          **{**FIT, "epochs": 3})
    assert len(accuracies) == 2 and all(len(row) == 2 for row in accuracies)
    assert all(a > 0.5 for row in accuracies for a in row)  # trained on both tasks at once, it knows both
    assert accuracies[0] != accuracies[1]


def test_replay_summary_selects_the_settings_the_chapter_reports():
    verbatim = pd.DataFrame([dict(seed=seed, memory_size=size, first=first + 0.01 * seed, replayed=replayed)
                             for seed in (0, 1) for size, first, replayed in
                             [(0, 0.0, math.nan), (10, 0.4, 1.0), (50, 0.8, 0.98)]])
    keyed = pd.DataFrame([dict(seed=seed, memory_size=50, key_sparsity=f, first=first)
                          for seed in (0, 1) for f, first in [(0.01, 0.7), (0.1, 0.6), (1.0, 0.1)]])
    summary = continual.replay_summary({"verbatim": verbatim, "keyed": keyed})
    assert summary["none"]["first"] == [0.0, 0.01] and summary["smallest"]["memory_size"] == [10, 10]
    assert summary["full"]["first"] == pytest.approx([0.8, 0.81]) and summary["sparsest"]["key_sparsity"] == [0.01] * 2
    assert summary["dense"]["first"] == [0.1, 0.1]
    assert summary["by_size"].tolist() == pytest.approx([0.005, 0.405, 0.805])
    assert summary["by_key"].tolist() == pytest.approx([0.7, 0.6, 0.1])
    assert summary["replayed"].tolist() == pytest.approx([1.0, 0.98])
