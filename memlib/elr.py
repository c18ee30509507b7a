"""Early-learning regularization (ELR; Liu et al. 2020, "Early-Learning Regularization Prevents Memorization of
Noisy Labels", NeurIPS).

Early in training a network predicts the true class of many mislabeled examples; ELR keeps a running average of
each example's predictions (its *target*) and adds a term that rewards agreeing with it, so the network is pulled
towards what it predicted early instead of towards the noisy label it would later memorize.
"""
import torch
import torch.nn.functional as F

from memlib import checks

CLAMP = 1e-4  # probabilities are clamped to [CLAMP, 1 - CLAMP] before entering the regularizer, as in Liu et al.


class ELRLoss:
    """Cross-entropy plus the ELR term (Liu et al. 2020, Sec. 4: the regularized loss with targets estimated by
    temporal ensembling; the update and the clamping follow the authors' implementation).

    Called as ``loss(logits, labels, index)`` with the batch's example indices (what :func:`memlib.train.fit`
    passes), it first updates the targets of the batch's examples from the detached predictions,

        t_i ← beta · t_i + (1 − beta) · p̂_i / Σ_c p̂_ic,

    and then returns CE(logits, labels) + lam · mean_i log(1 − ⟨t_i, p_i⟩), where p = softmax(logits) clamped to
    [1e-4, 1 − 1e-4] and p̂ its detached copy. Targets start at zero. One instance serves one training run: it holds
    a target per training example (``.targets``, num_examples × num_classes).
    """

    def __init__(self, num_examples, num_classes, *, beta=0.7, lam=3.0):
        num_examples = checks.positive_int("num_examples", num_examples)
        num_classes = checks.integer("num_classes", num_classes, minimum=2)
        self.beta = checks.fraction("beta (the targets' momentum)", beta, high_open=True)
        self.lam = checks.real("lam (the regularization weight)", lam, low=0)
        self.targets = torch.zeros(num_examples, num_classes)

    def __call__(self, logits, labels, index):
        self._check(logits, labels, index)
        if self.targets.device != logits.device:
            self.targets = self.targets.to(logits.device)
        probabilities = F.softmax(logits, dim=1).clamp(CLAMP, 1 - CLAMP)
        detached = probabilities.detach()
        self.targets[index] = (self.beta * self.targets[index]
                               + (1 - self.beta) * detached / detached.sum(dim=1, keepdim=True))
        agreement = (self.targets[index] * probabilities).sum(dim=1)
        return F.cross_entropy(logits, labels) + self.lam * torch.log1p(-agreement).mean()

    def flag_mislabeled(self, labels) -> torch.Tensor:
        """Which examples' targets point to another class than their label: argmax(t_i) ≠ label_i, the targets
        read as corrected labels (Liu et al. 2020: the targets follow the early, mostly correct predictions).
        A boolean tensor on the CPU."""
        labels = checks.labels("labels", getattr(labels, "labels", labels), self.targets.shape[1],
                               length=len(self.targets)).cpu()
        return self.targets.argmax(dim=1).cpu() != labels

    def _check(self, logits, labels, index):
        n, classes = self.targets.shape
        if logits.dim() != 2 or logits.shape[1] != classes:
            raise ValueError(f"logits must be batch × {classes} classes; got shape {tuple(logits.shape)}")
        if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.shape != logits.shape[:1]:
            checks.labels("labels", labels, classes, length=len(logits))  # raises, saying what is wrong
        if index.shape != logits.shape[:1]:
            raise ValueError(f"index must hold one entry per logits row ({len(logits)}); got shape "
                             f"{tuple(index.shape)}")
        if index.dtype.is_floating_point or index.dtype == torch.bool:
            raise ValueError(f"index must hold integer example indices; got dtype {index.dtype}")
        # One read-back per step checks both ranges; the messages are worked out only when one is broken.
        if len(index) and bool((index.min() < 0) | (index.max() >= n) | (labels.min() < 0) | (labels.max() >= classes)):
            checks.labels("labels", labels, classes, length=len(logits))
            raise ValueError(f"index must lie in [0, {n}) (one target per training example); got "
                             f"[{int(index.min())}, {int(index.max())}]")


def flag_scores(flagged, is_noisy) -> dict:
    """How well ELR's flags (:meth:`ELRLoss.flag_mislabeled`) find the mislabeled examples (Liu et al. 2020: the
    targets as corrected labels): ``precision``, the share of flagged examples that are mislabeled (0 when none is
    flagged), and ``recall``, the share of mislabeled examples flagged (NaN when none is mislabeled)."""
    flagged, is_noisy = torch.as_tensor(flagged).cpu(), torch.as_tensor(is_noisy).cpu()
    if flagged.dtype != torch.bool or is_noisy.dtype != torch.bool or flagged.shape != is_noisy.shape:
        raise ValueError(f"flagged and is_noisy must be boolean masks of one shape; got {flagged.dtype} "
                         f"{tuple(flagged.shape)} and {is_noisy.dtype} {tuple(is_noisy.shape)}")
    found = int((flagged & is_noisy).sum())
    noisy = int(is_noisy.sum())
    return {"precision": found / max(1, int(flagged.sum())), "recall": found / noisy if noisy else float("nan")}
