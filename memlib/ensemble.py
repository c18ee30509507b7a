"""Train K small models at once: the seeds of a table, the models averaged for outlier scores, the slices they rank.

:func:`fit_many` runs K independent copies of :func:`memlib.train.fit` in one pass: the K models' weights are stacked
(``torch.func.stack_module_state``) and one vmapped forward and backward serves all of them, each model with its own
initialization, data order, labels, training examples, momentum buffers and BatchNorm statistics. It gives the
numbers K separate ``fit`` runs give with the same seeds (to float tolerance), in much less time for small models,
where per-step overhead, not arithmetic, dominates.
"""
import copy
import math
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from memlib import checks, dropout, loop, resume as resuming
from memlib.train import History, default_device, device_images


def fit_many(models, train, *, seeds, epochs, labels=None, subsets=None, test=None, lr, momentum=0.9, weight_decay,
             batch_size, schedule="cosine", warmup=0.0, device=None, eval_batch_size=1024, resume="auto") -> list:
    """Train ``models`` (K modules of one architecture, without dropout layers) together with cross-entropy and
    SGD, model k drawing its batches from ``seeds[k]`` exactly as ``fit(..., seed=seeds[k])`` does.

    ``labels``: one tensor for all models, or K×N (e.g. a different noise draw per seed). ``subsets``: None (every
    model trains on all of ``train``) or one set of example indices (or boolean mask) per model: model k then
    trains as ``fit(model, train.subset(subsets[k]), labels=labels[k][subsets[k]], ...)`` would, and its records
    cover those examples, in that order. Models whose subsets have the same size train in one pass. Returns one
    :class:`memlib.train.History` per model, and leaves the trained weights in ``models``. ``resume``: as for
    :func:`memlib.train.fit` (one checkpoint file per pass). Every argument is checked before training, the data
    against the models with one forward pass.
    """
    models = list(models)
    seeds = [checks.integer("each seed", s) for s in seeds]
    if not models or len(models) != len(seeds):
        raise ValueError(f"need one seed per model and at least one model; got {len(models)} models, {len(seeds)} seeds")
    shapes = [tuple((name, tuple(t.shape)) for name, t in m.state_dict().items()) for m in models]
    if len({type(m) for m in models}) != 1 or len(set(shapes)) != 1:
        raise ValueError("all models must share one architecture (the same class, parameter names and shapes, so "
                         "the same widths); build them with one set of options")
    dropped = [name for name, m in models[0].named_modules() if _is_dropout(m)]
    if dropped:
        raise ValueError(f"fit_many trains models without dropout layers (their randomness is drawn per model by "
                         f"fit); found {', '.join(dropped)}: train these with memlib.train.fit")
    checks.non_empty("train", train)
    if test is not None:
        checks.non_empty("test", test)
    settings = loop.check_settings(epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay,
                                   batch_size=batch_size, schedule=schedule, warmup=warmup,
                                   eval_batch_size=eval_batch_size)
    k = len(models)
    labels = train.y if labels is None else torch.as_tensor(labels)
    labels = labels.expand(k, -1) if labels.dim() == 1 else labels
    if labels.dim() != 2 or labels.shape[0] != k:
        raise ValueError(f"labels must be N or K×N with K={k}; got {tuple(labels.shape)}")
    labels = torch.stack([checks.labels("labels", row, train.num_classes, len(train)) for row in labels])
    subsets = _check_subsets(subsets, k, len(train))
    device = torch.device(device) if device else default_device()
    for model in models:
        model.to(device).train()
    images = device_images(models[0], train, device)
    tested = (device_images(models[0], test, device), test.y.to(device)) if test is not None else None
    labels = labels.to(device)
    histories = [None] * k
    for size in dict.fromkeys(len(s) for s in subsets):
        group = [i for i in range(k) if len(subsets[i]) == size]
        examples = torch.stack([subsets[i] for i in group]).to(device)
        rows = torch.arange(k, device=device)[group, None]
        plan = resuming.plan(resume, "fit_many")
        trained = _fit_group([models[i] for i in group], [seeds[i] for i in group], images, examples,
                             labels[rows, examples], tested, plan, train, num_classes=train.num_classes,
                             **settings)
        for i, history in zip(group, trained):
            histories[i] = history
    return histories


