"""The pieces behind the profiles: input normalization on the device, smoke scale, the settings home, the paper
profiles' schedules and networks, and continuing a run from an optimizer step."""
import math

import pytest
import torch

from memlib import data, models, pruning, settings, train
from memlib.batches import DeviceImages


def test_normalization_of_8_bit_images_is_one_gather_equal_to_normalizing_the_floats():
    codes = torch.randint(0, 256, (6, 3, 5, 5), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    x = codes.float().div_(255)
    norm = data.REFERENCE["cifar10"]
    images = DeviceImages(x, "cpu", normalization=norm)
    assert images.eight_bit and images.images.dtype == torch.uint8
    assert torch.equal(images.batch(torch.arange(6)), norm(x))
    grid = torch.tensor([[0, 1, 2], [3, 4, 5]])  # a models × batch index, as fit_many draws
    assert torch.equal(images.batch(grid), norm(x[grid.flatten()]).view(2, 3, 3, 5, 5))
    floats = DeviceImages(x + 1e-3, "cpu", normalization=norm)  # not 8-bit: normalized per batch
    assert not floats.eight_bit
    assert torch.allclose(floats.batch(torch.arange(6)), norm(x + 1e-3))


def test_datasets_carry_their_normalization_and_keep_pixels_in_the_unit_range(digits_train):
    norm = digits_train.normalization
    assert float(digits_train.x.min()) >= 0 and float(digits_train.x.max()) <= 1
    seen = digits_train.normalized()
    assert abs(float(seen.mean())) < 1e-3 and abs(float(seen.std()) - 1) < 1e-3
    assert digits_train.subset(torch.arange(10)).normalization == norm
    assert data.load("digits", "test").normalization == norm  # the test split uses the training statistics
    with pytest.raises(ValueError, match="channels"):
        data.Dataset(torch.rand(4, 3, 2, 2), torch.arange(4), normalization=data.REFERENCE["mnist"])


def test_training_and_evaluation_see_normalized_inputs(digits_train):
    seen = []

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(64, 10)

        def forward(self, x, index=None):
            seen.append(x.detach())
            return self.linear(x.flatten(1))

    model = Spy()
    train.fit(model, digits_train, epochs=1, lr=0.01, weight_decay=0, batch_size=len(digits_train))
    assert torch.allclose(seen[0].mean(), digits_train.normalized().mean(), atol=0.05)
    assert float(seen[0].min()) < -0.5  # normalized, not pixels in [0, 1]


def test_smoke_scale_cuts_every_split_to_a_few_hundred_examples_of_every_class(monkeypatch):
    full = data.load("synthetic")
    monkeypatch.setenv("MEMLIB_SMOKE", "1")
    small = data.load("synthetic")
    assert len(small) == data.SMOKE_EXAMPLES["train"] and len(data.load("synthetic", "test")) == 128
    assert set(small.y.tolist()) == set(full.y.tolist())
    assert small.normalization == full.normalization
    assert len(data.load("synthetic", examples=40)) == 40 and len(data.load("synthetic", examples=1000)) == 256
    with pytest.raises(ValueError, match="examples"):
        data.load("synthetic", examples=0)


def test_smoke_scale_shrinks_epochs_and_seeds_wherever_they_stand(monkeypatch):
    chapter = settings.Chapter(0, {"quick": {"fit": {"epochs": 40}, "runs": [{"seeds": 3}]}, "standard": {},
                                   "paper": {}}, (), smoke={"rounds": 1})
    monkeypatch.setenv("MEMLIB_PROFILE", "quick")
    assert chapter.config() == {"fit": {"epochs": 40}, "runs": [{"seeds": 3}]}
    monkeypatch.setenv("MEMLIB_SMOKE", "1")
    assert chapter.config() == {"fit": {"epochs": 2}, "runs": [{"seeds": 1}]}


def test_settings_table_reads_the_profiles_it_shows():
    chapter = settings.Chapter(0, {"quick": {}, "standard": {"fit": {"lr": 0.05}}, "paper": {"fit": {"lr": 5e-4}}},
                               (settings.Setting("learning rate", "fit.lr", "0.1 (Sec. 3)", "`train.py`: 0.01",
                                                 "the code's value"),))
    table = chapter.table().splitlines()
    assert table[0].startswith("| setting | paper | reference code |")
    assert table[2] == "| learning rate | 0.1 (Sec. 3) | `train.py`: 0.01 | 5e-4 | 0.05 | the code's value |"
    with pytest.raises(ValueError, match="chapter 99"):
        settings.chapter(99)


def test_every_chapter_has_settings_for_every_profile():
    for number in range(1, 10):
        chapter = settings.chapter(number)
        assert set(chapter.profiles) == {"quick", "standard", "paper"}
        assert "nan" not in chapter.table().lower().split()


def test_cosine_with_warm_restarts_repeats_its_cycle_down_to_the_floor():
    schedule = {"name": "cosine-restarts", "cycles": 15, "floor": 0.05}
    total = 150 * 10
    factors = [train.schedule_factor(schedule, step, total) for step in range(total)]
    assert factors[0] == pytest.approx(1.0) and factors[100] == pytest.approx(1.0)  # a restart every 10 epochs
    assert min(factors) == pytest.approx(0.05, abs=1e-3)
    with pytest.raises(ValueError, match="cosine-restarts"):
        train.schedule_factor({"name": "cosine-restarts", "cycles": 0}, 0, 10)


def test_start_step_trains_the_remaining_steps_with_the_schedule_continued(tiny):
    steps, rates = [], []

    class Record(train.Callback):
        def on_batch_end(self, state):
            steps.append(state.step)
            rates.append(state.optimizer.param_groups[0]["lr"])

    model = models.build("mlp", 4, tiny.shape, hidden=(8,))
    history = train.fit(model, tiny, epochs=3, lr=0.1, weight_decay=0, batch_size=10, callbacks=[Record()],
                        start_step=6)  # 4 steps an epoch: from the middle of epoch 2
    assert steps == list(range(7, 13)) and history.epochs == 2
    assert rates[0] == pytest.approx(0.1 * train.schedule_factor("cosine", 7, 12))
    assert math.isfinite(float(history.train_loss[0]))
    with pytest.raises(ValueError, match="start_step"):
        train.fit(model, tiny, epochs=1, lr=0.1, weight_decay=0, batch_size=10, start_step=4)


def test_rewinding_to_k_retrains_only_the_remaining_steps(tiny):
    trained = []

    def fit(model, callbacks, start_step):
        trained.append(start_step)
        return train.fit(model, tiny, epochs=2, lr=0.05, weight_decay=0, batch_size=10, callbacks=callbacks,
                         start_step=start_step)

    def build(seed):
        return models.build("mlp", 4, tiny.shape, seed=seed, hidden=(8,))

    pruning.imp(build, fit, rounds=2, rewind=3)
    assert trained == [0, 3, 3]


@pytest.mark.parametrize("name, blocks", [("resnet18", 8), ("resnet34", 16)])
def test_cifar_resnets_put_dropout_after_layer2_and_layer3(name, blocks):
    model = models.build(name, 10, (3, 32, 32), dropout="example_tied", p_gen=0.4, p_mem=0.2, num_examples=8)
    kinds = [type(m).__name__ for m in model]
    assert kinds.count("BasicBlock") == blocks
    tied = [i for i, kind in enumerate(kinds) if kind == "ExampleTiedDropout"]
    assert len(tied) == 2
    assert [model[i - 1].conv2.out_channels for i in tied] == [128, 256]
    assert model(torch.rand(2, 3, 32, 32), torch.arange(2)).shape == (2, 10)
