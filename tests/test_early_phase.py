import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from memlib import early_phase, models, noise, settings, train
from memlib.early_phase import (DistanceFromInit, GradientNorms, error_along_path, error_barrier,
                                forgetting_events, interpolate, train_from, unforgettable)
from memlib.train import Callback, Checkpoints, fit

FAST = dict(epochs=3, lr=0.05, weight_decay=5e-4, batch_size=16)  # the tiny set: 3 steps per epoch


class Batches(Callback):
    """Remembers each step's example indices."""

    def __init__(self):
        self.index = []

    def on_batch_end(self, state):
        self.index.append(state.index.clone())


class Rates(Callback):
    """Remembers the learning rate each step used (the one set before it)."""

    def __init__(self):
        self.seen = []

    def on_train_begin(self, state):
        self.seen.append(state.optimizer.param_groups[0]["lr"])

    def on_batch_end(self, state):
        self.seen.append(state.optimizer.param_groups[0]["lr"])

    @property
    def used(self):
        return self.seen[:-1]


def test_checkpoints_are_copies_that_do_not_follow_the_model(tiny):
    """What tests/test_train.py does not check: repeated steps are kept once, and a kept state is a copy."""
    model = models.build("mlp", 4, tiny.shape, seed=0)
    keep = Checkpoints([4, 0, 4])
    fit(model, tiny, callbacks=[keep], **FAST)
    assert keep.steps == [0, 4] and sorted(keep.states) == [0, 4]
    kept = keep.states[4]["1.weight"].clone()
    with torch.no_grad():
        model[1].weight.add_(1.0)
    assert torch.equal(keep.states[4]["1.weight"], kept)


@pytest.mark.parametrize("steps", [[1.5], [True], ["3"]])
def test_checkpoints_reject_steps_that_are_not_integers(steps):
    with pytest.raises(ValueError, match="non-negative integers"):
        Checkpoints(steps)


def test_gradient_norms_and_distances_match_a_direct_computation(tiny):
    """Replays the first steps from the checkpoints: the gradient of step t is the one of the loss at the weights
    after t − 1 steps, on step t's batch; the distance after step t is ‖w_t − w_0‖."""
    model = models.build("mlp", 4, tiny.shape, seed=0)
    grads, dists, keep, batches = GradientNorms(), DistanceFromInit(), Checkpoints(range(10)), Batches()
    fit(model, tiny, callbacks=[grads, dists, keep, batches], **FAST)
    assert grads.values.shape == dists.values.shape == (9,)
    probe = models.build("mlp", 4, tiny.shape)
    for step in range(1, 10):
        probe.load_state_dict(keep.states[step - 1])
        probe.zero_grad()
        index = batches.index[step - 1]
        F.cross_entropy(probe(tiny.x[index]), tiny.y[index]).backward()
        expected = torch.cat([p.grad.flatten() for p in probe.parameters()]).norm()
        assert torch.allclose(grads.values[step - 1], expected, rtol=1e-4)
        moved = torch.cat([(keep.states[step][k] - keep.states[0][k]).flatten() for k in keep.states[0]]).norm()
        assert torch.allclose(dists.values[step - 1], moved, rtol=1e-4)
    initial = torch.cat([v.flatten() for v in keep.states[0].values()]).norm()
    assert dists.initial_norm == pytest.approx(float(initial), rel=1e-5)


def test_forgetting_events_count_correct_to_wrong_transitions():
    labels = torch.tensor([0, 1, 2, 3])
    correct = torch.tensor([  # epochs × examples
        [1, 0, 0, 1],
        [0, 0, 1, 1],
        [1, 0, 1, 0],
        [0, 0, 1, 1],
    ], dtype=torch.bool)
    predictions = torch.where(correct, labels, (labels + 1) % 4)
    assert forgetting_events(predictions, labels).tolist() == [2, 0, 0, 1]
    assert unforgettable(predictions, labels).tolist() == [False, False, True, False]
    with pytest.raises(ValueError, match="epochs × N"):
        forgetting_events(predictions, labels[:3])
    first = torch.tensor([True, True, False, False])
    groups = {"first two": first, "last two": ~first}
    summary = early_phase.forgetting_summary(predictions, labels, groups)
    assert summary.loc["first two"].tolist() == [2, 0.5, 0.0, 2.0]  # example 1 never learned
    assert summary.loc["last two"].tolist() == [2, 0.0, 0.5, 0.5]
    with pytest.raises(ValueError, match="boolean mask"):
        early_phase.forgetting_summary(predictions, labels, {"bad": torch.tensor([0, 1])})


