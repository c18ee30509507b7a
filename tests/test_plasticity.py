import math

import pytest
import torch

from memlib import models, plasticity
from memlib.plasticity import run_rule
from memlib.train import fit


@pytest.fixture(scope="module")
def gaussian():
    """2000 seeded draws of a zero-mean 2-D Gaussian with correlated, unequal axes."""
    generator = torch.Generator().manual_seed(0)
    mixing = torch.tensor([[1.6, 0.0], [0.6, 0.8]], dtype=torch.float64)
    x = torch.randn(2000, 2, generator=generator, dtype=torch.float64) @ mixing.T
    return x - x.mean(0)


def test_every_rule_returns_a_trajectory_that_starts_at_w0(gaussian):
    for rule in plasticity.RULES:
        trajectory = run_rule(rule, gaussian, lr=0.01, steps=50, seed=3, w0=[0.3, -0.2])
        assert trajectory.shape == (51, 2) and trajectory.dtype == torch.float64
        assert trajectory[0].tolist() == [0.3, -0.2]
        assert torch.equal(trajectory, run_rule(rule, gaussian, lr=0.01, steps=50, seed=3, w0=[0.3, -0.2]))


def test_hebbian_weight_norm_grows_past_any_bound(gaussian):
    """Oja 1982, eq. 1: E[Δw] = η C w, so ‖w‖ grows like (1 + η λ₁)^t."""
    lr, steps = 0.01, 3000
    norms = run_rule("hebb", gaussian, lr=lr, steps=steps, seed=0).norm(dim=1)
    for bound in (1e3, 1e9, 1e27):
        crossed = int((norms > bound).nonzero()[0])  # raises IndexError if the bound is never passed
        assert bool((norms[crossed:] > bound).all())
    rate = float(norms[-1].log() - norms[steps // 3].log()) / (steps - steps // 3)
    assert rate == pytest.approx(lr * plasticity.largest_eigenvalue(gaussian), rel=0.1)


def test_oja_converges_to_the_unit_norm_leading_eigenvector(gaussian):
    trajectory = run_rule("oja", gaussian, lr=0.005, steps=5000, seed=0)
    final = trajectory[-1]
    assert abs(float(final.norm()) - 1) < 0.02
    assert float(plasticity.alignment(final[None], plasticity.leading_eigenvector(gaussian))) >= 0.99
    assert float(plasticity.alignment(trajectory[:1], plasticity.leading_eigenvector(gaussian))) < 0.99


def test_explicit_normalization_and_oja_agree_to_first_order(gaussian):
    """Oja 1982: eq. 3 is eq. 2 expanded to first order in η, so for a small η the two paths stay close."""
    oja = run_rule("oja", gaussian, lr=1e-3, steps=300, seed=1, w0=[0.6, 0.8])
    normalized = run_rule("normalized", gaussian, lr=1e-3, steps=300, seed=1, w0=[0.6, 0.8])
    travelled = float((normalized[-1] - normalized[0]).norm())
    assert travelled > 0.1
    assert float((oja - normalized).norm(dim=1).max()) < 0.02 * travelled
    assert torch.allclose(normalized.norm(dim=1), torch.ones(301, dtype=torch.float64))


def test_weight_decay_bounds_hebbian_weights_only_above_the_largest_eigenvalue(gaussian):
    top = plasticity.largest_eigenvalue(gaussian)
    below = run_rule("decay", gaussian, lr=0.01, steps=2000, seed=0, decay=0.5 * top).norm(dim=1)
    above = run_rule("decay", gaussian, lr=0.01, steps=2000, seed=0, decay=1.5 * top).norm(dim=1)
    assert float(below[-1]) > 1e6 * float(below[0])
    assert float(above[-1]) < 1e-6 * float(above[0])


def test_synaptic_scaling_holds_the_mean_activity_near_its_target(gaussian):
    for target in (0.5, 2.0):
        trajectory = run_rule("scaling", gaussian, lr=0.005, steps=4000, seed=0, target=target, scaling_rate=0.5)
        activity = plasticity.mean_activity(trajectory, gaussian)
        assert float(activity[2000:].mean()) == pytest.approx(target, rel=0.1)
        assert float(trajectory.norm(dim=1).max()) < 10 * target


def test_slow_scaling_settles_above_target_where_the_analysis_says(gaussian):
    """The set point a* (1 + η λ₁ / γ): homeostasis slower than Hebbian growth misses its target."""
    lr, rate = 0.005, 0.02
    trajectory = run_rule("scaling", gaussian, lr=lr, steps=6000, seed=0, scaling_rate=rate)
    settled = float(plasticity.mean_activity(trajectory, gaussian)[3000:].mean())
    assert settled == pytest.approx(1 + lr * plasticity.largest_eigenvalue(gaussian) / rate, rel=0.05)
    assert settled > 1.5


@pytest.mark.parametrize("arguments, message", [
    (dict(rule="hebb", x=torch.ones(5), lr=0.1, steps=3), "n × d"),
    (dict(rule="hebb", x=torch.ones(2, 2, 2), lr=0.1, steps=3), "n × d"),
    (dict(rule="hebb", x=torch.ones(0, 2), lr=0.1, steps=3), "non-empty"),
    (dict(rule="hebb", x=torch.tensor([[1.0, math.nan]]), lr=0.1, steps=3), "finite"),
    (dict(rule="hebb", x=torch.ones(3, 2), lr=0.0, steps=3), "lr"),
    (dict(rule="oja", x=torch.ones(3, 2), lr=-1.0, steps=3), "lr"),
    (dict(rule="oja", x=torch.ones(3, 2), lr=0.1, steps=0), "steps"),
    (dict(rule="oja", x=torch.ones(3, 2), lr=0.1, steps=2.5), "steps"),
    (dict(rule="bcm", x=torch.ones(3, 2), lr=0.1, steps=3), "scaling"),
    (dict(rule="oja", x=torch.ones(3, 2), lr=0.1, steps=3, w0=[1.0, 2.0, 3.0]), "w0"),
    (dict(rule="decay", x=torch.ones(3, 2), lr=0.1, steps=3, decay=-1.0), "decay"),
    (dict(rule="scaling", x=torch.ones(3, 2), lr=0.1, steps=3, target=0.0), "target"),
])
def test_bad_input_raises_value_error(arguments, message):
    rule, x = arguments.pop("rule"), arguments.pop("x")
    with pytest.raises(ValueError, match=message):
        run_rule(rule, x, **arguments)


def test_weight_norms_records_every_weight_matrix_once_per_epoch(tiny):
    model = models.build("mlp", 4, tiny.shape, hidden=(8,))
    norms = plasticity.WeightNorms()
    fit(model, tiny, epochs=3, lr=0.1, weight_decay=0.0, batch_size=8, callbacks=[norms], device="cpu")
    assert sorted(norms.norms) == ["1.weight", "3.weight"]
    assert all(len(values) == 3 for values in norms.norms.values())
    assert norms.norms["3.weight"][-1] == pytest.approx(float(model[3].weight.detach().norm()))
