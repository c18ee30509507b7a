import math

import pytest
import torch
from torch import nn

from memlib import models, train
from memlib.train import Callback, History, fit, schedule_factor

FAST = dict(epochs=3, lr=0.05, weight_decay=0.0, batch_size=16)


def test_schedules_follow_their_definitions():
    assert schedule_factor("constant", 50, 100) == 1.0
    assert schedule_factor("cosine", 0, 100) == 1.0
    assert abs(schedule_factor("cosine", 50, 100) - 0.5) < 1e-12
    assert schedule_factor("step", 49, 100) == 1.0
    assert abs(schedule_factor("step", 60, 100) - 0.1) < 1e-12 and abs(schedule_factor("step", 80, 100) - 0.01) < 1e-12
    # Triangle with 20% warm-up: up to 1 at step 20, linearly down to 0 at the end.
    assert schedule_factor("triangle", 9, 100, warmup=0.2) == 0.5
    assert schedule_factor("triangle", 20, 100, warmup=0.2) == 1.0
    assert abs(schedule_factor("triangle", 60, 100, warmup=0.2) - 0.5) < 1e-12
    assert schedule_factor(lambda t: 1 - t / 2, 100, 100) == 0.5
    with pytest.raises(ValueError, match="cosine"):
        schedule_factor("exponential", 1, 10)


