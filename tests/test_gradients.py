import copy
import math

import pytest
import torch
import torch.nn.functional as F

from memlib import data, loop, models, noise, settings, train
from memlib.gradients import GradientProbe, layer_cosines, layer_groups, norm_share, subset_gradients
from memlib.train import fit

MODELS = [("mlp", (1, 8, 8)), ("cnn", (1, 8, 8)), ("resnet9", (3, 16, 16))]


def random_data(shape, n=24, classes=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return data.Dataset(torch.rand(n, *shape, generator=generator), torch.arange(n) % classes)


def full_gradient(model, dataset, labels, batch_size):
    """The plain training gradient: the batch-mean cross-entropy's gradient, averaged over the batches."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    totals = [torch.zeros_like(p) for p in parameters]
    starts = range(0, len(dataset), batch_size)
    model.train()
    for start in starts:
        batch = torch.arange(start, min(start + batch_size, len(dataset)))
        loss = F.cross_entropy(model(dataset.x[batch], batch), labels[batch])
        for total, grad in zip(totals, torch.autograd.grad(loss, parameters)):
            total += grad / len(starts)
    return totals


def test_layer_groups_pair_each_conv_with_its_batch_norm_in_forward_order():
    mlp = models.build("mlp", 10, (1, 8, 8))
    assert layer_groups(mlp) == {"linear1": ["1.weight", "1.bias"], "linear2": ["3.weight", "3.bias"],
                                 "output": ["5.weight", "5.bias"]}
    # The ResNet-9 of Maini et al. has nine groups: eight conv-bn blocks and the bias-free output layer.
    resnet = models.build("resnet9", 10, (3, 32, 32))
    groups = layer_groups(resnet)
    assert list(groups) == [f"conv{i}" for i in range(1, 9)] + ["output"]
    assert groups["conv3"] == ["2.0.0.weight", "2.0.1.weight", "2.0.1.bias"] and groups["output"] == ["9.weight"]
    for model in (mlp, resnet, models.build("resnet20", 10, (3, 32, 32))):
        listed = [name for names in layer_groups(model).values() for name in names]
        assert sorted(listed) == sorted(name for name, _ in model.named_parameters())


@pytest.mark.parametrize("name, shape", MODELS)
def test_subset_gradients_add_up_to_the_full_gradient(name, shape):
    dataset = random_data(shape)
    noisy = noise.symmetric(dataset.y, 0.25, 4, seed=1)
    model = models.build(name, 4, shape, seed=0)
    subsets = {"clean": ~noisy.is_noisy, "noisy": noisy.is_noisy}
    # Batches of 10 (the last one of 4) with batch-norm batch statistics: the split must still be exact.
    split = subset_gradients(model, dataset, noisy, subsets, batch_size=10)
    full = full_gradient(copy.deepcopy(model), dataset, noisy.labels, batch_size=10)
    names = [n for n, _ in model.named_parameters()]
    assert list(split) == ["clean", "noisy"] and list(split["clean"]) == names
    for parameter, expected in zip(names, full):
        total = split["clean"][parameter] + split["noisy"][parameter]
        assert torch.allclose(total, expected, rtol=1e-4, atol=1e-6), parameter
    # The mislabeled part is no negligible piece of the sum.
    assert float(split["noisy"][names[0]].norm()) > 1e-3 * float(split["clean"][names[0]].norm())


@pytest.mark.parametrize("training", [True, False])
def test_subset_gradients_leave_the_model_as_it_was(training):
    dataset = random_data((1, 8, 8))
    model = models.build("cnn", 4, (1, 8, 8), seed=0)
    model.train(training)
    before = copy.deepcopy(model.state_dict())
    mask = torch.arange(len(dataset)) < 5
    rng = torch.random.get_rng_state()
    subset_gradients(model, dataset, dataset.y, {"a": mask, "b": ~mask}, batch_size=7,
                     index=torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0)))
    assert model.training is training and torch.equal(torch.random.get_rng_state(), rng)
    after = model.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)  # weights and batch-norm statistics
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("override, match", [
    ({"subsets": {}}, "non-empty dict"), ({"subsets": {"a": torch.ones(3, dtype=torch.bool)}}, "boolean mask"),
    ({"subsets": {"a": torch.ones(24)}}, "boolean mask"), ({"batch_size": 0}, "batch_size"),
    ({"labels": torch.zeros(5, dtype=torch.long)}, "one per example"),
    ({"index": torch.tensor([0, 24])}, r"\[0, 24\)"), ({"index": torch.tensor([0.5])}, "example indices"),
])
def test_subset_gradients_reject_bad_arguments(override, match):
    dataset = random_data((1, 8, 8))
    arguments = dict(labels=dataset.y, subsets={"all": torch.ones(24, dtype=torch.bool)}, batch_size=8)
    with pytest.raises(ValueError, match=match):
        subset_gradients(models.build("mlp", 4, (1, 8, 8)), dataset, **{**arguments, **override})


def test_cosines_and_norm_shares_follow_their_definitions():
    groups = {"layer": ["w", "b"], "other": ["v"]}
    a = {"w": torch.tensor([1.0, 0.0]), "b": torch.tensor([2.0]), "v": torch.tensor([3.0, 4.0])}
    b = {"w": torch.tensor([-1.0, 0.0]), "b": torch.tensor([5.0]), "v": torch.tensor([0.0, 0.0])}
    cosines = layer_cosines(a, b, groups)
    assert cosines["layer"] == 0.0  # mean of -1 (w) and +1 (b)
    assert math.isnan(cosines["other"])  # a zero gradient has no direction
    shares = norm_share({"a": a, "b": b}, groups)
    # group norm: Σ ‖g‖/√numel, here a: 1/√2 + 2, b: 1/√2 + 5.
    assert abs(shares["layer"]["a"] - (2 ** -0.5 + 2) / (2 * 2 ** -0.5 + 7)) < 1e-6
    assert shares["other"] == {"a": 1.0, "b": 0.0}


@pytest.mark.parametrize("name, shape", MODELS[:2])
def test_probe_agrees_with_subset_gradients_on_a_one_batch_epoch(name, shape):
    dataset = random_data(shape, n=32)
    noisy = noise.symmetric(dataset.y, 0.25, 4, seed=2)
    model = models.build(name, 4, shape, seed=0)
    expected = subset_gradients(copy.deepcopy(model), dataset, noisy,
                                {"clean": ~noisy.is_noisy, "noisy": noisy.is_noisy}, batch_size=len(dataset))
    probe = GradientProbe(noisy)
    fit(model, dataset, labels=noisy, epochs=1, lr=0.1, weight_decay=5e-4, batch_size=len(dataset),
        callbacks=[probe])
    for subset in ("clean", "noisy"):
        for parameter, grad in expected[subset].items():
            assert torch.allclose(probe.gradients[subset][parameter], grad, rtol=1e-4, atol=1e-6), parameter
    frame = probe.to_frame()
    assert list(frame.group) == list(layer_groups(model)) and (frame.epoch == 1).all()
    groups = layer_groups(model)
    assert frame.cosine.tolist() == pytest.approx(list(
        layer_cosines(expected["clean"], expected["noisy"], groups).values()), abs=1e-4)


def test_the_probe_leaves_training_unchanged(tiny):
    noisy = noise.symmetric(tiny.y, 0.2, 4)
    settings = dict(labels=noisy, epochs=3, lr=0.05, weight_decay=5e-4, batch_size=16, seed=3)
    plain = fit(models.build("cnn", 4, tiny.shape, seed=0), tiny, **settings)
    probe = GradientProbe(noisy.is_noisy)
    probed = fit(models.build("cnn", 4, tiny.shape, seed=0), tiny, callbacks=[probe], **settings)
    assert torch.allclose(plain.losses, probed.losses, atol=1e-4)
    assert torch.equal(plain.predictions, probed.predictions)
    frame = probe.to_frame()
    assert len(frame) == 3 * 4 and frame.noisy_share.between(0, 1).all()
    assert list(frame.columns) == ["epoch", "group", "cosine", "clean_norm", "noisy_norm", "noisy_share"]


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step:UserWarning")  # skipped steps
def test_the_probe_unscales_gradients_and_skips_overflowing_steps(tiny, monkeypatch):
    noisy = noise.symmetric(tiny.y, 0.25, 4)
    settings = dict(labels=noisy, epochs=2, lr=0.05, weight_decay=0.0, batch_size=len(tiny))

    def probe_run(scaler):
        if scaler:
            monkeypatch.setattr(loop, "grad_scaler", lambda device: scaler)
        probe = GradientProbe(noisy)
        model = models.build("mlp", 4, tiny.shape, seed=0)
        fit(model, tiny, callbacks=[probe], **settings)
        return probe, model

    plain, _ = probe_run(None)
    scaled, _ = probe_run(torch.amp.GradScaler("cpu", init_scale=2.0 ** 12))
    for subset in ("clean", "noisy"):
        for name, grad in plain.gradients[subset].items():
            assert torch.allclose(scaled.gradients[subset][name], grad, rtol=1e-5, atol=1e-7)
    # An infinite scale overflows every step: the scaler skips them all, and the probe records no gradient.
    skipped, model = probe_run(torch.amp.GradScaler("cpu", init_scale=math.inf))
    assert torch.equal(model.state_dict()["1.weight"], models.build("mlp", 4, tiny.shape, seed=0)[1].weight)
    assert skipped.to_frame().cosine.isna().all()


def test_the_probe_rejects_a_mask_of_the_wrong_size(tiny):
    with pytest.raises(ValueError, match="one entry per training example"):
        fit(models.build("mlp", 4, tiny.shape), tiny, epochs=1, lr=0.1, weight_decay=0.0, batch_size=8,
            callbacks=[GradientProbe(torch.zeros(7, dtype=torch.bool))])
    with pytest.raises(ValueError, match="boolean mask"):
        GradientProbe(torch.zeros(40))


# Chapter 1's quick gradient runs on digits (10% noise): the mlp's and the cnn's setups.
MLP_RUN, CNN_RUN = settings.chapter(1).config("quick")["gradients"]


def probe_on_digits(setup, digits_train, subset=None, seed=0):
    """One of chapter 1's quick-profile runs (``setup``); the probe splits off the mislabeled examples (or
    ``subset``). Returns the per-epoch cosines and the subset's norm shares, epochs × groups."""
    noisy = noise.symmetric(digits_train.y, setup["noise_rate"], 10, seed=seed)
    probe = GradientProbe(noisy.is_noisy if subset is None else subset)
    fit(models.build(setup["model"], 10, digits_train.shape, seed=seed, **setup.get("model_options", {})), digits_train,
        labels=noisy, seed=seed, callbacks=[probe], **setup["fit"])
    frame = probe.to_frame()
    return (frame.pivot(index="epoch", columns="group", values="cosine")[list(probe.groups)],
            frame.pivot(index="epoch", columns="group", values="noisy_share")[list(probe.groups)])


