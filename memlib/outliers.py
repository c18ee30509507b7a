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

from memlib import cache, checks, data
from memlib.ensemble import fit_many
from memlib.models import build
from memlib.train import evaluate

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
    steps = checks.positive_int("steps", steps)
    overshoot = checks.real("overshoot", overshoot, low=0, low_open=True)
    refine = checks.non_negative_int("refine", refine)
    batch_size = checks.positive_int("batch_size", batch_size)
    model = _check_models(model)[0]
    device = next(model.parameters()).device
    x, y = _check_against([model], x, y, normalization)
    model = on_pixels(model, normalization)
    deltas = []
    with _eval_mode(model):
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
            deltas.append(_deepfool(model, xb, yb, norm, steps, overshoot, refine).cpu())
    return torch.cat(deltas)


def holdout_ensemble(train_set, count, model="mlp", *, seed=0, model_options=None, **fit_options):
    """Train ``count`` models, each on a random half of ``train_set``: the holdout ensemble behind the conf metric
    of Carlini et al. (2019), which scores an example with models that did not see it.

    Models come in pairs trained on complementary halves, so with two or more models every example is held out by
    at least one. Returns ``(models, held_out)``, ``held_out`` a boolean count × N mask (True: model m did not train
    on example i), ready for :func:`confidence`. ``model`` and ``model_options`` go to :func:`memlib.models.build`,
    ``fit_options`` to :func:`memlib.ensemble.fit_many`, which trains them together; model m uses seed ``seed + m``.
    """
    count = checks.positive_int("count", count)
    seed = checks.non_negative_int("seed", seed)
    checks.non_empty("train_set", train_set)
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
    _check_norm(norm)
    checks.positive_int("steps", steps)
    checks.positive_int("batch_size", batch_size)
    _check_against(models, x, y, normalization)
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
    batch_size = checks.positive_int("batch_size", batch_size)
    x, y = _check_against(models, x, y, normalization)
    if held_out is not None:
        held_out = torch.as_tensor(held_out)
        if held_out.dtype != torch.bool or held_out.shape != (len(models), len(x)):
            raise ValueError(f"held_out must be a boolean mask of shape (models, N) = {(len(models), len(x))}; "
                             f"got {held_out.dtype} of shape {tuple(held_out.shape)}")
    probabilities = _softmax_outputs(models, x, batch_size, normalization)
    correct = probabilities.gather(2, y.view(1, -1, 1).expand(len(models), -1, 1)).squeeze(2)
    if held_out is None:
        return correct.mean(0)
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
    batch_size = checks.positive_int("batch_size", batch_size)
    x = _check_against(models, x, None, normalization)[0]
    probabilities = _softmax_outputs(models, x, batch_size, normalization)
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
    if percentiles.dim() != 1 or not bool(((percentiles >= 0) & (percentiles <= 1)).all()):
        raise ValueError("percentiles must be 1-D with values in [0, 1] (see percentile_within_class); NaN is "
                         "not a percentile")
    count = checks.positive_int("count", count)
    width = 1 / count if width is None else checks.fraction("width", width, low_open=True)
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
    for model in models:
        if not isinstance(model, torch.nn.Module) or next(iter(model.parameters()), None) is None:
            raise ValueError(f"models must be torch.nn.Module networks with parameters; got "
                             f"{type(model).__name__}")
    return models


def _check_inputs(x, y=None):
    if x is not None:
        x = torch.as_tensor(x)
        if x.dim() < 2 or not x.dtype.is_floating_point:
            raise ValueError(f"x must be a float tensor of N examples (N × ...); got shape {tuple(x.shape)}, "
                             f"dtype {x.dtype}")
    if y is not None:
        y = checks.labels("y", y, None, length=None if x is None else len(x))
    return x, y


def _check_against(models, x, y, normalization):
    """``x`` and ``y`` checked (:func:`_check_inputs`) and against every model: one forward pass each on the
    pixels, and the labels within its outputs."""
    x, y = _check_inputs(x, y)
    checks.non_empty("x", x)
    for model in models:
        width = checks.output_width("x", on_pixels(model, normalization), x)
        if y is not None:
            checks.labels("y", y, width)
    return x, y


METRICS = ("adv", "conf", "agr")


@cache.recipe
def score_examples(dataset, model="mlp", *, scorers, fit, adv_steps=50, seed=0, model_options=None):
    """Every training example of ``dataset`` (a name for :func:`memlib.data.load`) scored by the adv, conf and agr
    metrics of Carlini et al. (2019), from a :func:`holdout_ensemble` of ``scorers`` models (``model``,
    ``model_options``; ``fit``: the keyword arguments of :func:`memlib.ensemble.fit_many`).

    Returns one row per example: ``label``, ``rare`` (the dataset's ``meta["rare"]``, False where it has none),
    ``adv``, ``conf``, ``agr`` and ``percentile``, the adv percentile within the example's class."""
    train_set = data.load(dataset, "train", download=True)
    ensemble, held_out = holdout_ensemble(train_set, scorers, model, seed=seed, model_options=model_options, **fit)
    x, y, normalization = train_set.x, train_set.y, train_set.normalization
    adv = adv_distance(ensemble, x, y, steps=adv_steps, normalization=normalization)
    import pandas as pd

    return pd.DataFrame({
        "label": y.tolist(), "rare": _rare(train_set).tolist(), "adv": adv.tolist(),
        "conf": confidence(ensemble, x, y, held_out=held_out, normalization=normalization).tolist(),
        "agr": agreement(ensemble, x, normalization=normalization).tolist(),
        "percentile": percentile_within_class(adv, y).tolist()})