class IndexRecorder(nn.Module):
    """A linear model that remembers the example indices it was given in training mode."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(64, 4)
        self.seen = []

    def forward(self, x, index=None):
        if self.training:
            self.seen.append(index.clone())
        return self.linear(x.flatten(1))


def test_fit_hands_every_example_index_to_the_model_once_per_epoch(tiny):
    model = IndexRecorder()
    fit(model, tiny, **FAST)
    seen = torch.cat(model.seen)
    assert len(seen) == 3 * len(tiny)
    for epoch in seen.view(3, -1):
        assert sorted(epoch.tolist()) == list(range(len(tiny)))


def test_fit_records_per_example_predictions_and_losses(tiny):
    history = fit(models.build("mlp", 4, tiny.shape), tiny, test=tiny, **FAST)
    assert history.predictions.shape == (3, 40) and history.predictions.dtype == torch.int64
    assert history.losses.shape == (3, 40) and (history.losses >= 0).all()
    assert history.test_accuracy.shape == (3,) and history.train_time > 0
    # The record is the eval-mode prediction at the end of each epoch, so it matches a fresh evaluation.
    model = models.build("mlp", 4, tiny.shape)
    history = fit(model, tiny, **FAST)
    predictions, losses = train.evaluate(model, tiny)
    assert torch.equal(history.predictions[-1], predictions) and torch.allclose(history.losses[-1], losses)
    assert math.isnan(float(history.test_accuracy[0]))
    frame = history.to_frame()
    assert list(frame.columns) == ["epoch", "train_loss", "train_accuracy", "test_accuracy"] and len(frame) == 3


def test_same_seed_same_numbers_and_the_global_rng_is_restored(tiny):
    def run(seed):
        return fit(models.build("mlp", 4, tiny.shape, seed=0), tiny, seed=seed, **FAST)

    state = torch.random.get_rng_state()
    a, b, c = run(0), run(0), run(1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.losses, b.losses) and torch.equal(a.train_loss, b.train_loss)
    assert not torch.equal(a.losses, c.losses)


def test_fit_trains_on_the_given_labels_and_accepts_noisy_labels(tiny):
    from memlib import noise

    flipped = (tiny.y + 1) % 4
    history = fit(models.build("mlp", 4, tiny.shape), tiny, labels=flipped, epochs=40, lr=0.1, weight_decay=0.0,
                  batch_size=8)
    assert float(history.accuracy()[-1]) == 1.0 and torch.equal(history.labels, flipped)
    noisy = noise.symmetric(tiny.y, 0.25, 4)
    assert torch.equal(fit(models.build("mlp", 4, tiny.shape), tiny, labels=noisy, **FAST).labels, noisy.labels)


def test_custom_loss_gets_logits_labels_and_index(tiny):
    calls = []

    def loss(logits, labels, index):
        calls.append((logits.shape, labels.shape, index.shape))
        return nn.functional.cross_entropy(logits, labels)

    fit(models.build("mlp", 4, tiny.shape), tiny, loss=loss, **FAST)
    assert len(calls) == 9 and calls[0] == ((16, 4), (16,), (16,))


def test_callbacks_see_every_hook(tiny):
    class Counter(Callback):
        def __init__(self):
            self.calls = {"begin": 0, "batch": 0, "epoch": 0, "end": 0}
            self.steps = []

        def on_train_begin(self, state):
            self.calls["begin"] += 1

        def on_batch_end(self, state):
            self.calls["batch"] += 1
            self.steps.append(state.step)

        def on_epoch_end(self, state):
            self.calls["epoch"] += 1

        def on_train_end(self, state):
            self.calls["end"] += 1

    counter = Counter()
    fit(models.build("mlp", 4, tiny.shape), tiny, callbacks=[counter], **FAST)
    assert counter.calls == {"begin": 1, "batch": 9, "epoch": 3, "end": 1}
    assert counter.steps == list(range(1, 10))


def test_a_non_finite_loss_stops_with_the_epoch_and_step(tiny):
    calls = []

    def loss(logits, labels, index):
        calls.append(1)
        value = nn.functional.cross_entropy(logits, labels)
        return value * float("nan") if len(calls) == 5 else value

    with pytest.raises(FloatingPointError, match="epoch 2, step 2 of 3"):
        fit(models.build("mlp", 4, tiny.shape), tiny, loss=loss, **FAST)


@pytest.mark.parametrize("override, match", [
    ({"epochs": 0}, "epochs"), ({"lr": 0.0}, "lr"), ({"batch_size": 0}, "batch_size"),
    ({"momentum": 1.0}, "momentum"), ({"weight_decay": -1.0}, "weight_decay"), ({"warmup": 1.0}, "warmup"),
    ({"schedule": "linear"}, "schedule"), ({"labels": torch.zeros(3, dtype=torch.long)}, "one per example"),
    ({"labels": torch.full((40,), 9)}, r"\[0, 4\)"),
])
def test_fit_rejects_bad_arguments(tiny, override, match):
    with pytest.raises(ValueError, match=match):
        fit(models.build("mlp", 4, tiny.shape), tiny, **{**FAST, **override})


def test_evaluate_restores_the_mode_and_accuracy_agrees(tiny):
    model = models.build("cnn", 4, tiny.shape)
    model.train()
    predictions, losses = train.evaluate(model, tiny, batch_size=7)
    assert model.training and predictions.shape == (40,) and losses.shape == (40,)
    assert train.accuracy(model, tiny) == float((predictions == tiny.y).float().mean())


def test_history_round_trips_through_a_plain_dict(tiny, tmp_path):
    history = fit(models.build("mlp", 4, tiny.shape), tiny, **FAST)
    torch.save(history.to_dict(), tmp_path / "h.pt")
    again = History.from_dict(torch.load(tmp_path / "h.pt", weights_only=True))
    assert torch.equal(again.predictions, history.predictions) and again.train_time == history.train_time


class MeanBackward(Callback):
    """Runs the backward pass as fit would, recording what it was given."""

    def __init__(self):
        self.shapes = []

    def backward(self, state, losses):
        self.shapes.append(tuple(losses.shape))
        assert torch.allclose(losses.mean(), state.loss)
        state.scaler.scale(losses.mean()).backward()


def test_a_callback_can_run_the_backward_pass_on_per_example_losses(tiny):
    plain = fit(models.build("cnn", 4, tiny.shape, seed=0), tiny, **FAST)
    owner = MeanBackward()
    hooked = fit(models.build("cnn", 4, tiny.shape, seed=0), tiny, callbacks=[owner], **FAST)
    assert owner.shapes == [(16,), (16,), (8,)] * 3
    # The plain path takes the batch mean inside the cross-entropy, the hook the mean of per-example losses.
    assert torch.allclose(plain.losses, hooked.losses, atol=1e-6)
    assert torch.allclose(plain.train_loss, hooked.train_loss, atol=1e-6)


def test_a_loss_may_return_per_example_values_which_fit_averages(tiny):
    def mean_loss(logits, labels, index):
        return nn.functional.cross_entropy(logits, labels)

    def per_example(logits, labels, index):
        return nn.functional.cross_entropy(logits, labels, reduction="none")

    a = fit(models.build("mlp", 4, tiny.shape, seed=0), tiny, loss=mean_loss, **FAST)
    b = fit(models.build("mlp", 4, tiny.shape, seed=0), tiny, loss=per_example, **FAST)
    assert torch.equal(a.losses, b.losses)
    # A callback that runs the backward pass needs the per-example values; one backward owner at most.
    with pytest.raises(ValueError, match="one loss per example"):
        fit(models.build("mlp", 4, tiny.shape), tiny, loss=mean_loss, callbacks=[MeanBackward()], **FAST)
    with pytest.raises(ValueError, match="at most one callback"):
        fit(models.build("mlp", 4, tiny.shape), tiny, callbacks=[MeanBackward(), MeanBackward()], **FAST)


def test_checkpoints_keep_the_weights_at_the_chosen_steps(tiny):
    from memlib.train import Checkpoints

    model = models.build("mlp", 4, tiny.shape, seed=0)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    keep = Checkpoints([0, 2, 9, 100])
    fit(model, tiny, callbacks=[keep], **FAST)
    assert sorted(keep.states) == [0, 2, 9]
    assert all(torch.equal(keep.states[0][k], initial[k]) for k in initial)
    assert all(torch.equal(keep.states[9][k], v) for k, v in model.state_dict().items())
    assert not torch.equal(keep.states[2]["1.weight"], keep.states[0]["1.weight"])
    with pytest.raises(ValueError, match="non-negative integers"):
        Checkpoints([-1])


class InputRecorder(nn.Module):
    """A linear model that remembers its inputs, in training and in eval mode."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(64, 4)
        self.seen = {True: [], False: []}

    def forward(self, x, index=None):
        self.seen[self.training].append((x.clone(), index.clone()))
        return self.linear(x.flatten(1))


