"""Memorization in practice: which examples a network memorizes, and which labels are wrong.

- :func:`feldman_zhang` and :func:`estimate`: the subsampled estimator of memorization and influence of Feldman &
  Zhang (2020, "What Neural Networks Memorize and Why", Sec. 2), from models trained together on random
  subsets (:func:`memlib.ensemble.fit_many`).
- :func:`removal_test`: their check that memorized examples matter (Sec. 3): train without the most memorized
  examples, or without as many random ones, and compare the accuracy on the test examples they influence most.
- :func:`suspects`: one ranked frame of likely mislabeled examples, for six detectors (:data:`METHODS`), and
  :func:`detection`: precision, recall, F1 and AUROC of such a frame against known label noise.
"""
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from memlib import cache, checks, data, noise
from memlib.early_phase import forgetting_events
from memlib.elr import ELRLoss, flag_scores
from memlib.ensemble import fit_many
from memlib.models import build
from memlib.outliers import adv_distance
from memlib.train import device_images, fit

METHODS = ("elr", "forgetting", "early-loss", "memorization", "adv", "confident-learning")
CLEANLAB = "cleanlab==2.9.0"


@dataclass
class Estimate:
    """The estimator's inputs and results: ``included`` (runs × N, True where run r trained on example i),
    ``correct`` (runs × N, run r's model predicts example i's training label) and, with a test set,
    ``test_correct`` (runs × M). :meth:`frame` and :meth:`influence` compute the estimates from them."""

    included: torch.Tensor
    correct: torch.Tensor
    labels: torch.Tensor
    test_correct: torch.Tensor = None

    def frame(self):
        """One row per training example: example, label, memorization (mem(i) = P[h(x_i) = y_i | i ∈ S] −
        P[h(x_i) = y_i | i ∉ S], Feldman & Zhang 2020, Sec. 2), its standard error (from the binomial variances of
        the two groups of runs), the two accuracies and the number of runs in each group. Examples that no run
        (or every run) trained on get NaN estimates."""
        import pandas as pd

        inc, hit = self.included.double(), self.correct.double()
        n_in, n_out = inc.sum(0), (1 - inc).sum(0)
        acc_in, acc_out = (inc * hit).sum(0) / n_in, ((1 - inc) * hit).sum(0) / n_out
        mem, se = _difference(acc_in, acc_out, n_in, n_out)
        return pd.DataFrame({"example": np.arange(len(self.labels)), "label": self.labels.numpy(),
                             "memorization": mem.numpy(), "se": se.numpy(), "accuracy_in": acc_in.numpy(),
                             "accuracy_out": acc_out.numpy(), "runs_in": n_in.long().numpy(),
                             "runs_out": n_out.long().numpy()})

    def influence(self) -> tuple:
        """``(infl, se)``, each N × M: infl(i, j) = P[h(x_j) = y_j | i ∈ S] − P[h(x_j) = y_j | i ∉ S], the
        influence of training example i on test example j (Feldman & Zhang 2020, Sec. 2), and its standard error
        (float32)."""
        if self.test_correct is None:
            raise ValueError("this estimate has no test set: pass test= to feldman_zhang for influence")
        inc, hit = self.included.float(), self.test_correct.float()  # counts: exact in float32, half the memory
        n_in, n_out = inc.sum(0)[:, None], (1 - inc).sum(0)[:, None]
        return _difference(inc.T @ hit / n_in, (1 - inc).T @ hit / n_out, n_in, n_out)

    def to_dict(self) -> dict:
        """Plain tensors, for :func:`memlib.cache.cached`."""
        return {"included": self.included, "correct": self.correct, "labels": self.labels,
                "test_correct": self.test_correct}

    @classmethod
    def from_dict(cls, state: dict) -> "Estimate":
        return cls(**state)