@cache.recipe
def train_on_slices(dataset, model="mlp", *, slices, slice_size, seeds, fit, scorers, adv_steps=50,
                    model_options=None):
    """The experiment of Carlini et al. (2019, Fig. 6): cut each class's adv ranking of ``dataset`` (from
    :func:`score_examples` with ``scorers``, ``adv_steps``) into ``slices`` consecutive slices of ``slice_size``
    examples (None: a partition), train a fresh ``model`` on each, for each of ``seeds`` seeds; as the baseline, the
    same on random class-balanced subsets of the same size. All models train together (``fit_many``).

    Returns one row per seed and slice: ``seed``, ``slice`` (its mean percentile, in %), ``size``, the test accuracy
    of the slice's model (``adv``) and of the random subset's (``random``), and the same on the test set's rare
    examples (``adv_rare``, ``random_rare``; NaN where the dataset marks none)."""
    import pandas as pd

    train_set, test_set = data.train_test(dataset, download=True)
    percentile = torch.tensor(score_examples(dataset, model, scorers=scorers, fit=fit, adv_steps=adv_steps,
                                             model_options=model_options).percentile.values)
    width = slice_size / len(train_set) if slice_size else None
    pairs = []
    for seed in range(seeds):
        shuffled = torch.rand(len(train_set), generator=torch.Generator().manual_seed(1000 + seed))
        random_slices = _slices(percentile_within_class(shuffled, train_set.y), slices, width)
        pairs += [(seed, index, other) for index, other in zip(_slices(percentile, slices, width), random_slices)]
    networks = [build(model, train_set.num_classes, train_set.shape, seed=seed, **(model_options or {}))
                for seed, *_ in pairs for _ in range(2)]
    fit_many(networks, train_set, seeds=[seed for seed, *_ in pairs for _ in range(2)],
             subsets=[index for _, *both in pairs for index in both], **fit)
    hits = [(evaluate(network, test_set)[0].cpu() == test_set.y).float() for network in networks]
    rare = _rare(test_set) if "rare" in test_set.meta else None

    def on_rare(h):
        return float(h[rare].mean()) if rare is not None else math.nan

    return pd.DataFrame([dict(seed=seed, slice=round(100 * float(percentile[index].mean())), size=len(index),
                              adv=float(a.mean()), random=float(r.mean()), adv_rare=on_rare(a), random_rare=on_rare(r))
                         for (seed, index, _), a, r in zip(pairs, hits[0::2], hits[1::2])])


_slices = slices  # the function, inside the recipe whose argument is also called ``slices``


def extremes(percentile, y, per_class=2) -> list:
    """The indices of each class's ``per_class`` lowest-ranked examples, then of its ``per_class`` highest, ordered
    rank by rank and class by class: the rows of an image grid with one column per class (Carlini et al. 2019,
    Fig. 1 shows such outliers and prototypes)."""
    percentile, y = _float64(percentile), _check_inputs(None, y)[1].cpu()
    classes = y.unique().tolist()
    ranked = [torch.nonzero(y == c).flatten()[torch.sort(percentile[y == c], stable=True).indices] for c in classes]
    positions = list(range(per_class)) + list(range(-per_class, 0))
    return [int(ranked[c][p]) for p in positions for c in range(len(classes))]


def metric_summary(scores, flag="rare", fraction=0.2) -> list:
    """For every dataset (``scores``: name → :func:`score_examples` frame) and metric of :data:`METRICS`: its median
    and 5th and 95th percentiles, its Spearman rank correlation with each metric (the paper finds its metrics highly
    correlated, Carlini et al. 2019, abstract), and how many of the examples marked ``flag`` rank in the lowest
    ``fraction`` of their class by it (``flagged_low`` of ``flagged``; None where the dataset marks none)."""
    rows = []
    for name, frame in scores.items():
        correlation = frame[list(METRICS)].corr("spearman")
        flagged = frame[flag].astype(bool)
        for metric in METRICS:
            ranks = percentile_within_class(torch.tensor(frame[metric].values), torch.tensor(frame.label.values))
            low = (ranks < fraction).numpy()
            rows.append(dict(dataset=name, metric=metric, median=frame[metric].median(),
                             low=frame[metric].quantile(0.05), high=frame[metric].quantile(0.95),
                             **{f"rho_{other}": correlation.loc[metric, other] for other in METRICS},
                             flagged=int(flagged.sum()) or None,
                             flagged_low=int((low & flagged.to_numpy()).sum()) if flagged.any() else None))
    return rows


def slice_summary(runs) -> dict:
    """What the slices of :func:`train_on_slices` (``runs``, one dataset) show, per seed: the test accuracy of the
    outlier slice (``outliers``), of the best slice by mean (``best``, at percentile ``best_slice``), of the most
    typical slice (``typical``), and each seed's mean over its random subsets (``random``); the same on rare test
    examples (``*_rare``); and the ``shape``: "outliers best", "middle best" or "typical best" (Carlini et al. 2019,
    Fig. 6: outliers best on MNIST, the middle on Fashion-MNIST and CIFAR-10)."""
    means = runs.groupby("slice").adv.mean()
    first, last, best = means.index[0], means.index[-1], means.idxmax()
    at = {"outliers": first, "best": best, "typical": last}
    summary = {key: runs[runs.slice == s].adv.tolist() for key, s in at.items()}
    summary.update({f"{key}_rare": runs[runs.slice == s].adv_rare.tolist() for key, s in at.items()})
    summary.update(random=runs.groupby("seed").random.mean().tolist(), best_slice=int(best),
                   random_rare=runs.groupby("seed").random_rare.mean().tolist(),
                   shape="outliers best" if best == first else "typical best" if best == last else "middle best")
    return summary


def _rare(dataset) -> torch.Tensor:
    return dataset.meta.get("rare", torch.zeros(len(dataset), dtype=torch.bool)).cpu().bool()


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
