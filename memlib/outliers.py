"""How well represented is each example? The adv, conf and agr metrics of Carlini, Erlingsson and Papernot (2019),
"Distribution Density, Tails, and Outliers in Machine Learning: Metrics and Applications" (arXiv:1910.13427),
and the ranked training slices of their Fig. 6.

Every metric is "higher = better represented": a large adversarial distance, a confident prediction of the
correct label, models that agree. :func:`percentile_within_class` turns a metric into per-class percentiles (0 = the
class's outliers, 1 = its most typical examples) and :func:`slices` cuts them into consecutive training subsets.
"""
import math
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from memlib.ensemble import fit_many
from memlib.models import build

NORMS = (2, math.inf)


def minimal_perturbation(model, x, y, *, norm=2, steps=50, overshoot=0.02, refine=12, batch_size=512,
                         normalization=None):
    """For each example, a small perturbation ``delta`` with ``model(x + delta)`` no longer predicting ``y``: the
    attack behind the adv metric of Carlini et al. (2019).

    The attack is multi-step DeepFool (Moosavi-Dezfooli et al. 2016: Alg. 2, and its ℓp extension for ℓ∞), batched:
    at every step the model is linearized at ``x + delta`` and ``delta`` moves to the nearest linearized decision
    boundary, min over j ≠ y of (z_y − z_j) / ‖∇(z_y − z_j)‖_q (q = 2 for ℓ2; q = 1, the dual norm, for ℓ∞),
    until ``x + (1 + overshoot)·delta`` is misclassified or ``steps`` run out. A bisection over the scale t of the
    final direction then finds, to within a factor 2^-refine of ``overshoot``, the smallest t·delta that still
    flips the prediction; the returned perturbation is always one that was checked to flip it.

    How exact: for an affine classifier the first step lands on the nearest decision boundary, so the result is the
    exact minimal distance (up to the bisection's tolerance). For a network it is an upper bound on the minimal
    distance: DeepFool follows local linearizations and can miss a closer boundary elsewhere. The perturbation is
    not clipped to the pixel range, so it measures the distance to the decision boundary in input space: on the
    pixels ``x``, which ``normalization`` (the training set's :class:`memlib.data.Normalization`, as the training
    engine applied it; None for none) turns into what the model sees.

    Examples the model already misclassifies get a zero perturbation. Rows of NaN mark examples no flipping
    perturbation was found for. The model's weights, gradients and train/eval mode are left as they were; it is
    evaluated in eval mode, without autocast.
    """
    _check_norm(norm)
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    if not overshoot > 0:
        raise ValueError(f"overshoot must be positive (the step past the boundary); got {overshoot}")
    device = next(model.parameters()).device
    x, y = _check_inputs(x, y)
    model = on_pixels(model, normalization)
    deltas = []
    with _eval_mode(model):
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
            deltas.append(_deepfool(model, xb, yb, norm, steps, overshoot, refine).cpu())
    return torch.cat(deltas) if deltas else torch.empty_like(x)


