"""The training engine: :func:`fit` with per-example records, learning-rate schedules and callbacks.

Data stays on the device (:class:`memlib.batches.DeviceImages`: uint8 for 8-bit images) and batches are drawn by
index from a seeded generator (no DataLoader), optionally cropped and flipped on the device, in the manner of
KellerJordan/cifar10-airbench; the example index rides along with every batch so that example-tied dropout
(Maini et al. 2023) and ELR (Liu et al. 2020) can use it. The inner loop never waits for the device: losses and
records are written into device buffers and read once per epoch. At the end of every epoch the whole training set
is evaluated without dropout, giving the per-example records (prediction and loss) from which the book reads
memorization: an example is memorized when the network predicts its noisy label.
"""
import functools
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from memlib import checks, dropout, loop, resume as resuming
from memlib.batches import CropFlip, DeviceImages
from memlib.loop import SCHEDULES, schedule_factor  # noqa: F401  (train.schedule_factor: part of fit's interface)


def cross_entropy(logits, labels, index=None):
    """Each example's cross-entropy (``index`` is ignored): :func:`fit`'s loss when a callback runs the backward
    pass on the per-example losses; otherwise fit takes the batch mean directly, which is cheaper."""
    return F.cross_entropy(logits, labels, reduction="none")


def _mean_cross_entropy(logits, labels, index=None):
    return F.cross_entropy(logits, labels)


