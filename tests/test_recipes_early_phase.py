import math

import pytest

from memlib import recipes

FIT = dict(epochs=2, lr=0.1, weight_decay=5e-4, batch_size=64)


def test_the_early_phase_record_rides_along_without_changing_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    plain = recipes.noisy_label_run("digits", "mlp", noise_rate=0.2, seed=0, fit=FIT, examples=300)
    run = recipes.noisy_label_run("digits", "mlp", noise_rate=0.2, seed=0, fit=FIT, examples=300, rewind=[0, 3],
                                  path_points=3)
    assert plain["early_phase"] is None and run["timeline"].equals(plain["timeline"])
    record = run["early_phase"]
    steps = FIT["epochs"] * math.ceil(300 / FIT["batch_size"])
    assert record["steps_per_epoch"] == steps // FIT["epochs"]
    assert len(record["gradient_norms"]) == len(record["distances"]) == steps
    assert float(record["distances"][0]) > 0 and record["initial_norm"] > 0
    assert record["stability"].step.tolist() == [0, 3] and set(record["stability"].seed) == {0}
    groups = record["forgetting"].set_index("group")
    noisy = int(run["is_noisy"].sum())
    assert groups.examples.to_dict() == {"clean": len(run["is_noisy"]) - noisy, "mislabeled": noisy}


def test_rewinding_iterations_must_lie_inside_the_run():
    with pytest.raises(ValueError, match="inside the run"):
        recipes.noisy_label_run("digits", "mlp", noise_rate=0.2, seed=0, fit=FIT, examples=300, rewind=[0, 10])
