"""Argument checks shared by every public function (ARCHITECTURE.md, "Rules of the house": bad input gets a
ValueError whose message says what was wrong and what is allowed, raised before any expensive work).

Integers may be Python or numpy integers (``np.int64(2)`` is 2); booleans are refused wherever a count is meant.
Each check returns the value converted to a plain Python type, so callers can store it or hash it.
"""
import math
import numbers

import numpy as np
import torch


def integer(name, value, *, minimum=None, maximum=None) -> int:
    """``value`` as a Python int, refusing bools, floats (``1.5`` and ``2.0`` alike) and values outside
    [minimum, maximum]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"{name} must be an integer{_range(minimum, maximum)}; got {value!r} "
                         f"({type(value).__name__})")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer{_range(minimum, maximum)}; got {value}")
    return value


def positive_int(name, value) -> int:
    """``value`` as a Python int of at least 1 (a count, a size, a number of epochs)."""
    return integer(name, value, minimum=1)


def non_negative_int(name, value) -> int:
    """``value`` as a Python int of at least 0 (a step, an index, a capacity)."""
    return integer(name, value, minimum=0)


def real(name, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """``value`` as a finite Python float within the given bounds (``low_open``/``high_open`` exclude the ends)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number{_interval(low, high, low_open, high_open)}; got {value!r}")
    value = float(value)
    bad = (not math.isfinite(value)
           or (low is not None and (value <= low if low_open else value < low))
           or (high is not None and (value >= high if high_open else value > high)))
    if bad:
        raise ValueError(f"{name} must be a finite number{_interval(low, high, low_open, high_open)}; got {value}")
    return value


def fraction(name, value, *, low_open=False, high_open=False) -> float:
    """``value`` as a float in [0, 1] (ends excluded as asked): a rate, a probability, a share."""
    return real(name, value, low=0.0, high=1.0, low_open=low_open, high_open=high_open)


def labels(name, value, num_classes, length=None, *, of="the model's classes") -> torch.Tensor:
    """``value`` as a 1-D int64 tensor of class indices in [0, num_classes) (``of`` names whose classes they are,
    for the message; ``num_classes=None``: any non-negative index), one per example when ``length`` is given.
    Float labels are refused, even 2.0: a fractional label would train on one class and score as another."""
    tensor = torch.as_tensor(value)
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex or tensor.dtype == torch.bool:
        raise ValueError(f"{name} must be integer class indices; got dtype {tensor.dtype}")
    if tensor.dim() != 1 or (length is not None and len(tensor) != length):
        wanted = f"one per example ({length})" if length is not None else "a 1-D tensor"
        raise ValueError(f"{name} must be 1-D, {wanted}; got shape {tuple(tensor.shape)}")
    if len(tensor):
        low, high = int(tensor.min()), int(tensor.max())
        if num_classes is None and low < 0:
            raise ValueError(f"{name} must be non-negative class indices; got [{low}, {high}]")
        if num_classes is not None and (low < 0 or high >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}) ({of}); got [{low}, {high}]")
    return tensor.long()


def image_shape(name, value) -> tuple:
    """``value`` as a (C, H, W) tuple of three positive Python ints (numpy integers accepted, floats refused)."""
    try:
        sizes = tuple(value)
        if len(sizes) != 3:
            raise ValueError
        return tuple(integer(name, size, minimum=1) for size in sizes)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (C, H, W): three positive integers (channels, height, width); "
                         f"got {value!r}") from None


def output_width(name, model, x, index=None) -> int:
    """The number of outputs ``model`` gives for inputs like ``x`` (N × ...), from one forward pass on its first
    example (with the first of ``index``, the examples' indices, when given), in eval mode, without gradients, on
    the model's device; the model's mode is restored. Inputs the model cannot take raise a ValueError saying so,
    before any real work is done."""
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    example = torch.as_tensor(x)[:1].to(device)
    if not example.is_floating_point():
        example = example.float()
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model(example) if index is None else model(example, torch.as_tensor(index)[:1].to(device))
    except (RuntimeError, IndexError, TypeError) as failure:
        raise ValueError(f"{name} of shape {tuple(torch.as_tensor(x).shape)} does not fit the model: one forward "
                         f"pass failed ({type(failure).__name__}: {failure})") from None
    finally:
        model.train(training)
    if output.dim() != 2:
        raise ValueError(f"the model must output N × classes logits; it gives shape {tuple(output.shape)}")
    return int(output.shape[1])


def non_empty(name, dataset):
    """Refuse a dataset (or any sized collection) with no examples."""
    if len(dataset) == 0:
        raise ValueError(f"{name} is empty: it must hold at least one example")
    return dataset


def one_of(name, value, allowed):
    """Refuse a value that is not one of ``allowed``, listing them."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def _range(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum == 1:
        return " of at least 1"
    if minimum is not None:
        return f" of at least {minimum}"
    if maximum is not None:
        return f" of at most {maximum}"
    return ""


def _interval(low, high, low_open, high_open) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '≥'} {low:g}"
    if low is None:
        return f" {'<' if high_open else '≤'} {high:g}"
    return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
