"""Train K small models at once: the seeds of a table, the models averaged for outlier scores.

:func:`fit_many` runs K independent copies of :func:`memlib.train.fit` in one pass: the K models' weights are stacked
(``torch.func.stack_module_state``) and one vmapped forward and backward serves all of them, each model with its own
initialization, data order, labels, momentum buffers and BatchNorm statistics. It gives the numbers K separate
``fit`` runs give with the same seeds (to float tolerance), in much less time for small models, where per-step
overhead, not arithmetic, dominates.
"""
import copy
import math
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from memlib.train import History, _autocast, _check_fit_arguments, default_device, schedule_factor


def fit_many(models, train, *, seeds, epochs, labels=None, test=None, lr, momentum=0.9, weight_decay, batch_size,
             schedule="cosine", warmup=0.0, device=None, eval_batch_size=1024) -> list:
    """Train ``models`` (K modules of one architecture, no random layers) together with cross-entropy and SGD,
    model k drawing its batches from ``seeds[k]`` exactly as ``fit(..., seed=seeds[k])`` does.

    ``labels``: one tensor for all models, or K×N (e.g. a different noise draw per seed). Returns one
    :class:`memlib.train.History` per model, and leaves the trained weights in ``models``.
    """
    models, seeds = list(models), [int(s) for s in seeds]
    if not models or len(models) != len(seeds):
        raise ValueError(f"need one seed per model and at least one model; got {len(models)} models, {len(seeds)} seeds")
    if len({type(m) for m in models}) != 1 or len({tuple(m.state_dict()) for m in models}) != 1:
        raise ValueError("all models must share one architecture")
    k = len(models)
    labels = train.y if labels is None else torch.as_tensor(labels)
    labels = labels.expand(k, -1) if labels.dim() == 1 else labels
    if labels.shape[0] != k:
        raise ValueError(f"labels must be N or K×N with K={k}; got {tuple(labels.shape)}")
    for row in labels:
        _check_fit_arguments(train, row, epochs, lr, momentum, weight_decay, batch_size, schedule, warmup)
    device = torch.device(device) if device else default_device()
    for model in models:
        model.to(device).train()

    params, buffers = stack_module_state(models)
    params = {name: p.detach().requires_grad_() for name, p in params.items()}
    base = copy.deepcopy(models[0]).to("meta")
    forward = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)))
    momentum_buffers = {name: None for name in params}

    x, y = train.x.to(device), labels.to(device).long()
    n, steps = len(x), math.ceil(len(x) / batch_size)
    total = epochs * steps
    orders = [torch.Generator().manual_seed(seed) for seed in seeds]
    predictions = torch.empty(epochs, k, n, dtype=torch.long, device=device)
    losses = torch.empty(epochs, k, n, device=device)
    step_losses = torch.empty(epochs, steps, k, device=device)
    test_accuracy = torch.full((epochs, k), float("nan"), device=device)
    models_axis = torch.arange(k, device=device)[:, None]
    start = time.perf_counter()
    step = 0
    for epoch in range(epochs):
        base.train()
        permutations = torch.stack([torch.randperm(n, generator=g) for g in orders]).to(device)
        for b in range(steps):
            index = permutations[:, b * batch_size:(b + 1) * batch_size]  # K×B
            with _autocast(device):
                logits = forward(params, buffers, x[index]).float()
            per_model = F.cross_entropy(logits.flatten(0, 1), y[models_axis, index].flatten(),
                                        reduction="none").view(k, -1).mean(1)
            grads = torch.autograd.grad(per_model.sum(), list(params.values()))
            rate = lr * schedule_factor(schedule, step, total, warmup)
            with torch.no_grad():
                for (name, p), g in zip(params.items(), grads):
                    _sgd_step(p, g, momentum_buffers, name, rate, momentum, weight_decay)
            step_losses[epoch, b] = per_model.detach()
            step += 1
        bad = ~torch.isfinite(step_losses[epoch])
        if bool(bad.any()):
            b, model = (int(v) for v in bad.nonzero()[0])
            raise FloatingPointError(f"model {model}'s training loss became non-finite at epoch {epoch + 1}, "
                                     f"step {b + 1} of {steps}; lower the learning rate or check the data")
        base.eval()
        predictions[epoch], losses[epoch] = _evaluate(forward, params, buffers, x, y, eval_batch_size)
        if test is not None:
            test_predictions, _ = _evaluate(forward, params, buffers, test.x.to(device),
                                            test.y.to(device).expand(k, -1), eval_batch_size)
            test_accuracy[epoch] = (test_predictions == test.y.to(device)).float().mean(1)
    train_time = time.perf_counter() - start

    for i, model in enumerate(models):
        model.load_state_dict({name: t[i].detach() for name, t in {**params, **buffers}.items()}, strict=False)
    return [History(labels[i].cpu(), predictions[:, i].cpu(), losses[:, i].cpu(),
                    step_losses[:, :, i].mean(1).cpu(), test_accuracy[:, i].cpu(), train_time / k)
            for i in range(k)]


def _sgd_step(p, g, buffers, name, lr, momentum, weight_decay):
    """One step of ``torch.optim.SGD`` (no dampening, no Nesterov) on a stacked parameter."""
    d_p = g.add(p, alpha=weight_decay) if weight_decay else g
    if momentum:
        if buffers[name] is None:
            buffers[name] = d_p.clone()
        else:
            buffers[name].mul_(momentum).add_(d_p)
        d_p = buffers[name]
    p.add_(d_p, alpha=-lr)


@torch.no_grad()
def _evaluate(forward, params, buffers, x, y, batch_size):
    """Every model's predictions and per-example cross-entropy on all of ``x`` (K×N each)."""
    k, n = y.shape
    predictions = torch.empty(k, n, dtype=torch.long, device=x.device)
    losses = torch.empty(k, n, device=x.device)
    with _autocast(x.device):
        for start in range(0, n, batch_size):
            chunk = slice(start, min(start + batch_size, n))
            logits = forward(params, buffers, x[chunk].expand(k, *x[chunk].shape)).float()
            predictions[:, chunk] = logits.argmax(-1)
            losses[:, chunk] = F.cross_entropy(logits.flatten(0, 1), y[:, chunk].flatten(),
                                               reduction="none").view(k, -1)
    return predictions, losses