def test_augmentation_changes_training_batches_only_and_is_seeded(tiny):
    from memlib.batches import CropFlip

    model = InputRecorder()
    history = fit(model, tiny, augment=CropFlip(padding=2), **FAST)
    changed = torch.cat([(x != tiny.x[index]).flatten(1).any(1) for x, index in model.seen[True]])
    assert changed.float().mean() > 0.5  # most training examples arrive translated or mirrored
    assert all(torch.equal(x, tiny.x[index]) for x, index in model.seen[False])  # records: the plain images
    assert torch.equal(history.predictions[-1], train.evaluate(model, tiny)[0])

    def run(seed, augment=CropFlip()):
        return fit(models.build("mlp", 4, tiny.shape, seed=0), tiny, seed=seed, augment=augment, **FAST).losses

    assert torch.equal(run(0), run(0)) and torch.equal(run(0), run(0, augment="crop-flip"))
    assert not torch.equal(run(0), run(1)) and not torch.equal(run(0), run(0, augment=None))
    with pytest.raises(ValueError, match="CropFlip"):
        fit(models.build("mlp", 4, tiny.shape), tiny, augment="crop", **FAST)


def test_compiled_training_matches_eager_and_compiles_once_for_every_seed(tiny):
    from torch._dynamo.utils import counters

    settings = {**FAST, "batch_size": 20}  # 40 examples: no smaller last batch, one shape to compile for

    def run(seed, compiled):
        model = models.build("mlp", 4, tiny.shape, seed=seed)
        return fit(model, tiny, test=tiny, seed=seed, compile=compiled, **settings)

    first = run(0, True)
    graphs = counters["stats"]["unique_graphs"]
    second = run(1, True)
    assert graphs > 0 and counters["stats"]["unique_graphs"] == graphs  # the new weights reuse the graphs
    for compiled, eager in ((first, run(0, False)), (second, run(1, False))):
        assert torch.allclose(compiled.losses, eager.losses, atol=1e-5)
        assert torch.equal(compiled.predictions, eager.predictions)
