"""Experiments that several chapters run, each one cached function of plain settings returning tidy frames
(ARCHITECTURE.md, "Chapters", step 2). A researcher runs them on a dataset by name, or calls the pieces they are
made of (``noise``, ``models.build``, ``train.fit``) on their own data.
"""
import math

import pandas as pd
import torch

from memlib import cache, checks, data, early_phase, elr, gradients, models, noise, pruning, train
from memlib import dropout as dropout_layers

PROBES = (None, "mislabeled", "random")


@cache.recipe
def noisy_label_run(dataset, model, *, noise_rate, seed, fit, model_options=None, examples=None, elr_options=None,
                    probe=None, dropout=None, dropout_rates=None, rewind=None, path_points=11) -> dict:
    """One network trained on ``dataset`` with ``noise_rate`` of its training labels flipped to another class
    (:func:`memlib.noise.symmetric`), as in Arpit et al. (2017) and Maini et al. (2023, Sec. 3).

    ``fit``: the keyword arguments of :func:`memlib.train.fit` (epochs, lr, ...); ``model_options`` those of
    :func:`memlib.models.build`; ``examples``: at most this many examples of each split. ``elr_options``: train
    with :class:`memlib.elr.ELRLoss` instead of cross-entropy (Liu et al. 2020). ``probe``: ride a
    :class:`memlib.gradients.GradientProbe` along, comparing the mislabeled examples with the clean ones
    ("mislabeled") or, as a control, a random subset of the same size with the rest ("random"). ``dropout``: the
    network's dropout kind with its ``dropout_rates`` (:func:`memlib.models.build`; Maini et al. 2023, Table 3);
    an example-tied network trains without a test set (held-out examples own no masks).

    ``rewind``: also record the early phase of the run (Frankle, Schwab & Morcos 2020, Fig. 2): the gradient norm
    and the distance from initialization at every iteration, and, for every iteration k of ``rewind``, the error
    barrier between two copies trained on from the weights at k with the data orders 100 + 2·seed and
    101 + 2·seed, on ``path_points`` points of the line between them (:func:`memlib.early_phase.stability`;
    Frankle et al. 2020); with the forgetting events of the clean and the mislabeled examples (Toneva et al. 2019).

    Returns ``{"timeline": frame, "gradients": frame or None, "flagged": bool tensor or None}``: the memorization
    timeline per epoch (:func:`memlib.noise.timeline`, with ``seed`` and ``noise`` columns), the probe's record,
    and, with ELR, which examples its targets flag as mislabeled; also ``"is_noisy"``, the planted noise, and
    ``"early_phase"`` (None without ``rewind``): ``gradient_norms``, ``distances`` (one per iteration),
    ``initial_norm`` (‖w_0‖), ``stability`` (a frame, one row per k), ``forgetting``
    (:func:`memlib.early_phase.forgetting_summary`, a ``group`` column) and ``steps_per_epoch``. With
    ``dropout``, ``"predictions"``: the trained network's predicted classes, ``{"train": {mode: tensor}, "test":
    {...}}`` (an example-tied network in its train, test and drop modes, and on the training set through another
    example's units, ``"other"``: :func:`memlib.dropout.other_mask_predictions`; the baselines in eval mode,
    ``"eval"``), and ``"modes"``, their accuracies (:func:`memlib.dropout.mode_accuracies`); else None.
    """
    if probe not in PROBES:
        raise ValueError(f"probe must be one of {PROBES}; got {probe!r}")
    train_set, test_set = data.train_test(dataset, download=True, examples=examples)
    steps_per_epoch = math.ceil(len(train_set) / fit["batch_size"])
    if rewind is not None and not all(0 <= k < fit["epochs"] * steps_per_epoch for k in rewind):
        raise ValueError(f"the rewinding iterations {rewind} must lie inside the run's "
                         f"{fit['epochs'] * steps_per_epoch} iterations")
    noisy = noise.symmetric(train_set.y, noise_rate, train_set.num_classes, seed=seed)
    tied = dict(num_examples=len(train_set)) if dropout == "example_tied" else {}
    network = models.build(model, train_set.num_classes, train_set.shape, seed=seed, dropout=dropout,
                           **(dropout_rates or {}), **tied, **(model_options or {}))
    loss = elr.ELRLoss(len(train_set), train_set.num_classes, **elr_options) if elr_options else None
    probed = _probed_subset(noisy.is_noisy, probe, seed) if probe else None
    callbacks = [gradients.GradientProbe(probed)] if probe else []
    recorders = ([early_phase.GradientNorms(), early_phase.DistanceFromInit(), train.Checkpoints(rewind)]
                 if rewind is not None else [])
    history = train.fit(network, train_set, labels=noisy, test=None if tied else test_set, loss=loss, seed=seed,
                        callbacks=callbacks + recorders, **fit)
    tag = dict(seed=seed, noise=noise_rate)
    predictions = _predictions(network, train_set, test_set, tied) if dropout else None
    return {"timeline": noise.timeline(history, noisy).assign(**tag),
            "gradients": callbacks[0].to_frame().assign(**tag) if probe else None,
            "flagged": loss.flag_mislabeled(noisy) if loss is not None else None,
            "is_noisy": noisy.is_noisy, "predictions": predictions,
            "modes": dropout_layers.mode_accuracies(predictions, noisy, test_set.y).assign(**tag) if dropout else None,
            "early_phase": None if rewind is None else _early_phase(
                network, recorders, history, noisy, (train_set, test_set), seed=seed, fit=fit,
                path_points=path_points, steps_per_epoch=steps_per_epoch, tag=tag)}


