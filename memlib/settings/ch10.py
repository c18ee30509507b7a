"""Chapter 10, memorization in practice: the memorization and influence estimates of Feldman & Zhang (2020, "What
Neural Networks Memorize and Why: Discovering the Long Tail via Influence Estimation", NeurIPS), and six detectors of
wrong labels beside confident learning (Northcutt et al. 2021, cleanlab).

The paper estimates memorization from models trained on random 70% subsets of the training set, thousands of them
(on ImageNet, 2,000 ResNet-50 models: the authors' project page, pluskid.github.io/influence-memorization). Its
released code is not used here; the estimator follows the paper's definitions of memorization and influence
(Sec. 2; ``memlib.memorization``).
"""
from memlib.settings import Chapter, Setting, describe, schedule

NOT_VERIFIED = "not verified here"
BOOK = "book's choice"
# Class-dependent noise between similar classes: MNIST-like digits 2→7, 3→8, 5↔6, 7→1 (the pair flips of Han et
# al. 2018, Co-teaching; Patrini et al. 2017), CIFAR-10 as Liu et al. 2020 (memlib.noise.CIFAR10_ASYMMETRIC).
DIGIT_PAIRS = {2: 7, 3: 8, 5: 6, 6: 5, 7: 1}


def asymmetric_mapping(dataset) -> dict:
    """The asymmetric-noise mapping (source class → target class) of ``dataset``."""
    from memlib import noise

    return noise.CIFAR10_ASYMMETRIC if dataset == "cifar10" else DIGIT_PAIRS
NOISES = [["symmetric", 0.1], ["symmetric", 0.2], ["symmetric", 0.4], ["asymmetric", 0.4]]
ELR = dict(beta=0.7, lam=3.0)
MLP = dict(model="mlp", model_options=dict(hidden=[256]))
QUICK_FIT = dict(epochs=30, lr=0.1, weight_decay=0.0, batch_size=64, schedule="constant")

PROFILES = {
    # quick: one-hidden-layer MLPs on the embedded sets, trained long enough to fit their training labels.
    "quick": dict(
        long_tail=[dict(dataset="digits", **MLP, fit=QUICK_FIT), dict(dataset="synthetic", **MLP, fit=QUICK_FIT)],
        examples=None, runs=24, fraction=0.7, adv_models=2, adv_steps=50,
        removal=dict(dataset="synthetic", count=100, seeds=3, targets=50),
        detection=dict(dataset="digits", **MLP, fit=QUICK_FIT, noises=NOISES, seeds=2, runs=12, fraction=0.7,
                       folds=5, elr=ELR)),
    # standard: MNIST and CIFAR-10 (the first 10,000 training examples of each) for a Colab T4.
    "standard": dict(
        long_tail=[dict(dataset="mnist", model="lenet300", model_options={},
                        fit=dict(epochs=15, lr=0.1, weight_decay=0.0, batch_size=128, schedule="constant")),
                   dict(dataset="cifar10", model="cnn", model_options={},
                        fit=dict(epochs=15, lr=0.05, weight_decay=5e-4, batch_size=128, schedule="cosine"))],
        examples=10000, runs=64, fraction=0.7, adv_models=2, adv_steps=20,
        removal=dict(dataset="mnist", count=200, seeds=3, targets=200),
        detection=dict(dataset="mnist", model="lenet300", model_options={},
                       fit=dict(epochs=15, lr=0.1, weight_decay=0.0, batch_size=128, schedule="constant"),
                       noises=NOISES, seeds=2, runs=16, fraction=0.7, folds=5, elr=ELR)),
    # paper: CIFAR-10 at the paper's scale of models (2,000 on 70% subsets), a ResNet-20.
    "paper": dict(
        long_tail=[dict(dataset="mnist", model="lenet300", model_options={},
                        fit=dict(epochs=30, lr=0.1, weight_decay=0.0, batch_size=128, schedule="constant")),
                   dict(dataset="cifar10", model="resnet20", model_options={},
                        fit=dict(epochs=30, lr=0.1, weight_decay=5e-4, batch_size=128, schedule="cosine"))],
        examples=None, runs=2000, fraction=0.7, adv_models=4, adv_steps=50,
        removal=dict(dataset="cifar10", count=1000, seeds=3, targets=1000),
        detection=dict(dataset="cifar10", model="resnet20", model_options={},
                       fit=dict(epochs=30, lr=0.1, weight_decay=5e-4, batch_size=128, schedule="cosine"),
                       noises=NOISES, seeds=3, runs=100, fraction=0.7, folds=5, elr=ELR)),
}