def test_interpolation_and_the_error_barrier(tiny):
    a = models.build("cnn", 4, tiny.shape, seed=0, width=4).state_dict()
    b = models.build("cnn", 4, tiny.shape, seed=1, width=4).state_dict()
    middle = interpolate(a, b, 0.5)
    for key in a:
        if a[key].is_floating_point():
            assert torch.allclose(middle[key], (a[key] + b[key]) / 2)
            assert torch.equal(interpolate(a, b, 0.0)[key], a[key])
            assert torch.allclose(interpolate(a, b, 1.0)[key], b[key])
        else:  # BatchNorm's batch counter
            assert torch.equal(middle[key], a[key])
    with pytest.raises(ValueError, match="same architecture"):
        interpolate(a, models.build("mlp", 4, tiny.shape).state_dict(), 0.5)
    assert error_barrier([0.1, 0.4, 0.2]) == pytest.approx(0.25)
    assert error_barrier([0.3, 0.2, 0.1]) == pytest.approx(0.1)


def test_error_along_the_path_ends_at_the_two_networks(tiny):
    model = models.build("mlp", 4, tiny.shape, seed=0)
    fit(model, tiny, **FAST)
    other = models.build("mlp", 4, tiny.shape, seed=1)
    alphas, errors = error_along_path(model, model.state_dict(), other.state_dict(), tiny, points=5)
    assert alphas.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0] and errors.shape == (5,)
    assert float(errors[0]) == pytest.approx(1 - train.accuracy(model, tiny))
    assert float(errors[-1]) == pytest.approx(1 - train.accuracy(other, tiny))
    # A network's path to itself is flat: no barrier.
    _, same = error_along_path(model, model.state_dict(), model.state_dict(), tiny)
    assert error_barrier(same) == 0.0
    with pytest.raises(ValueError, match="points"):
        error_along_path(model, model.state_dict(), other.state_dict(), tiny, points=1)


def test_train_from_continues_the_parent_schedule(tiny):
    options = dict(FAST, epochs=4, schedule="cosine")
    parent, keep = Rates(), Checkpoints([3])
    fit(models.build("mlp", 4, tiny.shape), tiny, callbacks=[parent, keep], **options)
    child, rates = models.build("mlp", 4, tiny.shape, seed=5), Rates()
    history = train_from(child, keep.states[3], tiny, step=3, seed=1, callbacks=[rates], **options)
    assert history.epochs == 3  # the parent's last 3 of 4 epochs (3 steps each)
    assert rates.used == pytest.approx(parent.used[3:])
    assert all(not torch.equal(child.state_dict()[k], v) for k, v in keep.states[3].items() if "weight" in k)
    with pytest.raises(ValueError, match="step"):
        train_from(child, keep.states[3], tiny, step=12, seed=1, **options)


def test_stability_reports_a_barrier_per_rewinding_step(tiny):
    model = models.build("mlp", 4, tiny.shape, seed=0)
    keep = Checkpoints([0, 6])
    fit(model, tiny, callbacks=[keep], **FAST)
    frame = early_phase.stability(model, keep.states, tiny, tiny, points=3, **FAST)
    assert frame["step"].tolist() == [0, 6]
    assert list(frame.columns) == ["step", "test_barrier", "train_barrier", "test_error_a", "test_error_b"]
    with pytest.raises(ValueError, match="two different"):
        early_phase.stability(model, keep.states, tiny, tiny, seeds=(1, 1), **FAST)