def estimate(included, correct, labels, test_correct=None) -> Estimate:
    """An :class:`Estimate` from runs' records: ``included`` and ``correct`` (runs × N booleans), ``labels`` (N)
    and optionally ``test_correct`` (runs × M booleans)."""
    included = torch.as_tensor(included).bool().cpu()
    correct = torch.as_tensor(correct).bool().cpu()
    if included.dim() != 2 or correct.shape != included.shape:
        raise ValueError(f"included and correct must both be runs × N; got {tuple(included.shape)} and "
                         f"{tuple(correct.shape)}")
    labels = torch.as_tensor(labels).cpu()
    if labels.shape != (included.shape[1],) or labels.dtype.is_floating_point:
        raise ValueError(f"labels must hold one integer label per example ({included.shape[1]}); got "
                         f"{tuple(labels.shape)}, {labels.dtype}")
    if test_correct is not None:
        test_correct = torch.as_tensor(test_correct).bool().cpu()
        if test_correct.dim() != 2 or len(test_correct) != len(included):
            raise ValueError(f"test_correct must be runs × M with {len(included)} runs; got "
                             f"{tuple(test_correct.shape)}")
    return Estimate(included, correct, labels, test_correct)


def feldman_zhang(train_set, *, runs, fraction=0.7, model="mlp", model_options=None, labels=None, test=None,
                  seed=0, **fit_options) -> Estimate:
    """The subsampled estimator of memorization (Feldman & Zhang 2020, Sec. 2): ``runs`` models, model r
    trained (with seed ``seed + r``) on a random ``fraction`` of ``train_set`` (the paper: 70%, thousands of
    models), all together with :func:`memlib.ensemble.fit_many`; each then predicts every training example and,
    with ``test``, every test example. ``labels``: the training labels (default ``train_set.y``; e.g. noisy ones).
    ``fit_options`` go to ``fit_many`` (epochs, lr, weight_decay, batch_size, ...). Returns the
    :class:`Estimate`; its :meth:`Estimate.frame` is the tidy per-example frame, :meth:`Estimate.influence` the
    paper's infl(i, j)."""
    runs = checks.integer("runs", runs, minimum=2)
    fraction = checks.fraction("fraction", fraction, low_open=True, high_open=True)
    checks.non_empty("train_set", train_set)
    labels = train_set.y if labels is None else getattr(labels, "labels", labels)
    labels = checks.labels("labels", labels, train_set.num_classes, length=len(train_set)).cpu()
    size = max(1, round(fraction * len(train_set)))
    draw = torch.Generator().manual_seed(seed)
    subsets = [torch.randperm(len(train_set), generator=draw)[:size].sort().values for _ in range(runs)]
    trained = _train(train_set, labels, subsets, model, model_options, seed, fit_options)
    included = torch.zeros(runs, len(train_set), dtype=torch.bool)
    for r, subset in enumerate(subsets):
        included[r, subset] = True
    correct = torch.stack([probabilities(m, train_set).argmax(1) == labels for m in trained])
    test_correct = (torch.stack([probabilities(m, test).argmax(1) == test.y.cpu() for m in trained])
                    if test is not None else None)
    return Estimate(included, correct, labels, test_correct)


