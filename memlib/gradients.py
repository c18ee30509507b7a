"""Where memorization lives in the gradients: the mean gradients of example subsets (clean vs mislabeled), layer
by layer, as accounted by Maini et al. 2023 (Sec. 3, Fig. 2 and 3).

Their accounting splits every batch's mean loss by subset: a subset's part is the sum of its examples' losses
divided by the batch size (its mean loss weighted by its count / batch size), so the subsets' gradients add up to
the gradient the optimizer uses. Per layer group (a conv with its batch norm, or a linear layer) they compare the
subsets' gradients by the cosine of each parameter tensor's pair of gradients, averaged within the group, and
measure each subset's gradient norm as the sum over the group's tensors of ``‖g‖ / √numel``.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from memlib import checks
from memlib.loop import autocast
from memlib.train import Callback, device_images

_STARTS_GROUP = {"conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d), "linear": (nn.Linear,)}
_JOINS_GROUP = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)


def layer_groups(model) -> dict:
    """The "layers" of Maini et al. 2023 (their per-layer parameter groups): each conv or linear layer with the
    normalization layer that follows it (a conv-bn block: conv weight, BN weight and bias; a linear layer: weight
    and bias), in the order the modules are registered, which is forward order for the book's models. Returns
    ``{group name: [parameter names]}`` with names like "conv1", "linear2"; the last group is named "output" when
    it is a linear layer. Only trainable parameters are listed."""
    groups, counts, current = {}, {}, None
    for module_name, module in model.named_modules():
        names = [f"{module_name}.{name}" if module_name else name
                 for name, parameter in module.named_parameters(recurse=False) if parameter.requires_grad]
        if not names:
            continue
        if isinstance(module, _JOINS_GROUP) and current is not None:
            groups[current] += names
            continue
        kind = next((k for k, types in _STARTS_GROUP.items() if isinstance(module, types)),
                    type(module).__name__.lower())
        counts[kind] = counts.get(kind, 0) + 1
        current = f"{kind}{counts[kind]}"
        groups[current] = names
    if current is not None and current.startswith("linear"):
        groups["output"] = groups.pop(current)
    return groups


def subset_gradients(model, data, labels, subsets, *, batch_size, index=None) -> dict:
    """The mean training gradient of each subset of ``data`` at the model's current weights, split as Maini et al.
    2023 (Sec. 3) account it: per batch, a subset's part of the batch-mean cross-entropy is its examples' summed
    loss divided by the batch size; its gradients are averaged over the batches. Subsets that partition the data
    have gradients that add up to the full-data gradient (the mean of the batch-mean gradients).

    ``labels``: the training labels (a tensor or :class:`memlib.noise.NoisyLabels`). ``subsets``: ``{name:
    boolean mask over the examples}``. ``index``: the examples, in order, whose consecutive chunks of
    ``batch_size`` form the batches (default all, in dataset order); they reach the model as example indices.
    The forward passes run in training mode, as in a training step (one per batch); the model's mode, weights,
    buffers (batch-norm statistics), ``.grad`` fields and the global RNG are left as they were. Returns
    ``{subset: {parameter name: gradient}}`` over the trainable parameters.
    """
    labels = checks.labels("labels", getattr(labels, "labels", labels), None, length=len(data))
    index, batch_size = _check_subset_arguments(data, subsets, batch_size, index)
    device = next(model.parameters()).device
    width = checks.output_width("data", model, data.normalized(data.x[:1].to(device)), index[:1])
    labels = checks.labels("labels", labels, width)
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    parameters = [p for _, p in named]
    images, y = device_images(model, data, device), labels.to(device).long()
    masks = {name: torch.as_tensor(mask).to(device) for name, mask in subsets.items()}
    sums = {name: [torch.zeros_like(p) for p in parameters] for name in subsets}
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    was_training = model.training
    model.train()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.enable_grad():
            for start in range(0, len(index), batch_size):
                batch = index[start:start + batch_size].to(device)
                with autocast(device):
                    logits = model(images.batch(batch), batch)
                losses = F.cross_entropy(logits.float(), y[batch], reduction="none")
                for k, (name, mask) in enumerate(masks.items()):
                    part = losses.masked_fill(~mask[batch], 0.0).sum() / len(batch)
                    grads = torch.autograd.grad(part, parameters, retain_graph=k < len(masks) - 1, allow_unused=True)
                    for total, grad in zip(sums[name], grads):
                        if grad is not None:
                            total.add_(grad)
    finally:
        model.train(was_training)
        with torch.no_grad():
            for name, buffer in model.named_buffers():
                buffer.copy_(buffers[name])
    batches = math.ceil(len(index) / batch_size)
    return {subset: {name: total / batches for (name, _), total in zip(named, totals)}
            for subset, totals in sums.items()}


def layer_cosines(grads_a, grads_b, groups) -> dict:
    """Per layer group, the cosine similarity of two gradients (``{parameter name: tensor}``), computed for each
    parameter tensor and averaged within the group (Maini et al. 2023, Fig. 3). A tensor where either gradient is
    zero has no cosine and is left out of its group's mean; a group with none is NaN."""
    cosines = {}
    for group, names in groups.items():
        values = [_cosine(grads_a[name], grads_b[name]) for name in names]
        values = [v for v in values if not math.isnan(v)]
        cosines[group] = sum(values) / len(values) if values else math.nan
    return cosines


