import math

import pytest
import torch

from memlib import data, dropout, models
from memlib.dropout import ExampleTiedDropout, SparseMask, StandardDropout
from memlib.train import evaluate, fit


def ones_through(layer, batch, index=None, spatial=()):
    """What the layer lets through of an all-ones input: its effective per-unit multipliers."""
    return layer(torch.ones(batch, layer.num_units, *spatial), index)


def test_masks_are_tied_to_the_example_across_calls_and_epochs():
    layer = ExampleTiedDropout(100, 64, p_gen=0.4, p_mem=0.2, seed=3)
    first = ones_through(layer, 4, torch.tensor([7, 7, 12, 99]))
    again = ones_through(layer, 2, torch.tensor([12, 7]))
    assert torch.equal(first[0], first[1]) and torch.equal(first[0], again[1]) and torch.equal(first[2], again[0])
    model = models.build("mlp", 4, (1, 2, 2), hidden=(64,), dropout="example_tied", p_gen=0.4, p_mem=0.2,
                         num_examples=40)
    layer = dropout.example_tied_layers(model)[0]
    before = layer.masks.clone()
    tiny = data.Dataset(torch.rand(40, 1, 2, 2), torch.arange(40) % 4)
    fit(model, tiny, epochs=2, lr=0.1, weight_decay=0, batch_size=8)
    assert torch.equal(layer.masks, before)


def test_masks_differ_across_examples_and_layers_and_follow_the_seed():
    layer = ExampleTiedDropout(200, 128, p_gen=0.4, p_mem=0.2, seed=0)
    memory = layer.masks[:, layer.num_general:]
    assert len(torch.unique(memory, dim=0)) == 200
    same = ExampleTiedDropout(200, 128, p_gen=0.4, p_mem=0.2, seed=0)
    other = ExampleTiedDropout(200, 128, p_gen=0.4, p_mem=0.2, seed=1)
    assert torch.equal(layer.masks, same.masks) and not torch.equal(layer.masks, other.masks)
    model = models.build("mlp", 10, (1, 8, 8), hidden=(128, 128), dropout="example_tied", p_gen=0.4, p_mem=0.2,
                         num_examples=200)
    a, b = dropout.example_tied_layers(model)
    assert not torch.equal(a.masks, b.masks)


@pytest.mark.parametrize("units, p_gen", [(10, 0.4), (64, 0.4), (100, 0.29), (7, 0.5), (512, 0.1)])
def test_the_share_of_generalization_units_is_floor_p_gen_c_over_c(units, p_gen):
    layer = ExampleTiedDropout(50, units, p_gen=p_gen, p_mem=0.3)
    general = dropout.generalization_units(layer)
    expected = math.floor(round(p_gen * units, 9))
    assert int(general.sum()) == expected and bool(general[:expected].all())
    assert torch.equal(dropout.memorization_units(layer), ~general)
    assert bool(layer.masks[:, general].all())  # generalization units are on for every example


def test_the_kept_fraction_of_memorization_units_averages_p_mem():
    layer = ExampleTiedDropout(2000, 256, p_gen=0.4, p_mem=0.2, seed=5)
    kept = layer.masks[:, dropout.memorization_units(layer)].float().mean(dim=1)
    assert abs(float(kept.mean()) - 0.2) < 0.005
    assert float(kept.std()) > 0  # a random subset per example, not one fixed pattern


def test_train_mode_masks_whole_channels_without_rescaling():
    layer = ExampleTiedDropout(10, 16, p_gen=0.25, p_mem=0.5, seed=2)
    out = ones_through(layer, 3, torch.tensor([0, 4, 9]), spatial=(5, 5))
    assert torch.equal(out, layer.masks[[0, 4, 9]].float()[:, :, None, None].expand(3, 16, 5, 5))


def test_test_mode_scales_memorization_units_by_p_mem():
    layer = ExampleTiedDropout(10, 20, p_gen=0.4, p_mem=0.2)
    dropout.set_mode(torch.nn.Sequential(layer), "test")
    out = ones_through(layer, 2, spatial=(3,))
    general = dropout.generalization_units(layer)
    assert torch.allclose(out[:, general], torch.ones(1)) and torch.allclose(out[:, ~general], torch.tensor(0.2))