def removal_test(train_set, test, memorization, influence, *, count, seeds, targets=50, model="mlp",
                 model_options=None, seed=0, **fit_options):
    """Feldman & Zhang's (2020, Sec. 3) test that memorized examples matter: train models without the ``count``
    training examples of highest ``memorization`` (N scores), and models without ``count`` random ones (a fresh
    draw per seed), beside models on the full set; score each on the whole test set and on the ``targets`` test
    examples the removed top examples influence most (highest max_i∈removed ``influence[i, j]``, N × M). Each
    group has ``seeds`` models (seeds ``seed``, ``seed + 1``, …), trained together by ``fit_many``.

    Returns a frame with one row per model: removed ("none", "top memorized", "random"), seed, test_accuracy and
    target_accuracy (on the influenced test examples); and the target test indices."""
    import pandas as pd

    count = checks.positive_int("count", count)
    seeds = checks.positive_int("seeds", seeds)
    targets = checks.positive_int("targets", targets)
    scores = torch.as_tensor(memorization, dtype=torch.float64).nan_to_num(nan=-math.inf)
    influence = torch.as_tensor(influence, dtype=torch.float64).nan_to_num(nan=0.0)
    if scores.shape != (len(train_set),) or influence.shape != (len(train_set), len(test)):
        raise ValueError(f"memorization must hold {len(train_set)} scores and influence be "
                         f"{len(train_set)} × {len(test)}; got {tuple(scores.shape)} and {tuple(influence.shape)}")
    if count >= len(train_set):
        raise ValueError(f"count must be below the training set's size ({len(train_set)}); got {count}")
    top = scores.argsort(descending=True)[:count]
    target = influence[top].max(0).values.argsort(descending=True)[:min(targets, len(test))].sort().values
    everyone = torch.arange(len(train_set))
    keep_top = everyone[~torch.isin(everyone, top)]
    draws = torch.Generator().manual_seed(seed)
    groups, subsets = [], []
    for s in range(seeds):
        random_drop = torch.randperm(len(train_set), generator=draws)[:count]
        for name, subset in (("none", everyone), ("top memorized", keep_top),
                             ("random", everyone[~torch.isin(everyone, random_drop)])):
            groups.append((name, seed + s))
            subsets.append(subset)
    trained = _train(train_set, train_set.y.cpu(), subsets, model, model_options, seed, fit_options,
                     seeds=[s for _, s in groups])
    rows = []
    for (name, s), m in zip(groups, trained):
        hits = probabilities(m, test).argmax(1) == test.y.cpu()
        rows.append({"removed": name, "seed": s, "test_accuracy": float(hits.float().mean()),
                     "target_accuracy": float(hits[target].float().mean())})
    return pd.DataFrame(rows), target


def suspects(train_set, labels, *, method, model="mlp", model_options=None, seed=0, test=None, runs=32,
             fraction=0.7, folds=5, elr=None, epoch=None, adv_steps=50, **fit_options):
    """The training examples most likely mislabeled, by ``method`` (one of :data:`METHODS`), as one frame ranked
    from the most suspicious: example, score (higher = more suspicious), rank (1 = first), label, flagged, and
    threshold (the lowest flagged score) where the flag is a cut on the score.

    - "elr": train with :class:`memlib.elr.ELRLoss` (``elr``: its beta and lam); score 1 − t_i[y_i], flagged where
      the target's class differs from the label (Liu et al. 2020).
    - "forgetting": forgetting events over a cross-entropy run (Toneva et al. 2019, Sec. 2); never-learned
      examples score one more than the most forgotten.
    - "early-loss": the loss at the early-learning peak (Liu et al. 2020, Fig. 1; Arpit et al. 2017): at epoch
      ``epoch``, or, with ``test``, at the epoch of peak test accuracy; flagged where the prediction there differs
      from the label.
    - "memorization": the Feldman & Zhang (2020) score from ``runs`` models on ``fraction`` subsets.
    - "adv": minus the adv distance of Carlini et al. (2019) under the cross-entropy model (``adv_steps`` DeepFool
      steps): mislabeled examples sit close to a boundary.
    - "confident-learning": cleanlab's ``find_label_issues`` (Northcutt et al. 2021; filter_by
      "prune_by_noise_rate") on out-of-sample probabilities from ``folds`` models, model f trained on all folds
      but f (together, by ``fit_many``); score 1 − self-confidence, cleanlab's ranking.

    forgetting, memorization and adv flag the high group of a two-component
    Gaussian mixture over the score (as DivideMix, Li et al. 2020, splits per-example losses). ``fit_options``
    (epochs, lr, weight_decay, batch_size, ...) train every model. ``frame.attrs["seconds"]`` is the wall time.
    """
    checks.one_of("method", method, METHODS)
    checks.non_empty("train_set", train_set)
    labels = checks.labels("labels", getattr(labels, "labels", labels), train_set.num_classes,
                           length=len(train_set)).cpu()
    if method == "early-loss" and epoch is None and test is None:
        raise ValueError("early-loss needs the epoch of the early-learning peak: pass epoch= or a test set")
    if method == "early-loss" and epoch is not None:
        epoch = checks.integer("epoch", epoch, minimum=1, maximum=fit_options.get("epochs"))
    if method == "confident-learning":
        folds = checks.integer("folds", folds, minimum=2, maximum=len(train_set))
        _cleanlab()
    start = time.perf_counter()
    build_options = dict(model=model, model_options=model_options, seed=seed)
    if method == "elr":
        score, flagged = _elr(train_set, labels, elr or {}, build_options, fit_options)
    elif method in ("forgetting", "early-loss", "adv"):
        score, flagged = _cross_entropy_scores(train_set, labels, method, test, epoch, adv_steps, build_options,
                                               fit_options)
    elif method == "memorization":
        frame = feldman_zhang(train_set, runs=runs, fraction=fraction, labels=labels, **build_options,
                              **fit_options).frame()
        score, flagged = torch.tensor(frame.memorization.fillna(0.0).to_numpy()), None
    else:
        score, flagged = _confident_learning(train_set, labels, folds, build_options, fit_options)
    threshold = None
    if flagged is None:
        flagged, threshold = split(score)
    return _ranked(score, labels, flagged, threshold, time.perf_counter() - start)


