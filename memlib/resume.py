"""Training runs that survive being killed (ARCHITECTURE.md, "The training engine"): :func:`memlib.train.fit` and
:func:`memlib.ensemble.fit_many` save their whole state (weights, optimizer, generators, records, the callbacks' and
the loss's state) to a checkpoint file every few minutes or epochs, and a run started again with the same settings
continues from it; on the CPU it ends with the very History and weights of an uninterrupted run. The file records
a fingerprint of the run's settings, data and initial weights, and a checkpoint of other settings is refused.
A finished run leaves its final state there, so that repeating it returns at once; inside
:func:`memlib.cache.cached` the files live in the entry's run folder, removed when the result is stored.
"""
import collections
import hashlib
import json
import time
import types
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from memlib import cache, checks


class CheckpointMismatch(ValueError):
    """A checkpoint file belongs to a run with other settings, data or initial weights."""


class CheckpointWarning(UserWarning):
    """A checkpoint could not be written; the run goes on without it."""


@dataclass
class Resume:
    """Where a run keeps its checkpoint and how often it saves it: at the end of an epoch, once ``every_epochs``
    epochs (None: no epoch rule) or ``every_minutes`` minutes (None: no time rule) have passed since the last save.
    The final state is always saved."""

    path: Path
    every_epochs: int = None
    every_minutes: float = 5.0

    def __post_init__(self):
        self.path = Path(self.path)
        if self.every_epochs is not None:
            self.every_epochs = checks.positive_int("every_epochs", self.every_epochs)
        if self.every_minutes is not None:
            self.every_minutes = checks.real("every_minutes", self.every_minutes, low=0)


def plan(resume, kind) -> Resume | None:
    """The checkpoint plan of a run from its ``resume`` argument: "auto" (the default: the next checkpoint file of
    the :func:`memlib.cache.cached` computation in progress, none outside one), None or False (none), a path, or a
    :class:`Resume`."""
    if resume is None or resume is False:
        return None
    if isinstance(resume, Resume):
        return resume
    if isinstance(resume, str) and resume == "auto":
        path = cache.run_file(kind)
        return Resume(path) if path is not None else None
    if isinstance(resume, (str, Path)):
        return Resume(resume)
    raise ValueError(f"resume must be 'auto', None, a file path or a memlib.resume.Resume; got {resume!r}")


