import pytest
import torch
import torch.nn.functional as F

from memlib import continual, models
from memlib import settings as chapter_settings
from memlib.continual import EpisodicMemory, ReplayLoss, Task, train_sequence
from memlib.data import Dataset

FAST = dict(epochs=2, lr=0.05, weight_decay=0.0, batch_size=8, device="cpu")


@pytest.fixture(scope="module")
def split_digits(digits_train, digits_test):
    return continual.split_classes(digits_train, digits_test, [range(5), range(5, 10)])


def test_split_classes_partitions_the_classes(digits_train, digits_test, split_digits):
    assert [task.name for task in split_digits] == ["0–4", "5–9"]
    assert sum(len(task.train) for task in split_digits) == len(digits_train)
    assert sum(len(task.test) for task in split_digits) == len(digits_test)
    assert set(split_digits[0].train.y.tolist()) == {0, 1, 2, 3, 4}
    assert set(split_digits[1].test.y.tolist()) == {5, 6, 7, 8, 9}
    assert all(task.train.num_classes == 10 for task in split_digits)  # one shared head: class-incremental
    assert continual.split_classes(digits_train, digits_test, [[1, 7]])[0].name == "1,7"


def test_permuted_pixels_applies_one_permutation_per_task_to_train_and_test(tiny):
    tasks = continual.permuted_pixels(tiny, tiny, 3, seed=0)
    original = tiny.x.flatten(1)
    assert torch.equal(tasks[0].train.x, tiny.x)
    for task in tasks[1:]:
        shuffled = task.train.x.flatten(1)
        order = (shuffled[0][:, None] == original[0][None, :]).float().argmax(1)  # pixels are distinct floats
        assert sorted(order.tolist()) == list(range(64)) and order.tolist() != list(range(64))
        assert torch.equal(shuffled, original[:, order])  # the same permutation for every image ...
        assert torch.equal(task.test.x, task.train.x) and torch.equal(task.train.y, tiny.y)  # ... and split
    assert not torch.equal(tasks[1].train.x, tasks[2].train.x)
    again = continual.permuted_pixels(tiny, tiny, 3, seed=0)
    assert all(torch.equal(a.train.x, b.train.x) for a, b in zip(tasks, again))


def test_memory_shares_its_capacity_evenly_among_tasks(split_digits):
    memory = EpisodicMemory(101, seed=0)
    assert len(memory) == 0
    memory.store(split_digits[0].train)
    first = memory.stored()
    assert len(first) == 101 and set(first.y.tolist()) <= {0, 1, 2, 3, 4}
    memory.store(split_digits[1].train)
    both = memory.stored()
    assert len(both) == 101
    assert int((both.y < 5).sum()) == 51 and int((both.y >= 5).sum()) == 50
    assert torch.equal(both.x[:51], first.x[:51])  # the older task keeps the head of its sample


def test_verbatim_memory_recalls_exactly_what_it_stored(split_digits):
    memory = EpisodicMemory(50, seed=1)
    memory.store(split_digits[0].train)
    recalled, stored = memory.recall(), memory.stored()
    assert torch.equal(recalled.x, stored.x) and torch.equal(recalled.y, stored.y)
    assert memory.fidelity() == {"own": 1.0, "cosine": 1.0, "labels": 1.0}


def test_keys_are_binary_with_the_requested_number_of_active_units(split_digits):
    memory = EpisodicMemory(40, key_sparsity=0.05, key_units=200, seed=0)
    memory.store(split_digits[0].train)
    keys = memory.keys()
    assert keys.shape == (40, 200)
    assert set(keys.unique().tolist()) == {0.0, 1.0}
    assert keys.sum(1).tolist() == [10.0] * 40


def test_fully_dense_keys_recall_the_average_of_everything_stored(split_digits):
    memory = EpisodicMemory(60, key_sparsity=1.0, seed=0)
    memory.store(split_digits[0].train)
    recalled, stored = memory.recall(), memory.stored()
    assert torch.allclose(recalled.x, stored.x.mean(0, keepdim=True).expand_as(stored.x), atol=1e-6)
    assert len(recalled.y.unique()) == 1  # one blended label for every recall
    assert memory.fidelity()["own"] == pytest.approx(1 / 60)


def test_sparser_keys_recall_each_episode_more_faithfully(split_digits):
    """McClelland et al. 1995: sparse codes reduce the interference between stored episodes."""
    fidelity = {}
    for sparsity in (0.003, 0.03, 0.3):
        memory = EpisodicMemory(300, key_sparsity=sparsity, seed=0)
        memory.store(split_digits[0].train)
        fidelity[sparsity] = memory.fidelity()
    assert fidelity[0.003]["own"] > 2 * fidelity[0.03]["own"] > 4 * fidelity[0.3]["own"]
    assert fidelity[0.003]["cosine"] > fidelity[0.03]["cosine"] + 0.01 > fidelity[0.3]["cosine"] + 0.02