def split(score) -> tuple:
    """``(flagged, threshold)``: the examples in the high-mean component of a two-component Gaussian mixture
    fitted to ``score`` (DivideMix, Li et al. 2020, Sec. 3.1, on per-example losses), and the lowest flagged
    score (None when nothing is flagged)."""
    from sklearn.mixture import GaussianMixture

    values = torch.as_tensor(score, dtype=torch.float64).numpy().reshape(-1, 1)
    if len(np.unique(values)) < 2:
        return torch.zeros(len(values), dtype=torch.bool), None
    mixture = GaussianMixture(2, random_state=0).fit(values)
    high = int(np.argmax(mixture.means_.ravel()))
    flagged = torch.from_numpy(mixture.predict_proba(values)[:, high] > 0.5)
    flagged &= torch.from_numpy(values.ravel() >= float(mixture.means_.min()))  # the low tail stays unflagged
    return flagged, (float(values[flagged.numpy()].min()) if bool(flagged.any()) else None)


def auroc(score, positive) -> float:
    """The area under the ROC curve of ``score`` for finding the ``positive`` examples: the chance that a random
    positive example scores above a random negative one (ties count half)."""
    from sklearn.metrics import roc_auc_score

    positive = np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():
        raise ValueError("positive must mark some examples but not all (AUROC needs both groups)")
    return float(roc_auc_score(positive, np.asarray(score, dtype=float)))


def detection(frame, is_noisy) -> dict:
    """How well a :func:`suspects` frame finds the mislabeled examples (``is_noisy``, N booleans): precision,
    recall and F1 of its flags, and the AUROC of its score (the chance that a random mislabeled example scores
    above a random clean one)."""
    is_noisy = torch.as_tensor(getattr(is_noisy, "is_noisy", is_noisy)).bool().cpu().numpy()
    if len(frame) != len(is_noisy):
        raise ValueError(f"the frame has {len(frame)} examples but is_noisy has {len(is_noisy)}")
    truth = is_noisy[frame.example.to_numpy()]
    if truth.all() or not truth.any():
        raise ValueError("is_noisy must mark some examples but not all (AUROC needs both groups)")
    flags = flag_scores(torch.as_tensor(frame.flagged.to_numpy().astype(bool)), torch.as_tensor(truth))
    precision, recall = flags["precision"], flags["recall"]
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "auroc": auroc(frame.score.to_numpy(), truth)}


