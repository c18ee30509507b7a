"""Iterative magnitude pruning with rewinding: the lottery-ticket procedure (Frankle & Carbin 2019; Frankle et al.
2020), on the masks of ``torch.nn.utils.prune``.

A pruned layer keeps its dense parameter as ``weight_orig`` and a 0/1 buffer ``weight_mask``; a forward pre-hook
sets ``weight = weight_orig * weight_mask`` before every forward pass. The optimizer updates ``weight_orig``: the
gradient of a masked entry is zero, and weight decay only shrinks it, so the weight the network uses stays exactly
zero. Which weights are prunable, and the global pruning rule (one magnitude threshold across the prunable layers,
``fraction`` of the *remaining* weights per round), follow open_lth's ``sparse_global`` strategy.
"""
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import prune

from memlib import checks

SCOPES = ("global", "layerwise")
CRITERIA = ("magnitude", "random")


def prunable(model, exclude_output=None):
    """The ``(module, "weight")`` pairs IMP may prune: the weights (not biases) of every conv and linear layer, as
    open_lth's ``prunable_layer_names`` (Frankle & Carbin 2019). ``exclude_output`` leaves out the last linear
    layer; by default it does so for fully-connected networks (mlp, lenet300), as open_lth's LeNet-300-100 does
    (``pruning_layers_to_ignore="fc.weight"``), and prunes every layer of a network with convolutions (ResNet-20)."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    if exclude_output is None:
        exclude_output = not any(isinstance(m, nn.Conv2d) for m in layers)
    linear = [m for m in layers if isinstance(m, nn.Linear)]
    if exclude_output and linear:
        layers = [m for m in layers if m is not linear[-1]]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no prunable (conv or linear) layer")
    return [(m, "weight") for m in layers]


def effective_weight(module, name="weight"):
    """The weight the layer computes with: ``<name>_orig * <name>_mask`` once pruned, else the parameter."""
    if prune.is_pruned(module) and hasattr(module, f"{name}_mask"):
        return getattr(module, f"{name}_orig") * getattr(module, f"{name}_mask")
    return getattr(module, name)


def mask(module, name="weight"):
    """The layer's 0/1 mask as a boolean tensor (all ones before it is pruned)."""
    if hasattr(module, f"{name}_mask"):
        return getattr(module, f"{name}_mask").bool()
    return torch.ones_like(getattr(module, name), dtype=torch.bool)


def masks(model, pairs=None) -> dict:
    """Every prunable layer's boolean mask (on the CPU), keyed by the layer's name in ``model``."""
    return _named_masks(model, pairs or prunable(model))


def _named_masks(model, pairs):
    names = {module: name for name, module in model.named_modules()}
    return {f"{names[m]}.{n}": mask(m, n).cpu() for m, n in pairs}


def sparsity(model, pairs=None) -> float:
    """The fraction of the prunable weights that are masked to zero (0 for a dense network)."""
    kept = [mask(m, n) for m, n in (pairs or prunable(model))]
    return 1.0 - sum(int(k.sum()) for k in kept) / sum(k.numel() for k in kept)


def prune_magnitude(model, fraction, *, scope="global", pairs=None):
    """Remove ``round(fraction · remaining)`` of the remaining prunable weights, those of smallest magnitude: with
    ``scope="global"`` against one threshold over all prunable layers (open_lth's ``sparse_global``; Frankle et al.
    2020), with ``"layerwise"`` the same fraction of each layer (Frankle & Carbin 2019, Sec. 2). Masks compose with
    earlier rounds: pruned weights stay pruned."""
    fraction, scope = _check_fraction(fraction), _check_scope(scope)
    pairs = pairs or prunable(model)
    _prune(pairs, _counts(pairs, fraction, scope), "magnitude", scope)


def prune_random(model, fraction, *, scope="global", seed=0, pairs=None):
    """Remove as many weights as :func:`prune_magnitude` would, but chosen uniformly at random among the remaining
    ones (globally, or the same count in each layer): the random-pruning baseline of Frankle & Carbin 2019 (Sec. 2)
    and open_lth's ``randomly_prune`` branch. The choice is drawn from a generator seeded with ``seed``."""
    fraction, scope = _check_fraction(fraction), _check_scope(scope)
    seed = checks.non_negative_int("seed", seed)
    pairs = pairs or prunable(model)
    counts = _counts(pairs, fraction, scope)
    _prune(pairs, counts, "random", scope, torch.Generator().manual_seed(seed))


