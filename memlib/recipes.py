"""Experiments that several chapters run, each one cached function of plain settings returning tidy frames
(ARCHITECTURE.md, "Chapters", step 2). A researcher runs them on a dataset by name, or calls the pieces they are
made of (``noise``, ``models.build``, ``train.fit``) on their own data.
"""
import pandas as pd
import torch

from memlib import cache, data, dropout, elr, gradients, models, noise, pruning, train

PROBES = (None, "mislabeled", "random")


@cache.recipe
def noisy_label_run(dataset, model, *, noise_rate, seed, fit, model_options=None, examples=None, elr_options=None,
                    probe=None) -> dict:
    """One network trained on ``dataset`` with ``noise_rate`` of its training labels flipped to another class
    (:func:`memlib.noise.symmetric`), as in Arpit et al. (2017) and Maini et al. (2023, Sec. 3).

    ``fit``: the keyword arguments of :func:`memlib.train.fit` (epochs, lr, ...); ``model_options`` those of
    :func:`memlib.models.build`; ``examples``: at most this many examples of each split. ``elr_options``: train
    with :class:`memlib.elr.ELRLoss` instead of cross-entropy (Liu et al. 2020). ``probe``: ride a
    :class:`memlib.gradients.GradientProbe` along, comparing the mislabeled examples with the clean ones
    ("mislabeled") or, as a control, a random subset of the same size with the rest ("random").

    Returns ``{"timeline": frame, "gradients": frame or None, "flagged": bool tensor or None}``: the memorization
    timeline per epoch (:func:`memlib.noise.timeline`, with ``seed`` and ``noise`` columns), the probe's record,
    and, with ELR, which examples its targets flag as mislabeled; also ``"is_noisy"``, the planted noise.
    """
    if probe not in PROBES:
        raise ValueError(f"probe must be one of {PROBES}; got {probe!r}")
    train_set, test_set = data.train_test(dataset, download=True, examples=examples)
    noisy = noise.symmetric(train_set.y, noise_rate, train_set.num_classes, seed=seed)
    network = models.build(model, train_set.num_classes, train_set.shape, seed=seed, **(model_options or {}))
    loss = elr.ELRLoss(len(train_set), train_set.num_classes, **elr_options) if elr_options else None
    probed = _probed_subset(noisy.is_noisy, probe, seed) if probe else None
    callbacks = [gradients.GradientProbe(probed)] if probe else []
    history = train.fit(network, train_set, labels=noisy, test=test_set, loss=loss, seed=seed, callbacks=callbacks,
                        **fit)
    tag = dict(seed=seed, noise=noise_rate)
    return {"timeline": noise.timeline(history, noisy).assign(**tag),
            "gradients": callbacks[0].to_frame().assign(**tag) if probe else None,
            "flagged": loss.flag_mislabeled(noisy) if loss is not None else None,
            "is_noisy": noisy.is_noisy}


def _probed_subset(is_noisy, probe, seed):
    """The probe's subset: the mislabeled examples, or a random subset of as many (seeded apart from the noise)."""
    if probe == "mislabeled":
        return is_noisy
    chosen = torch.randperm(len(is_noisy), generator=torch.Generator().manual_seed(10_000 + seed))
    return torch.zeros_like(is_noisy).index_fill_(0, chosen[:int(is_noisy.sum())], True)


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

    def build(s):
        return models.build(model, train_set.num_classes, train_set.shape, seed=s, **options)

    def train_run(network, callbacks, start_step=0):
        return train.fit(network, train_set, labels=noisy, seed=seed, callbacks=callbacks, start_step=start_step,
                         **fit)

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
    with dropout.using_mode(network, mode):
        return train.accuracy(network, test_set)
