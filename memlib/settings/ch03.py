"""Chapter 3, "Do we need outliers?": the adv, conf and agr metrics of Carlini, Erlingsson & Papernot (2019,
arXiv:1910.13427) and the ranked training slices of their Fig. 6.

No reference code exists: the authors released only their metric values (the orderings
``order_{mnist,fashion,cifar,imagenet}_{adv,agr,conf,priv,ret}_{train,test}.npy``, read by
devinkwok/nn_example_difficulty, ``src/difficulty/metrics/precomputed.py``). The paper's full text was not
available here, so its training settings are marked "not verified here"; the paper profile runs the book's own
choices at the paper's scale (its data sets and slice size).
"""
from memlib.settings import Chapter, Setting, describe

NOT_VERIFIED = "not verified here"
NO_CODE = "no reference code exists"

PROFILES = {
    # quick: small MLPs on the two embedded data sets; slices are fifths of the training set.
    "quick": dict(datasets={"digits": dict(model="mlp", model_options=dict(hidden=[128])),
                            "synthetic": dict(model="mlp", model_options=dict(hidden=[128]))},
                  scoring=dict(scorers=4, adv_steps=50), slicing=dict(slices=5, slice_size=None, seeds=3),
                  fit=dict(epochs=30, lr=0.1, weight_decay=5e-4, batch_size=64, schedule="cosine")),
    # standard: the paper's data sets and its 5,000-example slices, with small models and two seeds.
    "standard": dict(datasets={"mnist": dict(model="lenet300"), "fashion-mnist": dict(model="lenet300"),
                               "cifar10": dict(model="cnn")},
                     scoring=dict(scorers=2, adv_steps=50), slicing=dict(slices=8, slice_size=5000, seeds=2),
                     fit=dict(epochs=15, lr=0.05, weight_decay=5e-4, batch_size=128, schedule="cosine")),
    # paper: more scoring models, slices and seeds; a ResNet-20 on CIFAR-10.
    "paper": dict(datasets={"mnist": dict(model="lenet300"), "fashion-mnist": dict(model="lenet300"),
                            "cifar10": dict(model="resnet20")},
                  scoring=dict(scorers=4, adv_steps=50), slicing=dict(slices=10, slice_size=5000, seeds=3),
                  fit=dict(epochs=30, lr=0.05, weight_decay=5e-4, batch_size=128, schedule="cosine")),
}


def _architectures(config):
    return ", ".join(f"{name}: {spec['model']}" for name, spec in config["datasets"].items())


def _slice_size(config):
    slicing = config["slicing"]
    return describe(slicing["slice_size"]) if slicing["slice_size"] else f"1/{slicing['slices']} of the set"


BOOK = "book's choice"

CHAPTER = Chapter(
    number=3,
    profiles=PROFILES,
    settings=(
        Setting("dataset", lambda c: ", ".join(c["datasets"]),
                "MNIST, Fashion-MNIST, CIFAR-10, ImageNet (abstract)", NO_CODE,
                "no ImageNet: too large for the book"),
        Setting("architecture", _architectures, NOT_VERIFIED, NO_CODE, BOOK),
        Setting("metrics", lambda c: "adv, conf, agr",
                "five: adv, agr, conf, priv, ret (abstract; released files)", NO_CODE,
                "priv (DP-SGD) and ret (retraining) left out: cost"),
        Setting("adv attack", lambda c: f"ℓ2 DeepFool, ≤{c['scoring']['adv_steps']} steps, bisection", NOT_VERIFIED,
                NO_CODE, BOOK),
        Setting("scoring models", "scoring.scorers", NOT_VERIFIED, NO_CODE,
                "pairs on complementary halves, so conf has held-out models"),
        Setting("optimizer", lambda c: f"SGD, momentum {describe(c['fit'].get('momentum', 0.9))}", NOT_VERIFIED,
                NO_CODE, BOOK),
        Setting("lr", "fit.lr", NOT_VERIFIED, NO_CODE, BOOK),
        Setting("weight decay", "fit.weight_decay", NOT_VERIFIED, NO_CODE, BOOK),
        Setting("schedule", "fit.schedule", NOT_VERIFIED, NO_CODE, BOOK),
        Setting("epochs", "fit.epochs", NOT_VERIFIED, NO_CODE, BOOK),
        Setting("batch size", "fit.batch_size", NOT_VERIFIED, NO_CODE, BOOK),
        Setting("augmentation", lambda c: "none", NOT_VERIFIED, NO_CODE,
                "none: the models train together (fit_many)"),
        Setting("normalization", lambda c: "each set's train mean / std (data.REFERENCE)", NOT_VERIFIED, NO_CODE,
                "metrics perturb pixels, then normalize"),
        Setting("ranking", lambda c: "adv, percentile within class", "adv ranking (Fig. 6)", NO_CODE,
                "within class: every slice is class-balanced"),
        Setting("slice size", _slice_size, "5,000 examples (Fig. 6; " + NOT_VERIFIED + ")", NO_CODE),
        Setting("slices", "slicing.slices", NOT_VERIFIED, NO_CODE, "evenly spaced windows along the ranking"),
        Setting("seeds per slice", "slicing.seeds", NOT_VERIFIED, NO_CODE),
        Setting("baseline", lambda c: "random class-balanced subsets, same size", NOT_VERIFIED, NO_CODE,
                "book's addition"),
    ),
    # Smoke scale: 256 training examples, so slices of 64 (3 of them), 2 scoring models, a 3-step attack, and one
    # epoch per model (one or two optimizer steps).
    smoke={"scorers": 2, "slices": 3, "slice_size": lambda size: size and min(size, 64), "adv_steps": 3,
           "epochs": 1},
)
