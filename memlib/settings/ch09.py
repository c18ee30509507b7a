"""Chapter 9, "Lottery tickets vs example-tied dropout": the talk's own hypothesis (no paper states it) that
memorization weights stay small, so that magnitude pruning with rewinding cuts memorization out.

Its parts come from three places. The network, its example-tied layers (p_gen, p_mem), the training recipe and the
label noise follow Maini et al. 2023 and their code (pratyushmaini/localizing-memorization: ``train.py``,
``models/resnet18_custom.py``, ``models/dropout.py``, ``dataloader.py``), as chapter 2 does. Iterative magnitude
pruning and rewinding follow open_lth (facebookresearch/open_lth: ``pruning/sparse_global.py``,
``lottery/runner.py``) and Frankle et al. 2020, as chapter 8 does. The three tests, their thresholds, the rewind
step k, the controls (random masks of the ticket's per-layer sparsity; no rewinding) and the rules of
:data:`RULES` are the book's design. Each profile has the network (``dataset``, ``model``, the example-tied rates
``tied``), the label noise (``noise_rate``), the number of ``seeds`` (seed s draws the noise, the weights, the data order and
the random masks), the ``fit`` recipe, IMP's ``fraction`` per round, ``rounds``, rewind step ``k`` and
``exclude_output`` (False: the output layer is pruned too), and ``examples``: at most this many examples of each
split (None: all of them).
"""
from memlib.settings import Chapter, Setting, describe, normalization, schedule

# Example-tied rates as in chapter 2: p_gen = 0.4 of a layer's units generalize; each memorization unit is kept
# for an example with probability p_mem = 0.2.
TIED = dict(p_gen=0.4, p_mem=0.2)
# Maini et al. 2023, as their code trains its networks: SGD (momentum 0.9, wd 5e-4), lr 0.01, batch 512, 10% linear
# warm-up then cosine to 0, per step; 50 epochs without augmentation.
MAINI = dict(epochs=50, lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=512, schedule="cosine", warmup=0.1,
             augment=None)

PROFILES = {
    # quick: LeNet-300-100 on 720 of the digits, 30 epochs without weight decay: measured, the dense standard network
    # fits at least 90% of the mislabeled examples (tests/test_reproduce_tickets.py); three IMP rounds of 60% (to
    # 6.4%), so that 3 seeds fit in the notebook's time.
    "quick": dict(dataset="digits", model="lenet300", tied=TIED, noise_rate=0.1, seeds=3, fraction=0.6, rounds=3, k=30,
                  exclude_output=False, examples=720,
                  fit=dict(epochs=30, lr=0.1, weight_decay=0.0, batch_size=64, schedule="cosine")),
    # standard (a Colab T4): LeNet-300-100 on 20,000 MNIST examples without weight decay, as the quick profile (that
    # it fits the mislabeled MNIST examples is not measured here); 3 seeds, two rounds of 75% (to 6.25%).
    "standard": dict(dataset="mnist", model="lenet300", tied=TIED, noise_rate=0.1, seeds=3, fraction=0.75, rounds=2,
                     k=200, exclude_output=False, examples=20000,
                     fit=dict(epochs=20, lr=0.1, momentum=0.9, weight_decay=0.0, batch_size=128, schedule="cosine",
                              warmup=0.0, augment=None)),
    # paper: chapter 2's example-tied CIFAR ResNet-18 (layers after layer2 and layer3) and recipe on CIFAR-10 with
    # 10% noise; open_lth's 20% global pruning for 8 rounds (to 16.8%), rewinding to step 1000 of 4900; 3 seeds.
    "paper": dict(dataset="cifar10", model="resnet18", tied=TIED, noise_rate=0.1, seeds=3, fraction=0.2, rounds=8,
                  k=1000, exclude_output=False, examples=None, fit=MAINI),
}

