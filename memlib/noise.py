"""Label noise with exact counts: symmetric (Zhang et al. 2017; Maini et al. 2023) and asymmetric (Liu et al. 2020).

Unlike the references, which flip each label with probability ``rate`` (and, for symmetric noise, may redraw the
true label), these flip exactly ``round(rate · N)`` labels and every flipped label is wrong, so a "10% noise" run
has exactly 10% mislabeled examples.
"""
from typing import NamedTuple

import torch

from memlib import checks

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
    """Flip exactly ``round(rate · N)`` labels, each to a class drawn uniformly among the other classes.
    ``labels`` are class indices in [0, num_classes); ``rate`` in [0, 1)."""
    num_classes = checks.integer("num_classes", num_classes, minimum=2)
    labels = checks.labels("labels", labels, num_classes, of="the num_classes classes").cpu()
    rate, seed = _check_rate_and_seed(rate, seed)
    generator = torch.Generator().manual_seed(seed)
    flipped = torch.randperm(len(labels), generator=generator)[: round(rate * len(labels))]
    shift = torch.randint(1, num_classes, (len(flipped),), generator=generator)
    noisy = labels.clone()
    noisy[flipped] = (labels[flipped] + shift) % num_classes
    return NoisyLabels(noisy, noisy != labels, labels)


def asymmetric(labels, rate, mapping=CIFAR10_ASYMMETRIC, seed=0, *, num_classes=None) -> NoisyLabels:
    """For each source class in ``mapping``, relabel exactly ``round(rate · n_class)`` of its examples as the
    mapped class (Liu et al. 2020, Sec. 5: class-dependent noise between similar classes).

    ``num_classes``: the labels' classes, [0, num_classes), which ``labels`` and ``mapping`` must lie in; None
    takes the classes the labels hold, so ``mapping`` may name only classes that occur in ``labels``."""
    if num_classes is not None:
        num_classes = checks.integer("num_classes", num_classes, minimum=2)
    labels = checks.labels("labels", labels, num_classes, of="the num_classes classes").cpu()
    rate, seed = _check_rate_and_seed(rate, seed)
    if not isinstance(mapping, dict) or not mapping:
        raise ValueError(f"mapping must be a dict {{source class: target class}} with at least one entry; "
                         f"got {mapping!r}")
    try:
        mapping = {checks.integer("source", src): checks.integer("target", dst) for src, dst in mapping.items()}
    except ValueError:
        raise ValueError(f"the mapping's classes must be integers; got {mapping!r}") from None
    if any(src == dst for src, dst in mapping.items()):
        raise ValueError(f"mapping must send each class to a different class; got {mapping}")
    classes = set(mapping) | set(mapping.values())
    if num_classes is not None:
        outside = sorted(c for c in classes if not 0 <= c < num_classes)
        if outside:
            raise ValueError(f"mapping's classes must lie in [0, {num_classes}) (num_classes); got {outside}")
    else:
        present = set(labels.unique().tolist())
        outside = sorted(classes - present)
        if outside:
            raise ValueError(f"mapping must send classes of the labels to classes of the labels; {outside} do not "
                             f"occur in them (pass num_classes to allow classes without examples)")
    generator = torch.Generator().manual_seed(seed)
    noisy = labels.clone()
    for src in sorted(mapping):
        members = torch.nonzero(labels == src).flatten()
        order = torch.randperm(len(members), generator=generator)
        noisy[members[order[: round(rate * len(members))]]] = mapping[src]
    return NoisyLabels(noisy, noisy != labels, labels)


def _check_rate_and_seed(rate, seed):
    return checks.fraction("rate", rate, high_open=True), checks.non_negative_int("seed", seed)


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
    threshold = checks.fraction("threshold", threshold)
    checks.non_empty("timeline", timeline)
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


def milestones_by(timelines, by, thresholds=()):
    """:func:`milestones` of every run in a frame of timelines, one run per value of the columns ``by`` (e.g.
    ``["method", "seed"]``), with ``final_true_label``: the share of mislabeled examples predicted as their true
    class at the last epoch (Liu et al. 2020, Fig. 1), and for each of ``thresholds`` t the first epoch at which t
    of the mislabeled examples are memorized, as ``memorized_<100·t>``. A frame with one row per run, the ``by``
    columns first; an epoch is NaN where its threshold is never reached."""
    import pandas as pd

    by = [by] if isinstance(by, str) else list(by)
    missing = set(by) - set(timelines.columns)
    if missing:
        raise ValueError(f"the timelines have no column {sorted(missing)}; they have {list(timelines.columns)}")
    rows = []
    for key, run in timelines.groupby(by, sort=False):
        run = run.sort_values("epoch")
        reached = {f"memorized_{round(100 * t)}": milestones(run, t)["memorized_epoch"] for t in thresholds}
        rows.append({**dict(zip(by, key)), **milestones(run), "final_true_label": float(run["true_label"].iloc[-1]),
                     **reached})
    epochs = ["memorized_epoch", *(f"memorized_{round(100 * t)}" for t in thresholds)]
    frame = pd.DataFrame(rows)
    return frame.assign(**{column: pd.to_numeric(frame[column], errors="coerce") for column in epochs})


# What milestones() and milestones_by() measure, in the words of a table's row (memorized_epoch, which depends on
# the threshold, aside).
MILESTONES = {"peak_epoch": "epoch of peak test accuracy", "peak_test": "peak test accuracy",
              "true_label_at_peak": "mislabeled → true class, at the peak",
              "memorized_at_peak": "mislabeled memorized, at the peak", "final_test": "test accuracy, last epoch",
              "final_memorized": "mislabeled memorized, last epoch",
              "final_true_label": "mislabeled → true class, last epoch"}


def landmarks(timelines, thresholds=(0.5, 0.9)):
    """:func:`milestones_by` seed and noise rate of ``timelines`` (frames of :func:`timeline` with ``seed`` and
    ``noise`` columns, as :func:`memlib.recipes.noisy_label_run` returns them), with the first epoch at which each
    threshold t of the mislabeled examples is memorized as ``memorized_<100·t>`` (NaN if never, or without
    mislabeled examples), and ``fall``, the drop of test accuracy from its peak to the end; Maini et al. (2023,
    Sec. 3) see the mislabeled examples memorized between epochs ~10 and ~30 of 50."""
    frame = milestones_by(timelines, ["seed", "noise"], thresholds)
    return frame.assign(fall=frame.peak_test - frame.final_test)


def memorized_epochs(timelines, thresholds=(0.5, 0.9)) -> list:
    """The epochs at which the mean over the runs in ``timelines`` first memorizes each of ``thresholds`` of the
    mislabeled examples, leaving out thresholds it never reaches: marks for a figure's time axis."""
    mean = timelines.groupby("epoch").mean(numeric_only=True).reset_index()
    marks = [milestones(mean, threshold)["memorized_epoch"] for threshold in thresholds]
    return [mark for mark in marks if mark is not None]
