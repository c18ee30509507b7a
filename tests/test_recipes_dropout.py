import math

import pandas as pd
import pytest
import torch

from memlib import recipes

FIT = dict(epochs=2, lr=0.1, weight_decay=0.0, batch_size=64)


def test_a_dropout_run_returns_its_predictions_and_their_accuracies_per_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    tied = recipes.noisy_label_run("digits", "mlp", noise_rate=0.1, seed=0, fit=FIT, dropout="example_tied",
                                   dropout_rates=dict(p_gen=0.4, p_mem=0.2), examples=50)
    assert set(tied["predictions"]["train"]) == {"train", "test", "drop", "other"}
    assert set(tied["predictions"]["test"]) == {"test", "drop"}
    modes = tied["modes"].set_index("mode")
    drop = tied["predictions"]["train"]["drop"]
    assert len(modes) == 4 and math.isnan(modes.loc["train", "test"])  # held-out examples own no masks
    assert modes.loc["drop", "clean"] == pytest.approx(float((drop == data_labels())[~tied["is_noisy"]].float().mean()))
    assert tied["timeline"].test.isna().all()  # example-tied networks train without a test set
    standard = recipes.noisy_label_run("digits", "mlp", noise_rate=0.1, seed=0, fit=FIT, dropout="standard",
                                       dropout_rates=dict(p=0.4), examples=50)
    assert set(standard["predictions"]["train"]) == {"eval"} and standard["timeline"].test.notna().all()
    plain = recipes.noisy_label_run("digits", "mlp", noise_rate=0.1, seed=0, fit=FIT, examples=50)
    assert plain["predictions"] is None and plain["modes"] is None


def data_labels():
    """The noisy training labels of a digits run at seed 0 (as the recipe draws them)."""
    from memlib import data, noise

    train_set = data.train_test("digits", examples=50)[0]
    return noise.symmetric(train_set.y, 0.1, train_set.num_classes, seed=0).labels


def test_over_seeds_concatenates_the_frames_of_every_seed_and_lists_the_rest():
    def recipe(scale, *, seed):
        return {"frame": pd.DataFrame({"seed": [seed], "value": [scale * seed]}), "mask": torch.tensor([seed])}

    result = recipes.over_seeds(recipe, 3, 2.0)
    assert result["frame"].seed.tolist() == [0, 1, 2] and result["frame"].value.tolist() == [0.0, 2.0, 4.0]
    assert [int(m) for m in result["mask"]] == [0, 1, 2]
    assert recipes.over_seeds(recipe, [5], 1.0)["frame"].value.tolist() == [5.0]
    with pytest.raises(ValueError, match="at least one seed"):
        recipes.over_seeds(recipe, 0, 1.0)
