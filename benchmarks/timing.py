"""The benchmarks' clock: wall seconds of one call, with the GPU's queued work finished before and after."""
import time

import torch


def seconds(run, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start
