"""The bad-input suite of the data and methods modules: each public function called as a careless or hostile user
would (bools and floats for counts, zero and negative sizes, NaN rates, labels outside the classes, empty data,
wrong shapes), and each call must end in a ValueError, raised before any expensive work, whose message names what
was wrong. Numpy integers stand for integers wherever a count is asked (the ``ACCEPTED`` table).

A case is ``(id, call, phrase)``: ``call()`` must raise ValueError (or a subclass) with ``phrase`` in its message.
"""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from memlib import continual, data, dropout, early_phase, elr, gradients, models, noise, outliers, plasticity
from memlib import pruning
from memlib.batches import CropFlip, DeviceImages

GEN = torch.Generator().manual_seed(0)
TINY = data.Dataset(torch.rand(40, 1, 8, 8, generator=GEN), torch.arange(40) % 4)
X, Y = TINY.x[:6], TINY.y[:6]
MLP = models.build("mlp", 4, (1, 8, 8), hidden=(8,))
TIED = models.build("mlp", 4, (1, 8, 8), hidden=(8,), dropout="example_tied", p_gen=0.5, p_mem=0.5,
                    num_examples=40)
SYNTHETIC = dict(size=20, shape=(1, 4, 4))
FIT = dict(epochs=1, lr=0.05, weight_decay=0.0, batch_size=20)
HALF = torch.arange(40) < 20


class TrainingStarted(RuntimeError):
    """Raised by a stand-in training function: the argument check came too late."""


def no_training(*args, **kwargs):
    raise TrainingStarted("the call started training before refusing its arguments")


def build_mlp(seed):
    return models.build("mlp", 4, (1, 8, 8), hidden=(8,), seed=seed)


def fit_tiny(model, callbacks, start_step):
    from memlib.train import fit

    return fit(model, TINY, callbacks=callbacks, start_step=start_step, test=TINY, **FIT)


def elr_call(logits=None, labels=None, index=None):
    loss = elr.ELRLoss(40, 4)
    return loss(torch.zeros(3, 4) if logits is None else logits,
                torch.tensor([0, 1, 2]) if labels is None else labels,
                torch.tensor([0, 1, 2]) if index is None else index)


def tied_forward(index):
    layer = dropout.ExampleTiedDropout(10, 4, 0.5, 0.5)
    return layer(torch.ones(2, 4), index)


def memory_with(first, second):
    memory = continual.EpisodicMemory(4)
    memory.store(first)
    memory.store(second)


def tasks(count=2):
    return continual.split_classes(TINY, TINY, [[0, 1], [2, 3]])[:count]


def timeline_frame():
    return pd.DataFrame({"epoch": [1, 2], "clean": [0.5, 0.6], "memorized": [0.1, 0.2],
                         "true_label": [0.3, 0.2], "test": [0.4, 0.5]})


def stability_frame():
    return pd.DataFrame({"step": [0, 1], "test_barrier": [0.1, 0.0]})


def milestones(**overrides):
    arguments = dict(steps_per_epoch=2, threshold=0.05, window=1)
    arguments.update(overrides)
    return early_phase.milestones(torch.ones(4), torch.arange(4.0), stability_frame(), timeline_frame(),
                                  **arguments)


COUNT = "must be an integer of at least 1"
NATURAL = "must be an integer of at least 0"

