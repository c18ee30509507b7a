import math

import pytest

from memlib import recipes

FIT = dict(epochs=1, lr=0.1, weight_decay=1e-4, batch_size=64)
SETUP = dict(fit=FIT, fraction=0.5, rounds=2, exclude_output=True, examples=200)


def test_the_controls_train_the_tickets_own_masks(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    runs = {v: recipes.imp_run("digits", "lenet300", variant=v, seed=0, **SETUP)
            for v in ("rewind to 0", "random re-init", "random pruning")}
    ticket, reinit, shuffled = (runs[v]["masks"] for v in runs)
    for r in range(3):
        for name, mask in ticket[r].items():
            assert reinit[r][name].equal(mask) and int(shuffled[r][name].sum()) == int(mask.sum())
    assert any(not shuffled[2][name].equal(mask) for name, mask in ticket[2].items())
    for run in runs.values():
        assert run["records"].remaining.tolist() == pytest.approx([1.0, 0.5, 0.25], abs=0.01)


def test_imp_run_takes_k_with_a_rewind_to_k_only():
    with pytest.raises(ValueError, match="k"):
        recipes.imp_run("digits", "lenet300", variant="rewind to k", seed=0, **SETUP)
    with pytest.raises(ValueError, match="k"):
        recipes.imp_run("digits", "lenet300", variant="rewind to 0", seed=0, k=3, **SETUP)
    with pytest.raises(ValueError, match="variant"):
        recipes.imp_run("digits", "lenet300", variant="rewind", seed=0, **SETUP)


def test_lottery_tickets_gathers_every_variant_seed_and_sweep_step(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    result = recipes.lottery_tickets("digits", "lenet300", seeds=2, k=2, variants=["rewind to 0", "rewind to k"],
                                     sweep=[0, 2], **SETUP)
    rounds, sweep = result["rounds"], result["sweep"]
    assert rounds.groupby(["variant", "seed"], sort=False).size().to_dict() == {
        ("rewind to 0", 0): 3, ("rewind to 0", 1): 3, ("rewind to k", 0): 3, ("rewind to k", 1): 3}
    assert sweep.k.tolist() == [0] * 3 + [2] * 3
    main = rounds[(rounds.variant == "rewind to k") & (rounds.seed == 0)].reset_index(drop=True)
    assert sweep[sweep.k == 2].drop(columns="k").reset_index(drop=True).equals(main)  # one run, read twice
    assert result["steps"] == FIT["epochs"] * math.ceil(200 / FIT["batch_size"])
    assert recipes.imp_label("rewind to k", 2) == "rewind to k = 2"
    assert recipes.imp_label("rewind to 0", 2) == "rewind to 0"