# The rules of the chapter's three tests, fixed before the runs (the book's design). Each test has an effect size E,
# one number per seed, and its 95% t-interval over the seeds; "smallest" is the smallest E that counts. Supported:
# mean E >= smallest and the interval excludes 0; refuted: the whole interval lies below smallest; else neither.
# 1. weights: E = 1 - mean |w| of the memorization units' weights / that of the generalization units' weights.
# 2. pruning: E = 1 - share of the memorization units' weights kept by the last ticket / the generalization units'.
# 3. forgetting: E = share of the mislabeled examples' fit lost by the rewound ticket - lost by its random masks
#    (same per-layer sparsity, rewound too), dense run to last round; supported also needs the ticket's mean test
#    accuracy within ``test_loss`` of the dense network's.
RULES = dict(weights=0.10, pruning=0.20, forgetting=0.10, test_loss=0.02, confidence=0.95)
# What each question claims, which network it asks about, its effect size (in words) and its threshold in RULES.
QUESTIONS = {
    "1": ("memorization weights are smaller", "example-tied", "weights",
          "1 − mean \\|w\\| of the memorization units' weights / that of the generalization units' weights, in the "
          "dense example-tied network, averaged over the example-tied layers' incoming and outgoing weights"),
    "2": ("magnitude pruning removes memorization first", "example-tied", "pruning",
          "1 − share of the memorization units' weights that the last ticket keeps / the generalization units' "
          "share, averaged the same way"),
    "3": ("rewound tickets forget the mislabeled examples beyond the capacity they lose", "example-tied",
          "forgetting", "share of the mislabeled examples' fit lost by the ticket − lost by its random masks (dense "
          "run to last round, both rewound to k); supported also needs the ticket's mean test accuracy within "
          f"{RULES['test_loss'] * 100:.0f} points of the dense network's"),
    "3, standard": ("the same, for comparison", "standard", "forgetting", "as question 3, standard network"),
}


def rules() -> str:
    """The rules the chapter states before its runs, with the table of its questions, as Markdown."""
    rows = "\n".join(f"| {q} | {claim} ({network} network) | {effect} | {RULES[rule]:.2f} |"
                     for q, (claim, network, rule, effect) in QUESTIONS.items())
    return f"""Each question has an effect size E, one value per seed, and its {RULES['confidence']:.0%} t-interval over
the seeds (mean ± t · s / √n, n seeds). An answer is **supported** if the mean E is at least the smallest effect
that counts and the interval excludes 0; **refuted** if the whole interval lies below that smallest effect (an
effect as large as it is ruled out); **neither** otherwise, and always with fewer than 2 seeds (no interval).

| question | claim | effect size E, per seed | smallest effect that counts |
|---|---|---|---|
{rows}

The hypothesis is **supported** if answers 1–3 are all supported, **refuted** if any is refuted (it needs every
link), and neither otherwise. The standard network's row does not enter the verdict; it means something only if
the dense standard network fits the mislabeled examples in the first place, which the verdict section reports."""


# Where build(..., dropout="example_tied") puts the layers (memlib.models).
PLACES = {"resnet18": "after layer2 and layer3", "lenet300": "after both hidden layers",
          "mlp": "after each hidden layer"}


def _pruning(config):
    remaining = (1 - config["fraction"]) ** config["rounds"]
    return f"global {config['fraction']:.0%}/round, {config['rounds']} rounds (to {remaining:.1%})"


