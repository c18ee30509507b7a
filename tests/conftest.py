import os

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
