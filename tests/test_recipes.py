import torch

from memlib import recipes

FIT = dict(epochs=3, lr=0.1, weight_decay=5e-4, batch_size=64)


def test_noisy_label_run_trains_once_per_setting_and_returns_its_timeline(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    run = recipes.noisy_label_run("digits", "mlp", noise_rate=0.2, seed=0, fit=FIT, probe="mislabeled")
    timeline, record = run["timeline"], run["gradients"]
    assert timeline.epoch.tolist() == [1, 2, 3] and set(timeline.noise) == {0.2} and set(timeline.seed) == {0}
    assert abs(float(run["is_noisy"].float().mean()) - 0.2) < 0.01
    assert set(record.epoch) == {1, 2, 3} and "output" in set(record.group) and run["flagged"] is None
    again = recipes.noisy_label_run("digits", "mlp", noise_rate=0.2, seed=0, fit=FIT, probe="mislabeled")
    assert again["timeline"].equals(timeline) and len(list(tmp_path.glob("*.pt"))) == 1


def test_the_random_probe_compares_a_subset_as_large_as_the_noise_and_elr_flags_examples(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    noisy = recipes.noisy_label_run("digits", "mlp", noise_rate=0.2, seed=0, fit=FIT, probe="mislabeled")
    control = recipes.noisy_label_run("digits", "mlp", noise_rate=0.2, seed=0, fit=FIT, probe="random")
    assert not control["gradients"].noisy_share.equals(noisy["gradients"].noisy_share)
    run = recipes.noisy_label_run("digits", "mlp", noise_rate=0.2, seed=0, fit=FIT,
                                  elr_options=dict(beta=0.7, lam=3.0))
    assert run["flagged"].dtype == torch.bool and len(run["flagged"]) == len(run["is_noisy"])
