"""Experiments that several chapters run, each one cached function of plain settings returning tidy frames
(ARCHITECTURE.md, "Chapters", step 2). A researcher runs them on a dataset by name, or calls the pieces they are
made of (``noise``, ``models.build``, ``train.fit``) on their own data.
"""
import torch

from memlib import cache, data, elr, gradients, models, noise, train

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