def shuffle_masks(masks, seed=0) -> dict:
    """``masks`` (layer name → boolean mask, as :func:`masks` returns) with each layer's entries permuted at random:
    every layer keeps its count of kept weights, at random positions. open_lth's layerwise random-pruning baseline
    (``lottery/branch/randomly_prune.py``, ``utils/tensor_utils.py``: layer i of the sorted names shuffled with
    seed + i), the control that keeps the ticket's per-layer sparsity."""
    seed = checks.non_negative_int("seed", seed)
    shuffled = {}
    for i, name in enumerate(sorted(masks)):
        flat = torch.as_tensor(masks[name]).bool().flatten()
        order = torch.randperm(len(flat), generator=torch.Generator().manual_seed(seed + i))
        shuffled[name] = flat[order].view_as(torch.as_tensor(masks[name]))
    return {name: shuffled[name] for name in masks}


def set_masks(model, chosen, pairs=None):
    """Give every prunable layer of ``model`` exactly the mask ``chosen[name]`` (layer name → boolean mask, as
    :func:`masks` returns), whatever it had before."""
    pairs = pairs or prunable(model)
    names = {module: name for name, module in model.named_modules()}
    keys = {f"{names[m]}.{n}" for m, n in pairs}
    if keys != set(chosen):
        raise ValueError(f"the masks are for layers {sorted(chosen)}, but the model's prunable layers are "
                         f"{sorted(keys)}")
    for module, name in pairs:
        given = torch.as_tensor(chosen[f"{names[module]}.{name}"])
        if given.shape != getattr(module, name).shape:
            raise ValueError(f"the mask for {names[module]}.{name} has shape {tuple(given.shape)}; the layer's "
                             f"weight has {tuple(getattr(module, name).shape)}")
        given = given.to(getattr(module, name).device, getattr(module, name).dtype)
        if hasattr(module, f"{name}_mask"):
            getattr(module, f"{name}_mask").copy_(given)
        else:
            prune.custom_from_mask(module, name, given)
    _refresh(model)


def rewind_to(model, state):
    """Load ``state`` (a dense ``state_dict``, e.g. a :class:`memlib.train.Checkpoints` state from before pruning)
    into ``model``, keeping its masks: each pruned layer's saved ``weight`` goes into its ``weight_orig``; all other
    parameters and buffers (biases, batch-norm statistics) are restored as they were. Rewinding to iteration 0 is
    Frankle & Carbin 2019's reset; to iteration k, Frankle et al. 2020's."""
    current = model.state_dict()
    target = {}
    for key, value in state.items():
        key = key if key in current else f"{key}_orig"
        if key not in current:
            raise ValueError(f"the state has {key!r}, which the model lacks: was it saved from another architecture?")
        target[key] = value
    target.update({key: value for key, value in current.items() if key.endswith("_mask")})
    missing = set(current) - set(target)
    if missing:
        raise ValueError(f"the state lacks {sorted(missing)}")
    model.load_state_dict(target)
    _refresh(model)


@dataclass
class Result:
    """What :func:`imp` returns: per round (0 = dense) a record dict, the masks of that round's network, and the
    trained model of the last round."""

    records: list
    masks: list = field(default_factory=list)
    model: nn.Module = None

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.records)


