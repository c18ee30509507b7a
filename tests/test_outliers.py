"""memlib.outliers: the adv, conf and agr metrics of Carlini et al. 2019, per-class percentiles and slices."""
import math

import pytest
import torch
from torch import nn

from memlib import data, models, outliers, settings
from memlib.train import fit

CHAPTER = settings.chapter(3).config("quick")
QUICK_FIT = {**CHAPTER["fit"], "epochs": 20}  # chapter 3's quick training, shorter


@pytest.fixture(scope="module")
def linear():
    """A random affine classifier on 1×8×8 inputs and 300 inputs, labelled with its own predictions except for the
    first 30 (given a wrong label)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    x = torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x).argmax(1)
    y[:30] = (y[:30] + 1) % 10
    return model, x, y


def analytic_distance(model, x, y, dual_norm):
    """min over j ≠ y of (z_y − z_j) / ‖w_y − w_j‖ (the dual norm: 2 for ℓ2, 1 for ℓ∞), for an affine model."""
    w, b = model[1].weight.detach(), model[1].bias.detach()
    z = x.flatten(1) @ w.T + b
    rows = torch.arange(len(y))
    distance = (z[rows, y].unsqueeze(1) - z) / torch.linalg.vector_norm(w[y].unsqueeze(1) - w, ord=dual_norm, dim=2)
    distance[rows, y] = math.inf
    return distance.min(1).values


@pytest.fixture(scope="module")
def digits_mlps(digits_train):
    """Two small MLPs trained on digits (one left in train mode, one in eval mode)."""
    trained = []
    for seed in range(2):
        model = models.build("mlp", 10, digits_train.shape, seed=seed, hidden=(64,))
        fit(model, digits_train, seed=seed, **QUICK_FIT)
        trained.append(model)
    trained[1].eval()
    return trained


@pytest.mark.parametrize("norm, dual", [(2, 2), (math.inf, 1)])
def test_adv_distance_of_a_linear_classifier_is_the_distance_to_its_nearest_boundary(linear, norm, dual):
    model, x, y = linear
    measured = outliers.adv_distance(model, x[30:], y[30:], norm=norm)
    expected = analytic_distance(model, x[30:], y[30:], dual)
    assert bool((expected > 0).all())
    ratio = measured / expected
    assert float(ratio.min()) >= 1 - 1e-4 and float(ratio.max()) <= 1.05  # never inside the boundary (float32)


def test_misclassified_examples_get_distance_zero(linear):
    model, x, y = linear
    assert outliers.adv_distance(model, x[:30], y[:30]).eq(0).all()
    assert outliers.minimal_perturbation(model, x[:30], y[:30]).eq(0).all()


@pytest.mark.parametrize("norm", [2, math.inf])
def test_the_perturbation_flips_the_prediction_of_a_trained_network(digits_mlps, digits_train, norm):
    model = digits_mlps[0]
    x, y = digits_train.x[:300], digits_train.y[:300]
    with torch.no_grad():
        correct = model.eval()(x).argmax(1) == y
    model.train()
    delta = outliers.minimal_perturbation(model, x, y, norm=norm)
    assert not delta.isnan().any(), "every correctly classified example must get a flipping perturbation"
    with torch.no_grad():
        flipped = model.eval()(x + delta).argmax(1) != y
    model.train()
    assert bool(correct.sum() > 250) and bool(flipped[correct].all())
    size = torch.linalg.vector_norm(delta.flatten(1), ord=norm, dim=1)
    assert bool((size[correct] > 0).all()) and bool((size[~correct] == 0).all())


def test_the_bisection_finds_the_boundary_along_the_returned_direction(digits_mlps, digits_train):
    """Shrinking the returned perturbation by 1% must undo the flip for most examples: it ends at the boundary."""
    model = digits_mlps[1]
    x, y = digits_train.x[:200], digits_train.y[:200]
    delta = outliers.minimal_perturbation(model, x, y)
    with torch.no_grad():
        correct = model(x).argmax(1) == y
        restored = model(x + 0.99 * delta).argmax(1) == y
    assert float(restored[correct].float().mean()) > 0.95


def test_linf_distances_are_at_most_l2_distances(digits_mlps, digits_train):
    x, y = digits_train.x[:300], digits_train.y[:300]
    l2 = outliers.adv_distance(digits_mlps, x, y, norm=2)
    linf = outliers.adv_distance(digits_mlps, x, y, norm=math.inf)
    assert bool((l2 > 0).any()) and bool((linf <= l2).all())


def test_adv_distance_averages_over_the_models(digits_mlps, digits_train):
    x, y = digits_train.x[:100], digits_train.y[:100]
    each = [outliers.adv_distance(model, x, y) for model in digits_mlps]
    assert torch.allclose(outliers.adv_distance(digits_mlps, x, y), (each[0] + each[1]) / 2)


def test_scoring_leaves_the_models_as_they_were(digits_mlps, digits_train):
    x, y = digits_train.x[:100], digits_train.y[:100]
    before = [{k: v.clone() for k, v in model.state_dict().items()} for model in digits_mlps]
    grads = [[None if p.grad is None else p.grad.clone() for p in model.parameters()] for model in digits_mlps]
    modes = [model.training for model in digits_mlps]
    assert modes == [True, False]
    outliers.adv_distance(digits_mlps, x, y)
    outliers.adv_distance(digits_mlps, x, y, norm=math.inf)
    outliers.confidence(digits_mlps, x, y)
    outliers.agreement(digits_mlps, x)
    assert [model.training for model in digits_mlps] == modes
    for model, state, grad in zip(digits_mlps, before, grads):
        assert all(torch.equal(value, state[key]) for key, value in model.state_dict().items())
        assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grad))


def test_confidence_is_the_mean_probability_of_the_correct_label(linear):
    model, x, y = linear
    other = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with torch.no_grad():
        p = torch.stack([m(x).softmax(1)[torch.arange(len(y)), y] for m in (model, other)])
    assert torch.allclose(outliers.confidence([model, other], x, y), p.mean(0), atol=1e-6)
    held_out = torch.zeros(2, len(y), dtype=torch.bool)
    held_out[0, :100], held_out[1, 50:200] = True, True
    conf = outliers.confidence([model, other], x, y, held_out=held_out)
    assert torch.allclose(conf[:50], p[0, :50], atol=1e-6)
    assert torch.allclose(conf[50:100], p[:, 50:100].mean(0), atol=1e-6)
    assert torch.allclose(conf[100:200], p[1, 100:200], atol=1e-6)
    assert conf[200:].isnan().all()


def test_agreement_is_one_for_identical_models_and_lower_when_they_disagree(linear):
    model, x, _ = linear
    assert torch.allclose(outliers.agreement([model, model], x), torch.ones(len(x)), atol=1e-5)
    other = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with torch.no_grad():
        other[1].weight.mul_(20)  # confident and different: low agreement
    mixed = outliers.agreement([model, other], x)
    assert bool(((mixed >= 0) & (mixed < 0.99)).all())
    assert float(mixed.mean()) < 0.9


def test_percentiles_are_uniform_within_each_class_and_follow_the_scores():
    generator = torch.Generator().manual_seed(0)
    y = torch.randint(0, 5, (503,), generator=generator)
    scores = torch.randn(503, generator=generator)
    percentiles = outliers.percentile_within_class(scores, y)
    assert bool(((percentiles > 0) & (percentiles < 1)).all())
    for label in range(5):
        members = y == label
        n = int(members.sum())
        grid = (torch.arange(n, dtype=torch.float64) + 0.5) / n
        assert torch.allclose(percentiles[members].sort().values, grid)
        order = scores[members].argsort()
        assert bool((percentiles[members][order].diff() > 0).all())


def test_slices_partition_the_ranking_and_stay_class_balanced():
    y = torch.arange(1000) % 10
    scores = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    percentiles = outliers.percentile_within_class(scores, y)
    parts = outliers.slices(percentiles, 4)
    assert sorted(torch.cat(parts).tolist()) == list(range(1000))
    for k, part in enumerate(parts):
        assert torch.bincount(y[part], minlength=10).tolist() == [25] * 10
        assert bool(((percentiles[part] >= k / 4) & (percentiles[part] < (k + 1) / 4)).all())
    windows = outliers.slices(percentiles, 5, width=0.1)
    assert [len(w) for w in windows] == [100] * 5
    assert float(percentiles[windows[0]].max()) < 0.1 and float(percentiles[windows[-1]].min()) > 0.9


def test_holdout_ensemble_holds_every_example_out_of_a_model(digits_train):
    ensemble, held_out = outliers.holdout_ensemble(
        digits_train, 2, model_options=dict(hidden=(16,)), **{**QUICK_FIT, "epochs": 1})
    assert len(ensemble) == 2 and held_out.shape == (2, len(digits_train))
    assert bool((held_out.sum(0) == 1).all())
    assert abs(int(held_out[0].sum()) - len(digits_train) / 2) <= 1
    # Trained together, each model is the one fit would train alone on the examples it did not hold out.
    for m, member in enumerate(ensemble):
        alone = models.build("mlp", 10, digits_train.shape, seed=m, hidden=(16,))
        fit(alone, digits_train.subset(~held_out[m]), seed=m, **{**QUICK_FIT, "epochs": 1})
        for mine, theirs in zip(member.parameters(), alone.parameters()):
            assert torch.allclose(mine, theirs, atol=1e-5)


def test_rare_synthetic_examples_rank_as_outliers_by_adv():
    """The planted rare sub-population of the synthetic data (ARCHITECTURE.md, "Data") must rank in the lowest 20% of
    adv percentiles for most of its members: outliers sit close to a decision boundary (Carlini et al. 2019)."""
    train_set = data.load("synthetic", "train")
    ensemble, _ = outliers.holdout_ensemble(train_set, 2, **CHAPTER["datasets"]["synthetic"], **QUICK_FIT)
    adv = outliers.adv_distance(ensemble, train_set.x, train_set.y, normalization=train_set.normalization)
    percentiles = outliers.percentile_within_class(adv, train_set.y)
    rare = train_set.meta["rare"]
    assert int(rare.sum()) >= 50
    share = float((percentiles[rare] < 0.2).float().mean())
    assert share >= 0.7, f"only {share:.0%} of the rare examples rank in the lowest 20% (chance: 20%)"


def test_bad_input_raises_a_clear_error(linear):
    model, x, y = linear
    with pytest.raises(ValueError, match="norm"):
        outliers.adv_distance(model, x, y, norm=1)
    with pytest.raises(ValueError, match="one per example"):
        outliers.adv_distance(model, x, y[:10])
    with pytest.raises(ValueError, match="at least 2 models"):
        outliers.agreement([model], x)
    with pytest.raises(ValueError, match="held_out"):
        outliers.confidence(model, x, y, held_out=torch.ones(2, len(y), dtype=torch.bool))
    with pytest.raises(ValueError, match="count"):
        outliers.slices(torch.rand(10), 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        outliers.slices(torch.tensor([0.5, 1.5]), 2)
    with pytest.raises(ValueError, match="one score per label"):
        outliers.percentile_within_class(torch.rand(5), torch.arange(6))