def _early_phase(network, recorders, history, noisy, splits, *, seed, fit, path_points, steps_per_epoch, tag):
    """The ``"early_phase"`` record of :func:`noisy_label_run`, from its recorders and its trained network."""
    norms, distances, checkpoints = recorders
    stability = early_phase.stability(network, checkpoints.states, *splits, labels=noisy, points=path_points,
                                      seeds=(100 + 2 * seed, 101 + 2 * seed), **fit)
    forgetting = early_phase.forgetting_summary(history.predictions, noisy.labels,
                                                {"clean": ~noisy.is_noisy, "mislabeled": noisy.is_noisy})
    return {"gradient_norms": norms.values, "distances": distances.values, "initial_norm": distances.initial_norm,
            "stability": stability.assign(**tag), "steps_per_epoch": steps_per_epoch,
            "forgetting": forgetting.rename_axis("group").reset_index().assign(**tag)}


def _predictions(network, train_set, test_set, tied):
    """The trained network's predictions on both splits, per example-tied mode (or in eval mode without them)."""
    if not tied:
        return {name: {"eval": train.evaluate(network, split)[0].cpu()}
                for name, split in (("train", train_set), ("test", test_set))}
    on_train = dropout_layers.predictions_by_mode(network, train_set)
    on_train["other"] = dropout_layers.other_mask_predictions(network, train_set)
    return {"train": on_train, "test": dropout_layers.predictions_by_mode(network, test_set, ("test", "drop"))}


def _probed_subset(is_noisy, probe, seed):
    """The probe's subset: the mislabeled examples, or a random subset of as many (seeded apart from the noise)."""
    if probe == "mislabeled":
        return is_noisy
    chosen = torch.randperm(len(is_noisy), generator=torch.Generator().manual_seed(10_000 + seed))
    return torch.zeros_like(is_noisy).index_fill_(0, chosen[:int(is_noisy.sum())], True)


def over_seeds(recipe, seeds, *args, **arguments) -> dict:
    """``recipe(*args, seed=s, **arguments)`` for every seed in ``seeds`` (a count: 0, 1, …; or a list), with the
    frames of the results concatenated in seed order and every other value listed: the runs a chapter averages
    over (mean ± sd over seeds)."""

    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed (a positive count or a non-empty list)")
    results = [recipe(*args, seed=seed, **arguments) for seed in seeds]
    return {key: pd.concat([r[key] for r in results], ignore_index=True)
            if isinstance(results[0][key], pd.DataFrame) else [r[key] for r in results] for key in results[0]}


TICKET_VARIANTS = {"ticket": "ticket, rewound", "random masks": "random masks, rewound",
                   "no rewinding": "ticket, not rewound"}