def test_copies_trained_from_a_later_iteration_have_a_lower_barrier(digits_train, digits_test):
    """Frankle et al. (2020, LMC, Sec. 3): two copies trained from the initialization with two data orders end
    apart, with an error barrier between them; two copies trained from the weights at a later iteration k of the
    same run end much closer to linearly connected. Chapter 7's quick recipe (its noise, its fit, one of its
    rewinding iterations) on digits, with a small MLP in place of its CNN for speed; the barrier on the training
    set w.r.t. the given labels, where the copies' different memorization of the mislabeled examples shows."""
    config = settings.chapter(7).config("quick")
    late = 200
    assert late in config["rewind"]
    noisy = noise.symmetric(digits_train.y, config["noise_rate"], digits_train.num_classes, seed=0)
    model = models.build("mlp", digits_train.num_classes, digits_train.shape, seed=0)
    keep = Checkpoints([0, late])
    fit(model, digits_train, labels=noisy, seed=0, callbacks=[keep], **config["fit"])
    frame = early_phase.stability(model, keep.states, digits_train, digits_test, labels=noisy, seeds=(100, 101),
                                  points=5, **config["fit"]).set_index("step")
    assert frame.loc[0, "train_barrier"] >= 0.05
    assert frame.loc[late, "train_barrier"] <= frame.loc[0, "train_barrier"] / 2


def test_centred_average_keeps_a_peak_where_it_is():
    spike = torch.tensor([0.0, 0.0, 3.0, 0.0, 0.0])
    assert early_phase.centred_average(spike, 3).tolist() == pytest.approx([0.0, 0.75, 1.5, 0.75, 0.0])
    assert early_phase.centred_average(spike, 1).tolist() == spike.tolist()
    # Renormalized at the ends: a constant series stays constant, however wide the window.
    assert early_phase.centred_average(torch.full((4,), 2.0), 7).tolist() == pytest.approx([2.0] * 4)
    for window in (0, 2, True, 1.0):
        with pytest.raises(ValueError, match="odd"):
            early_phase.centred_average(spike, window)


def test_milestones_read_the_timeline():
    # The gradient norm peaks at step 3. A one-epoch sliding window would report the end of a window (step 4 at
    # the earliest with 4 steps per epoch); the centred average keeps step 3.
    gradient_norms = torch.tensor([1.0, 2.0, 6.0, 3.0, 1.0, 1.0, 1.0, 1.0])
    distances = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    stability = pd.DataFrame({"step": [0, 2, 4, 6], "test_barrier": [0.3, 0.01, 0.05, 0.0]})
    timeline = pd.DataFrame({"epoch": [1, 2, 3, 4], "true_label": [0.5, 0.8, 0.6, 0.4]})
    marks = early_phase.milestones(gradient_norms, distances, stability, timeline, steps_per_epoch=2,
                                   threshold=0.02, window=3)
    assert marks == {"gradient_peak_step": 3, "half_distance_step": 4, "stable_step": 6,
                     "memorization_step": 4, "total_steps": 8}
    for window in (1, 5):
        assert early_phase.milestones(gradient_norms, distances, stability, timeline, steps_per_epoch=4,
                                      threshold=0.02, window=window)["gradient_peak_step"] == 3
    # A peak at the very first iteration is found there.
    early = torch.tensor([9.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert early_phase.milestones(early, distances, stability, timeline, steps_per_epoch=2, threshold=0.02,
                                  window=5)["gradient_peak_step"] == 1
    # The threshold decides which barriers count as stable: at 0.1, only step 0's 0.3 is above it.
    assert early_phase.milestones(gradient_norms, distances, stability, timeline, steps_per_epoch=2,
                                  threshold=0.1, window=3)["stable_step"] == 2
    never = stability.assign(test_barrier=0.5)
    assert early_phase.milestones(gradient_norms, distances, never, timeline, steps_per_epoch=2, threshold=0.02,
                                  window=3)["stable_step"] is None
    with pytest.raises(ValueError, match="one gradient norm"):
        early_phase.milestones(gradient_norms[:3], distances, stability, timeline, steps_per_epoch=2,
                               threshold=0.02, window=3)
    with pytest.raises(ValueError, match="threshold"):
        early_phase.milestones(gradient_norms, distances, stability, timeline, steps_per_epoch=2, threshold=-0.1,
                               window=3)
