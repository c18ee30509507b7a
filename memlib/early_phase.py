"""Measurements of the early phase of training (Frankle, Schwab & Morcos 2020, "The Early Phase of Neural Network
Training"; Frankle et al. 2020, "Linear Mode Connectivity and the Lottery Ticket Hypothesis").

- :class:`GradientNorms` and :class:`DistanceFromInit`: per-iteration gradient magnitude and weight motion, as
  :func:`memlib.train.fit` callbacks.
- :func:`forgetting_events`, :func:`unforgettable`, :func:`forgetting_summary`: per-example forgetting from a run's
  per-epoch predictions (Toneva et al. 2019).
- :func:`train_from`, :func:`error_along_path`, :func:`error_barrier` and :func:`stability`: instability analysis,
  i.e. train two copies from the weights at iteration k with different data orders and measure the error barrier
  on the straight line between the two results.
- :func:`memorization_onset`, :func:`centred_average` and :func:`milestones`: the landmarks of one run's timeline,
  in iterations.
"""
import copy
from abc import ABC, abstractmethod

import torch

from memlib import checks
from memlib.train import Callback, accuracy, fit


class StepRecorder(Callback, ABC):
    """Records one number after every optimizer step: ``.values[t - 1]`` belongs to step t (a CPU tensor, filled
    at the end of training). Subclasses say what to measure in :meth:`measure`."""

    def on_train_begin(self, state):
        self._values = []

    def on_batch_end(self, state):
        self._values.append(self.measure(state).detach().float())

    def on_train_end(self, state):
        self.values = torch.stack(self._values).cpu() if self._values else torch.empty(0)

    @abstractmethod
    def measure(self, state) -> torch.Tensor:
        """The number to record after this step, as a 0-d tensor (kept on the device until training ends)."""


class GradientNorms(StepRecorder):
    """The L2 norm of the loss gradient over all parameters at every iteration: the gradient magnitude of Frankle,
    Schwab & Morcos (2020, Fig. 2), large in the first iterations of their ResNet-20, then falling. The gradient is
    the one the step just used (weight decay, which SGD adds inside the step, is not part of it)."""

    def measure(self, state):
        norms = [p.grad.detach().float().norm() for p in state.model.parameters() if p.grad is not None]
        return torch.stack(norms).norm() if norms else torch.zeros(())


class DistanceFromInit(StepRecorder):
    """‖w_t − w_0‖₂ over all parameters after every iteration (Frankle, Schwab & Morcos 2020, Fig. 2: how far
    and how fast the weights move in the early phase); ``.initial_norm`` is ‖w_0‖₂, for relative distances."""

    def on_train_begin(self, state):
        super().on_train_begin(state)
        self._start = [p.detach().clone() for p in state.model.parameters()]
        self.initial_norm = float(torch.stack([w.float().norm() for w in self._start]).norm())

    def measure(self, state):
        return torch.stack([(p.detach() - w).float().norm()
                            for p, w in zip(state.model.parameters(), self._start)]).norm()


def forgetting_events(predictions, labels) -> torch.Tensor:
    """How often each example is forgotten: the number of times it goes from correctly classified at one epoch to
    misclassified at the next (Toneva et al. 2019, Sec. 2), from ``History.predictions`` (epochs × N) and the
    labels it was trained on. An int64 tensor of N counts."""
    correct = _correct(predictions, labels)
    return (correct[:-1] & ~correct[1:]).sum(dim=0)


def unforgettable(predictions, labels) -> torch.Tensor:
    """Examples learned at some epoch and never forgotten afterwards (Toneva et al. 2019, Sec. 2, "unforgettable
    examples"); a boolean tensor of N."""
    correct = _correct(predictions, labels)
    return correct.any(dim=0) & ((correct[:-1] & ~correct[1:]).sum(dim=0) == 0)