def imp(build_model, train, *, rounds, fraction=0.2, rewind="init", criterion="magnitude", scope="global",
        noisy=None, measure=None, seed=0, exclude_output=None, masks=None) -> Result:
    """Iterative magnitude pruning (Frankle & Carbin 2019, Sec. 1, "identifying winning tickets"): train; prune
    ``fraction`` of the remaining prunable weights; reset the survivors; train again; ``rounds`` times.

    ``build_model(seed)`` returns a fresh network; ``train(model, callbacks, start_step)`` trains it in place and
    returns its :class:`memlib.train.History` (e.g. a closure over :func:`memlib.train.fit`, passing ``start_step``
    on): after a rewind to iteration k, ``start_step`` is k and the run trains its remaining T − k steps with the
    schedule continued, as open_lth does (``lottery/runner.py``); otherwise it is 0. ``rewind`` chooses the reset:
    ``"init"`` (the initial weights, Frankle & Carbin 2019), an int k (the weights after k optimizer steps of the
    dense run, Frankle et al. 2020), ``"random"`` (freshly drawn weights every round, their random
    reinitialization control) or None (no reset: the survivors keep their trained values and the schedule starts
    again, the learning-rate rewinding of Renda et al. 2020). ``criterion="random"`` prunes at random instead of
    by magnitude (the random-pruning control). After round r the prunable weights kept are ``round(N · (1 − fraction)^r)`` (global) or per layer
    ``round(n_l · (1 − fraction)^r)`` (layerwise), so that rounding errors do not add up over rounds.

    Each round records the share of prunable weights remaining, the final and best test accuracy and, given
    ``noisy`` (:class:`memlib.noise.NoisyLabels` the network trains on), the final clean, memorized and true-label
    training accuracies of :func:`memlib.noise.timeline`; ``measure(model)`` may add numbers of its own (a dict),
    e.g. the test accuracy of a model that must be evaluated in a particular mode. Every argument is checked
    before the dense run starts.

    ``masks``: train given masks instead of finding them, one per round (``rounds + 1`` of them, as
    :attr:`Result.masks` holds; round 0 dense). The controls of Frankle & Carbin 2019 take a ticket's masks:
    ``rewind="random", masks=ticket.masks`` re-initializes and trains exactly the masks a rewound run found
    (open_lth's ``randomly_reinitialize`` branch); ``masks=[shuffle_masks(m, seed) for m in ticket.masks]`` trains
    random masks with the ticket's per-layer sparsity (its ``randomly_prune`` branch).
    """
    from memlib import noise as noise_module
    from memlib.train import Checkpoints

    for name, function in (("build_model", build_model), ("train", train), ("measure", measure)):
        if not callable(function) and not (name == "measure" and function is None):
            raise ValueError(f"{name} must be a function (see the docstring); got {type(function).__name__}")
    fraction, scope = _check_fraction(fraction), _check_scope(scope)
    rounds = checks.non_negative_int("rounds", rounds)
    checks.one_of("criterion", criterion, CRITERIA)
    step = _rewind_step(rewind)
    seed = checks.non_negative_int("seed", seed)
    if exclude_output is not None and not isinstance(exclude_output, bool):
        raise ValueError(f"exclude_output must be None, True or False; got {exclude_output!r}")
    if masks is not None and len(masks) != rounds + 1:
        raise ValueError(f"masks must hold rounds + 1 = {rounds + 1} masks (round 0 dense); got {len(masks)}")
    model = build_model(seed)
    pairs = prunable(model, exclude_output)
    sizes = [m.weight.numel() for m, _ in pairs]
    checkpoints = Checkpoints([] if step in (None, "random") else [step])
    result = Result([])
    for r in range(rounds + 1):
        if r > 0:
            if masks is not None:
                set_masks(model, masks[r], pairs)
            else:
                kept = _targets(sizes, (1 - fraction) ** r, scope)
                _prune(pairs, _removals(pairs, kept, scope), criterion, scope,
                       torch.Generator().manual_seed(seed * 1000 + r))
            if step == "random":
                rewind_to(model, build_model(seed + 10_000 * r).state_dict())
            elif step is not None:
                rewind_to(model, checkpoints.states[step])
        start = step if r > 0 and isinstance(step, int) else 0
        history = train(model, [checkpoints] if r == 0 else [], start)
        if r == 0 and isinstance(step, int) and step not in checkpoints.states:
            raise ValueError(f"rewind={rewind} is past the end of training ({history.epochs} epochs)")
        record = {"round": r, "remaining": 1.0 - sparsity(model, pairs),
                  "test": float(history.test_accuracy[-1]), "best_test": float(history.test_accuracy.max())}
        if noisy is not None:
            last = noise_module.timeline(history, noisy).iloc[-1]
            record.update(clean=float(last["clean"]), memorized=float(last["memorized"]),
                          true_label=float(last["true_label"]))
        if measure is not None:
            record.update(measure(model))
        result.records.append(record)
        result.masks.append(_named_masks(model, pairs))
    result.model = model
    return result


def _rewind_step(rewind):
    """The checkpoint step to rewind to, "random" or None (no reset)."""
    if rewind == "init":
        return 0
    if rewind in ("random", None):
        return rewind
    try:
        return checks.non_negative_int("rewind", rewind)
    except ValueError:
        raise ValueError(f"rewind must be 'init', 'random', None or a non-negative iteration (an integer); got "
                         f"{rewind!r}") from None


def _check_fraction(fraction):
    return checks.fraction("fraction (of the remaining weights to prune)", fraction, low_open=True, high_open=True)


def _check_scope(scope):
    return checks.one_of("scope", scope, SCOPES)


def _counts(pairs, fraction, scope):
    """How many weights one round removes: round(fraction · remaining), in all or in each layer."""
    remaining = [int(mask(m, n).sum()) for m, n in pairs]
    if scope == "global":
        return round(fraction * sum(remaining))
    return [round(fraction * k) for k in remaining]


