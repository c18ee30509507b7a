"""Hebbian and homeostatic plasticity in a single linear neuron, ``y = w · x``, and the weight norms of a deep network.

:func:`run_rule` follows the weight vector of the neuron as it sees one input after another under a plasticity rule:

- "hebb": Hebb's postulate (Hebb 1949) as a rate rule, Δw = η y x. Its expected update is Δw = η C w with
  C = E[x xᵀ], so the weights grow without bound along the leading eigenvector of C (Oja 1982, eq. 1).
- "oja": Oja's rule (Oja 1982, eq. 3), Δw = η y (x − y w): Hebbian growth minus an activity-dependent decay
  η y² w. For zero-mean input, w converges to the unit-norm leading eigenvector of the input covariance.
- "normalized": Hebbian growth followed by an explicit norm constraint, w ← (w + η y x) / ‖w + η y x‖ (Oja 1982,
  eq. 2); Oja's rule is its expansion to first order in η.
- "decay": Hebbian growth with plain weight decay, Δw = η (y x − λ w): gradient ascent on E[y²]/2 − λ‖w‖²/2, the
  L2 penalty of deep networks (Krogh & Hertz 1992). Its expected dynamics are Δw = η (C − λ I) w: the weights grow
  without bound when λ is below the largest eigenvalue of C, and decay to zero when it is above.
- "scaling": Hebbian growth followed by multiplicative synaptic scaling (Turrigiano 2008): every weight is
  multiplied by the same factor, exp(γ (a* − ā) / a*), where ā is a running average (time constant τ steps) of
  the neuron's activity |y| and a* its target. This is the discrete form of dw/dt = β w (a* − ā) (van Rossum,
  Bi & Turrigiano 2000) that never flips a weight's sign. The activity settles near a* (1 + η λ₁ / γ), λ₁ the
  largest eigenvalue of C: the faster the scaling (larger γ) relative to Hebbian growth (η λ₁), the closer to
  target, which is the "temporal paradox" of Zenke, Gerstner & Ganguli (2017): homeostasis must be fast.
"""
import numpy as np
import torch

from memlib import checks
from memlib.train import Callback

RULES = ("hebb", "oja", "normalized", "decay", "scaling")


def run_rule(rule, x, *, lr, steps, seed=0, w0=None, decay=1.0, target=1.0, scaling_rate=0.5,
             time_constant=10.0) -> torch.Tensor:
    """The weight trajectory, a (steps + 1) × d float64 tensor, of a linear neuron ``y = w · x`` under ``rule``
    (one of :data:`RULES`; the module docstring gives each rule's equation and source).

    ``x`` is an n × d matrix of inputs; at every step the neuron sees one of its rows, drawn uniformly from the
    ``seed``-ed generator. ``w0`` is the initial weight vector (default: Gaussian with standard deviation
    0.1 / √d, drawn from ``seed``). ``decay`` is λ of "decay"; ``target`` (a*), ``scaling_rate`` (γ) and
    ``time_constant`` (τ, in steps) belong to "scaling". Plain Hebbian weights grow exponentially and reach
    ``inf`` if run long enough; that is the instability, not an error.
    """
    x = _check_inputs(rule, x)
    lr, steps = checks.real("lr", lr, low=0, low_open=True), checks.positive_int("steps", steps)
    seed = checks.non_negative_int("seed", seed)
    decay = checks.real("decay", decay, low=0)
    target = checks.real("target", target, low=0, low_open=True)
    scaling_rate = checks.real("scaling_rate", scaling_rate, low=0, low_open=True)
    time_constant = checks.real("time_constant", time_constant, low=1)
    n, d = x.shape
    generator = torch.Generator().manual_seed(seed)
    order = torch.randint(n, (steps,), generator=generator).numpy()
    if w0 is None:
        w = (0.1 / np.sqrt(d)) * torch.randn(d, generator=generator, dtype=torch.float64).numpy()
    else:
        w = torch.as_tensor(w0, dtype=torch.float64).numpy().copy()
        if w.shape != (d,):
            raise ValueError(f"w0 must have shape ({d},) to match x; got {w.shape}")
    trajectory = np.empty((steps + 1, d))
    trajectory[0] = w
    average = float(np.abs(x @ w).mean())  # the running activity ā of "scaling" starts at the initial mean
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            xt = x[order[t]]
            y = xt @ w
            if rule == "hebb":
                w = w + lr * y * xt
            elif rule == "oja":
                w = w + lr * y * (xt - y * w)
            elif rule == "normalized":
                w = w + lr * y * xt
                w = w / np.linalg.norm(w)
            elif rule == "decay":
                w = w + lr * (y * xt - decay * w)
            else:  # scaling
                w = w + lr * y * xt
                average += (abs(y) - average) / time_constant
                w = w * np.exp(scaling_rate * (target - average) / target)
            trajectory[t + 1] = w
    return torch.from_numpy(trajectory)


