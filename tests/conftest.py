import os
import pickle

import numpy as np
import pytest
import torch

from memlib import data

# The CUDA tests run only when asked for (`make test-gpu`), where they fail loudly without a GPU.
collect_ignore = [] if os.environ.get("MEMLIB_GPU_TESTS") == "1" else ["gpu"]


@pytest.fixture(scope="session")
def digits_train():
    return data.load("digits", "train")


@pytest.fixture(scope="session")
def digits_test():
    return data.load("digits", "test")


@pytest.fixture
def tiny():
    """A small random dataset: 40 examples of 1×8×8, 4 classes."""
    generator = torch.Generator().manual_seed(0)
    return data.Dataset(torch.rand(40, 1, 8, 8, generator=generator), torch.arange(40) % 4)


@pytest.fixture
def cifar_files(tmp_path):
    """CIFAR-10's python pickles in their on-disk layout (3 random images per batch file) under a temporary
    root; returns ``(root, {file: batch})``."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for file in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (3, 3072)).astype(np.uint8), "labels": list(rng.integers(0, 10, 3))}
        with open(folder / file, "wb") as f:
            pickle.dump(batch, f)
        batches[file] = batch
    return tmp_path, batches