def _targets(sizes, share, scope):
    """The weights to keep after pruning to ``share`` of the original count (in all or in each layer)."""
    return round(share * sum(sizes)) if scope == "global" else [round(share * n) for n in sizes]


def _removals(pairs, kept, scope):
    remaining = [int(mask(m, n).sum()) for m, n in pairs]
    if scope == "global":
        return sum(remaining) - kept
    return [have - keep for have, keep in zip(remaining, kept)]


def _prune(pairs, counts, criterion, scope, generator=None):
    """Apply one round's masks through torch.nn.utils.prune: ``counts`` weights (globally, or per layer) removed
    among the remaining ones, by smallest magnitude or at random."""
    if criterion == "magnitude":
        scores = {pair: effective_weight(*pair).detach() for pair in pairs}
        if scope == "global":
            prune.global_unstructured(pairs, prune.L1Unstructured, importance_scores=scores, amount=counts)
        else:
            for pair, count in zip(pairs, counts):
                prune.l1_unstructured(*pair, amount=count, importance_scores=scores[pair])
    else:
        alive = [mask(*pair).flatten() for pair in pairs]
        if scope == "global":
            chosen = _random_removal(torch.cat(alive), counts, generator).split([len(a) for a in alive])
        else:
            chosen = [_random_removal(a, c, generator) for a, c in zip(alive, counts)]
        for (module, name), removed in zip(pairs, chosen):
            keep = ~removed.view_as(getattr(module, name))
            prune.custom_from_mask(module, name, keep.to(getattr(module, name).dtype))


def _random_removal(alive, count, generator):
    """A boolean vector marking ``count`` entries drawn uniformly among the True entries of ``alive``."""
    index = alive.nonzero().flatten()
    if count > len(index):
        raise ValueError(f"cannot remove {count} weights: only {len(index)} remain")
    order = torch.randperm(len(index), generator=generator)[:count].to(index.device)
    removed = torch.zeros_like(alive)
    removed[index[order]] = True
    return removed


def _refresh(model):
    """Recompute every pruned layer's ``weight`` attribute from its ``weight_orig`` and mask, as the forward
    pre-hook of torch.nn.utils.prune would."""
    for module in model.modules():
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, prune.BasePruningMethod):
                hook(module, None)


def example_tied_weights(model) -> list:
    """The weights around each example-tied layer of ``model`` (Maini et al. 2023, Sec. 4): for each layer and
    direction, ``incoming`` (each unit's row of the prunable layer feeding it; for a channel, its filter) and
    ``outgoing`` (its column of the next prunable layer), the magnitudes ``|w|`` of the generalization units' and
    of the memorization units' effective weights (``general``, ``memory``, flat CPU tensors) and the share of each
    that the current masks keep (``general_kept``, ``memory_kept``), and ``memory_larger``, the chance that a
    memorization weight is larger than a generalization weight (0.5: no difference; ties count as ranked). Used to ask whether memorization weights are
    small and whether magnitude pruning removes them first (chapter 9)."""
    from memlib import dropout

    layers = [module for module, _ in prunable(model, exclude_output=False)]
    links, last, pending = [], None, []
    for module in model.modules():
        if module in layers:
            links += [(tied, layers[before], module) for tied, before in pending]
            pending, last = [], layers.index(module)
        elif isinstance(module, dropout.ExampleTiedDropout):
            pending.append((module, last))
    rows = []
    for number, (tied, before, after) in enumerate(links, 1):
        rows += [_unit_row(number, "incoming", before, 0, tied), _unit_row(number, "outgoing", after, 1, tied)]
    if not rows:
        raise ValueError(f"{type(model).__name__} has no example-tied layer between two prunable layers")
    return rows


def _unit_row(number, direction, layer, dim, tied):
    from memlib import dropout

    general = dropout.generalization_units(tied).nonzero().flatten().cpu()
    memory = dropout.memorization_units(tied).nonzero().flatten().cpu()
    weight, kept = effective_weight(layer).detach().abs().cpu(), mask(layer).detach().cpu()
    pick = lambda t, units: t.index_select(dim, units).flatten()  # noqa: E731
    general_w, memory_w = pick(weight, general), pick(weight, memory)
    ranks = torch.cat([general_w, memory_w]).argsort().argsort().double()
    larger = (ranks[len(general_w):].mean() - (len(memory_w) - 1) / 2) / len(general_w)
    return dict(layer=number, direction=direction, general=general_w, memory=memory_w,
                general_kept=pick(kept, general).float().mean().item(),
                memory_kept=pick(kept, memory).float().mean().item(), memory_larger=float(larger))


