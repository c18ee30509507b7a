"""How fast the book trains, in one table per question (never run as a test):

1. images/s of memlib's `fit` (per-example records included) against a bare hand-written index loop over the same
   device-resident data without records, and against the usual reference pattern, a shuffled DataLoader over CPU
   tensors moved to the device batch by batch (fp32, default memory format): mlp on digits, resnet9 on CIFAR-shaped
   random 8-bit images; on CUDA also `fit(compile=True)`;
2. K models trained together (`memlib.ensemble.fit_many`) against K sequential `fit` runs;
3. what resumable runs cost (`memlib.resume`): `fit` without checkpoints, with the default plan inside a cached
   computation (a fingerprint of data and weights, the final state saved) and with a checkpoint after every epoch;
4. with `--notebooks`, the quick profile's wall time per notebook and for the whole book (nbclient, a fresh
   results cache, the settings of `make test`).

    python benchmarks/performance.py [--repeats 3] [--models 8] [--notebooks] [--write benchmarks/RESULTS.md]

CPU always, CUDA when present. Rates are the best of `--repeats` runs, each after an untimed warm-up run.
"""
import argparse
import datetime
import glob
import math
import os
import platform
import tempfile
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from memlib import cache, data, models, resume
from memlib.ensemble import fit_many
from memlib.loop import autocast, has_conv
from memlib.train import device_images, fit
from timing import seconds

SETTINGS = dict(lr=0.01, momentum=0.9, weight_decay=5e-4)


