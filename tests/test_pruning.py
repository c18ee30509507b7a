import copy

import pytest
import torch
from torch.nn.utils import prune

from memlib import models, pruning
from memlib.train import Checkpoints, fit

SETTINGS = dict(epochs=2, lr=0.1, momentum=0.9, weight_decay=0.05, batch_size=8)


def lenet(seed=0):
    return models.build("lenet300", 4, (1, 8, 8), seed=seed)


def test_prunable_layers_follow_open_lth():
    model = lenet()
    pairs = pruning.prunable(model)
    assert [m.weight.shape for m, _ in pairs] == [(300, 64), (100, 300)]  # the output layer is left out
    assert len(pruning.prunable(model, exclude_output=False)) == 3
    resnet = models.build("resnet20", 10, (3, 32, 32))
    convs = [m for m in resnet.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(pruning.prunable(resnet)) == len(convs) + 1  # every conv and the linear layer


def test_global_magnitude_pruning_uses_one_threshold_and_matches_global_unstructured():
    model, reference = lenet(), lenet()
    reference_pairs = pruning.prunable(reference)
    for _ in range(2):  # the second round composes with the first
        pruning.prune_magnitude(model, 0.3)
        remaining = sum(int(pruning.mask(m).sum()) for m, _ in reference_pairs)
        prune.global_unstructured(reference_pairs, prune.L1Unstructured, amount=round(0.3 * remaining))
    for (m, _), (r, _) in zip(pruning.prunable(model), reference_pairs):
        assert torch.equal(m.weight_mask, r.weight_mask)
    kept = torch.cat([m.weight_orig[m.weight_mask.bool()].abs() for m, _ in pruning.prunable(model)])
    removed = torch.cat([m.weight_orig[~m.weight_mask.bool()].abs() for m, _ in pruning.prunable(model)])
    assert removed.max() <= kept.min()
    fractions = [1 - float(m.weight_mask.mean()) for m, _ in pruning.prunable(model)]
    assert abs(fractions[0] - fractions[1]) > 0.01  # one threshold, not one fraction per layer
    assert pruning.sparsity(model) == pytest.approx(1 - 0.7 ** 2, abs=1e-4)


def test_layerwise_magnitude_pruning_removes_each_layers_smallest_weights():
    model = lenet()
    dense = [m.weight.detach().clone() for m, _ in pruning.prunable(model)]
    pruning.prune_magnitude(model, 0.25, scope="layerwise")
    for (m, _), w in zip(pruning.prunable(model), dense):
        keep = m.weight_mask.bool()
        assert int((~keep).sum()) == round(0.25 * w.numel())
        assert w[~keep].abs().max() <= w[keep].abs().min()


def test_random_pruning_removes_the_same_count_at_random_and_is_seeded():
    magnitude, first, second, other = lenet(), lenet(), lenet(), lenet()
    pruning.prune_magnitude(magnitude, 0.4, scope="layerwise")
    pruning.prune_random(first, 0.4, scope="layerwise", seed=1)
    pruning.prune_random(second, 0.4, scope="layerwise", seed=1)
    pruning.prune_random(other, 0.4, seed=2)
    for a, b, c in zip(*(pruning.prunable(m) for m in (magnitude, first, second))):
        assert int(a[0].weight_mask.sum()) == int(b[0].weight_mask.sum())
        assert torch.equal(b[0].weight_mask, c[0].weight_mask)
        assert not torch.equal(a[0].weight_mask, b[0].weight_mask)
    assert pruning.sparsity(other) == pytest.approx(0.4, abs=1e-4)


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_remaining_share_after_r_rounds_is_one_minus_f_to_the_r(tiny, scope):
    fraction, rounds = 0.3, 6

    def train(model, callbacks, start_step):
        return fit(model, tiny, epochs=1, lr=0.01, weight_decay=0, batch_size=20, callbacks=callbacks,
                   start_step=start_step)

    result = pruning.imp(lenet, train, rounds=rounds, fraction=fraction, scope=scope)
    sizes = [m.weight.numel() for m, _ in pruning.prunable(lenet())]
    for r, layer_masks in enumerate(result.masks):
        kept = [int(m.sum()) for m in layer_masks.values()]
        share = (1 - fraction) ** r
        assert abs(sum(kept) - share * sum(sizes)) <= 1
        if scope == "layerwise":
            assert all(abs(k - share * n) <= 1 for k, n in zip(kept, sizes))
        assert result.records[r]["remaining"] == pytest.approx(sum(kept) / sum(sizes))


def test_masked_weights_stay_exactly_zero_through_training_with_momentum_and_weight_decay(tiny):
    model = lenet()
    pruning.prune_magnitude(model, 0.6)
    before = {id(m): pruning.effective_weight(m).detach().clone() for m, _ in pruning.prunable(model)}
    fit(model, tiny, epochs=3, lr=0.1, momentum=0.9, weight_decay=0.1, batch_size=8)
    for module, _ in pruning.prunable(model):
        masked = ~module.weight_mask.bool()
        assert torch.all(pruning.effective_weight(module)[masked] == 0)
        assert torch.all(module.weight[masked] == 0)  # the weight the last forward pass used
        assert not torch.equal(pruning.effective_weight(module)[~masked], before[id(module)][~masked])


def test_rewinding_restores_every_unpruned_weight_exactly(tiny):
    model = lenet()
    checkpoints = Checkpoints([0, 7])
    fit(model, tiny, callbacks=[checkpoints], **SETTINGS)
    pruning.prune_magnitude(model, 0.5)
    fit(model, tiny, **SETTINGS)
    for step in (7, 0):
        pruning.rewind_to(model, checkpoints.states[step])
        saved = checkpoints.states[step]
        names = {module: name for name, module in model.named_modules()}
        for module, _ in pruning.prunable(model):
            keep = module.weight_mask.bool()
            expected = saved[f"{names[module]}.weight"]
            assert torch.equal(module.weight[keep], expected[keep])
            assert torch.all(module.weight[~keep] == 0)
            assert torch.equal(module.bias, saved[f"{names[module]}.bias"])
        output = list(model.modules())[-1]
        assert torch.equal(output.weight, saved[f"{names[output]}.weight"])


def spy(train_set):
    """A train function that keeps the effective weights each round starts from."""
    starts = []

    def train(model, callbacks, start_step):
        starts.append([pruning.effective_weight(m).detach().clone() for m, _ in pruning.prunable(model)])
        return fit(model, train_set, callbacks=callbacks, start_step=start_step, **SETTINGS)

    return train, starts


@pytest.mark.parametrize("rewind", ["init", 5])
def test_imp_rewinds_survivors_to_the_rewind_point(tiny, rewind):
    train, starts = spy(tiny)
    result = pruning.imp(lenet, train, rounds=2, fraction=0.5, rewind=rewind)
    step = 0 if rewind == "init" else rewind
    reference = Checkpoints([step])
    fit(lenet(), tiny, callbacks=[reference], **SETTINGS)  # the same dense run, again
    saved = [reference.states[step][f"{i}.weight"] for i in (1, 3)]
    for r in (1, 2):
        for start, weight, keep in zip(starts[r], saved, result.masks[r].values()):
            assert torch.equal(start, weight * keep)


def test_random_reinitialization_draws_new_weights(tiny):
    train, starts = spy(tiny)
    result = pruning.imp(lenet, train, rounds=2, fraction=0.5, rewind="random")
    for r in (1, 2):
        for start, initial, keep in zip(starts[r], starts[0], result.masks[r].values()):
            assert torch.all(start[~keep] == 0)
            assert (start[keep] == initial[keep]).float().mean() < 0.01
            assert float(start[keep].std()) == pytest.approx(float(initial.std()), rel=0.2)  # the same initializer
    assert not torch.equal(starts[1][0], starts[2][0])


def test_imp_records_noisy_training_accuracies(tiny):
    from memlib import noise

    noisy = noise.symmetric(tiny.y, 0.25, 4, seed=0)

    def train(model, callbacks, start_step):
        return fit(model, tiny, labels=noisy, test=tiny, callbacks=callbacks, start_step=start_step,
                   **SETTINGS)

    frame = pruning.imp(lenet, train, rounds=1, noisy=noisy).to_frame()
    assert list(frame.columns) == ["round", "remaining", "test", "best_test", "clean", "memorized", "true_label"]
    assert frame.remaining.tolist() == pytest.approx([1.0, 0.8], abs=1e-4)


def test_bad_arguments_raise_clear_errors(tiny):
    model = lenet()
    with pytest.raises(ValueError, match="fraction"):
        pruning.prune_magnitude(model, 1.0)
    with pytest.raises(ValueError, match="scope"):
        pruning.prune_magnitude(model, 0.2, scope="per-channel")
    def untrained(*args):
        raise AssertionError("imp trained before refusing its arguments")

    with pytest.raises(ValueError, match="rewind"):
        pruning.imp(lenet, untrained, rounds=1, rewind="end")
    with pytest.raises(ValueError, match="criterion"):
        pruning.imp(lenet, untrained, rounds=1, criterion="gradient")
    with pytest.raises(ValueError, match="scope"):
        pruning.imp(lenet, untrained, rounds=1, scope="layer-wise")
    with pytest.raises(ValueError, match="past the end"):
        pruning.imp(lenet, lambda m, c, k: fit(m, tiny, callbacks=c, start_step=k, **SETTINGS), rounds=1, rewind=10_000)
    with pytest.raises(ValueError, match="no prunable"):
        pruning.prunable(torch.nn.Sequential(torch.nn.ReLU()))
    with pytest.raises(ValueError, match="lacks"):
        pruning.rewind_to(copy.deepcopy(model), {"0.weight": torch.zeros(1)})


def test_without_rewinding_the_survivors_keep_their_trained_values(tiny):
    train, starts = spy(tiny)
    ends = []
    result = pruning.imp(lenet, train, rounds=1, fraction=0.5, rewind=None,
                         measure=lambda model: ends.append([pruning.effective_weight(m).detach().clone()
                                                            for m, _ in pruning.prunable(model)]) or {"extra": 1.0})
    for start, trained, keep in zip(starts[1], ends[0], result.masks[1].values()):
        assert torch.equal(start, trained * keep)
    assert [record["extra"] for record in result.records] == [1.0, 1.0]


def _lenet_trainer(data_set):
    def train(model, callbacks, start_step):
        return fit(model, data_set, test=data_set, callbacks=callbacks, start_step=start_step, **SETTINGS)
    return train


def test_shuffled_masks_keep_every_layers_count_at_new_positions(tiny):
    model = lenet(0)
    pruning.prune_magnitude(model, 0.6, scope="layerwise")
    ticket = pruning.masks(model)
    shuffled = pruning.shuffle_masks(ticket, seed=3)
    assert list(shuffled) == list(ticket)
    for name in ticket:
        assert shuffled[name].shape == ticket[name].shape
        assert int(shuffled[name].sum()) == int(ticket[name].sum())
        assert not torch.equal(shuffled[name], ticket[name])
    assert all(torch.equal(a, b) for a, b in zip(shuffled.values(), pruning.shuffle_masks(ticket, seed=3).values()))


def test_random_reinit_control_trains_exactly_the_tickets_masks_from_fresh_weights(tiny):
    train = _lenet_trainer(tiny)
    ticket = pruning.imp(lenet, train, rounds=2, fraction=0.5, rewind="init")
    starts = []

    def recorded(model, callbacks, start_step):
        starts.append(pruning.effective_weight(*pruning.prunable(model)[0]).detach().clone())
        return train(model, callbacks, start_step)

    control = pruning.imp(lenet, recorded, rounds=2, fraction=0.5, rewind="random", masks=ticket.masks)
    for found, trained in zip(ticket.masks, control.masks):
        assert all(torch.equal(found[name], trained[name]) for name in found)
    first = next(iter(ticket.masks[1]))
    fresh = pruning.effective_weight(*pruning.prunable(lenet(10_000))[0]).detach() * ticket.masks[1][first]
    assert torch.equal(starts[1], fresh)  # round 1 starts from a fresh draw, masked: not from trained weights
    assert [r["remaining"] for r in control.records] == [r["remaining"] for r in ticket.records]
    with pytest.raises(ValueError, match="rounds \\+ 1"):
        pruning.imp(lenet, train, rounds=3, masks=ticket.masks)


def test_set_masks_rejects_masks_of_another_network(tiny):
    model = lenet(0)
    chosen = pruning.masks(model)
    chosen.pop(next(iter(chosen)))
    with pytest.raises(ValueError, match="prunable layers"):
        pruning.set_masks(model, chosen)