def forgetting_summary(predictions, labels, groups):
    """Forgetting statistics per group of examples (``groups``: name → boolean mask over the N examples), as
    Toneva et al. (2019, Sec. 3) compare them: the share never learned (correct at no epoch; they count these as
    forgotten most often), the share unforgettable, and the mean number of forgetting events among the examples
    learned at least once. A pandas DataFrame with one row per group."""
    import pandas as pd

    correct = _correct(predictions, labels)
    learned, events = correct.any(dim=0), forgetting_events(predictions, labels)
    kept = unforgettable(predictions, labels)
    rows = {}
    for name, mask in groups.items():
        mask = torch.as_tensor(mask).cpu()
        if mask.shape != learned.shape or mask.dtype != torch.bool:
            raise ValueError(f"group {name!r} must be a boolean mask over the {len(learned)} examples; got "
                             f"{mask.dtype} of shape {tuple(mask.shape)}")
        seen = mask & learned
        rows[name] = {"examples": int(mask.sum()),
                      "never_learned": float((mask & ~learned).sum() / max(1, int(mask.sum()))),
                      "unforgettable": float((mask & kept).sum() / max(1, int(mask.sum()))),
                      "mean_events": float(events[seen].float().mean()) if bool(seen.any()) else float("nan")}
    return pd.DataFrame.from_dict(rows, orient="index")


def _correct(predictions, labels):
    predictions, labels = torch.as_tensor(predictions).cpu(), torch.as_tensor(getattr(labels, "labels", labels)).cpu()
    if predictions.dim() != 2 or labels.shape != predictions.shape[1:]:
        raise ValueError(f"predictions must be epochs × N and labels must hold N labels; got shapes "
                         f"{tuple(predictions.shape)} and {tuple(labels.shape)}")
    checks.labels("labels", labels, None)
    if predictions.is_floating_point() or predictions.dtype == torch.bool:
        raise ValueError(f"predictions must be predicted classes (integers); got dtype {predictions.dtype}")
    return predictions == labels


def train_from(model, state, train, *, step, epochs, batch_size, seed, schedule="cosine", warmup=0.0,
               **fit_options):
    """Load ``state`` (the weights after ``step`` iterations of a run of ``epochs`` epochs) into ``model`` and train
    it for the rest of that run with data order ``seed``: "train to completion from iteration k" of Frankle et al.
    (2020, LMC, Sec. 3). It trains the remaining T − k steps with the learning rate continuing the parent run's
    schedule from iteration k (:func:`memlib.train.fit` with ``start_step``); the optimizer starts afresh (zero
    momentum). Returns the :class:`History`."""
    step = checks.non_negative_int("step", step)
    model.load_state_dict(state)
    return fit(model, train, epochs=epochs, batch_size=batch_size, seed=seed, schedule=schedule, warmup=warmup,
               start_step=step, **fit_options)


def interpolate(state_a, state_b, alpha) -> dict:
    """The state (1 − alpha)·a + alpha·b, entry by entry; integer entries (BatchNorm's batch counters) come from
    ``a``. Frankle et al. (2020, LMC, Sec. 2) evaluate networks along this line."""
    if state_a.keys() != state_b.keys():
        raise ValueError("the two states must come from the same architecture (their keys differ)")
    alpha = checks.real("alpha", alpha)
    return {k: torch.lerp(a, state_b[k].to(a.device, a.dtype), alpha) if a.is_floating_point() else a.clone()
            for k, a in state_a.items()}


def error_along_path(model, state_a, state_b, data, *, points=11, labels=None):
    """The classification error on ``data`` of the networks on the straight line from ``state_a`` (alpha = 0) to
    ``state_b`` (alpha = 1), at ``points`` evenly spaced alphas (Frankle et al. 2020, LMC, Fig. 1 and Sec. 2).
    ``model`` is a network of the same architecture; it is copied, not changed. Returns ``(alphas, errors)`` as
    CPU tensors."""
    points = _check_points(points)
    probe = copy.deepcopy(model)
    alphas = torch.linspace(0, 1, points)
    errors = []
    for alpha in alphas.tolist():
        probe.load_state_dict(interpolate(state_a, state_b, alpha))
        errors.append(1.0 - accuracy(probe, data, labels))
    return alphas, torch.tensor(errors)


def error_barrier(errors) -> float:
    """The error barrier height of a path (Frankle et al. 2020, LMC, Sec. 2): the largest error along it minus the
    mean error of its two ends. Near zero: the two networks are linearly mode connected."""
    errors = torch.as_tensor(errors, dtype=torch.float64)
    if errors.dim() != 1 or len(errors) < 2:
        raise ValueError(f"errors must be a 1-D sequence along the path, both ends included; got shape "
                         f"{tuple(errors.shape)}")
    return float(errors.max() - (errors[0] + errors[-1]) / 2)


