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
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from memlib.batches import CropFlip, DeviceImages

SCHEDULES = ("constant", "cosine", "step", "triangle")


def cross_entropy(logits, labels, index=None):
    """Each example's cross-entropy (``index`` is ignored): :func:`fit`'s loss when a callback runs the backward
    pass on the per-example losses; otherwise fit takes the batch mean directly, which is cheaper."""
    return F.cross_entropy(logits, labels, reduction="none")


def _mean_cross_entropy(logits, labels, index=None):
    return F.cross_entropy(logits, labels)


def schedule_factor(schedule, step, total, warmup=0.0) -> float:
    """The learning-rate multiplier at ``step`` of ``total``: a linear warm-up over the first ``warmup`` fraction
    of the steps, then "constant" (1), "cosine" (half a cosine down to 0; with ``warmup=0.1``, the linear warm-up
    cosine schedule of Maini et al. 2023, their ``utils.py``), "step" (×0.1 at 50% and again at 75% of training, as
    open_lth's ResNet-20 at epochs 80 and 120 of 160) or "triangle" (linear down to 0; with warm-up, the one-cycle
    schedule of FFCV's ResNet-9). ``{"name": "cosine-restarts", "cycles": n, "floor": f}``: cosine annealing with
    warm restarts, n equal cycles each from 1 down to f (PyTorch's ``CosineAnnealingWarmRestarts``, as in Liu et
    al.'s ``config_cifar10.json``: T_0 = 10 of 150 epochs, eta_min 0.001 of lr 0.02, i.e. 15 cycles, floor 0.05).
    A callable ``schedule`` maps the post-warm-up progress in [0, 1) to the multiplier."""
    warm = round(warmup * total)
    if step < warm:
        return (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    if callable(schedule):
        return float(schedule(t))
    if isinstance(schedule, dict):
        _check_schedule(schedule)
        cycle = (t * schedule["cycles"]) % 1.0
        return schedule["floor"] + (1 - schedule["floor"]) * 0.5 * (1 + math.cos(math.pi * cycle))
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * t))
    if schedule == "step":
        return 0.1 ** ((t >= 0.5) + (t >= 0.75))
    if schedule == "triangle":
        return 1.0 - t
    raise ValueError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}, a cosine-restarts dict "
                     "or a callable")


def _check_schedule(schedule):
    if callable(schedule) or schedule in SCHEDULES:
        return
    if isinstance(schedule, dict):
        cycles, floor = schedule.get("cycles"), schedule.get("floor", 0.0)
        if (schedule.get("name") == "cosine-restarts" and set(schedule) <= {"name", "cycles", "floor"}
                and isinstance(cycles, int) and not isinstance(cycles, bool) and cycles >= 1 and 0 <= floor < 1):
            return
    raise ValueError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}, "
                     "{'name': 'cosine-restarts', 'cycles': a positive integer, 'floor': a fraction in [0, 1)} "
                     "or a callable")


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
        steps = list(steps)
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in steps):
            raise ValueError(f"steps must be non-negative integers (optimizer steps, 0 = before training); "
                             f"got {steps}")
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
    mode; returns ``(predictions, losses)`` on the evaluation device. The model's train/eval mode is restored."""
    device = torch.device(device) if device else next(model.parameters()).device
    labels = data.y if labels is None else torch.as_tensor(labels)
    return _predict(model, device_images(model, data, device), labels.to(device), batch_size)


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
        with _autocast(device):
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
    labels = data.y if labels is None else torch.as_tensor(labels)
    predictions, _ = evaluate(model, data, labels, batch_size=batch_size)
    return float((predictions.cpu() == labels.cpu()).float().mean())


