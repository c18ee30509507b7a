"""memlib.plasticity's chapter recipes (neuron_runs, scaling_sweep, weight_decay_runs) and their analyses
(against_theory, norm_summary, set_point, times_lambda1, gaussian_inputs); Oja 1982, Turrigiano 2008."""
import pandas as pd
import pytest
import torch

from memlib import plasticity

NEURON = dict(mixing=[[1.6, 0.0], [0.6, 0.8]], samples=500, lr=0.005, steps=1000, target=1.0)
RULES = dict(seeds=2, decay_factors=[0.5, 1.5], scaling_rate=0.5)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    return tmp_path


def test_gaussian_inputs_are_centred_and_have_the_mixing_covariance():
    x = plasticity.gaussian_inputs(NEURON["mixing"], 20000, seed=0)
    mixing = torch.tensor(NEURON["mixing"], dtype=torch.float64)
    assert torch.allclose(x.mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(x.T @ x / len(x), mixing @ mixing.T, atol=0.05)
    assert not torch.equal(x[:5], plasticity.gaussian_inputs(NEURON["mixing"], 20000, seed=1)[:5])


def test_times_lambda1_and_set_point():
    assert [plasticity.times_lambda1(f) for f in (0.5, 1.5, 2.0, 1.0)] == ["λ₁/2", "3λ₁/2", "2λ₁", "λ₁"]
    assert plasticity.set_point(2.0, 0.01, 3.0, 0.5) == pytest.approx(2.0 * (1 + 0.01 * 3.0 / 0.5))


def test_neuron_runs_summarizes_every_rule_per_seed_and_sets_it_beside_theory(cache_dir):
    runs = plasticity.neuron_runs(**NEURON, **RULES)
    summary = runs["summary"]
    names = ["hebb", "oja", "normalized", "decay, λ = λ₁/2", "decay, λ = 3λ₁/2", "scaling"]
    assert summary.rule.tolist() == names * 2 and summary.seed.tolist() == [0] * 6 + [1] * 6
    mean = summary.groupby("rule").mean(numeric_only=True)
    assert mean.final_norm.hebb > 10 and mean.final_norm["decay, λ = 3λ₁/2"] < mean.final_norm.oja
    assert mean.final_norm.normalized == pytest.approx(1) and abs(mean.final_norm.oja - 1) < 0.05
    x0 = plasticity.gaussian_inputs(NEURON["mixing"], NEURON["samples"], 0)
    assert summary.lambda1[0] == pytest.approx(plasticity.largest_eigenvalue(x0))
    paths = runs["paths"]
    hebb = plasticity.run_rule("hebb", x0, lr=NEURON["lr"], steps=NEURON["steps"], seed=0)
    assert torch.allclose(torch.tensor(paths[paths.rule == "hebb"][["w1", "w2"]].to_numpy()), hebb)
    assert set(runs["norms"].step) == set(range(0, NEURON["steps"] + 1, 5))
    theory = {row["quantity"]: row for row in runs["theory"]}
    growth = theory["`hebb`: growth rate of ln ‖w‖ per step (second half)"]
    assert growth["values"] == summary[summary.rule == "hebb"].growth.tolist()
    assert growth["theory"] == f"η λ₁ = {NEURON['lr'] * summary.lambda1.mean():.4f}"
    again = plasticity.neuron_runs(**NEURON, **RULES)
    assert again["summary"].equals(summary) and len(list(cache_dir.glob("*.pt"))) == 1


def test_scaling_sweep_settles_higher_the_slower_the_scaling(cache_dir):
    settled, activity = plasticity.scaling_sweep(**NEURON, rates=[1.0, 0.05])
    assert settled.rate.tolist() == [1.0, 0.05] and len(activity) == 2 * (NEURON["steps"] + 1)
    assert settled.settled[1] > settled.settled[0]
    assert ((settled.settled / settled.predicted - 1).abs() < 0.15).all()  # the balance a*(1 + ηλ₁/γ)


def test_weight_decay_runs_record_the_kernel_norm_every_epoch(cache_dir):
    runs = plasticity.weight_decay_runs("digits", "cnn", weight_decays=[0.0, 5e-3], seeds=1,
                                        model_options=dict(width=4),
                                        fit=dict(epochs=4, lr=0.1, batch_size=64, schedule="constant"))
    assert runs.epoch.tolist() == [1, 2, 3, 4] * 2 and runs.weight_decay.tolist() == [0.0] * 4 + [5e-3] * 4
    assert (runs.conv_norm > 0).all() and runs.test.between(0, 1).all()
    final = runs.groupby("weight_decay").conv_norm.last()
    assert final[5e-3] < final[0.0]  # weight decay shrinks the kernels (van Laarhoven 2017)


def test_norm_summary_counts_falls_and_growth_per_weight_decay():
    runs = pd.DataFrame({"epoch": [1, 2, 3, 4, 5] * 2, "seed": 0, "weight_decay": [0.0] * 5 + [0.1] * 5,
                         "conv_norm": [1, 2, 3, 3.5, 3.6, 1, 2, 1.5, 1.4, 1.6], "test": [0.5] * 9 + [0.9]})
    free, decayed = plasticity.norm_summary(runs)
    assert free["falls"] == 0 and decayed["falls"] == 2 and decayed["peak"] == 2 and decayed["final"] == 1.6
    assert free["growth"] == pytest.approx((1.0, 0.1)) and decayed["test"] == 0.9 and free["first"] == 1
    assert plasticity.norm_summary(runs[runs.epoch <= 3])[0]["growth"] is None
