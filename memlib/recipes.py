"""Experiments that several chapters run, each one cached function of plain settings returning tidy frames
(ARCHITECTURE.md, "Chapters", step 2). A researcher runs them on a dataset by name, or calls the pieces they are
made of (``noise``, ``models.build``, ``train.fit``) on their own data.
"""
import torch

from memlib import cache, data, dropout as dropout_layers, elr, gradients, models, noise, train

PROBES = (None, "mislabeled", "random")


@cache.recipe
def noisy_label_run(dataset, model, *, noise_rate, seed, fit, model_options=None, examples=None, elr_options=None,
                    probe=None, dropout=None, dropout_rates=None) -> dict:
    """One network trained on ``dataset`` with ``noise_rate`` of its training labels flipped to another class
    (:func:`memlib.noise.symmetric`), as in Arpit et al. (2017) and Maini et al. (2023, Sec. 3).

    ``fit``: the keyword arguments of :func:`memlib.train.fit` (epochs, lr, ...); ``model_options`` those of
    :func:`memlib.models.build`; ``examples``: at most this many examples of each split. ``elr_options``: train
    with :class:`memlib.elr.ELRLoss` instead of cross-entropy (Liu et al. 2020). ``probe``: ride a
    :class:`memlib.gradients.GradientProbe` along, comparing the mislabeled examples with the clean ones
    ("mislabeled") or, as a control, a random subset of the same size with the rest ("random"). ``dropout``: the
    network's dropout kind with its ``dropout_rates`` (:func:`memlib.models.build`; Maini et al. 2023, Table 3);
    an example-tied network trains without a test set (held-out examples own no masks).

    Returns ``{"timeline": frame, "gradients": frame or None, "flagged": bool tensor or None}``: the memorization
    timeline per epoch (:func:`memlib.noise.timeline`, with ``seed`` and ``noise`` columns), the probe's record,
    and, with ELR, which examples its targets flag as mislabeled; also ``"is_noisy"``, the planted noise. With
    ``dropout``, ``"predictions"``: the trained network's predicted classes, ``{"train": {mode: tensor}, "test":
    {...}}`` (an example-tied network in its train, test and drop modes, and on the training set through another
    example's units, ``"other"``: :func:`memlib.dropout.other_mask_predictions`; the baselines in eval mode,
    ``"eval"``), and ``"modes"``, their accuracies (:func:`memlib.dropout.mode_accuracies`); else None.
    """
    if probe not in PROBES:
        raise ValueError(f"probe must be one of {PROBES}; got {probe!r}")
    train_set, test_set = data.train_test(dataset, download=True, examples=examples)
    noisy = noise.symmetric(train_set.y, noise_rate, train_set.num_classes, seed=seed)
    tied = dict(num_examples=len(train_set)) if dropout == "example_tied" else {}
    network = models.build(model, train_set.num_classes, train_set.shape, seed=seed, dropout=dropout,
                           **(dropout_rates or {}), **tied, **(model_options or {}))
    loss = elr.ELRLoss(len(train_set), train_set.num_classes, **elr_options) if elr_options else None
    probed = _probed_subset(noisy.is_noisy, probe, seed) if probe else None
    callbacks = [gradients.GradientProbe(probed)] if probe else []
    history = train.fit(network, train_set, labels=noisy, test=None if tied else test_set, loss=loss, seed=seed,
                        callbacks=callbacks, **fit)
    tag = dict(seed=seed, noise=noise_rate)
    predictions = _predictions(network, train_set, test_set, tied) if dropout else None
    return {"timeline": noise.timeline(history, noisy).assign(**tag),
            "gradients": callbacks[0].to_frame().assign(**tag) if probe else None,
            "flagged": loss.flag_mislabeled(noisy) if loss is not None else None,
            "is_noisy": noisy.is_noisy, "predictions": predictions,
            "modes": dropout_layers.mode_accuracies(predictions, noisy, test_set.y).assign(**tag) if dropout else None}


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
    import pandas as pd

    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed (a positive count or a non-empty list)")
    results = [recipe(*args, seed=seed, **arguments) for seed in seeds]
    return {key: pd.concat([r[key] for r in results], ignore_index=True)
            if isinstance(results[0][key], pd.DataFrame) else [r[key] for r in results] for key in results[0]}