def test_replay_loss_is_the_cross_entropy_of_the_concatenated_batch(tiny):
    model = models.build("mlp", 4, tiny.shape, hidden=(8,))
    replay = tiny.subset(torch.arange(10))
    loss = ReplayLoss(model, replay, batch_size=5, seed=3)
    pick = torch.randint(10, (5,), generator=torch.Generator().manual_seed(3))
    x, y = tiny.x[20:28], tiny.y[20:28]
    value = loss(model(x), y)
    expected = F.cross_entropy(model(torch.cat([x, replay.x[pick]])), torch.cat([y, replay.y[pick]]))
    assert torch.allclose(value, expected)


def test_train_sequence_fills_the_accuracy_table(split_digits):
    result = train_sequence(split_digits, model_options=dict(hidden=(16,)), memory_size=20, seed=0, **FAST)
    assert result.tasks == ["0–4", "5–9"]
    assert result.accuracy.shape == (2, 2) and not bool(result.accuracy.isnan().any())
    assert result.recall[0].isnan().all() and result.recall[1].tolist() == [1.0, 1.0, 1.0]
    assert result.replayed_accuracy[0].isnan() and 0 <= float(result.replayed_accuracy[1]) <= 1
    assert result.forgetting.shape == (1,)
    assert result.first_task_curve.shape == (4,) and float(result.first_task_curve[1]) == float(result.accuracy[0, 0])
    assert result.average == pytest.approx(float(result.accuracy[1].mean()))
    assert len(result.to_frame()) == 4
    again = continual.SequenceResult.from_dict(result.to_dict())
    assert torch.equal(again.accuracy, result.accuracy)
    repeat = train_sequence(split_digits, model_options=dict(hidden=(16,)), memory_size=20, seed=0, **FAST)
    assert torch.equal(repeat.accuracy, result.accuracy)


def test_catastrophic_forgetting_and_replay_on_split_digits(split_digits):
    """The chapter's reproduction: McCloskey & Cohen 1989 (forgetting), Chaudhry et al. 2019 (replay). After the
    second task, the first task's accuracy without replay is at most half of that with a replay memory of 300."""
    quick = chapter_settings.chapter(5).config("quick")  # the chapter's quick profile: memory sizes up to 300
    quick = quick["experiment"]
    settings = dict(model=quick["model"], model_options=quick["model_options"], **quick["fit"], device="cpu", seed=0)
    without = train_sequence(split_digits, memory_size=0, **settings)
    replay = train_sequence(split_digits, memory_size=max(quick["memory_sizes"]), **settings)
    assert float(without.accuracy[0, 0]) > 0.9  # the first task was learned ...
    assert float(without.final[0]) < 0.1  # ... and forgotten
    assert float(replay.final[0]) > 0.8
    assert float(without.final[0]) <= 0.5 * float(replay.final[0]) - 0.3
    assert float(replay.final[1]) > 0.85  # replay does not stop the second task from being learned


@pytest.mark.parametrize("call, message", [
    (lambda d: continual.split_classes(d, d, []), "non-empty"),
    (lambda d: continual.split_classes(d, d, [[0, 1], [1, 2]]), "one group"),
    (lambda d: continual.split_classes(d, d, [[0, 4]]), r"\[0, 4\)"),
    (lambda d: continual.permuted_pixels(d, d, 0), "count"),
    (lambda d: EpisodicMemory(-1), "capacity"),
    (lambda d: EpisodicMemory(10, key_sparsity=0.0), "key_sparsity"),
    (lambda d: EpisodicMemory(10, key_sparsity=1.5), "key_sparsity"),
    (lambda d: EpisodicMemory(10, key_units=0), "key_units"),
    (lambda d: EpisodicMemory(10).stored(), "empty"),
    (lambda d: EpisodicMemory(10).store(d.subset(torch.arange(0))), "empty"),
    (lambda d: EpisodicMemory(10).keys(), "verbatim"),
    (lambda d: ReplayLoss(None, d, batch_size=0), "batch_size"),
    (lambda d: train_sequence([], **FAST), "Task"),
    (lambda d: train_sequence([Task("a", d, d)], loss=F.cross_entropy, **FAST), "loss"),
    (lambda d: train_sequence([Task("a", d, d)], memory_size=-2, **FAST), "memory_size"),
])
def test_bad_input_raises_value_error(tiny, call, message):
    with pytest.raises(ValueError, match=message):
        call(tiny)


def test_memory_refuses_tasks_of_another_shape(tiny):
    memory = EpisodicMemory(10)
    memory.store(tiny)
    other = Dataset(torch.rand(5, 1, 4, 4), torch.arange(5) % 4)
    with pytest.raises(ValueError, match="shape"):
        memory.store(other)
