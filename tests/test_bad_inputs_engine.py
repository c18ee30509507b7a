"""Bad inputs to the engine's public API (train, ensemble, cache, gradients, resume): each is refused before any
training with a ValueError that says what was wrong and what is allowed."""
import numpy as np
import pytest
import torch

from memlib import cache, data, gradients, models, resume, train
from memlib.ensemble import fit_many

FIT = dict(epochs=1, lr=0.05, weight_decay=0.0, batch_size=16)


@pytest.fixture(scope="module")
def tiny():
    generator = torch.Generator().manual_seed(0)
    return data.Dataset(torch.rand(40, 1, 8, 8, generator=generator), torch.arange(40) % 4)


def mlp(classes=4, shape=(1, 8, 8), **options):
    return models.build("mlp", classes, shape, seed=0, **options)


def tied(n=40):
    return mlp(dropout="example_tied", p_gen=0.5, p_mem=0.5, num_examples=n)


class Opaque:
    pass


CASES = [
    # fit: counts and sizes
    ("fit epochs=0", lambda d: train.fit(mlp(), d, **{**FIT, "epochs": 0}), "epochs must be an integer of at least 1"),
    ("fit epochs=True", lambda d: train.fit(mlp(), d, **{**FIT, "epochs": True}), "epochs must be an integer"),
    ("fit epochs=2.0", lambda d: train.fit(mlp(), d, **{**FIT, "epochs": 2.0}), "epochs must be an integer"),
    ("fit batch_size=-3", lambda d: train.fit(mlp(), d, **{**FIT, "batch_size": -3}), "batch_size must be"),
    ("fit eval_batch_size=-1", lambda d: train.fit(mlp(), d, eval_batch_size=-1, **FIT), "eval_batch_size must be"),
    ("fit eval_batch_size=0", lambda d: train.fit(mlp(), d, eval_batch_size=0, **FIT), "eval_batch_size must be"),
    ("fit lr=nan", lambda d: train.fit(mlp(), d, **{**FIT, "lr": float("nan")}), "lr must be a finite number"),
    ("fit lr=-1", lambda d: train.fit(mlp(), d, **{**FIT, "lr": -1.0}), "lr must be a finite number > 0"),
    ("fit momentum=1", lambda d: train.fit(mlp(), d, momentum=1.0, **FIT), r"momentum must be .* in \[0, 1\)"),
    ("fit weight_decay=-1", lambda d: train.fit(mlp(), d, **{**FIT, "weight_decay": -1}), "weight_decay must be"),
    ("fit warmup=1", lambda d: train.fit(mlp(), d, warmup=1.0, **FIT), "warmup"),
    ("fit warmup='a'", lambda d: train.fit(mlp(), d, warmup="a", **FIT), "warmup .* must be a number"),
    ("fit schedule='linear'", lambda d: train.fit(mlp(), d, schedule="linear", **FIT), "unknown schedule"),
    ("fit schedule=['cosine']", lambda d: train.fit(mlp(), d, schedule=["cosine"], **FIT), "unknown schedule"),
    ("fit seed=1.5", lambda d: train.fit(mlp(), d, seed=1.5, **FIT), "seed must be an integer"),
    ("fit seed='0'", lambda d: train.fit(mlp(), d, seed="0", **FIT), "seed must be an integer"),
    ("fit start_step=-1", lambda d: train.fit(mlp(), d, start_step=-1, **FIT), "start_step"),
    ("fit start_step past the end", lambda d: train.fit(mlp(), d, start_step=3, **FIT), r"start_step .* in \[0, 2\]"),
    ("fit augment='flip'", lambda d: train.fit(mlp(), d, augment="flip", **FIT), "augment must be"),
    ("fit resume=3", lambda d: train.fit(mlp(), d, resume=3, **FIT), "resume must be"),
    # fit: labels and data
    ("fit float labels", lambda d: train.fit(mlp(), d, labels=torch.full((40,), 2.7), **FIT),
     "labels must be integer class indices"),
    ("fit float labels 2.0", lambda d: train.fit(mlp(), d, labels=torch.full((40,), 2.0), **FIT),
     "labels must be integer class indices"),
    ("fit bool labels", lambda d: train.fit(mlp(), d, labels=torch.ones(40, dtype=torch.bool), **FIT),
     "labels must be integer class indices"),
    ("fit labels too short", lambda d: train.fit(mlp(), d, labels=torch.zeros(3, dtype=torch.long), **FIT),
     "one per example"),
    ("fit labels 2-D", lambda d: train.fit(mlp(), d, labels=torch.zeros(40, 1, dtype=torch.long), **FIT),
     "must be 1-D"),
    ("fit label 9 of 4 classes", lambda d: train.fit(mlp(), d, labels=torch.full((40,), 9), **FIT),
     r"lie in \[0, 4\)"),
    ("fit label -1", lambda d: train.fit(mlp(), d, labels=torch.full((40,), -1), **FIT), r"lie in \[0, 4\)"),
    ("fit empty train set", lambda d: train.fit(mlp(), d.subset(torch.arange(0)), **FIT), "train is empty"),
    ("fit empty test set", lambda d: train.fit(mlp(), d, test=d.subset(torch.arange(0)), **FIT), "test is empty"),
    ("fit input shape mismatch", lambda d: train.fit(mlp(shape=(1, 4, 4)), d, **FIT),
     r"cannot take this data: inputs of shape \(1, 8, 8\)"),
    ("fit channels mismatch", lambda d: train.fit(models.build("cnn", 4, (3, 8, 8)), d, **FIT),
     "cannot take this data"),
    ("fit fewer outputs than classes", lambda d: train.fit(mlp(classes=3), d, **FIT),
     "one output per class .at least 4"),
    ("fit test set with more classes", lambda d: train.fit(
        mlp(classes=4), d, test=data.Dataset(d.x, torch.arange(40) % 6), **FIT),
     r"the test set's labels must lie in \[0, 4\) \(the model's classes\)"),
    ("fit example-tied with test=", lambda d: train.fit(tied(), d, test=d, **FIT), "cannot be tested during fit"),
    ("fit two backward callbacks", lambda d: train.fit(
        mlp(), d, callbacks=[gradients.GradientProbe(d.y > 1), gradients.GradientProbe(d.y > 1)], **FIT),
     "at most one callback"),
    # evaluate and accuracy
    ("evaluate batch_size=-5", lambda d: train.evaluate(mlp(), d, batch_size=-5), "batch_size must be"),
    ("evaluate batch_size=0", lambda d: train.evaluate(mlp(), d, batch_size=0), "batch_size must be"),
    ("evaluate float labels", lambda d: train.evaluate(mlp(), d, torch.full((40,), 1.5)), "integer class indices"),
    ("evaluate empty", lambda d: train.evaluate(mlp(), d.subset(torch.arange(0))), "data is empty"),
    ("evaluate shape mismatch", lambda d: train.evaluate(mlp(shape=(1, 4, 4)), d), "cannot take this data"),
    ("evaluate fewer outputs", lambda d: train.evaluate(mlp(classes=2), d), "at least 4"),
    ("evaluate example-tied foreign set in train mode", lambda d: train.evaluate(tied(n=100), d),
     "would borrow unrelated examples' masks"),
    ("accuracy label 7 of 4", lambda d: train.accuracy(mlp(), d, torch.full((40,), 7)), r"lie in \[0, 4\)"),
    ("accuracy batch_size=-1", lambda d: train.accuracy(mlp(), d, batch_size=-1), "batch_size must be"),
    # Checkpoints
    ("Checkpoints -1", lambda d: train.Checkpoints([-1]), "non-negative integers.*got -1"),
    ("Checkpoints 1.5", lambda d: train.Checkpoints([1.5]), "must be an integer"),
    ("Checkpoints True", lambda d: train.Checkpoints([True]), "must be an integer"),
    # fit_many
    ("fit_many seed 1.5", lambda d: fit_many([mlp(), mlp()], d, seeds=[0, 1.5], **FIT), "each seed must be"),
    ("fit_many one seed for two", lambda d: fit_many([mlp(), mlp()], d, seeds=[0], **FIT), "one seed per model"),
    ("fit_many no models", lambda d: fit_many([], d, seeds=[], **FIT), "at least one model"),
    ("fit_many mixed widths", lambda d: fit_many([mlp(), mlp(hidden=(32,))], d, seeds=[0, 1], **FIT),
     "share one architecture"),
    ("fit_many eval_batch_size=-1", lambda d: fit_many([mlp()], d, seeds=[0], eval_batch_size=-1, **FIT),
     "eval_batch_size must be"),
    ("fit_many batch_size=0", lambda d: fit_many([mlp()], d, seeds=[0], **{**FIT, "batch_size": 0}),
     "batch_size must be"),
    ("fit_many epochs=np.float64(2)",
     lambda d: fit_many([mlp()], d, seeds=[0], **{**FIT, "epochs": np.float64(2)}), "epochs must be an integer"),
    ("fit_many float labels", lambda d: fit_many([mlp()], d, seeds=[0], labels=torch.full((40,), 0.5), **FIT),
     "integer class indices"),
    ("fit_many labels K×N wrong K", lambda d: fit_many([mlp(), mlp()], d, seeds=[0, 1],
                                                       labels=torch.zeros(3, 40, dtype=torch.long), **FIT),
     "K×N with K=2"),
    ("fit_many shape mismatch", lambda d: fit_many([mlp(shape=(1, 4, 4))], d, seeds=[0], **FIT),
     "cannot take this data"),
    ("fit_many fewer outputs", lambda d: fit_many([mlp(classes=3)], d, seeds=[0], **FIT), "at least 4"),
    ("fit_many empty train", lambda d: fit_many([mlp()], d.subset(torch.arange(0)), seeds=[0], **FIT),
     "train is empty"),
    ("fit_many dropout", lambda d: fit_many([mlp(dropout="standard", p=0.2)], d, seeds=[0], **FIT),
     "without dropout layers"),
    ("fit_many subset out of range", lambda d: fit_many([mlp()], d, seeds=[0], subsets=[torch.arange(35, 45)],
                                                        **FIT), "outside"),
    ("fit_many empty subset", lambda d: fit_many([mlp()], d, seeds=[0], subsets=[torch.arange(0)], **FIT),
     "non-empty"),
    # cache
    ("cached config not a dict", lambda d: cache.cached([1], lambda: 1), "config must be a dict"),
    ("cached config with a tensor", lambda d: cache.config_key({"w": torch.ones(1)}), r"config\['w'\] is a Tensor"),
    ("cached config with an int key", lambda d: cache.config_key({"rates": {1: 0.5}}), "has the key 1"),
    ("cached config with a set", lambda d: cache.config_key({"s": {1, 2}}), r"config\['s'\] is a set"),
    ("cached result an object", lambda d: cache.cached({"bad": "object"}, lambda: Opaque(), root=d.root),
     "Opaque, which the cache cannot store safely"),
    ("cached result a module", lambda d: cache.cached({"bad": "module"}, lambda: {"m": mlp()}, root=d.root),
     r"result\['m'\] is a memlib.models"),
    ("cached result with a tuple key", lambda d: cache.cached({"bad": "key"}, lambda: {(1, 2): 3}, root=d.root),
     "result dict keys must be"),
    # resume
    ("Resume every_epochs=0", lambda d: resume.Resume("x.pt", every_epochs=0), "every_epochs must be"),
    ("Resume every_minutes=-1", lambda d: resume.Resume("x.pt", every_minutes=-1), "every_minutes must be"),
    # gradients
    ("subset_gradients labels wrong length", lambda d: gradients.subset_gradients(
        mlp(), d, torch.zeros(3, dtype=torch.long), {"a": d.y > 1}, batch_size=16), "one per example"),
    ("subset_gradients subset not a mask",
     lambda d: gradients.subset_gradients(mlp(), d, d.y, {"a": d.y}, batch_size=16),
     "boolean mask"),
    ("subset_gradients batch_size=0", lambda d: gradients.subset_gradients(
        mlp(), d, d.y, {"a": d.y > 1}, batch_size=0), "batch_size must be"),
    ("GradientProbe float mask", lambda d: gradients.GradientProbe(torch.ones(40)), "boolean mask"),
    ("GradientProbe wrong length", lambda d: train.fit(mlp(), d, callbacks=[gradients.GradientProbe(
        torch.ones(3, dtype=torch.bool))], **FIT), "one entry per training example"),
]


@pytest.mark.parametrize("call, phrase", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_gets_a_clear_value_error(tiny, tmp_path, call, phrase):
    tiny.root = tmp_path  # where the cache cases store (nothing must be stored)
    with pytest.raises(ValueError, match=phrase):
        call(tiny)
    assert not list(tmp_path.glob("*.pt"))


def test_numpy_integers_are_counts_like_python_integers(tiny):
    model = mlp()
    history = train.fit(model, tiny, epochs=np.int64(2), batch_size=np.int32(16), lr=np.float32(0.05),
                        weight_decay=0.0, seed=np.int64(1), eval_batch_size=np.int64(64), start_step=np.int64(0))
    assert history.epochs == 2
    assert train.Checkpoints([np.int64(3)]).steps == [3]
    assert len(fit_many([mlp()], tiny, seeds=np.arange(1), epochs=np.int64(1), lr=0.05, weight_decay=0.0,
                        batch_size=np.int64(16))) == 1
    predictions, _ = train.evaluate(model, tiny, batch_size=np.int64(7))
    assert predictions.shape == (40,)
