"""The CUDA paths of the training engine; run by `make test-gpu` on a machine with a GPU (not by `make test`)."""
import pytest
import torch

from memlib import data, models, noise
from memlib.ensemble import fit_many
from memlib.train import Callback, fit

if not torch.cuda.is_available():
    pytest.fail("tests/gpu needs a CUDA device: run them with `make test-gpu` on a GPU machine", pytrace=False)

SETTINGS = dict(epochs=3, lr=0.05, weight_decay=5e-4, batch_size=64)


class Spy(Callback):
    def on_batch_end(self, state):
        self.logits_dtype = state.logits.dtype
        self.weight = next(p for p in state.model.parameters() if p.dim() == 4)


def test_conv_nets_train_channels_last_under_autocast():
    train = data.load("digits")
    spy = Spy()
    history = fit(models.build("cnn", 10, train.shape), train, device="cuda", callbacks=[spy], **SETTINGS)
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16
    assert spy.logits_dtype == expected
    assert spy.weight.is_contiguous(memory_format=torch.channels_last)
    assert float(history.accuracy()[-1]) > 0.8


def test_cuda_training_learns_what_cpu_training_learns():
    train, test = data.load("digits"), data.load("digits", "test")
    settings = {**SETTINGS, "epochs": 20}
    on_gpu = fit(models.build("mlp", 10, train.shape), train, test=test, device="cuda", **settings)
    on_cpu = fit(models.build("mlp", 10, train.shape), train, test=test, device="cpu", **settings)
    assert abs(float(on_gpu.test_accuracy[-1]) - float(on_cpu.test_accuracy[-1])) < 0.03


def test_example_tied_masks_live_on_the_device():
    from memlib import dropout

    train = data.load("digits")
    model = models.build("mlp", 10, train.shape, dropout="example_tied", p_gen=0.4, p_mem=0.2,
                         num_examples=len(train)).cuda()
    assert all(layer.masks.device.type == "cuda" for layer in dropout.example_tied_layers(model))
    noisy = noise.symmetric(train.y, 0.1, 10)
    history = fit(model, train, labels=noisy, device="cuda", **SETTINGS)
    assert history.predictions.shape == (3, len(train))


def test_models_trained_together_on_cuda_match_separate_runs():
    train = data.load("digits")
    together = [models.build("mlp", 10, train.shape, seed=s) for s in (0, 1)]
    histories = fit_many(together, train, seeds=[0, 1], device="cuda", **SETTINGS)
    alone = fit(models.build("mlp", 10, train.shape, seed=1), train, seed=1, device="cuda", **SETTINGS)
    assert (histories[1].predictions[-1] == alone.predictions[-1]).float().mean() > 0.98


def test_eight_bit_images_live_on_the_device_as_uint8_and_decode_exactly():
    from memlib.batches import DeviceImages

    x = torch.randint(0, 256, (64, 3, 32, 32)).float().div_(255)
    images = DeviceImages(x, "cuda", channels_last=True)
    assert images.eight_bit and images.images.dtype == torch.uint8 and images.images.is_cuda
    batch = images.batch(torch.arange(64, device="cuda"))
    assert batch.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(batch.cpu(), x)  # bit for bit the floats the CPU computes


def test_crop_and_flip_run_on_the_device_from_a_device_generator():
    from memlib.batches import CropFlip

    x = torch.rand(256, 3, 8, 8, device="cuda") + 0.5
    mirrored = CropFlip(padding=0)(x, torch.Generator("cuda").manual_seed(0))
    same = (mirrored == x).flatten(1).all(1)
    assert torch.equal(mirrored[~same], x[~same].flip(-1)) and 64 < int(same.sum()) < 192
    shifted = CropFlip(padding=4, flip=False)(x, torch.Generator("cuda").manual_seed(0))
    assert shifted.is_cuda and bool((shifted == 0).flatten(1).any(1).float().mean() > 0.5)  # zero fill shows


class NoHostSync(Callback):
    """Turns CUDA's sync debug mode to "error" for the inner loop of every epoch (after the first batch, until the
    last one ends): a host synchronization there raises."""

    def __init__(self, steps_per_epoch):
        self.steps_per_epoch = steps_per_epoch

    def on_batch_end(self, state):
        torch.cuda.set_sync_debug_mode(0 if state.step % self.steps_per_epoch == 0 else "error")

    def on_train_end(self, state):
        torch.cuda.set_sync_debug_mode(0)


@pytest.mark.parametrize("dropout", [None, "example_tied"])
def test_the_inner_loop_never_waits_for_the_host(dropout):
    from memlib.batches import CropFlip

    if not torch.cuda.is_bf16_supported(including_emulation=False):
        pytest.skip("fp16 autocast uses a GradScaler, whose step reads back an inf check on the host")
    x = torch.randint(0, 256, (1000, 3, 16, 16)).float().div_(255)
    train = data.Dataset(x, torch.arange(1000) % 10)
    options = dict(dropout=dropout, p_gen=0.5, p_mem=0.2, num_examples=1000) if dropout else {}
    model = models.build("cnn", 10, train.shape, width=16, **options)
    try:
        history = fit(model, train, device="cuda", augment=CropFlip(), callbacks=[NoHostSync(16)],
                      **{**SETTINGS, "batch_size": 64})
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert history.predictions.shape == (3, 1000)


def test_compiled_training_on_cuda_learns_what_eager_training_learns():
    train, test = data.load("digits"), data.load("digits", "test")
    settings = {**SETTINGS, "epochs": 10}
    compiled = fit(models.build("cnn", 10, train.shape, width=16), train, test=test, device="cuda", compile=True,
                   **settings)
    eager = fit(models.build("cnn", 10, train.shape, width=16), train, test=test, device="cuda", **settings)
    assert abs(float(compiled.test_accuracy[-1]) - float(eager.test_accuracy[-1])) < 0.03


def test_conv_nets_trained_together_on_cuda_match_separate_runs():
    train = data.load("digits")
    together = [models.build("cnn", 10, train.shape, width=8, seed=s) for s in (0, 1)]
    histories = fit_many(together, train, seeds=[0, 1], device="cuda", **SETTINGS)
    alone = fit(models.build("cnn", 10, train.shape, width=8, seed=1), train, seed=1, device="cuda", **SETTINGS)
    assert (histories[1].predictions[-1] == alone.predictions[-1]).float().mean() > 0.95
