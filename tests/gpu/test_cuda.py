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
