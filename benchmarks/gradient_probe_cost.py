"""What GradientProbe costs: time per epoch of `fit` with the probe against a plain `fit` epoch.

    python benchmarks/gradient_probe_cost.py [--repeats 3]

Three runs per case, all through `fit` (per-example records included, as in the book's chapters), 10% label
noise: plain training; training with `GradientProbe`, which splits each step's backward pass into its clean and its
mislabeled part (two backward passes, no extra forward); and the accounting of the reference implementation of
Maini et al. 2023, three backward passes per step (clean, mislabeled, then the full loss for the optimizer).
Reported: seconds per epoch, best of `--repeats`, and each as a multiple of the plain epoch. CPU always, CUDA when
present.
"""
import argparse
import platform
import time

import torch

from memlib import data, models, noise
from memlib.gradients import GradientProbe
from memlib.train import Callback, fit

CASES = [
    # name, model, model options, dataset factory, epochs, batch size
    ("mlp / digits", "mlp", {}, lambda: data.load("digits"), 10, 64),
    ("cnn (width 16) / digits", "cnn", {"width": 16}, lambda: data.load("digits"), 4, 64),
    ("resnet9 / 3×32×32 random", "resnet9", {},
     lambda: data.Dataset(torch.rand(1024, 3, 32, 32), torch.arange(1024) % 10, name="random"), 1, 128),
]


class ThreeBackwardPasses(Callback):
    """The reference's accounting: backward the clean part and read the gradient, clear it, backward the mislabeled
    part and read it, clear it, then backward the full batch loss for the optimizer."""

    def __init__(self, is_noisy):
        self.is_noisy = is_noisy

    def on_train_begin(self, state):
        self.parameters = [p for p in state.model.parameters() if p.requires_grad]
        self.mask = self.is_noisy.to(self.parameters[0].device)
        self.sums = [[torch.zeros_like(p) for p in self.parameters] for _ in range(2)]

    def backward(self, state, losses):
        noisy = self.mask[state.index]
        for sums, part in zip(self.sums, (losses.masked_fill(noisy, 0.0), losses.masked_fill(~noisy, 0.0))):
            state.scaler.scale(part.sum() / len(losses)).backward(retain_graph=True)
            for total, p in zip(sums, self.parameters):
                total.add_(p.grad)
            state.optimizer.zero_grad(set_to_none=True)
        state.scaler.scale(losses.mean()).backward()


def seconds_per_epoch(model_name, options, train_set, noisy, epochs, batch_size, device, probe, repeats):
    times = []
    for repeat in range(repeats):
        model = models.build(model_name, train_set.num_classes, train_set.shape, seed=repeat, **options)
        callbacks = [probe(noisy.is_noisy)] if probe else []
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fit(model, train_set, labels=noisy, epochs=epochs, lr=0.05, weight_decay=5e-4, batch_size=batch_size,
            device=device, callbacks=callbacks, seed=repeat)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) / epochs)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    where = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {where}")
    print("| case | device | plain epoch (s) | with GradientProbe (s) | probe / plain | three backward passes (s) "
          "| three / plain |")
    print("|---|---|---|---|---|---|---|")
    for name, model_name, options, make, epochs, batch_size in CASES:
        train_set = make()
        noisy = noise.symmetric(train_set.y, 0.1, train_set.num_classes, seed=0)
        for device in devices:
            run = dict(model_name=model_name, options=options, train_set=train_set, noisy=noisy, epochs=epochs,
                       batch_size=batch_size, device=device, repeats=args.repeats)
            plain = seconds_per_epoch(probe=None, **run)
            probed = seconds_per_epoch(probe=GradientProbe, **run)
            three = seconds_per_epoch(probe=ThreeBackwardPasses, **run)
            print(f"| {name} | {device.type} | {plain:.3f} | {probed:.3f} | {probed / plain:.2f}× | {three:.3f} "
                  f"| {three / plain:.2f}× |")


if __name__ == "__main__":
    main()
