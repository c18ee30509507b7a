import pytest
import torch

from memlib import models

SMALL = ["mlp", "lenet300", "cnn"]
ALL = SMALL + ["resnet9", "resnet20"]


@pytest.mark.parametrize("name, shape", [(n, (1, 8, 8)) for n in SMALL] + [(n, (1, 28, 28)) for n in ALL]
                         + [(n, (3, 32, 32)) for n in ALL])
def test_every_model_maps_a_batch_to_logits_and_takes_an_index(name, shape):
    model = models.build(name, 10, shape)
    x = torch.rand(3, *shape)
    assert model(x).shape == (3, 10)
    assert model(x, torch.arange(3)).shape == (3, 10)


def test_parameter_counts_match_the_references():
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(models.build("resnet9", 10, (3, 32, 32))) == 2_274_880  # ≈2.27M (Maini et al. 2023, FFCV)
    assert count(models.build("resnet20", 10, (3, 32, 32))) == 272_474  # open_lth cifar_resnet_20
    assert count(models.build("lenet300", 10, (1, 28, 28))) == 266_610  # 784·300+300·100+100·10 + biases


def test_resnet9_ends_in_a_bias_free_linear_layer_scaled_by_0_2():
    model = models.build("resnet9", 10, (3, 32, 32))
    assert isinstance(model[-1], models.Scale) and model[-1].factor == 0.2
    assert isinstance(model[-2], torch.nn.Linear) and model[-2].bias is None


def test_mlp_hidden_sizes_are_an_option():
    model = models.build("mlp", 5, (1, 4, 4), hidden=(7,))
    assert [m.out_features for m in model if isinstance(m, torch.nn.Linear)] == [7, 5]


def test_build_is_seeded_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = models.build("cnn", 10, (1, 8, 8), seed=4), models.build("cnn", 10, (1, 8, 8), seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = models.build("cnn", 10, (1, 8, 8), seed=5)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


@pytest.mark.parametrize("args, options, match", [
    (("vgg", 10, (3, 32, 32)), {}, "unknown model"),
    (("mlp", 10, (3, 32, 32)), {"width": 3}, "options are"),
    (("resnet9", 10, (1, 8, 8)), {}, "11×11"),
    (("cnn", 10, (1, 2, 2)), {}, "4×4"),
    (("mlp", 10, (8, 8)), {}, r"\(C, H, W\)"),
    (("mlp", 1, (1, 8, 8)), {}, "at least 2"),
])
def test_build_rejects_bad_requests(args, options, match):
    with pytest.raises(ValueError, match=match):
        models.build(*args, **options)