def _setups(config):
    return "; ".join(f"{s['model']} on {s['dataset']}" for s in config["long_tail"])


def _fits(config):
    return "; ".join(f"{s['dataset']}: {s['fit']['epochs']} epochs, lr {describe(s['fit']['lr'])}, "
                     f"{schedule(s['fit'])}, batch {s['fit']['batch_size']}, wd {describe(s['fit']['weight_decay'])}"
                     for s in config["long_tail"])


CHAPTER = Chapter(
    number=10,
    profiles=PROFILES,
    settings=(
        Setting("data, model (long tail)", _setups, "MNIST, CIFAR-100, ImageNet; ResNet-50 on ImageNet",
                NOT_VERIFIED, "CIFAR-10 and MNIST, and smaller networks: cost"),
        Setting("training examples", lambda c: describe(c["examples"]) if c["examples"] else "all",
                "the full training sets", NOT_VERIFIED),
        Setting("subset fraction", "fraction", "70% of the training set (Sec. 2; project page)", NOT_VERIFIED),
        Setting("models per estimate", "runs", "thousands; 2,000 ResNet-50 on ImageNet (project page)",
                NOT_VERIFIED, "fewer where the profile's budget asks; the standard error is shown"),
        Setting("training", _fits, "each architecture's standard recipe", NOT_VERIFIED,
                "chosen to fit the training labels (memorization needs it)"),
        Setting("removal test", lambda c: f"top {c['removal']['count']} by memorization on "
                f"{c['removal']['dataset']}, {c['removal']['seeds']} seeds, {c['removal']['targets']} target tests",
                "remove high-memorization examples, accuracy drops on the tests they influence (Sec. 3)",
                NOT_VERIFIED, "random removals of the same size as the control"),
        Setting("detection: data, model", lambda c: f"{c['detection']['model']} on {c['detection']['dataset']}",
                "— (no paper compares these detectors)", "—", BOOK),
        Setting("detection: noise", lambda c: ", ".join(f"{kind} {rate:.0%}" for kind, rate in
                                                        c["detection"]["noises"]),
                "—", "—", "exact counts (memlib.noise); asymmetric: similar-class pairs"),
        Setting("detection: seeds", "detection.seeds", "—", "—", BOOK),
        Setting("confident learning", lambda c: f"{c['detection']['folds']}-fold out-of-sample probabilities, "
                "filter_by prune_by_noise_rate, ranked by self-confidence",
                "out-of-sample probabilities by cross-validation (Northcutt et al. 2021)",
                "cleanlab `find_label_issues` defaults (cleanlab/filter.py)"),
        Setting("memorization detector", lambda c: f"{c['detection']['runs']} models on "
                f"{c['detection']['fraction']:.0%} subsets", "—", "—", "fewer models than the long-tail estimate"),
        Setting("ELR β, λ", lambda c: f"{describe(c['detection']['elr']['beta'])}, "
                f"{describe(c['detection']['elr']['lam'])}", "0.7, 3 (Liu et al. 2020)", "shengliu66/ELR config"),
        Setting("score-only flags", lambda c: "two-component Gaussian mixture on the score",
                "DivideMix's split of per-example losses (Li et al. 2020)", "—", BOOK),
    ),
    # Smoke scale: a handful of models per estimate, two folds, one setting of each kind of noise.
    smoke={"runs": 4, "folds": 2, "adv_models": 2, "adv_steps": 3, "count": 16, "targets": 16,
           "noises": lambda noises: [noises[0], noises[-1]]},
)
