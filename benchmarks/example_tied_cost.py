"""What example-tied dropout (Maini et al. 2023, Sec. 6) adds to the cost of a training epoch.

    python benchmarks/example_tied_cost.py [--repeats 3]

For each case the same model is trained with `memlib.train.fit` (which includes its per-epoch evaluation of the
training set) three ways: without dropout; with `memlib.dropout.ExampleTiedDropout` at the places `models.build`
puts it (boolean masks drawn once, gathered by index each step); and with a layer that follows the reference
implementation's pattern (masks drawn in a per-example Python loop the first time an example is seen, stored as
float tensors of the full activation shape on the CPU, gathered and copied to the device every step). Reported:
seconds per epoch of a `fit` from a freshly built model (so the masks' drawing counts, whenever it happens), best of
`--repeats` after a warm-up run, and the ratio to training without dropout.
The digits cases run on the CPU, the ResNet-9 case on CUDA when present.
"""
import argparse
import platform
import time

import torch
from torch import nn

from memlib import data, dropout, models
from memlib.train import fit

P_GEN, P_MEM = 0.4, 0.2
CASES = [
    # name, model, model options, dataset factory, epochs, batch size, devices
    ("mlp 1024 / digits (chapter 2)", "mlp", {"hidden": (1024,)}, lambda: data.load("digits"), 5, 64, ("cpu",)),
    ("mlp 512-512 / digits", "mlp", {"hidden": (512, 512)}, lambda: data.load("digits"), 5, 64, ("cpu",)),
    ("cnn / digits", "cnn", {}, lambda: data.load("digits"), 3, 64, ("cpu",)),
    ("resnet9 / 4096 × 3×32×32", "resnet9", {},
     lambda: data.Dataset(torch.rand(4096, 3, 32, 32), torch.arange(4096) % 10, name="random"), 2, 512, ("cuda",)),
]


class LoopedExampleTiedDropout(nn.Module):
    """The reference implementation's pattern, for comparison only: same masks in distribution, other mechanics."""

    takes_index = True

    def __init__(self, num_examples, num_units):
        super().__init__()
        self.num_examples, self.num_units = num_examples, num_units
        self.num_general = int(P_GEN * num_units)
        self.store, self.seen = None, torch.zeros(num_examples, dtype=torch.bool)

    def forward(self, x, index):
        if self.store is None:
            self.store = torch.zeros(self.num_examples, *x.shape[1:])
        index = index.cpu()
        for i in index[~self.seen[index]].tolist():  # first sight of an example: draw its mask alone
            generator = torch.Generator().manual_seed(i)
            row = torch.ones(self.num_units)
            row[self.num_general:] = (torch.rand(self.num_units - self.num_general, generator=generator) < P_MEM)
            self.store[i] = row.view(-1, *(1,) * (x.dim() - 2)).expand(x.shape[1:])
        self.seen[index] = True
        return x * self.store[index].to(x.device)


def build(name, options, train_set, how):
    if how == "no dropout":
        return models.build(name, train_set.num_classes, train_set.shape, **options)
    model = models.build(name, train_set.num_classes, train_set.shape, **options, dropout="example_tied",
                         p_gen=P_GEN, p_mem=P_MEM, num_examples=len(train_set))
    if how == "reference pattern":
        _replace_example_tied(model, len(train_set))
    return model


def _replace_example_tied(module, num_examples):
    for key, child in module.named_children():
        if isinstance(child, dropout.ExampleTiedDropout):
            module._modules[key] = LoopedExampleTiedDropout(num_examples, child.num_units)
        else:
            _replace_example_tied(child, num_examples)


def seconds_per_epoch(name, options, train_set, how, epochs, batch_size, device, repeats):
    settings = dict(lr=0.01, weight_decay=5e-4, batch_size=batch_size, device=device)
    fit(build(name, options, train_set, how), train_set, epochs=1, **settings)  # warm-up: kernels, allocator
    times = []
    for repeat in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()  # from a fresh model: mask drawing counts, at construction or on first sight
        fit(build(name, options, train_set, how), train_set, epochs=epochs, seed=repeat, **settings)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) / epochs)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    where = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {where}; p_gen={P_GEN}, p_mem={P_MEM}")
    print("| case | device | no dropout (s/epoch) | example-tied (s/epoch) | reference pattern (s/epoch) |")
    print("|---|---|---|---|---|")
    for name, model_name, options, make, epochs, batch_size, devices in CASES:
        train_set = make()
        for device in map(torch.device, devices):
            if device.type == "cuda" and not torch.cuda.is_available():
                continue
            base, *others = [seconds_per_epoch(model_name, options, train_set, how, epochs, batch_size, device,
                                               args.repeats)
                             for how in ("no dropout", "example-tied", "reference pattern")]
            cells = " | ".join(f"{t:.3f} ({t / base:.2f}×)" for t in others)
            print(f"| {name} | {device.type} | {base:.3f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
