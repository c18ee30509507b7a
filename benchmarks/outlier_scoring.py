"""Time to score examples with the outlier metrics of memlib.outliers (Carlini et al. 2019): adv (ℓ2 and ℓ∞),
conf and agr, for N synthetic examples and an ensemble of small MLPs.

    python benchmarks/outlier_scoring.py [--examples 10000] [--models 5] [--repeats 3] [--threads N]

The models are trained first (not timed) with `outliers.holdout_ensemble`; every metric is then timed over all
examples and all models, best of `--repeats`. CPU always, CUDA when present.
"""
import argparse
import math
import platform

import torch

from memlib import data, outliers
from timing import seconds

FIT = dict(epochs=5, lr=0.1, weight_decay=5e-4, batch_size=128, schedule="cosine")
MODEL = dict(model="mlp", model_options=dict(hidden=(128,)))


def best_time(run, device, repeats):
    return min(seconds(run, device) for _ in range(repeats))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10000)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train_set = data.load("synthetic", "train", size=args.examples)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    where = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {where}")
    print(f"{args.examples} synthetic examples (1×8×8, 10 classes), {args.models} MLPs (64-128-10)")
    print("| device | metric | seconds | examples/s |")
    print("|---|---|---|---|")
    for device in devices:
        ensemble, _ = outliers.holdout_ensemble(train_set, args.models, device=device, **MODEL, **FIT)
        x, y = train_set.x, train_set.y
        metrics = {
            "adv ℓ2": lambda: outliers.adv_distance(ensemble, x, y, norm=2),
            "adv ℓ∞": lambda: outliers.adv_distance(ensemble, x, y, norm=math.inf),
            "conf": lambda: outliers.confidence(ensemble, x, y),
            "agr": lambda: outliers.agreement(ensemble, x),
        }
        for name, run in metrics.items():
            seconds = best_time(run, device, args.repeats)
            print(f"| {device.type} | {name} | {seconds:.2f} | {args.examples / seconds:,.0f} |")


if __name__ == "__main__":
    main()