def fingerprint(settings: dict, tensors: dict) -> str:
    """A hash of a run's plain ``settings`` and of the exact contents of its ``tensors`` (data, labels, initial
    weights): two runs with one fingerprint compute the same numbers."""
    digest = hashlib.sha256(_text(settings).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"\0{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(memoryview(tensor.reshape(-1).view(torch.uint8).numpy()))
    return digest.hexdigest()


class Checkpoint:
    """One run's checkpoint file (from :func:`plan`): :meth:`load` the saved state if any, :meth:`due` and
    :meth:`save` after each epoch. A write that fails warns once and the run continues without checkpoints."""

    def __init__(self, plan: Resume, settings: dict, tensors: dict, what: str):
        """``settings`` (plain values) and ``tensors`` (data, labels, initial weights) make the run's
        :func:`fingerprint`; the settings are saved too, to name the ones that differ."""
        self.plan, self.what = plan, what
        self.settings, self.fingerprint = json.loads(_text(settings)), fingerprint(settings, tensors)
        self.last_save, self.last_epoch, self.failed = time.monotonic(), 0, False

    def load(self) -> dict | None:
        """The saved state (each tensor on the device it was saved from), or None when there is none; a
        checkpoint of another run raises :class:`CheckpointMismatch`."""
        path = self.plan.path
        if not path.is_file():
            return None
        try:
            state = torch.load(path, weights_only=True)
        except Exception as error:  # truncated or foreign: start over, the next save replaces it
            warnings.warn(f"the checkpoint {path} could not be read ({error}); the run starts from the beginning",
                          CheckpointWarning, stacklevel=3)
            return None
        if state.get("fingerprint") != self.fingerprint:
            theirs = json.loads(state.get("settings", "{}"))
            differ = sorted(k for k in {**theirs, **self.settings} if theirs.get(k) != self.settings.get(k))
            what = (", ".join(f"{k}={theirs.get(k)!r} there, {self.settings.get(k)!r} here" for k in differ)
                    if differ else "the same settings but other data, labels or initial weights")
            raise CheckpointMismatch(
                f"the checkpoint {path} belongs to another {state.get('what', 'training')} run than this "
                f"{self.what} (other settings: {what}); resume with the settings it was saved with, or delete the "
                f"file to start over")
        self.last_epoch = state["epoch"]
        return state

    def due(self, epoch) -> bool:
        """Whether a checkpoint is due after ``epoch`` epochs."""
        every_epochs, every_minutes = self.plan.every_epochs, self.plan.every_minutes
        return not self.failed and (
            (every_epochs is not None and epoch - self.last_epoch >= every_epochs)
            or (every_minutes is not None and time.monotonic() - self.last_save >= 60 * every_minutes))

    def save(self, epoch, make_state):
        """Write ``make_state()`` (a dict) after ``epoch`` epochs, atomically."""
        if self.failed:
            return
        path = self.plan.path
        try:
            state = {**make_state(), "fingerprint": self.fingerprint, "settings": _text(self.settings),
                     "what": self.what, "epoch": epoch}
            path.parent.mkdir(parents=True, exist_ok=True)
            cache.remove_stale(path.parent)
            cache.atomic_save(state, path)
        except Exception as error:
            self.failed = True
            warnings.warn(f"could not write the checkpoint {path} ({type(error).__name__}: {error}); the run "
                          f"continues without checkpoints", CheckpointWarning, stacklevel=3)
            return
        self.last_save, self.last_epoch = time.monotonic(), epoch


def _text(settings) -> str:
    return json.dumps(settings, sort_keys=True, default=repr)


def rng_state(device) -> dict:
    """The global generators' state (CPU, and ``device`` when it is a CUDA device)."""
    state = {"cpu": torch.random.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state, device):
    torch.random.set_rng_state(state["cpu"].cpu())
    if "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def describe(obj) -> dict:
    """A callback's or loss's type and plain settings (its number, string and boolean attributes), for a run's
    fingerprint: a checkpoint made with another ELR ``lam``, say, is refused."""
    plain = {k: v for k, v in getattr(obj, "__dict__", {}).items() if isinstance(v, (str, int, float, bool))}
    return {"type": type(obj).__qualname__, **plain}


def object_state(obj, live: dict):
    """The state of a callback or loss object, for a checkpoint: a module's ``state_dict``, else its attributes
    (tensors, plain values, containers of them and generators; modules and datasets among them stay as the rebuilt
    object holds them; ``live``: name → tensor of the model, stored by
    name, so that an attribute that is one of the model's tensors stays one when restored). Functions hold no
    state (None). Raises ValueError for an attribute it cannot save."""
    if obj is None or isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, partial)):
        return None
    if isinstance(obj, nn.Module):
        return {"module": obj.state_dict()}
    ids = {id(tensor): name for name, tensor in live.items()}
    kept = {key: value for key, value in vars(obj).items() if not _by_reference(value)}
    return {"attributes": _encode(kept, ids, type(obj).__name__)}


def _by_reference(value) -> bool:
    """Attributes a checkpoint leaves to the object as it is rebuilt: a module (the network itself, say, which the
    checkpoint holds already) and a dataset (built again from the same settings)."""
    from memlib.data import Dataset

    return isinstance(value, (nn.Module, Dataset))


def load_object_state(obj, state, live: dict):
    """Restore what :func:`object_state` saved."""
    if state is None:
        return
    if "module" in state:
        obj.load_state_dict(state["module"])
    else:
        vars(obj).update(_decode(state["attributes"], live))


_LIVE, _GENERATOR = "__memlib_live_tensor__", "__memlib_generator__"


def _encode(value, live_ids, where):
    if isinstance(value, torch.Tensor):
        if id(value) in live_ids:
            return {_LIVE: live_ids[id(value)]}
        return value.detach().clone()
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if type(value) in (list, tuple):
        return type(value)(_encode(v, live_ids, f"{where}[{i}]") for i, v in enumerate(value))
    if type(value) in (dict, collections.OrderedDict):
        return type(value)((k, _encode(v, live_ids, f"{where}[{k!r}]")) for k, v in value.items())
    if isinstance(value, torch.Generator):
        return {_GENERATOR: value.get_state(), "device": str(value.device)}
    raise ValueError(f"{where} holds a {type(value).__name__}, which a checkpoint cannot save; give the object "
                     f"tensors, numbers, strings, lists, tuples, dicts or generators as attributes, or run without "
                     f"resume")


def _decode(value, live):
    if isinstance(value, dict):
        if _LIVE in value:
            return live[value[_LIVE]]
        if _GENERATOR in value:
            generator = torch.Generator(value["device"])
            generator.set_state(value[_GENERATOR].cpu())
            return generator
        return type(value)((k, _decode(v, live)) for k, v in value.items())
    if type(value) in (list, tuple):
        return type(value)(_decode(v, live) for v in value)
    return value