CASES = [
    # memlib.data: Dataset and Normalization
    ("Dataset 3-D images", lambda: data.Dataset(torch.zeros(4, 8, 8), torch.zeros(4, dtype=torch.long)), "4-D"),
    ("Dataset float labels", lambda: data.Dataset(torch.zeros(3, 1, 2, 2), torch.tensor([0.0, 1.5, 2.0])),
     "y must be integer class indices"),
    ("Dataset bool labels", lambda: data.Dataset(torch.zeros(2, 1, 2, 2), torch.tensor([True, False])),
     "y must be integer class indices"),
    ("Dataset label count", lambda: data.Dataset(torch.zeros(4, 1, 2, 2), torch.zeros(3, dtype=torch.long)),
     "one per example (4)"),
    ("Dataset negative label", lambda: data.Dataset(torch.zeros(2, 1, 2, 2), torch.tensor([0, -1])), "[-1, 0]"),
    ("Dataset label beyond classes", lambda: data.Dataset(torch.zeros(3, 1, 2, 2), torch.tensor([0, 1, 2]),
                                                          classes=["a", "b"]), "[0, 2)"),
    ("Dataset 0-255 floats", lambda: data.Dataset(torch.full((2, 1, 2, 2), 255.0), torch.tensor([0, 1])),
     "x must hold images in [0, 1]"),
    ("Dataset negative pixels", lambda: data.Dataset(-torch.ones(2, 1, 2, 2), torch.tensor([0, 1])),
     "x must hold images in [0, 1]"),
    ("Dataset NaN pixels", lambda: data.Dataset(torch.full((2, 1, 2, 2), math.nan), torch.tensor([0, 1])),
     "x must hold images in [0, 1]"),
    ("Dataset integer non-uint8 images", lambda: data.Dataset(torch.zeros(2, 1, 2, 2, dtype=torch.int64),
                                                              torch.tensor([0, 1])), "float or uint8"),
    ("Dataset meta length", lambda: data.Dataset(torch.zeros(2, 1, 2, 2), torch.tensor([0, 1]),
                                                 meta={"rare": torch.zeros(3)}), "meta['rare']"),
    ("Dataset normalization type", lambda: data.Dataset(torch.zeros(2, 1, 2, 2), torch.tensor([0, 1]),
                                                        normalization=(0.5, 0.2)), "Normalization or None"),
    ("Dataset normalization channels", lambda: data.Dataset(torch.zeros(2, 1, 2, 2), torch.tensor([0, 1]),
                                                            normalization=data.REFERENCE["cifar10"]), "channels"),
    ("Dataset empty classes list", lambda: data.Dataset(torch.zeros(1, 1, 2, 2), torch.tensor([0]), classes=[]),
     "[0, 0)"),
    ("Normalization zero std", lambda: data.Normalization((0.5,), (0.0,)), "std must be a finite number > 0"),
    ("Normalization NaN std", lambda: data.Normalization((0.5,), (math.nan,)), "std must be a finite number > 0"),
    ("Normalization NaN mean", lambda: data.Normalization((math.nan,), (0.2,)), "mean must be a finite number"),
    ("Normalization no channels", lambda: data.Normalization((), ()), "one value per channel"),
    ("Normalization channel count", lambda: data.Normalization((0.5, 0.5), (0.2,)), "one value per channel"),
    ("subset mask length", lambda: TINY.subset(torch.ones(3, dtype=torch.bool)), "boolean mask"),
    ("subset float index", lambda: TINY.subset(torch.tensor([0.5, 1.0])), "index must be integer"),
    ("subset index out of range", lambda: TINY.subset([0, 40]), "index must lie in [-40, 40)"),
    # memlib.data: load, train_test, head, digits, synthetic
    ("load unknown name", lambda: data.load("imagenet"), "unknown dataset 'imagenet'"),
    ("load unknown split", lambda: data.load("digits", "val"), "split must be one of 'train', 'test'"),
    ("load examples 0", lambda: data.load("digits", examples=0), f"examples {COUNT}"),
    ("load examples negative", lambda: data.load("digits", examples=-5), f"examples {COUNT}"),
    ("load examples float", lambda: data.load("digits", examples=1.5), f"examples {COUNT}"),
    ("load examples bool", lambda: data.load("digits", examples=True), f"examples {COUNT}"),
    ("load examples string", lambda: data.load("digits", examples="10"), f"examples {COUNT}"),
    ("load torchvision options", lambda: data.load("mnist", size=10), "mnist takes no options"),
    ("load unknown embedded option", lambda: data.load("synthetic", bogus=1), "synthetic does not take ['bogus']"),
    ("load digits unknown option", lambda: data.load("digits", size=5), "digits does not take ['size']"),
    ("train_test unknown name", lambda: data.train_test("imagenet"), "unknown dataset 'imagenet'"),
    ("head size 0", lambda: data.head(TINY, 0), f"size {COUNT}"),
    ("head size float", lambda: data.head(TINY, 2.5), f"size {COUNT}"),
    ("head not a dataset", lambda: data.head(torch.zeros(3), 2), "dataset must be a memlib.data.Dataset"),
    ("digits test_fraction 0", lambda: data.digits(test_fraction=0), "test_fraction must be a finite number in (0, 1)"),
    ("digits test_fraction 1", lambda: data.digits(test_fraction=1), "test_fraction must be a finite number in (0, 1)"),
    ("digits test_fraction NaN", lambda: data.digits(test_fraction=math.nan), "test_fraction must be a finite"),
    ("digits test_fraction tiny", lambda: data.digits(test_fraction=0.001), "at least 10 examples"),
    ("digits test_fraction huge", lambda: data.digits(test_fraction=0.999), "at least 10 examples"),
    ("digits split", lambda: data.digits("val"), "split must be one of"),
    ("digits seed negative", lambda: data.digits(seed=-1), f"seed {NATURAL}"),
    ("digits seed float", lambda: data.digits(seed=1.5), f"seed {NATURAL}"),
    ("synthetic size 0", lambda: data.load("synthetic", size=0), "size must be None (the default) or an integer"),
    ("synthetic size negative", lambda: data.synthetic(size=-3), "size must be None (the default) or an integer"),
    ("synthetic size below classes", lambda: data.load("synthetic", size=5), "of at least 10 (one per class)"),
    ("synthetic size float", lambda: data.synthetic(size=20.5), "size must be None (the default) or an integer"),
    ("synthetic size bool", lambda: data.synthetic(size=True), "size must be None (the default) or an integer"),
    ("synthetic 2-D shape", lambda: data.load("synthetic", shape=(1000, 1000)), "shape must be (C, H, W)"),
    ("synthetic zero in shape", lambda: data.synthetic(shape=(1, 0, 8)), "shape must be (C, H, W)"),
    ("synthetic float in shape", lambda: data.synthetic(shape=(1, 8, 8.5)), "shape must be (C, H, W)"),
    ("synthetic shape not a tuple", lambda: data.synthetic(shape=8), "shape must be (C, H, W)"),
    ("synthetic noise NaN", lambda: data.load("synthetic", noise=math.nan), "noise must be a finite number ≥ 0"),
    ("synthetic noise negative", lambda: data.synthetic(noise=-1.0, **SYNTHETIC), "noise must be a finite number"),
    ("synthetic noise string", lambda: data.synthetic(noise="1", **SYNTHETIC), "noise must be a number"),
    ("synthetic rare_fraction 1", lambda: data.synthetic(rare_fraction=1, **SYNTHETIC), "rare_fraction must be"),
    ("synthetic rare_fraction NaN", lambda: data.synthetic(rare_fraction=math.nan, **SYNTHETIC),
     "rare_fraction must be a finite number in [0, 1)"),
    ("synthetic num_classes 1", lambda: data.synthetic(num_classes=1, **SYNTHETIC),
     "num_classes must be an integer of at least 2"),
    ("synthetic num_classes float", lambda: data.synthetic(num_classes=2.5, **SYNTHETIC),
     "num_classes must be an integer of at least 2"),
    ("synthetic num_classes bool", lambda: data.synthetic(num_classes=True, **SYNTHETIC),
     "num_classes must be an integer of at least 2"),
    ("synthetic seed negative", lambda: data.synthetic(seed=-1, **SYNTHETIC), f"seed {NATURAL}"),
    ("synthetic seed float", lambda: data.synthetic(seed=0.5, **SYNTHETIC), f"seed {NATURAL}"),
    ("synthetic split", lambda: data.synthetic("val", **SYNTHETIC), "split must be one of"),
    # memlib.noise
    ("symmetric float labels", lambda: noise.symmetric(torch.tensor([0.0, 2.7]), 0.1, 4),
     "labels must be integer class indices"),
    ("symmetric 2-D labels", lambda: noise.symmetric(torch.zeros(2, 2, dtype=torch.long), 0.1, 4), "1-D"),
    ("symmetric negative label", lambda: noise.symmetric(torch.tensor([0, -1]), 0.1, 4), "[0, 4)"),
    ("symmetric label beyond classes", lambda: noise.symmetric(torch.tensor([0, 4]), 0.1, 4), "[0, 4)"),
    ("symmetric rate NaN", lambda: noise.symmetric(Y, math.nan, 4), "rate must be a finite number in [0, 1)"),
    ("symmetric rate 1", lambda: noise.symmetric(Y, 1.0, 4), "rate must be a finite number in [0, 1)"),
    ("symmetric rate negative", lambda: noise.symmetric(Y, -0.1, 4), "rate must be a finite number in [0, 1)"),
    ("symmetric rate string", lambda: noise.symmetric(Y, "0.1", 4), "rate must be a number"),
    ("symmetric num_classes 1", lambda: noise.symmetric(torch.zeros(4, dtype=torch.long), 0.1, 1),
     "num_classes must be an integer of at least 2"),
    ("symmetric num_classes float", lambda: noise.symmetric(Y, 0.1, 4.5), "num_classes must be an integer"),
    ("symmetric num_classes bool", lambda: noise.symmetric(Y, 0.1, True), "num_classes must be an integer"),
    ("symmetric seed float", lambda: noise.symmetric(Y, 0.1, 4, seed=1.5), f"seed {NATURAL}"),
    ("symmetric seed negative", lambda: noise.symmetric(Y, 0.1, 4, seed=-2), f"seed {NATURAL}"),
    ("asymmetric target 99", lambda: noise.asymmetric(torch.arange(10), 0.2, {3: 99}),
     "mapping must send classes of the labels"),
    ("asymmetric target -1", lambda: noise.asymmetric(torch.arange(10), 0.2, {3: -1}),
     "mapping must send classes of the labels"),
    ("asymmetric source -1", lambda: noise.asymmetric(torch.arange(10), 0.2, {-1: 3}),
     "mapping must send classes of the labels"),
    ("asymmetric target beyond num_classes", lambda: noise.asymmetric(torch.arange(10), 0.2, {3: 10},
                                                                       num_classes=10), "[0, 10)"),
    ("asymmetric label beyond num_classes", lambda: noise.asymmetric(torch.arange(12), 0.2, {3: 5},
                                                                      num_classes=10), "[0, 10)"),
    ("asymmetric self map", lambda: noise.asymmetric(torch.arange(10) % 3, 0.2, {1: 1}), "a different class"),
    ("asymmetric float keys", lambda: noise.asymmetric(torch.arange(10), 0.2, {1.5: 2}),
     "mapping's classes must be integers"),
    ("asymmetric mapping not a dict", lambda: noise.asymmetric(torch.arange(10), 0.2, [(1, 2)]),
     "mapping must be a dict"),
    ("asymmetric empty mapping", lambda: noise.asymmetric(torch.arange(10), 0.2, {}), "mapping must be a dict"),
    ("asymmetric rate NaN", lambda: noise.asymmetric(torch.arange(10), math.nan, {1: 2}), "rate must be a finite"),
    ("asymmetric float labels", lambda: noise.asymmetric(torch.tensor([1.0, 2.0]), 0.2, {1: 2}),
     "labels must be integer class indices"),
    ("asymmetric seed float", lambda: noise.asymmetric(torch.arange(10), 0.2, {1: 2}, seed=0.5), f"seed {NATURAL}"),
    ("noise milestones threshold NaN", lambda: noise.milestones(timeline_frame(), math.nan), "threshold must be"),
    ("noise milestones threshold 2", lambda: noise.milestones(timeline_frame(), 2.0), "threshold must be"),
    ("noise milestones empty", lambda: noise.milestones(timeline_frame().iloc[:0]), "timeline is empty"),
    # memlib.models
    ("build unknown model", lambda: models.build("vgg", 4, (1, 8, 8)), "unknown model 'vgg'"),
    ("build num_classes 1", lambda: models.build("mlp", 1, (1, 8, 8)), "num_classes must be an integer of at least 2"),
    ("build num_classes float", lambda: models.build("mlp", 2.5, (1, 8, 8)), "num_classes must be an integer"),
    ("build num_classes bool", lambda: models.build("mlp", True, (1, 8, 8)), "num_classes must be an integer"),
    ("build in_shape 2-D", lambda: models.build("mlp", 4, (8, 8)), "in_shape must be (C, H, W)"),
    ("build in_shape zero", lambda: models.build("mlp", 4, (1, 0, 8)), "in_shape must be (C, H, W)"),
    ("build in_shape float", lambda: models.build("mlp", 4, (1, 8, 8.5)), "in_shape must be (C, H, W)"),
    ("build in_shape number", lambda: models.build("mlp", 4, 64), "in_shape must be (C, H, W)"),
    ("build seed float", lambda: models.build("mlp", 4, (1, 8, 8), seed=1.5), f"seed {NATURAL}"),
    ("build seed negative", lambda: models.build("mlp", 4, (1, 8, 8), seed=-1), f"seed {NATURAL}"),
    ("build seed bool", lambda: models.build("mlp", 4, (1, 8, 8), seed=True), f"seed {NATURAL}"),
    ("build unknown option", lambda: models.build("mlp", 4, (1, 8, 8), width=3), "mlp does not take ['width']"),
    ("build hidden zero", lambda: models.build("mlp", 4, (1, 8, 8), hidden=(0,)), "hidden"),
    ("build hidden float", lambda: models.build("mlp", 4, (1, 8, 8), hidden=(8.5,)), "hidden"),
    ("build hidden number", lambda: models.build("mlp", 4, (1, 8, 8), hidden=8), "hidden must be a sequence"),
    ("build width zero", lambda: models.build("cnn", 4, (1, 8, 8), width=0), f"width {COUNT}"),
    ("build width float", lambda: models.build("cnn", 4, (1, 8, 8), width=8.5), f"width {COUNT}"),
    ("build cnn tiny input", lambda: models.build("cnn", 4, (1, 2, 2)), "at least 4×4"),
    ("build resnet9 small input", lambda: models.build("resnet9", 4, (1, 8, 8)), "at least 11×11"),
    ("build unknown dropout", lambda: models.build("mlp", 4, (1, 8, 8), dropout="gaussian"), "unknown dropout"),
    ("build dropout p missing", lambda: models.build("mlp", 4, (1, 8, 8), dropout="standard"), "missing p"),
    ("build dropout p NaN", lambda: models.build("mlp", 4, (1, 8, 8), dropout="standard", p=math.nan),
     "p (the share of units dropped) must be"),
    ("build dropout p 1", lambda: models.build("mlp", 4, (1, 8, 8), dropout="sparse", p=1.0), "p (the share"),
    ("build p without dropout", lambda: models.build("mlp", 4, (1, 8, 8), p=0.3), "does not take p"),
    ("build tied num_examples 0", lambda: models.build("mlp", 4, (1, 8, 8), dropout="example_tied", p_gen=0.5,
                                                        p_mem=0.5, num_examples=0), f"num_examples {COUNT}"),
    ("build tied num_examples float", lambda: models.build("mlp", 4, (1, 8, 8), dropout="example_tied", p_gen=0.5,
                                                            p_mem=0.5, num_examples=10.5), f"num_examples {COUNT}"),
    ("build tied p_gen 0", lambda: models.build("mlp", 4, (1, 8, 8), dropout="example_tied", p_gen=0.0, p_mem=0.5,
                                                 num_examples=10), "p_gen"),
    ("build tied p_mem NaN", lambda: models.build("mlp", 4, (1, 8, 8), dropout="example_tied", p_gen=0.5,
                                                   p_mem=math.nan, num_examples=10), "p_mem"),
    # memlib.dropout
    ("ExampleTiedDropout num_examples 0", lambda: dropout.ExampleTiedDropout(0, 4, 0.5, 0.5), f"num_examples {COUNT}"),
    ("ExampleTiedDropout num_examples bool", lambda: dropout.ExampleTiedDropout(True, 4, 0.5, 0.5),
     f"num_examples {COUNT}"),
    ("ExampleTiedDropout num_units 1", lambda: dropout.ExampleTiedDropout(10, 1, 0.5, 0.5),
     "num_units must be an integer of at least 2"),
    ("ExampleTiedDropout p_gen NaN", lambda: dropout.ExampleTiedDropout(10, 4, math.nan, 0.5), "p_gen"),
    ("ExampleTiedDropout p_gen string", lambda: dropout.ExampleTiedDropout(10, 4, "0.5", 0.5), "p_gen"),
    ("ExampleTiedDropout p_mem 0", lambda: dropout.ExampleTiedDropout(10, 4, 0.5, 0.0), "p_mem"),
    ("ExampleTiedDropout p_gen leaves none", lambda: dropout.ExampleTiedDropout(10, 2, 0.2, 0.5),
     "at least one generalization"),
    ("ExampleTiedDropout seed float", lambda: dropout.ExampleTiedDropout(10, 4, 0.5, 0.5, seed=1.5),
     f"seed {NATURAL}"),
    ("ExampleTiedDropout index missing", lambda: tied_forward(None), "needs the examples' indices"),
    ("ExampleTiedDropout index float", lambda: tied_forward(torch.tensor([0.0, 1.0])), "integer example indices"),
    ("ExampleTiedDropout index beyond", lambda: tied_forward(torch.tensor([0, 10])), "[0, 10)"),
    ("ExampleTiedDropout wrong width", lambda: dropout.ExampleTiedDropout(10, 4, 0.5, 0.5)(torch.ones(2, 5),
                                                                                         torch.tensor([0, 1])),
     "N×4"),
    ("StandardDropout p 1", lambda: dropout.StandardDropout(1.0), "p (the share of units dropped)"),
    ("StandardDropout p NaN", lambda: dropout.StandardDropout(math.nan), "p (the share of units dropped)"),
    ("StandardDropout p string", lambda: dropout.StandardDropout("0.1"), "p (the share of units dropped)"),
    ("SparseMask p negative", lambda: dropout.SparseMask(-0.1), "p (the share of units dropped)"),
    ("SparseMask seed float", lambda: dropout.SparseMask(0.2, seed=0.5), f"seed {NATURAL}"),
    ("layer_factory unknown", lambda: dropout.layer_factory("gaussian"), "unknown dropout"),
    ("layer_factory seed float", lambda: dropout.layer_factory("standard", p=0.1, seed=1.5), f"seed {NATURAL}"),
    ("set_mode unknown", lambda: dropout.set_mode(TIED, "eval"), "unknown mode 'eval'"),
    ("set_mode no layers", lambda: dropout.set_mode(MLP, "test"), "no ExampleTiedDropout layers"),
    ("using_mode unknown", lambda: dropout.using_mode(TIED, "eval").__enter__(), "unknown mode 'eval'"),
    ("predictions_by_mode unknown", lambda: dropout.predictions_by_mode(TIED, TINY, ("eval",)), "mode must be one of"),
    ("predictions_by_mode batch 0", lambda: dropout.predictions_by_mode(TIED, TINY, batch_size=0),
     f"batch_size {COUNT}"),
    ("predictions_by_mode train mode on other data", lambda: dropout.predictions_by_mode(TIED, TINY.subset(
        torch.arange(10))), "data must be the training set"),
    ("generalization_units not a layer", lambda: dropout.generalization_units(MLP), "an ExampleTiedDropout layer"),
    ("memorization_units not a layer", lambda: dropout.memorization_units(None), "an ExampleTiedDropout layer"),
    # memlib.batches
    ("CropFlip padding negative", lambda: CropFlip(padding=-1), f"padding {NATURAL}"),
    ("CropFlip padding float", lambda: CropFlip(padding=1.5), f"padding {NATURAL}"),
    ("CropFlip padding bool", lambda: CropFlip(padding=True), f"padding {NATURAL}"),
    ("CropFlip flip string", lambda: CropFlip(flip="yes"), "flip must be True or False"),
    ("CropFlip 3-D images", lambda: CropFlip()(torch.zeros(2, 8, 8)), "N×C×H×W"),
    ("DeviceImages 1-D", lambda: DeviceImages(torch.zeros(4), "cpu"), "N × ..."),
    ("DeviceImages normalization channels", lambda: DeviceImages(torch.zeros(2, 1, 2, 2), "cpu",
                                                                 normalization=data.REFERENCE["cifar10"]),
     "channels"),
    ("DeviceImages float index", lambda: DeviceImages(torch.zeros(2, 1, 2, 2), "cpu").batch(torch.tensor([0.0])),
     "integer example indices"),
    # memlib.elr
    ("ELRLoss num_examples 0", lambda: elr.ELRLoss(0, 4), f"num_examples {COUNT}"),
    ("ELRLoss num_examples float", lambda: elr.ELRLoss(10.5, 4), f"num_examples {COUNT}"),
    ("ELRLoss num_examples bool", lambda: elr.ELRLoss(True, 4), f"num_examples {COUNT}"),
    ("ELRLoss num_classes 1", lambda: elr.ELRLoss(10, 1), "num_classes must be an integer of at least 2"),
    ("ELRLoss beta 1", lambda: elr.ELRLoss(10, 4, beta=1.0), "beta"),
    ("ELRLoss beta NaN", lambda: elr.ELRLoss(10, 4, beta=math.nan), "beta"),
    ("ELRLoss lam negative", lambda: elr.ELRLoss(10, 4, lam=-1.0), "lam"),
    ("ELRLoss lam NaN", lambda: elr.ELRLoss(10, 4, lam=math.nan), "lam"),
    ("ELRLoss lam string", lambda: elr.ELRLoss(10, 4, lam="3"), "lam"),
    ("ELRLoss logits width", lambda: elr_call(logits=torch.zeros(3, 5)), "batch × 4 classes"),
    ("ELRLoss label beyond classes", lambda: elr_call(labels=torch.tensor([0, 1, 4])), "[0, 4)"),
    ("ELRLoss float labels", lambda: elr_call(labels=torch.tensor([0.0, 1.0, 2.7])), "integer class indices"),
    ("ELRLoss float index", lambda: elr_call(index=torch.tensor([0.0, 1.0, 2.0])), "integer example indices"),
    ("ELRLoss index beyond", lambda: elr_call(index=torch.tensor([0, 1, 40])), "[0, 40)"),
    ("ELRLoss flag_mislabeled length", lambda: elr.ELRLoss(10, 4).flag_mislabeled(torch.zeros(3, dtype=torch.long)),
     "one per example (10)"),
    ("ELRLoss flag_mislabeled float", lambda: elr.ELRLoss(3, 4).flag_mislabeled(torch.zeros(3)),
     "integer class indices"),
    # memlib.outliers
    ("minimal_perturbation norm 3", lambda: outliers.minimal_perturbation(MLP, X, Y, norm=3), "norm must be 2"),
    ("minimal_perturbation steps 0", lambda: outliers.minimal_perturbation(MLP, X, Y, steps=0), f"steps {COUNT}"),
    ("minimal_perturbation steps float", lambda: outliers.minimal_perturbation(MLP, X, Y, steps=2.5),
     f"steps {COUNT}"),
    ("minimal_perturbation overshoot 0", lambda: outliers.minimal_perturbation(MLP, X, Y, overshoot=0.0),
     "overshoot must be a finite number > 0"),
    ("minimal_perturbation overshoot NaN", lambda: outliers.minimal_perturbation(MLP, X, Y, overshoot=math.nan),
     "overshoot must be a finite number > 0"),
    ("minimal_perturbation refine negative", lambda: outliers.minimal_perturbation(MLP, X, Y, refine=-1),
     f"refine {NATURAL}"),
    ("minimal_perturbation batch 0", lambda: outliers.minimal_perturbation(MLP, X, Y, batch_size=0),
     f"batch_size {COUNT}"),
    ("minimal_perturbation batch negative", lambda: outliers.minimal_perturbation(MLP, X, Y, batch_size=-1),
     f"batch_size {COUNT}"),
    ("minimal_perturbation label beyond", lambda: outliers.minimal_perturbation(MLP, X, torch.full((6,), 7)),
     "[0, 4) (the model's classes)"),
    ("minimal_perturbation negative label", lambda: outliers.minimal_perturbation(MLP, X, torch.full((6,), -1)),
     "y must be non-negative class indices"),
    ("minimal_perturbation float labels", lambda: outliers.minimal_perturbation(MLP, X, Y.float()),
     "y must be integer class indices"),
    ("minimal_perturbation label count", lambda: outliers.minimal_perturbation(MLP, X, Y[:3]), "one per example (6)"),
    ("minimal_perturbation wrong shape", lambda: outliers.minimal_perturbation(MLP, torch.rand(6, 3, 8, 8), Y),
     "does not fit the model"),
    ("minimal_perturbation int images", lambda: outliers.minimal_perturbation(MLP, torch.zeros(6, 1, 8, 8,
                                                                                               dtype=torch.long), Y),
     "x must be a float tensor"),
    ("adv_distance label beyond", lambda: outliers.adv_distance([MLP], X, torch.full((6,), 4)),
     "[0, 4) (the model's classes)"),
    ("adv_distance no models", lambda: outliers.adv_distance([], X, Y), "at least one model"),
    ("adv_distance steps 0", lambda: outliers.adv_distance(MLP, X, Y, steps=0), f"steps {COUNT}"),
    ("adv_distance norm 1", lambda: outliers.adv_distance(MLP, X, Y, norm=1), "norm must be 2"),
    ("adv_distance not a model", lambda: outliers.adv_distance(["mlp"], X, Y), "torch.nn.Module"),
    ("confidence label beyond", lambda: outliers.confidence([MLP], X, torch.full((6,), 9)),
     "[0, 4) (the model's classes)"),
    ("confidence held_out shape", lambda: outliers.confidence([MLP], X, Y, held_out=torch.ones(2, 6, dtype=torch.bool)),
     "held_out must be a boolean mask"),
    ("confidence held_out float", lambda: outliers.confidence([MLP], X, Y, held_out=torch.ones(1, 6)),
     "held_out must be a boolean mask"),
    ("confidence batch 0", lambda: outliers.confidence([MLP], X, Y, batch_size=0), f"batch_size {COUNT}"),
    ("confidence wrong shape", lambda: outliers.confidence([MLP], torch.rand(6, 1, 4, 4), Y), "does not fit"),
    ("agreement one model", lambda: outliers.agreement([MLP], X), "at least 2 models"),
    ("agreement batch 0", lambda: outliers.agreement([MLP, MLP], X, batch_size=0), f"batch_size {COUNT}"),
    ("agreement wrong shape", lambda: outliers.agreement([MLP, MLP], torch.rand(6, 2, 8, 8)), "does not fit"),
    ("agreement empty", lambda: outliers.agreement([MLP, MLP], X[:0]), "x is empty"),
    ("percentile scores shape", lambda: outliers.percentile_within_class(torch.ones(3), Y), "one score per label"),
    ("percentile float labels", lambda: outliers.percentile_within_class(torch.ones(6), Y.float()),
     "y must be integer class indices"),
    ("slices count 0", lambda: outliers.slices(torch.rand(10), 0), f"count {COUNT}"),
    ("slices count float", lambda: outliers.slices(torch.rand(10), 2.5), f"count {COUNT}"),
    ("slices width 0", lambda: outliers.slices(torch.rand(10), 2, width=0.0), "width must be a finite number in (0"),
    ("slices width NaN", lambda: outliers.slices(torch.rand(10), 2, width=math.nan), "width must be a finite number"),
    ("slices percentiles above 1", lambda: outliers.slices(torch.tensor([0.5, 1.5]), 2), "values in [0, 1]"),
    ("slices percentiles NaN", lambda: outliers.slices(torch.tensor([0.5, math.nan]), 2), "values in [0, 1]"),
    ("holdout_ensemble count 0", lambda: outliers.holdout_ensemble(TINY, 0), f"count {COUNT}"),
    ("holdout_ensemble count float", lambda: outliers.holdout_ensemble(TINY, 1.5), f"count {COUNT}"),
    ("holdout_ensemble seed float", lambda: outliers.holdout_ensemble(TINY, 2, seed=0.5), f"seed {NATURAL}"),
    ("holdout_ensemble empty", lambda: outliers.holdout_ensemble(TINY.subset(torch.arange(0)), 2), "empty"),
    ("holdout_ensemble unknown model", lambda: outliers.holdout_ensemble(TINY, 2, "vgg", **FIT), "unknown model"),
    # memlib.pruning
    ("prune_magnitude fraction 0", lambda: pruning.prune_magnitude(build_mlp(0), 0.0), "fraction"),
    ("prune_magnitude fraction 1", lambda: pruning.prune_magnitude(build_mlp(0), 1.0), "fraction"),
    ("prune_magnitude fraction NaN", lambda: pruning.prune_magnitude(build_mlp(0), math.nan), "fraction"),
    ("prune_magnitude fraction string", lambda: pruning.prune_magnitude(build_mlp(0), "0.2"), "fraction"),
    ("prune_magnitude scope", lambda: pruning.prune_magnitude(build_mlp(0), 0.2, scope="layer-wise"),
     "scope must be one of 'global', 'layerwise'"),
    ("prune_random seed float", lambda: pruning.prune_random(build_mlp(0), 0.2, seed=1.5), f"seed {NATURAL}"),
    ("prune_random scope", lambda: pruning.prune_random(build_mlp(0), 0.2, scope="local"), "scope must be one of"),
    ("prunable no layers", lambda: pruning.prunable(torch.nn.ReLU()), "no prunable"),
    ("shuffle_masks seed float", lambda: pruning.shuffle_masks(pruning.masks(build_mlp(0)), seed=0.5),
     f"seed {NATURAL}"),
    ("set_masks other network", lambda: pruning.set_masks(build_mlp(0), {"x.weight": torch.ones(2)}),
     "the masks are for layers"),
    ("rewind_to other network", lambda: pruning.rewind_to(build_mlp(0), {"bogus": torch.ones(2)}), "lacks"),
    ("imp scope layer-wise", lambda: pruning.imp(build_mlp, no_training, rounds=1, scope="layer-wise"),
     "scope must be one of 'global', 'layerwise'"),
    ("imp rounds negative", lambda: pruning.imp(build_mlp, no_training, rounds=-1), f"rounds {NATURAL}"),
    ("imp rounds float", lambda: pruning.imp(build_mlp, no_training, rounds=1.5), f"rounds {NATURAL}"),
    ("imp rounds bool", lambda: pruning.imp(build_mlp, no_training, rounds=True), f"rounds {NATURAL}"),
    ("imp fraction 1", lambda: pruning.imp(build_mlp, no_training, rounds=1, fraction=1.0), "fraction"),
    ("imp fraction NaN", lambda: pruning.imp(build_mlp, no_training, rounds=1, fraction=math.nan), "fraction"),
    ("imp criterion", lambda: pruning.imp(build_mlp, no_training, rounds=1, criterion="gradient"),
     "criterion must be one of"),
    ("imp rewind negative", lambda: pruning.imp(build_mlp, no_training, rounds=1, rewind=-1), "rewind must be"),
    ("imp rewind float", lambda: pruning.imp(build_mlp, no_training, rounds=1, rewind=1.5), "rewind must be"),
    ("imp rewind string", lambda: pruning.imp(build_mlp, no_training, rounds=1, rewind="late"), "rewind must be"),
    ("imp masks count", lambda: pruning.imp(build_mlp, no_training, rounds=2, masks=[{}]), "masks must hold"),
    ("imp seed float", lambda: pruning.imp(build_mlp, no_training, rounds=1, seed=0.5), f"seed {NATURAL}"),
    ("imp exclude_output string", lambda: pruning.imp(build_mlp, no_training, rounds=1, exclude_output="yes"),
     "exclude_output must be None, True or False"),
    ("imp build_model not callable", lambda: pruning.imp(None, no_training, rounds=1), "build_model must be"),
    ("imp train not callable", lambda: pruning.imp(build_mlp, None, rounds=1), "train must be"),
    ("imp measure not callable", lambda: pruning.imp(build_mlp, no_training, rounds=1, measure=3), "measure must be"),
    # memlib.continual
    ("split_classes no groups", lambda: continual.split_classes(TINY, TINY, []), "groups must be a non-empty"),
    ("split_classes empty group", lambda: continual.split_classes(TINY, TINY, [[0], []]), "groups must be"),
    ("split_classes shared class", lambda: continual.split_classes(TINY, TINY, [[0, 1], [1]]), "one group only"),
    ("split_classes class beyond", lambda: continual.split_classes(TINY, TINY, [[0, 4]]), "[0, 4)"),
    ("split_classes negative class", lambda: continual.split_classes(TINY, TINY, [[-1, 0]]), "[0, 4)"),
    ("split_classes float class", lambda: continual.split_classes(TINY, TINY, [[0, 1.5]]), "must be an integer"),
    ("split_classes string class", lambda: continual.split_classes(TINY, TINY, [["a"]]), "must be an integer"),
    ("split_classes group not a list", lambda: continual.split_classes(TINY, TINY, [0, 1]), "groups must be"),
    ("split_classes test of other classes", lambda: continual.split_classes(
        TINY, data.Dataset(torch.rand(4, 1, 8, 8), torch.arange(4) % 3), [[0, 1]]), "the same classes"),
    ("permuted_pixels count 0", lambda: continual.permuted_pixels(TINY, TINY, 0), f"count {COUNT}"),
    ("permuted_pixels count float", lambda: continual.permuted_pixels(TINY, TINY, 2.5), f"count {COUNT}"),
    ("permuted_pixels count bool", lambda: continual.permuted_pixels(TINY, TINY, True), f"count {COUNT}"),
    ("permuted_pixels seed negative", lambda: continual.permuted_pixels(TINY, TINY, 2, seed=-1), f"seed {NATURAL}"),
    ("permuted_pixels shapes differ", lambda: continual.permuted_pixels(
        TINY, data.Dataset(torch.rand(4, 1, 4, 4), torch.arange(4)), 2), "the same image shape"),
    ("EpisodicMemory capacity negative", lambda: continual.EpisodicMemory(-1), f"capacity {NATURAL}"),
    ("EpisodicMemory capacity float", lambda: continual.EpisodicMemory(2.5), f"capacity {NATURAL}"),
    ("EpisodicMemory capacity bool", lambda: continual.EpisodicMemory(True), f"capacity {NATURAL}"),
    ("EpisodicMemory key_sparsity 0", lambda: continual.EpisodicMemory(4, key_sparsity=0.0), "key_sparsity"),
    ("EpisodicMemory key_sparsity NaN", lambda: continual.EpisodicMemory(4, key_sparsity=math.nan), "key_sparsity"),
    ("EpisodicMemory key_units 0", lambda: continual.EpisodicMemory(4, key_units=0), f"key_units {COUNT}"),
    ("EpisodicMemory seed float", lambda: continual.EpisodicMemory(4, seed=0.5), f"seed {NATURAL}"),
    ("EpisodicMemory store empty", lambda: continual.EpisodicMemory(4).store(TINY.subset(torch.arange(0))),
     "cannot store an empty dataset"),
    ("EpisodicMemory store not a dataset", lambda: continual.EpisodicMemory(4).store(X), "a memlib.data.Dataset"),
    ("EpisodicMemory store other shape", lambda: memory_with(TINY, data.Dataset(torch.rand(4, 1, 4, 4),
                                                                                torch.arange(4))),
     "share the first task's image shape"),
    ("EpisodicMemory stored empty", lambda: continual.EpisodicMemory(4).stored(), "the memory is empty"),
    ("ReplayLoss batch 0", lambda: continual.ReplayLoss(MLP, TINY, 0), f"batch_size {COUNT}"),
    ("ReplayLoss batch float", lambda: continual.ReplayLoss(MLP, TINY, 2.5), f"batch_size {COUNT}"),
    ("ReplayLoss empty replay", lambda: continual.ReplayLoss(MLP, TINY.subset(torch.arange(0)), 4),
     "nothing to replay"),
    ("ReplayLoss seed float", lambda: continual.ReplayLoss(MLP, TINY, 4, seed=0.5), f"seed {NATURAL}"),
    ("train_sequence no tasks", lambda: continual.train_sequence([], **FIT), "tasks must be a non-empty list"),
    ("train_sequence memory negative", lambda: continual.train_sequence(tasks(), memory_size=-1, **FIT),
     f"memory_size {NATURAL}"),
    ("train_sequence replay batch 0", lambda: continual.train_sequence(tasks(), memory_size=4,
                                                                        replay_batch_size=0, **FIT),
     f"replay_batch_size {COUNT}"),
    ("train_sequence replay batch float", lambda: continual.train_sequence(tasks(), memory_size=4,
                                                                            replay_batch_size=2.5, **FIT),
     f"replay_batch_size {COUNT}"),
    ("train_sequence key_sparsity NaN", lambda: continual.train_sequence(tasks(), memory_size=4,
                                                                          key_sparsity=math.nan, **FIT),
     "key_sparsity"),
    ("train_sequence seed float", lambda: continual.train_sequence(tasks(), seed=0.5, **FIT), f"seed {NATURAL}"),
    ("train_sequence unknown model", lambda: continual.train_sequence(tasks(), model="vgg", **FIT), "unknown model"),
    ("train_sequence sets loss", lambda: continual.train_sequence(tasks(), loss=None, **FIT), "do not pass them"),
    ("train_sequence no batch size", lambda: continual.train_sequence(tasks(), memory_size=4, epochs=1, lr=0.1,
                                                                       weight_decay=0.0),
     "replay_batch_size"),
    # memlib.plasticity
    ("run_rule unknown rule", lambda: plasticity.run_rule("bcm", X.flatten(1), lr=0.1, steps=2), "unknown rule"),
    ("run_rule lr 0", lambda: plasticity.run_rule("oja", X.flatten(1), lr=0.0, steps=2), "lr must be a finite number > 0"),
    ("run_rule lr NaN", lambda: plasticity.run_rule("oja", X.flatten(1), lr=math.nan, steps=2), "lr must be a finite"),
    ("run_rule steps 0", lambda: plasticity.run_rule("oja", X.flatten(1), lr=0.1, steps=0), f"steps {COUNT}"),
    ("run_rule steps float", lambda: plasticity.run_rule("oja", X.flatten(1), lr=0.1, steps=2.5), f"steps {COUNT}"),
    ("run_rule steps bool", lambda: plasticity.run_rule("oja", X.flatten(1), lr=0.1, steps=True), f"steps {COUNT}"),
    ("run_rule 1-D input", lambda: plasticity.run_rule("oja", torch.ones(4), lr=0.1, steps=2), "n × d matrix"),
    ("run_rule NaN input", lambda: plasticity.run_rule("oja", torch.full((3, 2), math.nan), lr=0.1, steps=2),
     "x must be finite"),
    ("run_rule w0 shape", lambda: plasticity.run_rule("oja", X.flatten(1), lr=0.1, steps=2, w0=torch.ones(3)),
     "w0 must have shape (64,)"),
    ("run_rule decay negative", lambda: plasticity.run_rule("decay", X.flatten(1), lr=0.1, steps=2, decay=-1.0),
     "decay must be a finite number ≥ 0"),
    ("run_rule target 0", lambda: plasticity.run_rule("scaling", X.flatten(1), lr=0.1, steps=2, target=0.0),
     "target must be a finite number > 0"),
    ("run_rule time_constant 0.5", lambda: plasticity.run_rule("scaling", X.flatten(1), lr=0.1, steps=2,
                                                                time_constant=0.5), "time_constant"),
    ("run_rule seed float", lambda: plasticity.run_rule("oja", X.flatten(1), lr=0.1, steps=2, seed=0.5),
     f"seed {NATURAL}"),
    ("leading_eigenvector empty", lambda: plasticity.leading_eigenvector(torch.zeros(0, 3)), "non-empty n × d"),
    ("largest_eigenvalue 3-D", lambda: plasticity.largest_eigenvalue(torch.zeros(2, 2, 2)), "non-empty n × d"),
    ("mean_activity width", lambda: plasticity.mean_activity(torch.ones(3, 5), torch.ones(4, 2)), "one weight per input"),
    ("alignment width", lambda: plasticity.alignment(torch.ones(3, 5), torch.ones(2)), "one entry per weight"),
    # memlib.early_phase
    ("forgetting_events shapes", lambda: early_phase.forgetting_events(torch.zeros(3, 5, dtype=torch.long), Y),
     "predictions must be epochs × N"),
    ("forgetting_summary group mask", lambda: early_phase.forgetting_summary(
        torch.zeros(3, 6, dtype=torch.long), Y, {"a": torch.ones(5, dtype=torch.bool)}), "group 'a'"),
    ("error_along_path points 1", lambda: early_phase.error_along_path(MLP, MLP.state_dict(), MLP.state_dict(),
                                                                      TINY, points=1), "points must be an integer"),
    ("error_along_path points float", lambda: early_phase.error_along_path(MLP, MLP.state_dict(), MLP.state_dict(),
                                                                          TINY, points=3.5), "points must be"),
    ("error_along_path other architecture", lambda: early_phase.error_along_path(
        MLP, MLP.state_dict(), build_mlp(0).state_dict() | {"x": torch.ones(1)}, TINY), "keys differ"),
    ("interpolate alpha NaN", lambda: early_phase.interpolate(MLP.state_dict(), MLP.state_dict(), math.nan),
     "alpha must be a finite number"),
    ("error_barrier one point", lambda: early_phase.error_barrier([0.1]), "both ends included"),
    ("centred_average window 2", lambda: early_phase.centred_average(torch.ones(5), 2), "positive odd number"),
    ("centred_average window 0", lambda: early_phase.centred_average(torch.ones(5), 0), "positive odd number"),
    ("centred_average window float", lambda: early_phase.centred_average(torch.ones(5), 3.0), "positive odd number"),
    ("centred_average empty", lambda: early_phase.centred_average(torch.ones(0), 3), "non-empty 1-D"),
    ("milestones steps_per_epoch 0", lambda: milestones(steps_per_epoch=0), f"steps_per_epoch {COUNT}"),
    ("milestones steps_per_epoch float", lambda: milestones(steps_per_epoch=2.5), f"steps_per_epoch {COUNT}"),
    ("milestones threshold NaN", lambda: milestones(threshold=math.nan), "threshold"),
    ("milestones threshold negative", lambda: milestones(threshold=-0.1), "threshold"),
    ("milestones window even", lambda: milestones(window=4), "positive odd number"),
    ("train_from step negative", lambda: early_phase.train_from(build_mlp(0), MLP.state_dict(), TINY, step=-1,
                                                                epochs=1, batch_size=20, seed=0, lr=0.1,
                                                                weight_decay=0.0), f"step {NATURAL}"),
    ("train_from step float", lambda: early_phase.train_from(build_mlp(0), MLP.state_dict(), TINY, step=1.5,
                                                             epochs=1, batch_size=20, seed=0, lr=0.1,
                                                             weight_decay=0.0), f"step {NATURAL}"),
    ("stability same seeds", lambda: early_phase.stability(MLP, {0: MLP.state_dict()}, TINY, TINY, seeds=(1, 1),
                                                           **FIT), "two different data-order seeds"),
    ("stability float seeds", lambda: early_phase.stability(MLP, {0: MLP.state_dict()}, TINY, TINY,
                                                            seeds=(1, 2.5), **FIT), "seed"),
    ("stability points 1", lambda: early_phase.stability(MLP, {0: MLP.state_dict()}, TINY, TINY, points=1, **FIT),
     "points must be an integer"),
    ("stability negative step", lambda: early_phase.stability(MLP, {-1: MLP.state_dict()}, TINY, TINY, **FIT),
     "the steps of states must be"),
    ("stability no states", lambda: early_phase.stability(MLP, {}, TINY, TINY, **FIT), "states must be"),
    # memlib.gradients
    ("subset_gradients batch 0", lambda: gradients.subset_gradients(MLP, TINY, TINY.y, {"a": HALF}, batch_size=0),
     f"batch_size {COUNT}"),
    ("subset_gradients batch float", lambda: gradients.subset_gradients(MLP, TINY, TINY.y, {"a": HALF},
                                                                        batch_size=2.5), f"batch_size {COUNT}"),
    ("subset_gradients label beyond", lambda: gradients.subset_gradients(MLP, TINY, TINY.y + 1, {"a": HALF},
                                                                         batch_size=8),
     "[0, 4) (the model's classes)"),
    ("subset_gradients float labels", lambda: gradients.subset_gradients(MLP, TINY, TINY.y.float(), {"a": HALF},
                                                                         batch_size=8),
     "labels must be integer class indices"),
    ("subset_gradients label count", lambda: gradients.subset_gradients(MLP, TINY, TINY.y[:5], {"a": HALF},
                                                                        batch_size=8), "one per example (40)"),
    ("subset_gradients no subsets", lambda: gradients.subset_gradients(MLP, TINY, TINY.y, {}, batch_size=8),
     "subsets must be a non-empty dict"),
    ("subset_gradients mask shape", lambda: gradients.subset_gradients(MLP, TINY, TINY.y, {"a": HALF[:5]},
                                                                       batch_size=8), "subset 'a'"),
    ("subset_gradients index beyond", lambda: gradients.subset_gradients(MLP, TINY, TINY.y, {"a": HALF},
                                                                         batch_size=8, index=torch.tensor([0, 40])),
     "[0, 40)"),
    ("subset_gradients wrong shape", lambda: gradients.subset_gradients(
        MLP, data.Dataset(torch.rand(4, 1, 4, 4), torch.arange(4)), torch.arange(4),
        {"a": torch.ones(4, dtype=torch.bool)}, batch_size=2), "does not fit the model"),
    ("GradientProbe float mask", lambda: gradients.GradientProbe(torch.ones(4)), "is_noisy must be a 1-D boolean"),
]