@torch.no_grad()
def probabilities(model, data, batch_size=1024) -> torch.Tensor:
    """``model``'s softmax outputs on every example of ``data`` (N × classes, on the CPU), in eval mode, with the
    inputs as the training engine gives them (:func:`memlib.train.device_images`). The mode is restored."""
    device = next(model.parameters()).device
    images = device_images(model, data, device)
    training = model.training
    model.eval()
    try:
        outputs = [torch.softmax(model(images.batch(torch.arange(s, min(s + batch_size, len(images)),
                                                                 device=device))).float(), 1).cpu()
                   for s in range(0, len(images), batch_size)]
    finally:
        model.train(training)
    return torch.cat(outputs)


def _train(train_set, labels, subsets, model, model_options, seed, fit_options, seeds=None):
    """Models of ``model`` (seeds ``seeds``, else ``seed``, ``seed + 1``, …), trained together by ``fit_many`` on
    ``subsets`` of ``train_set`` (None: all of it)."""
    seeds = seeds if seeds is not None else [seed + r for r in range(len(subsets))]
    ensemble = [build(model, train_set.num_classes, train_set.shape, seed=s, **(model_options or {}))
                for s in seeds]
    fit_many(ensemble, train_set, seeds=seeds, labels=labels, subsets=subsets, **fit_options)
    return ensemble


def _difference(acc_in, acc_out, n_in, n_out):
    """acc_in − acc_out with its standard error sqrt(p_in(1 − p_in)/n_in + p_out(1 − p_out)/n_out); NaN where a
    group is empty."""
    se = (acc_in * (1 - acc_in) / n_in + acc_out * (1 - acc_out) / n_out).sqrt()
    return acc_in - acc_out, se


def _elr(train_set, labels, elr, build_options, fit_options):
    network = build(build_options["model"], train_set.num_classes, train_set.shape, seed=build_options["seed"],
                    **(build_options["model_options"] or {}))
    loss = ELRLoss(len(train_set), train_set.num_classes, **elr)
    fit(network, train_set, labels=labels, loss=loss, seed=build_options["seed"], **fit_options)
    targets = loss.targets.cpu()
    score = 1 - targets.gather(1, labels[:, None]).squeeze(1) / targets.sum(1).clamp(min=1e-12)
    return score.double(), loss.flag_mislabeled(labels)


def _cross_entropy_scores(train_set, labels, method, test, epoch, adv_steps, build_options, fit_options):
    network = build(build_options["model"], train_set.num_classes, train_set.shape, seed=build_options["seed"],
                    **(build_options["model_options"] or {}))
    history = fit(network, train_set, labels=labels, test=test, seed=build_options["seed"], **fit_options)
    if method == "forgetting":
        events = forgetting_events(history.predictions, labels).double()
        never = ~(history.predictions == labels).any(0)
        return torch.where(never, events.max() + 1, events), None
    if method == "early-loss":
        row = int(history.test_accuracy.argmax()) if epoch is None else epoch - 1
        return history.losses[row].double(), history.predictions[row] != labels
    distance = adv_distance([network], train_set.x, labels, steps=adv_steps,
                            normalization=train_set.normalization).double()
    finite = distance[torch.isfinite(distance)]
    return -distance.clamp(max=float(finite.max()) if len(finite) else 0.0), None