def group_norms(grads, groups) -> dict:
    """Per layer group, the gradient norm as Maini et al. 2023 (Fig. 2) measure it: the sum over the group's
    parameter tensors of ``‖g‖ / √numel``, which keeps large tensors from dominating."""
    return {group: sum(float(grads[name].norm()) / math.sqrt(grads[name].numel()) for name in names)
            for group, names in groups.items()}


def norm_share(grads_by_subset, groups) -> dict:
    """Per layer group, each subset's share of the summed gradient norms (:func:`group_norms`) of all subsets:
    ``{group: {subset: share}}``. With clean and mislabeled subsets, Maini et al. 2023 (Fig. 2) find the 10%
    mislabeled examples carrying a norm comparable to the clean 90%, i.e. a share near one half."""
    norms = {subset: group_norms(grads, groups) for subset, grads in grads_by_subset.items()}
    shares = {}
    for group in groups:
        total = sum(norms[subset][group] for subset in norms)
        shares[group] = {subset: norms[subset][group] / total if total > 0 else math.nan for subset in norms}
    return shares


class GradientProbe(Callback):
    """A :func:`memlib.train.fit` callback that measures, every epoch, the mean gradients of the clean and of the
    mislabeled training examples, per layer group, from the training steps themselves (Maini et al. 2023, Sec. 3,
    Fig. 2 and 3).

    It runs each step's backward pass in two parts, the clean part of the batch-mean loss and then the mislabeled
    part (each its examples' summed loss / batch size), reading the clean gradient in between; the two add up to
    the full gradient, which the optimizer then uses, so training is unchanged and no third backward pass is
    needed. ``is_noisy``: a boolean mask over the training examples, or :class:`memlib.noise.NoisyLabels`.
    The loss must return one value per example (the default cross-entropy does).

    After training, :meth:`to_frame` holds one row per epoch and group; ``gradients`` holds the last epoch's mean
    gradients, ``{"clean": {parameter name: tensor}, "noisy": {...}}``, and ``groups`` the layer groups.
    """

    def __init__(self, is_noisy):
        is_noisy = torch.as_tensor(getattr(is_noisy, "is_noisy", is_noisy))
        if is_noisy.dim() != 1 or is_noisy.dtype != torch.bool:
            raise ValueError(f"is_noisy must be a 1-D boolean mask over the training examples (or NoisyLabels); "
                             f"got shape {tuple(is_noisy.shape)}, dtype {is_noisy.dtype}")
        self.is_noisy = is_noisy
        self.rows, self.gradients, self.groups = [], None, None

    def on_train_begin(self, state):
        if len(self.is_noisy) != len(state.history.labels):
            raise ValueError(f"is_noisy must have one entry per training example ({len(state.history.labels)}); "
                             f"got {len(self.is_noisy)}")
        named = [(name, p) for name, p in state.model.named_parameters() if p.requires_grad]
        self._names, self._parameters = [name for name, _ in named], [p for _, p in named]
        self.groups = layer_groups(state.model)
        self._mask = self.is_noisy.to(self._parameters[0].device)
        self._reset()

    def _reset(self):
        # The epoch's gradient sums, all parameters flattened into one vector per subset.
        size = sum(p.numel() for p in self._parameters)
        self._clean, self._noisy = (self._parameters[0].new_zeros(size) for _ in range(2))
        self._steps = 0

    def backward(self, state, losses):
        noisy = self._mask[state.index]
        clean_part = losses.masked_fill(noisy, 0.0).sum() / len(losses)
        noisy_part = losses.masked_fill(~noisy, 0.0).sum() / len(losses)
        scaler = state.scaler
        scaler.scale(clean_part).backward(retain_graph=True)
        clean = self._flat_gradient()
        scaler.scale(noisy_part).backward()
        full = self._flat_gradient()
        unscale = 1.0
        if scaler.is_enabled():
            if not bool(torch.isfinite(full).all()):
                return  # an fp16 overflow: the scaler skips this step, and so does the probe
            unscale = 1.0 / scaler.get_scale()
        self._clean.add_(clean, alpha=unscale)
        self._noisy.add_(full, alpha=unscale).sub_(clean, alpha=unscale)
        self._steps += 1

    def _flat_gradient(self):
        return torch.cat([(torch.zeros_like(p) if p.grad is None else p.grad).flatten() for p in self._parameters])

    def on_epoch_end(self, state):
        steps = max(self._steps, 1)
        sizes = [p.numel() for p in self._parameters]
        self.gradients = {subset: {name: part.view_as(p) for name, p, part in
                                   zip(self._names, self._parameters, torch.split(total / steps, sizes))}
                          for subset, total in (("clean", self._clean), ("noisy", self._noisy))}
        cosines = layer_cosines(self.gradients["clean"], self.gradients["noisy"], self.groups)
        clean_norms = group_norms(self.gradients["clean"], self.groups)
        noisy_norms = group_norms(self.gradients["noisy"], self.groups)
        shares = norm_share(self.gradients, self.groups)
        for group in self.groups:
            self.rows.append({"epoch": state.epoch + 1, "group": group, "cosine": cosines[group],
                              "clean_norm": clean_norms[group], "noisy_norm": noisy_norms[group],
                              "noisy_share": shares[group]["noisy"]})
        self._reset()

    def to_frame(self):
        """One row per epoch (1-based) and layer group, groups in forward order: the clean-vs-mislabeled
        ``cosine``, the groups' ``clean_norm`` and ``noisy_norm`` and the mislabeled examples' ``noisy_share``."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["epoch", "group", "cosine", "clean_norm", "noisy_norm",
                                                "noisy_share"])


def _cosine(a, b):
    a, b = a.detach().flatten().float(), b.detach().flatten().float()
    denominator = float(a.norm() * b.norm())
    return float(a @ b) / denominator if denominator > 0 else math.nan


def _check_subset_arguments(data, subsets, batch_size, index):
    checks.non_empty("data", data)
    if not isinstance(subsets, dict) or not subsets:
        raise ValueError("subsets must be a non-empty dict {name: boolean mask over the examples}")
    for name, mask in subsets.items():
        mask = torch.as_tensor(mask)
        if mask.dtype != torch.bool or mask.shape != (len(data),):
            raise ValueError(f"subset {name!r} must be a boolean mask of shape ({len(data)},); got shape "
                             f"{tuple(mask.shape)}, dtype {mask.dtype}")
    batch_size = checks.positive_int("batch_size", batch_size)
    if index is None:
        return torch.arange(len(data)), batch_size
    index = torch.as_tensor(index)
    if index.dim() != 1 or index.dtype.is_floating_point or index.dtype == torch.bool or not len(index):
        raise ValueError(f"index must be a non-empty 1-D tensor of example indices; got shape "
                         f"{tuple(index.shape)}, dtype {index.dtype}")
    if int(index.min()) < 0 or int(index.max()) >= len(data):
        raise ValueError(f"index must lie in [0, {len(data)}); got [{int(index.min())}, {int(index.max())}]")
    return index.long(), batch_size


def epoch_summary(record):
    """Per seed and epoch of a probe's record (:meth:`GradientProbe.to_frame`, with a ``seed`` column): the mean
    clean-vs-mislabeled cosine over the ``hidden`` layer groups, the cosine of the ``first`` group and of the
    ``output`` group (Maini et al. 2023, Fig. 3: negative in every layer)."""
    record = _with_seed(record)
    cosine = record.pivot_table(index=["seed", "epoch"], columns="group", values="cosine", dropna=False)
    first = next(iter(dict.fromkeys(record.group)))
    return cosine.drop(columns="output").mean(axis=1).rename("hidden").to_frame().assign(
        first=cosine[first], output=cosine["output"]).reset_index()


def seed_summary(record):
    """Per seed of a probe's record: the hidden groups' mean and highest cosine and their share of (group,
    epoch) cells with a negative cosine, the first and the output group's mean cosine, and the mislabeled
    examples' mean share of the gradient norm (Maini et al. 2023, Figs. 2 and 3)."""
    import pandas as pd

    rows = []
    for seed, frame in _with_seed(record).groupby("seed"):
        hidden = frame[frame.group != "output"].cosine
        epochs = epoch_summary(frame)
        rows.append(dict(seed=seed, hidden_mean=hidden.mean(), hidden_max=hidden.max(),
                         hidden_negative=(hidden < 0).mean(), first_mean=epochs["first"].mean(),
                         output_mean=epochs["output"].mean(), share=frame.noisy_share.mean()))
    return pd.DataFrame(rows)


def non_negative_cells(record):
    """The hidden (group, seed, epoch) cells of a probe's record whose cosine is not negative (NaN included):
    the exceptions to Maini et al.'s (2023, Fig. 3) opposition of clean and mislabeled gradients."""
    record = _with_seed(record)
    return record[(record.group != "output") & ~(record.cosine < 0)][["group", "seed", "epoch"]]


def _with_seed(record):
    return record if "seed" in record else record.assign(seed=0)