def cifar_shaped(n):
    """n random 3×32×32 images of 8-bit levels (stored as uint8 on the device, as CIFAR-10 is) and 10 classes."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 32, 32), generator=generator).float().div_(255)
    return data.Dataset(x, torch.arange(n) % 10, name="cifar-shaped")


def cases(device):
    """(name, model, dataset, epochs, batch size) per device: small enough for 2 CPU cores, large on a GPU."""
    if device.type == "cuda":
        return [("mlp / digits", "mlp", data.load("digits"), 20, 64),
                ("resnet9 / CIFAR-shaped", "resnet9", cifar_shaped(25_000), 2, 512)]
    return [("mlp / digits", "mlp", data.load("digits"), 10, 64),
            ("resnet9 / CIFAR-shaped", "resnet9", cifar_shaped(512), 1, 128)]


def with_fit(model, train_set, epochs, batch_size, device, **options):
    fit(model, train_set, epochs=epochs, batch_size=batch_size, device=device, **SETTINGS, **options)


def with_compiled_fit(model, train_set, epochs, batch_size, device):
    with_fit(model, train_set, epochs, batch_size, device, compile=True)


def bare_index_loop(model, train_set, epochs, batch_size, device):
    """The engine without its bookkeeping: device-resident images, seeded index batches, the same autocast and
    memory format as `fit`, no records, schedule, callbacks or checks."""
    model.to(device).train()
    if device.type == "cuda" and has_conv(model):
        model.to(memory_format=torch.channels_last)
    images, y = device_images(model, train_set, device), train_set.y.to(device)
    optimizer = torch.optim.SGD(model.parameters(), **SETTINGS)
    order = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        permutation = torch.randperm(len(y), generator=order).to(device)
        for b in range(math.ceil(len(y) / batch_size)):
            index = permutation[b * batch_size:(b + 1) * batch_size]
            with autocast(device):
                loss = F.cross_entropy(model(images.batch(index)).float(), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def dataloader_loop(model, train_set, epochs, batch_size, device):
    """The reference pattern: a shuffled DataLoader over CPU tensors, each batch moved to the device, fp32."""
    model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), **SETTINGS)
    loader = DataLoader(TensorDataset(train_set.x, train_set.y), batch_size=batch_size, shuffle=True)
    for _ in range(epochs):
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def best_rate(loop, model_name, train_set, epochs, batch_size, device, repeats):
    """Training examples per second, best of `repeats` runs after one untimed warm-up run (cuDNN, compilation)."""
    times = []
    for repeat in range(repeats + 1):
        model = models.build(model_name, train_set.num_classes, train_set.shape, seed=repeat)
        times.append(seconds(lambda: loop(model, train_set, epochs, batch_size, device), device))
    return len(train_set) * epochs / min(times[1:])


def throughput_table(devices, repeats):
    loops = {"fit": with_fit, "bare index loop": bare_index_loop, "DataLoader loop": dataloader_loop}
    lines = ["| case | device | batch | fit, records included (images/s) | bare index loop, no records | "
             "DataLoader loop from CPU tensors | fit / bare | fit / DataLoader | fit(compile=True) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for device in devices:
        for name, model_name, train_set, epochs, batch_size in cases(device):
            rates = {label: best_rate(loop, model_name, train_set, epochs, batch_size, device, repeats)
                     for label, loop in loops.items()}
            compiled = (f"{best_rate(with_compiled_fit, model_name, train_set, epochs, batch_size, device, repeats):,.0f}"
                        if device.type == "cuda" else "—")
            lines.append(f"| {name} | {device.type} | {batch_size} | {rates['fit']:,.0f} | "
                         f"{rates['bare index loop']:,.0f} | {rates['DataLoader loop']:,.0f} | "
                         f"{rates['fit'] / rates['bare index loop']:.2f}× | "
                         f"{rates['fit'] / rates['DataLoader loop']:.2f}× | {compiled} |")
            print(lines[-1], flush=True)
    return lines


def together_vs_sequential(model_name, train_set, count, device, repeats, epochs=10, batch_size=64):
    """Seconds to train `count` models one after another with `fit`, and all at once with `fit_many` (best of
    `repeats`, after a warm-up)."""
    settings = dict(epochs=epochs, batch_size=batch_size, device=device, **SETTINGS)

    def build():
        return [models.build(model_name, train_set.num_classes, train_set.shape, seed=s) for s in range(count)]

    def sequential():
        for seed, model in enumerate(build()):
            fit(model, train_set, seed=seed, **settings)

    def together():
        fit_many(build(), train_set, seeds=range(count), **settings)

    return [min(seconds(run, device) for _ in range(repeats + 1)) for run in (sequential, together)]


def ensemble_table(devices, count, repeats):
    lines = [f"| {count} models on digits, 10 epochs | device | sequential fit (s) | fit_many (s) | speed-up |",
             "|---|---|---|---|---|"]
    digits = data.load("digits")
    for device in devices:
        for model_name in ("mlp", "lenet300", "cnn"):
            sequential, together = together_vs_sequential(model_name, digits, count, device, repeats)
            lines.append(f"| {model_name} | {device.type} | {sequential:.2f} | {together:.2f} | "
                         f"{sequential / together:.2f}× |")
            print(lines[-1], flush=True)
    return lines


def checkpoint_table(devices, repeats, epochs=10, batch_size=64):
    """Seconds of one `fit` of an mlp on digits: without checkpoints, inside `cache.cached` (resume="auto": the
    fingerprint and the final state) and checkpointing every epoch (best of `repeats`, after a warm-up)."""
    digits = data.load("digits")
    lines = [f"| mlp on digits, {epochs} epochs | device | no checkpoints (s) | inside cached, default plan (s) | "
             "a checkpoint every epoch (s) |", "|---|---|---|---|---|"]
    for device in devices:
        with tempfile.TemporaryDirectory() as folder:
            def run(plan):
                model = models.build("mlp", digits.num_classes, digits.shape, seed=0)
                fit(model, digits, epochs=epochs, batch_size=batch_size, device=device, resume=plan, **SETTINGS)

            def inside_cached():
                cache.cached({"benchmark": time.perf_counter_ns()}, lambda: run("auto") or 0, root=folder)

            def every_epoch():
                path = os.path.join(folder, "every-epoch.pt")
                if os.path.exists(path):
                    os.remove(path)
                run(resume.Resume(path, every_epochs=1))

            times = [min(seconds(call, device) for _ in range(repeats + 1))
                     for call in (lambda: run(None), inside_cached, every_epoch)]
        lines.append(f"| mlp / digits | {device.type} | " + " | ".join(f"{t:.2f}" for t in times) + " |")
        print(lines[-1], flush=True)
    return lines


def notebook_table():
    """Each chapter executed as `make test` runs it (quick profile, one thread, static widgets), with a fresh,
    empty results cache so that every run trains."""
    import nbformat
    from nbclient import NotebookClient

    lines = ["| notebook (quick profile, cold results cache) | wall time (s) |", "|---|---|"]
    total = 0.0
    with tempfile.TemporaryDirectory() as cache:
        os.environ.update(MEMLIB_PROFILE="quick", MEMLIB_CACHE=cache, MEMLIB_WIDGETS="static", MEMLIB_PROGRESS="0",
                          OMP_NUM_THREADS="1", PYTHONPATH=os.getcwd())
        for path in sorted(glob.glob("notebooks/*.ipynb")):
            notebook = nbformat.read(path, as_version=4)
            start = time.perf_counter()
            NotebookClient(notebook, timeout=900, resources={"metadata": {"path": "notebooks"}}).execute()
            elapsed = time.perf_counter() - start
            total += elapsed
            lines.append(f"| {os.path.basename(path)} | {elapsed:.1f} |")
            print(lines[-1], flush=True)
    lines.append(f"| **whole book** | **{total:.1f}** |")
    return lines


def machine():
    cpu = platform.processor() or platform.machine()
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    return (f"{os.cpu_count()} CPU cores ({cpu}){gpu}; torch {torch.__version__}, {torch.get_num_threads()} "
            f"CPU threads")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--notebooks", action="store_true", help="also time every chapter in the quick profile")
    parser.add_argument("--write", metavar="PATH", help="write the tables as Markdown to PATH")
    args = parser.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(machine(), flush=True)
    sections = [throughput_table(devices, args.repeats), ensemble_table(devices, args.models, args.repeats),
                checkpoint_table(devices, args.repeats)]
    if args.notebooks:
        sections.append(notebook_table())
    if args.write:
        header = (f"# Benchmark results\n\nMeasured on {datetime.date.today()}: {machine()}.\n"
                  f"Command: `python benchmarks/performance.py --repeats {args.repeats} --models {args.models}"
                  f"{' --notebooks' if args.notebooks else ''}`.\n")
        with open(args.write, "w") as f:
            f.write(header + "".join("\n" + "\n".join(lines) + "\n" for lines in sections))


if __name__ == "__main__":
    main()