def holdout_ensemble(train_set, count, model="mlp", *, seed=0, model_options=None, **fit_options):
    """Train ``count`` models, each on a random half of ``train_set``: the holdout ensemble behind the conf metric
    of Carlini et al. (2019), which scores an example with models that did not see it.

    Models come in pairs trained on complementary halves, so with two or more models every example is held out by
    at least one. Returns ``(models, held_out)``, ``held_out`` a boolean count × N mask (True: model m did not train
    on example i), ready for :func:`confidence`. ``model`` and ``model_options`` go to :func:`memlib.models.build`,
    ``fit_options`` to :func:`memlib.ensemble.fit_many`, which trains them together; model m uses seed ``seed + m``.
    """
    if not (isinstance(count, int) and count >= 1):
        raise ValueError(f"count must be a positive integer; got {count!r}")
    halves, held_out = [], torch.ones(count, len(train_set), dtype=torch.bool)
    for m in range(count):
        if m % 2 == 0:
            order = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(seed + m))
        half = order[: len(order) // 2] if m % 2 == 0 else order[len(order) // 2:]
        halves.append(half.sort().values)  # in dataset order: model m is fit on train_set.subset(~held_out[m])
        held_out[m, halves[m]] = False
    seeds = [seed + m for m in range(count)]
    ensemble = [build(model, train_set.num_classes, train_set.shape, seed=s, **(model_options or {})) for s in seeds]
    fit_many(ensemble, train_set, seeds=seeds, subsets=halves, **fit_options)
    return ensemble, held_out


def adv_distance(models, x, y, *, norm=2, steps=50, batch_size=512, normalization=None) -> torch.Tensor:
    """The adv metric of Carlini et al. (2019): for each example, the size (ℓ2
    or ℓ∞ norm) of the smallest perturbation found that changes a model's prediction, averaged over ``models``
    (the paper averages over several independently trained models). Found with :func:`minimal_perturbation`
    (multi-step DeepFool and a bisection; exact for affine models, an upper bound for networks).

    Examples a model already misclassifies count 0 for that model; one whose prediction no perturbation flipped
    counts infinity. Outliers lie close to a decision boundary: small adv means poorly represented. Distances are
    measured on the pixels; ``normalization`` is the one the models were trained with (``train_set.normalization``).
    """
    models = _check_models(models)
    distances = []
    for model in models:
        delta = minimal_perturbation(model, x, y, norm=norm, steps=steps, batch_size=batch_size,
                                     normalization=normalization)
        size = torch.linalg.vector_norm(delta.flatten(1), ord=norm, dim=1)
        distances.append(size.nan_to_num(nan=math.inf))
    return torch.stack(distances).mean(0)


def confidence(models, x, y, *, held_out=None, batch_size=1024, normalization=None) -> torch.Tensor:
    """The conf metric of Carlini et al. (2019): the softmax probability of the
    correct label, averaged over ``models``.

    The paper scores an example with models that did not train on it. ``held_out`` (a boolean models × N mask)
    says which models may score which example: an example is averaged over the models that held it out, and is NaN
    if none did. Without ``held_out`` every model scores every example.
    """
    models = _check_models(models)
    x, y = _check_inputs(x, y)
    probabilities = _softmax_outputs(models, x, batch_size, normalization)
    correct = probabilities.gather(2, y.view(1, -1, 1).expand(len(models), -1, 1)).squeeze(2)
    if held_out is None:
        return correct.mean(0)
    held_out = torch.as_tensor(held_out, dtype=torch.bool)
    if held_out.shape != correct.shape:
        raise ValueError(f"held_out must be a boolean mask of shape (models, N) = {tuple(correct.shape)}; "
                         f"got {tuple(held_out.shape)}")
    return (correct * held_out).sum(0) / held_out.sum(0)  # 0/0 = NaN where no model held the example out


def agreement(models, x, *, batch_size=1024, normalization=None) -> torch.Tensor:
    """The agr metric of Carlini et al. (2019): how much independently trained models
    agree on an example, from the Jensen-Shannon divergence of their output distributions.

    With M models' softmax outputs p_1..p_M, the divergence is JSD = H(mean p_m) − mean H(p_m) (the generalized,
    equally weighted Jensen-Shannon divergence; at most ln M). Returned: 1 − JSD / ln M, in [0, 1]; 1 when every
    model outputs the same distribution. The labels are not used: agreement is about the models, not the label.
    """
    models = _check_models(models)
    if len(models) < 2:
        raise ValueError(f"agreement needs at least 2 models; got {len(models)}")
    probabilities = _softmax_outputs(models, _check_inputs(x)[0], batch_size, normalization)
    divergence = _entropy(probabilities.mean(0)) - _entropy(probabilities).mean(0)
    return 1 - divergence.clamp(min=0) / math.log(len(models))


def percentile_within_class(scores, y) -> torch.Tensor:
    """Each example's rank among the examples of its class, as a percentile in [0, 1]: (rank + 1/2) / n_class, so
    that every class spans the same evenly spaced grid. Ranking within classes keeps the slices of the Carlini et
    al. (2019, Fig. 6) experiment class-balanced; a global ranking would give slices missing whole classes. Ties
    are broken by position; NaN scores rank last."""
    scores = _float64(scores)
    y = _check_inputs(None, y)[1].cpu()
    if scores.shape != y.shape:
        raise ValueError(f"scores must be 1-D with one score per label ({len(y)}); got {tuple(scores.shape)}")
    percentiles = torch.empty(len(y), dtype=torch.float64)
    for label in y.unique():
        members = torch.nonzero(y == label).flatten()
        order = torch.sort(scores[members].nan_to_num(nan=math.inf), stable=True).indices
        percentiles[members[order]] = (torch.arange(len(members), dtype=torch.float64) + 0.5) / len(members)
    return percentiles


def slices(percentiles, count, width=None) -> list:
    """The example indices of ``count`` consecutive percentile slices, from the outliers (low percentiles) to the
    best-represented examples: slice k holds the examples with percentile in [s_k, s_k + width), with starts s_k
    evenly spaced from 0 to 1 − width. ``width`` defaults to 1 / count (a partition); a narrower one gives fixed-size
    windows along the ranking, like the 5,000-example slices of Carlini et al. (2019, Fig. 6)."""
    percentiles = _float64(percentiles)
    if percentiles.dim() != 1 or bool(((percentiles < 0) | (percentiles > 1)).any()):
        raise ValueError("percentiles must be 1-D with values in [0, 1] (see percentile_within_class)")
    if not (isinstance(count, int) and count >= 1):
        raise ValueError(f"count must be a positive integer; got {count!r}")
    width = 1 / count if width is None else width
    if not 0 < width <= 1:
        raise ValueError(f"width must be a fraction in (0, 1]; got {width}")
    starts = torch.linspace(0, 1 - width, count, dtype=torch.float64).tolist()
    tolerance = 1e-12  # a percentile on a slice edge belongs to the upper slice despite rounding
    return [torch.nonzero((percentiles >= s - tolerance) & (percentiles < s + width - tolerance)).flatten()
            for s in starts]


def _deepfool(model, x, y, norm, steps, overshoot, refine):
    delta = torch.zeros_like(x)
    active = _still_correct(model, x, y)
    correct = active.clone()
    for _ in range(steps):
        if not bool(active.any()):
            break
        index = torch.nonzero(active).flatten()
        delta[index] += _boundary_step(model, x[index] + delta[index], y[index], norm)
        active[index] = _still_correct(model, x[index] + (1 + overshoot) * delta[index], y[index])
    return _shortest_on_ray(model, x, y, delta, correct, correct & ~active, 1 + overshoot, refine)


def _boundary_step(model, x, y, norm):
    """One DeepFool step: the move to the nearest boundary of the model linearized at ``x``."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        logits = model(x)
        gradients = torch.stack([torch.autograd.grad(logits[:, j].sum(), x, retain_graph=j < logits.shape[1] - 1)[0]
                                 for j in range(logits.shape[1])], dim=1)  # B × K × input
    logits = logits.detach()
    rows = torch.arange(len(y), device=y.device)
    gaps = (logits[rows, y].unsqueeze(1) - logits).clamp(min=0)  # z_y − z_j ≥ 0 while y is predicted
    w = (gradients - gradients[rows, y].unsqueeze(1)).flatten(2)  # ∇(z_j − z_y)
    dual = torch.linalg.vector_norm(w, ord=1 if norm == math.inf else 2, dim=2)
    distance = gaps / dual.clamp(min=1e-12)
    distance[rows, y] = math.inf
    j = distance.argmin(dim=1)
    wj, gap, size = w[rows, j], gaps[rows, j], dual[rows, j].clamp(min=1e-12)
    direction = wj.sign() / size.unsqueeze(1) if norm == math.inf else wj / size.pow(2).unsqueeze(1)
    return ((gap + 1e-6).unsqueeze(1) * direction).view_as(x)


def _shortest_on_ray(model, x, y, delta, correct, flipped, scale, refine):
    """Bisect t in [0, scale] for the smallest t·delta that still flips each prediction; NaN where none did."""
    low = torch.zeros(len(x), device=x.device)
    high = torch.full((len(x),), scale, device=x.device)
    index = torch.nonzero(flipped).flatten()
    for _ in range(refine):
        if not len(index):
            break
        middle = (low[index] + high[index]) / 2
        still = _still_correct(model, x[index] + _times(middle, delta[index]), y[index])
        low[index] = torch.where(still, middle, low[index])
        high[index] = torch.where(still, high[index], middle)
    result = _times(high, delta)
    result[~flipped] = 0
    result[correct & ~flipped] = math.nan
    return result


@torch.no_grad()
def _still_correct(model, x, y):
    return model(x).argmax(dim=1) == y


def _times(t, delta):
    return t.view(-1, *[1] * (delta.dim() - 1)) * delta


@torch.no_grad()
def _softmax_outputs(models, x, batch_size, normalization):
    """models × N × classes softmax outputs, each model in eval mode on its own device."""
    outputs = []
    for model in (on_pixels(model, normalization) for model in models):
        device = next(model.parameters()).device
        with _eval_mode(model):
            outputs.append(torch.cat([F.softmax(model(x[s:s + batch_size].to(device)).float(), dim=1).cpu()
                                      for s in range(0, len(x), batch_size)]))
    return torch.stack(outputs)


def _float64(values):
    """A float64 CPU tensor of ``values`` (a tensor, array or list; numpy views may be read-only, so copy)."""
    if isinstance(values, torch.Tensor):
        return values.detach().to("cpu", torch.float64)
    return torch.tensor(values, dtype=torch.float64)


def _entropy(p):
    return -(p * p.clamp(min=1e-30).log()).sum(-1)


class _Normalized(torch.nn.Module):
    """``model`` after ``normalization``: a model that takes pixels."""

    def __init__(self, model, normalization):
        super().__init__()
        self.model, self.normalization = model, normalization

    def forward(self, x):
        return self.model(self.normalization(x))


def on_pixels(model, normalization):
    """``model`` as a function of the pixels: ``normalization`` (a :class:`memlib.data.Normalization`, the one
    the training engine applied) first, then the model; the model itself when ``normalization`` is None."""
    return model if normalization is None else _Normalized(model, normalization)


@contextmanager
def _eval_mode(model):
    """Evaluate ``model`` in eval mode and restore its train/eval mode afterwards, errors included."""
    training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(training)


def _check_norm(norm):
    if norm not in NORMS:
        raise ValueError(f"norm must be 2 or math.inf (ℓ2 or ℓ∞); got {norm!r}")


def _check_models(models):
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    if not models:
        raise ValueError("models must hold at least one model")
    return models


def _check_inputs(x, y=None):
    if x is not None:
        x = torch.as_tensor(x)
        if x.dim() < 2 or not x.dtype.is_floating_point:
            raise ValueError(f"x must be a float tensor of N examples (N × ...); got shape {tuple(x.shape)}, "
                             f"dtype {x.dtype}")
    if y is not None:
        y = torch.as_tensor(y)
        if y.dim() != 1 or y.dtype.is_floating_point or y.dtype == torch.bool:
            raise ValueError(f"y must be a 1-D integer tensor of labels; got shape {tuple(y.shape)}, dtype {y.dtype}")
        y = y.long()
        if x is not None and len(x) != len(y):
            raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
    return x, y


def knn_agreement(x, labels, k=10, *, chunk=1024, device=None) -> torch.Tensor:
    """For every example, the share of its ``k`` nearest other examples (Euclidean, in input space) that carry its
    label: a typicality metric beside adv, conf and agr, "higher = better represented"; Maini et al. (2023,
    Fig. 7) find the clean examples that example-tied dropout forgets atypical. Returns a float tensor on the CPU."""
    from memlib.train import default_device

    x, labels = _check_inputs(x, labels)
    if not (isinstance(k, int) and 1 <= k < len(x)):
        raise ValueError(f"k must be an integer in [1, {len(x) - 1}] (fewer than the {len(x)} examples); got {k!r}")
    device = device or default_device()
    flat, labels = x.flatten(1).to(device), labels.to(device)
    agreement = torch.empty(len(flat), device=device)
    for start in range(0, len(flat), chunk):
        distances = torch.cdist(flat[start:start + chunk], flat)
        rows = torch.arange(len(distances), device=device)
        distances[rows, rows + start] = float("inf")
        nearest = distances.topk(k, largest=False).indices
        agreement[start:start + len(distances)] = (labels[nearest] == labels[start + rows, None]).float().mean(1)
    return agreement.cpu()