def fit(model, train, *, epochs, labels=None, test=None, loss=None, lr, momentum=0.9, weight_decay, batch_size,
        schedule="cosine", warmup=0.0, seed=0, device=None, callbacks=(), eval_batch_size=1024, augment=None,
        compile=False, start_step=0) -> History:
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
    """
    labels = getattr(labels, "labels", labels)  # NoisyLabels → its labels
    labels = train.y if labels is None else torch.as_tensor(labels)
    _check_fit_arguments(train, labels, epochs, lr, momentum, weight_decay, batch_size, schedule, warmup)
    augment = _augmentation(augment)
    device = torch.device(device) if device else default_device()
    model.to(device)
    if device.type == "cuda" and _has_conv(model):
        model.to(memory_format=torch.channels_last)
    images, y = device_images(model, train, device), labels.to(device).long()
    test_images = device_images(model, test, device) if test is not None else None
    test_y = test.y.to(device) if test is not None else None
    forward = compiled_forward() if compile else _forward
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    n, steps = len(images), math.ceil(len(images) / batch_size)
    total = epochs * steps
    if isinstance(start_step, bool) or not isinstance(start_step, int) or not 0 <= start_step < total:
        raise ValueError(f"start_step must be an optimizer step of the run, in [0, {total}); got {start_step!r}")
    first_epoch, skipped = divmod(start_step, steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: schedule_factor(schedule, start_step + step, total, warmup))
    scaler = _grad_scaler(device)
    backward = _backward_hook(callbacks)
    loss_fn = loss or (cross_entropy if backward else _mean_cross_entropy)
    order = torch.Generator().manual_seed(seed)
    crops = torch.Generator(device).manual_seed(seed) if augment else None

    recorded = epochs - first_epoch
    predictions = torch.empty(recorded, n, dtype=torch.long, device=device)
    losses = torch.empty(recorded, n, device=device)
    step_losses = torch.zeros(recorded, steps, device=device)
    test_accuracy = torch.full((recorded,), float("nan"), device=device)
    history = History(labels.cpu(), predictions, losses, step_losses.mean(1), test_accuracy)
    state = TrainState(model, optimizer, scaler, step=start_step, history=history)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        _each(callbacks, "on_train_begin", state)
        bar = _progress(recorded, desc=f"fit {type(model).__name__}")
        for row in bar:
            epoch = first_epoch + row
            state.epoch = epoch
            model.train()
            permutation = torch.randperm(n, generator=order).to(device)
            for b in range(skipped if row == 0 else 0, steps):
                index = permutation[b * batch_size:(b + 1) * batch_size]
                with _autocast(device):
                    logits = forward(model, images.batch(index, augment, crops), index)
                batch_labels = y[index]
                example_losses = loss_fn(logits.float(), batch_labels, index)
                batch_loss = example_losses.mean() if example_losses.dim() else example_losses
                state.index, state.labels, state.logits, state.loss = index, batch_labels, logits, batch_loss
                optimizer.zero_grad(set_to_none=True)
                if backward:
                    backward(state, _per_example(example_losses, len(index)))
                else:
                    scaler.scale(batch_loss).backward()
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                step_losses[row, b] = batch_loss.detach()
                state.step += 1
                _each(callbacks, "on_batch_end", state)
            trained = step_losses[row, skipped if row == 0 else 0:]
            _check_finite(trained, epoch)
            predictions[row], losses[row] = _predict(model, images, y, eval_batch_size, forward)
            if test_images is not None:
                test_predictions, _ = _predict(model, test_images, test_y, eval_batch_size, forward)
                test_accuracy[row] = (test_predictions == test_y).float().mean()
            _each(callbacks, "on_epoch_end", state)
            if bar.disable is False:
                bar.set_postfix(loss=f"{float(trained.mean()):.3f}", test=f"{float(test_accuracy[row]):.3f}")
        _each(callbacks, "on_train_end", state)
    history.predictions, history.losses = predictions.cpu(), losses.cpu()
    if skipped:
        step_losses[0] *= steps / (steps - skipped)  # the first epoch's mean over the steps it trained
    history.train_loss, history.test_accuracy = step_losses.mean(1).cpu(), test_accuracy.cpu()
    history.train_time = time.perf_counter() - start
    return history


def _augmentation(augment):
    if augment is None or isinstance(augment, CropFlip):
        return augment
    if augment == "crop-flip":
        return CropFlip()
    raise ValueError(f"augment must be None, \"crop-flip\" or a memlib.batches.CropFlip; got {augment!r}")


def device_images(model, data, device) -> DeviceImages:
    """The images of ``data`` (a :class:`memlib.data.Dataset`) held on ``device`` for ``model``, normalized with
    the dataset's normalization; channels-last batches for conv nets on CUDA."""
    device = torch.device(device)
    return DeviceImages(data.x, device, channels_last=device.type == "cuda" and _has_conv(model),
                        normalization=data.normalization)


@functools.lru_cache(maxsize=None)
def compiled_forward():
    """``model(x, index)`` through ``torch.compile``, one compiled function for the whole process: its graphs are
    guarded on the architecture and the shapes, not on the weights, so a run with new weights (another seed, a
    rewound ticket) reuses them instead of compiling again."""
    return torch.compile(_forward)


def _check_fit_arguments(train, labels, epochs, lr, momentum, weight_decay, batch_size, schedule, warmup):
    if labels.dim() != 1 or len(labels) != len(train):
        raise ValueError(f"labels must be 1-D with one label per example ({len(train)}); got {tuple(labels.shape)}")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= train.num_classes):
        raise ValueError(f"labels must lie in [0, {train.num_classes}); got [{int(labels.min())}, "
                         f"{int(labels.max())}]")
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer; got {epochs!r}")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive; got {lr}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1); got {momentum}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be non-negative; got {weight_decay}")
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup must be a fraction of training in [0, 1); got {warmup}")
    _check_schedule(schedule)


def _check_finite(step_losses, epoch):
    bad = ~torch.isfinite(step_losses)
    if bool(bad.any()):
        step = int(bad.nonzero()[0])
        raise FloatingPointError(
            f"the training loss became {float(step_losses[step])} at epoch {epoch + 1}, step {step + 1} of "
            f"{len(step_losses)}; lower the learning rate or check the data")


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


def _amp_dtype(device):
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16


def _grad_scaler(device):
    """Loss scaling for fp16 autocast on CUDA; a disabled (pass-through) scaler elsewhere."""
    return torch.amp.GradScaler("cuda", enabled=_amp_dtype(device) == torch.float16)


def _autocast(device):
    dtype = _amp_dtype(device)
    return torch.autocast("cuda", dtype=dtype) if dtype else nullcontext()


def _has_conv(model):
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def progress_enabled() -> bool:
    """Progress bars show unless ``MEMLIB_PROGRESS=0``; by default only in a terminal or a live Jupyter kernel."""
    setting = os.environ.get("MEMLIB_PROGRESS")
    if setting is not None:
        return setting != "0"
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def _progress(total, desc):
    from tqdm.auto import trange

    return trange(total, desc=desc, disable=not progress_enabled(), leave=False)