def test_drop_mode_zeroes_exactly_the_memorization_units():
    layer = ExampleTiedDropout(10, 20, p_gen=0.4, p_mem=0.2)
    dropout.set_mode(torch.nn.Sequential(layer), "drop")
    x = torch.rand(6, 20) + 0.1
    out = layer(x)
    general = dropout.generalization_units(layer)
    assert bool((out[:, ~general] == 0).all()) and bool((out[:, general] != 0).all())
    assert torch.allclose(out[:, general], x[:, general] * (0.4 + 0.2) / 0.4)


def test_a_forward_pass_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    layer = ExampleTiedDropout(30, 32, p_gen=0.5, p_mem=0.3)
    sparse = SparseMask(0.4, seed=1)
    for mode in dropout.MODES:
        layer.mode = mode
        layer(torch.rand(4, 32, generator=torch.Generator().manual_seed(0)), torch.arange(4))
    sparse(torch.ones(4, 32))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_masks_for_50000_examples_by_512_units_take_under_30_mb():
    layer = ExampleTiedDropout(50_000, 512, p_gen=0.4, p_mem=0.2)
    size = layer.masks.element_size() * layer.masks.numel()
    assert layer.masks.dtype == torch.bool and size < 30e6
    assert layer.state_dict() == {}  # redrawn from the seed, never saved with the weights


@pytest.mark.parametrize("kwargs, match", [
    (dict(p_gen=0.0, p_mem=0.2), "p_gen"), (dict(p_gen=1.0, p_mem=0.2), "p_gen"),
    (dict(p_gen=0.4, p_mem=0.0), "p_mem"), (dict(p_gen=0.4, p_mem=1.5), "p_mem"),
    (dict(p_gen=0.05, p_mem=0.2), "at least one generalization"),
])
def test_invalid_rates_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExampleTiedDropout(10, 10, **kwargs)


def test_bad_indices_and_inputs_are_rejected():
    layer = ExampleTiedDropout(10, 8, p_gen=0.5, p_mem=0.5)
    with pytest.raises(ValueError, match="needs the examples' indices"):
        layer(torch.ones(2, 8))
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        layer(torch.ones(2, 8), torch.tensor([3, 10]))
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        layer(torch.ones(2, 8), torch.tensor([-1, 0]))
    with pytest.raises(ValueError, match="integer example indices"):
        layer(torch.ones(2, 8), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="N×8"):
        layer(torch.ones(2, 9), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="num_examples"):
        ExampleTiedDropout(0, 8, p_gen=0.5, p_mem=0.5)


def test_set_mode_switches_every_layer_and_using_mode_restores_them():
    model = models.build("cnn", 10, (1, 8, 8), dropout="example_tied", p_gen=0.4, p_mem=0.2, num_examples=5)
    layers = dropout.example_tied_layers(model)
    assert len(layers) == 3
    dropout.set_mode(model, "test")
    assert {layer.mode for layer in layers} == {"test"}
    with dropout.using_mode(model, "drop"):
        assert {layer.mode for layer in layers} == {"drop"}
    assert {layer.mode for layer in layers} == {"test"}
    with pytest.raises(ValueError, match="unknown mode"):
        dropout.set_mode(model, "eval")
    with pytest.raises(ValueError, match="no ExampleTiedDropout"):
        dropout.set_mode(models.build("mlp", 10, (1, 8, 8)), "drop")


def test_the_layer_mode_not_model_eval_governs_and_evaluate_uses_each_examples_mask(tiny):
    model = models.build("mlp", 4, tiny.shape, hidden=(32,), dropout="example_tied", p_gen=0.25, p_mem=0.2,
                         num_examples=len(tiny))
    model.eval()
    index = torch.arange(len(tiny))
    with torch.no_grad():
        own = model(tiny.x, index)
        shuffled = model(tiny.x, index.flip(0))
        assert not torch.allclose(own, shuffled)  # eval mode still applies each example's mask
        predictions, _ = evaluate(model, tiny, batch_size=7)
        assert torch.equal(predictions, own.argmax(1))
        with dropout.using_mode(model, "drop"):
            assert torch.allclose(model(tiny.x), model(tiny.x, index.flip(0)))  # no index needed or used
            assert torch.equal(evaluate(model, tiny)[0], model(tiny.x).argmax(1))