def leading_eigenvector(x) -> torch.Tensor:
    """The unit-norm leading eigenvector of the input correlation matrix C = E[x xᵀ] (the covariance for zero-mean
    input): where Oja's rule converges (Oja 1982, §3) and the direction in which Hebbian weights grow. Its sign is
    arbitrary."""
    x = _as_matrix(x)
    _, vectors = torch.linalg.eigh(x.T @ x / len(x))
    return vectors[:, -1]


def largest_eigenvalue(x) -> float:
    """λ₁, the largest eigenvalue of C = E[x xᵀ]: the growth rate per unit learning rate of Hebbian weights."""
    x = _as_matrix(x)
    return float(torch.linalg.eigvalsh(x.T @ x / len(x))[-1])


def mean_activity(trajectory, x) -> torch.Tensor:
    """For every weight vector of a trajectory (T × d), the neuron's mean activity over the inputs, E|w · x|."""
    x, trajectory = _as_matrix(x), _as_matrix(trajectory, "trajectory")
    if trajectory.shape[1] != x.shape[1]:
        raise ValueError(f"the trajectory must hold one weight per input dimension ({x.shape[1]}); got "
                         f"{trajectory.shape[1]}")
    return (x @ trajectory.T).abs().mean(0)


def alignment(trajectory, direction) -> torch.Tensor:
    """|cos| between every weight vector of a trajectory (T × d) and ``direction``: 1 when w lies along it."""
    trajectory = _as_matrix(trajectory, "trajectory")
    direction = torch.as_tensor(direction, dtype=torch.float64)
    if direction.shape != trajectory.shape[1:]:
        raise ValueError(f"direction must hold one entry per weight ({trajectory.shape[1]}); got shape "
                         f"{tuple(direction.shape)}")
    return (trajectory @ direction).abs() / (trajectory.norm(dim=1) * direction.norm())


class WeightNorms(Callback):
    """A :func:`memlib.train.fit` callback that records, at the end of every epoch, the norm of every weight matrix
    and convolution kernel (parameters with more than one dimension) of the model: ``norms[name]`` is a list with
    one value per epoch. Shows weight decay acting as the homeostat of a deep network (Krogh & Hertz 1992; van
    Laarhoven 2017: behind batch normalization, gradient steps only ever grow the norm of a scale-invariant weight,
    and weight decay balances them)."""

    def __init__(self):
        self.norms = {}

    def on_epoch_end(self, state):
        for name, parameter in state.model.named_parameters():
            if parameter.dim() > 1:
                self.norms.setdefault(name, []).append(float(parameter.detach().norm()))


def _as_matrix(x, name="x") -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.dim() != 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty n × d matrix (one vector per row); got shape "
                         f"{tuple(x.shape)}")
    return x


def _check_inputs(rule, x) -> np.ndarray:
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    x = _as_matrix(x)
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x must be finite (no NaN or inf)")
    return x.numpy()
