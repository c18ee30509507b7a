"""The training loop's shared core (ARCHITECTURE.md, "The training engine"): what :func:`memlib.train.fit` and
:func:`memlib.ensemble.fit_many` both do, written once. The learning-rate schedules, the argument checks, autocast and
loss scaling, the optimizer step with its schedule and step count (:class:`Steps`), the per-epoch records with their
finite check (:class:`Records`), the one forward pass that checks data against the model before training, and the
progress bar.
"""
import math
import os
import sys
from contextlib import nullcontext

import torch
from torch import nn

from memlib import checks

SCHEDULES = ("constant", "cosine", "step", "triangle")


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
        check_schedule(schedule)
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


def check_schedule(schedule):
    """Refuse a schedule :func:`schedule_factor` does not know, listing the ones it does."""
    if callable(schedule) or (isinstance(schedule, str) and schedule in SCHEDULES):
        return
    if isinstance(schedule, dict):
        cycles, floor = schedule.get("cycles"), schedule.get("floor", 0.0)
        if (schedule.get("name") == "cosine-restarts" and set(schedule) <= {"name", "cycles", "floor"}
                and isinstance(cycles, int) and not isinstance(cycles, bool) and cycles >= 1 and 0 <= floor < 1):
            return
    raise ValueError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}, "
                     "{'name': 'cosine-restarts', 'cycles': a positive integer, 'floor': a fraction in [0, 1)} "
                     "or a callable")


def describe_schedule(schedule) -> str:
    """A schedule as text that is the same in every process (a callable by its qualified name), for checkpoints'
    fingerprints."""
    return f"{schedule.__module__}.{schedule.__qualname__}" if callable(schedule) else repr(schedule)


def check_settings(*, epochs, lr, momentum, weight_decay, batch_size, schedule, warmup, eval_batch_size) -> dict:
    """The optimization settings of a run, checked and as plain Python numbers (numpy numbers accepted)."""
    check_schedule(schedule)
    return dict(epochs=checks.positive_int("epochs", epochs), lr=checks.real("lr", lr, low=0, low_open=True),
                momentum=checks.real("momentum", momentum, low=0, high=1, high_open=True),
                weight_decay=checks.real("weight_decay", weight_decay, low=0),
                batch_size=checks.positive_int("batch_size", batch_size), schedule=schedule,
                warmup=checks.real("warmup (a fraction of training)", warmup, low=0, high=1, high_open=True),
                eval_batch_size=checks.positive_int("eval_batch_size", eval_batch_size))


def amp_dtype(device):
    """The autocast dtype on CUDA (bf16 where native, else fp16); None elsewhere (full precision)."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16


def autocast(device):
    """Mixed precision for the forward pass on CUDA (see :func:`amp_dtype`); a no-op elsewhere."""
    dtype = amp_dtype(device)
    return torch.autocast("cuda", dtype=dtype) if dtype else nullcontext()


def grad_scaler(device):
    """Loss scaling for fp16 autocast on CUDA; a disabled (pass-through) scaler elsewhere."""
    return torch.amp.GradScaler("cuda", enabled=amp_dtype(device) == torch.float16)


def has_conv(model) -> bool:
    """Whether the model holds a 2-D convolution (conv nets run channels-last on CUDA)."""
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


class Steps:
    """The optimizer side of a run: SGD with momentum and weight decay over ``parameters``, the learning rate set by
    :func:`schedule_factor` at every step (continued from ``start_step``), loss scaling, and the count of optimizer
    steps taken. SGD is elementwise, so one instance over K models' stacked weights is K independent ones."""

    def __init__(self, parameters, device, *, lr, momentum, weight_decay, schedule, warmup, total, start_step=0):
        self.optimizer = torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: schedule_factor(schedule, start_step + step, total, warmup))
        self.scaler = grad_scaler(device)
        self.count = start_step

    def take(self, loss, backward=None):
        """One optimizer step on ``loss``: ``backward()`` runs the backward pass when given (it must leave the
        scaled gradient in ``.grad``), else ``scaler.scale(loss).backward()``."""
        self.optimizer.zero_grad(set_to_none=True)
        if backward is None:
            self.scaler.scale(loss).backward()
        else:
            backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.count += 1

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(), "count": self.count}

    def load_state_dict(self, state):
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.count = state["count"]


