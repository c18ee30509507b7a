"""Training throughput of memlib's `fit` against a plain torch DataLoader loop on the same model, data and batch size,
and of K small models trained together (`memlib.ensemble.fit_many`) against K sequential `fit` runs.

    python benchmarks/train_throughput.py [--repeats 3] [--models 8]

`fit` is timed with everything it does (per-example records: one eval pass over the training set per epoch); the
DataLoader loop is the usual reference-code pattern (TensorDataset, shuffled DataLoader, SGD, cross-entropy) and
keeps no records. Reported: training examples per second, best of `--repeats`. CPU always, CUDA when present.
"""
import argparse
import platform
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from memlib import data, models
from memlib.ensemble import fit_many
from memlib.train import fit

CASES = [
    # name, model, dataset factory, epochs, batch size
    ("mlp / digits", "mlp", lambda: data.load("digits"), 10, 64),
    ("resnet9 / 3×32×32 random", "resnet9",
     lambda: data.Dataset(torch.rand(1024, 3, 32, 32), torch.arange(1024) % 10, name="random"), 1, 128),
]


def dataloader_loop(model, train_set, epochs, batch_size, device):
    """The reference pattern: a shuffled DataLoader over CPU tensors, moved to the device batch by batch."""
    model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loader = DataLoader(TensorDataset(train_set.x, train_set.y), batch_size=batch_size, shuffle=True)
    for _ in range(epochs):
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def with_fit(model, train_set, epochs, batch_size, device):
    fit(model, train_set, epochs=epochs, lr=0.01, weight_decay=5e-4, batch_size=batch_size, device=device)


def best_rate(run, model_name, train_set, epochs, batch_size, device, repeats):
    rates = []
    for repeat in range(repeats):
        model = models.build(model_name, train_set.num_classes, train_set.shape, seed=repeat)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        run(model, train_set, epochs, batch_size, device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(len(train_set) * epochs / (time.perf_counter() - start))
    return max(rates)


def together_vs_sequential(model_name, train_set, count, device, epochs=10, batch_size=64):
    """Seconds to train `count` models one after another with `fit`, and all at once with `fit_many`."""
    settings = dict(epochs=epochs, lr=0.05, weight_decay=5e-4, batch_size=batch_size, device=device)
    start = time.perf_counter()
    for seed in range(count):
        fit(models.build(model_name, train_set.num_classes, train_set.shape, seed=seed), train_set, seed=seed,
            **settings)
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    fit_many([models.build(model_name, train_set.num_classes, train_set.shape, seed=s) for s in range(count)],
             train_set, seeds=range(count), **settings)
    return sequential, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", type=int, default=8)
    args = parser.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    where = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {where}")
    print(f"| case | device | fit (examples/s) | DataLoader loop (examples/s) | fit / loop |")
    print("|---|---|---|---|---|")
    for name, model_name, make, epochs, batch_size in CASES:
        train_set = make()
        for device in devices:
            ours = best_rate(with_fit, model_name, train_set, epochs, batch_size, device, args.repeats)
            theirs = best_rate(dataloader_loop, model_name, train_set, epochs, batch_size, device, args.repeats)
            print(f"| {name} | {device.type} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f}× |")
    print(f"\n| {args.models} models on digits, 10 epochs | device | sequential fit (s) | fit_many (s) | speed-up |")
    print("|---|---|---|---|---|")
    digits = data.load("digits")
    for model_name in ("mlp", "lenet300", "cnn"):
        for device in devices:
            sequential, together = together_vs_sequential(model_name, digits, args.models, device)
            print(f"| {model_name} | {device.type} | {sequential:.2f} | {together:.2f} | {sequential / together:.2f}× |")


if __name__ == "__main__":
    main()
