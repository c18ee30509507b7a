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

from memlib import cache, checks, data, models, train
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


def gaussian_inputs(mixing, samples, seed) -> torch.Tensor:
    """``samples`` inputs x = M z (z standard normal, drawn from ``seed``; M = ``mixing``, d × d), centred on their
    own mean: the correlated Gaussian input of the single-neuron experiments (Oja 1982 assumes zero-mean input)."""
    mixing = torch.tensor(mixing, dtype=torch.float64)
    x = torch.randn(samples, len(mixing), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = x @ mixing.T
    return x - x.mean(0)


def times_lambda1(factor) -> str:
    """A multiple of λ₁ as a reader writes it: 0.5 → "λ₁/2", 1.5 → "3λ₁/2", 2 → "2λ₁"."""
    from fractions import Fraction

    fraction = Fraction(factor).limit_denominator(10)
    numerator = "" if fraction.numerator == 1 else str(fraction.numerator)
    return numerator + "λ₁" + ("" if fraction.denominator == 1 else f"/{fraction.denominator}")


def set_point(target, lr, lambda1, scaling_rate) -> float:
    """Where synaptic scaling balances Hebbian growth: per step, growth multiplies the activity by about 1 + η λ₁
    and scaling by exp(γ (1 − ā / a*)), so ā settles at a* (1 + η λ₁ / γ) (see the module docstring)."""
    return target * (1 + lr * lambda1 / scaling_rate)


def rule_options(lambda1, *, decay_factors, target, scaling_rate) -> dict:
    """The chapter's rules by name, each the keyword arguments of :func:`run_rule`: "hebb", "oja", "normalized",
    one "decay, λ = …" per factor of ``decay_factors`` (λ as a multiple of ``lambda1``), and "scaling"."""
    return {"hebb": dict(rule="hebb"), "oja": dict(rule="oja"), "normalized": dict(rule="normalized"),
            **{f"decay, λ = {times_lambda1(f)}": dict(rule="decay", decay=f * lambda1) for f in decay_factors},
            "scaling": dict(rule="scaling", target=target, scaling_rate=scaling_rate)}


@cache.recipe
def neuron_runs(*, mixing, samples, lr, steps, target, seeds, decay_factors, scaling_rate) -> dict:
    """The single linear neuron under every rule of :func:`rule_options`, for each of ``seeds`` seeds (a count):
    each seed draws its own :func:`gaussian_inputs` and runs :func:`run_rule` from its own start.

    Returns ``"summary"``, one row per seed and rule: ``lambda1``, ``final_norm`` and its ``log_norm`` (log₁₀),
    ``max_norm``, ``growth`` (of ln ‖w‖ per step over the second half; η λ₁ for plain Hebb, Oja 1982, eq. 1),
    ``norm_sd`` (sd of ‖w‖ over the second half), ``cosine`` (final |cos(w, c₁)|, c₁ the leading eigenvector) and
    ``activity`` (mean E|y| over the second half); ``"norms"``: log₁₀ ‖w‖ at about 200 steps of every run (seed,
    step, rule, log_norm); ``"paths"``: seed 0's weight vectors at every step (rule, step, w1, w2, ...);
    ``"theory"``: the summary beside the averaged dynamics' predictions (:func:`against_theory`)."""
    import pandas as pd

    half, every = steps // 2, max(1, steps // 200)
    summary, norms, paths = [], [], []
    for seed in range(seeds):
        x = gaussian_inputs(mixing, samples, seed)
        top, c1 = largest_eigenvalue(x), leading_eigenvector(x)
        options = rule_options(top, decay_factors=decay_factors, target=target, scaling_rate=scaling_rate)
        for name, rule in options.items():
            w = run_rule(x=x, lr=lr, steps=steps, seed=seed, **rule)
            norm = w.norm(dim=1)
            summary.append(dict(seed=seed, rule=name, lambda1=top, final_norm=float(norm[-1]),
                                log_norm=float(norm[-1].clamp(min=1e-300).log10()), max_norm=float(norm.max()),
                                growth=float(norm[-1].log() - norm[half].log()) / (steps - half),
                                norm_sd=float(norm[half:].std()), cosine=float(alignment(w, c1)[-1]),
                                activity=float(mean_activity(w, x)[half:].mean())))
            norms += [dict(seed=seed, step=t, rule=name, log_norm=float(norm[t].log10()))
                      for t in range(0, steps + 1, every)]
            if seed == 0:
                paths.append(pd.DataFrame(w.numpy(), columns=[f"w{i + 1}" for i in range(w.shape[1])])
                             .assign(rule=name, step=range(steps + 1)))
    summary = pd.DataFrame(summary)
    return {"summary": summary, "norms": pd.DataFrame(norms), "paths": pd.concat(paths),
            "theory": against_theory(summary, lr=lr, target=target, scaling_rate=scaling_rate,
                                     decay_factors=decay_factors)}


def against_theory(summary, *, lr, target, scaling_rate, decay_factors) -> list:
    """Each measurement of :func:`neuron_runs` (``summary``) beside what the averaged dynamics predict (Oja 1982;
    the module docstring): rows of ``quantity``, ``values`` (one per seed), ``digits`` to show, and ``theory``."""
    def of(rule, column):
        return summary.loc[summary.rule == rule, column].tolist()

    lambda1 = summary.lambda1.mean()
    decays = [(f"decay, λ = {times_lambda1(f)}", f"grows like (1 + η {times_lambda1(1 - f)})ᵗ" if f < 1 else
               "decays to 0" if f > 1 else "stays finite") for f in decay_factors]
    scale, end = ("", "") if target == 1 else (f"{target:g}(", ")")
    return [
        dict(quantity="`hebb`: growth rate of ln ‖w‖ per step (second half)", values=of("hebb", "growth"), digits=4,
             theory=f"η λ₁ = {lr * lambda1:.4f}"),
        dict(quantity="`hebb`: final log₁₀ ‖w‖", values=of("hebb", "log_norm"), digits=1, theory="unbounded"),
        dict(quantity="`oja`: final ‖w‖", values=of("oja", "final_norm"), digits=3, theory="1 (Oja 1982)"),
        dict(quantity="`oja`: sd of ‖w‖ over the second half (constant η)", values=of("oja", "norm_sd"), digits=4,
             theory="→ 0 as η decreases (Oja 1982)"),
        *[dict(quantity=f"`{rule}`: final |cos(w, c₁)|", values=of(rule, "cosine"), digits=4, theory=theory)
          for rule, theory in [("oja", "1 (Oja 1982)"), ("normalized", "1"), ("hebb", "→ 1"), ("scaling", "→ 1")]],
        *[dict(quantity=f"`decay`, λ = {name.split('= ')[1]}: final log₁₀ ‖w‖", values=of(name, "log_norm"), digits=1,
               theory=theory) for name, theory in decays],
        dict(quantity=f"`scaling`: mean activity E|y| over the second half (target {target:g})",
             values=of("scaling", "activity"), digits=3,
             theory=f"{scale}1 + η λ₁ / γ{end} = {set_point(target, lr, lambda1, scaling_rate):.3f}"),
        dict(quantity="`scaling`: largest ‖w‖ along the way", values=of("scaling", "max_norm"), digits=3,
             theory="bounded")]


@cache.recipe
def scaling_sweep(*, mixing, samples, lr, steps, target, rates, seed=0) -> tuple:
    """Synaptic scaling at each rate γ of ``rates``, on the inputs of ``seed``: the temporal paradox of Zenke,
    Gerstner & Ganguli (2017) for a single neuron. Returns two frames: one row per rate with the mean (``settled``)
    and sd (``spread``) of the activity E|y| over the second half and the ``predicted`` :func:`set_point`; and E|y|
    at every step (rate, step, activity)."""
    import pandas as pd

    x, half = gaussian_inputs(mixing, samples, seed), steps // 2
    lambda1, settled, activity = largest_eigenvalue(x), [], []
    for rate in rates:
        a = mean_activity(run_rule("scaling", x, lr=lr, steps=steps, seed=seed, target=target, scaling_rate=rate), x)
        settled.append(dict(rate=rate, settled=float(a[half:].mean()), spread=float(a[half:].std()),
                            predicted=set_point(target, lr, lambda1, rate)))
        activity.append(pd.DataFrame({"rate": rate, "step": range(len(a)), "activity": a.numpy()}))
    return pd.DataFrame(settled), pd.concat(activity)


@cache.recipe
def weight_decay_runs(dataset, model, *, weight_decays, seeds, fit, model_options=None):
    """A network trained on ``dataset`` with each of ``weight_decays`` for each of ``seeds`` seeds (a count;
    ``fit``: the other keyword arguments of :func:`memlib.train.fit`), recording after every epoch the norm of all
    its convolution kernels together (:class:`WeightNorms`): behind batch normalization, gradient steps only grow a
    kernel and weight decay balances them (van Laarhoven 2017). One row per run and epoch: epoch, weight_decay,
    seed, conv_norm, test (accuracy)."""
    import pandas as pd

    train_set, test_set = data.train_test(dataset, download=True)
    frames = []
    for weight_decay in weight_decays:
        for seed in range(seeds):
            network = models.build(model, train_set.num_classes, train_set.shape, seed=seed, **(model_options or {}))
            norms = WeightNorms()
            history = train.fit(network, train_set, test=test_set, weight_decay=weight_decay, seed=seed,
                                callbacks=[norms], **fit)
            kernels = [name for name, p in network.named_parameters() if p.dim() == 4]
            frames.append(pd.DataFrame({
                "epoch": np.arange(1, history.epochs + 1), "weight_decay": weight_decay, "seed": seed,
                "conv_norm": np.sqrt(sum(np.square(norms.norms[name]) for name in kernels)),
                "test": history.test_accuracy.numpy()}))
    return pd.concat(frames, ignore_index=True)


def norm_summary(runs) -> list:
    """Per weight decay of :func:`weight_decay_runs` (``runs``), means over seeds: the kernel norm after the first
    epoch (``first``), at its ``peak`` and at the end (``final``), the number of epochs in which it fell
    (``falls``), the final test accuracy (``test``), and ``growth``: how much the mean norm grew over the first
    quarter of the epochs and over the last (a pair; None for runs of fewer than 4 epochs)."""
    rows = []
    for weight_decay, part in runs.groupby("weight_decay", sort=False):
        by_seed, curve = part.groupby("seed"), part.groupby("epoch").conv_norm.mean().to_numpy()
        quarter = len(curve) // 4
        rows.append(dict(weight_decay=weight_decay, first=by_seed.conv_norm.first().mean(),
                         peak=by_seed.conv_norm.max().mean(), final=by_seed.conv_norm.last().mean(),
                         falls=by_seed.conv_norm.apply(lambda n: int((np.diff(n) < 0).sum())).mean(),
                         test=by_seed.test.last().mean(),
                         growth=(curve[quarter] - curve[0], curve[-1] - curve[-1 - quarter]) if quarter else None))
    return rows