def nearest_round(records, share) -> int:
    """The round of an :func:`imp` record frame (``round``, ``remaining`` columns) whose share of remaining
    weights is closest to ``share`` on a log scale (Frankle & Carbin 2019 compare tickets at matching sparsity)."""
    import numpy as np

    if not 0 < share <= 1:
        raise ValueError(f"share (of weights remaining) must be in (0, 1]; got {share}")
    shares = records.groupby("round")["remaining"].first()
    return int((np.log(shares) - np.log(share)).abs().idxmin())


def sparsest_matching(records, tolerance=0.01):
    """Per seed of an :func:`imp` record frame (``seed``, ``round``, ``remaining``, ``test``): the smallest share
    of remaining weights at which the test accuracy is within ``tolerance`` of that seed's dense network in every
    round up to it; "matching" in the sense of Frankle et al. (2020, Sec. 4). A Series indexed by seed."""
    import pandas as pd

    if not tolerance >= 0:
        raise ValueError(f"tolerance (of test accuracy) must be non-negative; got {tolerance}")
    shares = {}
    for seed, run in records.groupby("seed"):
        run = run.sort_values("round")
        ok = (run["test"] >= run["test"].iloc[0] - tolerance).cumprod().astype(bool)
        shares[seed] = float(run["remaining"][ok].min())
    return pd.Series(shares, name="remaining")


def variant_summary(records, share=0.05, tolerance=0.01):
    """The comparison of Frankle & Carbin (2019, Fig. 3 and 4) per variant and seed of a record frame with
    ``variant`` and ``seed`` columns (what :func:`memlib.recipes.lottery_tickets` returns): remaining share and
    test accuracy at the round nearest ``share`` (:func:`nearest_round`) and at the last round, the change from
    the seed's dense network at ``share``, and :func:`sparsest_matching`. One row per variant and seed, variants
    in their order in ``records``."""
    import pandas as pd

    near, last = nearest_round(records, share), int(records["round"].max())
    rows = []
    for (variant, seed), run in records.groupby(["variant", "seed"], sort=False):
        at = run.set_index("round")
        rows.append({"variant": variant, "seed": seed, "dense": at.test[0],
                     "remaining_near": at.remaining[near], "test_near": at.test[near],
                     "remaining_last": at.remaining[last], "test_last": at.test[last],
                     "change_near": at.test[near] - at.test[0],
                     "sparsest_matching": sparsest_matching(run, tolerance).iloc[0]})
    return pd.DataFrame(rows)


def ticket_effects(rounds, units) -> dict:
    """Effect sizes, one value per seed, of whether tickets cut memorization out (chapter 9's questions), from the
    frames of :func:`memlib.recipes.ticket_controls` over seeds and networks (``rounds`` with a ``network``
    column; ``units``, the example-tied network's :func:`example_tied_weights` rows per round):

    - ``("weights", network)``: 1 − mean |w| of the memorization units' weights / the generalization units', dense;
    - ``("pruning", network)``: 1 − share of the memorization units' weights the last ticket keeps / the
      generalization units' share;
    - ``("forgetting", network)``: share of the mislabeled examples' fit (w.r.t. their noisy labels) lost by the
      rewound ticket − lost by its random masks, from the dense run to the last round, for every network;

    each averaged over the example-tied layers and directions where it applies. Also ``("lost", network,
    variant)``: the fit each variant loses, and ``("test_loss", network)``: the ticket's mean loss of test accuracy.
    """
    last = int(rounds["round"].max())

    def at(network, variant, r):
        rows = rounds[(rounds.network == network) & (rounds.variant == variant) & (rounds["round"] == r)]
        return rows.set_index("seed").sort_index()

    effects = {}
    for network in dict.fromkeys(rounds.network):
        for variant in ("ticket", "random masks"):
            effects["lost", network, variant] = at(network, variant, 0).memorized - at(network, variant, last).memorized
        effects["forgetting", network] = effects["lost", network, "ticket"] - effects["lost", network, "random masks"]
        effects["test_loss", network] = float((at(network, "ticket", 0).test - at(network, "ticket", last).test).mean())
    dense, sparse = units[units["round"] == 0], units[(units["round"] == last) & (units.general_kept > 0)]
    tied = "example-tied"
    effects["weights", tied] = (1 - dense.memory_mean / dense.general_mean).groupby(dense.seed).mean()
    effects["pruning", tied] = (1 - sparse.memory_kept / sparse.general_kept).groupby(sparse.seed).mean()
    return effects