@cache.recipe
def ticket_controls(dataset, model, *, noise_rate, seed, fit, rounds, fraction, k, tied=None, exclude_output=None,
                    examples=None) -> dict:
    """Iterative magnitude pruning with rewinding to iteration ``k`` (Frankle et al. 2020; open_lth
    ``lottery/runner.py``) of a network trained with ``noise_rate`` symmetric label noise, and its two controls at
    the same sparsity: random masks of the ticket's per-layer sparsity, rewound to ``k`` (open_lth's
    ``randomly_prune``), and the ticket without rewinding (the survivors keep their trained values). ``tied``:
    example-tied dropout rates (``p_gen``, ``p_mem``; Maini et al. 2023) for the network, None for a standard one.

    Returns ``{"rounds": frame, "units": frame, "dense": rows}``: per variant and round (0 = dense) the weights
    remaining and the accuracy on the clean and mislabeled training examples (w.r.t. the noisy labels; an
    example-tied network through each example's own units) and on the test set (example-tied: ``test`` with all
    units, ``test_drop`` with the memorization units off); for the ticket of an example-tied network, per round,
    layer and direction, the share of each kind of unit's weights kept and their mean ``|w|``
    (:func:`memlib.pruning.example_tied_weights`); ``dense``: those rows of the dense network, with the magnitudes.
    """
    train_set, test_set = data.train_test(dataset, download=True, examples=examples)
    noisy = noise.symmetric(train_set.y, noise_rate, train_set.num_classes, seed=seed)
    options = dict(dropout="example_tied", num_examples=len(train_set), **tied) if tied else {}
    build, train_run = _imp_closures(model, train_set, seed=seed, fit=fit, labels=noisy, model_options=options)

    units = []

    def measure(network, record_units=False):
        if record_units:
            units.append(pruning.example_tied_weights(network))
        if not tied:
            return {"test": train.accuracy(network, test_set)}
        return {f"test{'' if mode == 'test' else '_drop'}": _accuracy_in_mode(network, test_set, mode)
                for mode in ("test", "drop")}

    common = dict(rounds=rounds, fraction=fraction, noisy=noisy, seed=seed, exclude_output=exclude_output)
    ticket = pruning.imp(build, train_run, rewind=k, measure=lambda m: measure(m, bool(tied)), **common)
    shuffled = [pruning.shuffle_masks(m, seed=10_000 * seed + 100 * r) for r, m in enumerate(ticket.masks)]
    randomly = pruning.imp(build, train_run, rewind=k, masks=shuffled, measure=measure, **common)
    plain = pruning.imp(build, train_run, rewind=None, measure=measure, **common)
    records = [result.to_frame().assign(variant=variant, seed=seed)
               for variant, result in zip(TICKET_VARIANTS, (ticket, randomly, plain))]
    kept = [{key: value for key, value in row.items() if key not in ("general", "memory")}
            | dict(round=r, general_mean=row["general"].mean().item(), memory_mean=row["memory"].mean().item(),
                   seed=seed) for r, rows in enumerate(units) for row in rows]
    return {"rounds": pd.concat(records, ignore_index=True), "units": pd.DataFrame(kept),
            "dense": units[0] if units else []}


def _accuracy_in_mode(network, test_set, mode):
    with dropout_layers.using_mode(network, mode):
        return train.accuracy(network, test_set)


@cache.recipe
def elr_comparison(dataset, model, *, noise_rates, seeds, fit, elr_options, examples=None, model_options=None) -> dict:
    """Cross-entropy against ELR on symmetrically noisy labels (Liu et al. 2020, Fig. 1 and Table 1): at every
    rate of ``noise_rates`` and seed of ``range(seeds)``, the same network trained with CE and with
    :class:`memlib.elr.ELRLoss` (``elr_options``), each run a :func:`noisy_label_run`.

    Returns ``{"timeline": frame, "flags": frame}``: every run's timeline with ``method`` ("CE" or "ELR"),
    ``noise`` and ``seed`` columns, and per ELR run (``noise``, ``seed``) the precision and recall of its flags
    (:func:`memlib.elr.flag_scores`).
    """

    seeds = checks.positive_int("seeds", seeds)
    timelines, flags = [], []
    for rate in noise_rates:
        for seed in range(seeds):
            for method, options in (("CE", None), ("ELR", elr_options)):
                run = noisy_label_run(dataset, model, noise_rate=rate, seed=seed, fit=fit,
                                      model_options=model_options, examples=examples, elr_options=options)
                timelines.append(run["timeline"].assign(method=method))
                if options:
                    flags.append(dict(noise=rate, seed=seed, **elr.flag_scores(run["flagged"], run["is_noisy"])))
    return {"timeline": pd.concat(timelines, ignore_index=True), "flags": pd.DataFrame(flags)}


# The variants of imp_run and the reset each gives memlib.pruning.imp ("rewind to k" rewinds to its step k).
IMP_RESETS = {"rewind to 0": "init", "rewind to k": None, "random re-init": "random", "random pruning": "init"}


def imp_label(variant, k) -> str:
    """A variant of :func:`imp_run` as a legend or a table names it: "rewind to k = 500" for a rewind to ``k``."""
    if variant not in IMP_RESETS:
        raise ValueError(f"variant must be one of {list(IMP_RESETS)}; got {variant!r}")
    return f"rewind to k = {k}" if variant == "rewind to k" else variant