ACCEPTED = [
    ("load examples numpy", lambda: len(data.load("digits", examples=np.int64(20))) == 20),
    ("synthetic size numpy", lambda: len(data.synthetic(size=np.int64(30), shape=(1, 4, 4))) == 30),
    ("synthetic shape numpy", lambda: data.synthetic(size=20, shape=np.array([1, 4, 4])).shape == (1, 4, 4)),
    ("synthetic seed numpy", lambda: len(data.synthetic(seed=np.int64(3), **SYNTHETIC)) == 20),
    ("synthetic has every class", lambda: data.synthetic(size=10, shape=(1, 2, 2)).num_classes == 10),
    ("digits seed numpy", lambda: len(data.digits(seed=np.int32(1))) > 0),
    ("head size numpy", lambda: len(data.head(TINY, np.int64(8))) == 8),
    ("subset numpy index", lambda: len(TINY.subset(np.array([0, 3]))) == 2),
    ("symmetric numpy", lambda: noise.symmetric(np.arange(40) % 4, np.float64(0.25), np.int64(4),
                                                seed=np.int64(1)).is_noisy.sum() == 10),
    ("asymmetric numpy keys", lambda: noise.asymmetric(torch.arange(20) % 10, 0.5, {np.int64(3): np.int64(5)})
     .is_noisy.sum() == 1),
    ("asymmetric default mapping", lambda: noise.asymmetric(torch.arange(100) % 10, 0.2).is_noisy.sum() == 10),
    ("build numpy", lambda: isinstance(models.build("mlp", np.int64(4), np.array([1, 8, 8]), seed=np.int64(2),
                                                    hidden=(np.int64(8),)), torch.nn.Module)),
    ("build cnn width numpy", lambda: isinstance(models.build("cnn", 4, (1, 8, 8), width=np.int64(4)),
                                                 torch.nn.Module)),
    ("build tied numpy", lambda: isinstance(models.build("mlp", 4, (1, 8, 8), hidden=(8,), dropout="example_tied",
                                                         p_gen=0.5, p_mem=0.5, num_examples=np.int64(40)),
                                            torch.nn.Module)),
    ("ExampleTiedDropout numpy", lambda: dropout.ExampleTiedDropout(np.int64(10), np.int64(4), 0.5, 0.5,
                                                                    seed=np.int64(1)).num_examples == 10),
    ("CropFlip numpy padding", lambda: CropFlip(padding=np.int64(2)).padding == 2),
    ("ELRLoss numpy", lambda: elr.ELRLoss(np.int64(10), np.int64(4)).targets.shape == (10, 4)),
    ("ELRLoss numpy index", lambda: elr_call(index=torch.from_numpy(np.array([0, 1, 2]))).dim() == 0),
    ("minimal_perturbation numpy", lambda: outliers.minimal_perturbation(MLP, X, Y, steps=np.int64(2),
                                                                         batch_size=np.int64(4)).shape == X.shape),
    ("adv_distance numpy labels", lambda: outliers.adv_distance([MLP], X, Y.numpy(), steps=2).shape == (6,)),
    ("slices numpy count", lambda: len(outliers.slices(torch.rand(10), np.int64(2))) == 2),
    ("pruning numpy", lambda: pruning.prune_random(build_mlp(0), np.float64(0.5), seed=np.int64(1)) is None),
    ("imp numpy rounds", lambda: len(pruning.imp(build_mlp, fit_tiny, rounds=np.int64(1), rewind=np.int64(0),
                                                 seed=np.int64(0)).records) == 2),
    ("split_classes numpy", lambda: len(continual.split_classes(TINY, TINY, [np.array([0, 1]), [np.int64(2)]])) == 2),
    ("permuted_pixels numpy", lambda: len(continual.permuted_pixels(TINY, TINY, np.int64(2), seed=np.int64(1))) == 2),
    ("EpisodicMemory numpy", lambda: continual.EpisodicMemory(np.int64(4), key_units=np.int64(16),
                                                              seed=np.int64(1)).capacity == 4),
    ("ReplayLoss numpy", lambda: continual.ReplayLoss(MLP, TINY, np.int64(4)).batch_size == 4),
    ("run_rule numpy", lambda: plasticity.run_rule("oja", X.flatten(1).numpy(), lr=np.float64(0.1),
                                                   steps=np.int64(3), seed=np.int64(1)).shape == (4, 64)),
    ("centred_average numpy", lambda: len(early_phase.centred_average(torch.ones(5), np.int64(3))) == 5),
    ("error_along_path numpy", lambda: len(early_phase.error_along_path(MLP, MLP.state_dict(), MLP.state_dict(),
                                                                        TINY, points=np.int64(2))[0]) == 2),
    ("milestones numpy", lambda: milestones(steps_per_epoch=np.int64(2), window=np.int64(1))["total_steps"] == 4),
    ("subset_gradients numpy", lambda: set(gradients.subset_gradients(MLP, TINY, TINY.y.numpy(), {"a": HALF},
                                                                      batch_size=np.int64(8))) == {"a"}),
]


@pytest.mark.parametrize("call, phrase", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_raises_a_clear_value_error(call, phrase):
    with pytest.raises(ValueError) as raised:
        call()
    assert phrase in str(raised.value), f"the message {str(raised.value)!r} lacks {phrase!r}"


@pytest.mark.parametrize("call", [case[1] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED])
def test_numpy_numbers_are_accepted(call):
    assert call()


def test_the_case_ids_are_unique():
    ids = [case[0] for case in CASES + ACCEPTED]
    assert len(ids) == len(set(ids))