def _fit_group(models, seeds, images, examples, labels, tested, plan, train, *, num_classes, epochs, lr, momentum,
               weight_decay, batch_size, schedule, warmup, eval_batch_size):
    """One vmapped run of K models, model k on the examples ``examples[k]`` (K×M) with labels ``labels[k]``."""
    k, n = examples.shape
    device = images.device
    params, buffers = stack_module_state(models)
    params = {name: p.detach().requires_grad_() for name, p in params.items()}
    base = copy.deepcopy(models[0]).to("meta")
    forward = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)))
    base.eval()
    loop.check_outputs("the models", lambda x, index: forward(params, buffers, x.expand(k, *x.shape)),
                       images, num_classes, {"labels": labels.flatten(),
                                             **({"the test set's labels": tested[1]} if tested else {})})
    steps = math.ceil(n / batch_size)
    total = epochs * steps
    run = loop.Steps(params.values(), device, lr=lr, momentum=momentum, weight_decay=weight_decay,
                     schedule=schedule, warmup=warmup, total=total)
    orders = [torch.Generator().manual_seed(seed) for seed in seeds]
    records = loop.Records(epochs, steps, n, device, models=k)
    rows = torch.arange(k, device=device)[:, None]
    if tested is not None:  # every model is scored on every test example
        test_images, test_y = tested
        everyone, test_labels = torch.arange(len(test_y), device=device).expand(k, -1), test_y.expand(k, -1)
    checkpoint, done, elapsed = None, 0, 0.0
    if plan is not None:
        settings = dict(epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay, batch_size=batch_size,
                        schedule=loop.describe_schedule(schedule), warmup=warmup, eval_batch_size=eval_batch_size,
                        seeds=seeds, device=device.type, model=type(models[0]).__name__)
        data = {"train": train.x, "labels": labels, "examples": examples,
                **{f"model.{name}": t for name, t in {**params, **buffers}.items()},
                **({"test": tested[0].images, "test labels": tested[1]} if tested is not None else {})}
        checkpoint = resuming.Checkpoint(plan, settings, data, "fit_many")
        saved = checkpoint.load()
        if saved is not None:
            with torch.no_grad():
                for name, t in {**params, **buffers}.items():
                    t.copy_(saved["weights"][name])
            run.load_state_dict(saved["steps"])
            for order, state in zip(orders, saved["orders"]):
                order.set_state(state)
            records.load_state_dict(saved["records"])
            done, elapsed = saved["epoch"], saved["train_time"]

    def snapshot():
        return {"weights": {name: t.detach() for name, t in {**params, **buffers}.items()},
                "steps": run.state_dict(), "orders": [order.get_state() for order in orders],
                "records": records.state_dict(done), "train_time": elapsed + time.perf_counter() - start}

    start = time.perf_counter()
    for epoch in loop.progress(epochs, desc=f"fit_many {k}×{type(models[0]).__name__}", first=done):
        base.train()
        permutations = torch.stack([torch.randperm(n, generator=g) for g in orders]).to(device)
        for b in range(steps):
            position = permutations[:, b * batch_size:(b + 1) * batch_size]  # K×B places in each model's examples
            with loop.autocast(device):
                logits = forward(params, buffers, images.batch(examples[rows, position])).float()
            per_model = F.cross_entropy(logits.flatten(0, 1), labels[rows, position].flatten(),
                                        reduction="none").view(k, -1).mean(1)
            run.take(per_model.sum())
            records.step_losses[epoch, b] = per_model.detach()
        records.check_finite(epoch, epoch)
        base.eval()
        records.predictions[epoch], records.losses[epoch] = _predict(forward, params, buffers, images, examples,
                                                                     labels, eval_batch_size)
        if tested is not None:
            test_predictions, _ = _predict(forward, params, buffers, test_images, everyone, test_labels,
                                           eval_batch_size)
            records.test_accuracy[epoch] = (test_predictions == test_y).float().mean(1)
        done = epoch + 1
        if checkpoint is not None and (done == epochs or checkpoint.due(done)):
            checkpoint.save(done, snapshot)
    train_time = elapsed + time.perf_counter() - start

    for i, model in enumerate(models):
        model.load_state_dict({name: t[i].detach() for name, t in {**params, **buffers}.items()}, strict=False)
    return [History(labels[i].cpu(), train_time=train_time / k, **records.fields(i)) for i in range(k)]


@torch.no_grad()
def _predict(forward, params, buffers, images, examples, labels, batch_size):
    """Every model's predictions and per-example cross-entropy on its examples (``examples``, K×N; so are both
    results)."""
    k, n = examples.shape
    predictions = torch.empty(k, n, dtype=torch.long, device=images.device)
    losses = torch.empty(k, n, device=images.device)
    with loop.autocast(images.device):
        for start in range(0, n, batch_size):
            chunk = slice(start, min(start + batch_size, n))
            logits = forward(params, buffers, images.batch(examples[:, chunk])).float()
            predictions[:, chunk] = logits.argmax(-1)
            losses[:, chunk] = F.cross_entropy(logits.flatten(0, 1), labels[:, chunk].flatten(),
                                               reduction="none").view(k, -1)
    return predictions, losses


def _check_subsets(subsets, k, n):
    """``subsets`` as K int64 index tensors (all of 0..n-1 for each model when None)."""
    if subsets is None:
        return [torch.arange(n)] * k
    subsets = [torch.as_tensor(s) for s in subsets]
    if len(subsets) != k:
        raise ValueError(f"need one subset per model ({k}); got {len(subsets)}")
    checked = []
    for i, s in enumerate(subsets):
        if s.dtype == torch.bool:
            if s.shape != (n,):
                raise ValueError(f"subset {i} is a boolean mask of shape {tuple(s.shape)}; it must have {n} entries")
            s = s.nonzero().flatten()
        if s.dim() != 1 or s.dtype.is_floating_point or len(s) == 0:
            raise ValueError(f"subset {i} must be a non-empty 1-D tensor of example indices; got shape "
                             f"{tuple(s.shape)}, {s.dtype}")
        if int(s.min()) < 0 or int(s.max()) >= n:
            raise ValueError(f"subset {i} holds indices outside [0, {n}): [{int(s.min())}, {int(s.max())}]")
        checked.append(s.long().cpu())
    return checked


def _is_dropout(module):
    return isinstance(module, (nn.modules.dropout._DropoutNd, dropout.ExampleTiedDropout, dropout.StandardDropout,
                               dropout.SparseMask))
