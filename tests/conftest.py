import pytest
import torch

from memlib import data


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