@dataclass
class TrainState:
    """What callbacks see: the model, optimizer and gradient scaler, the epoch (0-based), the number of optimizer
    steps taken so far, and, from the backward pass of a batch on, its example indices, labels, logits and
    (batch-mean) loss."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler = None
    epoch: int = 0
    step: int = 0
    index: torch.Tensor = None
    labels: torch.Tensor = None
    logits: torch.Tensor = None
    loss: torch.Tensor = None
    history: "History" = None


class Callback:
    """Hooks into :func:`fit`; override the ones you need. Each receives the :class:`TrainState`.

    A callback may also define ``backward(state, losses)``, and then it runs the backward pass of every step in
    place of ``loss.backward()``: ``losses`` holds the batch's per-example losses (so the loss must return one
    value per example), whose mean is the training objective; the callback must leave the gradient of that mean,
    scaled by ``state.scaler.scale``, in the parameters' ``.grad`` for the optimizer step. This lets
    :class:`memlib.gradients.GradientProbe` split the gradient by example subset within the training step
    (Maini et al. 2023, Sec. 3). At most one callback may define it.
    """

    def on_train_begin(self, state):
        pass

    def on_batch_end(self, state):
        pass

    def on_epoch_end(self, state):
        pass

    def on_train_end(self, state):
        pass


class Checkpoints(Callback):
    """Copies of the model's state at chosen optimizer steps (step 0: before training), in ``.states[step]``: the
    weights to rewind to (Frankle et al. 2019, 2020) or to train again from. Steps after the end of training are
    never reached and stay absent."""

    def __init__(self, steps):
        try:
            steps = [checks.non_negative_int("each step", s) for s in steps]
        except ValueError as error:
            raise ValueError(f"steps must be non-negative integers (optimizer steps, 0 = before training): "
                             f"{error}") from None
        self.steps = sorted(set(steps))
        self.states = {}

    def on_train_begin(self, state):
        self._keep(state, 0)

    def on_batch_end(self, state):
        self._keep(state, state.step)

    def _keep(self, state, step):
        if step in self.steps:
            self.states[step] = {k: v.detach().clone() for k, v in state.model.state_dict().items()}


@dataclass
class History:
    """Per-epoch records of a :func:`fit` run (all tensors on the CPU).

    ``predictions`` and ``losses`` are epochs×N: every training example's predicted class and loss (w.r.t. the
    training labels) at the end of each epoch, evaluated without dropout. ``test_accuracy`` is NaN without a test
    set.
    """

    labels: torch.Tensor
    predictions: torch.Tensor
    losses: torch.Tensor
    train_loss: torch.Tensor
    test_accuracy: torch.Tensor
    train_time: float = 0.0
    extras: dict = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return len(self.predictions)

    def accuracy(self, labels=None, mask=None) -> torch.Tensor:
        """Per epoch, the fraction of examples (those in ``mask``, default all) predicted as ``labels`` (default
        the training labels). With noisy labels: ``accuracy(noisy.labels, noisy.is_noisy)`` is the memorized
        fraction, ``accuracy(noisy.true, noisy.is_noisy)`` the fraction still predicted as its true class."""
        labels = self.labels if labels is None else torch.as_tensor(labels).cpu()
        hits = (self.predictions == labels).float()
        if mask is not None:
            hits = hits[:, torch.as_tensor(mask).cpu()]
        return hits.mean(dim=1)

    def to_frame(self):
        """One row per epoch: epoch (1-based), train_loss, train_accuracy, test_accuracy."""
        import pandas as pd

        return pd.DataFrame({
            "epoch": range(1, self.epochs + 1),
            "train_loss": self.train_loss.numpy(),
            "train_accuracy": self.accuracy().numpy(),
            "test_accuracy": self.test_accuracy.numpy(),
        })

    def to_dict(self) -> dict:
        """Plain tensors and numbers, for :func:`memlib.cache.cached` and ``torch.save``."""
        return {"labels": self.labels, "predictions": self.predictions, "losses": self.losses,
                "train_loss": self.train_loss, "test_accuracy": self.test_accuracy,
                "train_time": self.train_time, "extras": dict(self.extras)}

    @classmethod
    def from_dict(cls, state: dict) -> "History":
        return cls(**state)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def evaluate(model, data, labels=None, *, batch_size=1024, device=None):
    """Every example's predicted class and cross-entropy loss (w.r.t. ``labels``, default ``data.y``), in eval
    mode; returns ``(predictions, losses)`` on the evaluation device. The model's train/eval mode is restored.
    Example-tied layers in "train" mode are refused data of another size than their training set (its indices would
    pick unrelated examples' masks; see :mod:`memlib.dropout`)."""
    checks.non_empty("data", data)
    batch_size = checks.positive_int("batch_size", batch_size)
    device = torch.device(device) if device else next(model.parameters()).device
    labels = checks.labels("labels", data.y if labels is None else labels, data.num_classes, len(data))
    for layer in dropout.example_tied_layers(model):
        if layer.mode == "train" and layer.num_examples != len(data):
            raise ValueError(f"the model's example-tied layers are in 'train' mode, which needs the examples they "
                             f"were trained on ({layer.num_examples}); these {len(data)} examples would borrow "
                             f"unrelated examples' masks: evaluate in 'test' or 'drop' mode "
                             f"(with dropout.using_mode(model, 'test'): ...)")
    images = device_images(model, data, device)
    labels = labels.to(device)
    check_model(model, images, data.num_classes, {"labels": labels})
    return _predict(model, images, labels, batch_size)


def check_model(model, images, num_classes, label_sets, forward=None):
    """:func:`memlib.loop.check_outputs` for one model, in eval mode (its mode is restored): it must take the
    images (:class:`memlib.batches.DeviceImages`) and give at least ``num_classes`` outputs, one for every label."""
    was_training = model.training
    model.eval()
    try:
        return loop.check_outputs("the model", forward or (lambda x, index: model(x, index)), images, num_classes,
                                  label_sets)
    finally:
        model.train(was_training)


def _forward(model, x, index):
    return model(x, index)


@torch.no_grad()
def _predict(model, images, labels, batch_size, forward=_forward):
    """:func:`evaluate` on images already on the device (:class:`memlib.batches.DeviceImages`)."""
    device = images.device
    was_training = model.training
    model.eval()
    predictions = torch.empty(len(images), dtype=torch.long, device=device)
    losses = torch.empty(len(images), device=device)
    try:
        with loop.autocast(device):
            for start in range(0, len(images), batch_size):
                stop = min(start + batch_size, len(images))
                index = torch.arange(start, stop, device=device)
                logits = forward(model, images.batch(index), index).float()
                predictions[start:stop] = logits.argmax(dim=1)
                losses[start:stop] = F.cross_entropy(logits, labels[start:stop], reduction="none")
    finally:
        model.train(was_training)
    return predictions, losses


def accuracy(model, data, labels=None, *, batch_size=1024) -> float:
    """The fraction of ``data`` predicted as ``labels`` (default ``data.y``)."""
    labels = checks.labels("labels", data.y if labels is None else labels, data.num_classes, len(data))
    predictions, _ = evaluate(model, data, labels, batch_size=batch_size)
    return float((predictions.cpu() == labels.cpu()).float().mean())


def fit(model, train, *, epochs, labels=None, test=None, loss=None, lr, momentum=0.9, weight_decay, batch_size,
        schedule="cosine", warmup=0.0, seed=0, device=None, callbacks=(), eval_batch_size=1024, augment=None,
        compile=False, start_step=0, resume="auto") -> History:
    """Train ``model`` on ``train`` with SGD (momentum, weight decay) and a per-iteration learning-rate schedule.

    ``labels``: the labels to train on (a tensor or :class:`memlib.noise.NoisyLabels`), default ``train.y``.
    ``loss``: a callable ``(logits, labels, index)`` returning the batch loss or one loss per example (which fit
    averages), default cross-entropy. ``seed`` fixes the data order, the augmentation and any dropout randomness
    (the global RNG is restored afterwards): the same seed gives the same numbers on the CPU. ``augment``: None (as
    in Maini et al. 2023), a :class:`memlib.batches.CropFlip`, or "crop-flip" for ``CropFlip()`` (the standard CIFAR
    augmentation; a plain value that configurations and cache keys can hold), applied on the device to training
    batches only.
    On CUDA, conv nets run channels-last under autocast (bf16 where native, else fp16 with a GradScaler).
    ``compile=True`` runs forward and backward through ``torch.compile``, compiled once per architecture and reused
    by every later run (other seeds, other weights). ``callbacks``: :class:`Callback` objects; one of them may run
    the backward pass (see there). A NaN or infinite loss stops training with an error naming the epoch and step.
    ``start_step=k`` continues a run of ``epochs`` epochs from its optimizer step k, as after rewinding to
    iteration k (Frankle et al. 2020; open_lth's ``train_start_step``): it trains the remaining T − k steps, from
    the middle of the epoch that holds step k, with the learning-rate schedule continued from step k and a fresh
    optimizer state; the History then holds the epochs from that one on.
    ``resume``: where the run checkpoints, to continue after being killed (:mod:`memlib.resume`): "auto" (inside
    :func:`memlib.cache.cached`, its run folder; elsewhere none), None, a file path or a
    :class:`memlib.resume.Resume`.

    Every argument is checked before training, the data against the model with one forward pass: the inputs must
    fit it and it must have an output for every class of the labels and of the test set.
    """
    checks.non_empty("train", train)
    settings = loop.check_settings(epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay,
                                   batch_size=batch_size, schedule=schedule, warmup=warmup,
                                   eval_batch_size=eval_batch_size)
    epochs, batch_size, eval_batch_size = settings["epochs"], settings["batch_size"], settings["eval_batch_size"]
    seed = checks.integer("seed", seed)
    labels = getattr(labels, "labels", labels)  # NoisyLabels → its labels
    labels = checks.labels("labels", train.y if labels is None else labels, train.num_classes, len(train))
    if test is not None:
        checks.non_empty("test", test)
    callbacks = list(callbacks)
    backward = _backward_hook(callbacks)
    augment = _augmentation(augment)
    n, steps = len(train), math.ceil(len(train) / batch_size)
    total = epochs * steps
    start_step = checks.integer(f"start_step (an optimizer step of the run, of {total})", start_step, minimum=0,
                                maximum=total - 1)
    plan = resuming.plan(resume, "fit")
    if test is not None and any(layer.mode == "train" for layer in dropout.example_tied_layers(model)):
        raise ValueError("an example-tied model in 'train' mode cannot be tested during fit: the test examples "
                         "would borrow training examples' masks; train without test= and evaluate in 'test' or "
                         "'drop' mode afterwards (memlib.dropout.using_mode)")
    device = torch.device(device) if device else default_device()
    model.to(device)
    if device.type == "cuda" and loop.has_conv(model):
        model.to(memory_format=torch.channels_last)
    images, y = device_images(model, train, device), labels.to(device)
    test_images = device_images(model, test, device) if test is not None else None
    test_y = test.y.to(device) if test is not None else None
    check_model(model, images, train.num_classes,
                {"labels": y, **({"the test set's labels": test_y} if test is not None else {})})
    forward = compiled_forward() if compile else _forward
    steps_run = loop.Steps(model.parameters(), device, total=total, start_step=start_step,
                           **{k: settings[k] for k in ("lr", "momentum", "weight_decay", "schedule", "warmup")})
    loss_fn = loss or (cross_entropy if backward else _mean_cross_entropy)
    order = torch.Generator().manual_seed(seed)
    crops = torch.Generator(device).manual_seed(seed) if augment else None

    first_epoch, skipped = divmod(start_step, steps)
    recorded = epochs - first_epoch
    records = loop.Records(recorded, steps, n, device)
    history = History(labels.cpu(), records.predictions, records.losses, records.step_losses.mean(1),
                      records.test_accuracy)
    state = TrainState(model, steps_run.optimizer, steps_run.scaler, step=start_step, history=history)
    checkpoint = None
    if plan is not None:
        run = {**settings, "schedule": loop.describe_schedule(schedule), "seed": seed, "start_step": start_step,
               "augment": repr(augment), "device": device.type, "model": type(model).__name__,
               "loss": resuming.describe(loss), "callbacks": [resuming.describe(c) for c in callbacks]}
        data = {"train": train.x, "labels": labels, **{f"model.{k}": v for k, v in model.state_dict().items()},
                **({"test": test.x, "test labels": test.y} if test is not None else {})}
        checkpoint = resuming.Checkpoint(plan, run, data, "fit")
    live = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    done, elapsed = 0, 0.0
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        _each(callbacks, "on_train_begin", state)
        saved = checkpoint.load() if checkpoint is not None else None
        if saved is not None:
            model.load_state_dict(saved["model"])
            steps_run.load_state_dict(saved["steps"])
            order.set_state(saved["order"])
            if crops is not None:
                crops.set_state(saved["crops"])
            resuming.set_rng_state(saved["rng"], device)
            records.load_state_dict(saved["records"])
            for obj, obj_state in zip([loss, *callbacks], saved["objects"]):
                resuming.load_object_state(obj, obj_state, live)
            done, elapsed, state.step = saved["epoch"], saved["train_time"], steps_run.count

        def snapshot():
            return {"model": model.state_dict(), "steps": steps_run.state_dict(), "order": order.get_state(),
                    "crops": crops.get_state() if crops is not None else None, "rng": resuming.rng_state(device),
                    "records": records.state_dict(done), "train_time": elapsed + time.perf_counter() - start,
                    "objects": [resuming.object_state(obj, live) for obj in [loss, *callbacks]]}

        bar = loop.progress(recorded, desc=f"fit {type(model).__name__}", first=done)
        for row in bar:
            epoch = first_epoch + row
            state.epoch = epoch
            model.train()
            permutation = torch.randperm(n, generator=order).to(device)
            first = skipped if row == 0 else 0
            for b in range(first, steps):
                index = permutation[b * batch_size:(b + 1) * batch_size]
                with loop.autocast(device):
                    logits = forward(model, images.batch(index, augment, crops), index)
                batch_labels = y[index]
                example_losses = loss_fn(logits.float(), batch_labels, index)
                batch_loss = example_losses.mean() if example_losses.dim() else example_losses
                state.index, state.labels, state.logits, state.loss = index, batch_labels, logits, batch_loss
                steps_run.take(batch_loss, backward and (
                    lambda: backward(state, _per_example(example_losses, len(index)))))
                records.step_losses[row, b] = batch_loss.detach()
                state.step = steps_run.count
                _each(callbacks, "on_batch_end", state)
            records.check_finite(row, epoch, first)
            records.predictions[row], records.losses[row] = _predict(model, images, y, eval_batch_size, forward)
            if test_images is not None:
                test_predictions, _ = _predict(model, test_images, test_y, eval_batch_size, forward)
                records.test_accuracy[row] = (test_predictions == test_y).float().mean()
            _each(callbacks, "on_epoch_end", state)
            done = row + 1
            if checkpoint is not None and done < recorded and checkpoint.due(done):
                checkpoint.save(done, snapshot)
            if bar.disable is False:
                bar.set_postfix(loss=f"{float(records.step_losses[row, first:].mean()):.3f}",
                                test=f"{float(records.test_accuracy[row]):.3f}")
        if saved is None or saved["epoch"] < recorded:
            _each(callbacks, "on_train_end", state)
            if checkpoint is not None:
                checkpoint.save(done, snapshot)
    fields = records.fields(skipped=skipped)
    history.predictions, history.losses = fields["predictions"], fields["losses"]
    history.train_loss, history.test_accuracy = fields["train_loss"], fields["test_accuracy"]
    history.train_time = elapsed + time.perf_counter() - start
    return history


def _augmentation(augment):
    if augment is None or isinstance(augment, CropFlip):
        return augment
    if isinstance(augment, str) and augment == "crop-flip":
        return CropFlip()
    raise ValueError(f"augment must be None, \"crop-flip\" or a memlib.batches.CropFlip; got {augment!r}")


def device_images(model, data, device) -> DeviceImages:
    """The images of ``data`` (a :class:`memlib.data.Dataset`) held on ``device`` for ``model``, normalized with
    the dataset's normalization; channels-last batches for conv nets on CUDA."""
    device = torch.device(device)
    return DeviceImages(data.x, device, channels_last=device.type == "cuda" and loop.has_conv(model),
                        normalization=data.normalization)


@functools.lru_cache(maxsize=None)
def compiled_forward():
    """``model(x, index)`` through ``torch.compile``, one compiled function for the whole process: its graphs are
    guarded on the architecture and the shapes, not on the weights, so a run with new weights (another seed, a
    rewound ticket) reuses them instead of compiling again."""
    return torch.compile(_forward)


def _backward_hook(callbacks):
    """The ``backward`` of the one callback that runs the backward pass itself, or None."""
    owners = [callback for callback in callbacks if callable(getattr(callback, "backward", None))]
    if len(owners) > 1:
        names = ", ".join(type(owner).__name__ for owner in owners)
        raise ValueError(f"at most one callback may run the backward pass; got {len(owners)}: {names}")
    return owners[0].backward if owners else None


def _per_example(losses, batch_size):
    if losses.shape != (batch_size,):
        raise ValueError(f"a callback that runs the backward pass needs one loss per example (shape "
                         f"({batch_size},)); the loss returned shape {tuple(losses.shape)}")
    return losses


def _each(callbacks, hook, state):
    for callback in callbacks:
        getattr(callback, hook, lambda state: None)(state)