def stability(model, states, train, test, *, epochs, batch_size, seeds=(1, 2), points=11, **fit_options):
    """Instability analysis (Frankle et al. 2020, LMC, Sec. 3): for each iteration k in ``states`` (step → weights,
    e.g. :class:`memlib.train.Checkpoints` ``.states``), train two copies from the weights at k with the data orders
    of ``seeds`` (:func:`train_from`) and measure the error barrier between the results on ``test`` and on
    ``train`` (w.r.t. the training labels). Instability falls to about zero once training is stable to SGD noise.

    Returns a pandas DataFrame with one row per k: step, test_barrier, train_barrier, and the two copies' test
    errors (test_error_a, test_error_b).
    """
    import pandas as pd

    seeds = tuple(seeds)
    if len(seeds) != 2 or seeds[0] == seeds[1]:
        raise ValueError(f"seeds must be two different data-order seeds; got {seeds}")
    seeds = tuple(checks.non_negative_int("each seed of seeds", seed) for seed in seeds)
    points = _check_points(points)
    if not isinstance(states, dict) or not states:
        raise ValueError("states must be a non-empty dict {step: model state} (e.g. Checkpoints.states)")
    try:
        states = {checks.non_negative_int("step", step): state for step, state in states.items()}
    except ValueError:
        raise ValueError(f"the steps of states must be non-negative integers (optimizer steps); got "
                         f"{sorted(states, key=repr)}") from None
    train_labels = fit_options.get("labels")
    train_labels = getattr(train_labels, "labels", train_labels)
    rows = []
    for step in sorted(states):
        ends = []
        for seed in seeds:
            child = copy.deepcopy(model)
            train_from(child, states[step], train, step=step, epochs=epochs, batch_size=batch_size, seed=seed,
                       **fit_options)
            ends.append({k: v.detach().clone() for k, v in child.state_dict().items()})
        _, test_errors = error_along_path(model, *ends, test, points=points)
        _, train_errors = error_along_path(model, *ends, train, points=points, labels=train_labels)
        rows.append({"step": step, "test_barrier": error_barrier(test_errors),
                     "train_barrier": error_barrier(train_errors),
                     "test_error_a": float(test_errors[0]), "test_error_b": float(test_errors[-1])})
    return pd.DataFrame(rows)


def memorization_onset(timeline) -> int:
    """The epoch at which early learning ends and memorization takes over: the epoch at which the fraction of
    mislabeled examples predicted as their true label peaks (Liu et al. 2020, Fig. 1), from a
    :func:`memlib.noise.timeline`."""
    return int(timeline["epoch"].iloc[int(timeline["true_label"].to_numpy().argmax())])


def centred_average(values, window) -> torch.Tensor:
    """``values`` (one per iteration) averaged over a centred triangular window of ``window`` steps (an odd
    number; weights 1, 2, …, (window + 1)/2, …, 2, 1, renormalized where the window passes the ends): entry t mixes
    steps t − (window − 1)/2 … t + (window − 1)/2 only, so a peak stays where it is, even in the first
    iterations, where Frankle, Schwab & Morcos (2020, Fig. 2) place the largest gradients. ``window=1`` returns
    the values unchanged."""
    values = torch.as_tensor(values, dtype=torch.float64)
    try:
        window = checks.positive_int("window", window)
        if window % 2 == 0:
            raise ValueError
    except ValueError:
        raise ValueError(f"window must be a positive odd number of steps; got {window!r}") from None
    if values.dim() != 1 or len(values) == 0:
        raise ValueError(f"values must be a non-empty 1-D series; got shape {tuple(values.shape)}")
    half = window // 2
    kernel = torch.cat([torch.arange(1, half + 2), torch.arange(half, 0, -1)]).to(values)
    padded = torch.nn.functional.pad(values[None, None], (half, half))
    weights = torch.nn.functional.pad(torch.ones_like(values)[None, None], (half, half))
    total = torch.nn.functional.conv1d(padded, kernel[None, None])[0, 0]
    return total / torch.nn.functional.conv1d(weights, kernel[None, None])[0, 0]