CHAPTER = Chapter(
    9,
    profiles=PROFILES,
    settings=(
        Setting("hypothesis and its tests", lambda c: f"3 tests, effect sizes over seeds, {RULES['confidence']:.0%} "
                "t-intervals",
                "none: the talk's own hypothesis", "—", "the book's design"),
        Setting("dataset", "dataset", "CIFAR-10 (Maini Table 3)", "`--dataset1 cifar10` (`params.py`)",
                "standard: MNIST (T4 time)"),
        Setting("train / test set", lambda c: "all" if c["examples"] is None else f"≤ {c['examples']:,} each",
                "not stated", "full train set (`train.py` L236)", "standard: 20,000 MNIST examples (T4 time)"),
        Setting("architecture", "model", "not verified here",
                "CIFAR ResNet-18 `ResNet18()` (`models/resnet18_custom.py` L72-112)",
                "Maini's example-tied network, as chapter 2; standard: LeNet-300-100 (T4 time)"),
        Setting("example-tied layers", lambda c: PLACES.get(c["model"], "—"), "not verified here",
                "one `ExampleTiedDropout` after layer2 and layer3 (`resnet18_custom.py` L95-108)",
                "a mask per layer (the code shares one, whose cache breaks on 128 vs 256 channels)"),
        Setting("p_gen / p_mem", lambda c: "{p_gen} / {p_mem}".format(**c["tied"]), "0.4 / 0.2 (Maini Table 3)",
                "factory default `p_fixed=0.5, p_mem=0.2` (`resnet18_custom.py` L111)", "chapter 2's (the paper's)"),
        Setting("test-time modes", lambda c: "test; drop", "test: memorization × p_mem; drop: zeroed (Maini Sec. 6)",
                "`drop_mode` test/drop (`models/dropout.py` L95-105)"),
        Setting("optimizer", lambda c: f"SGD, momentum {describe(c['fit'].get('momentum', 0.9))}",
                "not verified here", "SGD, momentum 0.9 (`train.py` L202)"),
        Setting("learning rate", "fit.lr", "not verified here", "0.01 in the run names (`pending_*.txt`)",
                "standard: 0.1 for LeNet"),
        Setting("weight decay", "fit.weight_decay", "not verified here", "5e-4, hard-coded (`train.py` L202)",
                "standard: 0, as quick, where LeNet then fits the noisy labels"),
        Setting("schedule", lambda c: schedule(c["fit"]), "not verified here",
                "10% linear warm-up, cosine to 0, per step (`utils.py` L119-123)"),
        Setting("epochs", "fit.epochs", "not verified here", "`100 if aug else 50` (`experiments/rewinding.py` L98)"),
        Setting("batch size", "fit.batch_size", "not verified here", "512 (`params.py` L36)"),
        Setting("augmentation", "fit.augment", "not verified here", "none by default (`params.py` L14)"),
        Setting("normalization", lambda c: normalization(c["dataset"]), "not stated",
                "`Normalize(0.5, 0.5)` (`dataloader.py` L91)",
                "dataset mean/std per channel: the book's convention"),
        Setting("label noise", lambda c: f"{c['noise_rate']:.0%}, uniform over the other classes", "10% (Maini Table 3)",
                "(y + r) mod C, r ∈ 1…C−2 (`dataloader.py` L58-71)",
                "the code never picks y−1; the book draws all C−1 other classes alike"),
        Setting("seeds", lambda c: f"{c['seeds']} (0–{c['seeds'] - 1})", "—",
                "seeds 4, 5, 6 in the run names (`pending_*.txt`)",
                "seed s: noise, weights, data order, random masks"),
        Setting("IMP pruning", _pruning, "magnitude pruning, iterated (Frankle et al. 2020); rate not verified here",
                "`sparse_global`, 0.2 (`pruning/sparse_global.py`)", "open_lth's, as chapter 8; rounds: the book's"),
        Setting("output layer", lambda c: "kept dense" if c["exclude_output"] else "pruned",
                "—", "pruned in `cifar_resnet_20`; `fc.weight` kept in LeNet",
                "pruned, so the weights out of the last units compete too (the book's)"),
        Setting("rewind step k", lambda c: f"k = {c['k']}; then the last T − k steps",
                "an early step (Frankle et al. 2020)",
                "`--rewinding_steps`; from `train_start_step` (`lottery/runner.py` L108-120)", "k: the book's"),
        Setting("control: random masks", lambda c: "ticket's masks shuffled per layer, rewound to k",
                "random pruning (Frankle & Carbin 2019, Sec. 2)",
                "`randomly_prune`, layerwise (`lottery/branch/randomly_prune.py`)",
                "the dense weights at k, where open_lth starts IMP-pruned ones at 0"),
        Setting("control: no rewinding", lambda c: "trained weights kept, full schedule again",
                "cf. learning-rate rewinding (Renda et al. 2020)", "—", "the book's control"),
        Setting("precision", lambda c: "autocast on CUDA: bf16 (else fp16)", "—", "fp32 in both codes",
                "mixed precision, for speed"),
    ),
    # A few optimizer steps per run: 16 examples (all 10 classes) in batches of 8, one epoch (2 steps), one IMP
    # round, rewinding to step 1 (a CIFAR ResNet-18 step is slow on a CPU).
    smoke={"examples": 16, "batch_size": 8, "epochs": 1, "rounds": 1, "k": 1},
)
