"""What GradientProbe costs: time per epoch of `fit` with the probe against a plain `fit` epoch.

    python benchmarks/gradient_probe_cost.py [--repeats 3]

Three runs per case, all through `fit` as the book's chapters use it (per-example records of the training set and
test accuracy every epoch), 10% label noise: plain training; training with `GradientProbe`, which splits each
step's backward pass into its clean and its mislabeled part (two backward passes, no extra forward); and the
accounting of the reference implementation of Maini et al. 2023, three backward passes per step (clean, mislabeled,
then the full loss for the optimizer).
Reported: seconds per epoch, best of `--repeats`, and each as a multiple of the plain epoch. CPU always (process
CPU time, which other load on a shared machine disturbs less than wall-clock time; run with OMP_NUM_THREADS=1 for
steady numbers), CUDA when present (wall-clock time).
"""
import argparse
import platform
import time

import torch

from memlib import data, models, noise
from memlib.gradients import GradientProbe
from memlib.train import Callback, fit

def random_images(n, seed):
    generator = torch.Generator().manual_seed(seed)
    return data.Dataset(torch.rand(n, 3, 32, 32, generator=generator), torch.arange(n) % 10, name="random")


CASES = [
    # name, model, model options, (train, test) factory, epochs, batch size
    ("mlp / digits", "mlp", {}, lambda: (data.load("digits"), data.load("digits", "test")), 10, 64),
    ("cnn (width 16) / digits", "cnn", {"width": 16}, lambda: (data.load("digits"), data.load("digits", "test")),
     4, 64),
    # CIFAR-10's shape and its 5:1 train/test ratio.
    ("resnet9 / 3×32×32 random", "resnet9", {}, lambda: (random_images(640, 0), random_images(128, 1)), 1, 128),
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


def seconds_per_epoch(model_name, options, train_set, test_set, noisy, epochs, batch_size, device, probe, repeats):
    times = []
    for repeat in range(repeats):
        model = models.build(model_name, train_set.num_classes, train_set.shape, seed=repeat, **options)
        callbacks = [probe(noisy.is_noisy)] if probe else []
        clock = time.perf_counter if device.type == "cuda" else time.process_time
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = clock()
        fit(model, train_set, labels=noisy, test=test_set, epochs=epochs, lr=0.05, weight_decay=5e-4,
            batch_size=batch_size, device=device, callbacks=callbacks, seed=repeat)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((clock() - start) / epochs)
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
        train_set, test_set = make()
        noisy = noise.symmetric(train_set.y, 0.1, train_set.num_classes, seed=0)
        for device in devices:
            run = dict(model_name=model_name, options=options, train_set=train_set, test_set=test_set, noisy=noisy,
                       epochs=epochs, batch_size=batch_size, device=device, repeats=args.repeats)
            plain = seconds_per_epoch(probe=None, **run)
            probed = seconds_per_epoch(probe=GradientProbe, **run)
            three = seconds_per_epoch(probe=ThreeBackwardPasses, **run)
            print(f"| {name} | {device.type} | {plain:.3f} | {probed:.3f} | {probed / plain:.2f}× | {three:.3f} "
                  f"| {three / plain:.2f}× |")


if __name__ == "__main__":
    main()