def milestones(gradient_norms, distances, stability, timeline, *, steps_per_epoch, threshold, window) -> dict:
    """The landmarks of one run's early-phase timeline, in iterations, beside Frankle, Schwab & Morcos (2020,
    Fig. 2): the iteration of the largest gradient norm after :func:`centred_average` over ``window`` steps (no
    lag: it can be iteration 1); the first iteration at which the weights have covered half of their final
    distance from initialization; the first rewinding iteration k of the ``stability`` frame from which every
    later k has a test error barrier of at most ``threshold`` (Frankle et al. 2020, LMC; None if none); the last
    iteration of the epoch at which memorization takes over (:func:`memorization_onset`, read once per epoch);
    and the length of training."""
    gradient_norms, distances = torch.as_tensor(gradient_norms), torch.as_tensor(distances)
    if len(gradient_norms) != len(distances) or len(distances) == 0:
        raise ValueError(f"need one gradient norm and one distance per iteration; got {len(gradient_norms)} and "
                         f"{len(distances)}")
    steps_per_epoch = checks.positive_int("steps_per_epoch", steps_per_epoch)
    threshold = checks.real("threshold (an error barrier)", threshold, low=0)
    half = int((distances >= distances[-1] / 2).nonzero()[0]) + 1
    ordered = stability.sort_values("step")
    unstable = (ordered["test_barrier"] > threshold).to_numpy().nonzero()[0]
    later = ordered["step"].to_numpy()[unstable[-1] + 1:] if len(unstable) else ordered["step"].to_numpy()
    return {
        "gradient_peak_step": int(centred_average(gradient_norms, window).argmax()) + 1,
        "half_distance_step": half,
        "stable_step": int(later[0]) if len(later) else None,
        "memorization_step": memorization_onset(timeline) * steps_per_epoch,
        "total_steps": len(distances),
    }


def _check_points(points):
    try:
        return checks.integer("points", points, minimum=2)
    except ValueError:
        raise ValueError(f"points must be an integer of at least 2 (the two ends); got {points!r}") from None


ORDER = ("unstable_at_init", "stable_at_last", "became_stable", "peak_before_stable", "memorization_after_stable")


def milestone_names(threshold, window) -> dict:
    """What each key of :func:`milestones` marks, in words, for its ``threshold`` and ``window``."""
    return {"gradient_peak_step": f"largest gradient norm (centred {window}-step average)",
            "half_distance_step": "weights at half their final distance from init",
            "stable_step": f"stable to SGD noise (test barrier ≤ {100 * threshold:g} points from here on)",
            "memorization_step": "memorization takes over (peak of mislabeled → true class)",
            "total_steps": "length of training"}


def order_criteria(threshold) -> dict:
    """What each check of :func:`order_checks` asks, in words, for its ``threshold`` (keys in :data:`ORDER`)."""
    points = f"{100 * threshold:g} points"
    return {"unstable_at_init": f"test barrier from the initialization above {points}",
            "stable_at_last": f"test barrier from the last rewinding iteration at most {points}",
            "became_stable": "training became stable at a rewinding iteration tried",
            "peak_before_stable": "gradient norm peaks no later than training becomes stable",
            "memorization_after_stable": "memorization takes over after training has become stable"}


def order_checks(marks, stability, threshold) -> dict:
    """Whether one run follows the order of Frankle, Schwab & Morcos (2020, Fig. 2) and Frankle et al. (2020, LMC,
    Sec. 3), from its :func:`milestones` (``marks``) and its :func:`stability` frame: the test error barrier from
    the initialization is above ``threshold`` (``unstable_at_init``) and the one from the last rewinding iteration
    at most ``threshold`` (``stable_at_last``); training became stable at an iteration tried
    (``became_stable``); the gradient norm peaks no later than that (``peak_before_stable``); memorization takes
    over after it (``memorization_after_stable``). A dict of booleans, keys in the order of :data:`ORDER`."""
    if stability.empty or not {"step", "test_barrier"} <= set(stability.columns):
        raise ValueError(f"stability must be a non-empty frame with step and test_barrier columns (as stability() "
                         f"returns); got columns {list(stability.columns)}")
    barriers = stability.sort_values("step")["test_barrier"]
    stable = marks["stable_step"]
    stable = None if stable is None or stable != stable else stable  # None, or NaN from a frame row
    return {"unstable_at_init": bool(barriers.iloc[0] > threshold) and int(stability["step"].min()) == 0,
            "stable_at_last": bool(barriers.iloc[-1] <= threshold),
            "became_stable": stable is not None,
            "peak_before_stable": stable is not None and marks["gradient_peak_step"] <= stable,
            "memorization_after_stable": stable is not None and marks["memorization_step"] > stable}
