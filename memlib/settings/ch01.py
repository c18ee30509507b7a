"""Chapter 1, "Is memorization that bad?": the memorization timeline and the gradient accounting of Maini et al.
2023 (Sec. 3, Figs. 2 and 3): ResNet-9 on CIFAR-10 with 10% of the labels flipped.

Reference code: pratyushmaini/localizing-memorization (``train.py``, ``utils.py``, ``dataloader.py``,
``params.py``, ``experiments/``). Each profile has a ``timeline`` run (the memorization timeline, the control and
the noise-rate slider), the ``gradients`` runs (the gradient probe's heat maps and table), the slider's noise
``rates``, and ``examples``: at most this many examples of each split (None: all of them). A run's keys are the
arguments of :func:`memlib.recipes.noisy_label_run` (``dataset``, ``model``, ``noise_rate``, ``fit``,
``model_options``) and its number of ``seeds``.
"""
from memlib.settings import Chapter, Setting, describe, normalization, schedule

# quick: scikit-learn's 8×8 digits on a CPU, one recipe for every network (SGD, cosine schedule).
DIGITS = dict(epochs=100, lr=0.1, weight_decay=5e-4, batch_size=64, schedule="cosine")
# Maini et al. 2023, as their code trains ResNet-9: SGD (momentum 0.9, wd 5e-4), lr 0.01, batch 512, 10% linear
# warm-up then cosine to 0, per step; 50 epochs without augmentation.
MAINI = dict(epochs=50, lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=512, schedule="cosine", warmup=0.1,
             augment=None)
RESNET9_CIFAR10 = dict(dataset="cifar10", model="resnet9", noise_rate=0.1, seeds=3, fit=MAINI)

PROFILES = {
    "quick": dict(
        timeline=dict(dataset="digits", model="mlp", noise_rate=0.1, seeds=3, fit=DIGITS),
        gradients=[dict(dataset="digits", model="mlp", noise_rate=0.1, seeds=3, fit=DIGITS),
                   dict(dataset="digits", model="cnn", model_options=dict(width=16), noise_rate=0.1, seeds=2,
                        fit={**DIGITS, "epochs": 40})],
        rates=[0.0, 0.1, 0.2, 0.4], examples=None),
    # standard (a Colab T4): the timeline on MNIST with an MLP; the gradient probe on the paper's ResNet-9 and
    # recipe, 16 of its 50 epochs, one seed.
    "standard": dict(
        timeline=dict(dataset="mnist", model="mlp", noise_rate=0.2, seeds=3,
                      fit=dict(epochs=60, lr=0.1, momentum=0.9, weight_decay=5e-4, batch_size=128,
                               schedule="cosine", augment=None)),
        gradients=[{**RESNET9_CIFAR10, "seeds": 1, "fit": {**MAINI, "epochs": 16}}],
        rates=[0.0, 0.2, 0.4], examples=None),
    # paper: one setup for the timeline and the gradients, as in the paper.
    "paper": dict(timeline=RESNET9_CIFAR10, gradients=[RESNET9_CIFAR10], rates=[0.0, 0.1, 0.2], examples=None),
}


def _runs(config, show):
    """``show(setup)`` for the timeline and each gradient setup: one value when they agree, else each labelled."""
    setups = {"timeline": config["timeline"], **{f"gradients {i + 1}" if len(config["gradients"]) > 1 else
                                                 "gradients": g for i, g in enumerate(config["gradients"])}}
    values = {name: show(setup) for name, setup in setups.items()}
    if len(set(values.values())) == 1:
        return next(iter(values.values()))
    return "; ".join(f"{value} ({name})" for name, value in values.items())


def _fit(key, default=None):
    return lambda config: _runs(config, lambda setup: describe(setup["fit"].get(key, default)))


CHAPTER = Chapter(
    1,
    profiles=PROFILES,
    settings=(
        Setting("dataset", lambda c: _runs(c, lambda s: s["dataset"]),
                "CIFAR-10 (Sec. 3, Figs. 2–3)", "`train.py`: `--dataset1 cifar10` (run names `logs/cifar10/…`)"),
        Setting("train / test set", lambda c: "all" if c["examples"] is None else f"≤ {c['examples']} each",
                "not stated", "full train set, no split (`train.py` L236)"),
        Setting("architecture", lambda c: _runs(c, lambda s: s["model"]),
                "ResNet-9 (Figs. 2–3)", "`ResNet9` (`models.py` L95-117)",
                "standard: MLP for the timeline (T4 time)"),
        Setting("optimizer", lambda c: _runs(c, lambda s: f"SGD, momentum {describe(s['fit'].get('momentum', 0.9))}"),
                "not verified here",
                "SGD, momentum 0.9, hard-coded (`train.py` L202)"),
        Setting("learning rate", _fit("lr"), "not verified here",
                "0.01 in the run names (`experiments/scripts/pending_*.txt`); `--lr1` default 0.1 (`params.py` L46)"),
        Setting("weight decay", _fit("weight_decay"), "not verified here", "5e-4, hard-coded (`train.py` L202)"),
        Setting("schedule", lambda c: _runs(c, lambda s: schedule(s["fit"])), "not verified here",
                "\"cosine\" hard-coded (`train.py` L204): 10% linear warm-up, cosine to 0, per step "
                "(`utils.py` L119-123)",
                "warm-up starts at lr/steps, not 0"),
        Setting("epochs", _fit("epochs"), "50 (Fig. 3)", "`100 if aug else 50` (`experiments/rewinding.py` L98)",
                "standard: 16 ResNet-9 epochs (T4 time)"),
        Setting("batch size", _fit("batch_size"), "not verified here", "512 (`params.py` L36)"),
        Setting("augmentation", _fit("augment"), "not verified here",
                "none: `--augmentation 0` default (`params.py` L14), `aug_0` runs"),
        Setting("normalization", lambda c: _runs(c, lambda s: normalization(s["dataset"])), "not stated",
                "`Normalize(0.5, 0.5)` per channel (`dataloader.py` L91)",
                "per-channel dataset statistics (CIFAR-10: 0.4914, 0.4822, 0.4465 / 0.2470, 0.2435, "
                "0.2616), the book's convention"),
        Setting("label noise", lambda c: _runs(c, lambda s: f"{s['noise_rate']:.0%}, uniform"),
                "10% (Sec. 3)", "10%: (y + r) mod C, r ∈ 1…C−2 (`dataloader.py` L58-71)",
                "the code never picks y−1; the book draws the C−1 other classes uniformly"),
        Setting("slider noise rates", lambda c: ", ".join(f"{rate:.0%}" for rate in c["rates"]), "—",
                "5%, 10%, 20% in the scripts (`experiments/scripts/`)",
                "0% added as the no-noise baseline"),
        Setting("seeds", lambda c: _runs(c, lambda s: describe(s["seeds"])), "not verified here",
                "seeds 4, 5, 6 in the run names (`pending_*.txt`)", "seeds 0, 1, 2 here"),
        Setting("precision", lambda c: "autocast on CUDA: bf16 (else fp16)", "—", "fp32 (`train.py`: no autocast)",
                "mixed precision, for speed"),
    ),
    # A few optimizer steps per run: 32 examples (one batch), two epochs, one seed, two slider rates.
    smoke={"examples": 32, "rates": lambda rates: rates[:2]},
)
