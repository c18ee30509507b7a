"""Run profiles: how big the book's experiments are (ARCHITECTURE.md, "Profiles").

- quick: embedded data (digits, synthetic) and small networks, each notebook within 90 s on 2 CPU cores; CI and
  the published build.
- standard: MNIST, Fashion-MNIST and CIFAR-10 with the chapter's paper architecture or a smaller one, fewer
  epochs and seeds, for a Colab T4 (an estimated 1 to 23 minutes per chapter: benchmarks/STANDARD_T4.md).
- paper: each chapter's paper experiment, its settings taken from the paper and its reference code, with every
  deviation named in the chapter's settings table (:mod:`memlib.settings`); a large GPU.

``MEMLIB_SMOKE=1`` runs any profile at smoke scale (:func:`smoke`): the same code path, datasets, architectures,
figures and tables, with a few hundred examples, one seed and a few optimizer steps per run.
"""
import os

PROFILES = ("quick", "standard", "paper")


def profile() -> str:
    """The active profile: ``MEMLIB_PROFILE`` if set, else "standard" with CUDA and "quick" without."""
    name = os.environ.get("MEMLIB_PROFILE", "").strip().lower()
    if name:
        if name not in PROFILES:
            raise ValueError(f"MEMLIB_PROFILE={name!r} is not a profile; use one of {', '.join(PROFILES)}")
        return name
    import torch

    return "standard" if torch.cuda.is_available() else "quick"


def choose(**by_profile):
    """The value given for the active profile, e.g. ``choose(quick=3, standard=5, paper=10)``."""
    unknown = set(by_profile) - set(PROFILES)
    if unknown:
        raise ValueError(f"unknown profile(s) {sorted(unknown)}; use {', '.join(PROFILES)}")
    name = profile()
    if name not in by_profile:
        raise ValueError(f"no value given for the active profile {name!r}")
    return by_profile[name]


def smoke() -> bool:
    """Whether ``MEMLIB_SMOKE`` asks for smoke scale ("1", "true" or "yes")."""
    return os.environ.get("MEMLIB_SMOKE", "").strip().lower() in ("1", "true", "yes")
