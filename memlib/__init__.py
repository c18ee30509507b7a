"""memlib: the reusable logic of the memorization book.

Submodules load on first use (``memlib.data``, ``memlib.train``, ...), so ``import memlib`` stays light.
"""
import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "batches", "cache", "checks", "continual", "data", "dropout", "early_phase", "elr", "ensemble", "gradients",
    "loop", "models", "noise", "outliers", "plasticity", "plots", "profiles", "pruning", "recipes", "report",
    "resume", "settings", "train", "widgets",
)

__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"memlib.{name}")
    raise AttributeError(f"module 'memlib' has no attribute {name!r}")