def _confident_learning(train_set, labels, folds, build_options, fit_options):
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    order = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(build_options["seed"]))
    held = [part.sort().values for part in order.tensor_split(folds)]
    subsets = [torch.cat(held[:f] + held[f + 1:]).sort().values for f in range(folds)]
    trained = _train(train_set, labels, subsets, build_options["model"], build_options["model_options"],
                     build_options["seed"], fit_options)
    pred_probs = torch.empty(len(train_set), train_set.num_classes, dtype=torch.float64)
    for part, network in zip(held, trained):
        pred_probs[part] = probabilities(network, train_set.subset(part)).double()
    pred_probs = (pred_probs / pred_probs.sum(1, keepdim=True)).numpy()
    given = labels.numpy()
    flagged = find_label_issues(given, pred_probs, filter_by="prune_by_noise_rate", n_jobs=1)
    quality = get_label_quality_scores(given, pred_probs, method="self_confidence")
    return torch.from_numpy(1 - quality), torch.from_numpy(flagged)


def _cleanlab():
    try:
        import cleanlab  # noqa: F401
    except ImportError:
        raise ImportError(f"method 'confident-learning' needs cleanlab: pip install {CLEANLAB}") from None


def _ranked(score, labels, flagged, threshold, seconds):
    import pandas as pd

    score = torch.as_tensor(score, dtype=torch.float64)
    order = torch.sort(-score, stable=True).indices
    frame = pd.DataFrame({"example": order.numpy(), "score": score[order].numpy(),
                          "rank": np.arange(1, len(order) + 1), "label": labels[order].numpy(),
                          "flagged": torch.as_tensor(flagged).bool()[order].numpy()})
    if threshold is not None:
        frame["threshold"] = threshold
    frame.attrs["seconds"] = seconds
    return frame


# The chapter's experiments (chapter 10), each cached by its plain settings (ARCHITECTURE.md, "Chapters").

@cache.recipe
def long_tail(dataset, *, model, model_options, fit, runs, fraction, adv_models, adv_steps, examples=None) -> dict:
    """The long tail of ``dataset``: the :func:`feldman_zhang` estimate of every training example (with influence
    on the test set) from ``runs`` models, beside chapter 3's adv distance (Carlini et al. 2019) under
    ``adv_models`` models trained on the whole set. Returns ``{"estimate", "frame", "seconds"}``: the
    :class:`Estimate`, its per-example frame with ``adv`` and ``rare`` (the synthetic set's planted rare examples;
    False elsewhere) columns, and the estimator's wall time."""
    train_set, test_set = data.train_test(dataset, download=True, examples=examples)
    start = time.perf_counter()
    found = feldman_zhang(train_set, runs=runs, fraction=fraction, model=model, model_options=model_options,
                          test=test_set, **fit)
    seconds = time.perf_counter() - start
    scorers = _train(train_set, train_set.y, None, model, model_options, 0, fit, seeds=list(range(adv_models)))
    adv = adv_distance(scorers, train_set.x, train_set.y, steps=adv_steps, normalization=train_set.normalization)
    rare = train_set.meta.get("rare", torch.zeros(len(train_set), dtype=torch.bool))
    frame = found.frame().assign(adv=adv.numpy(), rare=rare.bool().numpy())
    return {"estimate": found, "frame": frame, "seconds": seconds}


def tail_agreement(frame) -> dict:
    """What a :func:`long_tail` frame says: how many examples have both scores, the Spearman correlation of
    memorization with adv (negative: the more memorized, the closer to a decision boundary), and, where rare
    examples were planted, their mean memorization against the common ones' and the AUROC of memorization at
    ranking them first (None without planted examples)."""
    from scipy.stats import spearmanr

    known = frame[frame.memorization.notna() & np.isfinite(frame.adv)]
    rare = known.rare.to_numpy(bool)
    planted = rare.any() and not rare.all()
    return {"examples": len(known), "rho": float(spearmanr(known.memorization, known.adv).statistic),
            "rare": int(frame.rare.sum()),
            "rare_mean": float(known.memorization[rare].mean()) if planted else None,
            "common_mean": float(known.memorization[~rare].mean()) if planted else None,
            "rare_auroc": auroc(known.memorization.to_numpy(), rare) if planted else None}


