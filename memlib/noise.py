"""Label noise with exact counts: symmetric (Zhang et al. 2017; Maini et al. 2023) and asymmetric (Liu et al. 2020).

Unlike the references, which flip each label with probability ``rate`` (and, for symmetric noise, may redraw the
true label), these flip exactly ``round(rate · N)`` labels and every flipped label is wrong, so a "10% noise" run
has exactly 10% mislabeled examples.
"""
from typing import NamedTuple

import torch

# Liu et al. 2020 (ELR), CIFAR-10 asymmetric noise: truck → automobile, bird → airplane, deer → horse, cat ↔ dog.
CIFAR10_ASYMMETRIC = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}


class NoisyLabels(NamedTuple):
    """Training labels after noise, which of them were flipped, and the true labels."""

    labels: torch.Tensor
    is_noisy: torch.Tensor
    true: torch.Tensor

    @property
    def rate(self) -> float:
        """The fraction of labels that are wrong."""
        return int(self.is_noisy.sum()) / len(self.labels) if len(self.labels) else 0.0


def symmetric(labels, rate, num_classes, seed=0) -> NoisyLabels:
    """Flip exactly ``round(rate · N)`` labels, each to a class drawn uniformly among the other classes."""
    labels = _check_labels(labels, rate)
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2; got {num_classes}")
    if len(labels) and int(labels.max()) >= num_classes:
        raise ValueError(f"num_classes={num_classes} is smaller than a label ({int(labels.max())})")
    generator = torch.Generator().manual_seed(seed)
    flipped = torch.randperm(len(labels), generator=generator)[: round(rate * len(labels))]
    shift = torch.randint(1, num_classes, (len(flipped),), generator=generator)
    noisy = labels.clone()
    noisy[flipped] = (labels[flipped] + shift) % num_classes
    return NoisyLabels(noisy, noisy != labels, labels)


def asymmetric(labels, rate, mapping=CIFAR10_ASYMMETRIC, seed=0) -> NoisyLabels:
    """For each source class in ``mapping``, relabel exactly ``round(rate · n_class)`` of its examples as the
    mapped class (Liu et al. 2020, Sec. 5: class-dependent noise between similar classes)."""
    labels = _check_labels(labels, rate)
    if any(int(src) == int(dst) for src, dst in mapping.items()):
        raise ValueError(f"mapping must send each class to a different class; got {mapping}")
    generator = torch.Generator().manual_seed(seed)
    noisy = labels.clone()
    for src in sorted(mapping):
        members = torch.nonzero(labels == src).flatten()
        order = torch.randperm(len(members), generator=generator)
        noisy[members[order[: round(rate * len(members))]]] = int(mapping[src])
    return NoisyLabels(noisy, noisy != labels, labels)


def _check_labels(labels, rate):
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"labels must be a 1-D integer tensor; got shape {tuple(labels.shape)}, {labels.dtype}")
    if len(labels) and int(labels.min()) < 0:
        raise ValueError(f"labels must be non-negative; got {int(labels.min())}")
    if not 0 <= rate < 1:
        raise ValueError(f"rate must be in [0, 1); got {rate}")
    return labels.long().cpu()


def timeline(history, noisy: NoisyLabels):
    """Per epoch of a :func:`memlib.train.fit` run on ``noisy`` labels: the accuracy on the clean examples, the
    fraction of mislabeled examples predicted as their noisy label (memorized) and as their true label, and the
    test accuracy; the memorization timeline of Arpit et al. (2017) and Maini et al. (2023, Fig. 2)."""
    import pandas as pd

    return pd.DataFrame({
        "epoch": range(1, history.epochs + 1),
        "clean": history.accuracy(noisy.labels, ~noisy.is_noisy).numpy(),
        "memorized": history.accuracy(noisy.labels, noisy.is_noisy).numpy(),
        "true_label": history.accuracy(noisy.true, noisy.is_noisy).numpy(),
        "test": history.test_accuracy.numpy(),
    })


def milestones(timeline, threshold=0.9) -> dict:
    """The landmarks of one run's :func:`timeline`: the epoch of peak test accuracy, what the network did with the
    mislabeled examples at that epoch, the first epoch at which at least ``threshold`` of them are memorized
    (None if never), and the final test accuracy and memorized fraction."""
    peak = int(timeline["test"].to_numpy().argmax())
    reached = (timeline["memorized"].to_numpy() >= threshold).nonzero()[0]
    return {
        "peak_epoch": int(timeline["epoch"].iloc[peak]),
        "peak_test": float(timeline["test"].iloc[peak]),
        "memorized_at_peak": float(timeline["memorized"].iloc[peak]),
        "true_label_at_peak": float(timeline["true_label"].iloc[peak]),
        "memorized_epoch": int(timeline["epoch"].iloc[reached[0]]) if len(reached) else None,
        "final_test": float(timeline["test"].iloc[-1]),
        "final_memorized": float(timeline["memorized"].iloc[-1]),
    }


def landmarks(timelines, thresholds=(0.5, 0.9)):
    """:func:`milestones` of every run in ``timelines`` (frames of :func:`timeline` with ``seed`` and ``noise``
    columns, as :func:`memlib.recipes.noisy_label_run` returns them), one row per seed and noise rate, with the
    first epoch at which each threshold t of the mislabeled examples is memorized as ``memorized_<100·t>`` (NaN if
    never, or without mislabeled examples), and ``fall``, the drop of test accuracy from its peak to the end;
    Maini et al. (2023, Sec. 3) see the mislabeled examples memorized between epochs ~10 and ~30 of 50."""
    import pandas as pd

    rows = []
    for (seed, rate), frame in timelines.groupby(["seed", "noise"], sort=False):
        reached = {f"memorized_{round(100 * t)}": milestones(frame, t)["memorized_epoch"] for t in thresholds}
        marks = milestones(frame)
        rows.append({"seed": seed, "noise": rate, **marks, **reached, "fall": marks["peak_test"] - marks["final_test"]})
    return pd.DataFrame(rows).astype({f"memorized_{round(100 * t)}": float for t in thresholds})


def memorized_epochs(timelines, thresholds=(0.5, 0.9)) -> list:
    """The epochs at which the mean over the runs in ``timelines`` first memorizes each of ``thresholds`` of the
    mislabeled examples, leaving out thresholds it never reaches: marks for a figure's time axis."""
    mean = timelines.groupby("epoch").mean(numeric_only=True).reset_index()
    marks = [milestones(mean, threshold)["memorized_epoch"] for threshold in thresholds]
    return [mark for mark in marks if mark is not None]