def test_fit_records_example_tied_models_in_train_mode(tiny):
    model = models.build("mlp", 4, tiny.shape, hidden=(32,), dropout="example_tied", p_gen=0.25, p_mem=0.2,
                         num_examples=len(tiny))
    history = fit(model, tiny, epochs=3, lr=0.1, weight_decay=0, batch_size=8)
    assert torch.equal(history.predictions[-1], evaluate(model, tiny)[0])


def test_standard_dropout_is_inverted_and_off_in_eval():
    layer = StandardDropout(0.4)
    x = torch.ones(200, 500)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        out = layer(x)
    assert torch.allclose(torch.unique(out), torch.tensor([0.0, 1 / 0.6]))
    assert abs(float((out == 0).float().mean()) - 0.4) < 0.01
    layer.eval()
    assert torch.equal(layer(x), x)


def test_the_sparse_mask_is_one_fixed_mask_at_train_and_eval():
    layer = SparseMask(0.4, seed=7)
    x = torch.ones(3, 16, 4, 4)
    train = layer(x)
    layer.eval()
    assert torch.equal(layer(x), train)
    assert torch.equal(train[0], train[1]) and torch.equal(train[0], train[2])  # the same for every example
    assert torch.allclose(torch.unique(train), torch.tensor([0.0, 1 / 0.6]))
    assert abs(float((train == 0).float().mean()) - 0.4) < 0.1
    assert torch.equal(SparseMask(0.4, seed=7)(x), train)
    assert not torch.equal(SparseMask(0.4, seed=8)(x), train)


@pytest.mark.parametrize("p", [-0.1, 1.0])
def test_baselines_reject_invalid_rates(p):
    with pytest.raises(ValueError, match="p "):
        StandardDropout(p)
    with pytest.raises(ValueError, match="p "):
        SparseMask(p)


@pytest.mark.parametrize("name, shape, count, units", [
    ("mlp", (1, 8, 8), 2, [256, 256]),
    ("lenet300", (1, 28, 28), 2, [300, 100]),
    ("cnn", (1, 8, 8), 3, [32, 64, 128]),
    ("resnet9", (3, 32, 32), 6, [64, 128, 128, 256, 256, 128]),
    ("resnet20", (3, 32, 32), 9, [16] * 3 + [32] * 3 + [64] * 3),
])
def test_build_places_the_dropout_layers(name, shape, count, units):
    for kind, rates in [("standard", dict(p=0.4)), ("sparse", dict(p=0.4)),
                        ("example_tied", dict(p_gen=0.4, p_mem=0.2, num_examples=8))]:
        model = models.build(name, 10, shape, dropout=kind, **rates)
        layers = [m for m in model.modules() if isinstance(m, (ExampleTiedDropout, StandardDropout, SparseMask))]
        assert len(layers) == count
        assert model(torch.rand(3, *shape), torch.arange(3)).shape == (3, 10)
    assert [layer.num_units for layer in layers] == units
    plain = models.build(name, 10, shape)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in plain.parameters())


def test_mlp_dropout_follows_each_hidden_relu():
    model = models.build("mlp", 10, (1, 8, 8), hidden=(16, 8), dropout="standard", p=0.3)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Flatten", "Linear", "ReLU", "StandardDropout", "Linear", "ReLU", "StandardDropout", "Linear"]


@pytest.mark.parametrize("options, match", [
    (dict(dropout="gaussian", p=0.4), "unknown dropout"),
    (dict(dropout="standard"), "missing p"),
    (dict(dropout="example_tied", p_gen=0.4, p_mem=0.2), "missing num_examples"),
    (dict(dropout="sparse", p=0.4, p_mem=0.2), "does not take p_mem"),
    (dict(p=0.4), "None.* does not take p"),
    (dict(drop=None), "options are"),
])
def test_build_rejects_bad_dropout_requests(options, match):
    with pytest.raises(ValueError, match=match):
        models.build("mlp", 10, (1, 8, 8), **options)


def test_predictions_by_mode_restores_the_modes(tiny):
    model = models.build("mlp", 4, tiny.shape, hidden=(32,), dropout="example_tied", p_gen=0.25, p_mem=0.2,
                         num_examples=len(tiny))
    dropout.set_mode(model, "test")
    predictions = dropout.predictions_by_mode(model, tiny)
    assert list(predictions) == ["train", "test", "drop"]
    assert {layer.mode for layer in dropout.example_tied_layers(model)} == {"test"}
    with torch.no_grad():
        assert torch.equal(predictions["test"], model(tiny.x).argmax(1))
