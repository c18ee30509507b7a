import pytest
import torch

from memlib import models, noise
from memlib.ensemble import fit_many
from memlib.train import fit

SETTINGS = dict(epochs=3, lr=0.05, weight_decay=5e-4, batch_size=16, schedule="cosine", warmup=0.1)


@pytest.mark.parametrize("name", ["mlp", "cnn", "lenet300"])
def test_k_models_together_match_k_separate_fits(tiny, name):
    seeds = [0, 1, 2]
    labels = torch.stack([noise.symmetric(tiny.y, 0.25, 4, seed=s).labels for s in seeds])
    together = [models.build(name, 4, tiny.shape, seed=s) for s in seeds]
    histories = fit_many(together, tiny, seeds=seeds, labels=labels, test=tiny, **SETTINGS)
    for seed, model, history in zip(seeds, together, histories):
        alone = models.build(name, 4, tiny.shape, seed=seed)
        reference = fit(alone, tiny, labels=labels[seed], test=tiny, seed=seed, **SETTINGS)
        assert torch.allclose(history.losses, reference.losses, atol=1e-4, rtol=1e-4)
        assert torch.allclose(history.train_loss, reference.train_loss, atol=1e-5, rtol=1e-4)
        assert torch.equal(history.predictions, reference.predictions)
        assert torch.allclose(history.test_accuracy, reference.test_accuracy)
        for (key, mine), theirs in zip(model.state_dict().items(), alone.state_dict().values()):
            assert torch.allclose(mine.float(), theirs.float(), atol=1e-5), key


def test_fit_many_rejects_mismatched_inputs(tiny):
    pair = [models.build("mlp", 4, tiny.shape, seed=s) for s in (0, 1)]
    with pytest.raises(ValueError, match="one seed per model"):
        fit_many(pair, tiny, seeds=[0], **SETTINGS)
    with pytest.raises(ValueError, match="one architecture"):
        fit_many([pair[0], models.build("cnn", 4, tiny.shape)], tiny, seeds=[0, 1], **SETTINGS)
    with pytest.raises(ValueError, match="K×N"):
        fit_many(pair, tiny, seeds=[0, 1], labels=torch.zeros(3, 40, dtype=torch.long), **SETTINGS)
    with pytest.raises(ValueError, match="lr"):
        fit_many(pair, tiny, seeds=[0, 1], **{**SETTINGS, "lr": 0})


def test_models_on_subsets_match_fits_on_those_subsets(tiny):
    # Subsets of two sizes: the two groups train in separate passes, each model as fit on its own subset.
    seeds = [3, 4, 5]
    labels = torch.stack([noise.symmetric(tiny.y, 0.25, 4, seed=s).labels for s in seeds])
    order = torch.randperm(40, generator=torch.Generator().manual_seed(0))
    subsets = [order[:25], order[15:], torch.arange(40) % 3 == 0]  # 25, 25 and 14 examples (a boolean mask)
    together = [models.build("mlp", 4, tiny.shape, seed=s) for s in seeds]
    histories = fit_many(together, tiny, seeds=seeds, labels=labels, subsets=subsets, test=tiny, **SETTINGS)
    for i, (seed, model, history) in enumerate(zip(seeds, together, histories)):
        index = torch.as_tensor(subsets[i])
        index = index.nonzero().flatten() if index.dtype == torch.bool else index
        alone = models.build("mlp", 4, tiny.shape, seed=seed)
        reference = fit(alone, tiny.subset(index), labels=labels[i][index], test=tiny, seed=seed, **SETTINGS)
        assert history.predictions.shape == (SETTINGS["epochs"], len(index))
        assert torch.equal(history.labels, labels[i][index])
        assert torch.allclose(history.losses, reference.losses, atol=1e-4, rtol=1e-4)
        assert torch.equal(history.predictions, reference.predictions)
        assert torch.allclose(history.test_accuracy, reference.test_accuracy)
        for mine, theirs in zip(model.parameters(), alone.parameters()):
            assert torch.allclose(mine, theirs, atol=1e-5)


def test_fit_many_rejects_dropout_and_bad_subsets(tiny):
    pair = [models.build("mlp", 4, tiny.shape, seed=s) for s in (0, 1)]
    with pytest.raises(ValueError, match="one subset per model"):
        fit_many(pair, tiny, seeds=[0, 1], subsets=[torch.arange(10)], **SETTINGS)
    with pytest.raises(ValueError, match="outside"):
        fit_many(pair, tiny, seeds=[0, 1], subsets=[torch.arange(10), torch.arange(35, 45)], **SETTINGS)
    with pytest.raises(ValueError, match="40 entries"):
        fit_many(pair, tiny, seeds=[0, 1], subsets=[torch.ones(10, dtype=torch.bool)] * 2, **SETTINGS)
    dropped = [models.build("mlp", 4, tiny.shape, seed=s, dropout="standard", p=0.4) for s in (0, 1)]
    with pytest.raises(ValueError, match="dropout"):
        fit_many(dropped, tiny, seeds=[0, 1], **SETTINGS)
