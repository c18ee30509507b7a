"""Run profiles: how big the book's experiments are (DESIGN.md, "Profiles").

- quick: embedded data (digits, synthetic), each notebook within 90 s on 2 CPU cores; CI and the published build.
- standard: MNIST, Fashion-MNIST, CIFAR-10 at reduced epochs and seeds; each notebook within 10 min on a T4.
- paper: the papers' own settings, at least 3 seeds; a large GPU.
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