@cache.recipe
def removal(dataset, *, model, model_options, fit, runs, fraction, adv_models, adv_steps, count, seeds, targets,
            examples=None) -> dict:
    """:func:`removal_test` on the :func:`long_tail` of ``dataset`` (the same settings): models without the
    ``count`` most memorized examples, without ``count`` random ones, and on the whole set, ``seeds`` each.
    Returns ``{"frame", "target"}`` as :func:`removal_test` does."""
    train_set, test_set = data.train_test(dataset, download=True, examples=examples)
    tail = long_tail(dataset, model=model, model_options=model_options, fit=fit, runs=runs, fraction=fraction,
                     adv_models=adv_models, adv_steps=adv_steps, examples=examples)
    influence, _ = tail["estimate"].influence()
    frame, target = removal_test(train_set, test_set, torch.tensor(tail["frame"].memorization.to_numpy()),
                                 influence, count=count, seeds=seeds, targets=targets, model=model,
                                 model_options=model_options, **fit)
    return {"frame": frame, "target": target}


def removal_verdict(frame) -> dict:
    """The removal test read by the rule its chapter states first: per seed, the gap in target accuracy between
    random removal and removing the most memorized; "supported" when the mean gap exceeds twice its standard error,
    "refuted" when it is not positive, else "inconclusive" (also with one seed). Returns the gap, its standard
    error, the per-group mean target and test accuracies and the verdict."""
    paired = frame.pivot(index="seed", columns="removed", values="target_accuracy")
    gap = paired["random"] - paired["top memorized"]
    se = float(gap.std(ddof=1) / np.sqrt(len(gap))) if len(gap) > 1 else None
    verdict = ("inconclusive" if se is None else "supported" if gap.mean() > 2 * se else
               "refuted" if gap.mean() <= 0 else "inconclusive")
    return {"gap": float(gap.mean()), "se": se, "seeds": len(gap), "verdict": verdict,
            "target": paired.to_dict("list"), "test": frame.groupby("removed").test_accuracy.mean().to_dict()}


@cache.recipe
def detect(dataset, *, method, noise_kind, noise_rate, seed, model, model_options, fit, runs, fraction, folds, elr,
           adv_steps, mapping=None, examples=None) -> dict:
    """One detector of :func:`suspects` on ``dataset`` with ``noise_rate`` of its training labels flipped
    (``noise_kind`` "symmetric", or "asymmetric" by ``mapping``, pairs [source, target]): its :func:`detection`
    metrics, its wall time in seconds and the number of mislabeled examples."""
    train_set, test_set = data.train_test(dataset, download=True, examples=examples)
    checks.one_of("noise_kind", noise_kind, ("symmetric", "asymmetric"))
    noisy = (noise.symmetric(train_set.y, noise_rate, train_set.num_classes, seed=seed) if noise_kind == "symmetric"
             else noise.asymmetric(train_set.y, noise_rate, dict(mapping), seed=seed,
                                   num_classes=train_set.num_classes))
    ranked = suspects(train_set, noisy, method=method, model=model, model_options=model_options, seed=seed,
                      test=test_set, runs=runs, fraction=fraction, folds=folds, elr=elr, adv_steps=adv_steps, **fit)
    return {**detection(ranked, noisy), "seconds": ranked.attrs["seconds"], "noisy": int(noisy.is_noisy.sum())}


@cache.recipe
def ranked_suspects(dataset, *, method, model, model_options, fit, runs, fraction, folds, elr, adv_steps,
                    examples=None):
    """:func:`suspects` on ``dataset``'s own labels: the ranked frame a practitioner reads."""
    train_set, test_set = data.train_test(dataset, download=True, examples=examples)
    return suspects(train_set, train_set.y, method=method, model=model, model_options=model_options,
                    test=test_set, runs=runs, fraction=fraction, folds=folds, elr=elr, adv_steps=adv_steps, **fit)