@cache.recipe
def imp_run(dataset, model, *, variant, seed, fit, fraction, rounds, exclude_output, k=None, examples=None) -> dict:
    """One iterative-magnitude-pruning run (:func:`memlib.pruning.imp`) of ``model`` trained on ``dataset`` with
    the :func:`memlib.train.fit` recipe ``fit``, with one of the resets of Frankle & Carbin (2019) and Frankle et
    al. (2020) (``variant``, a key of :data:`IMP_RESETS`): "rewind to 0", "rewind to k" (the weights after ``k``
    steps; retraining runs the last T − k steps), and their two controls on the masks of the same seed's
    rewind-to-0 ticket, "random re-init" (freshly drawn weights) and "random pruning" (the masks shuffled within
    each layer, :func:`memlib.pruning.shuffle_masks`, from the initial weights).

    Returns ``{"records": frame, "masks": list}``: per round (0 = dense) the share of prunable weights remaining
    and the test accuracy, and the masks of every round.
    """
    if variant not in IMP_RESETS:
        raise ValueError(f"variant must be one of {list(IMP_RESETS)}; got {variant!r}")
    if (variant == "rewind to k") != (k is not None):
        raise ValueError(f"k (the rewind step) is given with 'rewind to k' and only then; got k={k!r} for {variant!r}")
    train_set, test_set = data.train_test(dataset, download=True, examples=examples)
    rewind = IMP_RESETS[variant] or checks.non_negative_int("k", k)
    masks = None
    if variant in ("random re-init", "random pruning"):
        masks = imp_run(dataset, model, variant="rewind to 0", seed=seed, fit=fit, fraction=fraction, rounds=rounds,
                        exclude_output=exclude_output, examples=examples)["masks"]
    if variant == "random pruning":
        masks = [pruning.shuffle_masks(m, seed=1000 * seed + r) for r, m in enumerate(masks)]
    build, retrain = _imp_closures(model, train_set, seed=seed, fit=fit, test=test_set)
    result = pruning.imp(build, retrain, rounds=rounds, fraction=fraction, rewind=rewind, seed=seed,
                         exclude_output=exclude_output, masks=masks)
    return {"records": result.to_frame(), "masks": result.masks}


def _imp_closures(model, train_set, *, seed, fit, labels=None, test=None, model_options=None):
    """:func:`memlib.pruning.imp`'s two closures for ``model`` on ``train_set``: a fresh network from a seed, and
    training with the :func:`memlib.train.fit` recipe ``fit`` (after a rewind to step k, its last T − k steps,
    as open_lth's ``lottery/runner.py`` does)."""
    def build(model_seed):
        return models.build(model, train_set.num_classes, train_set.shape, seed=model_seed, **(model_options or {}))

    def retrain(network, callbacks, start_step=0):
        return train.fit(network, train_set, labels=labels, test=test, seed=seed, callbacks=callbacks,
                         start_step=start_step, **fit)

    return build, retrain


@cache.recipe
def lottery_tickets(dataset, model, *, fit, fraction, rounds, exclude_output, seeds, k, variants, sweep,
                    examples=None) -> dict:
    """The lottery-ticket experiment of one network (Frankle & Carbin 2019, Fig. 3 and 4; Frankle et al. 2020,
    Fig. 4): every reset of ``variants`` (:func:`imp_run`, rewinding to step ``k``) for each seed of
    ``range(seeds)``, and, with seed 0, rewinding to every step of ``sweep``.

    Returns ``{"rounds": frame, "sweep": frame, "steps": int}``: the per-round records of every run with
    ``variant`` and ``seed`` columns; those of the sweep with a ``k`` column; the optimizer steps of one training.
    """

    common = dict(fit=fit, fraction=fraction, rounds=rounds, exclude_output=exclude_output, examples=examples)

    def records(variant, seed, step=None):
        run = imp_run(dataset, model, variant=variant, seed=seed, k=step, **common)
        return run["records"].assign(variant=variant, seed=seed)

    rounds_frame = pd.concat([records(v, s, k if v == "rewind to k" else None) for v in variants
                              for s in range(checks.positive_int("seeds", seeds))], ignore_index=True)
    swept = [records("rewind to k", 0, step).assign(k=step) for step in sweep]
    train_set = data.train_test(dataset, download=True, examples=examples)[0]
    return {"rounds": rounds_frame, "sweep": pd.concat(swept, ignore_index=True) if swept else None,
            "steps": fit["epochs"] * math.ceil(len(train_set) / fit["batch_size"])}