class Records:
    """A run's per-epoch records, in device buffers read once at the end: every example's prediction and loss
    (epochs × [K ×] N), every step's batch loss (epochs × steps [× K]) and the test accuracy (epochs [× K], NaN
    without a test set). ``models``: K for K models trained together, None for one."""

    def __init__(self, epochs, steps, n, device, models=None):
        k = () if models is None else (models,)
        self.predictions = torch.empty(epochs, *k, n, dtype=torch.long, device=device)
        self.losses = torch.empty(epochs, *k, n, device=device)
        self.step_losses = torch.zeros(epochs, steps, *k, device=device)
        self.test_accuracy = torch.full((epochs, *k), float("nan"), device=device)

    def check_finite(self, row, epoch, first=0):
        """Stop with an error naming the epoch, step (and model) when a loss of epoch ``row``'s steps from
        ``first`` on is NaN or infinite."""
        trained = self.step_losses[row, first:]
        bad = ~torch.isfinite(trained)
        if bool(bad.any()):
            where = [int(v) for v in bad.nonzero()[0]]
            model = f"model {where[1]}'s " if len(where) > 1 else ""
            value = float(trained[tuple(where)])
            raise FloatingPointError(f"{model}training loss became {value} at epoch {epoch + 1}, step "
                                     f"{where[0] + 1} of {len(trained)}; lower the learning rate or check the data")

    def state_dict(self, rows) -> dict:
        """The first ``rows`` epochs' records, for a checkpoint."""
        return {name: getattr(self, name)[:rows].clone() for name in self.NAMES}

    def load_state_dict(self, state):
        for name in self.NAMES:
            rows = len(state[name])
            getattr(self, name)[:rows] = state[name].to(getattr(self, name).device)

    def fields(self, model=None, skipped=0) -> dict:
        """The records of one model (index ``model``, None for a single run) on the CPU, as
        :class:`memlib.train.History` fields; ``skipped``: steps of the first epoch that were not trained (a run
        started mid-epoch), left out of its mean loss."""
        def pick(records, axis=1):
            return records if model is None else records.select(axis, model)

        step_losses = pick(self.step_losses, axis=2).clone()
        if skipped:
            step_losses[0] *= step_losses.shape[1] / (step_losses.shape[1] - skipped)
        return dict(predictions=pick(self.predictions).cpu(), losses=pick(self.losses).cpu(),
                    train_loss=step_losses.mean(1).cpu(), test_accuracy=pick(self.test_accuracy).cpu())

    NAMES = ("predictions", "losses", "step_losses", "test_accuracy")


@torch.no_grad()
def check_outputs(name, forward, images, num_classes, label_sets):
    """One forward pass of two examples, before any training: the model must take the data's inputs and give one
    output per class, at least ``num_classes``, and every label in ``label_sets`` (name → tensor) must be one of its
    outputs. ``forward(x)`` runs the model (in eval mode, so nothing in it changes). Returns the output width."""
    index = torch.arange(min(2, len(images)), device=images.device)
    x = images.batch(index)
    try:
        with autocast(images.device):
            logits = forward(x, index)
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"{name} cannot take this data: inputs of shape {tuple(x.shape[1:])} per example failed "
                         f"in its forward pass ({str(error).splitlines()[0]}); give data of the shape the model was "
                         f"built for") from error
    if logits.dim() < 2 or logits.shape[-1] < num_classes or logits.shape[-2] != len(index):
        raise ValueError(f"{name} must give one output per class (at least {num_classes} for this data's "
                         f"classes) per example; it gave outputs of shape {tuple(logits.shape)}")
    width = logits.shape[-1]
    for label_name, labels in label_sets.items():
        checks.labels(label_name, labels, width)
    return width


def progress_enabled() -> bool:
    """Progress bars show unless ``MEMLIB_PROGRESS=0``; by default only in a terminal or a live Jupyter kernel."""
    setting = os.environ.get("MEMLIB_PROGRESS")
    if setting is not None:
        return setting != "0"
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def progress(epochs, desc, first=0):
    """A progress bar over the epochs ``first`` .. ``epochs - 1`` (shown per :func:`progress_enabled`)."""
    from tqdm.auto import trange

    return trange(first, epochs, desc=desc, disable=not progress_enabled(), leave=False,
                  initial=first, total=epochs)