def test_clean_and_mislabeled_gradients_oppose_each_other_in_the_mlp(digits_train):
    """Maini et al. 2023, Fig. 3 and 2, on digits with 10% noise (the chapter's quick mlp run)."""
    cosines, shares = probe_on_digits(MLP_RUN, digits_train)
    hidden = cosines.drop(columns="output")
    assert (hidden < -0.02).all().all()  # every hidden group, every epoch
    assert cosines["output"].mean() < -0.5
    # The 10% mislabeled examples carry a gradient norm comparable to the clean 90%.
    assert (shares.mean() > 0.35).all()
    # Control: a random 10% of the examples, split off the same way, opposes the rest far less.
    chosen = torch.randperm(len(digits_train), generator=torch.Generator().manual_seed(10_000))[:144]
    random_subset = torch.zeros(len(digits_train), dtype=torch.bool).index_fill_(0, chosen, True)
    control, _ = probe_on_digits(MLP_RUN, digits_train, subset=random_subset)
    assert control.drop(columns="output").stack().mean() > hidden.stack().mean() + 0.4


def test_clean_and_mislabeled_gradients_oppose_each_other_in_the_cnn(digits_train):
    """Maini et al. 2023, Fig. 3 and 2, with a conv-bn network (the chapter's quick cnn run)."""
    cosines, shares = probe_on_digits(CNN_RUN, digits_train)
    assert (cosines.mean() < -0.25).all()  # every group, the output layer included, on average over training
    assert (cosines.drop(columns="output") < 0).stack().mean() >= 0.9  # nearly every hidden (group, epoch) cell
    assert (shares.mean() > 0.3).all()
